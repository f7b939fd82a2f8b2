// Single sign-on in the browser: the state kept between leaving for the
// identity provider and coming back, and the callback's checks.

export const SSO_STATE_KEY = "spendgate.sso.state";
export const SSO_CALLBACK_PATH = "/sso/callback";

export interface Callback { code: string; state: string }

/**
 * Reads the provider's redirect (?code&state, or ?error) and checks the
 * state against the one this browser kept when it left: a redirect this
 * browser did not start (login CSRF) is refused before anything is sent.
 */
export function readCallback(search: string, kept: string | null): Callback | { error: string } {
  const q = new URLSearchParams(search);
  const err = q.get("error");
  if (err) return { error: `The identity provider refused the sign-in: ${q.get("error_description") || err}` };
  const code = q.get("code") ?? "";
  const state = q.get("state") ?? "";
  if (!code || !state) return { error: "The identity provider's answer lacks a code; start the sign-in again." };
  if (!kept || kept !== state) return { error: "This sign-in was not started in this browser (or was already used); start it again." };
  return { code, state };
}

/** The email's domain when it looks like an email worth asking about. */
export function domainOf(email: string): string {
  const m = /^[^@\s]+@([^@\s]+\.[^@\s]+)$/.exec(email.trim().toLowerCase());
  return m ? m[1] : "";
}

/** A group → role rule as the API has it: a tenant role, or a scoped role on a team or project. */
export interface GroupMapping { group: string; role?: string; scopedRole?: string | null; nodeId?: string | null }
export interface ScopeNode { id: string; kind: string; name: string; archivedAt?: string | null }

export const SCOPED_ROLES = ["PROJECT_MEMBER", "PROJECT_VIEWER", "TEAM_ADMIN"];
const kindOf = (scopedRole: string) => (scopedRole === "TEAM_ADMIN" ? "TEAM" : "PROJECT");

/** One line of the mapping text: Finance=VIEWER, or payments-devs=PROJECT_MEMBER@payments (the team's or project's name, or its id). */
export function formatMapping(m: GroupMapping, nodes: ScopeNode[]): string {
  if (!m.scopedRole) return `${m.group}=${m.role}`;
  const n = nodes.find((x) => x.id === m.nodeId);
  const unique = n && nodes.filter((x) => x.kind === n.kind && x.name === n.name).length === 1;
  return `${m.group}=${m.scopedRole}@${unique ? n.name : m.nodeId}`;
}

/** Parses the mapping text (one rule a line); a team or project is named by its name (when unique) or id. */
export function parseMappings(text: string, nodes: ScopeNode[]): { rules: GroupMapping[] } | { error: string } {
  const rules: GroupMapping[] = [];
  for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const i = line.lastIndexOf("=");
    if (i <= 0) return { error: `"${line}": write group=ROLE or group=SCOPED_ROLE@team-or-project` };
    const group = line.slice(0, i).trim();
    const right = line.slice(i + 1).trim();
    const at = right.indexOf("@");
    if (at < 0) { rules.push({ group, role: right.toUpperCase() }); continue; }
    const scopedRole = right.slice(0, at).trim().toUpperCase();
    const ref = right.slice(at + 1).trim();
    if (!SCOPED_ROLES.includes(scopedRole)) return { error: `"${line}": ${scopedRole} is not a scoped role (${SCOPED_ROLES.join(", ")})` };
    const kind = kindOf(scopedRole);
    const byID = nodes.find((n) => n.id === ref);
    const byName = nodes.filter((n) => n.kind === kind && n.name === ref && !n.archivedAt);
    if (!byID && byName.length > 1) return { error: `"${line}": several ${kind.toLowerCase()}s are named ${ref}; use its id` };
    const node = byID ?? byName[0];
    // An unknown id is sent as it is: the API says what is wrong with it.
    if (!node && !/^[0-9a-f-]{36}$/i.test(ref)) return { error: `"${line}": no ${kind.toLowerCase()} named ${ref}` };
    rules.push({ group, scopedRole, nodeId: node ? node.id : ref });
  }
  return { rules };
}
