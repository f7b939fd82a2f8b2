// Package analytics answers spend questions for a tenant: totals, time
// series, breakdowns with top-N and "other", unknown models, denials, recent
// events with their cost explanation, and budget status with a forecast.
// Every call is authorized by the caller's membership in the tenant (any
// role may read), validated against limits that keep queries cheap, and
// answered from ClickHouse (rollups where they suffice, exact either way) and
// the budget counters in Postgres. The GraphQL resolvers and the CSV export
// call it; they hold no logic.
package analytics

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/org"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
)

// Limits keep one analytics request cheap; requests beyond them get an
// INVALID_ARGUMENT error that says which limit to respect.
type Limits struct {
	MaxRange   time.Duration // longest [from, to)
	MaxBuckets int           // most time-series buckets (range / bucket)
	MaxGroupBy int           // most group-bys at once
	MaxTop     int           // largest top-N of a breakdown
	MaxPage    int           // largest page of events
	Timeout    time.Duration // per ClickHouse query
	// MaxRawEvents bounds the raw events one query may read (listing events,
	// unknown models): beyond it the query is refused with the longest range
	// that fits, instead of running for seconds. Sums never need it: the
	// rollups answer them and raw events only the minutes at a range's ends.
	MaxRawEvents uint64
}

// DefaultLimits allow a little over a year of data, hourly series up to
// about three months, four group-bys, top 1000, pages of controlplane.MaxPage
// (250) events, and 20 million raw events per query (about a second on two
// cores).
func DefaultLimits() Limits {
	return Limits{MaxRange: 400 * 24 * time.Hour, MaxBuckets: 2_500, MaxGroupBy: 4, MaxTop: 1_000, MaxPage: controlplane.MaxPage, Timeout: 30 * time.Second,
		MaxRawEvents: 20_000_000}
}

// Service answers analytics for tenants.
type Service struct {
	cp      Tenants
	store   Store // nil: no ClickHouse (spend queries are not available)
	budgets Budgets
	limits  Limits
	// Now is the clock for budget periods and forecasts (tests set it).
	Now func() time.Time
}

// New builds the service. store may be nil (an API without ClickHouse):
// spend queries then answer that they are not available, while budget status
// and alert history (Postgres) still work.
func New(cp Tenants, store Store, budgets Budgets, limits Limits) *Service {
	return &Service{cp: cp, store: store, budgets: budgets, limits: limits, Now: time.Now}
}

// Sums answers sums of usage (store/clickhouse.Analytics is one), and says
// what source a query's sums are read from.
type Sums interface {
	TotalSpend(ctx context.Context, s spend.Spec) (spend.Sums, error)
	Breakdown(ctx context.Context, s spend.Spec, limit int) ([]spend.Group, spend.Sums, error)
	TimeSeries(ctx context.Context, s spend.Spec) ([]spend.Point, error)
	// SumsSource says what answers sums of s: rollup, raw or rollup+raw,
	// and the tables read.
	SumsSource(s spend.Spec) (source string, tables []string)
}

// Events answers queries that read stored events and denials.
type Events interface {
	Denials(ctx context.Context, s spend.Spec) ([]spend.DenialGroup, error)
	UnknownModels(ctx context.Context, s spend.Spec, limit int) ([]spend.UnknownModel, error)
	Events(ctx context.Context, s spend.Spec, after *spend.EventCursor, limit int) ([]spend.EventRow, error)
	Event(ctx context.Context, tenant, eventID string) (spend.EventRow, error)
}

// Tenants authorizes callers and names keys and budgets (the control
// plane).
type Tenants interface {
	Authorize(ctx context.Context, tenantID string, need controlplane.Role) (auth.Principal, error)
	// Access is what the caller may do in the tenant: a caller with scoped
	// roles only reads spend attributed to its subtrees.
	Access(ctx context.Context, tenantID string) (org.Access, error)
	KeyNames(ctx context.Context, tenantID string, ids []string) (map[string]string, error)
	NodeNames(ctx context.Context, tenantID string, ids []string) (map[string]string, error)
	Budget(ctx context.Context, tenantID, id string) (controlplane.Budget, error)
	Budgets(ctx context.Context, tenantID string, page controlplane.Page) (controlplane.Connection[controlplane.Budget], error)
}

// Budgets reads budget counters and alerts (budget/pgstore).
type Budgets interface {
	PeriodTotals(ctx context.Context, budgets []*budget.Budget, now time.Time) (map[string]budget.Status, error)
	Alerts(ctx context.Context, tenantID string, limit int) ([]budget.Alert, error)
	Breaches(ctx context.Context, tenantID string, limit int) ([]budget.BreachRecord, error)
}

// Store is all the service asks of storage.
type Store interface {
	Sums
	Events
}

// Query selects a tenant's events: [From, To), Filters, and for breakdowns
// and series the group-bys (key, provider, model, status, operation,
// service_tier, source or dim:<name>) and the bucket (hour, day, week, month;
// UTC).
type Query struct {
	TenantID string
	From, To time.Time
	Filters  spend.Filters
	GroupBy  []string
	Bucket   string
}

func invalid(format string, args ...any) error { return apierr.Invalid(format, args...) }

// storeErr turns the store's query errors into client errors: a query that
// cannot be answered as asked is INVALID_ARGUMENT, ClickHouse unreachable or
// too slow is UNAVAILABLE (retry later; the cause goes to the server log);
// the rest stay internal.
func storeErr(err error) error {
	switch {
	case errors.Is(err, spend.ErrBadQuery):
		return invalid("%s", strings.TrimPrefix(err.Error(), spend.ErrBadQuery.Error()+": "))
	case errors.Is(err, spend.ErrUnavailable):
		return &apierr.Error{Code: apierr.CodeUnavailable, Cause: err,
			Message: "spend analytics are unavailable right now: the analytics database did not answer; retry in a moment"}
	}
	return err
}

var bucketSize = map[string]time.Duration{"hour": time.Hour, "day": 24 * time.Hour, "week": 7 * 24 * time.Hour, "month": 28 * 24 * time.Hour}

// ErrNotAvailable answers spend queries on a server without ClickHouse.
var ErrNotAvailable = &apierr.Error{Code: apierr.CodeInternal, Message: "spend analytics are not available on this server (no ClickHouse)"}

// spec authorizes the caller and validates q against the limits.
func (s *Service) spec(ctx context.Context, q *Query) (spend.Spec, error) {
	a, err := s.cp.Access(ctx, q.TenantID)
	if err != nil {
		return spend.Spec{}, err
	}
	q.Filters.Within = within(a)
	if s.store == nil {
		return spend.Spec{}, ErrNotAvailable
	}
	switch {
	case q.From.IsZero() || q.To.IsZero():
		return spend.Spec{}, invalid("from and to are required")
	case !q.From.Before(q.To):
		return spend.Spec{}, invalid("from (%s) must be before to (%s)", q.From.UTC().Format(time.RFC3339), q.To.UTC().Format(time.RFC3339))
	case q.To.Sub(q.From) > s.limits.MaxRange:
		return spend.Spec{}, invalid("the time range is %s long; at most %d days are allowed", q.To.Sub(q.From).Round(time.Hour), int(s.limits.MaxRange.Hours()/24))
	case len(q.GroupBy) > s.limits.MaxGroupBy:
		return spend.Spec{}, invalid("%d group-bys; at most %d are allowed", len(q.GroupBy), s.limits.MaxGroupBy)
	}
	seen := map[string]bool{}
	for _, g := range q.GroupBy {
		if seen[g] {
			return spend.Spec{}, invalid("group-by %q is given twice", g)
		}
		seen[g] = true
	}
	if q.Bucket != "" {
		size, ok := bucketSize[q.Bucket]
		if !ok {
			return spend.Spec{}, invalid("bucket %q: use HOUR, DAY, WEEK or MONTH", q.Bucket)
		}
		if n := int(q.To.Sub(q.From) / size); n > s.limits.MaxBuckets {
			return spend.Spec{}, invalid("%d %s buckets; at most %d are allowed: use a larger bucket or a shorter range", n, q.Bucket, s.limits.MaxBuckets)
		}
	}
	return spend.Spec{Tenant: q.TenantID, From: q.From.UTC(), To: q.To.UTC(), Filters: q.Filters, GroupBy: q.GroupBy, Bucket: q.Bucket}, nil
}

func (s *Service) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.limits.Timeout)
}

// Summary sums the tenant's usage.
func (s *Service) Summary(ctx context.Context, q Query) (spend.Sums, error) {
	q.GroupBy, q.Bucket = nil, ""
	spec, err := s.spec(ctx, &q)
	if err != nil {
		return spend.Sums{}, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	sums, err := s.store.TotalSpend(ctx, spec)
	if err == nil {
		recordSums(ctx, s.store, spec)
	}
	return sums, storeErr(err)
}

// Group is one breakdown row or series group: Keys in group-by order and
// Labels to show (key names for key ids; the same as Keys otherwise).
// Labels may share storage with Keys and with other groups' Labels: both
// are read only.
type Group struct {
	Keys, Labels []string
	spend.Sums
}

// Breakdown is the top groups, the rest summed as Other, and the total.
type Breakdown struct {
	GroupBy []string
	Groups  []Group
	// Other sums every group after the top N (zero when there is none).
	Other       spend.Sums
	OtherGroups bool
	Total       spend.Sums
}

// Breakdown sums usage per group, keeping the top groups by tenant cost
// (top ≤ 0: all, within MaxTop) and summing the rest into Other. Other is
// the total minus the top groups, both from one read, so the rows add up.
func (s *Service) Breakdown(ctx context.Context, q Query, top int) (Breakdown, error) {
	q.Bucket = ""
	if len(q.GroupBy) == 0 {
		return Breakdown{}, invalid("a breakdown needs at least one group-by")
	}
	if top <= 0 || top > s.limits.MaxTop {
		if top > s.limits.MaxTop {
			return Breakdown{}, invalid("top %d: at most %d groups are returned", top, s.limits.MaxTop)
		}
		top = s.limits.MaxTop
	}
	spec, err := s.spec(ctx, &q)
	if err != nil {
		return Breakdown{}, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, total, err := s.store.Breakdown(ctx, spec, top)
	if err != nil {
		return Breakdown{}, storeErr(err)
	}
	recordSums(ctx, s.store, spec)
	out := Breakdown{GroupBy: q.GroupBy, Total: total, Other: total}
	for _, r := range rows {
		out.Groups = append(out.Groups, Group{Keys: r.Keys, Sums: r.Sums})
		out.Other.Sub(r.Sums)
	}
	out.OtherGroups = out.Other.Events > 0
	if err := s.label(ctx, q.TenantID, q.GroupBy, len(out.Groups), func(i int) *Group { return &out.Groups[i] }); err != nil {
		return Breakdown{}, err
	}
	return out, nil
}

// Point is one bucket of a time series, per group when grouped.
type Point struct {
	Start time.Time
	Group
}

// TimeSeries sums usage per bucket (and group).
func (s *Service) TimeSeries(ctx context.Context, q Query) ([]Point, error) {
	if q.Bucket == "" {
		return nil, invalid("a time series needs a bucket")
	}
	spec, err := s.spec(ctx, &q)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	pts, err := s.store.TimeSeries(ctx, spec)
	if err != nil {
		return nil, storeErr(err)
	}
	recordSums(ctx, s.store, spec)
	out := make([]Point, len(pts))
	for i, p := range pts {
		out[i] = Point{Start: p.Bucket, Group: Group{Keys: p.Keys, Sums: p.Sums}}
	}
	if err := s.label(ctx, q.TenantID, q.GroupBy, len(out), func(i int) *Group { return &out[i].Group }); err != nil {
		return nil, err
	}
	return out, nil
}

// within is the reach of a scoped caller's reads (nil: the whole tenant).
func within(a org.Access) *spend.Within {
	if !a.Scoped() {
		return nil
	}
	w := &spend.Within{TeamIDs: []string{}, ProjectIDs: []string{}}
	for _, n := range a.Readable() {
		if n.ProjectID != "" {
			w.ProjectIDs = append(w.ProjectIDs, n.ProjectID)
		} else {
			w.TeamIDs = append(w.TeamIDs, n.TeamID)
		}
	}
	return w
}

// label fills the Labels of n groups: key ids become key names, workspace,
// team and project ids their names. Groups with the same keys share one
// Labels slice (a series repeats its groups in every bucket: 17 K points of
// 8 teams over 90 days hourly), and without ids to name Labels is Keys
// itself; neither is ever modified.
func (s *Service) label(ctx context.Context, tenantID string, groupBy []string, n int, group func(i int) *Group) error {
	keyCol := -1
	var nodeCols []int
	for i, g := range groupBy {
		switch g {
		case "key":
			keyCol = i
		case "workspace", "team", "project":
			nodeCols = append(nodeCols, i)
		}
	}
	if keyCol < 0 && len(nodeCols) == 0 {
		for i := range n {
			g := group(i)
			g.Labels = g.Keys
		}
		return nil
	}
	// Each id once.
	var keyIDs, nodeIDs []string
	seenKey, seenNode := map[string]bool{}, map[string]bool{}
	for i := range n {
		keys := group(i).Keys
		if keyCol >= 0 && !seenKey[keys[keyCol]] {
			seenKey[keys[keyCol]] = true
			keyIDs = append(keyIDs, keys[keyCol])
		}
		for _, c := range nodeCols {
			if id := keys[c]; !seenNode[id] {
				seenNode[id] = true
				nodeIDs = append(nodeIDs, id)
			}
		}
	}
	var nodeNames, names map[string]string
	var err error
	if len(nodeCols) > 0 {
		if nodeNames, err = s.cp.NodeNames(ctx, tenantID, nodeIDs); err != nil {
			return err
		}
	}
	if keyCol >= 0 {
		if names, err = s.cp.KeyNames(ctx, tenantID, keyIDs); err != nil {
			return err
		}
	}
	labelled := map[string][]string{}
	for i := range n {
		g := group(i)
		tuple := g.Keys[0]
		if len(g.Keys) > 1 {
			tuple = strings.Join(g.Keys, "\x00")
		}
		if l, ok := labelled[tuple]; ok {
			g.Labels = l
			continue
		}
		g.Labels = append([]string(nil), g.Keys...)
		if keyCol >= 0 {
			if n, ok := names[g.Keys[keyCol]]; ok {
				g.Labels[keyCol] = n
			}
		}
		for _, c := range nodeCols {
			if n, ok := nodeNames[g.Keys[c]]; ok {
				g.Labels[c] = n
			}
		}
		labelled[tuple] = g.Labels
	}
	return nil
}

// DenialGroup counts denials of one group.
type DenialGroup struct {
	Keys, Labels []string
	Requests     uint64
}

// Denials counts denials per group (default: reason; also key, provider,
// model, operation, source).
func (s *Service) Denials(ctx context.Context, q Query) ([]DenialGroup, error) {
	q.Bucket = ""
	spec, err := s.spec(ctx, &q)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, err := s.store.Denials(ctx, spec)
	if err != nil {
		return nil, storeErr(err)
	}
	groupBy := q.GroupBy
	if len(groupBy) == 0 {
		groupBy = []string{"reason"}
	}
	groups := make([]Group, len(rows))
	for i, r := range rows {
		groups[i] = Group{Keys: r.Keys}
	}
	if err := s.label(ctx, q.TenantID, groupBy, len(groups), func(i int) *Group { return &groups[i] }); err != nil {
		return nil, err
	}
	out := make([]DenialGroup, len(rows))
	for i, r := range rows {
		out[i] = DenialGroup{Keys: r.Keys, Labels: groups[i].Labels, Requests: r.Events}
	}
	return out, nil
}

// UnknownModels lists models used without a known price, most used first
// (at most 200): what an admin prices before re-pricing.
func (s *Service) UnknownModels(ctx context.Context, q Query) ([]spend.UnknownModel, error) {
	q.GroupBy, q.Bucket = nil, ""
	spec, err := s.spec(ctx, &q)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if err := s.rawBudget(ctx, spec); err != nil {
		return nil, err
	}
	out, err := s.store.UnknownModels(ctx, spec, 200)
	if err == nil {
		record(ctx, "raw", []string{"usage_events"})
	}
	return out, storeErr(err)
}

// Event is one stored usage event with its cost explanation.
type Event struct {
	spend.EventRow
	KeyName string
	Lines   []pricing.Line
}

// EventPage is one page of events, newest first.
type EventPage struct {
	Events      []Event
	Cursors     []string
	HasNextPage bool
}

func encodeCursor(e *spend.EventRow) string {
	return base64.RawURLEncoding.EncodeToString([]byte(e.Time.UTC().Format(time.RFC3339) + "|" + e.EventID))
}

func decodeCursor(c string) (*spend.EventCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, invalid("after: not a cursor from this list")
	}
	ts, id, ok := strings.Cut(string(b), "|")
	t, terr := time.Parse(time.RFC3339, ts)
	if !ok || terr != nil || id == "" {
		return nil, invalid("after: not a cursor from this list")
	}
	return &spend.EventCursor{Time: t, EventID: id}, nil
}

// Events lists usage events newest first, first at a time (default 50).
func (s *Service) Events(ctx context.Context, q Query, first int, after string) (EventPage, error) {
	q.GroupBy, q.Bucket = nil, ""
	switch {
	case first == 0:
		first = 50
	case first < 0 || first > s.limits.MaxPage:
		return EventPage{}, invalid("first must be between 1 and %d", s.limits.MaxPage)
	}
	spec, err := s.spec(ctx, &q)
	if err != nil {
		return EventPage{}, err
	}
	var cur *spend.EventCursor
	if after != "" {
		if cur, err = decodeCursor(after); err != nil {
			return EventPage{}, err
		}
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if err := s.rawBudget(ctx, spec); err != nil {
		return EventPage{}, err
	}
	rows, err := s.store.Events(ctx, spec, cur, first+1)
	if err != nil {
		return EventPage{}, storeErr(err)
	}
	record(ctx, "raw", []string{"usage_events"})
	page := EventPage{HasNextPage: len(rows) > first}
	if page.HasNextPage {
		rows = rows[:first]
	}
	ids := make([]string, 0, len(rows))
	for i := range rows {
		ids = append(ids, rows[i].KeyID)
	}
	names, err := s.cp.KeyNames(ctx, q.TenantID, ids)
	if err != nil {
		return EventPage{}, err
	}
	for i := range rows {
		e, err := explain(rows[i], names)
		if err != nil {
			return EventPage{}, err
		}
		page.Events = append(page.Events, e)
		page.Cursors = append(page.Cursors, encodeCursor(&rows[i]))
	}
	return page, nil
}

// rawBudget refuses a query that reads spec's range of raw events when the
// range holds more than MaxRawEvents of the tenant's events (counted from
// the rollups, in milliseconds): every one of them is read, whatever the
// filters, because only the tenant and the time are in the sort key. The
// error names the longest range that fits, ending where spec ends.
func (s *Service) rawBudget(ctx context.Context, spec spend.Spec) error {
	if s.limits.MaxRawEvents == 0 {
		return nil
	}
	all := spend.Spec{Tenant: spec.Tenant, From: spec.From, To: spec.To}
	sums, err := s.store.TotalSpend(ctx, all)
	if err != nil {
		return storeErr(err)
	}
	return RawBudget(spec.From, spec.To, sums.Events, s.limits.MaxRawEvents)
}

// RawBudget is the rule of rawBudget: nil when events ≤ budget, else an
// INVALID_ARGUMENT error naming a narrower range (whole hours, at least one).
func RawBudget(from, to time.Time, events, budget uint64) error {
	if events <= budget {
		return nil
	}
	span := to.Sub(from)
	fit := time.Duration(float64(span) * float64(budget) / float64(events)).Truncate(time.Hour)
	fit = max(fit, time.Hour)
	return invalid("this query reads raw events, and %s to %s holds %d of them, more than the %d one query may read: "+
		"choose a range of at most %s, e.g. from %s to %s", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), events, budget,
		humanSpan(fit), to.Add(-fit).UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
}

func humanSpan(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	if d == time.Hour {
		return "1 hour"
	}
	return fmt.Sprintf("%d hours", int(d.Hours()))
}

// Event finds one usage event of the tenant by id.
func (s *Service) Event(ctx context.Context, tenantID, eventID string) (Event, error) {
	a, err := s.cp.Access(ctx, tenantID)
	if err != nil {
		return Event{}, err
	}
	if eventID == "" || len(eventID) > 100 {
		return Event{}, invalid("id must be an event id")
	}
	if s.store == nil {
		return Event{}, ErrNotAvailable
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	row, err := s.store.Event(ctx, tenantID, eventID)
	if errors.Is(err, spend.ErrEventNotFound) || (err == nil && !a.Can(org.Read, org.Path{WorkspaceID: row.WorkspaceID, TeamID: row.TeamID, ProjectID: row.ProjectID})) {
		return Event{}, &apierr.Error{Code: apierr.CodeNotFound, Message: "event not found"}
	}
	if err != nil {
		return Event{}, storeErr(err)
	}
	names, err := s.cp.KeyNames(ctx, tenantID, []string{row.KeyID})
	if err != nil {
		return Event{}, err
	}
	return explain(row, names)
}

func explain(row spend.EventRow, keyNames map[string]string) (Event, error) {
	e := Event{EventRow: row, KeyName: keyNames[row.KeyID]}
	if row.CostLines != "" && row.CostLines != "null" {
		if err := json.Unmarshal([]byte(row.CostLines), &e.Lines); err != nil {
			return Event{}, fmt.Errorf("analytics: event %s: cost lines: %w", row.EventID, err)
		}
	}
	return e, nil
}

// BudgetStatus is a budget and where it stands in its current period.
type BudgetStatus struct {
	Budget controlplane.Budget
	budget.Status
	// Blocked is true when a hard budget's counted spend (metered, or the
	// larger of metered and provider-reported) reached its amount: the
	// keys it covers are refused until the period ends or it is raised.
	Blocked bool
	// Projection is the weekday-aware forecast at period end with its band
	// and exceed date (forecast.go); ForecastNanoUSD is its expected value.
	Projection budget.Projection
}

// BudgetStatuses reports every budget of the tenant (or only budgetID when
// set) in its current period, ordered by name.
func (s *Service) BudgetStatuses(ctx context.Context, tenantID, budgetID string) ([]BudgetStatus, error) {
	var list []controlplane.Budget
	if budgetID != "" {
		b, err := s.cp.Budget(ctx, tenantID, budgetID)
		if err != nil {
			return nil, err
		}
		list = []controlplane.Budget{b}
	} else {
		after := ""
		for {
			conn, err := s.cp.Budgets(ctx, tenantID, controlplane.Page{First: controlplane.MaxPage, After: after})
			if err != nil {
				return nil, err
			}
			list = append(list, conn.Items...)
			if !conn.HasNextPage || len(conn.Cursors) == 0 {
				break
			}
			after = conn.Cursors[len(conn.Cursors)-1]
		}
	}
	bs := make([]*budget.Budget, len(list))
	for i, b := range list {
		bs[i] = &budget.Budget{ID: b.ID, TenantID: b.TenantID, Name: b.Name, Period: budget.Period(b.Period), AmountNanoUSD: b.AmountNanoUSD, Hard: b.Hard,
			SpendBasis: budget.SpendBasis(b.SpendBasis)}
	}
	totals, err := s.budgets.PeriodTotals(ctx, bs, s.Now())
	if err != nil {
		return nil, err
	}
	out := make([]BudgetStatus, len(list))
	now := s.Now()
	for i, b := range list {
		st := totals[b.ID]
		p := s.project(ctx, &list[i], &st, now)
		st.ForecastNanoUSD = p.ExpectedNanoUSD
		out[i] = BudgetStatus{Budget: b, Status: st, Blocked: bs[i].Breached(st.AmountNanoUSD, st.SpentNanoUSD), Projection: p}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Budget.Name < out[j].Budget.Name })
	return out, nil
}

// BreachHistory lists the tenant's hard-cap breaches with their webhook
// delivery, newest first (at most controlplane.MaxPage; admins: it is the
// delivery log of an external revocation workflow).
func (s *Service) BreachHistory(ctx context.Context, tenantID string, limit int) ([]budget.BreachRecord, error) {
	if _, err := s.cp.Authorize(ctx, tenantID, controlplane.RoleAdmin); err != nil {
		return nil, err
	}
	limit, err := historyPage(limit)
	if err != nil {
		return nil, err
	}
	return s.budgets.Breaches(ctx, tenantID, limit)
}

// AlertHistory lists the tenant's budget alerts, newest first (at most controlplane.MaxPage).
func (s *Service) AlertHistory(ctx context.Context, tenantID string, limit int) ([]budget.Alert, error) {
	if _, err := s.cp.Authorize(ctx, tenantID, controlplane.RoleViewer); err != nil {
		return nil, err
	}
	limit, err := historyPage(limit)
	if err != nil {
		return nil, err
	}
	return s.budgets.Alerts(ctx, tenantID, limit)
}

// historyPage is the page size of an alert or breach history: 50 when not
// given, else 1 to controlplane.MaxPage.
func historyPage(limit int) (int, error) {
	switch {
	case limit == 0:
		return 50, nil
	case limit < 0 || limit > controlplane.MaxPage:
		return 0, invalid("first must be between 1 and %d", controlplane.MaxPage)
	}
	return limit, nil
}
