package dataplane

import (
	"github.com/spendgate/spendgate/event"
	"github.com/spendgate/spendgate/meter"
	"github.com/spendgate/spendgate/policy"
)

// Credential is the tenant's stored provider credential as the host puts it
// on a forwarded call: after removing every header of CredentialHeaders, it
// sets Header (lower case) to Value.
type Credential struct {
	Header, Value string
}

// CredentialHeaders are the headers a provider credential travels in on the
// routes spendgate meters: a call that carries the tenant's credential loses
// whatever the caller sent in any of them, so the caller's own key never
// reaches the provider beside (or instead of) the stored one.
var CredentialHeaders = []string{"authorization", "x-api-key", "x-goog-api-key", "api-key"}

// credentialFor is how route's provider takes an API key; ok is false for
// the cloud routes, which authenticate with the caller's cloud identity
// (SigV4 signatures, OAuth tokens, Entra ID) rather than a stored key.
func credentialFor(route *meter.Route, key string) (c Credential, ok bool) {
	if route.Provider == nil || route.Provider.Cloud {
		return Credential{}, false
	}
	switch route.Style {
	case meter.StyleAnthropic:
		return Credential{Header: "x-api-key", Value: key}, true
	case meter.StyleGemini:
		return Credential{Header: "x-goog-api-key", Value: key}, true
	case meter.StyleOpenAI:
		return Credential{Header: "authorization", Value: "Bearer " + key}, true
	}
	return Credential{}, false
}

// useStoredCredential picks the call's stored credential when its key's
// policy asks for one; denied says the call cannot go on without it.
func (c *Call) useStoredCredential() (s Step, denied bool) {
	if !c.answer.Policy.InjectCredentials {
		return Step{}, false
	}
	id := c.Route.Provider.ID
	key := c.answer.Credentials[id]
	cred, ok := credentialFor(&c.Route, key)
	switch {
	case !ok:
		return c.deny(policy.Decision{Reason: event.DenialNoProviderCredential, Message: "this key uses the tenant's stored provider credentials, and " +
			id + " calls authenticate with the caller's own cloud identity, which spendgate does not hold: use a key without stored credentials for " + id}), true
	case key == "":
		return c.deny(policy.Decision{Reason: event.DenialNoProviderCredential, Message: "this key uses the tenant's stored provider credentials, and none is stored for " +
			id + ": an admin adds one as the data-plane key of a provider connection"}), true
	}
	c.credential = cred
	return Step{}, false
}

// Credential is the stored provider credential the host puts on the
// forwarded call in place of the caller's (see Credential); ok is false
// when the call goes on with the caller's own headers.
func (c *Call) Credential() (Credential, bool) {
	return c.credential, c.credential.Header != ""
}
