package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/agentproto"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// credentialFor registers an agent through the engine and signs its credential.
func (h *harness) credentialFor(t *testing.T, name string) (int, string) {
	t.Helper()
	ctx := context.Background()
	tok, _, err := h.e.CreateAgentRegistration(ctx, admin, "", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, jti, err := h.e.RegisterAgent(ctx, tok, delivery.RegisterAgentInput{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := h.keys.IssueAgentToken(strconv.Itoa(a.ID), jti, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return a.ID, cred
}

// rawClient is a hand-driven agent connection.
type rawClient struct {
	t    *testing.T
	conn *websocket.Conn
}

// dial connects with cred; opts, if given, adjust the dial options.
func (h *harness) dial(t *testing.T, cred string, opts ...func(*websocket.DialOptions)) (*rawClient, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	o := &websocket.DialOptions{
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + cred}},
		Subprotocols: []string{agentproto.Subprotocol},
	}
	for _, f := range opts {
		f(o)
	}
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.srv.URL, "http")+agentproto.ConnectPath, o)
	if err != nil {
		return nil, resp, err
	}
	conn.SetReadLimit(agentproto.MaxMessageBytes)
	t.Cleanup(func() { conn.CloseNow() })
	return &rawClient{t: t, conn: conn}, resp, nil
}

func (c *rawClient) write(v any) {
	c.t.Helper()
	raw, ok := v.([]byte)
	if !ok {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, raw); err != nil {
		c.t.Fatalf("writing: %v", err)
	}
}

// read returns the next message, skipping the types in skip.
func (c *rawClient) read(skip ...agentproto.MessageType) (agentproto.MessageType, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		_, data, err := c.conn.Read(ctx)
		if err != nil {
			return "", nil, err
		}
		var hdr agentproto.Header
		_ = json.Unmarshal(data, &hdr)
		skipped := false
		for _, s := range skip {
			skipped = skipped || hdr.Type == s
		}
		if !skipped {
			return hdr.Type, data, nil
		}
	}
}

// wantError reads the next message (past acks) and checks it is an Error with code.
func (c *rawClient) wantError(code agentproto.ErrorCode) agentproto.Error {
	c.t.Helper()
	typ, data, err := c.read(agentproto.TypeLogAck, agentproto.TypeCancel)
	if err != nil {
		c.t.Fatalf("want error %s, got %v", code, err)
	}
	var e agentproto.Error
	_ = json.Unmarshal(data, &e)
	if typ != agentproto.TypeError || e.Code != code {
		c.t.Fatalf("want error %s, got %s %s", code, typ, data)
	}
	return e
}

func (c *rawClient) hello() {
	c.t.Helper()
	c.write(agentproto.Hello{Type: agentproto.TypeHello, Name: "raw", Version: "1", MaxJobs: 1})
	typ, data, err := c.read()
	if err != nil || typ != agentproto.TypeWelcome {
		c.t.Fatalf("want welcome, got %s %s %v", typ, data, err)
	}
}

func TestHostileAgentMessages(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	h := newHarness(t, db, harnessOpts{})
	ctx := context.Background()
	_, cred := h.credentialFor(t, "hostile")
	otherID, _ := h.credentialFor(t, "victim")

	// A job of another agent.
	s := deliverytest.Job(t, h.c, deliverytest.JobOptions{Tasks: echoTasks(1)})
	if _, err := h.e.AgentConnected(ctx, otherID, delivery.HelloInfo{MaxJobs: 1}); err != nil {
		t.Fatal(err)
	}
	if j, err := h.e.ClaimJobFor(ctx, otherID); err != nil || j == nil || j.ID != s.Job.ID {
		t.Fatalf("claim for victim: %v %v", j, err)
	}
	victimJob := strconv.Itoa(s.Job.ID)

	// First message not a hello: an error, then closed with the protocol-error status.
	c, _, err := h.dial(t, cred)
	if err != nil {
		t.Fatal(err)
	}
	c.write(agentproto.LogBatch{Type: agentproto.TypeLogBatch, JobID: "1"})
	c.wantError(agentproto.ErrBadMessage)
	if _, _, err := c.read(); websocket.CloseStatus(err) != agentproto.CloseProtocolError {
		t.Fatalf("want close %d, got %v", agentproto.CloseProtocolError, err)
	}

	c, _, err = h.dial(t, cred)
	if err != nil {
		t.Fatal(err)
	}
	c.hello()
	c.write([]byte("{not json"))
	c.wantError(agentproto.ErrBadMessage)
	c.write([]byte(`{"type":"logBatch","jobId":5,"lines":"x"}`))
	c.wantError(agentproto.ErrBadMessage)
	c.write([]byte(`{"type":"somethingNew","x":1}`)) // ignored
	c.write(agentproto.Hello{Type: agentproto.TypeHello})
	c.wantError(agentproto.ErrBadMessage)
	c.write(agentproto.LogBatch{Type: agentproto.TypeLogBatch, JobID: victimJob,
		Lines: []agentproto.LogLine{{Seq: 1, Text: "injected"}}})
	if e := c.wantError(agentproto.ErrUnknownJob); e.JobID != victimJob {
		t.Fatalf("error job id %q", e.JobID)
	}
	c.write(agentproto.JobFinished{Type: agentproto.TypeJobFinished, JobID: victimJob, Status: "SUCCEEDED"})
	c.wantError(agentproto.ErrUnknownJob)
	c.write(agentproto.JobAccepted{Type: agentproto.TypeJobAccepted, JobID: "not-a-number"})
	c.wantError(agentproto.ErrUnknownJob)
	c.write(agentproto.StepFinished{Type: agentproto.TypeStepFinished, JobID: victimJob, Step: 1, Status: "SUCCEEDED"})
	c.wantError(agentproto.ErrUnknownJob)
	if lines, _ := h.e.ReadLogs(ctx, s.Job.ID, 1, 0); len(lines) != 0 || h.job(t, s.Job.ID).Status != job.StatusASSIGNED {
		t.Fatalf("the victim's job was touched: %v %s", lines, h.job(t, s.Job.ID).Status)
	}
	// A message above the read limit closes the connection (coder/websocket: message too big).
	huge := append([]byte(`{"type":"logBatch","jobId":"1","lines":[{"text":"`), bytes.Repeat([]byte("x"), agentproto.MaxMessageBytes)...)
	huge = append(huge, `"}]}`...)
	ctxW, cancel := context.WithTimeout(ctx, waitLimit)
	_ = c.conn.Write(ctxW, websocket.MessageText, huge)
	cancel()
	if _, _, err := c.read(agentproto.TypeLogAck); websocket.CloseStatus(err) != websocket.StatusMessageTooBig && err == nil {
		t.Fatalf("huge message: %v", err)
	}
	// The server is still fine: a new connection works.
	c, _, err = h.dial(t, cred)
	if err != nil {
		t.Fatal(err)
	}
	c.hello()
}

func TestConnectRefusals(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	h := newHarness(t, db, harnessOpts{})
	ctx := context.Background()
	id, cred := h.credentialFor(t, "gate")
	status := func(cred string) int {
		_, resp, err := h.dial(t, cred)
		if err == nil {
			return 101
		}
		if resp == nil {
			t.Fatalf("no response: %v", err)
		}
		return resp.StatusCode
	}
	if got := status("garbage"); got != http.StatusUnauthorized {
		t.Fatalf("garbage credential: %d", got)
	}
	apiTok, _ := h.keys.IssueAPIToken(strconv.Itoa(id), "jti-x", time.Now().Add(time.Hour), nil)
	if got := status(apiTok); got != http.StatusUnauthorized {
		t.Fatalf("API token as agent credential: %d", got)
	}
	stale, _ := h.keys.IssueAgentToken(strconv.Itoa(id), "old-jti", time.Now().Add(time.Hour))
	if got := status(stale); got != http.StatusUnauthorized {
		t.Fatalf("revoked credential: %d", got)
	}
	if _, err := h.e.SetAgentEnabled(ctx, admin, id, false); err != nil {
		t.Fatal(err)
	}
	if got := status(cred); got != http.StatusForbidden {
		t.Fatalf("disabled agent: %d", got)
	}
	if _, err := h.e.SetAgentEnabled(ctx, admin, id, true); err != nil {
		t.Fatal(err)
	}
	// No subprotocol offered: refused before upgrading.
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+agentproto.ConnectPath, nil)
	req.Header.Set("Authorization", "Bearer "+cred)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("no subprotocol: %v %v", resp, err)
	}
	resp.Body.Close()
	// A second connection replaces the first, which is closed with CloseReplaced.
	first, _, err := h.dial(t, cred)
	if err != nil {
		t.Fatal(err)
	}
	first.hello()
	second, _, err := h.dial(t, cred)
	if err != nil {
		t.Fatal(err)
	}
	second.hello()
	if _, _, err := first.read(); websocket.CloseStatus(err) != agentproto.CloseReplaced {
		t.Fatalf("replaced connection: %v", err)
	}
	// Deleting the agent ends its connection with CloseUnauthorized.
	if err := h.e.DeleteAgent(ctx, admin, id); err != nil {
		t.Fatal(err)
	}
	if _, _, err := second.read(); websocket.CloseStatus(err) != agentproto.CloseUnauthorized {
		t.Fatalf("deleted agent: %v", err)
	}
	if got := status(cred); got != http.StatusUnauthorized {
		t.Fatalf("deleted agent reconnecting: %d", got)
	}
	// Hub.Close ends sessions with StatusGoingAway.
	_, cred2 := h.credentialFor(t, "gate2")
	c, _, err := h.dial(t, cred2)
	if err != nil {
		t.Fatal(err)
	}
	c.hello()
	h.hub.Close()
	if _, _, err := c.read(); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("shutdown: %v", err)
	}
}

func TestRegisterEndpoint(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	h := newHarness(t, db, harnessOpts{})
	ctx := context.Background()
	post := func(body []byte) (int, agentproto.RegisterError, agentproto.RegisterResponse) {
		resp, err := http.Post(h.srv.URL+agentproto.RegisterPath, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e agentproto.RegisterError
		var ok agentproto.RegisterResponse
		raw := new(bytes.Buffer)
		_, _ = raw.ReadFrom(resp.Body)
		_ = json.Unmarshal(raw.Bytes(), &e)
		_ = json.Unmarshal(raw.Bytes(), &ok)
		return resp.StatusCode, e, ok
	}
	req := func(tok, name string) []byte {
		b, _ := json.Marshal(agentproto.RegisterRequest{Token: tok, Name: name, Version: "1", OS: "linux", Arch: "amd64"})
		return b
	}
	tok, _, _ := h.e.CreateAgentRegistration(ctx, admin, "", 1, time.Hour)
	if code, e, _ := post(req("wrong", "x")); code != http.StatusUnauthorized || e.Code != agentproto.ErrUnauthorized {
		t.Fatalf("bad token: %d %+v", code, e)
	}
	if code, e, _ := post([]byte("{")); code != http.StatusBadRequest || e.Code != agentproto.ErrBadMessage {
		t.Fatalf("malformed: %d %+v", code, e)
	}
	if code, _, _ := post(bytes.Repeat([]byte(" "), agentproto.MaxRegisterBodyBytes+10)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("huge body: %d", code)
	}
	code, _, ok := post(req(tok, "fresh"))
	if code != http.StatusCreated || ok.AgentID == "" {
		t.Fatalf("register: %d %+v", code, ok)
	}
	claims, err := h.keys.Verify(ok.Credential, agentproto.CredentialAudience)
	if err != nil || claims.Subject != ok.AgentID {
		t.Fatalf("credential: %+v %v", claims, err)
	}
	if code, _, _ := post(req(tok, "again")); code != http.StatusUnauthorized {
		t.Fatalf("used-up token: %d", code)
	}
	tok2, _, _ := h.e.CreateAgentRegistration(ctx, admin, "", 5, time.Hour)
	if code, e, _ := post(req(tok2, "fresh")); code != http.StatusConflict || e.Code != agentproto.ErrConflict {
		t.Fatalf("name conflict: %d %+v", code, e)
	}
	// Expired: a token created with a clock in the past.
	past := newHarness(t, db, harnessOpts{clock: delivery.NewManualClock(time.Now().Add(-48 * time.Hour))})
	tok3, _, _ := past.e.CreateAgentRegistration(ctx, admin, "", 5, 24*time.Hour)
	if code, _, _ := post(req(tok3, "late")); code != http.StatusUnauthorized {
		t.Fatalf("expired token: %d", code)
	}
}
