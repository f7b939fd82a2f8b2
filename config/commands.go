package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go"

	"github.com/spendgate/spendgate/apiserver"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/secrets"
)

// Serve is "spendgate serve": API, gateway, ingest and the demo in one
// process.
type Serve struct {
	ControlPlane   ControlPlane
	Gateway        Gateway
	Pipeline       Pipeline
	Listen         string
	Demo           bool
	FakeListen     string
	ClientIPHeader string
	AddrFile       string
	Limits         apiserver.Limits
	Reconcile      Reconcile
	Mail           Mail
	// Child runs serve's event consumer in a child process (PipelineChild).
	Child PipelineChild
}

func (s *Serve) Register(fs *flag.FlagSet) {
	s.ControlPlane.Register(fs)
	s.Mail.Register(fs)
	s.Gateway.Standalone = false
	s.Gateway.Register(fs)
	fs.StringVar(&s.Listen, "listen", "127.0.0.1:8080", "API listen address (GraphQL, policy and event endpoints)")
	home, _ := os.UserHomeDir()
	s.Pipeline.NATSDefault, s.Pipeline.DataDirDefault = "", filepath.Join(home, ".local", "share", "spendgate")
	s.Pipeline.Register(fs)
	fs.BoolVar(&s.Demo, "demo", true, "create a demo tenant, owner and API key on first start and print how to use them")
	fs.StringVar(&s.FakeListen, "fake-provider-listen", "127.0.0.1:9999", "with --demo: run the fake AI provider here and route openai, anthropic, gemini, azure_openai, bedrock and vertex_ai to it unless --upstream says otherwise (empty: off)")
	fs.StringVar(&s.ClientIPHeader, "client-ip-header", "", clientIPHeaderUsage)
	fs.StringVar(&s.AddrFile, "addr-file", "", "when set, write the bound addresses here as JSON once everything listens (for scripts and tests using port 0)")
	registerAPILimits(fs, &s.Limits)
	s.Reconcile.Register(fs)
	s.Child.Register(fs)
}

// Listens are the addresses serve listens on.
func (s *Serve) Listens() []string {
	l := []string{s.Listen, s.Gateway.Listen}
	if s.Demo && s.FakeListen != "" {
		l = append(l, s.FakeListen)
	}
	return l
}

func (s *Serve) Validate() error {
	return errors.Join(validateLimits(s.Limits), s.ControlPlane.Validate(), s.Pipeline.Validate(), s.Gateway.Validate(), s.Reconcile.Validate(), s.Mail.Validate(),
		s.Child.Validate(&s.Pipeline), s.ControlPlane.CheckDevSecrets(s.Listens()...))
}

func (s *Serve) Endpoints() []Endpoint {
	return append([]Endpoint{{Kind: Postgres, Flag: "postgres-dsn", Address: s.ControlPlane.PostgresDSN}}, s.Pipeline.Endpoints()...)
}

// API is "spendgate api": GraphQL, the portal and the data plane's policy
// endpoint.
type API struct {
	ControlPlane   ControlPlane
	Listen         string
	CHAddr, CHDB   string
	CHCluster      ClickHouseCluster
	NATSURL        string
	Prefix         string
	Partitions     int
	Portal         bool
	ClientIPHeader string
	WebhookAllow   WebhookAllow
	Pricing        Pricing
	Limits         apiserver.Limits
	Reconcile      Reconcile
	Mail           Mail
}

func (a *API) Register(fs *flag.FlagSet) {
	a.ControlPlane.Register(fs)
	a.Mail.Register(fs)
	fs.StringVar(&a.Listen, "listen", "127.0.0.1:8080", "API listen address")
	fs.StringVar(&a.CHAddr, "clickhouse-addr", "127.0.0.1:9000", "ClickHouse with the events, for spend analytics and CSV export (empty: none)")
	fs.StringVar(&a.CHDB, "clickhouse-database", "spendgate", "ClickHouse database the ingest service writes")
	a.CHCluster.Register(fs)
	fs.StringVar(&a.NATSURL, "nats-url", nats.DefaultURL, "NATS of the ingest service, for live budget alerts and dead letters (empty: none)")
	fs.StringVar(&a.Prefix, "stream-prefix", ingest.DefaultConfig().Prefix, "the ingest service's stream prefix")
	fs.IntVar(&a.Partitions, "partitions", ingest.DefaultConfig().Partitions, "the ingest service's --partitions (records of the /v1 record API are published by event id)")
	fs.BoolVar(&a.Portal, "portal", true, "serve the web portal at /")
	fs.StringVar(&a.ClientIPHeader, "client-ip-header", "", clientIPHeaderUsage)
	fs.Var(&a.WebhookAllow, "webhook-allow", webhookAllowUsage)
	a.Pricing.Register(fs)
	registerAPILimits(fs, &a.Limits)
	a.Reconcile.Register(fs)
}

func (a *API) Validate() error {
	var errs []error
	if a.CHAddr != "" && a.CHDB == "" {
		errs = append(errs, errors.New("--clickhouse-database must be set with --clickhouse-addr"))
	}
	if err := a.CHCluster.Validate(a.CHAddr); err != nil {
		errs = append(errs, err)
	}
	if a.Partitions < 1 || a.Partitions > MaxPartitions {
		errs = append(errs, fmt.Errorf("--partitions must be between 1 and %d, as the ingest service's", MaxPartitions))
	}
	if a.NATSURL != "" && a.Prefix == "" {
		errs = append(errs, errors.New("--stream-prefix must be set with --nats-url"))
	}
	return errors.Join(append(errs, validateLimits(a.Limits), a.ControlPlane.Validate(), a.Pricing.Validate(), a.Reconcile.Validate(), a.Mail.Validate(),
		a.ControlPlane.CheckDevSecrets(a.Listen))...)
}

func (a *API) Endpoints() []Endpoint {
	eps := []Endpoint{{Kind: Postgres, Flag: "postgres-dsn", Address: a.ControlPlane.PostgresDSN}}
	if a.NATSURL != "" {
		eps = append(eps, Endpoint{Kind: NATS, Flag: "nats-url", Address: a.NATSURL})
	}
	if a.CHAddr != "" {
		eps = append(eps, clickhouseEndpoints(a.CHAddr, a.CHDB)...)
	}
	return eps
}

// StandaloneGateway is "spendgate gateway".
type StandaloneGateway struct{ Gateway }

func (g *StandaloneGateway) Register(fs *flag.FlagSet) {
	g.Standalone = true
	g.Gateway.Register(fs)
}

// Ingest is "spendgate ingest": the event receiver, the consumer and the
// budget engine.
type Ingest struct {
	Listen       string
	ServiceToken string
	PostgresDSN  string
	// SecretsKey opens what the api sealed that ingest sends: budgets'
	// breach webhook signing secrets.
	SecretsKey string
	Pipeline   Pipeline
	Mail       Mail
}

func (i *Ingest) Register(fs *flag.FlagSet) {
	fs.StringVar(&i.Listen, "listen", "127.0.0.1:8082", "receiver (and reservation endpoints) listen address")
	fs.StringVar(&i.ServiceToken, "service-token", "", "token the data plane sends (required)")
	fs.StringVar(&i.PostgresDSN, "postgres-dsn", DefaultPostgresDSN, "control plane database: pricing overrides and budgets")
	fs.StringVar(&i.SecretsKey, "secrets-key", "", "the api's --secrets-key: opens budgets' breach webhook signing secrets (without it breach webhooks are not sent)")
	i.Pipeline.NATSDefault, i.Pipeline.DataDirDefault = nats.DefaultURL, "./spendgate-data"
	i.Pipeline.Register(fs)
	i.Mail.Register(fs)
}

func (i *Ingest) Validate() error {
	var errs []error
	if i.SecretsKey != "" {
		if _, err := secrets.Parse(i.SecretsKey); err != nil {
			errs = append(errs, fmt.Errorf("--secrets-key: %w", err))
		}
	}
	if i.ServiceToken == "" {
		errs = append(errs, errors.New("--service-token (or SPENDGATE_SERVICE_TOKEN) is required"))
	}
	if i.PostgresDSN == "" {
		errs = append(errs, errors.New("--postgres-dsn must not be empty"))
	}
	return errors.Join(append(errs, i.Pipeline.Validate(), i.Mail.Validate())...)
}

func (i *Ingest) Endpoints() []Endpoint {
	return append([]Endpoint{{Kind: Postgres, Flag: "postgres-dsn", Address: i.PostgresDSN}}, i.Pipeline.Endpoints()...)
}

// Migrate is "spendgate migrate".
type Migrate struct{ PostgresDSN string }

func (m *Migrate) Register(fs *flag.FlagSet) {
	fs.StringVar(&m.PostgresDSN, "postgres-dsn", DefaultPostgresDSN, "Postgres connection string")
}

func (m *Migrate) Validate() error {
	if m.PostgresDSN == "" {
		return errors.New("--postgres-dsn must not be empty")
	}
	return nil
}

func (m *Migrate) Endpoints() []Endpoint {
	return []Endpoint{{Kind: Postgres, Flag: "postgres-dsn", Address: m.PostgresDSN}}
}
