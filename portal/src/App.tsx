import { useEffect, useMemo, useState } from "react";
import { Api, TENANTS, BUDGET_ALERTS, type Session } from "./gql";
import { alertText, describeWsError, liveLabel, type Alert, type LiveState } from "./alerts";
import { ErrorBox } from "./ui";
import { SignIn, SSOCallback } from "./screens/SignIn";
import { SSO_CALLBACK_PATH } from "./sso";
import { SSO } from "./screens/SSO";
import { Account } from "./screens/Account";
import { Dashboard } from "./screens/Dashboard";
import { Events } from "./screens/Events";
import { Keys } from "./screens/Keys";
import { Budgets } from "./screens/Budgets";
import { Pricing } from "./screens/Pricing";
import { Members } from "./screens/Members";
import { Audit } from "./screens/Audit";
import { Alerts } from "./screens/Alerts";
import { Org } from "./screens/Org";
import { Insights } from "./screens/Insights";
import { Billing } from "./screens/Billing";
import { Reconciliation } from "./screens/Reconciliation";
import { Reports } from "./screens/Reports";

export interface Tenant { id: string; name: string; slug: string; role: "OWNER" | "ADMIN" | "VIEWER" | "MEMBER"; mfaRequired?: boolean }
export interface Ctx { api: Api; tenant: Tenant }

const SESSION_KEY = "spendgate.session";
const TENANT_KEY = "spendgate.tenant";
const PAGES = [
  ["dashboard", "Dashboard"],
  ["events", "Events"],
  ["keys", "API keys"],
  ["budgets", "Budgets"],
  ["insights", "Savings & anomalies"],
  ["org", "Organisation"],
  ["pricing", "Pricing"],
  ["billing", "Billing"],
  ["reconciliation", "Reconciliation"],
  ["alerts", "Alerts"],
  ["reports", "Reports"],
  ["members", "Users & roles"],
  ["audit", "Audit log"],
  ["sso", "Sign-in & SSO"],
  ["account", "Account"],
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
  if (!session && window.location.pathname === SSO_CALLBACK_PATH) return <SSOCallback api={api} />;
  if (!session) return <SignIn api={api} />;
  if (window.location.pathname === SSO_CALLBACK_PATH) window.history.replaceState(null, "", "/");
  return <Shell api={api} />;
}

function pageFromHash(): Page {
  // "#/events?model=gpt-4o": the page, then the page's own query (drill-down filters).
  const h = window.location.hash.replace(/^#\/?/, "").replace(/\?.*$/, "");
  return (PAGES.find(([p]) => p === h)?.[0] ?? "dashboard") as Page;
}

function Shell({ api }: { api: Api }) {
  const [tenants, setTenants] = useState<Tenant[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tenantId, setTenantId] = useState<string>(() => localStorage.getItem(TENANT_KEY) ?? "");
  const [page, setPage] = useState<Page>(pageFromHash);
  const [live, setLive] = useState<Alert[]>([]);
  const [toast, setToast] = useState<Alert | null>(null);
  const [liveState, setLiveState] = useState<LiveState>("connecting");

  useEffect(() => {
    api.request(TENANTS).then((d) => setTenants(d.tenants), setError);
  }, [api]);
  useEffect(() => {
    const f = () => setPage(pageFromHash());
    window.addEventListener("hashchange", f);
    return () => window.removeEventListener("hashchange", f);
  }, []);
  const tenant = tenants?.find((t) => t.id === tenantId) ?? tenants?.[0];

  // One budgetAlerts subscription per tenant while the portal is open: every
  // screen gets the toast; the Alerts screen lists them.
  useEffect(() => {
    if (!tenant) return;
    const ws = api.wsClient();
    setLive([]);
    setLiveState("connecting");
    const offConnected = ws.on("connected", () => setLiveState("live"));
    const offClosed = ws.on("closed", () => setLiveState((l) => (l === "live" ? "reconnecting" : l)));
    const stop = ws.subscribe<{ budgetAlerts: Alert }>(
      { query: BUDGET_ALERTS.toString(), variables: { t: tenant.id } },
      {
        next: (m) => {
          const a = m.data?.budgetAlerts;
          if (a) {
            setLive((xs) => [a, ...xs.filter((x) => x.id !== a.id)].slice(0, 200));
            setToast(a);
          }
          if (m.errors?.length) setLiveState({ error: describeWsError(m.errors) });
        },
        error: (e) => setLiveState({ error: describeWsError(e) }),
        complete: () => {},
      },
    );
    return () => { stop(); offConnected(); offClosed(); ws.dispose(); };
  }, [api, tenant?.id]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    if (!toast) return;
    const t = setTimeout(() => setToast(null), 10_000);
    return () => clearTimeout(t);
  }, [toast]);

  const stateClass = typeof liveState === "object" ? "down" : liveState;
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
              onChange={(e) => { setTenantId(e.target.value); localStorage.setItem(TENANT_KEY, e.target.value); }}
            >
              {tenants.map((t) => <option key={t.id} value={t.id}>{t.name} ({t.role.toLowerCase()})</option>)}
            </select>
          </label>
        )}
        {tenant && <span className={`live ${stateClass}`} data-testid="live" data-state={stateClass} title="Live budget alerts">{liveLabel(liveState)}</span>}
        <span className="who">{api.session?.user.email}</span>
        <button className="secondary" onClick={() => api.signOut()}>Sign out</button>
      </header>
      <nav aria-label="Sections">
        {PAGES.map(([p, label]) => (
          <a key={p} href={`#/${p}`} aria-current={p === page ? "page" : undefined}>
            {label}{p === "alerts" && live.length > 0 ? <span className="count" aria-label={`${live.length} new`}> {live.length}</span> : null}
          </a>
        ))}
      </nav>
      <main>
        <ErrorBox error={error} />
        {!tenants && !error && <p aria-busy="true">Loading…</p>}
        {tenants && tenants.length === 0 && <p className="empty">You are not a member of any tenant yet. Ask a tenant owner to add you.</p>}
        {tenant && <Screen key={tenant.id + page} page={page} ctx={{ api, tenant }} live={live} liveState={liveState} />}
      </main>
      {toast && (
        <div className="toast" role="status" aria-live="polite" data-testid="toast">
          <span><strong>Budget alert:</strong> {alertText(toast)}</span>
          <a href="#/alerts" onClick={() => setToast(null)}>See alerts</a>
          <button className="secondary" aria-label="Dismiss alert" onClick={() => setToast(null)}>×</button>
        </div>
      )}
    </div>
  );
}

function Screen({ page, ctx, live, liveState }: { page: Page; ctx: Ctx; live: Alert[]; liveState: LiveState }) {
  switch (page) {
    case "dashboard": return <Dashboard ctx={ctx} />;
    case "events": return <Events ctx={ctx} />;
    case "keys": return <Keys ctx={ctx} />;
    case "budgets": return <Budgets ctx={ctx} live={live} />;
    case "insights": return <Insights ctx={ctx} />;
    case "org": return <Org ctx={ctx} />;
    case "pricing": return <Pricing ctx={ctx} />;
    case "billing": return <Billing ctx={ctx} />;
    case "reconciliation": return <Reconciliation ctx={ctx} />;
    case "alerts": return <Alerts ctx={ctx} live={live} liveState={liveState} />;
    case "reports": return <Reports ctx={ctx} />;
    case "members": return <Members ctx={ctx} />;
    case "audit": return <Audit ctx={ctx} />;
    case "sso": return <SSO ctx={ctx} />;
    case "account": return <Account ctx={ctx} />;
  }
}
