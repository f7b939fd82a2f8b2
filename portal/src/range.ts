// Time ranges for the dashboard pickers, all in UTC.

export type RangeKey = "24h" | "7d" | "30d" | "mtd" | "custom";

export interface TimeRange {
  from: Date;
  to: Date;
  /** Bucket size for time series: "HOUR" or "DAY". */
  bucket: "HOUR" | "DAY";
}

const HOUR = 3600_000;
const DAY = 24 * HOUR;

export const RANGE_LABELS: Record<RangeKey, string> = {
  "24h": "Last 24 hours",
  "7d": "Last 7 days",
  "30d": "Last 30 days",
  mtd: "Month to date",
  custom: "Custom",
};

/** Resolves a picker choice against now. Custom dates are YYYY-MM-DD, to inclusive. */
export function resolveRange(key: RangeKey, now: Date, customFrom?: string, customTo?: string): TimeRange {
  switch (key) {
    case "24h":
      return { from: new Date(now.getTime() - DAY), to: now, bucket: "HOUR" };
    case "7d":
      return { from: new Date(now.getTime() - 7 * DAY), to: now, bucket: "DAY" };
    case "30d":
      return { from: new Date(now.getTime() - 30 * DAY), to: now, bucket: "DAY" };
    case "mtd":
      return { from: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)), to: now, bucket: "DAY" };
    case "custom": {
      const from = parseDay(customFrom ?? "");
      const toDay = parseDay(customTo ?? "");
      if (!from || !toDay) throw new Error("Pick both a start and an end date.");
      const to = new Date(toDay.getTime() + DAY);
      if (to <= from) throw new Error("The end date must not be before the start date.");
      return { from, to, bucket: to.getTime() - from.getTime() <= 2 * DAY ? "HOUR" : "DAY" };
    }
  }
}

function parseDay(s: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return null;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return d.getUTCDate() === +m[3] ? d : null;
}

/** The bucket starts covering [from, to), so charts show empty buckets as zero. */
export function buckets(r: TimeRange): Date[] {
  const step = r.bucket === "HOUR" ? HOUR : DAY;
  const start = Math.floor(r.from.getTime() / step) * step;
  const out: Date[] = [];
  for (let t = start; t < r.to.getTime(); t += step) out.push(new Date(t));
  return out;
}
