package pgstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spendgate/spendgate/anomaly"
	anomalypg "github.com/spendgate/spendgate/anomaly/pgstore"
	"github.com/spendgate/spendgate/recommend"
	recommendpg "github.com/spendgate/spendgate/recommend/pgstore"
	"github.com/spendgate/spendgate/report"
)

// Anomalies is the report's anomalies section over the detector's
// episodes (anomaly/pgstore): every episode of the tenant overlapping the
// period for a tenant report, the team's or project's own series for a
// team or project report.
type Anomalies struct {
	Episodes *anomalypg.Store
	Names    Names
}

// maxAnomalies bounds the section (newest first).
const maxAnomalies = 50

// Anomalies lists the scope's episodes overlapping [from, to).
func (a Anomalies) Anomalies(ctx context.Context, tenantID string, scope report.Scope, from, to time.Time) ([]report.Anomaly, error) {
	q := anomalypg.ListQuery{TenantID: tenantID, From: from, To: to, Limit: maxAnomalies}
	switch scope.Kind {
	case report.ScopeTeam:
		q.Dimension = anomaly.DimTeam
	case report.ScopeProject:
		q.Dimension = anomaly.DimProject
	}
	eps, err := a.Episodes.List(ctx, q)
	if err != nil {
		return nil, err
	}
	var keys, nodes []string
	for _, e := range eps {
		switch e.Series.Dimension {
		case anomaly.DimKey:
			keys = append(keys, e.Series.Value)
		case anomaly.DimTeam, anomaly.DimProject:
			nodes = append(nodes, e.Series.Value)
		}
	}
	keyNames, err := a.Names.KeyNames(ctx, tenantID, keys)
	if err != nil {
		return nil, err
	}
	nodeNames, err := a.Names.NodeNames(ctx, tenantID, nodes)
	if err != nil {
		return nil, err
	}
	out := []report.Anomaly{}
	for _, e := range eps {
		if scope.Kind != report.ScopeTenant && e.Series.Value != scope.NodeID {
			continue
		}
		subject := string(e.Series.Dimension) + " " + e.Series.Value
		switch e.Series.Dimension {
		case anomaly.DimTenant:
			subject = "the whole tenant"
		case anomaly.DimKey:
			subject = "key " + cmpOr(keyNames[e.Series.Value], e.Series.Value)
		case anomaly.DimTeam, anomaly.DimProject:
			subject = string(e.Series.Dimension) + " " + cmpOr(nodeNames[e.Series.Value], e.Series.Value)
		}
		out = append(out, report.Anomaly{Start: e.StartedAt, Subject: subject, Severity: string(e.Severity),
			ExpectedNanoUSD: e.PeakExpectedNanoUSD, ActualNanoUSD: e.PeakNanoUSD,
			Description: fmt.Sprintf("%d anomalous hours, %s above the usual in all", e.AnomalousHours, report.USD(e.ExcessNanoUSD))})
	}
	return out, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Recommendations is the report's recommendations section over the open
// savings recommendations (recommend/pgstore): all of the tenant's for a
// tenant report; for a team or project those of its keys.
type Recommendations struct {
	Store *Store
	Saved *recommendpg.Store
}

// OpenRecommendations lists the scope's open recommendations.
func (r Recommendations) OpenRecommendations(ctx context.Context, tenantID string, scope report.Scope) ([]report.Recommendation, error) {
	recs, err := r.Saved.List(ctx, tenantID, recommend.StateOpen)
	if err != nil {
		return nil, err
	}
	var keys []string
	if scope.Kind != report.ScopeTenant {
		if keys, err = r.Store.scopeKeys(ctx, tenantID, scope); err != nil {
			return nil, err
		}
	}
	out := []report.Recommendation{}
	for _, x := range recs {
		if scope.Kind != report.ScopeTenant && (x.KeyID == "" || !slices.Contains(keys, x.KeyID)) {
			continue
		}
		out = append(out, report.Recommendation{Title: x.Title, Detail: x.Detail, EstimatedMonthlySavingsNanoUSD: x.MonthlySavingsNanoUSD})
	}
	return out, nil
}

// scopeKeys lists the keys of a team's projects or of a project.
func (s *Store) scopeKeys(ctx context.Context, tenantID string, scope report.Scope) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT k.id::text FROM api_keys k JOIN projects p ON p.tenant_id = k.tenant_id AND p.id = k.project_id
		WHERE k.tenant_id = $1 AND (p.id::text = $2 OR p.team_id::text = $2)`, tenantID, scope.NodeID)
	if err != nil {
		return nil, fmt.Errorf("report: keys of the %s: %w", scope.Kind, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

var (
	_ report.AnomalySource        = Anomalies{}
	_ report.RecommendationSource = Recommendations{}
)
