// Package graph is spendgate's GraphQL API: gqlgen-generated code from
// schema.graphqls plus thin resolvers that convert arguments and call the
// control plane, which validates, authorizes and audits.
package graph

//go:generate go tool gqlgen generate

import (
	"log/slog"

	"github.com/spendgate/spendgate/controlplane"
)

// Resolver is the root resolver.
type Resolver struct {
	CP  *controlplane.Service
	Log *slog.Logger
}
