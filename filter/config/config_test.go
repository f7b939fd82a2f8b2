package config

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	c, err := Parse([]byte(`{"service_token":"s3cret","fail_open":true,"batch_max_events":10,"policy_cluster":"api"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.ServiceToken != "s3cret" || !c.FailOpen || c.BatchMaxEvents != 10 || c.PolicyCluster != "api" || c.IngestPath != "/internal/v1/events" || !c.InjectStreamUsage {
		t.Fatalf("%+v", c)
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
		"batch > cap":  `{"service_token":"x","batch_max_events":100,"max_buffered_events":10}`,
		"empty string": `{"service_token":""}`,
	}
	for name, in := range bad {
		if _, err := Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), "spendgate filter config") {
			t.Errorf("%s: want a config error, got %v", name, err)
		}
	}
}
