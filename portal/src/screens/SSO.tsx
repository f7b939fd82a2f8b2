import { useEffect, useState } from "react";
import type { Ctx } from "../App";
import { CONFIGURE_SSO, CREATE_SCIM_TOKEN, DELETE_SSO, GET_TENANT_SSO, REVOKE_SCIM_TOKEN, ROTATE_SCIM_TOKEN, SET_MFA_REQUIRED, type ResultOf, type VariablesOf } from "../gql";
import type { TenantSsoInput, TypedDocumentString } from "../gql/graphql";
import { formatMapping, parseMappings, SCOPED_ROLES, type GroupMapping } from "../sso";
import { Empty, ErrorBox, Field, useLoad, when } from "../ui";

const ROLES = ["VIEWER", "ADMIN", "OWNER"];
const list = (s: string) => s.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);

/** Owners: the tenant's identity provider, SCIM tokens and two-factor requirement. */
export function SSO({ ctx }: { ctx: Ctx }) {
  const t = ctx.tenant.id;
  const { data, error, reload } = useLoad(() => ctx.api.request(GET_TENANT_SSO, { t }), [t]);
  const [f, setF] = useState({ enabled: true, displayName: "", issuerUrl: "", clientId: "", clientSecret: "", scopes: "openid email profile offline_access",
    domains: "", groupsClaim: "groups", mappings: "", defaultRole: "", jit: true, ssoRequired: false, breakGlass: "" });
  const [actErr, setActErr] = useState<unknown>(null);
  const [saved, setSaved] = useState("");
  const [secret, setSecret] = useState<{ secret: string; baseUrl: string } | null>(null);
  const [tokenName, setTokenName] = useState("");
  const [pick, setPick] = useState({ group: "", role: SCOPED_ROLES[0], node: "" });
  const c = data?.tenantSSO;
  const nodes = data?.orgTree ?? [];
  useEffect(() => {
    if (!c) return;
    setF({ enabled: c.enabled, displayName: c.displayName, issuerUrl: c.issuerUrl, clientId: c.clientId, clientSecret: "", scopes: c.scopes.join(" "),
      domains: c.allowedDomains.join(", "), groupsClaim: c.groupsClaim, mappings: c.groupMappings.map((m) => formatMapping(m, nodes)).join("\n"),
      defaultRole: c.defaultRole ?? "", jit: c.jitProvisioning, ssoRequired: c.ssoRequired, breakGlass: c.breakGlassUserId ?? "" });
  }, [c]); // eslint-disable-line react-hooks/exhaustive-deps -- nodes arrive with c
  if (ctx.tenant.role !== "OWNER") {
    return <section aria-labelledby="sso-h"><h2 id="sso-h">Sign-in &amp; SSO</h2><Empty>Only owners of this tenant manage its sign-in.</Empty></section>;
  }
  // Every document here takes the tenant as $t; v is the rest of its variables.
  const run = async <D extends TypedDocumentString<any, any>>(q: D, v: Omit<VariablesOf<D>, "t">): Promise<ResultOf<D> | null> => { // eslint-disable-line @typescript-eslint/no-explicit-any
    setActErr(null);
    setSaved("");
    try { const d = await ctx.api.send(q, { t, ...v } as VariablesOf<D>); reload(); return d; } catch (e) { setActErr(e); return null; }
  };
  const pickable = nodes.filter((n) => !n.archivedAt && n.kind === (pick.role === "TEAM_ADMIN" ? "TEAM" : "PROJECT"));
  return (
    <section aria-labelledby="sso-h">
      <h2 id="sso-h">Sign-in &amp; SSO</h2>
      <ErrorBox error={error || actErr} />
      {saved && <p role="status" className="small" data-testid="sso-saved">{saved}</p>}
      <form className="card" aria-label="Single sign-on" onSubmit={async (e) => {
        e.preventDefault();
        const parsed = parseMappings(f.mappings, nodes);
        if ("error" in parsed) { setActErr(new Error(parsed.error)); return; }
        // Role names are typed in free text: the API's Role enum checks them (its message is shown).
        const input: Omit<TenantSsoInput, "groupMappings" | "defaultRole"> & { groupMappings: GroupMapping[]; defaultRole: string | null } = { enabled: f.enabled, displayName: f.displayName.trim(), issuerUrl: f.issuerUrl.trim(), clientId: f.clientId.trim(),
          scopes: list(f.scopes), allowedDomains: list(f.domains), groupsClaim: f.groupsClaim.trim() || null, groupMappings: parsed.rules,
          defaultRole: f.defaultRole || null, jitProvisioning: f.jit, ssoRequired: f.ssoRequired, breakGlassUserId: f.breakGlass.trim() || null };
        if (f.clientSecret) input.clientSecret = f.clientSecret;
        if (await run(CONFIGURE_SSO, { in: input as TenantSsoInput })) { setSaved("Single sign-on saved."); setF({ ...f, clientSecret: "" }); }
      }}>
        <h3>OpenID Connect provider</h3>
        {c && <p className="small">Register this redirect URI at the provider: <code data-testid="redirect-uri">{c.redirectUri}</code></p>}
        <div className="grid">
          <Field id="sso-name" label="Button label (Sign in with …)"><input id="sso-name" required value={f.displayName} onChange={(e) => setF({ ...f, displayName: e.target.value })} /></Field>
          <Field id="sso-issuer" label="Issuer URL"><input id="sso-issuer" type="url" required value={f.issuerUrl} onChange={(e) => setF({ ...f, issuerUrl: e.target.value })} /></Field>
          <Field id="sso-client" label="Client ID"><input id="sso-client" required value={f.clientId} onChange={(e) => setF({ ...f, clientId: e.target.value })} /></Field>
          <Field id="sso-secret" label={c?.clientSecretSet ? "Client secret (stored; type to replace)" : "Client secret"}>
            <input id="sso-secret" type="password" autoComplete="off" value={f.clientSecret} onChange={(e) => setF({ ...f, clientSecret: e.target.value })} />
          </Field>
          <Field id="sso-scopes" label="Scopes"><input id="sso-scopes" value={f.scopes} onChange={(e) => setF({ ...f, scopes: e.target.value })} /></Field>
          <Field id="sso-domains" label="Allowed email domains"><input id="sso-domains" placeholder="example.com" value={f.domains} onChange={(e) => setF({ ...f, domains: e.target.value })} /></Field>
          <Field id="sso-claim" label="Groups claim"><input id="sso-claim" value={f.groupsClaim} onChange={(e) => setF({ ...f, groupsClaim: e.target.value })} /></Field>
          <Field id="sso-default" label="Role without a mapped group">
            <select id="sso-default" value={f.defaultRole} onChange={(e) => setF({ ...f, defaultRole: e.target.value })}>
              <option value="">No access</option>{ROLES.map((r) => <option key={r}>{r}</option>)}
            </select>
          </Field>
          <Field id="sso-map" label="Group → role, one per line (Finance=VIEWER, devs=PROJECT_MEMBER@payments)">
            <textarea id="sso-map" rows={4} value={f.mappings} onChange={(e) => setF({ ...f, mappings: e.target.value })} />
          </Field>
          <fieldset aria-label="Add a team or project rule">
            <legend className="small">Add a team or project rule</legend>
            <input aria-label="Group" placeholder="group" value={pick.group} onChange={(e) => setPick({ ...pick, group: e.target.value })} />
            <select aria-label="Scoped role" value={pick.role} onChange={(e) => setPick({ ...pick, role: e.target.value, node: "" })}>
              {SCOPED_ROLES.map((r) => <option key={r}>{r}</option>)}
            </select>
            <select aria-label="Team or project" value={pick.node} onChange={(e) => setPick({ ...pick, node: e.target.value })}>
              <option value="">choose…</option>{pickable.map((n) => <option key={n.id} value={n.id}>{n.name}</option>)}
            </select>
            <button type="button" className="secondary" disabled={!pick.group.trim() || !pick.node} onClick={() => {
              const line = formatMapping({ group: pick.group.trim(), scopedRole: pick.role, nodeId: pick.node }, nodes);
              setF({ ...f, mappings: f.mappings.trim() ? `${f.mappings.trim()}\n${line}` : line });
              setPick({ ...pick, group: "", node: "" });
            }}>Add rule</button>
          </fieldset>
          <Field id="sso-breakglass" label="Break-glass owner (user id; may still use a password)">
            <input id="sso-breakglass" value={f.breakGlass} onChange={(e) => setF({ ...f, breakGlass: e.target.value })} />
          </Field>
        </div>
        <label className="check"><input id="sso-enabled" type="checkbox" checked={f.enabled} onChange={(e) => setF({ ...f, enabled: e.target.checked })} /> Enabled</label>
        <label className="check"><input id="sso-jit" type="checkbox" checked={f.jit} onChange={(e) => setF({ ...f, jit: e.target.checked })} /> Create users on first sign-in</label>
        <label className="check"><input id="sso-required" type="checkbox" checked={f.ssoRequired} onChange={(e) => setF({ ...f, ssoRequired: e.target.checked })} /> Require single sign-on (passwords refused, except the break-glass owner)</label>
        <div className="actions">
          <button type="submit">Save single sign-on</button>
          {c && <button type="button" className="secondary" onClick={async () => { if (confirm("Remove single sign-on? Its sessions end.")) await run(DELETE_SSO, {}); }}>Remove</button>}
        </div>
      </form>

      <div className="card" aria-label="Two-factor authentication requirement">
        <h3>Two-factor authentication</h3>
        <label className="check">
          <input id="mfa-required" type="checkbox" checked={!!data?.tenant.mfaRequired}
            onChange={async (e) => { if (await run(SET_MFA_REQUIRED, { r: e.target.checked })) setSaved(e.target.checked ? "Two-factor authentication is required." : "Two-factor authentication is optional."); }} />
          {" "}Require an authenticator app for password sign-ins (turn it on for your own account first, under Account)
        </label>
      </div>

      <div className="card" aria-label="SCIM provisioning">
        <h3>SCIM provisioning</h3>
        <p className="small">Give your identity provider (Okta, Entra ID) the SCIM base URL and a token; it then adds, updates and deactivates members.</p>
        <form className="inline" aria-label="Create SCIM token" onSubmit={async (e) => {
          e.preventDefault();
          const d = await run(CREATE_SCIM_TOKEN, { n: tokenName.trim() });
          if (d) { setSecret(d.createSCIMToken); setTokenName(""); }
        }}>
          <Field id="scim-name" label="Token name"><input id="scim-name" required value={tokenName} onChange={(e) => setTokenName(e.target.value)} /></Field>
          <button type="submit">Create token</button>
        </form>
        {secret && (
          <div className="secret" role="status">
            <p>Copy the token now: it is shown only once.</p>
            <p>Base URL: <code data-testid="scim-base">{secret.baseUrl}</code></p>
            <p>Token: <code data-testid="scim-secret">{secret.secret}</code></p>
            <button className="secondary" onClick={() => setSecret(null)}>Done</button>
          </div>
        )}
        {data && data.scimTokens.length === 0 && <Empty>No SCIM tokens yet.</Empty>}
        {data && data.scimTokens.length > 0 && (
          <div className="table-wrap">
            <table>
              <thead><tr><th>Name</th><th>Prefix</th><th>Created</th><th>Last used</th><th>Status</th><th></th></tr></thead>
              <tbody>
                {data.scimTokens.map((k) => (
                  <tr key={k.id}>
                    <td>{k.name}</td><td><code>{k.prefix}</code></td><td>{when(k.createdAt)}</td><td>{when(k.lastUsedAt)}</td>
                    <td>{k.revokedAt ? "revoked" : "active"}</td>
                    <td>{!k.revokedAt && <>
                      <button className="secondary" onClick={async () => { if (!confirm("Rotate this token? The old one stops.")) return; const d = await run(ROTATE_SCIM_TOKEN, { id: k.id }); if (d) setSecret(d.rotateSCIMToken); }}>Rotate</button>
                      <button className="secondary" onClick={async () => { if (confirm("Revoke this token?")) await run(REVOKE_SCIM_TOKEN, { id: k.id }); }}>Revoke</button>
                    </>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
    </section>
  );
}
