package clickhouse

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/spend"
)

// The billing query reads raw events and corrections of the same tenant and
// range, grouping as asked; identifiers never come from arguments.
func TestBillingUsageSQL(t *testing.T) {
	from, to := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	const tenant = "11111111-1111-4111-8111-111111111111"
	cases := map[string]struct {
		groupBy         string
		event, correct  string
		wantErrContains string
	}{
		"no group":                   {groupBy: "", event: "'' AS b_group", correct: "'' AS b_group"},
		"team":                       {groupBy: "team", event: "dim_values[indexOf(dim_names, 'sg.team')] AS b_group", correct: "dim_values[indexOf(dim_names, 'sg.team')] AS b_group"},
		"dimension":                  {groupBy: "dim:env", event: "dim_values[indexOf(dim_names, 'env')] AS b_group", correct: "dim_values[indexOf(dim_names, 'env')] AS b_group"},
		"key is not a billing group": {groupBy: "key", wantErrContains: "billing groups by team"},
		"injection in a dimension":   {groupBy: "dim:x') OR 1=1 --", wantErrContains: "cannot group"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			q, err := BillingUsageSQL("db", tenant, from, to, c.groupBy)
			if c.wantErrContains != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErrContains) || !errors.Is(err, spend.ErrBadQuery) {
					t.Fatalf("err %v, want a bad query mentioning %q", err, c.wantErrContains)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			legs := strings.Split(q.SQL, "UNION ALL")
			if len(legs) != 2 || !strings.Contains(legs[0], "FROM db.usage_events WHERE tenant_id = ? AND time >= ? AND time < ?") ||
				!strings.Contains(legs[1], "FROM db.cost_corrections WHERE tenant_id = ? AND time >= ? AND time < ?") {
				t.Fatalf("legs:\n%s", q.SQL)
			}
			if !strings.Contains(legs[0], c.event) || !strings.Contains(legs[1], c.correct) {
				t.Fatalf("group expressions missing:\n%s", q.SQL)
			}
			for _, class := range billingClasses {
				if !strings.Contains(legs[0], "sum("+class+") AS q_"+class) || !strings.Contains(legs[1], "toInt64(0) AS q_"+class) {
					t.Errorf("class %s is not summed from events (and zero in corrections)", class)
				}
			}
			if want := []any{tenant, from, to, tenant, from, to}; !reflect.DeepEqual(q.Args, want) {
				t.Fatalf("args %v, want %v", q.Args, want)
			}
		})
	}
	if _, err := BillingUsageSQL("db", "", from, to, ""); err == nil {
		t.Error("no tenant accepted")
	}
	if _, err := BillingUsageSQL("db", tenant, to, from, ""); err == nil {
		t.Error("empty range accepted")
	}
}
