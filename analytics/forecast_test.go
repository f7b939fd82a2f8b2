package analytics

import (
	"reflect"
	"testing"

	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/spend"
)

// A budget's forecast history is the spend its scope counts.
func TestBudgetFilters(t *testing.T) {
	s := func(v string) *string { return &v }
	cases := map[string]struct {
		b    controlplane.Budget
		want spend.Filters
	}{
		"tenant: everything":         {controlplane.Budget{Scope: "tenant"}, spend.Filters{}},
		"workspace":                  {controlplane.Budget{Scope: "workspace", WorkspaceID: s("w")}, spend.Filters{WorkspaceIDs: []string{"w"}}},
		"team":                       {controlplane.Budget{Scope: "team", TeamID: s("tm")}, spend.Filters{TeamIDs: []string{"tm"}}},
		"project":                    {controlplane.Budget{Scope: "project", ProjectID: s("p")}, spend.Filters{ProjectIDs: []string{"p"}}},
		"key":                        {controlplane.Budget{Scope: "key", KeyID: s("k")}, spend.Filters{KeyIDs: []string{"k"}}},
		"provider":                   {controlplane.Budget{Scope: "provider", Provider: s("openai")}, spend.Filters{Providers: []string{"openai"}}},
		"model at any provider":      {controlplane.Budget{Scope: "model", Model: s("gpt-4o")}, spend.Filters{Models: []string{"gpt-4o"}}},
		"model at one provider":      {controlplane.Budget{Scope: "model", Model: s("gpt-4o"), Provider: s("azure_openai")}, spend.Filters{Models: []string{"gpt-4o"}, Providers: []string{"azure_openai"}}},
		"dimension":                  {controlplane.Budget{Scope: "dimension", DimensionName: s("team"), DimensionVal: s("search")}, spend.Filters{Dimensions: map[string][]string{"team": {"search"}}}},
		"a key budget keeps its key": {controlplane.Budget{Scope: "key", KeyID: s("k"), Provider: s("ignored")}, spend.Filters{KeyIDs: []string{"k"}}},
	}
	for name, c := range cases {
		if got := budgetFilters(&c.b); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", name, got, c.want)
		}
	}
}
