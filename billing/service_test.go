package billing_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/billing"
	"github.com/spendgate/spendgate/controlplane"
	"github.com/spendgate/spendgate/ingest"
	"github.com/spendgate/spendgate/internal/pdftest"
	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/pdfdoc"
	"github.com/spendgate/spendgate/pricing"
	"github.com/spendgate/spendgate/spend"
	"github.com/spendgate/spendgate/usage"
)

const (
	gpt4o  = "gpt-4o"
	haiku  = "claude-3-haiku-20240307"
	orphan = "mystery-model-x" // unknown to the catalogue: unpriced until an override prices it
)

// novemberCalls is a month of mixed usage: two providers, cached input,
// a 15 % discount on gpt-4o, and one call nothing prices yet.
func novemberCalls() []call {
	return []call{
		{provider: "openai", model: gpt4o, at: nov(2, 10), tokens: usage.Tokens{Input: 123_457, CachedInput: 20_000, Output: 4_321}},
		{provider: "openai", model: gpt4o, at: nov(15, 23), tokens: usage.Tokens{Input: 77, Output: 13}},
		{provider: "openai", model: gpt4o, at: nov(30, 23), tokens: usage.Tokens{Input: 1_000_001, Output: 999_999}},
		{provider: "anthropic", model: haiku, at: nov(1, 0), tokens: usage.Tokens{Input: 50_000, CacheWrite5m: 3_000, Output: 7_777}},
		{provider: "anthropic", model: haiku, at: nov(20, 5), tokens: usage.Tokens{Input: 333, Output: 1}},
		{provider: "openai", model: orphan, at: nov(21, 6), tokens: usage.Tokens{Input: 10_000, Output: 500}},
	}
}

func (f *fixture) discount(ctx context.Context, tenantID, provider, model string, bp int64, rates map[string]int64) {
	f.t.Helper()
	_, err := f.cp.CreatePricingOverride(ctx, tenantID, controlplane.OverrideInput{Provider: provider, Model: model,
		EffectiveFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Rates: rates, PercentAdjustmentBP: bp})
	testenv.Must(f.t, err, "override "+model)
}

type sums struct {
	events, unpriced, list, tenant int64
	qty                            map[string]int64
}

// expected sums events per provider × model, the way an accountant would
// with the event list in hand.
func expected(evs []spend.PricedEvent) map[[2]string]*sums {
	out := map[[2]string]*sums{}
	for _, e := range evs {
		k := [2]string{e.Event.Provider, e.Event.ModelServed}
		s := out[k]
		if s == nil {
			s = &sums{qty: map[string]int64{}}
			out[k] = s
		}
		s.events++
		if !e.Cost.Priced {
			s.unpriced++
		}
		s.list += e.Cost.ListNanoUSD
		s.tenant += e.Cost.TenantNanoUSD
		t := e.Event.Usage
		for c, v := range map[string]int64{"input": t.Input, "cached_input": t.CachedInput, "cache_write_5m": t.CacheWrite5m, "output": t.Output} {
			if v != 0 {
				s.qty[c] += v
			}
		}
	}
	return out
}

func checkLines(t *testing.T, inv billing.Invoice, want map[[2]string]*sums) {
	t.Helper()
	n := 0
	for _, l := range inv.Lines {
		if l.Kind != billing.UsageLine {
			continue
		}
		n++
		w := want[[2]string{l.Provider, l.Model}]
		if w == nil {
			t.Errorf("unexpected line %s/%s", l.Provider, l.Model)
			continue
		}
		if l.Events != w.events || l.UnpricedEvents != w.unpriced || l.ListNanoUSD != w.list || l.TenantNanoUSD != w.tenant {
			t.Errorf("%s/%s: events %d unpriced %d list %d tenant %d; want %d %d %d %d", l.Provider, l.Model,
				l.Events, l.UnpricedEvents, l.ListNanoUSD, l.TenantNanoUSD, w.events, w.unpriced, w.list, w.tenant)
		}
		if !reflect.DeepEqual(map[string]int64(l.Quantities), w.qty) {
			t.Errorf("%s/%s quantities %v, want %v", l.Provider, l.Model, l.Quantities, w.qty)
		}
		if l.AmountNanoUSD != billing.RoundCents(l.TenantNanoUSD) {
			t.Errorf("%s/%s amount %d is not the tenant cost %d rounded to cents", l.Provider, l.Model, l.AmountNanoUSD, l.TenantNanoUSD)
		}
	}
	if n != len(want) {
		t.Errorf("%d usage lines, want %d", n, len(want))
	}
	var total int64
	for _, l := range inv.Lines {
		total += l.AmountNanoUSD
	}
	if total != inv.TotalNanoUSD || total%10_000_000 != 0 {
		t.Errorf("lines sum to %d, invoice total %d (must be equal, whole cents)", total, inv.TotalNanoUSD)
	}
}

// The draft of a period reproduces exactly from the stored events: each
// line's quantities and exact costs are the sums of its events' as priced
// by the catalogue revision in force at each event's time and the tenant's
// override, and re-pricing the stored events now gives the same numbers.
func TestInvoiceReproducesFromStoredEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, tenant := f.owner("ann@example.com", "acme")
	f.discount(ctx, tenant, "openai", gpt4o, -1500, nil)
	evs := f.record(ctx, tenant, novemberCalls()...)
	// Outside the period (either side, in UTC): not on the invoice.
	f.record(ctx, tenant, call{provider: "openai", model: gpt4o, at: time.Date(2026, 10, 31, 23, 59, 59, 0, time.UTC), tokens: usage.Tokens{Input: 5}},
		call{provider: "openai", model: gpt4o, at: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), tokens: usage.Tokens{Input: 5}})
	for _, e := range evs[:5] {
		if !e.Cost.Priced {
			t.Fatalf("%s is not priced by the catalogue; the test needs catalogue models", e.Event.ModelServed)
		}
	}
	inv, err := f.svc.Draft(ctx, tenant, "2026-11")
	testenv.Must(t, err, "draft")
	if inv.Status != billing.Draft || inv.Number != 0 || inv.Period.Label != "2026-11" ||
		!inv.Period.Start.Equal(nov(1, 0)) || !inv.Period.End.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("draft header %+v", inv)
	}
	checkLines(t, inv, expected(evs))
	// The override shows: gpt-4o's tenant cost is 85 % of list (rounded per event).
	for _, l := range inv.Lines {
		if l.Model == gpt4o && (len(l.Overrides) != 1 || l.TenantNanoUSD >= l.ListNanoUSD) {
			t.Errorf("gpt-4o line %+v lacks its override", l)
		}
	}
	if len(inv.Pricing.CatalogueRevisions) == 0 || len(inv.Pricing.Overrides) != 1 || inv.Pricing.Overrides[0].PercentAdjustmentBP != -1500 {
		t.Errorf("pricing basis %+v: want the seeded catalogue revision and the override", inv.Pricing)
	}

	// Re-price what is stored, as an auditor would: read every stored event
	// back and price it with the catalogue at its time and the overrides
	// recorded on the invoice.
	rows, err := f.store.Events(ctx, spend.Spec{Tenant: tenant, From: inv.Period.Start, To: inv.Period.End}, nil, 1000)
	testenv.Must(t, err, "stored events")
	var again []spend.PricedEvent
	for _, r := range rows {
		e := evs[0].Event
		e.EventID, e.Time, e.Provider, e.ModelRequested, e.ModelServed = r.EventID, r.Time, r.Provider, r.ModelRequested, r.ModelServed
		e.Usage = usage.Tokens{Input: r.Input, CachedInput: r.CachedInput, CacheWrite5m: r.CacheWrite5m, CacheWrite1h: r.CacheWrite1h, Output: r.Output}
		cost := pricing.Default().CatalogueAt(e.Time).Cost(ingest.CostRequest(&e), e.Usage, inv.Pricing.Overrides)
		again = append(again, spend.PricedEvent{Event: e, Cost: cost})
	}
	if len(again) != len(evs) {
		t.Fatalf("read back %d events, stored %d", len(again), len(evs))
	}
	checkLines(t, inv, expected(again))
}

// An issued invoice is frozen: late events and re-pricing of its period
// change nothing in it and land as adjustments on the next invoice.
func TestIssuedInvoiceNeverChanges(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, tenant := f.owner("bo@example.com", "bolt")
	evs := f.record(ctx, tenant, novemberCalls()...)
	issued, err := f.svc.Issue(ctx, tenant, "2026-11")
	testenv.Must(t, err, "issue november")
	if issued.Number != 1 || issued.Status != billing.Issued || issued.ID == "" {
		t.Fatalf("issued %+v", issued)
	}
	checkLines(t, issued, expected(evs))
	stored, err := f.svc.Invoice(ctx, tenant, issued.ID)
	testenv.Must(t, err, "read invoice")

	// After issue: a late November event arrives, and an override prices
	// the orphan model, which re-prices the November event (a correction).
	late := f.record(ctx, tenant, call{provider: "anthropic", model: haiku, at: nov(30, 22), tokens: usage.Tokens{Input: 40_000, Output: 2_000}})
	f.discount(ctx, tenant, "openai", orphan, 0, map[string]int64{"input": 2_000_000_000, "output": 8_000_000_000})
	res, err := f.reprice.Unpriced(ctx, tenant, nov(1, 0), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	testenv.Must(t, err, "reprice")
	if res.Repriced != 1 {
		t.Fatalf("re-priced %+v, want the orphan event", res)
	}
	december := f.record(ctx, tenant, call{provider: "openai", model: gpt4o, at: time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC), tokens: usage.Tokens{Input: 9_999}})

	after, err := f.svc.Invoice(ctx, tenant, issued.ID)
	testenv.Must(t, err, "read invoice again")
	if !reflect.DeepEqual(after, stored) {
		t.Fatalf("issued invoice changed:\nbefore %+v\nafter  %+v", stored, after)
	}
	again, err := f.svc.Issue(ctx, tenant, "2026-11")
	testenv.Must(t, err, "issue november again")
	if again.ID != issued.ID || again.TotalNanoUSD != issued.TotalNanoUSD {
		t.Fatalf("issuing again gave %s (%d), want the issued %s (%d)", again.ID, again.TotalNanoUSD, issued.ID, issued.TotalNanoUSD)
	}
	if _, err := f.svc.Draft(ctx, tenant, "2026-11"); apierr.CodeOf(err) != apierr.CodeConflict {
		t.Fatalf("draft of an issued period: %v, want CONFLICT", err)
	}
	// The database itself refuses to change an issued invoice.
	if _, err := f.pool.Exec(ctx, `UPDATE invoices SET total_nano_usd = 0 WHERE id = $1`, issued.ID); err == nil {
		t.Fatal("Postgres let an issued invoice's total change")
	}

	// December's invoice: its own usage, and adjustments for November equal
	// to the late event and the re-priced orphan.
	f.now = time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)
	dec, err := f.svc.Issue(ctx, tenant, "2026-12")
	testenv.Must(t, err, "issue december")
	if dec.Number != 2 {
		t.Fatalf("december is number %d, want 2", dec.Number)
	}
	want := map[[2]string]*sums{}
	adj := expected(late)
	orphanCost := int64(0)
	for _, l := range dec.Lines {
		if l.Kind != billing.AdjustmentLine {
			continue
		}
		if l.AdjustsPeriod != "2026-11" {
			t.Errorf("adjustment of %q, want 2026-11", l.AdjustsPeriod)
		}
		switch l.Model {
		case haiku:
			w := adj[[2]string{"anthropic", haiku}]
			if l.Events != 1 || l.TenantNanoUSD != w.tenant || l.ListNanoUSD != w.list || l.Quantities["input"] != 40_000 {
				t.Errorf("late-event adjustment %+v, want one event of %d", l, w.tenant)
			}
			// The adjustment makes November's haiku total its exact cost rounded once.
			var charged int64
			for _, il := range issued.Lines {
				if il.Model == haiku {
					charged += il.AmountNanoUSD
				}
			}
			if charged+l.AmountNanoUSD != billing.RoundCents(expected(evs)[[2]string{"anthropic", haiku}].tenant+w.tenant) {
				t.Errorf("haiku charged %d + adjustment %d is not November's exact haiku cost rounded", charged, l.AmountNanoUSD)
			}
		case orphan:
			orphanCost = l.TenantNanoUSD
			if l.Events != 0 || l.UnpricedEvents != -1 || l.TenantNanoUSD != res.TenantNanoUSD {
				t.Errorf("re-pricing adjustment %+v, want tenant cost %d and one fewer unpriced event", l, res.TenantNanoUSD)
			}
		default:
			t.Errorf("unexpected adjustment %+v", l)
		}
	}
	if orphanCost == 0 {
		t.Error("the re-priced orphan event has no adjustment")
	}
	for k, v := range expected(december) {
		want[k] = v
	}
	var decUsage billing.Invoice
	decUsage.Lines = nil
	for _, l := range dec.Lines {
		if l.Kind == billing.UsageLine {
			decUsage.Lines = append(decUsage.Lines, l)
			decUsage.TotalNanoUSD += l.AmountNanoUSD
		}
	}
	checkLines(t, decUsage, want)

	// Nothing changed since: January carries no adjustment (each change is
	// charged once).
	f.now = time.Date(2027, 2, 2, 0, 0, 0, 0, time.UTC)
	jan, err := f.svc.Issue(ctx, tenant, "2027-01")
	testenv.Must(t, err, "issue january")
	if jan.Number != 3 || len(jan.Lines) != 0 || jan.TotalNanoUSD != 0 {
		t.Fatalf("january %+v: want number 3, no lines", jan)
	}
}

// Concurrent issue requests for one period issue exactly one invoice, with
// one number and one audit entry.
func TestConcurrentIssueIssuesOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, tenant := f.owner("cy@example.com", "cyan")
	f.record(ctx, tenant, novemberCalls()...)
	const n = 12
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			inv, err := f.svc.Issue(ctx, tenant, "2026-11")
			ids[i], errs[i] = inv.ID, err
		}(i)
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("request %d: %q %v; want %q", i, ids[i], errs[i], ids[0])
		}
	}
	var invoices, audits, last int64
	testenv.Must(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM invoices WHERE tenant_id = $1`, tenant).Scan(&invoices), "count")
	testenv.Must(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'invoice.issue'`, tenant).Scan(&audits), "audits")
	testenv.Must(t, f.pool.QueryRow(ctx, `SELECT last_number FROM invoice_counters WHERE tenant_id = $1`, tenant).Scan(&last), "counter")
	if invoices != 1 || audits != 1 || last != 1 {
		t.Fatalf("%d invoices, %d audit entries, last number %d; want 1, 1, 1", invoices, audits, last)
	}
}

// Paid and void: transitions only from issued, each audited; a void period
// can be issued again under the next number.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, tenant := f.owner("di@example.com", "dial")
	f.record(ctx, tenant, novemberCalls()...)
	first, err := f.svc.Issue(ctx, tenant, "2026-11")
	testenv.Must(t, err, "issue")
	voided, err := f.svc.VoidInvoice(ctx, tenant, first.ID, "wrong billing address")
	testenv.Must(t, err, "void")
	if voided.Status != billing.Void || voided.VoidReason != "wrong billing address" || voided.TotalNanoUSD != first.TotalNanoUSD {
		t.Fatalf("voided %+v", voided)
	}
	if _, err := f.svc.MarkPaid(ctx, tenant, first.ID); apierr.CodeOf(err) != apierr.CodeConflict {
		t.Fatalf("paying a void invoice: %v, want CONFLICT", err)
	}
	second, err := f.svc.Issue(ctx, tenant, "2026-11")
	testenv.Must(t, err, "issue again after void")
	if second.ID == first.ID || second.Number != 2 || second.TotalNanoUSD != first.TotalNanoUSD {
		t.Fatalf("re-issued %+v, want a new number 2 with the same total", second)
	}
	paid, err := f.svc.MarkPaid(ctx, tenant, second.ID)
	testenv.Must(t, err, "pay")
	if paid.Status != billing.Paid || paid.PaidAt == nil || paid.PaidBy != "di@example.com" {
		t.Fatalf("paid %+v", paid)
	}
	if _, err := f.svc.MarkPaid(ctx, tenant, second.ID); apierr.CodeOf(err) != apierr.CodeConflict {
		t.Fatalf("paying twice: %v, want CONFLICT", err)
	}
	if _, err := f.svc.VoidInvoice(ctx, tenant, second.ID, "oops"); apierr.CodeOf(err) != apierr.CodeConflict {
		t.Fatalf("voiding a paid invoice: %v, want CONFLICT", err)
	}
	// Postgres enforces the same transitions, whoever writes.
	for _, stmt := range []string{`UPDATE invoices SET status = 'void' WHERE id = $1`, `UPDATE invoices SET status = 'issued' WHERE id = $1`} {
		if _, err := f.pool.Exec(ctx, stmt, second.ID); err == nil || !strings.Contains(err.Error(), "cannot go from paid") {
			t.Errorf("%s on a paid invoice: %v, want refused", stmt, err)
		}
	}
	list, err := f.svc.Invoices(ctx, tenant)
	testenv.Must(t, err, "list")
	if len(list) != 2 || list[0].ID != second.ID || list[1].Status != billing.Void {
		t.Fatalf("list %+v", list)
	}
	rows, err := f.pool.Query(ctx, `SELECT action FROM audit_log WHERE tenant_id = $1 AND target_type = 'invoice' ORDER BY id`, tenant)
	testenv.Must(t, err, "audit")
	var actions []string
	for rows.Next() {
		var a string
		testenv.Must(t, rows.Scan(&a), "scan")
		actions = append(actions, a)
	}
	if want := []string{"invoice.issue", "invoice.void", "invoice.issue", "invoice.paid"}; !reflect.DeepEqual(actions, want) {
		t.Fatalf("audit %v, want %v", actions, want)
	}
}

// Every bad input gets a clear error with the right code.
func TestBadInputs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, tenant := f.owner("ed@example.com", "edge")
	f.record(ctx, tenant, novemberCalls()...)
	inv, err := f.svc.Issue(ctx, tenant, "2026-11")
	testenv.Must(t, err, "issue")
	cases := map[string]struct {
		do   func() error
		code string
		msg  string
	}{
		"period not a month": {func() error { _, err := f.svc.Draft(ctx, tenant, "2026-13"); return err }, apierr.CodeInvalidArgument, "YYYY-MM"},
		"period in words":    {func() error { _, err := f.svc.Issue(ctx, tenant, "november"); return err }, apierr.CodeInvalidArgument, "YYYY-MM"},
		"future period":      {func() error { _, err := f.svc.Draft(ctx, tenant, "2027-03"); return err }, apierr.CodeInvalidArgument, "has not started"},
		"issue unfinished":   {func() error { _, err := f.svc.Issue(ctx, tenant, "2026-12"); return err }, apierr.CodeInvalidArgument, "has not ended"},
		"issue future":       {func() error { _, err := f.svc.Issue(ctx, tenant, "2027-01"); return err }, apierr.CodeInvalidArgument, "has not started"},
		"invoice id":         {func() error { _, err := f.svc.Invoice(ctx, tenant, "INV-1"); return err }, apierr.CodeInvalidArgument, "not a valid id"},
		"unknown invoice": {func() error {
			_, err := f.svc.Invoice(ctx, tenant, "0b0b0b0b-0b0b-4b0b-8b0b-0b0b0b0b0b0b")
			return err
		}, apierr.CodeNotFound, "invoice not found"},
		"void without reason": {func() error { _, err := f.svc.VoidInvoice(ctx, tenant, inv.ID, "  "); return err }, apierr.CodeInvalidArgument, "reason"},
		"bad time zone": {func() error {
			_, err := f.svc.UpdateSettings(ctx, tenant, billing.Settings{TimeZone: "Mars/Olympus", PeriodStartDay: 1})
			return err
		}, apierr.CodeInvalidArgument, "IANA"},
		"start day 31": {func() error {
			_, err := f.svc.UpdateSettings(ctx, tenant, billing.Settings{TimeZone: "UTC", PeriodStartDay: 31})
			return err
		}, apierr.CodeInvalidArgument, "between 1 and 28"},
		"bad group-by": {func() error {
			_, err := f.svc.UpdateSettings(ctx, tenant, billing.Settings{TimeZone: "UTC", PeriodStartDay: 1, GroupBy: "dim:x') OR 1=1"})
			return err
		}, apierr.CodeInvalidArgument, "dim:<name>"},
		"statement without group": {func() error { _, err := f.svc.Statement(ctx, tenant, "2026-11", ""); return err }, apierr.CodeInvalidArgument, "groupBy is required"},
		"statement by key":        {func() error { _, err := f.svc.Statement(ctx, tenant, "2026-11", "key"); return err }, apierr.CodeInvalidArgument, "team, project"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := c.do()
			var ae *apierr.Error
			if !errors.As(err, &ae) || ae.Code != c.code || !strings.Contains(ae.Message, c.msg) {
				t.Fatalf("got %v, want %s mentioning %q", err, c.code, c.msg)
			}
		})
	}
}

// Billing is for tenant admins; another tenant's invoices and spend never
// show, whatever id is asked for.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctxA, tenantA := f.owner("amy@example.com", "alpha")
	ctxB, tenantB := f.owner("ben@example.com", "beta")
	f.record(ctxA, tenantA, novemberCalls()...)
	f.record(ctxB, tenantB, call{provider: "openai", model: gpt4o, at: nov(3, 3), tokens: usage.Tokens{Input: 1}})
	invA, err := f.svc.Issue(ctxA, tenantA, "2026-11")
	testenv.Must(t, err, "issue A")
	invB, err := f.svc.Issue(ctxB, tenantB, "2026-11")
	testenv.Must(t, err, "issue B")
	if invB.Number != 1 || len(invB.Lines) != 1 || invB.Lines[0].Events != 1 {
		t.Fatalf("B's invoice %+v has more than B's one event", invB)
	}
	if _, err := f.svc.Invoice(ctxB, tenantB, invA.ID); apierr.CodeOf(err) != apierr.CodeNotFound {
		t.Fatalf("B reading A's invoice id under B: %v, want NOT_FOUND", err)
	}
	if _, err := f.svc.MarkPaid(ctxB, tenantB, invA.ID); apierr.CodeOf(err) != apierr.CodeNotFound {
		t.Fatalf("B paying A's invoice: %v, want NOT_FOUND", err)
	}
	for name, do := range map[string]func() error{
		"list":      func() error { _, err := f.svc.Invoices(ctxB, tenantA); return err },
		"read":      func() error { _, err := f.svc.Invoice(ctxB, tenantA, invA.ID); return err },
		"draft":     func() error { _, err := f.svc.Draft(ctxB, tenantA, "2026-10"); return err },
		"statement": func() error { _, err := f.svc.Statement(ctxB, tenantA, "2026-11", "team"); return err },
		"void":      func() error { _, err := f.svc.VoidInvoice(ctxB, tenantA, invA.ID, "x"); return err },
	} {
		if err := do(); apierr.CodeOf(err) != apierr.CodeForbidden {
			t.Errorf("B's %s in A: %v, want FORBIDDEN", name, err)
		}
	}
	viewer := f.member(ctxA, tenantA, "vic@example.com", controlplane.RoleViewer)
	if _, err := f.svc.Invoices(viewer, tenantA); apierr.CodeOf(err) != apierr.CodeForbidden {
		t.Errorf("a viewer listing invoices: %v, want FORBIDDEN (billing is for admins)", err)
	}
	admin := f.member(ctxA, tenantA, "ada@example.com", controlplane.RoleAdmin)
	if list, err := f.svc.Invoices(admin, tenantA); err != nil || len(list) != 1 || list[0].ID != invA.ID {
		t.Errorf("an admin listing invoices: %v %v", list, err)
	}
}

// A chargeback statement splits the period per team, with unattributed
// spend as its own group, and adds up to the invoice.
func TestStatementPerTeam(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, tenant := f.owner("fay@example.com", "fern")
	ws, err := f.cp.CreateNode(ctx, tenant, controlplane.KindWorkspace, "", "Main", controlplane.KeyPolicy{})
	testenv.Must(t, err, "workspace")
	search, err := f.cp.CreateNode(ctx, tenant, controlplane.KindTeam, ws.ID, "Search", controlplane.KeyPolicy{})
	testenv.Must(t, err, "team")
	ads, err := f.cp.CreateNode(ctx, tenant, controlplane.KindTeam, ws.ID, "Ads", controlplane.KeyPolicy{})
	testenv.Must(t, err, "team")
	calls := novemberCalls()
	calls[0].team, calls[1].team, calls[3].team = search.ID, ads.ID, search.ID
	evs := f.record(ctx, tenant, calls...)
	st, err := f.svc.Statement(ctx, tenant, "2026-11", "team")
	testenv.Must(t, err, "statement")
	byName := map[string]billing.GroupTotal{}
	for _, g := range st.Groups {
		byName[g.GroupName] = g
	}
	wantTenant := map[string]int64{}
	for i, e := range evs {
		name := map[string]string{search.ID: "Search", ads.ID: "Ads", "": "(unattributed)"}[calls[i].team]
		wantTenant[name] += e.Cost.TenantNanoUSD
	}
	if len(st.Groups) != 3 || st.Groups[2].GroupName != "(unattributed)" {
		t.Fatalf("groups %+v: want Ads, Search, then (unattributed)", st.Groups)
	}
	var sum int64
	for name, w := range wantTenant {
		if byName[name].TenantNanoUSD != w {
			t.Errorf("%s: tenant cost %d, want %d", name, byName[name].TenantNanoUSD, w)
		}
		sum += byName[name].AmountNanoUSD
	}
	if sum != st.TotalNanoUSD {
		t.Errorf("groups sum to %d, total %d", sum, st.TotalNanoUSD)
	}
	inv, err := f.svc.Draft(ctx, tenant, "2026-11")
	testenv.Must(t, err, "draft")
	if inv.TenantNanoUSD != st.TenantNanoUSD {
		t.Errorf("statement exact total %d differs from the invoice's %d", st.TenantNanoUSD, inv.TenantNanoUSD)
	}
	var pdf bytes.Buffer
	testenv.Must(t, billing.WriteStatementPDF(&pdf, &st, "Tenant fern"), "statement pdf")
	text := pdftest.Text(t, pdf.Bytes())
	for _, g := range st.Groups {
		if !regexp.MustCompile(regexp.QuoteMeta(g.GroupName) + `\s+\S+\s+\S+\s+\S+\s+` + regexp.QuoteMeta(pdfdoc.USD(g.AmountNanoUSD))).MatchString(text) {
			t.Errorf("statement PDF lacks %s at %s:\n%s", g.GroupName, pdfdoc.USD(g.AmountNanoUSD), text)
		}
	}
	if !regexp.MustCompile(`Total\s+` + regexp.QuoteMeta(pdfdoc.USD(st.TotalNanoUSD))).MatchString(text) {
		t.Errorf("statement PDF lacks the total %s", pdfdoc.USD(st.TotalNanoUSD))
	}
}

// Periods follow the tenant's time zone and start day.
func TestPeriodsInTenantTimeZone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, tenant := f.owner("gil@example.com", "gale")
	_, err := f.svc.UpdateSettings(ctx, tenant, billing.Settings{TimeZone: "America/New_York", PeriodStartDay: 15})
	testenv.Must(t, err, "settings")
	// 2026-11-15 00:00 in New York is 05:00 UTC (EST).
	f.record(ctx, tenant,
		call{provider: "openai", model: gpt4o, at: time.Date(2026, 11, 15, 4, 59, 59, 0, time.UTC), tokens: usage.Tokens{Input: 1_000}}, // October period
		call{provider: "openai", model: gpt4o, at: time.Date(2026, 11, 15, 5, 0, 0, 0, time.UTC), tokens: usage.Tokens{Input: 2_000}})   // November period
	f.now = time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC)
	inv, err := f.svc.Issue(ctx, tenant, "2026-11")
	testenv.Must(t, err, "issue")
	if !inv.Period.Start.Equal(time.Date(2026, 11, 15, 5, 0, 0, 0, time.UTC)) || !inv.Period.End.Equal(time.Date(2026, 12, 15, 5, 0, 0, 0, time.UTC)) {
		t.Fatalf("period %+v", inv.Period)
	}
	if len(inv.Lines) != 1 || inv.Lines[0].Quantities["input"] != 2_000 {
		t.Fatalf("lines %+v: want only the 2,000-token call", inv.Lines)
	}
}

// reconciliation stands in for the provider reconciliation (another
// package): what each provider reported for the period asked about.
type reconciliation struct {
	reported []billing.ProviderReport
	tenant   string
	from, to time.Time
	calls    int
}

func (r *reconciliation) ProviderReported(_ context.Context, tenantID string, from, to time.Time) ([]billing.ProviderReport, error) {
	r.calls++
	r.tenant, r.from, r.to = tenantID, from, to
	return r.reported, nil
}

// Lines split by a dimension (unattributed spend its own line), and the
// provider-reported figures sit beside the metered ones and are frozen with
// the issued invoice.
func TestDimensionLinesAndProviderReported(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, tenant := f.owner("ida@example.com", "iris")
	_, err := f.svc.UpdateSettings(ctx, tenant, billing.Settings{TimeZone: "UTC", PeriodStartDay: 1, GroupBy: "dim:app"})
	testenv.Must(t, err, "settings")
	calls := novemberCalls()
	calls[0].dims = map[string]string{"app": "search"}
	calls[2].dims = map[string]string{"app": "search"}
	calls[3].dims = map[string]string{"app": "chat"}
	evs := f.record(ctx, tenant, calls...)
	// OpenAI's report covers its calls; a Google billing export covers
	// Gemini and Vertex AI calls (none here, so nothing metered beside it).
	rec := &reconciliation{reported: []billing.ProviderReport{{Provider: "openai", CostNanoUSD: 123_450_000_000},
		{Provider: "google", Covers: []string{"gemini", "vertex_ai"}, CostNanoUSD: 7_000_000_000}}}
	f.svc.Reports = rec

	inv, err := f.svc.Issue(ctx, tenant, "2026-11")
	testenv.Must(t, err, "issue")
	if rec.calls != 1 || rec.tenant != tenant || !rec.from.Equal(inv.Period.Start) || !rec.to.Equal(inv.Period.End) {
		t.Fatalf("reconciliation asked %+v", rec)
	}
	type key struct{ model, group string }
	got := map[key]int64{}
	for _, l := range inv.Lines {
		got[key{l.Model, l.GroupName}] = l.Events
	}
	want := map[key]int64{{gpt4o, "search"}: 2, {gpt4o, "(unattributed)"}: 1, {haiku, "chat"}: 1, {haiku, "(unattributed)"}: 1, {orphan, "(unattributed)"}: 1}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("lines %v, want %v", got, want)
	}
	if last := inv.Lines[len(inv.Lines)-1]; last.Group != billing.Unattributed {
		t.Errorf("unattributed spend does not come last: %+v", last)
	}
	metered := map[string]int64{}
	for _, e := range evs {
		metered[e.Event.Provider] += e.Cost.ListNanoUSD
	}
	wantFigures := []billing.ProviderFigure{
		{Provider: "anthropic", MeteredNanoUSD: metered["anthropic"]},
		{Provider: "google", Covers: []string{"gemini", "vertex_ai"}, ReportedNanoUSD: 7_000_000_000, Reported: true},
		{Provider: "openai", MeteredNanoUSD: metered["openai"], ReportedNanoUSD: 123_450_000_000, Reported: true},
	}
	if !reflect.DeepEqual(inv.ProviderReported, wantFigures) {
		t.Fatalf("provider figures %+v, want %+v", inv.ProviderReported, wantFigures)
	}
	rec.reported = []billing.ProviderReport{{Provider: "openai", CostNanoUSD: 1}}
	stored, err := f.svc.Invoice(ctx, tenant, inv.ID)
	testenv.Must(t, err, "read")
	if !reflect.DeepEqual(stored.ProviderReported, wantFigures) || stored.GroupBy != "dim:app" {
		t.Fatalf("stored invoice %+v changed its figures or grouping", stored)
	}
}
