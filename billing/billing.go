// Package billing turns a tenant's metered spend into documents: monthly
// invoices per tenant (draft, issued, paid, void) and chargeback statements
// per team, project, workspace or dimension value inside a tenant.
//
// A draft is computed on demand from the stored events and the cost
// corrections of re-priced events (ClickHouse), so it always reflects the
// latest data. Issuing freezes it in Postgres with its number, lines, totals
// and the pricing basis (catalogue revisions and tenant overrides in force
// during the period); an issued invoice is never recomputed. Spend that
// changes a period after its invoice was issued (late events, re-pricing)
// appears as adjustment lines on the next invoice issued.
//
// Money is int64 nano-USD. The amount due of each line is its exact tenant
// cost rounded to cents, half away from zero; the invoice total is the sum of
// those rounded line amounts, so the printed lines always add up to the
// printed total (see docs/billing.md).
package billing

import (
	"context"
	"time"

	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/pricing"
)

// Status of an invoice.
type Status string

// Invoice statuses. Draft invoices are computed, never stored.
const (
	Draft  Status = "draft"
	Issued Status = "issued"
	Paid   Status = "paid"
	Void   Status = "void"
)

// LineKind tells usage of the invoice's period from adjustments of an
// earlier, already invoiced period.
type LineKind string

// Line kinds.
const (
	UsageLine      LineKind = "usage"
	AdjustmentLine LineKind = "adjustment"
)

// Unattributed is the group of spend that no team, project, workspace or
// dimension value was attributed to (the group's key is empty).
const Unattributed = ""

// Quantities are summed usage per token class or unit (input, cached_input,
// output, reasoning, web_searches, characters, seconds, images, ...); classes
// with no usage are left out.
type Quantities map[string]int64

// UsageRow is one group of a period's usage as the store sums it: the
// events of the group and the cost corrections of re-priced events.
type UsageRow struct {
	Provider, Model string
	// Group is the team, project or workspace id, or dimension value, when
	// grouped; Unattributed for none.
	Group          string
	Events         int64
	UnpricedEvents int64
	Quantities     Quantities
	ListNanoUSD    int64
	TenantNanoUSD  int64
	// Overrides are the ids of the tenant pricing overrides that priced
	// some of the group's events.
	Overrides []string
}

// Line is one line of an invoice or statement.
type Line struct {
	Kind     LineKind `json:"kind"`
	Provider string   `json:"provider"`
	Model    string   `json:"model"`
	// Group and GroupName: the team/project/workspace id (and name) or the
	// dimension value; empty when the document is not grouped, or for
	// unattributed spend when it is.
	Group     string `json:"group,omitempty"`
	GroupName string `json:"groupName,omitempty"`
	// AdjustsPeriod is the label of the earlier period an adjustment line
	// corrects.
	AdjustsPeriod  string     `json:"adjustsPeriod,omitempty"`
	Events         int64      `json:"events"`
	UnpricedEvents int64      `json:"unpricedEvents"`
	Quantities     Quantities `json:"quantities"`
	ListNanoUSD    int64      `json:"listNanoUsd"`
	TenantNanoUSD  int64      `json:"tenantNanoUsd"`
	// AmountNanoUSD is what the line charges: TenantNanoUSD rounded to cents
	// (for an adjustment: the period's corrected amount less what was
	// already charged for it).
	AmountNanoUSD int64    `json:"amountNanoUsd"`
	Overrides     []string `json:"overrides,omitempty"`
}

// PricingBasis records what priced an invoice's events: the catalogue
// revisions in force during the period and the tenant's overrides whose
// effective range overlaps it, as they were when the invoice was computed.
type PricingBasis struct {
	CatalogueRevisions []int64            `json:"catalogueRevisions"`
	Overrides          []pricing.Override `json:"overrides"`
	ComputedAt         time.Time          `json:"computedAt"`
}

// ProviderFigure compares, for one provider, what spendgate metered (list
// cost) with what the provider reported for the period, when a reconciliation
// source knows it.
type ProviderFigure struct {
	Provider string `json:"provider"`
	// Covers lists the metered providers the report covers when they are
	// not just Provider (a Google billing export covers gemini and
	// vertex_ai); MeteredNanoUSD is then their sum.
	Covers         []string `json:"covers,omitempty"`
	MeteredNanoUSD int64    `json:"meteredNanoUsd"`
	// ReportedNanoUSD is meaningful only when Reported.
	ReportedNanoUSD int64 `json:"reportedNanoUsd"`
	Reported        bool  `json:"reported"`
}

// Invoice is a tenant's invoice for one billing period.
type Invoice struct {
	ID       string // "" for a draft
	TenantID string
	Number   int64 // 0 for a draft
	Status   Status
	Period   Period
	GroupBy  string
	Currency string
	Lines    []Line
	// Exact sums over the lines (usage and adjustments), and the amount due:
	// the sum of the lines' AmountNanoUSD.
	ListNanoUSD, TenantNanoUSD, TotalNanoUSD int64
	Pricing                                  PricingBasis
	ProviderReported                         []ProviderFigure
	IssuedAt                                 time.Time
	IssuedBy                                 string
	PaidAt, VoidedAt                         *time.Time
	PaidBy, VoidedBy, VoidReason             string
}

// NumberText is the invoice number as printed: INV-000042, "DRAFT" for a
// draft.
func (inv *Invoice) NumberText() string {
	if inv.Number == 0 {
		return "DRAFT"
	}
	return formatNumber(inv.Number)
}

// Statement is a chargeback statement: a period's spend of a tenant per
// team, project, workspace or dimension value, with unattributed spend as a
// group of its own. Statements are internal cost allocation: computed on
// demand, never issued.
type Statement struct {
	TenantID string
	Period   Period
	GroupBy  string
	Lines    []Line
	// Groups sums the lines of each group, in the order of Lines.
	Groups                                   []GroupTotal
	ListNanoUSD, TenantNanoUSD, TotalNanoUSD int64
}

// GroupTotal sums one group's lines of a statement.
type GroupTotal struct {
	Group, GroupName                          string
	Events                                    int64
	ListNanoUSD, TenantNanoUSD, AmountNanoUSD int64
}

// Usage sums a tenant's usage for billing (store/clickhouse implements it):
// events in [from, to) and the cost corrections of those events, per
// provider × model and, when groupBy is not empty, per group (team,
// project, workspace or dim:<name>).
type Usage interface {
	BillingUsage(ctx context.Context, tenantID string, from, to time.Time, groupBy string) ([]UsageRow, error)
}

// ProviderReport is the cost one provider reported for a tenant over a
// period, and the metered providers (meter's ids) whose calls it covers.
type ProviderReport struct {
	Provider    string
	Covers      []string
	CostNanoUSD int64
}

// ProviderReports is what the provider reconciliation offers invoices: the
// cost each provider reported for the tenant in [from, to). It is optional;
// metered providers no report covers are shown as not reported.
type ProviderReports interface {
	ProviderReported(ctx context.Context, tenantID string, from, to time.Time) ([]ProviderReport, error)
}

// Tenants authorizes callers and reads what billing needs of the control
// plane (controlplane.Service implements it).
type Tenants interface {
	Authorize(ctx context.Context, tenantID string, need controlplane.Role) (auth.Principal, error)
	TenantOverrides(ctx context.Context, tenantID string) ([]pricing.Override, error)
	NodeNames(ctx context.Context, tenantID string, ids []string) (map[string]string, error)
}

// Store keeps billing settings and issued invoices (billing/pgstore).
type Store interface {
	Settings(ctx context.Context, tenantID string) (Settings, error)
	SaveSettings(ctx context.Context, p auth.Principal, tenantID string, s Settings) error
	// CatalogueRevisions lists the applied catalogue revisions in force at
	// some time in [from, to).
	CatalogueRevisions(ctx context.Context, from, to time.Time) ([]int64, error)
	// Issue issues the tenant's invoice for period exactly once: it returns
	// the live (not void) invoice of the period if there is one (created
	// false); otherwise it calls compute with the tenant's live invoices and
	// stores the result with the next number, audited. compute may be called
	// more than once (when another invoice changes meanwhile).
	Issue(ctx context.Context, p auth.Principal, tenantID string, period Period,
		compute func(ctx context.Context, issued []Invoice) (Invoice, error)) (inv Invoice, created bool, err error)
	// Invoices lists the tenant's invoices newest period first (with lines).
	Invoices(ctx context.Context, tenantID string) ([]Invoice, error)
	Invoice(ctx context.Context, tenantID, id string) (Invoice, error)
	// SetStatus moves an issued invoice to paid or void, audited.
	SetStatus(ctx context.Context, p auth.Principal, tenantID, id string, to Status, reason string, at time.Time) (Invoice, error)
}
