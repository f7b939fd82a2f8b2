package billing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/pricing"
)

// AdjustmentLookback is how many earlier issued periods issuing (or a draft)
// re-examines for late events and re-pricing. Older periods are final.
const AdjustmentLookback = 12

// BillingRole is the tenant role billing needs: invoices and chargeback
// statements are for tenant admins and owners.
const BillingRole = controlplane.RoleAdmin

// Service computes, issues and lists invoices and statements.
type Service struct {
	tenants Tenants
	store   Store
	usage   Usage // nil: no ClickHouse, documents cannot be computed
	// Reports, when set, adds provider-reported figures to invoices.
	Reports ProviderReports
	// Now is the clock (tests set it).
	Now func() time.Time
}

// New builds the service; usage may be nil (an API without ClickHouse
// lists and changes issued invoices but computes none).
func New(tenants Tenants, store Store, usage Usage) *Service {
	return &Service{tenants: tenants, store: store, usage: usage, Now: time.Now}
}

var errNoUsage = apierr.New(apierr.CodeUnavailable, "billing needs spend analytics (ClickHouse), which this server does not have")

// Settings returns the tenant's billing settings.
func (s *Service) Settings(ctx context.Context, tenantID string) (Settings, error) {
	if _, err := s.tenants.Authorize(ctx, tenantID, BillingRole); err != nil {
		return Settings{}, err
	}
	return s.store.Settings(ctx, tenantID)
}

// UpdateSettings validates and stores the tenant's billing settings
// (audited). Issued invoices keep the periods they were cut with.
func (s *Service) UpdateSettings(ctx context.Context, tenantID string, set Settings) (Settings, error) {
	p, err := s.tenants.Authorize(ctx, tenantID, BillingRole)
	if err != nil {
		return Settings{}, err
	}
	if err := set.Validate(); err != nil {
		return Settings{}, err
	}
	return set, s.store.SaveSettings(ctx, p, tenantID, set)
}

// period resolves a label under the tenant's settings and refuses periods
// that have not started.
func (s *Service) period(ctx context.Context, tenantID, label string) (Settings, Period, error) {
	set, err := s.store.Settings(ctx, tenantID)
	if err != nil {
		return set, Period{}, err
	}
	p, err := set.PeriodOf(label)
	if err != nil {
		return set, p, err
	}
	if now := s.Now(); !p.Start.Before(now) {
		return set, p, apierr.Invalid("period %s has not started: it starts %s", label, p.Start.Format(time.RFC3339))
	}
	return set, p, nil
}

// Draft computes what the invoice of a period would be if issued now,
// including adjustments of earlier issued periods. A period already issued
// answers CONFLICT naming its invoice.
func (s *Service) Draft(ctx context.Context, tenantID, label string) (Invoice, error) {
	if _, err := s.tenants.Authorize(ctx, tenantID, BillingRole); err != nil {
		return Invoice{}, err
	}
	set, p, err := s.period(ctx, tenantID, label)
	if err != nil {
		return Invoice{}, err
	}
	all, err := s.store.Invoices(ctx, tenantID)
	if err != nil {
		return Invoice{}, err
	}
	live := liveInvoices(all)
	for _, inv := range live {
		if inv.Period.Start.Equal(p.Start) {
			return Invoice{}, apierr.New(apierr.CodeConflict, "period %s is already issued as %s (%s); late usage appears as adjustments on the next invoice",
				label, inv.NumberText(), inv.Status)
		}
	}
	return s.compute(ctx, tenantID, set, p, live)
}

// Issue issues the invoice of a period that has ended: the first call
// stores it with the tenant's next number, later and concurrent calls return
// that same invoice.
func (s *Service) Issue(ctx context.Context, tenantID, label string) (Invoice, error) {
	p, err := s.tenants.Authorize(ctx, tenantID, BillingRole)
	if err != nil {
		return Invoice{}, err
	}
	set, period, err := s.period(ctx, tenantID, label)
	if err != nil {
		return Invoice{}, err
	}
	if now := s.Now(); period.End.After(now) {
		return Invoice{}, apierr.Invalid("period %s has not ended: it ends %s; issue it after that (a draft shows it so far)",
			label, period.End.Format(time.RFC3339))
	}
	if s.usage == nil {
		return Invoice{}, errNoUsage
	}
	inv, _, err := s.store.Issue(ctx, p, tenantID, period, func(ctx context.Context, issued []Invoice) (Invoice, error) {
		inv, err := s.compute(ctx, tenantID, set, period, issued)
		inv.Status, inv.IssuedAt, inv.IssuedBy = Issued, s.Now().UTC(), p.Email
		return inv, err
	})
	return inv, err
}

// compute builds the invoice of period from the usage store, with the
// adjustments of the earlier periods among issued (live invoices).
func (s *Service) compute(ctx context.Context, tenantID string, set Settings, period Period, issued []Invoice) (Invoice, error) {
	if s.usage == nil {
		return Invoice{}, errNoUsage
	}
	rows, err := s.usage.BillingUsage(ctx, tenantID, period.Start, period.End, set.GroupBy)
	if err != nil {
		return Invoice{}, err
	}
	inv := Invoice{TenantID: tenantID, Status: Draft, Period: period, GroupBy: set.GroupBy, Currency: "USD", Lines: usageLines(rows)}
	adjustments, err := s.adjustments(ctx, tenantID, period, issued)
	if err != nil {
		return Invoice{}, err
	}
	inv.Lines = append(inv.Lines, adjustments...)
	if err := s.nameGroups(ctx, tenantID, inv.GroupBy, inv.Lines); err != nil {
		return Invoice{}, err
	}
	inv.ListNanoUSD, inv.TenantNanoUSD, inv.TotalNanoUSD = sumLines(inv.Lines)
	if inv.Pricing, err = s.pricingBasis(ctx, tenantID, period); err != nil {
		return Invoice{}, err
	}
	var reported []ProviderReport
	if s.Reports != nil {
		if reported, err = s.Reports.ProviderReported(ctx, tenantID, period.Start, period.End); err != nil {
			return Invoice{}, fmt.Errorf("billing: provider-reported costs: %w", err)
		}
	}
	inv.ProviderReported = providerFigures(inv.Lines, reported)
	return inv, nil
}

// adjustments re-examines the latest AdjustmentLookback issued periods
// before period.
func (s *Service) adjustments(ctx context.Context, tenantID string, period Period, issued []Invoice) ([]Line, error) {
	earlier := slices.DeleteFunc(slices.Clone(issued), func(inv Invoice) bool { return !inv.Period.Start.Before(period.Start) })
	sort.Slice(earlier, func(i, j int) bool { return earlier[i].Period.Start.After(earlier[j].Period.Start) })
	if len(earlier) > AdjustmentLookback {
		earlier = earlier[:AdjustmentLookback]
	}
	var out []Line
	for _, inv := range earlier {
		var charged []Line
		for _, l := range inv.Lines {
			if l.Kind == UsageLine {
				charged = append(charged, l)
			}
		}
		for _, other := range issued {
			for _, l := range other.Lines {
				if l.Kind == AdjustmentLine && l.AdjustsPeriod == inv.Period.Label {
					charged = append(charged, l)
				}
			}
		}
		now, err := s.usage.BillingUsage(ctx, tenantID, inv.Period.Start, inv.Period.End, inv.GroupBy)
		if err != nil {
			return nil, err
		}
		out = append(out, adjustmentLines(inv.Period.Label, now, charged)...)
	}
	return out, nil
}

// nameGroups fills GroupName: the node's name for team, project and
// workspace groups, the value for dimensions, "(unattributed)" for none.
func (s *Service) nameGroups(ctx context.Context, tenantID, groupBy string, lines []Line) error {
	if groupBy == "" {
		return nil
	}
	var names map[string]string
	if !strings.HasPrefix(groupBy, "dim:") {
		var ids []string
		for _, l := range lines {
			if l.Group != "" {
				ids = append(ids, l.Group)
			}
		}
		if len(ids) > 0 {
			var err error
			if names, err = s.tenants.NodeNames(ctx, tenantID, sortedUnique(ids)); err != nil {
				return err
			}
		}
	}
	for i := range lines {
		l := &lines[i]
		switch {
		case l.Group == Unattributed:
			l.GroupName = "(unattributed)"
		case names[l.Group] != "":
			l.GroupName = names[l.Group]
		default:
			l.GroupName = l.Group
		}
	}
	return nil
}

// pricingBasis records the catalogue revisions and tenant overrides in
// force during period.
func (s *Service) pricingBasis(ctx context.Context, tenantID string, period Period) (PricingBasis, error) {
	revs, err := s.store.CatalogueRevisions(ctx, period.Start, period.End)
	if err != nil {
		return PricingBasis{}, err
	}
	ovs, err := s.tenants.TenantOverrides(ctx, tenantID)
	if err != nil {
		return PricingBasis{}, err
	}
	in := []pricing.Override{}
	for _, o := range ovs {
		if o.EffectiveFrom.Before(period.End) && (o.EffectiveTo == nil || o.EffectiveTo.After(period.Start)) {
			in = append(in, o)
		}
	}
	sort.Slice(in, func(i, j int) bool { return in[i].ID < in[j].ID })
	if revs == nil {
		revs = []int64{}
	}
	return PricingBasis{CatalogueRevisions: revs, Overrides: in, ComputedAt: s.Now().UTC()}, nil
}

func liveInvoices(all []Invoice) []Invoice {
	return slices.DeleteFunc(slices.Clone(all), func(inv Invoice) bool { return inv.Status == Void })
}

// Invoices lists the tenant's issued, paid and void invoices, newest
// period first.
func (s *Service) Invoices(ctx context.Context, tenantID string) ([]Invoice, error) {
	if _, err := s.tenants.Authorize(ctx, tenantID, BillingRole); err != nil {
		return nil, err
	}
	return s.store.Invoices(ctx, tenantID)
}

// Invoice returns one of the tenant's invoices by id.
func (s *Service) Invoice(ctx context.Context, tenantID, id string) (Invoice, error) {
	if _, err := s.tenants.Authorize(ctx, tenantID, BillingRole); err != nil {
		return Invoice{}, err
	}
	return s.store.Invoice(ctx, tenantID, id)
}

// MarkPaid records that an issued invoice was paid.
func (s *Service) MarkPaid(ctx context.Context, tenantID, id string) (Invoice, error) {
	p, err := s.tenants.Authorize(ctx, tenantID, BillingRole)
	if err != nil {
		return Invoice{}, err
	}
	return s.store.SetStatus(ctx, p, tenantID, id, Paid, "", s.Now().UTC())
}

// VoidInvoice voids an issued (unpaid) invoice; its period may then be
// issued again under a new number. reason is required.
func (s *Service) VoidInvoice(ctx context.Context, tenantID, id, reason string) (Invoice, error) {
	p, err := s.tenants.Authorize(ctx, tenantID, BillingRole)
	if err != nil {
		return Invoice{}, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > 500 {
		return Invoice{}, apierr.Invalid("a void needs a reason of 1 to 500 characters")
	}
	return s.store.SetStatus(ctx, p, tenantID, id, Void, reason, s.Now().UTC())
}

// CheckTransition says whether inv may move to status to: only issued
// invoices change, to paid or void. The store applies it under a row lock
// (and a trigger in Postgres refuses anything else).
func CheckTransition(inv *Invoice, to Status) error {
	if to != Paid && to != Void {
		return apierr.Invalid("an invoice can be marked paid or void, not %s", to)
	}
	if inv.Status == Issued {
		return nil
	}
	verb := map[Status]string{Paid: "paid", Void: "voided"}[to]
	return apierr.New(apierr.CodeConflict, "invoice %s is %s and cannot be %s: only issued invoices can", inv.NumberText(), inv.Status, verb)
}

// Statement computes the chargeback statement of a period per groupBy
// (team, project, workspace or dim:<name>), with unattributed spend as its
// own group. The current, unfinished period may be asked for.
func (s *Service) Statement(ctx context.Context, tenantID, label, groupBy string) (Statement, error) {
	if _, err := s.tenants.Authorize(ctx, tenantID, BillingRole); err != nil {
		return Statement{}, err
	}
	if err := ValidGroupBy(groupBy, false); err != nil {
		return Statement{}, err
	}
	_, p, err := s.period(ctx, tenantID, label)
	if err != nil {
		return Statement{}, err
	}
	if s.usage == nil {
		return Statement{}, errNoUsage
	}
	rows, err := s.usage.BillingUsage(ctx, tenantID, p.Start, p.End, groupBy)
	if err != nil {
		return Statement{}, err
	}
	st := Statement{TenantID: tenantID, Period: p, GroupBy: groupBy, Lines: usageLines(rows)}
	if err := s.nameGroups(ctx, tenantID, groupBy, st.Lines); err != nil {
		return Statement{}, err
	}
	st.ListNanoUSD, st.TenantNanoUSD, st.TotalNanoUSD = sumLines(st.Lines)
	for _, l := range st.Lines {
		if n := len(st.Groups); n == 0 || st.Groups[n-1].Group != l.Group {
			st.Groups = append(st.Groups, GroupTotal{Group: l.Group, GroupName: l.GroupName})
		}
		g := &st.Groups[len(st.Groups)-1]
		g.Events += l.Events
		g.ListNanoUSD += l.ListNanoUSD
		g.TenantNanoUSD += l.TenantNanoUSD
		g.AmountNanoUSD += l.AmountNanoUSD
	}
	return st, nil
}

// ErrNotFound answers an invoice id the tenant does not have.
var ErrNotFound = apierr.New(apierr.CodeNotFound, "invoice not found")

// IsNotFound reports whether err is ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
