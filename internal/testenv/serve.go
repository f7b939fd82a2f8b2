package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The spendgate binary, built once per test process.
var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// ModuleRoot is the repository root (where go.mod is).
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("testenv: go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("testenv: not inside the spendgate module")
	}
	return filepath.Dir(mod), nil
}

// Binary builds cmd/spendgate (once per test process) and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	Require(t, "the spendgate binary") // a build of everything: the full tier's cost
	binaryOnce.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			binaryErr = err
			return
		}
		dir, err := os.MkdirTemp("", "spendgate-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "spendgate")
		cmd := exec.Command("go", "build", "-o", binaryPath, "./cmd/spendgate")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binaryErr = fmt.Errorf("testenv: go build ./cmd/spendgate: %w\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// Serve is a running `spendgate serve` with its own Postgres database,
// ClickHouse database and embedded NATS, the demo tenant, owner and key, and
// the fake AI provider behind the gateway.
type Serve struct {
	APIURL, GatewayURL, FakeProviderURL string
	// Addrs are the bound addresses serve wrote to its --addr-file, by
	// listener ("api", "gateway", "fake_provider", "metrics" with
	// --metrics-addr).
	Addrs map[string]string
	// DemoKey is the demo tenant's API key; DemoEmail/DemoPassword its owner.
	DemoKey, DemoEmail, DemoPassword string
	// ClickHouseDatabase and PostgresDSN are the stores it writes.
	ClickHouseDatabase, PostgresDSN string
	LogPath                         string
	cmd                             *exec.Cmd
	exited                          chan error
}

// StartServe runs `spendgate serve` for this test with extra flags and waits
// until every listener is bound. At cleanup it sends SIGTERM and fails the
// test unless the process drains and exits cleanly.
func StartServe(t testing.TB, extraArgs ...string) *Serve {
	t.Helper()
	bin := Binary(t)
	dsn := Postgres(t)
	_, chDB := ClickHouse(t)
	dir := t.TempDir()
	addrFile := filepath.Join(dir, "addrs.json")
	s := &Serve{DemoEmail: "demo@spendgate.local", DemoPassword: "spendgate-demo", ClickHouseDatabase: chDB, PostgresDSN: dsn,
		LogPath: filepath.Join(dir, "serve.log"), exited: make(chan error, 1)}
	logFile, err := os.Create(s.LogPath)
	Must(t, err, "serve log")
	args := append([]string{"serve", "--data-dir", filepath.Join(dir, "data"), "--postgres-dsn", dsn,
		"--clickhouse-addr", ClickHouseAddr(), "--clickhouse-database", chDB, "--nats-url", "",
		"--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0", "--fake-provider-listen", "127.0.0.1:0",
		"--addr-file", addrFile}, extraArgs...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.Env = append(os.Environ(), "SPENDGATE_LOG_LEVEL=debug")
	Must(t, s.cmd.Start(), "start spendgate serve")
	go func() { s.exited <- s.cmd.Wait(); _ = logFile.Close() }()
	t.Cleanup(func() { s.stop(t) })

	deadline := time.Now().Add(90 * time.Second)
	for {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			var addrs map[string]string
			Must(t, json.Unmarshal(b, &addrs), "addr file")
			s.APIURL, s.GatewayURL, s.FakeProviderURL = "http://"+addrs["api"], "http://"+addrs["gateway"], "http://"+addrs["fake_provider"]
			s.Addrs = addrs
			break
		}
		select {
		case err := <-s.exited:
			s.exited <- err
			t.Fatalf("testenv: spendgate serve exited before it listened: %v\n%s", err, s.LogTail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: spendgate serve did not listen within 90s\n%s", s.LogTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	key, err := os.ReadFile(filepath.Join(dir, "data", "demo-key"))
	Must(t, err, "demo key")
	s.DemoKey = strings.TrimSpace(string(key))
	return s
}

// LogTail is the end of the server's log, for failure messages.
func (s *Serve) LogTail() string {
	b, _ := os.ReadFile(s.LogPath)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

func (s *Serve) stop(t testing.TB) {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		if err != nil {
			t.Errorf("testenv: spendgate serve did not stop cleanly on SIGTERM: %v\n%s", err, s.LogTail())
		}
	case <-time.After(60 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Errorf("testenv: spendgate serve did not stop within 60s of SIGTERM\n%s", s.LogTail())
	}
}

// GraphQLError is one error of a GraphQL answer.
type GraphQLError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// Code is the error's extensions.code.
func (e GraphQLError) Code() string { c, _ := e.Extensions["code"].(string); return c }

// GraphQL posts a query to url (…/query) with an optional bearer token and
// decodes data into out (when non-nil). It returns the GraphQL errors; a
// transport failure fails the test.
func GraphQL(t testing.TB, url, token, query string, vars map[string]any, out any) []GraphQLError {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	Must(t, err, "graphql request")
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	Must(t, err, "graphql")
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	Must(t, err, "graphql body")
	var answer struct {
		Data   json.RawMessage `json:"data"`
		Errors []GraphQLError  `json:"errors"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		t.Fatalf("graphql: HTTP %d, undecodable answer %q: %v", res.StatusCode, raw, err)
	}
	if out != nil && len(answer.Data) > 0 && string(answer.Data) != "null" {
		Must(t, json.Unmarshal(answer.Data, out), "graphql data")
	}
	return answer.Errors
}

// MustGraphQL is GraphQL that fails the test on any GraphQL error.
func MustGraphQL(t testing.TB, url, token, query string, vars map[string]any, out any) {
	t.Helper()
	if errs := GraphQL(t, url, token, query, vars, out); len(errs) > 0 {
		t.Fatalf("graphql %q: %+v", query, errs)
	}
}

// SignInDemo signs the demo owner in through GraphQL and returns the access
// token and the demo tenant's id.
func (s *Serve) SignInDemo(t testing.TB) (token, tenantID string) {
	t.Helper()
	q := s.APIURL + "/query"
	var signIn struct{ SignIn struct{ AccessToken string } }
	MustGraphQL(t, q, "", `mutation($e:String!,$p:String!){signIn(email:$e,password:$p){accessToken}}`,
		map[string]any{"e": s.DemoEmail, "p": s.DemoPassword}, &signIn)
	var tenants struct{ Tenants []struct{ ID string } }
	MustGraphQL(t, q, signIn.SignIn.AccessToken, `{tenants{id}}`, nil, &tenants)
	if len(tenants.Tenants) == 0 {
		t.Fatal("testenv: the demo owner has no tenant")
	}
	return signIn.SignIn.AccessToken, tenants.Tenants[0].ID
}
