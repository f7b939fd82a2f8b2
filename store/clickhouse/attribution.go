package clickhouse

import (
	"strings"

	"github.com/spendgate/spendgate/spend"
)

// The hierarchy attribution of an event (its workspace, team and project,
// set by ingest from the key) is stored as three reserved pairs of the
// dimension arrays. That way every table and rollup that carries
// dimensions (usage_events, denial_events, cost_corrections and the dims
// and attr rollup families) groups and filters by workspace, team and
// project with the SQL it already runs on ClickHouse 18.16 and 26.x, and no
// existing table or rollup had to change. Callers never see the pairs as
// dimensions: the writers add them from the domain fields and the readers
// take them out again. The names hold a dot, which no data-plane dimension
// name may (meter.ValidDimensionName allows a-z, 0-9 and _), so a caller
// cannot forge them.
const (
	attrWorkspace = "sg.workspace"
	attrTeam      = "sg.team"
	attrProject   = "sg.project"
)

// attributionCols are the group-by and filter names of the hierarchy and the
// reserved dimension each is read from.
var attributionCols = map[string]string{"workspace": attrWorkspace, "team": attrTeam, "project": attrProject}

// withAttribution appends the non-empty attribution pairs to an event's
// dimension arrays.
func withAttribution(names, values []string, workspace, team, project string) ([]string, []string) {
	for _, p := range [...][2]string{{attrWorkspace, workspace}, {attrTeam, team}, {attrProject, project}} {
		if p[1] != "" {
			names, values = append(names, p[0]), append(values, p[1])
		}
	}
	return names, values
}

// splitAttribution takes the attribution pairs out of stored dimension
// arrays.
func splitAttribution(names, values []string) (dimNames, dimValues []string, workspace, team, project string) {
	dimNames, dimValues = make([]string, 0, len(names)), make([]string, 0, len(values))
	for i, n := range names {
		v := ""
		if i < len(values) {
			v = values[i]
		}
		switch n {
		case attrWorkspace:
			workspace = v
		case attrTeam:
			team = v
		case attrProject:
			project = v
		default:
			dimNames, dimValues = append(dimNames, n), append(dimValues, v)
		}
	}
	return dimNames, dimValues, workspace, team, project
}

// within is the condition of a reader limited to subtrees (a scoped role):
// the event is attributed to one of the teams or one of the projects. An
// empty list is left out (ClickHouse cannot type an empty array argument);
// a reader reaching nothing reads nothing.
func (t *table) within(f *spend.Filters) (string, []any, error) {
	if f.Within == nil {
		return "", nil, nil
	}
	if !t.dims {
		return "", nil, badQuery("%s has no attribution", t.name)
	}
	var ors []string
	var args []any
	for _, c := range []struct {
		ids  []string
		name string
	}{{f.Within.TeamIDs, attrTeam}, {f.Within.ProjectIDs, attrProject}} {
		if len(c.ids) > 0 {
			ors = append(ors, "has(?, dim_values[indexOf(dim_names, '"+c.name+"')])")
			args = append(args, c.ids)
		}
	}
	if len(ors) == 0 {
		return " AND 0", nil, nil
	}
	return " AND (" + strings.Join(ors, " OR ") + ")", args, nil
}
