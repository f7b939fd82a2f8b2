package apiserver

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
	"sigs.k8s.io/yaml"

	"github.com/spendgate/spendgate/anomaly"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/alerts"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/graph"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/recommend"
	recommendpg "github.com/spendgate/spendgate/recommend/pgstore"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/usage"
)

// op is one tenant-scoped GraphQL operation, written against variables
// $t (tenant), $key, $budget, $override, $user, $event and $dead (object ids).
type op struct {
	// field is Type.field in the schema, e.g. Query.apiKey.
	field string
	query string
	// objects is true when the operation names an object by id, so calling it
	// in the caller's own tenant with another tenant's id must be NOT_FOUND.
	objects bool
}

const month = `from:"2026-01-01T00:00:00Z",to:"2026-02-01T00:00:00Z"`

var tenantOps = []op{
	{"Query.tenant", `query($t:ID!){tenant(id:$t){id name}}`, false},
	{"Query.members", `query($t:ID!){members(tenantId:$t){edges{node{user{email}}}}}`, false},
	{"Query.apiKeys", `query($t:ID!){apiKeys(tenantId:$t){edges{node{id prefix}}}}`, false},
	{"Query.apiKey", `query($t:ID!,$key:ID!){apiKey(tenantId:$t,id:$key){id}}`, true},
	{"Query.budgets", `query($t:ID!){budgets(tenantId:$t){edges{node{id}}}}`, false},
	{"Query.budget", `query($t:ID!,$budget:ID!){budget(tenantId:$t,id:$budget){id}}`, true},
	{"Query.pricingOverrides", `query($t:ID!){pricingOverrides(tenantId:$t){edges{node{id}}}}`, false},
	{"Query.pricingOverride", `query($t:ID!,$override:ID!){pricingOverride(tenantId:$t,id:$override){id}}`, true},
	{"Query.auditLog", `query($t:ID!){auditLog(tenantId:$t){edges{node{id}}}}`, false},
	{"Query.spendSummary", `query($t:ID!){spendSummary(tenantId:$t,` + month + `){requests}}`, false},
	{"Query.spendTimeSeries", `query($t:ID!){spendTimeSeries(tenantId:$t,` + month + `,bucket:DAY){start}}`, false},
	{"Query.spendBreakdown", `query($t:ID!){spendBreakdown(tenantId:$t,` + month + `,groupBy:[{field:MODEL}]){total{requests}}}`, false},
	{"Query.unknownModels", `query($t:ID!){unknownModels(tenantId:$t,` + month + `){model}}`, false},
	{"Query.denials", `query($t:ID!){denials(tenantId:$t,` + month + `){requests}}`, false},
	{"Query.usageEvents", `query($t:ID!){usageEvents(tenantId:$t,` + month + `){edges{node{id}}}}`, false},
	{"Query.usageEvent", `query($t:ID!,$event:ID!){usageEvent(tenantId:$t,id:$event){id}}`, true},
	{"Query.budgetStatuses", `query($t:ID!,$budget:ID){budgetStatuses(tenantId:$t,budgetId:$budget){spent}}`, true},
	{"Query.budgetAlertHistory", `query($t:ID!){budgetAlertHistory(tenantId:$t){id}}`, false},
	{"Query.budgetBreaches", `query($t:ID!){budgetBreaches(tenantId:$t){eventId}}`, false},
	{"Query.deadLetters", `query($t:ID!){deadLetters(tenantId:$t){sequence reason}}`, false},
	{"Mutation.repriceUnpricedEvents", `mutation($t:ID!){repriceUnpricedEvents(tenantId:$t,` + month + `){repriced}}`, false},
	{"Mutation.replayDeadLetter", `mutation($t:ID!,$dead:ID!){replayDeadLetter(tenantId:$t,sequence:$dead)}`, true},
	{"Query.billingSettings", `query($t:ID!){billingSettings(tenantId:$t){timeZone}}`, false},
	{"Query.invoices", `query($t:ID!){invoices(tenantId:$t){id total}}`, false},
	{"Query.invoice", `query($t:ID!,$invoice:ID!){invoice(tenantId:$t,id:$invoice){id total}}`, true},
	{"Query.draftInvoice", `query($t:ID!){draftInvoice(tenantId:$t,period:"2026-02"){total}}`, false},
	{"Query.chargebackStatement", `query($t:ID!){chargebackStatement(tenantId:$t,period:"2026-01",groupBy:"team"){total}}`, false},
	{"Mutation.updateBillingSettings", `mutation($t:ID!){updateBillingSettings(tenantId:$t,input:{timeZone:"Asia/Tokyo",periodStartDay:5}){timeZone}}`, false},
	{"Mutation.issueInvoice", `mutation($t:ID!){issueInvoice(tenantId:$t,period:"2026-02"){id}}`, false},
	{"Mutation.markInvoicePaid", `mutation($t:ID!,$invoice:ID!){markInvoicePaid(tenantId:$t,id:$invoice){status}}`, true},
	{"Mutation.voidInvoice", `mutation($t:ID!,$invoice:ID!){voidInvoice(tenantId:$t,id:$invoice,reason:"pwned"){status}}`, true},
	{"Mutation.renameTenant", `mutation($t:ID!){renameTenant(tenantId:$t,name:"pwned"){id}}`, false},
	{"Mutation.addMember", `mutation($t:ID!){addMember(tenantId:$t,email:"mallory@example.com",password:"password-123",role:OWNER){role}}`, false},
	{"Mutation.updateMemberRole", `mutation($t:ID!,$user:ID!){updateMemberRole(tenantId:$t,userId:$user,role:VIEWER){role}}`, true},
	{"Mutation.removeMember", `mutation($t:ID!,$user:ID!){removeMember(tenantId:$t,userId:$user)}`, true},
	{"Mutation.createAPIKey", `mutation($t:ID!){createAPIKey(tenantId:$t,name:"x"){secret}}`, false},
	{"Mutation.updateAPIKeyPolicy", `mutation($t:ID!,$key:ID!){updateAPIKeyPolicy(tenantId:$t,id:$key,policy:{allowedModels:["x"]}){id}}`, true},
	{"Mutation.revokeAPIKey", `mutation($t:ID!,$key:ID!){revokeAPIKey(tenantId:$t,id:$key){id}}`, true},
	{"Mutation.rotateAPIKey", `mutation($t:ID!,$key:ID!){rotateAPIKey(tenantId:$t,id:$key){secret}}`, true},
	{"Mutation.createBudget", `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1"}){id}}`, false},
	{"Mutation.updateBudget", `mutation($t:ID!,$budget:ID!){updateBudget(tenantId:$t,id:$budget,input:{name:"b",scope:TENANT,period:DAY,amount:"1"}){id}}`, true},
	{"Mutation.deleteBudget", `mutation($t:ID!,$budget:ID!){deleteBudget(tenantId:$t,id:$budget)}`, true},
	{"Mutation.createPricingOverride", `mutation($t:ID!){createPricingOverride(tenantId:$t,input:{model:"gpt-4o",effectiveFrom:"2026-01-01T00:00:00Z",percentAdjustment:"-50"}){id}}`, false},
	{"Mutation.updatePricingOverride", `mutation($t:ID!,$override:ID!){updatePricingOverride(tenantId:$t,id:$override,input:{model:"gpt-4o",effectiveFrom:"2026-01-01T00:00:00Z",percentAdjustment:"-99"}){id}}`, true},
	{"Mutation.deletePricingOverride", `mutation($t:ID!,$override:ID!){deletePricingOverride(tenantId:$t,id:$override)}`, true},
	{"Query.azureDeployments", `query($t:ID!){azureDeployments(tenantId:$t){id deployment model}}`, false},
	{"Mutation.setAzureDeployment", `mutation($t:ID!){setAzureDeployment(tenantId:$t,deployment:"prod-4o",model:"gpt-4o"){id}}`, false},
	{"Mutation.deleteAzureDeployment", `mutation($t:ID!){deleteAzureDeployment(tenantId:$t,deployment:"prod-4o")}`, false},
	{"Query.tenantSSO", `query($t:ID!){tenantSSO(tenantId:$t){issuerUrl clientSecretSet}}`, false},
	{"Query.scimTokens", `query($t:ID!){scimTokens(tenantId:$t){id prefix}}`, false},
	{"Mutation.configureTenantSSO", `mutation($t:ID!){configureTenantSSO(tenantId:$t,input:{enabled:false,displayName:"Evil",issuerUrl:"https://idp.example.com",clientId:"c",clientSecret:"s"}){enabled}}`, false},
	{"Mutation.deleteTenantSSO", `mutation($t:ID!){deleteTenantSSO(tenantId:$t)}`, false},
	{"Mutation.setTenantMFARequired", `mutation($t:ID!){setTenantMFARequired(tenantId:$t,required:false){id}}`, false},
	{"Mutation.createSCIMToken", `mutation($t:ID!){createSCIMToken(tenantId:$t,name:"x"){secret}}`, false},
	{"Mutation.rotateSCIMToken", `mutation($t:ID!,$scim:ID!){rotateSCIMToken(tenantId:$t,id:$scim){secret}}`, true},
	{"Mutation.revokeSCIMToken", `mutation($t:ID!,$scim:ID!){revokeSCIMToken(tenantId:$t,id:$scim){id}}`, true},
	{"Subscription.budgetAlerts", `subscription($t:ID!){budgetAlerts(tenantId:$t){id budgetName}}`, false},
	{"Query.orgTree", `query($t:ID!){orgTree(tenantId:$t){id name}}`, false},
	{"Query.roleGrants", `query($t:ID!){roleGrants(tenantId:$t){userId role}}`, false},
	{"Query.attributionMappings", `query($t:ID!){attributionMappings(tenantId:$t){id}}`, false},
	{"Mutation.createOrgNode", `mutation($t:ID!,$team:ID!){createOrgNode(tenantId:$t,kind:PROJECT,parentId:$team,name:"x"){id}}`, true},
	{"Mutation.renameOrgNode", `mutation($t:ID!,$node:ID!){renameOrgNode(tenantId:$t,id:$node,name:"pwned"){id}}`, true},
	{"Mutation.archiveOrgNode", `mutation($t:ID!,$node:ID!){archiveOrgNode(tenantId:$t,id:$node,archived:true){id}}`, true},
	{"Mutation.setOrgNodeKeyDefaults", `mutation($t:ID!,$node:ID!){setOrgNodeKeyDefaults(tenantId:$t,id:$node,keyDefaults:{allowedModels:["x"]}){id}}`, true},
	{"Mutation.moveProject", `mutation($t:ID!,$node:ID!,$team:ID!){moveProject(tenantId:$t,id:$node,teamId:$team){id}}`, true},
	{"Mutation.setAPIKeyProject", `mutation($t:ID!,$key:ID!,$node:ID!){setAPIKeyProject(tenantId:$t,id:$key,projectId:$node){id}}`, true},
	{"Mutation.grantRole", `mutation($t:ID!,$user:ID!,$node:ID!){grantRole(tenantId:$t,userId:$user,role:PROJECT_VIEWER,nodeId:$node){role}}`, true},
	{"Mutation.revokeRole", `mutation($t:ID!,$grantee:ID!,$node:ID!){revokeRole(tenantId:$t,userId:$grantee,nodeId:$node)}`, true},
	{"Query.providerConnections", `query($t:ID!){providerConnections(tenantId:$t){id name adminKeyLast4}}`, false},
	{"Query.providerReportPages", `query($t:ID!){providerReportPages(tenantId:$t){id sha256}}`, false},
	{"Query.reconciliation", `query($t:ID!){reconciliation(tenantId:$t,` + month + `){rows{model} totals{drift}}}`, false},
	{"Query.reconcileSettings", `query($t:ID!){reconcileSettings(tenantId:$t){driftThresholdPercent}}`, false},
	{"Query.driftAlerts", `query($t:ID!){driftAlerts(tenantId:$t){id}}`, false},
	{"Mutation.createProviderConnection", `mutation($t:ID!){createProviderConnection(tenantId:$t,input:{provider:"openai",name:"evil",adminKey:"sk-admin-mallory-0000"}){id}}`, false},
	{"Mutation.updateProviderConnection", `mutation($t:ID!,$conn:ID!){updateProviderConnection(tenantId:$t,id:$conn,input:{name:"pwned",adminKey:"sk-admin-mallory-1111"}){id}}`, true},
	{"Mutation.deleteProviderConnection", `mutation($t:ID!,$conn:ID!){deleteProviderConnection(tenantId:$t,id:$conn)}`, true},
	{"Mutation.syncProviderConnection", `mutation($t:ID!,$conn:ID!){syncProviderConnection(tenantId:$t,id:$conn){pages}}`, true},
	{"Mutation.importBillingExport", `mutation($t:ID!,$conn:ID!){importBillingExport(tenantId:$t,connectionId:$conn,format:"csv",content:"x"){rows}}`, true},
	{"Mutation.setReconcileSettings", `mutation($t:ID!){setReconcileSettings(tenantId:$t,input:{driftThresholdPercent:"99"}){driftThresholdPercent}}`, false},
	{"Mutation.createAttributionMapping", `mutation($t:ID!,$node:ID!){createAttributionMapping(tenantId:$t,dimensionName:"team",dimensionValue:"x",nodeId:$node){id}}`, true},
	{"Mutation.deleteAttributionMapping", `mutation($t:ID!,$mapping:ID!){deleteAttributionMapping(tenantId:$t,id:$mapping)}`, true},
	{"Subscription.spendTicks", `subscription($t:ID!){spendTicks(tenantId:$t){requests tenantCost}}`, false},
	{"Query.anomalies", `query($t:ID!){anomalies(tenantId:$t,` + month + `){id label}}`, false},
	{"Query.spendForecast", `query($t:ID!){spendForecast(tenantId:$t){expected low high}}`, false},
	{"Query.recommendations", `query($t:ID!){recommendations(tenantId:$t){id title monthlySavings}}`, false},
	{"Mutation.setRecommendationState", `mutation($t:ID!,$rec:ID!){setRecommendationState(tenantId:$t,id:$rec,state:DISMISSED){id state}}`, true},
	{"Subscription.anomalyAlerts", `subscription($t:ID!){anomalyAlerts(tenantId:$t){episodeId text}}`, false},
	{"Query.reports", `query($t:ID!){reports(tenantId:$t){id emails}}`, false},
	{"Query.report", `query($t:ID!,$report:ID!){report(tenantId:$t,id:$report){id emails}}`, true},
	{"Mutation.createReport", `mutation($t:ID!){createReport(tenantId:$t,input:{name:"x",frequency:WEEKLY,scope:TENANT,slackWebhookUrl:"https://hooks.slack.com/services/x"}){id}}`, false},
	{"Mutation.updateReport", `mutation($t:ID!,$report:ID!){updateReport(tenantId:$t,id:$report,input:{name:"pwned",frequency:WEEKLY,scope:TENANT,slackWebhookUrl:"https://hooks.slack.com/services/x"}){id}}`, true},
	{"Mutation.deleteReport", `mutation($t:ID!,$report:ID!){deleteReport(tenantId:$t,id:$report)}`, true},
	{"Mutation.sendTestReport", `mutation($t:ID!,$report:ID!){sendTestReport(tenantId:$t,id:$report){channels}}`, true},
}

// world is what the isolation checks work on: tenant A (alice) and tenant B
// (bob) with objects in B, and one key in A.
type world struct {
	h                                             *harness
	alice, bob                                    string // access tokens
	aliceRefresh, bobRefresh                      string
	tenantA, tenantB                              string
	bTeam, bProject                               string
	aKey, aBudget, bKey, bKeyBudget, bobID, bSlug string
	bSecret                                       string
	// bobCode is a current TOTP code of Bob's; bobRecovery one of his
	// recovery codes (Bob turned TOTP on, Alice did not).
	bobCode     func() string
	bobRecovery string
	// objs are B's object ids by query variable name.
	objs      map[string]any
	snapshotB func() string
	// alertB publishes a live alert of B's budget and a spend tick of B.
	alertB func()
}

// callerScoped are fields that take no tenant (they act on the caller only)
// or hang below an object whose tenant was already authorized; each has its
// own check that a member of A reaches nothing of B through it.
var callerScoped = map[string]func(t *testing.T, w *world){
	"Query.me": func(t *testing.T, w *world) {
		d := w.h.must(w.alice, `{me{id email}}`, nil)
		if get(d, "me", "email") != "alice@example.com" || get(d, "me", "id") == w.bobID {
			t.Fatalf("me as alice: %v", d)
		}
	},
	"Query.tenants": func(t *testing.T, w *world) {
		d := w.h.must(w.alice, `{tenants{id role}}`, nil)
		hasA := false
		for _, tn := range get(d, "tenants").([]any) {
			hasA = hasA || get(tn, "id") == w.tenantA
			if get(tn, "id") == w.tenantB || get(tn, "role") != "OWNER" {
				t.Fatalf("alice's tenants: %v", d)
			}
		}
		if !hasA {
			t.Fatalf("alice's tenants lack A: %v", d)
		}
	},
	"Mutation.signIn": func(t *testing.T, w *world) {
		// Alice's password does not open Bob's account.
		r := w.h.gql("", `mutation{signIn(email:"bob@example.com",password:"alice-password-1"){accessToken}}`, nil)
		if r.code() != "UNAUTHENTICATED" {
			t.Fatalf("bob's account with alice's password: %+v", r)
		}
	},
	"Mutation.refreshSession": func(t *testing.T, w *world) {
		d := w.h.must("", `mutation($r:String!){refreshSession(refreshToken:$r){accessToken refreshToken user{email}}}`, map[string]any{"r": w.aliceRefresh})
		if get(d, "refreshSession", "user", "email") != "alice@example.com" {
			t.Fatalf("alice's refresh token gave %v", d)
		}
		w.aliceRefresh = get(d, "refreshSession", "refreshToken").(string)
		// The refreshed session is still confined to A.
		tok := get(d, "refreshSession", "accessToken").(string)
		if r := w.h.gql(tok, `query($t:ID!){apiKeys(tenantId:$t){edges{node{id}}}}`, map[string]any{"t": w.tenantB}); r.code() != "FORBIDDEN" {
			t.Fatalf("refreshed alice on tenant B: %+v", r)
		}
	},
	"Mutation.signOut": func(t *testing.T, w *world) {
		// Alice signing out (her own session and a made-up token) leaves Bob's session working.
		w.h.must(w.alice, `mutation($r:String!){signOut(refreshToken:$r)}`, map[string]any{"r": w.aliceRefresh})
		w.h.must(w.alice, `mutation{signOut(refreshToken:"sgr_made_up")}`, nil)
		d := w.h.must("", `mutation($r:String!){refreshSession(refreshToken:$r){refreshToken}}`, map[string]any{"r": w.bobRefresh})
		w.bobRefresh = get(d, "refreshSession", "refreshToken").(string)
	},
	"Mutation.createTenant": func(t *testing.T, w *world) {
		// A new tenant of Alice's has no Bob; Bob's slug cannot be taken over.
		d := w.h.must(w.alice, `mutation{createTenant(name:"Alice Two",slug:"alice-two"){id role}}`, nil)
		c := get(d, "createTenant", "id").(string)
		m := w.h.must(w.alice, `query($t:ID!){members(tenantId:$t){edges{node{user{email}}}}}`, map[string]any{"t": c})
		if edges := get(m, "members", "edges").([]any); len(edges) != 1 || get(edges[0], "node", "user", "email") != "alice@example.com" {
			t.Fatalf("members of alice's new tenant: %v", m)
		}
		if r := w.h.gql(w.alice, `mutation($s:String!){createTenant(name:"Bob's",slug:$s){id}}`, map[string]any{"s": w.bSlug}); r.code() != "CONFLICT" {
			t.Fatalf("bob's slug: %+v", r)
		}
		if ts := get(w.h.must(w.bob, `{tenants{id}}`, nil), "tenants").([]any); len(ts) != 1 {
			t.Fatalf("bob's tenants changed: %v", ts)
		}
	},
	"Query.pricingCatalogue": func(t *testing.T, w *world) {
		// The public list prices: B's pricing override (gpt-4o -10 %) shows
		// to no one, so Alice and Bob see the same catalogue.
		q := `{pricingCatalogue(search:"gpt-4o",provider:"openai",first:20){provider model rates{class perMillion}}}`
		a, b := toJSON(w.h.must(w.alice, q, nil)), toJSON(w.h.must(w.bob, q, nil))
		if a != b || !strings.Contains(a, `"gpt-4o"`) {
			t.Fatalf("catalogue differs between tenants or lacks gpt-4o:\n alice %s\n bob   %s", a, b)
		}
	},
	// The price catalogue's revisions are shared by every tenant: everyone
	// reads the same list; only pricing admins (alice here, by
	// --pricing-admins, not by any tenant role) apply or reject one.
	"Query.pricingRevisions": func(t *testing.T, w *world) {
		q := `{pricingRevisions(first:5){id status summary}}`
		a, b := toJSON(w.h.must(w.alice, q, nil)), toJSON(w.h.must(w.bob, q, nil))
		if a != b || !strings.Contains(a, `"APPLIED"`) {
			t.Fatalf("revisions differ between users:\n alice %s\n bob   %s", a, b)
		}
	},
	"Query.pricingRevision": func(t *testing.T, w *world) {
		q := `{pricingRevision(id:"1"){id status}}`
		if a, b := toJSON(w.h.must(w.alice, q, nil)), toJSON(w.h.must(w.bob, q, nil)); a != b {
			t.Fatalf("revision 1 differs:\n alice %s\n bob   %s", a, b)
		}
		if r := w.h.gql(w.bob, `{pricingRevision(id:"424242"){id}}`, nil); r.code() != "NOT_FOUND" {
			t.Fatalf("unknown revision: %+v", r)
		}
		if r := w.h.gql("", q, nil); r.code() != "UNAUTHENTICATED" {
			t.Fatalf("signed out: %+v", r)
		}
	},
	"Query.canManagePricing": func(t *testing.T, w *world) {
		if get(w.h.must(w.alice, `{canManagePricing}`, nil), "canManagePricing") != true || get(w.h.must(w.bob, `{canManagePricing}`, nil), "canManagePricing") != false {
			t.Fatal("canManagePricing: alice is the pricing admin, bob (an owner of B) is not")
		}
	},
	"Mutation.applyPricingRevision": func(t *testing.T, w *world) {
		id := w.h.proposeRevision(t, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), "3e-06")
		q := `mutation($id:ID!){applyPricingRevision(id:$id){id status decidedBy}}`
		if r := w.h.gql(w.bob, q, map[string]any{"id": id}); r.code() != "FORBIDDEN" {
			t.Fatalf("bob (tenant owner, not pricing admin) applied a revision: %+v", r)
		}
		d := w.h.must(w.alice, q, map[string]any{"id": id})
		if get(d, "applyPricingRevision", "status") != "APPLIED" || get(d, "applyPricingRevision", "decidedBy") != "alice@example.com" {
			t.Fatalf("apply as alice: %v", d)
		}
	},
	"Mutation.rejectPricingRevision": func(t *testing.T, w *world) {
		id := w.h.proposeRevision(t, time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), "4e-06")
		q := `mutation($id:ID!){rejectPricingRevision(id:$id){id status}}`
		if r := w.h.gql(w.bob, q, map[string]any{"id": id}); r.code() != "FORBIDDEN" {
			t.Fatalf("bob rejected a revision: %+v", r)
		}
		if d := w.h.must(w.alice, q, map[string]any{"id": id}); get(d, "rejectPricingRevision", "status") != "REJECTED" {
			t.Fatalf("reject as alice: %v", d)
		}
	},
	"Mutation.changePassword": func(t *testing.T, w *world) {
		// Alice changing her password leaves Bob's password and sessions as they were.
		w.h.must(w.alice, `mutation{changePassword(currentPassword:"alice-password-1",newPassword:"alice-password-2")}`, nil)
		if r := w.h.gql("", `mutation{signIn(email:"bob@example.com",password:"alice-password-2"){accessToken}}`, nil); r.code() != "UNAUTHENTICATED" {
			t.Fatalf("bob's account with alice's new password: %+v", r)
		}
		d := w.h.must("", `mutation($r:String!){refreshSession(refreshToken:$r){refreshToken}}`, map[string]any{"r": w.bobRefresh})
		w.bobRefresh = get(d, "refreshSession", "refreshToken").(string)
		// Bob's password still opens his account (which then asks for his second factor).
		if r := w.h.gql("", `mutation{signIn(email:"bob@example.com",password:"bob-password-1"){accessToken}}`, nil); r.code() != "MFA_REQUIRED" {
			t.Fatalf("bob's own password: %+v", r)
		}
		// Her own sessions ended; sign her in again for the checks that follow.
		d = w.h.must("", `mutation{signIn(email:"alice@example.com",password:"alice-password-2"){accessToken refreshToken}}`, nil)
		w.alice, w.aliceRefresh = get(d, "signIn", "accessToken").(string), get(d, "signIn", "refreshToken").(string)
	},
	"Query.myMFA": func(t *testing.T, w *world) {
		// Bob's two-factor state (on, with recovery codes) is not Alice's.
		if d := w.h.must(w.alice, `{myMFA{totpEnabled recoveryCodesLeft}}`, nil); get(d, "myMFA", "totpEnabled") != false {
			t.Fatalf("alice's MFA shows bob's: %v", d)
		}
		if d := w.h.must(w.bob, `{myMFA{totpEnabled recoveryCodesLeft}}`, nil); get(d, "myMFA", "totpEnabled") != true || get(d, "myMFA", "recoveryCodesLeft") != 10.0 {
			t.Fatalf("bob's MFA: %v", d)
		}
	},
	"Query.ssoOption": func(t *testing.T, w *world) {
		// B's provider is offered for B's domain and slug only.
		d := w.h.must("", `query($s:String){ssoOption(tenantSlug:$s){tenantSlug displayName}}`, map[string]any{"s": w.bSlug})
		if get(d, "ssoOption", "displayName") != "Bob IdP" {
			t.Fatalf("B's option: %v", d)
		}
		for _, v := range []map[string]any{{"e": "alice@example.com"}, {"s": "tenant-a"}} {
			d := w.h.must("", `query($e:String,$s:String){ssoOption(email:$e,tenantSlug:$s){tenantSlug}}`, v)
			if d["ssoOption"] != nil {
				t.Fatalf("%v offered %v", v, d)
			}
		}
	},
	"Mutation.startSSOSignIn": func(t *testing.T, w *world) {
		// A has no provider: Alice's email does not lead to B's.
		if r := w.h.gql("", `mutation{startSSOSignIn(email:"alice@example.com"){authorizationUrl}}`, nil); r.code() != "NOT_FOUND" {
			t.Fatalf("alice's sso start: %+v", r)
		}
	},
	"Mutation.finishSSOSignIn": func(t *testing.T, w *world) {
		if r := w.h.gql("", `mutation{finishSSOSignIn(state:"made-up",code:"made-up"){accessToken}}`, nil); r.code() != "UNAUTHENTICATED" {
			t.Fatalf("made-up sso finish: %+v", r)
		}
	},
	"Mutation.enrolTOTP": func(t *testing.T, w *world) {
		d := w.h.must(w.alice, `mutation{enrolTOTP{secret otpauthUri}}`, nil)
		if !strings.Contains(get(d, "enrolTOTP", "otpauthUri").(string), "alice%40example.com") && !strings.Contains(get(d, "enrolTOTP", "otpauthUri").(string), "alice@example.com") {
			t.Fatalf("alice's enrolment names someone else: %v", d)
		}
		if get(w.h.must(w.bob, `{myMFA{recoveryCodesLeft}}`, nil), "myMFA", "recoveryCodesLeft") != 10.0 {
			t.Fatal("alice's enrolment touched bob's")
		}
	},
	"Mutation.confirmTOTP": func(t *testing.T, w *world) {
		// Bob's current code does not confirm Alice's enrolment.
		code := w.bobCode()
		if r := w.h.gql(w.alice, `mutation($c:String!){confirmTOTP(code:$c)}`, map[string]any{"c": code}); r.code() != "INVALID_ARGUMENT" {
			t.Fatalf("bob's code confirmed alice's enrolment: %+v", r)
		}
	},
	"Mutation.disableTOTP": func(t *testing.T, w *world) {
		// Alice (no TOTP) with Bob's code turns nothing off, least of all Bob's.
		if r := w.h.gql(w.alice, `mutation($c:String!){disableTOTP(password:"alice-password-2",code:$c)}`, map[string]any{"c": w.bobCode()}); r.code() != "UNAUTHENTICATED" {
			t.Fatalf("alice disabling with bob's code: %+v", r)
		}
		if get(w.h.must(w.bob, `{myMFA{totpEnabled}}`, nil), "myMFA", "totpEnabled") != true {
			t.Fatal("bob's TOTP was turned off")
		}
	},
	"Mutation.regenerateRecoveryCodes": func(t *testing.T, w *world) {
		if r := w.h.gql(w.alice, `mutation($c:String!){regenerateRecoveryCodes(code:$c)}`, map[string]any{"c": w.bobRecovery}); r.code() != "UNAUTHENTICATED" {
			t.Fatalf("alice with bob's recovery code: %+v", r)
		}
		if get(w.h.must(w.bob, `{myMFA{recoveryCodesLeft}}`, nil), "myMFA", "recoveryCodesLeft") != 10.0 {
			t.Fatal("bob's recovery code was spent by alice")
		}
	},
	"APIKey.coveringBudgets": func(t *testing.T, w *world) {
		// Alice's key is covered by A's tenant budget only, never by B's.
		q := `query($t:ID!,$key:ID!){apiKey(tenantId:$t,id:$key){coveringBudgets{id tenantId}}}`
		d := w.h.must(w.alice, q, map[string]any{"t": w.tenantA, "key": w.aKey})
		if bs := get(d, "apiKey", "coveringBudgets").([]any); len(bs) != 1 || get(bs[0], "id") != w.aBudget {
			t.Fatalf("budgets covering alice's key: %v", bs)
		}
		// Control: Bob's key is covered by B's tenant budget and its own cap.
		d = w.h.must(w.bob, q, map[string]any{"t": w.tenantB, "key": w.bKey})
		if bs := get(d, "apiKey", "coveringBudgets").([]any); len(bs) != 2 {
			t.Fatalf("budgets covering bob's key: %v", bs)
		}
	},
	"APIKey.effectivePolicy": func(t *testing.T, w *world) {
		// Bob's key inherits its project's defaults; Alice's key has none,
		// whatever B's tree holds.
		q := `query($t:ID!,$key:ID!){apiKey(tenantId:$t,id:$key){effectivePolicy{allowedProviders requestsPerMinute}}}`
		d := w.h.must(w.alice, q, map[string]any{"t": w.tenantA, "key": w.aKey})
		if p := get(d, "apiKey", "effectivePolicy"); len(get(p, "allowedProviders").([]any)) != 0 || get(p, "requestsPerMinute") != 0.0 {
			t.Fatalf("alice's key effective policy: %v", p)
		}
		d = w.h.must(w.bob, q, map[string]any{"t": w.tenantB, "key": w.bKey})
		if p := get(d, "apiKey", "effectivePolicy"); toJSON(get(p, "allowedProviders")) != `["openai"]` || get(p, "requestsPerMinute") != 120.0 {
			t.Fatalf("bob's key effective policy: %v", p)
		}
	},
	"APIKey.budgets": func(t *testing.T, w *world) {
		q := `query($t:ID!,$key:ID!){apiKey(tenantId:$t,id:$key){budgets{id tenantId}}}`
		d := w.h.must(w.alice, q, map[string]any{"t": w.tenantA, "key": w.aKey})
		if bs := get(d, "apiKey", "budgets").([]any); len(bs) != 0 {
			t.Fatalf("alice's key lists budgets of B: %v", bs)
		}
		// Control: Bob sees his key's budget, so the field is not just empty.
		d = w.h.must(w.bob, q, map[string]any{"t": w.tenantB, "key": w.bKey})
		if bs := get(d, "apiKey", "budgets").([]any); len(bs) != 1 || get(bs[0], "id") != w.bKeyBudget {
			t.Fatalf("bob's key budgets: %v", bs)
		}
	},
}

// isolatedFields lists what needs an isolation case: every Query, Mutation
// and Subscription field, every field gqlgen.yml turns into a resolver, and
// every field with arguments.
func isolatedFields(t *testing.T) []string {
	t.Helper()
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema()
	seen := map[string]bool{}
	add := func(typ, field string) { seen[typ+"."+field] = true }
	for _, root := range []*ast.Definition{schema.Query, schema.Mutation, schema.Subscription} {
		if root == nil {
			continue
		}
		for _, f := range root.Fields {
			if !strings.HasPrefix(f.Name, "__") {
				add(root.Name, f.Name)
			}
		}
	}
	for name, def := range schema.Types {
		if def.Kind != ast.Object || def.BuiltIn || strings.HasPrefix(name, "__") {
			continue
		}
		for _, f := range def.Fields {
			if len(f.Arguments) > 0 && !strings.HasPrefix(f.Name, "__") {
				add(name, f.Name)
			}
		}
	}
	b, err := os.ReadFile("../gqlgen.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Models map[string]struct {
			Fields map[string]struct {
				Resolver bool `json:"resolver"`
			} `json:"fields"`
		} `json:"models"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("gqlgen.yml: %v", err)
	}
	for typ, m := range cfg.Models {
		for field, f := range m.Fields {
			if f.Resolver {
				add(typ, field)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// TestIsolationCasesCoverSchema fails when a field is added to the schema
// (or made a resolver) without a tenant isolation case below, and when a case
// names a field the schema no longer has.
func TestIsolationCasesCoverSchema(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{}
	for _, o := range tenantOps {
		if cases[o.field] {
			t.Errorf("two isolation cases for %s", o.field)
		}
		cases[o.field] = true
	}
	for f := range callerScoped {
		if cases[f] {
			t.Errorf("%s is both tenant-scoped and caller-scoped", f)
		}
		cases[f] = true
	}
	fields := isolatedFields(t)
	inSchema := map[string]bool{}
	for _, f := range fields {
		inSchema[f] = true
		if !cases[f] {
			t.Errorf("%s has no tenant isolation case: add it to tenantOps (takes a tenantId) or callerScoped in apiserver/isolation_test.go", f)
		}
	}
	for f := range cases {
		if !inSchema[f] {
			t.Errorf("isolation case for %s, which is not a resolver of the schema", f)
		}
	}
}

func vars(query string, v map[string]any) map[string]any {
	out := map[string]any{}
	for k, val := range v {
		if strings.Contains(query, "$"+k) {
			out[k] = val
		}
	}
	return out
}

// run sends an operation the way clients do: subscriptions over the
// websocket (with trigger causing events until the first answer), the rest
// as POST.
func (h *harness) run(token, query string, v map[string]any, trigger func()) gqlResponse {
	h.t.Helper()
	if strings.HasPrefix(query, "subscription") {
		return h.subscribe(token, query, v, trigger)
	}
	return h.gql(token, query, v)
}

// newWorld sets up tenant A (alice) and tenant B (bob) on a full harness,
// with objects of every kind in B (a usage event in ClickHouse included) and
// a key and a budget in A.
func newWorld(t *testing.T) *world {
	t.Helper()
	h := newFullHarness(t)
	w := &world{h: h, bSlug: "tenant-b"}
	_, w.tenantA = h.owner("alice@example.com", "tenant-a")
	_, w.tenantB = h.owner("bob@example.com", w.bSlug)
	// Own passwords, so the sign-in check can tell accounts apart.
	h.setPassword("alice@example.com", "password-123", "alice-password-1")
	h.setPassword("bob@example.com", "password-123", "bob-password-1")
	sess := func(email, pw string) (string, string) {
		d := h.must("", `mutation($e:String!,$p:String!){signIn(email:$e,password:$p){accessToken refreshToken}}`, map[string]any{"e": email, "p": pw})
		return get(d, "signIn", "accessToken").(string), get(d, "signIn", "refreshToken").(string)
	}
	w.alice, w.aliceRefresh = sess("alice@example.com", "alice-password-1")
	w.bob, w.bobRefresh = sess("bob@example.com", "bob-password-1")

	// Tenant B's objects, and a key and a budget of A.
	d := h.must(w.bob, createKey, map[string]any{"t": w.tenantB, "n": "bob key", "p": map[string]any{"defaultDimensions": []map[string]string{{"name": "team", "value": "search"}}}})
	w.bKey = get(d, "createAPIKey", "key", "id").(string)
	w.bSecret = get(d, "createAPIKey", "secret").(string)
	d = h.must(w.bob, `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"bob budget",scope:TENANT,period:MONTH,amount:"500"}){id}}`, map[string]any{"t": w.tenantB})
	bBudget := get(d, "createBudget", "id").(string)
	d = h.must(w.bob, `mutation($t:ID!,$k:ID!){createBudget(tenantId:$t,input:{name:"bob key cap",scope:KEY,keyId:$k,period:DAY,amount:"5",hard:true}){id}}`, map[string]any{"t": w.tenantB, "k": w.bKey})
	w.bKeyBudget = get(d, "createBudget", "id").(string)
	d = h.must(w.bob, `mutation($t:ID!){createPricingOverride(tenantId:$t,input:{model:"gpt-4o",effectiveFrom:"2026-01-01T00:00:00Z",percentAdjustment:"-10"}){id}}`, map[string]any{"t": w.tenantB})
	bOverride := get(d, "createPricingOverride", "id").(string)
	d = h.must(w.bob, `mutation($t:ID!){createReport(tenantId:$t,input:{name:"bob report",frequency:MONTHLY,scope:TENANT,slackWebhookUrl:"https://hooks.slack.com/services/bob"}){id}}`,
		map[string]any{"t": w.tenantB})
	bReport := get(d, "createReport", "id").(string)
	w.bobID = get(h.must(w.bob, `{me{id}}`, nil), "me", "id").(string)
	bEvent := uuid.NewString()
	if _, err := h.events.Write(context.Background(), []spend.PricedEvent{{Event: event.Event{SchemaVersion: event.SchemaVersion, Type: event.TypeUsage,
		EventID: bEvent, Time: time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC), Source: event.SourceGateway, TenantID: w.tenantB, KeyID: w.bKey,
		Provider: "openai", Operation: "chat.completions", ModelRequested: "gpt-4o-mini", StatusCode: 200, Complete: true,
		Dimensions: map[string]string{"team": "search"}, Usage: usage.Tokens{Input: 100, Output: 20}},
		Cost: pricing.Cost{Priced: true, Model: "gpt-4o-mini", ListNanoUSD: 27_000, TenantNanoUSD: 27_000}}}); err != nil {
		t.Fatal(err)
	}
	// B's tree: a workspace, a team, a project holding B's key (with key
	// defaults), a mapping and a viewer of the project.
	node := func(kind, parent, name string, defaults map[string]any) string {
		d := h.must(w.bob, `mutation($t:ID!,$k:OrgNodeKind!,$p:ID,$n:String!,$d:KeyPolicyInput){createOrgNode(tenantId:$t,kind:$k,parentId:$p,name:$n,keyDefaults:$d){id}}`,
			map[string]any{"t": w.tenantB, "k": kind, "p": parent, "n": name, "d": defaults})
		return get(d, "createOrgNode", "id").(string)
	}
	bWorkspace := node("WORKSPACE", "", "bob ws", map[string]any{"allowedProviders": []string{"openai", "anthropic"}})
	w.bTeam = node("TEAM", bWorkspace, "bob team", nil)
	w.bProject = node("PROJECT", w.bTeam, "bob project", map[string]any{"allowedProviders": []string{"openai"}, "requestsPerMinute": 120})
	h.must(w.bob, `mutation($t:ID!,$k:ID!,$p:ID!){setAPIKeyProject(tenantId:$t,id:$k,projectId:$p){id}}`, map[string]any{"t": w.tenantB, "k": w.bKey, "p": w.bProject})
	d = h.must(w.bob, `mutation($t:ID!,$p:ID!){createAttributionMapping(tenantId:$t,dimensionName:"team",dimensionValue:"search",nodeId:$p){id}}`,
		map[string]any{"t": w.tenantB, "p": w.bProject})
	bMapping := get(d, "createAttributionMapping", "id").(string)
	d = h.must(w.bob, `mutation($t:ID!){addMember(tenantId:$t,email:"grace@example.com",password:"grace-password",role:MEMBER){user{id}}}`, map[string]any{"t": w.tenantB})
	grace := get(d, "addMember", "user", "id").(string)
	h.must(w.bob, `mutation($t:ID!,$u:ID!,$p:ID!){grantRole(tenantId:$t,userId:$u,role:PROJECT_VIEWER,nodeId:$p){role}}`, map[string]any{"t": w.tenantB, "u": grace, "p": w.bProject})

	// B's January invoice (B's event is in January 2026).
	d = h.must(w.bob, `mutation($t:ID!){issueInvoice(tenantId:$t,period:"2026-01"){id}}`, map[string]any{"t": w.tenantB})
	bInvoice := get(d, "issueInvoice", "id").(string)

	d = h.must(w.alice, createKey, map[string]any{"t": w.tenantA, "n": "alice key"})
	w.aKey = get(d, "createAPIKey", "key", "id").(string)
	d = h.must(w.alice, `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"alice budget",scope:TENANT,period:MONTH,amount:"5"}){id}}`, map[string]any{"t": w.tenantA})
	w.aBudget = get(d, "createBudget", "id").(string)

	snapshot := func() string {
		d := h.must(w.bob, `query($t:ID!){tenant(id:$t){name} members(tenantId:$t){edges{node{user{email} role}}}
			apiKeys(tenantId:$t){edges{node{id status projectId policy{allowedModels} budgets{id amount}}}} budgets(tenantId:$t){edges{node{id name amount keyId}}}
			orgTree(tenantId:$t){id name archivedAt parentId keyDefaults{allowedModels allowedProviders}} roleGrants(tenantId:$t){userId role node{id}}
			attributionMappings(tenantId:$t){id projectId}
			pricingOverrides(tenantId:$t){edges{node{id percentAdjustment}}}
			billingSettings(tenantId:$t){timeZone periodStartDay groupBy} invoices(tenantId:$t){id number status total}
			providerConnections(tenantId:$t){id name dataKeyLast4 lookbackDays} reconcileSettings(tenantId:$t){driftThresholdPercent}
			reports(tenantId:$t){id name slackWebhookUrl}
			spendSummary(tenantId:$t,`+month+`){requests tenantCost}}`, map[string]any{"t": w.tenantB})
		return toJSON(d)
	}
	// Control: B's event is visible to B, so A's NOT_FOUND means isolation, not absence.
	if d := h.must(w.bob, `query($t:ID!,$e:ID!){usageEvent(tenantId:$t,id:$e){id keyId}}`, map[string]any{"t": w.tenantB, "e": bEvent}); get(d, "usageEvent", "keyId") != w.bKey {
		t.Fatalf("bob's event: %v", d)
	}
	// B's single sign-on (disabled: no provider runs here), a SCIM token,
	// and TOTP on Bob's account.
	h.must(w.bob, `mutation($t:ID!){configureTenantSSO(tenantId:$t,input:{enabled:false,displayName:"Bob IdP",issuerUrl:"https://idp.bob.example",clientId:"bob-client",clientSecret:"bob-client-secret",allowedDomains:["bob.example"]}){enabled}}`,
		map[string]any{"t": w.tenantB})
	_, err := h.pool.Exec(context.Background(), `UPDATE tenant_oidc SET enabled = true WHERE tenant_id = $1`, w.tenantB) // enabled without discovery
	testenv.Must(t, err, "enable B's provider")
	d = h.must(w.bob, `mutation($t:ID!){createSCIMToken(tenantId:$t,name:"okta"){token{id}}}`, map[string]any{"t": w.tenantB})
	bSCIM := get(d, "createSCIMToken", "token", "id").(string)
	enrol := h.must(w.bob, `mutation{enrolTOTP{secret}}`, nil)
	bobSecret := get(enrol, "enrolTOTP", "secret").(string)
	w.bobCode = func() string { c, _ := auth.TOTPCode(bobSecret, time.Now()); return c }
	codes := get(h.must(w.bob, `mutation($c:String!){confirmTOTP(code:$c)}`, map[string]any{"c": w.bobCode()}), "confirmTOTP").([]any)
	w.bobRecovery = codes[0].(string)
	d = h.must(w.bob, `mutation($t:ID!){createProviderConnection(tenantId:$t,input:{provider:"google",name:"bob gcp",dataKey:"AIza-bob-data-key-1"}){id}}`, map[string]any{"t": w.tenantB})
	bConn := get(d, "createProviderConnection", "id").(string)
	// A recommendation of B's.
	recs := recommendpg.New(h.pool)
	testenv.Must(t, recs.Refresh(context.Background(), w.tenantB, []recommend.Recommendation{{Fingerprint: "revoke_key|" + w.bKey + "||",
		Kind: recommend.KindRevokeKey, KeyID: w.bKey, Title: "Revoke key \"bob key\"", Detail: "no traffic"}}, time.Now()), "B's recommendation")
	bRecs, err := recs.List(context.Background(), w.tenantB, "")
	testenv.Must(t, err, "B's recommendations")
	w.objs = map[string]any{"key": w.bKey, "budget": bBudget, "override": bOverride, "user": w.bobID, "event": bEvent,
		"dead": h.deadLetter(w.tenantB), "node": w.bProject, "team": w.bTeam, "mapping": bMapping, "grantee": grace, "scim": bSCIM,
		"rec": bRecs[0].ID, "invoice": bInvoice, "conn": bConn, "report": bReport}
	w.alertB = func() {
		now := time.Now().UTC()
		h.publishAlert(budget.Alert{ID: 1, BudgetID: bBudget, BudgetName: "bob budget", TenantID: w.tenantB, Threshold: 50,
			PeriodStart: now.Add(-time.Hour), PeriodEnd: now.Add(time.Hour), SpentNanoUSD: 250_000_000_000, AmountNanoUSD: 500_000_000_000, Time: now})
		h.publishTick(w.tenantB, alerts.SpendTick{At: now, Requests: 3, ListNanoUSD: 81_000, TenantNanoUSD: 81_000})
		h.publishAnomaly(anomaly.Alert{Type: anomaly.AlertType, EpisodeID: uuid.NewString(), TenantID: w.tenantB, Dimension: anomaly.DimTenant,
			Severity: anomaly.SeverityMajor, Hour: now.Truncate(time.Hour), ObservedNanoUSD: 9e9, ExpectedNanoUSD: 1e9, Score: 9})
	}
	w.snapshotB = snapshot
	return w
}

// TestTenantIsolation calls every tenant-scoped query, mutation and
// subscription as a member of tenant A against tenant B and B's objects: each
// must be refused, and B's data must be unchanged afterwards. Fields without a
// tenant get their own checks (callerScoped).
func TestTenantIsolation(t *testing.T) {
	w := newWorld(t)
	h := w.h
	before := w.snapshotB()
	for _, o := range tenantOps {
		t.Run(o.field, func(t *testing.T) {
			v := vars(o.query, w.objs)
			v["t"] = w.tenantB
			if r := h.run(w.alice, o.query, v, w.alertB); r.code() != "FORBIDDEN" {
				t.Fatalf("as a member of A on tenant B: want FORBIDDEN, got %+v data %v", r.Errors, r.Data)
			}
			if o.objects {
				v["t"] = w.tenantA
				if r := h.run(w.alice, o.query, v, w.alertB); r.code() != "NOT_FOUND" {
					t.Fatalf("B's object through tenant A: want NOT_FOUND, got %+v data %v", r.Errors, r.Data)
				}
			}
		})
	}
	// Objects of B named inside A's inputs.
	t.Run("cross references", func(t *testing.T) {
		for name, q := range map[string]string{
			"key budget on B's key":         `mutation($t:ID!,$key:ID!){createBudget(tenantId:$t,input:{name:"x",scope:KEY,keyId:$key,period:DAY,amount:"1"}){id}}`,
			"A's budget moved onto B's key": `mutation($t:ID!,$key:ID!,$b:ID!){updateBudget(tenantId:$t,id:$b,input:{name:"x",scope:KEY,keyId:$key,period:DAY,amount:"1"}){id}}`,
			"usage of B's key":              `query($t:ID!,$key:ID!){spendSummary(tenantId:$t,` + month + `,filter:{keyIds:[$key]}){requests}}`,
		} {
			r := h.gql(w.alice, q, map[string]any{"t": w.tenantA, "key": w.bKey, "b": w.aBudget})
			switch {
			case strings.HasPrefix(q, "query"):
				if len(r.Errors) > 0 || get(r.Data, "spendSummary", "requests") != 0.0 {
					t.Errorf("%s: want zero requests, got %+v %v", name, r.Errors, r.Data)
				}
			case r.code() != "NOT_FOUND":
				t.Errorf("%s: want NOT_FOUND, got %+v", name, r.Errors)
			}
		}
	})
	t.Run("subscription without a session", func(t *testing.T) {
		// A bad token closes the websocket at connection_init: no subscription starts.
		r := h.subscribe("not-a-jwt", `subscription($t:ID!){budgetAlerts(tenantId:$t){id}}`, map[string]any{"t": w.tenantB}, w.alertB)
		if len(r.Errors) == 0 || r.Data != nil {
			t.Fatalf("anonymous subscription: %+v %v", r.Errors, r.Data)
		}
	})
	t.Run("live alerts of B", func(t *testing.T) {
		// Alice, subscribed to A, gets A's alert and never B's, although B's
		// are published first on every tick.
		ticks := 0
		r := h.subscribe(w.alice, `subscription($t:ID!){budgetAlerts(tenantId:$t){budgetName}}`, map[string]any{"t": w.tenantA}, func() {
			ticks++
			w.alertB()
			if ticks > 2 {
				now := time.Now().UTC()
				h.publishAlert(budget.Alert{ID: 2, BudgetID: w.aBudget, BudgetName: "alice budget", TenantID: w.tenantA, Threshold: 80,
					PeriodStart: now.Add(-time.Hour), PeriodEnd: now.Add(time.Hour), SpentNanoUSD: 4_000_000_000, AmountNanoUSD: 5_000_000_000, Time: now})
			}
		})
		if len(r.Errors) > 0 || get(r.Data, "budgetAlerts", "budgetName") != "alice budget" {
			t.Fatalf("alice's live alerts: %+v %v", r.Errors, r.Data)
		}
	})
	for _, f := range sortedKeys(callerScoped) {
		t.Run(f, func(t *testing.T) { callerScoped[f](t, w) })
	}
	if after := w.snapshotB(); after != before {
		t.Fatalf("tenant B changed:\n before %s\n after  %s", before, after)
	}
	if _, a := h.policy(w.bSecret); a["valid"] != true || a["tenant_id"] != w.tenantB {
		t.Fatalf("B's key stopped working: %v", a)
	}
	// A non-existent tenant looks the same as someone else's.
	if r := h.gql(w.alice, `query{tenant(id:"00000000-0000-0000-0000-000000000000"){id}}`, nil); r.code() != "FORBIDDEN" {
		t.Fatalf("unknown tenant: %+v", r)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// adminReads are the queries a viewer may not run.
var adminReads = map[string]bool{"Query.auditLog": true, "Query.deadLetters": true, "Query.tenantSSO": true, "Query.scimTokens": true,
	// Billing is for admins (billing.BillingRole).
	"Query.billingSettings": true, "Query.invoices": true, "Query.invoice": true, "Query.draftInvoice": true, "Query.chargebackStatement": true,
	"Query.providerConnections": true, "Query.providerReportPages": true,
	// The breach webhook delivery log of a revocation workflow.
	"Query.budgetBreaches": true,
	"Query.reports":        true, "Query.report": true}

// TestViewerRole runs every tenant-scoped operation as a viewer of tenant B:
// reads (except admin-only ones) answer, every mutation is FORBIDDEN and B is
// unchanged, so no resolver forgets the role check.
func TestViewerRole(t *testing.T) {
	w := newWorld(t)
	h := w.h
	h.must(w.bob, `mutation($t:ID!){addMember(tenantId:$t,email:"carol@example.com",password:"carol-password",role:VIEWER){role}}`, map[string]any{"t": w.tenantB})
	carol := h.signIn("carol@example.com", "carol-password")
	before := w.snapshotB()
	for _, o := range tenantOps {
		t.Run(o.field, func(t *testing.T) {
			v := vars(o.query, w.objs)
			v["t"] = w.tenantB
			r := h.run(carol, o.query, v, w.alertB)
			switch {
			case strings.HasPrefix(o.field, "Mutation.") || adminReads[o.field]:
				if r.code() != "FORBIDDEN" {
					t.Fatalf("viewer: want FORBIDDEN, got %+v data %v", r.Errors, r.Data)
				}
			case len(r.Errors) > 0 || r.Data == nil:
				t.Fatalf("viewer read refused: %+v", r.Errors)
			case o.field == "Subscription.budgetAlerts" && get(r.Data, "budgetAlerts", "budgetName") != "bob budget":
				t.Fatalf("viewer's live alert: %v", r.Data)
			case o.field == "Subscription.spendTicks" && (get(r.Data, "spendTicks", "requests") != 3.0 || get(r.Data, "spendTicks", "tenantCost") != "0.000081"):
				t.Fatalf("viewer's live spend tick: %v", r.Data)
			}
		})
	}
	if after := w.snapshotB(); after != before {
		t.Fatalf("a viewer changed tenant B:\n before %s\n after  %s", before, after)
	}
}
