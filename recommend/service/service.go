// Package service refreshes every tenant's savings recommendations (the
// hourly job) from its last 30 days of usage (ClickHouse) and the pricing
// catalogue with the tenant's overrides, and lists them and changes their
// state for the API and reports.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/recommend"
	"github.com/spendgate/spendgate/recommend/pgstore"
	"github.com/spendgate/spendgate/schedule"
	"github.com/spendgate/spendgate/spend"
)

// JobName is the scheduled job's name.
const JobName = "recommendations-refresh"

// Window is how much usage the rules read.
const Window = 30 * 24 * time.Hour

// Usage reads what the rules need from ClickHouse (store/clickhouse.Analytics).
type Usage interface {
	UsageProfile(ctx context.Context, tenant string, from, to time.Time) ([]recommend.Usage, error)
	KeysWithTraffic(ctx context.Context, tenant string, from, to time.Time) (map[string]bool, error)
	UnknownModels(ctx context.Context, s spend.Spec, limit int) ([]spend.UnknownModel, error)
}

// Overrides gives a tenant's pricing overrides (controlplane.OverrideReader).
type Overrides interface {
	TenantOverrides(ctx context.Context, tenantID string) ([]pricing.Override, error)
}

// Authorizer checks the caller's role in a tenant (the control plane).
type Authorizer interface {
	Authorize(ctx context.Context, tenantID string, need controlplane.Role) (auth.Principal, error)
}

// Service refreshes and serves recommendations.
type Service struct {
	cfg       recommend.Config
	catalogue pricing.Source
	usage     Usage
	overrides Overrides
	store     *pgstore.Store
	cp        Authorizer
	log       *slog.Logger
	// Now is the clock (tests set it).
	Now func() time.Time
}

// New builds the service.
func New(cfg recommend.Config, catalogue pricing.Source, usage Usage, overrides Overrides, store *pgstore.Store, cp Authorizer, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{cfg: cfg, catalogue: catalogue, usage: usage, overrides: overrides, store: store, cp: cp, log: log, Now: time.Now}
}

// Job is the hourly refresh for the scheduler.
func (s *Service) Job() schedule.Job {
	return schedule.Job{Name: JobName, Every: time.Hour, Timeout: 20 * time.Minute, Run: s.RunOnce}
}

// RunOnce refreshes every tenant; a tenant that fails is logged and the
// others still run.
func (s *Service) RunOnce(ctx context.Context) error {
	tenants, err := s.store.Tenants(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for i, t := range tenants {
		schedule.Progress(ctx, "tenant %d of %d", i+1, len(tenants))
		if err := s.Refresh(ctx, t); err != nil {
			s.log.Warn("recommendations refresh failed for a tenant", "tenant", t, "err", err)
			errs = append(errs, fmt.Errorf("tenant %s: %w", t, err))
		}
	}
	return errors.Join(errs...)
}

// Refresh recomputes one tenant's recommendations.
func (s *Service) Refresh(ctx context.Context, tenantID string) error {
	to := s.Now().UTC().Truncate(time.Hour)
	from := to.Add(-Window)
	in := recommend.Input{TenantID: tenantID, From: from, To: to}
	var err error
	if in.Usage, err = s.usage.UsageProfile(ctx, tenantID, from, to); err != nil {
		return err
	}
	if in.KeysWithTraffic, err = s.usage.KeysWithTraffic(ctx, tenantID, to.Add(-time.Duration(s.cfg.IdleDays)*24*time.Hour), to); err != nil {
		return err
	}
	unknown, err := s.usage.UnknownModels(ctx, spend.Spec{Tenant: tenantID, From: from, To: to}, 100)
	if err != nil {
		return err
	}
	for _, m := range unknown {
		in.Unpriced = append(in.Unpriced, recommend.UnpricedModel{Provider: m.Provider, Model: m.Model, Events: m.Events,
			InputTokens: m.InputTokens, OutputTokens: m.OutputTokens})
	}
	if in.ActiveKeys, err = s.store.ActiveKeys(ctx, tenantID); err != nil {
		return err
	}
	if in.Overrides, err = s.overrides.TenantOverrides(ctx, tenantID); err != nil {
		return fmt.Errorf("recommend: overrides: %w", err)
	}
	recs, err := recommend.Generate(s.catalogue.CatalogueAt(to), &s.cfg, &in)
	if err != nil {
		return err
	}
	return s.store.Refresh(ctx, tenantID, recs, s.Now())
}

// List returns the tenant's recommendations (of one state, "" for all),
// largest saving first, for a caller the tenant already authorized (a
// report job); the API uses ListFor.
func (s *Service) List(ctx context.Context, tenantID string, state recommend.State) ([]pgstore.Stored, error) {
	if state != "" {
		if _, err := recommend.ParseState(string(state)); err != nil {
			return nil, apierr.Invalid("%s", err.Error())
		}
	}
	return s.store.List(ctx, tenantID, state)
}

// ListFor is List for a signed-in caller: any member of the tenant may read.
func (s *Service) ListFor(ctx context.Context, tenantID string, state recommend.State) ([]pgstore.Stored, error) {
	if _, err := s.cp.Authorize(ctx, tenantID, controlplane.RoleViewer); err != nil {
		return nil, err
	}
	return s.List(ctx, tenantID, state)
}

// SetState applies, dismisses or reopens a recommendation: tenant admins
// only; who and when are recorded and audited.
func (s *Service) SetState(ctx context.Context, tenantID, id string, state recommend.State) (pgstore.Stored, error) {
	if _, err := recommend.ParseState(string(state)); err != nil {
		return pgstore.Stored{}, apierr.Invalid("%s", err.Error())
	}
	p, err := s.cp.Authorize(ctx, tenantID, controlplane.RoleAdmin)
	if err != nil {
		return pgstore.Stored{}, err
	}
	st, err := s.store.SetState(ctx, tenantID, id, state, p)
	if errors.Is(err, pgstore.ErrNotFound) {
		return pgstore.Stored{}, apierr.New(apierr.CodeNotFound, "no recommendation %q in this tenant", id)
	}
	return st, err
}
