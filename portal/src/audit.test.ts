import { describe, expect, it } from "vitest";
import { actionText, auditDetails, auditFilter } from "./audit";

describe("audit details", () => {
  const names = new Map([["6f1c0d2e-0000-4000-8000-000000000001", "search backend"]]);
  it("formats money, names ids and keeps the order", () => {
    expect(auditDetails('{"name":"monthly","amount_nano_usd":3448634415,"key_id":"6f1c0d2e-0000-4000-8000-000000000001","thresholds":[50,80],"hard":true,"webhook":null}', names)).toEqual([
      { field: "name", text: "monthly" },
      { field: "amount", text: "$3.45", title: "$3.448634415 exactly" },
      { field: "key_id", text: "search backend", title: "6f1c0d2e-0000-4000-8000-000000000001" },
      { field: "thresholds", text: "50, 80" },
      { field: "hard", text: "true" },
      { field: "webhook", text: "—" },
    ]);
  });
  it("reads nested objects and non-JSON text", () => {
    expect(auditDetails('{"policy":{"allowed_providers":["openai"],"rpm":10}}', names)).toEqual([{ field: "policy", text: "allowed_providers=openai, rpm=10" }]);
    expect(auditDetails("not json", names)).toEqual([{ field: "details", text: "not json" }]);
    expect(auditDetails("{}", names)).toEqual([]);
  });
  it.each([["api_key.create", "API key created"], ["member.role", "Member role changed"], ["scim.group.update", "SCIM group update"], ["x_y.z", "x y z"]])("%s", (a, want) => {
    expect(actionText(a)).toBe(want);
  });
});

describe("audit filter", () => {
  it("builds the API filter with whole UTC days", () => {
    expect(auditFilter({ area: "api_key.", actor: " ann ", from: "2026-03-01", to: "2026-03-01" })).toEqual({
      filter: { actions: ["api_key."], actor: "ann", from: "2026-03-01T00:00:00.000Z", to: "2026-03-02T00:00:00.000Z" }, error: "",
    });
    expect(auditFilter({ area: "", actor: "", from: "", to: "" })).toEqual({ filter: null, error: "" });
    expect(auditFilter({ area: "scim", actor: "", from: "", to: "" }).filter).toEqual({ actions: ["scim.", "scim_token."] });
  });
  it("says what is wrong", () => {
    expect(auditFilter({ area: "", actor: "", from: "2026-03-02", to: "2026-03-01" }).error).toBe("The end day must not be before the start day.");
    expect(auditFilter({ area: "", actor: "", from: "2026-02-30", to: "" }).error).toBe("Pick a valid start day.");
  });
});
