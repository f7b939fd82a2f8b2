import { useRef, useState } from "react";
import type { Ctx } from "../App";
import { API_KEYS, CREATE_KEY, REVOKE_KEY, ROTATE_KEY } from "../gql";
import { Empty, ErrorBox, Field, useLoad, when } from "../ui";
import { parseDims, policySummary, splitList, type KeyPolicy } from "../validate";

interface Key {
  id: string; name: string; prefix: string; status: "ACTIVE" | "REVOKED"; createdAt: string;
  lastUsedAt: string | null; revokedAt: string | null; expiresAt: string | null; rotatedFromId: string | null;
  policy: KeyPolicy;
}
type Conn = { apiKeys: { edges: { node: Key }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };
type Filter = "" | "ACTIVE" | "REVOKED";

export function Keys({ ctx }: { ctx: Ctx }) {
  const t = ctx.tenant.id;
  const canManage = ctx.tenant.role !== "VIEWER";
  const [filter, setFilter] = useState<Filter>("");
  const [more, setMore] = useState<Key[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const { data, error, reload } = useLoad(async () => {
    const d = await ctx.api.request(API_KEYS, { t, status: filter || null });
    setMore([]);
    setCursor(d.apiKeys.pageInfo.hasNextPage ? d.apiKeys.pageInfo.endCursor : null);
    return d;
  }, [t, filter]);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const keys = [...(data?.apiKeys.edges.map((e) => e.node) ?? []), ...more];
  const nameOf = (id: string | null) => keys.find((k) => k.id === id)?.prefix;

  async function act(q: typeof ROTATE_KEY | typeof REVOKE_KEY, k: Key, question: string) {
    if (!window.confirm(question)) return;
    setActionError(null);
    try {
      const d = await ctx.api.send(q, { t, id: k.id });
      if ("rotateAPIKey" in d) setSecret({ name: d.rotateAPIKey.key.name, secret: d.rotateAPIKey.secret });
      reload();
    } catch (e) {
      setActionError(e);
    }
  }

  return (
    <section aria-labelledby="keys-h">
      <h2 id="keys-h">API keys</h2>
      <p className="small">Callers send a key as the x-spendgate-key header through the gateway; its policy decides which providers, models and dimensions it may use.</p>
      {secret && <SecretPanel {...secret} onDone={() => setSecret(null)} />}
      {canManage && !secret && <CreateKey ctx={ctx} onCreated={(name, s) => { setSecret({ name, secret: s }); reload(); }} />}
      <div className="row between">
        <h3>Keys</h3>
        <label className="row small">Show
          <select aria-label="Show keys" value={filter} onChange={(e) => setFilter(e.target.value as Filter)}>
            <option value="">all</option><option value="ACTIVE">active</option><option value="REVOKED">revoked</option>
          </select>
        </label>
      </div>
      <ErrorBox error={error || actionError} />
      {data && keys.length === 0 && (filter ? <Empty>No {filter.toLowerCase()} keys.</Empty> : <Empty>No API keys yet.{canManage ? " Create one above and send traffic through the gateway with it." : ""}</Empty>)}
      {keys.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead><tr><th>Name</th><th>Prefix</th><th>Status</th><th>Policy</th><th>Created</th><th>Last used</th>{canManage && <th><span className="sr-only">Actions</span></th>}</tr></thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id}>
                  <td>{k.name}{k.rotatedFromId && <div className="small">replaces {nameOf(k.rotatedFromId) ?? "a rotated key"}</div>}</td>
                  <td><code>{k.prefix}</code></td>
                  <td>
                    <span className={`badge ${k.status.toLowerCase()}`}>{k.status.toLowerCase()}</span>
                    {k.status === "REVOKED" && k.revokedAt && <div className="small">{when(k.revokedAt)}</div>}
                    {k.status === "ACTIVE" && k.expiresAt && <div className="small">expires {when(k.expiresAt)}</div>}
                  </td>
                  <td className="small">{policySummary(k.policy)}</td>
                  <td>{when(k.createdAt)}</td>
                  <td>{when(k.lastUsedAt)}</td>
                  {canManage && (
                    <td className="actions">
                      {k.status === "ACTIVE" && <>
                        <button className="secondary" onClick={() => act(ROTATE_KEY, k, `Rotate "${k.name}" (${k.prefix})? A new secret replaces it and the old one stops working.`)} aria-label={`Rotate ${k.name}`}>Rotate</button>
                        <button className="danger" onClick={() => act(REVOKE_KEY, k, `Revoke "${k.name}" (${k.prefix})? Calls with it are refused from now on.`)} aria-label={`Revoke ${k.name}`}>Revoke</button>
                      </>}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor && <button className="secondary" onClick={async () => {
        try {
          const d = await ctx.api.request(API_KEYS, { t, status: filter || null, after: cursor });
          setMore((m) => [...m, ...d.apiKeys.edges.map((e) => e.node)]);
          setCursor(d.apiKeys.pageInfo.hasNextPage ? d.apiKeys.pageInfo.endCursor : null);
        } catch (e) { setActionError(e); }
      }}>Load more</button>}
    </section>
  );
}

/** Copies text: the Clipboard API where the page may use it, else the selection and execCommand (plain-HTTP origins). */
async function copyText(text: string, el: HTMLElement | null): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the selection
  }
  if (!el) return false;
  const range = document.createRange();
  range.selectNodeContents(el);
  const sel = window.getSelection();
  sel?.removeAllRanges();
  sel?.addRange(range);
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  }
}

export function SecretPanel({ name, secret, onDone }: { name: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  const ref = useRef<HTMLElement>(null);
  return (
    <div className="secret" role="region" aria-label="New key secret">
      <p><strong>Key “{name}” is ready.</strong> Copy the secret now: it is shown only once and cannot be recovered.</p>
      <code data-testid="secret" ref={ref}>{secret}</code>
      <div className="row">
        <button onClick={async () => setCopied(await copyText(secret, ref.current))}>{copied ? "Copied" : "Copy secret"}</button>
        <button className="secondary" onClick={onDone}>I saved it</button>
        <span role="status" className="small">{copied === false ? "Copying was refused: the secret is selected, press Ctrl+C (⌘C)." : copied ? "Copied to the clipboard." : ""}</span>
      </div>
    </div>
  );
}

function CreateKey({ ctx, onCreated }: { ctx: Ctx; onCreated: (name: string, secret: string) => void }) {
  const [f, setF] = useState({ name: "", providers: "", models: "", required: "", defaults: "", priced: false, stored: false, expires: "" });
  const [err, setErr] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const set = (k: keyof typeof f) => (e: React.ChangeEvent<HTMLInputElement>) => setF({ ...f, [k]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  return (
    <form
      className="card"
      aria-label="Create API key"
      onSubmit={async (e) => {
        e.preventDefault();
        const fe: Record<string, string> = {};
        if (!f.name.trim()) fe.name = "Give the key a name.";
        let dims: { name: string; value: string }[] = [];
        try { dims = parseDims(f.defaults); } catch (x) { fe.defaults = (x as Error).message; }
        if (f.expires && Date.parse(f.expires + "T00:00:00Z") <= Date.now()) fe.expires = "Pick a day in the future, or leave it empty for a key that does not expire.";
        setErr(fe);
        if (Object.keys(fe).length) return;
        setError(null);
        try {
          const d = await ctx.api.request(CREATE_KEY, {
            t: ctx.tenant.id,
            n: f.name.trim(),
            p: { allowedProviders: splitList(f.providers), allowedModels: splitList(f.models), requiredDimensions: splitList(f.required), defaultDimensions: dims, requirePricedModels: f.priced, injectProviderCredentials: f.stored },
            e: f.expires ? new Date(f.expires + "T00:00:00Z").toISOString() : null,
          });
          setF({ name: "", providers: "", models: "", required: "", defaults: "", priced: false, stored: false, expires: "" });
          onCreated(d.createAPIKey.key.name, d.createAPIKey.secret);
        } catch (x) {
          setError(x);
        }
      }}
    >
      <h3>Create a key</h3>
      <div className="grid">
        <Field id="key-name" label="Name" error={err.name}><input id="key-name" value={f.name} onChange={set("name")} aria-invalid={!!err.name} /></Field>
        <Field id="key-providers" label="Allowed providers (comma separated, empty = all)"><input id="key-providers" value={f.providers} onChange={set("providers")} placeholder="openai, anthropic" /></Field>
        <Field id="key-models" label="Allowed models (globs)"><input id="key-models" value={f.models} onChange={set("models")} placeholder="gpt-4o*, claude-*" /></Field>
        <Field id="key-required" label="Required dimensions"><input id="key-required" value={f.required} onChange={set("required")} placeholder="team" /></Field>
        <Field id="key-defaults" label="Default dimensions (name=value)" error={err.defaults}><input id="key-defaults" value={f.defaults} onChange={set("defaults")} placeholder="env=prod" aria-invalid={!!err.defaults} /></Field>
        <Field id="key-expires" label="Expires (optional)" error={err.expires}><input id="key-expires" type="date" value={f.expires} onChange={set("expires")} aria-invalid={!!err.expires} /></Field>
      </div>
      <label className="check"><input type="checkbox" checked={f.priced} onChange={set("priced")} /> Refuse models without a known price</label>
      <label className="check"><input type="checkbox" checked={f.stored} onChange={set("stored")} /> Use the tenant’s stored provider keys (Reconciliation → data-plane key): the app needs only this spendgate key</label>
      <ErrorBox error={error} />
      <button type="submit">Create key</button>
    </form>
  );
}
