// Budget status shaping for progress bars, kept apart from the component so
// it is unit tested. Money stays exact (BigInt nano-USD).
import { toNano } from "./money";
import type { BudgetForm } from "./validate";

export interface Budget {
  id: string;
  name: string;
  scope: BudgetForm["scope"];
  keyId: string | null;
  workspaceId?: string | null;
  teamId?: string | null;
  projectId?: string | null;
  provider?: string | null;
  model?: string | null;
  rollover?: boolean;
  alertEmails?: string[];
  /** METERED, or MAX_METERED_REPORTED: the larger of metered and provider-reported spend counts. */
  spendBasis?: string;
  breachWebhookUrl?: string | null;
  breachWebhookSigned?: boolean;
  dimensionName: string | null;
  dimensionValue: string | null;
  period: BudgetForm["period"];
  amount: string;
  thresholds: number[];
  hard: boolean;
  webhookUrl: string | null;
}

export interface BudgetStatus {
  budget: Budget;
  periodStart: string;
  periodEnd: string;
  spent: string;
  reserved: string;
  remaining: string;
  percentUsed: number;
  forecast: string;
  /** What was metered and what the providers reported (null on the METERED basis); spent is what counts. */
  spendBasis?: string;
  metered?: string;
  reported?: string | null;
  /** The forecast's band (about 95 %), its exceed day and method. */
  forecastLow?: string;
  forecastHigh?: string;
  willExceedOn?: string | null;
  forecastMethod?: string;
  blocked: boolean;
}

export interface StatusView {
  /** Bar segments in percent of the amount, capped so they fit the bar. */
  spentWidth: number;
  reservedWidth: number;
  /** Where the forecast lands on the bar (null past 100 %: shown as text). */
  forecastAt: number | null;
  /** Spent percent, floored, uncapped (150 when 1.5× the amount). */
  percent: number;
  level: "ok" | "warn" | "over";
  forecastOver: boolean;
  /** The next threshold not reached yet, if any. */
  nextThreshold: number | null;
  /** Calls in flight hold part of the amount. */
  hasReserved: boolean;
}

function pct(part: bigint, whole: bigint): number {
  if (whole <= 0n) return 0;
  return Number((part * 10000n) / whole) / 100;
}

export function statusView(s: BudgetStatus): StatusView {
  const amount = toNano(s.budget.amount);
  const spent = toNano(s.spent);
  const reserved = toNano(s.reserved);
  const forecast = toNano(s.forecast);
  const spentPct = pct(spent, amount);
  const spentWidth = Math.min(spentPct, 100);
  const reservedWidth = Math.min(pct(reserved, amount), 100 - spentWidth);
  const fp = pct(forecast, amount);
  const percent = Math.floor(spentPct);
  const warnAt = s.budget.thresholds.length ? Math.min(...s.budget.thresholds, 80) : 80;
  return {
    spentWidth,
    reservedWidth,
    forecastAt: fp > 0 && fp <= 100 ? fp : null,
    percent,
    level: spentPct >= 100 || s.blocked ? "over" : spentPct >= warnAt ? "warn" : "ok",
    forecastOver: amount > 0n && forecast > amount,
    nextThreshold: s.budget.thresholds.find((t) => t > spentPct) ?? null,
    hasReserved: reserved > 0n,
  };
}

/** What a budget covers, in words. */
export function scopeText(b: Budget, keyName: (id: string) => string, nodeName: (id: string) => string = (id) => id): string {
  switch (b.scope) {
    case "TENANT": return "whole tenant";
    case "KEY": return "key " + (b.keyId ? keyName(b.keyId) : "?");
    case "WORKSPACE": return "workspace " + nodeName(b.workspaceId ?? "?");
    case "TEAM": return "team " + nodeName(b.teamId ?? "?");
    case "PROJECT": return "project " + nodeName(b.projectId ?? "?");
    case "PROVIDER": return "provider " + b.provider;
    case "MODEL": return "model " + b.model + (b.provider ? ` at ${b.provider}` : "");
  }
  return `${b.dimensionName}=${b.dimensionValue}`;
}

/** The edit form of a saved budget. */
export function budgetForm(b: Budget): BudgetForm {
  return {
    name: b.name, scope: b.scope, keyId: b.keyId ?? "", dimensionName: b.dimensionName ?? "", dimensionValue: b.dimensionValue ?? "",
    nodeId: b.workspaceId ?? b.teamId ?? b.projectId ?? "", provider: b.provider ?? "", model: b.model ?? "", rollover: !!b.rollover,
    period: b.period, amount: b.amount, thresholds: b.thresholds.join(", "), hard: b.hard, webhookUrl: b.webhookUrl ?? "",
    alertEmails: (b.alertEmails ?? []).join(", "),
    reportedSpend: b.spendBasis === "MAX_METERED_REPORTED", breachWebhookUrl: b.breachWebhookUrl ?? "", breachWebhookSecret: "",
    breachWebhookSigned: !!b.breachWebhookSigned,
  };
}

// periodWord names how often a budget resets ("daily", not "dayly").
export function periodWord(period: string): string {
  switch (period.toUpperCase()) {
    case "DAY":
      return "daily";
    case "WEEK":
      return "weekly";
    case "MONTH":
      return "monthly";
    case "QUARTER":
      return "quarterly";
    case "YEAR":
      return "yearly";
    default:
      return period.toLowerCase();
  }
}

/** The forecast sentence: expected spend at period end, its band when it
 * has one, and the day the amount will be passed. */
export function forecastText(s: BudgetStatus, usd: (v: string) => string): string {
  let out = `forecast ${usd(s.forecast)}`;
  if (s.forecastLow != null && s.forecastHigh != null && s.forecastLow !== s.forecastHigh) {
    out += ` (${usd(s.forecastLow)}–${usd(s.forecastHigh)})`;
  }
  out += " by period end";
  if (s.willExceedOn) out += `; will exceed on ${s.willExceedOn.slice(0, 10)}`;
  return out;
}

/** The API's SpendFilter for what a budget counts (its scope), so its period's spend can be charted. */
export function budgetSpendFilter(b: Budget): Record<string, unknown> | null {
  switch (b.scope) {
    case "TENANT": return null;
    case "WORKSPACE": return b.workspaceId ? { workspaceIds: [b.workspaceId] } : null;
    case "TEAM": return b.teamId ? { teamIds: [b.teamId] } : null;
    case "PROJECT": return b.projectId ? { projectIds: [b.projectId] } : null;
    case "KEY": return b.keyId ? { keyIds: [b.keyId] } : null;
    case "PROVIDER": return b.provider ? { providers: [b.provider] } : null;
    case "MODEL": return { models: [b.model ?? ""], ...(b.provider ? { providers: [b.provider] } : {}) };
    case "DIMENSION": return b.dimensionName ? { dimensions: [{ name: b.dimensionName, values: [b.dimensionValue ?? ""] }] } : null;
  }
  return null;
}

/** Day buckets for periods of a week or more, hours for a daily budget. */
export function burnBucket(period: string): "HOUR" | "DAY" {
  return period === "DAY" ? "HOUR" : "DAY";
}

export interface Burn {
  /** Every bucket start of the period. */
  starts: Date[];
  /** Cumulative spend (nano-USD) at the end of each bucket up to now; null after. */
  spent: (bigint | null)[];
  /** From the last bucket with spend to period end: a straight line to the forecast; null before. */
  forecast: (bigint | null)[];
  /**
   * The forecast's confidence band, drawn as a shaded area from now to
   * period end: straight lines from the spend so far to the API's low and
   * high forecast. All null without a band (none given, or low = high).
   */
  low: (bigint | null)[];
  high: (bigint | null)[];
}

/**
 * The burn-down of a budget's period: spend so far, bucket by bucket,
 * cumulated, then the API's forecast as a straight line from now to the end
 * of the period, and its band (low..high) the same way. Exact BigInt sums.
 */
export function burnLine(periodStart: Date, periodEnd: Date, now: Date, bucketMs: number, points: { start: string; totals: { tenantCost: string } }[], forecast: string,
  band?: { low?: string | null; high?: string | null }): Burn {
  const starts: Date[] = [];
  for (let t = periodStart.getTime(); t < periodEnd.getTime() && starts.length < 400; t += bucketMs) starts.push(new Date(t));
  const per = starts.map(() => 0n);
  for (const p of points) {
    const i = Math.floor((Date.parse(p.start) - periodStart.getTime()) / bucketMs);
    if (i >= 0 && i < per.length) per[i] += toNano(p.totals.tenantCost);
  }
  const nowIdx = Math.min(Math.max(Math.floor((now.getTime() - periodStart.getTime()) / bucketMs), 0), starts.length - 1);
  let acc = 0n;
  const spent = starts.map((_, i) => (i <= nowIdx ? (acc += per[i]) : null));
  const rest = starts.length - 1 - nowIdx;
  const toEnd = (target: bigint) => starts.map((_, i) => (i < nowIdx ? null : rest <= 0 ? acc : acc + ((target - acc) * BigInt(i - nowIdx)) / BigInt(rest)));
  const none = starts.map(() => null);
  let low: (bigint | null)[] = none, high: (bigint | null)[] = none;
  if (band?.low != null && band.high != null && band.low !== band.high) {
    const a = toNano(band.low), b = toNano(band.high);
    // Spend never goes down: neither edge ends below what is spent already.
    const max = (x: bigint, y: bigint) => (x > y ? x : y);
    low = toEnd(max(a < b ? a : b, acc));
    high = toEnd(max(a < b ? b : a, acc));
  }
  return { starts, spent, forecast: toEnd(toNano(forecast)), low, high };
}
