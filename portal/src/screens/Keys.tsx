import { useState } from "react";
import type { Ctx } from "../App";
import { API_KEYS, CREATE_KEY, REVOKE_KEY, ROTATE_KEY } from "../gql";
import { Empty, ErrorBox, Field, useLoad, when } from "../ui";
import { parseDims, splitList } from "../validate";

interface Key {
  id: string; name: string; prefix: string; status: "ACTIVE" | "REVOKED"; createdAt: string;
  lastUsedAt: string | null; revokedAt: string | null; expiresAt: string | null;
  policy: { allowedProviders: string[]; allowedModels: string[]; requiredDimensions: string[]; defaultDimensions: { name: string; value: string }[]; requirePricedModels: boolean };
}
type Conn = { apiKeys: { edges: { node: Key }[] } };

export function Keys({ ctx }: { ctx: Ctx }) {
  const t = ctx.tenant.id;
  const canManage = ctx.tenant.role !== "VIEWER";
  const { data, error, reload } = useLoad(() => ctx.api.request<Conn>(API_KEYS, { t }), [t]);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const keys = data?.apiKeys.edges.map((e) => e.node) ?? [];

  async function act(q: string, k: Key, label: string) {
    if (!window.confirm(`${label} key "${k.name}" (${k.prefix})?`)) return;
    setActionError(null);
    try {
      const d = await ctx.api.request<{ rotateAPIKey?: { secret: string; key: Key } }>(q, { t, id: k.id });
      if (d.rotateAPIKey) setSecret({ name: d.rotateAPIKey.key.name, secret: d.rotateAPIKey.secret });
      reload();
    } catch (e) {
      setActionError(e);
    }
  }

  return (
    <section aria-labelledby="keys-h">
      <h2 id="keys-h">API keys</h2>
      {secret && <SecretPanel {...secret} onDone={() => setSecret(null)} />}
      {canManage && !secret && <CreateKey ctx={ctx} onCreated={(name, s) => { setSecret({ name, secret: s }); reload(); }} />}
      <ErrorBox error={error || actionError} />
      {data && keys.length === 0 && <Empty>No API keys yet. Create one above and send traffic through the gateway with it.</Empty>}
      {keys.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead><tr><th>Name</th><th>Prefix</th><th>Status</th><th>Policy</th><th>Created</th><th>Last used</th>{canManage && <th><span className="sr-only">Actions</span></th>}</tr></thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id}>
                  <td>{k.name}</td>
                  <td><code>{k.prefix}</code></td>
                  <td><span className={`badge ${k.status.toLowerCase()}`}>{k.status.toLowerCase()}</span></td>
                  <td className="small">{policySummary(k.policy)}</td>
                  <td>{when(k.createdAt)}</td>
                  <td>{when(k.lastUsedAt)}</td>
                  {canManage && (
                    <td className="actions">
                      {k.status === "ACTIVE" && <>
                        <button className="secondary" onClick={() => act(ROTATE_KEY, k, "Rotate")} aria-label={`Rotate ${k.name}`}>Rotate</button>
                        <button className="danger" onClick={() => act(REVOKE_KEY, k, "Revoke")} aria-label={`Revoke ${k.name}`}>Revoke</button>
                      </>}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function policySummary(p: Key["policy"]): string {
  const parts: string[] = [];
  if (p.allowedProviders.length) parts.push("providers: " + p.allowedProviders.join(", "));
  if (p.allowedModels.length) parts.push("models: " + p.allowedModels.join(", "));
  if (p.requiredDimensions.length) parts.push("requires: " + p.requiredDimensions.join(", "));
  if (p.defaultDimensions.length) parts.push("defaults: " + p.defaultDimensions.map((d) => `${d.name}=${d.value}`).join(", "));
  if (p.requirePricedModels) parts.push("priced models only");
  return parts.join("; ") || "anything";
}

function SecretPanel({ name, secret, onDone }: { name: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="secret" role="region" aria-label="New key secret">
      <p><strong>Key “{name}” created.</strong> Copy the secret now: it is shown only once.</p>
      <code data-testid="secret">{secret}</code>
      <div className="row">
        <button onClick={async () => { try { await navigator.clipboard.writeText(secret); setCopied(true); } catch { setCopied(false); } }}>
          {copied ? "Copied" : "Copy secret"}
        </button>
        <button className="secondary" onClick={onDone}>I saved it</button>
      </div>
    </div>
  );
}

function CreateKey({ ctx, onCreated }: { ctx: Ctx; onCreated: (name: string, secret: string) => void }) {
  const [f, setF] = useState({ name: "", providers: "", models: "", required: "", defaults: "", priced: false, expires: "" });
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
        setErr(fe);
        if (Object.keys(fe).length) return;
        setError(null);
        try {
          const d = await ctx.api.request<{ createAPIKey: { secret: string; key: { name: string } } }>(CREATE_KEY, {
            t: ctx.tenant.id,
            n: f.name.trim(),
            p: { allowedProviders: splitList(f.providers), allowedModels: splitList(f.models), requiredDimensions: splitList(f.required), defaultDimensions: dims, requirePricedModels: f.priced },
            e: f.expires ? new Date(f.expires + "T00:00:00Z").toISOString() : null,
          });
          setF({ name: "", providers: "", models: "", required: "", defaults: "", priced: false, expires: "" });
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
        <Field id="key-expires" label="Expires (optional)"><input id="key-expires" type="date" value={f.expires} onChange={set("expires")} /></Field>
      </div>
      <label className="check"><input type="checkbox" checked={f.priced} onChange={set("priced")} /> Refuse models without a known price</label>
      <ErrorBox error={error} />
      <button type="submit">Create key</button>
    </form>
  );
}
