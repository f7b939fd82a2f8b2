// The GraphQL client and EVERY GraphQL document the portal uses. When the
// schema (schema.graphqls at the repo root) changes, this is the one place to edit.

import { createClient, type Client } from "graphql-ws";

export interface GqlErrorItem {
  message: string;
  extensions?: { code?: string };
}

/** An error from the API (or the network) with the server's message and code. */
export class GqlError extends Error {
  code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = "GqlError";
    this.code = code;
  }
}

const FRIENDLY: Record<string, string> = {
  UNAUTHENTICATED: "Please sign in again.",
  FORBIDDEN: "Your role in this tenant does not allow this.",
  NOT_FOUND: "It does not exist (any more).",
  INVALID_ARGUMENT: "Check the input.",
  CONFLICT: "It already exists or was changed meanwhile.",
  INTERNAL: "The server failed; try again.",
  NETWORK: "The server cannot be reached.",
  MFA_REQUIRED: "Enter the code of your authenticator app.",
};

/** Maps a GraphQL response's errors (or an HTTP failure) to one GqlError. */
export function toGqlError(errors: GqlErrorItem[] | undefined, status = 200): GqlError {
  if (errors && errors.length > 0) {
    const e = errors[0];
    const code = e.extensions?.code ?? (status === 401 ? "UNAUTHENTICATED" : "INTERNAL");
    const more = errors.length > 1 ? ` (+${errors.length - 1} more)` : "";
    return new GqlError((e.message || FRIENDLY[code] || "Request failed") + more, code);
  }
  if (status === 401) return new GqlError(FRIENDLY.UNAUTHENTICATED, "UNAUTHENTICATED");
  return new GqlError(`HTTP ${status}`, status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT");
}

/** The hint shown under an error message for a code. */
export function hintFor(code: string): string {
  return FRIENDLY[code] ?? "";
}

export interface Session {
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
  user: { id: string; email: string; name: string };
}

type Fetch = typeof fetch;

/** A small GraphQL-over-HTTP client that refreshes the session when it expires. */
export class Api {
  session: Session | null;
  onSession: (s: Session | null) => void;
  private endpoint: string;
  private fetchFn: Fetch;
  private refreshing: Promise<void> | null = null;

  constructor(endpoint = "/query", session: Session | null = null, onSession: (s: Session | null) => void = () => {}, fetchFn: Fetch = (...a) => fetch(...a)) {
    this.endpoint = endpoint;
    this.session = session;
    this.onSession = onSession;
    this.fetchFn = fetchFn;
  }

  async raw<T>(query: string, variables: Record<string, unknown> = {}, token?: string): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchFn(this.endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
    } catch {
      throw new GqlError(FRIENDLY.NETWORK, "NETWORK");
    }
    let body: { data?: T; errors?: GqlErrorItem[] } = {};
    try {
      body = await res.json();
    } catch {
      throw toGqlError(undefined, res.status || 500);
    }
    if (body.errors?.length || !res.ok || body.data == null) throw toGqlError(body.errors, res.status);
    return body.data;
  }

  /** Runs an authenticated request, refreshing the session once on expiry. */
  async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    if (this.session && Date.parse(this.session.expiresAt) - Date.now() < 30_000) await this.refresh();
    try {
      return await this.raw<T>(query, variables, this.session?.accessToken);
    } catch (e) {
      if (e instanceof GqlError && e.code === "UNAUTHENTICATED" && this.session) {
        await this.refresh();
        return this.raw<T>(query, variables, this.session?.accessToken);
      }
      throw e;
    }
  }

  /** Signs in with a password (and, for accounts with TOTP, mfaCode; without it the error's code is MFA_REQUIRED). */
  async signIn(email: string, password: string, mfaCode?: string): Promise<Session> {
    const d = await this.raw<{ signIn: Session }>(SIGN_IN, { email, password, mfa: mfaCode || null });
    this.setSession(d.signIn);
    return d.signIn;
  }

  /** Finishes single sign-on with the identity provider's redirect. */
  async finishSSO(state: string, code: string): Promise<Session> {
    const d = await this.raw<{ finishSSOSignIn: Session }>(FINISH_SSO, { s: state, c: code });
    this.setSession(d.finishSSOSignIn);
    return d.finishSSOSignIn;
  }

  async signOut(): Promise<void> {
    const s = this.session;
    this.setSession(null);
    if (s) await this.raw(SIGN_OUT, { r: s.refreshToken }, s.accessToken).catch(() => {});
  }

  private setSession(s: Session | null) {
    this.session = s;
    this.onSession(s);
  }

  private refresh(): Promise<void> {
    if (!this.refreshing) {
      const s = this.session;
      this.refreshing = (async () => {
        try {
          if (!s) throw new GqlError(FRIENDLY.UNAUTHENTICATED, "UNAUTHENTICATED");
          const d = await this.raw<{ refreshSession: Session }>(REFRESH, { r: s.refreshToken });
          this.setSession(d.refreshSession);
        } catch (e) {
          this.setSession(null);
          throw e;
        } finally {
          this.refreshing = null;
        }
      })();
    }
    return this.refreshing;
  }

  /**
   * GETs a file the API serves with the same bearer token (the CSV export),
   * refreshing the session once on expiry. Errors carry the server's code:
   * the export answers {"error":{code,message}}, the auth layer GraphQL-style.
   */
  async download(url: string): Promise<Blob> {
    if (this.session && Date.parse(this.session.expiresAt) - Date.now() < 30_000) await this.refresh();
    let res = await this.get(url);
    if (res.status === 401 && this.session) {
      await this.refresh();
      res = await this.get(url);
    }
    if (res.ok) return res.blob();
    let body: { error?: { code?: string; message?: string }; errors?: GqlErrorItem[] } = {};
    try {
      body = await res.json();
    } catch {
      // not JSON: fall back to the status
    }
    if (body.error?.message) throw new GqlError(body.error.message, body.error.code ?? "INTERNAL");
    throw toGqlError(body.errors, res.status);
  }

  private async get(url: string): Promise<Response> {
    try {
      return await this.fetchFn(url, { headers: this.session ? { Authorization: `Bearer ${this.session.accessToken}` } : {} });
    } catch {
      throw new GqlError(FRIENDLY.NETWORK, "NETWORK");
    }
  }

  /** A graphql-transport-ws client for subscriptions on the same endpoint. */
  wsClient(): Client {
    const u = new URL(this.endpoint, window.location.href);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    return createClient({
      url: u.toString(),
      lazy: true,
      retryAttempts: 1000,
      connectionParams: () => ({ authorization: `Bearer ${this.session?.accessToken ?? ""}` }),
    });
  }
}


// ---- Documents. Field lists follow schema.graphqls at the repository root. ----

const SESSION = `accessToken refreshToken expiresAt user{id email name}`;
export const SIGN_IN = `mutation($email:String!,$password:String!,$mfa:String){signIn(email:$email,password:$password,mfaCode:$mfa){${SESSION}}}`;
export const REFRESH = `mutation($r:String!){refreshSession(refreshToken:$r){${SESSION}}}`;
export const SIGN_OUT = `mutation($r:String!){signOut(refreshToken:$r)}`;

export const TENANTS = `{tenants{id name slug role mfaRequired}}`;

const POLICY = `allowedProviders allowedModels requiredDimensions defaultDimensions{name value} requirePricedModels`;
const KEY = `id name prefix status createdAt lastUsedAt revokedAt expiresAt rotatedFromId policy{${POLICY}}`;
export const API_KEYS = `query($t:ID!,$after:String,$status:KeyStatus){apiKeys(tenantId:$t,first:100,after:$after,status:$status){edges{node{${KEY}}} pageInfo{hasNextPage endCursor}}}`;
export const CREATE_KEY = `mutation($t:ID!,$n:String!,$p:KeyPolicyInput,$e:Time){createAPIKey(tenantId:$t,name:$n,policy:$p,expiresAt:$e){secret key{${KEY}}}}`;
export const REVOKE_KEY = `mutation($t:ID!,$id:ID!){revokeAPIKey(tenantId:$t,id:$id){${KEY}}}`;
export const ROTATE_KEY = `mutation($t:ID!,$id:ID!){rotateAPIKey(tenantId:$t,id:$id){secret key{${KEY}}}}`;

const BUDGET = `id name scope workspaceId teamId projectId keyId provider model dimensionName dimensionValue period amount thresholds hard rollover webhookUrl alertEmails createdAt updatedAt`;
export const CREATE_BUDGET = `mutation($t:ID!,$in:BudgetInput!){createBudget(tenantId:$t,input:$in){${BUDGET}}}`;
export const UPDATE_BUDGET = `mutation($t:ID!,$id:ID!,$in:BudgetInput!){updateBudget(tenantId:$t,id:$id,input:$in){${BUDGET}}}`;
export const DELETE_BUDGET = `mutation($t:ID!,$id:ID!){deleteBudget(tenantId:$t,id:$id)}`;
/** Every budget with its current period's spend, reservations and forecast. */
export const BUDGET_STATUSES = `query($t:ID!){budgetStatuses(tenantId:$t){budget{${BUDGET}} periodStart periodEnd spent reserved remaining percentUsed forecast forecastLow forecastHigh willExceedOn forecastMethod blocked}}`;

const NODE = `id kind parentId name workspaceId teamId projectId archivedAt`;
const LEVEL = `groups{keys totals{tenantCost requests}}`;
/** The tree with this period's spend per node and every budget's status. */
export const ORG_TREE = `query($t:ID!,$from:Time!,$to:Time!){orgTree(tenantId:$t){${NODE}}
  budgetStatuses(tenantId:$t){budget{${BUDGET}} periodStart periodEnd spent reserved remaining percentUsed forecast blocked}
  byWorkspace:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:WORKSPACE}],top:1000){${LEVEL}}
  byTeam:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:TEAM}],top:1000){${LEVEL}}
  byProject:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:PROJECT}],top:1000){${LEVEL}}}`;
export const CREATE_NODE = `mutation($t:ID!,$k:OrgNodeKind!,$p:ID,$n:String!){createOrgNode(tenantId:$t,kind:$k,parentId:$p,name:$n){${NODE}}}`;

const OVERRIDE = `id provider model effectiveFrom effectiveTo rates{class perMillion} percentAdjustment note createdAt`;
export const OVERRIDES = `query($t:ID!){pricingOverrides(tenantId:$t,first:200){edges{node{${OVERRIDE}}}}}`;
export const CREATE_OVERRIDE = `mutation($t:ID!,$in:PricingOverrideInput!){createPricingOverride(tenantId:$t,input:$in){${OVERRIDE}}}`;
export const UPDATE_OVERRIDE = `mutation($t:ID!,$id:ID!,$in:PricingOverrideInput!){updatePricingOverride(tenantId:$t,id:$id,input:$in){${OVERRIDE}}}`;
export const DELETE_OVERRIDE = `mutation($t:ID!,$id:ID!){deletePricingOverride(tenantId:$t,id:$id)}`;

const TOKENS = `input cachedInput cacheWrite5m cacheWrite1h output reasoning audioInput audioOutput imageInput imageOutput webSearches characters seconds images`;
export const EVENT = `id time keyId keyName source provider operation modelRequested modelServed catalogueModel status streaming complete latencyMs requestId serviceTier
  dimensions{name value} tokens{${TOKENS}} priced listCost tenantCost providerReportedCost overrideIds pricingTier
  costLines{class quantity listRatePerMillion tenantRatePerMillion amount}`;
/** Recent usage events, newest first, each with its cost explanation. */
export const USAGE_EVENTS = `query($t:ID!,$from:Time!,$to:Time!,$after:String,$n:Int){usageEvents(tenantId:$t,from:$from,to:$to,first:$n,after:$after){edges{node{${EVENT}}} pageInfo{hasNextPage endCursor}}}`;
export const USAGE_EVENT = `query($t:ID!,$id:ID!){usageEvent(tenantId:$t,id:$id){${EVENT}}}`;

export const MEMBERS = `query($t:ID!){members(tenantId:$t,first:200){edges{node{role createdAt suspended user{id email name}}}}}`;
export const ADD_MEMBER = `mutation($t:ID!,$e:String!,$n:String,$p:String,$r:Role!){addMember(tenantId:$t,email:$e,name:$n,password:$p,role:$r){role user{id email}}}`;
export const UPDATE_ROLE = `mutation($t:ID!,$u:ID!,$r:Role!){updateMemberRole(tenantId:$t,userId:$u,role:$r){role}}`;
export const REMOVE_MEMBER = `mutation($t:ID!,$u:ID!){removeMember(tenantId:$t,userId:$u)}`;

export const AUDIT = `query($t:ID!,$after:String){auditLog(tenantId:$t,first:50,after:$after){edges{node{id actor action targetType targetId details createdAt}} pageInfo{hasNextPage endCursor}}}`;

const TOTALS = `requests unpricedRequests listCost tenantCost inputTokens outputTokens`;
const BREAKDOWN = `groupBy groups{keys labels totals{${TOTALS}}} other{${TOTALS}} total{${TOTALS}}`;
/**
 * The dashboard's first load, one request: gqlgen resolves the root fields
 * concurrently, so the page waits for the slowest query, not their sum.
 */
export const DASHBOARD = `query($t:ID!,$from:Time!,$to:Time!,$bucket:TimeBucket!,$top:Int!){
  summary:spendSummary(tenantId:$t,from:$from,to:$to){${TOTALS}}
  series:spendTimeSeries(tenantId:$t,from:$from,to:$to,bucket:$bucket){start totals{requests tenantCost}}
  byProvider:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:PROVIDER}],top:$top){${BREAKDOWN}}
  byModel:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:MODEL}],top:$top){${BREAKDOWN}}
  byKey:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:KEY}],top:$top){${BREAKDOWN}}
  unknownModels(tenantId:$t,from:$from,to:$to){provider model requests inputTokens outputTokens firstSeen lastSeen}
  denials(tenantId:$t,from:$from,to:$to){keys labels requests}
  deniedKeys:denials(tenantId:$t,from:$from,to:$to,groupBy:[{field:KEY}]){keys labels requests}
}`;
/** The breakdown by one caller dimension (the dashboard's dimension picker). */
export const DIMENSION_BREAKDOWN = `query($t:ID!,$from:Time!,$to:Time!,$dim:String!,$top:Int!){
  spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:DIMENSION,dimension:$dim}],top:$top){${BREAKDOWN}}
}`;
/**
 * Where dimension names are known: key policies, dimension budgets and the
 * latest events (the API has no list of dimension names).
 */
export const DIMENSION_NAMES = `query($t:ID!,$from:Time!,$to:Time!){
  apiKeys(tenantId:$t,first:100){edges{node{policy{requiredDimensions defaultDimensions{name}}}}}
  budgets(tenantId:$t,first:100){edges{node{dimensionName}}}
  usageEvents(tenantId:$t,from:$from,to:$to,first:100){edges{node{dimensions{name}}}}
}`;

const ALERT = `id budgetId budgetName threshold periodStart periodEnd spent amount hard message at`;
export const BUDGET_ALERTS = `subscription($t:ID!){budgetAlerts(tenantId:$t){${ALERT}}}`;
export const ALERT_HISTORY = `query($t:ID!,$n:Int){budgetAlertHistory(tenantId:$t,first:$n){${ALERT}}}`;

/** Re-prices the tenant's unpriced events in a range (admins). */
export const REPRICE = `mutation($t:ID!,$from:Time!,$to:Time!){repriceUnpricedEvents(tenantId:$t,from:$from,to:$to){examined repriced stillUnpriced listCost tenantCost}}`;
export interface RepriceResult { examined: number; repriced: number; stillUnpriced: number; listCost: string; tenantCost: string }

const UNIT_RATES = `unitRates{class variant unit perMillion usd}`;
/** The catalogue with provenance and per-unit rates, browsed without a search (search and provider optional). */
export const CATALOGUE_BROWSE = `query($q:String,$p:String,$n:Int){pricingCatalogue(search:$q,provider:$p,first:$n){provider model aliases rates{class perMillion} effectiveFrom source checked sourceKind reason notes maxOutputTokens longContextAboveInputTokens ${UNIT_RATES}}}`;
const REVISION = `id status baseId effectiveFrom source summary createdAt createdBy decidedAt decidedBy
  added{provider model effectiveFrom changes{field unit old new}} changed{provider model effectiveFrom changes{field unit old new}}
  removed{provider model effectiveFrom changes{field unit old new}}`;
/** Catalogue revisions, newest first, and whether the user may decide on them. */
export const PRICING_REVISIONS = `query($n:Int){pricingRevisions(first:$n){${REVISION}} canManagePricing}`;
export const APPLY_REVISION = `mutation($id:ID!){applyPricingRevision(id:$id){${REVISION}}}`;
export const REJECT_REVISION = `mutation($id:ID!){rejectPricingRevision(id:$id){${REVISION}}}`;

// Single sign-on, SCIM tokens, two-factor authentication (docs/sso.md).
export const SSO_OPTION = `query($e:String,$s:String){ssoOption(email:$e,tenantSlug:$s){tenantSlug displayName}}`;
export const START_SSO = `mutation($e:String,$s:String){startSSOSignIn(email:$e,tenantSlug:$s){authorizationUrl state}}`;
export const FINISH_SSO = `mutation($s:String!,$c:String!){finishSSOSignIn(state:$s,code:$c){${SESSION}}}`;
const TENANT_SSO = `enabled displayName issuerUrl clientId clientSecretSet scopes allowedDomains groupsClaim groupMappings{group role scopedRole nodeId} defaultRole jitProvisioning ssoRequired breakGlassUserId redirectUri updatedAt`;
export const GET_TENANT_SSO = `query($t:ID!){tenantSSO(tenantId:$t){${TENANT_SSO}} scimTokens(tenantId:$t){id name prefix createdAt lastUsedAt revokedAt} tenant(id:$t){mfaRequired} orgTree(tenantId:$t){id kind name archivedAt}}`;
export const CONFIGURE_SSO = `mutation($t:ID!,$in:TenantSSOInput!){configureTenantSSO(tenantId:$t,input:$in){${TENANT_SSO}}}`;
export const DELETE_SSO = `mutation($t:ID!){deleteTenantSSO(tenantId:$t)}`;
export const SET_MFA_REQUIRED = `mutation($t:ID!,$r:Boolean!){setTenantMFARequired(tenantId:$t,required:$r){mfaRequired}}`;
export const CREATE_SCIM_TOKEN = `mutation($t:ID!,$n:String!){createSCIMToken(tenantId:$t,name:$n){secret baseUrl token{id}}}`;
export const ROTATE_SCIM_TOKEN = `mutation($t:ID!,$id:ID!){rotateSCIMToken(tenantId:$t,id:$id){secret baseUrl token{id}}}`;
export const REVOKE_SCIM_TOKEN = `mutation($t:ID!,$id:ID!){revokeSCIMToken(tenantId:$t,id:$id){id}}`;
export const MY_MFA = `{myMFA{totpEnabled recoveryCodesLeft}}`;
export const ENROL_TOTP = `mutation{enrolTOTP{secret otpauthUri qrCode}}`;
export const CONFIRM_TOTP = `mutation($c:String!){confirmTOTP(code:$c)}`;
export const DISABLE_TOTP = `mutation($p:String!,$c:String!){disableTOTP(password:$p,code:$c)}`;
export const REGENERATE_CODES = `mutation($c:String!){regenerateRecoveryCodes(code:$c)}`;

// Provider connections and reconciliation (graph/schema/providers.graphqls).
const CONNECTION = `id provider name adminKeyLast4 dataKeyLast4 lookbackDays enabled createdAt lastRun{running progress lastRunAt lastOkAt nextRunAt lastError pages rows consecutiveFailures}`;
export const PROVIDER_CONNECTIONS = `query($t:ID!){providerConnections(tenantId:$t){${CONNECTION}}}`;
export const CREATE_CONNECTION = `mutation($t:ID!,$in:CreateProviderConnectionInput!){createProviderConnection(tenantId:$t,input:$in){${CONNECTION}}}`;
export const DELETE_CONNECTION = `mutation($t:ID!,$id:ID!){deleteProviderConnection(tenantId:$t,id:$id)}`;
export const SYNC_CONNECTION = `mutation($t:ID!,$id:ID!){syncProviderConnection(tenantId:$t,id:$id){pages rows alerts}}`;
const RDAY = `provider day meteredCost reportedCost drift driftPercent unmeteredCost unreportedCost`;
export const RECONCILIATION = `query($t:ID!,$from:Time!,$to:Time!){reconciliation(tenantId:$t,from:$from,to:$to){
  rows{provider day model status meteredEvents meteredCost reportedCost reportedHasCost drift driftPercent}
  days{${RDAY}} totals{${RDAY}} csvPath}
  reconcileSettings(tenantId:$t){driftThresholdPercent hasAlertWebhook}
  driftAlerts(tenantId:$t,first:20){id provider day driftPercent thresholdPercent drift createdAt deliveredAt}}`;
export const SET_RECONCILE_SETTINGS = `mutation($t:ID!,$in:ReconcileSettingsInput!){setReconcileSettings(tenantId:$t,input:$in){driftThresholdPercent hasAlertWebhook}}`;
