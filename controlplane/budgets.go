package controlplane

import (
	"context"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/budget"
	"github.com/spendgate/spendgate/egress"
	"github.com/spendgate/spendgate/meter"
	"github.com/spendgate/spendgate/org"
	"github.com/spendgate/spendgate/org/orgstore"
)

// Budget limits spend of a scope per period. The rules (scopes, periods,
// amounts, thresholds, what a scope names) are package budget's.
type Budget struct {
	ID, TenantID, Name, Scope, Period string
	WorkspaceID, TeamID, ProjectID    *string
	KeyID, Provider, Model            *string
	DimensionName, DimensionVal       *string
	AmountNanoUSD                     int64
	Thresholds                        []int
	Hard, Rollover                    bool
	WebhookURL                        *string
	AlertEmails                       []string
	// SpendBasis is budget.BasisMetered or budget.BasisMaxMeteredReported.
	SpendBasis string
	// BreachWebhookURL is called once per period when a hard cap is
	// reached; its signing secret is write-only (BreachWebhookSigned).
	BreachWebhookURL     string
	BreachWebhookSigned  bool
	CreatedAt, UpdatedAt time.Time
}

// BudgetInput is a budget as created or replaced.
type BudgetInput struct {
	Name, Scope, Period            string
	WorkspaceID, TeamID, ProjectID *string
	KeyID, Provider, Model         *string
	DimensionName, DimensionVal    *string
	AmountNanoUSD                  int64
	Thresholds                     []int
	Hard, Rollover                 bool
	WebhookURL                     *string
	// AlertEmails receive the budget's alerts by email (the server needs
	// SMTP; see SetAlertEmail).
	AlertEmails []string
	// SpendBasis: "" or metered, or max_metered_reported (tenant and
	// openai/anthropic provider budgets only; package budget decides).
	SpendBasis string
	// BreachWebhookURL (hard budgets) is called once per period when the
	// cap is reached, signed with BreachWebhookSecret. The secret is
	// required with a new URL; on update nil keeps the stored one.
	BreachWebhookURL    *string
	BreachWebhookSecret *string
}

const budgetColumns = `id, tenant_id, name, scope, period, workspace_id::text, team_id::text, project_id::text, key_id::text, provider, model,
	dimension_name, dimension_value, amount_nano_usd, thresholds, hard, rollover, webhook_url, alert_emails,
	spend_basis, breach_webhook_url, breach_webhook_secret_sealed <> '', created_at, updated_at`

func scanBudget(r pgx.Row) (Budget, error) {
	var b Budget
	var th []int32
	err := r.Scan(&b.ID, &b.TenantID, &b.Name, &b.Scope, &b.Period, &b.WorkspaceID, &b.TeamID, &b.ProjectID, &b.KeyID, &b.Provider, &b.Model,
		&b.DimensionName, &b.DimensionVal, &b.AmountNanoUSD, &th, &b.Hard, &b.Rollover, &b.WebhookURL, &b.AlertEmails,
		&b.SpendBasis, &b.BreachWebhookURL, &b.BreachWebhookSigned, &b.CreatedAt, &b.UpdatedAt)
	for _, t := range th {
		b.Thresholds = append(b.Thresholds, int(t))
	}
	return b, err
}

// BudgetService manages budgets.
type BudgetService struct {
	*core
	// egress says which webhook destinations are allowed (nil: public only);
	// resolver looks their names up (nil: the system's).
	egress   *egress.Policy
	resolver egress.Resolver
	// alertEmail says whether the server can email alerts (SMTP configured).
	alertEmail bool
	// reported brings a budget that counts provider-reported spend up to
	// date with the stored reports when it is saved (nil: at the next
	// report sync).
	reported ReportedBudgets
}

// ReportedBudgets re-evaluates a tenant's budgets that count
// provider-reported spend over days [from, to) (budget/service).
type ReportedBudgets interface {
	ReportedChanged(ctx context.Context, tenantID string, from, to time.Time) error
}

// CountReportedWith makes a budget saved with the reported spend basis count
// the reports already stored at once, instead of at the next report sync;
// call before serving.
func (s *BudgetService) CountReportedWith(r ReportedBudgets) { s.reported = r }

// countReported brings b's current period up to date with the stored
// provider reports when b counts them. The budget is saved already, so a
// failure is logged: the next report sync applies them.
func (s *BudgetService) countReported(ctx context.Context, b *Budget) {
	if s.reported == nil || b.SpendBasis != string(budget.BasisMaxMeteredReported) {
		return
	}
	now := s.now()
	if err := s.reported.ReportedChanged(ctx, b.TenantID, now, now.Add(time.Second)); err != nil {
		s.log.Warn("budget saved; its provider-reported spend counts from the next report sync", "budget", b.ID, "err", err)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// rule is in's budget as package budget checks it.
func (in *BudgetInput) rule() *budget.Budget {
	return &budget.Budget{Name: in.Name, Scope: budget.Scope(in.Scope), Period: budget.Period(in.Period),
		WorkspaceID: deref(in.WorkspaceID), TeamID: deref(in.TeamID), ProjectID: deref(in.ProjectID), KeyID: deref(in.KeyID),
		Provider: deref(in.Provider), Model: deref(in.Model), DimensionName: deref(in.DimensionName), DimensionValue: deref(in.DimensionVal),
		AmountNanoUSD: in.AmountNanoUSD, Thresholds: in.Thresholds, Hard: in.Hard, Rollover: in.Rollover,
		SpendBasis: budget.SpendBasis(in.SpendBasis), BreachWebhookURL: deref(in.BreachWebhookURL)}
}

// validateBudget checks in by package budget's rules and that what its
// scope names exists in the tenant, and returns where in the tree the
// budget sits (its node, the key's project, or the zero path for
// tenant-wide scopes) for authorization.
func (s *BudgetService) validateBudget(ctx context.Context, q orgstore.Querier, tenantID string, in *BudgetInput) (org.Path, error) {
	var err error
	if in.Name, err = cleanName("name", in.Name); err != nil {
		return org.Path{}, err
	}
	r := in.rule()
	if err := r.Validate(); err != nil {
		return org.Path{}, apierr.Invalid("%s", strings.TrimPrefix(err.Error(), budget.ErrInvalid.Error()+": "))
	}
	in.Thresholds, in.SpendBasis = r.Thresholds, string(r.SpendBasis)
	if err := validateWebhook(ctx, s.egress, s.resolver, in.WebhookURL); err != nil {
		return org.Path{}, err
	}
	if err := validateWebhook(ctx, s.egress, s.resolver, in.BreachWebhookURL); err != nil {
		return org.Path{}, err
	}
	if in.BreachWebhookSecret != nil && *in.BreachWebhookSecret != "" {
		if n := len(*in.BreachWebhookSecret); n < MinBreachSecret || n > 200 {
			return org.Path{}, invalid("the breach webhook signing secret must be %d to 200 characters, got %d", MinBreachSecret, n)
		}
	}
	if in.AlertEmails, err = s.validateAlertEmails(in.AlertEmails); err != nil {
		return org.Path{}, err
	}
	node := func(id, kind string) (org.Path, error) {
		n, err := s.visibleNode(ctx, tenantID, id)
		if err != nil {
			return org.Path{}, err
		}
		if n.Kind != kind {
			return org.Path{}, notFound(kind)
		}
		return n.Path, nil
	}
	switch r.Scope {
	case budget.ScopeWorkspace:
		return node(r.WorkspaceID, KindWorkspace)
	case budget.ScopeTeam:
		return node(r.TeamID, KindTeam)
	case budget.ScopeProject:
		return node(r.ProjectID, KindProject)
	case budget.ScopeKey:
		if _, err := getKey(ctx, q, tenantID, r.KeyID); err != nil {
			return org.Path{}, err
		}
		return keyPath(ctx, q, tenantID, r.KeyID)
	case budget.ScopeProvider, budget.ScopeModel:
		if r.Provider != "" {
			if !meter.KnownProvider(r.Provider) {
				return org.Path{}, invalid("unknown provider %q", r.Provider)
			}
		}
		if len(r.Model) > 200 {
			return org.Path{}, invalid("model must be at most 200 characters")
		}
	case budget.ScopeDimension:
		if err := validatePolicy(&KeyPolicy{DefaultDimensions: map[string]string{r.DimensionName: r.DimensionValue}}); err != nil {
			return org.Path{}, err
		}
	}
	return org.Path{}, nil
}

// budgetPath is where a stored budget sits in the tree.
func budgetPath(ctx context.Context, q orgstore.Querier, b *Budget) (org.Path, error) {
	switch {
	case b.WorkspaceID != nil:
		return org.Path{WorkspaceID: *b.WorkspaceID}, nil
	case b.TeamID != nil || b.ProjectID != nil:
		n, err := getNode(ctx, q, b.TenantID, deref(b.TeamID)+deref(b.ProjectID))
		return n.Path, err
	case b.KeyID != nil:
		return keyPath(ctx, q, b.TenantID, *b.KeyID)
	}
	return org.Path{}, nil
}

// readableBudgets keeps the budgets a caller with access a reads.
func readableBudgets(ctx context.Context, q orgstore.Querier, a org.Access, list []Budget) ([]Budget, error) {
	if !a.Scoped() {
		return list, nil
	}
	out := list[:0]
	for _, b := range list {
		at, err := budgetPath(ctx, q, &b)
		if err != nil {
			return nil, err
		}
		if a.Can(org.Read, at) {
			out = append(out, b)
		}
	}
	return out, nil
}

// Budgets lists a tenant's budgets.
// A scoped caller sees the budgets of its subtrees only (a page may then
// hold fewer items than asked, and still have a next page).
func (s *BudgetService) Budgets(ctx context.Context, tenantID string, page Page) (Connection[Budget], error) {
	_, a, err := s.rights(ctx, tenantID)
	if err != nil {
		return Connection[Budget]{}, err
	}
	c, err := listPage(ctx, s.db, page, byCreated, `SELECT `+budgetColumns+` FROM budgets WHERE tenant_id = $1`, []any{tenantID},
		scanBudget, func(b Budget) (time.Time, string) { return b.CreatedAt, b.ID })
	if err != nil || !a.Scoped() {
		return c, err
	}
	var keep Connection[Budget]
	keep.HasNextPage = c.HasNextPage
	for i, b := range c.Items {
		at, err := budgetPath(ctx, s.db, &b)
		if err != nil {
			return Connection[Budget]{}, err
		}
		if a.Can(org.Read, at) {
			keep.Items = append(keep.Items, b)
			keep.Cursors = append(keep.Cursors, c.Cursors[i])
		}
	}
	return keep, nil
}

// KeyBudgets lists the budgets that name a key.
func (s *BudgetService) KeyBudgets(ctx context.Context, tenantID, keyID string) ([]Budget, error) {
	if _, err := s.authorizeKey(ctx, tenantID, keyID, org.Read); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+budgetColumns+` FROM budgets WHERE tenant_id = $1 AND key_id = $2 ORDER BY created_at`, tenantID, keyID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Budget, error) { return scanBudget(r) })
}

// BudgetsCoveringKey lists every budget that limits a key's spend, oldest
// first: the tenant's, its workspace's, team's and project's, the key's own,
// and the dimension budgets matching one of the key's default dimensions.
// (A call can name other dimension values in its headers, and each call
// names a provider and model; budgets on those apply to that call too.)
func (s *BudgetService) BudgetsCoveringKey(ctx context.Context, tenantID, keyID string) ([]Budget, error) {
	at, err := s.authorizeKey(ctx, tenantID, keyID, org.Read)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+budgetColumns+` FROM budgets WHERE tenant_id = $1 AND (scope = 'tenant' OR key_id = $2
		OR workspace_id::text = $3 OR team_id::text = $4 OR project_id::text = $5
		OR (scope = 'dimension' AND (SELECT default_dimensions FROM api_keys WHERE id = $2) ->> dimension_name = dimension_value))
		ORDER BY created_at, id`, tenantID, keyID, at.WorkspaceID, at.TeamID, at.ProjectID)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Budget, error) { return scanBudget(r) })
	if err != nil {
		return nil, err
	}
	_, a, err := s.rights(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return readableBudgets(ctx, s.db, a, list)
}

// Budget returns one budget.
func (s *BudgetService) Budget(ctx context.Context, tenantID, id string) (Budget, error) {
	if _, _, err := s.rights(ctx, tenantID); err != nil {
		return Budget{}, err
	}
	b, err := s.getBudget(ctx, s.db, tenantID, id)
	if err != nil {
		return b, err
	}
	at, err := budgetPath(ctx, s.db, &b)
	if err != nil {
		return Budget{}, err
	}
	if _, _, err := s.authorizeAt(ctx, tenantID, org.Read, at); err != nil {
		return Budget{}, notFound("budget") // what a scoped caller cannot read does not exist for it
	}
	return b, nil
}

func (s *BudgetService) getBudget(ctx context.Context, q querier, tenantID, id string) (Budget, error) {
	return getOne(ctx, q, "budgets", budgetColumns, "budget", scanBudget, tenantID, id)
}

// CreateBudget adds a budget.
// Tenant admins create budgets of any scope; a scoped manager (team admin,
// project member) creates them on its nodes and their keys.
func (s *BudgetService) CreateBudget(ctx context.Context, tenantID string, in BudgetInput) (Budget, error) {
	if _, _, err := s.rights(ctx, tenantID); err != nil {
		return Budget{}, err
	}
	var b Budget
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		at, err := s.validateBudget(ctx, tx, tenantID, &in)
		if err != nil {
			return err
		}
		p, _, err := s.authorizeAt(ctx, tenantID, org.Manage, at)
		if err != nil {
			return err
		}
		id := uuid.NewString() // the breach secret is sealed to it
		sealed, err := s.sealBreachSecret(id, &in, "")
		if err != nil {
			return err
		}
		b, err = scanBudget(tx.QueryRow(ctx, `INSERT INTO budgets (id, tenant_id, name, scope, period, workspace_id, team_id, project_id, key_id,
			provider, model, dimension_name, dimension_value, amount_nano_usd, thresholds, hard, rollover, webhook_url, alert_emails,
			spend_basis, breach_webhook_url, breach_webhook_secret_sealed)
			VALUES ($19, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $20, $21, $22) RETURNING `+budgetColumns,
			tenantID, in.Name, in.Scope, in.Period, in.WorkspaceID, in.TeamID, in.ProjectID, in.KeyID, in.Provider, in.Model,
			in.DimensionName, in.DimensionVal, in.AmountNanoUSD, in.Thresholds, in.Hard, in.Rollover, in.WebhookURL, in.AlertEmails,
			id, in.SpendBasis, deref(in.BreachWebhookURL), sealed))
		if err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "budget.create", "budget", b.ID, budgetDetails(&in))
	})
	if err == nil {
		s.countReported(ctx, &b)
	}
	return b, err
}

func budgetDetails(in *BudgetInput) map[string]any {
	return map[string]any{"name": in.Name, "scope": in.Scope, "period": in.Period, "amount_nano_usd": in.AmountNanoUSD,
		"thresholds": in.Thresholds, "hard": in.Hard, "rollover": in.Rollover, "alert_emails": in.AlertEmails,
		"spend_basis": in.SpendBasis, "breach_webhook": deref(in.BreachWebhookURL) != "",
		"breach_webhook_secret_changed": in.BreachWebhookSecret != nil && *in.BreachWebhookSecret != ""}
}

// MinBreachSecret is the shortest breach webhook signing secret accepted.
const MinBreachSecret = 16

// sealBreachSecret is the sealed signing secret to store for budget id:
// the new one sealed (package secrets, bound to the budget), else the
// stored one while the budget keeps a breach webhook, else none. A breach
// webhook needs a secret: receivers must be able to verify the caller
// before revoking keys.
func (s *BudgetService) sealBreachSecret(id string, in *BudgetInput, stored string) (string, error) {
	if deref(in.BreachWebhookURL) == "" {
		return "", nil
	}
	if in.BreachWebhookSecret != nil && *in.BreachWebhookSecret != "" {
		return s.seal(*in.BreachWebhookSecret, budget.BreachSecretAAD(id))
	}
	if stored == "" {
		return "", invalid("a breach webhook needs a signing secret (breachWebhookSecret, at least %d characters)", MinBreachSecret)
	}
	return stored, nil
}

// UpdateBudget replaces a budget.
// The caller must manage both where the budget was and where it goes.
func (s *BudgetService) UpdateBudget(ctx context.Context, tenantID, id string, in BudgetInput) (Budget, error) {
	if _, _, err := s.rights(ctx, tenantID); err != nil {
		return Budget{}, err
	}
	var b Budget
	var p auth.Principal
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := s.getBudget(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		from, err := budgetPath(ctx, tx, &old)
		if err != nil {
			return err
		}
		if _, _, err := s.authorizeAt(ctx, tenantID, org.Read, from); err != nil {
			return notFound("budget")
		}
		if _, _, err := s.authorizeAt(ctx, tenantID, org.Manage, from); err != nil {
			return err
		}
		to, err := s.validateBudget(ctx, tx, tenantID, &in)
		if err != nil {
			return err
		}
		if p, _, err = s.authorizeAt(ctx, tenantID, org.Manage, to); err != nil {
			return err
		}
		var stored string
		if err := tx.QueryRow(ctx, `SELECT breach_webhook_secret_sealed FROM budgets WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
			tenantID, id).Scan(&stored); err != nil {
			return err
		}
		sealed, err := s.sealBreachSecret(id, &in, stored)
		if err != nil {
			return err
		}
		b, err = scanBudget(tx.QueryRow(ctx, `UPDATE budgets SET name = $3, scope = $4, period = $5, workspace_id = $6, team_id = $7,
			project_id = $8, key_id = $9, provider = $10, model = $11, dimension_name = $12, dimension_value = $13, amount_nano_usd = $14,
			thresholds = $15, hard = $16, rollover = $17, webhook_url = $18, alert_emails = $19, spend_basis = $20,
			breach_webhook_url = $21, breach_webhook_secret_sealed = $22, updated_at = now()
			WHERE tenant_id = $1 AND id = $2 RETURNING `+budgetColumns,
			tenantID, id, in.Name, in.Scope, in.Period, in.WorkspaceID, in.TeamID, in.ProjectID, in.KeyID, in.Provider, in.Model,
			in.DimensionName, in.DimensionVal, in.AmountNanoUSD, in.Thresholds, in.Hard, in.Rollover, in.WebhookURL, in.AlertEmails,
			in.SpendBasis, deref(in.BreachWebhookURL), sealed))
		if err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, p, "budget.update", "budget", id, budgetDetails(&in))
	})
	if err == nil {
		s.countReported(ctx, &b)
	}
	return b, err
}

// DeleteBudget removes a budget.
func (s *BudgetService) DeleteBudget(ctx context.Context, tenantID, id string) error {
	if _, _, err := s.rights(ctx, tenantID); err != nil {
		return err
	}
	b, err := s.getBudget(ctx, s.db, tenantID, id)
	if err != nil {
		return err
	}
	at, err := budgetPath(ctx, s.db, &b)
	if err != nil {
		return err
	}
	if _, _, err := s.authorizeAt(ctx, tenantID, org.Read, at); err != nil {
		return notFound("budget")
	}
	p, _, err := s.authorizeAt(ctx, tenantID, org.Manage, at)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM budgets WHERE tenant_id = $1 AND id = $2`, tenantID, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("budget")
		}
		return audit(ctx, tx, tenantID, p, "budget.delete", "budget", id, nil)
	})
}

// MaxAlertEmails is the most email recipients of one budget's alerts.
const MaxAlertEmails = 20

// validateAlertEmails checks a budget's alert recipients: bare addresses
// (they go into RCPT TO), no repeats, and only when the server can send
// email. It returns them trimmed, never nil.
func (s *BudgetService) validateAlertEmails(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	if len(in) == 0 {
		return out, nil
	}
	if !s.alertEmail {
		return nil, invalid("email alerts are not configured on this server (the operator sets --smtp-host); use a webhook")
	}
	if len(in) > MaxAlertEmails {
		return nil, invalid("%d alert emails; at most %d are allowed", len(in), MaxAlertEmails)
	}
	seen := map[string]bool{}
	for _, e := range in {
		e = strings.TrimSpace(e)
		a, err := mail.ParseAddress(e)
		if err != nil || a.Address != e || a.Name != "" || !strings.Contains(e[strings.LastIndexByte(e, '@')+1:], ".") {
			return nil, invalid("alert email %q is not an address like name@example.com", e)
		}
		if k := strings.ToLower(e); seen[k] {
			return nil, invalid("alert email %q is given twice", e)
		} else {
			seen[k] = true
		}
		out = append(out, e)
	}
	return out, nil
}
