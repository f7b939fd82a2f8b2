package reconcile

import (
	"context"
	"fmt"

	"github.com/spendgate/spendgate/controlplane"
)

// DataPlaneProvider is the data-plane provider id (meter's) whose calls a
// connection's data-plane key authenticates: a Google connection's key is a
// Gemini API key.
func (p Provider) DataPlaneProvider() string {
	if p == Google {
		return "gemini"
	}
	return string(p)
}

// DataPlaneCredentials opens the tenant's stored data-plane keys by
// data-plane provider id (controlplane.CredentialSource): what the policy
// endpoint, behind the service token, hands the data planes for keys whose
// policy says to use them. Enabled connections with a data key only; of
// several connections of one provider, the oldest one's key. A key that does
// not open fails the answer, so the data plane fails closed rather than
// forwarding the caller's own key.
func (s *Service) DataPlaneCredentials(ctx context.Context, tenantID string) (map[string]string, error) {
	conns, err := s.store.DataKeys(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for i := range conns {
		c := &conns[i]
		id := c.Provider.DataPlaneProvider()
		if _, taken := out[id]; taken {
			continue
		}
		key, err := s.open(c.DataKeySealed, SecretAAD(c.ID, "data"))
		if err != nil {
			return nil, fmt.Errorf("reconcile: connection %s: %w", c.ID, err)
		}
		out[id] = key
	}
	return out, nil
}

var _ controlplane.CredentialSource = (*Service)(nil)
