import { useState } from "react";
import type { Ctx } from "../App";
import { ADD_MEMBER, MEMBERS, REMOVE_MEMBER, UPDATE_ROLE, type ResultOf, type VariablesOf } from "../gql";
import type { Role, TypedDocumentString } from "../gql/graphql";
import { Empty, ErrorBox, Field, useLoad, when } from "../ui";

const ROLES: Role[] = ["VIEWER", "ADMIN", "OWNER"];

export function Members({ ctx }: { ctx: Ctx }) {
  const t = ctx.tenant.id;
  const canManage = ctx.tenant.role !== "VIEWER";
  const { data, error, reload } = useLoad(() => ctx.api.request(MEMBERS, { t }), [t]);
  const [f, setF] = useState<{ email: string; name: string; password: string; role: Role }>({ email: "", name: "", password: "", role: "VIEWER" });
  const [actErr, setActErr] = useState<unknown>(null);
  // Every document here takes the tenant as $t; v is the rest of its variables.
  const run = async <D extends TypedDocumentString<any, any>>(q: D, v: Omit<VariablesOf<D>, "t">): Promise<ResultOf<D> | null> => { // eslint-disable-line @typescript-eslint/no-explicit-any
    setActErr(null);
    try { const d = await ctx.api.send(q, { t, ...v } as VariablesOf<D>); reload(); return d; } catch (e) { setActErr(e); return null; }
  };
  const members = data?.members.edges.map((e) => e.node) ?? [];
  return (
    <section aria-labelledby="members-h">
      <h2 id="members-h">Users and roles</h2>
      <p className="small">Viewers read; admins manage keys, budgets, pricing and members; owners do everything.</p>
      {canManage && (
        <form className="card" aria-label="Add member" onSubmit={async (e) => {
          e.preventDefault();
          if (await run(ADD_MEMBER, { e: f.email.trim(), n: f.name.trim() || null, p: f.password || null, r: f.role })) setF({ email: "", name: "", password: "", role: "VIEWER" });
        }}>
          <h3>Add a member</h3>
          <div className="grid">
            <Field id="m-email" label="Email"><input id="m-email" type="email" required value={f.email} onChange={(e) => setF({ ...f, email: e.target.value })} /></Field>
            <Field id="m-name" label="Name (new users)"><input id="m-name" value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} /></Field>
            <Field id="m-pass" label="Initial password (new users)"><input id="m-pass" type="password" autoComplete="new-password" value={f.password} onChange={(e) => setF({ ...f, password: e.target.value })} /></Field>
            <Field id="m-role" label="Role"><select id="m-role" value={f.role} onChange={(e) => setF({ ...f, role: e.target.value as Role })}>{ROLES.map((r) => <option key={r}>{r}</option>)}</select></Field>
          </div>
          <button type="submit">Add member</button>
        </form>
      )}
      <ErrorBox error={error || actErr} />
      {data && members.length === 0 && <Empty>No members.</Empty>}
      {members.length > 0 && (
        <div className="table-wrap"><table>
          <thead><tr><th>User</th><th>Role</th><th>Member since</th>{canManage && <th><span className="sr-only">Actions</span></th>}</tr></thead>
          <tbody>{members.map((m) => (
            <tr key={m.user.id}>
              <td>{m.user.name} <span className="small">{m.user.email}</span>
                {m.suspended && <> <span className="badge revoked" title="Deactivated by the identity provider (SCIM)">suspended</span></>}</td>
              <td>{canManage ? (
                <select aria-label={`Role of ${m.user.email}`} value={m.role} onChange={(e) => run(UPDATE_ROLE, { u: m.user.id, r: e.target.value as Role })}>
                  {ROLES.map((r) => <option key={r}>{r}</option>)}
                </select>) : m.role}</td>
              <td>{when(m.createdAt)}</td>
              {canManage && <td><button className="danger" aria-label={`Remove ${m.user.email}`} onClick={() => window.confirm(`Remove ${m.user.email}?`) && run(REMOVE_MEMBER, { u: m.user.id })}>Remove</button></td>}
            </tr>))}
          </tbody>
        </table></div>
      )}
    </section>
  );
}
