-- Azure OpenAI deployments: a tenant's deployment names (chosen in Azure)
-- and the catalogue model each serves. The data planes receive them with
-- every key's policy answer (policy.Policy.AzureDeployments) and treat a call
-- to a deployment as a call to its model (docs/cloud.md).

-- +goose Up
CREATE TABLE azure_deployments (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    deployment  text NOT NULL CHECK (length(deployment) BETWEEN 1 AND 64),
    model       text NOT NULL CHECK (length(model) BETWEEN 1 AND 256),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, deployment)
);

-- +goose Down
DROP TABLE azure_deployments;
