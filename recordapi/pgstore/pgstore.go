// Package pgstore keeps the public record API's idempotency keys in
// Postgres (table usage_idempotency_keys).
package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is the idempotency key table.
type Store struct{ db *pgxpool.Pool }

// New returns a store on db (migrated by store/postgres).
func New(db *pgxpool.Pool) *Store { return &Store{db: db} }

// Claim asks to record one idempotency key.
type Claim struct {
	TenantID, Key, EventID string
	Fingerprint            []byte
	Time                   time.Time
}

// Claimed is a claim's outcome.
type Claimed struct {
	// Duplicate: the key was recorded before, with the same fingerprint;
	// Time is then the first record's time.
	Duplicate bool
	// Conflict: the key was recorded before for another record.
	Conflict bool
	Time     time.Time
}

// Claim records each key, or finds it recorded. Concurrent claims of one key
// serialise on its primary key: exactly one of them is not a duplicate.
func (s *Store) Claim(ctx context.Context, claims []Claim) ([]Claimed, error) {
	out := make([]Claimed, len(claims))
	b := &pgx.Batch{}
	for _, c := range claims {
		b.Queue(`WITH ins AS (
				INSERT INTO usage_idempotency_keys (tenant_id, idempotency_key, event_id, fingerprint, event_time)
				VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
				RETURNING fingerprint, event_time, true AS inserted)
			SELECT fingerprint, event_time, inserted FROM ins
			UNION ALL
			SELECT fingerprint, event_time, false FROM usage_idempotency_keys
			WHERE tenant_id = $1 AND idempotency_key = $2 AND NOT EXISTS (SELECT 1 FROM ins)`,
			c.TenantID, c.Key, c.EventID, c.Fingerprint, c.Time)
	}
	res := s.db.SendBatch(ctx, b)
	defer res.Close() //nolint:errcheck // the error of each query is checked
	for i, c := range claims {
		var fp []byte
		var inserted bool
		err := res.QueryRow().Scan(&fp, &out[i].Time, &inserted)
		if errors.Is(err, pgx.ErrNoRows) {
			// The concurrent insert that won is not visible to this
			// statement's snapshot yet: ask again.
			err = s.db.QueryRow(ctx, `SELECT fingerprint, event_time, false FROM usage_idempotency_keys
				WHERE tenant_id = $1 AND idempotency_key = $2`, c.TenantID, c.Key).Scan(&fp, &out[i].Time, &inserted)
		}
		if err != nil {
			return nil, fmt.Errorf("record api: idempotency key: %w", err)
		}
		out[i].Time = out[i].Time.UTC()
		if !inserted {
			out[i].Duplicate = bytes.Equal(fp, c.Fingerprint)
			out[i].Conflict = !out[i].Duplicate
		}
	}
	return out, res.Close()
}

// Prune deletes keys recorded before cutoff; a retry older than that is a
// new record. It returns how many went.
func (s *Store) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM usage_idempotency_keys WHERE created_at < $1`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("record api: prune idempotency keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ReservationTenant is the tenant a budget reservation belongs to (found is
// false for an unknown id): a key may only give back its own tenant's.
func (s *Store) ReservationTenant(ctx context.Context, id string) (tenantID string, found bool, err error) {
	err = s.db.QueryRow(ctx, `SELECT tenant_id::text FROM budget_reservations WHERE id = $1`, id).Scan(&tenantID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("record api: reservation: %w", err)
	}
	return tenantID, true, nil
}
