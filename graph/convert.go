package graph

import (
	"sort"
	"strconv"
	"strings"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/graph/model"
	"github.com/spendgate/spendgate/graph/scalar"
	"github.com/spendgate/spendgate/money"
)

func page(first *int, after *string) controlplane.Page {
	p := controlplane.Page{}
	if first != nil {
		p.First = *first
		if p.First == 0 {
			p.First = -1 // asking for zero items is an error, not "the default"
		}
	}
	if after != nil {
		p.After = *after
	}
	return p
}

func pageInfo(cursors []string, hasNext bool) *model.PageInfo {
	pi := &model.PageInfo{HasNextPage: hasNext}
	if len(cursors) > 0 {
		pi.EndCursor = &cursors[len(cursors)-1]
	}
	return pi
}

// edges turns a control-plane page into GraphQL edges and page info.
func edges[T, N, E any](c controlplane.Connection[T], node func(T) N, edge func(cursor string, n N) E) ([]E, *model.PageInfo) {
	out := make([]E, 0, len(c.Items))
	for i, it := range c.Items {
		out = append(out, edge(c.Cursors[i], node(it)))
	}
	return out, pageInfo(c.Cursors, c.HasNextPage)
}

func role(r controlplane.Role) model.Role { return model.Role(strings.ToUpper(string(r))) }

func fromRole(r model.Role) controlplane.Role { return controlplane.Role(strings.ToLower(string(r))) }

func user(u controlplane.User) *model.User {
	return &model.User{ID: u.ID, Email: u.Email, Name: u.Name, CreatedAt: u.CreatedAt}
}

func session(s controlplane.Session) *model.Session {
	return &model.Session{AccessToken: s.AccessToken, RefreshToken: s.RefreshToken, ExpiresAt: s.ExpiresAt, User: user(s.User)}
}

func tenant(t controlplane.Tenant) *model.Tenant {
	return &model.Tenant{ID: t.ID, Name: t.Name, Slug: t.Slug, CreatedAt: t.CreatedAt, Role: role(t.Role), MfaRequired: t.MFARequired}
}

func member(m controlplane.Member) *model.Member {
	return &model.Member{User: user(m.User), Role: role(m.Role), CreatedAt: m.CreatedAt, Suspended: m.Suspended}
}

func dims(m map[string]string) []*model.Dimension {
	out := make([]*model.Dimension, 0, len(m))
	for k, v := range m {
		out = append(out, &model.Dimension{Name: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func apiKey(k controlplane.APIKey) *model.APIKey {
	return &model.APIKey{ID: k.ID, TenantID: k.TenantID, Name: k.Name, Prefix: k.Prefix, Status: model.KeyStatus(strings.ToUpper(k.Status)),
		CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt, ExpiresAt: k.ExpiresAt, RotatedFromID: k.RotatedFrom,
		ProjectID: k.ProjectID, Policy: keyPolicyOut(k.Policy)}
}

func keyPolicy(in *model.KeyPolicyInput) controlplane.KeyPolicy {
	var p controlplane.KeyPolicy
	if in == nil {
		return p
	}
	p.AllowedProviders, p.AllowedModels, p.RequiredDimensions = in.AllowedProviders, in.AllowedModels, in.RequiredDimensions
	if in.RequirePricedModels != nil {
		p.RequirePricedModels = *in.RequirePricedModels
	}
	if in.RequestsPerMinute != nil {
		p.RequestsPerMinute = *in.RequestsPerMinute
	}
	if in.TokensPerMinute != nil {
		p.TokensPerMinute = *in.TokensPerMinute
	}
	if in.InjectProviderCredentials != nil {
		p.InjectProviderCredentials = *in.InjectProviderCredentials
	}
	if len(in.DefaultDimensions) > 0 {
		p.DefaultDimensions = map[string]string{}
		for _, d := range in.DefaultDimensions {
			p.DefaultDimensions[d.Name] = d.Value
		}
	}
	return p
}

func budget(b controlplane.Budget) *model.Budget {
	th := b.Thresholds
	if th == nil {
		th = []int{}
	}
	emails := b.AlertEmails
	if emails == nil {
		emails = []string{}
	}
	return &model.Budget{AlertEmails: emails, ID: b.ID, TenantID: b.TenantID, Name: b.Name, Scope: model.BudgetScope(strings.ToUpper(b.Scope)),
		WorkspaceID: b.WorkspaceID, TeamID: b.TeamID, ProjectID: b.ProjectID, KeyID: b.KeyID, Provider: b.Provider, Model: b.Model,
		DimensionName: b.DimensionName, DimensionValue: b.DimensionVal, Period: model.BudgetPeriod(strings.ToUpper(b.Period)),
		Amount: scalar.Money(b.AmountNanoUSD), Thresholds: th, Hard: b.Hard, Rollover: b.Rollover, WebhookURL: b.WebhookURL,
		SpendBasis: spendBasis(b.SpendBasis), BreachWebhookURL: optional(b.BreachWebhookURL), BreachWebhookSigned: b.BreachWebhookSigned,
		CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt}
}

// spendBasis is a stored basis as the API spells it ("" is metered).
func spendBasis(s string) model.SpendBasis {
	if s == "" {
		return model.SpendBasisMetered
	}
	return model.SpendBasis(strings.ToUpper(s))
}

func budgetInput(in model.BudgetInput) controlplane.BudgetInput {
	out := controlplane.BudgetInput{Name: in.Name, Scope: strings.ToLower(string(in.Scope)), Period: strings.ToLower(string(in.Period)),
		WorkspaceID: in.WorkspaceID, TeamID: in.TeamID, ProjectID: in.ProjectID, KeyID: in.KeyID, Provider: in.Provider, Model: in.Model,
		DimensionName: in.DimensionName, DimensionVal: in.DimensionValue, AmountNanoUSD: int64(in.Amount),
		Thresholds: in.Thresholds, WebhookURL: in.WebhookURL, AlertEmails: in.AlertEmails,
		BreachWebhookURL: in.BreachWebhookURL, BreachWebhookSecret: in.BreachWebhookSecret}
	if in.SpendBasis != nil {
		out.SpendBasis = strings.ToLower(string(*in.SpendBasis))
	}
	if in.Hard != nil {
		out.Hard = *in.Hard
	}
	if in.Rollover != nil {
		out.Rollover = *in.Rollover
	}
	return out
}

func override(o controlplane.PricingOverride) *model.PricingOverride {
	rates := make([]*model.Rate, 0, len(o.Rates))
	for c, r := range o.Rates {
		rates = append(rates, &model.Rate{Class: c, PerMillion: scalar.Money(r)})
	}
	sort.Slice(rates, func(i, j int) bool { return rates[i].Class < rates[j].Class })
	return &model.PricingOverride{ID: o.ID, TenantID: o.TenantID, Provider: o.Provider, Model: o.Model, EffectiveFrom: o.EffectiveFrom,
		EffectiveTo: o.EffectiveTo, Rates: rates, PercentAdjustment: formatBP(o.PercentAdjustmentBP), Note: o.Note, CreatedAt: o.CreatedAt}
}

// formatBP writes basis points as a percent ("-15", "10.5").
func formatBP(bp int64) string {
	// nano-units formatting gives exact decimals: bp/100 percent = bp×1e7 nano.
	return money.FormatNano(bp * 10_000_000)
}

func parsePercent(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	n, err := money.ParseScaledExact(strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+"), 2)
	if err != nil {
		return 0, &apierr.Error{Code: apierr.CodeInvalidArgument, Message: "percentAdjustment must be a percent with at most 2 decimals, e.g. \"-15\" or \"10.25\""}
	}
	if neg {
		n = -n
	}
	return n, nil
}

func overrideInput(in model.PricingOverrideInput) (controlplane.OverrideInput, error) {
	out := controlplane.OverrideInput{Model: in.Model, EffectiveFrom: in.EffectiveFrom, EffectiveTo: in.EffectiveTo}
	if in.Provider != nil {
		out.Provider = *in.Provider
	}
	if in.Note != nil {
		out.Note = *in.Note
	}
	if in.PercentAdjustment != nil && *in.PercentAdjustment != "" {
		bp, err := parsePercent(*in.PercentAdjustment)
		if err != nil {
			return out, err
		}
		out.PercentAdjustmentBP = bp
	}
	if len(in.Rates) > 0 {
		out.Rates = map[string]int64{}
		for _, r := range in.Rates {
			if _, dup := out.Rates[r.Class]; dup {
				return out, &apierr.Error{Code: apierr.CodeInvalidArgument, Message: "rate for " + r.Class + " given twice"}
			}
			out.Rates[r.Class] = int64(r.PerMillion)
		}
	}
	return out, nil
}

// auditFilter is the audit log's filter as the control plane takes it (nil: everything).
func auditFilter(f *model.AuditFilter) controlplane.AuditFilter {
	if f == nil {
		return controlplane.AuditFilter{}
	}
	out := controlplane.AuditFilter{Actions: f.Actions, From: f.From, To: f.To}
	if f.Actor != nil {
		out.Actor = strings.TrimSpace(*f.Actor)
	}
	return out
}

func auditEntry(a controlplane.AuditEntry) *model.AuditEntry {
	return &model.AuditEntry{ID: itoa64(a.ID), Actor: a.Actor, Action: a.Action, TargetType: a.TargetType, TargetID: a.TargetID,
		Details: a.Details, CreatedAt: a.CreatedAt}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func createdKey(k controlplane.CreatedKey) *model.CreatedAPIKey {
	return &model.CreatedAPIKey{Key: apiKey(k.Key), Secret: k.Secret}
}

func keyPolicyOut(p controlplane.KeyPolicy) *model.KeyPolicy {
	return &model.KeyPolicy{AllowedProviders: nonNil(p.AllowedProviders), AllowedModels: nonNil(p.AllowedModels),
		RequiredDimensions: nonNil(p.RequiredDimensions), DefaultDimensions: dims(p.DefaultDimensions),
		RequirePricedModels: p.RequirePricedModels, RequestsPerMinute: p.RequestsPerMinute, TokensPerMinute: p.TokensPerMinute,
		InjectProviderCredentials: p.InjectProviderCredentials}
}

func orgNode(n controlplane.Node) *model.OrgNode {
	out := &model.OrgNode{ID: n.ID, Kind: model.OrgNodeKind(strings.ToUpper(n.Kind)), Name: n.Name, WorkspaceID: n.Path.WorkspaceID,
		TeamID: optional(n.Path.TeamID), ProjectID: optional(n.Path.ProjectID), ParentID: optional(n.ParentID),
		KeyDefaults: keyPolicyOut(n.KeyDefaults), ArchivedAt: n.ArchivedAt, CreatedAt: n.CreatedAt}
	return out
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func roleGrant(g controlplane.Grant) *model.RoleGrant {
	return &model.RoleGrant{UserID: g.UserID, Email: g.Email, Role: model.ScopedRole(strings.ToUpper(string(g.Role))), Node: orgNode(g.Node),
		CreatedAt: g.CreatedAt}
}

func mapping(m controlplane.Mapping) *model.AttributionMapping {
	return &model.AttributionMapping{ID: m.ID, DimensionName: m.DimensionName, DimensionValue: m.DimensionValue, TeamID: m.TeamID,
		ProjectID: m.ProjectID, CreatedAt: m.CreatedAt}
}
