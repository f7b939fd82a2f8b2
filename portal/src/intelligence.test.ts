import { describe, expect, it } from "vitest";
import { openSavings, peakRatio, sortRecommendations, type AnomalyEpisode, type Recommendation } from "./intelligence";

const rec = (p: Partial<Recommendation>): Recommendation => ({
  id: "r", kind: "BATCH_API", title: "t", detail: "", keyId: null, keyName: null, provider: "openai", model: "gpt-4o", alternative: "",
  currentMonthlyCost: "10", monthlySavings: "0", requests: 1, state: "OPEN", stateChangedBy: null, stateChangedAt: null, ...p,
});

describe("recommendations", () => {
  it("sums open savings exactly", () => {
    expect(openSavings([rec({ monthlySavings: "7.99" }), rec({ monthlySavings: "1.875" }), rec({ monthlySavings: "4.25", state: "APPLIED" })])).toBe("9.865");
  });
  it("lists open ones first, largest saving first", () => {
    const out = sortRecommendations([
      rec({ id: "a", monthlySavings: "1", state: "DISMISSED" }), rec({ id: "b", monthlySavings: "2" }),
      rec({ id: "c", monthlySavings: "10", state: "APPLIED" }), rec({ id: "d", monthlySavings: "3" }),
    ]);
    expect(out.map((r) => r.id)).toEqual(["d", "b", "c", "a"]);
  });
});

describe("peakRatio", () => {
  const ep = (spend: string, expected: string) => ({ peakSpend: spend, peakExpected: expected }) as AnomalyEpisode;
  it("is exact to a tenth", () => {
    expect(peakRatio(ep("40", "4"))).toBe("10.0× usual");
    expect(peakRatio(ep("10", "3"))).toBe("3.3× usual");
  });
  it("names spend on a series without a baseline", () => {
    expect(peakRatio(ep("5", "0"))).toBe("new spend");
  });
});
