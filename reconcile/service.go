package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/schedule"
	"github.com/spendgate/spendgate/secrets"
	"github.com/spendgate/spendgate/spend"
)

// Authorizer checks the caller's role in a tenant (the control plane).
type Authorizer interface {
	Authorize(ctx context.Context, tenantID string, need controlplane.Role) (auth.Principal, error)
}

// Store keeps connections, pages, reported rows, settings and drift alerts
// (reconcile/pgstore). Mutations taking a principal audit themselves in
// their transaction.
type Store interface {
	CreateConnection(ctx context.Context, p auth.Principal, c *SealedConnection) (Connection, error)
	// UpdateConnection locks the connection, lets change edit it and
	// return the audit details, and saves it.
	UpdateConnection(ctx context.Context, p auth.Principal, tenantID, id string, change func(*SealedConnection) (map[string]any, error)) (Connection, error)
	DeleteConnection(ctx context.Context, p auth.Principal, tenantID, id string) error
	Connection(ctx context.Context, tenantID, id string) (SealedConnection, error)
	Connections(ctx context.Context, tenantID string) ([]Connection, error)
	// DataKeys lists the tenant's enabled connections that hold a
	// data-plane key, oldest first.
	DataKeys(ctx context.Context, tenantID string) ([]SealedConnection, error)
	// EnabledConnections lists every tenant's enabled connections of
	// pulled providers (the scheduled sync).
	EnabledConnections(ctx context.Context) ([]SealedConnection, error)

	StartRun(ctx context.Context, connectionID string) error
	Progress(ctx context.Context, connectionID, progress string) error
	FinishRun(ctx context.Context, connectionID string, pages, rows int, runErr string) error

	RecordPage(ctx context.Context, pg *Page) (int64, error)
	Pages(ctx context.Context, tenantID, connectionID string, limit int, beforeID int64) ([]Page, error)
	Page(ctx context.Context, tenantID string, id int64) (Page, error)
	PurgePages(ctx context.Context, fetchedBefore time.Time) (int64, error)
	// Audit records an action outside the store's own mutations (a sync,
	// an import, a page download) in the tenant's audit log.
	Audit(ctx context.Context, p auth.Principal, tenantID, action, targetType, targetID string, details map[string]any) error

	// ReplaceReported replaces the connection's rows of days [from, to)
	// with rows: providers revise recent buckets, and a bucket that
	// disappeared must not linger.
	ReplaceReported(ctx context.Context, c *Connection, from, to time.Time, rows []ReportedRow) error
	Reported(ctx context.Context, tenantID string, p Provider, from, to time.Time) ([]ReportedRow, error)

	Settings(ctx context.Context, tenantID string) (Settings, error)
	SetSettings(ctx context.Context, p auth.Principal, tenantID string, s Settings) error

	// RecordDriftAlert stores a drift alert unless one exists for its
	// tenant, provider, day and threshold; inserted says which.
	RecordDriftAlert(ctx context.Context, a *DriftAlert) (inserted bool, err error)
	DriftAlerts(ctx context.Context, tenantID string, limit int) ([]DriftAlert, error)
	UndeliveredDriftAlerts(ctx context.Context, limit int) ([]DriftAlert, error)
	MarkDriftAlert(ctx context.Context, id int64, deliveryErr string) error
}

// MeteredSpend answers metered spend per day (store/clickhouse.Analytics).
type MeteredSpend interface {
	TimeSeries(ctx context.Context, s spend.Spec) ([]spend.Point, error)
}

// Fetcher pulls a provider's reports (reconcile/pull.Client).
type Fetcher interface {
	Fetch(ctx context.Context, p Provider, baseURL, adminKey string, from, to time.Time,
		rec func(context.Context, Page) error) ([]ReportedRow, error)
	ParseBillingExport(body []byte, format string) ([]ReportedRow, error)
}

// Notifier delivers a drift alert on the budget alert channels.
type Notifier interface {
	NotifyDrift(ctx context.Context, a *DriftAlert, webhookURL string) error
}

// Budgets re-evaluates a tenant's budgets that count provider-reported
// spend once reports of days [from, to) are stored (budget/service), so a
// threshold or hard cap reached by reported spend alerts and blocks at
// once rather than at the next metered call.
type Budgets interface {
	ReportedChanged(ctx context.Context, tenantID string, from, to time.Time) error
}

// SetBudgets installs the budget re-evaluation (nil: none); call before
// serving.
func (s *Service) SetBudgets(b Budgets) { s.budgets = b }

// Scheduler is the scheduler's view of the sync jobs (schedule.Runner).
type Scheduler interface {
	Statuses(ctx context.Context, prefix string) ([]schedule.Status, error)
	Forget(ctx context.Context, name string) error
}

// SetScheduler lets connections show their next scheduled sync and forgets
// a deleted connection's job; call before serving.
func (s *Service) SetScheduler(sc Scheduler) { s.sched = sc }

// Config is the operator's part.
type Config struct {
	// BaseURLs overrides providers' admin API roots (a proxy, the fake
	// provider of `make run` and tests); operator-set only, so tenants
	// cannot point spendgate's requests anywhere.
	BaseURLs map[Provider]string
	// Retention is how long raw pages are kept (default 90 days).
	Retention time.Duration
	// MaxImportBytes bounds one imported billing export (default 8 MiB).
	MaxImportBytes int
}

// Service is the reconciliation API and the sync.
type Service struct {
	auth    Authorizer
	store   Store
	metered MeteredSpend // nil: no ClickHouse
	fetch   Fetcher
	notify  Notifier // nil: alerts are recorded, not delivered
	keyring *secrets.Keyring
	cfg     Config
	sched   Scheduler // nil: no schedule status
	budgets Budgets   // nil: reports do not count toward budgets
	log     *slog.Logger
	Now     func() time.Time
}

// New builds the service.
func New(a Authorizer, store Store, metered MeteredSpend, fetch Fetcher, notify Notifier, keyring *secrets.Keyring, cfg Config, log *slog.Logger) *Service {
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.MaxImportBytes <= 0 {
		cfg.MaxImportBytes = 8 << 20
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{auth: a, store: store, metered: metered, fetch: fetch, notify: notify, keyring: keyring, cfg: cfg, log: log, Now: time.Now}
}

// Retention is how long raw pages are kept.
func (s *Service) Retention() time.Duration { return s.cfg.Retention }

func (s *Service) seal(plaintext, aad string) (string, error) {
	v, err := s.keyring.SealString(plaintext, aad)
	if errors.Is(err, secrets.ErrNoKeyring) {
		return "", &apierr.Error{Code: apierr.CodeUnavailable, Message: "provider keys cannot be stored: the operator has not set " + secrets.EnvVar, Cause: err}
	}
	return v, err
}

func (s *Service) open(sealed, aad string) (string, error) {
	v, err := s.keyring.OpenString(sealed, aad)
	if err != nil {
		return "", fmt.Errorf("the stored provider key cannot be opened with the configured %s: %w", secrets.EnvVar, err)
	}
	return v, nil
}

// --- connections ---

// CreateConnection stores a new connection (admins); the keys are sealed
// and only their last four characters are ever shown again.
func (s *Service) CreateConnection(ctx context.Context, tenantID string, in ConnectionInput) (Connection, error) {
	p, err := s.auth.Authorize(ctx, tenantID, controlplane.RoleAdmin)
	if err != nil {
		return Connection{}, err
	}
	if err := in.Validate(true); err != nil {
		return Connection{}, err
	}
	prov, _ := ParseProvider(in.Provider)
	c := &SealedConnection{Connection: Connection{ID: uuid.NewString(), TenantID: tenantID, Provider: prov,
		Name: strings.TrimSpace(*in.Name), LookbackDays: DefaultLookbackDays, Enabled: true}}
	if in.LookbackDays != nil {
		c.LookbackDays = *in.LookbackDays
	}
	if in.Enabled != nil {
		c.Enabled = *in.Enabled
	}
	if err := s.setKeys(c, in); err != nil {
		return Connection{}, err
	}
	return s.store.CreateConnection(ctx, p, c)
}

// setKeys seals the input's keys into c.
func (s *Service) setKeys(c *SealedConnection, in ConnectionInput) error {
	for _, k := range []struct {
		which  string
		in     *string
		sealed *string
		last4  *string
	}{{"admin", in.AdminKey, &c.AdminKeySealed, &c.AdminKeyLast4}, {"data", in.DataKey, &c.DataKeySealed, &c.DataKeyLast4}} {
		if k.in == nil {
			continue
		}
		if *k.in == "" {
			*k.sealed, *k.last4 = "", ""
			continue
		}
		v, err := s.seal(*k.in, SecretAAD(c.ID, k.which))
		if err != nil {
			return err
		}
		*k.sealed, *k.last4 = v, Last4(*k.in)
	}
	return nil
}

// UpdateConnection changes a connection (admins).
func (s *Service) UpdateConnection(ctx context.Context, tenantID, id string, in ConnectionInput) (Connection, error) {
	p, err := s.auth.Authorize(ctx, tenantID, controlplane.RoleAdmin)
	if err != nil {
		return Connection{}, err
	}
	if err := checkID(id); err != nil {
		return Connection{}, err
	}
	if in.Provider != "" {
		return Connection{}, invalid("a connection's provider cannot change; create another connection")
	}
	if err := in.Validate(false); err != nil {
		return Connection{}, err
	}
	return s.store.UpdateConnection(ctx, p, tenantID, id, func(c *SealedConnection) (map[string]any, error) {
		details := map[string]any{}
		if in.Name != nil {
			c.Name = strings.TrimSpace(*in.Name)
			details["name"] = c.Name
		}
		if in.LookbackDays != nil {
			c.LookbackDays = *in.LookbackDays
			details["lookback_days"] = c.LookbackDays
		}
		if in.Enabled != nil {
			c.Enabled = *in.Enabled
			details["enabled"] = c.Enabled
		}
		if in.AdminKey != nil && *in.AdminKey == "" && c.Provider.Pulled() {
			return nil, invalid("an %s connection needs its admin key; set another instead of removing it", c.Provider)
		}
		if err := s.setKeys(c, in); err != nil {
			return nil, err
		}
		// Audit that a key changed and its new last four, never the key.
		if in.AdminKey != nil {
			details["admin_key_last4"] = c.AdminKeyLast4
		}
		if in.DataKey != nil {
			details["data_key_last4"] = c.DataKeyLast4
		}
		return details, nil
	})
}

// DeleteConnection removes a connection with its pages and reported rows
// (admins).
func (s *Service) DeleteConnection(ctx context.Context, tenantID, id string) error {
	p, err := s.auth.Authorize(ctx, tenantID, controlplane.RoleAdmin)
	if err != nil {
		return err
	}
	if err := checkID(id); err != nil {
		return err
	}
	if err := s.store.DeleteConnection(ctx, p, tenantID, id); err != nil {
		return err
	}
	if s.sched != nil {
		if err := s.sched.Forget(ctx, JobName(tenantID, id)); err != nil {
			s.log.Warn("reconcile: the deleted connection's job row stays", "connection", id, "err", err)
		}
	}
	return nil
}

// Connections lists a tenant's connections (admins).
func (s *Service) Connections(ctx context.Context, tenantID string) ([]Connection, error) {
	if _, err := s.auth.Authorize(ctx, tenantID, controlplane.RoleAdmin); err != nil {
		return nil, err
	}
	cs, err := s.store.Connections(ctx, tenantID)
	if err != nil || s.sched == nil {
		return cs, err
	}
	sts, err := s.sched.Statuses(ctx, JobName(tenantID, ""))
	if err != nil {
		return nil, err
	}
	byName := map[string]schedule.Status{}
	for _, st := range sts {
		byName[st.Name] = st
	}
	for i := range cs {
		if st, ok := byName[JobName(tenantID, cs[i].ID)]; ok {
			next := st.NextRunAt
			cs[i].Run.NextRunAt = &next
		}
	}
	return cs, nil
}

// Connection reads one connection (admins).
func (s *Service) Connection(ctx context.Context, tenantID, id string) (Connection, error) {
	if _, err := s.auth.Authorize(ctx, tenantID, controlplane.RoleAdmin); err != nil {
		return Connection{}, err
	}
	if err := checkID(id); err != nil {
		return Connection{}, err
	}
	c, err := s.store.Connection(ctx, tenantID, id)
	return c.Connection, err
}

func checkID(id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return invalid("connection id %q is not a valid id", id)
	}
	return nil
}

// --- raw pages ---

// MaxPages is the largest page of raw pages a listing answers.
const MaxPages = 200

// Pages lists a connection's raw pages, newest first, without bodies
// (admins). beforeID > 0 continues a listing.
func (s *Service) Pages(ctx context.Context, tenantID, connectionID string, first int, beforeID int64) ([]Page, error) {
	if _, err := s.auth.Authorize(ctx, tenantID, controlplane.RoleAdmin); err != nil {
		return nil, err
	}
	if connectionID != "" {
		if err := checkID(connectionID); err != nil {
			return nil, err
		}
	}
	if first <= 0 {
		first = 50
	}
	if first > MaxPages {
		return nil, invalid("first must be at most %d", MaxPages)
	}
	return s.store.Pages(ctx, tenantID, connectionID, first, beforeID)
}

// DownloadPage answers one raw page with its body as received (admins);
// every download is audited.
func (s *Service) DownloadPage(ctx context.Context, tenantID string, id int64) (Page, error) {
	p, err := s.auth.Authorize(ctx, tenantID, controlplane.RoleAdmin)
	if err != nil {
		return Page{}, err
	}
	pg, err := s.store.Page(ctx, tenantID, id)
	if err != nil {
		return Page{}, err
	}
	return pg, s.store.Audit(ctx, p, tenantID, "provider_page.download", "provider_page", strconv.FormatInt(id, 10),
		map[string]any{"connection_id": pg.ConnectionID, "sha256": pg.SHA256})
}

// PurgePages deletes raw pages older than the retention.
func (s *Service) PurgePages(ctx context.Context) (int64, error) {
	return s.store.PurgePages(ctx, s.Now().Add(-s.cfg.Retention))
}

// --- settings ---

// Settings reads a tenant's reconciliation settings (viewers).
func (s *Service) Settings(ctx context.Context, tenantID string) (Settings, error) {
	if _, err := s.auth.Authorize(ctx, tenantID, controlplane.RoleViewer); err != nil {
		return Settings{}, err
	}
	return s.store.Settings(ctx, tenantID)
}

// SetSettings changes them (admins). The webhook URL must be https (or
// http to a destination the operator allows; checked when dialled).
func (s *Service) SetSettings(ctx context.Context, tenantID string, st Settings) (Settings, error) {
	p, err := s.auth.Authorize(ctx, tenantID, controlplane.RoleAdmin)
	if err != nil {
		return Settings{}, err
	}
	st.WebhookURL = strings.TrimSpace(st.WebhookURL)
	if err := st.Validate(); err != nil {
		return Settings{}, err
	}
	if st.WebhookURL != "" && !strings.HasPrefix(st.WebhookURL, "https://") && !strings.HasPrefix(st.WebhookURL, "http://") {
		return Settings{}, invalid("alertWebhookUrl must be an http(s) URL")
	}
	return st, s.store.SetSettings(ctx, p, tenantID, st)
}

// SetDefaultBaseURL points provider p's admin API at url unless the
// operator configured one (serve's demo: its fake provider, whose address
// is known only once it listens); call before serving.
func (s *Service) SetDefaultBaseURL(p Provider, url string) {
	if s.cfg.BaseURLs == nil {
		s.cfg.BaseURLs = map[Provider]string{}
	}
	if _, set := s.cfg.BaseURLs[p]; !set {
		s.cfg.BaseURLs[p] = url
	}
}
