package main

import (
	"flag"
	"strings"
	"testing"

	"github.com/spendgate/spendgate/internal/envflag"
)

// The child `spendgate ingest` of serve --pipeline-process gets every flag
// the two commands share with serve's value (defaults that differ between
// them included), the overrides, and none of serve's SPENDGATE_ variables
// for flags that are serve's alone in meaning (its --listen, --metrics-addr).
func TestPipelineChildGetsServesPipelineFlags(t *testing.T) {
	fs, opts, _ := serveFlags()
	err := parseWithEnv(fs, []string{"--pipeline-process", "--postgres-dsn", "postgres://x@db:5432/sg", "--service-token", "tok",
		"--clickhouse-addr", "ch1:9000", "--clickhouse-database", "sgdb", "--batch-size", "1234", "--batch-wait", "250ms",
		"--memory-limit", "300MiB", "--budgets=false", "--budget-fail-open", "--webhook-allow", "10.0.0.0/8", "--partitions", "4",
		"--consume-partitions", "1-2", "--stream-prefix", "TEST", "--log-format", "json", "--data-dir", t.TempDir(), "--nats-url", "",
		"--reservation-ttl", "7m", "--clickhouse-lanes", "2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	parent := []string{"PATH=/bin", "SPENDGATE_LISTEN=:1", "SPENDGATE_METRICS_ADDR=:9090", "SPENDGATE_PPROF_ADDR=:6060",
		"SPENDGATE_LOG_LEVEL=debug", "SPENDGATE_DEMO=false", "OTEL_SERVICE_NAME=x"}
	env := pipelineChildEnv(parent, fs, map[string]string{"nats-url": "nats://127.0.0.1:4999", "consume-partitions": "1-2",
		"listen": "127.0.0.1:0", "metrics-addr": "", "pprof-addr": ""})

	vars := map[string]string{}
	for _, kv := range env {
		name, v, _ := strings.Cut(kv, "=")
		if _, dup := vars[name]; dup {
			t.Errorf("%s twice in the child's environment", name)
		}
		vars[name] = v
	}
	for name, want := range map[string]string{"PATH": "/bin", "OTEL_SERVICE_NAME": "x", "SPENDGATE_DEMO": "false", // not ingest flags: kept
		"SPENDGATE_LISTEN": "127.0.0.1:0", "SPENDGATE_METRICS_ADDR": "", "SPENDGATE_PPROF_ADDR": "", "SPENDGATE_NATS_URL": "nats://127.0.0.1:4999",
		"SPENDGATE_LOG_LEVEL": "info"} { // serve's parsed --log-level, not the variable it was not given on
		if got, ok := vars[name]; !ok || got != want {
			t.Errorf("%s=%q (set: %v), want %q", name, got, ok, want)
		}
	}

	// The child parses what it gets into the same values.
	ifs, iopts, _ := ingestFlags()
	for name, v := range vars {
		if strings.HasPrefix(name, "SPENDGATE_") {
			t.Setenv(name, v)
		}
	}
	if err := envflag.Parse(ifs, nil); err != nil {
		t.Fatalf("the child's flags: %v", err)
	}
	if err := iopts.Validate(); err != nil {
		t.Fatalf("the child's configuration: %v", err)
	}
	shared := 0
	ifs.VisitAll(func(f *flag.Flag) {
		switch f.Name {
		case "nats-url", "consume-partitions", "listen", "metrics-addr", "pprof-addr":
			return
		}
		sf := fs.Lookup(f.Name)
		if sf == nil {
			return
		}
		shared++
		if f.Value.String() != sf.Value.String() {
			t.Errorf("--%s: the child has %q, serve %q", f.Name, f.Value.String(), sf.Value.String())
		}
	})
	if shared < 25 {
		t.Errorf("only %d flags shared", shared)
	}
	if p := iopts.Pipeline; p.Batch != 1234 || p.Budgets || !p.FailOpen || p.Lanes != 2 || p.CHDB != "sgdb" || p.Prefix != "TEST" ||
		iopts.ServiceToken != "tok" || iopts.PostgresDSN != "postgres://x@db:5432/sg" || p.MemLimit.Value != "300MiB" || p.Partitions != 4 {
		t.Errorf("the child's configuration %+v", iopts)
	}
	if got := iopts.Pipeline.Owned(); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("the child consumes %v, want serve's 1-2", got)
	}
}
