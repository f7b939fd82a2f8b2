import type { Ctx } from "../App";
import { ALERT_HISTORY } from "../gql";
import { liveLabel, mergeAlerts, type Alert, type LiveState } from "../alerts";
import { Empty, ErrorBox, useLoad, when, Money } from "../ui";

export function Alerts({ ctx, live, liveState }: { ctx: Ctx; live: Alert[]; liveState: LiveState }) {
  const history = useLoad(() => ctx.api.request(ALERT_HISTORY, { t: ctx.tenant.id, n: 100 }), [ctx.tenant.id]);
  const liveIds = new Set(live.map((a) => a.id));
  const feed = mergeAlerts(live, history.data?.budgetAlertHistory ?? []);
  return (
    <section aria-labelledby="alerts-h">
      <div className="row between">
        <h2 id="alerts-h">Budget alerts</h2>
        <button className="secondary" onClick={history.reload}>Reload history</button>
      </div>
      <p className="small">New alerts appear here and as a notice while the portal is open (subscription: {liveLabel(liveState)}). Each budget alerts once per threshold and period.</p>
      <ErrorBox error={history.error} />
      {history.loading && !history.data && <p aria-busy="true">Loading…</p>}
      {(history.data || live.length > 0) && feed.length === 0 && <Empty>No budget has reached an alert threshold yet.</Empty>}
      {feed.length > 0 && (
        <ul className="feed" aria-label="Alerts, newest first" data-testid="alert-feed">
          {feed.map((a) => (
            <li key={a.id} className={a.threshold >= 100 ? "over" : ""} data-threshold={a.threshold}>
              <div className="row between">
                <span><strong>{a.budgetName}</strong> reached {a.threshold}% {liveIds.has(a.id) && <span className="badge new">new</span>}{a.hard && a.threshold >= 100 && <span className="badge revoked">hard cap</span>}</span>
                <span className="small">{when(a.at)}</span>
              </div>
              <div><Money value={a.spent} /> of <Money value={a.amount} /> in the period {when(a.periodStart)} – {when(a.periodEnd)}</div>
              <div className="small">{a.message}</div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
