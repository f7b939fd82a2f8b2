package config

import (
	"errors"
	"flag"
	"runtime"
)

// PipelineChild is serve's --pipeline-process: the event consumer (with
// the budget settlement it feeds and the hourly intelligence jobs) runs as
// a `spendgate ingest` child process at a lower OS priority, so on a small
// machine its CPU work yields to the gateway's requests (docs/gateway.md).
type PipelineChild struct {
	On     bool
	Nice   int
	Listen string
}

// DefaultPipelineNice is --pipeline-nice's default.
const DefaultPipelineNice = 10

func (c *PipelineChild) Register(fs *flag.FlagSet) {
	fs.BoolVar(&c.On, "pipeline-process", false, "run the event consumer (pricing, ClickHouse writes, budget settlement, intelligence jobs) in a child process "+
		"of this binary at a lower OS priority, restarted when it dies; serve keeps the gateway, the API, the receiver, budget reservations and the "+
		"embedded NATS (Linux only; docs/gateway.md)")
	fs.IntVar(&c.Nice, "pipeline-nice", DefaultPipelineNice, "with --pipeline-process: niceness added to serve's for the child (0..19; higher yields more)")
	fs.StringVar(&c.Listen, "pipeline-listen", "127.0.0.1:0", "with --pipeline-process: the child's listener (its /metrics and /healthz; port 0: any free port)")
}

// Validate checks the child's flags against the pipeline's.
func (c *PipelineChild) Validate(p *Pipeline) error {
	var errs []error
	if c.Nice < 0 || c.Nice > 19 {
		errs = append(errs, errors.New("--pipeline-nice must be between 0 and 19"))
	}
	if !c.On {
		return errors.Join(errs...)
	}
	if runtime.GOOS != "linux" {
		errs = append(errs, errors.New("--pipeline-process needs Linux (per-thread niceness and a parent-death signal)"))
	}
	if p.Consume == "none" {
		errs = append(errs, errors.New("--pipeline-process runs the consumer in a child process: with --consume-partitions none there is none to run"))
	}
	if c.Listen == "" {
		errs = append(errs, errors.New("--pipeline-listen must not be empty with --pipeline-process"))
	}
	return errors.Join(errs...)
}
