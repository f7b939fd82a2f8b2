package apiserver

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spendgate/spendgate/anomaly"
	anomalypg "github.com/spendgate/spendgate/anomaly/pgstore"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/usage"
)

// TestIntelligenceAPI: a tenant's recommendations with exact savings, apply
// and dismiss (who and when), its anomaly episodes with their labels, a
// live anomaly alert, the month-end forecast and the budget's band and
// exceed date, all over GraphQL; another tenant sees none of it.
func TestIntelligenceAPI(t *testing.T) {
	h := newFullHarness(t)
	ctx := context.Background()
	alice, ta := h.owner("alice@example.com", "intel-a")
	bob, tb := h.owner("bob@example.com", "intel-b")
	d := h.must(alice, createKey, map[string]any{"t": ta, "n": "batch worker"})
	key := get(d, "createAPIKey", "key", "id").(string)

	// 1000 gpt-4o calls of 3000 input / 100 output tokens, none streamed,
	// in the last 30 days (recommend's TestSavingsExact).
	base := time.Now().UTC().Truncate(time.Hour)
	var evs []spend.PricedEvent
	for i := range 1000 {
		e := event.Event{SchemaVersion: event.SchemaVersion, Type: event.TypeUsage, EventID: uuid.NewString(), Time: base.Add(-time.Duration(i+1) * 30 * time.Minute),
			Source: event.SourceGateway, TenantID: ta, KeyID: key, Provider: "openai", Operation: "chat.completions", ModelRequested: "gpt-4o",
			StatusCode: 200, Complete: true, Usage: usage.Tokens{Input: 3000, Output: 100}}
		evs = append(evs, spend.PricedEvent{Event: e, Cost: pricing.Default().Cost(pricing.Request{Provider: "openai", Model: "gpt-4o", Time: e.Time}, e.Usage, nil)})
	}
	_, err := h.events.Write(ctx, evs)
	testenv.Must(t, err, "events")
	testenv.Must(t, h.recommendations.RunOnce(ctx), "refresh recommendations")

	q := `query($t:ID!,$s:RecommendationState){recommendations(tenantId:$t,state:$s){id kind monthlySavings currentMonthlyCost keyName alternative state stateChangedBy stateChangedAt}}`
	list := get(h.must(alice, q, map[string]any{"t": ta}), "recommendations").([]any)
	want := map[string]string{"CHEAPER_MODEL": "7.99", "BATCH_API": "4.25", "PROMPT_CACHING": "1.875"}
	if len(list) != len(want) {
		t.Fatalf("recommendations %v", list)
	}
	ids := map[string]string{}
	for _, r := range list {
		kind := get(r, "kind").(string)
		if get(r, "monthlySavings") != want[kind] || get(r, "keyName") != "batch worker" || get(r, "state") != "OPEN" || get(r, "currentMonthlyCost") != "8.5" {
			t.Errorf("%s: %v", kind, r)
		}
		ids[kind] = get(r, "id").(string)
	}
	if get(list[0], "alternative") != "gpt-4o-mini" {
		t.Errorf("the largest saving first, to gpt-4o-mini: %v", list[0])
	}
	m := `mutation($t:ID!,$id:ID!,$s:RecommendationState!){setRecommendationState(tenantId:$t,id:$id,state:$s){state stateChangedBy stateChangedAt}}`
	d = h.must(alice, m, map[string]any{"t": ta, "id": ids["BATCH_API"], "s": "APPLIED"})
	if get(d, "setRecommendationState", "state") != "APPLIED" || get(d, "setRecommendationState", "stateChangedBy") != "alice@example.com" ||
		get(d, "setRecommendationState", "stateChangedAt") == nil {
		t.Fatalf("applied: %v", d)
	}
	h.must(alice, m, map[string]any{"t": ta, "id": ids["PROMPT_CACHING"], "s": "DISMISSED"})
	if open := get(h.must(alice, q, map[string]any{"t": ta, "s": "OPEN"}), "recommendations").([]any); len(open) != 1 {
		t.Fatalf("open after apply and dismiss: %v", open)
	}
	if r := h.gql(alice, m, map[string]any{"t": ta, "id": uuid.NewString(), "s": "APPLIED"}); r.code() != "NOT_FOUND" {
		t.Fatalf("unknown recommendation: %+v", r)
	}
	if got := get(h.must(bob, q, map[string]any{"t": tb}), "recommendations").([]any); len(got) != 0 {
		t.Fatalf("bob's tenant lists %v", got)
	}

	// An anomaly episode of the key, labelled with the key's name.
	st := anomalypg.New(h.pool)
	hour := base.Add(-2 * time.Hour)
	_, err = st.Save(ctx, ta, hour, []anomalypg.Change{{Step: anomaly.StepOpened, Episode: &anomaly.Episode{TenantID: ta,
		Series: anomaly.SeriesKey{Dimension: anomaly.DimKey, Value: key}, StartedAt: hour, LastAnomalousAt: hour, PeakHour: hour,
		PeakNanoUSD: 40e9, PeakExpectedNanoUSD: 4e9, PeakScore: 11, Severity: anomaly.SeverityCritical, ExcessNanoUSD: 36e9, AnomalousHours: 1, DetectedAt: base}}})
	testenv.Must(t, err, "episode")
	aq := `query($t:ID!,$f:Time!,$to:Time!){anomalies(tenantId:$t,from:$f,to:$to){dimension value label severity peakSpend peakExpected endedAt}}`
	window := map[string]any{"t": ta, "f": base.Add(-24 * time.Hour).Format(time.RFC3339), "to": base.Format(time.RFC3339)}
	eps := get(h.must(alice, aq, window), "anomalies").([]any)
	if len(eps) != 1 || get(eps[0], "label") != "batch worker" || get(eps[0], "severity") != "CRITICAL" || get(eps[0], "peakSpend") != "40.00" && get(eps[0], "peakSpend") != "40" {
		t.Fatalf("anomalies %v", eps)
	}
	window["t"] = tb
	if got := get(h.must(bob, aq, window), "anomalies").([]any); len(got) != 0 {
		t.Fatalf("bob's tenant sees anomalies %v", got)
	}
	window["t"], window["to"] = ta, window["f"]
	if r := h.gql(alice, aq, window); r.code() != "INVALID_ARGUMENT" {
		t.Fatalf("an empty window: %+v", r)
	}

	// Live: the anomaly alert as the dispatcher publishes it.
	r := h.subscribe(alice, `subscription($t:ID!){anomalyAlerts(tenantId:$t){dimension value severity observed text}}`, map[string]any{"t": ta}, func() {
		h.publishAnomaly(anomaly.Alert{Type: anomaly.AlertType, EpisodeID: uuid.NewString(), TenantID: ta, Dimension: anomaly.DimKey, Value: key,
			Severity: anomaly.SeverityCritical, Hour: hour, ObservedNanoUSD: 40e9, ExpectedNanoUSD: 4e9, Score: 11})
	})
	if len(r.Errors) > 0 || get(r.Data, "anomalyAlerts", "value") != key || get(r.Data, "anomalyAlerts", "severity") != "CRITICAL" {
		t.Fatalf("live anomaly alert: %+v %v", r.Errors, r.Data)
	}

	// Forecasts: the tenant's month and a budget's band and exceed date.
	f := get(h.must(alice, `query($t:ID!){spendForecast(tenantId:$t){spent expected low high method}}`, map[string]any{"t": ta}), "spendForecast")
	if get(f, "method") != "WEEKDAY" {
		t.Fatalf("forecast %v", f)
	}
	h.must(alice, `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"tiny",scope:TENANT,period:MONTH,amount:"0.01"}){id}}`, map[string]any{"t": ta})
	bs := get(h.must(alice, `query($t:ID!){budgetStatuses(tenantId:$t){forecast forecastLow forecastHigh willExceedOn forecastMethod}}`, map[string]any{"t": ta}), "budgetStatuses").([]any)
	if len(bs) != 1 || get(bs[0], "forecastMethod") != "WEEKDAY" {
		t.Fatalf("budget statuses %v", bs)
	}
	// The budget has no spend counted (the events went straight to
	// ClickHouse), but its history does: it will exceed $0.01 today.
	today := base.Truncate(24 * time.Hour).Format(time.RFC3339)
	if get(bs[0], "willExceedOn") != today {
		t.Fatalf("will exceed on %v, want %s", get(bs[0], "willExceedOn"), today)
	}
}
