// The audit log as people read it: details as "field: value" pairs with
// money in dollars (the API records nano-USD), ids named where the tenant's
// keys, budgets, members, org nodes or overrides know them, and the filter
// the API takes.
import { formatCents, fromNano } from "./money";

export interface AuditEntry { id: string; actor: string; action: string; targetType: string; targetId: string; details: string; createdAt: string }

/** id → human name (key name, budget name, member email, org node name). */
export type Names = Map<string, string>;

export interface DetailItem {
  field: string;
  text: string;
  /** The raw value, when text differs (an exact amount, an id). */
  title?: string;
}

const NANO_SUFFIX = /_nano_usd$/;

/** One detail value as text: nano-USD fields in dollars, known ids by name, lists joined, objects as compact JSON. */
function valueText(field: string, v: unknown, names: Names): DetailItem {
  if (NANO_SUFFIX.test(field) && (typeof v === "number" || (typeof v === "string" && /^-?\d+$/.test(v)))) {
    const exact = fromNano(BigInt(v));
    return { field: field.replace(NANO_SUFFIX, ""), text: formatCents(exact), title: "$" + exact + " exactly" };
  }
  if (typeof v === "string") {
    const name = names.get(v);
    return name ? { field, text: name, title: v } : { field, text: v };
  }
  if (Array.isArray(v)) {
    const parts = v.map((x) => (typeof x === "string" ? names.get(x) ?? x : typeof x === "object" ? JSON.stringify(x) : String(x)));
    return { field, text: parts.length ? parts.join(", ") : "(none)" };
  }
  if (v === null) return { field, text: "—" };
  if (typeof v === "object") {
    const inner = Object.entries(v as Record<string, unknown>).map(([k, x]) => { const d = valueText(k, x, names); return `${d.field}=${d.text}`; });
    return { field, text: inner.join(", ") || "(none)" };
  }
  return { field, text: String(v) };
}

/** The details JSON as items in the order recorded; text that is not a JSON object comes back as one item. */
export function auditDetails(details: string, names: Names): DetailItem[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(details);
  } catch {
    return details.trim() ? [{ field: "details", text: details }] : [];
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return [{ field: "details", text: details }];
  return Object.entries(parsed as Record<string, unknown>).map(([k, v]) => valueText(k, v, names));
}

/** "api_key.create" → "API key created". Unknown actions read as they are, dots as spaces. */
export function actionText(action: string): string {
  const [area, ...rest] = action.split(".");
  const verb = rest.join(" ");
  const areaText: Record<string, string> = {
    api_key: "API key", budget: "Budget", member: "Member", pricing_override: "Price override", role: "Role", tenant: "Tenant",
    scim_token: "SCIM token", sso: "Single sign-on", user: "User", azure_deployment: "Azure deployment", scim: "SCIM",
    attribution_mapping: "Attribution mapping", org_node: "Org node",
  };
  const verbs: Record<string, string> = {
    create: "created", update: "updated", delete: "deleted", revoke: "revoked", rotate: "rotated", add: "added", remove: "removed",
    set: "set", configure: "configured", rename: "renamed", grant: "granted", policy: "policy changed", role: "role changed",
  };
  return `${areaText[area] ?? area.replace(/_/g, " ")} ${verbs[verb] ?? verb.replace(/[._]/g, " ")}`.trim();
}

/** Action areas the filter offers (the prefix before the first dot, matched by the API with a trailing dot). */
export const ACTION_AREAS: [string, string][] = [
  ["", "Any action"], ["api_key.", "API keys"], ["budget.", "Budgets"], ["member.", "Members"], ["role.", "Roles"],
  ["pricing_override.", "Price overrides"], ["tenant.", "Tenant"], ["sso.", "Single sign-on"], ["scim", "SCIM"], ["user.", "Users"],
  ["azure_deployment.", "Azure deployments"], ["attribution_mapping.", "Attribution mappings"],
];

export interface AuditFilterForm { area: string; actor: string; from: string; to: string }

/** The API's AuditFilter for the form (days are UTC, to inclusive), or an error message. */
export function auditFilter(f: AuditFilterForm): { filter: Record<string, unknown> | null; error: string } {
  const out: Record<string, unknown> = {};
  // "scim" covers scim.group.* and scim_token.*: two areas.
  if (f.area === "scim") out.actions = ["scim.", "scim_token."];
  else if (f.area) out.actions = [f.area];
  if (f.actor.trim()) out.actor = f.actor.trim();
  const day = (s: string) => {
    const d = new Date(s + "T00:00:00Z");
    return /^\d{4}-\d{2}-\d{2}$/.test(s) && !isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s ? d : null;
  };
  if (f.from) {
    const d = day(f.from);
    if (!d) return { filter: null, error: "Pick a valid start day." };
    out.from = d.toISOString();
  }
  if (f.to) {
    const d = day(f.to);
    if (!d) return { filter: null, error: "Pick a valid end day." };
    out.to = new Date(d.getTime() + 24 * 3600_000).toISOString();
  }
  if (out.from && out.to && (out.to as string) <= (out.from as string)) return { filter: null, error: "The end day must not be before the start day." };
  return { filter: Object.keys(out).length ? out : null, error: "" };
}
