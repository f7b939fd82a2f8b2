// Package pgstore keeps a tenant's recommendations in Postgres: a refresh
// upserts what the rules found (by fingerprint, so a recommendation's state
// survives refreshes) and drops open ones that no longer apply; a state
// change records who and when on the row and in the audit log, in one
// transaction. Every query is scoped by tenant.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/recommend"
)

// Store reads and writes recommendations.
type Store struct{ db *pgxpool.Pool }

// New returns a store over db.
func New(db *pgxpool.Pool) *Store { return &Store{db: db} }

// Stored is a recommendation as kept, with its state.
type Stored struct {
	ID string
	recommendation
	State recommend.State
	// StateChangedBy is the email of who applied or dismissed it (or
	// reopened it); StateChangedAt when.
	StateChangedBy           string
	StateChangedAt           *time.Time
	FirstSeenAt, RefreshedAt time.Time
}

type recommendation = recommend.Recommendation

// ErrNotFound is returned for an id the tenant has no recommendation of.
var ErrNotFound = errors.New("recommend: recommendation not found")

// Tenants lists every tenant id (the job refreshes each).
func (s *Store) Tenants(ctx context.Context) ([]string, error) {
	rows, err := s.db.Query(ctx, "SELECT id::text FROM tenants ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("recommend: tenants: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("recommend: tenants: %w", err)
	}
	return ids, nil
}

// ActiveKeys lists the tenant's active keys.
func (s *Store) ActiveKeys(ctx context.Context, tenantID string) ([]recommend.Key, error) {
	rows, err := s.db.Query(ctx, "SELECT id::text, name, created_at FROM api_keys WHERE tenant_id = $1 AND status = 'active' ORDER BY id", tenantID)
	if err != nil {
		return nil, fmt.Errorf("recommend: keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (recommend.Key, error) {
		var k recommend.Key
		err := r.Scan(&k.ID, &k.Name, &k.CreatedAt)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("recommend: keys: %w", err)
	}
	return keys, nil
}

// Refresh stores what the rules found for the tenant at now: new
// recommendations open, known ones updated (state kept), open ones not
// found any more deleted (they no longer apply).
func (s *Store) Refresh(ctx context.Context, tenantID string, recs []recommend.Recommendation, now time.Time) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("recommend: refresh: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	prints := make([]string, 0, len(recs))
	for i := range recs {
		r := &recs[i]
		prints = append(prints, r.Fingerprint)
		_, err := tx.Exec(ctx, `INSERT INTO recommendations (tenant_id, fingerprint, kind, key_id, provider, model, alternative, title, detail,
			current_monthly_nano_usd, monthly_savings_nano_usd, events, first_seen_at, refreshed_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
			ON CONFLICT (tenant_id, fingerprint) DO UPDATE SET title = EXCLUDED.title, detail = EXCLUDED.detail,
				current_monthly_nano_usd = EXCLUDED.current_monthly_nano_usd, monthly_savings_nano_usd = EXCLUDED.monthly_savings_nano_usd,
				events = EXCLUDED.events, refreshed_at = EXCLUDED.refreshed_at`,
			tenantID, r.Fingerprint, string(r.Kind), r.KeyID, r.Provider, r.Model, r.Alternative, r.Title, r.Detail,
			r.CurrentMonthlyNanoUSD, max(r.MonthlySavingsNanoUSD, 0), int64(r.Events), now)
		if err != nil {
			return fmt.Errorf("recommend: refresh: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM recommendations WHERE tenant_id = $1 AND state = 'open' AND NOT (fingerprint = ANY($2))`, tenantID, prints); err != nil {
		return fmt.Errorf("recommend: refresh: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("recommend: refresh: %w", err)
	}
	return nil
}

const cols = `id::text, fingerprint, kind, key_id, provider, model, alternative, title, detail, current_monthly_nano_usd,
	monthly_savings_nano_usd, events, state, state_changed_by, state_changed_at, first_seen_at, refreshed_at`

func scan(r pgx.Row) (Stored, error) {
	var s Stored
	var kind, state string
	var events int64
	err := r.Scan(&s.ID, &s.Fingerprint, &kind, &s.KeyID, &s.Provider, &s.Model, &s.Alternative, &s.Title, &s.Detail,
		&s.CurrentMonthlyNanoUSD, &s.MonthlySavingsNanoUSD, &events, &state, &s.StateChangedBy, &s.StateChangedAt, &s.FirstSeenAt, &s.RefreshedAt)
	s.Kind, s.State, s.Events = recommend.Kind(kind), recommend.State(state), uint64(max(events, 0))
	return s, err
}

// List returns the tenant's recommendations (of one state when state is
// set), the largest saving first.
func (s *Store) List(ctx context.Context, tenantID string, state recommend.State) ([]Stored, error) {
	rows, err := s.db.Query(ctx, "SELECT "+cols+` FROM recommendations WHERE tenant_id = $1 AND ($2 = '' OR state = $2)
		ORDER BY monthly_savings_nano_usd DESC, fingerprint`, tenantID, string(state))
	if err != nil {
		return nil, fmt.Errorf("recommend: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Stored, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("recommend: list: %w", err)
	}
	return out, nil
}

// SetState moves a recommendation of the tenant to state, recording who
// (p) and when on the row and in the audit log.
func (s *Store) SetState(ctx context.Context, tenantID, id string, state recommend.State, p auth.Principal) (Stored, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return Stored{}, fmt.Errorf("recommend: set state: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	actor := p.Email
	var actorID any = p.UserID
	if p.UserID == "" {
		actor, actorID = "system", nil
	}
	var from string
	if err := tx.QueryRow(ctx, "SELECT state FROM recommendations WHERE tenant_id = $1 AND id::text = $2 FOR UPDATE", tenantID, id).Scan(&from); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return Stored{}, ErrNotFound
		}
		return Stored{}, fmt.Errorf("recommend: set state: %w", err)
	}
	st, err := scan(tx.QueryRow(ctx, `UPDATE recommendations SET state = $3, state_changed_by = $4, state_changed_by_user = $5, state_changed_at = now()
		WHERE tenant_id = $1 AND id::text = $2 RETURNING `+cols, tenantID, id, string(state), actor, actorID))
	if err != nil {
		return Stored{}, fmt.Errorf("recommend: set state: %w", err)
	}
	if err := controlplane.AuditTx(ctx, tx, tenantID, p, "recommendation."+string(state), "recommendation", id,
		map[string]any{"from": from, "kind": string(st.Kind), "title": st.Title, "monthly_savings_nano_usd": st.MonthlySavingsNanoUSD}); err != nil {
		return Stored{}, fmt.Errorf("recommend: audit: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Stored{}, fmt.Errorf("recommend: set state: %w", err)
	}
	return st, nil
}
