package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/anomaly"
	anomalypg "github.com/spendgate/spendgate/anomaly/pgstore"
	anomalysvc "github.com/spendgate/spendgate/anomaly/service"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/recommend"
	recommendpg "github.com/spendgate/spendgate/recommend/pgstore"
	recommendsvc "github.com/spendgate/spendgate/recommend/service"
	"github.com/spendgate/spendgate/schedule"
	chstore "github.com/spendgate/spendgate/store/clickhouse"
)

// intelligence is spend intelligence (docs/intelligence.md) over one
// ClickHouse and Postgres: anomaly detection and savings recommendations.
// cp may be nil where only the jobs run (ingest): the recommendation
// service then serves no API calls.
type intelligence struct {
	anomalies       *anomalysvc.Service
	recommendations *recommendsvc.Service
}

func openIntelligence(pool *pgxpool.Pool, store *chstore.Analytics, catalogue pricing.Source, cp *controlplane.Service, log *slog.Logger) (*intelligence, error) {
	an, err := anomalysvc.New(anomaly.DefaultConfig(), store, anomalypg.New(pool), log)
	if err != nil {
		return nil, fmt.Errorf("anomaly detection: %w", err)
	}
	var auth recommendsvc.Authorizer
	if cp != nil {
		auth = cp
	}
	rec := recommendsvc.New(recommend.DefaultConfig(), catalogue, store, controlplane.OverrideReader{DB: pool}, recommendpg.New(pool), auth, log)
	return &intelligence{anomalies: an, recommendations: rec}, nil
}

// jobs runs detection and the recommendation refresh hourly on the
// Postgres-backed scheduler until ctx ends (replicas run each slot once).
func (in *intelligence) jobs(pool *pgxpool.Pool, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		return schedule.New(pool, log).Run(ctx, in.anomalies.Job(), in.recommendations.Job())
	}
}
