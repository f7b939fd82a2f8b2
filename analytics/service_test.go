package analytics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/apierr"

	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/org"
	"github.com/spendgate/spendgate/spend"
)

// Unit tests of the service's own rules, with storage and the control
// plane faked: authorization first, limits, the raw-events budget, labels,
// "other", and the sources recorded for the API's extensions.

type fakeTenants struct{ member string }

func (f fakeTenants) Authorize(_ context.Context, tenantID string, _ controlplane.Role) (auth.Principal, error) {
	if tenantID != f.member {
		return auth.Principal{}, &apierr.Error{Code: apierr.CodeForbidden, Message: "not a member"}
	}
	return auth.Principal{UserID: "u"}, nil
}

func (f fakeTenants) Access(ctx context.Context, tenantID string) (org.Access, error) {
	_, err := f.Authorize(ctx, tenantID, controlplane.RoleViewer)
	return org.Access{Role: org.RoleViewer}, err
}

func (fakeTenants) NodeNames(context.Context, string, []string) (map[string]string, error) {
	return map[string]string{}, nil
}

func (fakeTenants) KeyNames(_ context.Context, _ string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, id := range ids {
		out[id] = "name of " + id
	}
	return out, nil
}

func (fakeTenants) Budget(context.Context, string, string) (controlplane.Budget, error) {
	return controlplane.Budget{}, errors.New("not used")
}

func (fakeTenants) Budgets(context.Context, string, controlplane.Page) (controlplane.Connection[controlplane.Budget], error) {
	return controlplane.Connection[controlplane.Budget]{}, nil
}

type fakeBudgets struct{}

func (fakeBudgets) PeriodTotals(context.Context, []*budget.Budget, time.Time) (map[string]budget.Status, error) {
	return nil, nil
}
func (fakeBudgets) Alerts(context.Context, string, int) ([]budget.Alert, error) { return nil, nil }
func (fakeBudgets) Breaches(context.Context, string, int) ([]budget.BreachRecord, error) {
	return nil, nil
}

type fakeStore struct {
	events uint64 // the tenant's events in any range
	calls  []string
	groups []spend.Group
	points []spend.Point
}

func (f *fakeStore) TotalSpend(_ context.Context, s spend.Spec) (spend.Sums, error) {
	f.calls = append(f.calls, "total")
	return spend.Sums{Events: f.events}, nil
}

func (f *fakeStore) Breakdown(_ context.Context, s spend.Spec, limit int) ([]spend.Group, spend.Sums, error) {
	f.calls = append(f.calls, fmt.Sprintf("breakdown top %d", limit))
	return f.groups, spend.Sums{Events: 10, TenantNanoUSD: 100}, nil
}

func (f *fakeStore) TimeSeries(context.Context, spend.Spec) ([]spend.Point, error) {
	return f.points, nil
}

func (f *fakeStore) SumsSource(s spend.Spec) (string, []string) {
	return "rollup", []string{"rollup_of_" + strings.Join(s.GroupBy, "_")}
}

func (f *fakeStore) Denials(context.Context, spend.Spec) ([]spend.DenialGroup, error) {
	return nil, nil
}

func (f *fakeStore) UnknownModels(context.Context, spend.Spec, int) ([]spend.UnknownModel, error) {
	f.calls = append(f.calls, "unknown models")
	return nil, nil
}

func (f *fakeStore) Events(context.Context, spend.Spec, *spend.EventCursor, int) ([]spend.EventRow, error) {
	f.calls = append(f.calls, "events")
	return nil, nil
}

func (f *fakeStore) Event(context.Context, string, string) (spend.EventRow, error) {
	return spend.EventRow{}, spend.ErrEventNotFound
}

var (
	day0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	day9 = day0.Add(90 * 24 * time.Hour)
)

func service(st *fakeStore) *Service {
	limits := DefaultLimits()
	limits.MaxRawEvents = 1_000
	return New(fakeTenants{member: "t1"}, st, fakeBudgets{}, limits)
}

func code(err error) string {
	var cpErr *apierr.Error
	if errors.As(err, &cpErr) {
		return cpErr.Code
	}
	return fmt.Sprint(err)
}

func TestServiceRefusesBeforeReadingStorage(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		call func(s *Service) error
		want string
	}{
		"another tenant": {func(s *Service) error {
			_, err := s.Summary(context.Background(), Query{TenantID: "t2", From: day0, To: day9})
			return err
		}, apierr.CodeForbidden},
		"range too long": {func(s *Service) error {
			_, err := s.Summary(context.Background(), Query{TenantID: "t1", From: day0, To: day0.Add(401 * 24 * time.Hour)})
			return err
		}, "at most 400 days"},
		"too many group-bys": {func(s *Service) error {
			_, err := s.Breakdown(context.Background(), Query{TenantID: "t1", From: day0, To: day9, GroupBy: []string{"a", "b", "c", "d", "e"}}, 5)
			return err
		}, "at most 4"},
		"too many hourly buckets": {func(s *Service) error {
			_, err := s.TimeSeries(context.Background(), Query{TenantID: "t1", From: day0, To: day0.Add(200 * 24 * time.Hour), Bucket: "hour"})
			return err
		}, "use a larger bucket"},
		"group-by twice": {func(s *Service) error {
			_, err := s.Breakdown(context.Background(), Query{TenantID: "t1", From: day0, To: day9, GroupBy: []string{"key", "key"}}, 5)
			return err
		}, "given twice"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			st := &fakeStore{}
			err := c.call(service(st))
			if err == nil || (!strings.Contains(err.Error(), c.want) && code(err) != c.want) {
				t.Fatalf("error %v, want %s", err, c.want)
			}
			if len(st.calls) > 0 {
				t.Fatalf("storage read anyway: %v", st.calls)
			}
		})
	}
}

// Raw-event queries are counted first and refused past the budget; within
// it they run and say they read raw events.
func TestRawBudgetGuardsEventListingAndUnknownModels(t *testing.T) {
	t.Parallel()
	st := &fakeStore{events: 5_000}
	s := service(st)
	_, err := s.Events(context.Background(), Query{TenantID: "t1", From: day0, To: day9}, 10, "")
	if code(err) != apierr.CodeInvalidArgument || !strings.Contains(err.Error(), "choose a range of at most 18 days") {
		t.Fatalf("events over budget: %v", err)
	}
	_, err = s.UnknownModels(context.Background(), Query{TenantID: "t1", From: day0, To: day9})
	if code(err) != apierr.CodeInvalidArgument {
		t.Fatalf("unknown models over budget: %v", err)
	}
	if fmt.Sprint(st.calls) != "[total total]" {
		t.Fatalf("calls %v: refused queries must not run", st.calls)
	}
	st.events, st.calls = 1_000, nil
	ctx, sources := WithSources(WithField(context.Background(), "recent"))
	if _, err := s.Events(ctx, Query{TenantID: "t1", From: day0, To: day9}, 10, ""); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(st.calls) != "[total events]" || fmt.Sprint(sources.List()) != "[{recent raw [usage_events]}]" {
		t.Fatalf("calls %v, sources %v", st.calls, sources.List())
	}
}

// A breakdown labels key groups with key names, sums the rest into Other,
// and records its source under the field's name.
func TestBreakdownLabelsOtherAndSource(t *testing.T) {
	t.Parallel()
	st := &fakeStore{groups: []spend.Group{{Keys: []string{"k1"}, Sums: spend.Sums{Events: 6, TenantNanoUSD: 70}}}}
	ctx, sources := WithSources(context.Background())
	ctx = WithField(ctx, "byKey")
	b, err := service(st).Breakdown(ctx, Query{TenantID: "t1", From: day0, To: day9, GroupBy: []string{"key"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if b.Groups[0].Labels[0] != "name of k1" || b.Other.Events != 4 || b.Other.TenantNanoUSD != 30 || !b.OtherGroups {
		t.Fatalf("breakdown %+v", b)
	}
	if fmt.Sprint(sources.List()) != "[{byKey rollup [rollup_of_key]}]" || fmt.Sprint(st.calls) != "[breakdown top 1]" {
		t.Fatalf("sources %v, calls %v", sources.List(), st.calls)
	}
}

// A series labels each group once, however many buckets repeat it: key
// ids named, other values as they are, one Labels slice per group.
func TestSeriesLabelsEachGroupOnce(t *testing.T) {
	t.Parallel()
	tuples := [][]string{{"k1", "m1"}, {"k2", "m1"}, {"k1", "m2"}}
	var pts []spend.Point
	for b := range 3 {
		for i, keys := range tuples {
			pts = append(pts, spend.Point{Bucket: day0.Add(time.Duration(b) * time.Hour), Keys: append([]string(nil), keys...),
				Sums: spend.Sums{Events: uint64(10*b + i)}})
		}
	}
	s := service(&fakeStore{points: pts})
	out, err := s.TimeSeries(context.Background(), Query{TenantID: "t1", From: day0, To: day0.Add(3 * time.Hour), Bucket: "hour",
		GroupBy: []string{"key", "model"}})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"name of k1", "m1"}, {"name of k2", "m1"}, {"name of k1", "m2"}}
	for i, p := range out {
		if fmt.Sprint(p.Labels) != fmt.Sprint(want[i%3]) || fmt.Sprint(p.Keys) != fmt.Sprint(tuples[i%3]) || p.Events != uint64(10*(i/3)+i%3) ||
			!p.Start.Equal(day0.Add(time.Duration(i/3)*time.Hour)) {
			t.Fatalf("point %d: %+v", i, p)
		}
		if &p.Labels[0] != &out[i%3].Labels[0] {
			t.Fatalf("point %d has labels of its own, not its group's", i)
		}
	}

	out, err = s.TimeSeries(context.Background(), Query{TenantID: "t1", From: day0, To: day0.Add(3 * time.Hour), Bucket: "hour",
		GroupBy: []string{"dim:team", "model"}})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(out[1].Labels) != "[k2 m1]" || &out[1].Labels[0] != &out[1].Keys[0] {
		t.Fatalf("without ids to name, labels are the keys: %+v", out[1])
	}
}
