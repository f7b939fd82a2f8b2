// Package spend holds the domain types of spend metering and analytics:
// a priced event as stored, a cost correction, what an analytics query asks
// (Spec, Filters) and what it answers (Sums, Group, Point, EventRow …), and
// the rules on names callers may group and filter by. Storage adapters
// (store/clickhouse) import it; it knows no SQL.
package spend

import (
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/pricing"
)

var dimName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// ValidDimensionName reports whether name can be grouped or filtered by:
// letters, digits, _ . - (at most 64), and not starting with "sg." (names
// storage may reserve for itself, such as the hierarchy attribution).
// Storage puts such names into SQL text, so this is the only gate.
func ValidDimensionName(name string) bool {
	return dimName.MatchString(name) && !strings.HasPrefix(name, "sg.")
}

// GroupByNames lists the group-by names usage analytics accept besides
// dim:<name>, sorted.
func GroupByNames() []string {
	return []string{"key", "model", "operation", "project", "provider", "service_tier", "source", "status", "team", "workspace"}
}

// Filters narrow analytics queries; empty fields do not filter. Values are
// bound as arguments.
type Filters struct {
	KeyIDs     []string
	Providers  []string
	Models     []string // matches model served, else requested
	Operations []string
	Sources    []string
	Statuses   []string // HTTP status codes as text, e.g. "429"
	// Dimensions keeps events whose dimension name has one of the values.
	Dimensions map[string][]string
	// WorkspaceIDs, TeamIDs and ProjectIDs keep events attributed to one
	// of them (attribution is fixed when the event is stored).
	WorkspaceIDs, TeamIDs, ProjectIDs []string
	// Within, when set, keeps only events attributed to one of its teams or
	// projects: the reach of a caller with scoped roles. Unlike the other
	// filters it is set by the service, never by the caller.
	Within *Within
}

// Within is the set of subtrees a scoped reader reaches.
type Within struct {
	TeamIDs, ProjectIDs []string
}

// Attributed reports whether f filters by the hierarchy.
func (f *Filters) Attributed() bool {
	return len(f.WorkspaceIDs)+len(f.TeamIDs)+len(f.ProjectIDs) > 0 || f.Within != nil
}

// Spec says what to sum: a tenant's events in [From, To), narrowed by
// Filters, grouped by GroupBy (names from GroupByNames or dim:<name>) and,
// for time series, bucketed by Bucket (hour, day, week, month; UTC, weeks
// start on Monday like budget weeks).
type Spec struct {
	Tenant   string
	From, To time.Time
	Filters  Filters
	GroupBy  []string
	Bucket   string
}

// ErrBadQuery marks analytics requests that cannot be answered as asked (an
// unknown group-by, a filter the table lacks, an empty range): client errors.
var ErrBadQuery = errors.New("spend: bad analytics query")

// Sums are exact totals of usage events.
type Sums struct {
	Events, UnpricedEvents     uint64
	ListNanoUSD, TenantNanoUSD int64
	InputTokens, OutputTokens  int64
}

// Add adds o to s.
func (s *Sums) Add(o Sums) {
	s.Events += o.Events
	s.UnpricedEvents += o.UnpricedEvents
	s.ListNanoUSD += o.ListNanoUSD
	s.TenantNanoUSD += o.TenantNanoUSD
	s.InputTokens += o.InputTokens
	s.OutputTokens += o.OutputTokens
}

// Sub subtracts o from s.
func (s *Sums) Sub(o Sums) {
	s.Events -= o.Events
	s.UnpricedEvents -= o.UnpricedEvents
	s.ListNanoUSD -= o.ListNanoUSD
	s.TenantNanoUSD -= o.TenantNanoUSD
	s.InputTokens -= o.InputTokens
	s.OutputTokens -= o.OutputTokens
}

// Group is one row of a breakdown: Keys in group-by order.
type Group struct {
	Keys []string
	Sums
}

// Point is one bucket of a time series.
type Point struct {
	Bucket time.Time
	Keys   []string
	Sums
}

// DenialGroup counts denials of one group.
type DenialGroup struct {
	Keys   []string
	Events uint64
}

// UnknownModel is a model used without a known price.
type UnknownModel struct {
	Provider, Model           string
	Events                    uint64
	InputTokens, OutputTokens int64
	FirstSeen, LastSeen       time.Time
}

// EventRow is one stored usage event with its cost.
type EventRow struct {
	EventID, KeyID, Source, Provider, Operation         string
	ModelRequested, ModelServed, CatalogueModel         string
	Time                                                time.Time
	Streaming, Complete                                 bool
	ServiceTier, RequestID                              string
	StatusCode                                          uint16
	LatencyMs, TTFBMs                                   uint32
	Input, CachedInput, CacheWrite5m, CacheWrite1h      int64
	Output, Reasoning, AudioInput, AudioOutput          int64
	ImageInput, ImageOutput, WebSearches                int64
	Characters, Seconds, Images                         int64
	Priced, HasProviderReported                         bool
	ListNanoUSD, TenantNanoUSD, ProviderReportedNanoUSD int64
	OverrideID, PricingTier                             string
	// CostLines is the pricing explanation as stored (JSON of []pricing.Line).
	CostLines           string
	DimNames, DimValues []string
	// WorkspaceID, TeamID and ProjectID are where ingest attributed it.
	WorkspaceID, TeamID, ProjectID string
	// RawUsage is the provider's usage object(s) as received.
	RawUsage string
	// Repriced is true when a cost correction applies: the costs, priced
	// flag and explanation above are the corrected ones.
	Repriced bool
}

// EventCursor is the position after the last event of a page: events are
// listed newest first by (time, event_id).
type EventCursor struct {
	Time    time.Time
	EventID string
}

// ErrEventNotFound is returned by Event for an id the tenant has no event of.
var ErrEventNotFound = errors.New("spend: event not found")

// ErrUnavailable is wrapped by a store error that means the store could not
// be reached or did not answer in time: the same query may succeed later.
var ErrUnavailable = errors.New("spend: store unavailable")

// PricedEvent is an event with its cost (zero Cost for denials).
type PricedEvent struct {
	Event event.Event
	Cost  pricing.Cost
}

// Totals are exact sums over a tenant's usage in a time range.
type Totals struct {
	Events, UnpricedEvents     uint64
	ListNanoUSD, TenantNanoUSD int64
	InputTokens, OutputTokens  int64
}

// Correction changes the cost of one stored event: re-pricing an event
// after its model got a price. Events are never rewritten (the rollups were
// fed by them); analytics add the corrections of the same events.
type Correction struct {
	// ID names the correction (one per event and re-pricing); EventID the
	// event it corrects, whose attributes it copies.
	ID, EventID                                    string
	Time                                           time.Time
	TenantID, KeyID, Source, Provider, Operation   string
	Model, ServiceTier                             string // model: served, else requested
	StatusCode                                     uint16
	DimNames, DimValues                            []string
	WorkspaceID, TeamID, ProjectID                 string // the event's attribution
	ListDelta, TenantDelta, UnpricedDelta          int64
	CatalogueModel, OverrideID, PricingTier, Lines string
}
