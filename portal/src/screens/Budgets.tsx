import { useEffect, useState } from "react";
import type { Ctx } from "../App";
import type { Alert } from "../alerts";
import { API_KEYS, BUDGET_STATUSES, CREATE_BUDGET, DELETE_BUDGET, UPDATE_BUDGET } from "../gql";
import { formatCents } from "../money";
import { budgetForm, forecastText, periodWord, scopeText, statusView, type BudgetStatus } from "../budgets";
import { Empty, ErrorBox, Field, Money, useLoad, when } from "../ui";
import { budgetErrors, budgetInput, reportedSpendScopes, type BudgetForm } from "../validate";

interface KeyRef { id: string; name: string; prefix: string; status: string }

const EMPTY: BudgetForm = { name: "", scope: "TENANT", keyId: "", dimensionName: "", dimensionValue: "", period: "MONTH", amount: "", thresholds: "50, 80, 100", hard: false, webhookUrl: "" };

export function Budgets({ ctx, live }: { ctx: Ctx; live: Alert[] }) {
  const t = ctx.tenant.id;
  const canManage = ctx.tenant.role !== "VIEWER";
  const { data, error, reload } = useLoad(() => ctx.api.request(BUDGET_STATUSES, { t }), [t]);
  const keys = useLoad(() => ctx.api.request(API_KEYS, { t }), [t]);
  const [editing, setEditing] = useState<{ id: string | null; form: BudgetForm } | null>(null);
  const [actErr, setActErr] = useState<unknown>(null);
  // A live alert means spend moved: show the new figures.
  useEffect(() => { if (live.length) reload(); }, [live.length]); // eslint-disable-line react-hooks/exhaustive-deps
  const statuses = data?.budgetStatuses ?? [];
  const keyList = keys.data?.apiKeys.edges.map((e) => e.node) ?? [];
  const keyName = (id: string) => keyList.find((k) => k.id === id)?.name ?? id;

  return (
    <section aria-labelledby="budgets-h">
      <div className="row between">
        <h2 id="budgets-h">Budgets</h2>
        <div className="row">
          <button className="secondary" onClick={reload}>Refresh</button>
          {canManage && !editing && <button onClick={() => setEditing({ id: null, form: EMPTY })}>New budget</button>}
        </div>
      </div>
      {editing && (
        <BudgetEditor
          ctx={ctx}
          keys={keyList.filter((k) => k.status === "ACTIVE" || k.id === editing.form.keyId)}
          initial={editing}
          onDone={(saved) => { setEditing(null); if (saved) reload(); }}
        />
      )}
      <ErrorBox error={error || actErr} />
      {data && statuses.length === 0 && <Empty>No budgets yet. A budget alerts at its thresholds and, when hard, blocks the keys it covers at 100 %.</Empty>}
      <ul className="budgets">
        {statuses.map((s) => {
          const b = s.budget;
          const v = statusView(s);
          return (
            <li key={b.id} className="card" data-testid="budget" data-budget={b.name}>
              <div className="row between">
                <strong>{b.name}</strong>
                <span className="small badges">
                  <span>{periodWord(b.period)} · {scopeText(b, keyName)}</span>
                  {b.hard && <span className="badge hard" title="Blocks the keys it covers at 100 %">hard cap</span>}
                  {s.blocked && <span className="badge revoked">blocked</span>}
                </span>
              </div>
              <div className="progress" role="progressbar" aria-label={`${b.name}: ${v.percent}% of the budget spent`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.min(v.percent, 100)}>
                <div className={`spent ${v.level}`} style={{ width: `${v.spentWidth}%` }} />
                {v.reservedWidth > 0 && <div className="reserved" style={{ width: `${v.reservedWidth}%` }} title="reserved by calls in flight" />}
                {b.thresholds.filter((th) => th <= 100).map((th) => <span key={th} className="tick" style={{ left: `${th}%` }} title={`alert at ${th}%`} />)}
                {v.forecastAt != null && <span className="forecast" style={{ left: `${v.forecastAt}%` }} title="forecast at period end" />}
              </div>
              <div className="small status" data-testid="budget-status">
                <Money testid="budget-spent" value={s.spent} /> of <Money value={b.amount} /> ({v.percent}%)
                {s.reported != null && <span data-testid="budget-basis"> (larger of metered <Money value={s.metered ?? "0"} /> and provider-reported <Money value={s.reported} />)</span>}
                {v.hasReserved && <> · <Money value={s.reserved} /> reserved</>}
                {" "}· <Money value={s.remaining} /> left
                {" "}· <span className={v.forecastOver || s.willExceedOn ? "warn-text" : ""} data-testid="budget-forecast" title={`forecast $${s.forecast} exactly`}>{forecastText(s, formatCents)}{v.forecastOver && !s.willExceedOn ? " (over budget)" : ""}</span>
              </div>
              <div className="small">
                Period {when(s.periodStart)} – {when(s.periodEnd)} · alerts at {b.thresholds.join(", ")}%
                {v.nextThreshold != null && <> (next: {v.nextThreshold}%)</>}
                {b.webhookUrl && <> · webhook {b.webhookUrl}</>}
                {b.alertEmails && b.alertEmails.length > 0 && <> · emails {b.alertEmails.join(", ")}</>}
                {b.breachWebhookUrl && <> · breach webhook {b.breachWebhookUrl}{b.breachWebhookSigned ? " (signed)" : ""}</>}
              </div>
              {canManage && (
                <div className="row">
                  <button className="secondary" aria-label={`Edit ${b.name}`} onClick={() => setEditing({ id: b.id, form: budgetForm(b) })}>Edit</button>
                  <button className="danger" aria-label={`Delete ${b.name}`} onClick={async () => {
                    if (!window.confirm(`Delete budget ${b.name}?`)) return;
                    setActErr(null);
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

function BudgetEditor({ ctx, keys, initial, onDone }: { ctx: Ctx; keys: KeyRef[]; initial: { id: string | null; form: BudgetForm }; onDone: (saved: boolean) => void }) {
  const [f, setF] = useState<BudgetForm>(initial.form);
  const [errs, setErrs] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof BudgetForm>(k: K, v: BudgetForm[K]) => setF({ ...f, [k]: v });
  const label = initial.id ? "Edit budget" : "Create budget";
  return (
    <form className="card" aria-label={label} noValidate onSubmit={async (e) => {
      e.preventDefault();
      const fe = budgetErrors(f);
      setErrs(fe);
      if (Object.keys(fe).length) return;
      setError(null);
      setBusy(true);
      try {
        if (initial.id) await ctx.api.request(UPDATE_BUDGET, { t: ctx.tenant.id, id: initial.id, in: budgetInput(f) });
        else await ctx.api.request(CREATE_BUDGET, { t: ctx.tenant.id, in: budgetInput(f) });
        onDone(true);
      } catch (x) {
        setError(x);
      } finally {
        setBusy(false);
      }
    }}>
      <h3>{initial.id ? "Edit budget" : "New budget"}</h3>
      <div className="grid">
        <Field id="b-name" label="Name" error={errs.name}><input id="b-name" value={f.name} onChange={(e) => set("name", e.target.value)} aria-invalid={!!errs.name} /></Field>
        <Field id="b-amount" label="Amount (USD)" error={errs.amount}><input id="b-amount" inputMode="decimal" value={f.amount} onChange={(e) => set("amount", e.target.value)} aria-invalid={!!errs.amount} /></Field>
        <Field id="b-period" label="Period"><select id="b-period" value={f.period} onChange={(e) => set("period", e.target.value as BudgetForm["period"])}><option value="DAY">Day</option><option value="WEEK">Week (from Monday)</option><option value="MONTH">Month</option><option value="QUARTER">Quarter</option><option value="YEAR">Year</option></select></Field>
        <Field id="b-scope" label="Covers"><select id="b-scope" value={f.scope} onChange={(e) => set("scope", e.target.value as BudgetForm["scope"])}><option value="TENANT">Whole tenant</option><option value="KEY">One API key</option><option value="PROVIDER">One provider</option><option value="MODEL">One model</option><option value="DIMENSION">A dimension value</option>{["WORKSPACE", "TEAM", "PROJECT"].includes(f.scope) && <option value={f.scope}>{f.scope.toLowerCase()} (set on the Organisation page)</option>}</select></Field>
        {(f.scope === "PROVIDER" || f.scope === "MODEL") && <Field id="b-prov" label={f.scope === "MODEL" ? "Provider (optional)" : "Provider"} error={errs.provider}><input id="b-prov" placeholder="openai" value={f.provider ?? ""} onChange={(e) => set("provider", e.target.value)} aria-invalid={!!errs.provider} /></Field>}
        {f.scope === "MODEL" && <Field id="b-model" label="Model" error={errs.model}><input id="b-model" placeholder="gpt-4o" value={f.model ?? ""} onChange={(e) => set("model", e.target.value)} aria-invalid={!!errs.model} /></Field>}
        {f.scope === "KEY" && <Field id="b-key" label="API key" error={errs.keyId}><select id="b-key" value={f.keyId} onChange={(e) => set("keyId", e.target.value)} aria-invalid={!!errs.keyId}><option value="">Choose…</option>{keys.map((k) => <option key={k.id} value={k.id}>{k.name} ({k.prefix})</option>)}</select></Field>}
        {f.scope === "DIMENSION" && <>
          <Field id="b-dn" label="Dimension name" error={errs.dimensionName}><input id="b-dn" placeholder="team" value={f.dimensionName} onChange={(e) => set("dimensionName", e.target.value)} aria-invalid={!!errs.dimensionName} /></Field>
          <Field id="b-dv" label="Dimension value" error={errs.dimensionValue}><input id="b-dv" placeholder="search" value={f.dimensionValue} onChange={(e) => set("dimensionValue", e.target.value)} aria-invalid={!!errs.dimensionValue} /></Field>
        </>}
        <Field id="b-th" label="Alert thresholds (% of amount)" error={errs.thresholds}><input id="b-th" value={f.thresholds} onChange={(e) => set("thresholds", e.target.value)} aria-invalid={!!errs.thresholds} /></Field>
        <Field id="b-hook" label="Webhook URL (optional)" error={errs.webhookUrl}><input id="b-hook" type="url" value={f.webhookUrl} onChange={(e) => set("webhookUrl", e.target.value)} aria-invalid={!!errs.webhookUrl} /></Field>
        <Field id="b-mail" label="Alert emails (optional, comma separated)" error={errs.alertEmails}><input id="b-mail" value={f.alertEmails ?? ""} onChange={(e) => set("alertEmails", e.target.value)} aria-invalid={!!errs.alertEmails} /></Field>
      </div>
      <label className="check"><input type="checkbox" checked={f.hard} onChange={(e) => set("hard", e.target.checked)} /> Hard cap: block the covered keys at 100 %</label>
      <label className="check"><input type="checkbox" checked={!!f.rollover} onChange={(e) => set("rollover", e.target.checked)} /> Roll the unused amount over to the next period</label>
      {reportedSpendScopes.includes(f.scope) && (
        <label className="check" title="Providers report per day, hours to days late; OpenAI and Anthropic provider budgets and tenant budgets only">
          <input type="checkbox" checked={!!f.reportedSpend} onChange={(e) => set("reportedSpend", e.target.checked)} /> Count provider-reported spend: use the larger of metered and the providers' own reports, so calls that bypassed spendgate count too
        </label>
      )}
      {f.hard && (
        <div className="grid">
          <Field id="b-breach" label="Breach webhook URL (optional: called once per period when the cap is reached, e.g. to revoke keys)" error={errs.breachWebhookUrl}><input id="b-breach" type="url" value={f.breachWebhookUrl ?? ""} onChange={(e) => set("breachWebhookUrl", e.target.value)} aria-invalid={!!errs.breachWebhookUrl} /></Field>
          {(f.breachWebhookUrl ?? "").trim() !== "" && <Field id="b-breach-secret" label={f.breachWebhookSigned ? "Signing secret (leave empty to keep the stored one)" : "Signing secret (HMAC-SHA256, at least 16 characters)"} error={errs.breachWebhookSecret}><input id="b-breach-secret" type="password" autoComplete="new-password" value={f.breachWebhookSecret ?? ""} onChange={(e) => set("breachWebhookSecret", e.target.value)} aria-invalid={!!errs.breachWebhookSecret} /></Field>}
        </div>
      )}
      <ErrorBox error={error} />
      <div className="row"><button type="submit" disabled={busy}>{busy ? "Saving…" : "Save budget"}</button><button type="button" className="secondary" onClick={() => onDone(false)}>Cancel</button></div>
    </form>
  );
}
