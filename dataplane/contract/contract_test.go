package contract_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/dataplane/contract"
	"github.com/spendgate/spendgate/event"
)

// The filter writes reservation requests without encoding/json; the server
// reads them as budget.ReserveRequest with unknown fields refused.
func TestReserveRequestIsWhatTheServerReads(t *testing.T) {
	for name, in := range map[string]contract.ReserveRequest{
		"everything": {TenantID: "11111111-1111-1111-1111-111111111111", KeyID: "22222222-2222-2222-2222-222222222222",
			Dimensions: map[string]string{"team": "search \"a\"", "env": "prod"}, Provider: "openai", Model: "gpt-4o\n", MaxTokens: 512, InputTokensEstimate: 40},
		"no caps, no dimensions": {TenantID: "11111111-1111-1111-1111-111111111111", KeyID: "22222222-2222-2222-2222-222222222222", Provider: "anthropic", Model: "claude-haiku-4-5"},
	} {
		t.Run(name, func(t *testing.T) {
			var got budget.ReserveRequest
			dec := json.NewDecoder(bytesReader(in.AppendJSON(nil)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("server cannot read %s: %v", in.AppendJSON(nil), err)
			}
			want := budget.ReserveRequest{TenantID: in.TenantID, KeyID: in.KeyID, Dimensions: in.Dimensions, Provider: in.Provider,
				Model: in.Model, MaxTokens: in.MaxTokens, InputTokensEstimate: in.InputTokensEstimate}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("read %+v, want %+v", got, want)
			}
		})
	}
}

func TestParseReserveAnswer(t *testing.T) {
	for name, tt := range map[string]struct {
		status int
		body   string
		want   contract.ReserveAnswer
		err    bool
	}{
		"reserved":             {200, `{"reservation_id":"r1","amount_nano_usd":5}`, contract.ReserveAnswer{ReservationID: "r1"}, false},
		"budget full":          {409, `{"denied":true,"reason":"budget_exceeded","message":"full"}`, contract.ReserveAnswer{Denied: true, Reason: event.DenialBudgetExceeded, Message: "full"}, false},
		"store down":           {503, `{"denied":true,"reason":"budget_unavailable","message":"down"}`, contract.ReserveAnswer{Denied: true, Reason: event.DenialBudgetUnavailable, Message: "down"}, false},
		"unknown reason":       {409, `{"denied":true,"reason":"weird","message":"m"}`, contract.ReserveAnswer{Denied: true, Reason: event.DenialBudgetExceeded, Message: "m"}, false},
		"200 without an id":    {200, `{}`, contract.ReserveAnswer{}, true},
		"503 from a proxy":     {503, `upstream connect error`, contract.ReserveAnswer{}, true},
		"401 wrong token":      {401, `{"error":{"message":"a valid service token is required"}}`, contract.ReserveAnswer{}, true},
		"409 without a denial": {409, `{"denied":false}`, contract.ReserveAnswer{}, true},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := contract.ParseReserveAnswer(tt.status, []byte(tt.body))
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v, error %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestReleasePathRefusesWhatIsNotAnID(t *testing.T) {
	if p, err := contract.ReleasePath("0190a5b2-0000-7000-8000-000000000001"); err != nil || p != "/internal/v1/reservations/0190a5b2-0000-7000-8000-000000000001/release" {
		t.Fatalf("%q %v", p, err)
	}
	if _, err := contract.ReleasePath("../../events"); err == nil {
		t.Fatal("a path-changing id was accepted")
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
