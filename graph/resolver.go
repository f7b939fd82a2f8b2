// Package graph is spendgate's GraphQL API: gqlgen-generated code from
// schema.graphqls plus thin resolvers that convert arguments and call the
// control plane (management) and analytics services, which validate,
// authorize and audit.
package graph

//go:generate go run github.com/99designs/gqlgen generate

import (
	"context"
	"log/slog"

	"github.com/spendgate/spendgate/analytics"
	anomalysvc "github.com/spendgate/spendgate/anomaly/service"
	"github.com/spendgate/spendgate/billing"
	sgbudget "github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/budget/alerts"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/pricing/revision"
	recommendsvc "github.com/spendgate/spendgate/recommend/service"
	"github.com/spendgate/spendgate/reconcile"
	reportservice "github.com/spendgate/spendgate/report/service"
	"github.com/spendgate/spendgate/reprice"
)

// AlertFeed streams a tenant's budget alerts live (budget/alerts.Feed).
type AlertFeed interface {
	Subscribe(ctx context.Context, tenantID string) (<-chan sgbudget.Alert, error)
}

// TickFeed streams a tenant's spend ticks live (budget/alerts.Ticks).
type TickFeed interface {
	Subscribe(ctx context.Context, tenantID string) (<-chan alerts.SpendTick, error)
}

// DeadLetters lists and replays a tenant's dead letters (ingest.DLQ).
type DeadLetters interface {
	List(ctx context.Context, tenantID string, limit int) ([]ingest.DeadLetter, error)
	Replay(ctx context.Context, tenantID string, seq uint64) error
}

// Resolver is the root resolver.
type Resolver struct {
	CP        *controlplane.Service
	Analytics *analytics.Service
	// Alerts feeds the budgetAlerts subscription; nil answers it with an error.
	Alerts AlertFeed
	// Ticks feeds the spendTicks subscription; nil answers it with an error.
	Ticks TickFeed
	// DLQ serves deadLetters and replayDeadLetter; nil: not available.
	DLQ DeadLetters
	// Reprice serves repriceUnpricedEvents; nil: not available.
	Reprice *reprice.Service
	// Catalogue answers pricingCatalogue (the applied revision in force);
	// nil: the embedded catalogue.
	Catalogue pricing.Source
	// Revisions serves pricing revisions; nil: not available.
	Revisions *revision.Service
	// AnomalyService lists anomaly episodes; AnomalyFeed feeds the anomalyAlerts
	// subscription; RecommendService serves savings recommendations (nil:
	// not available).
	AnomalyService   *anomalysvc.Service
	AnomalyFeed      AnomalyFeed
	RecommendService *recommendsvc.Service
	// Billing serves invoices and chargeback statements; nil: not available.
	Billing *billing.Service
	// Reconcile serves provider connections and reconciliation; nil: not
	// available.
	Reconcile *reconcile.Service
	// ReportService serves scheduled reports; nil: not available.
	ReportService *reportservice.Service
	Log           *slog.Logger
}
