package apiserver

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spendgate/spendgate/egress"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/usage"
)

// TestSSOScopedGroupMapping maps provider groups to project roles: the
// groups claim at sign-in makes a project member who sees that project's
// keys and spend and not its sibling's; a refresh whose groups changed
// moves the grant; SCIM group membership adds and removes grants; grants an
// admin made by hand survive all of it; bad rules are refused when saved
// and rules on a project archived later are skipped.
func TestSSOScopedGroupMapping(t *testing.T) {
	h := newFullHarness(t)
	h.cp.SSOService.SetEgress(egress.MustAllow("127.0.0.1"))
	m := idp(t)
	alice, acme := h.owner("alice@acme.test", "acme")
	_, otherTenant := h.owner("olga@other.test", "other")
	ctx := context.Background()

	node := func(tenant, token, kind, parent, name string) string {
		d := h.must(token, `mutation($t:ID!,$k:OrgNodeKind!,$p:ID,$n:String!){createOrgNode(tenantId:$t,kind:$k,parentId:$p,name:$n){id}}`,
			map[string]any{"t": tenant, "k": kind, "p": parent, "n": name})
		return get(d, "createOrgNode", "id").(string)
	}
	ws := node(acme, alice, "WORKSPACE", "", "acme ws")
	team := node(acme, alice, "TEAM", ws, "acme team")
	payments := node(acme, alice, "PROJECT", team, "payments")
	search := node(acme, alice, "PROJECT", team, "search sibling")
	handmade := node(acme, alice, "PROJECT", team, "handmade")
	archived := node(acme, alice, "PROJECT", team, "old")
	h.must(alice, `mutation($t:ID!,$n:ID!){archiveOrgNode(tenantId:$t,id:$n,archived:true){id}}`, map[string]any{"t": acme, "n": archived})
	olga := h.signIn("olga@other.test", "password-123")
	foreign := node(otherTenant, olga, "PROJECT", node(otherTenant, olga, "TEAM", node(otherTenant, olga, "WORKSPACE", "", "w"), "t"), "theirs")
	key := func(name, project string) string {
		d := h.must(alice, `mutation($t:ID!,$n:String!,$p:ID!){createAPIKey(tenantId:$t,name:$n,projectId:$p){key{id}}}`, map[string]any{"t": acme, "n": name, "p": project})
		return get(d, "createAPIKey", "key", "id").(string)
	}
	paymentsKey, searchKey := key("payments key", payments), key("search key", search)
	ev := func(k, project string, cost int64) spend.PricedEvent {
		return spend.PricedEvent{Event: event.Event{SchemaVersion: event.SchemaVersion, Type: event.TypeUsage, EventID: uuid.NewString(),
			Time: time.Date(2026, 1, 20, 12, 0, 0, 0, time.UTC), Source: event.SourceGateway, TenantID: acme, KeyID: k, WorkspaceID: ws, TeamID: team,
			ProjectID: project, Provider: "openai", Operation: "chat.completions", ModelRequested: "gpt-4o", StatusCode: 200, Complete: true,
			Usage: usage.Tokens{Input: 10, Output: 5}}, Cost: pricing.Cost{Priced: true, Model: "gpt-4o", ListNanoUSD: cost, TenantNanoUSD: cost}}
	}
	if _, err := h.events.Write(ctx, []spend.PricedEvent{ev(paymentsKey, payments, 11_000), ev(searchKey, search, 900_000)}); err != nil {
		t.Fatal(err)
	}

	// Bad rules are refused when saved, with the reason.
	for name, c := range map[string]struct {
		rule map[string]any
		want string
	}{
		"project role on a team":   {map[string]any{"group": "g", "scopedRole": "PROJECT_MEMBER", "nodeId": team}, "no project"},
		"team role on a project":   {map[string]any{"group": "g", "scopedRole": "TEAM_ADMIN", "nodeId": payments}, "no team"},
		"tenant role with a node":  {map[string]any{"group": "g", "role": "ADMIN", "nodeId": payments}, "scoped role"},
		"both roles":               {map[string]any{"group": "g", "role": "ADMIN", "scopedRole": "PROJECT_MEMBER", "nodeId": payments}, "must be project_member or project_viewer"},
		"scoped role without node": {map[string]any{"group": "g", "scopedRole": "PROJECT_MEMBER"}, "not a project id"},
		"no role":                  {map[string]any{"group": "g"}, "not a tenant role"},
		"archived project":         {map[string]any{"group": "g", "scopedRole": "PROJECT_VIEWER", "nodeId": archived}, "archived"},
		"another tenant's project": {map[string]any{"group": "g", "scopedRole": "PROJECT_VIEWER", "nodeId": foreign}, "no project"},
	} {
		r := h.gql(alice, configureSSO, map[string]any{"t": acme, "in": ssoInput(m, map[string]any{"groupMappings": []map[string]any{c.rule}})})
		if r.code() != "INVALID_ARGUMENT" || !strings.Contains(r.Errors[0].Message, c.want) {
			t.Errorf("%s: want INVALID_ARGUMENT with %q, got %+v", name, c.want, r)
		}
	}

	rules := []map[string]any{{"group": "spend-admins", "role": "ADMIN"}, {"group": "payments-devs", "scopedRole": "PROJECT_MEMBER", "nodeId": payments},
		{"group": "search-readers", "scopedRole": "PROJECT_VIEWER", "nodeId": search}}
	d := h.must(alice, `mutation($t:ID!,$in:TenantSSOInput!){configureTenantSSO(tenantId:$t,input:$in){groupMappings{group role scopedRole nodeId}}}`,
		map[string]any{"t": acme, "in": ssoInput(m, map[string]any{"groupMappings": rules})})
	if s := toJSON(get(d, "configureTenantSSO", "groupMappings")); !strings.Contains(s, `{"group":"payments-devs","nodeId":"`+payments+`","role":"MEMBER","scopedRole":"PROJECT_MEMBER"}`) ||
		!strings.Contains(s, `{"group":"spend-admins","nodeId":null,"role":"ADMIN","scopedRole":null}`) {
		t.Fatalf("saved mappings: %s", s)
	}

	// Sign-in with payments-devs: a member with project_member on payments.
	erinAtIdP := person("erin@acme.test", "payments-devs", "engineering")
	m.QueueUser(erinAtIdP)
	r := h.ssoSignIn("erin@acme.test", "")
	if len(r.Errors) > 0 {
		t.Fatalf("sign-in: %+v", r.Errors)
	}
	erin, erinRefresh := get(r.Data, "finishSSOSignIn", "accessToken").(string), get(r.Data, "finishSSOSignIn", "refreshToken").(string)
	erinID := get(r.Data, "finishSSOSignIn", "user", "id").(string)
	if d := h.must(erin, `{tenants{role}}`, nil); toJSON(d) != `{"tenants":[{"role":"MEMBER"}]}` {
		t.Fatalf("erin's tenant role: %v", d)
	}
	sees := func(token string) string {
		return toJSON(h.must(token, `query($t:ID!){apiKeys(tenantId:$t){edges{node{id}}} spendSummary(tenantId:$t,`+month+`){tenantCost}}`, map[string]any{"t": acme}))
	}
	if s := sees(erin); !strings.Contains(s, paymentsKey) || strings.Contains(s, searchKey) || !strings.Contains(s, `"tenantCost":"0.000011"`) {
		t.Fatalf("erin (payments-devs) sees: %s", s)
	}
	// A grant an admin makes by hand is hers to keep.
	h.must(alice, `mutation($t:ID!,$u:ID!,$p:ID!){grantRole(tenantId:$t,userId:$u,role:PROJECT_VIEWER,nodeId:$p){role}}`, map[string]any{"t": acme, "u": erinID, "p": handmade})
	grants := func(user string) string {
		rows, err := h.pool.Query(ctx, `SELECT node_id::text || ':' || role || ':' || source FROM role_grants WHERE tenant_id = $1 AND user_id = $2 `, acme, user)
		testenv.Must(t, err, "grants")
		var out []string
		for rows.Next() {
			var s string
			testenv.Must(t, rows.Scan(&s), "grant")
			out = append(out, strings.NewReplacer(payments, "payments", search, "search", handmade, "handmade").Replace(s))
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	if g := grants(erinID); !strings.Contains(g, "payments:project_member:idp") || !strings.Contains(g, "handmade:project_viewer:admin") || strings.Contains(g, "search") {
		t.Fatalf("erin's grants after sign-in: %s", g)
	}

	// At the next refresh the provider says search-readers instead: the
	// payments grant goes, the search one comes, the hand-made one stays.
	erinAtIdP.Groups = []string{"search-readers"}
	d = h.must("", `mutation($r:String!){refreshSession(refreshToken:$r){accessToken refreshToken}}`, map[string]any{"r": erinRefresh})
	erin, erinRefresh = get(d, "refreshSession", "accessToken").(string), get(d, "refreshSession", "refreshToken").(string)
	if g := grants(erinID); strings.Contains(g, "payments") || !strings.Contains(g, "search:project_viewer:idp") || !strings.Contains(g, "handmade:project_viewer:admin") {
		t.Fatalf("erin's grants after the refresh: %s", g)
	}
	if s := sees(erin); strings.Contains(s, paymentsKey) || !strings.Contains(s, searchKey) {
		t.Fatalf("erin (search-readers) sees: %s", s)
	}
	// A rule whose project was archived since is skipped, with a log line.
	h.must(alice, `mutation($t:ID!,$n:ID!){archiveOrgNode(tenantId:$t,id:$n,archived:true){id}}`, map[string]any{"t": acme, "n": search})
	h.must("", `mutation($r:String!){refreshSession(refreshToken:$r){accessToken}}`, map[string]any{"r": erinRefresh})
	if g := grants(erinID); g != "handmade:project_viewer:admin" {
		t.Fatalf("erin's grants after her rule's project was archived: %s", g)
	}
	if !strings.Contains(h.logs.String(), "archived or gone") {
		t.Fatal("the skipped rule is not logged")
	}
	h.must(alice, `mutation($t:ID!,$n:ID!){archiveOrgNode(tenantId:$t,id:$n,archived:false){id}}`, map[string]any{"t": acme, "n": search})

	// SCIM: group membership adds and removes the grant.
	d = h.must(alice, `mutation($t:ID!){createSCIMToken(tenantId:$t,name:"entra"){secret}}`, map[string]any{"t": acme})
	token := get(d, "createSCIMToken", "secret").(string)
	status, bob := h.scimCall(token, "POST", "/Users", entraCreateUser)
	if status != 201 {
		t.Fatalf("SCIM create: %d %v", status, bob)
	}
	bobID := bob["id"].(string)
	status, group := h.scimCall(token, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"payments-devs","members":[{"value":"`+bobID+`"}]}`)
	if status != 201 {
		t.Fatalf("SCIM group: %d %v", status, group)
	}
	var bobRole string
	testenv.Must(t, h.pool.QueryRow(ctx, `SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2`, acme, bobID).Scan(&bobRole), "bob's membership")
	if g := grants(bobID); bobRole != "member" || g != "payments:project_member:idp" {
		t.Fatalf("bob after joining payments-devs: role %s, grants %s", bobRole, g)
	}
	h.must(alice, `mutation($t:ID!,$u:ID!,$p:ID!){grantRole(tenantId:$t,userId:$u,role:PROJECT_VIEWER,nodeId:$p){role}}`, map[string]any{"t": acme, "u": bobID, "p": handmade})
	status, _ = h.scimCall(token, "PUT", "/Users/"+bobID, entraCreateUser) // an unrelated change keeps the grants
	if g := grants(bobID); status != 200 || g != "handmade:project_viewer:admin payments:project_member:idp" {
		t.Fatalf("bob after an unrelated SCIM change: %d %s", status, g)
	}
	if status, body := h.scimCall(token, "PATCH", "/Groups/"+group["id"].(string), `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"`+bobID+`\"]"}]}`); status != 200 && status != 204 {
		t.Fatalf("SCIM remove: %d %v", status, body)
	}
	if g := grants(bobID); g != "handmade:project_viewer:admin" {
		t.Fatalf("bob after leaving payments-devs: %s", g)
	}
}
