// The organisation tree as the portal shows it: nodes in tree order with
// their depth, this period's spend and the status of the budgets set on
// them. Kept apart from the screen so it is unit tested. Money stays exact.
import { statusView, type BudgetStatus, type StatusView } from "./budgets";
import { toNano } from "./money";

export type NodeKind = "WORKSPACE" | "TEAM" | "PROJECT";

export interface OrgNode {
  id: string;
  kind: NodeKind;
  parentId: string | null;
  name: string;
  workspaceId: string;
  teamId: string | null;
  projectId: string | null;
  archivedAt: string | null;
}

export interface LevelSpend { groups: { keys: string[]; totals: { tenantCost: string; requests: number } }[] }

export interface TreeRow {
  node: OrgNode;
  depth: number;
  /** Tenant cost this period, exact decimal USD ("0" without spend). */
  spend: string;
  requests: number;
  budgets: { status: BudgetStatus; view: StatusView }[];
  /** The worst budget state of the node: what its badge shows. */
  level: StatusView["level"] | "none";
}

/** The budget scope that sits on a node of this kind. */
export function nodeScope(kind: NodeKind): "WORKSPACE" | "TEAM" | "PROJECT" {
  return kind;
}

function nodeOfBudget(s: BudgetStatus): string | null {
  const b = s.budget;
  if (b.scope === "WORKSPACE") return b.workspaceId ?? null;
  if (b.scope === "TEAM") return b.teamId ?? null;
  if (b.scope === "PROJECT") return b.projectId ?? null;
  return null;
}

const rank = { none: 0, ok: 1, warn: 2, over: 3 } as const;

/**
 * Orders nodes depth first (workspaces, their teams, their projects, each
 * level by name) and attaches spend and budgets. Nodes whose parent the
 * caller cannot see are shown at the top level.
 */
export function buildTree(nodes: OrgNode[], spend: { byWorkspace: LevelSpend; byTeam: LevelSpend; byProject: LevelSpend }, statuses: BudgetStatus[]): TreeRow[] {
  const spendOf = new Map<string, { cost: string; requests: number }>();
  for (const level of [spend.byWorkspace, spend.byTeam, spend.byProject]) {
    for (const g of level.groups) if (g.keys[0]) spendOf.set(g.keys[0], { cost: g.totals.tenantCost, requests: g.totals.requests });
  }
  const budgets = new Map<string, TreeRow["budgets"]>();
  for (const s of statuses) {
    const id = nodeOfBudget(s);
    if (!id) continue;
    budgets.set(id, [...(budgets.get(id) ?? []), { status: s, view: statusView(s) }]);
  }
  const ids = new Set(nodes.map((n) => n.id));
  const children = new Map<string | null, OrgNode[]>();
  for (const n of nodes) {
    const parent = n.parentId && ids.has(n.parentId) ? n.parentId : null;
    children.set(parent, [...(children.get(parent) ?? []), n]);
  }
  const out: TreeRow[] = [];
  const walk = (parent: string | null, depth: number) => {
    const kids = [...(children.get(parent) ?? [])].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    for (const n of kids) {
      const bs = budgets.get(n.id) ?? [];
      const level = bs.reduce<TreeRow["level"]>((w, b) => (rank[b.view.level] > rank[w] ? b.view.level : w), "none");
      const sp = spendOf.get(n.id);
      out.push({ node: n, depth, spend: sp?.cost ?? "0", requests: sp?.requests ?? 0, budgets: bs, level });
      walk(n.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}

/** Whether the children's spend adds up to the parent's (it does unless spend was stored before the tree existed). */
export function childrenSum(rows: TreeRow[], parentId: string): bigint {
  return rows.filter((r) => r.node.parentId === parentId).reduce((s, r) => s + toNano(r.spend), 0n);
}
