package apiserver

import (
	"sort"
	"strings"
	"testing"
)

// op is one tenant-scoped GraphQL operation, written against variables
// $t (tenant), $key, $budget, $override and $user (object ids).
type op struct {
	field string
	query string
	// objects is true when the operation names an object by id, so calling it
	// in the caller's own tenant with another tenant's id must be NOT_FOUND.
	objects bool
}

var tenantOps = []op{
	{"tenant", `query($t:ID!){tenant(id:$t){id name}}`, false},
	{"members", `query($t:ID!){members(tenantId:$t){edges{node{user{email}}}}}`, false},
	{"apiKeys", `query($t:ID!){apiKeys(tenantId:$t){edges{node{id prefix}}}}`, false},
	{"apiKey", `query($t:ID!,$key:ID!){apiKey(tenantId:$t,id:$key){id}}`, true},
	{"budgets", `query($t:ID!){budgets(tenantId:$t){edges{node{id}}}}`, false},
	{"budget", `query($t:ID!,$budget:ID!){budget(tenantId:$t,id:$budget){id}}`, true},
	{"pricingOverrides", `query($t:ID!){pricingOverrides(tenantId:$t){edges{node{id}}}}`, false},
	{"auditLog", `query($t:ID!){auditLog(tenantId:$t){edges{node{id}}}}`, false},
	{"renameTenant", `mutation($t:ID!){renameTenant(tenantId:$t,name:"pwned"){id}}`, false},
	{"addMember", `mutation($t:ID!){addMember(tenantId:$t,email:"mallory@example.com",password:"password-123",role:OWNER){role}}`, false},
	{"updateMemberRole", `mutation($t:ID!,$user:ID!){updateMemberRole(tenantId:$t,userId:$user,role:VIEWER){role}}`, true},
	{"removeMember", `mutation($t:ID!,$user:ID!){removeMember(tenantId:$t,userId:$user)}`, true},
	{"createAPIKey", `mutation($t:ID!){createAPIKey(tenantId:$t,name:"x"){secret}}`, false},
	{"updateAPIKeyPolicy", `mutation($t:ID!,$key:ID!){updateAPIKeyPolicy(tenantId:$t,id:$key,policy:{allowedModels:["x"]}){id}}`, true},
	{"revokeAPIKey", `mutation($t:ID!,$key:ID!){revokeAPIKey(tenantId:$t,id:$key){id}}`, true},
	{"rotateAPIKey", `mutation($t:ID!,$key:ID!){rotateAPIKey(tenantId:$t,id:$key){secret}}`, true},
	{"createBudget", `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1"}){id}}`, false},
	{"updateBudget", `mutation($t:ID!,$budget:ID!){updateBudget(tenantId:$t,id:$budget,input:{name:"b",scope:TENANT,period:DAY,amount:"1"}){id}}`, true},
	{"deleteBudget", `mutation($t:ID!,$budget:ID!){deleteBudget(tenantId:$t,id:$budget)}`, true},
	{"createPricingOverride", `mutation($t:ID!){createPricingOverride(tenantId:$t,input:{model:"gpt-4o",effectiveFrom:"2026-01-01T00:00:00Z",percentAdjustment:"-50"}){id}}`, false},
	{"updatePricingOverride", `mutation($t:ID!,$override:ID!){updatePricingOverride(tenantId:$t,id:$override,input:{model:"gpt-4o",effectiveFrom:"2026-01-01T00:00:00Z",percentAdjustment:"-99"}){id}}`, true},
	{"deletePricingOverride", `mutation($t:ID!,$override:ID!){deletePricingOverride(tenantId:$t,id:$override)}`, true},
}

// notTenantScoped are fields that take no tenant: they act on the caller only.
var notTenantScoped = map[string]bool{"me": true, "tenants": true, "signIn": true, "refreshSession": true, "signOut": true, "createTenant": true}

func vars(query string, v map[string]any) map[string]any {
	out := map[string]any{}
	for k, val := range v {
		if strings.Contains(query, "$"+k) {
			out[k] = val
		}
	}
	return out
}

// TestTenantIsolation calls every tenant-scoped query and mutation as a member
// of tenant A against tenant B's objects: each must be refused, and B's data
// must be unchanged afterwards.
func TestTenantIsolation(t *testing.T) {
	h := newHarness(t)
	aliceTok, tenantA := h.owner("alice@example.com", "tenant-a")
	bobTok, tenantB := h.owner("bob@example.com", "tenant-b")

	// Tenant B's objects.
	d := h.must(bobTok, createKey, map[string]any{"t": tenantB, "n": "bob key"})
	bKey := get(d, "createAPIKey", "key", "id").(string)
	bSecret := get(d, "createAPIKey", "secret").(string)
	d = h.must(bobTok, `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"bob budget",scope:TENANT,period:MONTH,amount:"500"}){id}}`, map[string]any{"t": tenantB})
	bBudget := get(d, "createBudget", "id").(string)
	d = h.must(bobTok, `mutation($t:ID!){createPricingOverride(tenantId:$t,input:{model:"gpt-4o",effectiveFrom:"2026-01-01T00:00:00Z",percentAdjustment:"-10"}){id}}`, map[string]any{"t": tenantB})
	bOverride := get(d, "createPricingOverride", "id").(string)
	d = h.must(bobTok, `{me{id}}`, nil)
	bobID := get(d, "me", "id").(string)
	snapshot := func() string {
		d := h.must(bobTok, `query($t:ID!){tenant(id:$t){name} members(tenantId:$t){edges{node{user{email} role}}}
			apiKeys(tenantId:$t){edges{node{id status policy{allowedModels}}}} budgets(tenantId:$t){edges{node{id name amount}}}
			pricingOverrides(tenantId:$t){edges{node{id percentAdjustment}}}}`, map[string]any{"t": tenantB})
		return toJSON(d)
	}
	before := snapshot()

	// The table must cover every tenant-scoped field of the schema.
	schema := h.must(aliceTok, `{__schema{queryType{fields{name}} mutationType{fields{name}}}}`, nil)
	var fields []string
	for _, kind := range []string{"queryType", "mutationType"} {
		for _, f := range get(schema, "__schema", kind, "fields").([]any) {
			name := get(f, "name").(string)
			if !notTenantScoped[name] {
				fields = append(fields, name)
			}
		}
	}
	var covered []string
	for _, o := range tenantOps {
		covered = append(covered, o.field)
	}
	sort.Strings(fields)
	sort.Strings(covered)
	if strings.Join(fields, ",") != strings.Join(covered, ",") {
		t.Fatalf("isolation table does not cover the schema:\n schema %v\n table  %v", fields, covered)
	}

	objs := map[string]any{"key": bKey, "budget": bBudget, "override": bOverride, "user": bobID}
	for _, o := range tenantOps {
		t.Run(o.field, func(t *testing.T) {
			v := vars(o.query, objs)
			v["t"] = tenantB
			if r := h.gql(aliceTok, o.query, v); r.code() != "FORBIDDEN" {
				t.Fatalf("as a member of A on tenant B: want FORBIDDEN, got %+v data %v", r.Errors, r.Data)
			}
			if o.objects {
				v["t"] = tenantA
				if r := h.gql(aliceTok, o.query, v); r.code() != "NOT_FOUND" {
					t.Fatalf("B's object through tenant A: want NOT_FOUND, got %+v data %v", r.Errors, r.Data)
				}
			}
		})
	}
	if after := snapshot(); after != before {
		t.Fatalf("tenant B changed:\n before %s\n after  %s", before, after)
	}
	if _, a := h.policy(bSecret); a["valid"] != true {
		t.Fatal("B's key stopped working")
	}
	// tenants lists only the caller's own.
	d = h.must(aliceTok, `{tenants{id}}`, nil)
	if ts := get(d, "tenants").([]any); len(ts) != 1 || get(ts[0], "id") != tenantA {
		t.Fatalf("tenants %v", d)
	}
	// A non-existent tenant looks the same as someone else's.
	if r := h.gql(aliceTok, `query{tenant(id:"00000000-0000-0000-0000-000000000000"){id}}`, nil); r.code() != "FORBIDDEN" {
		t.Fatalf("unknown tenant: %+v", r)
	}
}

func TestRoles(t *testing.T) {
	h := newHarness(t)
	ownerTok, tenant := h.owner("owner@example.com", "acme")
	h.must(ownerTok, `mutation($t:ID!){addMember(tenantId:$t,email:"viewer@example.com",password:"password-123",role:VIEWER){role}}`, map[string]any{"t": tenant})
	h.must(ownerTok, `mutation($t:ID!){addMember(tenantId:$t,email:"admin@example.com",password:"password-123",role:ADMIN){role}}`, map[string]any{"t": tenant})
	viewer := h.signIn("viewer@example.com", "password-123")
	admin := h.signIn("admin@example.com", "password-123")
	tv := map[string]any{"t": tenant}
	h.must(viewer, `query($t:ID!){apiKeys(tenantId:$t){edges{node{id}}} budgets(tenantId:$t){edges{node{id}}}}`, tv)
	for _, q := range []string{
		`mutation($t:ID!){createAPIKey(tenantId:$t,name:"x"){secret}}`,
		`mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1"}){id}}`,
		`mutation($t:ID!){renameTenant(tenantId:$t,name:"x"){id}}`,
		`query($t:ID!){auditLog(tenantId:$t){edges{node{id}}}}`,
	} {
		if r := h.gql(viewer, q, tv); r.code() != "FORBIDDEN" {
			t.Fatalf("viewer ran %s: %+v", q, r)
		}
	}
	h.must(admin, `mutation($t:ID!){createAPIKey(tenantId:$t,name:"x"){secret}}`, tv)
	if r := h.gql(admin, `mutation($t:ID!){addMember(tenantId:$t,email:"o2@example.com",password:"password-123",role:OWNER){role}}`, tv); r.code() != "FORBIDDEN" {
		t.Fatalf("admin added an owner: %+v", r)
	}
	d := h.must(ownerTok, `{me{id}}`, nil)
	ownerID := get(d, "me", "id")
	if r := h.gql(admin, `mutation($t:ID!,$u:ID!){removeMember(tenantId:$t,userId:$u)}`, map[string]any{"t": tenant, "u": ownerID}); r.code() != "FORBIDDEN" {
		t.Fatalf("admin removed the owner: %+v", r)
	}
	if r := h.gql(ownerTok, `mutation($t:ID!,$u:ID!){updateMemberRole(tenantId:$t,userId:$u,role:ADMIN){role}}`, map[string]any{"t": tenant, "u": ownerID}); r.code() != "CONFLICT" {
		t.Fatalf("last owner demoted: %+v", r)
	}
	if r := h.gql(ownerTok, `mutation($t:ID!){addMember(tenantId:$t,email:"viewer@example.com",role:VIEWER){role}}`, tv); r.code() != "CONFLICT" {
		t.Fatalf("duplicate member: %+v", r)
	}
}

func TestBadInputsGetCodedErrors(t *testing.T) {
	h := newHarness(t)
	tok, tenant := h.owner("alice@example.com", "acme")
	tv := map[string]any{"t": tenant}
	long := strings.Repeat("x", 201)
	cases := map[string]string{
		"malformed email":       `mutation($t:ID!){addMember(tenantId:$t,email:"not-an-email",password:"password-123",role:VIEWER){role}}`,
		"short password":        `mutation($t:ID!){addMember(tenantId:$t,email:"new@example.com",password:"short",role:VIEWER){role}}`,
		"negative budget":       `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"-5"}){id}}`,
		"zero budget":           `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"0"}){id}}`,
		"too precise money":     `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1.0000000001"}){id}}`,
		"float money":           `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:1.5}){id}}`,
		"unknown enum":          `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:YEAR,amount:"1"}){id}}`,
		"bad threshold":         `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1",thresholds:[0,50]}){id}}`,
		"key scope without key": `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:KEY,period:DAY,amount:"1"}){id}}`,
		"bad webhook":           `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1",webhookUrl:"ftp://x"}){id}}`,
		"oversize name":         `mutation($t:ID!){createAPIKey(tenantId:$t,name:"` + long + `"){secret}}`,
		"empty name":            `mutation($t:ID!){createAPIKey(tenantId:$t,name:"  "){secret}}`,
		"unknown provider":      `mutation($t:ID!){createAPIKey(tenantId:$t,name:"k",policy:{allowedProviders:["acme"]}){secret}}`,
		"bad glob":              `mutation($t:ID!){createAPIKey(tenantId:$t,name:"k",policy:{allowedModels:["gpt-["]}){secret}}`,
		"bad dimension name":    `mutation($t:ID!){createAPIKey(tenantId:$t,name:"k",policy:{requiredDimensions:["Team Name"]}){secret}}`,
		"past expiry":           `mutation($t:ID!){createAPIKey(tenantId:$t,name:"k",expiresAt:"2001-01-01T00:00:00Z"){secret}}`,
		"bad tenant id":         `query{apiKeys(tenantId:"nope"){edges{node{id}}}}`,
		"bad object id":         `query($t:ID!){apiKey(tenantId:$t,id:"42"){id}}`,
		"bad page size":         `query($t:ID!){apiKeys(tenantId:$t,first:100000){edges{node{id}}}}`,
		"bad cursor":            `query($t:ID!){apiKeys(tenantId:$t,after:"!!"){edges{node{id}}}}`,
		"bad slug":              `mutation{createTenant(name:"x",slug:"Not A Slug"){id}}`,
		"unknown rate class":    `mutation($t:ID!){createPricingOverride(tenantId:$t,input:{model:"m",effectiveFrom:"2026-01-01T00:00:00Z",rates:[{class:"tokens",perMillion:"1"}]}){id}}`,
		"junk percent":          `mutation($t:ID!){createPricingOverride(tenantId:$t,input:{model:"m",effectiveFrom:"2026-01-01T00:00:00Z",percentAdjustment:"lots"}){id}}`,
		"discount over 100":     `mutation($t:ID!){createPricingOverride(tenantId:$t,input:{model:"m",effectiveFrom:"2026-01-01T00:00:00Z",percentAdjustment:"-100"}){id}}`,
		"override with nothing": `mutation($t:ID!){createPricingOverride(tenantId:$t,input:{model:"m",effectiveFrom:"2026-01-01T00:00:00Z"}){id}}`,
		"end before start":      `mutation($t:ID!){createPricingOverride(tenantId:$t,input:{model:"m",effectiveFrom:"2026-02-01T00:00:00Z",effectiveTo:"2026-01-01T00:00:00Z",percentAdjustment:"5"}){id}}`,
		"unknown field":         `query($t:ID!){apiKeys(tenantId:$t){edges{node{secret}}}}`,
		"syntax error":          `query{apiKeys(`,
	}
	for name, q := range cases {
		r := h.gql(tok, q, vars(q, tv))
		if r.code() != "INVALID_ARGUMENT" {
			t.Errorf("%s: want INVALID_ARGUMENT, got %+v", name, r.Errors)
			continue
		}
		if r.Errors[0].Message == "" || r.Errors[0].Message == "internal error" {
			t.Errorf("%s: unhelpful message %q", name, r.Errors[0].Message)
		}
	}
	if r := h.gql(tok, `mutation{createTenant(name:"x",slug:"acme"){id}}`, nil); r.code() != "CONFLICT" {
		t.Errorf("duplicate slug: %+v", r.Errors)
	}
}

func TestBudgetsAndOverridesRoundTrip(t *testing.T) {
	h := newHarness(t)
	tok, tenant := h.owner("alice@example.com", "acme")
	tv := map[string]any{"t": tenant}
	d := h.must(tok, `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"team search",scope:DIMENSION,dimensionName:"team",dimensionValue:"search",
		period:WEEK,amount:"1234.567890123",thresholds:[100,50,80],hard:true,webhookUrl:"https://hooks.example.com/x"}){id amount thresholds scope period hard}}`, tv)
	b := get(d, "createBudget")
	if get(b, "amount") != "1234.567890123" || toJSON(get(b, "thresholds")) != "[50,80,100]" || get(b, "scope") != "DIMENSION" {
		t.Fatalf("budget %v", b)
	}
	d = h.must(tok, `mutation($t:ID!){createPricingOverride(tenantId:$t,input:{provider:"openai",model:"gpt-4o*",effectiveFrom:"2026-01-01T00:00:00Z",
		rates:[{class:"input",perMillion:"2"},{class:"output",perMillion:"8.5"}],percentAdjustment:"-12.5",note:"enterprise deal"}){id rates{class perMillion} percentAdjustment}}`, tv)
	o := get(d, "createPricingOverride")
	if toJSON(get(o, "rates")) != `[{"class":"input","perMillion":"2"},{"class":"output","perMillion":"8.5"}]` || get(o, "percentAdjustment") != "-12.5" {
		t.Fatalf("override %v", o)
	}
	ovs, err := h.cp.TenantOverrides(t.Context(), tenant)
	if err != nil || len(ovs) != 1 || ovs[0].Rates["output"] != 8_500_000_000 || ovs[0].PercentAdjustmentBP != -1250 {
		t.Fatalf("overrides for pricing %+v %v", ovs, err)
	}
}

func TestPagination(t *testing.T) {
	h := newHarness(t)
	tok, tenant := h.owner("alice@example.com", "acme")
	for i := 0; i < 5; i++ {
		h.must(tok, createKey, map[string]any{"t": tenant, "n": "k" + string(rune('0'+i))})
	}
	seen := map[string]bool{}
	after := ""
	pages := 0
	for {
		v := map[string]any{"t": tenant}
		q := `query($t:ID!){apiKeys(tenantId:$t,first:2){edges{cursor node{id}} pageInfo{hasNextPage endCursor}}}`
		if after != "" {
			v["a"] = after
			q = `query($t:ID!,$a:String){apiKeys(tenantId:$t,first:2,after:$a){edges{cursor node{id}} pageInfo{hasNextPage endCursor}}}`
		}
		d := h.must(tok, q, v)
		pages++
		for _, e := range get(d, "apiKeys", "edges").([]any) {
			id := get(e, "node", "id").(string)
			if seen[id] {
				t.Fatalf("key %s on two pages", id)
			}
			seen[id] = true
		}
		if get(d, "apiKeys", "pageInfo", "hasNextPage") != true {
			break
		}
		after = get(d, "apiKeys", "pageInfo", "endCursor").(string)
	}
	if len(seen) != 5 || pages != 3 {
		t.Fatalf("saw %d keys on %d pages", len(seen), pages)
	}
}
