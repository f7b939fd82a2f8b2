package controlplane

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/event"
)

// AzureDeployment maps one of a tenant's Azure OpenAI deployment names to
// the catalogue model it serves (policy.Policy.AzureDeployments).
type AzureDeployment struct {
	ID, TenantID, Deployment, Model string
	CreatedAt, UpdatedAt            time.Time
}

// MaxAzureDeployments bounds a tenant's mappings: they travel with every
// policy answer and sit in the Envoy filter's shared-data cache.
const MaxAzureDeployments = 500

const azureDeploymentColumns = `id, tenant_id, deployment, model, created_at, updated_at`

func scanAzureDeployment(r pgx.Row) (AzureDeployment, error) {
	var d AzureDeployment
	err := r.Scan(&d.ID, &d.TenantID, &d.Deployment, &d.Model, &d.CreatedAt, &d.UpdatedAt)
	return d, err
}

// validateAzureDeployment checks a mapping: Azure deployment names are 2 to
// 64 letters, digits, '-', '_' or '.' (one to 64 accepted, as Azure has
// varied); the model is a catalogue model name.
func validateAzureDeployment(deployment, model string) (string, string, error) {
	deployment, model = strings.TrimSpace(deployment), strings.TrimSpace(model)
	if deployment == "" || len(deployment) > 64 {
		return "", "", invalid("deployment must be 1 to 64 characters")
	}
	for _, c := range deployment {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "", "", invalid("deployment %q may only hold letters, digits, '-', '_' and '.'", deployment)
		}
	}
	if model == "" || len(model) > event.MaxModelNameBytes {
		return "", "", invalid("model must be 1 to %d bytes", event.MaxModelNameBytes)
	}
	return deployment, model, nil
}

// AzureDeployments lists a tenant's deployment mappings by name.
func (s *KeyService) AzureDeployments(ctx context.Context, tenantID string) ([]AzureDeployment, error) {
	if _, _, err := s.authorize(ctx, tenantID, RoleViewer); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+azureDeploymentColumns+` FROM azure_deployments WHERE tenant_id = $1 ORDER BY deployment`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AzureDeployment, error) { return scanAzureDeployment(r) })
}

// SetAzureDeployment maps a deployment to a model, replacing its mapping.
// Data planes see it once their cached policy answers expire.
func (s *KeyService) SetAzureDeployment(ctx context.Context, tenantID, deployment, model string) (AzureDeployment, error) {
	p, _, err := s.authorize(ctx, tenantID, RoleAdmin)
	if err != nil {
		return AzureDeployment{}, err
	}
	deployment, model, err = validateAzureDeployment(deployment, model)
	if err != nil {
		return AzureDeployment{}, err
	}
	var d AzureDeployment
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM azure_deployments WHERE tenant_id = $1 AND deployment <> $2`, tenantID, deployment).Scan(&n); err != nil {
			return err
		}
		if n >= MaxAzureDeployments {
			return invalid("a tenant maps at most %d Azure deployments", MaxAzureDeployments)
		}
		var err error
		d, err = scanAzureDeployment(tx.QueryRow(ctx, `INSERT INTO azure_deployments (tenant_id, deployment, model) VALUES ($1, $2, $3)
			ON CONFLICT (tenant_id, deployment) DO UPDATE SET model = EXCLUDED.model, updated_at = now()
			RETURNING `+azureDeploymentColumns, tenantID, deployment, model))
		if err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "azure_deployment.set", "azure_deployment", d.ID, map[string]any{"deployment": deployment, "model": model})
	})
	return d, err
}

// DeleteAzureDeployment removes a deployment's mapping: its calls are then
// metered under the deployment name (unpriced).
func (s *KeyService) DeleteAzureDeployment(ctx context.Context, tenantID, deployment string) error {
	p, _, err := s.authorize(ctx, tenantID, RoleAdmin)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx, `DELETE FROM azure_deployments WHERE tenant_id = $1 AND deployment = $2 RETURNING id`, tenantID, deployment).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("Azure deployment")
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "azure_deployment.delete", "azure_deployment", id, map[string]any{"deployment": deployment})
	})
}

// tenantAzureDeployments is the mapping the policy answer carries (no
// principal: the caller is the policy endpoint).
func (s *KeyService) tenantAzureDeployments(ctx context.Context, tenantID string) (map[string]string, error) {
	rows, err := s.db.Query(ctx, `SELECT deployment, model FROM azure_deployments WHERE tenant_id = $1 LIMIT $2`, tenantID, MaxAzureDeployments)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out map[string]string
	for rows.Next() {
		var dep, model string
		if err := rows.Scan(&dep, &model); err != nil {
			return nil, err
		}
		if out == nil {
			out = map[string]string{}
		}
		out[dep] = model
	}
	return out, rows.Err()
}
