package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/recordapi/httpapi"
	"github.com/spendgate/spendgate/recordapi/pgstore"
)

// idempotencyRetention is how long the record API remembers an idempotency
// key: far beyond any client's retries (and the event stream's age); a
// record retried later with its original time is still stored once by the
// ClickHouse writer's id check.
const idempotencyRetention = 30 * 24 * time.Hour

// mountRecordAPI serves the public preflight and record API (/v1/) on the
// API listener, and prunes old idempotency keys until ctx ends.
func mountRecordAPI(ctx context.Context, mount func(string, http.Handler), pool *pgxpool.Pool, cfg httpapi.Config, log *slog.Logger) {
	store := pgstore.New(pool)
	cfg.Idempotency, cfg.Reservations, cfg.Log = store, store, log
	h := httpapi.Handler(cfg)
	for _, route := range httpapi.Routes() {
		mount(route, h)
	}
	go func() {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			if n, err := store.Prune(ctx, time.Now().Add(-idempotencyRetention)); err != nil && ctx.Err() == nil {
				log.Warn("record api: pruning idempotency keys failed", "err", err)
			} else if n > 0 {
				log.Info("record api: pruned idempotency keys", "count", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}
