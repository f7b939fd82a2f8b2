package controlplane

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/egress"
	"github.com/spendgate/spendgate/internal/pgtest"
	"github.com/spendgate/spendgate/internal/testenv"
)

// newTestService returns a service on a fresh, migrated database.
func newTestService(t testing.TB) (*Service, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.Migrated(t)
	tokens, err := auth.NewTokens([]byte(strings.Repeat("j", 32)))
	testenv.Must(t, err, "tokens")
	s, err := New(pool, []byte("pepper-pepper-pepper"), tokens, slog.New(slog.NewTextHandler(io.Discard, nil)))
	testenv.Must(t, err, "service")
	return s, pool
}

// owner bootstraps a tenant and returns a context signed in as its owner.
func owner(t testing.TB, s *Service, email, slug string) (context.Context, string) {
	t.Helper()
	u, tn, err := s.CreateOwner(context.Background(), email, "password-123", "Tenant "+slug, slug)
	testenv.Must(t, err, "create owner")
	return auth.WithPrincipal(context.Background(), auth.Principal{UserID: u.ID, Email: u.Email}), tn.ID
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if apierr.CodeOf(err) != code {
		t.Fatalf("%s: want %s, got %v", what, code, err)
	}
}

func TestKeyRateLimits(t *testing.T) {
	s, _ := newTestService(t)
	ctx, tenant := owner(t, s, "ann@example.com", "acme")
	k, err := s.CreateAPIKey(ctx, tenant, "limited", KeyPolicy{RequestsPerMinute: 600, TokensPerMinute: 2_000_000}, nil, nil)
	testenv.Must(t, err, "create")
	if k.Key.Policy.RequestsPerMinute != 600 || k.Key.Policy.TokensPerMinute != 2_000_000 {
		t.Fatalf("created policy %+v", k.Key.Policy)
	}
	rec, err := s.VerifyKey(ctx, k.Secret)
	if err != nil || rec == nil || rec.Policy.RequestsPerMinute != 600 || rec.Policy.TokensPerMinute != 2_000_000 {
		t.Fatalf("verified record %+v %v", rec, err)
	}
	upd, err := s.UpdateAPIKeyPolicy(ctx, tenant, k.Key.ID, KeyPolicy{RequestsPerMinute: 60})
	testenv.Must(t, err, "update")
	if upd.Policy.RequestsPerMinute != 60 || upd.Policy.TokensPerMinute != 0 {
		t.Fatalf("updated policy %+v", upd.Policy)
	}
	// The update evicted the cached record: the data plane sees the new limits at once.
	if rec, _ := s.VerifyKey(ctx, k.Secret); rec.Policy.RequestsPerMinute != 60 || rec.Policy.TokensPerMinute != 0 {
		t.Fatalf("stale record after update %+v", rec.Policy)
	}
	// Rotation keeps the limits.
	rot, err := s.RotateAPIKey(ctx, tenant, k.Key.ID)
	testenv.Must(t, err, "rotate")
	if rot.Key.Policy.RequestsPerMinute != 60 {
		t.Fatalf("rotated policy %+v", rot.Key.Policy)
	}
	for name, p := range map[string]KeyPolicy{
		"negative rpm": {RequestsPerMinute: -1},
		"huge rpm":     {RequestsPerMinute: maxRequestsPerMinute + 1},
		"negative tpm": {TokensPerMinute: -5},
		"huge tpm":     {TokensPerMinute: maxTokensPerMinute + 1},
	} {
		_, err := s.CreateAPIKey(ctx, tenant, "bad", p, nil, nil)
		wantCode(t, name, err, apierr.CodeInvalidArgument)
		if !strings.Contains(err.Error(), "PerMinute") {
			t.Errorf("%s: message does not name the field: %v", name, err)
		}
	}
}

func TestBudgetsCoveringKey(t *testing.T) {
	s, _ := newTestService(t)
	ctx, tenant := owner(t, s, "ann@example.com", "acme")
	search, err := s.CreateAPIKey(ctx, tenant, "search", KeyPolicy{DefaultDimensions: map[string]string{"team": "search", "env": "prod"}}, nil, nil)
	testenv.Must(t, err, "key")
	ads, err := s.CreateAPIKey(ctx, tenant, "ads", KeyPolicy{DefaultDimensions: map[string]string{"team": "ads"}}, nil, nil)
	testenv.Must(t, err, "key")
	str := func(v string) *string { return &v }
	mk := func(in BudgetInput) string {
		t.Helper()
		in.Period, in.AmountNanoUSD = "month", 1_000_000_000
		b, err := s.CreateBudget(ctx, tenant, in)
		testenv.Must(t, err, "budget "+in.Name)
		return b.ID
	}
	whole := mk(BudgetInput{Name: "whole tenant", Scope: "tenant"})
	ownCap := mk(BudgetInput{Name: "search key", Scope: "key", KeyID: &search.Key.ID})
	mk(BudgetInput{Name: "ads key", Scope: "key", KeyID: &ads.Key.ID})
	teamSearch := mk(BudgetInput{Name: "team search", Scope: "dimension", DimensionName: str("team"), DimensionVal: str("search")})
	mk(BudgetInput{Name: "team ads", Scope: "dimension", DimensionName: str("team"), DimensionVal: str("ads")})
	mk(BudgetInput{Name: "env staging", Scope: "dimension", DimensionName: str("env"), DimensionVal: str("staging")})

	list, err := s.BudgetsCoveringKey(ctx, tenant, search.Key.ID)
	testenv.Must(t, err, "covering")
	var got []string
	for _, b := range list {
		got = append(got, b.ID)
	}
	if want := []string{whole, ownCap, teamSearch}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("budgets covering the search key: got %v want %v", got, want)
	}

	// Another tenant's key is not found through this tenant; this tenant is forbidden to the other's owner.
	otherCtx, other := owner(t, s, "bob@example.com", "other")
	theirs, err := s.CreateAPIKey(otherCtx, other, "theirs", KeyPolicy{}, nil, nil)
	testenv.Must(t, err, "their key")
	_, err = s.BudgetsCoveringKey(ctx, tenant, theirs.Key.ID)
	wantCode(t, "their key through my tenant", err, apierr.CodeNotFound)
	_, err = s.BudgetsCoveringKey(otherCtx, tenant, search.Key.ID)
	wantCode(t, "my tenant as the other owner", err, apierr.CodeForbidden)
	_, err = s.BudgetsCoveringKey(ctx, tenant, "not-an-id")
	wantCode(t, "malformed key id", err, apierr.CodeInvalidArgument)
}

func TestPricingOverrideGet(t *testing.T) {
	s, _ := newTestService(t)
	ctx, tenant := owner(t, s, "ann@example.com", "acme")
	o, err := s.CreatePricingOverride(ctx, tenant, OverrideInput{Model: "gpt-4o", EffectiveFrom: mustTime(t, "2026-01-01T00:00:00Z"), PercentAdjustmentBP: -1500, Note: "deal"})
	testenv.Must(t, err, "create")
	got, err := s.PricingOverride(ctx, tenant, o.ID)
	if err != nil || got.ID != o.ID || got.PercentAdjustmentBP != -1500 || got.Note != "deal" {
		t.Fatalf("get %+v %v", got, err)
	}
	otherCtx, other := owner(t, s, "bob@example.com", "other")
	_, err = s.PricingOverride(otherCtx, other, o.ID)
	wantCode(t, "my override through their tenant", err, apierr.CodeNotFound)
	_, err = s.PricingOverride(otherCtx, tenant, o.ID)
	wantCode(t, "my tenant as the other owner", err, apierr.CodeForbidden)
}

func TestCreateOwnerIsAllOrNothing(t *testing.T) {
	s, pool := newTestService(t)
	owner(t, s, "ann@example.com", "acme")
	_, _, err := s.CreateOwner(context.Background(), "new@example.com", "password-123", "Copycat", "acme")
	wantCode(t, "taken slug", err, apierr.CodeConflict)
	var n int
	testenv.Must(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM users WHERE email = 'new@example.com'`).Scan(&n), "count")
	if n != 0 {
		t.Fatal("a refused bootstrap left an account behind")
	}
	_, _, err = s.CreateOwner(context.Background(), "new@example.com", "short", "New", "new")
	wantCode(t, "short password", err, apierr.CodeInvalidArgument)
	_, _, err = s.CreateOwner(context.Background(), "not an email", "password-123", "New", "new")
	wantCode(t, "malformed email", err, apierr.CodeInvalidArgument)
	_, _, err = s.CreateOwner(context.Background(), "new@example.com", "password-123", strings.Repeat("n", 201), "new")
	wantCode(t, "oversize tenant name", err, apierr.CodeInvalidArgument)
	// An existing user becomes owner of a second tenant; the password is not changed.
	u, tn, err := s.CreateOwner(context.Background(), "ann@example.com", "another-password", "Second", "second")
	testenv.Must(t, err, "existing user")
	if tn.Role != RoleOwner || u.Email != "ann@example.com" {
		t.Fatalf("second tenant %+v %+v", u, tn)
	}
	if _, err := s.SignIn(context.Background(), "ann@example.com", "password-123"); err != nil {
		t.Fatalf("the existing password stopped working: %v", err)
	}
}

func TestChangePassword(t *testing.T) {
	s, _ := newTestService(t)
	ctx, tenant := owner(t, s, "ann@example.com", "acme")
	sess, err := s.SignIn(context.Background(), "ann@example.com", "password-123")
	testenv.Must(t, err, "sign in")
	// A principal authenticated before the change, as a websocket holds one.
	p, err := s.Authenticate(context.Background(), sess.AccessToken)
	testenv.Must(t, err, "authenticate")
	held := auth.WithPrincipal(context.Background(), p)
	if _, err := s.Tenant(held, tenant); err != nil {
		t.Fatalf("before the change: %v", err)
	}
	wantCode(t, "wrong current password", s.ChangePassword(ctx, "password-xyz", "new-password-1"), apierr.CodeUnauthenticated)
	wantCode(t, "too short", s.ChangePassword(ctx, "password-123", "short"), apierr.CodeInvalidArgument)
	wantCode(t, "anonymous", s.ChangePassword(context.Background(), "password-123", "new-password-1"), apierr.CodeUnauthenticated)
	testenv.Must(t, s.ChangePassword(ctx, "password-123", "new-password-1"), "change")
	_, err = s.SignIn(context.Background(), "ann@example.com", "password-123")
	wantCode(t, "old password", err, apierr.CodeUnauthenticated)
	if _, err := s.SignIn(context.Background(), "ann@example.com", "new-password-1"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	// Sessions opened before the change cannot be refreshed.
	_, err = s.Refresh(context.Background(), sess.RefreshToken)
	wantCode(t, "refresh after change", err, apierr.CodeUnauthenticated)
	// Their access tokens stop working at once, not at their expiry: every
	// operation of a principal they authenticate is refused, whether it was
	// authenticated before the change (a websocket) or after (a request).
	p, err = s.Authenticate(context.Background(), sess.AccessToken)
	testenv.Must(t, err, "the old token is still signed and unexpired")
	_, err = s.Tenant(auth.WithPrincipal(context.Background(), p), tenant)
	wantCode(t, "request with the old token", err, apierr.CodeUnauthenticated)
	_, err = s.Tenant(held, tenant)
	wantCode(t, "tenant read with the old token", err, apierr.CodeUnauthenticated)
	_, err = s.Me(held)
	wantCode(t, "me with the old token", err, apierr.CodeUnauthenticated)
	_, err = s.Tenants(held)
	wantCode(t, "tenants with the old token", err, apierr.CodeUnauthenticated)
	// A new session works.
	fresh, err := s.SignIn(context.Background(), "ann@example.com", "new-password-1")
	testenv.Must(t, err, "sign in again")
	p, err = s.Authenticate(context.Background(), fresh.AccessToken)
	testenv.Must(t, err, "new access token")
	if _, err := s.Tenant(auth.WithPrincipal(context.Background(), p), tenant); err != nil {
		t.Fatalf("new session: %v", err)
	}
	if _, err := s.Refresh(context.Background(), fresh.RefreshToken); err != nil {
		t.Fatalf("new refresh token: %v", err)
	}
}

// An access token past its expiry is refused by every operation, also when
// it was accepted earlier (a websocket authenticates once).
func TestExpiredPrincipal(t *testing.T) {
	s, _ := newTestService(t)
	_, tenant := owner(t, s, "ann@example.com", "acme")
	sess, err := s.SignIn(context.Background(), "ann@example.com", "password-123")
	testenv.Must(t, err, "sign in")
	p, err := s.Authenticate(context.Background(), sess.AccessToken)
	testenv.Must(t, err, "authenticate")
	p.ExpiresAt = time.Now().Add(-time.Second)
	expired := auth.WithPrincipal(context.Background(), p)
	_, err = s.Tenant(expired, tenant)
	wantCode(t, "tenant", err, apierr.CodeUnauthenticated)
	_, err = s.Me(expired)
	wantCode(t, "me", err, apierr.CodeUnauthenticated)
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	testenv.Must(t, err, "time")
	return v
}

// Budget webhooks may not point at the server's own network unless the
// operator allows the receiver; creating and updating alike.
func TestWebhookEgress(t *testing.T) {
	s, _ := newTestService(t)
	ctx, tenant := owner(t, s, "ann@example.com", "acme")
	in := func(url string) BudgetInput {
		return BudgetInput{Name: "b", Scope: "tenant", Period: "month", AmountNanoUSD: 1_000_000_000, WebhookURL: &url}
	}
	_, err := s.CreateBudget(ctx, tenant, in("http://169.254.169.254/latest/meta-data/"))
	wantCode(t, "metadata", err, apierr.CodeInvalidArgument)
	if !strings.Contains(err.Error(), "link-local") || !strings.Contains(err.Error(), "--webhook-allow") {
		t.Fatalf("message does not say why and what to do: %v", err)
	}
	b, err := s.CreateBudget(ctx, tenant, in("https://hooks.example.com/x"))
	testenv.Must(t, err, "public webhook")
	_, err = s.UpdateBudget(ctx, tenant, b.ID, in("http://[::1]:9000/hook"))
	wantCode(t, "update to loopback", err, apierr.CodeInvalidArgument)

	s.SetWebhookEgress(egress.MustAllow("127.0.0.1, alerts.corp"))
	if _, err := s.UpdateBudget(ctx, tenant, b.ID, in("http://127.0.0.1:9000/hook")); err != nil {
		t.Fatalf("allowed address: %v", err)
	}
	if _, err := s.CreateBudget(ctx, tenant, in("http://alerts.corp/hook")); err != nil {
		t.Fatalf("allowed host name: %v", err)
	}
	_, err = s.CreateBudget(ctx, tenant, in("http://10.0.0.1/hook"))
	wantCode(t, "private address outside the allow-list", err, apierr.CodeInvalidArgument)
}
