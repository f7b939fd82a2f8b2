package budget

import (
	"errors"
	"testing"
)

func TestMatchesEveryScope(t *testing.T) {
	t.Parallel()
	s := &Subject{TenantID: "t", WorkspaceID: "w", TeamID: "tm", ProjectID: "p", KeyID: "k", Provider: "openai", Model: "gpt-4o",
		Dimensions: map[string]string{"team": "ml"}}
	unplaced := &Subject{TenantID: "t", KeyID: "k2", Provider: "anthropic", Model: "claude-sonnet-4"}
	for name, c := range map[string]struct {
		b             Budget
		placed, other bool
	}{
		"tenant":                           {Budget{Scope: ScopeTenant}, true, true},
		"workspace":                        {Budget{Scope: ScopeWorkspace, WorkspaceID: "w"}, true, false},
		"other workspace":                  {Budget{Scope: ScopeWorkspace, WorkspaceID: "w2"}, false, false},
		"team":                             {Budget{Scope: ScopeTeam, TeamID: "tm"}, true, false},
		"project":                          {Budget{Scope: ScopeProject, ProjectID: "p"}, true, false},
		"sibling project":                  {Budget{Scope: ScopeProject, ProjectID: "p2"}, false, false},
		"key":                              {Budget{Scope: ScopeKey, KeyID: "k"}, true, false},
		"provider":                         {Budget{Scope: ScopeProvider, Provider: "anthropic"}, false, true},
		"model":                            {Budget{Scope: ScopeModel, Model: "gpt-4o"}, true, false},
		"model at one provider":            {Budget{Scope: ScopeModel, Model: "gpt-4o", Provider: "openai"}, true, false},
		"model at another":                 {Budget{Scope: ScopeModel, Model: "gpt-4o", Provider: "openrouter"}, false, false},
		"dimension":                        {Budget{Scope: ScopeDimension, DimensionName: "team", DimensionValue: "ml"}, true, false},
		"an unknown scope matches nothing": {Budget{Scope: "galaxy"}, false, false},
	} {
		c.b.TenantID = "t"
		if got := c.b.Matches(s); got != c.placed {
			t.Errorf("%s, placed call: %v", name, got)
		}
		if got := c.b.Matches(unplaced); got != c.other {
			t.Errorf("%s, unplaced call: %v", name, got)
		}
		c.b.TenantID = "other"
		if c.b.Matches(s) {
			t.Errorf("%s: another tenant's budget matched", name)
		}
	}
	key := &Subject{TenantID: "t", WorkspaceID: "w", TeamID: "tm", ProjectID: "p", KeyID: "k"}
	for _, b := range []Budget{{TenantID: "t", Scope: ScopeTeam, TeamID: "tm"}, {TenantID: "t", Scope: ScopeKey, KeyID: "k"}} {
		if !b.CoversEveryCall(key) {
			t.Errorf("%s budget must cover every call of the key", b.Scope)
		}
	}
	if (&Budget{TenantID: "t", Scope: ScopeModel, Model: ""}).CoversEveryCall(key) {
		t.Error("a model budget never covers every call of a key")
	}
}

func TestBudgetValidate(t *testing.T) {
	t.Parallel()
	ok := func(b Budget) Budget { b.Period, b.AmountNanoUSD = Month, 1_000_000_000; return b }
	for _, b := range []Budget{
		ok(Budget{Scope: ScopeTenant}),
		ok(Budget{Scope: ScopeWorkspace, WorkspaceID: "w"}),
		ok(Budget{Scope: ScopeTeam, TeamID: "t"}),
		ok(Budget{Scope: ScopeProject, ProjectID: "p"}),
		ok(Budget{Scope: ScopeKey, KeyID: "k"}),
		ok(Budget{Scope: ScopeProvider, Provider: "openai"}),
		ok(Budget{Scope: ScopeModel, Model: "gpt-4o"}),
		ok(Budget{Scope: ScopeModel, Model: "gpt-4o", Provider: "openai"}),
		ok(Budget{Scope: ScopeDimension, DimensionName: "team", DimensionValue: "ml"}),
	} {
		if err := b.Validate(); err != nil {
			t.Errorf("%+v: %v", b, err)
		}
	}
	for name, b := range map[string]Budget{
		"unknown scope":            ok(Budget{Scope: "org"}),
		"tenant with a key":        ok(Budget{Scope: ScopeTenant, KeyID: "k"}),
		"team without team":        ok(Budget{Scope: ScopeTeam}),
		"team with a project":      ok(Budget{Scope: ScopeTeam, TeamID: "t", ProjectID: "p"}),
		"provider with a model":    ok(Budget{Scope: ScopeProvider, Provider: "openai", Model: "gpt-4o"}),
		"dimension without value":  ok(Budget{Scope: ScopeDimension, DimensionName: "team"}),
		"unknown period":           {Scope: ScopeTenant, Period: "fortnight", AmountNanoUSD: 1},
		"zero amount":              {Scope: ScopeTenant, Period: Day},
		"amount above the maximum": {Scope: ScopeTenant, Period: Day, AmountNanoUSD: MaxAmountNanoUSD + 1},
		"bad thresholds":           {Scope: ScopeTenant, Period: Day, AmountNanoUSD: 1, Thresholds: []int{0}},
	} {
		if err := b.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCarry(t *testing.T) {
	t.Parallel()
	b := &Budget{AmountNanoUSD: 100, Rollover: true}
	for spent, want := range map[int64]int64{0: 100, 30: 70, 100: 0, 150: 0} {
		if got := Carry(b, spent); got != want {
			t.Errorf("Carry(spent %d) = %d, want %d", spent, got, want)
		}
	}
	if Carry(&Budget{AmountNanoUSD: 100}, 0) != 0 {
		t.Error("a budget without rollover carries nothing")
	}
	prev, err := Previous(Quarter, ts("2026-04-01T00:00:00Z"))
	if err != nil || !prev.Equal(ts("2026-01-01T00:00:00Z")) {
		t.Errorf("Previous(quarter) = %s, %v", prev, err)
	}
	if prev, _ := Previous(Week, ts("2026-11-23T00:00:00Z")); !prev.Equal(ts("2026-11-16T00:00:00Z")) {
		t.Errorf("Previous(week) = %s", prev)
	}
}
