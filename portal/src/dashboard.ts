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
  usageEvents: { edges: { node: { dimensions: { name: string; value?: string }[] } }[] };
}

/**
 * Dimension names the tenant uses. First the ones that split recent events
 * into the most distinct values (a dimension with one value, like env=prod,
 * says little as a breakdown), then by how many events carry them, then the
 * names only key policies and budgets know, alphabetically.
 */
export function dimensionNames(d: DimensionSources): string[] {
  const seen = new Map<string, { events: number; values: Set<string> }>();
  const add = (n: string | null | undefined, value?: string) => {
    const name = (n ?? "").trim();
    if (!name) return;
    let s = seen.get(name);
    if (!s) seen.set(name, (s = { events: 0, values: new Set() }));
    if (value !== undefined) {
      s.events++;
      s.values.add(value);
    }
  };
  for (const e of d.usageEvents.edges) for (const dim of e.node.dimensions) add(dim.name, dim.value ?? "");
  for (const k of d.apiKeys.edges) {
    for (const n of k.node.policy.requiredDimensions) add(n);
    for (const dd of k.node.policy.defaultDimensions) add(dd.name);
  }
  for (const b of d.budgets.edges) add(b.node.dimensionName);
  return [...seen.entries()]
    .sort((a, b) => b[1].values.size - a[1].values.size || b[1].events - a[1].events || a[0].localeCompare(b[0]))
    .map(([n]) => n);
}

/** A count with thousands separators (counts are Int64 JSON numbers). */
export function formatCount(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** A SpendPoint of a grouped series (spendTimeSeries with groupBy). */
export interface GroupedPoint extends SeriesPoint {
  keys?: string[];
  labels?: string[];
}

/** One stacked layer of the spend chart: a group's nano-USD per bucket. */
export interface Layer {
  id: string;
  label: string;
  /** Nano-USD per bucket, aligned with Stack.starts. */
  nano: bigint[];
  total: bigint;
  other: boolean;
}

export interface Stack {
  starts: Date[];
  layers: Layer[];
  /** Exact total per bucket over every layer. */
  totals: bigint[];
  requests: number[];
}

/**
 * The spend chart's layers: one per group, the largest `top` groups by total
 * and the rest summed as "Other", every bucket of the range present (zero
 * where the API sent no point). Exact BigInt sums; drawing converts later.
 */
export function stackLayers(range: { from: Date; to: Date }, bucket: Bucket, points: GroupedPoint[], top = 8): Stack {
  const starts = buckets(range, bucket);
  const index = new Map(starts.map((s, i) => [s.getTime(), i]));
  const groups = new Map<string, { label: string; nano: bigint[] }>();
  const requests = starts.map(() => 0);
  for (const p of points) {
    const i = index.get(bucketStart(new Date(p.start), bucket).getTime());
    if (i === undefined) continue;
    const id = (p.keys ?? []).join("\u0000");
    const label = (p.labels ?? []).every((l) => l === "") ? (p.keys?.length ? "(none)" : "Spend") : (p.labels ?? []).join(" · ");
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { label, nano: starts.map(() => 0n) }));
    g.nano[i] += toNano(p.totals.tenantCost);
    requests[i] += p.totals.requests;
  }
  const all = [...groups.entries()].map(([id, g]) => ({ id, label: g.label, nano: g.nano, total: g.nano.reduce((a, b) => a + b, 0n), other: false }));
  all.sort((a, b) => (b.total > a.total ? 1 : b.total < a.total ? -1 : a.label.localeCompare(b.label)));
  const layers: Layer[] = all.slice(0, top);
  const rest = all.slice(top);
  if (rest.length > 0) {
    const nano = starts.map((_, i) => rest.reduce((a, l) => a + l.nano[i], 0n));
    layers.push({ id: "(other)", label: `Other (${rest.length})`, nano, total: nano.reduce((a, b) => a + b, 0n), other: true });
  }
  const totals = starts.map((_, i) => layers.reduce((a, l) => a + l.nano[i], 0n));
  return { starts, layers, totals, requests };
}

/** The period just before a range, as long as it: what "compared with the previous period" compares with. */
export function previousRange(range: { from: Date; to: Date }): { from: Date; to: Date } {
  const span = range.to.getTime() - range.from.getTime();
  return { from: new Date(range.from.getTime() - span), to: range.from };
}

/**
 * The previous period's spend laid over the current buckets: its i-th bucket
 * under the current i-th bucket (same offset into the period).
 */
export function previousLine(range: { from: Date; to: Date }, bucket: Bucket, points: SeriesPoint[]): bigint[] {
  const prev = previousRange(range);
  const cur = buckets(range, bucket);
  const starts = buckets(prev, bucket);
  const index = new Map(starts.map((s, i) => [s.getTime(), i]));
  const out = cur.map(() => 0n);
  for (const p of points) {
    const i = index.get(bucketStart(new Date(p.start), bucket).getTime());
    if (i !== undefined && i < out.length) out[i] += toNano(p.totals.tenantCost);
  }
  return out;
}

/** Change from before to now in whole percent, or null when there was nothing before. */
export function changePercent(now: bigint, before: bigint): number | null {
  if (before <= 0n) return null;
  const d = ((now - before) * 1000n) / before; // tenths of a percent, truncated
  return Math.round(Number(d) / 10);
}
