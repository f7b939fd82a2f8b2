import { describe, expect, it } from "vitest";
import { buckets, resolveRange } from "./range";

const now = new Date("2026-03-15T10:30:00Z");

describe("resolveRange", () => {
  it("last 24 hours uses hourly buckets", () => {
    const r = resolveRange("24h", now);
    expect(r.from.toISOString()).toBe("2026-03-14T10:30:00.000Z");
    expect(r.bucket).toBe("HOUR");
    expect(buckets(r)).toHaveLength(25); // partial first and last hours
  });
  it("month to date starts at the first of the month UTC", () => {
    const r = resolveRange("mtd", now);
    expect(r.from.toISOString()).toBe("2026-03-01T00:00:00.000Z");
    expect(buckets(r)).toHaveLength(15);
  });
  it("7 and 30 days use daily buckets", () => {
    expect(buckets(resolveRange("7d", now))).toHaveLength(8);
    expect(resolveRange("30d", now).from.toISOString()).toBe("2026-02-13T10:30:00.000Z");
  });
  it("custom ranges include the end day", () => {
    const r = resolveRange("custom", now, "2026-02-27", "2026-03-01");
    expect(r.to.toISOString()).toBe("2026-03-02T00:00:00.000Z");
    expect(buckets(r).map((d) => d.toISOString().slice(0, 10))).toEqual(["2026-02-27", "2026-02-28", "2026-03-01"]);
    expect(resolveRange("custom", now, "2026-03-01", "2026-03-01").bucket).toBe("HOUR");
  });
  it.each([
    ["", "2026-03-01", "Pick both"], ["2026-02-30", "2026-03-01", "Pick both"], ["2026-03-05", "2026-03-01", "must not be before"],
  ])("custom %s..%s is refused", (f, t, msg) => {
    expect(() => resolveRange("custom", now, f, t)).toThrow(msg);
  });
});
