import { useState } from "react";
import type { Ctx } from "../App";
import { APPLY_REVISION, CATALOGUE_BROWSE, CREATE_OVERRIDE, PRICING_REVISIONS, REJECT_REVISION, DELETE_OVERRIDE, OVERRIDES, UPDATE_OVERRIDE, USAGE_EVENT, USAGE_EVENTS } from "../gql";
import { formatUSD } from "../money";
import { formatCount, rfc3339 } from "../dashboard";
import {
  CATALOGUE_PROVIDERS, describeChange, emptyOverrideForm, eventModel, explain, overrideErrors, overrideForm, overrideInput, ratesByVariant,
  nextRateClass, PER_UNIT_CLASSES, rateText, rateUnit, revisionCounts, unitPrice, USAGE_CLASSES,
  type CatalogueModel, type Override, type FormRate, type OverrideForm, type PricingRevision, type UsageEvent,
} from "../pricing";
import { Empty, ErrorBox, Field, useLoad, when, Money } from "../ui";

const PROVIDERS = ["", ...CATALOGUE_PROVIDERS];

export function Pricing({ ctx }: { ctx: Ctx }) {
  // Bumped when a revision is applied, so the catalogue shows the new prices.
  const [catalogueVersion, setCatalogueVersion] = useState(0);
  return (
    <section aria-labelledby="pricing-h">
      <h2 id="pricing-h">Pricing</h2>
      <Catalogue ctx={ctx} version={catalogueVersion} />
      <Revisions ctx={ctx} onApplied={() => setCatalogueVersion((v) => v + 1)} />
      <Overrides ctx={ctx} />
      <Explain ctx={ctx} />
    </section>
  );
}

const PAGE = 100;

/** The catalogue, listed at once (no search needed), narrowed by provider and an optional search. */
export function Catalogue({ ctx, version }: { ctx: Ctx; version: number }) {
  const [q, setQ] = useState("");
  const [asked, setAsked] = useState({ q: "", provider: "", n: PAGE });
  const cat = useLoad(() => ctx.api.request(CATALOGUE_BROWSE, { q: asked.q || null, p: asked.provider || null, n: asked.n }),
    [asked.q, asked.provider, asked.n, version]);
  const rows = cat.data?.pricingCatalogue ?? [];
  return (
    <div className="card" aria-labelledby="cat-h">
      <h3 id="cat-h">Price catalogue</h3>
      <p className="small">List prices in force today. Token classes are priced per million tokens; characters, seconds, images and searches per unit; request fees per request.</p>
      <form className="row" role="search" aria-label="Search the pricing catalogue" onSubmit={(e) => { e.preventDefault(); setAsked({ ...asked, q: q.trim(), n: PAGE }); }}>
        <label htmlFor="cat-q" className="sr-only">Model, alias or provider</label>
        <input id="cat-q" type="search" placeholder="gpt-4o, claude, gemini…" value={q} onChange={(e) => setQ(e.target.value)} />
        <label htmlFor="cat-p" className="sr-only">Provider</label>
        <select id="cat-p" value={asked.provider} onChange={(e) => setAsked({ ...asked, provider: e.target.value, n: PAGE })}>
          {PROVIDERS.map((p) => <option key={p} value={p}>{p || "any provider"}</option>)}
        </select>
        <button type="submit">Search</button>
      </form>
      <ErrorBox error={cat.error} />
      {cat.loading && !cat.data && <p aria-busy="true">Loading the catalogue…</p>}
      {cat.data && rows.length === 0 && <Empty>No model matches “{asked.q}”{asked.provider ? ` at ${asked.provider}` : ""}. Unknown models can be priced with a tenant override below.</Empty>}
      {rows.length > 0 && (
        <div className="table-wrap"><table data-testid="catalogue">
          <thead><tr><th>Provider</th><th>Model</th><th>Prices</th><th>Max output</th><th>Since</th><th>Source</th></tr></thead>
          <tbody>{rows.map((c) => (
            <tr key={c.provider + "/" + c.model}>
              <td>{c.provider}</td>
              <td>{c.model}{c.aliases.length > 0 && <div className="small">also {c.aliases.slice(0, 4).join(", ")}{c.aliases.length > 4 ? ` +${c.aliases.length - 4}` : ""}</div>}</td>
              <td className="small">{ratesByVariant(c).map((g) => (
                <div key={g.variant}>
                  {g.variant !== "standard" && <div className="muted">{g.variant === "long_context" || g.variant === "long_context.priority"
                    ? `${g.variant.replace("_", "-").replace(".", " ")} (above ${formatCount(c.longContextAboveInputTokens ?? 0)} input tokens)` : g.variant}</div>}
                  {g.rates.map((r) => <div key={r.class} className="nowrap" data-class={r.class} data-variant={r.variant}>{r.class} {unitPrice(r)}</div>)}
                </div>
              ))}</td>
              <td className="small">{c.maxOutputTokens ? formatCount(c.maxOutputTokens) : "—"}</td>
              <td className="small">{c.effectiveFrom.slice(0, 10)}</td>
              <td className="small" data-testid="provenance">
                <span className="badge">{c.sourceKind}</span>{" "}
                {/^https?:\/\//.test(c.source) ? <a href={c.source} target="_blank" rel="noreferrer">{new URL(c.source).host}</a> : c.source}
                {c.checked && <> · checked {c.checked}</>}
                {c.reason && <div>why by hand: {c.reason}</div>}
                {c.notes && <details><summary>notes</summary>{c.notes}</details>}
              </td>
            </tr>
          ))}</tbody>
        </table></div>
      )}
      {rows.length === asked.n && asked.n < 1000 && <button className="secondary" onClick={() => setAsked({ ...asked, n: Math.min(asked.n * 4, 1000) })}>Show more</button>}
    </div>
  );
}

const SHOWN = 40;

/** Catalogue revisions: review a proposed diff, and apply or reject it (pricing admins). */
export function Revisions({ ctx, onApplied }: { ctx: Ctx; onApplied: () => void }) {
  const revs = useLoad(() => ctx.api.request(PRICING_REVISIONS, { n: 10 }), []);
  const [open, setOpen] = useState<string | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const list = revs.data?.pricingRevisions ?? [];
  const canManage = revs.data?.canManagePricing ?? false;
  const selected = list.find((r) => r.id === open) ?? list.find((r) => r.status === "PROPOSED") ?? null;
  const decide = async (r: PricingRevision, how: "apply" | "reject") => {
    setErr(null);
    setBusy(true);
    try {
      await ctx.api.request(how === "apply" ? APPLY_REVISION : REJECT_REVISION, { id: r.id });
      revs.reload();
      if (how === "apply") onApplied();
    } catch (x) { setErr(x); } finally { setBusy(false); }
  };
  return (
    <div className="card" aria-labelledby="rev-h">
      <h3 id="rev-h">Catalogue revisions</h3>
      <p className="small">A sync proposes new prices as a revision; it changes nothing until a pricing admin applies it. Events are priced by the revision in force at their time.</p>
      <ErrorBox error={revs.error || err} />
      {revs.data && list.length === 0 && <Empty>No revisions yet.</Empty>}
      {list.length > 0 && <div className="table-wrap"><table data-testid="revisions">
        <thead><tr><th>#</th><th>Status</th><th>Effective</th><th>Changes</th><th>Source</th><th><span className="sr-only">Review</span></th></tr></thead>
        <tbody>{list.map((r) => (
          <tr key={r.id} aria-selected={selected?.id === r.id}>
            <td>{r.id}</td><td>{r.status.toLowerCase()}</td><td>{r.effectiveFrom.slice(0, 16).replace("T", " ")}</td><td>{r.summary}</td>
            <td className="small">{r.source} · {r.createdBy}{r.decidedBy && <> · {r.status.toLowerCase()} by {r.decidedBy}</>}</td>
            <td><button className="secondary small-btn" aria-label={`Review revision ${r.id}`} onClick={() => setOpen(r.id)}>Review</button></td>
          </tr>
        ))}</tbody>
      </table></div>}
      {selected && <RevisionDiff rev={selected} canManage={canManage} busy={busy} onDecide={decide} />}
    </div>
  );
}

export function RevisionDiff({ rev, canManage, busy, onDecide }: { rev: PricingRevision; canManage: boolean; busy: boolean; onDecide: (r: PricingRevision, how: "apply" | "reject") => void }) {
  const n = revisionCounts(rev);
  return (
    <div className="explain" role="region" aria-label={`Diff of revision ${rev.id}`} data-testid="revision-diff">
      <div className="row between">
        <strong>Revision {rev.id} · {rev.status.toLowerCase()} · effective {rev.effectiveFrom.slice(0, 10)}</strong>
        {rev.status === "PROPOSED" && (canManage ? <span className="row">
          <button disabled={busy} onClick={() => onDecide(rev, "apply")}>Apply revision {rev.id}</button>
          <button disabled={busy} className="secondary" onClick={() => onDecide(rev, "reject")}>Reject</button>
        </span> : <span className="small">Only pricing admins can apply it.</span>)}
      </div>
      {([["added", rev.added, n.added], ["changed", rev.changed, n.changed], ["removed", rev.removed, n.removed]] as const).map(([kind, models, count]) => count > 0 && (
        <div key={kind} data-testid={`diff-${kind}`}>
          <h4>{count} {kind}</h4>
          <ul className="small">{models.slice(0, SHOWN).map((m) => (
            <li key={m.provider + "/" + m.model}><strong>{m.provider}/{m.model}</strong>{m.effectiveFrom && <> from {m.effectiveFrom.slice(0, 10)}</>}
              <ul>{m.changes.map((c) => <li key={c.field} data-field={c.field}>{describeChange(c)}</li>)}</ul></li>
          ))}</ul>
          {count > SHOWN && <p className="small">… and {count - SHOWN} more (spendgate pricing diff {rev.id} lists all).</p>}
        </div>
      ))}
    </div>
  );
}

function Overrides({ ctx }: { ctx: Ctx }) {
  const t = ctx.tenant.id;
  const canManage = ctx.tenant.role !== "VIEWER";
  const ov = useLoad(() => ctx.api.request(OVERRIDES, { t }), [t]);
  const [editing, setEditing] = useState<{ id: string | null; form: OverrideForm } | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const overrides = ov.data?.pricingOverrides.edges.map((e) => e.node) ?? [];
  return (
    <div className="card">
      <div className="row between">
        <h3>Tenant price overrides</h3>
        {canManage && !editing && <button onClick={() => setEditing({ id: null, form: emptyOverrideForm(new Date()) })}>New override</button>}
      </div>
      <p className="small">Your negotiated prices: rates replace the list rates of a model (or a glob of models), a percent adjusts the result. They apply to events priced from their start day on.</p>
      {editing && <OverrideEditor ctx={ctx} initial={editing} onDone={(saved) => { setEditing(null); if (saved) ov.reload(); }} />}
      <ErrorBox error={ov.error || err} />
      {ov.data && overrides.length === 0 && <Empty>No overrides: list prices apply.</Empty>}
      {overrides.length > 0 && <div className="table-wrap"><table data-testid="overrides">
        <thead><tr><th>Provider</th><th>Model</th><th>From</th><th>Until</th><th>Rates</th><th>Adjustment</th><th>Note</th>{canManage && <th><span className="sr-only">Actions</span></th>}</tr></thead>
        <tbody>{overrides.map((o) => (
          <tr key={o.id}>
            <td>{o.provider || "any"}</td><td>{o.model}</td><td>{o.effectiveFrom.slice(0, 10)}</td><td>{o.effectiveTo ? o.effectiveTo.slice(0, 10) : "open"}</td>
            <td className="small">{o.rates.map((r) => `${r.class} ${rateText(r.class, r.perMillion)}`).join(" · ") || "list rates"}</td>
            <td>{o.percentAdjustment === "0" ? "—" : `${o.percentAdjustment}%`}</td><td>{o.note}</td>
            {canManage && <td className="actions">
              <button className="secondary" aria-label={`Edit override for ${o.model}`} onClick={() => setEditing({ id: o.id, form: overrideForm(o) })}>Edit</button>
              <button className="danger" aria-label={`Delete override for ${o.model}`} onClick={async () => {
                if (!window.confirm(`Delete the override for ${o.model}?`)) return;
                setErr(null);
                try { await ctx.api.request(DELETE_OVERRIDE, { t, id: o.id }); ov.reload(); } catch (x) { setErr(x); }
              }}>Delete</button>
            </td>}
          </tr>
        ))}</tbody>
      </table></div>}
    </div>
  );
}

function OverrideEditor({ ctx, initial, onDone }: { ctx: Ctx; initial: { id: string | null; form: OverrideForm }; onDone: (saved: boolean) => void }) {
  const [f, setF] = useState<OverrideForm>(initial.form);
  const [errs, setErrs] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const setRate = (i: number, r: Partial<FormRate>) => setF({ ...f, rates: f.rates.map((x, j) => (j === i ? { ...x, ...r } : x)) });
  const label = initial.id ? "Edit pricing override" : "Create pricing override";
  return (
    <form className="card inner" aria-label={label} noValidate onSubmit={async (e) => {
      e.preventDefault();
      const fe = overrideErrors(f);
      setErrs(fe);
      if (Object.keys(fe).length) return;
      setError(null);
      try {
        if (initial.id) await ctx.api.request(UPDATE_OVERRIDE, { t: ctx.tenant.id, id: initial.id, in: overrideInput(f) });
        else await ctx.api.request(CREATE_OVERRIDE, { t: ctx.tenant.id, in: overrideInput(f) });
        onDone(true);
      } catch (x) {
        setError(x);
      }
    }}>
      <h4>{initial.id ? "Edit override" : "New override"}</h4>
      <div className="grid">
        <Field id="o-prov" label="Provider (empty: any)"><input id="o-prov" value={f.provider} onChange={(e) => setF({ ...f, provider: e.target.value })} /></Field>
        <Field id="o-model" label="Model or glob" error={errs.model}><input id="o-model" value={f.model} placeholder="gpt-4o-mini or claude-*" onChange={(e) => setF({ ...f, model: e.target.value })} aria-invalid={!!errs.model} /></Field>
        <Field id="o-from" label="Effective from" error={errs.from}><input id="o-from" type="date" value={f.from} onChange={(e) => setF({ ...f, from: e.target.value })} aria-invalid={!!errs.from} /></Field>
        <Field id="o-to" label="Until (optional)" error={errs.to}><input id="o-to" type="date" value={f.to} onChange={(e) => setF({ ...f, to: e.target.value })} aria-invalid={!!errs.to} /></Field>
        <Field id="o-pct" label="Percent adjustment (e.g. -15)" error={errs.pct}><input id="o-pct" inputMode="decimal" value={f.pct} onChange={(e) => setF({ ...f, pct: e.target.value })} aria-invalid={!!errs.pct} /></Field>
        <Field id="o-note" label="Note"><input id="o-note" value={f.note} onChange={(e) => setF({ ...f, note: e.target.value })} /></Field>
      </div>
      <fieldset className="rates">
        <legend>Rates (optional): tokens in USD per million, searches, characters, seconds and images in USD per unit</legend>
        {f.rates.map((r, i) => (
          <div className="row" key={i}>
            <label htmlFor={`o-class-${i}`} className="sr-only">Usage class {i + 1}</label>
            <select id={`o-class-${i}`} value={r.class} onChange={(e) => setRate(i, { class: e.target.value })}>{USAGE_CLASSES.map((c) => <option key={c}>{c}</option>)}</select>
            <label htmlFor={`o-rate-${i}`} className="sr-only">{rateUnit(r.class)} for {r.class}</label>
            <input id={`o-rate-${i}`} inputMode="decimal" placeholder={PER_UNIT_CLASSES[r.class] ? "0.01" : "0.15"} value={r.usd} onChange={(e) => setRate(i, { usd: e.target.value })} />
            <span className="small">{rateUnit(r.class)}</span>
            {f.rates.length > 1 && <button type="button" className="secondary" aria-label={`Remove the ${r.class} rate`} onClick={() => setF({ ...f, rates: f.rates.filter((_, j) => j !== i) })}>Remove</button>}
          </div>
        ))}
        <button type="button" className="secondary" onClick={() => setF({ ...f, rates: [...f.rates, { class: nextRateClass(f.rates), usd: "" }] })}>Add a rate</button>
        {errs.rates && <div className="field-error" role="alert" id="o-rates-err">{errs.rates}</div>}
      </fieldset>
      <ErrorBox error={error} />
      <div className="row"><button type="submit">Save override</button><button type="button" className="secondary" onClick={() => onDone(false)}>Cancel</button></div>
    </form>
  );
}

const DAY = 24 * 3600_000;
type EventsRes = { usageEvents: { edges: { node: UsageEvent }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };

function Explain({ ctx }: { ctx: Ctx }) {
  const t = ctx.tenant.id;
  const [more, setMore] = useState<UsageEvent[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  // Events of the last 7 days, newest first. Each load fixes its range so
  // further pages continue the same list.
  const first = useLoad(async () => {
    const to = new Date(Math.ceil(Date.now() / 1000) * 1000);
    const range = { from: rfc3339(new Date(to.getTime() - 7 * DAY)), to: rfc3339(to) };
    const d = await ctx.api.request(USAGE_EVENTS, { t, ...range, n: 20 });
    setMore([]);
    setCursor(d.usageEvents.pageInfo.hasNextPage ? d.usageEvents.pageInfo.endCursor : null);
    return { range, events: d.usageEvents.edges.map((e) => e.node) };
  }, [t]);
  const [pageErr, setPageErr] = useState<unknown>(null);
  const [selected, setSelected] = useState<UsageEvent | null>(null);
  const [lookup, setLookup] = useState("");
  const [lookupErr, setLookupErr] = useState<unknown>(null);
  const events = [...(first.data?.events ?? []), ...more];
  return (
    <div className="card" aria-labelledby="explain-h">
      <div className="row between">
        <h3 id="explain-h">Cost explanation</h3>
        <button className="secondary" onClick={first.reload}>Refresh</button>
      </div>
      <p className="small">Every call's cost is quantity × rate for each usage class. Pick a recent call, or look one up by its event id.</p>
      <form className="row" aria-label="Look up an event" onSubmit={async (e) => {
        e.preventDefault();
        setLookupErr(null);
        if (!lookup.trim()) return setLookupErr(new Error("Enter an event id."));
        try { setSelected((await ctx.api.request(USAGE_EVENT, { t, id: lookup.trim() })).usageEvent); } catch (x) { setLookupErr(x); }
      }}>
        <label htmlFor="ev-id" className="sr-only">Event id</label>
        <input id="ev-id" placeholder="event id" value={lookup} onChange={(e) => setLookup(e.target.value)} />
        <button type="submit" className="secondary">Look up</button>
      </form>
      <ErrorBox error={lookupErr || first.error || pageErr} />
      {selected && <Explanation e={selected} onClose={() => setSelected(null)} />}
      {first.loading && !first.data && <p aria-busy="true">Loading…</p>}
      {first.data && events.length === 0 && <Empty>No calls in the last 7 days. Send traffic through the gateway and its costs are explained here.</Empty>}
      {events.length > 0 && (
        <div className="table-wrap"><table data-testid="events">
          <thead><tr><th>Time</th><th>Key</th><th>Model</th><th>Tokens in / out</th><th>Cost</th><th><span className="sr-only">Explain</span></th></tr></thead>
          <tbody>{events.map((e) => (
            <tr key={e.id} aria-selected={selected?.id === e.id}>
              <td>{when(e.time)}</td><td>{e.keyName || e.keyId}</td><td>{e.provider}/{eventModel(e)}{e.status >= 400 && <span className="small"> · HTTP {e.status}</span>}</td>
              <td>{formatCount(e.tokens.input ?? 0)} / {formatCount(e.tokens.output ?? 0)}</td>
              <td>{e.priced ? <Money value={e.tenantCost} /> : <span className="warn-text">no price</span>}</td>
              <td><button className="secondary small-btn" aria-label={`Explain event ${e.id}`} onClick={() => setSelected(e)}>Explain</button></td>
            </tr>
          ))}</tbody>
        </table></div>
      )}
      {cursor && <button className="secondary" onClick={async () => {
        setPageErr(null);
        try {
          const d = await ctx.api.request(USAGE_EVENTS, { t, ...first.data!.range, n: 20, after: cursor });
          setMore((m) => [...m, ...d.usageEvents.edges.map((x) => x.node)]);
          setCursor(d.usageEvents.pageInfo.hasNextPage ? d.usageEvents.pageInfo.endCursor : null);
        } catch (x) { setPageErr(x); }
      }}>Load more</button>}
    </div>
  );
}

export function Explanation({ e, onClose }: { e: UsageEvent; onClose: () => void }) {
  const x = explain(e);
  return (
    <div className="explain" role="region" aria-label={`Cost of event ${e.id}`} data-testid="explanation">
      <div className="row between">
        <strong>{e.provider}/{eventModel(e)} · {when(e.time)}</strong>
        <button className="secondary small-btn" onClick={onClose} aria-label="Close the explanation">Close</button>
      </div>
      <div className="small">
        event <code>{e.id}</code> · key {e.keyName || e.keyId} · {e.operation}{e.streaming ? " (streamed)" : ""} · HTTP {e.status}
        {e.catalogueModel && <> · priced as {e.catalogueModel}</>}{e.pricingTier && <> ({e.pricingTier})</>}
        {e.dimensions.length > 0 && <> · {e.dimensions.map((d) => `${d.name}=${d.value}`).join(", ")}</>}
        {!e.complete && <> · <span className="warn-text">stream cut before usage was reported</span></>}
      </div>
      {!e.priced ? <Empty>The model had no known price: this call is counted in requests but not in spend. Add a price override to price such calls from now on.</Empty> : (
        <div className="table-wrap"><table data-testid="cost-lines">
          <thead><tr><th>Usage class</th><th>Quantity</th><th>List rate</th><th>Your rate</th><th>List amount</th></tr></thead>
          <tbody>
            {x.lines.map((l) => (
              <tr key={l.class}><td>{l.class}</td><td>{formatCount(l.quantity)}</td><td>{rateText(l.class, l.listRatePerMillion)}</td>
                <td className={l.overridden ? "warn-text" : ""}>{rateText(l.class, l.tenantRatePerMillion)}</td><td data-value={l.amount}>{formatUSD(l.amount)}</td></tr>
            ))}
          </tbody>
          <tfoot>
            <tr><th colSpan={4}>List cost</th><td data-testid="list-cost" data-value={e.listCost ?? ""}>{formatUSD(e.listCost)}</td></tr>
            {x.adjustment && x.adjustment !== "0" && <tr><th colSpan={4}>Your overrides ({x.overrides.join(", ") || "tenant prices"})</th><td>{formatUSD(x.adjustment)}</td></tr>}
            <tr><th colSpan={4}>Your cost</th><td data-testid="tenant-cost" data-value={e.tenantCost ?? ""}><strong>{formatUSD(e.tenantCost)}</strong></td></tr>
          </tfoot>
        </table></div>
      )}
      {e.providerReportedCost && <p className="small">The provider reported {formatUSD(e.providerReportedCost)} for this call{x.linesMatchList ? "" : "; spendgate used the provider's figure"}.</p>}
      {e.priced && !x.linesMatchList && !e.providerReportedCost && <p className="small">The lines add up to {formatUSD(x.linesTotal)}.</p>}
    </div>
  );
}
