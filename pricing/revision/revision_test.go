package revision

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spendgate/spendgate/apierr"

	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/internal/pgtest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/schedule"
	"github.com/spendgate/spendgate/usage"
)

// litellmFile prices gpt-4o at a new input rate and adds a model.
const litellmFile = `{
 "last_updated": "2026-12-01T00:00:00Z",
 "gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 3e-06, "output_cost_per_token": 1e-05,
   "cache_read_input_token_cost": 1.25e-06, "max_output_tokens": 16384},
 "gpt-brand-new": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "max_output_tokens": 8192}
}`

func find(d []pricing.ModelDiff, provider, model string) *pricing.ModelDiff {
	for i := range d {
		if d[i].Provider == provider && d[i].Model == model {
			return &d[i]
		}
	}
	return nil
}

func change(m *pricing.ModelDiff, field string) *pricing.Change {
	if m == nil {
		return nil
	}
	for i := range m.Changes {
		if m.Changes[i].Field == field {
			return &m.Changes[i]
		}
	}
	return nil
}

// TestProposeApplyFollow: the embedded catalogue is revision 1; a sync
// proposes a revision with its diff (old → new); applying it reaches a
// following Live without a restart; events are priced by the revision in
// force at their time; stale and repeated decisions are refused; both are
// audited.
func TestProposeApplyFollow(t *testing.T) {
	pool := pgtest.Migrated(t)
	ctx := context.Background()
	svc := New(pool, nil)
	testenv.Must(t, svc.Seed(ctx), "seed")
	testenv.Must(t, svc.Seed(ctx), "seed again")
	revs, err := svc.List(ctx, 10)
	testenv.Must(t, err, "list")
	if len(revs) != 1 || revs[0].Status != Applied || revs[0].ID != 1 {
		t.Fatalf("after seeding: %+v", revs)
	}
	first, err := svc.Latest(ctx)
	testenv.Must(t, err, "latest")
	if len(first.Catalogue.Models) != len(pricing.Default().Models()) {
		t.Fatalf("first revision has %d models, embedded %d", len(first.Catalogue.Models), len(pricing.Default().Models()))
	}

	live := pricing.NewLive(pricing.Default())
	fctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); svc.Follow(fctx, live, 30*time.Second) }()
	t.Cleanup(func() { stop(); <-done })
	testenv.WaitFor(t, 10*time.Second, "first revision loaded", func() bool { return live.Version() == 1 })

	eff := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	rev, err := svc.ProposeLiteLLM(ctx, ProposeInput{LiteLLM: []byte(litellmFile), Source: "test file", EffectiveFrom: eff, By: "test", Providers: []string{"openai"}})
	testenv.Must(t, err, "propose")
	if rev.Status != Proposed || rev.BaseID != 1 || !rev.EffectiveFrom.Equal(eff) {
		t.Fatalf("proposed: %+v", rev)
	}
	if c := change(find(rev.Diff.Changed, "openai", "gpt-4o"), "input"); c == nil || c.Old != "2.5" || c.New != "3" {
		t.Errorf("gpt-4o input change: %+v (diff %s)", c, rev.Diff.Summary())
	}
	if a := find(rev.Diff.Added, "openai", "gpt-brand-new"); a == nil || change(a, "input").New != "1" || change(a, "max_output_tokens").New != "8192" {
		t.Errorf("added: %+v", rev.Diff.Added)
	}
	if len(rev.Diff.Removed) != 0 {
		t.Errorf("removed without --remove-missing: %v", rev.Diff.Removed)
	}
	// Nothing changes until it is applied.
	if live.Version() != 1 {
		t.Fatal("a proposal reached the live catalogue")
	}

	// A second proposal from the same base goes stale once one is applied.
	other, err := svc.ProposeLiteLLM(ctx, ProposeInput{LiteLLM: []byte(litellmFile), Source: "test file", EffectiveFrom: eff.Add(time.Hour), By: "test",
		Providers: []string{"openai"}, RemoveMissing: true})
	testenv.Must(t, err, "second proposal")
	if len(other.Diff.Removed) == 0 || find(other.Diff.Removed, "openai", "gpt-4o-mini") == nil {
		t.Errorf("--remove-missing removed %d models, not gpt-4o-mini", len(other.Diff.Removed))
	}
	if find(other.Diff.Removed, "anthropic", "claude-opus-4-5") != nil {
		t.Error("removal reached a provider the import did not cover")
	}

	admin := auth.Principal{UserID: "", Email: ""}
	applied, err := svc.Apply(ctx, rev.ID, admin)
	testenv.Must(t, err, "apply")
	if applied.Status != Applied || applied.DecidedBy != "cli" || applied.DecidedAt == nil {
		t.Errorf("applied: %+v", applied)
	}
	testenv.WaitFor(t, 10*time.Second, "applied revision followed (NOTIFY)", func() bool { return live.Version() == rev.ID })

	if _, err := svc.Apply(ctx, other.ID, admin); !errors.Is(err, ErrStale) {
		t.Errorf("stale apply: %v", err)
	}
	if _, err := svc.Apply(ctx, rev.ID, admin); apierr.CodeOf(err) != apierr.CodeConflict {
		t.Errorf("applying twice: %v", err)
	}
	rej, err := svc.Reject(ctx, other.ID, admin)
	testenv.Must(t, err, "reject")
	if rej.Status != Rejected {
		t.Errorf("rejected: %+v", rej)
	}
	if _, err := svc.Apply(ctx, 999, admin); apierr.CodeOf(err) != apierr.CodeNotFound {
		t.Errorf("unknown revision: %v", err)
	}

	// Events are priced by the revision in force at their time.
	tok := usage.Tokens{Input: 1_000_000}
	before := live.CatalogueAt(eff.Add(-time.Second)).Cost(pricing.Request{Provider: "openai", Model: "gpt-4o", Time: eff.Add(-time.Second)}, tok, nil)
	after := live.CatalogueAt(eff).Cost(pricing.Request{Provider: "openai", Model: "gpt-4o", Time: eff}, tok, nil)
	if before.ListNanoUSD != 2_500_000_000 || after.ListNanoUSD != 3_000_000_000 {
		t.Errorf("gpt-4o 1M input: before %d after %d", before.ListNanoUSD, after.ListNanoUSD)
	}
	if live.RevisionAt(eff.Add(-time.Second)).ID != 1 || live.RevisionAt(eff).ID != rev.ID {
		t.Errorf("revision in force: %d before, %d after", live.RevisionAt(eff.Add(-time.Second)).ID, live.RevisionAt(eff).ID)
	}
	if n, ok := live.CatalogueAt(eff).MaxOutputTokens("openai", "gpt-brand-new"); !ok || n != 8192 {
		t.Errorf("new model's limit: %d %v", n, ok)
	}
	if _, _, ok := live.CatalogueAt(eff.Add(-time.Second)).Lookup("openai", "gpt-brand-new"); ok {
		t.Error("a model added by a revision is priced before it")
	}

	var audits int
	testenv.Must(t, pool.QueryRow(ctx, "SELECT count(*) FROM audit_log WHERE action IN ('pricing.revision.apply', 'pricing.revision.reject') AND tenant_id IS NULL").Scan(&audits), "audit")
	if audits != 2 {
		t.Errorf("%d audit entries, want 2", audits)
	}
	// The same import again changes nothing.
	if _, err := svc.ProposeLiteLLM(ctx, ProposeInput{LiteLLM: []byte(litellmFile), Source: "test file", EffectiveFrom: eff.Add(48 * time.Hour), By: "test", Providers: []string{"openai"}}); !errors.Is(err, ErrNoChange) {
		t.Errorf("re-import: %v", err)
	}
}

func TestProposeErrors(t *testing.T) {
	pool := pgtest.Migrated(t)
	ctx := context.Background()
	svc := New(pool, nil)
	if _, err := svc.ProposeLiteLLM(ctx, ProposeInput{LiteLLM: []byte(litellmFile), Source: "x", EffectiveFrom: time.Now(), By: "t"}); apierr.CodeOf(err) != apierr.CodeNotFound {
		t.Errorf("before seeding: %v", err)
	}
	testenv.Must(t, svc.Seed(ctx), "seed")
	for name, in := range map[string]ProposeInput{
		"not JSON":          {LiteLLM: []byte("<html>"), Source: "x", EffectiveFrom: time.Now()},
		"no effective date": {LiteLLM: []byte(litellmFile), Source: "x"},
		"no source":         {LiteLLM: []byte(litellmFile), EffectiveFrom: time.Now()},
		// gpt-4o's current price starts 2024-01-01: a change cannot start earlier.
		"before the current price": {LiteLLM: []byte(litellmFile), Source: "x", EffectiveFrom: time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if _, err := svc.ProposeLiteLLM(ctx, in); apierr.CodeOf(err) != apierr.CodeInvalidArgument {
			t.Errorf("%s: %v", name, err)
		}
	}
	svc.Admins = []string{" Ops@Example.com ", ""}
	if !svc.IsAdmin("ops@example.com") || svc.IsAdmin("") || svc.IsAdmin("other@example.com") {
		t.Error("IsAdmin: only listed e-mails, case-insensitively, never the empty one")
	}
}

// TestScheduledSync: the scheduled job proposes a revision from a URL once
// per slot (two runners racing run it once), never applies it, and does not
// pile up the same diff.
func TestScheduledSync(t *testing.T) {
	pool := pgtest.Migrated(t)
	ctx := context.Background()
	svc := New(pool, nil)
	testenv.Must(t, svc.Seed(ctx), "seed")
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		_, _ = w.Write([]byte(litellmFile))
	}))
	t.Cleanup(srv.Close)
	fetch := func(ctx context.Context, url string) ([]byte, error) {
		resp, err := http.Get(url)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return []byte(b.String()), nil
	}
	job := schedule.Job{Name: SyncJobName, Every: time.Hour, Run: func(ctx context.Context) error { return svc.ScheduledSync(ctx, srv.URL, fetch) }}
	r1, r2 := schedule.New(pool, nil), schedule.New(pool, nil)
	ran1, err1 := r1.RunDue(ctx, &job)
	ran2, err2 := r2.RunDue(ctx, &job)
	testenv.Must(t, errors.Join(err1, err2), "run")
	if !ran1 || ran2 || fetches.Load() != 1 {
		t.Fatalf("ran %v %v, %d fetches: want one run per slot", ran1, ran2, fetches.Load())
	}
	revs, err := svc.List(ctx, 10)
	testenv.Must(t, err, "list")
	if len(revs) != 2 || revs[0].Status != Proposed || revs[0].CreatedBy != "scheduled sync" || revs[0].Source != srv.URL {
		t.Fatalf("after the scheduled sync: %+v", revs)
	}
	// Another run with the same file keeps the one waiting proposal.
	testenv.Must(t, svc.ScheduledSync(ctx, srv.URL, fetch), "second sync")
	if revs, _ := svc.List(ctx, 10); len(revs) != 2 {
		t.Errorf("the same diff proposed twice: %d revisions", len(revs))
	}
	st, err := r1.JobStatus(ctx, SyncJobName)
	testenv.Must(t, err, "status")
	if st.Runs != 1 || st.LastError != "" || st.LastOK == nil || st.NextRunAt.Before(time.Now().Add(50*time.Minute)) {
		t.Errorf("job status %+v", st)
	}
	// A failing run records its error and stays scheduled.
	bad := schedule.Job{Name: "failing", Every: time.Hour, Run: func(ctx context.Context) error { return errors.New("upstream down") }}
	if _, err := r1.RunDue(ctx, &bad); err == nil {
		t.Error("failing job reported no error")
	}
	if st, _ := r1.JobStatus(ctx, "failing"); st.LastError != "upstream down" || st.LastOK != nil {
		t.Errorf("failing job status %+v", st)
	}
	if err := (&schedule.Job{Name: "x", Every: time.Second}).Validate(); err == nil {
		t.Error("a job without Run and with a 1s period validated")
	}
}
