package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// healthPath is the liveness endpoint of the api (apiserver), gateway and
// ingest listeners, for load balancers and Kubernetes probes: 200 while the
// process serves HTTP. It says nothing of the services behind.
const healthPath = "/healthz"

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}`))
}

// withHealth answers GET /healthz and hands every other request to h. Not
// a ServeMux: the gateway forwards paths as callers sent them, and a mux
// would clean and redirect some (//, ..). /healthz is no provider's path
// (they are /v1/<provider>/…).
func withHealth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == healthPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			healthz(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// runHealth is "spendgate health --url URL": exit 0 when URL answers 200.
// The image is distroless (no shell, no curl), so container healthchecks
// (deploy/compose.yaml) run the binary itself.
func runHealth(ctx context.Context, args []string) error {
	fs := newFlagSet("health")
	url := fs.String("url", "http://127.0.0.1:8080"+healthPath, "the health endpoint to ask (api :8080, gateway :8081, ingest :8082 by default)")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the answer")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, http.NoBody)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %s", *url, resp.Status)
	}
	return nil
}
