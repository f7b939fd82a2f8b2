/* eslint-disable */
import * as types from './graphql';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "fragment InvoiceFields on Invoice {id number status period{label start end timeZone} groupBy currency\n  lines{kind provider model group groupName adjustsPeriod events unpricedEvents quantities{class quantity} listCost tenantCost amount overrides}\n  listCost tenantCost total providerReported{provider metered reported} issuedAt issuedBy paidAt voidedAt voidReason pdfUrl csvUrl}": typeof types.InvoiceFieldsFragmentDoc,
    "query Invoices($t:ID!){invoices(tenantId:$t){...InvoiceFields}}": typeof types.InvoicesDocument,
    "query DraftInvoice($t:ID!,$p:String!){draftInvoice(tenantId:$t,period:$p){...InvoiceFields}}": typeof types.DraftInvoiceDocument,
    "mutation IssueInvoice($t:ID!,$p:String!){issueInvoice(tenantId:$t,period:$p){...InvoiceFields}}": typeof types.IssueInvoiceDocument,
    "mutation MarkInvoicePaid($t:ID!,$id:ID!){markInvoicePaid(tenantId:$t,id:$id){...InvoiceFields}}": typeof types.MarkInvoicePaidDocument,
    "mutation VoidInvoice($t:ID!,$id:ID!,$r:String!){voidInvoice(tenantId:$t,id:$id,reason:$r){...InvoiceFields}}": typeof types.VoidInvoiceDocument,
    "query ChargebackStatement($t:ID!,$p:String!,$g:String!){chargebackStatement(tenantId:$t,period:$p,groupBy:$g){\n  period{label start end timeZone} groupBy groups{group groupName events listCost tenantCost amount} total tenantCost pdfUrl csvUrl}}": typeof types.ChargebackStatementDocument,
    "query LineEvents($t:ID!,$from:Time!,$to:Time!,$f:SpendFilter,$after:String){usageEvents(tenantId:$t,from:$from,to:$to,filter:$f,first:50,after:$after){\n  edges{node{...EventFields}} pageInfo{hasNextPage endCursor}}}": typeof types.LineEventsDocument,
    "fragment SessionFields on Session {accessToken refreshToken expiresAt user{id email name}}": typeof types.SessionFieldsFragmentDoc,
    "mutation SignIn($email:String!,$password:String!,$mfa:String){signIn(email:$email,password:$password,mfaCode:$mfa){...SessionFields}}": typeof types.SignInDocument,
    "mutation Refresh($r:String!){refreshSession(refreshToken:$r){...SessionFields}}": typeof types.RefreshDocument,
    "mutation SignOut($r:String!){signOut(refreshToken:$r)}": typeof types.SignOutDocument,
    "query Tenants {tenants{id name slug role mfaRequired}}": typeof types.TenantsDocument,
    "fragment KeyFields on APIKey {id name prefix status createdAt lastUsedAt revokedAt expiresAt rotatedFromId policy{allowedProviders allowedModels requiredDimensions defaultDimensions{name value} requirePricedModels injectProviderCredentials}}": typeof types.KeyFieldsFragmentDoc,
    "query ApiKeys($t:ID!,$after:String,$status:KeyStatus){apiKeys(tenantId:$t,first:100,after:$after,status:$status){edges{node{...KeyFields}} pageInfo{hasNextPage endCursor}}}": typeof types.ApiKeysDocument,
    "mutation CreateKey($t:ID!,$n:String!,$p:KeyPolicyInput,$e:Time){createAPIKey(tenantId:$t,name:$n,policy:$p,expiresAt:$e){secret key{...KeyFields}}}": typeof types.CreateKeyDocument,
    "mutation RevokeKey($t:ID!,$id:ID!){revokeAPIKey(tenantId:$t,id:$id){...KeyFields}}": typeof types.RevokeKeyDocument,
    "mutation RotateKey($t:ID!,$id:ID!){rotateAPIKey(tenantId:$t,id:$id){secret key{...KeyFields}}}": typeof types.RotateKeyDocument,
    "fragment BudgetFields on Budget {id name scope workspaceId teamId projectId keyId provider model dimensionName dimensionValue period amount thresholds hard rollover webhookUrl alertEmails spendBasis breachWebhookUrl breachWebhookSigned createdAt updatedAt}": typeof types.BudgetFieldsFragmentDoc,
    "mutation CreateBudget($t:ID!,$in:BudgetInput!){createBudget(tenantId:$t,input:$in){...BudgetFields}}": typeof types.CreateBudgetDocument,
    "mutation UpdateBudget($t:ID!,$id:ID!,$in:BudgetInput!){updateBudget(tenantId:$t,id:$id,input:$in){...BudgetFields}}": typeof types.UpdateBudgetDocument,
    "mutation DeleteBudget($t:ID!,$id:ID!){deleteBudget(tenantId:$t,id:$id)}": typeof types.DeleteBudgetDocument,
    "query BudgetStatuses($t:ID!){budgetStatuses(tenantId:$t){budget{...BudgetFields} periodStart periodEnd spent reserved remaining percentUsed forecast forecastLow forecastHigh willExceedOn forecastMethod blocked spendBasis metered reported}}": typeof types.BudgetStatusesDocument,
    "fragment NodeFields on OrgNode {id kind parentId name workspaceId teamId projectId archivedAt}": typeof types.NodeFieldsFragmentDoc,
    "query OrgTree($t:ID!,$from:Time!,$to:Time!){orgTree(tenantId:$t){...NodeFields}\n  budgetStatuses(tenantId:$t){budget{...BudgetFields} periodStart periodEnd spent reserved remaining percentUsed forecast blocked}\n  byWorkspace:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:WORKSPACE}],top:1000){groups{keys totals{tenantCost requests}}}\n  byTeam:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:TEAM}],top:1000){groups{keys totals{tenantCost requests}}}\n  byProject:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:PROJECT}],top:1000){groups{keys totals{tenantCost requests}}}}": typeof types.OrgTreeDocument,
    "mutation CreateNode($t:ID!,$k:OrgNodeKind!,$p:ID,$n:String!){createOrgNode(tenantId:$t,kind:$k,parentId:$p,name:$n){...NodeFields}}": typeof types.CreateNodeDocument,
    "fragment OverrideFields on PricingOverride {id provider model effectiveFrom effectiveTo rates{class perMillion} percentAdjustment note createdAt}": typeof types.OverrideFieldsFragmentDoc,
    "query Overrides($t:ID!){pricingOverrides(tenantId:$t,first:200){edges{node{...OverrideFields}}}}": typeof types.OverridesDocument,
    "mutation CreateOverride($t:ID!,$in:PricingOverrideInput!){createPricingOverride(tenantId:$t,input:$in){...OverrideFields}}": typeof types.CreateOverrideDocument,
    "mutation UpdateOverride($t:ID!,$id:ID!,$in:PricingOverrideInput!){updatePricingOverride(tenantId:$t,id:$id,input:$in){...OverrideFields}}": typeof types.UpdateOverrideDocument,
    "mutation DeleteOverride($t:ID!,$id:ID!){deletePricingOverride(tenantId:$t,id:$id)}": typeof types.DeleteOverrideDocument,
    "fragment EventFields on UsageEvent {id time keyId keyName source provider operation modelRequested modelServed catalogueModel status streaming complete latencyMs requestId serviceTier\n  dimensions{name value} tokens{input cachedInput cacheWrite5m cacheWrite1h output reasoning audioInput audioOutput imageInput imageOutput webSearches characters seconds images} priced listCost tenantCost providerReportedCost overrideIds pricingTier\n  costLines{class quantity listRatePerMillion tenantRatePerMillion amount}}": typeof types.EventFieldsFragmentDoc,
    "query UsageEvents($t:ID!,$from:Time!,$to:Time!,$after:String,$n:Int){usageEvents(tenantId:$t,from:$from,to:$to,first:$n,after:$after){edges{node{...EventFields}} pageInfo{hasNextPage endCursor}}}": typeof types.UsageEventsDocument,
    "query UsageEvent($t:ID!,$id:ID!){usageEvent(tenantId:$t,id:$id){...EventFields}}": typeof types.UsageEventDocument,
    "query Members($t:ID!){members(tenantId:$t,first:200){edges{node{role createdAt suspended user{id email name}}}}}": typeof types.MembersDocument,
    "mutation AddMember($t:ID!,$e:String!,$n:String,$p:String,$r:Role!){addMember(tenantId:$t,email:$e,name:$n,password:$p,role:$r){role user{id email}}}": typeof types.AddMemberDocument,
    "mutation UpdateRole($t:ID!,$u:ID!,$r:Role!){updateMemberRole(tenantId:$t,userId:$u,role:$r){role}}": typeof types.UpdateRoleDocument,
    "mutation RemoveMember($t:ID!,$u:ID!){removeMember(tenantId:$t,userId:$u)}": typeof types.RemoveMemberDocument,
    "query Audit($t:ID!,$after:String,$f:AuditFilter){auditLog(tenantId:$t,first:50,after:$after,filter:$f){edges{node{id actor action targetType targetId details createdAt}} pageInfo{hasNextPage endCursor}}}": typeof types.AuditDocument,
    "query AuditNames($t:ID!){\n  apiKeys(tenantId:$t,first:100){edges{node{id name}}}\n  budgets(tenantId:$t,first:100){edges{node{id name}}}\n  members(tenantId:$t,first:200){edges{node{user{id email}}}}\n  orgTree(tenantId:$t){id name}\n  pricingOverrides(tenantId:$t,first:200){edges{node{id provider model}}}\n}": typeof types.AuditNamesDocument,
    "fragment TotalsFields on SpendTotals {requests unpricedRequests listCost tenantCost inputTokens outputTokens}": typeof types.TotalsFieldsFragmentDoc,
    "fragment BreakdownFields on SpendBreakdown {groupBy groups{keys labels totals{...TotalsFields}} other{...TotalsFields} total{...TotalsFields}}": typeof types.BreakdownFieldsFragmentDoc,
    "query Dashboard($t:ID!,$from:Time!,$to:Time!,$bucket:TimeBucket!,$top:Int!){\n  summary:spendSummary(tenantId:$t,from:$from,to:$to){...TotalsFields}\n  series:spendTimeSeries(tenantId:$t,from:$from,to:$to,bucket:$bucket){start totals{requests tenantCost}}\n  byProvider:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:PROVIDER}],top:$top){...BreakdownFields}\n  byModel:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:MODEL}],top:$top){...BreakdownFields}\n  byKey:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:KEY}],top:$top){...BreakdownFields}\n  unknownModels(tenantId:$t,from:$from,to:$to){provider model requests inputTokens outputTokens firstSeen lastSeen}\n  denials(tenantId:$t,from:$from,to:$to){keys labels requests}\n  deniedKeys:denials(tenantId:$t,from:$from,to:$to,groupBy:[{field:KEY}]){keys labels requests}\n}": typeof types.DashboardDocument,
    "query SpendChart($t:ID!,$from:Time!,$to:Time!,$pfrom:Time!,$bucket:TimeBucket!,$group:[SpendGroupBy!]){\n  stacked:spendTimeSeries(tenantId:$t,from:$from,to:$to,bucket:$bucket,groupBy:$group){start keys labels totals{requests tenantCost}}\n  previous:spendTimeSeries(tenantId:$t,from:$pfrom,to:$from,bucket:$bucket){start totals{requests tenantCost}}\n}": typeof types.SpendChartDocument,
    "query BudgetBurn($t:ID!,$from:Time!,$to:Time!,$bucket:TimeBucket!,$f:SpendFilter){\n  spendTimeSeries(tenantId:$t,from:$from,to:$to,bucket:$bucket,filter:$f){start totals{tenantCost}}\n}": typeof types.BudgetBurnDocument,
    "query FilteredEvents($t:ID!,$from:Time!,$to:Time!,$f:SpendFilter,$after:String,$n:Int){usageEvents(tenantId:$t,from:$from,to:$to,filter:$f,first:$n,after:$after){edges{node{...EventFields}} pageInfo{hasNextPage endCursor}}}": typeof types.FilteredEventsDocument,
    "query DimensionBreakdown($t:ID!,$from:Time!,$to:Time!,$dim:String!,$top:Int!){\n  spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:DIMENSION,dimension:$dim}],top:$top){...BreakdownFields}\n}": typeof types.DimensionBreakdownDocument,
    "query DimensionNames($t:ID!,$from:Time!,$to:Time!){\n  apiKeys(tenantId:$t,first:100){edges{node{policy{requiredDimensions defaultDimensions{name}}}}}\n  budgets(tenantId:$t,first:100){edges{node{dimensionName}}}\n  usageEvents(tenantId:$t,from:$from,to:$to,first:200){edges{node{dimensions{name value}}}}\n}": typeof types.DimensionNamesDocument,
    "fragment AlertFields on BudgetAlert {id budgetId budgetName threshold periodStart periodEnd spent amount hard message at}": typeof types.AlertFieldsFragmentDoc,
    "subscription BudgetAlerts($t:ID!){budgetAlerts(tenantId:$t){...AlertFields}}": typeof types.BudgetAlertsDocument,
    "query AlertHistory($t:ID!,$n:Int){budgetAlertHistory(tenantId:$t,first:$n){...AlertFields}}": typeof types.AlertHistoryDocument,
    "mutation Reprice($t:ID!,$from:Time!,$to:Time!){repriceUnpricedEvents(tenantId:$t,from:$from,to:$to){examined repriced stillUnpriced listCost tenantCost}}": typeof types.RepriceDocument,
    "query CatalogueBrowse($q:String,$p:String,$n:Int){pricingCatalogue(search:$q,provider:$p,first:$n){provider model aliases rates{class perMillion} effectiveFrom source checked sourceKind reason notes maxOutputTokens longContextAboveInputTokens unitRates{class variant unit perMillion usd}}}": typeof types.CatalogueBrowseDocument,
    "fragment RevisionFields on PricingRevision {id status baseId effectiveFrom source summary createdAt createdBy decidedAt decidedBy\n  added{provider model effectiveFrom changes{field unit old new}} changed{provider model effectiveFrom changes{field unit old new}}\n  removed{provider model effectiveFrom changes{field unit old new}}}": typeof types.RevisionFieldsFragmentDoc,
    "query PricingRevisions($n:Int){pricingRevisions(first:$n){...RevisionFields} canManagePricing}": typeof types.PricingRevisionsDocument,
    "mutation ApplyRevision($id:ID!){applyPricingRevision(id:$id){...RevisionFields}}": typeof types.ApplyRevisionDocument,
    "mutation RejectRevision($id:ID!){rejectPricingRevision(id:$id){...RevisionFields}}": typeof types.RejectRevisionDocument,
    "query SsoOption($e:String,$s:String){ssoOption(email:$e,tenantSlug:$s){tenantSlug displayName}}": typeof types.SsoOptionDocument,
    "mutation StartSso($e:String,$s:String){startSSOSignIn(email:$e,tenantSlug:$s){authorizationUrl state}}": typeof types.StartSsoDocument,
    "mutation FinishSso($s:String!,$c:String!){finishSSOSignIn(state:$s,code:$c){...SessionFields}}": typeof types.FinishSsoDocument,
    "fragment TenantSSOFields on TenantSSO {enabled displayName issuerUrl clientId clientSecretSet scopes allowedDomains groupsClaim groupMappings{group role scopedRole nodeId} defaultRole jitProvisioning ssoRequired breakGlassUserId redirectUri updatedAt}": typeof types.TenantSsoFieldsFragmentDoc,
    "query GetTenantSso($t:ID!){tenantSSO(tenantId:$t){...TenantSSOFields} scimTokens(tenantId:$t){id name prefix createdAt lastUsedAt revokedAt} tenant(id:$t){mfaRequired} orgTree(tenantId:$t){id kind name archivedAt}}": typeof types.GetTenantSsoDocument,
    "mutation ConfigureSso($t:ID!,$in:TenantSSOInput!){configureTenantSSO(tenantId:$t,input:$in){...TenantSSOFields}}": typeof types.ConfigureSsoDocument,
    "mutation DeleteSso($t:ID!){deleteTenantSSO(tenantId:$t)}": typeof types.DeleteSsoDocument,
    "mutation SetMfaRequired($t:ID!,$r:Boolean!){setTenantMFARequired(tenantId:$t,required:$r){mfaRequired}}": typeof types.SetMfaRequiredDocument,
    "mutation CreateScimToken($t:ID!,$n:String!){createSCIMToken(tenantId:$t,name:$n){secret baseUrl token{id}}}": typeof types.CreateScimTokenDocument,
    "mutation RotateScimToken($t:ID!,$id:ID!){rotateSCIMToken(tenantId:$t,id:$id){secret baseUrl token{id}}}": typeof types.RotateScimTokenDocument,
    "mutation RevokeScimToken($t:ID!,$id:ID!){revokeSCIMToken(tenantId:$t,id:$id){id}}": typeof types.RevokeScimTokenDocument,
    "query MyMfa {myMFA{totpEnabled recoveryCodesLeft}}": typeof types.MyMfaDocument,
    "mutation EnrolTotp{enrolTOTP{secret otpauthUri qrCode}}": typeof types.EnrolTotpDocument,
    "mutation ConfirmTotp($c:String!){confirmTOTP(code:$c)}": typeof types.ConfirmTotpDocument,
    "mutation DisableTotp($p:String!,$c:String!){disableTOTP(password:$p,code:$c)}": typeof types.DisableTotpDocument,
    "mutation RegenerateCodes($c:String!){regenerateRecoveryCodes(code:$c)}": typeof types.RegenerateCodesDocument,
    "fragment ConnectionFields on ProviderConnection {id provider name adminKeyLast4 dataKeyLast4 lookbackDays enabled createdAt lastRun{running progress lastRunAt lastOkAt nextRunAt lastError pages rows consecutiveFailures}}": typeof types.ConnectionFieldsFragmentDoc,
    "query ProviderConnections($t:ID!){providerConnections(tenantId:$t){...ConnectionFields}}": typeof types.ProviderConnectionsDocument,
    "mutation CreateConnection($t:ID!,$in:CreateProviderConnectionInput!){createProviderConnection(tenantId:$t,input:$in){...ConnectionFields}}": typeof types.CreateConnectionDocument,
    "mutation DeleteConnection($t:ID!,$id:ID!){deleteProviderConnection(tenantId:$t,id:$id)}": typeof types.DeleteConnectionDocument,
    "mutation SyncConnection($t:ID!,$id:ID!){syncProviderConnection(tenantId:$t,id:$id){pages rows alerts}}": typeof types.SyncConnectionDocument,
    "fragment ReconDayFields on ReconciliationDay {provider day meteredCost reportedCost drift driftPercent unmeteredCost unreportedCost}": typeof types.ReconDayFieldsFragmentDoc,
    "query Reconciliation($t:ID!,$from:Time!,$to:Time!){reconciliation(tenantId:$t,from:$from,to:$to){\n  rows{provider day model status meteredEvents meteredCost reportedCost reportedHasCost drift driftPercent}\n  days{...ReconDayFields} totals{...ReconDayFields} csvPath}\n  reconcileSettings(tenantId:$t){driftThresholdPercent hasAlertWebhook}\n  driftAlerts(tenantId:$t,first:20){id provider day driftPercent thresholdPercent drift createdAt deliveredAt}}": typeof types.ReconciliationDocument,
    "mutation SetReconcileSettings($t:ID!,$in:ReconcileSettingsInput!){setReconcileSettings(tenantId:$t,input:$in){driftThresholdPercent hasAlertWebhook}}": typeof types.SetReconcileSettingsDocument,
    "fragment RecommendationFields on Recommendation {id kind title detail keyId keyName provider model alternative currentMonthlyCost monthlySavings requests state stateChangedBy stateChangedAt}": typeof types.RecommendationFieldsFragmentDoc,
    "query Insights($t:ID!,$from:Time!,$to:Time!){\n  spendForecast(tenantId:$t){periodStart periodEnd spent expected low high method}\n  recommendations(tenantId:$t){...RecommendationFields}\n  anomalies(tenantId:$t,from:$from,to:$to){id dimension value label severity startedAt endedAt peakHour peakSpend peakExpected excessSpend anomalousHours}}": typeof types.InsightsDocument,
    "mutation SetRecommendationState($t:ID!,$id:ID!,$s:RecommendationState!){setRecommendationState(tenantId:$t,id:$id,state:$s){...RecommendationFields}}": typeof types.SetRecommendationStateDocument,
    "fragment ReportFields on Report {id name frequency cron timeZone scope nodeId emails slackWebhookUrl enabled nextRunAt lastRunAt lastError createdAt updatedAt}": typeof types.ReportFieldsFragmentDoc,
    "query Reports($t:ID!){reports(tenantId:$t){...ReportFields}}": typeof types.ReportsDocument,
    "mutation CreateReport($t:ID!,$in:ReportInput!){createReport(tenantId:$t,input:$in){...ReportFields}}": typeof types.CreateReportDocument,
    "mutation UpdateReport($t:ID!,$id:ID!,$in:ReportInput!){updateReport(tenantId:$t,id:$id,input:$in){...ReportFields}}": typeof types.UpdateReportDocument,
    "mutation DeleteReport($t:ID!,$id:ID!){deleteReport(tenantId:$t,id:$id)}": typeof types.DeleteReportDocument,
    "mutation SendTestReport($t:ID!,$id:ID!){sendTestReport(tenantId:$t,id:$id){periodFrom periodTo spend channels}}": typeof types.SendTestReportDocument,
    "query ReportNodes($t:ID!){orgTree(tenantId:$t){...NodeFields}}": typeof types.ReportNodesDocument,
};
const documents: Documents = {
    "fragment InvoiceFields on Invoice {id number status period{label start end timeZone} groupBy currency\n  lines{kind provider model group groupName adjustsPeriod events unpricedEvents quantities{class quantity} listCost tenantCost amount overrides}\n  listCost tenantCost total providerReported{provider metered reported} issuedAt issuedBy paidAt voidedAt voidReason pdfUrl csvUrl}": types.InvoiceFieldsFragmentDoc,
    "query Invoices($t:ID!){invoices(tenantId:$t){...InvoiceFields}}": types.InvoicesDocument,
    "query DraftInvoice($t:ID!,$p:String!){draftInvoice(tenantId:$t,period:$p){...InvoiceFields}}": types.DraftInvoiceDocument,
    "mutation IssueInvoice($t:ID!,$p:String!){issueInvoice(tenantId:$t,period:$p){...InvoiceFields}}": types.IssueInvoiceDocument,
    "mutation MarkInvoicePaid($t:ID!,$id:ID!){markInvoicePaid(tenantId:$t,id:$id){...InvoiceFields}}": types.MarkInvoicePaidDocument,
    "mutation VoidInvoice($t:ID!,$id:ID!,$r:String!){voidInvoice(tenantId:$t,id:$id,reason:$r){...InvoiceFields}}": types.VoidInvoiceDocument,
    "query ChargebackStatement($t:ID!,$p:String!,$g:String!){chargebackStatement(tenantId:$t,period:$p,groupBy:$g){\n  period{label start end timeZone} groupBy groups{group groupName events listCost tenantCost amount} total tenantCost pdfUrl csvUrl}}": types.ChargebackStatementDocument,
    "query LineEvents($t:ID!,$from:Time!,$to:Time!,$f:SpendFilter,$after:String){usageEvents(tenantId:$t,from:$from,to:$to,filter:$f,first:50,after:$after){\n  edges{node{...EventFields}} pageInfo{hasNextPage endCursor}}}": types.LineEventsDocument,
    "fragment SessionFields on Session {accessToken refreshToken expiresAt user{id email name}}": types.SessionFieldsFragmentDoc,
    "mutation SignIn($email:String!,$password:String!,$mfa:String){signIn(email:$email,password:$password,mfaCode:$mfa){...SessionFields}}": types.SignInDocument,
    "mutation Refresh($r:String!){refreshSession(refreshToken:$r){...SessionFields}}": types.RefreshDocument,
    "mutation SignOut($r:String!){signOut(refreshToken:$r)}": types.SignOutDocument,
    "query Tenants {tenants{id name slug role mfaRequired}}": types.TenantsDocument,
    "fragment KeyFields on APIKey {id name prefix status createdAt lastUsedAt revokedAt expiresAt rotatedFromId policy{allowedProviders allowedModels requiredDimensions defaultDimensions{name value} requirePricedModels injectProviderCredentials}}": types.KeyFieldsFragmentDoc,
    "query ApiKeys($t:ID!,$after:String,$status:KeyStatus){apiKeys(tenantId:$t,first:100,after:$after,status:$status){edges{node{...KeyFields}} pageInfo{hasNextPage endCursor}}}": types.ApiKeysDocument,
    "mutation CreateKey($t:ID!,$n:String!,$p:KeyPolicyInput,$e:Time){createAPIKey(tenantId:$t,name:$n,policy:$p,expiresAt:$e){secret key{...KeyFields}}}": types.CreateKeyDocument,
    "mutation RevokeKey($t:ID!,$id:ID!){revokeAPIKey(tenantId:$t,id:$id){...KeyFields}}": types.RevokeKeyDocument,
    "mutation RotateKey($t:ID!,$id:ID!){rotateAPIKey(tenantId:$t,id:$id){secret key{...KeyFields}}}": types.RotateKeyDocument,
    "fragment BudgetFields on Budget {id name scope workspaceId teamId projectId keyId provider model dimensionName dimensionValue period amount thresholds hard rollover webhookUrl alertEmails spendBasis breachWebhookUrl breachWebhookSigned createdAt updatedAt}": types.BudgetFieldsFragmentDoc,
    "mutation CreateBudget($t:ID!,$in:BudgetInput!){createBudget(tenantId:$t,input:$in){...BudgetFields}}": types.CreateBudgetDocument,
    "mutation UpdateBudget($t:ID!,$id:ID!,$in:BudgetInput!){updateBudget(tenantId:$t,id:$id,input:$in){...BudgetFields}}": types.UpdateBudgetDocument,
    "mutation DeleteBudget($t:ID!,$id:ID!){deleteBudget(tenantId:$t,id:$id)}": types.DeleteBudgetDocument,
    "query BudgetStatuses($t:ID!){budgetStatuses(tenantId:$t){budget{...BudgetFields} periodStart periodEnd spent reserved remaining percentUsed forecast forecastLow forecastHigh willExceedOn forecastMethod blocked spendBasis metered reported}}": types.BudgetStatusesDocument,
    "fragment NodeFields on OrgNode {id kind parentId name workspaceId teamId projectId archivedAt}": types.NodeFieldsFragmentDoc,
    "query OrgTree($t:ID!,$from:Time!,$to:Time!){orgTree(tenantId:$t){...NodeFields}\n  budgetStatuses(tenantId:$t){budget{...BudgetFields} periodStart periodEnd spent reserved remaining percentUsed forecast blocked}\n  byWorkspace:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:WORKSPACE}],top:1000){groups{keys totals{tenantCost requests}}}\n  byTeam:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:TEAM}],top:1000){groups{keys totals{tenantCost requests}}}\n  byProject:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:PROJECT}],top:1000){groups{keys totals{tenantCost requests}}}}": types.OrgTreeDocument,
    "mutation CreateNode($t:ID!,$k:OrgNodeKind!,$p:ID,$n:String!){createOrgNode(tenantId:$t,kind:$k,parentId:$p,name:$n){...NodeFields}}": types.CreateNodeDocument,
    "fragment OverrideFields on PricingOverride {id provider model effectiveFrom effectiveTo rates{class perMillion} percentAdjustment note createdAt}": types.OverrideFieldsFragmentDoc,
    "query Overrides($t:ID!){pricingOverrides(tenantId:$t,first:200){edges{node{...OverrideFields}}}}": types.OverridesDocument,
    "mutation CreateOverride($t:ID!,$in:PricingOverrideInput!){createPricingOverride(tenantId:$t,input:$in){...OverrideFields}}": types.CreateOverrideDocument,
    "mutation UpdateOverride($t:ID!,$id:ID!,$in:PricingOverrideInput!){updatePricingOverride(tenantId:$t,id:$id,input:$in){...OverrideFields}}": types.UpdateOverrideDocument,
    "mutation DeleteOverride($t:ID!,$id:ID!){deletePricingOverride(tenantId:$t,id:$id)}": types.DeleteOverrideDocument,
    "fragment EventFields on UsageEvent {id time keyId keyName source provider operation modelRequested modelServed catalogueModel status streaming complete latencyMs requestId serviceTier\n  dimensions{name value} tokens{input cachedInput cacheWrite5m cacheWrite1h output reasoning audioInput audioOutput imageInput imageOutput webSearches characters seconds images} priced listCost tenantCost providerReportedCost overrideIds pricingTier\n  costLines{class quantity listRatePerMillion tenantRatePerMillion amount}}": types.EventFieldsFragmentDoc,
    "query UsageEvents($t:ID!,$from:Time!,$to:Time!,$after:String,$n:Int){usageEvents(tenantId:$t,from:$from,to:$to,first:$n,after:$after){edges{node{...EventFields}} pageInfo{hasNextPage endCursor}}}": types.UsageEventsDocument,
    "query UsageEvent($t:ID!,$id:ID!){usageEvent(tenantId:$t,id:$id){...EventFields}}": types.UsageEventDocument,
    "query Members($t:ID!){members(tenantId:$t,first:200){edges{node{role createdAt suspended user{id email name}}}}}": types.MembersDocument,
    "mutation AddMember($t:ID!,$e:String!,$n:String,$p:String,$r:Role!){addMember(tenantId:$t,email:$e,name:$n,password:$p,role:$r){role user{id email}}}": types.AddMemberDocument,
    "mutation UpdateRole($t:ID!,$u:ID!,$r:Role!){updateMemberRole(tenantId:$t,userId:$u,role:$r){role}}": types.UpdateRoleDocument,
    "mutation RemoveMember($t:ID!,$u:ID!){removeMember(tenantId:$t,userId:$u)}": types.RemoveMemberDocument,
    "query Audit($t:ID!,$after:String,$f:AuditFilter){auditLog(tenantId:$t,first:50,after:$after,filter:$f){edges{node{id actor action targetType targetId details createdAt}} pageInfo{hasNextPage endCursor}}}": types.AuditDocument,
    "query AuditNames($t:ID!){\n  apiKeys(tenantId:$t,first:100){edges{node{id name}}}\n  budgets(tenantId:$t,first:100){edges{node{id name}}}\n  members(tenantId:$t,first:200){edges{node{user{id email}}}}\n  orgTree(tenantId:$t){id name}\n  pricingOverrides(tenantId:$t,first:200){edges{node{id provider model}}}\n}": types.AuditNamesDocument,
    "fragment TotalsFields on SpendTotals {requests unpricedRequests listCost tenantCost inputTokens outputTokens}": types.TotalsFieldsFragmentDoc,
    "fragment BreakdownFields on SpendBreakdown {groupBy groups{keys labels totals{...TotalsFields}} other{...TotalsFields} total{...TotalsFields}}": types.BreakdownFieldsFragmentDoc,
    "query Dashboard($t:ID!,$from:Time!,$to:Time!,$bucket:TimeBucket!,$top:Int!){\n  summary:spendSummary(tenantId:$t,from:$from,to:$to){...TotalsFields}\n  series:spendTimeSeries(tenantId:$t,from:$from,to:$to,bucket:$bucket){start totals{requests tenantCost}}\n  byProvider:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:PROVIDER}],top:$top){...BreakdownFields}\n  byModel:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:MODEL}],top:$top){...BreakdownFields}\n  byKey:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:KEY}],top:$top){...BreakdownFields}\n  unknownModels(tenantId:$t,from:$from,to:$to){provider model requests inputTokens outputTokens firstSeen lastSeen}\n  denials(tenantId:$t,from:$from,to:$to){keys labels requests}\n  deniedKeys:denials(tenantId:$t,from:$from,to:$to,groupBy:[{field:KEY}]){keys labels requests}\n}": types.DashboardDocument,
    "query SpendChart($t:ID!,$from:Time!,$to:Time!,$pfrom:Time!,$bucket:TimeBucket!,$group:[SpendGroupBy!]){\n  stacked:spendTimeSeries(tenantId:$t,from:$from,to:$to,bucket:$bucket,groupBy:$group){start keys labels totals{requests tenantCost}}\n  previous:spendTimeSeries(tenantId:$t,from:$pfrom,to:$from,bucket:$bucket){start totals{requests tenantCost}}\n}": types.SpendChartDocument,
    "query BudgetBurn($t:ID!,$from:Time!,$to:Time!,$bucket:TimeBucket!,$f:SpendFilter){\n  spendTimeSeries(tenantId:$t,from:$from,to:$to,bucket:$bucket,filter:$f){start totals{tenantCost}}\n}": types.BudgetBurnDocument,
    "query FilteredEvents($t:ID!,$from:Time!,$to:Time!,$f:SpendFilter,$after:String,$n:Int){usageEvents(tenantId:$t,from:$from,to:$to,filter:$f,first:$n,after:$after){edges{node{...EventFields}} pageInfo{hasNextPage endCursor}}}": types.FilteredEventsDocument,
    "query DimensionBreakdown($t:ID!,$from:Time!,$to:Time!,$dim:String!,$top:Int!){\n  spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:DIMENSION,dimension:$dim}],top:$top){...BreakdownFields}\n}": types.DimensionBreakdownDocument,
    "query DimensionNames($t:ID!,$from:Time!,$to:Time!){\n  apiKeys(tenantId:$t,first:100){edges{node{policy{requiredDimensions defaultDimensions{name}}}}}\n  budgets(tenantId:$t,first:100){edges{node{dimensionName}}}\n  usageEvents(tenantId:$t,from:$from,to:$to,first:200){edges{node{dimensions{name value}}}}\n}": types.DimensionNamesDocument,
    "fragment AlertFields on BudgetAlert {id budgetId budgetName threshold periodStart periodEnd spent amount hard message at}": types.AlertFieldsFragmentDoc,
    "subscription BudgetAlerts($t:ID!){budgetAlerts(tenantId:$t){...AlertFields}}": types.BudgetAlertsDocument,
    "query AlertHistory($t:ID!,$n:Int){budgetAlertHistory(tenantId:$t,first:$n){...AlertFields}}": types.AlertHistoryDocument,
    "mutation Reprice($t:ID!,$from:Time!,$to:Time!){repriceUnpricedEvents(tenantId:$t,from:$from,to:$to){examined repriced stillUnpriced listCost tenantCost}}": types.RepriceDocument,
    "query CatalogueBrowse($q:String,$p:String,$n:Int){pricingCatalogue(search:$q,provider:$p,first:$n){provider model aliases rates{class perMillion} effectiveFrom source checked sourceKind reason notes maxOutputTokens longContextAboveInputTokens unitRates{class variant unit perMillion usd}}}": types.CatalogueBrowseDocument,
    "fragment RevisionFields on PricingRevision {id status baseId effectiveFrom source summary createdAt createdBy decidedAt decidedBy\n  added{provider model effectiveFrom changes{field unit old new}} changed{provider model effectiveFrom changes{field unit old new}}\n  removed{provider model effectiveFrom changes{field unit old new}}}": types.RevisionFieldsFragmentDoc,
    "query PricingRevisions($n:Int){pricingRevisions(first:$n){...RevisionFields} canManagePricing}": types.PricingRevisionsDocument,
    "mutation ApplyRevision($id:ID!){applyPricingRevision(id:$id){...RevisionFields}}": types.ApplyRevisionDocument,
    "mutation RejectRevision($id:ID!){rejectPricingRevision(id:$id){...RevisionFields}}": types.RejectRevisionDocument,
    "query SsoOption($e:String,$s:String){ssoOption(email:$e,tenantSlug:$s){tenantSlug displayName}}": types.SsoOptionDocument,
    "mutation StartSso($e:String,$s:String){startSSOSignIn(email:$e,tenantSlug:$s){authorizationUrl state}}": types.StartSsoDocument,
    "mutation FinishSso($s:String!,$c:String!){finishSSOSignIn(state:$s,code:$c){...SessionFields}}": types.FinishSsoDocument,
    "fragment TenantSSOFields on TenantSSO {enabled displayName issuerUrl clientId clientSecretSet scopes allowedDomains groupsClaim groupMappings{group role scopedRole nodeId} defaultRole jitProvisioning ssoRequired breakGlassUserId redirectUri updatedAt}": types.TenantSsoFieldsFragmentDoc,
    "query GetTenantSso($t:ID!){tenantSSO(tenantId:$t){...TenantSSOFields} scimTokens(tenantId:$t){id name prefix createdAt lastUsedAt revokedAt} tenant(id:$t){mfaRequired} orgTree(tenantId:$t){id kind name archivedAt}}": types.GetTenantSsoDocument,
    "mutation ConfigureSso($t:ID!,$in:TenantSSOInput!){configureTenantSSO(tenantId:$t,input:$in){...TenantSSOFields}}": types.ConfigureSsoDocument,
    "mutation DeleteSso($t:ID!){deleteTenantSSO(tenantId:$t)}": types.DeleteSsoDocument,
    "mutation SetMfaRequired($t:ID!,$r:Boolean!){setTenantMFARequired(tenantId:$t,required:$r){mfaRequired}}": types.SetMfaRequiredDocument,
    "mutation CreateScimToken($t:ID!,$n:String!){createSCIMToken(tenantId:$t,name:$n){secret baseUrl token{id}}}": types.CreateScimTokenDocument,
    "mutation RotateScimToken($t:ID!,$id:ID!){rotateSCIMToken(tenantId:$t,id:$id){secret baseUrl token{id}}}": types.RotateScimTokenDocument,
    "mutation RevokeScimToken($t:ID!,$id:ID!){revokeSCIMToken(tenantId:$t,id:$id){id}}": types.RevokeScimTokenDocument,
    "query MyMfa {myMFA{totpEnabled recoveryCodesLeft}}": types.MyMfaDocument,
    "mutation EnrolTotp{enrolTOTP{secret otpauthUri qrCode}}": types.EnrolTotpDocument,
    "mutation ConfirmTotp($c:String!){confirmTOTP(code:$c)}": types.ConfirmTotpDocument,
    "mutation DisableTotp($p:String!,$c:String!){disableTOTP(password:$p,code:$c)}": types.DisableTotpDocument,
    "mutation RegenerateCodes($c:String!){regenerateRecoveryCodes(code:$c)}": types.RegenerateCodesDocument,
    "fragment ConnectionFields on ProviderConnection {id provider name adminKeyLast4 dataKeyLast4 lookbackDays enabled createdAt lastRun{running progress lastRunAt lastOkAt nextRunAt lastError pages rows consecutiveFailures}}": types.ConnectionFieldsFragmentDoc,
    "query ProviderConnections($t:ID!){providerConnections(tenantId:$t){...ConnectionFields}}": types.ProviderConnectionsDocument,
    "mutation CreateConnection($t:ID!,$in:CreateProviderConnectionInput!){createProviderConnection(tenantId:$t,input:$in){...ConnectionFields}}": types.CreateConnectionDocument,
    "mutation DeleteConnection($t:ID!,$id:ID!){deleteProviderConnection(tenantId:$t,id:$id)}": types.DeleteConnectionDocument,
    "mutation SyncConnection($t:ID!,$id:ID!){syncProviderConnection(tenantId:$t,id:$id){pages rows alerts}}": types.SyncConnectionDocument,
    "fragment ReconDayFields on ReconciliationDay {provider day meteredCost reportedCost drift driftPercent unmeteredCost unreportedCost}": types.ReconDayFieldsFragmentDoc,
    "query Reconciliation($t:ID!,$from:Time!,$to:Time!){reconciliation(tenantId:$t,from:$from,to:$to){\n  rows{provider day model status meteredEvents meteredCost reportedCost reportedHasCost drift driftPercent}\n  days{...ReconDayFields} totals{...ReconDayFields} csvPath}\n  reconcileSettings(tenantId:$t){driftThresholdPercent hasAlertWebhook}\n  driftAlerts(tenantId:$t,first:20){id provider day driftPercent thresholdPercent drift createdAt deliveredAt}}": types.ReconciliationDocument,
    "mutation SetReconcileSettings($t:ID!,$in:ReconcileSettingsInput!){setReconcileSettings(tenantId:$t,input:$in){driftThresholdPercent hasAlertWebhook}}": types.SetReconcileSettingsDocument,
    "fragment RecommendationFields on Recommendation {id kind title detail keyId keyName provider model alternative currentMonthlyCost monthlySavings requests state stateChangedBy stateChangedAt}": types.RecommendationFieldsFragmentDoc,
    "query Insights($t:ID!,$from:Time!,$to:Time!){\n  spendForecast(tenantId:$t){periodStart periodEnd spent expected low high method}\n  recommendations(tenantId:$t){...RecommendationFields}\n  anomalies(tenantId:$t,from:$from,to:$to){id dimension value label severity startedAt endedAt peakHour peakSpend peakExpected excessSpend anomalousHours}}": types.InsightsDocument,
    "mutation SetRecommendationState($t:ID!,$id:ID!,$s:RecommendationState!){setRecommendationState(tenantId:$t,id:$id,state:$s){...RecommendationFields}}": types.SetRecommendationStateDocument,
    "fragment ReportFields on Report {id name frequency cron timeZone scope nodeId emails slackWebhookUrl enabled nextRunAt lastRunAt lastError createdAt updatedAt}": types.ReportFieldsFragmentDoc,
    "query Reports($t:ID!){reports(tenantId:$t){...ReportFields}}": types.ReportsDocument,
    "mutation CreateReport($t:ID!,$in:ReportInput!){createReport(tenantId:$t,input:$in){...ReportFields}}": types.CreateReportDocument,
    "mutation UpdateReport($t:ID!,$id:ID!,$in:ReportInput!){updateReport(tenantId:$t,id:$id,input:$in){...ReportFields}}": types.UpdateReportDocument,
    "mutation DeleteReport($t:ID!,$id:ID!){deleteReport(tenantId:$t,id:$id)}": types.DeleteReportDocument,
    "mutation SendTestReport($t:ID!,$id:ID!){sendTestReport(tenantId:$t,id:$id){periodFrom periodTo spend channels}}": types.SendTestReportDocument,
    "query ReportNodes($t:ID!){orgTree(tenantId:$t){...NodeFields}}": types.ReportNodesDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment InvoiceFields on Invoice {id number status period{label start end timeZone} groupBy currency\n  lines{kind provider model group groupName adjustsPeriod events unpricedEvents quantities{class quantity} listCost tenantCost amount overrides}\n  listCost tenantCost total providerReported{provider metered reported} issuedAt issuedBy paidAt voidedAt voidReason pdfUrl csvUrl}"): typeof import('./graphql').InvoiceFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Invoices($t:ID!){invoices(tenantId:$t){...InvoiceFields}}"): typeof import('./graphql').InvoicesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query DraftInvoice($t:ID!,$p:String!){draftInvoice(tenantId:$t,period:$p){...InvoiceFields}}"): typeof import('./graphql').DraftInvoiceDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation IssueInvoice($t:ID!,$p:String!){issueInvoice(tenantId:$t,period:$p){...InvoiceFields}}"): typeof import('./graphql').IssueInvoiceDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation MarkInvoicePaid($t:ID!,$id:ID!){markInvoicePaid(tenantId:$t,id:$id){...InvoiceFields}}"): typeof import('./graphql').MarkInvoicePaidDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation VoidInvoice($t:ID!,$id:ID!,$r:String!){voidInvoice(tenantId:$t,id:$id,reason:$r){...InvoiceFields}}"): typeof import('./graphql').VoidInvoiceDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query ChargebackStatement($t:ID!,$p:String!,$g:String!){chargebackStatement(tenantId:$t,period:$p,groupBy:$g){\n  period{label start end timeZone} groupBy groups{group groupName events listCost tenantCost amount} total tenantCost pdfUrl csvUrl}}"): typeof import('./graphql').ChargebackStatementDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query LineEvents($t:ID!,$from:Time!,$to:Time!,$f:SpendFilter,$after:String){usageEvents(tenantId:$t,from:$from,to:$to,filter:$f,first:50,after:$after){\n  edges{node{...EventFields}} pageInfo{hasNextPage endCursor}}}"): typeof import('./graphql').LineEventsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment SessionFields on Session {accessToken refreshToken expiresAt user{id email name}}"): typeof import('./graphql').SessionFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation SignIn($email:String!,$password:String!,$mfa:String){signIn(email:$email,password:$password,mfaCode:$mfa){...SessionFields}}"): typeof import('./graphql').SignInDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Refresh($r:String!){refreshSession(refreshToken:$r){...SessionFields}}"): typeof import('./graphql').RefreshDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation SignOut($r:String!){signOut(refreshToken:$r)}"): typeof import('./graphql').SignOutDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Tenants {tenants{id name slug role mfaRequired}}"): typeof import('./graphql').TenantsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment KeyFields on APIKey {id name prefix status createdAt lastUsedAt revokedAt expiresAt rotatedFromId policy{allowedProviders allowedModels requiredDimensions defaultDimensions{name value} requirePricedModels injectProviderCredentials}}"): typeof import('./graphql').KeyFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query ApiKeys($t:ID!,$after:String,$status:KeyStatus){apiKeys(tenantId:$t,first:100,after:$after,status:$status){edges{node{...KeyFields}} pageInfo{hasNextPage endCursor}}}"): typeof import('./graphql').ApiKeysDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateKey($t:ID!,$n:String!,$p:KeyPolicyInput,$e:Time){createAPIKey(tenantId:$t,name:$n,policy:$p,expiresAt:$e){secret key{...KeyFields}}}"): typeof import('./graphql').CreateKeyDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation RevokeKey($t:ID!,$id:ID!){revokeAPIKey(tenantId:$t,id:$id){...KeyFields}}"): typeof import('./graphql').RevokeKeyDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation RotateKey($t:ID!,$id:ID!){rotateAPIKey(tenantId:$t,id:$id){secret key{...KeyFields}}}"): typeof import('./graphql').RotateKeyDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment BudgetFields on Budget {id name scope workspaceId teamId projectId keyId provider model dimensionName dimensionValue period amount thresholds hard rollover webhookUrl alertEmails spendBasis breachWebhookUrl breachWebhookSigned createdAt updatedAt}"): typeof import('./graphql').BudgetFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateBudget($t:ID!,$in:BudgetInput!){createBudget(tenantId:$t,input:$in){...BudgetFields}}"): typeof import('./graphql').CreateBudgetDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UpdateBudget($t:ID!,$id:ID!,$in:BudgetInput!){updateBudget(tenantId:$t,id:$id,input:$in){...BudgetFields}}"): typeof import('./graphql').UpdateBudgetDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DeleteBudget($t:ID!,$id:ID!){deleteBudget(tenantId:$t,id:$id)}"): typeof import('./graphql').DeleteBudgetDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query BudgetStatuses($t:ID!){budgetStatuses(tenantId:$t){budget{...BudgetFields} periodStart periodEnd spent reserved remaining percentUsed forecast forecastLow forecastHigh willExceedOn forecastMethod blocked spendBasis metered reported}}"): typeof import('./graphql').BudgetStatusesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment NodeFields on OrgNode {id kind parentId name workspaceId teamId projectId archivedAt}"): typeof import('./graphql').NodeFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query OrgTree($t:ID!,$from:Time!,$to:Time!){orgTree(tenantId:$t){...NodeFields}\n  budgetStatuses(tenantId:$t){budget{...BudgetFields} periodStart periodEnd spent reserved remaining percentUsed forecast blocked}\n  byWorkspace:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:WORKSPACE}],top:1000){groups{keys totals{tenantCost requests}}}\n  byTeam:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:TEAM}],top:1000){groups{keys totals{tenantCost requests}}}\n  byProject:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:PROJECT}],top:1000){groups{keys totals{tenantCost requests}}}}"): typeof import('./graphql').OrgTreeDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateNode($t:ID!,$k:OrgNodeKind!,$p:ID,$n:String!){createOrgNode(tenantId:$t,kind:$k,parentId:$p,name:$n){...NodeFields}}"): typeof import('./graphql').CreateNodeDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment OverrideFields on PricingOverride {id provider model effectiveFrom effectiveTo rates{class perMillion} percentAdjustment note createdAt}"): typeof import('./graphql').OverrideFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Overrides($t:ID!){pricingOverrides(tenantId:$t,first:200){edges{node{...OverrideFields}}}}"): typeof import('./graphql').OverridesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateOverride($t:ID!,$in:PricingOverrideInput!){createPricingOverride(tenantId:$t,input:$in){...OverrideFields}}"): typeof import('./graphql').CreateOverrideDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UpdateOverride($t:ID!,$id:ID!,$in:PricingOverrideInput!){updatePricingOverride(tenantId:$t,id:$id,input:$in){...OverrideFields}}"): typeof import('./graphql').UpdateOverrideDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DeleteOverride($t:ID!,$id:ID!){deletePricingOverride(tenantId:$t,id:$id)}"): typeof import('./graphql').DeleteOverrideDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment EventFields on UsageEvent {id time keyId keyName source provider operation modelRequested modelServed catalogueModel status streaming complete latencyMs requestId serviceTier\n  dimensions{name value} tokens{input cachedInput cacheWrite5m cacheWrite1h output reasoning audioInput audioOutput imageInput imageOutput webSearches characters seconds images} priced listCost tenantCost providerReportedCost overrideIds pricingTier\n  costLines{class quantity listRatePerMillion tenantRatePerMillion amount}}"): typeof import('./graphql').EventFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query UsageEvents($t:ID!,$from:Time!,$to:Time!,$after:String,$n:Int){usageEvents(tenantId:$t,from:$from,to:$to,first:$n,after:$after){edges{node{...EventFields}} pageInfo{hasNextPage endCursor}}}"): typeof import('./graphql').UsageEventsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query UsageEvent($t:ID!,$id:ID!){usageEvent(tenantId:$t,id:$id){...EventFields}}"): typeof import('./graphql').UsageEventDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Members($t:ID!){members(tenantId:$t,first:200){edges{node{role createdAt suspended user{id email name}}}}}"): typeof import('./graphql').MembersDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AddMember($t:ID!,$e:String!,$n:String,$p:String,$r:Role!){addMember(tenantId:$t,email:$e,name:$n,password:$p,role:$r){role user{id email}}}"): typeof import('./graphql').AddMemberDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UpdateRole($t:ID!,$u:ID!,$r:Role!){updateMemberRole(tenantId:$t,userId:$u,role:$r){role}}"): typeof import('./graphql').UpdateRoleDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation RemoveMember($t:ID!,$u:ID!){removeMember(tenantId:$t,userId:$u)}"): typeof import('./graphql').RemoveMemberDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Audit($t:ID!,$after:String,$f:AuditFilter){auditLog(tenantId:$t,first:50,after:$after,filter:$f){edges{node{id actor action targetType targetId details createdAt}} pageInfo{hasNextPage endCursor}}}"): typeof import('./graphql').AuditDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query AuditNames($t:ID!){\n  apiKeys(tenantId:$t,first:100){edges{node{id name}}}\n  budgets(tenantId:$t,first:100){edges{node{id name}}}\n  members(tenantId:$t,first:200){edges{node{user{id email}}}}\n  orgTree(tenantId:$t){id name}\n  pricingOverrides(tenantId:$t,first:200){edges{node{id provider model}}}\n}"): typeof import('./graphql').AuditNamesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment TotalsFields on SpendTotals {requests unpricedRequests listCost tenantCost inputTokens outputTokens}"): typeof import('./graphql').TotalsFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment BreakdownFields on SpendBreakdown {groupBy groups{keys labels totals{...TotalsFields}} other{...TotalsFields} total{...TotalsFields}}"): typeof import('./graphql').BreakdownFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Dashboard($t:ID!,$from:Time!,$to:Time!,$bucket:TimeBucket!,$top:Int!){\n  summary:spendSummary(tenantId:$t,from:$from,to:$to){...TotalsFields}\n  series:spendTimeSeries(tenantId:$t,from:$from,to:$to,bucket:$bucket){start totals{requests tenantCost}}\n  byProvider:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:PROVIDER}],top:$top){...BreakdownFields}\n  byModel:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:MODEL}],top:$top){...BreakdownFields}\n  byKey:spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:KEY}],top:$top){...BreakdownFields}\n  unknownModels(tenantId:$t,from:$from,to:$to){provider model requests inputTokens outputTokens firstSeen lastSeen}\n  denials(tenantId:$t,from:$from,to:$to){keys labels requests}\n  deniedKeys:denials(tenantId:$t,from:$from,to:$to,groupBy:[{field:KEY}]){keys labels requests}\n}"): typeof import('./graphql').DashboardDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query SpendChart($t:ID!,$from:Time!,$to:Time!,$pfrom:Time!,$bucket:TimeBucket!,$group:[SpendGroupBy!]){\n  stacked:spendTimeSeries(tenantId:$t,from:$from,to:$to,bucket:$bucket,groupBy:$group){start keys labels totals{requests tenantCost}}\n  previous:spendTimeSeries(tenantId:$t,from:$pfrom,to:$from,bucket:$bucket){start totals{requests tenantCost}}\n}"): typeof import('./graphql').SpendChartDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query BudgetBurn($t:ID!,$from:Time!,$to:Time!,$bucket:TimeBucket!,$f:SpendFilter){\n  spendTimeSeries(tenantId:$t,from:$from,to:$to,bucket:$bucket,filter:$f){start totals{tenantCost}}\n}"): typeof import('./graphql').BudgetBurnDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query FilteredEvents($t:ID!,$from:Time!,$to:Time!,$f:SpendFilter,$after:String,$n:Int){usageEvents(tenantId:$t,from:$from,to:$to,filter:$f,first:$n,after:$after){edges{node{...EventFields}} pageInfo{hasNextPage endCursor}}}"): typeof import('./graphql').FilteredEventsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query DimensionBreakdown($t:ID!,$from:Time!,$to:Time!,$dim:String!,$top:Int!){\n  spendBreakdown(tenantId:$t,from:$from,to:$to,groupBy:[{field:DIMENSION,dimension:$dim}],top:$top){...BreakdownFields}\n}"): typeof import('./graphql').DimensionBreakdownDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query DimensionNames($t:ID!,$from:Time!,$to:Time!){\n  apiKeys(tenantId:$t,first:100){edges{node{policy{requiredDimensions defaultDimensions{name}}}}}\n  budgets(tenantId:$t,first:100){edges{node{dimensionName}}}\n  usageEvents(tenantId:$t,from:$from,to:$to,first:200){edges{node{dimensions{name value}}}}\n}"): typeof import('./graphql').DimensionNamesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment AlertFields on BudgetAlert {id budgetId budgetName threshold periodStart periodEnd spent amount hard message at}"): typeof import('./graphql').AlertFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription BudgetAlerts($t:ID!){budgetAlerts(tenantId:$t){...AlertFields}}"): typeof import('./graphql').BudgetAlertsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query AlertHistory($t:ID!,$n:Int){budgetAlertHistory(tenantId:$t,first:$n){...AlertFields}}"): typeof import('./graphql').AlertHistoryDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Reprice($t:ID!,$from:Time!,$to:Time!){repriceUnpricedEvents(tenantId:$t,from:$from,to:$to){examined repriced stillUnpriced listCost tenantCost}}"): typeof import('./graphql').RepriceDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query CatalogueBrowse($q:String,$p:String,$n:Int){pricingCatalogue(search:$q,provider:$p,first:$n){provider model aliases rates{class perMillion} effectiveFrom source checked sourceKind reason notes maxOutputTokens longContextAboveInputTokens unitRates{class variant unit perMillion usd}}}"): typeof import('./graphql').CatalogueBrowseDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment RevisionFields on PricingRevision {id status baseId effectiveFrom source summary createdAt createdBy decidedAt decidedBy\n  added{provider model effectiveFrom changes{field unit old new}} changed{provider model effectiveFrom changes{field unit old new}}\n  removed{provider model effectiveFrom changes{field unit old new}}}"): typeof import('./graphql').RevisionFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query PricingRevisions($n:Int){pricingRevisions(first:$n){...RevisionFields} canManagePricing}"): typeof import('./graphql').PricingRevisionsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation ApplyRevision($id:ID!){applyPricingRevision(id:$id){...RevisionFields}}"): typeof import('./graphql').ApplyRevisionDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation RejectRevision($id:ID!){rejectPricingRevision(id:$id){...RevisionFields}}"): typeof import('./graphql').RejectRevisionDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query SsoOption($e:String,$s:String){ssoOption(email:$e,tenantSlug:$s){tenantSlug displayName}}"): typeof import('./graphql').SsoOptionDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation StartSso($e:String,$s:String){startSSOSignIn(email:$e,tenantSlug:$s){authorizationUrl state}}"): typeof import('./graphql').StartSsoDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation FinishSso($s:String!,$c:String!){finishSSOSignIn(state:$s,code:$c){...SessionFields}}"): typeof import('./graphql').FinishSsoDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment TenantSSOFields on TenantSSO {enabled displayName issuerUrl clientId clientSecretSet scopes allowedDomains groupsClaim groupMappings{group role scopedRole nodeId} defaultRole jitProvisioning ssoRequired breakGlassUserId redirectUri updatedAt}"): typeof import('./graphql').TenantSsoFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query GetTenantSso($t:ID!){tenantSSO(tenantId:$t){...TenantSSOFields} scimTokens(tenantId:$t){id name prefix createdAt lastUsedAt revokedAt} tenant(id:$t){mfaRequired} orgTree(tenantId:$t){id kind name archivedAt}}"): typeof import('./graphql').GetTenantSsoDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation ConfigureSso($t:ID!,$in:TenantSSOInput!){configureTenantSSO(tenantId:$t,input:$in){...TenantSSOFields}}"): typeof import('./graphql').ConfigureSsoDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DeleteSso($t:ID!){deleteTenantSSO(tenantId:$t)}"): typeof import('./graphql').DeleteSsoDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation SetMfaRequired($t:ID!,$r:Boolean!){setTenantMFARequired(tenantId:$t,required:$r){mfaRequired}}"): typeof import('./graphql').SetMfaRequiredDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateScimToken($t:ID!,$n:String!){createSCIMToken(tenantId:$t,name:$n){secret baseUrl token{id}}}"): typeof import('./graphql').CreateScimTokenDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation RotateScimToken($t:ID!,$id:ID!){rotateSCIMToken(tenantId:$t,id:$id){secret baseUrl token{id}}}"): typeof import('./graphql').RotateScimTokenDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation RevokeScimToken($t:ID!,$id:ID!){revokeSCIMToken(tenantId:$t,id:$id){id}}"): typeof import('./graphql').RevokeScimTokenDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query MyMfa {myMFA{totpEnabled recoveryCodesLeft}}"): typeof import('./graphql').MyMfaDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation EnrolTotp{enrolTOTP{secret otpauthUri qrCode}}"): typeof import('./graphql').EnrolTotpDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation ConfirmTotp($c:String!){confirmTOTP(code:$c)}"): typeof import('./graphql').ConfirmTotpDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DisableTotp($p:String!,$c:String!){disableTOTP(password:$p,code:$c)}"): typeof import('./graphql').DisableTotpDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation RegenerateCodes($c:String!){regenerateRecoveryCodes(code:$c)}"): typeof import('./graphql').RegenerateCodesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment ConnectionFields on ProviderConnection {id provider name adminKeyLast4 dataKeyLast4 lookbackDays enabled createdAt lastRun{running progress lastRunAt lastOkAt nextRunAt lastError pages rows consecutiveFailures}}"): typeof import('./graphql').ConnectionFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query ProviderConnections($t:ID!){providerConnections(tenantId:$t){...ConnectionFields}}"): typeof import('./graphql').ProviderConnectionsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateConnection($t:ID!,$in:CreateProviderConnectionInput!){createProviderConnection(tenantId:$t,input:$in){...ConnectionFields}}"): typeof import('./graphql').CreateConnectionDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DeleteConnection($t:ID!,$id:ID!){deleteProviderConnection(tenantId:$t,id:$id)}"): typeof import('./graphql').DeleteConnectionDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation SyncConnection($t:ID!,$id:ID!){syncProviderConnection(tenantId:$t,id:$id){pages rows alerts}}"): typeof import('./graphql').SyncConnectionDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment ReconDayFields on ReconciliationDay {provider day meteredCost reportedCost drift driftPercent unmeteredCost unreportedCost}"): typeof import('./graphql').ReconDayFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Reconciliation($t:ID!,$from:Time!,$to:Time!){reconciliation(tenantId:$t,from:$from,to:$to){\n  rows{provider day model status meteredEvents meteredCost reportedCost reportedHasCost drift driftPercent}\n  days{...ReconDayFields} totals{...ReconDayFields} csvPath}\n  reconcileSettings(tenantId:$t){driftThresholdPercent hasAlertWebhook}\n  driftAlerts(tenantId:$t,first:20){id provider day driftPercent thresholdPercent drift createdAt deliveredAt}}"): typeof import('./graphql').ReconciliationDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation SetReconcileSettings($t:ID!,$in:ReconcileSettingsInput!){setReconcileSettings(tenantId:$t,input:$in){driftThresholdPercent hasAlertWebhook}}"): typeof import('./graphql').SetReconcileSettingsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment RecommendationFields on Recommendation {id kind title detail keyId keyName provider model alternative currentMonthlyCost monthlySavings requests state stateChangedBy stateChangedAt}"): typeof import('./graphql').RecommendationFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Insights($t:ID!,$from:Time!,$to:Time!){\n  spendForecast(tenantId:$t){periodStart periodEnd spent expected low high method}\n  recommendations(tenantId:$t){...RecommendationFields}\n  anomalies(tenantId:$t,from:$from,to:$to){id dimension value label severity startedAt endedAt peakHour peakSpend peakExpected excessSpend anomalousHours}}"): typeof import('./graphql').InsightsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation SetRecommendationState($t:ID!,$id:ID!,$s:RecommendationState!){setRecommendationState(tenantId:$t,id:$id,state:$s){...RecommendationFields}}"): typeof import('./graphql').SetRecommendationStateDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment ReportFields on Report {id name frequency cron timeZone scope nodeId emails slackWebhookUrl enabled nextRunAt lastRunAt lastError createdAt updatedAt}"): typeof import('./graphql').ReportFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Reports($t:ID!){reports(tenantId:$t){...ReportFields}}"): typeof import('./graphql').ReportsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateReport($t:ID!,$in:ReportInput!){createReport(tenantId:$t,input:$in){...ReportFields}}"): typeof import('./graphql').CreateReportDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UpdateReport($t:ID!,$id:ID!,$in:ReportInput!){updateReport(tenantId:$t,id:$id,input:$in){...ReportFields}}"): typeof import('./graphql').UpdateReportDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DeleteReport($t:ID!,$id:ID!){deleteReport(tenantId:$t,id:$id)}"): typeof import('./graphql').DeleteReportDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation SendTestReport($t:ID!,$id:ID!){sendTestReport(tenantId:$t,id:$id){periodFrom periodTo spend channels}}"): typeof import('./graphql').SendTestReportDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query ReportNodes($t:ID!){orgTree(tenantId:$t){...NodeFields}}"): typeof import('./graphql').ReportNodesDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
