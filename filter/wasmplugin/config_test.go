package wasmplugin

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	c, err := Parse([]byte(`{"service_token":"s3cret","fail_open":true,"batch_max_events":10,"policy_cluster":"api"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.ServiceToken != "s3cret" || !c.FailOpen || c.BatchMaxEvents != 10 || c.PolicyCluster != "api" || c.IngestPath != "/internal/v1/events" || !c.InjectStreamUsage ||
		c.PricedPath != "/internal/v1/priced" {
		t.Fatalf("%+v", c)
	}
	if c, err := Parse([]byte(`{"service_token":"s","priced_path":"/api/priced"}`)); err != nil || c.PricedPath != "/api/priced" {
		t.Fatalf("priced_path: %+v %v", c, err)
	}
	bad := map[string]string{
		"empty":        ``,
		"not json":     `{`,
		"array":        `[]`,
		"no token":     `{"fail_open":true}`,
		"typo":         `{"service_token":"x","fail_opne":true}`,
		"wrong type":   `{"service_token":"x","fail_open":"yes"}`,
		"negative":     `{"service_token":"x","batch_max_events":-1}`,
		"fraction":     `{"service_token":"x","timeout_ms":1.5}`,
		"path":         `{"service_token":"x","ingest_path":"events"}`,
		"priced path":  `{"service_token":"x","priced_path":"priced"}`,
		"priced query": `{"service_token":"x","priced_path":"/priced?x=1"}`,
		"batch > cap":  `{"service_token":"x","batch_max_events":100,"max_buffered_events":10}`,
		"empty string": `{"service_token":""}`,
	}
	for name, in := range bad {
		if _, err := Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), "spendgate filter config") {
			t.Errorf("%s: want a config error, got %v", name, err)
		}
	}
}

// FuzzParse: any plugin configuration is either refused with a config error
// or gives limits the filter can run with.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"service_token":"s","batch_max_events":10,"max_buffered_events":20,"flush_interval_ms":50}`))
	f.Add([]byte(`{"service_token":"s","fail_open":true,"policy_path":"/p"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := Parse(raw)
		if err != nil {
			if !strings.Contains(err.Error(), "spendgate filter config") {
				t.Fatalf("unlabelled error %v", err)
			}
			return
		}
		if c.ServiceToken == "" || c.BatchMaxEvents <= 0 || c.BatchMaxEvents > c.MaxBufferedEvents || c.FlushIntervalMs <= 0 ||
			c.MaxRetryIntervalMs <= 0 || c.TimeoutMs <= 0 || c.MaxRequestBodyBytes <= 0 || !strings.HasPrefix(c.IngestPath, "/") ||
			!strings.HasPrefix(c.PricedPath, "/") || strings.ContainsAny(c.PricedPath, "?#") {
			t.Fatalf("accepted unusable config %+v from %s", c, raw)
		}
	})
}
