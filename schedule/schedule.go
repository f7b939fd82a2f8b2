// Package schedule runs periodic jobs over Postgres: each job is one row of
// scheduled_jobs, and a run is claimed by moving its next_run_at forward in
// one UPDATE, so any number of replicas run a job once per slot without a
// job queue. A job's last error is kept on its row for operators.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Job is a named periodic job.
type Job struct {
	Name  string
	Every time.Duration
	Run   func(ctx context.Context) error
}

// Runner checks its jobs every Tick and runs those that are due.
type Runner struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	// Tick is how often due jobs are looked for (default 1 minute).
	Tick time.Duration
}

// New builds a runner.
func New(pool *pgxpool.Pool, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.Default()
	}
	return &Runner{pool: pool, log: log, Tick: time.Minute}
}

// Validate checks a job before it is scheduled.
func (j *Job) Validate() error {
	var errs []error
	if j.Name == "" {
		errs = append(errs, errors.New("schedule: a job needs a name"))
	}
	if j.Every < time.Minute {
		errs = append(errs, fmt.Errorf("schedule: job %q: every must be at least 1m, not %s", j.Name, j.Every))
	}
	if j.Run == nil {
		errs = append(errs, fmt.Errorf("schedule: job %q has nothing to run", j.Name))
	}
	return errors.Join(errs...)
}

// Run runs the jobs when due until ctx ends.
func (r *Runner) Run(ctx context.Context, jobs ...Job) error {
	for i := range jobs {
		if err := jobs[i].Validate(); err != nil {
			return err
		}
	}
	t := time.NewTicker(max(r.Tick, 10*time.Millisecond))
	defer t.Stop()
	for {
		for i := range jobs {
			if _, err := r.RunDue(ctx, &jobs[i]); err != nil && ctx.Err() == nil {
				r.log.Warn("scheduled job failed", "job", jobs[i].Name, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunDue runs j if it is due and no other process claimed this slot; ran
// says whether it ran. A new job is due at once.
func (r *Runner) RunDue(ctx context.Context, j *Job) (ran bool, err error) {
	if _, err := r.pool.Exec(ctx, "INSERT INTO scheduled_jobs (name, next_run_at) VALUES ($1, now()) ON CONFLICT (name) DO NOTHING", j.Name); err != nil {
		return false, fmt.Errorf("schedule: %w", err)
	}
	tag, err := r.pool.Exec(ctx, `UPDATE scheduled_jobs SET next_run_at = now() + $2::interval, last_run_at = now(), runs = runs + 1
		WHERE name = $1 AND next_run_at <= now()`, j.Name, j.Every.String())
	if err != nil {
		return false, fmt.Errorf("schedule: claim %s: %w", j.Name, err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	runErr := j.Run(ctx)
	msg := ""
	if runErr != nil {
		msg = runErr.Error()
	}
	if _, err := r.pool.Exec(context.WithoutCancel(ctx), `UPDATE scheduled_jobs SET last_error = $2,
		last_ok_at = CASE WHEN $2 = '' THEN now() ELSE last_ok_at END WHERE name = $1`, j.Name, msg); err != nil {
		return true, errors.Join(runErr, fmt.Errorf("schedule: record %s: %w", j.Name, err))
	}
	return true, runErr
}

// Status is a job's row, for operators.
type Status struct {
	Name              string
	NextRunAt         time.Time
	LastRunAt, LastOK *time.Time
	LastError         string
	Runs              int64
}

// JobStatus reads a job's row.
func (r *Runner) JobStatus(ctx context.Context, name string) (Status, error) {
	s := Status{Name: name}
	err := r.pool.QueryRow(ctx, "SELECT next_run_at, last_run_at, last_ok_at, last_error, runs FROM scheduled_jobs WHERE name = $1", name).
		Scan(&s.NextRunAt, &s.LastRunAt, &s.LastOK, &s.LastError, &s.Runs)
	return s, err
}
