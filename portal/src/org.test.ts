import { describe, expect, it } from "vitest";
import { buildTree, childrenSum, type OrgNode } from "./org";
import type { BudgetStatus } from "./budgets";

const node = (id: string, kind: OrgNode["kind"], parentId: string | null, name: string): OrgNode =>
  ({ id, kind, parentId, name, workspaceId: "w", teamId: null, projectId: null, archivedAt: null });

const status = (name: string, scope: "TEAM" | "PROJECT", id: string, amount: string, spent: string): BudgetStatus => ({
  budget: { id: name, name, scope, keyId: null, teamId: scope === "TEAM" ? id : null, projectId: scope === "PROJECT" ? id : null,
    dimensionName: null, dimensionValue: null, period: "MONTH", amount, thresholds: [50, 80, 100], hard: false, webhookUrl: null },
  periodStart: "2026-12-01T00:00:00Z", periodEnd: "2027-01-01T00:00:00Z", spent, reserved: "0", remaining: "0", percentUsed: 0, forecast: spent, blocked: false,
});

describe("buildTree", () => {
  const nodes = [node("p2", "PROJECT", "t1", "web"), node("t1", "TEAM", "w", "payments"), node("w", "WORKSPACE", null, "prod"),
    node("p1", "PROJECT", "t1", "api"), node("t2", "TEAM", "w", "ml"), node("orphan", "PROJECT", "hidden-team", "lab")];
  const spend = {
    byWorkspace: { groups: [{ keys: ["w"], totals: { tenantCost: "12.5", requests: 30 } }, { keys: [""], totals: { tenantCost: "1", requests: 1 } }] },
    byTeam: { groups: [{ keys: ["t1"], totals: { tenantCost: "12.5", requests: 30 } }] },
    byProject: { groups: [{ keys: ["p1"], totals: { tenantCost: "10.000000001", requests: 20 } }, { keys: ["p2"], totals: { tenantCost: "2.499999999", requests: 10 } }] },
  };
  const rows = buildTree(nodes, spend, [status("api cap", "PROJECT", "p1", "10", "10.000000001"), status("team", "TEAM", "t1", "100", "12.5")]);

  it("orders depth first by name and indents", () => {
    expect(rows.map((r) => `${"-".repeat(r.depth)}${r.node.name}`)).toEqual(["lab", "prod", "-ml", "-payments", "--api", "--web"]);
  });
  it("puts spend and budgets on their nodes", () => {
    const api = rows.find((r) => r.node.id === "p1")!;
    expect(api.spend).toBe("10.000000001");
    expect(api.budgets.map((b) => b.status.budget.name)).toEqual(["api cap"]);
    expect(api.level).toBe("over");
    expect(rows.find((r) => r.node.id === "t1")!.level).toBe("ok");
    expect(rows.find((r) => r.node.id === "t2")!).toMatchObject({ spend: "0", requests: 0, level: "none" });
  });
  it("children add up to their parent, exactly", () => {
    expect(childrenSum(rows, "t1")).toBe(12_500_000_000n);
  });
});
