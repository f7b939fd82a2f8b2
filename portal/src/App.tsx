import { useEffect, useMemo, useState } from "react";
import { Api, TENANTS, BUDGET_ALERTS, type Session } from "./gql";
import { ErrorBox, Field } from "./ui";
import { Dashboard } from "./screens/Dashboard";
import { Keys } from "./screens/Keys";
import { Budgets } from "./screens/Budgets";
import { Pricing } from "./screens/Pricing";
import { Members } from "./screens/Members";
import { Audit } from "./screens/Audit";
import { Alerts, type Alert } from "./screens/Alerts";

export interface Tenant { id: string; name: string; slug: string; role: "OWNER" | "ADMIN" | "VIEWER" }
export interface Ctx { api: Api; tenant: Tenant }

const SESSION_KEY = "spendgate.session";
const PAGES = [
  ["dashboard", "Dashboard"],
  ["keys", "API keys"],
  ["budgets", "Budgets"],
  ["pricing", "Pricing"],
  ["alerts", "Alerts"],
  ["members", "Users & roles"],
  ["audit", "Audit log"],
] as const;
type Page = (typeof PAGES)[number][0];

function loadSession(): Session | null {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY) ?? "null");
  } catch {
    return null;
  }
}

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const api = useMemo(
    () => new Api("/query", loadSession(), (s) => {
      if (s) localStorage.setItem(SESSION_KEY, JSON.stringify(s));
      else localStorage.removeItem(SESSION_KEY);
      setSession(s);
    }),
    [],
  );
  if (!session) return <SignIn api={api} />;
  return <Shell api={api} />;
}

function SignIn({ api }: { api: Api }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main className="signin">
      <h1>spendgate</h1>
      <form
        aria-label="Sign in"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            await api.signIn(email.trim(), password);
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <Field id="email" label="Email">
          <input id="email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </Field>
        <Field id="password" label="Password">
          <input id="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </Field>
        <ErrorBox error={error} />
        <button type="submit" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
      </form>
    </main>
  );
}

function pageFromHash(): Page {
  const h = window.location.hash.replace(/^#\/?/, "");
  return (PAGES.find(([p]) => p === h)?.[0] ?? "dashboard") as Page;
}

function Shell({ api }: { api: Api }) {
  const [tenants, setTenants] = useState<Tenant[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tenantId, setTenantId] = useState<string>(() => localStorage.getItem("spendgate.tenant") ?? "");
  const [page, setPage] = useState<Page>(pageFromHash);
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [toast, setToast] = useState<Alert | null>(null);
  const [live, setLive] = useState<string>("connecting");

  useEffect(() => {
    api.request<{ tenants: Tenant[] }>(TENANTS).then((d) => setTenants(d.tenants), setError);
  }, [api]);
  useEffect(() => {
    const f = () => setPage(pageFromHash());
    window.addEventListener("hashchange", f);
    return () => window.removeEventListener("hashchange", f);
  }, []);
  const tenant = tenants?.find((t) => t.id === tenantId) ?? tenants?.[0];

  useEffect(() => {
    if (!tenant) return;
    const ws = api.wsClient();
    setLive("connecting");
    const offConnected = ws.on("connected", () => setLive("live"));
    const offClosed = ws.on("closed", () => setLive((l) => (l === "live" ? "reconnecting" : l)));
    const stop = ws.subscribe<{ budgetAlerts: Alert }>(
      { query: BUDGET_ALERTS, variables: { t: tenant.id } },
      {
        next: (m) => {
          const a = m.data?.budgetAlerts;
          if (a) {
            setAlerts((xs) => [a, ...xs].slice(0, 200));
            setToast(a);
          }
        },
        error: (e) => setLive("unavailable: " + describeWsError(e)),
        complete: () => {},
      },
    );
    return () => { stop(); offConnected(); offClosed(); ws.dispose(); };
  }, [api, tenant?.id]);
  useEffect(() => {
    if (!toast) return;
    const t = setTimeout(() => setToast(null), 8000);
    return () => clearTimeout(t);
  }, [toast]);

  return (
    <div className="shell">
      <header>
        <span className="brand">spendgate</span>
        {tenants && tenants.length > 0 && (
          <label className="tenant">
            <span>Tenant</span>
            <select
              aria-label="Tenant"
              value={tenant?.id}
              onChange={(e) => { setTenantId(e.target.value); localStorage.setItem("spendgate.tenant", e.target.value); }}
            >
              {tenants.map((t) => <option key={t.id} value={t.id}>{t.name} ({t.role.toLowerCase()})</option>)}
            </select>
          </label>
        )}
        <span className="who">{api.session?.user.email}</span>
        <button className="secondary" onClick={() => api.signOut()}>Sign out</button>
      </header>
      <nav aria-label="Sections">
        {PAGES.map(([p, label]) => (
          <a key={p} href={`#/${p}`} aria-current={p === page ? "page" : undefined}>{label}{p === "alerts" && alerts.length > 0 ? ` (${alerts.length})` : ""}</a>
        ))}
      </nav>
      <main>
        <ErrorBox error={error} />
        {tenants && tenants.length === 0 && <p className="empty">You are not a member of any tenant yet. Ask a tenant owner to add you.</p>}
        {tenant && (
          <Screen key={tenant.id + page} page={page} ctx={{ api, tenant }} alerts={alerts} live={live} />
        )}
      </main>
      {toast && (
        <div className="toast" role="status" aria-live="polite">
          <strong>Budget alert:</strong> {toast.message || `${toast.budgetName} reached ${toast.threshold}%`}
          <button className="secondary" aria-label="Dismiss alert" onClick={() => setToast(null)}>×</button>
        </div>
      )}
    </div>
  );
}

/** A readable reason from what graphql-ws hands to error(): GraphQL errors, a CloseEvent or an Error. */
export function describeWsError(e: unknown): string {
  if (Array.isArray(e)) return e.map((x) => x?.message ?? String(x)).join("; ");
  if (e && typeof e === "object" && "code" in e && "reason" in e) return `connection closed (${(e as { code: number }).code}${(e as { reason: string }).reason ? ": " + (e as { reason: string }).reason : ""})`;
  if (e instanceof Error) return e.message;
  return "connection failed";
}

function Screen({ page, ctx, alerts, live }: { page: Page; ctx: Ctx; alerts: Alert[]; live: string }) {
  switch (page) {
    case "dashboard": return <Dashboard ctx={ctx} />;
    case "keys": return <Keys ctx={ctx} />;
    case "budgets": return <Budgets ctx={ctx} />;
    case "pricing": return <Pricing ctx={ctx} />;
    case "alerts": return <Alerts alerts={alerts} live={live} />;
    case "members": return <Members ctx={ctx} />;
    case "audit": return <Audit ctx={ctx} />;
  }
}
