package server_test

import (
	"context"
	"encoding/json"
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

// logWSClient is a GraphQL websocket client speaking graphql-transport-ws or the legacy graphql-ws.
type logWSClient struct {
	t     *testing.T
	conn  *websocket.Conn
	proto string
}

func dialGraphQL(t *testing.T, h *harness, proto string) *logWSClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.http.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{proto}})
	if err != nil {
		t.Fatalf("dialing %s: %v", proto, err)
	}
	if conn.Subprotocol() != proto {
		t.Fatalf("server chose subprotocol %q, want %q", conn.Subprotocol(), proto)
	}
	c := &logWSClient{t: t, conn: conn, proto: proto}
	t.Cleanup(func() { conn.CloseNow() })
	return c
}

func (c *logWSClient) send(msg map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(msg)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("writing %s: %v", b, err)
	}
}

type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// recv returns the next message other than keep-alives, or the read error.
func (c *logWSClient) recv() (wsMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		_, b, err := c.conn.Read(ctx)
		if err != nil {
			return wsMessage{}, err
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Fatalf("undecodable message %q", b)
		}
		switch m.Type {
		case "ka", "pong":
			continue
		case "ping":
			c.send(map[string]any{"type": "pong"})
			continue
		}
		return m, nil
	}
}

// init sends connection_init with the token and returns the answer.
func (c *logWSClient) init(token string) (wsMessage, error) {
	c.send(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + token}})
	return c.recv()
}

// subscribe starts the deploymentLog subscription and returns the sequence numbers received,
// checking each line's text, until the server completes it.
func (c *logWSClient) followLog(deploymentID string, fromSeq int, text func(seq int) string) []int {
	c.t.Helper()
	start := "subscribe"
	data := "next"
	if c.proto == "graphql-ws" {
		start, data = "start", "data"
	}
	c.send(map[string]any{"type": start, "id": "log", "payload": map[string]any{
		"query":     `subscription($d: ID!, $f: Int64) { deploymentLog(deploymentId: $d, fromSeq: $f) { seq step text } }`,
		"variables": map[string]any{"d": deploymentID, "f": fromSeq},
	}})
	var seqs []int
	for {
		m, err := c.recv()
		if err != nil {
			c.t.Fatalf("%s: reading after %d lines: %v", c.proto, len(seqs), err)
		}
		switch m.Type {
		case data:
			var p struct {
				Data struct {
					DeploymentLog struct {
						Seq  int    `json:"seq"`
						Step int    `json:"step"`
						Text string `json:"text"`
					} `json:"deploymentLog"`
				} `json:"data"`
				Errors []gqlError `json:"errors"`
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 || m.ID != "log" {
				c.t.Fatalf("%s: bad %s message %s (%v)", c.proto, data, m.Payload, err)
			}
			l := p.Data.DeploymentLog
			if want := text(l.Seq); l.Text != want {
				c.t.Fatalf("%s: line %d is %q, want %q", c.proto, l.Seq, l.Text, want)
			}
			seqs = append(seqs, l.Seq)
		case "complete":
			return seqs
		default:
			c.t.Fatalf("%s: unexpected %s message: %s", c.proto, m.Type, m.Payload)
		}
	}
}

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
		c := dialGraphQL(t, h, "graphql-transport-ws")
		if m, err := c.init(h.admin); err != nil || m.Type != "connection_ack" {
			t.Fatalf("connection_init: %+v %v", m, err)
		}
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
		late := dialGraphQL(t, h, "graphql-transport-ws")
		if m, err := late.init(h.admin); err != nil || m.Type != "connection_ack" {
			t.Fatalf("connection_init: %+v %v", m, err)
		}
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
		c := dialGraphQL(t, h, "graphql-ws")
		if m, err := c.init(h.admin); err != nil || m.Type != "connection_ack" {
			t.Fatalf("connection_init: %+v %v", m, err)
		}
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
				c := dialGraphQL(t, h, proto)
				m, err := c.init(token)
				if err == nil && m.Type == "connection_error" { // graphql-ws says why, then closes
					if !strings.Contains(string(m.Payload), "token") {
						t.Errorf("connection_error payload %s", m.Payload)
					}
					m, err = c.recv()
				}
				if err == nil {
					t.Fatalf("got %s %s instead of a refusal", m.Type, m.Payload)
				}
				if websocket.CloseStatus(err) != 4403 {
					t.Fatalf("closed with %v, want 4403 (Forbidden)", err)
				}
			})
		}
	}
}
