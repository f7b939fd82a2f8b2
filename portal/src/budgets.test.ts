import { describe, expect, it } from "vitest";
import { budgetForm, budgetSpendFilter, burnLine, forecastText, periodWord, scopeText, statusView, type Budget, type BudgetStatus } from "./budgets";
import { budgetInput } from "./validate";

const budget: Budget = { id: "b1", name: "monthly", scope: "TENANT", keyId: null, dimensionName: null, dimensionValue: null, period: "MONTH", amount: "100", thresholds: [50, 80, 100], hard: false, webhookUrl: null };
const st = (p: Partial<BudgetStatus>): BudgetStatus => ({
  budget, periodStart: "2026-03-01T00:00:00Z", periodEnd: "2026-04-01T00:00:00Z", spent: "0", reserved: "0", remaining: "100",
  percentUsed: 0, forecast: "0", blocked: false, ...p,
});

describe("statusView", () => {
  it("shows spend, reservations and the forecast on the bar", () => {
    const v = statusView(st({ spent: "42.5", reserved: "10", forecast: "85", percentUsed: 42.5 }));
    expect(v).toMatchObject({ spentWidth: 42.5, reservedWidth: 10, forecastAt: 85, percent: 42, level: "ok", forecastOver: false, nextThreshold: 50, hasReserved: true });
  });
  it("warns from the first threshold and is over at 100 %", () => {
    expect(statusView(st({ spent: "50" })).level).toBe("warn");
    expect(statusView(st({ spent: "49.999999999" })).level).toBe("ok");
    const over = statusView(st({ spent: "150", reserved: "5", forecast: "300" }));
    expect(over).toMatchObject({ spentWidth: 100, reservedWidth: 0, percent: 150, level: "over", forecastAt: null, forecastOver: true, nextThreshold: null });
  });
  it("is over when blocked", () => {
    expect(statusView(st({ spent: "1", blocked: true })).level).toBe("over");
  });
  it("never divides by a zero amount", () => {
    expect(statusView(st({ budget: { ...budget, amount: "0" }, spent: "1" })).spentWidth).toBe(0);
  });
});

const metered = { spendBasis: "METERED", breachWebhookUrl: null, breachWebhookSecret: null };

describe("budget forms", () => {
  it("round-trips a saved budget through the edit form", () => {
    const b: Budget = { ...budget, scope: "DIMENSION", dimensionName: "team", dimensionValue: "search", thresholds: [25, 100], hard: true, webhookUrl: "https://hooks.example/x", alertEmails: ["finance@example.com", "oncall@example.com"] };
    const { id: _id, ...rest } = b;
    expect(budgetInput(budgetForm(b))).toEqual({ ...rest, keyId: null, workspaceId: null, teamId: null, projectId: null, provider: null, model: null, rollover: false, ...metered });
    const p: Budget = { ...budget, scope: "PROJECT", projectId: "p1", period: "QUARTER", rollover: true };
    const { id: _pid, ...prest } = p;
    expect(budgetInput(budgetForm(p))).toEqual({ ...prest, keyId: null, workspaceId: null, teamId: null, provider: null, model: null, alertEmails: [], ...metered });
    // Reported spend and a breach webhook survive the form; the secret is never filled in from the budget.
    const r: Budget = { ...budget, hard: true, spendBasis: "MAX_METERED_REPORTED", breachWebhookUrl: "https://revoke.example/hook", breachWebhookSigned: true };
    const rin = budgetInput(budgetForm(r));
    expect(rin).toMatchObject({ spendBasis: "MAX_METERED_REPORTED", breachWebhookUrl: "https://revoke.example/hook", breachWebhookSecret: null });
    expect(budgetInput({ ...budgetForm(r), scope: "KEY", keyId: "k1" }).spendBasis).toBe("METERED");
    expect(budgetInput({ ...budgetForm(r), hard: false }).breachWebhookUrl).toBeNull();
  });
  it("says what a budget covers", () => {
    expect(scopeText(budget, () => "")).toBe("whole tenant");
    expect(scopeText({ ...budget, scope: "KEY", keyId: "k1" }, (id) => (id === "k1" ? "search backend" : id))).toBe("key search backend");
    expect(scopeText({ ...budget, scope: "DIMENSION", dimensionName: "team", dimensionValue: "ml" }, () => "")).toBe("team=ml");
    expect(scopeText({ ...budget, scope: "TEAM", teamId: "t1" }, () => "", (id) => (id === "t1" ? "payments" : id))).toBe("team payments");
    expect(scopeText({ ...budget, scope: "MODEL", model: "gpt-4o", provider: "openai" }, () => "")).toBe("model gpt-4o at openai");
  });
});

describe("periodWord", () => {
  it("names every period as people say it", () => {
    expect(["DAY", "WEEK", "MONTH", "QUARTER", "YEAR"].map(periodWord)).toEqual(["daily", "weekly", "monthly", "quarterly", "yearly"]);
  });
});

describe("forecastText", () => {
  const usd = (v: string) => `$${v}`;
  it("says the band and the day the amount is passed", () => {
    expect(forecastText(st({ forecast: "120", forecastLow: "100", forecastHigh: "140", willExceedOn: "2026-03-24T00:00:00Z" }), usd))
      .toBe("forecast $120 ($100–$140) by period end; will exceed on 2026-03-24");
  });
  it("leaves out a band of one value and a missing exceed day", () => {
    expect(forecastText(st({ forecast: "80", forecastLow: "80", forecastHigh: "80", willExceedOn: null }), usd)).toBe("forecast $80 by period end");
  });
});

describe("burn-down", () => {
  const day = 24 * 3600_000;
  it("cumulates the period's spend up to now and draws the forecast to the end", () => {
    const start = new Date("2026-03-01T00:00:00Z"), end = new Date("2026-03-06T00:00:00Z");
    const b = burnLine(start, end, new Date("2026-03-03T12:00:00Z"), day, [
      { start: "2026-03-01T00:00:00Z", totals: { tenantCost: "1.5" } },
      { start: "2026-03-03T00:00:00Z", totals: { tenantCost: "0.5" } },
      { start: "2026-02-28T00:00:00Z", totals: { tenantCost: "9" } },
    ], "5");
    expect(b.starts).toHaveLength(5);
    expect(b.spent.map((x) => (x == null ? null : String(x)))).toEqual(["1500000000", "1500000000", "2000000000", null, null]);
    expect(b.forecast.map((x) => (x == null ? null : String(x)))).toEqual([null, null, "2000000000", "3500000000", "5000000000"]);
  });
  const str = (v: (bigint | null)[]) => v.map((x) => (x == null ? null : String(x)));
  const start = new Date("2026-03-01T00:00:00Z"), end = new Date("2026-03-06T00:00:00Z"), now = new Date("2026-03-03T12:00:00Z");
  const pts = [{ start: "2026-03-01T00:00:00Z", totals: { tenantCost: "1.5" } }, { start: "2026-03-03T00:00:00Z", totals: { tenantCost: "0.5" } }];
  it("draws the forecast's band from the spend so far to low and high at period end", () => {
    const b = burnLine(start, end, now, day, pts, "5", { low: "4", high: "8.000000001" });
    expect(str(b.low)).toEqual([null, null, "2000000000", "3000000000", "4000000000"]);
    // Exact nano-USD: (8.000000001 - 2) / 2 per bucket, truncated like the forecast line.
    expect(str(b.high)).toEqual([null, null, "2000000000", "5000000000", "8000000001"]);
    // The forecast stays inside the band.
    b.forecast.forEach((f, i) => { if (f != null) expect(f >= b.low[i]! && f <= b.high[i]!).toBe(true); });
  });
  it("has no band without one, for a band of one value, and never ends below the spend so far", () => {
    expect(str(burnLine(start, end, now, day, pts, "5").low)).toEqual([null, null, null, null, null]);
    const flat = burnLine(start, end, now, day, pts, "5", { low: "5", high: "5" });
    expect([...flat.low, ...flat.high].every((x) => x == null)).toBe(true);
    const swapped = burnLine(start, end, now, day, pts, "5", { low: "9", high: "1" });
    expect(str(swapped.low)).toEqual([null, null, "2000000000", "2000000000", "2000000000"]);
    expect(str(swapped.high)).toEqual([null, null, "2000000000", "5500000000", "9000000000"]);
  });
  it("puts a band that ends now (last bucket) on the spend so far", () => {
    const b = burnLine(start, end, new Date("2026-03-05T18:00:00Z"), day, pts, "5", { low: "4", high: "6" });
    expect(str(b.low)).toEqual([null, null, null, null, "2000000000"]);
    expect(str(b.high)).toEqual([null, null, null, null, "2000000000"]);
  });
  it.each<[Partial<Budget>, unknown]>([
    [{ scope: "TENANT" }, null],
    [{ scope: "KEY", keyId: "k1" }, { keyIds: ["k1"] }],
    [{ scope: "TEAM", teamId: "t1" }, { teamIds: ["t1"] }],
    [{ scope: "MODEL", model: "gpt-4o", provider: "openai" }, { models: ["gpt-4o"], providers: ["openai"] }],
    [{ scope: "DIMENSION", dimensionName: "team", dimensionValue: "search" }, { dimensions: [{ name: "team", values: ["search"] }] }],
  ])("filter of %j", (b, want) => {
    expect(budgetSpendFilter({ id: "b", name: "n", keyId: null, dimensionName: null, dimensionValue: null, period: "MONTH", amount: "1", thresholds: [], hard: false, webhookUrl: null, ...b } as Budget)).toEqual(want);
  });
});
