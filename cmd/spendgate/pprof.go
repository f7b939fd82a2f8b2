package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofFlag is --pprof-addr, registered on every command's flag set by
// newFlagSet: where to serve Go's profiling endpoints (/debug/pprof/...).
// Off by default. The endpoints are unauthenticated and can stall the
// process (a 30 s CPU profile, a full heap dump): bind them to loopback.
const pprofFlag = "pprof-addr"

func addPprofFlag(fs *flag.FlagSet) {
	fs.String(pprofFlag, "", "serve Go's pprof endpoints (/debug/pprof/) here for operators, e.g. 127.0.0.1:6060; unauthenticated, keep it on loopback (empty: off)")
}

// startPprof serves the profiling endpoints on addr, on their own mux (not
// http.DefaultServeMux, so no other listener exposes them), until the
// process exits.
func startPprof(addr string, log *slog.Logger) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", pprofFlag, err)
	}
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(host).IsLoopback() {
		log.Warn("pprof endpoints listen beyond loopback: anyone who reaches them can profile this process and read its memory", "addr", ln.Addr().String())
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("pprof listening", "addr", ln.Addr().String())
	return ln.Addr(), nil
}
