package apiserver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/usage"
)

// Every analytics argument that cannot be answered as asked gets
// INVALID_ARGUMENT with a message that says what to change.
func TestAnalyticsBadInputs(t *testing.T) {
	t.Parallel()
	h := newFullHarness(t)
	token, tenant := h.owner("limits@example.com", "limits")
	cases := []struct {
		name, query, want string
	}{
		{"empty range", `query($t:ID!){spendSummary(tenantId:$t,from:"2026-02-01T00:00:00Z",to:"2026-01-01T00:00:00Z"){requests}}`, "must be before"},
		{"range too long", `query($t:ID!){spendSummary(tenantId:$t,from:"2024-01-01T00:00:00Z",to:"2026-01-01T00:00:00Z"){requests}}`, "at most 400 days"},
		{"too many buckets", `query($t:ID!){spendTimeSeries(tenantId:$t,from:"2025-01-01T00:00:00Z",to:"2026-01-01T00:00:00Z",bucket:HOUR){start}}`, "buckets"},
		{"unknown bucket", `query($t:ID!){spendTimeSeries(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-01-02T00:00:00Z",bucket:MINUTE){start}}`, "MINUTE"},
		{"dimension without a name", `query($t:ID!){spendBreakdown(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-01-02T00:00:00Z",groupBy:[{field:DIMENSION}]){total{requests}}}`, "needs dimension"},
		{"name on a non-dimension", `query($t:ID!){spendBreakdown(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-01-02T00:00:00Z",groupBy:[{field:MODEL,dimension:"x"}]){total{requests}}}`, "takes no dimension"},
		{"bad dimension name", `query($t:ID!){spendBreakdown(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-01-02T00:00:00Z",groupBy:[{field:DIMENSION,dimension:"x') OR 1=1"}]){total{requests}}}`, "letters, digits"},
		{"group-by twice", `query($t:ID!){spendBreakdown(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-01-02T00:00:00Z",groupBy:[{field:MODEL},{field:MODEL}]){total{requests}}}`, "twice"},
		{"too many group-bys", `query($t:ID!){spendBreakdown(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-01-02T00:00:00Z",groupBy:[{field:MODEL},{field:KEY},{field:PROVIDER},{field:STATUS},{field:SOURCE}]){total{requests}}}`, "at most 4"},
		{"no group-by", `query($t:ID!){spendBreakdown(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-01-02T00:00:00Z",groupBy:[]){total{requests}}}`, "at least one group-by"},
		{"top zero", `query($t:ID!){spendBreakdown(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-01-02T00:00:00Z",groupBy:[{field:MODEL}],top:0){total{requests}}}`, "top must be at least 1"},
		{"top too large", `query($t:ID!){spendBreakdown(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-01-02T00:00:00Z",groupBy:[{field:MODEL}],top:5000){total{requests}}}`, "at most 1000"},
		{"reason on usage", `query($t:ID!){spendBreakdown(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-01-02T00:00:00Z",groupBy:[{field:REASON}]){total{requests}}}`, "cannot group"},
		{"status on denials", `query($t:ID!){denials(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-01-02T00:00:00Z",filter:{statuses:[200]}){requests}}`, "cannot be filtered by status"},
		{"not an HTTP status", `query($t:ID!){spendSummary(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-01-02T00:00:00Z",filter:{statuses:[42]}){requests}}`, "not an HTTP status"},
		{"dimension filter without values", `query($t:ID!){spendSummary(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-01-02T00:00:00Z",filter:{dimensions:[{name:"team",values:[]}]}){requests}}`, "has no values"},
		{"page too large", `query($t:ID!){usageEvents(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-01-02T00:00:00Z",first:251){edges{cursor}}}`, "between 1 and 250"},
		{"foreign cursor", `query($t:ID!){usageEvents(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-01-02T00:00:00Z",after:"bm90LWEtY3Vyc29y"){edges{cursor}}}`, "not a cursor"},
		{"unknown event", `query($t:ID!){usageEvent(tenantId:$t,id:"no-such-event"){id}}`, "event not found"},
		{"history page", `query($t:ID!){budgetAlertHistory(tenantId:$t,first:0){id}}`, "first must be at least 1"},
		{"too complex", `query($t:ID!){spendTimeSeries(tenantId:$t,from:"2026-01-01T00:00:00Z",to:"2026-04-01T00:00:00Z",bucket:HOUR,
			groupBy:[{field:KEY},{field:MODEL}]){start keys labels totals{requests unpricedRequests listCost tenantCost inputTokens outputTokens}}}`, "complexity"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.gql(token, c.query, map[string]any{"t": tenant})
			want := "INVALID_ARGUMENT"
			if c.name == "unknown event" {
				want = "NOT_FOUND"
			}
			if r.code() != want || !strings.Contains(r.Errors[0].Message, c.want) {
				t.Fatalf("got %+v, want %s mentioning %q", r.Errors, want, c.want)
			}
		})
	}
}

// Admins see why ingest could not store an event and can publish it again.
func TestDeadLettersForAdmins(t *testing.T) {
	t.Parallel()
	h := newFullHarness(t)
	token, tenant := h.owner("dlq@example.com", "dlq")
	seq := h.deadLetter(tenant)
	d := h.must(token, `query($t:ID!){deadLetters(tenantId:$t){sequence at eventId reason deliveries payload}}`, map[string]any{"t": tenant})
	list := get(d, "deadLetters").([]any)
	if len(list) != 1 || get(list[0], "sequence") != seq || !strings.Contains(get(list[0], "reason").(string), "decod") ||
		get(list[0], "payload") != `{"event_id": "not-an-event` {
		t.Fatalf("dead letters %v", d)
	}
	d = h.must(token, `mutation($t:ID!,$s:ID!){replayDeadLetter(tenantId:$t,sequence:$s)}`, map[string]any{"t": tenant, "s": seq})
	if get(d, "replayDeadLetter") != true {
		t.Fatalf("replay %v", d)
	}
	if r := h.gql(token, `mutation($t:ID!){replayDeadLetter(tenantId:$t,sequence:"999999")}`, map[string]any{"t": tenant}); r.code() != "NOT_FOUND" {
		t.Fatalf("unknown dead letter: %+v", r)
	}
	if r := h.gql(token, `mutation($t:ID!){replayDeadLetter(tenantId:$t,sequence:"x")}`, map[string]any{"t": tenant}); r.code() != "INVALID_ARGUMENT" {
		t.Fatalf("bad sequence: %+v", r)
	}
}

// The admin's path for an unknown model: it shows in unknownModels, a
// pricing override gives it a price, repriceUnpricedEvents adds the cost,
// and the event explains the new cost.
func TestRepriceThroughGraphQL(t *testing.T) {
	t.Parallel()
	h := newFullHarness(t)
	token, tenant := h.owner("reprice@example.com", "reprice")
	at := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	_, err := h.events.Write(context.Background(), []spend.PricedEvent{{Event: event.Event{SchemaVersion: event.SchemaVersion,
		Type: event.TypeUsage, EventID: "ev-acme", Time: at, Source: event.SourceGateway, TenantID: tenant, KeyID: uuid.NewString(),
		Provider: "openai", Operation: "chat.completions", ModelRequested: "acme-llm", StatusCode: 200, Complete: true,
		Usage: usage.Tokens{Input: 500_000, Output: 50_000}, RawUsage: `{"prompt_tokens":500000,"completion_tokens":50000}`}}})
	testenv.Must(t, err, "write")
	vars := map[string]any{"t": tenant}
	// Each analytics field says what answered it: the whole month from the
	// monthly rollup; from mid-morning, hourly rollups (key × team: the
	// keydims family) and raw minutes; an hourly series by team where model
	// from the onedim family; the unknown models from raw events.
	res := h.gql(token, `query($t:ID!){unknownModels(tenantId:$t,`+month+`){model} month:spendSummary(tenantId:$t,`+month+`){requests}
		ragged:spendBreakdown(tenantId:$t,from:"2026-01-10T09:30:00Z",to:"2026-01-11T00:00:00Z",groupBy:[{field:DIMENSION,dimension:"team"},{field:KEY}]){total{requests}}
		series:spendTimeSeries(tenantId:$t,from:"2026-01-10T00:00:00Z",to:"2026-01-11T00:00:00Z",bucket:HOUR,groupBy:[{field:DIMENSION,dimension:"team"}],
			filter:{models:["acme-llm"]}){start}}`, vars)
	if len(res.Errors) > 0 {
		t.Fatalf("errors %v", res.Errors)
	}
	if got := toJSON(res.Extensions["spendSources"]); got != `[{"field":"month","source":"rollup","tables":["usage_dims_monthly"]},`+
		`{"field":"ragged","source":"rollup+raw","tables":["usage_events","usage_keydims_hourly"]},`+
		`{"field":"series","source":"rollup","tables":["usage_onedim_hourly"]},`+
		`{"field":"unknownModels","source":"raw","tables":["usage_events"]}]` {
		t.Fatalf("spendSources %s", got)
	}
	d := h.must(token, `query($t:ID!){unknownModels(tenantId:$t,`+month+`){model requests} spendSummary(tenantId:$t,`+month+`){unpricedRequests tenantCost}}`, vars)
	if toJSON(d) != `{"spendSummary":{"tenantCost":"0","unpricedRequests":1},"unknownModels":[{"model":"acme-llm","requests":1}]}` {
		t.Fatalf("before: %s", toJSON(d))
	}
	h.must(token, `mutation($t:ID!){createPricingOverride(tenantId:$t,input:{model:"acme-llm",effectiveFrom:"2026-01-01T00:00:00Z",
		rates:[{class:"input",perMillion:"1"},{class:"output",perMillion:"4"}]}){id}}`, vars)
	d = h.must(token, `mutation($t:ID!){repriceUnpricedEvents(tenantId:$t,`+month+`){examined repriced stillUnpriced listCost tenantCost}}`, vars)
	if toJSON(d) != `{"repriceUnpricedEvents":{"examined":1,"listCost":"0.7","repriced":1,"stillUnpriced":0,"tenantCost":"0.7"}}` {
		t.Fatalf("reprice: %s", toJSON(d))
	}
	d = h.must(token, `query($t:ID!){unknownModels(tenantId:$t,`+month+`){model} spendSummary(tenantId:$t,`+month+`){unpricedRequests tenantCost}
		usageEvent(tenantId:$t,id:"ev-acme"){priced repriced tenantCost rawUsage costLines{class quantity amount}}}`, vars)
	if toJSON(d) != `{"spendSummary":{"tenantCost":"0.7","unpricedRequests":0},"unknownModels":[],"usageEvent":{"costLines":[{"amount":"0.5","class":"input","quantity":500000},{"amount":"0.2","class":"output","quantity":50000}],"priced":true,"rawUsage":"{\"prompt_tokens\":500000,\"completion_tokens\":50000}","repriced":true,"tenantCost":"0.7"}}` {
		t.Fatalf("after: %s", toJSON(d))
	}
}
