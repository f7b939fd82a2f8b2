package apiserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/fakeprovider"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/reconcile"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/usage"
)

// Provider reconciliation through the API: GraphQL, the CSV export and the
// raw page download, with the fake provider's admin endpoints over HTTP.
func TestReconciliationOverTheAPI(t *testing.T) {
	const adminKey = "sk-admin-ApiHarnessSecret-Q7Z1"
	h := newFullHarness(t)
	fp := h.fake
	fp.SetAdminKey("openai", adminKey)
	today := reconcile.Day(time.Now())
	yesterday := today.AddDate(0, 0, -1)
	fp.SetAdminUsage("openai", []fakeprovider.AdminUsage{{Day: yesterday, Model: "gpt-4o-mini", InputTokens: 10, OutputTokens: 2, Requests: 1, CostNanoUSD: 1_500_000_000}})

	tokA, tenantA := h.owner("ann@example.com", "acme")
	tokB, tenantB := h.owner("bob@example.com", "beta")
	ev := event.Event{SchemaVersion: 1, Type: event.TypeUsage, EventID: uuid.NewString(), Time: yesterday.Add(time.Hour), Source: event.SourceGateway,
		TenantID: tenantA, KeyID: uuid.NewString(), Provider: "openai", Operation: "chat.completions", ModelRequested: "gpt-4o-mini",
		StatusCode: 200, Complete: true, Usage: usage.Tokens{Input: 10, Output: 2}}
	_, err := h.events.Write(context.Background(), []spend.PricedEvent{{Event: ev, Cost: pricing.Cost{Priced: true, ListNanoUSD: 1_000_000_000, TenantNanoUSD: 1_000_000_000}}})
	testenv.Must(t, err, "metered event")

	raw := h.gql(tokA, `mutation($t:ID!,$k:String!){createProviderConnection(tenantId:$t,input:{provider:"openai",name:"OpenAI org",adminKey:$k}){id adminKeyLast4 dataKeyLast4 lookbackDays lastRun{lastRunAt}}}`,
		map[string]any{"t": tenantA, "k": adminKey})
	if len(raw.Errors) > 0 {
		t.Fatalf("create: %+v", raw.Errors)
	}
	conn := raw.Data["createProviderConnection"].(map[string]any)
	if b, _ := json.Marshal(raw); strings.Contains(string(b), "ApiHarnessSecret") || conn["adminKeyLast4"] != "Q7Z1" || conn["dataKeyLast4"] != nil {
		t.Fatalf("create answered %s", b)
	}
	id := conn["id"].(string)
	d := h.must(tokA, `mutation($t:ID!,$id:ID!){syncProviderConnection(tenantId:$t,id:$id){pages rows alerts}}`, map[string]any{"t": tenantA, "id": id})
	if s := d["syncProviderConnection"].(map[string]any); s["rows"] != float64(1) || s["alerts"] != float64(1) {
		t.Fatalf("sync %+v", s)
	}
	d = h.must(tokA, `query($t:ID!,$f:Time!,$to:Time!){reconciliation(tenantId:$t,from:$f,to:$to){rows{model status meteredCost reportedCost drift driftPercent} totals{drift unmeteredCost} csvPath}
		driftAlerts(tenantId:$t){provider driftPercent thresholdPercent drift} reconcileSettings(tenantId:$t){driftThresholdPercent hasAlertWebhook}
		providerConnections(tenantId:$t){lastRun{lastOkAt pages rows lastError}}}`,
		map[string]any{"t": tenantA, "f": yesterday.Format(time.RFC3339), "to": today.Format(time.RFC3339)})
	rec := d["reconciliation"].(map[string]any)
	row := rec["rows"].([]any)[0].(map[string]any)
	if row["status"] != "MATCHED" || row["meteredCost"] != "1" || row["reportedCost"] != "1.5" || row["drift"] != "0.5" || row["driftPercent"] != "33.33" {
		t.Fatalf("row %+v", row)
	}
	if a := d["driftAlerts"].([]any); len(a) != 1 || a[0].(map[string]any)["thresholdPercent"] != "2.00" {
		t.Fatalf("alerts %+v", a)
	}
	if lr := d["providerConnections"].([]any)[0].(map[string]any)["lastRun"].(map[string]any); lr["lastOkAt"] == nil || lr["lastError"] != "" {
		t.Fatalf("last run %+v", lr)
	}

	fetch := func(tok, path string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", h.srv.URL+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		testenv.Must(t, err, "GET "+path)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := fetch(tokA, rec["csvPath"].(string))
	if resp.StatusCode != 200 || !strings.Contains(body, "openai,"+yesterday.Format(time.DateOnly)+",gpt-4o-mini,MATCHED,1,10,2,1,1,10,2,1.5,true,0.5,33.33") {
		t.Fatalf("csv %d:\n%s", resp.StatusCode, body)
	}
	if resp, _ := fetch(tokB, rec["csvPath"].(string)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("B's CSV of A: %d", resp.StatusCode)
	}

	d = h.must(tokA, `query($t:ID!){providerReportPages(tenantId:$t,first:10){id endpoint sha256 size downloadPath requestUrl}}`, map[string]any{"t": tenantA})
	pages := d["providerReportPages"].([]any)
	if len(pages) != 4 { // 4 days, 2 a page, usage and costs
		t.Fatalf("pages %+v", pages)
	}
	pg := pages[0].(map[string]any)
	resp, body = fetch(tokA, pg["downloadPath"].(string))
	sum := sha256.Sum256([]byte(body))
	if resp.StatusCode != 200 || hex.EncodeToString(sum[:]) != pg["sha256"] || resp.Header.Get("X-Spendgate-Sha256") != pg["sha256"] {
		t.Fatalf("download %d %s", resp.StatusCode, body)
	}
	otherPath := strings.Replace(pg["downloadPath"].(string), tenantA, tenantB, 1)
	if resp, _ := fetch(tokB, otherPath); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("B downloads A's page through its tenant: %d", resp.StatusCode)
	}
	if resp, _ := fetch("", pg["downloadPath"].(string)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous download: %d", resp.StatusCode)
	}
	if r := h.gql(tokB, `query($t:ID!){providerConnections(tenantId:$t){id}}`, map[string]any{"t": tenantA}); r.code() != "FORBIDDEN" {
		t.Fatalf("B lists A's connections: %+v", r)
	}
	if r := h.gql(tokA, `mutation($t:ID!){setReconcileSettings(tenantId:$t,input:{driftThresholdPercent:"2.005"}){driftThresholdPercent}}`,
		map[string]any{"t": tenantA}); r.code() != "INVALID_ARGUMENT" {
		t.Fatalf("three decimals: %+v", r)
	}
	if strings.Contains(h.logs.String(), "ApiHarnessSecret") {
		t.Fatal("the admin key is in the logs")
	}
}
