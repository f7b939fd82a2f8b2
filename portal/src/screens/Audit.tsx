import { useState } from "react";
import type { Ctx } from "../App";
import { AUDIT } from "../gql";
import { Empty, ErrorBox, when } from "../ui";
import { useEffect } from "react";

interface Entry { id: string; actor: string; action: string; targetType: string; targetId: string; details: string; createdAt: string }
type Res = { auditLog: { edges: { node: Entry }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };

export function Audit({ ctx }: { ctx: Ctx }) {
  const [rows, setRows] = useState<Entry[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const load = async (after: string | null) => {
    try {
      const d = await ctx.api.request<Res>(AUDIT, { t: ctx.tenant.id, after });
      setRows((r) => [...(after ? r ?? [] : []), ...d.auditLog.edges.map((e) => e.node)]);
      setCursor(d.auditLog.pageInfo.endCursor);
      setMore(d.auditLog.pageInfo.hasNextPage);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => { load(null); }, [ctx.tenant.id]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <section aria-labelledby="audit-h">
      <h2 id="audit-h">Audit log</h2>
      <ErrorBox error={error} />
      {rows && rows.length === 0 && <Empty>Nothing has been changed in this tenant yet.</Empty>}
      {rows && rows.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead><tr><th>When</th><th>Actor</th><th>Action</th><th>Target</th><th>Details</th></tr></thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id}><td>{when(r.createdAt)}</td><td>{r.actor}</td><td>{r.action}</td><td>{r.targetType} <code className="small">{r.targetId}</code></td><td><code className="small details">{r.details}</code></td></tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {more && <button className="secondary" onClick={() => load(cursor)}>Load more</button>}
    </section>
  );
}
