package apiserver

import (
	"testing"
)

// changePassword ends every session of the user at once: access tokens
// issued before it are refused on their next request (401 at the door), not
// at their expiry 15 minutes later, and refresh tokens are spent.
func TestChangePasswordEndsAccessTokens(t *testing.T) {
	h := newHarness(t)
	_, tenant := h.owner("ann@example.com", "acme")
	sign := func(pw string) (string, string) {
		d := h.must("", `mutation($p:String!){signIn(email:"ann@example.com",password:$p){accessToken refreshToken}}`, map[string]any{"p": pw})
		return get(d, "signIn", "accessToken").(string), get(d, "signIn", "refreshToken").(string)
	}
	laptop, laptopRefresh := sign("password-123")
	phone, _ := sign("password-123")
	h.must(phone, `query($t:ID!){tenant(id:$t){name}}`, map[string]any{"t": tenant})

	h.must(laptop, `mutation{changePassword(currentPassword:"password-123",newPassword:"password-456")}`, nil)

	for name, tok := range map[string]string{"the other session": phone, "the changing session": laptop} {
		if r := h.gql(tok, `query($t:ID!){tenant(id:$t){name}}`, map[string]any{"t": tenant}); r.code() != "UNAUTHENTICATED" {
			t.Errorf("%s still reads the tenant: %+v", name, r)
		}
		if r := h.gql(tok, `{me{email}}`, nil); r.code() != "UNAUTHENTICATED" {
			t.Errorf("%s still reads me: %+v", name, r)
		}
	}
	if r := h.gql("", `mutation($r:String!){refreshSession(refreshToken:$r){accessToken}}`, map[string]any{"r": laptopRefresh}); r.code() != "UNAUTHENTICATED" {
		t.Errorf("refresh token of before the change: %+v", r)
	}
	fresh, _ := sign("password-456")
	h.must(fresh, `query($t:ID!){tenant(id:$t){name}}`, map[string]any{"t": tenant})
}
