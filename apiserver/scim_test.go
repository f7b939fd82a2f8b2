package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/internal/testenv"
)

// scimCall sends a SCIM request with a bearer token and returns the status
// and the decoded body.
func (h *harness) scimCall(token, method, path, body string) (int, map[string]any) {
	h.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, h.srv.URL+"/scim/v2"+path, r)
	req.Header.Set("Content-Type", "application/scim+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	testenv.Must(h.t, err, method+" "+path)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			h.t.Fatalf("%s %s answered %d, not JSON: %s", method, path, resp.StatusCode, b)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/scim+json" {
			h.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
		}
	}
	return resp.StatusCode, out
}

// Payloads as Okta and Microsoft Entra ID send them (their provisioning
// documentation: Okta "SCIM 2.0 protocol reference", Entra "Tutorial:
// develop a SCIM endpoint"); Entra capitalises ops and may send booleans
// as strings.
const (
	oktaCreateUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"dana@acme.test",
		"name":{"givenName":"Dana","familyName":"Ng"},"emails":[{"primary":true,"value":"dana@acme.test","type":"work"}],
		"displayName":"Dana Ng","locale":"en-US","externalId":"00u1abcd","groups":[],"password":"ignored-Pa55","active":true}`
	entraCreateUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Bob@acme.test","active":true,"displayName":"Bob Lee",
		"emails":[{"primary":true,"type":"work","value":"bob@acme.test"}],"meta":{"resourceType":"User"},
		"name":{"formatted":"Bob Lee","familyName":"Lee","givenName":"Bob"},"roles":[],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Finance"}}`
	entraDeactivate = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`
	oktaReactivate  = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`
	entraUpdate     = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"Replace","path":"displayName","value":"Bob A. Lee"},
		{"op":"Replace","path":"emails[type eq \"work\"].value","value":"bob@acme.test"},
		{"op":"Replace","path":"name.givenName","value":"Robert"},
		{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Spend"}]}`
)

func TestSCIMProvisioning(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	alice, acme := h.owner("alice@acme.test", "acme")
	// Groups map to roles through the tenant's SSO mapping (the provider
	// itself may stay off: provisioning works without sign-in through it).
	h.must(alice, `mutation($t:ID!){configureTenantSSO(tenantId:$t,input:{enabled:false,displayName:"Entra",issuerUrl:"https://login.microsoftonline.example/t/v2.0",clientId:"c",
		groupMappings:[{group:"Spend Admins",role:ADMIN},{group:"Finance",role:VIEWER}]}){enabled}}`, map[string]any{"t": acme})
	d := h.must(alice, `mutation($t:ID!){createSCIMToken(tenantId:$t,name:"entra"){secret baseUrl token{id prefix}}}`, map[string]any{"t": acme})
	token := get(d, "createSCIMToken", "secret").(string)
	if get(d, "createSCIMToken", "baseUrl") != h.srv.URL+"/scim/v2" || !strings.HasPrefix(token, "sgscim_"+get(d, "createSCIMToken", "token", "prefix").(string)+"_") {
		t.Fatalf("created token: %v", d)
	}
	var hashes int
	testenv.Must(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM scim_tokens WHERE position(convert_to($1, 'UTF8') in token_hash) > 0 OR prefix = $1`, token).Scan(&hashes), "token stored")
	if hashes != 0 {
		t.Fatal("the SCIM token is stored in clear")
	}

	// Authentication and the error shape.
	for name, tok := range map[string]string{"no token": "", "wrong token": "sgscim_aaaaaaaaaa_wrong"} {
		status, body := h.scimCall(tok, "GET", "/Users", "")
		if status != 401 || body["status"] != "401" || !strings.Contains(toJSON(body["schemas"]), "urn:ietf:params:scim:api:messages:2.0:Error") {
			t.Fatalf("%s: %d %v", name, status, body)
		}
	}
	if status, body := h.scimCall("", "GET", "/ServiceProviderConfig", ""); status != 200 || get(body, "patch", "supported") != true {
		t.Fatalf("ServiceProviderConfig: %d %v", status, body)
	}

	// Okta's first step: is the user there? Then create it.
	if status, body := h.scimCall(token, "GET", "/Users?filter="+url.QueryEscape(`userName eq "dana@acme.test"`)+"&startIndex=1&count=100", ""); status != 200 || body["totalResults"] != 0.0 {
		t.Fatalf("lookup before create: %d %v", status, body)
	}
	status, dana := h.scimCall(token, "POST", "/Users", oktaCreateUser)
	if status != 201 || dana["userName"] != "dana@acme.test" || dana["active"] != true || get(dana, "meta", "resourceType") != "User" {
		t.Fatalf("Okta create: %d %v", status, dana)
	}
	danaID := dana["id"].(string)
	if status, body := h.scimCall(token, "POST", "/Users", oktaCreateUser); status != 409 || body["scimType"] != "uniqueness" {
		t.Fatalf("create twice: %d %v", status, body)
	}
	status, bob := h.scimCall(token, "POST", "/Users", entraCreateUser)
	if status != 201 {
		t.Fatalf("Entra create: %d %v", status, bob)
	}
	bobID := bob["id"].(string)
	// Filters IdPs send, case-insensitive on the value of userName.
	if _, body := h.scimCall(token, "GET", "/Users?filter="+url.QueryEscape(`userName eq "bob@acme.test"`), ""); body["totalResults"] != 1.0 {
		t.Fatalf("filter by userName: %v", body)
	}
	if _, body := h.scimCall(token, "GET", "/Users?filter="+url.QueryEscape(`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`), ""); body["totalResults"] != 1.0 {
		t.Fatalf("filter by externalId: %v", body)
	}
	if status, body := h.scimCall(token, "GET", "/Users?filter="+url.QueryEscape(`title co "x"`), ""); status != 400 || body["scimType"] != "invalidFilter" {
		t.Fatalf("unsupported filter: %d %v", status, body)
	}

	// Groups: Entra creates one with a member, Okta adds another.
	status, admins := h.scimCall(token, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"Spend Admins","members":[{"value":"`+danaID+`"}]}`)
	if status != 201 {
		t.Fatalf("create group: %d %v", status, admins)
	}
	adminsID := admins["id"].(string)
	status, finance := h.scimCall(token, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Finance","members":[]}`)
	if status != 201 {
		t.Fatalf("create group: %d %v", status, finance)
	}
	financeID := finance["id"].(string)
	if status, body := h.scimCall(token, "PATCH", "/Groups/"+financeID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+bobID+`","display":"bob@acme.test"}]}]}`); status != 200 {
		t.Fatalf("Okta add member: %d %v", status, body)
	}
	roles := func() string {
		d := h.must(alice, `query($t:ID!){members(tenantId:$t){edges{node{user{email} role suspended}}}}`, map[string]any{"t": acme})
		var out []string
		for _, e := range get(d, "members", "edges").([]any) {
			n := get(e, "node")
			s := get(n, "user", "email").(string) + "=" + get(n, "role").(string)
			if get(n, "suspended") == true {
				s += "(suspended)"
			}
			out = append(out, s)
		}
		return strings.Join(out, " ")
	}
	if got := roles(); got != "bob@acme.test=VIEWER dana@acme.test=ADMIN alice@acme.test=OWNER" {
		t.Fatalf("roles from groups: %s", got)
	}
	// Entra moves Bob into Spend Admins too: the highest role wins.
	h.scimCall(token, "PATCH", "/Groups/"+adminsID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"value":"`+bobID+`"}]}]}`)
	if got := roles(); !strings.Contains(got, "bob@acme.test=ADMIN") {
		t.Fatalf("bob in both groups: %s", got)
	}
	// Okta removes him by filter path; Entra by value list.
	h.scimCall(token, "PATCH", "/Groups/"+adminsID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"`+bobID+`\"]"}]}`)
	if got := roles(); !strings.Contains(got, "bob@acme.test=VIEWER") {
		t.Fatalf("bob removed from admins (Okta): %s", got)
	}
	if _, g := h.scimCall(token, "GET", "/Groups/"+adminsID, ""); len(g["members"].([]any)) != 1 {
		t.Fatalf("admins' members: %v", g)
	}

	// Entra's attribute update, then deactivation with "False" as a string:
	// the membership is suspended, Bob's sessions of the tenant and his
	// live subscriptions end at once.
	if status, body := h.scimCall(token, "PATCH", "/Users/"+bobID, entraUpdate); status != 200 || body["displayName"] != "Bob A. Lee" || get(body, "name", "givenName") != "Robert" {
		t.Fatalf("Entra update: %d %v", status, body)
	}
	// Bob has a password account too (added earlier by an admin elsewhere).
	_, err := h.pool.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE email = $1`, "bob@acme.test", mustHash(t, "bob-password-1"))
	testenv.Must(t, err, "bob's password")
	bobToken := h.signIn("bob@acme.test", "bob-password-1")
	h.must(bobToken, `query($t:ID!){members(tenantId:$t){edges{node{role}}}}`, map[string]any{"t": acme})
	p, err := h.cp.Authenticate(ctx, bobToken)
	testenv.Must(t, err, "bob's principal")
	watch, err := h.cp.WatchAccess(auth.WithPrincipal(ctx, p), acme, "viewer")
	testenv.Must(t, err, "bob's live subscription")
	if status, body := h.scimCall(token, "PATCH", "/Users/"+bobID, entraDeactivate); status != 200 || body["active"] != false {
		t.Fatalf("Entra deactivate: %d %v", status, body)
	}
	select {
	case <-watch.Done():
		var ae *apierr.Error
		if cause := context.Cause(watch); !errors.As(cause, &ae) || ae.Code != apierr.CodeForbidden {
			t.Fatalf("the live subscription ended with %v", cause)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("bob's live subscription kept running after deactivation")
	}
	if r := h.gql(bobToken, `query($t:ID!){members(tenantId:$t){edges{node{role}}}}`, map[string]any{"t": acme}); r.code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "suspended") {
		t.Fatalf("bob after deactivation: %+v", r)
	}
	if got := roles(); !strings.Contains(got, "bob@acme.test=VIEWER(suspended)") {
		t.Fatalf("members after deactivation: %s", got)
	}
	// Okta reactivates.
	if status, body := h.scimCall(token, "PATCH", "/Users/"+bobID, oktaReactivate); status != 200 || body["active"] != true {
		t.Fatalf("Okta reactivate: %d %v", status, body)
	}
	h.must(bobToken, `query($t:ID!){members(tenantId:$t){edges{node{role}}}}`, map[string]any{"t": acme})

	// PUT replaces the user (active false is a deactivation too).
	var put map[string]any
	_ = json.Unmarshal([]byte(oktaCreateUser), &put)
	put["active"] = false
	b, _ := json.Marshal(put)
	if status, body := h.scimCall(token, "PUT", "/Users/"+danaID, string(b)); status != 200 || body["active"] != false {
		t.Fatalf("PUT: %d %v", status, body)
	}
	// The last owner cannot be suspended or demoted through provisioning:
	// provisioning Alice in no group would take her role away.
	aliceSCIM := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@acme.test","active":true}`
	if status, body := h.scimCall(token, "POST", "/Users", aliceSCIM); status != 409 || body["scimType"] != "mutability" {
		t.Fatalf("provisioning the last owner out of her role: %d %v", status, body)
	}
	h.must(alice, `query($t:ID!){members(tenantId:$t){edges{node{role}}}}`, map[string]any{"t": acme})

	// Another tenant's token sees none of it.
	bobsTok, bobs := h.owner("owner@other.test", "other")
	d = h.must(bobsTok, `mutation($t:ID!){createSCIMToken(tenantId:$t,name:"okta"){secret}}`, map[string]any{"t": bobs})
	otherToken := get(d, "createSCIMToken", "secret").(string)
	if _, body := h.scimCall(otherToken, "GET", "/Users", ""); body["totalResults"] != 0.0 {
		t.Fatalf("another tenant's token lists: %v", body)
	}
	for _, path := range []string{"/Users/" + bobID, "/Groups/" + adminsID} {
		if status, _ := h.scimCall(otherToken, "GET", path, ""); status != 404 {
			t.Fatalf("another tenant's token on %s: %d", path, status)
		}
		if status, _ := h.scimCall(otherToken, "DELETE", path, ""); status != 404 {
			t.Fatalf("another tenant's token deleting %s: %d", path, status)
		}
	}

	// Delete: the membership goes; the group's members follow.
	if status, _ := h.scimCall(token, "DELETE", "/Users/"+bobID, ""); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	if got := roles(); strings.Contains(got, "bob@") {
		t.Fatalf("bob is still a member: %s", got)
	}
	// Revoked tokens stop at once; everything was audited.
	h.must(alice, `mutation($t:ID!,$id:ID!){revokeSCIMToken(tenantId:$t,id:$id){revokedAt}}`, map[string]any{"t": acme, "id": get(h.must(alice, `query($t:ID!){scimTokens(tenantId:$t){id}}`, map[string]any{"t": acme}), "scimTokens").([]any)[0].(map[string]any)["id"]})
	if status, _ := h.scimCall(token, "GET", "/Users", ""); status != 401 {
		t.Fatalf("a revoked token: %d", status)
	}
	log := toJSON(h.must(alice, `query($t:ID!){auditLog(tenantId:$t,first:100){edges{node{actor action}}}}`, map[string]any{"t": acme}))
	for _, a := range []string{"scim.user.create", "scim.group.create", "scim.group.update", "scim.user.update", "scim.user.deactivate", "scim.user.reactivate", "scim.user.delete"} {
		if !strings.Contains(log, `"action":"`+a+`"`) {
			t.Errorf("no %s in the audit log", a)
		}
	}
	if strings.Contains(log, token) || strings.Contains(h.logs.String(), token) {
		t.Fatal("the SCIM token leaked into a log")
	}
}

func mustHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := auth.HashPassword(pw)
	testenv.Must(t, err, "hash")
	return h
}
