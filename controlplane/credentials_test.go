package controlplane

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/spendgate/spendgate/internal/testenv"
)

// tenantCredentials holds stored credentials per tenant, as the provider
// connections do, and records whose were asked for.
type tenantCredentials struct {
	byTenant map[string]map[string]string
	asked    []string
	err      error
}

func (c *tenantCredentials) DataPlaneCredentials(_ context.Context, tenantID string) (map[string]string, error) {
	c.asked = append(c.asked, tenantID)
	return maps.Clone(c.byTenant[tenantID]), c.err
}

// TestPolicyAnswerCarriesStoredCredentialsOnlyForKeysThatUseThem: the
// answer carries the key's own tenant's credentials when any layer of the
// key's policy says so, and none otherwise; a failure to read them fails
// the answer (the data plane then fails closed) rather than forwarding the
// caller's key.
func TestPolicyAnswerCarriesStoredCredentialsOnlyForKeysThatUseThem(t *testing.T) {
	s, _ := newTestService(t)
	ctx, acme := owner(t, s, "ann@example.com", "acme")
	_, globex := owner(t, s, "bob@example.com", "globex")
	src := &tenantCredentials{byTenant: map[string]map[string]string{
		acme: {"openai": "sk-acme"}, globex: {"openai": "sk-globex"}}}
	s.Credentials = src

	plain, err := s.CreateAPIKey(ctx, acme, "plain", KeyPolicy{}, nil, nil)
	testenv.Must(t, err, "plain key")
	a, err := s.PolicyAnswer(ctx, plain.Secret)
	testenv.Must(t, err, "plain answer")
	if a.Policy.InjectCredentials || a.Credentials != nil || len(src.asked) != 0 {
		t.Fatalf("a key without the setting got credentials: %+v (asked %v)", a, src.asked)
	}

	own, err := s.CreateAPIKey(ctx, acme, "stored", KeyPolicy{InjectProviderCredentials: true}, nil, nil)
	testenv.Must(t, err, "key")
	a, err = s.PolicyAnswer(ctx, own.Secret)
	testenv.Must(t, err, "answer")
	if !a.Policy.InjectCredentials || a.Credentials["openai"] != "sk-acme" || len(a.Credentials) != 1 {
		t.Fatalf("answer %+v", a)
	}
	if len(src.asked) != 1 || src.asked[0] != acme {
		t.Fatalf("credentials asked for tenants %v, want only the key's", src.asked)
	}

	// A workspace that says so covers the keys below it.
	ws, err := s.CreateNode(ctx, acme, KindWorkspace, "", "Prod", KeyPolicy{InjectProviderCredentials: true})
	testenv.Must(t, err, "workspace")
	team, err := s.CreateNode(ctx, acme, KindTeam, ws.ID, "Payments", KeyPolicy{})
	testenv.Must(t, err, "team")
	proj, err := s.CreateNode(ctx, acme, KindProject, team.ID, "API", KeyPolicy{})
	testenv.Must(t, err, "project")
	inTree, err := s.CreateAPIKey(ctx, acme, "in tree", KeyPolicy{}, nil, &proj.ID)
	testenv.Must(t, err, "key in project")
	if a, err = s.PolicyAnswer(ctx, inTree.Secret); err != nil || !a.Policy.InjectCredentials || a.Credentials["openai"] != "sk-acme" {
		t.Fatalf("key under a workspace with stored credentials: %+v %v", a, err)
	}

	// Credentials that cannot be read fail the answer.
	src.err = errors.New("secrets key missing")
	s.evictAll()
	if _, err := s.PolicyAnswer(ctx, own.Secret); err == nil || !strings.Contains(err.Error(), "stored provider credentials") {
		t.Fatalf("unreadable credentials: %v", err)
	}
}
