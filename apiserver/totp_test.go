package apiserver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/auth"
	"github.com/spendgate/spendgate/internal/testenv"
)

// TestTOTP turns TOTP on and signs in with it on a fixed clock: a code
// works once (replay within its step refused), codes two steps old are
// refused, recovery codes work once, failures are throttled like passwords,
// owners can require it, and neither the seed nor a recovery code is stored
// in clear.
func TestTOTP(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	h.cp.SetClock(func() time.Time { return now })
	alice, acme := h.owner("alice@acme.test", "acme")
	signIn := func(code string) gqlResponse {
		v := map[string]any{"e": "alice@acme.test", "p": "password-123"}
		if code != "" {
			v["c"] = code
		}
		return h.gql("", `mutation($e:String!,$p:String!,$c:String){signIn(email:$e,password:$p,mfaCode:$c){accessToken}}`, v)
	}
	code := func(secret string, at time.Time) string {
		c, err := auth.TOTPCode(secret, at)
		testenv.Must(t, err, "code")
		return c
	}

	d := h.must(alice, `mutation{enrolTOTP{secret otpauthUri qrCode}}`, nil)
	secret := get(d, "enrolTOTP", "secret").(string)
	if !strings.HasPrefix(get(d, "enrolTOTP", "qrCode").(string), "data:image/png;base64,") || !strings.Contains(get(d, "enrolTOTP", "otpauthUri").(string), "secret="+secret) {
		t.Fatalf("enrolment: %v", d)
	}
	// Not in force until confirmed.
	if r := signIn(""); len(r.Errors) > 0 {
		t.Fatalf("sign-in before confirming: %+v", r.Errors)
	}
	if r := h.gql(alice, `mutation{confirmTOTP(code:"000000")}`, nil); r.code() != "INVALID_ARGUMENT" {
		t.Fatalf("confirm with a wrong code: %+v", r)
	}
	d = h.must(alice, `mutation($c:String!){confirmTOTP(code:$c)}`, map[string]any{"c": code(secret, now)})
	var recovery []string
	for _, c := range get(d, "confirmTOTP").([]any) {
		recovery = append(recovery, c.(string))
	}
	if len(recovery) != 10 {
		t.Fatalf("recovery codes: %v", recovery)
	}
	if r := h.gql(alice, `mutation{enrolTOTP{secret}}`, nil); r.code() != "CONFLICT" {
		t.Fatalf("enrolling twice: %+v", r)
	}

	// Sign-in asks for the code.
	if r := signIn(""); r.code() != "MFA_REQUIRED" {
		t.Fatalf("no code: %+v", r)
	}
	if r := signIn(code(secret, now)); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("the confirming code replayed in its step: %+v", r)
	}
	now = now.Add(30 * time.Second)
	c1 := code(secret, now)
	if r := signIn(c1); len(r.Errors) > 0 {
		t.Fatalf("a fresh code: %+v", r.Errors)
	}
	if r := signIn(c1); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("the same code again within its step: %+v", r)
	}
	now = now.Add(30 * time.Second)
	if r := signIn(code(secret, now.Add(-30*time.Second))); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("an older step's code after a newer one was used: %+v", r)
	}
	now = now.Add(90 * time.Second)
	if r := signIn(code(secret, now.Add(-90*time.Second))); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("a code three steps old: %+v", r)
	}
	if r := signIn(code(secret, now.Add(-30*time.Second))); len(r.Errors) > 0 {
		t.Fatalf("the previous step's code (clock drift): %+v", r.Errors)
	}
	// Recovery codes: typed loosely, once each.
	if r := signIn(strings.ToUpper(strings.ReplaceAll(recovery[0], "-", " "))); len(r.Errors) > 0 {
		t.Fatalf("a recovery code: %+v", r.Errors)
	}
	if r := signIn(recovery[0]); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("a recovery code twice: %+v", r)
	}
	if d := h.must(alice, `{myMFA{totpEnabled recoveryCodesLeft}}`, nil); toJSON(d) != `{"myMFA":{"recoveryCodesLeft":9,"totpEnabled":true}}` {
		t.Fatalf("myMFA: %v", d)
	}

	// Stored sealed and hashed only.
	var sealed string
	testenv.Must(t, h.pool.QueryRow(ctx, `SELECT secret_sealed FROM user_totp`).Scan(&sealed), "seed")
	if !strings.HasPrefix(sealed, "sg1:test:") || strings.Contains(sealed, secret) {
		t.Fatalf("TOTP seed stored as %q", sealed)
	}
	var clear int
	testenv.Must(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE position($1::bytea in code_hash) > 0`, []byte(recovery[1])).Scan(&clear), "codes")
	if clear != 0 {
		t.Fatal("a recovery code is stored in clear")
	}

	// Owners can require it; members without it are refused, with it not.
	h.must(alice, `mutation($t:ID!){addMember(tenantId:$t,email:"bob@acme.test",password:"bob-password-1",role:VIEWER){role}}`, map[string]any{"t": acme})
	bob := h.signIn("bob@acme.test", "bob-password-1")
	_, bobs := h.owner("bob-owner@acme.test", "bobs")
	bobOwner := h.signIn("bob-owner@acme.test", "password-123")
	if r := h.gql(bobOwner, `mutation($t:ID!){setTenantMFARequired(tenantId:$t,required:true){id}}`, map[string]any{"t": bobs}); r.code() != "INVALID_ARGUMENT" {
		t.Fatalf("an owner without TOTP requiring it: %+v", r)
	}
	if d := h.must(alice, `mutation($t:ID!){setTenantMFARequired(tenantId:$t,required:true){mfaRequired}}`, map[string]any{"t": acme}); get(d, "setTenantMFARequired", "mfaRequired") != true {
		t.Fatalf("require MFA: %v", d)
	}
	if r := h.gql(bob, `query($t:ID!){members(tenantId:$t){edges{node{role}}}}`, map[string]any{"t": acme}); r.code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "two-factor") {
		t.Fatalf("bob without TOTP on an MFA tenant: %+v", r)
	}
	if d := h.must(bob, `{tenants{slug mfaRequired}}`, nil); toJSON(d) != `{"tenants":[{"mfaRequired":true,"slug":"acme"}]}` {
		t.Fatalf("bob's tenant list (listed, so the portal can say why): %v", d)
	}
	h.must(alice, `query($t:ID!){members(tenantId:$t){edges{node{role}}}}`, map[string]any{"t": acme})

	// New recovery codes need a current code; the old ones stop.
	now = now.Add(30 * time.Second)
	d = h.must(alice, `mutation($c:String!){regenerateRecoveryCodes(code:$c)}`, map[string]any{"c": code(secret, now)})
	if len(get(d, "regenerateRecoveryCodes").([]any)) != 10 {
		t.Fatalf("new codes: %v", d)
	}
	if r := signIn(recovery[1]); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("an old recovery code after regenerating: %+v", r)
	}

	// Wrong codes are throttled like wrong passwords: after the account's
	// free failures even the right code is refused.
	for i := 0; i < 6; i++ {
		signIn("123456")
	}
	now = now.Add(30 * time.Second)
	if r := signIn(code(secret, now)); r.code() != "RATE_LIMITED" {
		t.Fatalf("the right code while locked: %+v", r)
	}
	if !strings.Contains(h.logs.String(), `reason="wrong two-factor code"`) {
		t.Fatal("failed codes are not logged")
	}

	// Turning it off needs the password and a code.
	if r := h.gql(alice, `mutation($c:String!){disableTOTP(password:"wrong-password",code:$c)}`, map[string]any{"c": recovery[2]}); r.code() != "UNAUTHENTICATED" && r.code() != "RATE_LIMITED" {
		t.Fatalf("disable with a wrong password: %+v", r)
	}
	var audited []string
	rows, err := h.pool.Query(ctx, `SELECT action FROM audit_log WHERE tenant_id IS NULL AND action LIKE 'user.mfa%' ORDER BY id`)
	testenv.Must(t, err, "audit")
	for rows.Next() {
		var a string
		testenv.Must(t, rows.Scan(&a), "scan")
		audited = append(audited, a)
	}
	if strings.Join(audited, ",") != "user.mfa.enable,user.mfa.recovery_codes" {
		t.Fatalf("audited MFA changes: %v", audited)
	}
	for _, s := range append([]string{secret}, recovery...) {
		if strings.Contains(h.logs.String(), s) {
			t.Fatalf("the log holds a TOTP secret or recovery code")
		}
	}
}

// TestTOTPDisable turns TOTP off with the password and a code.
func TestTOTPDisable(t *testing.T) {
	h := newHarness(t)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	h.cp.SetClock(func() time.Time { return now })
	alice, _ := h.owner("alice@acme.test", "acme")
	secret := get(h.must(alice, `mutation{enrolTOTP{secret}}`, nil), "enrolTOTP", "secret").(string)
	c, _ := auth.TOTPCode(secret, now)
	h.must(alice, `mutation($c:String!){confirmTOTP(code:$c)}`, map[string]any{"c": c})
	now = now.Add(30 * time.Second)
	c, _ = auth.TOTPCode(secret, now)
	h.must(alice, `mutation($c:String!){disableTOTP(password:"password-123",code:$c)}`, map[string]any{"c": c})
	if d := h.must(alice, `{myMFA{totpEnabled recoveryCodesLeft}}`, nil); toJSON(d) != `{"myMFA":{"recoveryCodesLeft":0,"totpEnabled":false}}` {
		t.Fatalf("after disabling: %v", d)
	}
	h.signIn("alice@acme.test", "password-123")
}
