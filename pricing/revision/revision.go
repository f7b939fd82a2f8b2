// Package revision keeps the pricing catalogue as data: effective-dated
// catalogue revisions in Postgres. The embedded catalogue is the first
// revision; a sync (CLI, GraphQL or the scheduled job) proposes a revision
// with its diff against the applied one; an admin applies or rejects it.
// Running services follow applied revisions without a restart (Follow:
// LISTEN/NOTIFY, with polling as the fallback) and price each event with
// the revision in force at its time (pricing.Live).
package revision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spendgate/spendgate/apierr"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"sigs.k8s.io/yaml"

	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/pricing"
)

// Status of a revision.
type Status string

// Revision statuses.
const (
	Proposed Status = "proposed"
	Applied  Status = "applied"
	Rejected Status = "rejected"
)

// notifyChannel is the Postgres channel an applied revision is announced on.
const notifyChannel = "spendgate_pricing_revisions"

// Revision is one catalogue revision.
type Revision struct {
	ID            int64
	Status        Status
	BaseID        int64 // the applied revision it was computed from; 0: none
	EffectiveFrom time.Time
	Source        string
	// Catalogue is the whole catalogue; nil when listed without it.
	Catalogue *pricing.File
	Diff      pricing.CatalogueDiff
	Summary   string
	CreatedAt time.Time
	CreatedBy string
	DecidedAt *time.Time
	DecidedBy string
}

// Service stores, proposes and applies revisions.
type Service struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	now  func() time.Time
	// Admins are the e-mail addresses allowed to propose, apply and reject
	// revisions through the API. The catalogue is shared by every tenant,
	// so a tenant's admin is not enough; empty: the CLI only.
	Admins []string
}

// New builds the service.
func New(pool *pgxpool.Pool, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{pool: pool, log: log, now: time.Now}
}

func invalid(format string, args ...any) error {
	return &apierr.Error{Code: apierr.CodeInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

// ErrStale answers applying a revision computed from a catalogue that is no
// longer the applied one.
var ErrStale = &apierr.Error{Code: apierr.CodeConflict,
	Message: "another revision was applied after this one was proposed: its diff is stale; run the sync again"}

// IsAdmin reports whether email may decide on revisions through the API.
func (s *Service) IsAdmin(email string) bool {
	for _, a := range s.Admins {
		if strings.EqualFold(strings.TrimSpace(a), email) && email != "" {
			return true
		}
	}
	return false
}

// firstEffective is when the first (embedded) revision takes effect: before
// any event spendgate can have stored.
var firstEffective = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Seed stores the embedded catalogue as the first, applied revision when
// there is none yet. Safe to call from every process at start-up.
func (s *Service) Seed(ctx context.Context) error {
	var f pricing.File
	if err := yaml.UnmarshalStrict(pricing.EmbeddedCatalogueYAML(), &f); err != nil {
		return fmt.Errorf("revision: embedded catalogue: %w", err)
	}
	body, err := json.Marshal(&f)
	if err != nil {
		return err
	}
	diff, _ := json.Marshal(pricing.CatalogueDiff{})
	// The advisory lock makes "insert if empty" safe between processes.
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('spendgate pricing_revisions seed'))"); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM pricing_revisions").Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO pricing_revisions (status, effective_from, source, catalogue, diff, summary, created_by, decided_at, decided_by)
			VALUES ('applied', $1, 'catalogue embedded in the binary', $2, $3, $4, 'spendgate', now(), 'spendgate')`,
			firstEffective, body, diff, fmt.Sprintf("first revision: %d models", len(f.Models)))
		return err
	})
}

// Latest returns the applied revision new proposals are computed from: the
// applied revision with the latest effective_from (ties: the latest id).
func (s *Service) Latest(ctx context.Context) (Revision, error) {
	rows, err := s.pool.Query(ctx, selectRevision+" WHERE status = 'applied' ORDER BY effective_from DESC, id DESC LIMIT 1")
	if err != nil {
		return Revision{}, err
	}
	revs, err := scanRevisions(rows, true)
	if err != nil {
		return Revision{}, err
	}
	if len(revs) == 0 {
		return Revision{}, &apierr.Error{Code: apierr.CodeNotFound, Message: "no applied pricing revision: run spendgate migrate / start a service to seed the first"}
	}
	return revs[0], nil
}

// ProposeInput describes a sync from a LiteLLM price file.
type ProposeInput struct {
	LiteLLM       []byte    // model_prices_and_context_window.json
	Source        string    // where it was read (URL or file), recorded on entries
	EffectiveFrom time.Time // when changed prices take effect
	By            string    // who proposes (e-mail, "cli", "scheduled sync")
	Providers     []string  // only these providers (empty: all)
	// RemoveMissing ends, at EffectiveFrom, the current price of every
	// LiteLLM-sourced model the file no longer lists.
	RemoveMissing bool
}

// ErrNoChange answers a sync that would change nothing.
var ErrNoChange = &apierr.Error{Code: apierr.CodeInvalidArgument, Message: "the import changes nothing in the applied catalogue"}

// ProposeLiteLLM imports a LiteLLM file over the applied catalogue and
// stores the result as a proposed revision with its diff. Nothing is priced
// differently until an admin applies it.
func (s *Service) ProposeLiteLLM(ctx context.Context, in ProposeInput) (Revision, error) {
	if in.EffectiveFrom.IsZero() {
		return Revision{}, invalid("effective_from is required")
	}
	if strings.TrimSpace(in.Source) == "" {
		return Revision{}, invalid("a source is required")
	}
	base, err := s.Latest(ctx)
	if err != nil {
		return Revision{}, err
	}
	eff := in.EffectiveFrom.UTC().Format(time.RFC3339)
	res, err := pricing.ImportLiteLLM(in.LiteLLM, in.Source, in.EffectiveFrom.UTC().Format(time.DateOnly), eff, nil)
	if err != nil {
		return Revision{}, invalid("%v", err)
	}
	keep := map[string]bool{}
	for _, p := range in.Providers {
		keep[p] = true
	}
	var imported []pricing.FileModel
	for _, m := range res.Models {
		if len(keep) == 0 || keep[m.Provider] {
			imported = append(imported, m)
		}
	}
	next, _ := pricing.Sync(base.Catalogue, imported, eff)
	if in.RemoveMissing {
		var covered map[string]bool
		if len(keep) > 0 {
			covered = keep
		}
		pricing.CloseMissing(next, imported, covered, eff)
	}
	return s.propose(ctx, base, next, in.Source, in.EffectiveFrom, in.By)
}

// ProposeCatalogue stores a whole catalogue (a reviewed catalogue file) as a
// proposed revision.
func (s *Service) ProposeCatalogue(ctx context.Context, next *pricing.File, source string, effectiveFrom time.Time, by string) (Revision, error) {
	base, err := s.Latest(ctx)
	if err != nil {
		return Revision{}, err
	}
	return s.propose(ctx, base, next, source, effectiveFrom, by)
}

func (s *Service) propose(ctx context.Context, base Revision, next *pricing.File, source string, eff time.Time, by string) (Revision, error) {
	if _, err := pricing.FromFile(next); err != nil {
		return Revision{}, invalid("the proposed catalogue does not validate: %v", err)
	}
	diff := pricing.Diff(base.Catalogue, next)
	if diff.Empty() {
		return Revision{}, ErrNoChange
	}
	body, err := json.Marshal(next)
	if err != nil {
		return Revision{}, err
	}
	dj, err := json.Marshal(&diff)
	if err != nil {
		return Revision{}, err
	}
	var id int64
	err = s.pool.QueryRow(ctx, `INSERT INTO pricing_revisions (status, base_id, effective_from, source, catalogue, diff, summary, created_by)
		VALUES ('proposed', $1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		base.ID, eff.UTC(), source, body, dj, diff.Summary(), by).Scan(&id)
	if err != nil {
		return Revision{}, fmt.Errorf("revision: propose: %w", err)
	}
	return s.Get(ctx, id)
}

// Apply puts a proposed revision in force from its effective_from and tells
// every running service (NOTIFY). It is refused when another revision was
// applied after the one it was computed from.
func (s *Service) Apply(ctx context.Context, id int64, by auth.Principal) (Revision, error) {
	return s.decide(ctx, id, Applied, by)
}

// Reject closes a proposed revision without applying it.
func (s *Service) Reject(ctx context.Context, id int64, by auth.Principal) (Revision, error) {
	return s.decide(ctx, id, Rejected, by)
}

// decide records the decision and audits it (without a tenant: the
// catalogue is everyone's) in one transaction. by without a user id is the
// CLI, an operator with database access.
func (s *Service) decide(ctx context.Context, id int64, to Status, by auth.Principal) (Revision, error) {
	who := by.Email
	if by.UserID == "" {
		who = "cli"
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// One decision at a time, so two applies cannot both pass the
		// staleness check.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('spendgate pricing_revisions decide'))"); err != nil {
			return err
		}
		var status string
		var base *int64
		err := tx.QueryRow(ctx, "SELECT status, base_id FROM pricing_revisions WHERE id = $1 FOR UPDATE", id).Scan(&status, &base)
		if errors.Is(err, pgx.ErrNoRows) {
			return &apierr.Error{Code: apierr.CodeNotFound, Message: fmt.Sprintf("pricing revision %d not found", id)}
		}
		if err != nil {
			return err
		}
		if Status(status) != Proposed {
			return &apierr.Error{Code: apierr.CodeConflict, Message: fmt.Sprintf("pricing revision %d is %s, not proposed", id, status)}
		}
		if to == Applied {
			var newer int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM pricing_revisions WHERE status = 'applied' AND id > $1", base).Scan(&newer); err != nil {
				return err
			}
			if newer > 0 {
				return ErrStale
			}
		}
		if _, err := tx.Exec(ctx, "UPDATE pricing_revisions SET status = $2, decided_at = now(), decided_by = $3 WHERE id = $1", id, string(to), who); err != nil {
			return err
		}
		action := "pricing.revision.apply"
		if to == Rejected {
			action = "pricing.revision.reject"
		}
		if err := controlplane.AuditTx(ctx, tx, "", by, action, "pricing_revision", fmt.Sprint(id), nil); err != nil {
			return err
		}
		if to == Applied {
			// Delivered on commit, to every process that LISTENs.
			if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", notifyChannel, fmt.Sprint(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Revision{}, err
	}
	s.log.Info("pricing revision decided", "id", id, "status", to, "by", who)
	return s.Get(ctx, id)
}

const selectRevision = `SELECT id, status, COALESCE(base_id, 0), effective_from, source, catalogue, diff, summary,
	created_at, created_by, decided_at, COALESCE(decided_by, '') FROM pricing_revisions`

const selectRevisionNoBody = `SELECT id, status, COALESCE(base_id, 0), effective_from, source, NULL::jsonb, diff, summary,
	created_at, created_by, decided_at, COALESCE(decided_by, '') FROM pricing_revisions`

func scanRevisions(rows pgx.Rows, withBody bool) ([]Revision, error) {
	defer rows.Close()
	var out []Revision
	for rows.Next() {
		var r Revision
		var status string
		var body, diff []byte
		if err := rows.Scan(&r.ID, &status, &r.BaseID, &r.EffectiveFrom, &r.Source, &body, &diff, &r.Summary,
			&r.CreatedAt, &r.CreatedBy, &r.DecidedAt, &r.DecidedBy); err != nil {
			return nil, err
		}
		r.Status = Status(status)
		r.EffectiveFrom = r.EffectiveFrom.UTC()
		if withBody && body != nil {
			r.Catalogue = &pricing.File{}
			if err := json.Unmarshal(body, r.Catalogue); err != nil {
				return nil, fmt.Errorf("revision %d: catalogue: %w", r.ID, err)
			}
		}
		if err := json.Unmarshal(diff, &r.Diff); err != nil {
			return nil, fmt.Errorf("revision %d: diff: %w", r.ID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Get returns one revision with its catalogue and diff.
func (s *Service) Get(ctx context.Context, id int64) (Revision, error) {
	rows, err := s.pool.Query(ctx, selectRevision+" WHERE id = $1", id)
	if err != nil {
		return Revision{}, err
	}
	revs, err := scanRevisions(rows, true)
	if err != nil {
		return Revision{}, err
	}
	if len(revs) == 0 {
		return Revision{}, &apierr.Error{Code: apierr.CodeNotFound, Message: fmt.Sprintf("pricing revision %d not found", id)}
	}
	return revs[0], nil
}

// List returns the latest revisions, newest first, without catalogues.
func (s *Service) List(ctx context.Context, limit int) ([]Revision, error) {
	if limit < 1 || limit > 200 {
		return nil, invalid("limit must be between 1 and 200")
	}
	rows, err := s.pool.Query(ctx, selectRevisionNoBody+" ORDER BY id DESC LIMIT $1", limit)
	if err != nil {
		return nil, err
	}
	return scanRevisions(rows, false)
}

// Load returns every applied revision, indexed for pricing, and the highest
// applied id.
func (s *Service) Load(ctx context.Context) ([]pricing.Revision, int64, error) {
	rows, err := s.pool.Query(ctx, selectRevision+" WHERE status = 'applied' ORDER BY effective_from, id")
	if err != nil {
		return nil, 0, err
	}
	revs, err := scanRevisions(rows, true)
	if err != nil {
		return nil, 0, err
	}
	out := make([]pricing.Revision, 0, len(revs))
	var version int64
	for _, r := range revs {
		c, err := pricing.FromFile(r.Catalogue)
		if err != nil {
			return nil, 0, fmt.Errorf("revision %d: %w", r.ID, err)
		}
		out = append(out, pricing.Revision{ID: r.ID, EffectiveFrom: r.EffectiveFrom, Catalogue: c})
		version = max(version, r.ID)
	}
	return out, version, nil
}

// appliedVersion is the highest applied revision id.
func (s *Service) appliedVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, "SELECT COALESCE(max(id), 0) FROM pricing_revisions WHERE status = 'applied'").Scan(&v)
	return v, err
}

// Refresh loads the applied revisions into live when they changed; it
// reports whether it did.
func (s *Service) Refresh(ctx context.Context, live *pricing.Live) (bool, error) {
	v, err := s.appliedVersion(ctx)
	if err != nil {
		return false, err
	}
	if v == live.Version() || v == 0 {
		return false, nil
	}
	revs, version, err := s.Load(ctx)
	if err != nil {
		return false, err
	}
	live.Set(revs)
	s.log.Info("pricing catalogue revisions loaded", "version", version, "revisions", len(revs))
	return true, nil
}

// Follow keeps live up to date until ctx ends: it loads the applied
// revisions, then reloads whenever a revision is applied (LISTEN/NOTIFY)
// and at least every poll, which also covers notifications lost while the
// listening connection was down.
func (s *Service) Follow(ctx context.Context, live *pricing.Live, poll time.Duration) {
	if poll <= 0 {
		poll = time.Minute
	}
	for ctx.Err() == nil {
		if _, err := s.Refresh(ctx, live); err != nil && ctx.Err() == nil {
			s.log.Warn("pricing revisions: refresh failed; keeping the catalogue in force", "err", err)
		}
		if err := s.listen(ctx, live, poll); err != nil && ctx.Err() == nil {
			s.log.Warn("pricing revisions: listening failed; polling", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(poll):
			}
		}
	}
}

func (s *Service) listen(ctx context.Context, live *pricing.Live, poll time.Duration) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer func() {
		// A connection that LISTENs must not serve other queries.
		_ = conn.Conn().Close(context.WithoutCancel(ctx))
		conn.Release()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	// Catch a revision applied between the refresh and the LISTEN.
	if _, err := s.Refresh(ctx, live); err != nil {
		return err
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, poll)
		_, err := conn.Conn().WaitForNotification(wctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		if _, err := s.Refresh(ctx, live); err != nil {
			return err
		}
		if conn.Conn().IsClosed() {
			return nil // pgx closes a connection whose wait timed out: listen anew
		}
	}
}

// SyncJobName names the scheduled sync in scheduled_jobs.
const SyncJobName = "pricing-sync"

// ScheduledSync proposes a revision from the LiteLLM file at url (fetched
// with fetch), effective from the time it runs. A sync that changes nothing,
// or whose diff is already waiting for review as a proposal of the same
// base, proposes nothing. It never applies: an admin does.
func (s *Service) ScheduledSync(ctx context.Context, url string, fetch func(ctx context.Context, url string) ([]byte, error)) error {
	data, err := fetch(ctx, url)
	if err != nil {
		return err
	}
	rev, err := s.ProposeLiteLLM(ctx, ProposeInput{LiteLLM: data, Source: url, EffectiveFrom: s.now().UTC().Truncate(time.Second), By: "scheduled sync"})
	if errors.Is(err, ErrNoChange) {
		return nil
	}
	if err != nil {
		return err
	}
	// The same changes proposed earlier and still waiting: keep that one.
	rows, err := s.pool.Query(ctx, selectRevisionNoBody+" WHERE status = 'proposed' AND base_id = $1 AND id < $2", rev.BaseID, rev.ID)
	if err != nil {
		return err
	}
	pending, err := scanRevisions(rows, false)
	if err != nil {
		return err
	}
	for _, p := range pending {
		if sameChanges(&p.Diff, &rev.Diff) {
			_, err := s.pool.Exec(ctx, "DELETE FROM pricing_revisions WHERE id = $1 AND status = 'proposed'", rev.ID)
			return err
		}
	}
	s.log.Info("scheduled pricing sync proposed a revision", "id", rev.ID, "summary", rev.Summary)
	return nil
}

// sameChanges compares two diffs ignoring when their changes take effect.
func sameChanges(a, b *pricing.CatalogueDiff) bool {
	strip := func(d *pricing.CatalogueDiff) string {
		c := pricing.CatalogueDiff{}
		for _, l := range []struct {
			from []pricing.ModelDiff
			to   *[]pricing.ModelDiff
		}{{d.Added, &c.Added}, {d.Changed, &c.Changed}, {d.Removed, &c.Removed}} {
			for _, m := range l.from {
				m.EffectiveFrom = ""
				var ch []pricing.Change
				for _, x := range m.Changes {
					if x.Field != "effective_from" {
						ch = append(ch, x)
					}
				}
				m.Changes = ch
				*l.to = append(*l.to, m)
			}
		}
		b, _ := json.Marshal(c)
		return string(b)
	}
	return strip(a) == strip(b)
}
