package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/agent"
	"github.com/cairnhq/cairn/agentproto"
)

// The fake server below speaks agentproto the way server/dispatch must: registration, bearer
// credential, subprotocol, explicit read limit, hello → welcome, then acks.

const (
	regToken   = "reg-token"
	credential = "cred-xyz"
	waitLimit  = 20 * time.Second
)

type fakeServer struct {
	srv           *httptest.Server
	registrations atomic.Int32
	pings         atomic.Int32 // websocket pings received from agents
	conns         chan *serverConn
	graceMillis   atomic.Int64 // announced in Welcome
}

// serverConn is one accepted agent connection, after its hello.
type serverConn struct {
	conn  *websocket.Conn
	hello agentproto.Hello
	msgs  chan message // closed when the connection ends
}

type message struct {
	typ agentproto.MessageType
	raw []byte
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	fs := &fakeServer{conns: make(chan *serverConn, 8)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+agentproto.RegisterPath, func(w http.ResponseWriter, r *http.Request) {
		var req agentproto.RegisterRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, agentproto.MaxRegisterBodyBytes)).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if req.Token != regToken {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(agentproto.RegisterError{Code: agentproto.ErrUnauthorized, Message: "bad token"})
			return
		}
		fs.registrations.Add(1)
		json.NewEncoder(w).Encode(agentproto.RegisterResponse{AgentID: "agent-1", Credential: credential})
	})
	mux.HandleFunc("GET "+agentproto.ConnectPath, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+credential {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			Subprotocols:   []string{agentproto.Subprotocol},
			OnPingReceived: func(context.Context, []byte) bool { fs.pings.Add(1); return true },
		})
		if err != nil {
			return
		}
		defer conn.CloseNow()
		if conn.Subprotocol() != agentproto.Subprotocol {
			conn.Close(websocket.StatusPolicyViolation, "subprotocol required")
			return
		}
		conn.SetReadLimit(agentproto.MaxMessageBytes)
		ctx := r.Context()
		_, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		sc := &serverConn{conn: conn, msgs: make(chan message, 1024)}
		if err := json.Unmarshal(data, &sc.hello); err != nil || sc.hello.Type != agentproto.TypeHello {
			conn.Close(agentproto.CloseProtocolError, "hello expected")
			return
		}
		if err := writeMsg(ctx, conn, agentproto.Welcome{Type: agentproto.TypeWelcome, AgentID: "agent-1", ServerTime: time.Now(), GraceMillis: fs.graceMillis.Load()}); err != nil {
			return
		}
		fs.conns <- sc
		defer close(sc.msgs)
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var h agentproto.Header
			if err := json.Unmarshal(data, &h); err != nil {
				return
			}
			sc.msgs <- message{typ: h.Type, raw: data}
		}
	})
	fs.srv = httptest.NewServer(mux)
	t.Cleanup(fs.srv.Close)
	return fs
}

func writeMsg(ctx context.Context, conn *websocket.Conn, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return conn.Write(ctx, websocket.MessageText, data)
}

func (fs *fakeServer) nextConn(t *testing.T) *serverConn {
	t.Helper()
	select {
	case sc := <-fs.conns:
		return sc
	case <-time.After(waitLimit):
		t.Fatal("no agent connection")
		return nil
	}
}

func (sc *serverConn) send(t *testing.T, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	if err := writeMsg(ctx, sc.conn, v); err != nil {
		t.Fatalf("sending %T: %v", v, err)
	}
}

// next returns the next message, or ok false when the connection ended.
func (sc *serverConn) next(t *testing.T) (message, bool) {
	t.Helper()
	select {
	case m, ok := <-sc.msgs:
		return m, ok
	case <-time.After(waitLimit):
		t.Fatal("no message from the agent")
		return message{}, false
	}
}

// jobRecord is what the server stores for a job: lines deduplicated by seq, step reports, result.
type jobRecord struct {
	lines    map[int64]agentproto.LogLine
	received int // lines received, duplicates included
	started  map[int]agentproto.StepStarted
	steps    map[int]agentproto.StepFinished
	result   *agentproto.JobFinished
	accepted int
}

func newJobRecord() *jobRecord {
	return &jobRecord{lines: map[int64]agentproto.LogLine{}, started: map[int]agentproto.StepStarted{}, steps: map[int]agentproto.StepFinished{}}
}

// contiguous returns the highest n such that lines 1..n are stored.
func (r *jobRecord) contiguous() int64 {
	var n int64
	for r.lines[n+1].Seq != 0 {
		n++
	}
	return n
}

// texts returns the stored lines' texts in seq order.
func (r *jobRecord) texts() []string {
	var out []string
	for i := int64(1); i <= r.contiguous(); i++ {
		out = append(out, r.lines[i].Text)
	}
	return out
}

// apply records one message, checks the ordering guarantee of agentproto, and returns what the
// server acknowledges (nil when nothing).
func (r *jobRecord) apply(t *testing.T, m message, ackLogs bool) any {
	t.Helper()
	switch m.typ {
	case agentproto.TypeJobAccepted:
		r.accepted++
	case agentproto.TypeStepStarted:
		var s agentproto.StepStarted
		json.Unmarshal(m.raw, &s)
		r.started[s.Step] = s
	case agentproto.TypeStepFinished:
		var s agentproto.StepFinished
		json.Unmarshal(m.raw, &s)
		r.steps[s.Step] = s
	case agentproto.TypeLogBatch:
		var b agentproto.LogBatch
		json.Unmarshal(m.raw, &b)
		for _, l := range b.Lines {
			r.received++
			if l.Step > 0 {
				if _, ok := r.started[l.Step]; !ok {
					t.Errorf("line %d of step %d before its stepStarted", l.Seq, l.Step)
				}
			}
			if _, done := r.steps[l.Step]; done && r.lines[l.Seq].Seq == 0 {
				t.Errorf("new line %d of step %d after its stepFinished", l.Seq, l.Step)
			}
			if l.Seq > r.contiguous()+1 {
				t.Errorf("gap: line %d after %d", l.Seq, r.contiguous())
			}
			if old, ok := r.lines[l.Seq]; ok && old.Text != l.Text {
				t.Errorf("line %d resent with different text: %q then %q", l.Seq, old.Text, l.Text)
			}
			if _, ok := r.lines[l.Seq]; !ok {
				r.lines[l.Seq] = l
			}
		}
		if ackLogs {
			return agentproto.LogAck{Type: agentproto.TypeLogAck, JobID: b.JobID, UptoSeq: r.contiguous()}
		}
	case agentproto.TypeJobFinished:
		var f agentproto.JobFinished
		json.Unmarshal(m.raw, &f)
		if f.LastSeq != r.contiguous() {
			t.Errorf("jobFinished.LastSeq %d but %d lines stored", f.LastSeq, r.contiguous())
		}
		r.result = &f
		return agentproto.ResultAck{Type: agentproto.TypeResultAck, JobID: f.JobID}
	default:
		t.Errorf("unexpected message %s: %s", m.typ, m.raw)
	}
	return nil
}

// startAgent runs agent.Run in the background; the returned stop cancels it and returns its error.
func startAgent(t *testing.T, cfg agent.Config) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx, cfg) }()
	var err error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case err = <-done:
			case <-time.After(waitLimit):
				t.Fatal("agent.Run did not return after cancel")
			}
		}
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

func testConfig(t *testing.T, server string) agent.Config {
	return agent.Config{
		Server: server, Token: regToken, Name: "agent-a", WorkDir: t.TempDir(),
		Capabilities: map[string]string{"env": "test"},
		Logger:       slog.New(slog.NewTextHandler(testWriter{t}, nil)),
		Environ:      os.Environ(), ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
		KillGrace: time.Second, ShutdownTimeout: 5 * time.Second,
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestAgentRunsJob(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	cfg := testConfig(t, fs.srv.URL)
	stop := startAgent(t, cfg)

	sc := fs.nextConn(t)
	h := sc.hello
	if h.Name != "agent-a" || h.MaxJobs != 1 || h.UserCapabilities["env"] != "test" || h.SystemCapabilities["os"] == "" || h.SystemCapabilities["sh"] == "" {
		t.Errorf("hello = %+v", h)
	}
	if len(h.RunningJobs) != 0 || len(h.FinishedJobs) != 0 {
		t.Errorf("fresh agent reports jobs: %+v", h)
	}

	sc.send(t, agentproto.JobAssignment{
		Type: agentproto.TypeJob, JobID: "job-1", DeploymentID: "dep-1",
		ReleaseVariables: map[string]string{"RELEASE_RELEASENAME": "Release-3"},
		Variables:        []agentproto.Variable{{Name: "api.token", Value: "tok-very-secret", Secret: true}},
		Tasks: []agentproto.Task{
			{Name: "first", Script: "echo one\necho \"$RELEASE_RELEASENAME\""},
			{Name: "second", Shell: "bash", Script: "echo three >&2"},
			{Name: "third", Shell: "sh", Script: "echo \"token $API_TOKEN\""},
		},
	})
	rec := newJobRecord()
	var order []string
	for rec.result == nil {
		m, ok := sc.next(t)
		if !ok {
			t.Fatal("connection closed before jobFinished")
		}
		order = append(order, string(m.typ))
		if ack := rec.apply(t, m, true); ack != nil {
			sc.send(t, ack)
		}
	}
	if order[0] != string(agentproto.TypeJobAccepted) || rec.accepted != 1 {
		t.Errorf("message order %v", order)
	}
	if want := []string{"one", "Release-3", "three", "token ***"}; fmt.Sprint(rec.texts()) != fmt.Sprint(want) {
		t.Errorf("log = %q, want %q", rec.texts(), want)
	}
	if rec.received != 4 {
		t.Errorf("received %d lines, want 4 (no duplicates on a stable connection)", rec.received)
	}
	if rec.result.Status != agentproto.JobSucceeded || rec.result.LastSeq != 4 {
		t.Errorf("result %+v", rec.result)
	}
	if rec.steps[0].Status != agentproto.StepSkipped {
		t.Errorf("step 0 %+v", rec.steps[0])
	}
	for i := 1; i <= 3; i++ {
		if rec.steps[i].Status != agentproto.StepSucceeded || rec.steps[i].ExitCode != 0 {
			t.Errorf("step %d %+v", i, rec.steps[i])
		}
	}

	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	fi, err := os.Stat(filepath.Join(cfg.WorkDir, "credential.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("credential file: %v %v", fi, err)
	}
	if entries, _ := os.ReadDir(filepath.Join(cfg.WorkDir, "results")); len(entries) != 0 {
		t.Errorf("acknowledged result still on disk: %v", entries)
	}

	// A restarted agent reuses its credential: no second registration.
	cfg.Token = ""
	stop = startAgent(t, cfg)
	if sc := fs.nextConn(t); len(sc.hello.FinishedJobs) != 0 || len(sc.hello.RunningJobs) != 0 {
		t.Errorf("restarted agent reports jobs: %+v", sc.hello)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := fs.registrations.Load(); n != 1 {
		t.Errorf("%d registrations, want 1", n)
	}
}

func TestAgentResendsAfterDisconnect(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	cfg := testConfig(t, fs.srv.URL)
	gate := filepath.Join(t.TempDir(), "gate")
	if err := syscall.Mkfifo(gate, 0o600); err != nil {
		t.Fatal(err)
	}
	stop := startAgent(t, cfg)
	sc := fs.nextConn(t)
	sc.send(t, agentproto.JobAssignment{
		Type: agentproto.TypeJob, JobID: "job-2",
		Tasks: []agentproto.Task{
			// Twenty lines, then wait for the test to open the gate, then twenty more.
			{Name: "gated", Shell: "bash", Env: map[string]string{"GATE": gate},
				Script: "for i in $(seq 1 20); do echo before-$i; done\nread -r _ < \"$GATE\"\nfor i in $(seq 1 20); do echo after-$i; done"},
			{Name: "last", Script: "echo done"},
		},
	})

	// First connection: take all twenty lines, acknowledge only the first five, then drop.
	rec := newJobRecord()
	acked := false
	for rec.contiguous() < 20 {
		m, ok := sc.next(t)
		if !ok {
			t.Fatal("connection closed early")
		}
		rec.apply(t, m, false)
		if !acked && rec.contiguous() >= 5 {
			sc.send(t, agentproto.LogAck{Type: agentproto.TypeLogAck, JobID: "job-2", UptoSeq: 5})
			acked = true
		}
	}
	sc.conn.CloseNow()
	// The server crashed before storing the unacknowledged lines: only 1..5 survive.
	for seq := range rec.lines {
		if seq > 5 {
			delete(rec.lines, seq)
		}
	}

	// Second connection: the job is still running; open the gate and take everything.
	sc = fs.nextConn(t)
	if len(sc.hello.RunningJobs) != 1 || sc.hello.RunningJobs[0].JobID != "job-2" || sc.hello.RunningJobs[0].LastSeq < 20 {
		t.Fatalf("hello after reconnect: %+v", sc.hello.RunningJobs)
	}
	if a := sc.hello.RunningJobs[0].AckedSeq; a != 0 && a != 5 {
		t.Errorf("hello AckedSeq = %d, want 0 or 5", a)
	}
	// The server may not have seen jobAccepted: it assigns the job again, which must not run twice.
	sc.send(t, agentproto.JobAssignment{Type: agentproto.TypeJob, JobID: "job-2", Tasks: []agentproto.Task{{Script: "echo twice"}}})
	opened := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(gate, os.O_WRONLY, 0)
		if err == nil {
			_, err = f.WriteString("go\n")
			f.Close()
		}
		opened <- err
	}()
	for rec.result == nil {
		m, ok := sc.next(t)
		if !ok {
			t.Fatal("second connection closed before jobFinished")
		}
		if ack := rec.apply(t, m, true); ack != nil {
			sc.send(t, ack)
		}
	}
	select {
	case err := <-opened:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLimit):
		t.Fatal("gate never opened")
	}

	var want []string
	for i := 1; i <= 20; i++ {
		want = append(want, fmt.Sprint("before-", i))
	}
	for i := 1; i <= 20; i++ {
		want = append(want, fmt.Sprint("after-", i))
	}
	want = append(want, "done")
	if got := rec.texts(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stored log =\n%q\nwant\n%q", got, want)
	}
	if len(rec.lines) != len(want) {
		t.Errorf("%d lines stored, want %d", len(rec.lines), len(want))
	}
	// Lines 6..20 were unacknowledged when the connection dropped: they must have been resent.
	if dup := rec.received - len(want); dup < 15 {
		t.Errorf("%d lines resent, want at least 15", dup)
	}
	if rec.result.Status != agentproto.JobSucceeded || rec.result.LastSeq != int64(len(want)) {
		t.Errorf("result %+v", rec.result)
	}
	if rec.steps[1].Status != agentproto.StepSucceeded || rec.steps[2].Status != agentproto.StepSucceeded {
		t.Errorf("steps %+v", rec.steps)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestAgentRefusedToken(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	cfg := testConfig(t, fs.srv.URL)
	cfg.Token = "wrong"
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	err := agent.Run(ctx, cfg)
	if !errors.Is(err, agent.ErrUnauthorized) {
		t.Fatalf("Run = %v, want ErrUnauthorized", err)
	}
}

func TestAgentRefusedCredential(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	cfg := testConfig(t, fs.srv.URL)
	os.WriteFile(filepath.Join(cfg.WorkDir, "credential.json"), []byte(`{"credential":"revoked"}`), 0o600)
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	if err := agent.Run(ctx, cfg); !errors.Is(err, agent.ErrUnauthorized) {
		t.Fatalf("Run = %v, want ErrUnauthorized", err)
	}
	if fs.registrations.Load() != 0 {
		t.Error("agent registered despite a saved credential")
	}
}

func TestAgentShutdownCancelsAndReportsJob(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	cfg := testConfig(t, fs.srv.URL)
	stop := startAgent(t, cfg)
	sc := fs.nextConn(t)
	sc.send(t, agentproto.JobAssignment{Type: agentproto.TypeJob, JobID: "job-3",
		Tasks: []agentproto.Task{{Name: "long", Script: "echo started\nsleep 600"}, {Name: "never", Script: "true"}}})
	rec := newJobRecord()
	for rec.contiguous() < 1 {
		m, ok := sc.next(t)
		if !ok {
			t.Fatal("connection closed")
		}
		rec.apply(t, m, true)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	for rec.result == nil {
		m, ok := sc.next(t)
		if !ok {
			t.Fatal("connection closed before the canceled job's result")
		}
		if ack := rec.apply(t, m, true); ack != nil {
			sc.send(t, ack)
		}
	}
	if rec.result.Status != agentproto.JobCanceled || rec.result.Reason != "agent shutting down" {
		t.Errorf("result %+v", rec.result)
	}
	if rec.steps[1].Status != agentproto.StepCanceled || rec.steps[2].Status != agentproto.StepSkipped {
		t.Errorf("steps %+v", rec.steps)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return")
	}
	if entries, _ := os.ReadDir(filepath.Join(cfg.WorkDir, "results")); len(entries) != 0 {
		t.Errorf("acknowledged result still on disk: %v", entries)
	}
}

// TestAgentTakesNextJobRightAfterResult offers the next job the moment the previous job's
// JobFinished arrives, as the server's dispatcher does: the agent has freed its only slot by then
// and accepts it instead of refusing it as busy (which costs the server a pause).
func TestAgentTakesNextJobRightAfterResult(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	stop := startAgent(t, testConfig(t, fs.srv.URL))
	defer stop()
	sc := fs.nextConn(t)
	for i := range 20 {
		id := fmt.Sprintf("job-%d", i)
		sc.send(t, agentproto.JobAssignment{Type: agentproto.TypeJob, JobID: id, DeploymentID: "dep",
			Tasks: []agentproto.Task{{Name: "t", Script: "true"}}})
		rec := newJobRecord()
		for rec.result == nil {
			m, ok := sc.next(t)
			if !ok {
				t.Fatal("connection closed before jobFinished")
			}
			if m.typ == agentproto.TypeJobRejected {
				t.Fatalf("job %d refused right after the previous result: %s", i, m.raw)
			}
			if ack := rec.apply(t, m, true); ack != nil {
				sc.send(t, ack)
			}
		}
	}
}

// heartbeatClock is a clock that moves only when told (Advance), and reports each timer the
// heartbeat sets (its duration), so that a test knows where the heartbeat is: waiting for its
// next check, or for a pong.
type heartbeatClock struct {
	mu     sync.Mutex
	now    time.Time
	due    map[chan time.Time]time.Time
	timers chan time.Duration
}

func newHeartbeatClock() *heartbeatClock {
	return &heartbeatClock{now: time.Now(), due: map[chan time.Time]time.Time{}, timers: make(chan time.Duration, 16)}
}

func (c *heartbeatClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *heartbeatClock) After(d time.Duration) (<-chan time.Time, func()) {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	c.due[ch] = c.now.Add(d)
	c.mu.Unlock()
	c.timers <- d
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.due, ch)
	}
}

// Advance moves the clock by d and fires the timers due.
func (c *heartbeatClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for ch, at := range c.due {
		if !at.After(c.now) {
			ch <- c.now
			delete(c.due, ch)
		}
	}
}

// nextTimer returns the duration of the next timer the heartbeat sets.
func (c *heartbeatClock) nextTimer(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.timers:
		return d
	case <-time.After(waitLimit):
		t.Fatal("the heartbeat set no timer")
		return 0
	}
}

// TestAgentPingsOnlyASilentServer: on its heartbeat's clock, the agent pings after Config.PingAfter
// of silence from the server (and again after each further PingAfter), and not while the server
// talks to it: a message or a ping from the server postpones the check to PingAfter after it.
func TestAgentPingsOnlyASilentServer(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	cfg := testConfig(t, fs.srv.URL)
	clk := newHeartbeatClock()
	cfg.HeartbeatClock = clk
	const after = 10 * time.Second
	cfg.PingAfter = after
	startAgent(t, cfg)
	sc := fs.nextConn(t)

	// A silent server: a ping at each PingAfter of silence. After the check's timer fires, the
	// heartbeat pings (a timer for the pong) and, once answered, waits PingAfter again.
	if d := clk.nextTimer(t); d != after {
		t.Fatalf("the heartbeat's first check is after %v, want %v", d, after)
	}
	for i := int32(1); i <= 3; i++ {
		clk.Advance(after)
		if d := clk.nextTimer(t); d != after {
			t.Fatalf("ping %d: the heartbeat waits %v for the pong, want %v", i, d, after)
		}
		if d := clk.nextTimer(t); d != after {
			t.Fatalf("after ping %d: the next check is after %v, want %v", i, d, after)
		}
		if n := fs.pings.Load(); n != i {
			t.Fatalf("%d pings after %d periods of server silence, want %d", n, i, i)
		}
	}

	// A talkative server. A message the agent answers (a job it cannot decode: an error frame
	// comes back) is read at 4 s; the check at 10 s finds 6 s of silence and waits 4 s more.
	clk.Advance(4 * time.Second)
	sc.send(t, map[string]any{"type": agentproto.TypeJob, "jobId": 5})
	if m, ok := sc.next(t); !ok || m.typ != agentproto.TypeError {
		t.Fatalf("the agent answered %q (open %v), want an error frame", m.typ, ok)
	}
	clk.Advance(6 * time.Second)
	if d := clk.nextTimer(t); d != 4*time.Second {
		t.Fatalf("after a message 6 s ago the heartbeat waits %v, want 4s (no ping)", d)
	}
	// A ping from the server counts as well: at 12 s, so the check at 14 s waits 8 s more.
	clk.Advance(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := sc.conn.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	if d := clk.nextTimer(t); d != 8*time.Second {
		t.Fatalf("after a server ping 2 s ago the heartbeat waits %v, want 8s (no ping)", d)
	}
	if n := fs.pings.Load(); n != 3 {
		t.Fatalf("the agent pinged a server that talks to it: %d pings, want 3", n)
	}
	// Silent again: the ping comes PingAfter after the server's ping.
	clk.Advance(8 * time.Second)
	if d := clk.nextTimer(t); d != after {
		t.Fatalf("the heartbeat waits %v for the pong, want %v", d, after)
	}
	clk.nextTimer(t)
	if n := fs.pings.Load(); n != 4 {
		t.Fatalf("%d pings after the server fell silent again, want 4", n)
	}
}

// TestAgentRedialsWithinTheServersGrace: with a reconnect backoff of 5 s to 30 s configured, an
// agent told a grace of 1 s redials a dropped connection within a fifth of it (the delay it
// announces in its log is at most 200 ms, and it does redial), not after the 2.5 s its own
// backoff would wait at least; a grace that is negative (ignored) or absurdly large (clamped, no
// overflow) leaves its own backoff in force (a delay of 2.5 s to 5 s). The delays are read from
// the agent's log, not timed.
func TestAgentRedialsWithinTheServersGrace(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		grace  int64
		capped bool
	}{
		{"one second", 1000, true},
		{"negative", -5, false},
		{"huge", 1<<63 - 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fs := newFakeServer(t)
			fs.graceMillis.Store(c.grace)
			cfg := testConfig(t, fs.srv.URL)
			cfg.ReconnectMin, cfg.ReconnectMax = 5*time.Second, 30*time.Second
			delays := make(chan time.Duration, 4)
			cfg.Logger = slog.New(delayRecorder{delays: delays, next: cfg.Logger.Handler()})
			startAgent(t, cfg)
			sc := fs.nextConn(t)
			sc.conn.CloseNow()
			var delay time.Duration
			select {
			case delay = <-delays:
			case <-time.After(waitLimit):
				t.Fatal("the agent logged no reconnect delay after its connection dropped")
			}
			if c.capped {
				if delay > 200*time.Millisecond {
					t.Fatalf("reconnect delay %s; the announced grace caps the backoff at 200ms", delay)
				}
				again := fs.nextConn(t)
				again.conn.CloseNow()
				return
			}
			if delay < 2500*time.Millisecond || delay > 5*time.Second {
				t.Fatalf("reconnect delay %s, outside the configured backoff's first step (2.5 s to 5 s)", delay)
			}
		})
	}
}

// delayRecorder passes log records on and sends the reconnectIn of each disconnect record.
type delayRecorder struct {
	delays chan time.Duration
	next   slog.Handler
}

func (h delayRecorder) Enabled(ctx context.Context, l slog.Level) bool { return true }
func (h delayRecorder) Handle(ctx context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "reconnectIn" {
			select {
			case h.delays <- a.Value.Duration():
			default:
			}
		}
		return true
	})
	return h.next.Handle(ctx, r)
}
func (h delayRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return delayRecorder{delays: h.delays, next: h.next.WithAttrs(as)}
}
func (h delayRecorder) WithGroup(g string) slog.Handler {
	return delayRecorder{delays: h.delays, next: h.next.WithGroup(g)}
}
