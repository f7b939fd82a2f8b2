package controlplane

import (
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/internal/testenv"
)

func TestAuditLogFilter(t *testing.T) {
	s, pool := newTestService(t)
	ctx, tenant := owner(t, s, "ann@example.com", "acme")
	otherCtx, other := owner(t, s, "bob@example.com", "other")
	k, err := s.CreateAPIKey(ctx, tenant, "search", KeyPolicy{}, nil, nil)
	testenv.Must(t, err, "key")
	_, err = s.RevokeAPIKey(ctx, tenant, k.Key.ID)
	testenv.Must(t, err, "revoke")
	_, err = s.CreateBudget(ctx, tenant, BudgetInput{Name: "monthly", Scope: "tenant", Period: "month", AmountNanoUSD: 5_000_000_000})
	testenv.Must(t, err, "budget")
	_, err = s.CreateAPIKey(otherCtx, other, "theirs", KeyPolicy{}, nil, nil)
	testenv.Must(t, err, "other tenant's key")
	// One entry of this tenant written a day ago by "system".
	_, err = pool.Exec(ctx, `INSERT INTO audit_log (tenant_id, actor, action, target_type, target_id, details, created_at)
		VALUES ($1, 'system', 'budget.delete', 'budget', 'b-old', '{}', now() - interval '1 day')`, tenant)
	testenv.Must(t, err, "old entry")

	hourAgo := time.Now().Add(-time.Hour)
	for name, tc := range map[string]struct {
		f    AuditFilter
		want string // actions, newest first
	}{
		"everything of the tenant, never the other's": {AuditFilter{}, "budget.create,api_key.revoke,api_key.create,tenant.create,budget.delete"},
		"one action exactly":                          {AuditFilter{Actions: []string{"api_key.create"}}, "api_key.create"},
		"an area by its prefix":                       {AuditFilter{Actions: []string{"api_key."}}, "api_key.revoke,api_key.create"},
		"an exact action and an area":                 {AuditFilter{Actions: []string{"budget.create", "api_key."}}, "budget.create,api_key.revoke,api_key.create"},
		"actor by part of the email, any case":        {AuditFilter{Actor: "ANN@"}, "budget.create,api_key.revoke,api_key.create,tenant.create"},
		"the system actor":                            {AuditFilter{Actor: "system"}, "budget.delete"},
		"a LIKE wildcard matches only itself":         {AuditFilter{Actor: "%"}, ""},
		"since an hour ago":                           {AuditFilter{From: &hourAgo}, "budget.create,api_key.revoke,api_key.create,tenant.create"},
		"before an hour ago":                          {AuditFilter{To: &hourAgo}, "budget.delete"},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := s.AuditLog(ctx, tenant, tc.f, Page{First: 50})
			testenv.Must(t, err, "audit log")
			var got []string
			for _, e := range c.Items {
				got = append(got, e.Action)
			}
			if strings.Join(got, ",") != tc.want {
				t.Fatalf("got %v, want %s", got, tc.want)
			}
		})
	}

	// Pages continue under the filter.
	first, err := s.AuditLog(ctx, tenant, AuditFilter{Actions: []string{"api_key."}}, Page{First: 1})
	testenv.Must(t, err, "page 1")
	if len(first.Items) != 1 || !first.HasNextPage {
		t.Fatalf("page 1: %+v", first)
	}
	second, err := s.AuditLog(ctx, tenant, AuditFilter{Actions: []string{"api_key."}}, Page{First: 1, After: first.Cursors[0]})
	testenv.Must(t, err, "page 2")
	if len(second.Items) != 1 || second.Items[0].Action != "api_key.create" || second.HasNextPage {
		t.Fatalf("page 2: %+v", second)
	}

	later := hourAgo.Add(-time.Minute)
	for name, f := range map[string]AuditFilter{
		"empty action":     {Actions: []string{" "}},
		"a lone dot":       {Actions: []string{"."}},
		"range ends first": {From: &hourAgo, To: &later},
		"very long actor":  {Actor: strings.Repeat("a", 321)},
		"too many actions": {Actions: strings.Split(strings.Repeat("x,", 51)[:101], ",")},
	} {
		_, err := s.AuditLog(ctx, tenant, f, Page{})
		wantCode(t, name, err, apierr.CodeInvalidArgument)
	}
	// The other tenant's owner cannot read this tenant's log, filtered or not.
	if _, err := s.AuditLog(otherCtx, tenant, AuditFilter{Actions: []string{"api_key."}}, Page{}); apierr.CodeOf(err) == "" {
		t.Fatal("another tenant's owner read this tenant's audit log")
	}
}
