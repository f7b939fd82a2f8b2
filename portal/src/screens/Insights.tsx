import { useMemo, useState } from "react";
import type { Ctx } from "../App";
import {
  INSIGHTS, SET_RECOMMENDATION_STATE, kindLabel, openSavings, peakRatio, sortRecommendations,
  type Recommendation, type RecommendationState,
} from "../intelligence";
import { Empty, ErrorBox, Money, useLoad, when } from "../ui";

/** Savings and anomalies: where this month's spend is headed, what would
 * cost less (with the saving a month), and unusual hours of spend. */
export function Insights({ ctx }: { ctx: Ctx }) {
  const t = ctx.tenant.id;
  const canManage = ctx.tenant.role === "OWNER" || ctx.tenant.role === "ADMIN";
  const window = useMemo(() => {
    const to = new Date();
    return { from: new Date(to.getTime() - 14 * 24 * 3600 * 1000).toISOString(), to: to.toISOString() };
  }, []);
  const { data, error, reload } = useLoad(() => ctx.api.request(INSIGHTS, { t, ...window }), [t]);
  const [actErr, setActErr] = useState<unknown>(null);
  const setState = async (r: Recommendation, s: RecommendationState) => {
    setActErr(null);
    try { await ctx.api.request(SET_RECOMMENDATION_STATE, { t, id: r.id, s }); reload(); } catch (e) { setActErr(e); }
  };
  const recs = sortRecommendations(data?.recommendations ?? []);
  const f = data?.spendForecast;
  return (
    <section aria-labelledby="insights-h">
      <div className="row between">
        <h2 id="insights-h">Savings & anomalies</h2>
        <button className="secondary" onClick={reload}>Refresh</button>
      </div>
      <ErrorBox error={error || actErr} />
      {f && (
        <div className="card" data-testid="month-forecast">
          <strong>This month</strong>
          <div className="small">
            <Money value={f.spent} /> spent so far · forecast <strong><Money value={f.expected} /></strong> by {when(f.periodEnd)}
            {f.low !== f.high && <> (between <Money value={f.low} /> and <Money value={f.high} />)</>}
            {f.method === "RUN_RATE" && <> · from the run rate (less than a week of history)</>}
          </div>
        </div>
      )}

      <h3>Recommendations</h3>
      {data && recs.length > 0 && (
        <p className="small" data-testid="open-savings">Open recommendations save <Money value={openSavings(recs)} /> a month on the last 30 days of usage.</p>
      )}
      {data && recs.length === 0 && <Empty>No recommendations: nothing in the last 30 days of usage would cost noticeably less. They are refreshed every hour.</Empty>}
      <ul className="budgets">
        {recs.map((r) => (
          <li key={r.id} className="card" data-testid="recommendation" data-kind={r.kind} data-state={r.state}>
            <div className="row between">
              <strong>{r.title}</strong>
              <span className="small">{kindLabel(r.kind)}{r.keyName ? ` · key ${r.keyName}` : ""}</span>
            </div>
            <div className="small">{r.detail}</div>
            <div className="small">
              {r.kind === "PRICE_MODEL" || r.kind === "REVOKE_KEY"
                ? "No direct saving"
                : <>Saves <strong><Money testid="savings" value={r.monthlySavings} /></strong> a month of <Money value={r.currentMonthlyCost} /></>}
              {r.state !== "OPEN" && <> · {r.state.toLowerCase()} by {r.stateChangedBy ?? "?"} on {when(r.stateChangedAt)}</>}
            </div>
            {canManage && (
              <div className="row">
                {r.state === "OPEN" ? (
                  <>
                    <button aria-label={`Mark applied: ${r.title}`} onClick={() => setState(r, "APPLIED")}>Mark applied</button>
                    <button className="secondary" aria-label={`Dismiss: ${r.title}`} onClick={() => setState(r, "DISMISSED")}>Dismiss</button>
                  </>
                ) : (
                  <button className="secondary" aria-label={`Reopen: ${r.title}`} onClick={() => setState(r, "OPEN")}>Reopen</button>
                )}
              </div>
            )}
          </li>
        ))}
      </ul>

      <h3>Anomalies (last 14 days)</h3>
      {data && data.anomalies.length === 0 && <Empty>No unusual spend. Each hour is compared with the same hour of the week in the four weeks before.</Empty>}
      {data && data.anomalies.length > 0 && (
        <div className="table-wrap"><table>
          <thead><tr><th>Started</th><th>Of</th><th>Severity</th><th>Peak hour</th><th>Peak</th><th>Excess</th><th>Status</th></tr></thead>
          <tbody>
            {data.anomalies.map((e) => (
              <tr key={e.id} data-testid="anomaly" data-severity={e.severity}>
                <td>{when(e.startedAt)}</td>
                <td>{e.dimension.toLowerCase()} {e.label}</td>
                <td><span className={`badge ${e.severity === "CRITICAL" ? "revoked" : ""}`}>{e.severity.toLowerCase()}</span></td>
                <td>{when(e.peakHour)}</td>
                <td><Money value={e.peakSpend} /> ({peakRatio(e)})</td>
                <td><Money value={e.excessSpend} /> over {e.anomalousHours} h</td>
                <td>{e.endedAt ? `ended ${when(e.endedAt)}` : "ongoing"}</td>
              </tr>
            ))}
          </tbody>
        </table></div>
      )}
    </section>
  );
}
