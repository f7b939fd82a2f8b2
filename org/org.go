// Package org is the pure logic of a tenant's organisation hierarchy —
// workspace → team → project, with API keys belonging to a project: where a
// call is attributed (Attribute), which key policy is in force for a key
// (Effective), and what a user's tenant role and scoped grants let them do
// on a node (Access). It does no I/O; the control plane keeps the tree in
// Postgres, ingest attributes events with it and the budget store matches
// budgets with it. See docs/hierarchy.md.
package org

import "slices"

// Path is a node's place in the tree: the ids of its workspace, team and
// project, as far down as it goes ("" below). A key without a project, or
// an event attributed to nothing, has the zero Path.
type Path struct {
	WorkspaceID, TeamID, ProjectID string
}

// IsZero reports whether p is attributed to nothing.
func (p Path) IsZero() bool { return p.WorkspaceID == "" }

// Within reports whether p lies in the subtree of node (a Path filled down
// to the node's own level): the same workspace, and the same team and
// project where node names them.
func (p Path) Within(node Path) bool {
	if node.IsZero() || p.WorkspaceID != node.WorkspaceID {
		return false
	}
	if node.TeamID != "" && p.TeamID != node.TeamID {
		return false
	}
	return node.ProjectID == "" || p.ProjectID == node.ProjectID
}

// Tree is what attribution needs of a tenant's hierarchy: where each
// project and team sits, which project each key belongs to, and the
// dimension mappings. Archived nodes stay in it: their keys' spend is still
// theirs.
type Tree struct {
	// Projects maps a project id to its path (itself included).
	Projects map[string]Path
	// Teams maps a team id to its path (ProjectID empty).
	Teams map[string]Path
	// KeyProjects maps a key id to its project id (keys without a project
	// are absent).
	KeyProjects map[string]string
	// Mappings attribute calls of keys without a project by a dimension
	// value, in the order they are tried (Attribute sorts nothing).
	Mappings []Mapping
}

// Mapping attributes calls whose dimension Name has Value to a project or a
// team (exactly one of ProjectID, TeamID), so a tenant that attributed
// spend by dimensions can move to the hierarchy without changing callers.
type Mapping struct {
	Name, Value       string
	TeamID, ProjectID string
}

// Attribute places a call of keyID with dims: the key's project when it
// has one (a key's project always wins: it was chosen for that key), else
// the first mapping whose dimension value the call carries, else nowhere.
// Ingest attributes each event once, when it is stored, so moving a project
// later changes where new spend goes, never history (docs/hierarchy.md).
func (t *Tree) Attribute(keyID string, dims map[string]string) Path {
	if t == nil {
		return Path{}
	}
	if pid, ok := t.KeyProjects[keyID]; ok {
		if p, ok := t.Projects[pid]; ok {
			return p
		}
	}
	for _, m := range t.Mappings {
		if v, ok := dims[m.Name]; !ok || v != m.Value {
			continue
		}
		if m.ProjectID != "" {
			if p, ok := t.Projects[m.ProjectID]; ok {
				return p
			}
			continue
		}
		if p, ok := t.Teams[m.TeamID]; ok {
			return p
		}
	}
	return Path{}
}

// SortMappings orders mappings the way Attribute should try them: project
// mappings before team mappings (the more precise first), then by dimension
// name and value, so the answer never depends on storage order.
func SortMappings(ms []Mapping) {
	slices.SortStableFunc(ms, func(a, b Mapping) int {
		ap, bp := a.ProjectID != "", b.ProjectID != ""
		switch {
		case ap && !bp:
			return -1
		case bp && !ap:
			return 1
		case a.Name != b.Name:
			if a.Name < b.Name {
				return -1
			}
			return 1
		case a.Value < b.Value:
			return -1
		case a.Value > b.Value:
			return 1
		}
		return 0
	})
}
