import { useState } from "react";
import type { Ctx } from "../App";
import { AUDIT, AUDIT_NAMES, type ResultOf } from "../gql";
import { ACTION_AREAS, actionText, auditDetails, auditFilter, type AuditEntry, type AuditFilterForm, type Names } from "../audit";
import { Empty, ErrorBox, useLoad, when } from "../ui";

type NameSources = ResultOf<typeof AUDIT_NAMES>;

function namesOf(d: NameSources): Names {
  const m: Names = new Map();
  d.apiKeys.edges.forEach((e) => m.set(e.node.id, `key “${e.node.name}”`));
  d.budgets.edges.forEach((e) => m.set(e.node.id, `budget “${e.node.name}”`));
  d.members.edges.forEach((e) => m.set(e.node.user.id, e.node.user.email));
  d.orgTree.forEach((n) => m.set(n.id, `“${n.name}”`));
  d.pricingOverrides.edges.forEach((e) => m.set(e.node.id, `override ${e.node.provider ? e.node.provider + "/" : ""}${e.node.model}`));
  return m;
}

const NO_FILTER: AuditFilterForm = { area: "", actor: "", from: "", to: "" };

export function Audit({ ctx }: { ctx: Ctx }) {
  const t = ctx.tenant.id;
  const [form, setForm] = useState<AuditFilterForm>(NO_FILTER);
  const [asked, setAsked] = useState<AuditFilterForm>(NO_FILTER);
  const [formErr, setFormErr] = useState("");
  const [more, setMore] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [pageErr, setPageErr] = useState<unknown>(null);
  // Names are a nicety: without them (an error, a deleted key) the ids show.
  const names = useLoad(async () => namesOf(await ctx.api.request(AUDIT_NAMES, { t })), [t]);
  const first = useLoad(async () => {
    const d = await ctx.api.request(AUDIT, { t, after: null, f: auditFilter(asked).filter });
    setMore([]);
    setCursor(d.auditLog.pageInfo.hasNextPage ? d.auditLog.pageInfo.endCursor : null);
    return d.auditLog.edges.map((e) => e.node);
  }, [t, JSON.stringify(asked)]);
  const rows = first.data ? [...first.data, ...more] : null;
  const nm: Names = new Map(names.data ?? []);
  nm.set(t, `tenant “${ctx.tenant.name}”`);
  const filtered = JSON.stringify(asked) !== JSON.stringify(NO_FILTER);
  return (
    <section aria-labelledby="audit-h">
      <h2 id="audit-h">Audit log</h2>
      <form className="row controls" aria-label="Filter the audit log" onSubmit={(e) => {
        e.preventDefault();
        const r = auditFilter(form);
        setFormErr(r.error);
        if (!r.error) setAsked(form);
      }}>
        <label htmlFor="au-area">Action</label>
        <select id="au-area" value={form.area} onChange={(e) => setForm({ ...form, area: e.target.value })}>
          {ACTION_AREAS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
        </select>
        <label htmlFor="au-actor">Actor</label>
        <input id="au-actor" placeholder="email or system" value={form.actor} onChange={(e) => setForm({ ...form, actor: e.target.value })} />
        <label htmlFor="au-from">From</label>
        <input id="au-from" type="date" value={form.from} onChange={(e) => setForm({ ...form, from: e.target.value })} />
        <label htmlFor="au-to">To</label>
        <input id="au-to" type="date" value={form.to} onChange={(e) => setForm({ ...form, to: e.target.value })} />
        <button type="submit">Filter</button>
        {filtered && <button type="button" className="secondary" onClick={() => { setForm(NO_FILTER); setAsked(NO_FILTER); setFormErr(""); }}>Clear</button>}
      </form>
      {formErr && <div className="error" role="alert">{formErr}</div>}
      <ErrorBox error={first.error || pageErr} />
      {first.loading && !first.data && <p aria-busy="true">Loading…</p>}
      {rows && rows.length === 0 && <Empty>{filtered ? "No entry matches the filter." : "Nothing has been changed in this tenant yet."}</Empty>}
      {rows && rows.length > 0 && (
        <div className="table-wrap">
          <table data-testid="audit">
            <thead><tr><th>When</th><th>Actor</th><th>Action</th><th>Target</th><th>Details</th></tr></thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id}>
                  <td className="nowrap">{when(r.createdAt)}</td>
                  <td>{r.actor}</td>
                  <td><span title={r.action} data-action={r.action}>{actionText(r.action)}</span> <code className="small">{r.action}</code></td>
                  <td>{nm.get(r.targetId) ? <span title={r.targetId}>{nm.get(r.targetId)}</span> : <>{r.targetType.replace(/_/g, " ")} <code className="small">{r.targetId}</code></>}</td>
                  <td>
                    <dl className="details">
                      {auditDetails(r.details, nm).map((d) => (
                        <div key={d.field}><dt>{d.field.replace(/_/g, " ")}</dt><dd title={d.title}>{d.text}</dd></div>
                      ))}
                    </dl>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor && <button className="secondary" onClick={async () => {
        setPageErr(null);
        try {
          const d = await ctx.api.request(AUDIT, { t, after: cursor, f: auditFilter(asked).filter });
          setMore((m) => [...m, ...d.auditLog.edges.map((e) => e.node)]);
          setCursor(d.auditLog.pageInfo.hasNextPage ? d.auditLog.pageInfo.endCursor : null);
        } catch (e) { setPageErr(e); }
      }}>Load more</button>}
    </section>
  );
}
