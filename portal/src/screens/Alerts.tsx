import { formatUSD } from "../money";
import { Empty, when } from "../ui";

export interface Alert { budgetId: string; budgetName: string; threshold: number; spent: string; amount: string; message: string; at: string }

export function Alerts({ alerts, live }: { alerts: Alert[]; live: string }) {
  return (
    <section aria-labelledby="alerts-h">
      <h2 id="alerts-h">Live budget alerts</h2>
      <p className="small">Alerts arrive here live while the portal is open. Subscription: <span data-testid="live">{live}</span></p>
      {alerts.length === 0 ? <Empty>No alerts since you opened the portal.</Empty> : (
        <ul className="feed" aria-live="polite">
          {alerts.map((a, i) => (
            <li key={i}>
              <strong>{a.budgetName}</strong> reached {a.threshold}% — {formatUSD(a.spent)} of {formatUSD(a.amount)}
              <div className="small">{a.message} · {when(a.at)}</div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
