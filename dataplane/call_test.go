package dataplane

import (
	"reflect"
	"testing"
	"time"

	"github.com/spendgate/spendgate/meter"
	"github.com/spendgate/spendgate/policy"
)

// TestCallResetIsANewCall: a call that went all the way (headers, body,
// policy, forwarded, usage event) and is then Reset is indistinguishable
// from NewCall's, and the event it handed out keeps its values.
func TestCallResetIsANewCall(t *testing.T) {
	c, s := cloudCall(t, "gw", "/v1/openai/chat/completions", `{"model":"gpt-4o"}`, map[string]string{"x-spendgate-dim-team": "search"})
	if s.Kind != NeedPolicy {
		t.Fatalf("step %v, want NeedPolicy", s.Kind)
	}
	if s = c.Policy(tenantAnswer(policy.Policy{}), nil); s.Kind != Forward {
		t.Fatalf("step %v, want Forward", s.Kind)
	}
	e, ok := c.UsageEvent(200, &meter.Result{Complete: true}, time.Millisecond, 2*time.Millisecond, "req_1")
	if !ok {
		t.Fatal("no usage event")
	}
	sent := e
	sent.Dimensions = map[string]string{}
	for k, v := range e.Dimensions {
		sent.Dimensions[k] = v
	}

	cfg := c.cfg
	at := time.Unix(1_900_000_000, 0)
	c.Reset(cfg, at)
	if fresh := NewCall(cfg, at); !reflect.DeepEqual(c, fresh) {
		t.Fatalf("reset call\n%+v\nwant a new call\n%+v", c, fresh)
	}
	if !reflect.DeepEqual(e, sent) {
		t.Fatalf("the event changed with the call's reset:\n%+v\nwant\n%+v", e, sent)
	}
	if e.TenantID != "t1" || e.Dimensions["team"] != "search" || e.ModelRequested != "gpt-4o" {
		t.Fatalf("event %+v", e)
	}
}
