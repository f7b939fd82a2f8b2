package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	anomalypg "github.com/spendgate/spendgate/anomaly/pgstore"
	"github.com/spendgate/spendgate/config"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/egress"
	recommendpg "github.com/spendgate/spendgate/recommend/pgstore"
	"github.com/spendgate/spendgate/report"
	reportpg "github.com/spendgate/spendgate/report/pgstore"
	reportservice "github.com/spendgate/spendgate/report/service"
	"github.com/spendgate/spendgate/schedule"
)

// startReports builds the scheduled-report service and runs its jobs on the
// shared scheduler until stop is called. spend is the ClickHouse analytics
// store; without it there are no reports (nil service).
func startReports(ctx context.Context, pool *pgxpool.Pool, cp *controlplane.Service, spend report.SpendSource, m *config.Mail,
	allow *egress.Policy, portalURL string, log *slog.Logger) (*reportservice.Service, func(), error) {
	sender, err := m.Sender()
	if err != nil {
		return nil, nil, err
	}
	store := reportpg.New(pool)
	runner := schedule.New(pool, log)
	cfg := reportservice.Config{Store: store, Tenants: cp, Scheduler: runner, Egress: allow, PortalURL: portalURL, Log: log,
		Generator: &report.Generator{Spend: spend, Directory: reportpg.Directory{Store: store, Names: cp},
			Anomalies:       reportpg.Anomalies{Episodes: anomalypg.New(pool), Names: cp},
			Recommendations: reportpg.Recommendations{Store: store, Saved: recommendpg.New(pool)}}}
	if sender != nil { // a nil *mail.Sender would be a non-nil Mailer
		cfg.Mailer = sender
	} else {
		log.Info("no --smtp-host: reports and budget alerts are not emailed")
	}
	svc := reportservice.New(cfg)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := runner.RunSource(ctx, svc.Jobs); err != nil {
			log.Error("scheduled reports stopped", "err", err)
		}
	}()
	return svc, func() { cancel(); wg.Wait() }, nil
}
