// Package supervise runs one child process and keeps it running: started at
// a lower OS priority (niceness), killed by the kernel when the supervising
// process dies (Linux), its output handed on line by line, restarted with
// exponential backoff when it exits, and stopped with SIGTERM (then SIGKILL
// after a grace period) when the supervisor's context ends.
//
// `spendgate serve --pipeline-process` runs its event consumer this way
// (docs/gateway.md): on two cores the consumer's work then yields to the
// gateway's requests at the OS scheduler, which Go's goroutines cannot do.
package supervise

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Config describes the child and how it is supervised.
type Config struct {
	// Name is the child in the supervisor's log lines.
	Name string
	// Path and Args are the program and its arguments (without argv[0]);
	// Argv0 is the child's argv[0] (empty: Path).
	Path, Argv0 string
	Args        []string
	// Env is the child's environment (nil: the supervisor's).
	Env []string
	// Nice is added to the supervisor's niceness for the child, as nice(1)
	// does (0: the same priority; the sum is capped at 19). Every thread of
	// the child has it from its first instruction: the child is forked from
	// a thread that has it.
	Nice int
	// Output receives the child's stdout and stderr, one complete line per
	// Write (nil: os.Stderr).
	Output io.Writer
	// Backoff is the first restart delay (default 1s); it doubles after
	// each exit up to MaxBackoff (default 30s) and starts again from Backoff
	// after a run of at least StableAfter (default 1m).
	Backoff, MaxBackoff, StableAfter time.Duration
	// StopGrace is how long the child has to exit after SIGTERM before it is
	// killed (default 60s).
	StopGrace time.Duration
	// Started, when set, learns each child's process id (metrics, tests).
	Started func(pid int)
	// Log gets the supervisor's own lines (nil: slog.Default()).
	Log *slog.Logger
}

func (c *Config) defaults() {
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	if c.MaxBackoff < c.Backoff {
		c.MaxBackoff = max(30*time.Second, c.Backoff)
	}
	if c.StableAfter <= 0 {
		c.StableAfter = time.Minute
	}
	if c.StopGrace <= 0 {
		c.StopGrace = 60 * time.Second
	}
	if c.Output == nil {
		c.Output = os.Stderr
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Name == "" {
		c.Name = c.Path
	}
}

// Run starts the child and restarts it whenever it exits, until ctx ends;
// then it stops the child (SIGTERM, SIGKILL after StopGrace) and returns
// nil once it has exited. It returns an error only for a configuration the
// platform cannot run (Nice outside 0..19, or unsupported).
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	if cfg.Nice < 0 || cfg.Nice > 19 {
		return fmt.Errorf("supervise: nice %d: want 0..19 (raising a priority needs privileges)", cfg.Nice)
	}
	delay := cfg.Backoff
	for {
		began := time.Now()
		err := runOnce(ctx, &cfg)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errUnsupported) {
			return err
		}
		ran := time.Since(began)
		if ran >= cfg.StableAfter {
			delay = cfg.Backoff
		}
		cfg.Log.Error(cfg.Name+" exited; restarting", "err", err, "ran", ran.Round(time.Millisecond), "restart_in", delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, cfg.MaxBackoff)
	}
}

var errUnsupported = errors.New("supervise: not supported on this platform")

// runOnce runs the child once: until it exits (its exit error, never nil),
// or until ctx ends (then it is stopped; nil).
func runOnce(ctx context.Context, cfg *Config) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := exec.Command(cfg.Path, cfg.Args...)
	if cfg.Argv0 != "" {
		cmd.Args[0] = cfg.Argv0
	}
	cmd.Env = cfg.Env
	cmd.Stdout, cmd.Stderr = w, w // an *os.File: the child writes to the pipe itself, no copying goroutine
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		copyLines(cfg.Output, r)
		_ = r.Close()
	}()
	waited := make(chan error, 1)
	started := make(chan error, 1)
	go startAndWait(cmd, cfg.Nice, started, waited)
	err = <-started
	_ = w.Close() // the child holds its own copy; EOF comes when it exits
	if err != nil {
		<-copied
		return fmt.Errorf("start: %w", err)
	}
	pid := cmd.Process.Pid
	cfg.Log.Info(cfg.Name+" started", "pid", pid, "nice", cfg.Nice)
	if cfg.Started != nil {
		cfg.Started(pid)
	}
	select {
	case err := <-waited:
		<-copied
		if err == nil {
			err = errors.New("exited with status 0")
		}
		return err
	case <-ctx.Done():
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-waited:
		<-copied
		cfg.Log.Info(cfg.Name+" stopped", "pid", pid, "exit", exitText(err))
	case <-time.After(cfg.StopGrace):
		_ = cmd.Process.Kill()
		err := <-waited
		<-copied
		cfg.Log.Warn(cfg.Name+" did not stop within the grace period; killed", "pid", pid, "grace", cfg.StopGrace, "exit", exitText(err))
	}
	return nil
}

func exitText(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// copyLines writes each complete line read from r to w in one Write (a
// last line without a newline gets one).
func copyLines(w io.Writer, r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if line[len(line)-1] != '\n' {
				line = append(line, '\n')
			}
			_, _ = w.Write(line)
		}
		if err != nil {
			return
		}
	}
}
