// Pure helpers of the Reconciliation screen: the per-day drift chart's
// geometry. Money stays exact (BigInt nano-USD); only pixel positions are
// numbers.

import { toNano } from "./money";

export interface DriftDay { provider: string; day: string | null; drift: string; reportedCost: string; meteredCost: string }

export interface Bar { key: string; label: string; x: number; y: number; width: number; height: number; negative: boolean; title: string }

/**
 * Bars of the daily drift (summed over providers) on a chart of width × height
 * with a zero line in the middle: bars above it are days the providers
 * charged more than spendgate metered, below it less.
 */
export function driftBars(days: DriftDay[], width: number, height: number): { bars: Bar[]; zeroY: number; maxAbs: bigint } {
  const byDay = new Map<string, bigint>();
  for (const d of days) {
    if (!d.day) continue;
    const k = d.day.slice(0, 10);
    byDay.set(k, (byDay.get(k) ?? 0n) + toNano(d.drift));
  }
  const keys = [...byDay.keys()].sort();
  let maxAbs = 0n;
  for (const v of byDay.values()) {
    const a = v < 0n ? -v : v;
    if (a > maxAbs) maxAbs = a;
  }
  const zeroY = height / 2;
  const slot = keys.length > 0 ? width / keys.length : width;
  const bars = keys.map((k, i) => {
    const v = byDay.get(k)!;
    const a = v < 0n ? -v : v;
    // Scale in thousandths of the half height: exact enough for pixels.
    const h = maxAbs === 0n ? 0 : (Number((a * 1000n) / maxAbs) / 1000) * (height / 2 - 2);
    return {
      key: k, label: k.slice(5), x: i * slot + slot * 0.15, width: slot * 0.7,
      y: v < 0n ? zeroY : zeroY - h, height: h, negative: v < 0n,
      title: `${k}: drift ${v < 0n ? "-" : ""}$${fmt(a)}`,
    };
  });
  return { bars, zeroY, maxAbs };
}

function fmt(nano: bigint): string {
  const whole = nano / 1_000_000_000n;
  const frac = (nano % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "").padEnd(2, "0");
  return `${whole}.${frac}`;
}

/** Validates a drift threshold percentage; returns an error message or "". */
export function thresholdError(s: string): string {
  const t = s.trim();
  if (!/^\d+(\.\d{1,2})?$/.test(t)) return "Use a percentage like 2 or 0.5 (at most two decimals).";
  const bp = Math.round(parseFloat(t) * 100);
  if (bp < 1 || bp > 100_000) return "Between 0.01 and 1000.";
  return "";
}
