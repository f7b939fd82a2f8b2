package graph

import (
	"net/url"
	"strconv"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/billing"
	"github.com/spendgate/spendgate/graph/model"
	"github.com/spendgate/spendgate/graph/scalar"
	"github.com/spendgate/spendgate/pricing"
)

var errNoBilling = apierr.New(apierr.CodeUnavailable, "billing is not available on this server")

// Export paths served by apiserver (GET, Bearer token).
const (
	InvoicePDFPath   = "/export/invoice.pdf"
	InvoiceCSVPath   = "/export/invoice.csv"
	StatementPDFPath = "/export/statement.pdf"
	StatementCSVPath = "/export/statement.csv"
)

func billingSettingsModel(s billing.Settings) *model.BillingSettings {
	return &model.BillingSettings{TimeZone: s.TimeZone, PeriodStartDay: s.PeriodStartDay, GroupBy: s.GroupBy}
}

func billingPeriodModel(p billing.Period) *model.BillingPeriod {
	return &model.BillingPeriod{Label: p.Label, Start: p.Start, End: p.End, TimeZone: p.TimeZone}
}

func invoiceLineModel(l *billing.Line) *model.InvoiceLine {
	m := &model.InvoiceLine{Kind: model.InvoiceLineKindUsage, Provider: l.Provider, Model: l.Model, Group: l.Group, GroupName: l.GroupName,
		Events: l.Events, UnpricedEvents: l.UnpricedEvents, ListCost: scalar.Money(l.ListNanoUSD), TenantCost: scalar.Money(l.TenantNanoUSD),
		Amount: scalar.Money(l.AmountNanoUSD), Overrides: append([]string{}, l.Overrides...), Quantities: []*model.UsageQuantity{}}
	if l.Kind == billing.AdjustmentLine {
		m.Kind = model.InvoiceLineKindAdjustment
		p := l.AdjustsPeriod
		m.AdjustsPeriod = &p
	}
	for _, c := range pricing.ClassNames() {
		if q := l.Quantities[c]; q != 0 {
			m.Quantities = append(m.Quantities, &model.UsageQuantity{Class: c, Quantity: q})
		}
	}
	return m
}

func invoiceModel(inv *billing.Invoice) *model.Invoice {
	m := &model.Invoice{ID: inv.ID, Number: inv.NumberText(), Status: model.InvoiceStatus(map[billing.Status]string{
		billing.Draft: "DRAFT", billing.Issued: "ISSUED", billing.Paid: "PAID", billing.Void: "VOID"}[inv.Status]),
		Period: billingPeriodModel(inv.Period), GroupBy: inv.GroupBy, Currency: inv.Currency, Lines: []*model.InvoiceLine{},
		ListCost: scalar.Money(inv.ListNanoUSD), TenantCost: scalar.Money(inv.TenantNanoUSD), Total: scalar.Money(inv.TotalNanoUSD),
		Pricing:          &model.InvoicePricing{CatalogueRevisions: []string{}, OverrideIds: []string{}, ComputedAt: inv.Pricing.ComputedAt},
		ProviderReported: []*model.ProviderCostFigure{}, PaidAt: inv.PaidAt, VoidedAt: inv.VoidedAt}
	for i := range inv.Lines {
		m.Lines = append(m.Lines, invoiceLineModel(&inv.Lines[i]))
	}
	for _, r := range inv.Pricing.CatalogueRevisions {
		m.Pricing.CatalogueRevisions = append(m.Pricing.CatalogueRevisions, strconv.FormatInt(r, 10))
	}
	for _, o := range inv.Pricing.Overrides {
		m.Pricing.OverrideIds = append(m.Pricing.OverrideIds, o.ID)
	}
	for _, f := range inv.ProviderReported {
		pf := &model.ProviderCostFigure{Provider: f.Provider, Covers: nonNil(f.Covers), Metered: scalar.Money(f.MeteredNanoUSD)}
		if f.Reported {
			r := scalar.Money(f.ReportedNanoUSD)
			pf.Reported = &r
		}
		m.ProviderReported = append(m.ProviderReported, pf)
	}
	if !inv.IssuedAt.IsZero() {
		at, by := inv.IssuedAt, inv.IssuedBy
		m.IssuedAt, m.IssuedBy = &at, &by
	}
	if inv.VoidReason != "" {
		r := inv.VoidReason
		m.VoidReason = &r
	}
	q := url.Values{"tenantId": {inv.TenantID}}
	if inv.ID != "" {
		q.Set("id", inv.ID)
	} else {
		q.Set("period", inv.Period.Label)
	}
	m.PDFURL, m.CSVURL = InvoicePDFPath+"?"+q.Encode(), InvoiceCSVPath+"?"+q.Encode()
	return m
}

func statementModel(st *billing.Statement) *model.ChargebackStatement {
	m := &model.ChargebackStatement{Period: billingPeriodModel(st.Period), GroupBy: st.GroupBy, Groups: []*model.StatementGroup{},
		Lines: []*model.InvoiceLine{}, ListCost: scalar.Money(st.ListNanoUSD), TenantCost: scalar.Money(st.TenantNanoUSD), Total: scalar.Money(st.TotalNanoUSD)}
	for _, g := range st.Groups {
		m.Groups = append(m.Groups, &model.StatementGroup{Group: g.Group, GroupName: g.GroupName, Events: g.Events,
			ListCost: scalar.Money(g.ListNanoUSD), TenantCost: scalar.Money(g.TenantNanoUSD), Amount: scalar.Money(g.AmountNanoUSD)})
	}
	for i := range st.Lines {
		m.Lines = append(m.Lines, invoiceLineModel(&st.Lines[i]))
	}
	q := url.Values{"tenantId": {st.TenantID}, "period": {st.Period.Label}, "groupBy": {st.GroupBy}}
	m.PDFURL, m.CSVURL = StatementPDFPath+"?"+q.Encode(), StatementCSVPath+"?"+q.Encode()
	return m
}
