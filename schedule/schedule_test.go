package schedule_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/internal/pgtest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/schedule"
)

// dbNow is the database's clock, the one every schedule time is on.
func dbNow(t *testing.T, pool *pgxpool.Pool) time.Time {
	t.Helper()
	var now time.Time
	testenv.Must(t, pool.QueryRow(context.Background(), "SELECT now()").Scan(&now), "now")
	return now
}

func within(t *testing.T, what string, got, want time.Time, slack time.Duration) {
	t.Helper()
	if d := got.Sub(want); d < -slack || d > slack {
		t.Errorf("%s = %s, want %s (±%s)", what, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano), slack)
	}
}

func TestOneRunnerRunsAJobPerSlot(t *testing.T) {
	pool := pgtest.Migrated(t)
	ctx := context.Background()
	var runs atomic.Int32
	release := make(chan struct{})
	job := schedule.Job{Name: "once", Every: time.Hour, Run: func(ctx context.Context) error {
		runs.Add(1)
		<-release
		return nil
	}}
	r1, r2 := schedule.New(pool, nil), schedule.New(pool, nil)
	var wg sync.WaitGroup
	var ran1 bool
	var err1 error
	wg.Add(1)
	go func() { defer wg.Done(); ran1, err1 = r1.RunDue(ctx, &job) }()
	// While the first run holds the lease, the other replica does not run it.
	waitFor(t, func() bool { return runs.Load() == 1 })
	ran2, err2 := r2.RunDue(ctx, &job)
	close(release)
	wg.Wait()
	testenv.Must(t, errors.Join(err1, err2), "run")
	if !ran1 || ran2 || runs.Load() != 1 {
		t.Fatalf("ran %v %v with %d runs: want one run per slot", ran1, ran2, runs.Load())
	}
	// After the run the slot moved on: nobody runs it again this hour.
	if ran, _ := r2.RunDue(ctx, &job); ran {
		t.Error("ran again in the same slot")
	}
	st, err := r1.JobStatus(ctx, "once")
	testenv.Must(t, err, "status")
	if st.Runs != 1 || st.LastOK == nil || st.RunningSince != nil || st.Failures != 0 {
		t.Errorf("status %+v", st)
	}
	within(t, "next run", st.NextRunAt, st.LastRunAt.Add(time.Hour), time.Second)
}

func TestADeadRunnersLeaseLapsesAndAnotherTakesOver(t *testing.T) {
	pool := pgtest.Migrated(t)
	ctx := context.Background()
	var runs atomic.Int32
	job := schedule.Job{Name: "orphan", Every: time.Hour, Run: func(context.Context) error { runs.Add(1); return nil }}
	// A replica claimed the job and died: its lease is still live.
	_, err := pool.Exec(ctx, `INSERT INTO scheduled_jobs (name, next_run_at, lease_token, lease_until, started_at)
		VALUES ('orphan', now() - interval '1 minute', gen_random_uuid(), now() + interval '10 minutes', now())`)
	testenv.Must(t, err, "seed")
	r := schedule.New(pool, nil)
	if ran, err := r.RunDue(ctx, &job); ran || err != nil {
		t.Fatalf("ran %v (%v) under another runner's live lease", ran, err)
	}
	if st, _ := r.JobStatus(ctx, "orphan"); st.RunningSince == nil {
		t.Errorf("a held lease does not show as running: %+v", st)
	}
	// The lease lapses: the job is still due and is taken over.
	_, err = pool.Exec(ctx, "UPDATE scheduled_jobs SET lease_until = now() - interval '1 second' WHERE name = 'orphan'")
	testenv.Must(t, err, "lapse")
	if ran, err := r.RunDue(ctx, &job); !ran || err != nil || runs.Load() != 1 {
		t.Fatalf("ran %v (%v), %d runs: a lapsed lease was not taken over", ran, err, runs.Load())
	}
}

func TestARunThatOverranItsLeaseDoesNotOverwriteTheNewerRun(t *testing.T) {
	pool := pgtest.Migrated(t)
	ctx := context.Background()
	job := schedule.Job{Name: "slow", Every: time.Hour, Run: func(ctx context.Context) error {
		// Meanwhile the lease lapsed and another replica took the job over.
		_, err := pool.Exec(ctx, "UPDATE scheduled_jobs SET lease_token = gen_random_uuid(), progress = 'newer run' WHERE name = 'slow'")
		return err
	}}
	ran, err := schedule.New(pool, nil).RunDue(ctx, &job)
	if !ran || err == nil || !strings.Contains(err.Error(), "overran its lease") {
		t.Fatalf("ran %v, err %v: want the overrun reported", ran, err)
	}
	st, _ := schedule.New(pool, nil).JobStatus(ctx, "slow")
	if st.LastOK != nil || st.Progress != "newer run" {
		t.Errorf("the overrunning run overwrote the newer one: %+v", st)
	}
}

func TestAFailedRunIsRetriedWithBackoffNeverAfterItsNextSlot(t *testing.T) {
	pool := pgtest.Migrated(t)
	ctx := context.Background()
	fail := true
	job := schedule.Job{Name: "flaky", Every: 6 * time.Hour, Run: func(context.Context) error {
		if fail {
			return errors.New("provider answered 503")
		}
		return nil
	}}
	r := schedule.New(pool, nil)
	var asked []int
	r.Backoff = func(failures int) time.Duration {
		asked = append(asked, failures)
		return time.Duration(failures) * 10 * time.Minute
	}
	for want := 1; want <= 2; want++ {
		ran, err := r.RunDue(ctx, &job)
		if !ran || err == nil || err.Error() != "provider answered 503" {
			t.Fatalf("run %d: ran %v, err %v", want, ran, err)
		}
		st, _ := r.JobStatus(ctx, "flaky")
		if st.Failures != want || st.LastError != "provider answered 503" || st.LastOK != nil {
			t.Fatalf("after failure %d: %+v", want, st)
		}
		within(t, "retry", st.NextRunAt, dbNow(t, pool).Add(time.Duration(want)*10*time.Minute), 5*time.Second)
		testenv.Must(t, r.Trigger(ctx, "flaky"), "trigger")
	}
	if len(asked) != 2 || asked[0] != 1 || asked[1] != 2 {
		t.Errorf("backoff asked for %v, want [1 2]", asked)
	}
	// A success clears the failures and returns to the period.
	fail = false
	if ran, err := r.RunDue(ctx, &job); !ran || err != nil {
		t.Fatalf("ran %v, err %v", ran, err)
	}
	st, _ := r.JobStatus(ctx, "flaky")
	if st.Failures != 0 || st.LastError != "" || st.LastOK == nil {
		t.Errorf("after success: %+v", st)
	}
	within(t, "next slot", st.NextRunAt, st.LastRunAt.Add(6*time.Hour), time.Second)

	// A backoff longer than the period waits only for the next slot.
	short := schedule.Job{Name: "short", Every: time.Minute, Run: func(context.Context) error { return errors.New("down") }}
	r.Backoff = func(int) time.Duration { return time.Hour }
	_, _ = r.RunDue(ctx, &short)
	st, _ = r.JobStatus(ctx, "short")
	within(t, "retry capped at the next slot", st.NextRunAt, st.LastRunAt.Add(time.Minute), time.Second)
}

func TestRetryBackoffDoublesUpToAnHour(t *testing.T) {
	want := map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 3: 4 * time.Minute, 7: time.Hour, 40: time.Hour}
	for f, d := range want {
		if got := schedule.RetryBackoff(f); got != d {
			t.Errorf("RetryBackoff(%d) = %s, want %s", f, got, d)
		}
	}
}

func TestCronRunsOnTheTenantsCalendar(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	testenv.Must(t, err, "zone")
	monday9, err := schedule.Cron("0 9 * * 1", berlin)
	testenv.Must(t, err, "cron")
	// Friday 2026-03-27 12:00 UTC; Berlin moves to summer time on Sunday 29th.
	after := time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC)
	got := monday9(after)
	if want := time.Date(2026, 3, 30, 7, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("next Monday 09:00 Berlin after %s = %s, want %s (09:00 CEST)", after, got.UTC(), want)
	}
	monthly, err := schedule.Cron("@monthly", nil)
	testenv.Must(t, err, "monthly")
	if got, want := monthly(after), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("@monthly after %s = %s, want %s", after, got, want)
	}
	for _, bad := range []string{"", "61 * * * *", "* * *", "CRON_TZ=UTC 0 9 * * 1", "every monday"} {
		if _, err := schedule.Cron(bad, nil); err == nil {
			t.Errorf("Cron(%q) accepted", bad)
		}
	}

	// A calendar job's next run is its calendar's next time after the run.
	pool := pgtest.Migrated(t)
	ctx := context.Background()
	job := schedule.Job{Name: "weekly-report", Next: monday9, Run: func(context.Context) error { return nil }}
	r := schedule.New(pool, nil)
	if ran, err := r.RunDue(ctx, &job); !ran || err != nil {
		t.Fatalf("ran %v, err %v", ran, err)
	}
	st, _ := r.JobStatus(ctx, "weekly-report")
	if want := monday9(*st.LastRunAt); !st.NextRunAt.Equal(want) {
		t.Errorf("next run %s, want %s", st.NextRunAt, want)
	}
	if st.NextRunAt.In(berlin).Weekday() != time.Monday || st.NextRunAt.In(berlin).Hour() != 9 {
		t.Errorf("next run %s is not Monday 09:00 in Berlin", st.NextRunAt.In(berlin))
	}
}

func TestProgressShowsWhileAJobRuns(t *testing.T) {
	pool := pgtest.Migrated(t)
	ctx := context.Background()
	r := schedule.New(pool, nil)
	seen := make(chan schedule.Status, 1)
	job := schedule.Job{Name: "pages", Every: time.Hour, Run: func(ctx context.Context) error {
		schedule.Progress(ctx, "page %d of %d", 2, 7)
		st, err := r.JobStatus(ctx, "pages")
		seen <- st
		return err
	}}
	if ran, err := r.RunDue(ctx, &job); !ran || err != nil {
		t.Fatalf("ran %v, err %v", ran, err)
	}
	during := <-seen
	if during.Progress != "page 2 of 7" || during.RunningSince == nil {
		t.Errorf("while running: %+v", during)
	}
	after, _ := r.JobStatus(ctx, "pages")
	if after.RunningSince != nil || after.Progress != "page 2 of 7" {
		t.Errorf("after the run: %+v", after)
	}
	schedule.Progress(ctx, "outside a run") // a no-op, not a panic
}

func TestATimedOutRunFailsAndFreesTheJob(t *testing.T) {
	pool := pgtest.Migrated(t)
	ctx := context.Background()
	job := schedule.Job{Name: "stuck", Every: time.Hour, Timeout: 50 * time.Millisecond, Run: func(ctx context.Context) error {
		<-ctx.Done()
		return nil // ignores why it stopped; the runner still records the timeout
	}}
	r := schedule.New(pool, nil)
	ran, err := r.RunDue(ctx, &job)
	if !ran || err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("ran %v, err %v", ran, err)
	}
	if st, _ := r.JobStatus(ctx, "stuck"); st.Failures != 1 || st.RunningSince != nil {
		t.Errorf("status %+v", st)
	}
}

func TestRunSourceRunsJobsAsTheyAppearAndOneDoesNotBlockAnother(t *testing.T) {
	pool := pgtest.Migrated(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := schedule.New(pool, nil)
	r.Tick = 20 * time.Millisecond
	var mu sync.Mutex
	var listed []schedule.Job
	slowStarted, fastRan := make(chan struct{}), make(chan struct{})
	slow := schedule.Job{Name: "conn/a", Every: time.Hour, Run: func(ctx context.Context) error {
		close(slowStarted)
		select { // holds its slot until the other job has run
		case <-fastRan:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	fast := schedule.Job{Name: "conn/b", Every: time.Hour, Run: func(context.Context) error { close(fastRan); return nil }}
	invalid := schedule.Job{Name: "conn/bad", Every: time.Second, Run: func(context.Context) error { t.Error("an invalid job ran"); return nil }}
	listed = []schedule.Job{slow, invalid}
	done := make(chan error, 1)
	go func() {
		done <- r.RunSource(ctx, func(context.Context) ([]schedule.Job, error) {
			mu.Lock()
			defer mu.Unlock()
			return append([]schedule.Job(nil), listed...), nil
		})
	}()
	<-slowStarted
	mu.Lock()
	listed = append(listed, fast) // a connection created while the runner runs
	mu.Unlock()
	select {
	case <-fastRan:
	case <-time.After(10 * time.Second):
		t.Fatal("a job listed later never ran while another was running")
	}
	waitFor(t, func() bool {
		sts, err := r.Statuses(ctx, "conn/")
		return err == nil && len(sts) == 2 && sts[0].LastOK != nil && sts[1].LastOK != nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sts, err := r.Statuses(context.Background(), "conn/")
	testenv.Must(t, err, "statuses")
	if len(sts) != 2 || sts[0].Name != "conn/a" || sts[1].Name != "conn/b" || sts[0].Runs != 1 || sts[1].Runs != 1 {
		t.Errorf("statuses %+v", sts)
	}
}

func TestTriggerAndForget(t *testing.T) {
	pool := pgtest.Migrated(t)
	ctx := context.Background()
	r := schedule.New(pool, nil)
	var runs atomic.Int32
	job := schedule.Job{Name: "sync", Every: 24 * time.Hour, Run: func(context.Context) error { runs.Add(1); return nil }}
	_, _ = r.RunDue(ctx, &job)
	if ran, _ := r.RunDue(ctx, &job); ran {
		t.Fatal("ran twice in a slot")
	}
	testenv.Must(t, r.Trigger(ctx, "sync"), "trigger")
	if ran, _ := r.RunDue(ctx, &job); !ran || runs.Load() != 2 {
		t.Fatalf("a triggered job did not run: %d runs", runs.Load())
	}
	testenv.Must(t, r.Forget(ctx, "sync"), "forget")
	if _, err := r.JobStatus(ctx, "sync"); err == nil {
		t.Error("a forgotten job still has a row")
	}
	if err := r.Trigger(ctx, ""); err == nil {
		t.Error("triggered a job without a name")
	}
}

func TestValidateExplainsEveryMistake(t *testing.T) {
	cases := map[string]schedule.Job{
		"needs a name":                 {Every: time.Hour, Run: func(context.Context) error { return nil }},
		"at least 1m":                  {Name: "x", Every: time.Second, Run: func(context.Context) error { return nil }},
		"neither a period nor":         {Name: "x", Run: func(context.Context) error { return nil }},
		"both a period and":            {Name: "x", Every: time.Hour, Next: func(t time.Time) time.Time { return t }, Run: func(context.Context) error { return nil }},
		"nothing to run":               {Name: "x", Every: time.Hour},
		"timeout must not be negative": {Name: "x", Every: time.Hour, Timeout: -1, Run: func(context.Context) error { return nil }},
	}
	for want, j := range cases {
		if err := j.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: error %v, want %q", j, err, want)
		}
	}
	pool := pgtest.Migrated(t)
	if _, err := schedule.New(pool, nil).RunDue(context.Background(), &schedule.Job{Name: "x"}); err == nil {
		t.Error("RunDue ran an invalid job")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
