package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// cpuSample is the CPU time, in seconds, used so far by this process, by the
// services the pipeline runs on when they run on this machine (found by
// process name in /proc), and by the whole machine. Linux only; elsewhere
// it is empty and the bench prints no CPU figures.
type cpuSample map[string]float64

// The names /proc gives the services (truncated to 15 characters).
var benchServices = map[string]string{"nats-server": "nats-server", "clickhouse-serv": "clickhouse-server", "postgres": "postgres"}

func sampleCPU() cpuSample {
	s := cpuSample{}
	if runtime.GOOS != "linux" {
		return s
	}
	if t, ok := procCPU("/proc/self/stat"); ok {
		s["spendgate (this process)"] = t
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil {
			continue
		}
		if name, ok := benchServices[strings.TrimSpace(string(comm))]; ok {
			if t, ok := procCPU("/proc/" + e.Name() + "/stat"); ok {
				s[name] += t
			}
		}
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		// cpu  user nice system idle iowait irq softirq ...: busy is all but idle and iowait.
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		var busy float64
		for i := 1; i < len(f) && i <= 8; i++ {
			if i == 4 || i == 5 {
				continue
			}
			v, _ := strconv.ParseFloat(f[i], 64)
			busy += v
		}
		s["machine (all processes)"] = busy / clockTicks
	}
	return s
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// procCPU reads utime+stime from a /proc/<pid>/stat file.
func procCPU(path string) (float64, bool) {
	f, ok := procStatFields(path)
	if !ok || len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseFloat(f[11], 64)
	sy, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return (u + sy) / clockTicks, true
}

// since is the CPU each name used between s0 and s.
func (s cpuSample) since(s0 cpuSample) cpuSample {
	d := cpuSample{}
	for k, v := range s {
		d[k] = v - s0[k]
	}
	return d
}

// procTreeCPU is the CPU time, in seconds, of process pid and every
// process below it: each one's utime+stime, plus the cutime+cstime of
// children it has waited for (a restarted `serve --pipeline-process`
// child's CPU stays counted after it died). ok is false when pid is gone.
func procTreeCPU(pid int) (float64, bool) {
	var total float64
	found := false
	for _, p := range procTree(pid) {
		f, ok := procStatFields(fmt.Sprintf("/proc/%d/stat", p))
		if !ok || len(f) < 15 {
			continue
		}
		found = found || p == pid
		for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
			v, _ := strconv.ParseFloat(f[i], 64)
			total += v
		}
	}
	return total / clockTicks, found
}

// procTreeRSS is the summed VmRSS, in KiB, of pid and the processes below it.
func procTreeRSS(pid int) (int64, bool) {
	var total int64
	found := false
	for _, p := range procTree(pid) {
		if kib, ok := vmRSS(p); ok {
			total += kib
			found = found || p == pid
		}
	}
	return total, found
}

// procTree is pid and its descendants (from /proc/<pid>/task/*/children).
func procTree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", out[i]))
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", out[i], t.Name()))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// procStatFields is a /proc/<pid>/stat file's fields after the command:
// state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
func procStatFields(path string) ([]string, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	st := string(b)
	end := strings.LastIndexByte(st, ')')
	if end < 0 {
		return nil, false
	}
	return strings.Fields(st[end+1:]), true
}
