package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spendgate/spendgate/apikey"
	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/pgstore"
	"github.com/spendgate/spendgate/internal/testenv"
)

func TestSignInRefreshSignOut(t *testing.T) {
	h := newHarness(t)
	h.owner("alice@example.com", "acme")
	r := h.gql("", `mutation{signIn(email:"alice@example.com",password:"wrong-password"){accessToken}}`, nil)
	if r.code() != "UNAUTHENTICATED" {
		t.Fatalf("wrong password: %+v", r.Errors)
	}
	d := h.must("", `mutation{signIn(email:"ALICE@example.com",password:"password-123"){accessToken refreshToken expiresAt user{email}}}`, nil)
	refresh := get(d, "signIn", "refreshToken").(string)
	d2 := h.must("", `mutation($r:String!){refreshSession(refreshToken:$r){accessToken refreshToken}}`, map[string]any{"r": refresh})
	newRefresh := get(d2, "refreshSession", "refreshToken").(string)
	if newRefresh == refresh {
		t.Fatal("refresh token not rotated")
	}
	if r := h.gql("", `mutation($r:String!){refreshSession(refreshToken:$r){accessToken}}`, map[string]any{"r": refresh}); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("spent refresh token accepted: %+v", r)
	}
	access := get(d2, "refreshSession", "accessToken").(string)
	me := h.must(access, `{me{email}}`, nil)
	if get(me, "me", "email") != "alice@example.com" {
		t.Fatalf("me %v", me)
	}
	h.must(access, `mutation($r:String!){signOut(refreshToken:$r)}`, map[string]any{"r": newRefresh})
	if r := h.gql("", `mutation($r:String!){refreshSession(refreshToken:$r){accessToken}}`, map[string]any{"r": newRefresh}); r.code() != "UNAUTHENTICATED" {
		t.Fatal("signed-out refresh token accepted")
	}
	if r := h.gql("", `{me{email}}`, nil); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("anonymous me: %+v", r)
	}
	if r := h.gql("not-a-jwt", `{me{email}}`, nil); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("bad token: %+v", r)
	}
}

const createKey = `mutation($t:ID!,$n:String!,$p:KeyPolicyInput){createAPIKey(tenantId:$t,name:$n,policy:$p){secret key{id prefix status policy{allowedProviders allowedModels requiredDimensions defaultDimensions{name value} requirePricedModels}}}}`

func TestKeyLifecycleThroughPolicyEndpoint(t *testing.T) {
	h := newHarness(t)
	tok, tenant := h.owner("alice@example.com", "acme")
	d := h.must(tok, createKey, map[string]any{"t": tenant, "n": "search prod", "p": map[string]any{
		"allowedProviders": []string{"openai", "anthropic"}, "allowedModels": []string{"gpt-4o*"}, "requiredDimensions": []string{"team"},
		"defaultDimensions": []map[string]string{{"name": "env", "value": "prod"}}}})
	secret := get(d, "createAPIKey", "secret").(string)
	keyID := get(d, "createAPIKey", "key", "id").(string)
	prefix := get(d, "createAPIKey", "key", "prefix").(string)
	if !strings.HasPrefix(secret, "sg_"+prefix+"_") {
		t.Fatalf("secret %q does not carry prefix %q", secret, prefix)
	}
	status, a := h.policy(secret)
	if status != 200 || a["valid"] != true || a["tenant_id"] != tenant || a["key_id"] != keyID || get(a, "policy", "default_dimensions", "env") != "prod" {
		t.Fatalf("policy answer %d %v", status, a)
	}
	// The database holds only HMAC-SHA-256(pepper, key), never the secret.
	var row string
	var stored []byte
	testenv.Must(t, h.pool.QueryRow(context.Background(), `SELECT row_to_json(k)::text, secret_hash FROM api_keys k WHERE id = $1`, keyID).Scan(&row, &stored), "key row")
	if strings.Contains(row, secret[len(prefix)+4:]) || !bytes.Equal(stored, apikey.Hash([]byte(testPepper), secret)) {
		t.Fatalf("stored key row %s", row)
	}
	// The list shows the prefix, name, created, last used (recorded off the
	// request path after the policy lookup above) and status, never the secret.
	var list map[string]any
	testenv.WaitFor(t, 10*time.Second, "lastUsedAt", func() bool {
		list = h.must(tok, `query($t:ID!){apiKeys(tenantId:$t){edges{node{id name prefix status createdAt lastUsedAt}}}}`, map[string]any{"t": tenant})
		edges := get(list, "apiKeys", "edges").([]any)
		return len(edges) == 1 && get(edges[0], "node", "lastUsedAt") != nil
	})
	node := get(list, "apiKeys", "edges").([]any)[0]
	if get(node, "node", "prefix") != prefix || get(node, "node", "name") != "search prod" || get(node, "node", "status") != "ACTIVE" ||
		get(node, "node", "createdAt") == nil || strings.Contains(toJSON(list), secret[len(prefix)+4:]) {
		t.Fatalf("list %v", list)
	}
	// Policy edits reach the data plane.
	h.must(tok, `mutation($t:ID!,$id:ID!){updateAPIKeyPolicy(tenantId:$t,id:$id,policy:{allowedModels:["claude-*"]}){id}}`, map[string]any{"t": tenant, "id": keyID})
	_, a = h.policy(secret)
	if models := get(a, "policy", "allowed_models").([]any); len(models) != 1 || models[0] != "claude-*" {
		t.Fatalf("updated policy not served: %v", a)
	}
	// Rotate: the old secret stops working, the new one works with the same policy.
	d = h.must(tok, `mutation($t:ID!,$id:ID!){rotateAPIKey(tenantId:$t,id:$id){secret key{id rotatedFromId status}}}`, map[string]any{"t": tenant, "id": keyID})
	newSecret := get(d, "rotateAPIKey", "secret").(string)
	newID := get(d, "rotateAPIKey", "key", "id").(string)
	if get(d, "rotateAPIKey", "key", "rotatedFromId") != keyID {
		t.Fatalf("rotation link %v", d)
	}
	if _, a = h.policy(secret); a["valid"] != false || a["reason"] != "key_revoked" {
		t.Fatalf("old key after rotation: %v", a)
	}
	if _, a = h.policy(newSecret); a["valid"] != true || get(a, "policy", "allowed_models").([]any)[0] != "claude-*" {
		t.Fatalf("new key after rotation: %v", a)
	}
	h.must(tok, `mutation($t:ID!,$id:ID!){revokeAPIKey(tenantId:$t,id:$id){status revokedAt}}`, map[string]any{"t": tenant, "id": newID})
	if _, a = h.policy(newSecret); a["valid"] != false || a["reason"] != "key_revoked" {
		t.Fatalf("revoked key: %v", a)
	}
	if r := h.gql(tok, `mutation($t:ID!,$id:ID!){rotateAPIKey(tenantId:$t,id:$id){secret}}`, map[string]any{"t": tenant, "id": newID}); r.code() != "CONFLICT" {
		t.Fatalf("rotating a revoked key: %+v", r)
	}
	// Unknown, malformed and unauthenticated calls. Negative answers carry
	// cache hints too, so the data plane does not ask again at once.
	if _, a = h.policy("sg_aaaaaaaaaa_" + strings.Repeat("A", 40)); a["valid"] != false || a["reason"] != "unknown_key" || a["cache_ttl_seconds"] != 30.0 {
		t.Fatalf("unknown key: %v", a)
	}
	req0, _ := http.NewRequest("GET", h.srv.URL+"/internal/v1/policy", nil)
	req0.Header.Set("Authorization", "Bearer "+serviceToken)
	req0.Header.Set("X-Spendgate-Key", "sg_aaaaaaaaaa_"+strings.Repeat("A", 40))
	resp0, err := http.DefaultClient.Do(req0)
	testenv.Must(t, err, "policy")
	resp0.Body.Close()
	if cc := resp0.Header.Get("Cache-Control"); cc != "private, max-age=30" {
		t.Fatalf("Cache-Control %q", cc)
	}
	if _, a = h.policy("sk-not-ours"); a["valid"] != false || a["reason"] != "malformed_key" {
		t.Fatalf("malformed key: %v", a)
	}
	// A right prefix with a wrong secret is unknown, not valid.
	if _, a = h.policy(newSecret[:len(newSecret)-4] + "AAAA"); a["valid"] != false {
		t.Fatalf("wrong secret accepted: %v", a)
	}
	if s, _ := h.policy(""); s != http.StatusBadRequest {
		t.Fatalf("missing key header: %d", s)
	}
	req, _ := http.NewRequest("GET", h.srv.URL+"/internal/v1/policy", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	req.Header.Set("X-Spendgate-Key", newSecret)
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong service token: %d", resp.StatusCode)
	}
	// Secrets never appear in logs.
	for _, s := range []string{secret, newSecret} {
		if strings.Contains(h.logs.String(), s[len(prefix)+4:]) {
			t.Fatal("a key secret was logged")
		}
	}
	// Every mutation is in the audit log.
	al := h.must(tok, `query($t:ID!){auditLog(tenantId:$t,first:50){edges{node{actor action targetType}}}}`, map[string]any{"t": tenant})
	var actions []string
	for _, e := range get(al, "auditLog", "edges").([]any) {
		actions = append(actions, get(e, "node", "action").(string))
		if get(e, "node", "actor") != "alice@example.com" {
			t.Fatalf("audit actor %v", e)
		}
	}
	sort.Strings(actions)
	want := []string{"api_key.create", "api_key.policy", "api_key.revoke", "api_key.rotate", "tenant.create"}
	if strings.Join(actions, ",") != strings.Join(want, ",") {
		t.Fatalf("audit actions %v want %v", actions, want)
	}
	if strings.Contains(toJSON(al), secret) {
		t.Fatal("audit log holds a secret")
	}
}

// TestHardBudgetMarksPolicy: keys under any hard budget (tenant, key, or a
// dimension any call of the key may carry) are marked so the data plane
// reserves before forwarding, with a short cache hint; once the budget store
// says the cap is spent the key is blocked, and when the store cannot answer
// the key is blocked too (hard caps fail closed).
// TestExpiredKey: a key past its expiresAt is refused by the policy endpoint
// without anyone revoking it.
func TestExpiredKey(t *testing.T) {
	h := newHarness(t)
	tok, tenant := h.owner("alice@example.com", "acme")
	exp := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)
	d := h.must(tok, `mutation($t:ID!,$e:Time){createAPIKey(tenantId:$t,name:"short-lived",expiresAt:$e){secret key{expiresAt}}}`, map[string]any{"t": tenant, "e": exp})
	secret := get(d, "createAPIKey", "secret").(string)
	if get(d, "createAPIKey", "key", "expiresAt") == nil {
		t.Fatalf("expiry not stored: %v", d)
	}
	if _, a := h.policy(secret); a["valid"] != true {
		t.Fatalf("key before expiry: %v", a)
	}
	testenv.WaitFor(t, 15*time.Second, "key to expire", func() bool {
		_, a := h.policy(secret)
		return a["valid"] == false && a["reason"] == "key_revoked"
	})
}

func TestHardBudgetMarksPolicy(t *testing.T) {
	h := newHarness(t)
	tok, tenant := h.owner("alice@example.com", "acme")
	d := h.must(tok, createKey, map[string]any{"t": tenant, "n": "k"})
	secret := get(d, "createAPIKey", "secret").(string)
	keyID := get(d, "createAPIKey", "key", "id").(string)
	if _, a := h.policy(secret); get(a, "policy", "hard_budget") != false || a["cache_ttl_seconds"] != 30.0 {
		t.Fatalf("no budget yet: %v", a)
	}
	tv := map[string]any{"t": tenant, "k": keyID}
	// A soft budget changes nothing.
	h.must(tok, `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"watch",scope:TENANT,period:MONTH,amount:"100"}){id}}`, tv)
	if _, a := h.policy(secret); get(a, "policy", "hard_budget") != false {
		t.Fatalf("soft budget marked hard: %v", a)
	}
	// Budgets are read on every answer (the key's cached record is evicted only on key mutations).
	d = h.must(tok, `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"team cap",scope:DIMENSION,dimensionName:"team",dimensionValue:"search",period:DAY,amount:"10",hard:true}){id}}`, tv)
	dimBudget := get(d, "createBudget", "id")
	if _, a := h.policy(secret); get(a, "policy", "hard_budget") != true || a["cache_ttl_seconds"].(float64) > 5 || a["blocked"] != false {
		t.Fatalf("dimension hard budget not reported: %v", a)
	}
	h.must(tok, `mutation($t:ID!,$b:ID!){deleteBudget(tenantId:$t,id:$b)}`, map[string]any{"t": tenant, "b": dimBudget})
	if _, a := h.policy(secret); get(a, "policy", "hard_budget") != false {
		t.Fatalf("deleted budget still reported: %v", a)
	}
	h.must(tok, `mutation($t:ID!,$k:ID!){createBudget(tenantId:$t,input:{name:"cap",scope:KEY,keyId:$k,period:MONTH,amount:"1",hard:true}){id}}`, tv)
	if _, a := h.policy(secret); get(a, "policy", "hard_budget") != true || a["blocked"] != false {
		t.Fatalf("key hard budget: %v", a)
	}
	// Spend the cap through the budget store, as the ingest consumer does.
	budgets := pgstore.New(h.pool)
	_, err := budgets.ApplySpend(context.Background(), []budget.Spend{{EventID: "ev-cap-1", Subject: budget.Subject{TenantID: tenant, KeyID: keyID},
		Time: time.Now().UTC(), CostNanoUSD: 1_000_000_000}})
	testenv.Must(t, err, "apply spend")
	if _, a := h.policy(secret); a["blocked"] != true || a["block_reason"] != "budget_exceeded" || a["valid"] != true {
		t.Fatalf("spent key not blocked: %v", a)
	}
	// The budget store unreachable: blocked, with its own reason.
	broken, err := pgxpool.New(context.Background(), h.pool.Config().ConnString())
	testenv.Must(t, err, "pool")
	broken.Close()
	h.cp.Blocks = pgstore.New(broken)
	if _, a := h.policy(secret); a["blocked"] != true || a["block_reason"] != "budget_unavailable" {
		t.Fatalf("unreachable budget store: %v", a)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
