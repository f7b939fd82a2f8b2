import { useState } from "react";
import type { Ctx } from "../App";
import { CREATE_CONNECTION, DELETE_CONNECTION, PROVIDER_CONNECTIONS, RECONCILIATION, SET_RECONCILE_SETTINGS, SYNC_CONNECTION } from "../gql";
import { formatUSD } from "../money";
import { driftBars, thresholdError, type DriftDay } from "../reconcile";
import type { CreateProviderConnectionInput, ReconcileSettingsInput, ReconciliationQuery } from "../gql/graphql";
import { DownloadButton, Empty, ErrorBox, Field, Money, useLoad, when } from "../ui";

// Provider connections (admins) and the reconciliation of metered spend with
// what the providers report: a per-day drift chart, the rows per provider ×
// day × model, the CSV export and drift alerts.

type Rec = ReconciliationQuery;

const DAY_MS = 24 * 3600 * 1000;

function utcMidnight(t: number): Date {
  const d = new Date(t);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
}

export function Reconciliation({ ctx }: { ctx: Ctx }) {
  const admin = ctx.tenant.role === "OWNER" || ctx.tenant.role === "ADMIN";
  const [days, setDays] = useState(30);
  const to = utcMidnight(Date.now() + DAY_MS);
  const from = new Date(to.getTime() - days * DAY_MS);
  const rec = useLoad(() => ctx.api.request(RECONCILIATION, { t: ctx.tenant.id, from: from.toISOString(), to: to.toISOString() }), [ctx.tenant.id, days]);
  return (
    <section aria-labelledby="rec-h">
      <h2 id="rec-h">Reconciliation</h2>
      <p className="hint">Metered spend (tenant cost) against what the providers report in their own usage and cost reports, per day and model.</p>
      {admin && <Connections ctx={ctx} onSynced={rec.reload} />}
      <div className="toolbar">
        <label>Range{" "}
          <select aria-label="Range" value={days} onChange={(e) => setDays(Number(e.target.value))}>
            <option value={7}>Last 7 days</option><option value={30}>Last 30 days</option><option value={90}>Last 90 days</option>
          </select>
        </label>
        {rec.data && <DownloadButton api={ctx.api} url={rec.data.reconciliation.csvPath} name="reconciliation.csv" label="Download reconciliation CSV" text="CSV" />}
      </div>
      <ErrorBox error={rec.error} />
      {rec.loading && !rec.data && <p aria-busy="true">Loading…</p>}
      {rec.data && <Report ctx={ctx} data={rec.data} admin={admin} onSaved={rec.reload} />}
    </section>
  );
}

function Report({ ctx, data, admin, onSaved }: { ctx: Ctx; data: Rec; admin: boolean; onSaved: () => void }) {
  const r = data.reconciliation;
  const t = r.totals;
  return (
    <>
      <div className="kpis" data-testid="rec-totals">
        <div className="card kpi">Metered<strong><Money value={t.meteredCost} /></strong></div>
        <div className="card kpi">Provider-reported<strong><Money value={t.reportedCost} /></strong></div>
        <div className="card kpi">Drift<strong><Money value={t.drift} /></strong>{t.driftPercent != null && <span className="small">{t.driftPercent} % of reported</span>}</div>
        <div className="card kpi">Unmetered (bypassed spendgate)<strong><Money value={t.unmeteredCost} /></strong></div>
        <div className="card kpi">Not reported by the provider<strong><Money value={t.unreportedCost} /></strong></div>
      </div>
      <DriftChart days={r.days} />
      <Threshold ctx={ctx} settings={data.reconcileSettings} admin={admin} onSaved={onSaved} />
      {r.rows.length === 0 ? <Empty>No provider report covers this range yet. Add a connection and sync it.</Empty> : (
        <div className="table-wrap">
          <table data-testid="rec-rows">
            <thead><tr><th>Day</th><th>Provider</th><th>Model</th><th>Status</th><th>Calls</th><th>Metered</th><th>Reported</th><th>Drift</th><th>%</th></tr></thead>
            <tbody>
              {r.rows.map((x) => (
                <tr key={x.provider + x.day + x.model} className={x.status.toLowerCase()}>
                  <td>{x.day.slice(0, 10)}</td><td>{x.provider}</td><td>{x.model}</td><td>{x.status.toLowerCase()}</td><td>{x.meteredEvents}</td>
                  <td>{formatUSD(x.meteredCost)}</td><td>{x.reportedHasCost ? formatUSD(x.reportedCost) : "—"}</td>
                  <td>{formatUSD(x.drift)}</td><td>{x.driftPercent ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h3>Drift alerts</h3>
      {data.driftAlerts.length === 0 ? <Empty>No day drifted beyond the threshold.</Empty> : (
        <ul data-testid="drift-alerts">
          {data.driftAlerts.map((a) => (
            <li key={a.id}>{a.day.slice(0, 10)} {a.provider}: drift {formatUSD(a.drift)} ({a.driftPercent} % &gt; {a.thresholdPercent} %) — {when(a.createdAt)}{a.deliveredAt ? "" : " (not delivered yet)"}</li>
          ))}
        </ul>
      )}
    </>
  );
}

function DriftChart({ days }: { days: DriftDay[] }) {
  const W = 640, H = 160;
  const { bars, zeroY } = driftBars(days, W, H);
  if (bars.length === 0) return null;
  return (
    <figure className="card">
      <svg className="chart" style={{ maxHeight: 220 }} viewBox={`0 0 ${W} ${H + 16}`} role="img" aria-label="Daily drift: provider-reported minus metered" data-testid="drift-chart">
        <line className="axis" x1={0} x2={W} y1={zeroY} y2={zeroY} />
        {bars.map((b) => (
          <g key={b.key}>
            <rect x={b.x} y={b.y} width={b.width} height={Math.max(b.height, 0.5)} style={{ fill: b.negative ? "#2b7bb9" : "#d9534f" }}><title>{b.title}</title></rect>
            {bars.length <= 31 && <text x={b.x + b.width / 2} y={H + 12} textAnchor="middle">{b.label}</text>}
          </g>
        ))}
      </svg>
      <figcaption className="small">Daily drift: above the line the providers charged more than spendgate metered, below less.</figcaption>
    </figure>
  );
}

function Threshold({ ctx, settings, admin, onSaved }: { ctx: Ctx; settings: Rec["reconcileSettings"]; admin: boolean; onSaved: () => void }) {
  const [pct, setPct] = useState(settings.driftThresholdPercent);
  const [hook, setHook] = useState("");
  const [error, setError] = useState<unknown>(null);
  const err = thresholdError(pct);
  if (!admin) return <p>Drift alert threshold: {settings.driftThresholdPercent} %</p>;
  return (
    <form className="inline" onSubmit={async (e) => {
      e.preventDefault();
      if (err) return;
      try {
        const input: ReconcileSettingsInput = { driftThresholdPercent: pct.trim() };
        if (hook.trim() !== "") input.alertWebhookUrl = hook.trim();
        await ctx.api.request(SET_RECONCILE_SETTINGS, { t: ctx.tenant.id, in: input });
        setError(null);
        onSaved();
      } catch (x) { setError(x); }
    }}>
      <Field label="Drift alert threshold (%)" id="rec-threshold" error={pct !== settings.driftThresholdPercent ? err : ""}>
        <input id="rec-threshold" value={pct} onChange={(e) => setPct(e.target.value)} inputMode="decimal" />
      </Field>
      <Field label={settings.hasAlertWebhook ? "Alert webhook (set; enter a new one to replace)" : "Alert webhook (optional)"} id="rec-hook">
        <input id="rec-hook" value={hook} onChange={(e) => setHook(e.target.value)} placeholder="https://hooks.slack.com/…" />
      </Field>
      <button type="submit" disabled={!!err}>Save</button>
      <ErrorBox error={error} />
    </form>
  );
}

function Connections({ ctx, onSynced }: { ctx: Ctx; onSynced: () => void }) {
  const list = useLoad(() => ctx.api.request(PROVIDER_CONNECTIONS, { t: ctx.tenant.id }), [ctx.tenant.id]);
  const [provider, setProvider] = useState("openai");
  const [name, setName] = useState("");
  const [adminKey, setAdminKey] = useState("");
  const [dataKey, setDataKey] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState("");
  const act = async (id: string, f: () => Promise<unknown>) => {
    setBusy(id);
    try { await f(); setError(null); } catch (e) { setError(e); } finally { setBusy(""); list.reload(); onSynced(); }
  };
  return (
    <div className="card">
      <h3>Provider connections</h3>
      <ErrorBox error={list.error ?? error} />
      {list.data && list.data.providerConnections.length === 0 && <Empty>No connection yet: add one with an admin key that reads the provider's usage and cost reports.</Empty>}
      {list.data && list.data.providerConnections.length > 0 && (
        <div className="table-wrap">
        <table data-testid="connections">
          <thead><tr><th>Name</th><th>Provider</th><th>Admin key</th><th>Data-plane key</th><th>Last sync</th><th>Next</th><th /></tr></thead>
          <tbody>
            {list.data.providerConnections.map((c) => (
              <tr key={c.id}>
                <td>{c.name}</td><td>{c.provider}</td><td>{c.adminKeyLast4 ? `…${c.adminKeyLast4}` : "—"}</td>
                <td>{c.dataKeyLast4 ? `…${c.dataKeyLast4}` : "—"}</td>
                <td>{c.lastRun.running ? `running: ${c.lastRun.progress}` : c.lastRun.lastError ? <span className="field-error">failed: {c.lastRun.lastError}</span> : `${when(c.lastRun.lastOkAt)} (${c.lastRun.pages} pages, ${c.lastRun.rows} rows)`}</td>
                <td>{when(c.lastRun.nextRunAt)}</td>
                <td>
                  {c.provider !== "google" && <button className="secondary small-btn" disabled={busy === c.id} onClick={() => act(c.id, () => ctx.api.request(SYNC_CONNECTION, { t: ctx.tenant.id, id: c.id }))}>Sync now</button>}
                  <button className="secondary small-btn" disabled={busy === c.id} onClick={() => { if (confirm(`Delete ${c.name} with its pages and reported rows?`)) act(c.id, () => ctx.api.request(DELETE_CONNECTION, { t: ctx.tenant.id, id: c.id })); }}>Delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
      <form className="inline" onSubmit={async (e) => {
        e.preventDefault();
        const input: CreateProviderConnectionInput = { provider, name: name.trim() };
        if (adminKey.trim()) input.adminKey = adminKey.trim();
        if (dataKey.trim()) input.dataKey = dataKey.trim();
        await act("new", () => ctx.api.request(CREATE_CONNECTION, { t: ctx.tenant.id, in: input }));
        setName(""); setAdminKey(""); setDataKey("");
      }}>
        <Field label="Provider" id="conn-provider">
          <select id="conn-provider" value={provider} onChange={(e) => setProvider(e.target.value)}>
            <option value="openai">OpenAI (organization usage and costs)</option>
            <option value="anthropic">Anthropic (Admin API usage and cost reports)</option>
            <option value="google">Google (Cloud Billing export import)</option>
          </select>
        </Field>
        <Field label="Name" id="conn-name"><input id="conn-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} /></Field>
        {provider !== "google" && (
          <Field label="Admin API key (stored sealed; only its last four are shown again)" id="conn-key">
            <input id="conn-key" type="password" autoComplete="off" value={adminKey} onChange={(e) => setAdminKey(e.target.value)} required />
          </Field>
        )}
        <Field label="Data-plane API key (optional: keys set to use stored provider keys call with it; sealed, last four shown)" id="conn-data-key">
          <input id="conn-data-key" type="password" autoComplete="off" value={dataKey} onChange={(e) => setDataKey(e.target.value)} />
        </Field>
        <button type="submit" disabled={busy === "new"}>Add connection</button>
      </form>
    </div>
  );
}
