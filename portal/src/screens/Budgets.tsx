import { useState } from "react";
import type { Ctx } from "../App";
import { API_KEYS, BUDGETS, BUDGET_STATUS, CREATE_BUDGET, DELETE_BUDGET, UPDATE_BUDGET, isSchemaMismatch } from "../gql";
import { formatUSD, percentOf } from "../money";
import { Empty, ErrorBox, Field, useLoad } from "../ui";
import { budgetErrors, budgetInput, type BudgetForm } from "../validate";

interface Budget { id: string; name: string; scope: BudgetForm["scope"]; keyId: string | null; dimensionName: string | null; dimensionValue: string | null; period: BudgetForm["period"]; amount: string; thresholds: number[]; hard: boolean; webhookUrl: string | null }
interface Status { budgetId: string; spent: string; forecast: string | null }

const EMPTY: BudgetForm = { name: "", scope: "TENANT", keyId: "", dimensionName: "", dimensionValue: "", period: "MONTH", amount: "", thresholds: "50, 80, 100", hard: false, webhookUrl: "" };

export function Budgets({ ctx }: { ctx: Ctx }) {
  const t = ctx.tenant.id;
  const canManage = ctx.tenant.role !== "VIEWER";
  const { data, error, reload } = useLoad(() => ctx.api.request<{ budgets: { edges: { node: Budget }[] } }>(BUDGETS, { t }), [t]);
  const keys = useLoad(() => ctx.api.request<{ apiKeys: { edges: { node: { id: string; name: string; prefix: string; status: string } }[] } }>(API_KEYS, { t }), [t]);
  // Budget status comes from analytics; a server without it still lists budgets.
  const status = useLoad(() => ctx.api.request<{ budgetStatus: Status[] }>(BUDGET_STATUS, { t }).catch((e) => {
    if (isSchemaMismatch(e)) return { budgetStatus: [] as Status[] };
    throw e;
  }), [t]);
  const [editing, setEditing] = useState<{ id: string | null; form: BudgetForm } | null>(null);
  const [actErr, setActErr] = useState<unknown>(null);
  const budgets = data?.budgets.edges.map((e) => e.node) ?? [];
  const statusOf = (id: string) => status.data?.budgetStatus.find((s) => s.budgetId === id);
  const keyName = (id: string | null) => keys.data?.apiKeys.edges.find((e) => e.node.id === id)?.node.name ?? id;

  return (
    <section aria-labelledby="budgets-h">
      <h2 id="budgets-h">Budgets</h2>
      {canManage && !editing && <button onClick={() => setEditing({ id: null, form: EMPTY })}>New budget</button>}
      {editing && (
        <BudgetEditor
          ctx={ctx}
          keys={keys.data?.apiKeys.edges.map((e) => e.node).filter((k) => k.status === "ACTIVE") ?? []}
          initial={editing}
          onDone={(saved) => { setEditing(null); if (saved) { reload(); status.reload(); } }}
        />
      )}
      <ErrorBox error={error || actErr || status.error} />
      {data && budgets.length === 0 && <Empty>No budgets yet. A budget alerts at its thresholds and, when hard, blocks its keys at 100 %.</Empty>}
      <ul className="budgets">
        {budgets.map((b) => {
          const s = statusOf(b.id);
          const pct = s ? percentOf(s.spent, b.amount) : 0;
          return (
            <li key={b.id} className="card">
              <div className="row between">
                <strong>{b.name}</strong>
                <span className="small">{b.period.toLowerCase()}ly · {b.scope === "TENANT" ? "whole tenant" : b.scope === "KEY" ? `key ${keyName(b.keyId)}` : `${b.dimensionName}=${b.dimensionValue}`}{b.hard ? " · hard cap" : ""}</span>
              </div>
              <div className="progress" role="progressbar" aria-label={`${b.name} spent`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.min(pct, 100)}>
                <div className={pct >= 100 ? "over" : pct >= 80 ? "warn" : ""} style={{ width: `${Math.min(pct, 100)}%` }} />
                {b.thresholds.map((th) => <span key={th} className="tick" style={{ left: `${Math.min(th, 100)}%` }} title={`${th}%`} />)}
              </div>
              <div className="small">
                {s ? <>{formatUSD(s.spent)} of {formatUSD(b.amount)} ({pct}%){s.forecast && <> · forecast {formatUSD(s.forecast)} by period end</>}</> : <>Budget {formatUSD(b.amount)}</>}
                {" "}· thresholds {b.thresholds.join(", ")}%
              </div>
              {canManage && (
                <div className="row">
                  <button className="secondary" aria-label={`Edit ${b.name}`} onClick={() => setEditing({ id: b.id, form: { name: b.name, scope: b.scope, keyId: b.keyId ?? "", dimensionName: b.dimensionName ?? "", dimensionValue: b.dimensionValue ?? "", period: b.period, amount: b.amount, thresholds: b.thresholds.join(", "), hard: b.hard, webhookUrl: b.webhookUrl ?? "" } })}>Edit</button>
                  <button className="danger" aria-label={`Delete ${b.name}`} onClick={async () => {
                    if (!window.confirm(`Delete budget ${b.name}?`)) return;
                    try { await ctx.api.request(DELETE_BUDGET, { t, id: b.id }); reload(); } catch (e) { setActErr(e); }
                  }}>Delete</button>
                </div>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function BudgetEditor({ ctx, keys, initial, onDone }: { ctx: Ctx; keys: { id: string; name: string; prefix: string }[]; initial: { id: string | null; form: BudgetForm }; onDone: (saved: boolean) => void }) {
  const [f, setF] = useState<BudgetForm>(initial.form);
  const [errs, setErrs] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const set = <K extends keyof BudgetForm>(k: K, v: BudgetForm[K]) => setF({ ...f, [k]: v });
  return (
    <form className="card" aria-label={initial.id ? "Edit budget" : "Create budget"} onSubmit={async (e) => {
      e.preventDefault();
      const fe = budgetErrors(f);
      setErrs(fe);
      if (Object.keys(fe).length) return;
      setError(null);
      try {
        if (initial.id) await ctx.api.request(UPDATE_BUDGET, { t: ctx.tenant.id, id: initial.id, in: budgetInput(f) });
        else await ctx.api.request(CREATE_BUDGET, { t: ctx.tenant.id, in: budgetInput(f) });
        onDone(true);
      } catch (x) { setError(x); }
    }}>
      <h3>{initial.id ? "Edit budget" : "New budget"}</h3>
      <div className="grid">
        <Field id="b-name" label="Name" error={errs.name}><input id="b-name" value={f.name} onChange={(e) => set("name", e.target.value)} aria-invalid={!!errs.name} /></Field>
        <Field id="b-amount" label="Amount (USD)" error={errs.amount}><input id="b-amount" inputMode="decimal" value={f.amount} onChange={(e) => set("amount", e.target.value)} aria-invalid={!!errs.amount} /></Field>
        <Field id="b-period" label="Period"><select id="b-period" value={f.period} onChange={(e) => set("period", e.target.value as BudgetForm["period"])}><option value="DAY">Day</option><option value="WEEK">Week</option><option value="MONTH">Month</option></select></Field>
        <Field id="b-scope" label="Scope"><select id="b-scope" value={f.scope} onChange={(e) => set("scope", e.target.value as BudgetForm["scope"])}><option value="TENANT">Whole tenant</option><option value="KEY">One API key</option><option value="DIMENSION">A dimension value</option></select></Field>
        {f.scope === "KEY" && <Field id="b-key" label="API key" error={errs.keyId}><select id="b-key" value={f.keyId} onChange={(e) => set("keyId", e.target.value)}><option value="">Choose…</option>{keys.map((k) => <option key={k.id} value={k.id}>{k.name} ({k.prefix})</option>)}</select></Field>}
        {f.scope === "DIMENSION" && <>
          <Field id="b-dn" label="Dimension name" error={errs.dimensionName}><input id="b-dn" value={f.dimensionName} onChange={(e) => set("dimensionName", e.target.value)} /></Field>
          <Field id="b-dv" label="Dimension value" error={errs.dimensionValue}><input id="b-dv" value={f.dimensionValue} onChange={(e) => set("dimensionValue", e.target.value)} /></Field>
        </>}
        <Field id="b-th" label="Alert thresholds (% of amount)" error={errs.thresholds}><input id="b-th" value={f.thresholds} onChange={(e) => set("thresholds", e.target.value)} aria-invalid={!!errs.thresholds} /></Field>
        <Field id="b-hook" label="Webhook URL (optional)" error={errs.webhookUrl}><input id="b-hook" type="url" value={f.webhookUrl} onChange={(e) => set("webhookUrl", e.target.value)} /></Field>
      </div>
      <label className="check"><input type="checkbox" checked={f.hard} onChange={(e) => set("hard", e.target.checked)} /> Hard cap: block the covered keys at 100 %</label>
      <ErrorBox error={error} />
      <div className="row"><button type="submit">Save budget</button><button type="button" className="secondary" onClick={() => onDone(false)}>Cancel</button></div>
    </form>
  );
}
