// Package controlplane is spendgate's management service: tenants, users and
// roles, API keys and their policies, budgets, pricing overrides and the
// audit log, over Postgres. It validates every input, authorizes every call
// by tenant membership and role, and audits every mutation in the same
// transaction. GraphQL resolvers and the CLI call it; they hold no logic.
package controlplane

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/apikey"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/event"
)

// Role of a member in a tenant.
type Role string

// Roles, from most to least powerful.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleViewer Role = "viewer"
)

func (r Role) rank() int {
	switch r {
	case RoleOwner:
		return 3
	case RoleAdmin:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(s))
	if r.rank() == 0 {
		return "", invalid("unknown role %q (owner, admin, viewer)", s)
	}
	return r, nil
}

// BlockChecker tells the policy endpoint whether a key's hard budget is
// exhausted. The budgets engine implements it; nil means never blocked.
type BlockChecker interface {
	KeyBlocked(ctx context.Context, tenantID, keyID string) (blocked bool, reason string, err error)
}

// Service is the control plane.
type Service struct {
	db     *pgxpool.Pool
	pepper []byte
	tokens *auth.Tokens
	log    *slog.Logger
	// Blocks, when set, marks keys over a hard budget as blocked.
	Blocks BlockChecker
	// PolicyCacheTTL is the cache hint given to the data plane.
	PolicyCacheTTL time.Duration

	lastUsedMu sync.Mutex
	lastUsed   map[string]time.Time

	// keyCache holds recently verified key records by prefix. The secret is
	// still checked (HMAC, constant time) on every call; mutations of a key
	// evict it, and entries live only keyCacheTTL, so a revocation made by
	// another API process takes effect within that time.
	keyCacheMu sync.RWMutex
	keyCache   map[string]cachedKey
}

type cachedKey struct {
	rec     *KeyRecord
	expires time.Time
}

const keyCacheTTL = 5 * time.Second

func (s *Service) evictKey(prefix string) {
	s.keyCacheMu.Lock()
	delete(s.keyCache, prefix)
	s.keyCacheMu.Unlock()
}

// New returns a service. pepper is the API key HMAC secret (≥ 16 bytes).
func New(db *pgxpool.Pool, pepper []byte, tokens *auth.Tokens, log *slog.Logger) (*Service, error) {
	if len(pepper) < 16 {
		return nil, errors.New("controlplane: the API key pepper must be at least 16 bytes")
	}
	return &Service{db: db, pepper: pepper, tokens: tokens, log: log, PolicyCacheTTL: 30 * time.Second,
		lastUsed: map[string]time.Time{}, keyCache: map[string]cachedKey{}}, nil
}

// --- principals and authorization ---

func principal(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return auth.Principal{}, ErrUnauthenticated
	}
	return p, nil
}

// authorize checks the caller's role in a tenant. A tenant the caller does not
// belong to answers FORBIDDEN whether or not it exists, so ids cannot be probed.
func (s *Service) authorize(ctx context.Context, tenantID string, need Role) (auth.Principal, Role, error) {
	p, err := principal(ctx)
	if err != nil {
		return p, "", err
	}
	if !isUUID(tenantID) {
		return p, "", invalid("tenantId %q is not a valid id", tenantID)
	}
	var role Role
	err = s.db.QueryRow(ctx, `SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2`, tenantID, p.UserID).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, "", forbidden("you are not a member of this tenant")
	}
	if err != nil {
		return p, "", err
	}
	if role.rank() < need.rank() {
		return p, role, forbidden("this needs the %s role; you are %s", need, role)
	}
	return p, role, nil
}

func isUUID(s string) bool { return event.IsUUID(s) }

func checkID(what, id string) error {
	if !isUUID(id) {
		return invalid("%s %q is not a valid id", what, id)
	}
	return nil
}

// --- audit ---

func audit(ctx context.Context, tx pgx.Tx, tenantID string, p auth.Principal, action, targetType, targetID string, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	b, _ := json.Marshal(details)
	actor := p.Email
	var actorID any = p.UserID
	if p.UserID == "" {
		actor, actorID = "system", nil
	}
	var tid any = tenantID
	if tenantID == "" {
		tid = nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit_log (tenant_id, actor_user_id, actor, action, target_type, target_id, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, tid, actorID, actor, action, targetType, targetID, b)
	return err
}

// inTx runs f in a transaction.
func (s *Service) inTx(ctx context.Context, f func(tx pgx.Tx) error) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // rollback after commit is a no-op
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func isUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505"
}

// --- pagination ---

// Page asks for a page of a list: First items after the cursor After.
type Page struct {
	First int
	After string
}

const defaultPage, maxPage = 50, 1000

func (p Page) limit() (int, error) {
	if p.First == 0 {
		return defaultPage, nil
	}
	if p.First < 0 || p.First > maxPage {
		return 0, invalid("first must be between 1 and %d", maxPage)
	}
	return p.First, nil
}

// cursor encodes a position in a list ordered by (created_at DESC, id DESC).
func cursor(t time.Time, id string) string {
	// Built in a stack buffer: a page of 1,000 items makes 1,000 cursors.
	var buf [128]byte
	b := t.UTC().AppendFormat(buf[:0], time.RFC3339Nano)
	b = append(append(b, '|'), id...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", invalid("malformed cursor")
	}
	ts, id, ok := strings.Cut(string(b), "|")
	t, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil {
		return time.Time{}, "", invalid("malformed cursor")
	}
	return t, id, nil
}

// keyset returns the WHERE fragment and args continuing after a cursor.
func keyset(p Page, argN int) (string, []any, error) {
	if p.After == "" {
		return "", nil, nil
	}
	t, id, err := decodeCursor(p.After)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf(" AND (created_at, id::text) < ($%d, $%d)", argN, argN+1), []any{t, id}, nil
}

// Connection is one page of a list.
type Connection[T any] struct {
	Items       []T
	Cursors     []string
	HasNextPage bool
}

// listPage runs one keyset page of a query whose rows are ordered by
// (created_at DESC, id DESC). query holds the SELECT and its WHERE clause
// with placeholders $1..$len(args); the page's cursor condition, order and
// limit are added here.
func listPage[T any](ctx context.Context, db *pgxpool.Pool, page Page, query string, args []any,
	scan func(pgx.Row) (T, error), created func(T) (time.Time, string)) (Connection[T], error) {
	limit, err := page.limit()
	if err != nil {
		return Connection[T]{}, err
	}
	where, more, err := keyset(page, len(args)+1)
	if err != nil {
		return Connection[T]{}, err
	}
	rows, err := db.Query(ctx, query+where+` ORDER BY created_at DESC, id DESC LIMIT `+itoa(limit+1), append(args, more...)...)
	if err != nil {
		return Connection[T]{}, err
	}
	items, err := pgx.AppendRows(make([]T, 0, limit+1), rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	if err != nil {
		return Connection[T]{}, err
	}
	return paginate(items, limit, created), nil
}

func paginate[T any](items []T, limit int, created func(T) (time.Time, string)) Connection[T] {
	c := Connection[T]{}
	if len(items) > limit {
		c.HasNextPage = true
		items = items[:limit]
	}
	c.Items = items
	for _, it := range items {
		t, id := created(it)
		c.Cursors = append(c.Cursors, cursor(t, id))
	}
	return c
}

// --- API key verification for the data plane ---

// KeyRecord is what the policy endpoint needs about a key.
type KeyRecord struct {
	ID, TenantID, Prefix string
	Status               string
	ExpiresAt            *time.Time
	Policy               KeyPolicy
	Hash                 []byte
}

// VerifyKey finds a key by its prefix and checks the secret in constant time.
func (s *Service) VerifyKey(ctx context.Context, key string) (*KeyRecord, error) {
	prefix, err := apikey.Parse(key)
	if err != nil {
		return nil, err
	}
	s.keyCacheMu.RLock()
	c, ok := s.keyCache[prefix]
	s.keyCacheMu.RUnlock()
	if ok && time.Now().Before(c.expires) {
		if !apikey.Verify(s.pepper, key, c.rec.Hash) {
			return nil, nil
		}
		return c.rec, nil
	}
	var r KeyRecord
	var dims []byte
	err = s.db.QueryRow(ctx, `SELECT id, tenant_id, prefix, status, expires_at, secret_hash, allowed_providers, allowed_models,
		required_dimensions, default_dimensions, require_priced_models, requests_per_minute, tokens_per_minute
		FROM api_keys WHERE prefix = $1`, prefix).Scan(
		&r.ID, &r.TenantID, &r.Prefix, &r.Status, &r.ExpiresAt, &r.Hash, &r.Policy.AllowedProviders, &r.Policy.AllowedModels,
		&r.Policy.RequiredDimensions, &dims, &r.Policy.RequirePricedModels, &r.Policy.RequestsPerMinute, &r.Policy.TokensPerMinute)
	if errors.Is(err, pgx.ErrNoRows) {
		// Spend the same HMAC work as a hit, so timing does not reveal prefixes.
		apikey.Verify(s.pepper, key, make([]byte, 32))
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !apikey.Verify(s.pepper, key, r.Hash) {
		return nil, nil
	}
	_ = json.Unmarshal(dims, &r.Policy.DefaultDimensions)
	s.keyCacheMu.Lock()
	if len(s.keyCache) > 100_000 {
		s.keyCache = map[string]cachedKey{}
	}
	s.keyCache[prefix] = cachedKey{rec: &r, expires: time.Now().Add(keyCacheTTL)}
	s.keyCacheMu.Unlock()
	return &r, nil
}

// touchKey records last use, at most once a minute per key, in the background
// of the request (a failed write only delays the timestamp).
func (s *Service) touchKey(keyID string) {
	now := time.Now()
	s.lastUsedMu.Lock()
	if last, ok := s.lastUsed[keyID]; ok && now.Sub(last) < time.Minute {
		s.lastUsedMu.Unlock()
		return
	}
	s.lastUsed[keyID] = now
	s.lastUsedMu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := s.db.Exec(ctx, `UPDATE api_keys SET last_used_at = $2 WHERE id = $1`, keyID, now); err != nil {
			s.log.Warn("controlplane: recording key use", "key_id", keyID, "err", err)
		}
	}()
}
