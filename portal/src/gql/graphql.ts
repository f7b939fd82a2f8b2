/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** What an anomaly's series is of. */
export type AnomalyDimension =
  | 'KEY'
  | 'MODEL'
  | 'PROJECT'
  | 'TEAM'
  | 'TENANT';

export type AnomalySeverity =
  | 'CRITICAL'
  | 'MAJOR'
  | 'MINOR';

/** Narrows the audit log; every field given must match. */
export type AuditFilter = {
  /** Actions, exactly (api_key.create) or by area with a trailing dot (api_key. matches every api_key action). */
  actions?: Array<string> | null | undefined;
  /** Part of the actor's email, case-insensitive (system for changes without a user). */
  actor?: string | null | undefined;
  /** Entries at or after this time. */
  from?: string | null | undefined;
  /** Entries before this time. */
  to?: string | null | undefined;
};

/** Set exactly the field the scope names (a MODEL budget may also name its provider). */
export type BudgetInput = {
  /** Email recipients of the budget's alerts (the server needs --smtp-host). */
  alertEmails?: Array<string> | null | undefined;
  amount: string;
  /** HMAC-SHA256 key signing breach deliveries (16 to 200 characters); write-only. Omit on update to keep the stored one. */
  breachWebhookSecret?: string | null | undefined;
  /** Hard budgets only; needs breachWebhookSecret when first set. */
  breachWebhookUrl?: string | null | undefined;
  dimensionName?: string | null | undefined;
  dimensionValue?: string | null | undefined;
  hard?: boolean | null | undefined;
  keyId?: string | number | null | undefined;
  model?: string | null | undefined;
  name: string;
  period: BudgetPeriod;
  projectId?: string | number | null | undefined;
  provider?: string | null | undefined;
  rollover?: boolean | null | undefined;
  scope: BudgetScope;
  /** Default METERED. */
  spendBasis?: SpendBasis | null | undefined;
  teamId?: string | number | null | undefined;
  thresholds?: Array<number> | null | undefined;
  webhookUrl?: string | null | undefined;
  workspaceId?: string | number | null | undefined;
};

/** Calendar periods in UTC; weeks start on Monday, quarters in January, April, July and October. */
export type BudgetPeriod =
  | 'DAY'
  | 'MONTH'
  | 'QUARTER'
  | 'WEEK'
  | 'YEAR';

export type BudgetScope =
  | 'DIMENSION'
  | 'KEY'
  /** A model (served, else requested), optionally at one provider. */
  | 'MODEL'
  | 'PROJECT'
  | 'PROVIDER'
  | 'TEAM'
  | 'TENANT'
  | 'WORKSPACE';

export type CreateProviderConnectionInput = {
  /** required for openai and anthropic: an admin key that reads usage and cost reports */
  adminKey?: string | null | undefined;
  dataKey?: string | null | undefined;
  enabled?: boolean | null | undefined;
  /** default 3, at most 31 */
  lookbackDays?: number | null | undefined;
  name: string;
  provider: string;
};

export type DimensionFilter = {
  name: string;
  values: Array<string>;
};

export type DimensionInput = {
  name: string;
  value: string;
};

export type InvoiceLineKind =
  /** A change, since it was invoiced, of an earlier period (late events, re-pricing). */
  | 'ADJUSTMENT'
  /** Usage of the invoice's period. */
  | 'USAGE';

export type InvoiceStatus =
  /** Computed on demand, never stored. */
  | 'DRAFT'
  /** Frozen: never recomputed; late usage lands as adjustments on the next invoice. */
  | 'ISSUED'
  | 'PAID'
  | 'VOID';

export type KeyPolicyInput = {
  allowedModels?: Array<string> | null | undefined;
  allowedProviders?: Array<string> | null | undefined;
  defaultDimensions?: Array<DimensionInput> | null | undefined;
  injectProviderCredentials?: boolean | null | undefined;
  /** 0 or absent: no limit. */
  requestsPerMinute?: number | null | undefined;
  requirePricedModels?: boolean | null | undefined;
  requiredDimensions?: Array<string> | null | undefined;
  /** 0 or absent: no limit. */
  tokensPerMinute?: number | null | undefined;
};

export type KeyStatus =
  | 'ACTIVE'
  | 'REVOKED';

export type OrgNodeKind =
  | 'PROJECT'
  | 'TEAM'
  | 'WORKSPACE';

export type PricingOverrideInput = {
  effectiveFrom: string;
  effectiveTo?: string | null | undefined;
  model: string;
  note?: string | null | undefined;
  percentAdjustment?: string | null | undefined;
  provider?: string | null | undefined;
  rates?: Array<RateInput> | null | undefined;
};

/** Where a pricing revision stands. */
export type PricingRevisionStatus =
  | 'APPLIED'
  | 'PROPOSED'
  | 'REJECTED';

export type RateInput = {
  /** A usage class: input, cached_input, cache_write_5m, cache_write_1h, output, reasoning, audio_input, audio_output, image_input, image_output, web_searches, characters, seconds, images. */
  class: string;
  perMillion: string;
};

export type RecommendationKind =
  | 'BATCH_API'
  | 'CHEAPER_MODEL'
  | 'PRICE_MODEL'
  | 'PROMPT_CACHING'
  | 'REVOKE_KEY';

export type RecommendationState =
  | 'APPLIED'
  | 'DISMISSED'
  | 'OPEN';

export type ReconcileSettingsInput = {
  /** Slack-compatible webhook for drift alerts; empty for none */
  alertWebhookUrl?: string | null | undefined;
  /** a decimal percentage with at most two decimals, 0.01 to 1000 */
  driftThresholdPercent: string;
};

export type ReconciliationStatus =
  /** both sides have the day × model */
  | 'MATCHED'
  /** the provider reports spend spendgate did not meter (traffic that bypassed it) */
  | 'UNMETERED'
  /** spendgate metered spend the provider does not report */
  | 'UNREPORTED';

export type ReportFrequency =
  /** At the times of a five-field cron line, covering the time since the previous one. */
  | 'CRON'
  /** The 1st at 08:00, covering the month before. */
  | 'MONTHLY'
  /** Mondays at 08:00 in the report's time zone, covering the week before. */
  | 'WEEKLY';

export type ReportInput = {
  cron?: string | null | undefined;
  emails?: Array<string> | null | undefined;
  /** Default true. */
  enabled?: boolean | null | undefined;
  frequency: ReportFrequency;
  name: string;
  nodeId?: string | number | null | undefined;
  scope: ReportScope;
  slackWebhookUrl?: string | null | undefined;
  /** Default UTC. */
  timeZone?: string | null | undefined;
};

export type ReportScope =
  | 'PROJECT'
  | 'TEAM'
  | 'TENANT';

export type Role =
  | 'ADMIN'
  /** No tenant-wide right: what the member may do comes from its scoped roles (grantRole). */
  | 'MEMBER'
  | 'OWNER'
  | 'VIEWER';

/** A group mapping grants either a tenant role (role) or a scoped role on a team or project (scopedRole and nodeId). */
export type SsoGroupMappingInput = {
  group: string;
  nodeId?: string | number | null | undefined;
  role?: Role | null | undefined;
  scopedRole?: ScopedRole | null | undefined;
};

/** Roles granted on one node, reaching its subtree. */
export type ScopedRole =
  /** On a project: manage its keys and budgets, read its spend. */
  | 'PROJECT_MEMBER'
  /** On a project: read its keys, budgets and spend. */
  | 'PROJECT_VIEWER'
  /** On a team: manage the team, its projects, their keys and budgets, and grant roles there. */
  | 'TEAM_ADMIN';

/** What a budget counts as spent in its period. */
export type SpendBasis =
  /**
   * The larger of metered spend and the providers' own reported spend for the period's UTC days
   * (provider connections). Tenant budgets and OPENAI or ANTHROPIC provider budgets only: providers report
   * per organization, day and model, never per key, team, project, workspace or dimension.
   */
  | 'MAX_METERED_REPORTED'
  /** What spendgate metered (the default). */
  | 'METERED';

/** What spend can be grouped by. */
export type SpendField =
  /** A caller dimension (x-spendgate-dim-<name> or a key default); name it in dimension. */
  | 'DIMENSION'
  | 'KEY'
  /** The model the provider served, else the one requested. */
  | 'MODEL'
  | 'OPERATION'
  | 'PROJECT'
  | 'PROVIDER'
  /** Denials only: why the call was refused. */
  | 'REASON'
  | 'SERVICE_TIER'
  | 'SOURCE'
  /** The HTTP status the provider answered, e.g. 200 or 429. */
  | 'STATUS'
  | 'TEAM'
  /** The workspace, team or project the call was attributed to when it was stored (labels are names; empty: none). */
  | 'WORKSPACE';

/** Narrows spend queries; every list given must contain the event's value. */
export type SpendFilter = {
  dimensions?: Array<DimensionFilter> | null | undefined;
  keyIds?: Array<string | number> | null | undefined;
  models?: Array<string> | null | undefined;
  operations?: Array<string> | null | undefined;
  projectIds?: Array<string | number> | null | undefined;
  providers?: Array<string> | null | undefined;
  sources?: Array<string> | null | undefined;
  statuses?: Array<number> | null | undefined;
  teamIds?: Array<string | number> | null | undefined;
  /** Spend attributed to these workspaces, teams or projects. */
  workspaceIds?: Array<string | number> | null | undefined;
};

export type SpendGroupBy = {
  /** With field DIMENSION: the dimension's name, e.g. team. */
  dimension?: string | null | undefined;
  field: SpendField;
};

export type TenantSsoInput = {
  allowedDomains?: Array<string> | null | undefined;
  breakGlassUserId?: string | number | null | undefined;
  clientId: string;
  /** Absent: keep the stored secret; empty: none (a public client). */
  clientSecret?: string | null | undefined;
  defaultRole?: Role | null | undefined;
  displayName: string;
  enabled: boolean;
  groupMappings?: Array<SsoGroupMappingInput> | null | undefined;
  groupsClaim?: string | null | undefined;
  issuerUrl: string;
  jitProvisioning?: boolean | null | undefined;
  /** Default: openid email profile offline_access (add groups for Okta). */
  scopes?: Array<string> | null | undefined;
  ssoRequired?: boolean | null | undefined;
};

export type TimeBucket =
  | 'DAY'
  | 'HOUR'
  | 'MONTH'
  /** Weeks start on Monday, like weekly budgets. */
  | 'WEEK';

export type InvoiceFieldsFragment = { id: string, number: string, status: InvoiceStatus, groupBy: string, currency: string, listCost: string, tenantCost: string, total: string, issuedAt: string | null, issuedBy: string | null, paidAt: string | null, voidedAt: string | null, voidReason: string | null, pdfUrl: string, csvUrl: string, period: { label: string, start: string, end: string, timeZone: string }, lines: Array<{ kind: InvoiceLineKind, provider: string, model: string, group: string, groupName: string, adjustsPeriod: string | null, events: number, unpricedEvents: number, listCost: string, tenantCost: string, amount: string, overrides: Array<string>, quantities: Array<{ class: string, quantity: number }> }>, providerReported: Array<{ provider: string, metered: string, reported: string | null }> };

export type InvoicesQueryVariables = Exact<{
  t: string | number;
}>;


export type InvoicesQuery = { invoices: Array<{ id: string, number: string, status: InvoiceStatus, groupBy: string, currency: string, listCost: string, tenantCost: string, total: string, issuedAt: string | null, issuedBy: string | null, paidAt: string | null, voidedAt: string | null, voidReason: string | null, pdfUrl: string, csvUrl: string, period: { label: string, start: string, end: string, timeZone: string }, lines: Array<{ kind: InvoiceLineKind, provider: string, model: string, group: string, groupName: string, adjustsPeriod: string | null, events: number, unpricedEvents: number, listCost: string, tenantCost: string, amount: string, overrides: Array<string>, quantities: Array<{ class: string, quantity: number }> }>, providerReported: Array<{ provider: string, metered: string, reported: string | null }> }> };

export type DraftInvoiceQueryVariables = Exact<{
  t: string | number;
  p: string;
}>;


export type DraftInvoiceQuery = { draftInvoice: { id: string, number: string, status: InvoiceStatus, groupBy: string, currency: string, listCost: string, tenantCost: string, total: string, issuedAt: string | null, issuedBy: string | null, paidAt: string | null, voidedAt: string | null, voidReason: string | null, pdfUrl: string, csvUrl: string, period: { label: string, start: string, end: string, timeZone: string }, lines: Array<{ kind: InvoiceLineKind, provider: string, model: string, group: string, groupName: string, adjustsPeriod: string | null, events: number, unpricedEvents: number, listCost: string, tenantCost: string, amount: string, overrides: Array<string>, quantities: Array<{ class: string, quantity: number }> }>, providerReported: Array<{ provider: string, metered: string, reported: string | null }> } };

export type IssueInvoiceMutationVariables = Exact<{
  t: string | number;
  p: string;
}>;


export type IssueInvoiceMutation = { issueInvoice: { id: string, number: string, status: InvoiceStatus, groupBy: string, currency: string, listCost: string, tenantCost: string, total: string, issuedAt: string | null, issuedBy: string | null, paidAt: string | null, voidedAt: string | null, voidReason: string | null, pdfUrl: string, csvUrl: string, period: { label: string, start: string, end: string, timeZone: string }, lines: Array<{ kind: InvoiceLineKind, provider: string, model: string, group: string, groupName: string, adjustsPeriod: string | null, events: number, unpricedEvents: number, listCost: string, tenantCost: string, amount: string, overrides: Array<string>, quantities: Array<{ class: string, quantity: number }> }>, providerReported: Array<{ provider: string, metered: string, reported: string | null }> } };

export type MarkInvoicePaidMutationVariables = Exact<{
  t: string | number;
  id: string | number;
}>;


export type MarkInvoicePaidMutation = { markInvoicePaid: { id: string, number: string, status: InvoiceStatus, groupBy: string, currency: string, listCost: string, tenantCost: string, total: string, issuedAt: string | null, issuedBy: string | null, paidAt: string | null, voidedAt: string | null, voidReason: string | null, pdfUrl: string, csvUrl: string, period: { label: string, start: string, end: string, timeZone: string }, lines: Array<{ kind: InvoiceLineKind, provider: string, model: string, group: string, groupName: string, adjustsPeriod: string | null, events: number, unpricedEvents: number, listCost: string, tenantCost: string, amount: string, overrides: Array<string>, quantities: Array<{ class: string, quantity: number }> }>, providerReported: Array<{ provider: string, metered: string, reported: string | null }> } };

export type VoidInvoiceMutationVariables = Exact<{
  t: string | number;
  id: string | number;
  r: string;
}>;


export type VoidInvoiceMutation = { voidInvoice: { id: string, number: string, status: InvoiceStatus, groupBy: string, currency: string, listCost: string, tenantCost: string, total: string, issuedAt: string | null, issuedBy: string | null, paidAt: string | null, voidedAt: string | null, voidReason: string | null, pdfUrl: string, csvUrl: string, period: { label: string, start: string, end: string, timeZone: string }, lines: Array<{ kind: InvoiceLineKind, provider: string, model: string, group: string, groupName: string, adjustsPeriod: string | null, events: number, unpricedEvents: number, listCost: string, tenantCost: string, amount: string, overrides: Array<string>, quantities: Array<{ class: string, quantity: number }> }>, providerReported: Array<{ provider: string, metered: string, reported: string | null }> } };

export type ChargebackStatementQueryVariables = Exact<{
  t: string | number;
  p: string;
  g: string;
}>;


export type ChargebackStatementQuery = { chargebackStatement: { groupBy: string, total: string, tenantCost: string, pdfUrl: string, csvUrl: string, period: { label: string, start: string, end: string, timeZone: string }, groups: Array<{ group: string, groupName: string, events: number, listCost: string, tenantCost: string, amount: string }> } };

export type LineEventsQueryVariables = Exact<{
  t: string | number;
  from: string;
  to: string;
  f?: SpendFilter | null | undefined;
  after?: string | null | undefined;
}>;


export type LineEventsQuery = { usageEvents: { edges: Array<{ node: { id: string, time: string, keyId: string, keyName: string, source: string, provider: string, operation: string, modelRequested: string, modelServed: string, catalogueModel: string, status: number, streaming: boolean, complete: boolean, latencyMs: number, requestId: string, serviceTier: string, priced: boolean, listCost: string | null, tenantCost: string | null, providerReportedCost: string | null, overrideIds: string, pricingTier: string, dimensions: Array<{ name: string, value: string }>, tokens: { input: number, cachedInput: number, cacheWrite5m: number, cacheWrite1h: number, output: number, reasoning: number, audioInput: number, audioOutput: number, imageInput: number, imageOutput: number, webSearches: number, characters: number, seconds: number, images: number }, costLines: Array<{ class: string, quantity: number, listRatePerMillion: string, tenantRatePerMillion: string, amount: string }> } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type SessionFieldsFragment = { accessToken: string, refreshToken: string, expiresAt: string, user: { id: string, email: string, name: string } };

export type SignInMutationVariables = Exact<{
  email: string;
  password: string;
  mfa?: string | null | undefined;
}>;


export type SignInMutation = { signIn: { accessToken: string, refreshToken: string, expiresAt: string, user: { id: string, email: string, name: string } } };

export type RefreshMutationVariables = Exact<{
  r: string;
}>;


export type RefreshMutation = { refreshSession: { accessToken: string, refreshToken: string, expiresAt: string, user: { id: string, email: string, name: string } } };

export type SignOutMutationVariables = Exact<{
  r: string;
}>;


export type SignOutMutation = { signOut: boolean };

export type TenantsQueryVariables = Exact<{ [key: string]: never; }>;


export type TenantsQuery = { tenants: Array<{ id: string, name: string, slug: string, role: Role, mfaRequired: boolean }> };

export type KeyFieldsFragment = { id: string, name: string, prefix: string, status: KeyStatus, createdAt: string, lastUsedAt: string | null, revokedAt: string | null, expiresAt: string | null, rotatedFromId: string | null, policy: { allowedProviders: Array<string>, allowedModels: Array<string>, requiredDimensions: Array<string>, requirePricedModels: boolean, injectProviderCredentials: boolean, defaultDimensions: Array<{ name: string, value: string }> } };

export type ApiKeysQueryVariables = Exact<{
  t: string | number;
  after?: string | null | undefined;
  status?: KeyStatus | null | undefined;
}>;


export type ApiKeysQuery = { apiKeys: { edges: Array<{ node: { id: string, name: string, prefix: string, status: KeyStatus, createdAt: string, lastUsedAt: string | null, revokedAt: string | null, expiresAt: string | null, rotatedFromId: string | null, policy: { allowedProviders: Array<string>, allowedModels: Array<string>, requiredDimensions: Array<string>, requirePricedModels: boolean, injectProviderCredentials: boolean, defaultDimensions: Array<{ name: string, value: string }> } } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type CreateKeyMutationVariables = Exact<{
  t: string | number;
  n: string;
  p?: KeyPolicyInput | null | undefined;
  e?: string | null | undefined;
}>;


export type CreateKeyMutation = { createAPIKey: { secret: string, key: { id: string, name: string, prefix: string, status: KeyStatus, createdAt: string, lastUsedAt: string | null, revokedAt: string | null, expiresAt: string | null, rotatedFromId: string | null, policy: { allowedProviders: Array<string>, allowedModels: Array<string>, requiredDimensions: Array<string>, requirePricedModels: boolean, injectProviderCredentials: boolean, defaultDimensions: Array<{ name: string, value: string }> } } } };

export type RevokeKeyMutationVariables = Exact<{
  t: string | number;
  id: string | number;
}>;


export type RevokeKeyMutation = { revokeAPIKey: { id: string, name: string, prefix: string, status: KeyStatus, createdAt: string, lastUsedAt: string | null, revokedAt: string | null, expiresAt: string | null, rotatedFromId: string | null, policy: { allowedProviders: Array<string>, allowedModels: Array<string>, requiredDimensions: Array<string>, requirePricedModels: boolean, injectProviderCredentials: boolean, defaultDimensions: Array<{ name: string, value: string }> } } };

export type RotateKeyMutationVariables = Exact<{
  t: string | number;
  id: string | number;
}>;


export type RotateKeyMutation = { rotateAPIKey: { secret: string, key: { id: string, name: string, prefix: string, status: KeyStatus, createdAt: string, lastUsedAt: string | null, revokedAt: string | null, expiresAt: string | null, rotatedFromId: string | null, policy: { allowedProviders: Array<string>, allowedModels: Array<string>, requiredDimensions: Array<string>, requirePricedModels: boolean, injectProviderCredentials: boolean, defaultDimensions: Array<{ name: string, value: string }> } } } };

export type BudgetFieldsFragment = { id: string, name: string, scope: BudgetScope, workspaceId: string | null, teamId: string | null, projectId: string | null, keyId: string | null, provider: string | null, model: string | null, dimensionName: string | null, dimensionValue: string | null, period: BudgetPeriod, amount: string, thresholds: Array<number>, hard: boolean, rollover: boolean, webhookUrl: string | null, alertEmails: Array<string>, spendBasis: SpendBasis, breachWebhookUrl: string | null, breachWebhookSigned: boolean, createdAt: string, updatedAt: string };

export type CreateBudgetMutationVariables = Exact<{
  t: string | number;
  in: BudgetInput;
}>;


export type CreateBudgetMutation = { createBudget: { id: string, name: string, scope: BudgetScope, workspaceId: string | null, teamId: string | null, projectId: string | null, keyId: string | null, provider: string | null, model: string | null, dimensionName: string | null, dimensionValue: string | null, period: BudgetPeriod, amount: string, thresholds: Array<number>, hard: boolean, rollover: boolean, webhookUrl: string | null, alertEmails: Array<string>, spendBasis: SpendBasis, breachWebhookUrl: string | null, breachWebhookSigned: boolean, createdAt: string, updatedAt: string } };

export type UpdateBudgetMutationVariables = Exact<{
  t: string | number;
  id: string | number;
  in: BudgetInput;
}>;


export type UpdateBudgetMutation = { updateBudget: { id: string, name: string, scope: BudgetScope, workspaceId: string | null, teamId: string | null, projectId: string | null, keyId: string | null, provider: string | null, model: string | null, dimensionName: string | null, dimensionValue: string | null, period: BudgetPeriod, amount: string, thresholds: Array<number>, hard: boolean, rollover: boolean, webhookUrl: string | null, alertEmails: Array<string>, spendBasis: SpendBasis, breachWebhookUrl: string | null, breachWebhookSigned: boolean, createdAt: string, updatedAt: string } };

export type DeleteBudgetMutationVariables = Exact<{
  t: string | number;
  id: string | number;
}>;


export type DeleteBudgetMutation = { deleteBudget: boolean };

export type BudgetStatusesQueryVariables = Exact<{
  t: string | number;
}>;


export type BudgetStatusesQuery = { budgetStatuses: Array<{ periodStart: string, periodEnd: string, spent: string, reserved: string, remaining: string, percentUsed: number, forecast: string, forecastLow: string, forecastHigh: string, willExceedOn: string | null, forecastMethod: string, blocked: boolean, spendBasis: SpendBasis, metered: string, reported: string | null, budget: { id: string, name: string, scope: BudgetScope, workspaceId: string | null, teamId: string | null, projectId: string | null, keyId: string | null, provider: string | null, model: string | null, dimensionName: string | null, dimensionValue: string | null, period: BudgetPeriod, amount: string, thresholds: Array<number>, hard: boolean, rollover: boolean, webhookUrl: string | null, alertEmails: Array<string>, spendBasis: SpendBasis, breachWebhookUrl: string | null, breachWebhookSigned: boolean, createdAt: string, updatedAt: string } }> };

export type NodeFieldsFragment = { id: string, kind: OrgNodeKind, parentId: string | null, name: string, workspaceId: string, teamId: string | null, projectId: string | null, archivedAt: string | null };

export type OrgTreeQueryVariables = Exact<{
  t: string | number;
  from: string;
  to: string;
}>;


export type OrgTreeQuery = { orgTree: Array<{ id: string, kind: OrgNodeKind, parentId: string | null, name: string, workspaceId: string, teamId: string | null, projectId: string | null, archivedAt: string | null }>, budgetStatuses: Array<{ periodStart: string, periodEnd: string, spent: string, reserved: string, remaining: string, percentUsed: number, forecast: string, blocked: boolean, budget: { id: string, name: string, scope: BudgetScope, workspaceId: string | null, teamId: string | null, projectId: string | null, keyId: string | null, provider: string | null, model: string | null, dimensionName: string | null, dimensionValue: string | null, period: BudgetPeriod, amount: string, thresholds: Array<number>, hard: boolean, rollover: boolean, webhookUrl: string | null, alertEmails: Array<string>, spendBasis: SpendBasis, breachWebhookUrl: string | null, breachWebhookSigned: boolean, createdAt: string, updatedAt: string } }>, byWorkspace: { groups: Array<{ keys: Array<string>, totals: { tenantCost: string, requests: number } }> }, byTeam: { groups: Array<{ keys: Array<string>, totals: { tenantCost: string, requests: number } }> }, byProject: { groups: Array<{ keys: Array<string>, totals: { tenantCost: string, requests: number } }> } };

export type CreateNodeMutationVariables = Exact<{
  t: string | number;
  k: OrgNodeKind;
  p?: string | number | null | undefined;
  n: string;
}>;


export type CreateNodeMutation = { createOrgNode: { id: string, kind: OrgNodeKind, parentId: string | null, name: string, workspaceId: string, teamId: string | null, projectId: string | null, archivedAt: string | null } };

export type OverrideFieldsFragment = { id: string, provider: string, model: string, effectiveFrom: string, effectiveTo: string | null, percentAdjustment: string, note: string, createdAt: string, rates: Array<{ class: string, perMillion: string }> };

export type OverridesQueryVariables = Exact<{
  t: string | number;
}>;


export type OverridesQuery = { pricingOverrides: { edges: Array<{ node: { id: string, provider: string, model: string, effectiveFrom: string, effectiveTo: string | null, percentAdjustment: string, note: string, createdAt: string, rates: Array<{ class: string, perMillion: string }> } }> } };

export type CreateOverrideMutationVariables = Exact<{
  t: string | number;
  in: PricingOverrideInput;
}>;


export type CreateOverrideMutation = { createPricingOverride: { id: string, provider: string, model: string, effectiveFrom: string, effectiveTo: string | null, percentAdjustment: string, note: string, createdAt: string, rates: Array<{ class: string, perMillion: string }> } };

export type UpdateOverrideMutationVariables = Exact<{
  t: string | number;
  id: string | number;
  in: PricingOverrideInput;
}>;


export type UpdateOverrideMutation = { updatePricingOverride: { id: string, provider: string, model: string, effectiveFrom: string, effectiveTo: string | null, percentAdjustment: string, note: string, createdAt: string, rates: Array<{ class: string, perMillion: string }> } };

export type DeleteOverrideMutationVariables = Exact<{
  t: string | number;
  id: string | number;
}>;


export type DeleteOverrideMutation = { deletePricingOverride: boolean };

export type EventFieldsFragment = { id: string, time: string, keyId: string, keyName: string, source: string, provider: string, operation: string, modelRequested: string, modelServed: string, catalogueModel: string, status: number, streaming: boolean, complete: boolean, latencyMs: number, requestId: string, serviceTier: string, priced: boolean, listCost: string | null, tenantCost: string | null, providerReportedCost: string | null, overrideIds: string, pricingTier: string, dimensions: Array<{ name: string, value: string }>, tokens: { input: number, cachedInput: number, cacheWrite5m: number, cacheWrite1h: number, output: number, reasoning: number, audioInput: number, audioOutput: number, imageInput: number, imageOutput: number, webSearches: number, characters: number, seconds: number, images: number }, costLines: Array<{ class: string, quantity: number, listRatePerMillion: string, tenantRatePerMillion: string, amount: string }> };

export type UsageEventsQueryVariables = Exact<{
  t: string | number;
  from: string;
  to: string;
  after?: string | null | undefined;
  n?: number | null | undefined;
}>;


export type UsageEventsQuery = { usageEvents: { edges: Array<{ node: { id: string, time: string, keyId: string, keyName: string, source: string, provider: string, operation: string, modelRequested: string, modelServed: string, catalogueModel: string, status: number, streaming: boolean, complete: boolean, latencyMs: number, requestId: string, serviceTier: string, priced: boolean, listCost: string | null, tenantCost: string | null, providerReportedCost: string | null, overrideIds: string, pricingTier: string, dimensions: Array<{ name: string, value: string }>, tokens: { input: number, cachedInput: number, cacheWrite5m: number, cacheWrite1h: number, output: number, reasoning: number, audioInput: number, audioOutput: number, imageInput: number, imageOutput: number, webSearches: number, characters: number, seconds: number, images: number }, costLines: Array<{ class: string, quantity: number, listRatePerMillion: string, tenantRatePerMillion: string, amount: string }> } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type UsageEventQueryVariables = Exact<{
  t: string | number;
  id: string | number;
}>;


export type UsageEventQuery = { usageEvent: { id: string, time: string, keyId: string, keyName: string, source: string, provider: string, operation: string, modelRequested: string, modelServed: string, catalogueModel: string, status: number, streaming: boolean, complete: boolean, latencyMs: number, requestId: string, serviceTier: string, priced: boolean, listCost: string | null, tenantCost: string | null, providerReportedCost: string | null, overrideIds: string, pricingTier: string, dimensions: Array<{ name: string, value: string }>, tokens: { input: number, cachedInput: number, cacheWrite5m: number, cacheWrite1h: number, output: number, reasoning: number, audioInput: number, audioOutput: number, imageInput: number, imageOutput: number, webSearches: number, characters: number, seconds: number, images: number }, costLines: Array<{ class: string, quantity: number, listRatePerMillion: string, tenantRatePerMillion: string, amount: string }> } };

export type MembersQueryVariables = Exact<{
  t: string | number;
}>;


export type MembersQuery = { members: { edges: Array<{ node: { role: Role, createdAt: string, suspended: boolean, user: { id: string, email: string, name: string } } }> } };

export type AddMemberMutationVariables = Exact<{
  t: string | number;
  e: string;
  n?: string | null | undefined;
  p?: string | null | undefined;
  r: Role;
}>;


export type AddMemberMutation = { addMember: { role: Role, user: { id: string, email: string } } };

export type UpdateRoleMutationVariables = Exact<{
  t: string | number;
  u: string | number;
  r: Role;
}>;


export type UpdateRoleMutation = { updateMemberRole: { role: Role } };

export type RemoveMemberMutationVariables = Exact<{
  t: string | number;
  u: string | number;
}>;


export type RemoveMemberMutation = { removeMember: boolean };

export type AuditQueryVariables = Exact<{
  t: string | number;
  after?: string | null | undefined;
  f?: AuditFilter | null | undefined;
}>;


export type AuditQuery = { auditLog: { edges: Array<{ node: { id: string, actor: string, action: string, targetType: string, targetId: string, details: string, createdAt: string } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type AuditNamesQueryVariables = Exact<{
  t: string | number;
}>;


export type AuditNamesQuery = { apiKeys: { edges: Array<{ node: { id: string, name: string } }> }, budgets: { edges: Array<{ node: { id: string, name: string } }> }, members: { edges: Array<{ node: { user: { id: string, email: string } } }> }, orgTree: Array<{ id: string, name: string }>, pricingOverrides: { edges: Array<{ node: { id: string, provider: string, model: string } }> } };

export type TotalsFieldsFragment = { requests: number, unpricedRequests: number, listCost: string, tenantCost: string, inputTokens: number, outputTokens: number };

export type BreakdownFieldsFragment = { groupBy: Array<string>, groups: Array<{ keys: Array<string>, labels: Array<string>, totals: { requests: number, unpricedRequests: number, listCost: string, tenantCost: string, inputTokens: number, outputTokens: number } }>, other: { requests: number, unpricedRequests: number, listCost: string, tenantCost: string, inputTokens: number, outputTokens: number } | null, total: { requests: number, unpricedRequests: number, listCost: string, tenantCost: string, inputTokens: number, outputTokens: number } };

export type DashboardQueryVariables = Exact<{
  t: string | number;
  from: string;
  to: string;
  bucket: TimeBucket;
  top: number;
}>;


export type DashboardQuery = { summary: { requests: number, unpricedRequests: number, listCost: string, tenantCost: string, inputTokens: number, outputTokens: number }, series: Array<{ start: string, totals: { requests: number, tenantCost: string } }>, byProvider: { groupBy: Array<string>, groups: Array<{ keys: Array<string>, labels: Array<string>, totals: { requests: number, unpricedRequests: number, listCost: string, tenantCost: string, inputTokens: number, outputTokens: number } }>, other: { requests: number, unpricedRequests: number, listCost: string, tenantCost: string, inputTokens: number, outputTokens: number } | null, total: { requests: number, unpricedRequests: number, listCost: string, tenantCost: string, inputTokens: number, outputTokens: number } }, byModel: { groupBy: Array<string>, groups: Array<{ keys: Array<string>, labels: Array<string>, totals: { requests: number, unpricedRequests: number, listCost: string, tenantCost: string, inputTokens: number, outputTokens: number } }>, other: { requests: number, unpricedRequests: number, listCost: string, tenantCost: string, inputTokens: number, outputTokens: number } | null, total: { requests: number, unpricedRequests: number, listCost: string, tenantCost: string, inputTokens: number, outputTokens: number } }, byKey: { groupBy: Array<string>, groups: Array<{ keys: Array<string>, labels: Array<string>, totals: { requests: number, unpricedRequests: number, listCost: string, tenantCost: string, inputTokens: number, outputTokens: number } }>, other: { requests: number, unpricedRequests: number, listCost: string, tenantCost: string, inputTokens: number, outputTokens: number } | null, total: { requests: number, unpricedRequests: number, listCost: string, tenantCost: string, inputTokens: number, outputTokens: number } }, unknownModels: Array<{ provider: string, model: string, requests: number, inputTokens: number, outputTokens: number, firstSeen: string, lastSeen: string }>, denials: Array<{ keys: Array<string>, labels: Array<string>, requests: number }>, deniedKeys: Array<{ keys: Array<string>, labels: Array<string>, requests: number }> };

export type SpendChartQueryVariables = Exact<{
  t: string | number;
  from: string;
  to: string;
  pfrom: string;
  bucket: TimeBucket;
  group?: Array<SpendGroupBy> | SpendGroupBy | null | undefined;
}>;


export type SpendChartQuery = { stacked: Array<{ start: string, keys: Array<string>, labels: Array<string>, totals: { requests: number, tenantCost: string } }>, previous: Array<{ start: string, totals: { requests: number, tenantCost: string } }> };

export type BudgetBurnQueryVariables = Exact<{
  t: string | number;
  from: string;
  to: string;
  bucket: TimeBucket;
  f?: SpendFilter | null | undefined;
}>;


export type BudgetBurnQuery = { spendTimeSeries: Array<{ start: string, totals: { tenantCost: string } }> };

export type FilteredEventsQueryVariables = Exact<{
  t: string | number;
  from: string;
  to: string;
  f?: SpendFilter | null | undefined;
  after?: string | null | undefined;
  n?: number | null | undefined;
}>;


export type FilteredEventsQuery = { usageEvents: { edges: Array<{ node: { id: string, time: string, keyId: string, keyName: string, source: string, provider: string, operation: string, modelRequested: string, modelServed: string, catalogueModel: string, status: number, streaming: boolean, complete: boolean, latencyMs: number, requestId: string, serviceTier: string, priced: boolean, listCost: string | null, tenantCost: string | null, providerReportedCost: string | null, overrideIds: string, pricingTier: string, dimensions: Array<{ name: string, value: string }>, tokens: { input: number, cachedInput: number, cacheWrite5m: number, cacheWrite1h: number, output: number, reasoning: number, audioInput: number, audioOutput: number, imageInput: number, imageOutput: number, webSearches: number, characters: number, seconds: number, images: number }, costLines: Array<{ class: string, quantity: number, listRatePerMillion: string, tenantRatePerMillion: string, amount: string }> } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type DimensionBreakdownQueryVariables = Exact<{
  t: string | number;
  from: string;
  to: string;
  dim: string;
  top: number;
}>;


export type DimensionBreakdownQuery = { spendBreakdown: { groupBy: Array<string>, groups: Array<{ keys: Array<string>, labels: Array<string>, totals: { requests: number, unpricedRequests: number, listCost: string, tenantCost: string, inputTokens: number, outputTokens: number } }>, other: { requests: number, unpricedRequests: number, listCost: string, tenantCost: string, inputTokens: number, outputTokens: number } | null, total: { requests: number, unpricedRequests: number, listCost: string, tenantCost: string, inputTokens: number, outputTokens: number } } };

export type DimensionNamesQueryVariables = Exact<{
  t: string | number;
  from: string;
  to: string;
}>;


export type DimensionNamesQuery = { apiKeys: { edges: Array<{ node: { policy: { requiredDimensions: Array<string>, defaultDimensions: Array<{ name: string }> } } }> }, budgets: { edges: Array<{ node: { dimensionName: string | null } }> }, usageEvents: { edges: Array<{ node: { dimensions: Array<{ name: string, value: string }> } }> } };

export type AlertFieldsFragment = { id: string, budgetId: string, budgetName: string, threshold: number, periodStart: string, periodEnd: string, spent: string, amount: string, hard: boolean, message: string, at: string };

export type BudgetAlertsSubscriptionVariables = Exact<{
  t: string | number;
}>;


export type BudgetAlertsSubscription = { budgetAlerts: { id: string, budgetId: string, budgetName: string, threshold: number, periodStart: string, periodEnd: string, spent: string, amount: string, hard: boolean, message: string, at: string } };

export type AlertHistoryQueryVariables = Exact<{
  t: string | number;
  n?: number | null | undefined;
}>;


export type AlertHistoryQuery = { budgetAlertHistory: Array<{ id: string, budgetId: string, budgetName: string, threshold: number, periodStart: string, periodEnd: string, spent: string, amount: string, hard: boolean, message: string, at: string }> };

export type RepriceMutationVariables = Exact<{
  t: string | number;
  from: string;
  to: string;
}>;


export type RepriceMutation = { repriceUnpricedEvents: { examined: number, repriced: number, stillUnpriced: number, listCost: string, tenantCost: string } };

export type CatalogueBrowseQueryVariables = Exact<{
  q?: string | null | undefined;
  p?: string | null | undefined;
  n?: number | null | undefined;
}>;


export type CatalogueBrowseQuery = { pricingCatalogue: Array<{ provider: string, model: string, aliases: Array<string>, effectiveFrom: string, source: string, checked: string, sourceKind: string, reason: string, notes: string, maxOutputTokens: number | null, longContextAboveInputTokens: number | null, rates: Array<{ class: string, perMillion: string }>, unitRates: Array<{ class: string, variant: string, unit: string, perMillion: boolean, usd: string }> }> };

export type RevisionFieldsFragment = { id: string, status: PricingRevisionStatus, baseId: string | null, effectiveFrom: string, source: string, summary: string, createdAt: string, createdBy: string, decidedAt: string | null, decidedBy: string, added: Array<{ provider: string, model: string, effectiveFrom: string, changes: Array<{ field: string, unit: string, old: string, new: string }> }>, changed: Array<{ provider: string, model: string, effectiveFrom: string, changes: Array<{ field: string, unit: string, old: string, new: string }> }>, removed: Array<{ provider: string, model: string, effectiveFrom: string, changes: Array<{ field: string, unit: string, old: string, new: string }> }> };

export type PricingRevisionsQueryVariables = Exact<{
  n?: number | null | undefined;
}>;


export type PricingRevisionsQuery = { canManagePricing: boolean, pricingRevisions: Array<{ id: string, status: PricingRevisionStatus, baseId: string | null, effectiveFrom: string, source: string, summary: string, createdAt: string, createdBy: string, decidedAt: string | null, decidedBy: string, added: Array<{ provider: string, model: string, effectiveFrom: string, changes: Array<{ field: string, unit: string, old: string, new: string }> }>, changed: Array<{ provider: string, model: string, effectiveFrom: string, changes: Array<{ field: string, unit: string, old: string, new: string }> }>, removed: Array<{ provider: string, model: string, effectiveFrom: string, changes: Array<{ field: string, unit: string, old: string, new: string }> }> }> };

export type ApplyRevisionMutationVariables = Exact<{
  id: string | number;
}>;


export type ApplyRevisionMutation = { applyPricingRevision: { id: string, status: PricingRevisionStatus, baseId: string | null, effectiveFrom: string, source: string, summary: string, createdAt: string, createdBy: string, decidedAt: string | null, decidedBy: string, added: Array<{ provider: string, model: string, effectiveFrom: string, changes: Array<{ field: string, unit: string, old: string, new: string }> }>, changed: Array<{ provider: string, model: string, effectiveFrom: string, changes: Array<{ field: string, unit: string, old: string, new: string }> }>, removed: Array<{ provider: string, model: string, effectiveFrom: string, changes: Array<{ field: string, unit: string, old: string, new: string }> }> } };

export type RejectRevisionMutationVariables = Exact<{
  id: string | number;
}>;


export type RejectRevisionMutation = { rejectPricingRevision: { id: string, status: PricingRevisionStatus, baseId: string | null, effectiveFrom: string, source: string, summary: string, createdAt: string, createdBy: string, decidedAt: string | null, decidedBy: string, added: Array<{ provider: string, model: string, effectiveFrom: string, changes: Array<{ field: string, unit: string, old: string, new: string }> }>, changed: Array<{ provider: string, model: string, effectiveFrom: string, changes: Array<{ field: string, unit: string, old: string, new: string }> }>, removed: Array<{ provider: string, model: string, effectiveFrom: string, changes: Array<{ field: string, unit: string, old: string, new: string }> }> } };

export type SsoOptionQueryVariables = Exact<{
  e?: string | null | undefined;
  s?: string | null | undefined;
}>;


export type SsoOptionQuery = { ssoOption: { tenantSlug: string, displayName: string } | null };

export type StartSsoMutationVariables = Exact<{
  e?: string | null | undefined;
  s?: string | null | undefined;
}>;


export type StartSsoMutation = { startSSOSignIn: { authorizationUrl: string, state: string } };

export type FinishSsoMutationVariables = Exact<{
  s: string;
  c: string;
}>;


export type FinishSsoMutation = { finishSSOSignIn: { accessToken: string, refreshToken: string, expiresAt: string, user: { id: string, email: string, name: string } } };

export type TenantSsoFieldsFragment = { enabled: boolean, displayName: string, issuerUrl: string, clientId: string, clientSecretSet: boolean, scopes: Array<string>, allowedDomains: Array<string>, groupsClaim: string, defaultRole: Role | null, jitProvisioning: boolean, ssoRequired: boolean, breakGlassUserId: string | null, redirectUri: string, updatedAt: string, groupMappings: Array<{ group: string, role: Role, scopedRole: ScopedRole | null, nodeId: string | null }> };

export type GetTenantSsoQueryVariables = Exact<{
  t: string | number;
}>;


export type GetTenantSsoQuery = { tenantSSO: { enabled: boolean, displayName: string, issuerUrl: string, clientId: string, clientSecretSet: boolean, scopes: Array<string>, allowedDomains: Array<string>, groupsClaim: string, defaultRole: Role | null, jitProvisioning: boolean, ssoRequired: boolean, breakGlassUserId: string | null, redirectUri: string, updatedAt: string, groupMappings: Array<{ group: string, role: Role, scopedRole: ScopedRole | null, nodeId: string | null }> } | null, scimTokens: Array<{ id: string, name: string, prefix: string, createdAt: string, lastUsedAt: string | null, revokedAt: string | null }>, tenant: { mfaRequired: boolean }, orgTree: Array<{ id: string, kind: OrgNodeKind, name: string, archivedAt: string | null }> };

export type ConfigureSsoMutationVariables = Exact<{
  t: string | number;
  in: TenantSsoInput;
}>;


export type ConfigureSsoMutation = { configureTenantSSO: { enabled: boolean, displayName: string, issuerUrl: string, clientId: string, clientSecretSet: boolean, scopes: Array<string>, allowedDomains: Array<string>, groupsClaim: string, defaultRole: Role | null, jitProvisioning: boolean, ssoRequired: boolean, breakGlassUserId: string | null, redirectUri: string, updatedAt: string, groupMappings: Array<{ group: string, role: Role, scopedRole: ScopedRole | null, nodeId: string | null }> } };

export type DeleteSsoMutationVariables = Exact<{
  t: string | number;
}>;


export type DeleteSsoMutation = { deleteTenantSSO: boolean };

export type SetMfaRequiredMutationVariables = Exact<{
  t: string | number;
  r: boolean;
}>;


export type SetMfaRequiredMutation = { setTenantMFARequired: { mfaRequired: boolean } };

export type CreateScimTokenMutationVariables = Exact<{
  t: string | number;
  n: string;
}>;


export type CreateScimTokenMutation = { createSCIMToken: { secret: string, baseUrl: string, token: { id: string } } };

export type RotateScimTokenMutationVariables = Exact<{
  t: string | number;
  id: string | number;
}>;


export type RotateScimTokenMutation = { rotateSCIMToken: { secret: string, baseUrl: string, token: { id: string } } };

export type RevokeScimTokenMutationVariables = Exact<{
  t: string | number;
  id: string | number;
}>;


export type RevokeScimTokenMutation = { revokeSCIMToken: { id: string } };

export type MyMfaQueryVariables = Exact<{ [key: string]: never; }>;


export type MyMfaQuery = { myMFA: { totpEnabled: boolean, recoveryCodesLeft: number } };

export type EnrolTotpMutationVariables = Exact<{ [key: string]: never; }>;


export type EnrolTotpMutation = { enrolTOTP: { secret: string, otpauthUri: string, qrCode: string } };

export type ConfirmTotpMutationVariables = Exact<{
  c: string;
}>;


export type ConfirmTotpMutation = { confirmTOTP: Array<string> };

export type DisableTotpMutationVariables = Exact<{
  p: string;
  c: string;
}>;


export type DisableTotpMutation = { disableTOTP: boolean };

export type RegenerateCodesMutationVariables = Exact<{
  c: string;
}>;


export type RegenerateCodesMutation = { regenerateRecoveryCodes: Array<string> };

export type ConnectionFieldsFragment = { id: string, provider: string, name: string, adminKeyLast4: string | null, dataKeyLast4: string | null, lookbackDays: number, enabled: boolean, createdAt: string, lastRun: { running: boolean, progress: string, lastRunAt: string | null, lastOkAt: string | null, nextRunAt: string | null, lastError: string, pages: number, rows: number, consecutiveFailures: number } };

export type ProviderConnectionsQueryVariables = Exact<{
  t: string | number;
}>;


export type ProviderConnectionsQuery = { providerConnections: Array<{ id: string, provider: string, name: string, adminKeyLast4: string | null, dataKeyLast4: string | null, lookbackDays: number, enabled: boolean, createdAt: string, lastRun: { running: boolean, progress: string, lastRunAt: string | null, lastOkAt: string | null, nextRunAt: string | null, lastError: string, pages: number, rows: number, consecutiveFailures: number } }> };

export type CreateConnectionMutationVariables = Exact<{
  t: string | number;
  in: CreateProviderConnectionInput;
}>;


export type CreateConnectionMutation = { createProviderConnection: { id: string, provider: string, name: string, adminKeyLast4: string | null, dataKeyLast4: string | null, lookbackDays: number, enabled: boolean, createdAt: string, lastRun: { running: boolean, progress: string, lastRunAt: string | null, lastOkAt: string | null, nextRunAt: string | null, lastError: string, pages: number, rows: number, consecutiveFailures: number } } };

export type DeleteConnectionMutationVariables = Exact<{
  t: string | number;
  id: string | number;
}>;


export type DeleteConnectionMutation = { deleteProviderConnection: boolean };

export type SyncConnectionMutationVariables = Exact<{
  t: string | number;
  id: string | number;
}>;


export type SyncConnectionMutation = { syncProviderConnection: { pages: number, rows: number, alerts: number } };

export type ReconDayFieldsFragment = { provider: string, day: string | null, meteredCost: string, reportedCost: string, drift: string, driftPercent: string | null, unmeteredCost: string, unreportedCost: string };

export type ReconciliationQueryVariables = Exact<{
  t: string | number;
  from: string;
  to: string;
}>;


export type ReconciliationQuery = { reconciliation: { csvPath: string, rows: Array<{ provider: string, day: string, model: string, status: ReconciliationStatus, meteredEvents: number, meteredCost: string, reportedCost: string, reportedHasCost: boolean, drift: string, driftPercent: string | null }>, days: Array<{ provider: string, day: string | null, meteredCost: string, reportedCost: string, drift: string, driftPercent: string | null, unmeteredCost: string, unreportedCost: string }>, totals: { provider: string, day: string | null, meteredCost: string, reportedCost: string, drift: string, driftPercent: string | null, unmeteredCost: string, unreportedCost: string } }, reconcileSettings: { driftThresholdPercent: string, hasAlertWebhook: boolean }, driftAlerts: Array<{ id: string, provider: string, day: string, driftPercent: string, thresholdPercent: string, drift: string, createdAt: string, deliveredAt: string | null }> };

export type SetReconcileSettingsMutationVariables = Exact<{
  t: string | number;
  in: ReconcileSettingsInput;
}>;


export type SetReconcileSettingsMutation = { setReconcileSettings: { driftThresholdPercent: string, hasAlertWebhook: boolean } };

export type RecommendationFieldsFragment = { id: string, kind: RecommendationKind, title: string, detail: string, keyId: string | null, keyName: string | null, provider: string, model: string, alternative: string, currentMonthlyCost: string, monthlySavings: string, requests: number, state: RecommendationState, stateChangedBy: string | null, stateChangedAt: string | null };

export type InsightsQueryVariables = Exact<{
  t: string | number;
  from: string;
  to: string;
}>;


export type InsightsQuery = { spendForecast: { periodStart: string, periodEnd: string, spent: string, expected: string, low: string, high: string, method: string }, recommendations: Array<{ id: string, kind: RecommendationKind, title: string, detail: string, keyId: string | null, keyName: string | null, provider: string, model: string, alternative: string, currentMonthlyCost: string, monthlySavings: string, requests: number, state: RecommendationState, stateChangedBy: string | null, stateChangedAt: string | null }>, anomalies: Array<{ id: string, dimension: AnomalyDimension, value: string, label: string, severity: AnomalySeverity, startedAt: string, endedAt: string | null, peakHour: string, peakSpend: string, peakExpected: string, excessSpend: string, anomalousHours: number }> };

export type SetRecommendationStateMutationVariables = Exact<{
  t: string | number;
  id: string | number;
  s: RecommendationState;
}>;


export type SetRecommendationStateMutation = { setRecommendationState: { id: string, kind: RecommendationKind, title: string, detail: string, keyId: string | null, keyName: string | null, provider: string, model: string, alternative: string, currentMonthlyCost: string, monthlySavings: string, requests: number, state: RecommendationState, stateChangedBy: string | null, stateChangedAt: string | null } };

export type ReportFieldsFragment = { id: string, name: string, frequency: ReportFrequency, cron: string | null, timeZone: string, scope: ReportScope, nodeId: string | null, emails: Array<string>, slackWebhookUrl: string | null, enabled: boolean, nextRunAt: string | null, lastRunAt: string | null, lastError: string | null, createdAt: string, updatedAt: string };

export type ReportsQueryVariables = Exact<{
  t: string | number;
}>;


export type ReportsQuery = { reports: Array<{ id: string, name: string, frequency: ReportFrequency, cron: string | null, timeZone: string, scope: ReportScope, nodeId: string | null, emails: Array<string>, slackWebhookUrl: string | null, enabled: boolean, nextRunAt: string | null, lastRunAt: string | null, lastError: string | null, createdAt: string, updatedAt: string }> };

export type CreateReportMutationVariables = Exact<{
  t: string | number;
  in: ReportInput;
}>;


export type CreateReportMutation = { createReport: { id: string, name: string, frequency: ReportFrequency, cron: string | null, timeZone: string, scope: ReportScope, nodeId: string | null, emails: Array<string>, slackWebhookUrl: string | null, enabled: boolean, nextRunAt: string | null, lastRunAt: string | null, lastError: string | null, createdAt: string, updatedAt: string } };

export type UpdateReportMutationVariables = Exact<{
  t: string | number;
  id: string | number;
  in: ReportInput;
}>;


export type UpdateReportMutation = { updateReport: { id: string, name: string, frequency: ReportFrequency, cron: string | null, timeZone: string, scope: ReportScope, nodeId: string | null, emails: Array<string>, slackWebhookUrl: string | null, enabled: boolean, nextRunAt: string | null, lastRunAt: string | null, lastError: string | null, createdAt: string, updatedAt: string } };

export type DeleteReportMutationVariables = Exact<{
  t: string | number;
  id: string | number;
}>;


export type DeleteReportMutation = { deleteReport: boolean };

export type SendTestReportMutationVariables = Exact<{
  t: string | number;
  id: string | number;
}>;


export type SendTestReportMutation = { sendTestReport: { periodFrom: string, periodTo: string, spend: string, channels: Array<string> } };

export type ReportNodesQueryVariables = Exact<{
  t: string | number;
}>;


export type ReportNodesQuery = { orgTree: Array<{ id: string, kind: OrgNodeKind, parentId: string | null, name: string, workspaceId: string, teamId: string | null, projectId: string | null, archivedAt: string | null }> };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const InvoiceFieldsFragmentDoc = new TypedDocumentString(`
    fragment InvoiceFields on Invoice {
  id
  number
  status
  period {
    label
    start
    end
    timeZone
  }
  groupBy
  currency
  lines {
    kind
    provider
    model
    group
    groupName
    adjustsPeriod
    events
    unpricedEvents
    quantities {
      class
      quantity
    }
    listCost
    tenantCost
    amount
    overrides
  }
  listCost
  tenantCost
  total
  providerReported {
    provider
    metered
    reported
  }
  issuedAt
  issuedBy
  paidAt
  voidedAt
  voidReason
  pdfUrl
  csvUrl
}
    `, {"fragmentName":"InvoiceFields"}) as unknown as TypedDocumentString<InvoiceFieldsFragment, unknown>;
export const SessionFieldsFragmentDoc = new TypedDocumentString(`
    fragment SessionFields on Session {
  accessToken
  refreshToken
  expiresAt
  user {
    id
    email
    name
  }
}
    `, {"fragmentName":"SessionFields"}) as unknown as TypedDocumentString<SessionFieldsFragment, unknown>;
export const KeyFieldsFragmentDoc = new TypedDocumentString(`
    fragment KeyFields on APIKey {
  id
  name
  prefix
  status
  createdAt
  lastUsedAt
  revokedAt
  expiresAt
  rotatedFromId
  policy {
    allowedProviders
    allowedModels
    requiredDimensions
    defaultDimensions {
      name
      value
    }
    requirePricedModels
    injectProviderCredentials
  }
}
    `, {"fragmentName":"KeyFields"}) as unknown as TypedDocumentString<KeyFieldsFragment, unknown>;
export const BudgetFieldsFragmentDoc = new TypedDocumentString(`
    fragment BudgetFields on Budget {
  id
  name
  scope
  workspaceId
  teamId
  projectId
  keyId
  provider
  model
  dimensionName
  dimensionValue
  period
  amount
  thresholds
  hard
  rollover
  webhookUrl
  alertEmails
  spendBasis
  breachWebhookUrl
  breachWebhookSigned
  createdAt
  updatedAt
}
    `, {"fragmentName":"BudgetFields"}) as unknown as TypedDocumentString<BudgetFieldsFragment, unknown>;
export const NodeFieldsFragmentDoc = new TypedDocumentString(`
    fragment NodeFields on OrgNode {
  id
  kind
  parentId
  name
  workspaceId
  teamId
  projectId
  archivedAt
}
    `, {"fragmentName":"NodeFields"}) as unknown as TypedDocumentString<NodeFieldsFragment, unknown>;
export const OverrideFieldsFragmentDoc = new TypedDocumentString(`
    fragment OverrideFields on PricingOverride {
  id
  provider
  model
  effectiveFrom
  effectiveTo
  rates {
    class
    perMillion
  }
  percentAdjustment
  note
  createdAt
}
    `, {"fragmentName":"OverrideFields"}) as unknown as TypedDocumentString<OverrideFieldsFragment, unknown>;
export const EventFieldsFragmentDoc = new TypedDocumentString(`
    fragment EventFields on UsageEvent {
  id
  time
  keyId
  keyName
  source
  provider
  operation
  modelRequested
  modelServed
  catalogueModel
  status
  streaming
  complete
  latencyMs
  requestId
  serviceTier
  dimensions {
    name
    value
  }
  tokens {
    input
    cachedInput
    cacheWrite5m
    cacheWrite1h
    output
    reasoning
    audioInput
    audioOutput
    imageInput
    imageOutput
    webSearches
    characters
    seconds
    images
  }
  priced
  listCost
  tenantCost
  providerReportedCost
  overrideIds
  pricingTier
  costLines {
    class
    quantity
    listRatePerMillion
    tenantRatePerMillion
    amount
  }
}
    `, {"fragmentName":"EventFields"}) as unknown as TypedDocumentString<EventFieldsFragment, unknown>;
export const TotalsFieldsFragmentDoc = new TypedDocumentString(`
    fragment TotalsFields on SpendTotals {
  requests
  unpricedRequests
  listCost
  tenantCost
  inputTokens
  outputTokens
}
    `, {"fragmentName":"TotalsFields"}) as unknown as TypedDocumentString<TotalsFieldsFragment, unknown>;
export const BreakdownFieldsFragmentDoc = new TypedDocumentString(`
    fragment BreakdownFields on SpendBreakdown {
  groupBy
  groups {
    keys
    labels
    totals {
      ...TotalsFields
    }
  }
  other {
    ...TotalsFields
  }
  total {
    ...TotalsFields
  }
}
    fragment TotalsFields on SpendTotals {
  requests
  unpricedRequests
  listCost
  tenantCost
  inputTokens
  outputTokens
}`, {"fragmentName":"BreakdownFields"}) as unknown as TypedDocumentString<BreakdownFieldsFragment, unknown>;
export const AlertFieldsFragmentDoc = new TypedDocumentString(`
    fragment AlertFields on BudgetAlert {
  id
  budgetId
  budgetName
  threshold
  periodStart
  periodEnd
  spent
  amount
  hard
  message
  at
}
    `, {"fragmentName":"AlertFields"}) as unknown as TypedDocumentString<AlertFieldsFragment, unknown>;
export const RevisionFieldsFragmentDoc = new TypedDocumentString(`
    fragment RevisionFields on PricingRevision {
  id
  status
  baseId
  effectiveFrom
  source
  summary
  createdAt
  createdBy
  decidedAt
  decidedBy
  added {
    provider
    model
    effectiveFrom
    changes {
      field
      unit
      old
      new
    }
  }
  changed {
    provider
    model
    effectiveFrom
    changes {
      field
      unit
      old
      new
    }
  }
  removed {
    provider
    model
    effectiveFrom
    changes {
      field
      unit
      old
      new
    }
  }
}
    `, {"fragmentName":"RevisionFields"}) as unknown as TypedDocumentString<RevisionFieldsFragment, unknown>;
export const TenantSsoFieldsFragmentDoc = new TypedDocumentString(`
    fragment TenantSSOFields on TenantSSO {
  enabled
  displayName
  issuerUrl
  clientId
  clientSecretSet
  scopes
  allowedDomains
  groupsClaim
  groupMappings {
    group
    role
    scopedRole
    nodeId
  }
  defaultRole
  jitProvisioning
  ssoRequired
  breakGlassUserId
  redirectUri
  updatedAt
}
    `, {"fragmentName":"TenantSSOFields"}) as unknown as TypedDocumentString<TenantSsoFieldsFragment, unknown>;
export const ConnectionFieldsFragmentDoc = new TypedDocumentString(`
    fragment ConnectionFields on ProviderConnection {
  id
  provider
  name
  adminKeyLast4
  dataKeyLast4
  lookbackDays
  enabled
  createdAt
  lastRun {
    running
    progress
    lastRunAt
    lastOkAt
    nextRunAt
    lastError
    pages
    rows
    consecutiveFailures
  }
}
    `, {"fragmentName":"ConnectionFields"}) as unknown as TypedDocumentString<ConnectionFieldsFragment, unknown>;
export const ReconDayFieldsFragmentDoc = new TypedDocumentString(`
    fragment ReconDayFields on ReconciliationDay {
  provider
  day
  meteredCost
  reportedCost
  drift
  driftPercent
  unmeteredCost
  unreportedCost
}
    `, {"fragmentName":"ReconDayFields"}) as unknown as TypedDocumentString<ReconDayFieldsFragment, unknown>;
export const RecommendationFieldsFragmentDoc = new TypedDocumentString(`
    fragment RecommendationFields on Recommendation {
  id
  kind
  title
  detail
  keyId
  keyName
  provider
  model
  alternative
  currentMonthlyCost
  monthlySavings
  requests
  state
  stateChangedBy
  stateChangedAt
}
    `, {"fragmentName":"RecommendationFields"}) as unknown as TypedDocumentString<RecommendationFieldsFragment, unknown>;
export const ReportFieldsFragmentDoc = new TypedDocumentString(`
    fragment ReportFields on Report {
  id
  name
  frequency
  cron
  timeZone
  scope
  nodeId
  emails
  slackWebhookUrl
  enabled
  nextRunAt
  lastRunAt
  lastError
  createdAt
  updatedAt
}
    `, {"fragmentName":"ReportFields"}) as unknown as TypedDocumentString<ReportFieldsFragment, unknown>;
export const InvoicesDocument = new TypedDocumentString(`
    query Invoices($t: ID!) {
  invoices(tenantId: $t) {
    ...InvoiceFields
  }
}
    fragment InvoiceFields on Invoice {
  id
  number
  status
  period {
    label
    start
    end
    timeZone
  }
  groupBy
  currency
  lines {
    kind
    provider
    model
    group
    groupName
    adjustsPeriod
    events
    unpricedEvents
    quantities {
      class
      quantity
    }
    listCost
    tenantCost
    amount
    overrides
  }
  listCost
  tenantCost
  total
  providerReported {
    provider
    metered
    reported
  }
  issuedAt
  issuedBy
  paidAt
  voidedAt
  voidReason
  pdfUrl
  csvUrl
}`) as unknown as TypedDocumentString<InvoicesQuery, InvoicesQueryVariables>;
export const DraftInvoiceDocument = new TypedDocumentString(`
    query DraftInvoice($t: ID!, $p: String!) {
  draftInvoice(tenantId: $t, period: $p) {
    ...InvoiceFields
  }
}
    fragment InvoiceFields on Invoice {
  id
  number
  status
  period {
    label
    start
    end
    timeZone
  }
  groupBy
  currency
  lines {
    kind
    provider
    model
    group
    groupName
    adjustsPeriod
    events
    unpricedEvents
    quantities {
      class
      quantity
    }
    listCost
    tenantCost
    amount
    overrides
  }
  listCost
  tenantCost
  total
  providerReported {
    provider
    metered
    reported
  }
  issuedAt
  issuedBy
  paidAt
  voidedAt
  voidReason
  pdfUrl
  csvUrl
}`) as unknown as TypedDocumentString<DraftInvoiceQuery, DraftInvoiceQueryVariables>;
export const IssueInvoiceDocument = new TypedDocumentString(`
    mutation IssueInvoice($t: ID!, $p: String!) {
  issueInvoice(tenantId: $t, period: $p) {
    ...InvoiceFields
  }
}
    fragment InvoiceFields on Invoice {
  id
  number
  status
  period {
    label
    start
    end
    timeZone
  }
  groupBy
  currency
  lines {
    kind
    provider
    model
    group
    groupName
    adjustsPeriod
    events
    unpricedEvents
    quantities {
      class
      quantity
    }
    listCost
    tenantCost
    amount
    overrides
  }
  listCost
  tenantCost
  total
  providerReported {
    provider
    metered
    reported
  }
  issuedAt
  issuedBy
  paidAt
  voidedAt
  voidReason
  pdfUrl
  csvUrl
}`) as unknown as TypedDocumentString<IssueInvoiceMutation, IssueInvoiceMutationVariables>;
export const MarkInvoicePaidDocument = new TypedDocumentString(`
    mutation MarkInvoicePaid($t: ID!, $id: ID!) {
  markInvoicePaid(tenantId: $t, id: $id) {
    ...InvoiceFields
  }
}
    fragment InvoiceFields on Invoice {
  id
  number
  status
  period {
    label
    start
    end
    timeZone
  }
  groupBy
  currency
  lines {
    kind
    provider
    model
    group
    groupName
    adjustsPeriod
    events
    unpricedEvents
    quantities {
      class
      quantity
    }
    listCost
    tenantCost
    amount
    overrides
  }
  listCost
  tenantCost
  total
  providerReported {
    provider
    metered
    reported
  }
  issuedAt
  issuedBy
  paidAt
  voidedAt
  voidReason
  pdfUrl
  csvUrl
}`) as unknown as TypedDocumentString<MarkInvoicePaidMutation, MarkInvoicePaidMutationVariables>;
export const VoidInvoiceDocument = new TypedDocumentString(`
    mutation VoidInvoice($t: ID!, $id: ID!, $r: String!) {
  voidInvoice(tenantId: $t, id: $id, reason: $r) {
    ...InvoiceFields
  }
}
    fragment InvoiceFields on Invoice {
  id
  number
  status
  period {
    label
    start
    end
    timeZone
  }
  groupBy
  currency
  lines {
    kind
    provider
    model
    group
    groupName
    adjustsPeriod
    events
    unpricedEvents
    quantities {
      class
      quantity
    }
    listCost
    tenantCost
    amount
    overrides
  }
  listCost
  tenantCost
  total
  providerReported {
    provider
    metered
    reported
  }
  issuedAt
  issuedBy
  paidAt
  voidedAt
  voidReason
  pdfUrl
  csvUrl
}`) as unknown as TypedDocumentString<VoidInvoiceMutation, VoidInvoiceMutationVariables>;
export const ChargebackStatementDocument = new TypedDocumentString(`
    query ChargebackStatement($t: ID!, $p: String!, $g: String!) {
  chargebackStatement(tenantId: $t, period: $p, groupBy: $g) {
    period {
      label
      start
      end
      timeZone
    }
    groupBy
    groups {
      group
      groupName
      events
      listCost
      tenantCost
      amount
    }
    total
    tenantCost
    pdfUrl
    csvUrl
  }
}
    `) as unknown as TypedDocumentString<ChargebackStatementQuery, ChargebackStatementQueryVariables>;
export const LineEventsDocument = new TypedDocumentString(`
    query LineEvents($t: ID!, $from: Time!, $to: Time!, $f: SpendFilter, $after: String) {
  usageEvents(
    tenantId: $t
    from: $from
    to: $to
    filter: $f
    first: 50
    after: $after
  ) {
    edges {
      node {
        ...EventFields
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    fragment EventFields on UsageEvent {
  id
  time
  keyId
  keyName
  source
  provider
  operation
  modelRequested
  modelServed
  catalogueModel
  status
  streaming
  complete
  latencyMs
  requestId
  serviceTier
  dimensions {
    name
    value
  }
  tokens {
    input
    cachedInput
    cacheWrite5m
    cacheWrite1h
    output
    reasoning
    audioInput
    audioOutput
    imageInput
    imageOutput
    webSearches
    characters
    seconds
    images
  }
  priced
  listCost
  tenantCost
  providerReportedCost
  overrideIds
  pricingTier
  costLines {
    class
    quantity
    listRatePerMillion
    tenantRatePerMillion
    amount
  }
}`) as unknown as TypedDocumentString<LineEventsQuery, LineEventsQueryVariables>;
export const SignInDocument = new TypedDocumentString(`
    mutation SignIn($email: String!, $password: String!, $mfa: String) {
  signIn(email: $email, password: $password, mfaCode: $mfa) {
    ...SessionFields
  }
}
    fragment SessionFields on Session {
  accessToken
  refreshToken
  expiresAt
  user {
    id
    email
    name
  }
}`) as unknown as TypedDocumentString<SignInMutation, SignInMutationVariables>;
export const RefreshDocument = new TypedDocumentString(`
    mutation Refresh($r: String!) {
  refreshSession(refreshToken: $r) {
    ...SessionFields
  }
}
    fragment SessionFields on Session {
  accessToken
  refreshToken
  expiresAt
  user {
    id
    email
    name
  }
}`) as unknown as TypedDocumentString<RefreshMutation, RefreshMutationVariables>;
export const SignOutDocument = new TypedDocumentString(`
    mutation SignOut($r: String!) {
  signOut(refreshToken: $r)
}
    `) as unknown as TypedDocumentString<SignOutMutation, SignOutMutationVariables>;
export const TenantsDocument = new TypedDocumentString(`
    query Tenants {
  tenants {
    id
    name
    slug
    role
    mfaRequired
  }
}
    `) as unknown as TypedDocumentString<TenantsQuery, TenantsQueryVariables>;
export const ApiKeysDocument = new TypedDocumentString(`
    query ApiKeys($t: ID!, $after: String, $status: KeyStatus) {
  apiKeys(tenantId: $t, first: 100, after: $after, status: $status) {
    edges {
      node {
        ...KeyFields
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    fragment KeyFields on APIKey {
  id
  name
  prefix
  status
  createdAt
  lastUsedAt
  revokedAt
  expiresAt
  rotatedFromId
  policy {
    allowedProviders
    allowedModels
    requiredDimensions
    defaultDimensions {
      name
      value
    }
    requirePricedModels
    injectProviderCredentials
  }
}`) as unknown as TypedDocumentString<ApiKeysQuery, ApiKeysQueryVariables>;
export const CreateKeyDocument = new TypedDocumentString(`
    mutation CreateKey($t: ID!, $n: String!, $p: KeyPolicyInput, $e: Time) {
  createAPIKey(tenantId: $t, name: $n, policy: $p, expiresAt: $e) {
    secret
    key {
      ...KeyFields
    }
  }
}
    fragment KeyFields on APIKey {
  id
  name
  prefix
  status
  createdAt
  lastUsedAt
  revokedAt
  expiresAt
  rotatedFromId
  policy {
    allowedProviders
    allowedModels
    requiredDimensions
    defaultDimensions {
      name
      value
    }
    requirePricedModels
    injectProviderCredentials
  }
}`) as unknown as TypedDocumentString<CreateKeyMutation, CreateKeyMutationVariables>;
export const RevokeKeyDocument = new TypedDocumentString(`
    mutation RevokeKey($t: ID!, $id: ID!) {
  revokeAPIKey(tenantId: $t, id: $id) {
    ...KeyFields
  }
}
    fragment KeyFields on APIKey {
  id
  name
  prefix
  status
  createdAt
  lastUsedAt
  revokedAt
  expiresAt
  rotatedFromId
  policy {
    allowedProviders
    allowedModels
    requiredDimensions
    defaultDimensions {
      name
      value
    }
    requirePricedModels
    injectProviderCredentials
  }
}`) as unknown as TypedDocumentString<RevokeKeyMutation, RevokeKeyMutationVariables>;
export const RotateKeyDocument = new TypedDocumentString(`
    mutation RotateKey($t: ID!, $id: ID!) {
  rotateAPIKey(tenantId: $t, id: $id) {
    secret
    key {
      ...KeyFields
    }
  }
}
    fragment KeyFields on APIKey {
  id
  name
  prefix
  status
  createdAt
  lastUsedAt
  revokedAt
  expiresAt
  rotatedFromId
  policy {
    allowedProviders
    allowedModels
    requiredDimensions
    defaultDimensions {
      name
      value
    }
    requirePricedModels
    injectProviderCredentials
  }
}`) as unknown as TypedDocumentString<RotateKeyMutation, RotateKeyMutationVariables>;
export const CreateBudgetDocument = new TypedDocumentString(`
    mutation CreateBudget($t: ID!, $in: BudgetInput!) {
  createBudget(tenantId: $t, input: $in) {
    ...BudgetFields
  }
}
    fragment BudgetFields on Budget {
  id
  name
  scope
  workspaceId
  teamId
  projectId
  keyId
  provider
  model
  dimensionName
  dimensionValue
  period
  amount
  thresholds
  hard
  rollover
  webhookUrl
  alertEmails
  spendBasis
  breachWebhookUrl
  breachWebhookSigned
  createdAt
  updatedAt
}`) as unknown as TypedDocumentString<CreateBudgetMutation, CreateBudgetMutationVariables>;
export const UpdateBudgetDocument = new TypedDocumentString(`
    mutation UpdateBudget($t: ID!, $id: ID!, $in: BudgetInput!) {
  updateBudget(tenantId: $t, id: $id, input: $in) {
    ...BudgetFields
  }
}
    fragment BudgetFields on Budget {
  id
  name
  scope
  workspaceId
  teamId
  projectId
  keyId
  provider
  model
  dimensionName
  dimensionValue
  period
  amount
  thresholds
  hard
  rollover
  webhookUrl
  alertEmails
  spendBasis
  breachWebhookUrl
  breachWebhookSigned
  createdAt
  updatedAt
}`) as unknown as TypedDocumentString<UpdateBudgetMutation, UpdateBudgetMutationVariables>;
export const DeleteBudgetDocument = new TypedDocumentString(`
    mutation DeleteBudget($t: ID!, $id: ID!) {
  deleteBudget(tenantId: $t, id: $id)
}
    `) as unknown as TypedDocumentString<DeleteBudgetMutation, DeleteBudgetMutationVariables>;
export const BudgetStatusesDocument = new TypedDocumentString(`
    query BudgetStatuses($t: ID!) {
  budgetStatuses(tenantId: $t) {
    budget {
      ...BudgetFields
    }
    periodStart
    periodEnd
    spent
    reserved
    remaining
    percentUsed
    forecast
    forecastLow
    forecastHigh
    willExceedOn
    forecastMethod
    blocked
    spendBasis
    metered
    reported
  }
}
    fragment BudgetFields on Budget {
  id
  name
  scope
  workspaceId
  teamId
  projectId
  keyId
  provider
  model
  dimensionName
  dimensionValue
  period
  amount
  thresholds
  hard
  rollover
  webhookUrl
  alertEmails
  spendBasis
  breachWebhookUrl
  breachWebhookSigned
  createdAt
  updatedAt
}`) as unknown as TypedDocumentString<BudgetStatusesQuery, BudgetStatusesQueryVariables>;
export const OrgTreeDocument = new TypedDocumentString(`
    query OrgTree($t: ID!, $from: Time!, $to: Time!) {
  orgTree(tenantId: $t) {
    ...NodeFields
  }
  budgetStatuses(tenantId: $t) {
    budget {
      ...BudgetFields
    }
    periodStart
    periodEnd
    spent
    reserved
    remaining
    percentUsed
    forecast
    blocked
  }
  byWorkspace: spendBreakdown(
    tenantId: $t
    from: $from
    to: $to
    groupBy: [{field: WORKSPACE}]
    top: 1000
  ) {
    groups {
      keys
      totals {
        tenantCost
        requests
      }
    }
  }
  byTeam: spendBreakdown(
    tenantId: $t
    from: $from
    to: $to
    groupBy: [{field: TEAM}]
    top: 1000
  ) {
    groups {
      keys
      totals {
        tenantCost
        requests
      }
    }
  }
  byProject: spendBreakdown(
    tenantId: $t
    from: $from
    to: $to
    groupBy: [{field: PROJECT}]
    top: 1000
  ) {
    groups {
      keys
      totals {
        tenantCost
        requests
      }
    }
  }
}
    fragment BudgetFields on Budget {
  id
  name
  scope
  workspaceId
  teamId
  projectId
  keyId
  provider
  model
  dimensionName
  dimensionValue
  period
  amount
  thresholds
  hard
  rollover
  webhookUrl
  alertEmails
  spendBasis
  breachWebhookUrl
  breachWebhookSigned
  createdAt
  updatedAt
}
fragment NodeFields on OrgNode {
  id
  kind
  parentId
  name
  workspaceId
  teamId
  projectId
  archivedAt
}`) as unknown as TypedDocumentString<OrgTreeQuery, OrgTreeQueryVariables>;
export const CreateNodeDocument = new TypedDocumentString(`
    mutation CreateNode($t: ID!, $k: OrgNodeKind!, $p: ID, $n: String!) {
  createOrgNode(tenantId: $t, kind: $k, parentId: $p, name: $n) {
    ...NodeFields
  }
}
    fragment NodeFields on OrgNode {
  id
  kind
  parentId
  name
  workspaceId
  teamId
  projectId
  archivedAt
}`) as unknown as TypedDocumentString<CreateNodeMutation, CreateNodeMutationVariables>;
export const OverridesDocument = new TypedDocumentString(`
    query Overrides($t: ID!) {
  pricingOverrides(tenantId: $t, first: 200) {
    edges {
      node {
        ...OverrideFields
      }
    }
  }
}
    fragment OverrideFields on PricingOverride {
  id
  provider
  model
  effectiveFrom
  effectiveTo
  rates {
    class
    perMillion
  }
  percentAdjustment
  note
  createdAt
}`) as unknown as TypedDocumentString<OverridesQuery, OverridesQueryVariables>;
export const CreateOverrideDocument = new TypedDocumentString(`
    mutation CreateOverride($t: ID!, $in: PricingOverrideInput!) {
  createPricingOverride(tenantId: $t, input: $in) {
    ...OverrideFields
  }
}
    fragment OverrideFields on PricingOverride {
  id
  provider
  model
  effectiveFrom
  effectiveTo
  rates {
    class
    perMillion
  }
  percentAdjustment
  note
  createdAt
}`) as unknown as TypedDocumentString<CreateOverrideMutation, CreateOverrideMutationVariables>;
export const UpdateOverrideDocument = new TypedDocumentString(`
    mutation UpdateOverride($t: ID!, $id: ID!, $in: PricingOverrideInput!) {
  updatePricingOverride(tenantId: $t, id: $id, input: $in) {
    ...OverrideFields
  }
}
    fragment OverrideFields on PricingOverride {
  id
  provider
  model
  effectiveFrom
  effectiveTo
  rates {
    class
    perMillion
  }
  percentAdjustment
  note
  createdAt
}`) as unknown as TypedDocumentString<UpdateOverrideMutation, UpdateOverrideMutationVariables>;
export const DeleteOverrideDocument = new TypedDocumentString(`
    mutation DeleteOverride($t: ID!, $id: ID!) {
  deletePricingOverride(tenantId: $t, id: $id)
}
    `) as unknown as TypedDocumentString<DeleteOverrideMutation, DeleteOverrideMutationVariables>;
export const UsageEventsDocument = new TypedDocumentString(`
    query UsageEvents($t: ID!, $from: Time!, $to: Time!, $after: String, $n: Int) {
  usageEvents(tenantId: $t, from: $from, to: $to, first: $n, after: $after) {
    edges {
      node {
        ...EventFields
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    fragment EventFields on UsageEvent {
  id
  time
  keyId
  keyName
  source
  provider
  operation
  modelRequested
  modelServed
  catalogueModel
  status
  streaming
  complete
  latencyMs
  requestId
  serviceTier
  dimensions {
    name
    value
  }
  tokens {
    input
    cachedInput
    cacheWrite5m
    cacheWrite1h
    output
    reasoning
    audioInput
    audioOutput
    imageInput
    imageOutput
    webSearches
    characters
    seconds
    images
  }
  priced
  listCost
  tenantCost
  providerReportedCost
  overrideIds
  pricingTier
  costLines {
    class
    quantity
    listRatePerMillion
    tenantRatePerMillion
    amount
  }
}`) as unknown as TypedDocumentString<UsageEventsQuery, UsageEventsQueryVariables>;
export const UsageEventDocument = new TypedDocumentString(`
    query UsageEvent($t: ID!, $id: ID!) {
  usageEvent(tenantId: $t, id: $id) {
    ...EventFields
  }
}
    fragment EventFields on UsageEvent {
  id
  time
  keyId
  keyName
  source
  provider
  operation
  modelRequested
  modelServed
  catalogueModel
  status
  streaming
  complete
  latencyMs
  requestId
  serviceTier
  dimensions {
    name
    value
  }
  tokens {
    input
    cachedInput
    cacheWrite5m
    cacheWrite1h
    output
    reasoning
    audioInput
    audioOutput
    imageInput
    imageOutput
    webSearches
    characters
    seconds
    images
  }
  priced
  listCost
  tenantCost
  providerReportedCost
  overrideIds
  pricingTier
  costLines {
    class
    quantity
    listRatePerMillion
    tenantRatePerMillion
    amount
  }
}`) as unknown as TypedDocumentString<UsageEventQuery, UsageEventQueryVariables>;
export const MembersDocument = new TypedDocumentString(`
    query Members($t: ID!) {
  members(tenantId: $t, first: 200) {
    edges {
      node {
        role
        createdAt
        suspended
        user {
          id
          email
          name
        }
      }
    }
  }
}
    `) as unknown as TypedDocumentString<MembersQuery, MembersQueryVariables>;
export const AddMemberDocument = new TypedDocumentString(`
    mutation AddMember($t: ID!, $e: String!, $n: String, $p: String, $r: Role!) {
  addMember(tenantId: $t, email: $e, name: $n, password: $p, role: $r) {
    role
    user {
      id
      email
    }
  }
}
    `) as unknown as TypedDocumentString<AddMemberMutation, AddMemberMutationVariables>;
export const UpdateRoleDocument = new TypedDocumentString(`
    mutation UpdateRole($t: ID!, $u: ID!, $r: Role!) {
  updateMemberRole(tenantId: $t, userId: $u, role: $r) {
    role
  }
}
    `) as unknown as TypedDocumentString<UpdateRoleMutation, UpdateRoleMutationVariables>;
export const RemoveMemberDocument = new TypedDocumentString(`
    mutation RemoveMember($t: ID!, $u: ID!) {
  removeMember(tenantId: $t, userId: $u)
}
    `) as unknown as TypedDocumentString<RemoveMemberMutation, RemoveMemberMutationVariables>;
export const AuditDocument = new TypedDocumentString(`
    query Audit($t: ID!, $after: String, $f: AuditFilter) {
  auditLog(tenantId: $t, first: 50, after: $after, filter: $f) {
    edges {
      node {
        id
        actor
        action
        targetType
        targetId
        details
        createdAt
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `) as unknown as TypedDocumentString<AuditQuery, AuditQueryVariables>;
export const AuditNamesDocument = new TypedDocumentString(`
    query AuditNames($t: ID!) {
  apiKeys(tenantId: $t, first: 100) {
    edges {
      node {
        id
        name
      }
    }
  }
  budgets(tenantId: $t, first: 100) {
    edges {
      node {
        id
        name
      }
    }
  }
  members(tenantId: $t, first: 200) {
    edges {
      node {
        user {
          id
          email
        }
      }
    }
  }
  orgTree(tenantId: $t) {
    id
    name
  }
  pricingOverrides(tenantId: $t, first: 200) {
    edges {
      node {
        id
        provider
        model
      }
    }
  }
}
    `) as unknown as TypedDocumentString<AuditNamesQuery, AuditNamesQueryVariables>;
export const DashboardDocument = new TypedDocumentString(`
    query Dashboard($t: ID!, $from: Time!, $to: Time!, $bucket: TimeBucket!, $top: Int!) {
  summary: spendSummary(tenantId: $t, from: $from, to: $to) {
    ...TotalsFields
  }
  series: spendTimeSeries(tenantId: $t, from: $from, to: $to, bucket: $bucket) {
    start
    totals {
      requests
      tenantCost
    }
  }
  byProvider: spendBreakdown(
    tenantId: $t
    from: $from
    to: $to
    groupBy: [{field: PROVIDER}]
    top: $top
  ) {
    ...BreakdownFields
  }
  byModel: spendBreakdown(
    tenantId: $t
    from: $from
    to: $to
    groupBy: [{field: MODEL}]
    top: $top
  ) {
    ...BreakdownFields
  }
  byKey: spendBreakdown(
    tenantId: $t
    from: $from
    to: $to
    groupBy: [{field: KEY}]
    top: $top
  ) {
    ...BreakdownFields
  }
  unknownModels(tenantId: $t, from: $from, to: $to) {
    provider
    model
    requests
    inputTokens
    outputTokens
    firstSeen
    lastSeen
  }
  denials(tenantId: $t, from: $from, to: $to) {
    keys
    labels
    requests
  }
  deniedKeys: denials(tenantId: $t, from: $from, to: $to, groupBy: [{field: KEY}]) {
    keys
    labels
    requests
  }
}
    fragment TotalsFields on SpendTotals {
  requests
  unpricedRequests
  listCost
  tenantCost
  inputTokens
  outputTokens
}
fragment BreakdownFields on SpendBreakdown {
  groupBy
  groups {
    keys
    labels
    totals {
      ...TotalsFields
    }
  }
  other {
    ...TotalsFields
  }
  total {
    ...TotalsFields
  }
}`) as unknown as TypedDocumentString<DashboardQuery, DashboardQueryVariables>;
export const SpendChartDocument = new TypedDocumentString(`
    query SpendChart($t: ID!, $from: Time!, $to: Time!, $pfrom: Time!, $bucket: TimeBucket!, $group: [SpendGroupBy!]) {
  stacked: spendTimeSeries(
    tenantId: $t
    from: $from
    to: $to
    bucket: $bucket
    groupBy: $group
  ) {
    start
    keys
    labels
    totals {
      requests
      tenantCost
    }
  }
  previous: spendTimeSeries(
    tenantId: $t
    from: $pfrom
    to: $from
    bucket: $bucket
  ) {
    start
    totals {
      requests
      tenantCost
    }
  }
}
    `) as unknown as TypedDocumentString<SpendChartQuery, SpendChartQueryVariables>;
export const BudgetBurnDocument = new TypedDocumentString(`
    query BudgetBurn($t: ID!, $from: Time!, $to: Time!, $bucket: TimeBucket!, $f: SpendFilter) {
  spendTimeSeries(tenantId: $t, from: $from, to: $to, bucket: $bucket, filter: $f) {
    start
    totals {
      tenantCost
    }
  }
}
    `) as unknown as TypedDocumentString<BudgetBurnQuery, BudgetBurnQueryVariables>;
export const FilteredEventsDocument = new TypedDocumentString(`
    query FilteredEvents($t: ID!, $from: Time!, $to: Time!, $f: SpendFilter, $after: String, $n: Int) {
  usageEvents(
    tenantId: $t
    from: $from
    to: $to
    filter: $f
    first: $n
    after: $after
  ) {
    edges {
      node {
        ...EventFields
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    fragment EventFields on UsageEvent {
  id
  time
  keyId
  keyName
  source
  provider
  operation
  modelRequested
  modelServed
  catalogueModel
  status
  streaming
  complete
  latencyMs
  requestId
  serviceTier
  dimensions {
    name
    value
  }
  tokens {
    input
    cachedInput
    cacheWrite5m
    cacheWrite1h
    output
    reasoning
    audioInput
    audioOutput
    imageInput
    imageOutput
    webSearches
    characters
    seconds
    images
  }
  priced
  listCost
  tenantCost
  providerReportedCost
  overrideIds
  pricingTier
  costLines {
    class
    quantity
    listRatePerMillion
    tenantRatePerMillion
    amount
  }
}`) as unknown as TypedDocumentString<FilteredEventsQuery, FilteredEventsQueryVariables>;
export const DimensionBreakdownDocument = new TypedDocumentString(`
    query DimensionBreakdown($t: ID!, $from: Time!, $to: Time!, $dim: String!, $top: Int!) {
  spendBreakdown(
    tenantId: $t
    from: $from
    to: $to
    groupBy: [{field: DIMENSION, dimension: $dim}]
    top: $top
  ) {
    ...BreakdownFields
  }
}
    fragment TotalsFields on SpendTotals {
  requests
  unpricedRequests
  listCost
  tenantCost
  inputTokens
  outputTokens
}
fragment BreakdownFields on SpendBreakdown {
  groupBy
  groups {
    keys
    labels
    totals {
      ...TotalsFields
    }
  }
  other {
    ...TotalsFields
  }
  total {
    ...TotalsFields
  }
}`) as unknown as TypedDocumentString<DimensionBreakdownQuery, DimensionBreakdownQueryVariables>;
export const DimensionNamesDocument = new TypedDocumentString(`
    query DimensionNames($t: ID!, $from: Time!, $to: Time!) {
  apiKeys(tenantId: $t, first: 100) {
    edges {
      node {
        policy {
          requiredDimensions
          defaultDimensions {
            name
          }
        }
      }
    }
  }
  budgets(tenantId: $t, first: 100) {
    edges {
      node {
        dimensionName
      }
    }
  }
  usageEvents(tenantId: $t, from: $from, to: $to, first: 200) {
    edges {
      node {
        dimensions {
          name
          value
        }
      }
    }
  }
}
    `) as unknown as TypedDocumentString<DimensionNamesQuery, DimensionNamesQueryVariables>;
export const BudgetAlertsDocument = new TypedDocumentString(`
    subscription BudgetAlerts($t: ID!) {
  budgetAlerts(tenantId: $t) {
    ...AlertFields
  }
}
    fragment AlertFields on BudgetAlert {
  id
  budgetId
  budgetName
  threshold
  periodStart
  periodEnd
  spent
  amount
  hard
  message
  at
}`) as unknown as TypedDocumentString<BudgetAlertsSubscription, BudgetAlertsSubscriptionVariables>;
export const AlertHistoryDocument = new TypedDocumentString(`
    query AlertHistory($t: ID!, $n: Int) {
  budgetAlertHistory(tenantId: $t, first: $n) {
    ...AlertFields
  }
}
    fragment AlertFields on BudgetAlert {
  id
  budgetId
  budgetName
  threshold
  periodStart
  periodEnd
  spent
  amount
  hard
  message
  at
}`) as unknown as TypedDocumentString<AlertHistoryQuery, AlertHistoryQueryVariables>;
export const RepriceDocument = new TypedDocumentString(`
    mutation Reprice($t: ID!, $from: Time!, $to: Time!) {
  repriceUnpricedEvents(tenantId: $t, from: $from, to: $to) {
    examined
    repriced
    stillUnpriced
    listCost
    tenantCost
  }
}
    `) as unknown as TypedDocumentString<RepriceMutation, RepriceMutationVariables>;
export const CatalogueBrowseDocument = new TypedDocumentString(`
    query CatalogueBrowse($q: String, $p: String, $n: Int) {
  pricingCatalogue(search: $q, provider: $p, first: $n) {
    provider
    model
    aliases
    rates {
      class
      perMillion
    }
    effectiveFrom
    source
    checked
    sourceKind
    reason
    notes
    maxOutputTokens
    longContextAboveInputTokens
    unitRates {
      class
      variant
      unit
      perMillion
      usd
    }
  }
}
    `) as unknown as TypedDocumentString<CatalogueBrowseQuery, CatalogueBrowseQueryVariables>;
export const PricingRevisionsDocument = new TypedDocumentString(`
    query PricingRevisions($n: Int) {
  pricingRevisions(first: $n) {
    ...RevisionFields
  }
  canManagePricing
}
    fragment RevisionFields on PricingRevision {
  id
  status
  baseId
  effectiveFrom
  source
  summary
  createdAt
  createdBy
  decidedAt
  decidedBy
  added {
    provider
    model
    effectiveFrom
    changes {
      field
      unit
      old
      new
    }
  }
  changed {
    provider
    model
    effectiveFrom
    changes {
      field
      unit
      old
      new
    }
  }
  removed {
    provider
    model
    effectiveFrom
    changes {
      field
      unit
      old
      new
    }
  }
}`) as unknown as TypedDocumentString<PricingRevisionsQuery, PricingRevisionsQueryVariables>;
export const ApplyRevisionDocument = new TypedDocumentString(`
    mutation ApplyRevision($id: ID!) {
  applyPricingRevision(id: $id) {
    ...RevisionFields
  }
}
    fragment RevisionFields on PricingRevision {
  id
  status
  baseId
  effectiveFrom
  source
  summary
  createdAt
  createdBy
  decidedAt
  decidedBy
  added {
    provider
    model
    effectiveFrom
    changes {
      field
      unit
      old
      new
    }
  }
  changed {
    provider
    model
    effectiveFrom
    changes {
      field
      unit
      old
      new
    }
  }
  removed {
    provider
    model
    effectiveFrom
    changes {
      field
      unit
      old
      new
    }
  }
}`) as unknown as TypedDocumentString<ApplyRevisionMutation, ApplyRevisionMutationVariables>;
export const RejectRevisionDocument = new TypedDocumentString(`
    mutation RejectRevision($id: ID!) {
  rejectPricingRevision(id: $id) {
    ...RevisionFields
  }
}
    fragment RevisionFields on PricingRevision {
  id
  status
  baseId
  effectiveFrom
  source
  summary
  createdAt
  createdBy
  decidedAt
  decidedBy
  added {
    provider
    model
    effectiveFrom
    changes {
      field
      unit
      old
      new
    }
  }
  changed {
    provider
    model
    effectiveFrom
    changes {
      field
      unit
      old
      new
    }
  }
  removed {
    provider
    model
    effectiveFrom
    changes {
      field
      unit
      old
      new
    }
  }
}`) as unknown as TypedDocumentString<RejectRevisionMutation, RejectRevisionMutationVariables>;
export const SsoOptionDocument = new TypedDocumentString(`
    query SsoOption($e: String, $s: String) {
  ssoOption(email: $e, tenantSlug: $s) {
    tenantSlug
    displayName
  }
}
    `) as unknown as TypedDocumentString<SsoOptionQuery, SsoOptionQueryVariables>;
export const StartSsoDocument = new TypedDocumentString(`
    mutation StartSso($e: String, $s: String) {
  startSSOSignIn(email: $e, tenantSlug: $s) {
    authorizationUrl
    state
  }
}
    `) as unknown as TypedDocumentString<StartSsoMutation, StartSsoMutationVariables>;
export const FinishSsoDocument = new TypedDocumentString(`
    mutation FinishSso($s: String!, $c: String!) {
  finishSSOSignIn(state: $s, code: $c) {
    ...SessionFields
  }
}
    fragment SessionFields on Session {
  accessToken
  refreshToken
  expiresAt
  user {
    id
    email
    name
  }
}`) as unknown as TypedDocumentString<FinishSsoMutation, FinishSsoMutationVariables>;
export const GetTenantSsoDocument = new TypedDocumentString(`
    query GetTenantSso($t: ID!) {
  tenantSSO(tenantId: $t) {
    ...TenantSSOFields
  }
  scimTokens(tenantId: $t) {
    id
    name
    prefix
    createdAt
    lastUsedAt
    revokedAt
  }
  tenant(id: $t) {
    mfaRequired
  }
  orgTree(tenantId: $t) {
    id
    kind
    name
    archivedAt
  }
}
    fragment TenantSSOFields on TenantSSO {
  enabled
  displayName
  issuerUrl
  clientId
  clientSecretSet
  scopes
  allowedDomains
  groupsClaim
  groupMappings {
    group
    role
    scopedRole
    nodeId
  }
  defaultRole
  jitProvisioning
  ssoRequired
  breakGlassUserId
  redirectUri
  updatedAt
}`) as unknown as TypedDocumentString<GetTenantSsoQuery, GetTenantSsoQueryVariables>;
export const ConfigureSsoDocument = new TypedDocumentString(`
    mutation ConfigureSso($t: ID!, $in: TenantSSOInput!) {
  configureTenantSSO(tenantId: $t, input: $in) {
    ...TenantSSOFields
  }
}
    fragment TenantSSOFields on TenantSSO {
  enabled
  displayName
  issuerUrl
  clientId
  clientSecretSet
  scopes
  allowedDomains
  groupsClaim
  groupMappings {
    group
    role
    scopedRole
    nodeId
  }
  defaultRole
  jitProvisioning
  ssoRequired
  breakGlassUserId
  redirectUri
  updatedAt
}`) as unknown as TypedDocumentString<ConfigureSsoMutation, ConfigureSsoMutationVariables>;
export const DeleteSsoDocument = new TypedDocumentString(`
    mutation DeleteSso($t: ID!) {
  deleteTenantSSO(tenantId: $t)
}
    `) as unknown as TypedDocumentString<DeleteSsoMutation, DeleteSsoMutationVariables>;
export const SetMfaRequiredDocument = new TypedDocumentString(`
    mutation SetMfaRequired($t: ID!, $r: Boolean!) {
  setTenantMFARequired(tenantId: $t, required: $r) {
    mfaRequired
  }
}
    `) as unknown as TypedDocumentString<SetMfaRequiredMutation, SetMfaRequiredMutationVariables>;
export const CreateScimTokenDocument = new TypedDocumentString(`
    mutation CreateScimToken($t: ID!, $n: String!) {
  createSCIMToken(tenantId: $t, name: $n) {
    secret
    baseUrl
    token {
      id
    }
  }
}
    `) as unknown as TypedDocumentString<CreateScimTokenMutation, CreateScimTokenMutationVariables>;
export const RotateScimTokenDocument = new TypedDocumentString(`
    mutation RotateScimToken($t: ID!, $id: ID!) {
  rotateSCIMToken(tenantId: $t, id: $id) {
    secret
    baseUrl
    token {
      id
    }
  }
}
    `) as unknown as TypedDocumentString<RotateScimTokenMutation, RotateScimTokenMutationVariables>;
export const RevokeScimTokenDocument = new TypedDocumentString(`
    mutation RevokeScimToken($t: ID!, $id: ID!) {
  revokeSCIMToken(tenantId: $t, id: $id) {
    id
  }
}
    `) as unknown as TypedDocumentString<RevokeScimTokenMutation, RevokeScimTokenMutationVariables>;
export const MyMfaDocument = new TypedDocumentString(`
    query MyMfa {
  myMFA {
    totpEnabled
    recoveryCodesLeft
  }
}
    `) as unknown as TypedDocumentString<MyMfaQuery, MyMfaQueryVariables>;
export const EnrolTotpDocument = new TypedDocumentString(`
    mutation EnrolTotp {
  enrolTOTP {
    secret
    otpauthUri
    qrCode
  }
}
    `) as unknown as TypedDocumentString<EnrolTotpMutation, EnrolTotpMutationVariables>;
export const ConfirmTotpDocument = new TypedDocumentString(`
    mutation ConfirmTotp($c: String!) {
  confirmTOTP(code: $c)
}
    `) as unknown as TypedDocumentString<ConfirmTotpMutation, ConfirmTotpMutationVariables>;
export const DisableTotpDocument = new TypedDocumentString(`
    mutation DisableTotp($p: String!, $c: String!) {
  disableTOTP(password: $p, code: $c)
}
    `) as unknown as TypedDocumentString<DisableTotpMutation, DisableTotpMutationVariables>;
export const RegenerateCodesDocument = new TypedDocumentString(`
    mutation RegenerateCodes($c: String!) {
  regenerateRecoveryCodes(code: $c)
}
    `) as unknown as TypedDocumentString<RegenerateCodesMutation, RegenerateCodesMutationVariables>;
export const ProviderConnectionsDocument = new TypedDocumentString(`
    query ProviderConnections($t: ID!) {
  providerConnections(tenantId: $t) {
    ...ConnectionFields
  }
}
    fragment ConnectionFields on ProviderConnection {
  id
  provider
  name
  adminKeyLast4
  dataKeyLast4
  lookbackDays
  enabled
  createdAt
  lastRun {
    running
    progress
    lastRunAt
    lastOkAt
    nextRunAt
    lastError
    pages
    rows
    consecutiveFailures
  }
}`) as unknown as TypedDocumentString<ProviderConnectionsQuery, ProviderConnectionsQueryVariables>;
export const CreateConnectionDocument = new TypedDocumentString(`
    mutation CreateConnection($t: ID!, $in: CreateProviderConnectionInput!) {
  createProviderConnection(tenantId: $t, input: $in) {
    ...ConnectionFields
  }
}
    fragment ConnectionFields on ProviderConnection {
  id
  provider
  name
  adminKeyLast4
  dataKeyLast4
  lookbackDays
  enabled
  createdAt
  lastRun {
    running
    progress
    lastRunAt
    lastOkAt
    nextRunAt
    lastError
    pages
    rows
    consecutiveFailures
  }
}`) as unknown as TypedDocumentString<CreateConnectionMutation, CreateConnectionMutationVariables>;
export const DeleteConnectionDocument = new TypedDocumentString(`
    mutation DeleteConnection($t: ID!, $id: ID!) {
  deleteProviderConnection(tenantId: $t, id: $id)
}
    `) as unknown as TypedDocumentString<DeleteConnectionMutation, DeleteConnectionMutationVariables>;
export const SyncConnectionDocument = new TypedDocumentString(`
    mutation SyncConnection($t: ID!, $id: ID!) {
  syncProviderConnection(tenantId: $t, id: $id) {
    pages
    rows
    alerts
  }
}
    `) as unknown as TypedDocumentString<SyncConnectionMutation, SyncConnectionMutationVariables>;
export const ReconciliationDocument = new TypedDocumentString(`
    query Reconciliation($t: ID!, $from: Time!, $to: Time!) {
  reconciliation(tenantId: $t, from: $from, to: $to) {
    rows {
      provider
      day
      model
      status
      meteredEvents
      meteredCost
      reportedCost
      reportedHasCost
      drift
      driftPercent
    }
    days {
      ...ReconDayFields
    }
    totals {
      ...ReconDayFields
    }
    csvPath
  }
  reconcileSettings(tenantId: $t) {
    driftThresholdPercent
    hasAlertWebhook
  }
  driftAlerts(tenantId: $t, first: 20) {
    id
    provider
    day
    driftPercent
    thresholdPercent
    drift
    createdAt
    deliveredAt
  }
}
    fragment ReconDayFields on ReconciliationDay {
  provider
  day
  meteredCost
  reportedCost
  drift
  driftPercent
  unmeteredCost
  unreportedCost
}`) as unknown as TypedDocumentString<ReconciliationQuery, ReconciliationQueryVariables>;
export const SetReconcileSettingsDocument = new TypedDocumentString(`
    mutation SetReconcileSettings($t: ID!, $in: ReconcileSettingsInput!) {
  setReconcileSettings(tenantId: $t, input: $in) {
    driftThresholdPercent
    hasAlertWebhook
  }
}
    `) as unknown as TypedDocumentString<SetReconcileSettingsMutation, SetReconcileSettingsMutationVariables>;
export const InsightsDocument = new TypedDocumentString(`
    query Insights($t: ID!, $from: Time!, $to: Time!) {
  spendForecast(tenantId: $t) {
    periodStart
    periodEnd
    spent
    expected
    low
    high
    method
  }
  recommendations(tenantId: $t) {
    ...RecommendationFields
  }
  anomalies(tenantId: $t, from: $from, to: $to) {
    id
    dimension
    value
    label
    severity
    startedAt
    endedAt
    peakHour
    peakSpend
    peakExpected
    excessSpend
    anomalousHours
  }
}
    fragment RecommendationFields on Recommendation {
  id
  kind
  title
  detail
  keyId
  keyName
  provider
  model
  alternative
  currentMonthlyCost
  monthlySavings
  requests
  state
  stateChangedBy
  stateChangedAt
}`) as unknown as TypedDocumentString<InsightsQuery, InsightsQueryVariables>;
export const SetRecommendationStateDocument = new TypedDocumentString(`
    mutation SetRecommendationState($t: ID!, $id: ID!, $s: RecommendationState!) {
  setRecommendationState(tenantId: $t, id: $id, state: $s) {
    ...RecommendationFields
  }
}
    fragment RecommendationFields on Recommendation {
  id
  kind
  title
  detail
  keyId
  keyName
  provider
  model
  alternative
  currentMonthlyCost
  monthlySavings
  requests
  state
  stateChangedBy
  stateChangedAt
}`) as unknown as TypedDocumentString<SetRecommendationStateMutation, SetRecommendationStateMutationVariables>;
export const ReportsDocument = new TypedDocumentString(`
    query Reports($t: ID!) {
  reports(tenantId: $t) {
    ...ReportFields
  }
}
    fragment ReportFields on Report {
  id
  name
  frequency
  cron
  timeZone
  scope
  nodeId
  emails
  slackWebhookUrl
  enabled
  nextRunAt
  lastRunAt
  lastError
  createdAt
  updatedAt
}`) as unknown as TypedDocumentString<ReportsQuery, ReportsQueryVariables>;
export const CreateReportDocument = new TypedDocumentString(`
    mutation CreateReport($t: ID!, $in: ReportInput!) {
  createReport(tenantId: $t, input: $in) {
    ...ReportFields
  }
}
    fragment ReportFields on Report {
  id
  name
  frequency
  cron
  timeZone
  scope
  nodeId
  emails
  slackWebhookUrl
  enabled
  nextRunAt
  lastRunAt
  lastError
  createdAt
  updatedAt
}`) as unknown as TypedDocumentString<CreateReportMutation, CreateReportMutationVariables>;
export const UpdateReportDocument = new TypedDocumentString(`
    mutation UpdateReport($t: ID!, $id: ID!, $in: ReportInput!) {
  updateReport(tenantId: $t, id: $id, input: $in) {
    ...ReportFields
  }
}
    fragment ReportFields on Report {
  id
  name
  frequency
  cron
  timeZone
  scope
  nodeId
  emails
  slackWebhookUrl
  enabled
  nextRunAt
  lastRunAt
  lastError
  createdAt
  updatedAt
}`) as unknown as TypedDocumentString<UpdateReportMutation, UpdateReportMutationVariables>;
export const DeleteReportDocument = new TypedDocumentString(`
    mutation DeleteReport($t: ID!, $id: ID!) {
  deleteReport(tenantId: $t, id: $id)
}
    `) as unknown as TypedDocumentString<DeleteReportMutation, DeleteReportMutationVariables>;
export const SendTestReportDocument = new TypedDocumentString(`
    mutation SendTestReport($t: ID!, $id: ID!) {
  sendTestReport(tenantId: $t, id: $id) {
    periodFrom
    periodTo
    spend
    channels
  }
}
    `) as unknown as TypedDocumentString<SendTestReportMutation, SendTestReportMutationVariables>;
export const ReportNodesDocument = new TypedDocumentString(`
    query ReportNodes($t: ID!) {
  orgTree(tenantId: $t) {
    ...NodeFields
  }
}
    fragment NodeFields on OrgNode {
  id
  kind
  parentId
  name
  workspaceId
  teamId
  projectId
  archivedAt
}`) as unknown as TypedDocumentString<ReportNodesQuery, ReportNodesQueryVariables>;