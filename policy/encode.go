package policy

import (
	"sort"
	"strconv"

	"github.com/spendgate/spendgate/event"
)

// AppendAnswer appends a's JSON, the policy endpoint's answer (TinyGo-safe):
// the one encoder of the answer, used by the endpoint and by the filter's
// shared cache, and read back by ParseAnswer (FuzzAnswerRoundTrip keeps the
// two in step). Default dimensions are written in key order, so equal
// answers encode to equal bytes.
func AppendAnswer(b []byte, a *Answer) []byte {
	b = append(b, `{"valid":`...)
	b = strconv.AppendBool(b, a.Valid)
	b = appendOptString(b, "reason", a.Reason)
	b = appendOptString(b, "tenant_id", a.TenantID)
	b = appendOptString(b, "key_id", a.KeyID)
	b = appendOptString(b, "key_prefix", a.KeyPrefix)
	b = append(b, `,"blocked":`...)
	b = strconv.AppendBool(b, a.Blocked)
	b = appendOptString(b, "block_reason", a.BlockReason)
	b = append(b, `,"policy":{"allowed_providers":`...)
	b = appendStrings(b, a.Policy.AllowedProviders)
	b = append(b, `,"allowed_models":`...)
	b = appendStrings(b, a.Policy.AllowedModels)
	b = append(b, `,"required_dimensions":`...)
	b = appendStrings(b, a.Policy.RequiredDimensions)
	b = append(b, `,"default_dimensions":`...)
	b = appendStringMap(b, a.Policy.DefaultDimensions)
	b = append(b, `,"require_priced_models":`...)
	b = strconv.AppendBool(b, a.Policy.RequirePricedModels)
	b = append(b, `,"hard_budget":`...)
	b = strconv.AppendBool(b, a.Policy.HardBudget)
	if a.Policy.RequestsPerMinute != 0 {
		b = append(b, `,"requests_per_minute":`...)
		b = strconv.AppendInt(b, int64(a.Policy.RequestsPerMinute), 10)
	}
	if a.Policy.TokensPerMinute != 0 {
		b = append(b, `,"tokens_per_minute":`...)
		b = strconv.AppendInt(b, a.Policy.TokensPerMinute, 10)
	}
	if len(a.Policy.AzureDeployments) > 0 {
		b = append(b, `,"azure_deployments":`...)
		b = appendStringMap(b, a.Policy.AzureDeployments)
	}
	if a.Policy.InjectCredentials {
		b = append(b, `,"inject_credentials":true`...)
	}
	b = append(b, '}')
	if len(a.Credentials) > 0 {
		b = append(b, `,"credentials":`...)
		b = appendStringMap(b, a.Credentials)
	}
	b = append(b, `,"cache_ttl_seconds":`...)
	b = strconv.AppendInt(b, int64(a.CacheTTLSeconds), 10)
	return append(b, '}')
}

func appendOptString(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return event.AppendString(b, v)
}

func appendStrings(b []byte, list []string) []byte {
	if list == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = event.AppendString(b, s)
	}
	return append(b, ']')
}

// appendStringMap writes a string map as a JSON object in key order (null
// for nil), so equal maps encode to equal bytes.
func appendStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = event.AppendString(b, k)
		b = append(b, ':')
		b = event.AppendString(b, m[k])
	}
	return append(b, '}')
}
