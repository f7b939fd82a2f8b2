import { useEffect, useState } from "react";
import type { Ctx } from "../App";
import { FILTERED_EVENTS } from "../gql";
import { formatCount, rfc3339 } from "../dashboard";
import { eventQueryErrors, eventsHref, parseEventsHash, spendFilter, type EventQuery } from "../drill";
import { eventModel, type UsageEvent } from "../pricing";
import { Empty, ErrorBox, Field, Money, useLoad, when } from "../ui";
import { Explanation } from "./Pricing";

const DAY = 24 * 3600_000;
const PAGE = 50;

/** The query in the address bar, followed as it changes (drill-down links, back/forward). */
function useHashQuery(): EventQuery {
  const [q, setQ] = useState(() => parseEventsHash(window.location.hash));
  useEffect(() => {
    const f = () => setQ(parseEventsHash(window.location.hash));
    window.addEventListener("hashchange", f);
    return () => window.removeEventListener("hashchange", f);
  }, []);
  return q;
}

/** The event list: calls narrowed by provider, model, key, team, project or dimension, each explaining its cost. */
export function Events({ ctx }: { ctx: Ctx }) {
  const t = ctx.tenant.id;
  const q = useHashQuery();
  const [form, setForm] = useState<EventQuery>(q);
  useEffect(() => setForm(q), [q]);
  const errs = eventQueryErrors(form);
  const [more, setMore] = useState<UsageEvent[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [pageErr, setPageErr] = useState<unknown>(null);
  const [selected, setSelected] = useState<UsageEvent | null>(null);
  const asked = JSON.stringify(q);
  const first = useLoad(async () => {
    const to = q.to ? new Date(q.to) : new Date(Math.ceil(Date.now() / 1000) * 1000);
    const from = q.from ? new Date(q.from) : new Date(to.getTime() - 7 * DAY);
    const range = { from: rfc3339(from), to: rfc3339(to) };
    const vars = { t, ...range, f: spendFilter(q), n: PAGE };
    const d = await ctx.api.request(FILTERED_EVENTS, vars);
    setMore([]);
    setSelected(null);
    setCursor(d.usageEvents.pageInfo.hasNextPage ? d.usageEvents.pageInfo.endCursor : null);
    return { vars, events: d.usageEvents.edges.map((e) => e.node) };
  }, [t, asked]);
  const events = [...(first.data?.events ?? []), ...more];
  const set = (k: keyof EventQuery) => (e: React.ChangeEvent<HTMLInputElement>) => setForm({ ...form, [k]: e.target.value });
  const narrowed = [q.provider && `provider ${q.provider}`, q.model && `model ${q.model}`, q.keyId && `key ${q.keyId}`,
    q.teamId && `team ${q.teamId}`, q.projectId && `project ${q.projectId}`, q.dimName && `${q.dimName}=${q.dimValue}`].filter(Boolean).join(", ");
  return (
    <section aria-labelledby="events-h">
      <h2 id="events-h">Events</h2>
      <form className="filters" aria-label="Filter events" onSubmit={(e) => {
        e.preventDefault();
        if (Object.keys(errs).length === 0) window.location.hash = eventsHref(form);
      }}>
        <Field id="ev-provider" label="Provider"><input id="ev-provider" value={form.provider} onChange={set("provider")} placeholder="openai" /></Field>
        <Field id="ev-model" label="Model"><input id="ev-model" value={form.model} onChange={set("model")} placeholder="gpt-4o-mini" /></Field>
        <Field id="ev-key" label="Key id"><input id="ev-key" value={form.keyId} onChange={set("keyId")} /></Field>
        <Field id="ev-dim" label="Dimension" error={errs.dimName}><input id="ev-dim" value={form.dimName} onChange={set("dimName")} placeholder="team" aria-invalid={!!errs.dimName} /></Field>
        <Field id="ev-val" label="Value" error={errs.dimValue}><input id="ev-val" value={form.dimValue} onChange={set("dimValue")} placeholder="search" aria-invalid={!!errs.dimValue} /></Field>
        <div className="row">
          <button type="submit">Show</button>
          <button type="button" className="secondary" onClick={() => { window.location.hash = eventsHref({}); }}>Clear</button>
        </div>
      </form>
      {(errs.from || errs.to) && <ErrorBox error={new Error(`The link's time range is not usable: ${errs.from ?? errs.to}`)} />}
      <p className="small" data-testid="events-scope">
        {first.data ? <>Calls {when(first.data.vars.from)} – {when(first.data.vars.to)}{narrowed ? <>, only {narrowed}</> : ", all of them"}. Newest first.</> : null}
      </p>
      <ErrorBox error={first.error || pageErr} />
      {selected && <Explanation e={selected} onClose={() => setSelected(null)} />}
      {first.loading && !first.data && <p aria-busy="true">Loading…</p>}
      {first.data && events.length === 0 && <Empty>No calls match in this range.</Empty>}
      {events.length > 0 && (
        <div className="table-wrap"><table data-testid="event-list">
          <thead><tr><th>Time</th><th>Key</th><th>Model</th><th>Dimensions</th><th>Tokens in / out</th><th>Cost</th><th><span className="sr-only">Why this cost</span></th></tr></thead>
          <tbody>{events.map((e) => (
            <tr key={e.id} aria-selected={selected?.id === e.id}>
              <td className="nowrap">{when(e.time)}</td><td>{e.keyName || e.keyId}</td>
              <td>{e.provider}/{eventModel(e)}{e.status >= 400 && <span className="small"> · HTTP {e.status}</span>}</td>
              <td className="small">{e.dimensions.map((d) => `${d.name}=${d.value}`).join(", ")}</td>
              <td>{formatCount(e.tokens.input ?? 0)} / {formatCount(e.tokens.output ?? 0)}</td>
              <td>{e.priced ? <Money value={e.tenantCost} /> : <span className="warn-text">no price</span>}</td>
              <td><button className="secondary small-btn nowrap" aria-label={`Why this cost: event ${e.id}`} onClick={() => setSelected(e)}>Why this cost</button></td>
            </tr>
          ))}</tbody>
        </table></div>
      )}
      {cursor && first.data && <button className="secondary" onClick={async () => {
        setPageErr(null);
        try {
          const d = await ctx.api.request(FILTERED_EVENTS, { ...first.data!.vars, after: cursor });
          setMore((m) => [...m, ...d.usageEvents.edges.map((x) => x.node)]);
          setCursor(d.usageEvents.pageInfo.hasNextPage ? d.usageEvents.pageInfo.endCursor : null);
        } catch (x) { setPageErr(x); }
      }}>Load more</button>}
    </section>
  );
}
