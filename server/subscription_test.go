package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// checkSequence fails unless seqs is exactly from, from+1, …, last: in order, no gap, no duplicate.
func checkSequence(t *testing.T, seqs []int, from, last int) {
	t.Helper()
	if len(seqs) != last-from+1 {
		t.Errorf("received %d lines, want %d", len(seqs), last-from+1)
	}
	for i, s := range seqs {
		if s != from+i {
			t.Fatalf("line #%d has seq %d, want %d (out of order, gap or duplicate)", i, s, from+i)
		}
	}
}

// gatedLogDefinition creates a definition whose dev task waits for a file, then prints
// 1..lines, so that a subscriber can be in place before the first line.
func gatedLogDefinition(t *testing.T, h *harness, gate string, lines int) string {
	t.Helper()
	script := `while [ ! -e "$GATE" ]; do sleep 0.01; done` + "\nseq 1 " + strconv.Itoa(lines)
	return h.createDefinition(t, `{name: "chatty", variables: [{name: "GATE", value: `+strconv.Quote(gate)+`}],
	  environments: [{name: "dev", trigger: {kind: AFTER_RELEASE}, job: {tasks: [{name: "count", script: `+strconv.Quote(script)+`}]}}]}`)
}

// http1Idle closes the test client's idle keep-alive connections (each holds goroutines on both
// ends).
func http1Idle() { http.DefaultClient.CloseIdleConnections() }

// goroutineBaseline returns the number of goroutines once idle HTTP connections are closed and
// the count has settled (unchanged for 10 checks 20 ms apart: closing connections end their
// goroutines asynchronously).
func goroutineBaseline(t *testing.T) int {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(10 * time.Second)
	last, same := -1, 0
	for same < 10 && time.Now().Before(deadline) {
		http1Idle()
		if n := runtime.NumGoroutine(); n == last {
			same++
		} else {
			last, same = n, 0
		}
		<-tick.C
	}
	return last
}

// waitGoroutines waits until the goroutine count is back to base, and fails with a dump of the
// goroutines otherwise.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		http1Idle()
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("goroutine leak: %d goroutines, %d before\n%s", n, base, b.String())
		}
		<-tick.C
	}
}

// TestDeploymentLogSubscription follows a 10,000-line job over graphql-transport-ws from a real
// websocket client: every line arrives once, in order, and the subscription completes when the
// deployment is final; afterwards no goroutine is left behind.
func TestDeploymentLogSubscription(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		const lines = 10000
		gate := filepath.Join(t.TempDir(), "go")
		def := gatedLogDefinition(t, h, gate, lines)
		chatty := h.startAgent(t, "chatty", nil)
		base := goroutineBaseline(t)

		rel := h.createRelease(t, def, nil)
		dev := h.waitEnv(t, rel, "dev", "IN_PROGRESS")
		c := h.dialWS(h.admin, false)
		c.ack()
		// The job waits for the gate; open it once the subscription is in place (a first
		// subscribed read of the stored log, which is empty, happens before any line exists).
		subscribers := h.srv.Events().Subscribers()
		done := make(chan []int, 1)
		go func() { done <- c.followLog(dev.DeploymentID, 1, strconv.Itoa) }()
		poll(t, "the subscription on the bus", func() bool { return h.srv.Events().Subscribers() > subscribers })
		if err := os.WriteFile(gate, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		var seqs []int
		select {
		case seqs = <-done:
		case <-time.After(2 * waitLimit):
			t.Fatal("subscription did not complete")
		}
		checkSequence(t, seqs, 1, lines)
		if st := h.releaseEnvs(t, rel)["dev"]; st.Deployment != "SUCCEEDED" {
			t.Fatalf("completed before the deployment was final: %+v", st)
		}
		c.conn.Close(websocket.StatusNormalClosure, "")
		// The agent forgets the job once its result is acknowledged; then everything is idle.
		h.waitFor(t, "the agent to be idle", func() bool {
			entries, _ := os.ReadDir(filepath.Join(chatty.dir, "results"))
			return len(entries) == 0
		})
		waitGoroutines(t, base)

		// A late subscriber from the middle gets the stored rest and the end at once.
		late := h.dialWS(h.admin, false)
		late.ack()
		checkSequence(t, late.followLog(dev.DeploymentID, lines-99, strconv.Itoa), lines-99, lines)
	})
}

// TestDeploymentLogLegacyProtocol follows a shorter job over the legacy graphql-ws subprotocol.
func TestDeploymentLogLegacyProtocol(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		const lines = 500
		gate := filepath.Join(t.TempDir(), "go")
		def := gatedLogDefinition(t, h, gate, lines)
		h.startAgent(t, "chatty", nil)
		rel := h.createRelease(t, def, nil)
		dev := h.waitEnv(t, rel, "dev", "IN_PROGRESS")
		c := h.dialWS(h.admin, true)
		c.ack()
		subscribers := h.srv.Events().Subscribers()
		done := make(chan []int, 1)
		go func() { done <- c.followLog(dev.DeploymentID, 1, strconv.Itoa) }()
		poll(t, "the subscription on the bus", func() bool { return h.srv.Events().Subscribers() > subscribers })
		if err := os.WriteFile(gate, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		select {
		case seqs := <-done:
			checkSequence(t, seqs, 1, lines)
		case <-time.After(waitLimit):
			t.Fatal("subscription did not complete")
		}
	})
}

// TestSubscriptionRefusesBadToken: a connection_init with a bad (or no) token gets no ack, an
// error where the protocol has one (graphql-ws), and the connection closed with 4403 Forbidden,
// the code graphql-transport-ws prescribes.
func TestSubscriptionRefusesBadToken(t *testing.T) {
	h := newHarness(t, "sqlite")
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		for name, token := range map[string]string{"bad": "not-a-token", "forged": h.admin[:len(h.admin)-4] + "AAAA", "none": ""} {
			t.Run(proto+"/"+name, func(t *testing.T) {
				c := h.dialWSFor(t, token, proto == "graphql-ws")
				m, ok := c.next(waitLimit)
				if ok && m.Type == "connection_error" { // graphql-ws says why, then closes
					if !strings.Contains(string(m.Payload), "token") {
						t.Errorf("connection_error payload %s", m.Payload)
					}
					m, ok = c.next(waitLimit)
				}
				if ok {
					t.Fatalf("got %s %s instead of a refusal", m.Type, m.Payload)
				}
				if err := <-c.closed; websocket.CloseStatus(err) != 4403 {
					t.Fatalf("closed with %v, want 4403 (Forbidden)", err)
				}
			})
		}
	}
}
