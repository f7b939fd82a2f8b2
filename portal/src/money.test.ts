import { describe, expect, it } from "vitest";
import { exactTitle, formatCents, formatUSD, fromNano, moneyError, percentOf, sum, toNano } from "./money";

describe("money", () => {
  it.each([
    ["0", 0n], ["12.5", 12_500_000_000n], ["0.000000001", 1n], ["-3.25", -3_250_000_000n],
    ["123456789012.123456789", 123456789012123456789n],
  ])("toNano(%s)", (s, n) => {
    expect(toNano(s)).toBe(n);
    expect(toNano(fromNano(n))).toBe(n);
  });
  it.each(["", "1.0000000001", "1e3", "abc", "1,5", ".5", "NaN"])("rejects %j", (s) => {
    expect(() => toNano(s)).toThrow(/not a money amount/);
  });
  it("sums exactly where floats do not", () => {
    expect(sum(["0.1", "0.2"])).toBe("0.3");
    expect(sum(Array(10).fill("0.000000001"))).toBe("0.00000001");
    expect(sum([])).toBe("0");
  });
  it.each([
    ["1234.5", "$1,234.50"], ["0", "$0.00"], ["0.000012", "$0.000012"], ["1000000", "$1,000,000.00"],
    ["-2.5", "-$2.50"], ["9007199254740993.1", "$9,007,199,254,740,993.10"],
  ])("formatUSD(%s) = %s", (s, want) => expect(formatUSD(s)).toBe(want));
  it("formats missing amounts as a dash", () => {
    expect(formatUSD(null)).toBe("—");
    expect(formatUSD("")).toBe("—");
  });
  it.each([["50", "100", 50], ["99.999999999", "100", 99], ["150", "100", 150], ["1", "0", 0]])("percentOf(%s, %s)", (p, w, want) => {
    expect(percentOf(p, w)).toBe(want);
  });
  it.each([["", "Enter an amount"], ["1.2.3", "plain decimal"], ["-5", "negative"], ["10", ""], ["0.5", ""]])("moneyError(%j)", (s, want) => {
    const got = moneyError(s);
    if (want === "") expect(got).toBe("");
    else expect(got).toContain(want);
  });
  it.each([
    ["3.448634415", "$3.45"], ["3.444999999", "$3.44"], ["1234567.005", "$1,234,567.01"], ["0.005", "$0.01"],
    ["0", "$0.00"], ["0.00042", "$0.00042"], ["0.000423456", "$0.00042"], ["0.004999999", "$0.005"], ["0.000000001", "$0.000000001"],
    ["-2.499", "-$2.50"], ["27500", "$27,500.00"],
  ])("formatCents(%s) = %s", (s, want) => {
    expect(formatCents(s)).toBe(want);
  });
  it("titles the exact amount", () => {
    expect(exactTitle("3.448634415")).toBe("$3.448634415 exactly");
    expect(exactTitle("")).toBeUndefined();
  });
});
