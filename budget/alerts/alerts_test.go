package alerts

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/spendgate/spendgate/budget"
)

func TestWebhookBodySlackGetsTextOnly(t *testing.T) {
	t.Parallel()
	a := budget.Alert{ID: 7, BudgetName: "prod", Threshold: 80, SpentNanoUSD: 8e9, AmountNanoUSD: 10e9,
		PeriodStart: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), PeriodEnd: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	for url, wantAlerts := range map[string]bool{
		"https://hooks.slack.com/services/T000/B000/XXXX": false,
		"https://HOOKS.SLACK.COM/services/T000/B000/XXXX": false,
		"https://example.com/hooks/budget":                true,
		"https://hooks.slack.com.evil.example/x":          true,
	} {
		raw, err := webhookBody(url, []budget.Alert{a})
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		var text string
		if err := json.Unmarshal(got["text"], &text); err != nil || text != a.Text() {
			t.Errorf("%s: text %q (%v)", url, text, err)
		}
		if _, has := got["alerts"]; has != wantAlerts || len(got) != map[bool]int{false: 1, true: 2}[wantAlerts] {
			t.Errorf("%s: body %s", url, raw)
		}
	}
}
