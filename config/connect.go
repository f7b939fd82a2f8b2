package config

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	chstore "github.com/spendgate/spendgate/store/clickhouse"
)

// Reached is what Connect learnt of one endpoint: Err is nil when the
// command could use it; Note says more (a database still to be created).
type Reached struct {
	Endpoint Endpoint
	Note     string
	Err      error
}

// Connect tries every endpoint the way the command would, without changing
// anything: Postgres (connect and ping; a missing database is fine, the
// command creates it), NATS (connect, JetStream enabled), ClickHouse
// (reachable, UTC, database present or creatable) and the HTTP services a
// standalone gateway calls (any HTTP answer). Each try is bounded by
// timeout.
func Connect(ctx context.Context, eps []Endpoint, timeout time.Duration) []Reached {
	out := make([]Reached, 0, len(eps))
	for _, ep := range eps {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		note, err := reach(ctx, ep, timeout)
		cancel()
		out = append(out, Reached{Endpoint: ep, Note: note, Err: err})
	}
	return out
}

func reach(ctx context.Context, ep Endpoint, timeout time.Duration) (string, error) {
	switch ep.Kind {
	case Postgres:
		return reachPostgres(ctx, ep.Address)
	case NATS:
		nc, err := nats.Connect(ep.Address, nats.Name("spendgate config check"), nats.Timeout(timeout))
		if err != nil {
			return "", err
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return "", err
		}
		if _, err := js.AccountInfo(ctx); err != nil {
			return "", fmt.Errorf("JetStream: %w (start nats-server with -js)", err)
		}
		return "JetStream enabled", nil
	case ClickHouse:
		exists, err := chstore.Probe(ctx, ep.Address, ep.Database)
		if err != nil {
			return "", err
		}
		if !exists {
			return fmt.Sprintf("database %s will be created on the first start", ep.Database), nil
		}
		return "database " + ep.Database + " present, UTC", nil
	case HTTP:
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.Address, http.NoBody)
		if err != nil {
			return "", err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		_ = resp.Body.Close()
		return fmt.Sprintf("answers (HTTP %d without credentials)", resp.StatusCode), nil
	}
	return "", fmt.Errorf("unknown endpoint kind %q", ep.Kind)
}

func reachPostgres(ctx context.Context, dsn string) (string, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "", fmt.Errorf("bad DSN: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "3D000" { // invalid_catalog_name
		return fmt.Sprintf("server reachable; database %q will be created on the first start (or by spendgate migrate)", cfg.Database), nil
	}
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if err := conn.Ping(ctx); err != nil {
		return "", err
	}
	var version string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return "", err
	}
	return "server " + version, nil
}
