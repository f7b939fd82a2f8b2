import { describe, expect, it } from "vitest";
import { canChange, documentName, isBillingRole, isPeriod, lineEventsQuery, previousPeriod, quantitiesText, type InvoiceLine } from "./billing";

const line = (over: Partial<InvoiceLine>): InvoiceLine => ({
  kind: "USAGE", provider: "openai", model: "gpt-4o", group: "", groupName: "", adjustsPeriod: null, events: 1, unpricedEvents: 0,
  quantities: [], listCost: "1", tenantCost: "1", amount: "1", overrides: [], ...over,
});
const nov = { label: "2026-11", start: "2026-11-01T00:00:00Z", end: "2026-12-01T00:00:00Z", timeZone: "UTC" };
const dec = { label: "2026-12", start: "2026-12-01T00:00:00Z", end: "2027-01-01T00:00:00Z", timeZone: "UTC" };

describe("billing periods", () => {
  it("proposes the month before", () => {
    expect(previousPeriod(new Date("2026-12-05T00:20:00Z"))).toBe("2026-11");
    expect(previousPeriod(new Date("2027-01-01T00:00:00Z"))).toBe("2026-12");
  });
  it("accepts YYYY-MM only", () => {
    expect(isPeriod("2026-11")).toBe(true);
    expect(isPeriod("2026-13")).toBe(false);
    expect(isPeriod("11/2026")).toBe(false);
  });
});

describe("lineEventsQuery", () => {
  it("filters a usage line by provider and model in the invoice's period", () => {
    expect(lineEventsQuery({ period: dec, groupBy: "" }, line({}), [])).toEqual({
      from: dec.start, to: dec.end, f: { providers: ["openai"], models: ["gpt-4o"] },
    });
  });
  it("narrows to the line's team or dimension value", () => {
    expect(lineEventsQuery({ period: dec, groupBy: "team" }, line({ group: "t1" }), [])?.f).toEqual({ providers: ["openai"], models: ["gpt-4o"], teamIds: ["t1"] });
    expect(lineEventsQuery({ period: dec, groupBy: "dim:env" }, line({ group: "prod" }), [])?.f)
      .toEqual({ providers: ["openai"], models: ["gpt-4o"], dimensions: [{ name: "env", values: ["prod"] }] });
  });
  it("lists an adjustment's events in the period it adjusts", () => {
    const adj = line({ kind: "ADJUSTMENT", adjustsPeriod: "2026-11" });
    expect(lineEventsQuery({ period: dec, groupBy: "" }, adj, [{ period: nov }])).toMatchObject({ from: nov.start, to: nov.end });
    expect(lineEventsQuery({ period: dec, groupBy: "" }, adj, [])).toBeNull();
  });
});

describe("billing helpers", () => {
  it("is for admins and owners", () => {
    expect(isBillingRole("OWNER")).toBe(true);
    expect(isBillingRole("ADMIN")).toBe(true);
    expect(isBillingRole("VIEWER")).toBe(false);
    expect(isBillingRole("MEMBER")).toBe(false);
  });
  it("only issued invoices change", () => {
    expect(canChange({ status: "ISSUED" })).toBe(true);
    expect(canChange({ status: "PAID" })).toBe(false);
    expect(canChange({ status: "VOID" })).toBe(false);
  });
  it("shows quantities and names files", () => {
    expect(quantitiesText([{ class: "cached_input", quantity: 1234 }, { class: "output", quantity: 5 }])).toBe("cached input 1,234 · output 5");
    expect(documentName({ period: nov, number: "INV-000001" }, "pdf")).toBe("invoice-2026-11-INV-000001.pdf");
  });
});
