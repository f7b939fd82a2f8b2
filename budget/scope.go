package budget

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Scope says which spend a budget counts. This file is the one owner of the
// budget rules: which scopes exist and what each one names, which spend a
// scope covers, and what a valid budget is. The control plane validates
// budgets with Budget.Validate and the stores match spend with
// Budget.Matches; neither keeps its own list.
type Scope string

// Scopes, from the widest down the hierarchy, then across it.
const (
	ScopeTenant    Scope = "tenant"    // every spend of the tenant
	ScopeWorkspace Scope = "workspace" // spend attributed to a workspace (WorkspaceID)
	ScopeTeam      Scope = "team"      // ... to a team (TeamID)
	ScopeProject   Scope = "project"   // ... to a project (ProjectID)
	ScopeKey       Scope = "key"       // spend of one key (KeyID)
	ScopeProvider  Scope = "provider"  // spend at one provider (Provider)
	ScopeModel     Scope = "model"     // spend on one model (Model, optionally Provider)
	ScopeDimension Scope = "dimension" // spend whose dimension DimensionName is DimensionValue
)

// Scopes lists every scope.
var Scopes = []Scope{ScopeTenant, ScopeWorkspace, ScopeTeam, ScopeProject, ScopeKey, ScopeProvider, ScopeModel, ScopeDimension}

// ParseScope checks a scope name.
func ParseScope(s string) (Scope, error) {
	if sc := Scope(s); slices.Contains(Scopes, sc) {
		return sc, nil
	}
	names := make([]string, len(Scopes))
	for i, sc := range Scopes {
		names[i] = string(sc)
	}
	return "", fmt.Errorf("%w: scope must be one of %s, not %q", ErrInvalid, strings.Join(names, ", "), s)
}

// Budget mirrors a row of the budgets table. Exactly the field its scope
// names is set (Provider may also narrow a model budget).
type Budget struct {
	ID, TenantID, Name string
	Scope              Scope
	WorkspaceID        string // scope workspace
	TeamID             string // scope team
	ProjectID          string // scope project
	KeyID              string // scope key
	Provider           string // scope provider; optional for scope model
	Model              string // scope model (the model served, else requested)
	DimensionName      string // scope dimension
	DimensionValue     string
	Period             Period
	AmountNanoUSD      int64
	Thresholds         []int // percents of AmountNanoUSD
	Hard               bool
	// Rollover carries the unused amount of a period into the next one (one
	// period deep: what the next period does not use is not carried again).
	Rollover   bool
	WebhookURL string
	// AlertEmails receive the budget's alerts by email.
	AlertEmails []string
	// SpendBasis says whether provider-reported spend counts (basis.go).
	SpendBasis SpendBasis
	// BreachWebhookURL, when set on a hard budget, is called once per
	// period when the cap is reached (breach.go); the signing secret is
	// sealed in the store and never held here.
	BreachWebhookURL string
}

// Subject is what a spend or a reservation is of. WorkspaceID, TeamID and
// ProjectID are the call's place in the tenant's hierarchy (org.Attribute:
// from the key's project, else a dimension mapping), empty when it has
// none.
type Subject struct {
	TenantID                       string
	WorkspaceID, TeamID, ProjectID string
	KeyID                          string
	Provider, Model                string
	Dimensions                     map[string]string
}

// Matches reports whether spend of s counts against b: a spend counts
// toward every budget whose scope covers it.
func (b *Budget) Matches(s *Subject) bool {
	if b.TenantID != s.TenantID {
		return false
	}
	switch b.Scope {
	case ScopeTenant:
		return true
	case ScopeWorkspace:
		return s.WorkspaceID != "" && b.WorkspaceID == s.WorkspaceID
	case ScopeTeam:
		return s.TeamID != "" && b.TeamID == s.TeamID
	case ScopeProject:
		return s.ProjectID != "" && b.ProjectID == s.ProjectID
	case ScopeKey:
		return s.KeyID != "" && b.KeyID == s.KeyID
	case ScopeProvider:
		return b.Provider == s.Provider
	case ScopeModel:
		return b.Model == s.Model && (b.Provider == "" || b.Provider == s.Provider)
	case ScopeDimension:
		v, ok := s.Dimensions[b.DimensionName]
		return ok && v == b.DimensionValue
	}
	return false
}

// CoversEveryCall reports whether b applies to every call of a key placed at
// s (s without provider, model or dimensions): tenant, its workspace, team
// and project, and the key itself. Provider, model and dimension budgets
// depend on each request, so they never block a whole key.
func (b *Budget) CoversEveryCall(s *Subject) bool {
	switch b.Scope {
	case ScopeTenant, ScopeWorkspace, ScopeTeam, ScopeProject, ScopeKey:
		return b.Matches(s)
	}
	return false
}

// MaxAmountNanoUSD caps budgets at one billion dollars.
const MaxAmountNanoUSD = int64(1_000_000_000) * 1_000_000_000

// DefaultThresholds are the alert percents of a budget that names none.
var DefaultThresholds = []int{50, 80, 100}

// NormalizeThresholds checks alert percents (1..1000, no repeats, at most
// 10) and returns them sorted; none gives DefaultThresholds.
func NormalizeThresholds(ts []int) ([]int, error) {
	if len(ts) == 0 {
		return slices.Clone(DefaultThresholds), nil
	}
	if len(ts) > 10 {
		return nil, fmt.Errorf("%w: at most 10 thresholds", ErrInvalid)
	}
	out := slices.Clone(ts)
	slices.Sort(out)
	for i, t := range out {
		if t < 1 || t > 1000 {
			return nil, fmt.Errorf("%w: thresholds are percents from 1 to 1000, got %d", ErrInvalid, t)
		}
		if i > 0 && out[i-1] == t {
			return nil, fmt.Errorf("%w: threshold %d appears twice", ErrInvalid, t)
		}
	}
	return out, nil
}

// Validate checks b's rules and normalizes its thresholds: a known scope
// naming exactly its own target, a known period, an amount in (0, 1e9 USD]
// and valid thresholds. That the named workspace, team, project or key
// exists in the tenant, and that the dimension name and the webhook are
// acceptable, are the caller's checks (they need the database and the
// egress policy).
func (b *Budget) Validate() error {
	if _, err := ParseScope(string(b.Scope)); err != nil {
		return err
	}
	if _, err := ParsePeriod(string(b.Period)); err != nil {
		return err
	}
	if b.AmountNanoUSD <= 0 || b.AmountNanoUSD > MaxAmountNanoUSD {
		return fmt.Errorf("%w: amount must be positive and at most 1000000000 USD", ErrInvalid)
	}
	th, err := NormalizeThresholds(b.Thresholds)
	if err != nil {
		return err
	}
	b.Thresholds = th
	set := map[string]bool{"workspaceId": b.WorkspaceID != "", "teamId": b.TeamID != "", "projectId": b.ProjectID != "",
		"keyId": b.KeyID != "", "provider": b.Provider != "", "model": b.Model != "",
		"dimensionName": b.DimensionName != "", "dimensionValue": b.DimensionValue != ""}
	var need, may []string
	switch b.Scope {
	case ScopeWorkspace:
		need = []string{"workspaceId"}
	case ScopeTeam:
		need = []string{"teamId"}
	case ScopeProject:
		need = []string{"projectId"}
	case ScopeKey:
		need = []string{"keyId"}
	case ScopeProvider:
		need = []string{"provider"}
	case ScopeModel:
		need, may = []string{"model"}, []string{"provider"}
	case ScopeDimension:
		need = []string{"dimensionName", "dimensionValue"}
	}
	for _, f := range need {
		if !set[f] {
			return fmt.Errorf("%w: a %s budget needs %s", ErrInvalid, b.Scope, strings.Join(need, " and "))
		}
	}
	for _, f := range slices.Sorted(maps.Keys(set)) {
		if set[f] && !slices.Contains(need, f) && !slices.Contains(may, f) {
			return fmt.Errorf("%w: a %s budget takes no %s", ErrInvalid, b.Scope, f)
		}
	}
	if b.BreachWebhookURL != "" && !b.Hard {
		return fmt.Errorf("%w: a breach webhook is called when a hard cap is reached; make the budget hard or use the alert webhook", ErrInvalid)
	}
	return b.validateBasis()
}

// Cap is the most a budget may count in a period: its amount plus what a
// rollover budget carried in.
func Cap(amount, carried int64) int64 { return amount + carried }

// Carry is what a rollover budget carries into the next period: the part of
// the amount the period did not use (what it carried in itself is not
// carried again). Zero for a budget without rollover.
func Carry(b *Budget, spentInPrevious int64) int64 {
	if !b.Rollover || spentInPrevious >= b.AmountNanoUSD {
		return 0
	}
	return b.AmountNanoUSD - max(spentInPrevious, 0)
}

// Previous returns the start of the period before the one starting at
// start.
func Previous(p Period, start time.Time) (time.Time, error) {
	s, _, err := Bounds(p, start.Add(-time.Nanosecond))
	return s, err
}
