import { describe, expect, it } from "vitest";
import {
  breakdownRows, changePercent, dimensionNames, previousLine, previousRange, stackLayers, exportFileName, exportGroupBy, exportUrl, formatCount, rfc3339, scale, seriesBars,
  seriesExportUrl, type Breakdown, type Totals,
} from "./dashboard";

const tot = (cost: string, requests = 1, unpriced = 0): Totals => ({ requests, unpricedRequests: unpriced, listCost: cost, tenantCost: cost, inputTokens: 0, outputTokens: 0 });

describe("breakdownRows", () => {
  it("keeps the API's order, labels keys by name and adds Other", () => {
    const b: Breakdown = {
      groupBy: ["key"],
      groups: [
        { keys: ["k1"], labels: ["search backend"], totals: tot("2.5", 10) },
        { keys: ["k2"], labels: ["k2"], totals: tot("1.25", 4, 1) },
      ],
      other: tot("0.000000001", 3),
      total: tot("3.750000001", 17),
    };
    const rows = breakdownRows(b);
    expect(rows.map((r) => [r.label, r.detail, r.cost, r.requests, r.width, r.other])).toEqual([
      ["search backend", "k1", "2.5", 10, 100, false],
      ["k2", "", "1.25", 4, 50, false],
      ["Other", "", "0.000000001", 3, 0, true],
    ]);
    expect(rows[1].unpriced).toBe(1);
  });
  it("names groups without a value", () => {
    const rows = breakdownRows({ groupBy: ["dim:team"], groups: [{ keys: [""], labels: [""], totals: tot("1") }], other: null, total: tot("1") });
    expect(rows[0].label).toBe("(none)");
    expect(rows).toHaveLength(1);
  });
  it("drops an Other that is not a group (a total read before its rows)", () => {
    const rows = breakdownRows({ groupBy: ["model"], groups: [{ keys: ["m"], labels: ["m"], totals: tot("0.042", 2) }], other: tot("-0.042", -2), total: tot("0", 0) });
    expect(rows.map((r) => r.label)).toEqual(["m"]);
  });
  it("is empty without groups", () => {
    expect(breakdownRows({ groupBy: ["provider"], groups: [], other: null, total: tot("0", 0) })).toEqual([]);
  });
});

describe("scale", () => {
  it("scales exactly relative to the maximum", () => {
    expect(scale(["0", "0"])).toEqual([0, 0]);
    expect(scale(["1", "0.5", "0.000000001", "0"])).toEqual([100, 50, 0, 0]);
    expect(scale(["123456789012.123456789", "61728394506.061728395"])).toEqual([100, 50]);
  });
});

describe("seriesBars", () => {
  const range = { from: new Date("2026-03-10T12:00:00Z"), to: new Date("2026-03-13T12:00:00Z") };
  it("fills every bucket, zero where the API had no point", () => {
    const bars = seriesBars(range, "DAY", [
      { start: "2026-03-11T00:00:00Z", totals: { requests: 2, tenantCost: "0.042" } },
      { start: "2026-03-13T00:00:00Z", totals: { requests: 1, tenantCost: "0.021" } },
    ]);
    expect(bars.map((b) => [b.start.toISOString().slice(0, 10), b.cost, b.requests, b.height])).toEqual([
      ["2026-03-10", "0", 0, 0], ["2026-03-11", "0.042", 2, 100], ["2026-03-12", "0", 0, 0], ["2026-03-13", "0.021", 1, 50],
    ]);
  });
  it("sums points that fall into the same bucket exactly", () => {
    const bars = seriesBars(range, "WEEK", [
      { start: "2026-03-10T00:00:00Z", totals: { requests: 1, tenantCost: "0.1" } },
      { start: "2026-03-12T00:00:00Z", totals: { requests: 1, tenantCost: "0.2" } },
    ]);
    expect(bars).toHaveLength(1);
    expect(bars[0].cost).toBe("0.3");
    expect(bars[0].start.toISOString()).toBe("2026-03-09T00:00:00.000Z");
  });
});

describe("CSV export links", () => {
  const range = { from: new Date("2026-03-08T10:30:00.250Z"), to: new Date("2026-03-15T10:30:00Z") };
  it("asks for the breakdown as shown", () => {
    const u = new URL(exportUrl("t-1", range, exportGroupBy("DIMENSION", "team"), 10), "http://x");
    expect(u.pathname).toBe("/export/spend.csv");
    expect(Object.fromEntries(u.searchParams)).toEqual({ tenantId: "t-1", from: "2026-03-08T10:30:00Z", to: "2026-03-15T10:30:00Z", groupBy: "dim:team", top: "10" });
    expect(exportGroupBy("PROVIDER")).toBe("provider");
    expect(exportGroupBy("KEY")).toBe("key");
    expect(() => exportGroupBy("DIMENSION", "")).toThrow();
  });
  it("asks for the series by bucket", () => {
    const u = new URL(seriesExportUrl("t-1", range, "WEEK"), "http://x");
    expect(u.searchParams.get("bucket")).toBe("week");
    expect(u.searchParams.get("groupBy")).toBeNull();
  });
  it("names the file after what it holds", () => {
    expect(exportFileName("dim:team", range)).toBe("spend-by-team-2026-03-08-to-2026-03-15.csv");
    expect(exportFileName("a/b c", range)).toBe("spend-by-a_b_c-2026-03-08-to-2026-03-15.csv");
  });
  it("formats times as RFC 3339 seconds", () => {
    expect(rfc3339(new Date("2026-03-08T10:30:00.999Z"))).toBe("2026-03-08T10:30:00Z");
  });
});

describe("dimensionNames", () => {
  it("puts names seen in events first, most frequent first, then known names alphabetically", () => {
    expect(dimensionNames({
      apiKeys: { edges: [{ node: { policy: { requiredDimensions: ["team"], defaultDimensions: [{ name: "env" }] } } }] },
      budgets: { edges: [{ node: { dimensionName: "cost_center" } }, { node: { dimensionName: null } }] },
      usageEvents: { edges: [{ node: { dimensions: [{ name: "app" }, { name: "env" }] } }, { node: { dimensions: [{ name: "env" }] } }] },
    })).toEqual(["env", "app", "cost_center", "team"]);
  });
  it("prefers the dimension with the most distinct values over one every event carries with one value", () => {
    const ev = (team: string) => ({ node: { dimensions: [{ name: "app", value: "chat" }, { name: "env", value: "prod" }, { name: "team", value: team }] } });
    expect(dimensionNames({
      apiKeys: { edges: [] }, budgets: { edges: [] },
      usageEvents: { edges: [ev("search"), ev("search"), ev("billing"), ev("growth"), { node: { dimensions: [{ name: "app", value: "chat" }] } }] },
    })).toEqual(["team", "app", "env"]);
  });
});

describe("stackLayers", () => {
  const range = { from: new Date("2026-03-02T00:00:00Z"), to: new Date("2026-03-05T00:00:00Z") };
  const pt = (start: string, key: string, cost: string, requests = 1) => ({ start, keys: [key], labels: [key], totals: { requests, tenantCost: cost } });
  it("fills every bucket, orders layers by total and sums the rest as Other, exactly", () => {
    const s = stackLayers(range, "DAY", [
      pt("2026-03-02T00:00:00Z", "openai", "1.000000001"), pt("2026-03-04T00:00:00Z", "openai", "2"),
      pt("2026-03-03T00:00:00Z", "anthropic", "5", 2), pt("2026-03-03T00:00:00Z", "gemini", "0.1"), pt("2026-03-04T00:00:00Z", "xai", "0.2"),
    ], 2);
    expect(s.starts.map((d) => d.toISOString().slice(0, 10))).toEqual(["2026-03-02", "2026-03-03", "2026-03-04"]);
    expect(s.layers.map((l) => [l.label, l.nano.map(String), l.other])).toEqual([
      ["anthropic", ["0", "5000000000", "0"], false],
      ["openai", ["1000000001", "0", "2000000000"], false],
      ["Other (2)", ["0", "100000000", "200000000"], true],
    ]);
    expect(s.totals.map(String)).toEqual(["1000000001", "5100000000", "2200000000"]);
    expect(s.requests).toEqual([1, 3, 2]);
  });
  it("calls an ungrouped series Spend", () => {
    const s = stackLayers(range, "DAY", [{ start: "2026-03-02T00:00:00Z", totals: { requests: 1, tenantCost: "1" } }]);
    expect(s.layers.map((l) => l.label)).toEqual(["Spend"]);
  });
});

describe("previous period", () => {
  const range = { from: new Date("2026-03-08T00:00:00Z"), to: new Date("2026-03-10T00:00:00Z") };
  it("is as long as the range and ends where it starts", () => {
    const p = previousRange(range);
    expect([p.from.toISOString(), p.to.toISOString()]).toEqual(["2026-03-06T00:00:00.000Z", "2026-03-08T00:00:00.000Z"]);
  });
  it("lays the previous buckets under the current ones", () => {
    expect(previousLine(range, "DAY", [
      { start: "2026-03-06T00:00:00Z", totals: { requests: 1, tenantCost: "1.5" } },
      { start: "2026-03-07T00:00:00Z", totals: { requests: 1, tenantCost: "2" } },
      { start: "2026-03-05T00:00:00Z", totals: { requests: 1, tenantCost: "9" } },
    ]).map(String)).toEqual(["1500000000", "2000000000"]);
  });
  it.each([[150n, 100n, 50], [50n, 100n, -50], [1n, 0n, null], [0n, 3n, -100]])("change %d vs %d", (now, before, want) => {
    expect(changePercent(now, before)).toBe(want);
  });
});

describe("formatCount", () => {
  it.each([[0, "0"], [999, "999"], [1000, "1,000"], [1234567, "1,234,567"]])("%d", (n, s) => expect(formatCount(n)).toBe(s));
});
