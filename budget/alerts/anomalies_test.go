package alerts

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/spendgate/spendgate/anomaly"
)

func TestAnomalyWebhookBodySlackGetsTextOnly(t *testing.T) {
	t.Parallel()
	a := anomaly.Alert{Type: anomaly.AlertType, EpisodeID: "e1", TenantID: "t1", Dimension: anomaly.DimKey, Value: "k1", Severity: anomaly.SeverityCritical,
		Hour: time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC), ObservedNanoUSD: 30e9, ExpectedNanoUSD: 3e9, Score: 12}
	want := "spendgate: critical anomaly: spend of key k1 was $30.00 in the hour from 2026-12-03 14:00 UTC, against $3.00 usual for that hour of the week"
	if got := a.Text(); got != want {
		t.Fatalf("text %q\nwant %q", got, want)
	}
	for url, wantStructured := range map[string]bool{
		"https://hooks.slack.com/services/T000/B000/XXXX": false,
		"https://example.com/hooks/spend":                 true,
	} {
		raw, err := anomalyWebhookBody(url, &a)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		var text string
		if err := json.Unmarshal(got["text"], &text); err != nil || text != want {
			t.Errorf("%s: text %q (%v)", url, text, err)
		}
		if _, has := got["anomaly"]; has != wantStructured || len(got) != map[bool]int{false: 1, true: 2}[wantStructured] {
			t.Errorf("%s: body %s", url, raw)
		}
	}
}
