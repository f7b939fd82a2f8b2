// Money arrives as exact decimal strings (GraphQL scalar Money). These helpers
// never go through floating point: amounts are parsed into BigInt nano-USD.

const NANO = 9;
const DECIMAL = /^(-)?(\d+)(?:\.(\d{1,9}))?$/;

/** Parses a Money string into integer nano-USD; throws on anything else. */
export function toNano(s: string): bigint {
  const m = DECIMAL.exec(s.trim());
  if (!m) throw new Error(`not a money amount: ${JSON.stringify(s)}`);
  const frac = (m[3] ?? "").padEnd(NANO, "0");
  const v = BigInt(m[2]) * 1_000_000_000n + BigInt(frac);
  return m[1] ? -v : v;
}

/** Renders nano-USD as a canonical Money string (no trailing zeros). */
export function fromNano(n: bigint): string {
  const neg = n < 0n;
  const a = neg ? -n : n;
  const whole = a / 1_000_000_000n;
  const frac = (a % 1_000_000_000n).toString().padStart(NANO, "0").replace(/0+$/, "");
  return (neg ? "-" : "") + whole.toString() + (frac ? "." + frac : "");
}

/** Exact sum of Money strings. */
export function sum(values: string[]): string {
  return fromNano(values.reduce((acc, v) => acc + toNano(v), 0n));
}

function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * Formats Money for display: "$1,234.50". At least 2 fractional digits; small
 * amounts keep their significant digits (up to 9) so "$0.000012" is not "$0.00".
 */
export function formatUSD(s: string | null | undefined): string {
  if (s == null || s === "") return "—";
  const n = toNano(s);
  const neg = n < 0n;
  const a = neg ? -n : n;
  const whole = groupThousands((a / 1_000_000_000n).toString());
  let frac = (a % 1_000_000_000n).toString().padStart(NANO, "0").replace(/0+$/, "");
  if (frac.length < 2) frac = frac.padEnd(2, "0");
  return (neg ? "-$" : "$") + whole + "." + frac;
}

/** Percent of part in whole, floored, as an integer 0..∞ (exact, BigInt). */
export function percentOf(part: string, whole: string): number {
  const w = toNano(whole);
  if (w <= 0n) return 0;
  return Number((toNano(part) * 100n) / w);
}

/** Validates user input for a Money field; returns an error message or "". */
export function moneyError(s: string): string {
  if (s.trim() === "") return "Enter an amount in USD.";
  if (!DECIMAL.test(s.trim())) return "Use a plain decimal like 100 or 12.50 (at most 9 decimals).";
  if (s.trim().startsWith("-")) return "The amount must not be negative.";
  return "";
}
