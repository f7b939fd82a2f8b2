package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/apikey"
	"github.com/spendgate/spendgate/org"
	"github.com/spendgate/spendgate/policy"
)

// CredentialSource holds the tenants' stored provider credentials, the
// ones data planes put on the calls of keys whose policy says
// InjectProviderCredentials (reconcile's provider connections).
type CredentialSource interface {
	// DataPlaneCredentials returns the tenant's credentials in clear by
	// data-plane provider id ("openai", "anthropic", "gemini").
	DataPlaneCredentials(ctx context.Context, tenantID string) (map[string]string, error)
}

// BlockChecker tells the policy endpoint whether a key's hard budget is
// exhausted. The budgets engine implements it; nil means never blocked.
type BlockChecker interface {
	KeyBlocked(ctx context.Context, tenantID, keyID string) (blocked bool, reason string, err error)
}

// KeyService manages API keys and answers the data plane's questions about
// them.
type KeyService struct {
	*core
	pepper []byte
	// Blocks, when set, marks keys over a hard budget as blocked.
	Blocks BlockChecker
	// Credentials, when set, supplies the stored provider credentials of
	// keys that use them; without it such keys' calls are refused (none
	// stored).
	Credentials CredentialSource
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

func newKeyService(c *core, pepper []byte) *KeyService {
	return &KeyService{core: c, pepper: pepper, PolicyCacheTTL: 30 * time.Second,
		lastUsed: map[string]time.Time{}, keyCache: map[string]cachedKey{}}
}

type cachedKey struct {
	rec     *KeyRecord
	expires time.Time
}

const keyCacheTTL = 5 * time.Second

// evictAll empties the cache (the tree changed: effective policies of
// many keys may have).
func (s *KeyService) evictAll() {
	s.keyCacheMu.Lock()
	s.keyCache = map[string]cachedKey{}
	s.keyCacheMu.Unlock()
}

func (s *KeyService) evictKey(prefix string) {
	s.keyCacheMu.Lock()
	delete(s.keyCache, prefix)
	s.keyCacheMu.Unlock()
}

// KeyRecord is what the policy endpoint needs about a key.
type KeyRecord struct {
	ID, TenantID, Prefix string
	Status               string
	ExpiresAt            *time.Time
	// Policy is the effective policy: the key's own combined with the key
	// defaults of its workspace, team and project (org.Effective).
	Policy KeyPolicy
	// Closed is true when the layers' provider lists leave no provider.
	Closed bool
	// Path is the key's place in the tree (zero without a project).
	Path org.Path
	Hash []byte
}

// VerifyKey finds a key by its prefix and checks the secret in constant time.
func (s *KeyService) VerifyKey(ctx context.Context, key string) (*KeyRecord, error) {
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
	var own KeyPolicy
	var dims, wsDefaults, teamDefaults, projectDefaults []byte
	err = s.db.QueryRow(ctx, `SELECT k.id, k.tenant_id, k.prefix, k.status, k.expires_at, k.secret_hash, k.allowed_providers, k.allowed_models,
		k.required_dimensions, k.default_dimensions, k.require_priced_models, k.requests_per_minute, k.tokens_per_minute,
		k.inject_provider_credentials, coalesce(w.id::text, ''), coalesce(t.id::text, ''), coalesce(p.id::text, ''), w.key_defaults, t.key_defaults, p.key_defaults
		FROM api_keys k LEFT JOIN projects p ON p.id = k.project_id LEFT JOIN teams t ON t.id = p.team_id
		LEFT JOIN workspaces w ON w.id = t.workspace_id WHERE k.prefix = $1`, prefix).Scan(
		&r.ID, &r.TenantID, &r.Prefix, &r.Status, &r.ExpiresAt, &r.Hash, &own.AllowedProviders, &own.AllowedModels,
		&own.RequiredDimensions, &dims, &own.RequirePricedModels, &own.RequestsPerMinute, &own.TokensPerMinute,
		&own.InjectProviderCredentials, &r.Path.WorkspaceID, &r.Path.TeamID, &r.Path.ProjectID, &wsDefaults, &teamDefaults, &projectDefaults)
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
	_ = json.Unmarshal(dims, &own.DefaultDimensions)
	var layers []KeyPolicy
	for _, d := range [][]byte{wsDefaults, teamDefaults, projectDefaults} {
		var l KeyPolicy
		if d != nil {
			_ = json.Unmarshal(d, &l)
			layers = append(layers, l)
		}
	}
	r.Policy, r.Closed = org.Effective(append(layers, own)...)
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
func (s *KeyService) touchKey(keyID string) {
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

// PolicyAnswer answers the data plane's question about a key (the policy
// endpoint). Unknown, malformed, revoked and expired keys get Valid=false
// with a reason, so the data plane can cache negative answers too.
func (s *KeyService) PolicyAnswer(ctx context.Context, key string) (policy.Answer, error) {
	ttl := int(s.PolicyCacheTTL / time.Second)
	if _, err := apikey.Parse(key); err != nil {
		return policy.Answer{Valid: false, Reason: "malformed_key", CacheTTLSeconds: ttl}, nil
	}
	rec, err := s.VerifyKey(ctx, key)
	if err != nil {
		return policy.Answer{}, err
	}
	if rec == nil {
		return policy.Answer{Valid: false, Reason: "unknown_key", CacheTTLSeconds: ttl}, nil
	}
	if rec.Status != "active" {
		return policy.Answer{Valid: false, Reason: "key_revoked", KeyPrefix: rec.Prefix, CacheTTLSeconds: ttl}, nil
	}
	if rec.ExpiresAt != nil && !rec.ExpiresAt.After(time.Now()) {
		return policy.Answer{Valid: false, Reason: "key_revoked", KeyPrefix: rec.Prefix, CacheTTLSeconds: ttl}, nil
	}
	if rec.Closed {
		// The layers' provider lists have nothing in common: no call may pass.
		rec.Policy.AllowedProviders = []string{org.ClosedProvider}
	}
	a := policy.Answer{Valid: true, TenantID: rec.TenantID, KeyID: rec.ID, KeyPrefix: rec.Prefix, CacheTTLSeconds: ttl,
		Policy: policy.Policy{AllowedProviders: rec.Policy.AllowedProviders, AllowedModels: rec.Policy.AllowedModels,
			RequiredDimensions: rec.Policy.RequiredDimensions, DefaultDimensions: rec.Policy.DefaultDimensions,
			RequirePricedModels: rec.Policy.RequirePricedModels, RequestsPerMinute: rec.Policy.RequestsPerMinute,
			TokensPerMinute: rec.Policy.TokensPerMinute, InjectCredentials: rec.Policy.InjectProviderCredentials}}
	if a.Policy.InjectCredentials && s.Credentials != nil {
		if a.Credentials, err = s.Credentials.DataPlaneCredentials(ctx, rec.TenantID); err != nil {
			return policy.Answer{}, fmt.Errorf("controlplane: stored provider credentials: %w", err)
		}
	}
	// Any call of the key may carry the dimension value of a dimension-scoped
	// hard budget (headers choose it per call), so those count too: the data
	// plane reserves only for keys whose answer says hard_budget.
	// Provider and model budgets, too, depend on each call.
	var hard bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM budgets WHERE tenant_id = $1 AND hard
		AND (scope IN ('tenant', 'dimension', 'provider', 'model') OR key_id = $2
			OR workspace_id::text = $3 OR team_id::text = $4 OR project_id::text = $5))`,
		rec.TenantID, rec.ID, rec.Path.WorkspaceID, rec.Path.TeamID, rec.Path.ProjectID).Scan(&hard); err != nil {
		return policy.Answer{}, err
	}
	a.Policy.HardBudget = hard
	if a.Policy.AzureDeployments, err = s.tenantAzureDeployments(ctx, rec.TenantID); err != nil {
		return policy.Answer{}, err
	}
	if hard {
		// A key under a hard cap is re-checked often, so blocking is prompt.
		a.CacheTTLSeconds = min(ttl, 5)
	}
	if hard && s.Blocks != nil {
		blocked, reason, err := s.Blocks.KeyBlocked(ctx, rec.TenantID, rec.ID)
		if err != nil {
			// Hard caps fail closed: when spend cannot be checked, the key waits.
			s.log.Warn("controlplane: budget check failed; blocking key under a hard budget", "key_prefix", rec.Prefix, "err", err)
			blocked, reason = true, "budget_unavailable"
		}
		a.Blocked, a.BlockReason = blocked, reason
	}
	s.touchKey(rec.ID)
	return a, nil
}
