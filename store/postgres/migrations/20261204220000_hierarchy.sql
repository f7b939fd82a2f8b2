-- Organisation hierarchy inside a tenant (workspace -> team -> project), keys
-- belonging to a project, key defaults on every node, scoped roles, mappings
-- from a dimension value to a team or project, and budgets on every scope
-- with quarter/year periods and rollover. Existing rows keep working: a key
-- without a project, a tenant role without grants, and budgets of the old
-- scopes and periods are all still valid. See docs/hierarchy.md.

-- +goose Up
CREATE TABLE workspaces (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- key defaults (a partial key policy, JSON of org.KeyPolicy) inherited by
    -- every key below
    key_defaults jsonb NOT NULL DEFAULT '{}',
    archived_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);

CREATE TABLE teams (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL,
    workspace_id uuid NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    key_defaults jsonb NOT NULL DEFAULT '{}',
    archived_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    -- the composite keys make a node of another tenant impossible as a parent
    FOREIGN KEY (tenant_id, workspace_id) REFERENCES workspaces (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE projects (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL,
    team_id      uuid NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    key_defaults jsonb NOT NULL DEFAULT '{}',
    archived_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX projects_team_idx ON projects (team_id);

ALTER TABLE api_keys ADD COLUMN project_id uuid;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_project_fk FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id);
CREATE INDEX api_keys_project_idx ON api_keys (project_id) WHERE project_id IS NOT NULL;

-- A tenant member whose rights come only from grants below.
ALTER TABLE memberships DROP CONSTRAINT memberships_role_check;
ALTER TABLE memberships ADD CONSTRAINT memberships_role_check CHECK (role IN ('owner', 'admin', 'viewer', 'member'));

-- Scoped roles: a role on one node of the tree, reaching its subtree.
CREATE TABLE role_grants (
    tenant_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    role        text NOT NULL CHECK (role IN ('team_admin', 'project_member', 'project_viewer')),
    node_kind   text NOT NULL CHECK (node_kind IN ('team', 'project')),
    node_id     uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id, node_kind, node_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES memberships (tenant_id, user_id) ON DELETE CASCADE,
    CHECK ((role = 'team_admin') = (node_kind = 'team'))
);

-- Attribution of spend by a dimension value (team=payments) to a team or a
-- project, for keys that belong to no project yet.
CREATE TABLE attribution_mappings (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    dimension_name   text NOT NULL,
    dimension_value  text NOT NULL,
    team_id          uuid,
    project_id       uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, dimension_name, dimension_value),
    FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
    CHECK ((team_id IS NULL) <> (project_id IS NULL))
);

-- Budgets on every scope.
ALTER TABLE budgets DROP CONSTRAINT budgets_scope_check;
ALTER TABLE budgets DROP CONSTRAINT budgets_period_check;
ALTER TABLE budgets
    ADD COLUMN workspace_id uuid,
    ADD COLUMN team_id      uuid,
    ADD COLUMN project_id   uuid,
    ADD COLUMN provider     text,
    ADD COLUMN model        text,
    ADD COLUMN rollover     boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT budgets_scope_check CHECK (scope IN ('tenant', 'workspace', 'team', 'project', 'key', 'provider', 'model', 'dimension')),
    ADD CONSTRAINT budgets_period_check CHECK (period IN ('day', 'week', 'month', 'quarter', 'year')),
    ADD CONSTRAINT budgets_workspace_fk FOREIGN KEY (tenant_id, workspace_id) REFERENCES workspaces (tenant_id, id) ON DELETE CASCADE,
    ADD CONSTRAINT budgets_team_fk FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id) ON DELETE CASCADE,
    ADD CONSTRAINT budgets_project_fk FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
    ADD CONSTRAINT budgets_workspace_scope CHECK ((scope = 'workspace') = (workspace_id IS NOT NULL)),
    ADD CONSTRAINT budgets_team_scope CHECK ((scope = 'team') = (team_id IS NOT NULL)),
    ADD CONSTRAINT budgets_project_scope CHECK ((scope = 'project') = (project_id IS NOT NULL)),
    -- a model budget may name its provider too
    ADD CONSTRAINT budgets_provider_scope CHECK (scope IN ('provider', 'model') OR provider IS NULL),
    ADD CONSTRAINT budgets_model_scope CHECK ((scope = 'model') = (model IS NOT NULL)),
    ADD CONSTRAINT budgets_provider_needed CHECK (scope <> 'provider' OR provider IS NOT NULL);

-- What a rollover budget carried into the period from the one before:
-- the period's cap is amount + carried.
ALTER TABLE budget_spend ADD COLUMN carried_nano_usd bigint NOT NULL DEFAULT 0 CHECK (carried_nano_usd >= 0);

-- +goose Down
ALTER TABLE budget_spend DROP COLUMN carried_nano_usd;
DELETE FROM budgets WHERE scope NOT IN ('tenant', 'key', 'dimension') OR period NOT IN ('day', 'week', 'month');
ALTER TABLE budgets DROP CONSTRAINT budgets_scope_check, DROP CONSTRAINT budgets_period_check,
    DROP COLUMN workspace_id, DROP COLUMN team_id, DROP COLUMN project_id, DROP COLUMN provider, DROP COLUMN model, DROP COLUMN rollover;
ALTER TABLE budgets ADD CONSTRAINT budgets_scope_check CHECK (scope IN ('tenant', 'key', 'dimension')),
    ADD CONSTRAINT budgets_period_check CHECK (period IN ('day', 'week', 'month'));
DROP TABLE attribution_mappings;
DROP TABLE role_grants;
DELETE FROM memberships WHERE role = 'member';
ALTER TABLE memberships DROP CONSTRAINT memberships_role_check;
ALTER TABLE memberships ADD CONSTRAINT memberships_role_check CHECK (role IN ('owner', 'admin', 'viewer'));
ALTER TABLE api_keys DROP COLUMN project_id;
DROP TABLE projects;
DROP TABLE teams;
DROP TABLE workspaces;
