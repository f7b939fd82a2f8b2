package graph

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/spendgate/spendgate/apierr"

	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/graph/model"
	"github.com/spendgate/spendgate/graph/scalar"
	"github.com/spendgate/spendgate/money"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/pricing/revision"
)

// catalogueAt is the catalogue in force at t: the applied revision when the
// server follows revisions, else the embedded one.
func (r *Resolver) catalogueAt(t time.Time) *pricing.Catalogue {
	if r.Catalogue != nil {
		return r.Catalogue.CatalogueAt(t)
	}
	return pricing.Default()
}

func catalogueModel(m *pricing.Model, p *pricing.Price) *model.CatalogueModel {
	out := &model.CatalogueModel{Provider: m.Provider, Model: m.ID, Aliases: append([]string{}, m.Aliases...), EffectiveFrom: p.EffectiveFrom.UTC(),
		Source: m.Source, Checked: m.Checked, Rates: []*model.Rate{}, SourceKind: m.SourceKind, Reason: m.Reason, Notes: m.Notes,
		UnitRates: []*model.UnitRate{}}
	if out.SourceKind == "" {
		out.SourceKind = pricing.SourceHand
	}
	if m.MaxOutputTokens > 0 {
		n := m.MaxOutputTokens
		out.MaxOutputTokens = &n
	}
	for _, c := range pricing.ClassNames() {
		cl, _ := pricing.ClassByName(c)
		if v, ok := p.Rates.Get(cl); ok {
			out.Rates = append(out.Rates, &model.Rate{Class: c, PerMillion: scalar.Money(v)})
		}
	}
	add := func(variant string, r *pricing.Rates) {
		if r == nil {
			return
		}
		for _, c := range pricing.ClassNames() {
			cl, _ := pricing.ClassByName(c)
			v, ok := r.Get(cl)
			if !ok {
				continue
			}
			unit, perMillion := pricing.Unit(cl)
			usd := money.FormatNano(v)
			if !perMillion {
				usd = pricing.PerUnitUSD(v)
			}
			out.UnitRates = append(out.UnitRates, &model.UnitRate{Class: c, Variant: variant, Unit: unit, PerMillion: perMillion, Usd: usd})
		}
	}
	add("standard", &p.Rates)
	add("batch", p.Batch)
	add("priority", p.Priority)
	add("flex", p.Flex)
	if lc := p.LongContext; lc != nil {
		n := lc.AboveInputTokens
		out.LongContextAboveInputTokens = &n
		add("long_context", &lc.Rates)
		add("long_context.priority", lc.Priority)
	}
	if p.RequestFeeNanoUSD > 0 {
		out.UnitRates = append(out.UnitRates, &model.UnitRate{Class: "request_fee", Variant: "standard", Unit: "request", Usd: money.FormatNano(p.RequestFeeNanoUSD)})
	}
	for i, fee := range p.RequestFeeBySearchContext {
		if fee >= 0 {
			out.UnitRates = append(out.UnitRates, &model.UnitRate{Class: "request_fee", Variant: "search_context." + pricing.SearchContextSizes[i],
				Unit: "request", Usd: money.FormatNano(fee)})
		}
	}
	return out
}

func pricingRevision(r *revision.Revision) *model.PricingRevision {
	out := &model.PricingRevision{ID: strconv.FormatInt(r.ID, 10), Status: model.PricingRevisionStatus(strings.ToUpper(string(r.Status))),
		EffectiveFrom: r.EffectiveFrom.UTC(), Source: r.Source, Summary: r.Summary, CreatedAt: r.CreatedAt.UTC(), CreatedBy: r.CreatedBy,
		DecidedBy: r.DecidedBy, Added: modelChanges(r.Diff.Added), Changed: modelChanges(r.Diff.Changed), Removed: modelChanges(r.Diff.Removed)}
	if r.BaseID > 0 {
		id := strconv.FormatInt(r.BaseID, 10)
		out.BaseID = &id
	}
	if r.DecidedAt != nil {
		t := r.DecidedAt.UTC()
		out.DecidedAt = &t
	}
	return out
}

func modelChanges(in []pricing.ModelDiff) []*model.PricingModelChange {
	out := make([]*model.PricingModelChange, 0, len(in))
	for _, m := range in {
		mc := &model.PricingModelChange{Provider: m.Provider, Model: m.Model, EffectiveFrom: m.EffectiveFrom, Changes: []*model.PricingFieldChange{}}
		for _, ch := range m.Changes {
			unit, o, n := ch.Display()
			mc.Changes = append(mc.Changes, &model.PricingFieldChange{Field: ch.Field, Unit: unit, Old: o, New: n})
		}
		out = append(out, mc)
	}
	return out
}

// revisions returns the revision service, or a clear error when this
// server does not manage revisions.
func (r *Resolver) revisions() (*revision.Service, error) {
	if r.Revisions == nil {
		return nil, &apierr.Error{Code: apierr.CodeInternal, Message: "pricing revisions are not available on this server"}
	}
	return r.Revisions, nil
}

// pricingAdmin authorizes a decision on the shared catalogue: only the
// configured pricing admins (--pricing-admins), never a tenant's admin.
func (r *Resolver) pricingAdmin(ctx context.Context) (*revision.Service, auth.Principal, error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return nil, p, apierr.ErrUnauthenticated
	}
	svc, err := r.revisions()
	if err != nil {
		return nil, p, err
	}
	if !svc.IsAdmin(p.Email) {
		return nil, p, &apierr.Error{Code: apierr.CodeForbidden,
			Message: "only pricing admins (--pricing-admins) may apply or reject catalogue revisions; the catalogue is shared by every tenant"}
	}
	return svc, p, nil
}

func revisionID(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return 0, badArg("revision id %q is not a positive integer", id)
	}
	return n, nil
}
