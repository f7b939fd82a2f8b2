// Drill-down links: a dashboard row or bar names a group (a provider, model,
// key, team, project or dimension value); the event list opens filtered to
// it, and each event there explains its cost. The filter travels in the
// location hash (#/events?provider=openai&from=...), so a link can be shared.

/** What the event list is narrowed to; empty fields do not narrow. */
export interface EventQuery {
  provider: string;
  model: string;
  keyId: string;
  teamId: string;
  projectId: string;
  dimName: string;
  dimValue: string;
  /** RFC 3339; empty: the last 7 days. */
  from: string;
  to: string;
}

export const NO_FILTER: EventQuery = { provider: "", model: "", keyId: "", teamId: "", projectId: "", dimName: "", dimValue: "", from: "", to: "" };

const PARAMS: [keyof EventQuery, string][] = [
  ["provider", "provider"], ["model", "model"], ["keyId", "key"], ["teamId", "team"], ["projectId", "project"],
  ["dimName", "dim"], ["dimValue", "value"], ["from", "from"], ["to", "to"],
];

/** The event list's address for a query: "#/events?provider=openai". */
export function eventsHref(q: Partial<EventQuery>): string {
  const p = new URLSearchParams();
  for (const [field, name] of PARAMS) {
    const v = (q[field] ?? "").trim();
    if (v) p.set(name, v);
  }
  const s = p.toString();
  return "#/events" + (s ? "?" + s : "");
}

/** Reads the query of a location hash ("#/events?model=gpt-4o"); unknown parameters are ignored. */
export function parseEventsHash(hash: string): EventQuery {
  const i = hash.indexOf("?");
  const p = new URLSearchParams(i >= 0 ? hash.slice(i + 1) : "");
  const q = { ...NO_FILTER };
  for (const [field, name] of PARAMS) q[field] = (p.get(name) ?? "").trim();
  return q;
}

/** The API's SpendFilter for a query, or null when nothing narrows; a dimension needs a name and a value. */
export function spendFilter(q: EventQuery): Record<string, unknown> | null {
  const f: Record<string, unknown> = {};
  if (q.provider) f.providers = [q.provider];
  if (q.model) f.models = [q.model];
  if (q.keyId) f.keyIds = [q.keyId];
  if (q.teamId) f.teamIds = [q.teamId];
  if (q.projectId) f.projectIds = [q.projectId];
  if (q.dimName && q.dimValue) f.dimensions = [{ name: q.dimName, values: [q.dimValue] }];
  return Object.keys(f).length ? f : null;
}

/** Problems with a query before it is asked: a message per field, or {}. */
export function eventQueryErrors(q: EventQuery): Partial<Record<keyof EventQuery, string>> {
  const e: Partial<Record<keyof EventQuery, string>> = {};
  if (q.dimValue && !q.dimName) e.dimName = "Name the dimension the value belongs to.";
  if (q.dimName && !q.dimValue) e.dimValue = "Enter the value of the dimension to show.";
  const from = q.from ? Date.parse(q.from) : NaN;
  const to = q.to ? Date.parse(q.to) : NaN;
  if (q.from && isNaN(from)) e.from = "Not a time.";
  if (q.to && isNaN(to)) e.to = "Not a time.";
  if (!isNaN(from) && !isNaN(to) && to <= from) e.to = "The end must be after the start.";
  return e;
}

/**
 * The event-list query a dashboard group stands for: the group-by's field
 * set to the group's key. Grouped by DIMENSION the dimension's name comes
 * from the group-by ("dim:team"). Null for groups no filter can select
 * (statuses, operations, "Other").
 */
export function groupQuery(groupBy: string, key: string, range?: { from: string; to: string }): Partial<EventQuery> | null {
  const base: Partial<EventQuery> = range ? { from: range.from, to: range.to } : {};
  if (groupBy.startsWith("dim:")) return { ...base, dimName: groupBy.slice(4), dimValue: key };
  switch (groupBy) {
    case "provider": return key ? { ...base, provider: key } : null;
    case "model": return key ? { ...base, model: key } : null;
    case "key": return key ? { ...base, keyId: key } : null;
    case "team": return key ? { ...base, teamId: key } : null;
    case "project": return key ? { ...base, projectId: key } : null;
  }
  return null;
}
