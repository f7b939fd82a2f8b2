// Package service runs anomaly detection for every tenant (the hourly job)
// and lists episodes for the API and reports: hourly spend per tenant, key,
// team, project and model is read from ClickHouse (the hourly rollups, via
// the analytics store), each complete hour not judged yet is judged by the
// pure detector, and episodes and their alerts are kept in Postgres.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spendgate/spendgate/anomaly"
	"github.com/spendgate/spendgate/anomaly/pgstore"
	"github.com/spendgate/spendgate/schedule"
	"github.com/spendgate/spendgate/spend"
)

// JobName is the scheduled job's name.
const JobName = "anomaly-detection"

// Spend reads hourly spend series (store/clickhouse.Analytics).
type Spend interface {
	TimeSeries(ctx context.Context, s spend.Spec) ([]spend.Point, error)
}

// Store keeps episodes (anomaly/pgstore.Store).
type Store interface {
	Tenants(ctx context.Context) ([]string, error)
	JudgedThrough(ctx context.Context, tenantID string) (time.Time, error)
	OpenEpisodes(ctx context.Context, tenantID string) (map[anomaly.SeriesKey]*anomaly.Episode, error)
	Save(ctx context.Context, tenantID string, through time.Time, changes []pgstore.Change) ([]anomaly.Episode, error)
	List(ctx context.Context, q pgstore.ListQuery) ([]anomaly.Episode, error)
}

// Service detects and lists anomalies.
type Service struct {
	cfg   anomaly.Config
	spend Spend
	store Store
	log   *slog.Logger
	// Now is the clock (tests set it).
	Now func() time.Time
	// MaxCatchUp bounds how many past hours one run judges for a tenant
	// (after downtime, or on the first run: only the last complete hour).
	MaxCatchUp int
	// Opened, when set, learns each opened episode (e.g. to kick the alert
	// dispatcher).
	Opened func(anomaly.Episode)
}

// New builds the service; cfg is validated.
func New(cfg anomaly.Config, sp Spend, st Store, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{cfg: cfg, spend: sp, store: st, log: log, Now: time.Now, MaxCatchUp: 48}, nil
}

// Job is the hourly detection run for the scheduler.
func (s *Service) Job() schedule.Job {
	return schedule.Job{Name: JobName, Every: time.Hour, Timeout: 20 * time.Minute, Run: func(ctx context.Context) error {
		_, err := s.RunOnce(ctx)
		return err
	}}
}

// RunOnce judges every tenant's complete hours not judged yet and returns
// the episodes it opened. A tenant that fails is logged and the others
// still run; the errors are returned joined.
func (s *Service) RunOnce(ctx context.Context) ([]anomaly.Episode, error) {
	tenants, err := s.store.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	var opened []anomaly.Episode
	var errs []error
	for i, t := range tenants {
		schedule.Progress(ctx, "tenant %d of %d", i+1, len(tenants))
		o, err := s.RunTenant(ctx, t)
		if err != nil {
			s.log.Warn("anomaly detection failed for a tenant", "tenant", t, "err", err)
			errs = append(errs, fmt.Errorf("tenant %s: %w", t, err))
		}
		opened = append(opened, o...)
	}
	return opened, errors.Join(errs...)
}

// groupBys are the analytics group-bys of the watched dimensions (the
// tenant's own series has none).
var groupBys = map[anomaly.Dimension]string{anomaly.DimKey: "key", anomaly.DimTeam: "team", anomaly.DimProject: "project", anomaly.DimModel: "model"}

// RunTenant judges one tenant's complete hours after its cursor.
func (s *Service) RunTenant(ctx context.Context, tenantID string) ([]anomaly.Episode, error) {
	now := s.Now().UTC()
	last := now.Truncate(time.Hour).Add(-time.Hour) // the last complete hour
	through, err := s.store.JudgedThrough(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	first := last
	if !through.IsZero() {
		first = through.Add(time.Hour)
	}
	if earliest := last.Add(-time.Duration(s.MaxCatchUp-1) * time.Hour); first.Before(earliest) {
		first = earliest
	}
	if first.After(last) {
		return nil, nil
	}
	open, err := s.store.OpenEpisodes(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	from := first.Add(-s.cfg.History() - time.Duration(s.cfg.ScaleHours)*time.Hour)
	to := last.Add(time.Hour)
	series := map[anomaly.SeriesKey]*anomaly.Series{}
	for _, dim := range anomaly.Dimensions {
		spec := spend.Spec{Tenant: tenantID, From: from, To: to, Bucket: "hour"}
		if g := groupBys[dim]; g != "" {
			spec.GroupBy = []string{g}
		}
		points, err := s.spend.TimeSeries(ctx, spec)
		if err != nil {
			return nil, fmt.Errorf("anomaly: hourly spend by %s: %w", dim, err)
		}
		for _, p := range points {
			key := anomaly.SeriesKey{Dimension: dim}
			if len(p.Keys) > 0 {
				key.Value = p.Keys[0]
			}
			if dim != anomaly.DimTenant && key.Value == "" {
				continue // spend without a team or project: in the tenant's series
			}
			sr := series[key]
			if sr == nil {
				sr = &anomaly.Series{Start: from, Hours: make([]anomaly.Hour, int(to.Sub(from)/time.Hour))}
				series[key] = sr
			}
			if i := int(p.Bucket.Sub(from) / time.Hour); i >= 0 && i < len(sr.Hours) {
				sr.Hours[i].SpendNanoUSD += p.TenantNanoUSD
				sr.Hours[i].Events += p.Events
			}
		}
	}
	// A series with an open episode and no spend left in the window is
	// judged too (all zero), so its episode ends.
	for key := range open {
		if series[key] == nil {
			series[key] = &anomaly.Series{Start: from, Hours: make([]anomaly.Hour, int(to.Sub(from)/time.Hour))}
		}
	}
	var changes []pgstore.Change
	for key, sr := range series {
		ep := open[key]
		for h := first; !h.After(last); h = h.Add(time.Hour) {
			v, err := s.cfg.Detect(sr, h)
			if err != nil {
				return nil, err
			}
			e, step := s.cfg.Track(ep, tenantID, key, &v, now)
			switch step {
			case anomaly.StepOpened:
				changes = append(changes, pgstore.Change{Step: step, Episode: e})
				ep = e
			case anomaly.StepExtended:
				ep = s.record(&changes, ep, e, step)
			case anomaly.StepClosed:
				s.record(&changes, ep, e, step)
				ep = nil
			}
		}
	}
	opened, err := s.store.Save(ctx, tenantID, last, changes)
	if err != nil {
		return nil, err
	}
	for _, e := range opened {
		s.log.Info("spend anomaly", "tenant", tenantID, "dimension", e.Series.Dimension, "value", e.Series.Value, "severity", e.Severity, "hour", e.StartedAt)
		if s.Opened != nil {
			s.Opened(e)
		}
	}
	return opened, nil
}

// record adds or replaces the change of an episode: an episode opened in
// this run stays "opened" (it is inserted once, as it ends up); one
// opened before is updated.
func (s *Service) record(changes *[]pgstore.Change, before, after *anomaly.Episode, step anomaly.Step) *anomaly.Episode {
	for i := range *changes {
		if (*changes)[i].Episode == before {
			(*changes)[i].Episode = after
			if (*changes)[i].Step != anomaly.StepOpened {
				(*changes)[i].Step = step
			}
			return after
		}
	}
	*changes = append(*changes, pgstore.Change{Step: step, Episode: after})
	return after
}

// ErrInvalid marks a bad list request.
var ErrInvalid = errors.New("anomaly: invalid request")

// MaxList is the most episodes one List returns.
const MaxList = 500

// List returns the tenant's episodes that overlap [from, to), newest first.
// The caller has authorized the tenant (the GraphQL resolver, or a report
// job acting for it).
func (s *Service) List(ctx context.Context, tenantID string, from, to time.Time, dim anomaly.Dimension, limit int) ([]anomaly.Episode, error) {
	switch {
	case tenantID == "":
		return nil, fmt.Errorf("%w: a tenant is required", ErrInvalid)
	case !from.Before(to):
		return nil, fmt.Errorf("%w: from (%s) must be before to (%s)", ErrInvalid, from.Format(time.RFC3339), to.Format(time.RFC3339))
	case limit < 0 || limit > MaxList:
		return nil, fmt.Errorf("%w: first must be between 1 and %d", ErrInvalid, MaxList)
	}
	if dim != "" {
		if _, err := anomaly.ParseDimension(string(dim)); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	if limit == 0 {
		limit = 100
	}
	return s.store.List(ctx, pgstore.ListQuery{TenantID: tenantID, From: from, To: to, Dimension: dim, Limit: limit})
}
