// Package reprice prices stored usage events whose model had no price when
// they were ingested, once an admin has added one (a tenant pricing
// override, or a catalogue update). Stored events never change, because the
// rollups were fed by them: each newly priced event gets a cost correction
// that analytics add to it, and its cost is counted against the budgets
// that cover it.
//
// Exactly once: a correction's id is derived from its event, the budget
// counters skip ids they applied, and the ClickHouse writer skips stored
// ids; budgets are applied before the correction is stored, so a run that
// fails between the two is completed by the next one (the event is still
// uncorrected and its budget share is skipped as applied). A Postgres
// advisory lock keeps two runs of one tenant from overlapping.
package reprice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/store/clickhouse"
	"github.com/spendgate/spendgate/usage"
)

// Result says what a run did.
type Result struct {
	// Examined unpriced events; Repriced of them now have a price, whose
	// sums are ListNanoUSD and TenantNanoUSD; StillUnpriced do not.
	Examined, Repriced, StillUnpriced int64
	ListNanoUSD, TenantNanoUSD        int64
}

// Service re-prices a tenant's unpriced events.
type Service struct {
	cp        *controlplane.Service
	pool      *pgxpool.Pool
	store     *clickhouse.Analytics
	writer    *clickhouse.Writer
	catalogue pricing.Source
	spend     ingest.SpendSink // budgets; nil: none
	// MaxRange bounds one run's time range; PageSize the events read at once.
	MaxRange time.Duration
	PageSize int
}

// New builds the service. spend (the budget engine) may be nil.
func New(cp *controlplane.Service, pool *pgxpool.Pool, store *clickhouse.Analytics, writer *clickhouse.Writer,
	catalogue pricing.Source, spend ingest.SpendSink) *Service {
	return &Service{cp: cp, pool: pool, store: store, writer: writer, catalogue: catalogue, spend: spend,
		MaxRange: 400 * 24 * time.Hour, PageSize: 2000}
}

// correctionID names the correction of an event. One re-pricing per event:
// only events without a correction are re-priced.
func correctionID(eventID string) string { return eventID + "/reprice" }

// Unpriced re-prices the tenant's unpriced events in [from, to) with the
// catalogue and the tenant's overrides in force at each event's time.
// Admins only; audited.
func (s *Service) Unpriced(ctx context.Context, tenantID string, from, to time.Time) (Result, error) {
	var res Result
	details := map[string]any{"from": from.UTC().Format(time.RFC3339), "to": to.UTC().Format(time.RFC3339)}
	err := s.cp.AuditedAction(ctx, tenantID, controlplane.RoleAdmin, "usage.reprice", "tenant", tenantID, details,
		func(ctx context.Context) error {
			var err error
			res, err = s.run(ctx, tenantID, from, to)
			details["repriced"], details["still_unpriced"], details["tenant_cost_nano_usd"] = res.Repriced, res.StillUnpriced, res.TenantNanoUSD
			return err
		})
	return res, err
}

func invalid(format string, args ...any) error {
	return &apierr.Error{Code: apierr.CodeInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

func (s *Service) run(ctx context.Context, tenantID string, from, to time.Time) (Result, error) {
	var res Result
	switch {
	case s.store == nil || s.writer == nil:
		return res, &apierr.Error{Code: apierr.CodeInternal, Message: "re-pricing is not available on this server (no ClickHouse)"}
	case !from.Before(to):
		return res, invalid("from must be before to")
	case to.Sub(from) > s.MaxRange:
		return res, invalid("re-price at most %d days at once", int(s.MaxRange.Hours()/24))
	}
	unlock, err := s.lock(ctx, tenantID)
	if err != nil {
		return res, err
	}
	defer unlock()
	ovs, err := s.cp.TenantOverrides(ctx, tenantID)
	if err != nil {
		return res, err
	}
	spec := spend.Spec{Tenant: tenantID, From: from.UTC(), To: to.UTC()}
	var after *spend.EventCursor
	for {
		rows, err := s.store.Unpriced(ctx, spec, after, s.PageSize)
		if err != nil {
			return res, err
		}
		if len(rows) == 0 {
			return res, nil
		}
		var corrections []spend.Correction
		var spends []spend.PricedEvent
		for i := range rows {
			res.Examined++
			c, ev, ok, err := s.correct(&rows[i], tenantID, ovs)
			if err != nil {
				return res, err
			}
			if !ok {
				res.StillUnpriced++
				continue
			}
			corrections = append(corrections, c)
			spends = append(spends, ev)
			res.Repriced++
			res.ListNanoUSD += c.ListDelta
			res.TenantNanoUSD += c.TenantDelta
		}
		if s.spend != nil && len(spends) > 0 {
			if err := s.spend.ApplySpend(ctx, spends); err != nil {
				return res, fmt.Errorf("reprice: budgets: %w", err)
			}
		}
		if _, err := s.writer.WriteCorrections(ctx, corrections); err != nil {
			return res, fmt.Errorf("reprice: %w", err)
		}
		last := rows[len(rows)-1]
		after = &spend.EventCursor{Time: last.Time, EventID: last.EventID}
	}
}

// correct prices one stored event; ok is false when it still has no price.
func (s *Service) correct(row *spend.EventRow, tenantID string, ovs []pricing.Override) (spend.Correction, spend.PricedEvent, bool, error) {
	e := event.Event{SchemaVersion: event.SchemaVersion, Type: event.TypeUsage, EventID: correctionID(row.EventID), Time: row.Time,
		TenantID: tenantID, KeyID: row.KeyID, WorkspaceID: row.WorkspaceID, TeamID: row.TeamID, ProjectID: row.ProjectID, Source: row.Source, Provider: row.Provider, Operation: row.Operation,
		ModelRequested: row.ModelRequested, ModelServed: row.ModelServed, ServiceTier: row.ServiceTier, RawUsage: row.RawUsage,
		StatusCode: int(row.StatusCode), Complete: row.Complete, Dimensions: map[string]string{},
		Usage: usage.Tokens{Input: row.Input, CachedInput: row.CachedInput, CacheWrite5m: row.CacheWrite5m, CacheWrite1h: row.CacheWrite1h,
			Output: row.Output, Reasoning: row.Reasoning, AudioInput: row.AudioInput, AudioOutput: row.AudioOutput,
			ImageInput: row.ImageInput, ImageOutput: row.ImageOutput, WebSearches: row.WebSearches, Characters: row.Characters,
			Seconds: row.Seconds, Images: row.Images}}
	for i, n := range row.DimNames {
		if i < len(row.DimValues) {
			e.Dimensions[n] = row.DimValues[i]
		}
	}
	// The revision in force at the event's time prices it, so a re-run
	// reproduces the price whatever was applied since.
	req := ingest.CostRequest(&e)
	cost := s.catalogue.CatalogueAt(req.Time).Cost(req, e.Usage, ovs)
	if !cost.Priced {
		return spend.Correction{}, spend.PricedEvent{}, false, nil
	}
	lines, err := json.Marshal(cost.Lines)
	if err != nil {
		return spend.Correction{}, spend.PricedEvent{}, false, err
	}
	model := row.ModelServed
	if model == "" {
		model = row.ModelRequested
	}
	c := spend.Correction{ID: e.EventID, EventID: row.EventID, Time: row.Time, TenantID: tenantID, KeyID: row.KeyID,
		Source: row.Source, Provider: row.Provider, Operation: row.Operation, Model: model, ServiceTier: row.ServiceTier,
		StatusCode: row.StatusCode, DimNames: row.DimNames, DimValues: row.DimValues,
		WorkspaceID: row.WorkspaceID, TeamID: row.TeamID, ProjectID: row.ProjectID,
		// The stored event is unpriced, so its costs are zero: the
		// correction is the whole cost.
		ListDelta: cost.ListNanoUSD - row.ListNanoUSD, TenantDelta: cost.TenantNanoUSD - row.TenantNanoUSD, UnpricedDelta: -1,
		CatalogueModel: cost.Model, OverrideID: cost.OverrideID, PricingTier: cost.Tier, Lines: string(lines)}
	return c, spend.PricedEvent{Event: e, Cost: cost}, true, nil
}

// errBusy answers a second run of a tenant while one is going.
var errBusy = &apierr.Error{Code: apierr.CodeConflict, Message: "a re-pricing of this tenant is already running; try again when it ends"}

// lock takes the tenant's re-pricing lock (a Postgres advisory lock held on
// one connection for the run).
func (s *Service) lock(ctx context.Context, tenantID string) (func(), error) {
	h := fnv.New64a()
	_, _ = h.Write([]byte("spendgate reprice " + tenantID))
	key := int64(h.Sum64())
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		conn.Release()
		return nil, err
	}
	if !ok {
		conn.Release()
		return nil, errBusy
	}
	return func() {
		_, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key)
		if err != nil {
			// A session lock that cannot be released must not go back to the
			// pool still held.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
		conn.Release()
	}, nil
}

// IsBusy reports whether err is the answer to an overlapping run.
func IsBusy(err error) bool { return errors.Is(err, errBusy) }
