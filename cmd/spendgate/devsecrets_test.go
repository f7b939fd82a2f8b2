package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spendgate/spendgate/internal/testenv"
)

// `api` and `serve` refuse to start with the fixed development secrets on a
// listener other machines can reach, unless --dev says so.
func TestDevSecretsOnlyOnLoopback(t *testing.T) {
	for _, v := range []string{"SPENDGATE_JWT_SECRET", "SPENDGATE_KEY_PEPPER", "SPENDGATE_SERVICE_TOKEN"} {
		t.Setenv(v, "")
	}
	t.Setenv("SPENDGATE_DEV", "false")
	ctx := context.Background()
	const nowhere = "postgres://postgres@127.0.0.1:1/none?sslmode=disable" // never reached when refused
	for name, run := range map[string]func() error{
		"api on every interface": func() error { return runAPI(ctx, []string{"--listen", ":0", "--postgres-dsn", nowhere}) },
		"api on a LAN address":   func() error { return runAPI(ctx, []string{"--listen", "10.1.2.3:8080", "--postgres-dsn", nowhere}) },
		"serve's gateway on every interface": func() error {
			return runServe(ctx, []string{"--gateway-listen", "0.0.0.0:0", "--postgres-dsn", nowhere, "--data-dir", t.TempDir()})
		},
		"serve's fake provider on every interface": func() error {
			return runServe(ctx, []string{"--fake-provider-listen", ":0", "--postgres-dsn", nowhere, "--data-dir", t.TempDir()})
		},
	} {
		err := run()
		if err == nil || !strings.Contains(err.Error(), "refusing to listen on") || !strings.Contains(err.Error(), "SPENDGATE_JWT_SECRET") {
			t.Errorf("%s: %v, want a refusal naming the secrets", name, err)
		}
	}
}

// The query that once kept the API busy for minutes is refused at once, and
// the API stops promptly when told to (SIGTERM cancels the context).
func TestAPIStopsPromptlyAfterAHugeQuery(t *testing.T) {
	for _, v := range []string{"SPENDGATE_JWT_SECRET", "SPENDGATE_KEY_PEPPER", "SPENDGATE_SERVICE_TOKEN"} {
		t.Setenv(v, "")
	}
	dsn := missingDatabase(t)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runAPI(ctx, []string{"--postgres-dsn", dsn, "--listen", addr, "--clickhouse-addr", "", "--nats-url", "", "--portal=false"})
	}()
	testenv.WaitFor(t, 30*time.Second, "spendgate api listening", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	body, _ := json.Marshal(map[string]string{"query": "{me{" + strings.Repeat("id ", 40_000) + "}}"})
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Post("http://"+addr+"/query", "application/json", bytes.NewReader(body))
	testenv.Must(t, err, "the huge query")
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(answer), "query is too large") {
		t.Fatalf("the huge query: %d %s", resp.StatusCode, answer)
	}
	// A second one in flight while the API is told to stop.
	go func() {
		if resp, err := client.Post("http://"+addr+"/query", "application/json", bytes.NewReader(body)); err == nil {
			resp.Body.Close()
		}
	}()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("api stopped with %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("api did not stop within 15 s of being told to")
	}
}
