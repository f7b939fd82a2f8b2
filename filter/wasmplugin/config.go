// Package config parses the spendgate proxy-wasm filter's plugin
// configuration (the JSON in Envoy's wasm filter config or an Istio
// WasmPlugin's pluginConfig). TinyGo-safe: gjson, no encoding/json.
package wasmplugin

import (
	"errors"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/spendgate/spendgate/dataplane/contract"
)

// Config is the filter's plugin configuration.
type Config struct {
	// PolicyCluster is the Envoy cluster of the spendgate API's policy
	// endpoint; PolicyAuthority its :authority; PolicyPath the path.
	PolicyCluster   string
	PolicyAuthority string
	PolicyPath      string
	// PricedPath is the priced endpoint's path on the policy cluster, asked
	// for keys that require priced models (policy/priced.go).
	PricedPath string
	// IngestCluster, IngestAuthority, IngestPath: where event batches go.
	IngestCluster   string
	IngestAuthority string
	IngestPath      string
	// ReservationCluster, ReservationAuthority, ReservationPath: where calls
	// of keys under a hard budget are reserved (POST) before they go on, and
	// released (POST <path>/<id>/release) when they fail before any usage.
	// The pipeline serves them beside ingest, so they default to the ingest
	// cluster.
	ReservationCluster   string
	ReservationAuthority string
	ReservationPath      string
	// Reserve turns reservations on (default); off, hard budgets are held
	// only through the policy answer's blocked flag.
	Reserve bool
	// ReservationFailOpen forwards hard-budget calls whose reservation could
	// not be made; the default refuses them (503 budget_unavailable).
	ReservationFailOpen bool
	// ServiceToken authenticates the filter to the policy and ingest endpoints.
	ServiceToken string
	// CacheTTLSeconds bounds how long a positive policy answer is reused (the
	// answer's own hint may shorten it); NegativeCacheTTLSeconds for unknown or
	// revoked keys.
	CacheTTLSeconds         int
	NegativeCacheTTLSeconds int
	// FailOpen lets requests through (unattributed, counted) when the policy
	// endpoint cannot be reached; the default fails closed with a 503.
	FailOpen bool
	// InjectStreamUsage adds stream_options.include_usage to OpenAI-style
	// streaming requests that lack it, so their usage can be metered.
	InjectStreamUsage bool
	// Batching of events to ingest.
	BatchMaxEvents    int
	FlushIntervalMs   int
	MaxBufferedEvents int
	// MaxRetryIntervalMs caps the back-off between deliveries while ingest
	// fails (the wait doubles from one flush interval).
	MaxRetryIntervalMs int
	// MaxRequestBodyBytes caps the request body the filter reads to find the
	// model; larger bodies are refused with 413.
	MaxRequestBodyBytes int
	// TimeoutMs of policy and ingest calls.
	TimeoutMs int
}

// Default returns the configuration used for absent fields.
func Default() Config {
	return Config{
		PolicyCluster: "spendgate_api", PolicyAuthority: "spendgate-api", PolicyPath: contract.PolicyPath, PricedPath: contract.PricedPath,
		IngestCluster: "spendgate_ingest", IngestAuthority: "spendgate-ingest", IngestPath: contract.EventsPath,
		ReservationCluster: "spendgate_ingest", ReservationAuthority: "spendgate-ingest", ReservationPath: contract.ReservationsPath, Reserve: true,
		CacheTTLSeconds: 30, NegativeCacheTTLSeconds: 10, InjectStreamUsage: true,
		BatchMaxEvents: 100, FlushIntervalMs: 1000, MaxBufferedEvents: 10000, MaxRetryIntervalMs: 30000,
		MaxRequestBodyBytes: 10 << 20, TimeoutMs: 2000,
	}
}

var known = map[string]bool{
	"policy_cluster": true, "policy_authority": true, "policy_path": true, "priced_path": true,
	"ingest_cluster": true, "ingest_authority": true, "ingest_path": true,
	"reservation_cluster": true, "reservation_authority": true, "reservation_path": true, "reserve": true, "reservation_fail_open": true,
	"service_token": true, "cache_ttl_seconds": true, "negative_cache_ttl_seconds": true,
	"fail_open": true, "inject_stream_usage": true, "batch_max_events": true,
	"flush_interval_ms": true, "max_buffered_events": true, "max_retry_interval_ms": true,
	"max_request_body_bytes": true, "timeout_ms": true,
}

// Parse reads the plugin configuration. Empty input gives the defaults minus
// a service token, which is required. Unknown fields and wrong types are
// errors, so a typo does not silently fall back to a default.
func Parse(b []byte) (Config, error) {
	c := Default()
	if len(strings.TrimSpace(string(b))) == 0 {
		return c, errors.New("spendgate filter config: empty; service_token is required")
	}
	if !gjson.ValidBytes(b) {
		return c, errors.New("spendgate filter config: not valid JSON")
	}
	r := gjson.ParseBytes(b)
	if !r.IsObject() {
		return c, errors.New("spendgate filter config: must be a JSON object")
	}
	var errs []string
	r.ForEach(func(k, v gjson.Result) bool {
		name := k.String()
		if !known[name] {
			errs = append(errs, "unknown field "+name)
			return true
		}
		switch name {
		case "policy_cluster", "policy_authority", "policy_path", "priced_path", "ingest_cluster", "ingest_authority", "ingest_path", "service_token",
			"reservation_cluster", "reservation_authority", "reservation_path":
			if v.Type != gjson.String || v.Str == "" {
				errs = append(errs, name+" must be a non-empty string")
				return true
			}
			setString(&c, name, v.Str)
		case "fail_open", "inject_stream_usage", "reserve", "reservation_fail_open":
			if !v.IsBool() {
				errs = append(errs, name+" must be true or false")
				return true
			}
			switch name {
			case "fail_open":
				c.FailOpen = v.Bool()
			case "inject_stream_usage":
				c.InjectStreamUsage = v.Bool()
			case "reserve":
				c.Reserve = v.Bool()
			default:
				c.ReservationFailOpen = v.Bool()
			}
		default:
			if v.Type != gjson.Number || v.Num != float64(int64(v.Num)) || v.Num <= 0 || v.Num > 1<<31 {
				errs = append(errs, name+" must be a positive integer")
				return true
			}
			setInt(&c, name, int(v.Num))
		}
		return true
	})
	if c.ServiceToken == "" {
		errs = append(errs, "service_token is required")
	}
	if !strings.HasPrefix(c.PolicyPath, "/") || !strings.HasPrefix(c.PricedPath, "/") || !strings.HasPrefix(c.IngestPath, "/") || !strings.HasPrefix(c.ReservationPath, "/") {
		errs = append(errs, "policy_path, priced_path, ingest_path and reservation_path must start with /")
	}
	if strings.ContainsAny(c.ReservationPath, "?#") || strings.HasSuffix(c.ReservationPath, "/") {
		errs = append(errs, "reservation_path must be a plain path: releases go to <path>/<id>/release")
	}
	if strings.ContainsAny(c.PricedPath, "?#") {
		errs = append(errs, "priced_path must not have a query: the filter adds its own")
	}
	if c.BatchMaxEvents > c.MaxBufferedEvents {
		errs = append(errs, "batch_max_events must not exceed max_buffered_events")
	}
	if len(errs) > 0 {
		return c, errors.New("spendgate filter config: " + strings.Join(errs, "; "))
	}
	return c, nil
}

func setString(c *Config, name, v string) {
	switch name {
	case "policy_cluster":
		c.PolicyCluster = v
	case "policy_authority":
		c.PolicyAuthority = v
	case "policy_path":
		c.PolicyPath = v
	case "priced_path":
		c.PricedPath = v
	case "ingest_cluster":
		c.IngestCluster = v
	case "ingest_authority":
		c.IngestAuthority = v
	case "ingest_path":
		c.IngestPath = v
	case "service_token":
		c.ServiceToken = v
	case "reservation_cluster":
		c.ReservationCluster = v
	case "reservation_authority":
		c.ReservationAuthority = v
	case "reservation_path":
		c.ReservationPath = v
	}
}

func setInt(c *Config, name string, v int) {
	switch name {
	case "cache_ttl_seconds":
		c.CacheTTLSeconds = v
	case "negative_cache_ttl_seconds":
		c.NegativeCacheTTLSeconds = v
	case "batch_max_events":
		c.BatchMaxEvents = v
	case "flush_interval_ms":
		c.FlushIntervalMs = v
	case "max_buffered_events":
		c.MaxBufferedEvents = v
	case "max_retry_interval_ms":
		c.MaxRetryIntervalMs = v
	case "max_request_body_bytes":
		c.MaxRequestBodyBytes = v
	case "timeout_ms":
		c.TimeoutMs = v
	}
}
