package apiserver

import (
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/internal/testenv"
)

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
	// Admins read the audit log, including what they did themselves.
	al := h.must(admin, `query($t:ID!){auditLog(tenantId:$t,first:1){edges{node{actor action}}}}`, tv)
	if e := get(al, "auditLog", "edges").([]any); len(e) != 1 || get(e[0], "node", "actor") != "admin@example.com" || get(e[0], "node", "action") != "api_key.create" {
		t.Fatalf("admin's audit log: %v", al)
	}
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
		"unknown enum":          `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:FORTNIGHT,amount:"1"}){id}}`,
		"bad threshold":         `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1",thresholds:[0,50]}){id}}`,
		"key scope without key": `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:KEY,period:DAY,amount:"1"}){id}}`,
		"bad webhook":           `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1",webhookUrl:"ftp://x"}){id}}`,
		// Webhooks may not point at the server's own network (SSRF).
		"loopback webhook":      `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1",webhookUrl:"http://127.0.0.1:8080/query"}){id}}`,
		"localhost webhook":     `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1",webhookUrl:"http://localhost/x"}){id}}`,
		"metadata webhook":      `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1",webhookUrl:"http://169.254.169.254/latest/meta-data/"}){id}}`,
		"private webhook":       `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1",webhookUrl:"https://10.0.0.8/hook"}){id}}`,
		"unique local webhook":  `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1",webhookUrl:"http://[fd00::1]/hook"}){id}}`,
		"link-local v6 webhook": `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1",webhookUrl:"http://[fe80::1]/hook"}){id}}`,
		"unspecified webhook":   `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1",webhookUrl:"http://0.0.0.0:9000/hook"}){id}}`,
		"multicast webhook":     `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1",webhookUrl:"http://224.0.0.1/hook"}){id}}`,
		"cgnat webhook":         `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1",webhookUrl:"http://100.64.0.1/hook"}){id}}`,
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
		// Malformed emails wherever an email is taken.
		"sign-in email":        `mutation{signIn(email:"alice(at)example.com",password:"password-123"){accessToken}}`,
		"email without domain": `mutation($t:ID!){addMember(tenantId:$t,email:"bob@",password:"password-123",role:VIEWER){role}}`,
		"email with name":      `mutation($t:ID!){addMember(tenantId:$t,email:"Bob <bob@example.com>",password:"password-123",role:VIEWER){role}}`,
		// Oversize strings.
		"oversize email":          `mutation($t:ID!){addMember(tenantId:$t,email:"` + strings.Repeat("b", 250) + `@example.com",password:"password-123",role:VIEWER){role}}`,
		"oversize member name":    `mutation($t:ID!){addMember(tenantId:$t,email:"new@example.com",name:"` + long + `",password:"password-123",role:VIEWER){role}}`,
		"oversize password":       `mutation($t:ID!){addMember(tenantId:$t,email:"new@example.com",password:"` + strings.Repeat("p", 73) + `",role:VIEWER){role}}`,
		"oversize tenant name":    `mutation{createTenant(name:"` + long + `",slug:"fine"){id}}`,
		"oversize slug":           `mutation{createTenant(name:"x",slug:"` + strings.Repeat("s", 64) + `"){id}}`,
		"empty rename":            `mutation($t:ID!){renameTenant(tenantId:$t,name:""){id}}`,
		"oversize budget name":    `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"` + long + `",scope:TENANT,period:DAY,amount:"1"}){id}}`,
		"oversize webhook":        `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1",webhookUrl:"https://x.example.com/` + strings.Repeat("w", 2000) + `"}){id}}`,
		"oversize override note":  `mutation($t:ID!){createPricingOverride(tenantId:$t,input:{model:"m",effectiveFrom:"2026-01-01T00:00:00Z",percentAdjustment:"5",note:"` + strings.Repeat("n", 1001) + `"}){id}}`,
		"oversize override model": `mutation($t:ID!){createPricingOverride(tenantId:$t,input:{model:"` + long + `",effectiveFrom:"2026-01-01T00:00:00Z",percentAdjustment:"5"}){id}}`,
		"oversize glob":           `mutation($t:ID!){createAPIKey(tenantId:$t,name:"k",policy:{allowedModels:["` + long + `"]}){secret}}`,
		"oversize default dim":    `mutation($t:ID!){createAPIKey(tenantId:$t,name:"k",policy:{defaultDimensions:[{name:"team",value:"` + strings.Repeat("v", 129) + `"}]}){secret}}`,
		"too many globs":          `mutation($t:ID!){createAPIKey(tenantId:$t,name:"k",policy:{allowedModels:[` + strings.Repeat(`"m*",`, 101) + `]}){secret}}`,
		"oversize money":          `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"` + strings.Repeat("9", 41) + `"}){id}}`,
		// Unknown enum values and out-of-range numbers.
		"unknown role":          `mutation($t:ID!){addMember(tenantId:$t,email:"new@example.com",password:"password-123",role:SUPERUSER){role}}`,
		"unknown scope":         `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:GALAXY,period:DAY,amount:"1"}){id}}`,
		"unknown key status":    `query($t:ID!){apiKeys(tenantId:$t,status:DELETED){edges{node{id}}}}`,
		"enum as string":        `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:"TENANT",period:DAY,amount:"1"}){id}}`,
		"signed money":          `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"+5"}){id}}`,
		"budget over cap":       `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1000000001"}){id}}`,
		"threshold over 1000":   `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:TENANT,period:DAY,amount:"1",thresholds:[1001]}){id}}`,
		"dimension no value":    `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:DIMENSION,dimensionName:"team",period:DAY,amount:"1"}){id}}`,
		"negative page size":    `query($t:ID!){apiKeys(tenantId:$t,first:-1){edges{node{id}}}}`,
		"zero page size":        `query($t:ID!){budgets(tenantId:$t,first:0){edges{node{id}}}}`,
		"key budget bad key id": `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"b",scope:KEY,keyId:"k1",period:DAY,amount:"1"}){id}}`,
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

// TestPagination walks every connection of a tenant two items at a time:
// each item appears exactly once, newest first, and the last page says so.
func TestPagination(t *testing.T) {
	h := newHarness(t)
	tok, tenant := h.owner("alice@example.com", "acme")
	for i := 0; i < 5; i++ {
		n := string(rune('0' + i))
		h.must(tok, createKey, map[string]any{"t": tenant, "n": "k" + n})
		h.must(tok, `mutation($t:ID!,$n:String!){createBudget(tenantId:$t,input:{name:$n,scope:TENANT,period:DAY,amount:"1"}){id}}`, map[string]any{"t": tenant, "n": "b" + n})
		h.must(tok, `mutation($t:ID!,$m:String!){createPricingOverride(tenantId:$t,input:{model:$m,effectiveFrom:"2026-01-01T00:00:00Z",percentAdjustment:"-1"}){id}}`, map[string]any{"t": tenant, "m": "m" + n})
		if i > 0 { // the owner is the first member
			h.must(tok, `mutation($t:ID!,$e:String!){addMember(tenantId:$t,email:$e,password:"password-123",role:VIEWER){role}}`, map[string]any{"t": tenant, "e": "u" + n + "@example.com"})
		}
	}
	// 1 tenant.create + 5 of each: keys, budgets, overrides, and 4 members.
	want := map[string]int{"apiKeys": 5, "budgets": 5, "pricingOverrides": 5, "members": 5, "auditLog": 20}
	node := map[string]string{"apiKeys": "id createdAt", "budgets": "id createdAt", "pricingOverrides": "id createdAt",
		"members": "user{id} createdAt", "auditLog": "id createdAt"}
	for field, n := range want {
		t.Run(field, func(t *testing.T) {
			seen := map[string]bool{}
			var last time.Time
			after, pages := "", 0
			for {
				v := map[string]any{"t": tenant, "a": nil}
				if after != "" {
					v["a"] = after
				}
				q := `query($t:ID!,$a:String){` + field + `(tenantId:$t,first:2,after:$a){edges{cursor node{` + node[field] + `}} pageInfo{hasNextPage endCursor}}}`
				d := h.must(tok, q, v)
				pages++
				edges := get(d, field, "edges").([]any)
				for _, e := range edges {
					id, _ := get(e, "node", "id").(string)
					if id == "" {
						id = get(e, "node", "user", "id").(string)
					}
					if seen[id] {
						t.Fatalf("%s on two pages", id)
					}
					seen[id] = true
					created, err := time.Parse(time.RFC3339Nano, get(e, "node", "createdAt").(string))
					testenv.Must(t, err, "createdAt")
					if !last.IsZero() && created.After(last) {
						t.Fatalf("not newest first: %s after %s", created, last)
					}
					last = created
				}
				if get(d, field, "pageInfo", "hasNextPage") != true {
					break
				}
				if len(edges) != 2 || get(d, field, "pageInfo", "endCursor") != get(edges[1], "cursor") {
					t.Fatalf("page %d: %v", pages, d)
				}
				after = get(d, field, "pageInfo", "endCursor").(string)
			}
			if len(seen) != n || pages != (n+1)/2 {
				t.Fatalf("saw %d items on %d pages, want %d", len(seen), pages, n)
			}
		})
	}
}
