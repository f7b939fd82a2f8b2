package graph

import (
	"context"
	"errors"
	"strings"

	"github.com/spendgate/spendgate/analytics"
	"github.com/spendgate/spendgate/anomaly"
	anomalysvc "github.com/spendgate/spendgate/anomaly/service"
	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/graph/model"
	"github.com/spendgate/spendgate/graph/scalar"
	recpg "github.com/spendgate/spendgate/recommend/pgstore"
)

// AnomalyFeed streams a tenant's anomaly alerts live (budget/alerts.Feed).
type AnomalyFeed interface {
	SubscribeAnomalies(ctx context.Context, tenantID string) (<-chan anomaly.Alert, error)
}

type storedRecommendation = recpg.Stored

func anomalyErr(err error) error {
	if errors.Is(err, anomalysvc.ErrInvalid) {
		return apierr.Invalid("%s", strings.TrimPrefix(err.Error(), anomalysvc.ErrInvalid.Error()+": "))
	}
	return err
}

// labels names the keys and hierarchy nodes of episodes or recommendations.
func (r *Resolver) labels(ctx context.Context, tenantID string, keyIDs, nodeIDs []string) (map[string]string, error) {
	out := map[string]string{}
	if len(keyIDs) > 0 {
		names, err := r.CP.KeyNames(ctx, tenantID, keyIDs)
		if err != nil {
			return nil, err
		}
		for k, v := range names {
			out[k] = v
		}
	}
	if len(nodeIDs) > 0 {
		names, err := r.CP.NodeNames(ctx, tenantID, nodeIDs)
		if err != nil {
			return nil, err
		}
		for k, v := range names {
			out[k] = v
		}
	}
	return out, nil
}

func (r *Resolver) anomalyEpisodes(ctx context.Context, tenantID string, list []anomaly.Episode) ([]*model.AnomalyEpisode, error) {
	var keys, nodes []string
	for _, e := range list {
		switch e.Series.Dimension {
		case anomaly.DimKey:
			keys = append(keys, e.Series.Value)
		case anomaly.DimTeam, anomaly.DimProject:
			nodes = append(nodes, e.Series.Value)
		}
	}
	names, err := r.labels(ctx, tenantID, keys, nodes)
	if err != nil {
		return nil, err
	}
	out := make([]*model.AnomalyEpisode, 0, len(list))
	for _, e := range list {
		label := names[e.Series.Value]
		switch {
		case e.Series.Dimension == anomaly.DimTenant:
			label = "whole tenant"
		case label == "":
			label = e.Series.Value
		}
		out = append(out, &model.AnomalyEpisode{ID: e.ID, Dimension: model.AnomalyDimension(strings.ToUpper(string(e.Series.Dimension))),
			Value: e.Series.Value, Label: label, Severity: model.AnomalySeverity(strings.ToUpper(string(e.Severity))),
			StartedAt: e.StartedAt, LastAnomalousAt: e.LastAnomalousAt, EndedAt: e.EndedAt, PeakHour: e.PeakHour,
			PeakSpend: scalar.Money(e.PeakNanoUSD), PeakExpected: scalar.Money(e.PeakExpectedNanoUSD), PeakScore: e.PeakScore,
			ExcessSpend: scalar.Money(e.ExcessNanoUSD), AnomalousHours: e.AnomalousHours, DetectedAt: e.DetectedAt})
	}
	return out, nil
}

func anomalyAlert(a anomaly.Alert) *model.AnomalyAlert {
	return &model.AnomalyAlert{EpisodeID: a.EpisodeID, Dimension: model.AnomalyDimension(strings.ToUpper(string(a.Dimension))), Value: a.Value, Label: a.Label,
		Severity: model.AnomalySeverity(strings.ToUpper(string(a.Severity))), Hour: a.Hour.UTC(), Observed: scalar.Money(a.ObservedNanoUSD),
		Expected: scalar.Money(a.ExpectedNanoUSD), Score: a.Score, Text: a.Text()}
}

func spendForecast(f *analytics.Forecast) *model.SpendForecast {
	return &model.SpendForecast{PeriodStart: f.PeriodStart, PeriodEnd: f.PeriodEnd, Spent: scalar.Money(f.SpentNanoUSD),
		Expected: scalar.Money(f.ExpectedNanoUSD), Low: scalar.Money(f.LowNanoUSD), High: scalar.Money(f.HighNanoUSD), Method: strings.ToUpper(f.Method)}
}

func (r *Resolver) recommendations(ctx context.Context, tenantID string, list []storedRecommendation) ([]*model.Recommendation, error) {
	var keys []string
	for _, s := range list {
		if s.KeyID != "" {
			keys = append(keys, s.KeyID)
		}
	}
	names, err := r.labels(ctx, tenantID, keys, nil)
	if err != nil {
		return nil, err
	}
	out := make([]*model.Recommendation, 0, len(list))
	for _, s := range list {
		m := &model.Recommendation{ID: s.ID, Kind: model.RecommendationKind(strings.ToUpper(string(s.Kind))), Title: s.Title, Detail: s.Detail,
			Provider: s.Provider, Model: s.Model, Alternative: s.Alternative, CurrentMonthlyCost: scalar.Money(s.CurrentMonthlyNanoUSD),
			MonthlySavings: scalar.Money(s.MonthlySavingsNanoUSD), Requests: int64(s.Events), State: model.RecommendationState(strings.ToUpper(string(s.State))),
			StateChangedAt: s.StateChangedAt, FirstSeenAt: s.FirstSeenAt, RefreshedAt: s.RefreshedAt}
		if s.KeyID != "" {
			id := s.KeyID
			m.KeyID = &id
			if n, ok := names[id]; ok {
				m.KeyName = &n
			}
		}
		if s.StateChangedBy != "" {
			by := s.StateChangedBy
			m.StateChangedBy = &by
		}
		out = append(out, m)
	}
	return out, nil
}
