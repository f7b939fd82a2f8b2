// The dashboard's data shaping, kept out of the components so it is unit
// tested: breakdown rows with "other", bar widths, series with empty buckets,
// CSV export links and dimension names.
import { fromNano, toNano } from "./money";
import { bucketStart, buckets, type Bucket } from "./range";

/** SpendTotals as the API sends them (Money as strings, Int64 as numbers). */
export interface Totals {
  requests: number;
  unpricedRequests: number;
  listCost: string;
  tenantCost: string;
  inputTokens: number;
  outputTokens: number;
}

export interface Breakdown {
  groupBy: string[];
  groups: { keys: string[]; labels: string[]; totals: Totals }[];
  other: Totals | null;
  total: Totals;
}

export interface Row {
  /** Stable identity (the group's keys, or "(other)"). */
  id: string;
  label: string;
  /** The raw group value when the label differs (key ids). */
  detail: string;
  cost: string;
  requests: number;
  unpriced: number;
  /** Bar width in percent of the largest row. */
  width: number;
  other: boolean;
}

/** Rows to show for a breakdown: the top groups by tenant cost, then "Other" when the API summed a rest. */
export function breakdownRows(b: Breakdown): Row[] {
  const rows: Row[] = b.groups.map((g) => {
    // An event without the grouped value (no dimension, no service tier) groups under "".
    const label = g.labels.every((l) => l === "") ? "(none)" : g.labels.join(" · ");
    const keys = g.keys.join(" · ");
    return {
      id: g.keys.join("\u0000"),
      label,
      detail: keys !== label && label !== "(none)" ? keys : "",
      cost: g.totals.tenantCost,
      requests: g.totals.requests,
      unpriced: g.totals.unpricedRequests,
      width: 0,
      other: false,
    };
  });
  // Other is the API's total minus the top groups; a total read a moment
  // before rows that were still arriving can leave it negative: not a group.
  if (b.other && b.other.requests > 0 && toNano(b.other.tenantCost) >= 0n) {
    rows.push({ id: "(other)", label: "Other", detail: "", cost: b.other.tenantCost, requests: b.other.requests, unpriced: b.other.unpricedRequests, width: 0, other: true });
  }
  const w = scale(rows.map((r) => r.cost));
  rows.forEach((r, i) => (r.width = w[i]));
  return rows;
}

/** Bar sizes in percent of the largest amount (0..100, two decimals); exact BigInt math, display only. */
export function scale(values: string[]): number[] {
  const n = values.map(toNano);
  const max = n.reduce((a, b) => (b > a ? b : a), 0n);
  if (max <= 0n) return n.map(() => 0);
  return n.map((v) => (v <= 0n ? 0 : Number((v * 10000n) / max) / 100));
}

export interface SeriesPoint {
  start: string;
  totals: { requests: number; tenantCost: string };
}

export interface Bar {
  start: Date;
  cost: string;
  requests: number;
  height: number;
}

/**
 * One bar per bucket of the range, zero where the API returned no point.
 * Points are matched to buckets by their bucket start, so a point the API
 * aligned differently still lands in the bucket that holds it.
 */
export function seriesBars(range: { from: Date; to: Date }, bucket: Bucket, points: SeriesPoint[]): Bar[] {
  const starts = buckets(range, bucket);
  const byStart = new Map<number, { cost: bigint; requests: number }>();
  for (const p of points) {
    const k = bucketStart(new Date(p.start), bucket).getTime();
    const cur = byStart.get(k) ?? { cost: 0n, requests: 0 };
    byStart.set(k, { cost: cur.cost + toNano(p.totals.tenantCost), requests: cur.requests + p.totals.requests });
  }
  const costs = starts.map((s) => byStart.get(s.getTime())?.cost ?? 0n);
  const max = costs.reduce((a, b) => (b > a ? b : a), 0n);
  return starts.map((s, i) => ({
    start: s,
    cost: fromNano(costs[i]),
    requests: byStart.get(s.getTime())?.requests ?? 0,
    height: max > 0n ? Number((costs[i] * 10000n) / max) / 100 : 0,
  }));
}

/** The export's name for a group-by (see apiserver/export.go). */
export function exportGroupBy(field: "PROVIDER" | "MODEL" | "KEY" | "DIMENSION", dimension?: string): string {
  if (field === "DIMENSION") {
    if (!dimension) throw new Error("a dimension breakdown needs the dimension's name");
    return "dim:" + dimension;
  }
  return field.toLowerCase();
}

/** The CSV export URL for a breakdown exactly as the dashboard shows it (same range, group-by and top N). */
export function exportUrl(tenantId: string, range: { from: Date; to: Date }, groupBy: string, top: number): string {
  const q = new URLSearchParams({ tenantId, from: rfc3339(range.from), to: rfc3339(range.to), groupBy, top: String(top) });
  return "/export/spend.csv?" + q.toString();
}

/** The CSV export URL for the spend-over-time series (one row per bucket). */
export function seriesExportUrl(tenantId: string, range: { from: Date; to: Date }, bucket: Bucket): string {
  const q = new URLSearchParams({ tenantId, from: rfc3339(range.from), to: rfc3339(range.to), bucket: bucket.toLowerCase() });
  return "/export/spend.csv?" + q.toString();
}

/** A file name that says what the CSV holds: spend-by-provider-2026-03-08-to-2026-03-15.csv. */
export function exportFileName(groupBy: string, range: { from: Date; to: Date }): string {
  const safe = groupBy.replace(/^dim:/, "").replace(/[^A-Za-z0-9_.-]+/g, "_");
  return `spend-by-${safe}-${range.from.toISOString().slice(0, 10)}-to-${range.to.toISOString().slice(0, 10)}.csv`;
}

/** RFC 3339 in UTC, whole seconds (the API's Time scalar and the export accept it). */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export interface DimensionSources {
  apiKeys: { edges: { node: { policy: { requiredDimensions: string[]; defaultDimensions: { name: string }[] } } }[] };
  budgets: { edges: { node: { dimensionName: string | null } }[] };
  usageEvents: { edges: { node: { dimensions: { name: string }[] } }[] };
}

/** Dimension names the tenant uses, most used in recent events first, then the rest alphabetically. */
export function dimensionNames(d: DimensionSources): string[] {
  const seen = new Map<string, number>();
  const add = (n: string | null | undefined, weight: number) => {
    const name = (n ?? "").trim();
    if (name) seen.set(name, (seen.get(name) ?? 0) + weight);
  };
  for (const e of d.usageEvents.edges) for (const dim of e.node.dimensions) add(dim.name, 1);
  for (const k of d.apiKeys.edges) {
    for (const n of k.node.policy.requiredDimensions) add(n, 0);
    for (const dd of k.node.policy.defaultDimensions) add(dd.name, 0);
  }
  for (const b of d.budgets.edges) add(b.node.dimensionName, 0);
  return [...seen.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([n]) => n);
}

/** A count with thousands separators (counts are Int64 JSON numbers). */
export function formatCount(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
