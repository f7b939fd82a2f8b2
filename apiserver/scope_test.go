package apiserver

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/usage"
)

// TestProjectMemberScope runs every tenant-scoped operation of the schema as
// a project member of tenant B's project against the objects of a sibling
// project (its key, budget, usage event and the project itself): no answer
// may hold anything of the sibling, every mutation is refused (FORBIDDEN, or
// NOT_FOUND for what the member cannot see), and B is unchanged. Controls
// show the member does see its own project.
func TestProjectMemberScope(t *testing.T) {
	w := newWorld(t)
	h := w.h
	// The sibling project with a key, a budget and spend; spend of the
	// member's own project too.
	d := h.must(w.bob, `mutation($t:ID!,$p:ID!){createOrgNode(tenantId:$t,kind:PROJECT,parentId:$p,name:"sibling project"){id}}`, map[string]any{"t": w.tenantB, "p": w.bTeam})
	sibling := get(d, "createOrgNode", "id").(string)
	d = h.must(w.bob, `mutation($t:ID!,$p:ID!){createAPIKey(tenantId:$t,name:"sibling key",projectId:$p){key{id}}}`, map[string]any{"t": w.tenantB, "p": sibling})
	siblingKey := get(d, "createAPIKey", "key", "id").(string)
	d = h.must(w.bob, `mutation($t:ID!,$p:ID!){createBudget(tenantId:$t,input:{name:"sibling budget",scope:PROJECT,projectId:$p,period:QUARTER,amount:"9"}){id}}`, map[string]any{"t": w.tenantB, "p": sibling})
	siblingBudget := get(d, "createBudget", "id").(string)
	d = h.must(w.bob, `mutation($t:ID!,$p:ID!){createBudget(tenantId:$t,input:{name:"own budget",scope:PROJECT,projectId:$p,period:YEAR,amount:"7",rollover:true}){id}}`, map[string]any{"t": w.tenantB, "p": w.bProject})
	ownBudget := get(d, "createBudget", "id").(string)
	var wsID string
	for _, n := range get(h.must(w.bob, `query($t:ID!){orgTree(tenantId:$t){id kind}}`, map[string]any{"t": w.tenantB}), "orgTree").([]any) {
		if get(n, "kind") == "WORKSPACE" {
			wsID = get(n, "id").(string)
		}
	}
	at := time.Date(2026, 1, 20, 12, 0, 0, 0, time.UTC)
	siblingEvent, ownEvent := uuid.NewString(), uuid.NewString()
	ev := func(id, key, project string, cost int64) spend.PricedEvent {
		return spend.PricedEvent{Event: event.Event{SchemaVersion: event.SchemaVersion, Type: event.TypeUsage, EventID: id, Time: at,
			Source: event.SourceGateway, TenantID: w.tenantB, KeyID: key, WorkspaceID: wsID, TeamID: w.bTeam, ProjectID: project,
			Provider: "openai", Operation: "chat.completions", ModelRequested: "gpt-4o", StatusCode: 200, Complete: true,
			Usage: usage.Tokens{Input: 10, Output: 5}}, Cost: pricing.Cost{Priced: true, Model: "gpt-4o", ListNanoUSD: cost, TenantNanoUSD: cost}}
	}
	if _, err := h.events.Write(context.Background(), []spend.PricedEvent{ev(siblingEvent, siblingKey, sibling, 900_000), ev(ownEvent, w.bKey, w.bProject, 11_000)}); err != nil {
		t.Fatal(err)
	}
	d = h.must(w.bob, `mutation($t:ID!){addMember(tenantId:$t,email:"henry@example.com",password:"henry-password",role:MEMBER){user{id}}}`, map[string]any{"t": w.tenantB})
	henryID := get(d, "addMember", "user", "id").(string)
	h.must(w.bob, `mutation($t:ID!,$u:ID!,$p:ID!){grantRole(tenantId:$t,userId:$u,role:PROJECT_MEMBER,nodeId:$p){role}}`, map[string]any{"t": w.tenantB, "u": henryID, "p": w.bProject})
	henry := h.signIn("henry@example.com", "henry-password")

	// Controls: henry sees his project's key, budget, spend and event.
	own := h.must(henry, `query($t:ID!,$e:ID!){apiKeys(tenantId:$t){edges{node{id}}} budgets(tenantId:$t){edges{node{id}}}
		spendSummary(tenantId:$t,`+month+`){requests tenantCost} usageEvent(tenantId:$t,id:$e){id}
		spendBreakdown(tenantId:$t,`+month+`,groupBy:[{field:PROJECT}]){groups{keys labels}}}`, map[string]any{"t": w.tenantB, "e": ownEvent})
	if s := toJSON(own); !strings.Contains(s, w.bKey) || !strings.Contains(s, ownBudget) || get(own, "spendSummary", "tenantCost") != "0.000011" ||
		!strings.Contains(s, `"labels":["bob project"]`) {
		t.Fatalf("henry's own project: %s", s)
	}
	whole := h.must(w.bob, `query($t:ID!){spendSummary(tenantId:$t,`+month+`){tenantCost}}`, map[string]any{"t": w.tenantB})
	if get(whole, "spendSummary", "tenantCost") == "0.000011" {
		t.Fatalf("the tenant's spend must include the sibling's: %v", whole)
	}

	secrets := []string{sibling, siblingKey, siblingBudget, siblingEvent, "sibling"}
	objs := map[string]any{"key": siblingKey, "budget": siblingBudget, "event": siblingEvent, "node": sibling, "team": w.bTeam,
		"override": w.objs["override"], "user": w.bobID, "dead": w.objs["dead"], "mapping": w.objs["mapping"], "grantee": w.objs["grantee"], "scim": w.objs["scim"],
		"rec": w.objs["rec"], "invoice": w.objs["invoice"], "conn": w.objs["conn"], "report": w.objs["report"]}
	before := w.snapshotB()
	for _, o := range tenantOps {
		t.Run(o.field, func(t *testing.T) {
			v := vars(o.query, objs)
			v["t"] = w.tenantB
			r := h.run(henry, o.query, v, w.alertB)
			for _, s := range secrets {
				if strings.Contains(toJSON(r.Data), s) {
					t.Fatalf("a project member saw the sibling (%q): %v", s, r.Data)
				}
			}
			if strings.HasPrefix(o.field, "Mutation.") && r.code() != "FORBIDDEN" && r.code() != "NOT_FOUND" {
				t.Fatalf("a project member's mutation on the sibling or the tenant: want FORBIDDEN or NOT_FOUND, got %+v %v", r.Errors, r.Data)
			}
		})
	}
	if after := w.snapshotB(); after != before {
		t.Fatalf("a project member changed tenant B:\n before %s\n after  %s", before, after)
	}
	// CSV by level: the owner's export has both projects by name, the
	// member's only his own, even when he asks for the sibling.
	csv := func(token, query string) string {
		req, _ := http.NewRequest("GET", h.srv.URL+"/export/spend.csv?tenantId="+w.tenantB+"&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&"+query, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("csv %s: %d %s", query, resp.StatusCode, b)
		}
		return string(b)
	}
	if all := csv(w.bob, "groupBy=team,project"); !strings.Contains(all, "sibling project") || !strings.Contains(all, "bob project") || !strings.Contains(all, "bob team") {
		t.Fatalf("owner's CSV by team and project:\n%s", all)
	}
	for _, q := range []string{"groupBy=project", "groupBy=project&project=" + sibling, "bucket=day&groupBy=team"} {
		if mine := csv(henry, q); strings.Contains(mine, "sibling") || strings.Contains(mine, "0.0009") {
			t.Fatalf("henry's CSV (%s) holds the sibling:\n%s", q, mine)
		}
	}
	// Filtering by the sibling yields nothing, not its spend.
	d = h.must(henry, `query($t:ID!,$p:ID!){spendSummary(tenantId:$t,`+month+`,filter:{projectIds:[$p]}){requests}}`, map[string]any{"t": w.tenantB, "p": sibling})
	if get(d, "spendSummary", "requests") != 0.0 {
		t.Fatalf("henry filtering by the sibling: %v", d)
	}
}
