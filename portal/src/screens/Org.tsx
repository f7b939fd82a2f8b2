import { useState } from "react";
import type { Ctx } from "../App";
import { CREATE_BUDGET, CREATE_NODE, ORG_TREE } from "../gql";
import { buildTree, nodeScope, type LevelSpend, type NodeKind, type OrgNode, type TreeRow } from "../org";
import { periodWord, type BudgetStatus } from "../budgets";
import { resolveRange } from "../range";
import { Empty, ErrorBox, Field, useLoad, Money } from "../ui";
import { budgetErrors, budgetInput, type BudgetForm } from "../validate";

interface TreeData { orgTree: OrgNode[]; budgetStatuses: BudgetStatus[]; byWorkspace: LevelSpend; byTeam: LevelSpend; byProject: LevelSpend }

const CHILD: Record<NodeKind | "ROOT", NodeKind | null> = { ROOT: "WORKSPACE", WORKSPACE: "TEAM", TEAM: "PROJECT", PROJECT: null };

/** Workspaces, teams and projects with this month's spend and the status of the budgets set on each. */
export function Org({ ctx }: { ctx: Ctx }) {
  const t = ctx.tenant.id;
  const month = resolveRange("mtd", new Date());
  const { data, error, reload } = useLoad(
    () => ctx.api.request(ORG_TREE, { t, from: month.from.toISOString(), to: month.to.toISOString() }), [t]);
  const [adding, setAdding] = useState<{ kind: NodeKind; parent: OrgNode | null } | null>(null);
  const [budgetAt, setBudgetAt] = useState<OrgNode | null>(null);
  const isAdmin = ctx.tenant.role === "OWNER" || ctx.tenant.role === "ADMIN";
  const rows = data ? buildTree(data.orgTree, data, data.budgetStatuses) : [];
  return (
    <section aria-labelledby="org-h">
      <div className="row between">
        <h2 id="org-h">Organisation</h2>
        <div className="row">
          <button className="secondary" onClick={reload}>Refresh</button>
          {isAdmin && !adding && <button onClick={() => setAdding({ kind: "WORKSPACE", parent: null })}>New workspace</button>}
        </div>
      </div>
      <p className="small">Spend this month (from {month.from.toISOString().slice(0, 10)}) by where it was attributed when it was stored, and the budgets set on each node.</p>
      {adding && <NodeEditor ctx={ctx} kind={adding.kind} parent={adding.parent} onDone={(saved) => { setAdding(null); if (saved) reload(); }} />}
      {budgetAt && <NodeBudgetEditor ctx={ctx} node={budgetAt} onDone={(saved) => { setBudgetAt(null); if (saved) reload(); }} />}
      <ErrorBox error={error} />
      {data && rows.length === 0 && <Empty>No workspaces yet. Create one, add teams and projects, and put API keys in projects to see spend by level.</Empty>}
      <ul className="tree" aria-label="Organisation tree">
        {rows.map((r) => <TreeItem key={r.node.id} row={r} canManage={ctx.tenant.role !== "VIEWER"}
          onAdd={(kind) => setAdding({ kind, parent: r.node })} onBudget={() => setBudgetAt(r.node)} />)}
      </ul>
    </section>
  );
}

function TreeItem({ row, canManage, onAdd, onBudget }: { row: TreeRow; canManage: boolean; onAdd: (k: NodeKind) => void; onBudget: () => void }) {
  const n = row.node;
  const child = CHILD[n.kind];
  return (
    <li className="card" style={{ marginLeft: `${row.depth * 1.5}rem` }} data-testid="org-node" data-node={n.name} data-kind={n.kind} data-level={row.level}>
      <div className="row between">
        <span><span className="small">{n.kind.toLowerCase()}</span> <strong>{n.name}</strong>{n.archivedAt && <span className="badge revoked"> archived</span>}</span>
        <span className="small" data-testid="org-spend" data-value={row.spend}><Money value={row.spend} /> · {row.requests} requests</span>
      </div>
      {row.budgets.map(({ status: s, view: v }) => (
        <div key={s.budget.id} className="small status" data-testid="org-budget" data-budget={s.budget.name}>
          <span className={`badge ${v.level === "over" ? "revoked" : ""}`}>{s.budget.name}</span>{" "}
          <Money value={s.spent} /> of <Money value={s.budget.amount} /> ({v.percent}%) {periodWord(s.budget.period)}{s.budget.hard ? " · hard cap" : ""}
          {s.blocked && " · blocked"}
        </div>
      ))}
      {canManage && (
        <div className="row">
          <button className="secondary" aria-label={`Add a budget to ${n.name}`} onClick={onBudget}>Add budget</button>
          {child && <button className="secondary" aria-label={`Add a ${child.toLowerCase()} to ${n.name}`} onClick={() => onAdd(child)}>Add {child.toLowerCase()}</button>}
        </div>
      )}
    </li>
  );
}

function NodeEditor({ ctx, kind, parent, onDone }: { ctx: Ctx; kind: NodeKind; parent: OrgNode | null; onDone: (saved: boolean) => void }) {
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const what = kind.toLowerCase();
  return (
    <form className="card" aria-label={`New ${what}`} onSubmit={async (e) => {
      e.preventDefault();
      if (!name.trim()) { setError(new Error(`Give the ${what} a name.`)); return; }
      setBusy(true);
      setError(null);
      try {
        await ctx.api.request(CREATE_NODE, { t: ctx.tenant.id, k: kind, p: parent?.id ?? null, n: name.trim() });
        onDone(true);
      } catch (x) { setError(x); } finally { setBusy(false); }
    }}>
      <h3>New {what}{parent ? ` in ${parent.name}` : ""}</h3>
      <Field id="n-name" label="Name"><input id="n-name" value={name} onChange={(e) => setName(e.target.value)} /></Field>
      <ErrorBox error={error} />
      <div className="row"><button type="submit" disabled={busy}>{busy ? "Saving…" : `Create ${what}`}</button><button type="button" className="secondary" onClick={() => onDone(false)}>Cancel</button></div>
    </form>
  );
}

function NodeBudgetEditor({ ctx, node, onDone }: { ctx: Ctx; node: OrgNode; onDone: (saved: boolean) => void }) {
  const [f, setF] = useState<BudgetForm>({ name: `${node.name} budget`, scope: nodeScope(node.kind), nodeId: node.id, keyId: "", dimensionName: "",
    dimensionValue: "", period: "MONTH", amount: "", thresholds: "50, 80, 100", hard: false, rollover: false, webhookUrl: "" });
  const [errs, setErrs] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof BudgetForm>(k: K, v: BudgetForm[K]) => setF({ ...f, [k]: v });
  return (
    <form className="card" aria-label={`Budget for ${node.name}`} noValidate onSubmit={async (e) => {
      e.preventDefault();
      const fe = budgetErrors(f);
      setErrs(fe);
      if (Object.keys(fe).length) return;
      setBusy(true);
      setError(null);
      try { await ctx.api.request(CREATE_BUDGET, { t: ctx.tenant.id, in: budgetInput(f) }); onDone(true); } catch (x) { setError(x); } finally { setBusy(false); }
    }}>
      <h3>New budget for {node.kind.toLowerCase()} {node.name}</h3>
      <div className="grid">
        <Field id="nb-name" label="Name" error={errs.name}><input id="nb-name" value={f.name} onChange={(e) => set("name", e.target.value)} /></Field>
        <Field id="nb-amount" label="Amount (USD)" error={errs.amount}><input id="nb-amount" inputMode="decimal" value={f.amount} onChange={(e) => set("amount", e.target.value)} aria-invalid={!!errs.amount} /></Field>
        <Field id="nb-period" label="Period"><select id="nb-period" value={f.period} onChange={(e) => set("period", e.target.value as BudgetForm["period"])}>
          <option value="DAY">Day</option><option value="WEEK">Week (from Monday)</option><option value="MONTH">Month</option><option value="QUARTER">Quarter</option><option value="YEAR">Year</option>
        </select></Field>
        <Field id="nb-th" label="Alert thresholds (% of amount)" error={errs.thresholds}><input id="nb-th" value={f.thresholds} onChange={(e) => set("thresholds", e.target.value)} /></Field>
      </div>
      <label className="check"><input type="checkbox" checked={f.hard} onChange={(e) => set("hard", e.target.checked)} /> Hard cap: refuse calls that could exceed it</label>
      <label className="check"><input type="checkbox" checked={!!f.rollover} onChange={(e) => set("rollover", e.target.checked)} /> Roll the unused amount over to the next period</label>
      <ErrorBox error={error} />
      <div className="row"><button type="submit" disabled={busy}>{busy ? "Saving…" : "Save budget"}</button><button type="button" className="secondary" onClick={() => onDone(false)}>Cancel</button></div>
    </form>
  );
}
