import { describe, expect, it } from "vitest";
import { allowedBuckets, bucketLabel, buckets, bucketStart, resolveRange, suggestedBucket } from "./range";

const now = new Date("2026-03-15T10:30:00Z"); // a Sunday

describe("resolveRange", () => {
  it("last 24 hours: whole hours up to the end of the current one, hourly buckets", () => {
    const r = resolveRange("24h", now);
    expect(r.from.toISOString()).toBe("2026-03-14T11:00:00.000Z");
    expect(r.to.toISOString()).toBe("2026-03-15T11:00:00.000Z");
    expect(r.bucket).toBe("HOUR");
    expect(buckets(r, "HOUR")).toHaveLength(24);
  });
  it("month to date starts at the first of the month UTC", () => {
    const r = resolveRange("mtd", now);
    expect(r.from.toISOString()).toBe("2026-03-01T00:00:00.000Z");
    expect(r.to.toISOString()).toBe("2026-03-15T11:00:00.000Z");
    expect(buckets(r, "DAY")).toHaveLength(15);
  });
  it("ends the range at a whole hour even exactly on one", () => {
    expect(resolveRange("7d", new Date("2026-03-15T10:00:00Z")).to.toISOString()).toBe("2026-03-15T11:00:00.000Z");
  });
  it("7, 30 and 90 days", () => {
    expect(buckets(resolveRange("7d", now), "DAY")).toHaveLength(8);
    expect(resolveRange("30d", now).from.toISOString()).toBe("2026-02-13T11:00:00.000Z");
    expect(resolveRange("90d", now).bucket).toBe("DAY");
  });
  it("custom ranges include the end day and pick a bucket by length", () => {
    const r = resolveRange("custom", now, "2026-02-27", "2026-03-01");
    expect(r.to.toISOString()).toBe("2026-03-02T00:00:00.000Z");
    expect(buckets(r, "DAY").map((d) => d.toISOString().slice(0, 10))).toEqual(["2026-02-27", "2026-02-28", "2026-03-01"]);
    expect(resolveRange("custom", now, "2026-03-01", "2026-03-01").bucket).toBe("HOUR");
    expect(resolveRange("custom", now, "2025-06-01", "2026-03-01").bucket).toBe("WEEK");
  });
  it.each([
    ["", "2026-03-01", "Pick both"], ["2026-02-30", "2026-03-01", "Pick both"], ["2026-03-05", "2026-03-01", "must not be before"],
    ["2024-01-01", "2026-03-01", "at most 400 days"],
  ])("custom %s..%s is refused", (f, t, msg) => {
    expect(() => resolveRange("custom", now, f, t)).toThrow(msg);
  });
});

describe("suggestedBucket", () => {
  it.each([[1, "HOUR"], [2, "HOUR"], [3, "DAY"], [30, "DAY"], [91, "DAY"], [92, "WEEK"], [400, "WEEK"]])("%d days: %s", (days, b) => {
    expect(suggestedBucket(days)).toBe(b);
  });
});

describe("buckets", () => {
  it("weeks start on Monday like the API's and weekly budgets", () => {
    expect(bucketStart(now, "WEEK").toISOString()).toBe("2026-03-09T00:00:00.000Z");
    expect(bucketStart(new Date("2026-03-09T00:00:00Z"), "WEEK").toISOString()).toBe("2026-03-09T00:00:00.000Z");
    expect(buckets({ from: new Date("2026-03-01T00:00:00Z"), to: now }, "WEEK").map((d) => d.toISOString().slice(0, 10)))
      .toEqual(["2026-02-23", "2026-03-02", "2026-03-09"]);
  });
  it("months are calendar months", () => {
    const r = { from: new Date("2025-11-15T00:00:00Z"), to: new Date("2026-02-01T00:00:00Z") };
    expect(buckets(r, "MONTH").map((d) => d.toISOString().slice(0, 7))).toEqual(["2025-11", "2025-12", "2026-01"]);
    expect(bucketLabel(new Date("2026-01-01T00:00:00Z"), "MONTH")).toBe("2026-01");
    expect(bucketLabel(new Date("2026-01-01T05:00:00Z"), "HOUR")).toBe("2026-01-01 05:00");
  });
  it("offers only buckets the API accepts (at most 2500) that make more than one bar", () => {
    expect(allowedBuckets(resolveRange("24h", now))).toEqual(["HOUR"]);
    expect(allowedBuckets(resolveRange("30d", now))).toEqual(["HOUR", "DAY", "WEEK", "MONTH"]);
    expect(allowedBuckets(resolveRange("custom", now, "2025-03-01", "2026-03-01"))).toEqual(["DAY", "WEEK", "MONTH"]);
  });
});
