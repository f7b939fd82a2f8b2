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

/**
 * Money for headlines, charts and rows: rounded half away from zero to whole
 * cents ("$3.45" for 3.448634415). An amount under half a cent keeps two
 * significant digits ("$0.00042") so test traffic never reads "$0.00"; zero is
 * "$0.00". The exact amount belongs in a title (see <Money> in ui.tsx) and in
 * exports, which always carry the API's exact figure.
 */
export function formatCents(s: string | null | undefined): string {
  if (s == null || s === "") return "—";
  const n = toNano(s);
  const neg = n < 0n;
  const a = neg ? -n : n;
  const sign = neg ? "-$" : "$";
  if (a === 0n) return "$0.00";
  if (a < 5_000_000n) {
    // Two significant digits of an amount below half a cent, rounded half up.
    const digits = a.toString().length; // a < 5e6 nano: at most 7 digits
    const drop = BigInt(10) ** BigInt(Math.max(digits - 2, 0));
    const kept = ((a + drop / 2n) / drop) * drop;
    return sign + "0." + kept.toString().padStart(NANO, "0").replace(/0+$/, "");
  }
  const cents = (a + 5_000_000n) / 10_000_000n;
  return sign + groupThousands((cents / 100n).toString()) + "." + (cents % 100n).toString().padStart(2, "0");
}

/** The exact amount as a title says it: "$3.448634415 exactly". */
export function exactTitle(s: string | null | undefined): string | undefined {
  if (s == null || s === "") return undefined;
  return formatUSD(s) + " exactly";
}

/** Money as a float for drawing only (chart heights); never for sums or display. */
export function plotUSD(nano: bigint): number {
  return Number(nano) / 1e9;
}
