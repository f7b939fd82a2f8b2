// Time ranges and buckets for the dashboard pickers, all in UTC, aligned the
// way the API buckets spend (spendTimeSeries): hours, days, weeks starting on
// Monday, calendar months.

export type RangeKey = "24h" | "7d" | "30d" | "mtd" | "90d" | "custom";
export type Bucket = "HOUR" | "DAY" | "WEEK" | "MONTH";

export interface TimeRange {
  from: Date;
  to: Date;
  /** The bucket the range suggests for a time series. */
  bucket: Bucket;
}

const HOUR = 3600_000;
const DAY = 24 * HOUR;

export const RANGE_LABELS: Record<RangeKey, string> = {
  "24h": "Last 24 hours",
  "7d": "Last 7 days",
  "30d": "Last 30 days",
  mtd: "Month to date",
  "90d": "Last 90 days",
  custom: "Custom",
};

export const BUCKET_LABELS: Record<Bucket, string> = { HOUR: "Hourly", DAY: "Daily", WEEK: "Weekly", MONTH: "Monthly" };

/** The API refuses series with more buckets than this (analytics.DefaultLimits). */
export const MAX_BUCKETS = 2500;
/** The API refuses ranges longer than this many days. */
export const MAX_RANGE_DAYS = 400;

/**
 * Resolves a picker choice against now. Presets end at the start of the next
 * hour, so every range falls on whole hours: the API then answers from its
 * hourly rollups instead of reading every event (and the range includes now).
 * Custom dates are YYYY-MM-DD, to inclusive, whole days.
 */
export function resolveRange(key: RangeKey, now: Date, customFrom?: string, customTo?: string): TimeRange {
  const end = new Date(Math.floor(now.getTime() / HOUR) * HOUR + HOUR);
  switch (key) {
    case "24h":
      return { from: new Date(end.getTime() - DAY), to: end, bucket: "HOUR" };
    case "7d":
      return { from: new Date(end.getTime() - 7 * DAY), to: end, bucket: "DAY" };
    case "30d":
      return { from: new Date(end.getTime() - 30 * DAY), to: end, bucket: "DAY" };
    case "90d":
      return { from: new Date(end.getTime() - 90 * DAY), to: end, bucket: "DAY" };
    case "mtd":
      return { from: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)), to: end, bucket: "DAY" };
    case "custom": {
      const from = parseDay(customFrom ?? "");
      const toDay = parseDay(customTo ?? "");
      if (!from || !toDay) throw new Error("Pick both a start and an end date.");
      const to = new Date(toDay.getTime() + DAY);
      if (to <= from) throw new Error("The end date must not be before the start date.");
      const days = (to.getTime() - from.getTime()) / DAY;
      if (days > MAX_RANGE_DAYS) throw new Error(`The range is ${days} days long; at most ${MAX_RANGE_DAYS} days are allowed.`);
      return { from, to, bucket: suggestedBucket(days) };
    }
  }
}

/**
 * The bucket a range of so many days is drawn in: hours up to 2 days, days
 * up to 90 (a quarter stays readable day by day), weeks beyond. One rule for
 * presets and custom ranges, so a longer range never keeps thin hourly bars.
 */
export function suggestedBucket(days: number): Bucket {
  return days <= 2 ? "HOUR" : days <= 91 ? "DAY" : "WEEK";
}

function parseDay(s: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return null;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return d.getUTCDate() === +m[3] ? d : null;
}

/** The start of the bucket that holds t. */
export function bucketStart(t: Date, bucket: Bucket): Date {
  const ms = t.getTime();
  switch (bucket) {
    case "HOUR":
      return new Date(Math.floor(ms / HOUR) * HOUR);
    case "DAY":
      return new Date(Math.floor(ms / DAY) * DAY);
    case "WEEK": {
      const day = new Date(Math.floor(ms / DAY) * DAY);
      const sinceMonday = (day.getUTCDay() + 6) % 7;
      return new Date(day.getTime() - sinceMonday * DAY);
    }
    case "MONTH":
      return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), 1));
  }
}

function nextBucket(t: Date, bucket: Bucket): Date {
  switch (bucket) {
    case "HOUR":
      return new Date(t.getTime() + HOUR);
    case "DAY":
      return new Date(t.getTime() + DAY);
    case "WEEK":
      return new Date(t.getTime() + 7 * DAY);
    case "MONTH":
      return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, 1));
  }
}

/** The bucket starts covering [from, to), so charts show empty buckets as zero. */
export function buckets(r: { from: Date; to: Date }, bucket: Bucket): Date[] {
  const out: Date[] = [];
  for (let t = bucketStart(r.from, bucket); t < r.to && out.length <= MAX_BUCKETS; t = nextBucket(t, bucket)) out.push(t);
  return out;
}

/** The buckets a range can be shown in: at most MAX_BUCKETS and at least two bars where possible. */
export function allowedBuckets(r: { from: Date; to: Date }): Bucket[] {
  const span = r.to.getTime() - r.from.getTime();
  const size: Record<Bucket, number> = { HOUR: HOUR, DAY: DAY, WEEK: 7 * DAY, MONTH: 28 * DAY };
  const ok = (["HOUR", "DAY", "WEEK", "MONTH"] as Bucket[]).filter((b) => span / size[b] <= MAX_BUCKETS && (b === "HOUR" || span > size[b]));
  return ok.length ? ok : ["DAY"];
}

/** The label of a bucket start: hours with time, days and weeks as dates, months as YYYY-MM. */
export function bucketLabel(t: Date, bucket: Bucket): string {
  const iso = t.toISOString();
  switch (bucket) {
    case "HOUR":
      return iso.slice(0, 10) + " " + iso.slice(11, 16);
    case "DAY":
      return iso.slice(0, 10);
    case "WEEK":
      return "week of " + iso.slice(0, 10);
    case "MONTH":
      return iso.slice(0, 7);
  }
}

/** The short label of a bucket start on a chart's axis: "03-04 14:00" for hours, "03-04" for days and weeks, "2026-03" for months. */
export function bucketTick(t: Date, bucket: Bucket): string {
  const iso = t.toISOString();
  switch (bucket) {
    case "HOUR":
      return iso.slice(5, 10) + " " + iso.slice(11, 16);
    case "DAY":
    case "WEEK":
      return iso.slice(5, 10);
    case "MONTH":
      return iso.slice(0, 7);
  }
}
