// Package config is the configuration model of the spendgate commands: the
// flags of each long-running command (serve, api, gateway, ingest, migrate),
// their defaults, and the checks of their values and combinations. The
// commands register these flags, and `spendgate config docs` and
// `spendgate config check` read the very same flag sets, so the reference
// page, the checker and the running binary cannot disagree.
//
// Every flag can also be set through the environment as SPENDGATE_<FLAG>
// (internal/envflag); a flag on the command line wins.
package config

import (
	"flag"
)

// Options is one command's configuration: it registers its flags and, once
// they are parsed, says what is wrong with their values.
type Options interface {
	Register(fs *flag.FlagSet)
	// Validate returns every problem found (errors.Join), without touching
	// the network or the disk.
	Validate() error
	// Endpoints are the outside services the command would connect to with
	// these values, for `spendgate config check --connect`.
	Endpoints() []Endpoint
}

// EndpointKind says which kind of service an Endpoint is.
type EndpointKind string

const (
	Postgres   EndpointKind = "postgres"
	NATS       EndpointKind = "nats"
	ClickHouse EndpointKind = "clickhouse"
	HTTP       EndpointKind = "http"
)

// Endpoint is an outside service a command connects to: Flag names the
// flag that configures it, Address is its value (a DSN, URL or host:port;
// Database is ClickHouse's database).
type Endpoint struct {
	Kind     EndpointKind
	Flag     string
	Address  string
	Database string
}

// DefaultPostgresDSN is the Postgres of one machine.
const DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/spendgate?sslmode=disable"
