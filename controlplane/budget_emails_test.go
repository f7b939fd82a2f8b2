package controlplane

import (
	"strings"
	"testing"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/internal/testenv"
)

// Alert emails are accepted only when the server can send email, as bare
// addresses without repeats; they are stored and audited with the budget.
func TestBudgetAlertEmails(t *testing.T) {
	s, pool := newTestService(t)
	ctx, tenant := owner(t, s, "ann@example.com", "acme")
	in := func(emails ...string) BudgetInput {
		return BudgetInput{Name: "b", Scope: "tenant", Period: "month", AmountNanoUSD: 1_000_000_000, AlertEmails: emails}
	}
	_, err := s.CreateBudget(ctx, tenant, in("finance@example.com"))
	wantCode(t, "without SMTP", err, apierr.CodeInvalidArgument)
	if !strings.Contains(err.Error(), "--smtp-host") {
		t.Fatalf("message does not say what to do: %v", err)
	}
	s.SetAlertEmail(true)
	for what, emails := range map[string][]string{
		"a display name": {"Finance <finance@example.com>"},
		"no domain":      {"finance"},
		"twice":          {"a@example.com", "A@example.com"},
	} {
		_, err := s.CreateBudget(ctx, tenant, in(emails...))
		wantCode(t, what, err, apierr.CodeInvalidArgument)
	}
	b, err := s.CreateBudget(ctx, tenant, in(" finance@example.com", "oncall@example.com"))
	testenv.Must(t, err, "create")
	if strings.Join(b.AlertEmails, ",") != "finance@example.com,oncall@example.com" {
		t.Fatalf("stored %v", b.AlertEmails)
	}
	b, err = s.UpdateBudget(ctx, tenant, b.ID, in())
	testenv.Must(t, err, "update")
	if b.AlertEmails == nil || len(b.AlertEmails) != 0 {
		t.Fatalf("cleared %v", b.AlertEmails)
	}
	var details string
	testenv.Must(t, pool.QueryRow(ctx, `SELECT details::text FROM audit_log WHERE action = 'budget.create' AND tenant_id = $1`, tenant).Scan(&details), "audit")
	if !strings.Contains(details, "oncall@example.com") {
		t.Fatalf("audit details %s", details)
	}
}
