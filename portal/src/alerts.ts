// Budget alerts: the live subscription and the history, merged into one feed.

export interface Alert {
  id: string;
  budgetId: string;
  budgetName: string;
  threshold: number;
  periodStart: string;
  periodEnd: string;
  spent: string;
  amount: string;
  hard: boolean;
  message: string;
  at: string;
}

/**
 * One feed, newest first, each alert once: an alert received live is also in
 * the history once it is reloaded, and the subscription may redeliver after a
 * reconnect.
 */
export function mergeAlerts(live: Alert[], history: Alert[], limit = 200): Alert[] {
  const byId = new Map<string, Alert>();
  for (const a of [...history, ...live]) byId.set(a.id, a);
  return [...byId.values()]
    .sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || Number(b.id) - Number(a.id))
    .slice(0, limit);
}

/** What the toast says: the server's message, or one built from the fields. */
export function alertText(a: Alert): string {
  return a.message || `Budget "${a.budgetName}" reached ${a.threshold}%`;
}

/** The subscription state shown in the header. */
export type LiveState = "connecting" | "live" | "reconnecting" | { error: string };

export function liveLabel(s: LiveState): string {
  if (typeof s === "object") return "alerts unavailable: " + s.error;
  return { connecting: "connecting…", live: "live", reconnecting: "reconnecting…" }[s];
}

/** A readable reason from what graphql-ws hands to error(): GraphQL errors, a CloseEvent or an Error. */
export function describeWsError(e: unknown): string {
  if (Array.isArray(e)) return e.map((x) => x?.message ?? String(x)).join("; ");
  if (e && typeof e === "object" && "code" in e && "reason" in e) {
    const c = e as { code: number; reason: string };
    return `connection closed (${c.code}${c.reason ? ": " + c.reason : ""})`;
  }
  if (e instanceof Error) return e.message;
  return "connection failed";
}
