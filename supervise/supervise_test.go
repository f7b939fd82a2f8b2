//go:build linux

package supervise

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary act as a child instead of running the
// tests; its value is the mode.
const childEnv = "SUPERVISE_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "report": // the niceness of every thread, then wait for SIGTERM
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		for tid, n := range threadNice(os.Getpid()) {
			fmt.Printf("nice %d %d\n", tid, n)
		}
		fmt.Println("argv0 " + os.Args[0])
		fmt.Println("ready")
		<-term
		fmt.Println("terminated")
		os.Exit(0)
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		time.Sleep(time.Hour)
	case "exit":
		fmt.Fprintln(os.Stderr, "failing")
		os.Exit(3)
	case "lines":
		fmt.Print("one\n" + strings.Repeat("x", 100_000) + "\nlast without newline")
		os.Exit(1)
	case "supervisor": // supervises a "report" child, writing its pid to the file in SUPERVISE_TEST_PIDFILE
		_ = Run(context.Background(), Config{Path: os.Args[0], Env: append(os.Environ(), childEnv+"=report"), Output: &bytes.Buffer{},
			Started: func(pid int) { _ = os.WriteFile(os.Getenv("SUPERVISE_TEST_PIDFILE"), []byte(strconv.Itoa(pid)), 0o600) }})
	}
	os.Exit(2)
}

// threadNice is the niceness of each thread of process pid.
func threadNice(pid int) map[int]int {
	out := map[int]int{}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, t.Name()))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		// After the command: state(0) ... priority(15) nice(16).
		n, _ := strconv.Atoi(f[16])
		tid, _ := strconv.Atoi(t.Name())
		out[tid] = n
	}
	return out
}

// lines collects what a child writes, one Write per line.
type lines struct {
	mu  sync.Mutex
	got []string
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, string(p))
	return len(p), nil
}

func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.got...)
}

func (l *lines) waitFor(t *testing.T, line string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, g := range l.all() {
			if g == line+"\n" {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no line %q from the child; got %q", line, l.all())
}

func child(mode string) Config {
	return Config{Name: "test child", Path: os.Args[0], Env: append(os.Environ(), childEnv+"="+mode), Backoff: 20 * time.Millisecond}
}

func ownNice(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	n, _ := strconv.Atoi(strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[16])
	return n
}

func TestChildRunsAtItsNicenessOnEveryThreadAndStopsOnSIGTERM(t *testing.T) {
	base := ownNice(t)
	if base > 12 {
		t.Skipf("this process runs at niceness %d already", base)
	}
	out := &lines{}
	cfg := child("report")
	cfg.Nice, cfg.Output, cfg.Argv0 = 7, out, "named-child"
	pids := make(chan int, 1)
	cfg.Started = func(pid int) { pids <- pid }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	pid := <-pids
	out.waitFor(t, "ready")
	out.waitFor(t, "argv0 named-child")

	// What the child saw of itself, and what /proc shows from outside.
	seen := 0
	for _, l := range out.all() {
		var tid, n int
		if _, err := fmt.Sscanf(l, "nice %d %d\n", &tid, &n); err == nil {
			seen++
			if n != base+7 {
				t.Errorf("child thread %d at niceness %d, want %d", tid, n, base+7)
			}
		}
	}
	outside := threadNice(pid)
	if seen < 2 || len(outside) < 2 {
		t.Fatalf("child reported %d threads, /proc shows %d: want the Go runtime's several", seen, len(outside))
	}
	for tid, n := range outside {
		if n != base+7 {
			t.Errorf("/proc: child thread %d at niceness %d, want %d", tid, n, base+7)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	out.waitFor(t, "terminated") // SIGTERM, and Run waited for the child to finish
	// The thread that forked the child has ended with it: no thread of this
	// process keeps the child's niceness.
	// (The goroutine that waited returns just after Run learns the exit.)
	var left []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		left = nil
		for tid, n := range threadNice(os.Getpid()) {
			if n != base {
				left = append(left, fmt.Sprintf("thread %d at %d", tid, n))
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("supervisor threads left at the child's niceness (want %d): %v", base, left)
	}
}

func TestChildIgnoringSIGTERMIsKilledAfterTheGrace(t *testing.T) {
	out := &lines{}
	cfg := child("ignore-term")
	cfg.Output, cfg.StopGrace = out, 300*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	out.waitFor(t, "ready")
	stopped := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(stopped); d < 300*time.Millisecond {
			t.Fatalf("stopped after %v, before the grace period", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a child ignoring SIGTERM was not killed")
	}
}

func TestExitedChildIsRestartedWithGrowingBackoff(t *testing.T) {
	var mu sync.Mutex
	var starts []time.Time
	out := &lines{}
	cfg := child("exit")
	cfg.Output, cfg.Backoff, cfg.MaxBackoff = out, 50*time.Millisecond, 200*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Started = func(int) {
		mu.Lock()
		defer mu.Unlock()
		if starts = append(starts, time.Now()); len(starts) == 6 {
			cancel()
		}
	}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no six starts")
	}
	// Delays 50, 100, 200, 200, 200 ms (at least: a run takes time too).
	want := []time.Duration{50, 100, 200, 200, 200}
	for i, w := range want {
		if gap := starts[i+1].Sub(starts[i]); gap < w*time.Millisecond {
			t.Errorf("restart %d after %v, want at least %v", i+1, gap, w*time.Millisecond)
		}
	}
	// (The sixth child is stopped at once, maybe before it writes.)
	if n := strings.Count(strings.Join(out.all(), ""), "failing\n"); n < 5 {
		t.Errorf("the child's stderr line arrived %d times, want 5 or 6", n)
	}
}

func TestOutputArrivesOneLineAtATime(t *testing.T) {
	out := &lines{}
	cfg := child("lines")
	cfg.Output = out
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Started = func(int) {}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	out.waitFor(t, "last without newline")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := out.all()
	if len(got) < 3 || got[0] != "one\n" || got[1] != strings.Repeat("x", 100_000)+"\n" || got[2] != "last without newline\n" {
		t.Fatalf("lines %.80q", got)
	}
}

func TestChildDiesWithItsSupervisor(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	sup := exec.Command(os.Args[0])
	sup.Env = append(os.Environ(), childEnv+"=supervisor", "SUPERVISE_TEST_PIDFILE="+pidFile)
	if err := sup.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	for deadline := time.Now().Add(30 * time.Second); pid == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = sup.Process.Kill()
			t.Fatal("the supervisor started no child")
		}
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(string(b))
	}
	if !alive(pid) {
		t.Fatal("the child is not running")
	}
	_ = sup.Process.Kill() // SIGKILL: the supervisor cannot stop its child itself
	_ = sup.Wait()
	for deadline := time.Now().Add(10 * time.Second); alive(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d outlived its supervisor", pid)
		}
	}
}

// alive: pid exists and is not a zombie waiting for init.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0] != "Z"
}

func TestNiceOutsideItsRangeIsRefused(t *testing.T) {
	for _, n := range []int{-1, 20} {
		cfg := child("exit")
		cfg.Nice = n
		if err := Run(context.Background(), cfg); err == nil {
			t.Errorf("nice %d accepted", n)
		}
	}
}
