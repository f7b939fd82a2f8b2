// Pricing overrides (form ⇄ input) and cost explanations, kept apart from the
// components so they are unit tested.
import { fromNano, moneyError, toNano } from "./money";

/** Usage classes a rate can price (schema.graphqls RateInput.class). */
export const USAGE_CLASSES = [
  "input", "cached_input", "cache_write_5m", "cache_write_1h", "output", "reasoning", "audio_input", "audio_output",
  "image_input", "image_output", "web_searches", "characters", "seconds", "images",
] as const;

export interface Rate { class: string; perMillion: string }

/**
 * Classes counted in units, not tokens (schema UnitRate): a search, a
 * character, a second, an image. The API stores every rate per million
 * units; people read and enter these per unit.
 */
export const PER_UNIT_CLASSES: Record<string, { one: string; many: string }> = {
  web_searches: { one: "search", many: "searches" },
  characters: { one: "character", many: "characters" },
  seconds: { one: "second", many: "seconds" },
  images: { one: "image", many: "images" },
};

/** The unit a class's rate is entered in: "USD per million tokens", "USD per search". */
export function rateUnit(cls: string): string {
  const u = PER_UNIT_CLASSES[cls];
  return u ? `USD per ${u.one}` : "USD per million tokens";
}

/** An exact decimal string times 10^places (negative: divided), without floating point. */
export function shiftDecimal(s: string, places: number): string {
  const m = /^(-)?(\d+)(?:\.(\d+))?$/.exec(s.trim());
  if (!m) return s;
  let digits = m[2] + (m[3] ?? "");
  let point = m[2].length + places;
  if (point < 0) { digits = "0".repeat(-point) + digits; point = 0; }
  if (point > digits.length) digits = digits.padEnd(point, "0");
  const whole = digits.slice(0, point).replace(/^0+(?=\d)/, "") || "0";
  const frac = digits.slice(point).replace(/0+$/, "");
  return (m[1] ? "-" : "") + whole + (frac ? "." + frac : "");
}

/**
 * A rate as people read it: "$2.50 / 1M tokens" for tokens; per-unit
 * classes per unit ("$0.0275 / search"), or per 1k when a unit costs under a
 * cent ("$0.015 / 1k characters"), never "per million" searches.
 */
export function rateText(cls: string, perMillion: string): string {
  const u = PER_UNIT_CLASSES[cls];
  if (!u) return `${formatExactUSD(perMillion)} / 1M tokens`;
  const perUnit = shiftDecimal(perMillion, -6);
  const underCent = toNano(perUnit.replace(/(\.\d{9})\d+$/, "$1")) < 10_000_000n;
  return underCent ? `${formatExactUSD(shiftDecimal(perMillion, -3))} / 1k ${u.many}` : `${formatExactUSD(perUnit)} / ${u.one}`;
}

/** A rate row of the override form: usd in the class's own unit (see rateUnit). */
export interface FormRate { class: string; usd: string }

/**
 * The class a new rate row starts with: output right after input (an
 * override with an input rate and no output rate is the common mistake),
 * then the remaining classes in catalogue order.
 */
export function nextRateClass(rates: { class: string }[]): string {
  const order = ["input", "output", ...USAGE_CLASSES.filter((c) => c !== "input" && c !== "output")];
  return order.find((c) => !rates.some((r) => r.class === c)) ?? "input";
}

export interface Override {
  id: string;
  provider: string;
  model: string;
  effectiveFrom: string;
  effectiveTo: string | null;
  rates: Rate[];
  percentAdjustment: string;
  note: string;
}

export interface OverrideForm {
  provider: string;
  model: string;
  from: string; // YYYY-MM-DD
  to: string; // YYYY-MM-DD or ""
  rates: FormRate[];
  pct: string;
  note: string;
}

export function emptyOverrideForm(today: Date): OverrideForm {
  return { provider: "", model: "", from: today.toISOString().slice(0, 10), to: "", rates: [{ class: "input", usd: "" }, { class: "output", usd: "" }], pct: "", note: "" };
}

export function overrideForm(o: Override): OverrideForm {
  return {
    provider: o.provider, model: o.model, from: o.effectiveFrom.slice(0, 10), to: o.effectiveTo ? o.effectiveTo.slice(0, 10) : "",
    rates: o.rates.length ? o.rates.map((r) => ({ class: r.class, usd: PER_UNIT_CLASSES[r.class] ? shiftDecimal(r.perMillion, -6) : r.perMillion }))
      : [{ class: "input", usd: "" }, { class: "output", usd: "" }],
    pct: o.percentAdjustment === "0" ? "" : o.percentAdjustment, note: o.note,
  };
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Field → message for every invalid field; empty when the form is valid. */
export function overrideErrors(f: OverrideForm): Record<string, string> {
  const e: Record<string, string> = {};
  if (!f.model.trim()) e.model = "Enter a model id or a glob such as gpt-4o*.";
  if (!DAY.test(f.from) || isNaN(Date.parse(f.from))) e.from = "Pick the day the override starts.";
  if (f.to) {
    if (!DAY.test(f.to) || isNaN(Date.parse(f.to))) e.to = "Pick a valid end day or leave it empty.";
    else if (!e.from && f.to <= f.from) e.to = "The end must be after the start.";
  }
  const rates = f.rates.filter((r) => r.usd.trim() !== "");
  const classes = new Set<string>();
  rates.forEach((r) => {
    const m = moneyError(r.usd);
    if (m) e.rates = `${r.class}: ${m}`;
    if (classes.has(r.class)) e.rates = `${r.class} is priced twice.`;
    classes.add(r.class);
  });
  if (f.pct.trim() && !/^-?\d+(\.\d+)?$/.test(f.pct.trim())) e.pct = "Use a number like -15 (a discount) or 10.5 (a markup).";
  else if (f.pct.trim() && Number(f.pct) <= -100) e.pct = "A discount must be less than 100 %.";
  if (!rates.length && !f.pct.trim() && !e.rates) e.rates = "Give at least one rate or a percent adjustment.";
  return e;
}

/** The PricingOverrideInput of a valid form; dates are UTC midnights. */
export function overrideInput(f: OverrideForm) {
  return {
    provider: f.provider.trim(),
    model: f.model.trim(),
    effectiveFrom: f.from + "T00:00:00Z",
    effectiveTo: f.to ? f.to + "T00:00:00Z" : null,
    rates: f.rates.filter((r) => r.usd.trim() !== "").map((r) => ({ class: r.class, perMillion: PER_UNIT_CLASSES[r.class] ? shiftDecimal(r.usd, 6) : r.usd.trim() })),
    percentAdjustment: f.pct.trim() || "0",
    note: f.note.trim(),
  };
}

export interface CostLine { class: string; quantity: number; listRatePerMillion: string; tenantRatePerMillion: string; amount: string }

export interface UsageEvent {
  id: string;
  time: string;
  keyId: string;
  keyName: string;
  source: string;
  provider: string;
  operation: string;
  modelRequested: string;
  modelServed: string;
  catalogueModel: string;
  status: number;
  streaming: boolean;
  complete: boolean;
  latencyMs: number;
  requestId: string;
  serviceTier: string;
  dimensions: { name: string; value: string }[];
  tokens: Record<string, number>;
  priced: boolean;
  listCost: string | null;
  tenantCost: string | null;
  providerReportedCost: string | null;
  overrideIds: string;
  pricingTier: string;
  costLines: CostLine[];
}

export interface Explanation {
  lines: (CostLine & { overridden: boolean })[];
  /** Sum of the lines' list amounts. */
  linesTotal: string;
  /** Whether the lines add up to the event's list cost (they do unless the provider reported the cost). */
  linesMatchList: boolean;
  /** Tenant cost minus list cost (negative: a discount). */
  adjustment: string | null;
  overrides: string[];
}

/** Why an event cost what it cost: quantity × rate per line, the list total and the tenant's adjustment. */
export function explain(e: UsageEvent): Explanation {
  const total = e.costLines.reduce((a, l) => a + toNano(l.amount), 0n);
  return {
    lines: e.costLines.map((l) => ({ ...l, overridden: toNano(l.listRatePerMillion) !== toNano(l.tenantRatePerMillion) })),
    linesTotal: fromNano(total),
    linesMatchList: e.listCost != null && toNano(e.listCost) === total,
    adjustment: e.listCost != null && e.tenantCost != null ? fromNano(toNano(e.tenantCost) - toNano(e.listCost)) : null,
    overrides: e.overrideIds.split(",").map((s) => s.trim()).filter(Boolean),
  };
}

/** The model to show: the one served, else the one asked for. */
export function eventModel(e: Pick<UsageEvent, "modelServed" | "modelRequested">): string {
  return e.modelServed || e.modelRequested || "(unknown)";
}

/** A catalogue price in its own unit (schema UnitRate). */
export interface UnitRate { class: string; variant: string; unit: string; perMillion: boolean; usd: string }

export interface CatalogueModel {
  provider: string; model: string; aliases: string[]; rates: Rate[]; effectiveFrom: string; source: string; checked: string;
  sourceKind: string; reason: string; notes: string; maxOutputTokens: number | null; unitRates: UnitRate[];
  longContextAboveInputTokens: number | null;
}

/** Providers the catalogue prices (pricing.Providers): the routed ones, then the record-only vendors. */
export const CATALOGUE_PROVIDERS = [
  "openai", "anthropic", "gemini", "openrouter", "xai", "groq", "deepinfra", "novita", "fireworks", "perplexity", "cerebras",
  "mistral", "deepseek", "nebius", "azure_openai", "bedrock", "vertex_ai", "google_tts", "google_stt", "elevenlabs", "deepgram",
] as const;

/**
 * "$2.50 / 1M tokens" for token classes, "$0.000015 / character" for per-unit
 * classes: a text-to-speech character or an image is priced per unit, never
 * per million. The amount is exact (it may have more than 9 decimals).
 */
export function unitPrice(r: Pick<UnitRate, "usd" | "unit" | "perMillion">): string {
  return `${formatExactUSD(r.usd)} / ${r.perMillion ? "1M " + r.unit + "s" : r.unit}`;
}

/** "$1,234.5" → "$1,234.50"; keeps every significant decimal (per-unit rates can be below a nano-dollar). */
export function formatExactUSD(s: string): string {
  const m = /^(-)?(\d+)(?:\.(\d+))?$/.exec(s.trim());
  if (!m) return s;
  let frac = (m[3] ?? "").replace(/0+$/, "");
  if (frac.length < 2) frac = frac.padEnd(2, "0");
  return (m[1] ? "-$" : "$") + m[2].replace(/\B(?=(\d{3})+(?!\d))/g, ",") + "." + frac;
}

/** The model's rates grouped by price variant, standard first. */
export function ratesByVariant(m: Pick<CatalogueModel, "unitRates">): { variant: string; rates: UnitRate[] }[] {
  const order: string[] = [];
  const by = new Map<string, UnitRate[]>();
  for (const r of m.unitRates) {
    if (!by.has(r.variant)) { by.set(r.variant, []); order.push(r.variant); }
    by.get(r.variant)!.push(r);
  }
  return order.map((variant) => ({ variant, rates: by.get(variant)! }));
}

export interface FieldChange { field: string; unit: string; old: string; new: string }
export interface ModelChange { provider: string; model: string; effectiveFrom: string; changes: FieldChange[] }
export interface PricingRevision {
  id: string; status: "PROPOSED" | "APPLIED" | "REJECTED"; baseId: string | null; effectiveFrom: string; source: string; summary: string;
  createdAt: string; createdBy: string; decidedAt: string | null; decidedBy: string;
  added: ModelChange[]; changed: ModelChange[]; removed: ModelChange[];
}

/** One change as a reviewer reads it: "input: $2.50 → $3.00 / 1M tokens", "characters: — → $0.000015 / character". */
export function describeChange(c: FieldChange): string {
  const money = c.unit !== "";
  const v = (s: string) => (s === "" ? "—" : money ? formatExactUSD(s) : s);
  const unit = c.unit ? ` / ${c.unit}` : "";
  return `${c.field}: ${v(c.old)} → ${v(c.new)}${unit}`;
}

/** Count of model changes in a revision, by kind. */
export function revisionCounts(r: Pick<PricingRevision, "added" | "changed" | "removed">) {
  return { added: r.added.length, changed: r.changed.length, removed: r.removed.length };
}
