package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spendgate/spendgate/internal/testenv"
	"github.com/spendgate/spendgate/money"
)

var childStarted = regexp.MustCompile(`msg="pipeline process started" pid=(\d+) nice=(\d+)`)

// childPIDs are the pipeline processes serve's log says it started, in order.
func childPIDs(s *testenv.Serve) []int {
	b, _ := os.ReadFile(s.LogPath)
	var pids []int
	for _, m := range childStarted.FindAllStringSubmatch(string(b), -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	return pids
}

// procStat is fields of /proc/<pid>/stat after the command: state(0)
// ppid(1) … nice(16).
func procStat(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	testenv.Must(t, err, "stat of process "+strconv.Itoa(pid))
	st := string(b)
	return strings.Fields(st[strings.LastIndexByte(st, ')')+1:])
}

func clickhouseQuery(t *testing.T, q string) string {
	t.Helper()
	res, err := http.Get("http://" + testenv.ClickHouseHTTPAddr() + "/?query=" + url.QueryEscape(q))
	testenv.Must(t, err, "ClickHouse query")
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("ClickHouse: %s: %s", q, b)
	}
	return strings.TrimSpace(string(b))
}

// TestPipelineProcessKilledUnderLoad runs serve --pipeline-process under a
// hard budget (every call reserves in serve; the child settles), kills the
// child with SIGKILL while calls flow, and checks that serve restarts it at
// its niceness, that every answered call is stored exactly once, that the
// budget counted each once, and that no reservation is left open.
func TestPipelineProcessKilledUnderLoad(t *testing.T) {
	s := testenv.StartServe(t, "--pipeline-process", "--pipeline-nice", "5", "--policy-cache-ttl", "1s")
	q := s.APIURL + "/query"
	token, tenant := s.SignInDemo(t)
	var b struct{ CreateBudget struct{ ID string } }
	testenv.MustGraphQL(t, q, token, `mutation($t:ID!){createBudget(tenantId:$t,input:{name:"hard roomy",scope:TENANT,
		period:MONTH,amount:"100000",thresholds:[],hard:true}){id}}`, map[string]any{"t": tenant}, &b)

	var first int
	testenv.WaitFor(t, 60*time.Second, "the pipeline process", func() bool {
		if p := childPIDs(s); len(p) > 0 {
			first = p[0]
		}
		return first != 0
	})
	st := procStat(t, first)
	servePID, _ := strconv.Atoi(st[1])
	childNice, _ := strconv.Atoi(st[16])
	serveNice, _ := strconv.Atoi(procStat(t, servePID)[16])
	if childNice != min(serveNice+5, 19) {
		t.Fatalf("child at niceness %d, serve at %d: want serve's + 5", childNice, serveNice)
	}

	// Load: four senders, the child killed with SIGKILL a third of the way.
	var answered, failed atomic.Int64
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}`
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, _ := http.NewRequest(http.MethodPost, s.GatewayURL+"/v1/openai/chat/completions", strings.NewReader(body))
				req.Header.Set("x-spendgate-key", s.DemoKey)
				req.Header.Set("Authorization", "Bearer sk-provider")
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					answered.Add(1)
				} else {
					failed.Add(1)
				}
			}
		})
	}
	time.Sleep(3 * time.Second)
	killedAt := answered.Load()
	testenv.Must(t, syscall.Kill(first, syscall.SIGKILL), "kill the pipeline process")
	time.Sleep(6 * time.Second)
	stop()
	wg.Wait()
	n := answered.Load()
	if failed.Load() > 0 || killedAt == 0 || n <= killedAt {
		t.Fatalf("%d calls answered (%d before the kill), %d failed: the gateway must not depend on the child\n%s", n, killedAt, failed.Load(), s.LogTail())
	}
	pids := childPIDs(s)
	if len(pids) < 2 || pids[len(pids)-1] == first {
		t.Fatalf("no new pipeline process after the kill: %v\n%s", pids, s.LogTail())
	}

	// The killed child's unacknowledged batches come back after AckWait (30 s).
	db := s.ClickHouseDatabase
	var got string
	testenv.WaitFor(t, 120*time.Second, fmt.Sprintf("%d calls stored", n), func() bool {
		got = clickhouseQuery(t, "SELECT count() FROM "+db+".usage_events")
		return got == strconv.FormatInt(n, 10)
	})
	time.Sleep(2 * time.Second) // a late duplicate would show now
	if got := clickhouseQuery(t, "SELECT count(), uniqExact(event_id) FROM "+db+".usage_events"); got != fmt.Sprintf("%d\t%d", n, n) {
		t.Fatalf("stored (rows, ids) %q, want %d of each", got, n)
	}
	cost, err := strconv.ParseInt(clickhouseQuery(t, "SELECT sum(tenant_cost_nano_usd) FROM "+db+".usage_events"), 10, 64)
	testenv.Must(t, err, "stored cost")

	// Budgets: reservations made in serve, settled by the children.
	pg, err := pgx.Connect(context.Background(), s.PostgresDSN)
	testenv.Must(t, err, "postgres")
	defer pg.Close(context.Background())
	var open, settled int64
	testenv.WaitFor(t, 30*time.Second, "every reservation settled", func() bool {
		testenv.Must(t, pg.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE status = 'open'), count(*) FILTER (WHERE status = 'settled')
			FROM budget_reservations`).Scan(&open, &settled), "reservations")
		return open == 0
	})
	if settled != n {
		t.Errorf("%d reservations settled, want one per answered call (%d)", settled, n)
	}
	var status struct{ BudgetStatuses []struct{ Spent string } }
	testenv.MustGraphQL(t, q, token, `query($t:ID!){budgetStatuses(tenantId:$t){spent}}`, map[string]any{"t": tenant}, &status)
	if len(status.BudgetStatuses) != 1 || status.BudgetStatuses[0].Spent != money.FormatNano(cost) {
		t.Fatalf("budget spent %+v, want the stored %s", status.BudgetStatuses, money.FormatNano(cost))
	}
	t.Logf("%d calls, child killed after %d, restarted as %d; %s stored once, budget spent %s", n, killedAt, pids[len(pids)-1], got, money.FormatNano(cost))
}
