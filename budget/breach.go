package budget

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Breach is the event a hard budget's breach webhook receives, once per
// budget and period, when what the budget counts (Counted) reaches its cap.
// It names what to revoke: the keys the budget covers are listed for a key
// budget; for tenant and provider budgets Scope says which spend tripped it
// (an external workflow revokes the provider keys it holds for that
// scope). The JSON is documented in docs/budgets.md.
type Breach struct {
	// EventID is unique per budget and period: receivers deduplicate on it
	// (a delivery is retried until it is answered 2xx).
	EventID  string      `json:"event_id"`
	Type     string      `json:"type"` // "budget.hard_cap_breached"
	TenantID string      `json:"tenant_id"`
	Budget   BreachScope `json:"budget"`
	// PeriodStart and PeriodEnd bound the budget period (UTC).
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	// LimitNanoUSD is the cap (amount plus rollover).
	LimitNanoUSD int64 `json:"limit_nano_usd"`
	// Metered, Reported and Counted are the period's figures when the
	// breach was recorded; Counted is what the cap was compared with.
	MeteredNanoUSD  int64      `json:"metered_nano_usd"`
	ReportedNanoUSD int64      `json:"reported_nano_usd"`
	CountedNanoUSD  int64      `json:"counted_nano_usd"`
	SpendBasis      SpendBasis `json:"spend_basis"`
	// KeyIDs are the spendgate keys the budget covers when it names them
	// (a key budget); empty otherwise.
	KeyIDs     []string  `json:"key_ids"`
	OccurredAt time.Time `json:"occurred_at"`
}

// BreachScope is the budget of a Breach.
type BreachScope struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Scope          Scope  `json:"scope"`
	Period         Period `json:"period"`
	Provider       string `json:"provider,omitempty"`
	Model          string `json:"model,omitempty"`
	WorkspaceID    string `json:"workspace_id,omitempty"`
	TeamID         string `json:"team_id,omitempty"`
	ProjectID      string `json:"project_id,omitempty"`
	KeyID          string `json:"key_id,omitempty"`
	DimensionName  string `json:"dimension_name,omitempty"`
	DimensionValue string `json:"dimension_value,omitempty"`
}

// BreachType is Breach.Type.
const BreachType = "budget.hard_cap_breached"

// ScopeOf is what a Breach says about b.
func ScopeOf(b *Budget) BreachScope {
	return BreachScope{ID: b.ID, Name: b.Name, Scope: b.Scope, Period: b.Period, Provider: b.Provider, Model: b.Model,
		WorkspaceID: b.WorkspaceID, TeamID: b.TeamID, ProjectID: b.ProjectID, KeyID: b.KeyID,
		DimensionName: b.DimensionName, DimensionValue: b.DimensionValue}
}

// SignatureHeader carries a breach delivery's signature:
//
//	Spendgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
//
// The timestamp is signed with the body so a receiver can refuse replays
// older than it tolerates.
const SignatureHeader = "Spendgate-Signature"

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifySignature checks a SignatureHeader value against body and returns
// its time; a receiver should also refuse times too far from its clock.
func VerifySignature(secret []byte, header string, body []byte) (time.Time, error) {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return time.Time{}, fmt.Errorf("%w: malformed %s header", ErrInvalid, SignatureHeader)
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(secret, ts, body)) {
		return time.Time{}, fmt.Errorf("%w: signature does not match", ErrInvalid)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// Breached reports whether a hard budget's counted spend reached its cap.
func (b *Budget) Breached(limit, counted int64) bool { return b.Hard && counted >= limit }

// BreachDelivery is one breach webhook call to make: the recorded body,
// sent byte for byte on every attempt, and the budget's signing secret as
// sealed (package secrets; opened only by the dispatcher).
type BreachDelivery struct {
	EventID, BudgetID, TenantID string
	Payload                     []byte
	SecretSealed                string
}

// BreachSecretAAD is the associated data a budget's breach signing secret
// is sealed under: a sealed value copied to another budget does not open.
func BreachSecretAAD(budgetID string) string { return "budget-breach-secret/" + budgetID }

// BreachRecord is a recorded breach with its webhook delivery, for the
// API: Breach is what was (or will be) sent.
type BreachRecord struct {
	Breach
	// Webhook is false when the budget had no breach webhook: the breach
	// is recorded (and audited) but nothing is called.
	Webhook     bool
	Attempts    int
	DeliveredAt *time.Time
	FailedAt    *time.Time // gave up after the dispatcher's attempts
	LastError   string
}
