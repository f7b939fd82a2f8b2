import { describe, expect, it } from "vitest";
import { budgetErrors, budgetInput, parseDims, parseThresholds, policySummary, splitList, type BudgetForm } from "./validate";

const base: BudgetForm = { name: "Monthly", scope: "TENANT", keyId: "", dimensionName: "", dimensionValue: "", period: "MONTH", amount: "100", thresholds: "80, 50, 100, 80", hard: false, webhookUrl: "" };

describe("validation", () => {
  it("splits lists", () => expect(splitList(" a, b\n,c ,")).toEqual(["a", "b", "c"]));
  it("parses dimensions", () => {
    expect(parseDims("team=search, env = prod")).toEqual([{ name: "team", value: "search" }, { name: "env", value: "prod" }]);
    expect(() => parseDims("team")).toThrow('Dimension "team" must look like name=value.');
    expect(() => parseDims("=x")).toThrow();
    expect(() => parseDims("x=")).toThrow();
  });
  it("parses thresholds", () => {
    expect(parseThresholds("80, 50, 100, 80")).toEqual([50, 80, 100]);
    expect(() => parseThresholds("50, 1.5")).toThrow("not a whole percent");
    expect(() => parseThresholds("0")).toThrow("between 1 and 1000");
  });
  it.each<[string, Partial<BudgetForm>, string[]]>([
    ["valid", {}, []],
    ["no name", { name: " " }, ["name"]],
    ["bad amount", { amount: "1,000" }, ["amount"]],
    ["key scope needs key", { scope: "KEY" }, ["keyId"]],
    ["dimension scope needs both", { scope: "DIMENSION" }, ["dimensionName", "dimensionValue"]],
    ["bad thresholds", { thresholds: "x" }, ["thresholds"]],
    ["bad webhook", { webhookUrl: "ftp://x" }, ["webhookUrl"]],
    ["breach webhook needs a secret", { hard: true, breachWebhookUrl: "https://revoke.example/h" }, ["breachWebhookSecret"]],
    ["breach webhook with a short secret", { hard: true, breachWebhookUrl: "https://revoke.example/h", breachWebhookSecret: "short" }, ["breachWebhookSecret"]],
    ["breach webhook, secret stored", { hard: true, breachWebhookUrl: "https://revoke.example/h", breachWebhookSigned: true }, []],
    ["bad breach webhook", { hard: true, breachWebhookUrl: "revoke", breachWebhookSecret: "0123456789abcdef" }, ["breachWebhookUrl"]],
    ["soft budgets ignore the breach webhook", { breachWebhookUrl: "revoke" }, []],
  ])("budget form: %s", (_n, patch, fields) => {
    expect(Object.keys(budgetErrors({ ...base, ...patch })).sort()).toEqual(fields.sort());
  });
  it("builds BudgetInput with only the scope's fields", () => {
    expect(budgetInput({ ...base, keyId: "k1", dimensionName: "team" })).toEqual({
      name: "Monthly", scope: "TENANT", keyId: null, dimensionName: null, dimensionValue: null, period: "MONTH",
      amount: "100", thresholds: [50, 80, 100], hard: false, webhookUrl: null, workspaceId: null, teamId: null, projectId: null, provider: null, model: null, rollover: false,
      alertEmails: [], spendBasis: "METERED", breachWebhookUrl: null, breachWebhookSecret: null,
    });
    expect(budgetInput({ ...base, alertEmails: "a@example.com,\n b@example.com" }).alertEmails).toEqual(["a@example.com", "b@example.com"]);
    expect(budgetErrors({ ...base, alertEmails: "a@example.com, Finance <f@example.com>" }).alertEmails).toBe('"Finance <f@example.com>" is not an email address like name@example.com.');
    expect(Object.keys(budgetErrors({ ...base, scope: "PROJECT" }))).toEqual(["nodeId"]);
    expect(Object.keys(budgetErrors({ ...base, scope: "MODEL", provider: "openai" }))).toEqual(["model"]);
  });
  it("summarizes key policies", () => {
    const none = { allowedProviders: [], allowedModels: [], requiredDimensions: [], defaultDimensions: [], requirePricedModels: false };
    expect(policySummary(none)).toBe("any provider and model");
    expect(policySummary({ ...none, injectProviderCredentials: true })).toBe("stored provider keys");
    expect(policySummary({ ...none, allowedProviders: ["openai"], requiredDimensions: ["team"], defaultDimensions: [{ name: "env", value: "e2e" }], requirePricedModels: true }))
      .toBe("providers: openai; requires: team; defaults: env=e2e; priced models only");
  });
});
