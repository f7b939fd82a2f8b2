import { describe, expect, it } from "vitest";
import { eventQueryErrors, eventsHref, groupQuery, NO_FILTER, parseEventsHash, spendFilter } from "./drill";

describe("drill-down links", () => {
  it("round-trips a query through the hash", () => {
    const href = eventsHref({ provider: "openai", model: "gpt-4o mini/2024", dimName: "team", dimValue: "a&b", from: "2026-03-01T00:00:00Z" });
    expect(href).toBe("#/events?provider=openai&model=gpt-4o+mini%2F2024&dim=team&value=a%26b&from=2026-03-01T00%3A00%3A00Z");
    expect(parseEventsHash(href)).toEqual({ ...NO_FILTER, provider: "openai", model: "gpt-4o mini/2024", dimName: "team", dimValue: "a&b", from: "2026-03-01T00:00:00Z" });
    expect(eventsHref({})).toBe("#/events");
    expect(parseEventsHash("#/events")).toEqual(NO_FILTER);
  });
  it("builds the API filter from the set fields only", () => {
    expect(spendFilter(NO_FILTER)).toBeNull();
    expect(spendFilter({ ...NO_FILTER, keyId: "k1", dimName: "team", dimValue: "search" })).toEqual({ keyIds: ["k1"], dimensions: [{ name: "team", values: ["search"] }] });
  });
  it("explains what is wrong", () => {
    expect(eventQueryErrors({ ...NO_FILTER, dimValue: "x" })).toEqual({ dimName: "Name the dimension the value belongs to." });
    expect(eventQueryErrors({ ...NO_FILTER, from: "2026-03-02T00:00:00Z", to: "2026-03-01T00:00:00Z" })).toEqual({ to: "The end must be after the start." });
    expect(eventQueryErrors({ ...NO_FILTER, from: "yesterday" })).toEqual({ from: "Not a time." });
  });
  it.each([
    ["provider", "openai", { provider: "openai" }], ["model", "gpt-4o", { model: "gpt-4o" }], ["key", "k1", { keyId: "k1" }],
    ["team", "t1", { teamId: "t1" }], ["project", "p1", { projectId: "p1" }], ["dim:team", "search", { dimName: "team", dimValue: "search" }],
    ["status", "200", null], ["provider", "", null],
  ])("group %s=%s", (g, k, want) => {
    expect(groupQuery(g, k)).toEqual(want);
  });
});
