package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
)

// Subscription clients for the tests: a websocket client speaking
// graphql-transport-ws or the legacy graphql-ws protocol over
// coder/websocket, and an SSE client.

// wsMsg is a message of either websocket protocol.
type wsMsg struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsClient is one websocket connection to /graphql.
type wsClient struct {
	t      *testing.T
	conn   *websocket.Conn
	legacy bool
	msgs   chan wsMsg
	// closed receives the error that ended the connection.
	closed chan error
}

// dialWS connects with subprotocol graphql-transport-ws (legacy:
// graphql-ws) and sends connection_init with the token. It does not wait
// for the acknowledgement: see ack.
func (h *harness) dialWS(token string, legacy bool) *wsClient {
	h.t.Helper()
	return h.dialWSFor(h.t, token, legacy)
}

// dialWSFor is dialWS for test t (a subtest of h's).
func (h *harness) dialWSFor(t *testing.T, token string, legacy bool) *wsClient {
	t.Helper()
	proto := "graphql-transport-ws"
	if legacy {
		proto = "graphql-ws"
	}
	url := "ws" + strings.TrimPrefix(h.http.URL, "http") + "/graphql"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{proto}})
	if err != nil {
		t.Fatalf("dialing %s: %v", url, err)
	}
	if conn.Subprotocol() != proto {
		t.Fatalf("server chose subprotocol %q, want %q", conn.Subprotocol(), proto)
	}
	conn.SetReadLimit(8 << 20)
	c := &wsClient{t: t, conn: conn, legacy: legacy, msgs: make(chan wsMsg, 1024), closed: make(chan error, 1)}
	go c.read()
	t.Cleanup(func() { conn.CloseNow() })
	c.send(wsMsg{Type: "connection_init", Payload: mustJSON(map[string]string{"authorization": "Bearer " + token})})
	return c
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// read delivers messages until the connection ends, answering pings.
func (c *wsClient) read() {
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			c.closed <- err
			close(c.msgs)
			return
		}
		var m wsMsg
		if err := json.Unmarshal(data, &m); err != nil {
			c.closed <- err
			close(c.msgs)
			return
		}
		switch m.Type {
		case "ping":
			_ = c.conn.Write(context.Background(), websocket.MessageText, mustJSON(wsMsg{Type: "pong"}))
			continue
		case "ka", "pong":
			continue
		}
		c.msgs <- m
	}
}

func (c *wsClient) send(m wsMsg) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, mustJSON(m)); err != nil {
		c.t.Fatalf("websocket write: %v", err)
	}
}

// next returns the next message, failing the test after timeout; ok is false
// when the connection ended.
func (c *wsClient) next(timeout time.Duration) (wsMsg, bool) {
	c.t.Helper()
	select {
	case m, ok := <-c.msgs:
		return m, ok
	case <-time.After(timeout):
		c.t.Fatalf("no websocket message within %s", timeout)
	}
	return wsMsg{}, false
}

// until returns the first message that keep accepts, skipping others.
func (c *wsClient) until(keep func(wsMsg) bool) wsMsg {
	c.t.Helper()
	for {
		m, ok := c.next(eventWait)
		if !ok {
			c.t.Fatalf("connection closed: %v", <-c.closed)
		}
		if keep(m) {
			return m
		}
	}
}

// ack waits for connection_ack.
func (c *wsClient) ack() {
	c.t.Helper()
	m, ok := c.next(10 * time.Second)
	if !ok || m.Type != "connection_ack" {
		c.t.Fatalf("want connection_ack, got %+v (open %v)", m, ok)
	}
}

// subscribe starts operation id.
func (c *wsClient) subscribe(id, query string, vars map[string]any) {
	c.t.Helper()
	typ := "subscribe"
	if c.legacy {
		typ = "start"
	}
	c.send(wsMsg{ID: id, Type: typ, Payload: mustJSON(map[string]any{"query": query, "variables": vars})})
}

// closeStatus waits for the connection to end and returns its close code.
func (c *wsClient) closeStatus(timeout time.Duration) websocket.StatusCode {
	c.t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-c.msgs:
			if !ok {
				return websocket.CloseStatus(<-c.closed)
			}
		case <-timer.C:
			c.t.Fatalf("connection still open after %s", timeout)
			return -1
		}
	}
}

// followLog subscribes to deploymentLog from fromSeq and returns the sequence numbers received,
// checking each line's text, until the server completes the subscription.
func (c *wsClient) followLog(deploymentID string, fromSeq int, text func(seq int) string) []int {
	c.t.Helper()
	c.subscribe("log", `subscription($d: ID!, $f: Int64) { deploymentLog(deploymentId: $d, fromSeq: $f) { seq step text } }`,
		map[string]any{"d": deploymentID, "f": fromSeq})
	data := "next"
	if c.legacy {
		data = "data"
	}
	var seqs []int
	for {
		m, ok := c.next(waitLimit)
		if !ok {
			c.t.Fatalf("connection closed after %d lines: %v", len(seqs), <-c.closed)
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
				c.t.Fatalf("bad %s message %s (%v)", data, m.Payload, err)
			}
			l := p.Data.DeploymentLog
			if want := text(l.Seq); l.Text != want {
				c.t.Fatalf("line %d is %q, want %q", l.Seq, l.Text, want)
			}
			seqs = append(seqs, l.Seq)
		case "complete":
			return seqs
		default:
			c.t.Fatalf("unexpected %s message: %s", m.Type, m.Payload)
		}
	}
}

// gqlPayload is the payload of a next/data message.
type gqlPayload struct {
	Data   map[string]any `json:"data"`
	Errors []gqlError     `json:"errors"`
}

// event reads the next result of operation id and returns its root field.
func (c *wsClient) event(id, field string, timeout time.Duration) map[string]any {
	c.t.Helper()
	for {
		m, ok := c.next(timeout)
		if !ok {
			c.t.Fatalf("connection closed while waiting for %s: %v", field, <-c.closed)
		}
		if m.ID != id {
			continue
		}
		if m.Type != "next" && m.Type != "data" {
			c.t.Fatalf("operation %s: %s %s", id, m.Type, m.Payload)
		}
		var p gqlPayload
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			c.t.Fatal(err)
		}
		if len(p.Errors) > 0 {
			c.t.Fatalf("operation %s: errors %+v", id, p.Errors)
		}
		ev, _ := p.Data[field].(map[string]any)
		return ev
	}
}

// sseClient reads one subscription over server-sent events.
type sseClient struct {
	t      *testing.T
	events chan map[string]any
	done   chan struct{}
	cancel context.CancelFunc
}

// subscribeSSE starts a subscription over SSE and returns the root field of
// each result on the client's channel, which closes when the stream ends.
func (h *harness) subscribeSSE(token, query string, vars map[string]any, field string) *sseClient {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", h.http.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		h.t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		cancel()
		h.t.Fatalf("SSE status %d: %s", resp.StatusCode, b)
	}
	c := &sseClient{t: h.t, events: make(chan map[string]any, 1024), done: make(chan struct{}), cancel: cancel}
	h.t.Cleanup(func() { cancel(); <-c.done })
	go func() {
		defer close(c.done)
		defer close(c.events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 8<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var p gqlPayload
			if err := json.Unmarshal([]byte(data), &p); err != nil || len(p.Errors) > 0 {
				c.events <- map[string]any{"__error": data}
				continue
			}
			ev, _ := p.Data[field].(map[string]any)
			c.events <- ev
		}
	}()
	return c
}

// next returns the next event; ok is false when the stream ended.
func (c *sseClient) next(timeout time.Duration) (map[string]any, bool) {
	c.t.Helper()
	select {
	case ev, ok := <-c.events:
		if e, bad := ev["__error"]; bad {
			c.t.Fatalf("SSE error: %v", e)
		}
		return ev, ok
	case <-time.After(timeout):
		c.t.Fatalf("no SSE event within %s", timeout)
	}
	return nil, false
}

// tokenWith creates (once) a user and returns a signed API token with scopes
// and its row.
func (h *harness) tokenWith(username string, role delivery.Role, scopes []string) (string, *ent.ApiToken) {
	h.t.Helper()
	ctx := context.Background()
	e := h.srv.Engine
	sys := delivery.SystemActor("test")
	u, err := e.Client().User.Query().Where().All(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	id := 0
	for _, x := range u {
		if x.Username == username {
			id = x.ID
		}
	}
	if id == 0 {
		nu, err := e.CreateUser(ctx, sys, delivery.UserInput{Username: username, Role: role, Email: username + "@example.com"})
		if err != nil {
			h.t.Fatal(err)
		}
		id = nu.ID
	}
	row, err := e.CreateAPIToken(ctx, sys, "test", id, time.Hour, scopes)
	if err != nil {
		h.t.Fatal(err)
	}
	tok, err := h.srv.Keys.IssueAPIToken(username, row.Jti, row.ExpiresAt, scopes)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok, row
}
