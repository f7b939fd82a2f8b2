package policy

import (
	"errors"
	"math"
	"strings"

	"github.com/tidwall/gjson"
)

// ErrMalformedAnswer is returned for a policy answer that is not the
// documented JSON object.
var ErrMalformedAnswer = errors.New("policy: malformed answer from the policy endpoint")

// ParseAnswer decodes the policy endpoint's JSON answer (TinyGo-safe).
func ParseAnswer(b []byte) (Answer, error) {
	if !gjson.ValidBytes(b) {
		return Answer{}, ErrMalformedAnswer
	}
	r := gjson.ParseBytes(b)
	if !r.IsObject() || !r.Get("valid").IsBool() {
		return Answer{}, ErrMalformedAnswer
	}
	a := Answer{
		Valid:           r.Get("valid").Bool(),
		Reason:          r.Get("reason").String(),
		TenantID:        r.Get("tenant_id").String(),
		KeyID:           r.Get("key_id").String(),
		KeyPrefix:       r.Get("key_prefix").String(),
		Blocked:         r.Get("blocked").Bool(),
		BlockReason:     r.Get("block_reason").String(),
		CacheTTLSeconds: int(r.Get("cache_ttl_seconds").Int()),
	}
	p := r.Get("policy")
	a.Policy.AllowedProviders = stringList(p.Get("allowed_providers"))
	a.Policy.AllowedModels = stringList(p.Get("allowed_models"))
	a.Policy.RequiredDimensions = stringList(p.Get("required_dimensions"))
	a.Policy.RequirePricedModels = p.Get("require_priced_models").Bool()
	a.Policy.HardBudget = p.Get("hard_budget").Bool()
	rpm, ok := limit(p.Get("requests_per_minute"))
	if !ok {
		return Answer{}, ErrMalformedAnswer
	}
	a.Policy.RequestsPerMinute = int(min(rpm, math.MaxInt)) // int may be 32 bits (32-bit targets)
	if a.Policy.TokensPerMinute, ok = limit(p.Get("tokens_per_minute")); !ok {
		return Answer{}, ErrMalformedAnswer
	}
	if d := p.Get("azure_deployments"); d.IsObject() {
		a.Policy.AzureDeployments = map[string]string{}
		d.ForEach(func(k, v gjson.Result) bool {
			a.Policy.AzureDeployments[k.String()] = v.String()
			return true
		})
	}
	a.Policy.InjectCredentials = p.Get("inject_credentials").Bool()
	if d := r.Get("credentials"); d.IsObject() {
		a.Credentials = map[string]string{}
		d.ForEach(func(k, v gjson.Result) bool {
			a.Credentials[k.String()] = v.String()
			return true
		})
	}
	if d := p.Get("default_dimensions"); d.IsObject() {
		a.Policy.DefaultDimensions = map[string]string{}
		d.ForEach(func(k, v gjson.Result) bool {
			a.Policy.DefaultDimensions[k.String()] = v.String()
			return true
		})
	}
	if a.Valid && (a.TenantID == "" || a.KeyID == "") {
		return Answer{}, ErrMalformedAnswer
	}
	return a, nil
}

func stringList(r gjson.Result) []string {
	if !r.IsArray() {
		return nil
	}
	arr := r.Array()
	out := make([]string, 0, len(arr))
	for _, v := range arr {
		out = append(out, v.String())
	}
	return out
}

// limit reads a per-minute limit: absent or null is 0 (no limit); anything
// but a whole number >= 0 is malformed, so a broken answer fails closed
// instead of silently lifting a limit. Numbers past int64 count as its
// largest value, which no minute reaches.
func limit(r gjson.Result) (int64, bool) {
	switch {
	case !r.Exists() || r.Type == gjson.Null:
		return 0, true
	case r.Type != gjson.Number || strings.ContainsAny(r.Raw, ".eE-"):
		return 0, false
	case r.Num >= math.MaxInt64:
		return math.MaxInt64, true
	}
	return r.Int(), true
}
