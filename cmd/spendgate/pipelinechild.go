package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spendgate/spendgate/config"
	"github.com/spendgate/spendgate/internal/envflag"
	"github.com/spendgate/spendgate/supervise"
)

// pipelineChildStopGrace is how long the child has to drain after SIGTERM
// (its batches in flight reach ClickHouse and are acked) before it is
// killed; what it had not acked is then redelivered to the next one.
const pipelineChildStopGrace = 20 * time.Second

// pipelineChild is serve's --pipeline-process worker: `spendgate ingest`
// of this binary consuming serve's partitions (consume) from serve's NATS
// (natsURL), supervised (package supervise) at --pipeline-nice.
func pipelineChild(serveFS *flag.FlagSet, c *config.PipelineChild, consume, natsURL string, log *slog.Logger) (func(context.Context) error, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("pipeline process: %w", err)
	}
	env := pipelineChildEnv(os.Environ(), serveFS, map[string]string{
		"nats-url": natsURL, "consume-partitions": consume, "listen": c.Listen,
		"metrics-addr": "", "pprof-addr": "", // serve's own listeners
	})
	// /proc/self/exe, resolved by the forked serve at exec: the binary serve
	// runs even after an upgrade replaced the file, so a restarted child
	// never differs from serve in version.
	cfg := supervise.Config{Name: "pipeline process", Path: "/proc/self/exe", Argv0: exe, Args: []string{"ingest"}, Env: env, Nice: c.Nice,
		Output: logLines{}, StopGrace: pipelineChildStopGrace, Log: log}
	return func(ctx context.Context) error { return supervise.Run(ctx, cfg) }, nil
}

// pipelineChildEnv is the child's environment: the parent's, with every
// flag of `spendgate ingest` that serve has too set to serve's value (so
// the child has serve's Postgres, ClickHouse, batch sizes, budgets and
// secrets, passed in the environment rather than on a command line anyone
// can read), then set, and every other SPENDGATE_ variable of an ingest
// flag removed (serve's --listen is not the child's).
func pipelineChildEnv(parent []string, serveFS *flag.FlagSet, set map[string]string) []string {
	ingestFS, _, _ := ingestFlags()
	ingestVars := map[string]bool{}
	var env []string
	ingestFS.VisitAll(func(f *flag.Flag) {
		name := envflag.Name(f.Name)
		ingestVars[name] = true
		if v, ok := set[f.Name]; ok {
			env = append(env, name+"="+v)
		} else if sf := serveFS.Lookup(f.Name); sf != nil {
			env = append(env, name+"="+sf.Value.String())
		}
	})
	for _, kv := range parent {
		if name, _, _ := strings.Cut(kv, "="); !ingestVars[name] {
			env = append(env, kv)
		}
	}
	return env
}

// logLines writes each line of the child's output to serve's log: through
// the process log's buffer, at once for the child's warnings and errors as
// for serve's own.
type logLines struct{}

func (logLines) Write(line []byte) (int, error) {
	w := logOutput()
	n, err := w.Write(line)
	if bytes.Contains(line, []byte("level=WARN")) || bytes.Contains(line, []byte("level=ERROR")) ||
		bytes.Contains(line, []byte(`"level":"WARN"`)) || bytes.Contains(line, []byte(`"level":"ERROR"`)) {
		if f, ok := w.(interface{ Flush() error }); ok {
			_ = f.Flush()
		}
	}
	return n, err
}

var _ io.Writer = logLines{}
