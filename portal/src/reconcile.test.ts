import { describe, expect, it } from "vitest";
import { driftBars, thresholdError } from "./reconcile";

describe("driftBars", () => {
  it("sums providers per day and scales to the largest drift, signs apart", () => {
    const { bars, zeroY, maxAbs } = driftBars([
      { provider: "openai", day: "2026-11-28T00:00:00Z", drift: "0.5", reportedCost: "1.5", meteredCost: "1" },
      { provider: "anthropic", day: "2026-11-28T00:00:00Z", drift: "0.5", reportedCost: "1", meteredCost: "0.5" },
      { provider: "openai", day: "2026-11-29T00:00:00Z", drift: "-0.5", reportedCost: "0", meteredCost: "0.5" },
      { provider: "openai", day: null, drift: "99", reportedCost: "0", meteredCost: "0" },
    ], 200, 102);
    expect(maxAbs).toBe(1_000_000_000n);
    expect(zeroY).toBe(51);
    expect(bars.map((b) => b.key)).toEqual(["2026-11-28", "2026-11-29"]);
    expect(bars[0].height).toBe(49);
    expect(bars[0].y).toBe(2);
    expect(bars[1].negative).toBe(true);
    expect(bars[1].y).toBe(51);
    expect(bars[1].height).toBeCloseTo(24.5);
    expect(bars[1].title).toBe("2026-11-29: drift -$0.50");
  });
  it("draws nothing tall without drift", () => {
    const { bars } = driftBars([{ provider: "openai", day: "2026-11-28T00:00:00Z", drift: "0", reportedCost: "1", meteredCost: "1" }], 100, 100);
    expect(bars[0].height).toBe(0);
  });
});

describe("thresholdError", () => {
  it("takes percentages with two decimals between 0.01 and 1000", () => {
    expect(thresholdError("2")).toBe("");
    expect(thresholdError("0.5")).toBe("");
    expect(thresholdError("0")).not.toBe("");
    expect(thresholdError("2.005")).not.toBe("");
    expect(thresholdError("-1")).not.toBe("");
    expect(thresholdError("1001")).not.toBe("");
  });
});
