package apiserver

import (
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/internal/fakeprovider"
	"github.com/spendgate/spendgate/reconcile"
)

// A budget counts provider-reported spend only where reports can be
// attributed (tenant, openai/anthropic provider); a breach webhook needs a
// signing secret, which is sealed and never returned.
func TestBudgetSpendBasisAndBreachWebhook(t *testing.T) {
	h := newFullHarness(t) // budget statuses read analytics
	tok, tenant := h.owner("alice@example.com", "acme")
	tv := map[string]any{"t": tenant}
	key := get(h.must(tok, createKey, map[string]any{"t": tenant, "n": "app"}), "createAPIKey", "key", "id").(string)

	for name, c := range map[string]struct {
		input, want string
	}{
		"key budget":    {`scope:KEY,keyId:"` + key + `"`, "cannot be attributed to a key budget"},
		"model budget":  {`scope:MODEL,model:"gpt-4o"`, "cannot be attributed to a model budget"},
		"gemini budget": {`scope:PROVIDER,provider:"gemini"`, "covers gemini and vertex_ai together"},
	} {
		r := h.gql(tok, `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"x",`+c.input+`,period:MONTH,amount:"10",spendBasis:MAX_METERED_REPORTED}){id}}`, tv)
		if r.code() != "INVALID_ARGUMENT" || len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, c.want) {
			t.Fatalf("%s: %+v, want %q", name, r.Errors, c.want)
		}
	}
	r := h.gql(tok, `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"cap",scope:TENANT,period:MONTH,amount:"10",hard:true,
		spendBasis:MAX_METERED_REPORTED,breachWebhookUrl:"https://hooks.example.com/revoke"}){id}}`, tv)
	if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "needs a signing secret") {
		t.Fatalf("breach webhook without a secret: %+v", r.Errors)
	}
	const secret = "whsec-very-secret-value"
	d := h.must(tok, `mutation($t:ID!,$s:String!){createBudget(tenantId:$t,input:{name:"cap",scope:TENANT,period:MONTH,amount:"10",hard:true,
		spendBasis:MAX_METERED_REPORTED,breachWebhookUrl:"https://hooks.example.com/revoke",breachWebhookSecret:$s}){id spendBasis breachWebhookUrl breachWebhookSigned}}`,
		map[string]any{"t": tenant, "s": secret})
	b := get(d, "createBudget")
	id := get(b, "id").(string)
	if get(b, "spendBasis") != "MAX_METERED_REPORTED" || get(b, "breachWebhookUrl") != "https://hooks.example.com/revoke" || get(b, "breachWebhookSigned") != true {
		t.Fatalf("budget %v", b)
	}
	if strings.Contains(toJSON(d), secret) {
		t.Fatal("the signing secret came back")
	}
	var sealed string
	if err := h.pool.QueryRow(t.Context(), `SELECT breach_webhook_secret_sealed FROM budgets WHERE id = $1`, id).Scan(&sealed); err != nil ||
		!strings.HasPrefix(sealed, "sg1:") || strings.Contains(sealed, secret) {
		t.Fatalf("stored secret %q: %v", sealed, err)
	}
	// An update without a secret keeps the stored one.
	d = h.must(tok, `mutation($t:ID!,$id:ID!){updateBudget(tenantId:$t,id:$id,input:{name:"cap",scope:TENANT,period:MONTH,amount:"20",hard:true,
		spendBasis:MAX_METERED_REPORTED,breachWebhookUrl:"https://hooks.example.com/revoke"}){breachWebhookSigned amount}}`, map[string]any{"t": tenant, "id": id})
	if get(d, "updateBudget", "breachWebhookSigned") != true || get(d, "updateBudget", "amount") != "20" {
		t.Fatalf("update %v", d)
	}
	st := get(h.must(tok, `query($t:ID!,$b:ID){budgetStatuses(tenantId:$t,budgetId:$b){spendBasis spent metered reported}}`,
		map[string]any{"t": tenant, "b": id}), "budgetStatuses").([]any)
	if len(st) != 1 || toJSON(st[0]) != `{"metered":"0","reported":"0","spendBasis":"MAX_METERED_REPORTED","spent":"0"}` {
		t.Fatalf("status %s", toJSON(st))
	}
	if got := toJSON(get(h.must(tok, `query($t:ID!){budgetBreaches(tenantId:$t){eventId}}`, tv), "budgetBreaches")); got != "[]" {
		t.Fatalf("breaches %s", got)
	}

	// End to end: the provider's own report (a pulled connection) of spend
	// that bypassed spendgate trips the hard cap; another tenant's budget
	// is untouched.
	bobTok, other := h.owner("bob@example.com", "beta")
	bobB := get(h.must(bobTok, `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"cap",scope:TENANT,period:MONTH,amount:"1",hard:true,
		spendBasis:MAX_METERED_REPORTED}){id}}`, map[string]any{"t": other}), "createBudget", "id")
	h.fake.SetAdminKey("openai", "sk-admin-basis-0001")
	today := reconcile.Day(time.Now())
	h.fake.SetAdminUsage("openai", []fakeprovider.AdminUsage{{Day: today, Model: "gpt-4o", Requests: 1, CostNanoUSD: 25_000_000_000}})
	conn := get(h.must(tok, `mutation($t:ID!){createProviderConnection(tenantId:$t,input:{provider:"openai",name:"org",adminKey:"sk-admin-basis-0001"}){id}}`, tv),
		"createProviderConnection", "id")
	h.must(tok, `mutation($t:ID!,$id:ID!){syncProviderConnection(tenantId:$t,id:$id){rows}}`, map[string]any{"t": tenant, "id": conn})
	st = get(h.must(tok, `query($t:ID!,$b:ID){budgetStatuses(tenantId:$t,budgetId:$b){spent metered reported blocked}}`,
		map[string]any{"t": tenant, "b": id}), "budgetStatuses").([]any)
	if toJSON(st[0]) != `{"blocked":true,"metered":"0","reported":"25","spent":"25"}` {
		t.Fatalf("status after the provider's report %s", toJSON(st))
	}
	br := get(h.must(tok, `query($t:ID!){budgetBreaches(tenantId:$t){budgetId limit reported counted webhook spendBasis}}`, tv), "budgetBreaches").([]any)
	if len(br) != 1 || toJSON(br[0]) != `{"budgetId":"`+id+`","counted":"25","limit":"20","reported":"25","spendBasis":"MAX_METERED_REPORTED","webhook":true}` {
		t.Fatalf("breaches %s", toJSON(br))
	}
	st = get(h.must(bobTok, `query($t:ID!,$b:ID){budgetStatuses(tenantId:$t,budgetId:$b){spent reported blocked}}`,
		map[string]any{"t": other, "b": bobB}), "budgetStatuses").([]any)
	if toJSON(st[0]) != `{"blocked":false,"reported":"0","spent":"0"}` {
		t.Fatalf("the other tenant's budget after this tenant's report: %s", toJSON(st))
	}

	// A budget saved with the reported basis counts the reports already
	// stored at once (not at the next sync): a new one, and one switched
	// from the metered basis by an update.
	fresh := get(h.must(tok, `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"watch",scope:TENANT,period:MONTH,amount:"100",
		spendBasis:MAX_METERED_REPORTED}){id}}`, tv), "createBudget", "id")
	switched := get(h.must(tok, `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"openai",scope:PROVIDER,provider:"openai",period:MONTH,amount:"100"}){id}}`, tv),
		"createBudget", "id")
	h.must(tok, `mutation($t:ID!,$id:ID!){updateBudget(tenantId:$t,id:$id,input:{name:"openai",scope:PROVIDER,provider:"openai",period:MONTH,amount:"100",
		spendBasis:MAX_METERED_REPORTED}){id}}`, map[string]any{"t": tenant, "id": switched})
	for _, b := range []any{fresh, switched} {
		st = get(h.must(tok, `query($t:ID!,$b:ID){budgetStatuses(tenantId:$t,budgetId:$b){spent reported}}`,
			map[string]any{"t": tenant, "b": b}), "budgetStatuses").([]any)
		if toJSON(st[0]) != `{"reported":"25","spent":"25"}` {
			t.Fatalf("budget %v saved with the reported basis: %s", b, toJSON(st))
		}
	}
}
