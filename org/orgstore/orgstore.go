// Package orgstore reads a tenant's organisation tree from Postgres (tables
// of migration 20261204220000_hierarchy.sql) into org's pure types. It is
// the one owner of that SQL: the control plane (key policies, ingest's
// attribution source) and the budget store (reservations) both read the
// tree through it.
package orgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/spendgate/spendgate/org"
)

// Querier is what the reads need: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Tree reads the attribution tree of a tenant: every project's and team's
// path (archived ones included: spend of their keys stays theirs), the
// project of every key that has one, and the dimension mappings in the
// order org.Attribute tries them.
func Tree(ctx context.Context, q Querier, tenantID string) (*org.Tree, error) {
	t := &org.Tree{Projects: map[string]org.Path{}, Teams: map[string]org.Path{}, KeyProjects: map[string]string{}}
	rows, err := q.Query(ctx, `SELECT tm.id::text, tm.workspace_id::text, coalesce(p.id::text, '') FROM teams tm
		LEFT JOIN projects p ON p.team_id = tm.id WHERE tm.tenant_id = $1`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("orgstore: tree of %s: %w", tenantID, err)
	}
	for rows.Next() {
		var team, ws, project string
		if err := rows.Scan(&team, &ws, &project); err != nil {
			rows.Close()
			return nil, fmt.Errorf("orgstore: tree of %s: %w", tenantID, err)
		}
		t.Teams[team] = org.Path{WorkspaceID: ws, TeamID: team}
		if project != "" {
			t.Projects[project] = org.Path{WorkspaceID: ws, TeamID: team, ProjectID: project}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("orgstore: tree of %s: %w", tenantID, err)
	}
	rows, err = q.Query(ctx, `SELECT id::text, project_id::text FROM api_keys WHERE tenant_id = $1 AND project_id IS NOT NULL`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("orgstore: key projects of %s: %w", tenantID, err)
	}
	for rows.Next() {
		var key, project string
		if err := rows.Scan(&key, &project); err != nil {
			rows.Close()
			return nil, fmt.Errorf("orgstore: key projects of %s: %w", tenantID, err)
		}
		t.KeyProjects[key] = project
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("orgstore: key projects of %s: %w", tenantID, err)
	}
	if t.Mappings, err = Mappings(ctx, q, tenantID); err != nil {
		return nil, err
	}
	return t, nil
}

// Mappings reads a tenant's dimension mappings in the order org.Attribute
// tries them.
func Mappings(ctx context.Context, q Querier, tenantID string) ([]org.Mapping, error) {
	rows, err := q.Query(ctx, `SELECT dimension_name, dimension_value, coalesce(team_id::text, ''), coalesce(project_id::text, '')
		FROM attribution_mappings WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("orgstore: mappings of %s: %w", tenantID, err)
	}
	ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (org.Mapping, error) {
		var m org.Mapping
		return m, r.Scan(&m.Name, &m.Value, &m.TeamID, &m.ProjectID)
	})
	if err != nil {
		return nil, fmt.Errorf("orgstore: mappings of %s: %w", tenantID, err)
	}
	org.SortMappings(ms)
	return ms, nil
}

// Place attributes one call of keyID with dims in tenantID as org.Attribute
// does, reading only what it needs: the key's project path, else the
// mappings. A key of another tenant has no project here.
func Place(ctx context.Context, q Querier, tenantID, keyID string, dims map[string]string) (org.Path, error) {
	if keyID != "" {
		var p org.Path
		err := q.QueryRow(ctx, `SELECT tm.workspace_id::text, tm.id::text, p.id::text FROM api_keys k
			JOIN projects p ON p.id = k.project_id JOIN teams tm ON tm.id = p.team_id
			WHERE k.tenant_id = $1 AND k.id::text = $2`, tenantID, keyID).Scan(&p.WorkspaceID, &p.TeamID, &p.ProjectID)
		switch {
		case err == nil:
			return p, nil
		case !errors.Is(err, pgx.ErrNoRows) && !isBadText(err):
			return org.Path{}, fmt.Errorf("orgstore: place key %s: %w", keyID, err)
		}
	}
	if len(dims) == 0 {
		return org.Path{}, nil
	}
	ms, err := Mappings(ctx, q, tenantID)
	if err != nil || len(ms) == 0 {
		return org.Path{}, err
	}
	t := &org.Tree{Mappings: ms, Projects: map[string]org.Path{}, Teams: map[string]org.Path{}}
	rows, err := q.Query(ctx, `SELECT tm.id::text, tm.workspace_id::text, coalesce(p.id::text, '') FROM attribution_mappings m
		LEFT JOIN projects p ON p.id = m.project_id JOIN teams tm ON tm.id = coalesce(m.team_id, p.team_id) WHERE m.tenant_id = $1`, tenantID)
	if err != nil {
		return org.Path{}, fmt.Errorf("orgstore: mapped nodes of %s: %w", tenantID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var team, ws, project string
		if err := rows.Scan(&team, &ws, &project); err != nil {
			return org.Path{}, fmt.Errorf("orgstore: mapped nodes of %s: %w", tenantID, err)
		}
		t.Teams[team] = org.Path{WorkspaceID: ws, TeamID: team}
		if project != "" {
			t.Projects[project] = org.Path{WorkspaceID: ws, TeamID: team, ProjectID: project}
		}
	}
	if err := rows.Err(); err != nil {
		return org.Path{}, fmt.Errorf("orgstore: mapped nodes of %s: %w", tenantID, err)
	}
	return t.Attribute("", dims), nil
}

func isBadText(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "22P02"
}

// Reader reads trees from a pool (ingest's TreeSource).
type Reader struct{ DB Querier }

// TenantTree implements ingest.TreeSource.
func (r Reader) TenantTree(ctx context.Context, tenantID string) (*org.Tree, error) {
	return Tree(ctx, r.DB, tenantID)
}
