// Package schedule runs periodic jobs over Postgres, the one scheduler every
// spendgate replica shares: each job is one row of scheduled_jobs.
//
// A run is claimed with one UPDATE that takes a lease on a due row, so any
// number of replicas run a job once per slot, and a replica that dies
// mid-run leaves the job due: another takes it over when the lease lapses.
// When the run ends, the job's next slot is written (its fixed period or
// its calendar, such as a cron line in the tenant's time zone); a failed
// run is retried with exponential backoff, never later than its next
// regular slot. A job's progress, last error and consecutive failures stay
// on its row for operators.
//
// Jobs are either a fixed list (Run) or listed afresh on every tick from a
// Source (RunSource), for work that comes and goes with configuration, such
// as one job per provider connection or per report schedule.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/robfig/cron/v3"
)

// Job is a named job run every period or on a calendar.
type Job struct {
	Name string
	// Every is a fixed period (at least a minute) counted from the start of
	// the last run. Exactly one of Every and Next is set.
	Every time.Duration
	// Next is a calendar: the first run time strictly after its argument
	// (see Cron).
	Next func(after time.Time) time.Time
	// Timeout bounds a run (default DefaultTimeout): the run's context ends
	// then, and the lease other replicas respect lasts a minute longer.
	Timeout time.Duration
	Run     func(ctx context.Context) error
}

// DefaultTimeout bounds a run whose job sets no Timeout.
const DefaultTimeout = 30 * time.Minute

// leaseMargin is how long the lease outlives the run's deadline, so a run
// that honours its context finishes before anyone may take the job over.
const leaseMargin = time.Minute

// Validate checks a job before it is scheduled.
func (j *Job) Validate() error {
	var errs []error
	if j.Name == "" {
		errs = append(errs, errors.New("schedule: a job needs a name"))
	}
	switch {
	case j.Every != 0 && j.Next != nil:
		errs = append(errs, fmt.Errorf("schedule: job %q has both a period and a calendar; set one", j.Name))
	case j.Every == 0 && j.Next == nil:
		errs = append(errs, fmt.Errorf("schedule: job %q has neither a period nor a calendar", j.Name))
	case j.Next == nil && j.Every < time.Minute:
		errs = append(errs, fmt.Errorf("schedule: job %q: every must be at least 1m, not %s", j.Name, j.Every))
	}
	if j.Timeout < 0 {
		errs = append(errs, fmt.Errorf("schedule: job %q: timeout must not be negative", j.Name))
	}
	if j.Run == nil {
		errs = append(errs, fmt.Errorf("schedule: job %q has nothing to run", j.Name))
	}
	return errors.Join(errs...)
}

func (j *Job) timeout() time.Duration {
	if j.Timeout > 0 {
		return j.Timeout
	}
	return DefaultTimeout
}

// nextSlot is the job's next regular run after a run that started at start.
func (j *Job) nextSlot(start time.Time) time.Time {
	if j.Next != nil {
		return j.Next(start)
	}
	return start.Add(j.Every)
}

// Cron parses a standard five-field cron line (or a descriptor such as
// @weekly or @monthly) evaluated in loc, for Job.Next. A nil loc is UTC.
func Cron(spec string, loc *time.Location) (func(after time.Time) time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	if strings.Contains(spec, "TZ=") {
		return nil, fmt.Errorf("schedule: cron %q: give the time zone separately, not in the line", spec)
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule: cron %q: %w", spec, err)
	}
	return func(after time.Time) time.Time { return s.Next(after.In(loc)) }, nil
}

// Source lists the jobs to run now; RunSource calls it on every tick.
type Source func(ctx context.Context) ([]Job, error)

// Runner checks its jobs every Tick and runs those that are due.
type Runner struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	// Tick is how often due jobs are looked for (default 1 minute).
	Tick time.Duration
	// Concurrency bounds the jobs this runner runs at once (default 4).
	Concurrency int
	// Backoff is the wait before retrying a job that failed failures times
	// in a row (default RetryBackoff).
	Backoff func(failures int) time.Duration
}

// New builds a runner.
func New(pool *pgxpool.Pool, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.Default()
	}
	return &Runner{pool: pool, log: log, Tick: time.Minute, Concurrency: 4, Backoff: RetryBackoff}
}

// RetryBackoff doubles from one minute up to an hour: 1m, 2m, 4m, … 1h.
func RetryBackoff(failures int) time.Duration {
	d := time.Minute
	for i := 1; i < failures && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// Run runs the jobs when due until ctx ends.
func (r *Runner) Run(ctx context.Context, jobs ...Job) error {
	for i := range jobs {
		if err := jobs[i].Validate(); err != nil {
			return err
		}
	}
	return r.RunSource(ctx, func(context.Context) ([]Job, error) { return jobs, nil })
}

// RunSource runs the jobs src lists, when due, until ctx ends, and waits for
// the runs it started. A job src lists that does not validate is logged and
// skipped; a failing src is logged and asked again on the next tick.
func (r *Runner) RunSource(ctx context.Context, src Source) error {
	t := time.NewTicker(max(r.Tick, 10*time.Millisecond))
	defer t.Stop()
	sem := make(chan struct{}, max(r.Concurrency, 1))
	var wg sync.WaitGroup
	defer wg.Wait()
	var mu sync.Mutex
	running := map[string]bool{} // jobs this runner is running now
	for {
		jobs, err := src(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Warn("scheduled jobs not listed", "err", err)
		}
		for i := range jobs {
			j := jobs[i]
			if err := j.Validate(); err != nil {
				r.log.Warn("scheduled job skipped", "job", j.Name, "err", err)
				continue
			}
			mu.Lock()
			busy := running[j.Name]
			mu.Unlock()
			if busy {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			mu.Lock()
			running[j.Name] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem; mu.Lock(); delete(running, j.Name); mu.Unlock() }()
				if _, err := r.RunDue(ctx, &j); err != nil && ctx.Err() == nil {
					r.log.Warn("scheduled job failed", "job", j.Name, "err", err)
				}
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunDue runs j if it is due and no other runner holds it; ran says whether
// it ran. A new job is due at once.
func (r *Runner) RunDue(ctx context.Context, j *Job) (ran bool, err error) {
	if err := j.Validate(); err != nil {
		return false, err
	}
	if _, err := r.pool.Exec(ctx, "INSERT INTO scheduled_jobs (name, next_run_at) VALUES ($1, now()) ON CONFLICT (name) DO NOTHING", j.Name); err != nil {
		return false, fmt.Errorf("schedule: %w", err)
	}
	token := uuid.New()
	timeout := j.timeout()
	var start time.Time
	var failures int
	err = r.pool.QueryRow(ctx, `UPDATE scheduled_jobs
		SET lease_token = $2, lease_until = now() + $3::interval, started_at = now(), last_run_at = now(),
		    runs = runs + 1, progress = ''
		WHERE name = $1 AND next_run_at <= now() AND (lease_until IS NULL OR lease_until < now())
		RETURNING started_at, failures`, j.Name, token, (timeout+leaseMargin).String()).Scan(&start, &failures)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("schedule: claim %s: %w", j.Name, err)
	}
	runCtx, cancel := context.WithTimeout(context.WithValue(ctx, runKey{}, &claim{r: r, name: j.Name, token: token}), timeout)
	runErr := j.Run(runCtx)
	cancel()
	if runErr == nil && runCtx.Err() == context.DeadlineExceeded {
		runErr = fmt.Errorf("timed out after %s", timeout)
	}
	msg, retryAfter := "", time.Duration(0)
	if runErr != nil {
		msg = runErr.Error()
		failures++
		backoff := RetryBackoff
		if r.Backoff != nil {
			backoff = r.Backoff
		}
		retryAfter = backoff(failures)
	} else {
		failures = 0
	}
	// A failed run is retried after its backoff (on the database's clock,
	// like every other time here) unless its next regular slot comes first.
	// Only the holder of the lease records the outcome: a run that overran
	// its lease and was taken over must not overwrite the newer run's row.
	tag, err := r.pool.Exec(context.WithoutCancel(ctx), `UPDATE scheduled_jobs
		SET next_run_at = CASE WHEN $4 = '' THEN $3 ELSE LEAST($3, now() + $6::interval) END,
		    last_error = $4, failures = $5,
		    last_ok_at = CASE WHEN $4 = '' THEN now() ELSE last_ok_at END,
		    last_duration = now() - started_at, lease_token = NULL, lease_until = NULL
		WHERE name = $1 AND lease_token = $2`, j.Name, token, j.nextSlot(start), msg, failures, retryAfter.String())
	if err != nil {
		return true, errors.Join(runErr, fmt.Errorf("schedule: record %s: %w", j.Name, err))
	}
	if tag.RowsAffected() == 0 {
		return true, errors.Join(runErr, fmt.Errorf("schedule: %s overran its lease of %s; its outcome was not recorded", j.Name, timeout+leaseMargin))
	}
	return true, runErr
}

type runKey struct{}

type claim struct {
	r     *Runner
	name  string
	token uuid.UUID
}

// Progress records what a running job is doing ("page 3 of 7") on its row,
// for operators. It is a no-op outside a scheduled run, and best effort: a
// failure to record is logged, never returned.
func Progress(ctx context.Context, format string, args ...any) {
	c, ok := ctx.Value(runKey{}).(*claim)
	if !ok {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if _, err := c.r.pool.Exec(ctx, "UPDATE scheduled_jobs SET progress = $3 WHERE name = $1 AND lease_token = $2",
		c.name, c.token, msg); err != nil && ctx.Err() == nil {
		c.r.log.Warn("scheduled job progress not recorded", "job", c.name, "err", err)
	}
}

// Trigger makes a job due now (a "run now" button); it runs on the next tick
// of any runner that schedules it. A job that never ran is created due.
func (r *Runner) Trigger(ctx context.Context, name string) error {
	if name == "" {
		return errors.New("schedule: a job needs a name")
	}
	_, err := r.pool.Exec(ctx, `INSERT INTO scheduled_jobs (name, next_run_at) VALUES ($1, now())
		ON CONFLICT (name) DO UPDATE SET next_run_at = LEAST(scheduled_jobs.next_run_at, now())`, name)
	if err != nil {
		return fmt.Errorf("schedule: trigger %s: %w", name, err)
	}
	return nil
}

// Forget removes a job's row, for jobs whose configuration was deleted. A
// run in progress finishes, but its outcome is not recorded.
func (r *Runner) Forget(ctx context.Context, name string) error {
	if _, err := r.pool.Exec(ctx, "DELETE FROM scheduled_jobs WHERE name = $1", name); err != nil {
		return fmt.Errorf("schedule: forget %s: %w", name, err)
	}
	return nil
}

// Status is a job's row, for operators.
type Status struct {
	Name              string
	NextRunAt         time.Time
	LastRunAt, LastOK *time.Time
	LastError         string
	Runs              int64
	// Failures counts the runs that failed in a row (0 after a success).
	Failures int
	// Progress is what the current or last run last reported.
	Progress string
	// RunningSince is set while a runner holds the job's lease.
	RunningSince *time.Time
	// LastDuration is how long the last finished run took.
	LastDuration time.Duration
}

const statusColumns = `name, next_run_at, last_run_at, last_ok_at, last_error, runs, failures, progress,
	CASE WHEN lease_until > now() THEN started_at END, COALESCE(EXTRACT(EPOCH FROM last_duration), 0)`

func scanStatus(row pgx.Row) (Status, error) {
	var s Status
	var secs float64
	err := row.Scan(&s.Name, &s.NextRunAt, &s.LastRunAt, &s.LastOK, &s.LastError, &s.Runs, &s.Failures, &s.Progress,
		&s.RunningSince, &secs)
	s.LastDuration = time.Duration(secs * float64(time.Second))
	return s, err
}

// JobStatus reads a job's row.
func (r *Runner) JobStatus(ctx context.Context, name string) (Status, error) {
	return scanStatus(r.pool.QueryRow(ctx, "SELECT "+statusColumns+" FROM scheduled_jobs WHERE name = $1", name))
}

// Statuses reads the rows of the jobs whose names start with prefix (such
// as "reconcile/<tenant>/"), by name.
func (r *Runner) Statuses(ctx context.Context, prefix string) ([]Status, error) {
	rows, err := r.pool.Query(ctx, "SELECT "+statusColumns+` FROM scheduled_jobs
		WHERE starts_with(name, $1) ORDER BY name`, prefix)
	if err != nil {
		return nil, fmt.Errorf("schedule: statuses: %w", err)
	}
	defer rows.Close()
	var out []Status
	for rows.Next() {
		s, err := scanStatus(rows)
		if err != nil {
			return nil, fmt.Errorf("schedule: statuses: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
