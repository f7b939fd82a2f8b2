// Package service wires spendgate budgets: the Postgres store (counters,
// alerts, reservations), the alert dispatcher (NATS + webhooks), the
// reservation sweeper, and estimation of a call's maximum cost with the
// pricing catalogue. cmd/spendgate builds one Service and hands it to ingest
// (ApplySpend), the control plane (KeyBlocked) and budget/httpapi (Reserve,
// Release).
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"

	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/alerts"
	"github.com/spendgate/spendgate/budget/pgstore"
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/usage"
)

// Config tunes budgets.
type Config struct {
	// ReservationTTL is how long an unsettled reservation holds its amount
	// before the sweeper gives it back.
	ReservationTTL time.Duration
	// SweepInterval is how often expired reservations are swept.
	SweepInterval time.Duration
	// DefaultMaxTokens is the output bound priced when a request has none.
	DefaultMaxTokens int64
	// DefaultInputTokens is the prompt size priced when the request gives no
	// estimate.
	DefaultInputTokens int64
	// UnpricedReserveNanoUSD is reserved for a model the catalogue cannot price.
	UnpricedReserveNanoUSD int64
	// FailOpen lets calls through unchecked when the store is unreachable.
	// The default (false) fails closed: hard-capped calls are denied.
	FailOpen bool
	// Retention is how long applied event ids and closed reservations are
	// kept; it must exceed the event stream's max age.
	Retention time.Duration
	// WebhookDebounce coalesces webhook alerts of one budget within this window.
	WebhookDebounce time.Duration
	// EmailDebounce is the least time between two emails about one budget
	// and threshold (alert emails need Alerts.Mailer).
	EmailDebounce time.Duration
	// Alerts tunes delivery.
	Alerts alerts.Config
}

// DefaultConfig returns defaults for one machine.
func DefaultConfig(natsPrefix string) Config {
	return Config{ReservationTTL: 10 * time.Minute, SweepInterval: 30 * time.Second, DefaultMaxTokens: 4096,
		DefaultInputTokens: 2048, UnpricedReserveNanoUSD: 1_000_000_000, Retention: 7 * 24 * time.Hour, WebhookDebounce: 2 * time.Second,
		EmailDebounce: time.Hour, Alerts: alerts.DefaultConfig(natsPrefix)}
}

// Service is the budgets engine.
type Service struct {
	cfg        Config
	Store      *pgstore.Store
	Dispatcher *alerts.Dispatcher
	catalogue  pricing.Source
	overrides  OverrideSource
	log        *slog.Logger
	now        func() time.Time
	observer   Observer
}

// Observer learns reservation outcomes (Reservation* results) and
// expiries, for metrics.
type Observer interface {
	Reserved(result string)
	ReservationsExpired(n int)
}

// SetObserver installs the observer (nil: none) and hands it to the alert
// dispatcher too when it observes deliveries; call before serving.
func (s *Service) SetObserver(o Observer) {
	s.observer = o
	if ao, ok := o.(alerts.Observer); ok {
		s.Dispatcher.SetObserver(ao)
	}
}

// Reservation results an Observer learns.
const (
	ReservationGranted   = "granted"
	ReservationRefused   = "refused"   // a hard budget has no room
	ReservationUnchecked = "unchecked" // the store is down and FailOpen let the call through
	ReservationError     = "error"     // bad input, or the store is down
)

func (s *Service) observeReserve(result string) {
	if s.observer != nil {
		s.observer.Reserved(result)
	}
}

// OverrideSource gives a tenant's pricing overrides; ingest.CachedOverrides
// over the control plane is the one to share with the ingest consumer.
type OverrideSource interface {
	TenantOverrides(ctx context.Context, tenantID string) ([]pricing.Override, error)
}

// SetPricingOverrides makes estimates use the tenant's prices: budgets count
// tenant cost, so a tenant paying more than list price must reserve more
// (nil ⇒ list prices). Call before serving.
func (s *Service) SetPricingOverrides(src OverrideSource) { s.overrides = src }

// New builds the service. nc may be nil (alerts are then only delivered to
// webhooks; NATS rows wait in the outbox).
func New(db *pgxpool.Pool, nc *nats.Conn, natsPrefix string, cfg Config, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	if cfg.Alerts.Prefix == "" {
		cfg.Alerts.Prefix = natsPrefix
	}
	st := pgstore.New(db)
	st.WebhookDebounce, st.EmailDebounce = cfg.WebhookDebounce, cfg.EmailDebounce
	return &Service{cfg: cfg, Store: st, Dispatcher: alerts.NewDispatcher(cfg.Alerts, st, nc, nil, log), catalogue: pricing.Default(),
		log: log, now: time.Now}
}

// Run sweeps expired reservations, prunes old bookkeeping and delivers
// alerts until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	go func() { _ = s.Dispatcher.Run(ctx) }()
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	var lastPrune time.Time
	for {
		if s.cfg.Retention > 0 && time.Since(lastPrune) > time.Hour {
			if _, _, err := s.Store.Prune(ctx, s.now().Add(-s.cfg.Retention)); err != nil && ctx.Err() == nil {
				s.log.Warn("budget: prune failed", "err", err)
			} else {
				lastPrune = time.Now()
			}
		}
		if n, err := s.Store.ExpireReservations(ctx, s.now()); err != nil && ctx.Err() == nil {
			s.log.Warn("budget: reservation sweep failed", "err", err)
		} else if n > 0 {
			s.log.Info("budget: expired unsettled reservations", "count", n)
			if s.observer != nil {
				s.observer.ReservationsExpired(int(n))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ApplySpend counts priced events against budgets (idempotent by event id)
// and settles the reservations they name. ingest calls it after storing the
// events and before acking them.
func (s *Service) ApplySpend(ctx context.Context, events []spend.PricedEvent) error {
	spends := make([]budget.Spend, 0, len(events))
	for i := range events {
		if events[i].Event.Type != event.TypeUsage {
			continue // denials cost nothing and settle nothing
		}
		spends = append(spends, pgstore.FromEvent(&events[i].Event, &events[i].Cost))
	}
	n, err := s.Store.ApplySpend(ctx, spends)
	if err != nil {
		return err
	}
	if n > 0 {
		s.Dispatcher.Kick()
	}
	return nil
}

// ReportedChanged re-evaluates the tenant's budgets that count
// provider-reported spend after reconciliation stored reports for days
// [from, to) (reconcile's BudgetReevaluator): thresholds and hard caps
// reached by reported spend alert and block at once.
func (s *Service) ReportedChanged(ctx context.Context, tenantID string, from, to time.Time) error {
	if _, err := s.Store.ApplyReported(ctx, tenantID, from, to); err != nil {
		return err
	}
	// Kicked whether or not alerts were counted: a breach row has no alert
	// count, kicking is cheap and its webhook is what a revocation workflow
	// waits for.
	s.Dispatcher.Kick()
	return nil
}

// KeyBlocked implements the control plane's BlockChecker. When the store is
// unreachable it returns the error (the control plane then blocks keys under
// hard budgets), or, with FailOpen, reports the key unblocked.
func (s *Service) KeyBlocked(ctx context.Context, tenantID, keyID string) (bool, string, error) {
	blocked, reason, err := s.Store.KeyBlocked(ctx, tenantID, keyID)
	if err != nil && s.cfg.FailOpen && !errors.Is(err, budget.ErrInvalid) {
		s.log.Warn("budget: store unavailable; key not blocked (fail open)", "tenant", tenantID, "err", err)
		return false, "", nil
	}
	return blocked, reason, err
}

// UseCatalogue makes estimates follow src (applied catalogue revisions)
// instead of the embedded catalogue.
func (s *Service) UseCatalogue(src pricing.Source) { s.catalogue = src }

// Estimate is the reservation amount for a request: the tenant cost (list
// price with the tenant's overrides) of InputTokensEstimate input and
// MaxTokens output tokens (when absent: the config's default input, and the
// model's maximum output from the catalogue or the config's default), or
// UnpricedReserveNanoUSD for a model without a price. It fails only when the
// tenant's overrides cannot be read.
//
// A request with MaxCostNanoUSD reserves that amount; one with Usage (the
// public preflight's worst case in any unit) reserves the tenant cost of
// that usage, or UnpricedReserveNanoUSD when the catalogue cannot price it.
func (s *Service) Estimate(ctx context.Context, r *budget.ReserveRequest) (int64, error) {
	if r.MaxCostNanoUSD > 0 {
		return r.MaxCostNanoUSD, nil
	}
	in, out := r.InputTokensEstimate, r.MaxTokens
	if in == 0 {
		in = s.cfg.DefaultInputTokens
	}
	if out == 0 {
		out = s.maxOutputTokens(r.Provider, r.Model)
	}
	if r.Model == "" {
		return s.cfg.UnpricedReserveNanoUSD, nil
	}
	var ovs []pricing.Override
	if s.overrides != nil {
		var err error
		if ovs, err = s.overrides.TenantOverrides(ctx, r.TenantID); err != nil {
			return 0, fmt.Errorf("budget: pricing overrides of %s: %w", r.TenantID, err)
		}
	}
	at := s.now()
	worst := usage.Tokens{Input: in, Output: out}
	if r.Usage != nil {
		worst = *r.Usage
	}
	c := s.catalogue.CatalogueAt(at).Cost(pricing.Request{Provider: r.Provider, Model: r.Model, Time: at}, worst, ovs)
	if !c.Priced {
		return s.cfg.UnpricedReserveNanoUSD, nil
	}
	return c.TenantNanoUSD, nil
}

// maxOutputs is the catalogue's most output tokens per call of a model
// (pricing.Catalogue.MaxOutputTokens, from the catalogue's
// max_output_tokens).
type maxOutputs interface {
	MaxOutputTokens(provider, model string) (int64, bool)
}

// maxOutputTokens is the output a call without max_tokens is reserved for:
// the model's real maximum from the catalogue, so the reservation is the
// call's true worst case; DefaultMaxTokens for a model the catalogue has no
// maximum for.
func (s *Service) maxOutputTokens(provider, model string) int64 {
	if mo, ok := any(s.catalogue).(maxOutputs); ok {
		if n, ok := mo.MaxOutputTokens(provider, model); ok && n > 0 {
			return n
		}
	}
	return s.cfg.DefaultMaxTokens
}

// Reserve holds the request's estimated maximum cost against every hard
// budget covering it. It returns *budget.DeniedError when one has no room,
// an error wrapping budget.ErrInvalid for bad input, and an error wrapping
// budget.ErrUnavailable when the store is unreachable (unless FailOpen, which
// returns an Unchecked reservation instead).
func (s *Service) Reserve(ctx context.Context, r budget.ReserveRequest) (budget.Reservation, error) {
	if err := r.Validate(); err != nil {
		s.observeReserve(ReservationError)
		return budget.Reservation{}, err
	}
	now := s.now()
	amount, err := s.Estimate(ctx, &r)
	var res budget.Reservation
	if err == nil {
		res, err = s.Store.Reserve(ctx, pgstore.ReserveInput{TenantID: r.TenantID, KeyID: r.KeyID, Provider: r.Provider, Model: r.Model, Dimensions: r.Dimensions,
			AmountNanoUSD: amount, Now: now, ExpiresAt: now.Add(s.cfg.ReservationTTL)})
	}
	var denied *budget.DeniedError
	switch {
	case err == nil:
		s.observeReserve(ReservationGranted)
		return res, nil
	case errors.As(err, &denied):
		s.observeReserve(ReservationRefused)
		return budget.Reservation{}, err
	case errors.Is(err, budget.ErrInvalid):
		s.observeReserve(ReservationError)
		return budget.Reservation{}, err
	case s.cfg.FailOpen:
		s.observeReserve(ReservationUnchecked)
		s.log.Warn("budget: store unavailable; reservation unchecked (fail open)", "tenant", r.TenantID, "err", err)
		return budget.Reservation{AmountNanoUSD: amount, ExpiresAt: now.Add(s.cfg.ReservationTTL).UTC(), BudgetIDs: []string{}, Unchecked: true}, nil
	default:
		s.observeReserve(ReservationError)
		return budget.Reservation{}, fmt.Errorf("%w: %w", budget.ErrUnavailable, err)
	}
}

// Release gives back a reservation whose call failed.
func (s *Service) Release(ctx context.Context, id string) error {
	err := s.Store.Release(ctx, id)
	if err != nil && !errors.Is(err, pgstore.ErrNotFound) {
		return fmt.Errorf("%w: %w", budget.ErrUnavailable, err)
	}
	return err
}
