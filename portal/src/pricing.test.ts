import { describe, expect, it } from "vitest";
import { describeChange, formatExactUSD, ratesByVariant, unitPrice } from "./pricing";
import { emptyOverrideForm, eventModel, explain, nextRateClass, overrideErrors, overrideForm, overrideInput, rateText, rateUnit, shiftDecimal, type OverrideForm, type UsageEvent } from "./pricing";

const base: OverrideForm = { provider: "openai", model: "gpt-4o-mini", from: "2026-03-01", to: "", rates: [{ class: "input", usd: "0.1" }], pct: "", note: "contract" };

describe("override form", () => {
  it.each<[string, Partial<OverrideForm>, string[]]>([
    ["valid", {}, []],
    ["percent only", { rates: [{ class: "input", usd: "" }], pct: "-15" }, []],
    ["no model", { model: " " }, ["model"]],
    ["nothing to change", { rates: [{ class: "input", usd: "" }] }, ["rates"]],
    ["bad rate", { rates: [{ class: "output", usd: "1,5" }] }, ["rates"]],
    ["class twice", { rates: [{ class: "input", usd: "1" }, { class: "input", usd: "2" }] }, ["rates"]],
    ["bad percent", { pct: "ten" }, ["pct"]],
    ["discount of everything", { pct: "-100" }, ["pct"]],
    ["end before start", { to: "2026-02-01" }, ["to"]],
    ["no start", { from: "" }, ["from"]],
  ])("%s", (_n, patch, fields) => {
    expect(Object.keys(overrideErrors({ ...base, ...patch })).sort()).toEqual(fields.sort());
  });
  it("builds the input with UTC days and without empty rates", () => {
    expect(overrideInput({ ...base, to: "2026-04-01", rates: [...base.rates, { class: "output", usd: " " }], pct: " -15 " })).toEqual({
      provider: "openai", model: "gpt-4o-mini", effectiveFrom: "2026-03-01T00:00:00Z", effectiveTo: "2026-04-01T00:00:00Z",
      rates: [{ class: "input", perMillion: "0.1" }], percentAdjustment: "-15", note: "contract",
    });
    expect(overrideInput({ ...base, pct: "" }).percentAdjustment).toBe("0");
  });
  it("edits a saved override", () => {
    const f = overrideForm({ id: "o1", provider: "", model: "claude-*", effectiveFrom: "2026-03-01T00:00:00Z", effectiveTo: null, rates: [], percentAdjustment: "0", note: "" });
    expect(f).toEqual({ provider: "", model: "claude-*", from: "2026-03-01", to: "", rates: [{ class: "input", usd: "" }, { class: "output", usd: "" }], pct: "", note: "" });
    expect(emptyOverrideForm(new Date("2026-03-15T23:00:00Z")).from).toBe("2026-03-15");
  });
  it("starts with input and output rates, and a new row never defaults to cached input before output", () => {
    expect(emptyOverrideForm(new Date()).rates.map((r) => r.class)).toEqual(["input", "output"]);
    expect(nextRateClass([{ class: "input" }])).toBe("output");
    expect(nextRateClass([{ class: "input" }, { class: "output" }])).toBe("cached_input");
    expect(nextRateClass([{ class: "output" }])).toBe("input");
  });
  it("enters per-unit classes per unit and sends them per million", () => {
    const f = { ...base, rates: [{ class: "web_searches", usd: "0.0275" }, { class: "characters", usd: "0.000015" }] };
    expect(overrideInput(f).rates).toEqual([{ class: "web_searches", perMillion: "27500" }, { class: "characters", perMillion: "15" }]);
    const back = overrideForm({ id: "o", provider: "", model: "m", effectiveFrom: "2026-03-01T00:00:00Z", effectiveTo: null, percentAdjustment: "0", note: "",
      rates: [{ class: "web_searches", perMillion: "27500" }, { class: "input", perMillion: "2.5" }] });
    expect(back.rates).toEqual([{ class: "web_searches", usd: "0.0275" }, { class: "input", usd: "2.5" }]);
    expect(rateUnit("web_searches")).toBe("USD per search");
    expect(rateUnit("output")).toBe("USD per million tokens");
  });
});

describe("rateText", () => {
  it.each([
    ["input", "2.5", "$2.50 / 1M tokens"], ["web_searches", "27500", "$0.0275 / search"], ["characters", "15", "$0.015 / 1k characters"],
    ["images", "40000", "$0.04 / image"], ["seconds", "100", "$0.10 / 1k seconds"],
  ])("%s at %s per million", (c, pm, want) => {
    expect(rateText(c, pm)).toBe(want);
  });
  it.each([["1.5", 6, "1500000"], ["27500", -6, "0.0275"], ["0.1", -3, "0.0001"], ["12", 0, "12"], ["-0.5", 1, "-5"]])("shiftDecimal(%s, %d)", (s, n, want) => {
    expect(shiftDecimal(s, n)).toBe(want);
  });
});

const ev = (p: Partial<UsageEvent>): UsageEvent => ({
  id: "e1", time: "2026-03-15T10:00:00Z", keyId: "k1", keyName: "search", source: "gateway", provider: "openai", operation: "chat.completions",
  modelRequested: "gpt-4o-mini", modelServed: "gpt-4o-mini-2024-07-18", catalogueModel: "gpt-4o-mini", status: 200, streaming: false, complete: true,
  latencyMs: 100, requestId: "r", serviceTier: "", dimensions: [], tokens: { input: 100000, output: 10000 }, priced: true,
  listCost: "0.021", tenantCost: "0.0189", providerReportedCost: null, overrideIds: "o1, o2", pricingTier: "standard",
  costLines: [
    { class: "input", quantity: 100000, listRatePerMillion: "0.15", tenantRatePerMillion: "0.135", amount: "0.015" },
    { class: "output", quantity: 10000, listRatePerMillion: "0.6", tenantRatePerMillion: "0.6", amount: "0.006" },
  ],
  ...p,
});

describe("explain", () => {
  it("adds the lines up to the list cost and shows the tenant's adjustment", () => {
    const x = explain(ev({}));
    expect(x.linesTotal).toBe("0.021");
    expect(x.linesMatchList).toBe(true);
    expect(x.adjustment).toBe("-0.0021");
    expect(x.overrides).toEqual(["o1", "o2"]);
    expect(x.lines.map((l) => l.overridden)).toEqual([true, false]);
  });
  it("handles unpriced events", () => {
    const x = explain(ev({ priced: false, listCost: null, tenantCost: null, costLines: [], overrideIds: "" }));
    expect(x).toMatchObject({ linesTotal: "0", linesMatchList: false, adjustment: null, overrides: [] });
  });
  it("names the served model, else the requested one", () => {
    expect(eventModel({ modelServed: "", modelRequested: "gpt-4o" })).toBe("gpt-4o");
    expect(eventModel({ modelServed: "", modelRequested: "" })).toBe("(unknown)");
  });
});

describe("catalogue units", () => {
  it.each<[string, boolean, string, string]>([
    ["2.5", true, "token", "$2.50 / 1M tokens"],
    ["0.000015", false, "character", "$0.000015 / character"],
    ["0.000030833333333", false, "second", "$0.000030833333333 / second"],
    ["0.04", false, "image", "$0.04 / image"],
    ["15000", true, "token", "$15,000.00 / 1M tokens"],
  ])("%s per %s", (usd, perMillion, unit, want) => {
    expect(unitPrice({ usd, perMillion, unit })).toBe(want);
  });
  it("keeps exact decimals", () => {
    expect(formatExactUSD("0.1")).toBe("$0.10");
    expect(formatExactUSD("-3")).toBe("-$3.00");
    expect(formatExactUSD("garbage")).toBe("garbage");
  });
  it("groups rates by variant in order", () => {
    const g = ratesByVariant({ unitRates: [
      { class: "input", variant: "standard", unit: "token", perMillion: true, usd: "1" },
      { class: "input", variant: "long_context", unit: "token", perMillion: true, usd: "2" },
      { class: "output", variant: "standard", unit: "token", perMillion: true, usd: "3" },
    ] });
    expect(g.map((x) => [x.variant, x.rates.length])).toEqual([["standard", 2], ["long_context", 1]]);
  });
  it("describes a change", () => {
    expect(describeChange({ field: "max_output_tokens", unit: "", old: "4096", new: "16384" })).toBe("max_output_tokens: 4096 → 16384");
    expect(describeChange({ field: "request_fee.high", unit: "request", old: "0.012", new: "" })).toBe("request_fee.high: $0.012 → — / request");
  });
});
