package service_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/internal/pgtest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/recommend"
	"github.com/spendgate/spendgate/recommend/pgstore"
	"github.com/spendgate/spendgate/recommend/service"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/usage"
)

// TestRefreshStatesAndIsolation: a tenant's real stored usage yields the
// exact savings of the pure rules; applying and dismissing records who and
// when (and the audit log); another tenant sees none of it and cannot
// change it.
func TestRefreshStatesAndIsolation(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Migrated(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tokens, _ := auth.NewTokens([]byte(strings.Repeat("r", 32)))
	cp, err := controlplane.New(pool, []byte("recommend-pepper-1"), tokens, quiet)
	testenv.Must(t, err, "controlplane")
	ua, ta, err := cp.CreateOwner(ctx, "a@rec.example", "password-123", "A", "rec-a")
	testenv.Must(t, err, "owner a")
	ub, tb, err := cp.CreateOwner(ctx, "b@rec.example", "password-123", "B", "rec-b")
	testenv.Must(t, err, "owner b")
	actxA := auth.WithPrincipal(ctx, auth.Principal{UserID: ua.ID, Email: ua.Email})
	actxB := auth.WithPrincipal(ctx, auth.Principal{UserID: ub.ID, Email: ub.Email})
	busy, err := cp.CreateAPIKey(actxA, ta.ID, "busy", controlplane.KeyPolicy{}, nil, nil)
	testenv.Must(t, err, "key")
	_, err = cp.CreateAPIKey(actxA, ta.ID, "forgotten", controlplane.KeyPolicy{}, nil, nil)
	testenv.Must(t, err, "idle key")
	_, err = pool.Exec(ctx, "UPDATE api_keys SET created_at = now() - interval '90 days' WHERE tenant_id = $1", ta.ID)
	testenv.Must(t, err, "age keys")

	addr, db := testenv.ClickHouse(t)
	conn, err := clickhouse.Open(ctx, addr, db)
	testenv.Must(t, err, "clickhouse")
	testenv.Must(t, clickhouse.Migrate(ctx, conn, db), "clickhouse migrate")
	w := clickhouse.NewWriter(conn, db)
	now := time.Now().UTC()
	// 1000 gpt-4o calls of 3000 input / 100 output tokens, none streamed,
	// in the last 30 days: the usage of recommend's TestSavingsExact.
	var evs []spend.PricedEvent
	for i := range 1000 {
		e := event.Event{SchemaVersion: event.SchemaVersion, Type: event.TypeUsage, EventID: uuid.NewString(),
			Time: now.Truncate(time.Hour).Add(-time.Duration(i+1) * 30 * time.Minute), TenantID: ta.ID, KeyID: busy.Key.ID, Provider: "openai",
			Operation: "chat.completions", ModelRequested: "gpt-4o", StatusCode: 200, Complete: true,
			Usage: usage.Tokens{Input: 3000, Output: 100}}
		evs = append(evs, spend.PricedEvent{Event: e, Cost: pricing.Default().Cost(pricing.Request{Provider: "openai", Model: "gpt-4o", Time: e.Time}, e.Usage, nil)})
	}
	_, err = w.Write(ctx, evs)
	testenv.Must(t, err, "write")

	svc := service.New(recommend.DefaultConfig(), pricing.Default(), clickhouse.Analytics{Conn: conn, Database: db},
		controlplane.OverrideReader{DB: pool}, pgstore.New(pool), cp, quiet)
	testenv.Must(t, svc.RunOnce(ctx), "refresh")

	list, err := svc.ListFor(actxA, ta.ID, "")
	testenv.Must(t, err, "list")
	want := map[recommend.Kind]int64{recommend.KindCheaperModel: 7_990_000_000, recommend.KindBatchAPI: 4_250_000_000,
		recommend.KindPromptCaching: 1_875_000_000, recommend.KindRevokeKey: 0}
	if len(list) != len(want) {
		t.Fatalf("%d recommendations %+v, want %d", len(list), list, len(want))
	}
	byKind := map[recommend.Kind]pgstore.Stored{}
	for _, r := range list {
		byKind[r.Kind] = r
		if w, ok := want[r.Kind]; !ok || r.MonthlySavingsNanoUSD != w || r.State != recommend.StateOpen {
			t.Errorf("%s: saves %d (%s), want %d open", r.Kind, r.MonthlySavingsNanoUSD, r.State, w)
		}
	}
	if !strings.Contains(byKind[recommend.KindRevokeKey].Title, "forgotten") {
		t.Errorf("revoke: %+v", byKind[recommend.KindRevokeKey])
	}

	// Tenant B sees nothing of A and cannot change A's.
	if other, err := svc.ListFor(actxB, tb.ID, ""); err != nil || len(other) != 0 {
		t.Fatalf("tenant B lists %d (%v)", len(other), err)
	}
	if _, err := svc.ListFor(actxB, ta.ID, ""); apierr.CodeOf(err) != apierr.CodeForbidden && apierr.CodeOf(err) != apierr.CodeNotFound {
		t.Fatalf("B listing A's: %v", err)
	}
	batch := byKind[recommend.KindBatchAPI]
	if _, err := svc.SetState(actxB, tb.ID, batch.ID, recommend.StateDismissed); apierr.CodeOf(err) != apierr.CodeNotFound {
		t.Fatalf("B dismissing A's recommendation through its own tenant: %v", err)
	}

	// Apply one, dismiss another: who and when, audited.
	applied, err := svc.SetState(actxA, ta.ID, batch.ID, recommend.StateApplied)
	testenv.Must(t, err, "apply")
	if applied.State != recommend.StateApplied || applied.StateChangedBy != "a@rec.example" || applied.StateChangedAt == nil {
		t.Fatalf("applied %+v", applied)
	}
	cache := byKind[recommend.KindPromptCaching]
	_, err = svc.SetState(actxA, ta.ID, cache.ID, recommend.StateDismissed)
	testenv.Must(t, err, "dismiss")
	if _, err := svc.SetState(actxA, ta.ID, cache.ID, "closed"); apierr.CodeOf(err) != apierr.CodeInvalidArgument {
		t.Fatalf("unknown state: %v", err)
	}
	var audited int
	testenv.Must(t, pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND target_type = 'recommendation'
		AND actor = 'a@rec.example' AND action IN ('recommendation.applied', 'recommendation.dismissed')`, ta.ID).Scan(&audited), "audit")
	if audited != 2 {
		t.Fatalf("%d audit entries, want 2", audited)
	}

	// A refresh keeps states; the idle key used again drops its open
	// recommendation, a dismissed one stays dismissed.
	_, err = w.Write(ctx, []spend.PricedEvent{{Event: event.Event{SchemaVersion: event.SchemaVersion, Type: event.TypeDenial, EventID: uuid.NewString(),
		Time: now.Add(-time.Hour), TenantID: ta.ID, KeyID: byKind[recommend.KindRevokeKey].KeyID, Provider: "openai", DenialReason: event.DenialModelNotAllowed}}})
	testenv.Must(t, err, "denial")
	testenv.Must(t, svc.Refresh(ctx, ta.ID), "refresh again")
	list, err = svc.List(ctx, ta.ID, "")
	testenv.Must(t, err, "list again")
	states := map[recommend.Kind]recommend.State{}
	for _, r := range list {
		states[r.Kind] = r.State
	}
	if len(list) != 3 || states[recommend.KindBatchAPI] != recommend.StateApplied || states[recommend.KindPromptCaching] != recommend.StateDismissed ||
		states[recommend.KindCheaperModel] != recommend.StateOpen {
		t.Fatalf("after refresh: %v", states)
	}
	if open, err := svc.List(ctx, ta.ID, recommend.StateOpen); err != nil || len(open) != 1 {
		t.Fatalf("open: %d (%v)", len(open), err)
	}
}
