// The GraphQL client and EVERY GraphQL document the portal uses. Documents are
// written with graphql(`…`): `npm run codegen` (run first by `npm run build`,
// see codegen.ts) checks each against the schema (schema.graphqls and
// graph/schema/*.graphqls) and generates its result and variable types into
// src/gql/, so a document that does not match the schema fails the build and
// api.request(DOC, vars) is typed without hand-written interfaces.

import { createClient, type Client } from "graphql-ws";
import { graphql } from "./gql/gql";
import type { TypedDocumentString } from "./gql/graphql";

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

/** A document: generated and typed (graphql(`…`), see codegen.ts), or a plain string. */
export type Document = string | TypedDocumentString<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
/** The result and variables types codegen generated for a document. */
export type ResultOf<D> = D extends TypedDocumentString<infer R, any> ? R : never; // eslint-disable-line @typescript-eslint/no-explicit-any
export type VariablesOf<D> = D extends TypedDocumentString<any, infer V> ? V : never; // eslint-disable-line @typescript-eslint/no-explicit-any

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

  async raw<T>(query: Document, variables: Record<string, unknown> = {}, token?: string): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchFn(this.endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query: query.toString(), variables }),
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

  /**
   * Runs an authenticated request, refreshing the session once on expiry. A
   * generated document gives the result and variables their types; a plain
   * string document takes the result type as a type argument.
   */
  // Variables may be left out only when the document has no required ones.
  request<D extends TypedDocumentString<any, any>>( // eslint-disable-line @typescript-eslint/no-explicit-any
    query: D, ...variables: {} extends VariablesOf<D> ? [VariablesOf<D>?] : [VariablesOf<D>]): Promise<ResultOf<D>>; // eslint-disable-line @typescript-eslint/no-empty-object-type
  request<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
  async request<T>(query: Document, variables: Record<string, unknown> = {}): Promise<T> {
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

  /**
   * request for code generic over the document (a screen's run(DOC, vars)
   * wrapper), where the overloads' conditional variables type cannot resolve.
   */
  send<D extends TypedDocumentString<any, any>>(query: D, variables: VariablesOf<D>): Promise<ResultOf<D>> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.request<ResultOf<D>>(query.toString(), variables as Record<string, unknown>);
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


// ---- Documents (named operations; shared field lists are fragments). ----

export const SESSION_FRAGMENT = graphql(`fragment SessionFields on Session {accessToken refreshToken expiresAt user{id email name}}`);
export const SIGN_IN = graphql(`mutation SignIn($email:String!,$password:String!,$mfa:String){signIn(email:$email,password:$password,mfaCode:$mfa){...SessionFields}}`);
export const REFRESH = graphql(`mutation Refresh($r:String!){refreshSession(refreshToken:$r){...SessionFields}}`);
export const SIGN_OUT = graphql(`mutation SignOut($r:String!){signOut(refreshToken:$r)}`);

export const TENANTS = graphql(`query Tenants {tenants{id name slug role mfaRequired}}`);

export const KEY_FRAGMENT = graphql(`fragment KeyFields on APIKey {id name prefix status createdAt lastUsedAt revokedAt expiresAt rotatedFromId policy{allowedProviders allowedModels requiredDimensions defaultDimensions{name value} requirePricedModels injectProviderCredentials}}`);
export const API_KEYS = graphql(`query ApiKeys($t:ID!,$after:String,$status:KeyStatus){apiKeys(tenantId:$t,first:100,after:$after,status:$status){edges{node{...KeyFields}} pageInfo{hasNextPage endCursor}}}`);
export const CREATE_KEY = graphql(`mutation CreateKey($t:ID!,$n:String!,$p:KeyPolicyInput,$e:Time){createAPIKey(tenantId:$t,name:$n,policy:$p,expiresAt:$e){secret key{...KeyFields}}}`);
export const REVOKE_KEY = graphql(`mutation RevokeKey($t:ID!,$id:ID!){revokeAPIKey(tenantId:$t,id:$id){...KeyFields}}`);
export const ROTATE_KEY = graphql(`mutation RotateKey($t:ID!,$id:ID!){rotateAPIKey(tenantId:$t,id:$id){secret key{...KeyFields}}}`);

export const BUDGET_FRAGMENT = graphql(`fragment BudgetFields on Budget {id name scope workspaceId teamId projectId keyId provider model dimensionName dimensionValue period amount thresholds hard rollover webhookUrl alertEmails spendBasis breachWebhookUrl breachWebhookSigned createdAt updatedAt}`);
export const CREATE_BUDGET = graphql(`mutation CreateBudget($t:ID!,$in:BudgetInput!){createBudget(tenantId:$t,input:$in){...BudgetFields}}`);
export const UPDATE_BUDGET = graphql(`mutation UpdateBudget($t:ID!,$id:ID!,$in:BudgetInput!){updateBudget(tenantId:$t,id:$id,input:$in){...BudgetFields}}`);
export const DELETE_BUDGET = graphql(`mutation DeleteBudget($t:ID!,$id:ID!){deleteBudget(tenantId:$t,id:$id)}`);
/** Every budget with its current period's spend, reservations and forecast. */
export const BUDGET_STATUSES = graphql(`query BudgetStatuses($t:ID!){budgetStatuses(tenantId:$t){budget{...BudgetFields} periodStart periodEnd spent reserved remaining percentUsed forecast forecastLow forecastHigh willExceedOn forecastMethod blocked spendBasis metered reported}}`);

export const NODE_FRAGMENT = graphql(`fragment NodeFields on OrgNode {id kind parentId name workspaceId teamId projectId archivedAt}`);

/** The tree with this period's spend per node and every budget's status. */
export const ORG_TREE = graphql(`query OrgTree($t:ID!,$from:Time!,$to:Time!){orgTree(tenantId:$t){...NodeFields}
  budgetStatuses(tenantId:$t){budget{...BudgetFields} periodStart periodEnd spent reserved remaining percentUsed forecast blocked}
  byWorkspace:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:WORKSPACE}],top:1000){groups{keys totals{tenantCost requests}}}
  byTeam:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:TEAM}],top:1000){groups{keys totals{tenantCost requests}}}
  byProject:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:PROJECT}],top:1000){groups{keys totals{tenantCost requests}}}}`);
export const CREATE_NODE = graphql(`mutation CreateNode($t:ID!,$k:OrgNodeKind!,$p:ID,$n:String!){createOrgNode(tenantId:$t,kind:$k,parentId:$p,name:$n){...NodeFields}}`);

export const OVERRIDE_FRAGMENT = graphql(`fragment OverrideFields on PricingOverride {id provider model effectiveFrom effectiveTo rates{class perMillion} percentAdjustment note createdAt}`);
export const OVERRIDES = graphql(`query Overrides($t:ID!){pricingOverrides(tenantId:$t,first:200){edges{node{...OverrideFields}}}}`);
export const CREATE_OVERRIDE = graphql(`mutation CreateOverride($t:ID!,$in:PricingOverrideInput!){createPricingOverride(tenantId:$t,input:$in){...OverrideFields}}`);
export const UPDATE_OVERRIDE = graphql(`mutation UpdateOverride($t:ID!,$id:ID!,$in:PricingOverrideInput!){updatePricingOverride(tenantId:$t,id:$id,input:$in){...OverrideFields}}`);
export const DELETE_OVERRIDE = graphql(`mutation DeleteOverride($t:ID!,$id:ID!){deletePricingOverride(tenantId:$t,id:$id)}`);

export const EVENT_FRAGMENT = graphql(`fragment EventFields on UsageEvent {id time keyId keyName source provider operation modelRequested modelServed catalogueModel status streaming complete latencyMs requestId serviceTier
  dimensions{name value} tokens{input cachedInput cacheWrite5m cacheWrite1h output reasoning audioInput audioOutput imageInput imageOutput webSearches characters seconds images} priced listCost tenantCost providerReportedCost overrideIds pricingTier
  costLines{class quantity listRatePerMillion tenantRatePerMillion amount}}`);
/** Recent usage events, newest first, each with its cost explanation. */
export const USAGE_EVENTS = graphql(`query UsageEvents($t:ID!,$from:Time!,$to:Time!,$after:String,$n:Int){usageEvents(tenantId:$t,from:$from,to:$to,first:$n,after:$after){edges{node{...EventFields}} pageInfo{hasNextPage endCursor}}}`);
export const USAGE_EVENT = graphql(`query UsageEvent($t:ID!,$id:ID!){usageEvent(tenantId:$t,id:$id){...EventFields}}`);

export const MEMBERS = graphql(`query Members($t:ID!){members(tenantId:$t,first:200){edges{node{role createdAt suspended user{id email name}}}}}`);
export const ADD_MEMBER = graphql(`mutation AddMember($t:ID!,$e:String!,$n:String,$p:String,$r:Role!){addMember(tenantId:$t,email:$e,name:$n,password:$p,role:$r){role user{id email}}}`);
export const UPDATE_ROLE = graphql(`mutation UpdateRole($t:ID!,$u:ID!,$r:Role!){updateMemberRole(tenantId:$t,userId:$u,role:$r){role}}`);
export const REMOVE_MEMBER = graphql(`mutation RemoveMember($t:ID!,$u:ID!){removeMember(tenantId:$t,userId:$u)}`);

export const AUDIT = graphql(`query Audit($t:ID!,$after:String,$f:AuditFilter){auditLog(tenantId:$t,first:50,after:$after,filter:$f){edges{node{id actor action targetType targetId details createdAt}} pageInfo{hasNextPage endCursor}}}`);
/** Names for the ids audit entries record (keys, budgets, members, org nodes, overrides). */
export const AUDIT_NAMES = graphql(`query AuditNames($t:ID!){
  apiKeys(tenantId:$t,first:100){edges{node{id name}}}
  budgets(tenantId:$t,first:100){edges{node{id name}}}
  members(tenantId:$t,first:200){edges{node{user{id email}}}}
  orgTree(tenantId:$t){id name}
  pricingOverrides(tenantId:$t,first:200){edges{node{id provider model}}}
}`);

export const TOTALS_FRAGMENT = graphql(`fragment TotalsFields on SpendTotals {requests unpricedRequests listCost tenantCost inputTokens outputTokens}`);
export const BREAKDOWN_FRAGMENT = graphql(`fragment BreakdownFields on SpendBreakdown {groupBy groups{keys labels totals{...TotalsFields}} other{...TotalsFields} total{...TotalsFields}}`);
/**
 * The dashboard's first load, one request: gqlgen resolves the root fields
 * concurrently, so the page waits for the slowest query, not their sum.
 */
export const DASHBOARD = graphql(`query Dashboard($t:ID!,$from:Time!,$to:Time!,$bucket:TimeBucket!,$top:Int!){
  summary:spendSummary(tenantId:$t,from:$from,to:$to){...TotalsFields}
  series:spendTimeSeries(tenantId:$t,from:$from,to:$to,bucket:$bucket){start totals{requests tenantCost}}
  byProvider:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:PROVIDER}],top:$top){...BreakdownFields}
  byModel:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:MODEL}],top:$top){...BreakdownFields}
  byKey:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:KEY}],top:$top){...BreakdownFields}
  unknownModels(tenantId:$t,from:$from,to:$to){provider model requests inputTokens outputTokens firstSeen lastSeen}
  denials(tenantId:$t,from:$from,to:$to){keys labels requests}
  deniedKeys:denials(tenantId:$t,from:$from,to:$to,groupBy:[{field:KEY}]){keys labels requests}
}`);
/**
 * The spend chart: the range stacked by a group-by (none: one layer) and the
 * period before it, for the comparison line and the change in the headline.
 */
export const SPEND_CHART = graphql(`query SpendChart($t:ID!,$from:Time!,$to:Time!,$pfrom:Time!,$bucket:TimeBucket!,$group:[SpendGroupBy!]){
  stacked:spendTimeSeries(tenantId:$t,from:$from,to:$to,bucket:$bucket,groupBy:$group){start keys labels totals{requests tenantCost}}
  previous:spendTimeSeries(tenantId:$t,from:$pfrom,to:$from,bucket:$bucket){start totals{requests tenantCost}}
}`);
/** A budget's period spend per bucket, narrowed to what the budget counts (the dashboard's burn-down). */
export const BUDGET_BURN = graphql(`query BudgetBurn($t:ID!,$from:Time!,$to:Time!,$bucket:TimeBucket!,$f:SpendFilter){
  spendTimeSeries(tenantId:$t,from:$from,to:$to,bucket:$bucket,filter:$f){start totals{tenantCost}}
}`);
/** Usage events narrowed by the event list's filter (drill-down from the dashboard). */
export const FILTERED_EVENTS = graphql(`query FilteredEvents($t:ID!,$from:Time!,$to:Time!,$f:SpendFilter,$after:String,$n:Int){usageEvents(tenantId:$t,from:$from,to:$to,filter:$f,first:$n,after:$after){edges{node{...EventFields}} pageInfo{hasNextPage endCursor}}}`);
/** The breakdown by one caller dimension (the dashboard's dimension picker). */
export const DIMENSION_BREAKDOWN = graphql(`query DimensionBreakdown($t:ID!,$from:Time!,$to:Time!,$dim:String!,$top:Int!){
  spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:DIMENSION,dimension:$dim}],top:$top){...BreakdownFields}
}`);
/**
 * Where dimension names are known: key policies, dimension budgets and the
 * latest events (the API has no list of dimension names).
 */
export const DIMENSION_NAMES = graphql(`query DimensionNames($t:ID!,$from:Time!,$to:Time!){
  apiKeys(tenantId:$t,first:100){edges{node{policy{requiredDimensions defaultDimensions{name}}}}}
  budgets(tenantId:$t,first:100){edges{node{dimensionName}}}
  usageEvents(tenantId:$t,from:$from,to:$to,first:200){edges{node{dimensions{name value}}}}
}`);

export const ALERT_FRAGMENT = graphql(`fragment AlertFields on BudgetAlert {id budgetId budgetName threshold periodStart periodEnd spent amount hard message at}`);
export const BUDGET_ALERTS = graphql(`subscription BudgetAlerts($t:ID!){budgetAlerts(tenantId:$t){...AlertFields}}`);
export const ALERT_HISTORY = graphql(`query AlertHistory($t:ID!,$n:Int){budgetAlertHistory(tenantId:$t,first:$n){...AlertFields}}`);

/** Re-prices the tenant's unpriced events in a range (admins). */
export const REPRICE = graphql(`mutation Reprice($t:ID!,$from:Time!,$to:Time!){repriceUnpricedEvents(tenantId:$t,from:$from,to:$to){examined repriced stillUnpriced listCost tenantCost}}`);
export interface RepriceResult { examined: number; repriced: number; stillUnpriced: number; listCost: string; tenantCost: string }

/** The catalogue with provenance and per-unit rates, browsed without a search (search and provider optional). */
export const CATALOGUE_BROWSE = graphql(`query CatalogueBrowse($q:String,$p:String,$n:Int){pricingCatalogue(search:$q,provider:$p,first:$n){provider model aliases rates{class perMillion} effectiveFrom source checked sourceKind reason notes maxOutputTokens longContextAboveInputTokens unitRates{class variant unit perMillion usd}}}`);
export const REVISION_FRAGMENT = graphql(`fragment RevisionFields on PricingRevision {id status baseId effectiveFrom source summary createdAt createdBy decidedAt decidedBy
  added{provider model effectiveFrom changes{field unit old new}} changed{provider model effectiveFrom changes{field unit old new}}
  removed{provider model effectiveFrom changes{field unit old new}}}`);
/** Catalogue revisions, newest first, and whether the user may decide on them. */
export const PRICING_REVISIONS = graphql(`query PricingRevisions($n:Int){pricingRevisions(first:$n){...RevisionFields} canManagePricing}`);
export const APPLY_REVISION = graphql(`mutation ApplyRevision($id:ID!){applyPricingRevision(id:$id){...RevisionFields}}`);
export const REJECT_REVISION = graphql(`mutation RejectRevision($id:ID!){rejectPricingRevision(id:$id){...RevisionFields}}`);

// Single sign-on, SCIM tokens, two-factor authentication (docs/sso.md).
export const SSO_OPTION = graphql(`query SsoOption($e:String,$s:String){ssoOption(email:$e,tenantSlug:$s){tenantSlug displayName}}`);
export const START_SSO = graphql(`mutation StartSso($e:String,$s:String){startSSOSignIn(email:$e,tenantSlug:$s){authorizationUrl state}}`);
export const FINISH_SSO = graphql(`mutation FinishSso($s:String!,$c:String!){finishSSOSignIn(state:$s,code:$c){...SessionFields}}`);
export const TENANT_SSO_FRAGMENT = graphql(`fragment TenantSSOFields on TenantSSO {enabled displayName issuerUrl clientId clientSecretSet scopes allowedDomains groupsClaim groupMappings{group role scopedRole nodeId} defaultRole jitProvisioning ssoRequired breakGlassUserId redirectUri updatedAt}`);
export const GET_TENANT_SSO = graphql(`query GetTenantSso($t:ID!){tenantSSO(tenantId:$t){...TenantSSOFields} scimTokens(tenantId:$t){id name prefix createdAt lastUsedAt revokedAt} tenant(id:$t){mfaRequired} orgTree(tenantId:$t){id kind name archivedAt}}`);
export const CONFIGURE_SSO = graphql(`mutation ConfigureSso($t:ID!,$in:TenantSSOInput!){configureTenantSSO(tenantId:$t,input:$in){...TenantSSOFields}}`);
export const DELETE_SSO = graphql(`mutation DeleteSso($t:ID!){deleteTenantSSO(tenantId:$t)}`);
export const SET_MFA_REQUIRED = graphql(`mutation SetMfaRequired($t:ID!,$r:Boolean!){setTenantMFARequired(tenantId:$t,required:$r){mfaRequired}}`);
export const CREATE_SCIM_TOKEN = graphql(`mutation CreateScimToken($t:ID!,$n:String!){createSCIMToken(tenantId:$t,name:$n){secret baseUrl token{id}}}`);
export const ROTATE_SCIM_TOKEN = graphql(`mutation RotateScimToken($t:ID!,$id:ID!){rotateSCIMToken(tenantId:$t,id:$id){secret baseUrl token{id}}}`);
export const REVOKE_SCIM_TOKEN = graphql(`mutation RevokeScimToken($t:ID!,$id:ID!){revokeSCIMToken(tenantId:$t,id:$id){id}}`);
export const MY_MFA = graphql(`query MyMfa {myMFA{totpEnabled recoveryCodesLeft}}`);
export const ENROL_TOTP = graphql(`mutation EnrolTotp{enrolTOTP{secret otpauthUri qrCode}}`);
export const CONFIRM_TOTP = graphql(`mutation ConfirmTotp($c:String!){confirmTOTP(code:$c)}`);
export const DISABLE_TOTP = graphql(`mutation DisableTotp($p:String!,$c:String!){disableTOTP(password:$p,code:$c)}`);
export const REGENERATE_CODES = graphql(`mutation RegenerateCodes($c:String!){regenerateRecoveryCodes(code:$c)}`);

// Provider connections and reconciliation (graph/schema/providers.graphqls).
export const CONNECTION_FRAGMENT = graphql(`fragment ConnectionFields on ProviderConnection {id provider name adminKeyLast4 dataKeyLast4 lookbackDays enabled createdAt lastRun{running progress lastRunAt lastOkAt nextRunAt lastError pages rows consecutiveFailures}}`);
export const PROVIDER_CONNECTIONS = graphql(`query ProviderConnections($t:ID!){providerConnections(tenantId:$t){...ConnectionFields}}`);
export const CREATE_CONNECTION = graphql(`mutation CreateConnection($t:ID!,$in:CreateProviderConnectionInput!){createProviderConnection(tenantId:$t,input:$in){...ConnectionFields}}`);
export const DELETE_CONNECTION = graphql(`mutation DeleteConnection($t:ID!,$id:ID!){deleteProviderConnection(tenantId:$t,id:$id)}`);
export const SYNC_CONNECTION = graphql(`mutation SyncConnection($t:ID!,$id:ID!){syncProviderConnection(tenantId:$t,id:$id){pages rows alerts}}`);
export const RECON_DAY_FRAGMENT = graphql(`fragment ReconDayFields on ReconciliationDay {provider day meteredCost reportedCost drift driftPercent unmeteredCost unreportedCost}`);
export const RECONCILIATION = graphql(`query Reconciliation($t:ID!,$from:Time!,$to:Time!){reconciliation(tenantId:$t,from:$from,to:$to){
  rows{provider day model status meteredEvents meteredCost reportedCost reportedHasCost drift driftPercent}
  days{...ReconDayFields} totals{...ReconDayFields} csvPath}
  reconcileSettings(tenantId:$t){driftThresholdPercent hasAlertWebhook}
  driftAlerts(tenantId:$t,first:20){id provider day driftPercent thresholdPercent drift createdAt deliveredAt}}`);
export const SET_RECONCILE_SETTINGS = graphql(`mutation SetReconcileSettings($t:ID!,$in:ReconcileSettingsInput!){setReconcileSettings(tenantId:$t,input:$in){driftThresholdPercent hasAlertWebhook}}`);
