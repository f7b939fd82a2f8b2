package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/config"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/pricing/revision"
	"github.com/spendgate/spendgate/schedule"
)

// followPricing seeds the first catalogue revision (the embedded one), loads
// the applied revisions and keeps them current until stop is called, and
// runs the scheduled sync when configured. Services price with the returned
// live source, so an applied revision takes effect without a restart.
func followPricing(ctx context.Context, pool *pgxpool.Pool, f *config.Pricing, log *slog.Logger) (*pricing.Live, *revision.Service, func(), error) {
	if err := f.Validate(); err != nil { // the commands validated it; a caller that did not is refused here
		return nil, nil, nil, err
	}
	svc := revision.New(pool, log)
	svc.Admins = append(svc.Admins, f.AdminList()...)
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
	go func() { defer wg.Done(); svc.Follow(ctx, live, f.Poll) }()
	if f.SyncURL != "" {
		job := schedule.Job{Name: revision.SyncJobName, Every: f.SyncEvery, Run: func(ctx context.Context) error {
			return svc.ScheduledSync(ctx, f.SyncURL, readSource)
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
