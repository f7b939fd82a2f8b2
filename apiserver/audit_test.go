package apiserver

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/graph"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/recommend"
	recommendpg "github.com/spendgate/spendgate/recommend/pgstore"
)

// auditStep runs one mutation that must succeed and names the audit entry it
// must write: action, and the target id (from the mutation's own result or
// its input).
type auditStep struct {
	field, query, action string
	vars                 func(ids map[string]string) map[string]any
	// target returns the id the entry must name; save stores ids for later steps.
	target func(d map[string]any, ids map[string]string) string
	save   func(d map[string]any, ids map[string]string)
}

// Mutations that change no tenant: sessions of the caller.
var notAudited = map[string]string{
	"signIn":         "opens a session of the caller",
	"refreshSession": "rotates a session of the caller",
	"signOut":        "ends a session of the caller",
	"changePassword": "changes the caller's own account (audited as user.password, in no tenant's log)",
	// The price catalogue is shared by every tenant: its decisions are
	// audited in no tenant's log (pricing/revision TestProposeApplyFollow
	// checks the entries), by pricing admins only.
	"applyPricingRevision":  "applies a shared catalogue revision (audited as pricing.revision.apply, in no tenant's log)",
	"rejectPricingRevision": "rejects a shared catalogue revision (audited as pricing.revision.reject, in no tenant's log)",
	// Single sign-on opens sessions; TOTP changes the caller's own account
	// (audited as user.mfa.*, in no tenant's log; TestTOTP checks them).
	"startSSOSignIn":          "starts a sign-in at an identity provider (no session yet)",
	"finishSSOSignIn":         "opens a session of the caller (a just-in-time member or role change is audited as member.add / member.role; TestSSOSignIn)",
	"enrolTOTP":               "starts the caller's enrolment (nothing is in force until confirmTOTP)",
	"confirmTOTP":             "changes the caller's own account (audited as user.mfa.enable, in no tenant's log)",
	"disableTOTP":             "changes the caller's own account (audited as user.mfa.disable, in no tenant's log)",
	"regenerateRecoveryCodes": "changes the caller's own account (audited as user.mfa.recovery_codes, in no tenant's log)",
}

// TestEveryMutationIsAudited runs every tenant mutation of the schema in
// order and checks that each wrote its own audit entry (actor, action,
// target), readable by the owner through auditLog, without secrets. A new
// mutation fails the test until it is listed here.
func TestEveryMutationIsAudited(t *testing.T) {
	h := newFullHarness(t)
	tok, tenant := h.owner("alice@example.com", "acme")
	ids := map[string]string{"t": tenant, "dead": h.deadLetter(tenant)}
	// A recommendation, as the hourly refresh stores them.
	recs := recommendpg.New(h.pool)
	testenv.Must(t, recs.Refresh(context.Background(), tenant, []recommend.Recommendation{{Fingerprint: "price_model||acme|acme-llm",
		Kind: recommend.KindPriceModel, Provider: "acme", Model: "acme-llm", Title: "Price acme/acme-llm", Detail: "unpriced"}}, time.Now()), "recommendation")
	stored, err := recs.List(context.Background(), tenant, "")
	testenv.Must(t, err, "recommendations")
	ids["rec"] = stored[0].ID
	id := func(path ...string) func(map[string]any, map[string]string) string {
		return func(d map[string]any, _ map[string]string) string { s, _ := get(d, path...).(string); return s }
	}
	idOf := func(name string) func(map[string]any, map[string]string) string {
		return func(_ map[string]any, ids map[string]string) string { return ids[name] }
	}
	keep := func(name string, path ...string) func(map[string]any, map[string]string) {
		return func(d map[string]any, ids map[string]string) { ids[name], _ = get(d, path...).(string) }
	}
	tv := func(names ...string) func(map[string]string) map[string]any {
		return func(ids map[string]string) map[string]any {
			v := map[string]any{"t": ids["t"]}
			for _, n := range names {
				v[n] = ids[n]
			}
			return v
		}
	}
	steps := []auditStep{
		{"renameTenant", `mutation($t:ID!){renameTenant(tenantId:$t,name:"Acme Corp"){id}}`, "tenant.rename", tv(), idOf("t"), nil},
		{"setRecommendationState", `mutation($t:ID!,$rec:ID!){setRecommendationState(tenantId:$t,id:$rec,state:DISMISSED){id}}`, "recommendation.dismissed", tv("rec"), idOf("rec"), nil},
		{"addMember", `mutation($t:ID!){addMember(tenantId:$t,email:"carol@example.com",password:"carol-secret-pw",role:VIEWER){user{id}}}`, "member.add",
			tv(), id("addMember", "user", "id"), keep("user", "addMember", "user", "id")},
		{"updateMemberRole", `mutation($t:ID!,$user:ID!){updateMemberRole(tenantId:$t,userId:$user,role:ADMIN){role}}`, "member.role", tv("user"), idOf("user"), nil},
		{"removeMember", `mutation($t:ID!,$user:ID!){removeMember(tenantId:$t,userId:$user)}`, "member.remove", tv("user"), idOf("user"), nil},
		{"createAPIKey", `mutation($t:ID!){createAPIKey(tenantId:$t,name:"ci"){secret key{id}}}`, "api_key.create",
			tv(), id("createAPIKey", "key", "id"), func(d map[string]any, ids map[string]string) {
				keep("key", "createAPIKey", "key", "id")(d, ids)
				keep("secret", "createAPIKey", "secret")(d, ids)
			}},
		{"updateAPIKeyPolicy", `mutation($t:ID!,$key:ID!){updateAPIKeyPolicy(tenantId:$t,id:$key,policy:{allowedProviders:["openai"]}){id}}`, "api_key.policy", tv("key"), idOf("key"), nil},
		{"rotateAPIKey", `mutation($t:ID!,$key:ID!){rotateAPIKey(tenantId:$t,id:$key){secret key{id}}}`, "api_key.rotate",
			tv("key"), id("rotateAPIKey", "key", "id"), func(d map[string]any, ids map[string]string) {
				keep("key", "rotateAPIKey", "key", "id")(d, ids)
				keep("secret2", "rotateAPIKey", "secret")(d, ids)
			}},
		{"revokeAPIKey", `mutation($t:ID!,$key:ID!){revokeAPIKey(tenantId:$t,id:$key){id}}`, "api_key.revoke", tv("key"), idOf("key"), nil},
		{"createBudget", `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1"}){id}}`, "budget.create",
			tv(), id("createBudget", "id"), keep("budget", "createBudget", "id")},
		{"updateBudget", `mutation($t:ID!,$budget:ID!){updateBudget(tenantId:$t,id:$budget,input:{name:"b",scope:TENANT,period:WEEK,amount:"2"}){id}}`, "budget.update", tv("budget"), idOf("budget"), nil},
		{"deleteBudget", `mutation($t:ID!,$budget:ID!){deleteBudget(tenantId:$t,id:$budget)}`, "budget.delete", tv("budget"), idOf("budget"), nil},
		{"createPricingOverride", `mutation($t:ID!){createPricingOverride(tenantId:$t,input:{model:"gpt-4o",effectiveFrom:"2026-01-01T00:00:00Z",percentAdjustment:"-5"}){id}}`, "pricing_override.create",
			tv(), id("createPricingOverride", "id"), keep("override", "createPricingOverride", "id")},
		{"updatePricingOverride", `mutation($t:ID!,$override:ID!){updatePricingOverride(tenantId:$t,id:$override,input:{model:"gpt-4o",effectiveFrom:"2026-01-01T00:00:00Z",percentAdjustment:"-7"}){id}}`, "pricing_override.update", tv("override"), idOf("override"), nil},
		{"deletePricingOverride", `mutation($t:ID!,$override:ID!){deletePricingOverride(tenantId:$t,id:$override)}`, "pricing_override.delete", tv("override"), idOf("override"), nil},
		{"setAzureDeployment", `mutation($t:ID!){setAzureDeployment(tenantId:$t,deployment:"prod-4o",model:"gpt-4o-data-zone"){id}}`, "azure_deployment.set",
			tv(), id("setAzureDeployment", "id"), keep("azuredep", "setAzureDeployment", "id")},
		{"deleteAzureDeployment", `mutation($t:ID!){deleteAzureDeployment(tenantId:$t,deployment:"prod-4o")}`, "azure_deployment.delete", tv(), idOf("azuredep"), nil},
		{"repriceUnpricedEvents", `mutation($t:ID!){repriceUnpricedEvents(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-02-01T00:00:00Z"){examined}}`,
			"usage.reprice", tv(), idOf("t"), nil},
		{"replayDeadLetter", `mutation($t:ID!,$dead:ID!){replayDeadLetter(tenantId:$t,sequence:$dead)}`, "dead_letter.replay", tv("dead"), idOf("dead"), nil},
		{"createOrgNode", `mutation($t:ID!){createOrgNode(tenantId:$t,kind:WORKSPACE,name:"Prod"){id}}`, "workspace.create",
			tv(), id("createOrgNode", "id"), keep("ws", "createOrgNode", "id")},
		{"createOrgNode", `mutation($t:ID!,$ws:ID!){createOrgNode(tenantId:$t,kind:TEAM,parentId:$ws,name:"Payments"){id}}`, "team.create",
			tv("ws"), id("createOrgNode", "id"), keep("team", "createOrgNode", "id")},
		{"createOrgNode", `mutation($t:ID!,$ws:ID!){createOrgNode(tenantId:$t,kind:TEAM,parentId:$ws,name:"Search"){id}}`, "team.create",
			tv("ws"), id("createOrgNode", "id"), keep("team2", "createOrgNode", "id")},
		{"createOrgNode", `mutation($t:ID!,$team:ID!){createOrgNode(tenantId:$t,kind:PROJECT,parentId:$team,name:"Checkout"){id}}`, "project.create",
			tv("team"), id("createOrgNode", "id"), keep("project", "createOrgNode", "id")},
		{"renameOrgNode", `mutation($t:ID!,$project:ID!){renameOrgNode(tenantId:$t,id:$project,name:"Checkout API"){id}}`, "project.rename", tv("project"), idOf("project"), nil},
		{"setOrgNodeKeyDefaults", `mutation($t:ID!,$team:ID!){setOrgNodeKeyDefaults(tenantId:$t,id:$team,keyDefaults:{requiredDimensions:["app"]}){id}}`, "team.key_defaults", tv("team"), idOf("team"), nil},
		{"moveProject", `mutation($t:ID!,$project:ID!,$team2:ID!){moveProject(tenantId:$t,id:$project,teamId:$team2){id}}`, "project.move", tv("project", "team2"), idOf("project"), nil},
		{"archiveOrgNode", `mutation($t:ID!,$team:ID!){archiveOrgNode(tenantId:$t,id:$team,archived:true){id}}`, "team.archive", tv("team"), idOf("team"), nil},
		{"setAPIKeyProject", `mutation($t:ID!,$key:ID!,$project:ID!){setAPIKeyProject(tenantId:$t,id:$key,projectId:$project){id}}`, "api_key.project", tv("key", "project"), idOf("key"), nil},
		{"addMember", `mutation($t:ID!){addMember(tenantId:$t,email:"dave@example.com",password:"dave-secret-pw",role:MEMBER){user{id}}}`, "member.add",
			tv(), id("addMember", "user", "id"), keep("dave", "addMember", "user", "id")},
		{"grantRole", `mutation($t:ID!,$dave:ID!,$project:ID!){grantRole(tenantId:$t,userId:$dave,role:PROJECT_MEMBER,nodeId:$project){role}}`, "role.grant", tv("dave", "project"), idOf("dave"), nil},
		{"revokeRole", `mutation($t:ID!,$dave:ID!,$project:ID!){revokeRole(tenantId:$t,userId:$dave,nodeId:$project)}`, "role.revoke", tv("dave", "project"), idOf("dave"), nil},
		{"createAttributionMapping", `mutation($t:ID!,$project:ID!){createAttributionMapping(tenantId:$t,dimensionName:"team",dimensionValue:"checkout",nodeId:$project){id}}`, "attribution_mapping.create",
			tv("project"), id("createAttributionMapping", "id"), keep("mapping", "createAttributionMapping", "id")},
		{"deleteAttributionMapping", `mutation($t:ID!,$mapping:ID!){deleteAttributionMapping(tenantId:$t,id:$mapping)}`, "attribution_mapping.delete", tv("mapping"), idOf("mapping"), nil},
		{"configureTenantSSO", `mutation($t:ID!){configureTenantSSO(tenantId:$t,input:{enabled:false,displayName:"Okta",issuerUrl:"https://acme.okta.example",clientId:"cid",clientSecret:"idp-client-secret-value"}){clientSecretSet}}`,
			"sso.configure", tv(), idOf("t"), nil},
		{"setTenantMFARequired", `mutation($t:ID!){setTenantMFARequired(tenantId:$t,required:false){mfaRequired}}`, "tenant.mfa_required", tv(), idOf("t"), nil},
		{"createSCIMToken", `mutation($t:ID!){createSCIMToken(tenantId:$t,name:"okta"){secret token{id}}}`, "scim_token.create",
			tv(), id("createSCIMToken", "token", "id"), func(d map[string]any, ids map[string]string) {
				keep("scim", "createSCIMToken", "token", "id")(d, ids)
				keep("scimSecret", "createSCIMToken", "secret")(d, ids)
			}},
		{"rotateSCIMToken", `mutation($t:ID!,$scim:ID!){rotateSCIMToken(tenantId:$t,id:$scim){secret token{id}}}`, "scim_token.rotate",
			tv("scim"), id("rotateSCIMToken", "token", "id"), func(d map[string]any, ids map[string]string) {
				keep("scim", "rotateSCIMToken", "token", "id")(d, ids)
				keep("scimSecret2", "rotateSCIMToken", "secret")(d, ids)
			}},
		{"revokeSCIMToken", `mutation($t:ID!,$scim:ID!){revokeSCIMToken(tenantId:$t,id:$scim){id}}`, "scim_token.revoke", tv("scim"), idOf("scim"), nil},
		{"deleteTenantSSO", `mutation($t:ID!){deleteTenantSSO(tenantId:$t)}`, "sso.delete", tv(), idOf("t"), nil},
		{"updateBillingSettings", `mutation($t:ID!){updateBillingSettings(tenantId:$t,input:{timeZone:"Europe/Berlin",periodStartDay:1}){timeZone}}`,
			"billing.settings", tv(), idOf("t"), nil},
		{"issueInvoice", `mutation($t:ID!){issueInvoice(tenantId:$t,period:"2026-01"){id}}`, "invoice.issue",
			tv(), id("issueInvoice", "id"), keep("invoice", "issueInvoice", "id")},
		{"voidInvoice", `mutation($t:ID!,$invoice:ID!){voidInvoice(tenantId:$t,id:$invoice,reason:"wrong address"){id}}`, "invoice.void", tv("invoice"), idOf("invoice"), nil},
		{"issueInvoice", `mutation($t:ID!){issueInvoice(tenantId:$t,period:"2026-01"){id}}`, "invoice.issue",
			tv(), id("issueInvoice", "id"), keep("invoice2", "issueInvoice", "id")},
		{"markInvoicePaid", `mutation($t:ID!,$invoice2:ID!){markInvoicePaid(tenantId:$t,id:$invoice2){id}}`, "invoice.paid", tv("invoice2"), idOf("invoice2"), nil},
		{"createProviderConnection", `mutation($t:ID!){createProviderConnection(tenantId:$t,input:{provider:"openai",name:"OpenAI",adminKey:"sk-admin-audit-secret-1234"}){id}}`,
			"provider_connection.create", tv(), id("createProviderConnection", "id"), keep("conn", "createProviderConnection", "id")},
		{"updateProviderConnection", `mutation($t:ID!,$conn:ID!){updateProviderConnection(tenantId:$t,id:$conn,input:{adminKey:"sk-admin-audit-rotated-5678",lookbackDays:2}){id}}`,
			"provider_connection.update", tv("conn"), idOf("conn"), nil},
		{"syncProviderConnection", `mutation($t:ID!,$conn:ID!){syncProviderConnection(tenantId:$t,id:$conn){pages}}`,
			"provider_connection.sync", tv("conn"), idOf("conn"), nil},
		{"deleteProviderConnection", `mutation($t:ID!,$conn:ID!){deleteProviderConnection(tenantId:$t,id:$conn)}`,
			"provider_connection.delete", tv("conn"), idOf("conn"), nil},
		{"createProviderConnection", `mutation($t:ID!){createProviderConnection(tenantId:$t,input:{provider:"google",name:"GCP"}){id}}`,
			"provider_connection.create", tv(), id("createProviderConnection", "id"), keep("gconn", "createProviderConnection", "id")},
		{"importBillingExport", `mutation($t:ID!,$gconn:ID!){importBillingExport(tenantId:$t,connectionId:$gconn,format:"csv",content:"service.description,sku.description,usage_start_time,cost,currency\nVertex AI,Gemini 2.5 Flash Input Tokens,2026-01-15T00:00:00Z,0.25,USD\n"){rows}}`,
			"provider_connection.import", tv("gconn"), idOf("gconn"), nil},
		{"setReconcileSettings", `mutation($t:ID!){setReconcileSettings(tenantId:$t,input:{driftThresholdPercent:"1.5"}){driftThresholdPercent}}`,
			"reconcile_settings.update", tv(), idOf("t"), nil},
		{"createReport", `mutation($t:ID!,$slack:String!){createReport(tenantId:$t,input:{name:"Weekly",frequency:WEEKLY,scope:TENANT,slackWebhookUrl:$slack}){id}}`,
			"report.create", func(ids map[string]string) map[string]any { return map[string]any{"t": ids["t"], "slack": h.slackURL} },
			id("createReport", "id"), keep("report", "createReport", "id")},
		{"updateReport", `mutation($t:ID!,$report:ID!,$slack:String!){updateReport(tenantId:$t,id:$report,input:{name:"Monthly",frequency:MONTHLY,scope:TENANT,slackWebhookUrl:$slack}){id}}`,
			"report.update", func(ids map[string]string) map[string]any {
				return map[string]any{"t": ids["t"], "report": ids["report"], "slack": h.slackURL}
			}, idOf("report"), nil},
		{"sendTestReport", `mutation($t:ID!,$report:ID!){sendTestReport(tenantId:$t,id:$report){channels}}`, "report.send_test", tv("report"), idOf("report"), nil},
		{"deleteReport", `mutation($t:ID!,$report:ID!){deleteReport(tenantId:$t,id:$report)}`, "report.delete", tv("report"), idOf("report"), nil},
		{"createTenant", `mutation{createTenant(name:"Second",slug:"second"){id}}`, "tenant.create",
			func(map[string]string) map[string]any { return nil }, id("createTenant", "id"), keep("t", "createTenant", "id")},
	}

	// Every mutation of the schema is either a step or a session mutation.
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema()
	var missing []string
	covered := map[string]bool{}
	for _, s := range steps {
		covered[s.field] = true
	}
	for _, f := range schema.Mutation.Fields {
		if !covered[f.Name] && notAudited[f.Name] == "" && !strings.HasPrefix(f.Name, "__") {
			missing = append(missing, f.Name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("mutations without an audit check (add them to TestEveryMutationIsAudited): %v", missing)
	}

	for _, s := range steps {
		d := h.must(tok, s.query, s.vars(ids))
		want := s.target(d, ids)
		if s.save != nil {
			s.save(d, ids)
		}
		// The newest entry of the tenant the mutation acted on is this one.
		log := h.must(tok, `query($t:ID!){auditLog(tenantId:$t,first:1){edges{node{actor action targetType targetId details createdAt}}}}`, map[string]any{"t": ids["t"]})
		edges := get(log, "auditLog", "edges").([]any)
		if len(edges) != 1 {
			t.Fatalf("%s: no audit entry", s.field)
		}
		e := get(edges[0], "node")
		if get(e, "action") != s.action || get(e, "targetId") != want || get(e, "actor") != "alice@example.com" || get(e, "createdAt") == nil {
			t.Errorf("%s: audit entry %v, want action %s target %s by alice", s.field, e, s.action, want)
		}
	}
	// No secret of a key or password made it into the log.
	all := toJSON(h.must(tok, `query($t:ID!){auditLog(tenantId:$t,first:100){edges{node{details}}}}`, map[string]any{"t": tenant}))
	for _, secret := range []string{ids["secret"], ids["secret2"], ids["scimSecret"], ids["scimSecret2"], "idp-client-secret-value", "carol-secret-pw", "password-123", tok,
		"sk-admin-audit-secret", "sk-admin-audit-rotated"} {
		if secret == "" || strings.Contains(all, secret) {
			t.Fatalf("audit log holds a secret (%q)", secret)
		}
		if strings.Contains(h.logs.String(), secret) {
			t.Fatalf("server log holds a secret (%q)", secret)
		}
	}
}
