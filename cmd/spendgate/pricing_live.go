package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/pricing/revision"
	"github.com/spendgate/spendgate/schedule"
)

// pricingFlags configure catalogue revisions in services that price.
type pricingFlags struct {
	poll      time.Duration
	admins    string
	syncURL   string
	syncEvery time.Duration
}

func addPricingFlags(fs *flag.FlagSet, f *pricingFlags) {
	fs.DurationVar(&f.poll, "pricing-poll", time.Minute, "how often to check for applied pricing revisions besides Postgres notifications")
	fs.StringVar(&f.admins, "pricing-admins", "", "comma-separated e-mails allowed to propose, apply and reject pricing revisions through the API (empty: CLI only)")
	fs.StringVar(&f.syncURL, "pricing-sync-url", "", "LiteLLM price file URL a scheduled sync proposes revisions from (empty: no scheduled sync)")
	fs.DurationVar(&f.syncEvery, "pricing-sync-every", 24*time.Hour, "how often the scheduled pricing sync runs")
}

func (f *pricingFlags) validate() error {
	var errs []error
	if f.poll < time.Second {
		errs = append(errs, fmt.Errorf("--pricing-poll must be at least 1s, not %s", f.poll))
	}
	if f.syncURL != "" && !strings.HasPrefix(f.syncURL, "https://") && !strings.HasPrefix(f.syncURL, "http://") {
		errs = append(errs, fmt.Errorf("--pricing-sync-url must be an http(s) URL, not %q", f.syncURL))
	}
	if f.syncEvery < time.Minute {
		errs = append(errs, fmt.Errorf("--pricing-sync-every must be at least 1m, not %s", f.syncEvery))
	}
	return errors.Join(errs...)
}

// followPricing seeds the first catalogue revision (the embedded one), loads
// the applied revisions and keeps them current until stop is called, and
// runs the scheduled sync when configured. Services price with the returned
// live source, so an applied revision takes effect without a restart.
func followPricing(ctx context.Context, pool *pgxpool.Pool, f *pricingFlags, log *slog.Logger) (*pricing.Live, *revision.Service, func(), error) {
	if err := f.validate(); err != nil {
		return nil, nil, nil, err
	}
	svc := revision.New(pool, log)
	for _, a := range strings.Split(f.admins, ",") {
		if a = strings.TrimSpace(a); a != "" {
			svc.Admins = append(svc.Admins, a)
		}
	}
	if err := svc.Seed(ctx); err != nil {
		return nil, nil, nil, fmt.Errorf("pricing revisions: %w", err)
	}
	live := pricing.NewLive(pricing.Default())
	if _, err := svc.Refresh(ctx, live); err != nil {
		return nil, nil, nil, fmt.Errorf("pricing revisions: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); svc.Follow(ctx, live, f.poll) }()
	if f.syncURL != "" {
		job := schedule.Job{Name: revision.SyncJobName, Every: f.syncEvery, Run: func(ctx context.Context) error {
			return svc.ScheduledSync(ctx, f.syncURL, readSource)
		}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := schedule.New(pool, log).Run(ctx, job); err != nil {
				log.Error("scheduled pricing sync not started", "err", err)
			}
		}()
	}
	return live, svc, func() { cancel(); wg.Wait() }, nil
}
