package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/agentproto"
	"github.com/cairnhq/cairn/internal/jobstages"
	"github.com/cairnhq/cairn/internal/netguard"
)

// runner is one running agent: the state Run shares between the connection and the jobs.
type runner struct {
	cfg   Config
	log   *slog.Logger
	spool *spool
	// servers are the server URLs (Config.Server); current indexes the one in use. Only the
	// connection loop (or registration, before it) moves it.
	servers []string
	current atomic.Int32
	exec    *executor
	sysCaps map[string]string

	// grace is the server's grace period, as the last Welcome told it (0: not told): the
	// reconnect backoff stays well below it (reconnectBounds).
	grace atomic.Int64

	mu      sync.Mutex
	running map[string]*jobRun
	closing bool
	jobs    sync.WaitGroup
}

// reconnectBounds returns the backoff between connection attempts: the configured bounds, capped
// at the server's grace divided by agentproto.ReconnectsPerGrace once a Welcome told the grace,
// so that an agent holding jobs is back well within the grace after the server is up again.
func (r *runner) reconnectBounds() (lo, hi time.Duration) {
	lo, hi = r.cfg.ReconnectMin, r.cfg.ReconnectMax
	if g := time.Duration(r.grace.Load()); g > 0 {
		hi = min(hi, max(g/agentproto.ReconnectsPerGrace, 10*time.Millisecond))
		lo = min(lo, hi)
	}
	return lo, hi
}

// Run registers the agent if it has no saved credential, connects to the server, runs the jobs it
// receives, and reconnects whenever the connection drops, until ctx ends. Then it cancels running
// jobs, tries for Config.ShutdownTimeout to deliver their results (what is not delivered stays in
// the work directory for the next start) and returns nil. It returns an error at once for an
// invalid Config, and wraps ErrUnauthorized when the server refuses the token or credential.
func Run(ctx context.Context, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return fmt.Errorf("invalid agent configuration: %w", err)
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o700); err != nil {
		return fmt.Errorf("creating work directory: %w", err)
	}
	workDir, err := filepath.Abs(cfg.WorkDir)
	if err != nil {
		return err
	}
	cfg.WorkDir = workDir
	environ := cfg.Environ
	if environ == nil {
		environ = os.Environ()
	}
	log := cfg.Logger.With("component", "agent")
	r := &runner{
		cfg: cfg, log: log, servers: cfg.servers(),
		spool:   newSpool(filepath.Join(workDir, "results"), cfg.MaxSpoolBytes),
		sysCaps: systemCapabilities(defaultLookPath),
		running: map[string]*jobRun{},
	}
	r.exec = &executor{
		workDir: filepath.Join(workDir, "jobs"), client: cfg.HTTPClient, environ: environ,
		limits:    artifactLimits{maxBytes: cfg.MaxArtifactBytes, maxEntries: 100_000},
		killGrace: cfg.KillGrace, spool: r.spool, log: log, lookPath: defaultLookPath,
		batchEvery: agentproto.LogBatchInterval,
	}
	denied := cfg.OutboundDeniedNetworks
	if denied == nil {
		denied = netguard.DefaultDenied
	}
	r.exec.guard = netguard.New(denied, cfg.OutboundAllowedNetworks)
	// No job survives an agent restart: directories left by a crash are garbage.
	if err := os.RemoveAll(r.exec.workDir); err != nil {
		log.Warn("removing old job directories", "err", err)
	}
	r.exec.dirs = newJobDirs(r.exec.workDir, log)
	r.exec.dirs.refill() // the first job's directory, made before it comes
	defer func() {
		if err := r.exec.dirs.close(); err != nil {
			log.Warn("removing the job directory made ahead", "err", err)
		}
	}()
	if err := r.spool.load(); err != nil {
		log.Warn("loading unacknowledged results", "err", err)
	}

	cred, ok, err := loadCredential(workDir)
	if err != nil {
		return err
	}
	if !ok {
		if cred, err = r.registerWithRetry(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		log.Info("registered", "agentId", cred.AgentID)
	}

	// The connection outlives ctx for the shutdown's last deliveries.
	connCtx, stopConn := context.WithCancel(context.WithoutCancel(ctx))
	defer stopConn()
	connDone := make(chan error, 1)
	go func() { connDone <- r.connectLoop(connCtx, cred) }()

	var connErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case connErr = <-connDone:
		connDone <- connErr
	}
	r.mu.Lock()
	r.closing = true
	for _, j := range r.running {
		j.cancel(errShutdown)
	}
	r.mu.Unlock()
	r.jobs.Wait()
	if connErr == nil {
		deliver, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		if !r.spool.waitEmpty(deliver) {
			log.Warn("results not delivered before shutdown; they will be sent on next start")
		}
		cancel()
	}
	stopConn()
	if err := <-connDone; err != nil {
		return err
	}
	return nil
}

// registerWithRetry registers, retrying with backoff only when no answer came back.
func (r *runner) registerWithRetry(ctx context.Context) (savedCredential, error) {
	b := backoff{min: r.cfg.ReconnectMin, max: r.cfg.ReconnectMax}
	for {
		c, err := r.register(ctx)
		var noAnswer *noAnswerError
		if err == nil || !errors.As(err, &noAnswer) || ctx.Err() != nil {
			return c, err
		}
		r.log.Warn("registration failed, retrying", "server", r.baseURL(), "err", err)
		r.nextServer()
		if !b.wait(ctx) {
			return c, ctx.Err()
		}
	}
}

// backoff is jittered exponential backoff.
type backoff struct {
	min, max, cur time.Duration
}

// next returns the next delay: uniformly random in [d/2, d] where d doubles up to max.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	return b.cur/2 + rand.N(b.cur/2+1)
}

func (b *backoff) reset() { b.cur = 0 }

// wait sleeps for the next delay; it returns false if ctx ended first.
func (b *backoff) wait(ctx context.Context) bool { return sleep(ctx, b.next()) }

// sleep waits for d; it returns false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// connectLoop keeps a connection up until ctx ends; it returns nil then, or an error the agent
// cannot recover from (unauthorized).
func (r *runner) connectLoop(ctx context.Context, cred savedCredential) error {
	var b backoff
	for {
		welcomed, err := r.session(ctx, cred)
		if errors.Is(err, ErrUnauthorized) {
			r.log.Error("server refused the agent's credential", "err", err)
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if welcomed {
			b.reset()
		}
		failed := r.baseURL()
		r.nextServer()
		b.min, b.max = r.reconnectBounds()
		delay := b.next()
		r.log.Warn("disconnected from server", "server", failed, "err", err, "reconnectIn", delay, "next", r.baseURL())
		if !sleep(ctx, delay) {
			return nil
		}
	}
}

// baseURL returns the server URL in use.
func (r *runner) baseURL() string { return r.servers[r.current.Load()] }

// nextServer moves to the next server URL, after a failure of the current one (a no-op with one).
func (r *runner) nextServer() {
	if len(r.servers) > 1 {
		r.current.Store((r.current.Load() + 1) % int32(len(r.servers)))
	}
}

// wsURL returns the websocket URL of the connect endpoint.
func (r *runner) wsURL() string {
	u := r.baseURL() + agentproto.ConnectPath
	if rest, ok := strings.CutPrefix(u, "https://"); ok {
		return "wss://" + rest
	}
	return "ws://" + strings.TrimPrefix(u, "http://")
}

// maxGraceMillis bounds the grace a Welcome may announce (a year).
const maxGraceMillis = 365 * 24 * 3600 * 1000

// handshakeTimeout bounds dialing and the hello/welcome exchange.
const handshakeTimeout = 30 * time.Second

// writeTimeout bounds one message write.
const writeTimeout = 30 * time.Second

// session runs one connection: dial, hello, welcome, then the reader, the writer and the pinger
// until one fails or ctx ends. welcomed says whether the server accepted the session.
func (r *runner) session(ctx context.Context, cred savedCredential) (welcomed bool, err error) {
	dialCtx, cancelDial := context.WithTimeout(ctx, handshakeTimeout)
	defer cancelDial()
	heard := agentproto.NewHeard(r.cfg.HeartbeatClock)
	conn, resp, err := websocket.Dial(dialCtx, r.wsURL(), &websocket.DialOptions{
		HTTPClient:     r.cfg.HTTPClient,
		HTTPHeader:     http.Header{"Authorization": {"Bearer " + cred.Credential}},
		Subprotocols:   []string{agentproto.Subprotocol},
		OnPingReceived: heard.OnPing,
		OnPongReceived: heard.OnPong,
	})
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return false, fmt.Errorf("%w: connecting: %s", ErrUnauthorized, resp.Status)
		}
		return false, fmt.Errorf("connecting: %w", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(agentproto.MaxMessageBytes)
	if conn.Subprotocol() != agentproto.Subprotocol {
		conn.Close(websocket.StatusPolicyViolation, "subprotocol "+agentproto.Subprotocol+" required")
		return false, fmt.Errorf("server did not select subprotocol %s", agentproto.Subprotocol)
	}

	running, finished := r.spool.progress()
	hello := agentproto.Hello{
		Type: agentproto.TypeHello, Name: r.cfg.Name, Version: r.cfg.Version, OS: runtime.GOOS, Arch: runtime.GOARCH,
		SystemCapabilities: r.sysCaps, UserCapabilities: r.cfg.Capabilities, MaxJobs: r.cfg.MaxJobs,
		RunningJobs: running, FinishedJobs: finished,
	}
	if hello.UserCapabilities == nil {
		hello.UserCapabilities = map[string]string{}
	}
	if err := writeJSON(dialCtx, conn, hello); err != nil {
		return false, fmt.Errorf("sending hello: %w", err)
	}
	typ, data, err := readMessage(dialCtx, conn)
	if err != nil {
		return false, closeError("waiting for welcome", err)
	}
	if typ != agentproto.TypeWelcome {
		if typ == agentproto.TypeError {
			var e agentproto.Error
			_ = json.Unmarshal(data, &e)
			if e.Code == agentproto.ErrUnauthorized {
				return false, fmt.Errorf("%w: %s", ErrUnauthorized, e.Message)
			}
			return false, fmt.Errorf("server error instead of welcome: %s: %s", e.Code, e.Message)
		}
		return false, fmt.Errorf("expected welcome, got %q", typ)
	}
	var welcome agentproto.Welcome
	if err := json.Unmarshal(data, &welcome); err != nil {
		return false, fmt.Errorf("decoding welcome: %w", err)
	}
	if welcome.GraceMillis > 0 { // at most a year: a larger value would overflow, and caps nothing
		r.grace.Store(int64(time.Duration(min(welcome.GraceMillis, maxGraceMillis)) * time.Millisecond))
	}
	r.log.Info("connected", "server", r.baseURL())
	r.spool.resend("")

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	heard.Mark()
	go func() { cancel(r.readLoop(ctx, conn, heard)) }()
	go func() { cancel(agentproto.PingWhileSilent(ctx, conn, heard, r.cfg.PingAfter)) }()
	err = r.writeLoop(ctx, conn)
	cancel(err)
	err = context.Cause(ctx)
	if errors.Is(err, context.Canceled) {
		// Run's shutdown: a clean close.
		conn.Close(websocket.StatusNormalClosure, "agent shutting down")
		return true, nil
	}
	return true, err
}

// closeError turns a read error into an error, recognizing the server's "unauthorized" close.
func closeError(doing string, err error) error {
	if websocket.CloseStatus(err) == agentproto.CloseUnauthorized {
		return fmt.Errorf("%w: %s: %w", ErrUnauthorized, doing, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// readMessage reads one message and its type.
func readMessage(ctx context.Context, conn *websocket.Conn) (agentproto.MessageType, []byte, error) {
	_, data, err := conn.Read(ctx)
	if err != nil {
		return "", nil, err
	}
	var h agentproto.Header
	if err := json.Unmarshal(data, &h); err != nil {
		return "", data, fmt.Errorf("decoding message: %w", err)
	}
	return h.Type, data, nil
}

// writeJSON writes one message.
func writeJSON(ctx context.Context, conn *websocket.Conn, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return conn.Write(ctx, websocket.MessageText, data)
}

// writeLoop sends what the spool holds, as it arrives.
func (r *runner) writeLoop(ctx context.Context, conn *websocket.Conn) error {
	for {
		for _, msg := range r.spool.next() {
			wctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := conn.Write(wctx, websocket.MessageText, msg)
			cancel()
			if err != nil {
				return fmt.Errorf("writing: %w", err)
			}
		}
		select {
		case <-r.spool.notify:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// readLoop handles the server's messages until the connection fails.
func (r *runner) readLoop(ctx context.Context, conn *websocket.Conn, heard *agentproto.Heard) error {
	for {
		typ, data, err := readMessage(ctx, conn)
		if err != nil {
			return closeError("reading", err)
		}
		heard.Mark()
		if err := r.handle(typ, data); err != nil {
			return err
		}
	}
}

// handle processes one server message. It returns an error only for an unauthorized error frame.
func (r *runner) handle(typ agentproto.MessageType, data []byte) error {
	decode := func(v any) bool {
		if err := json.Unmarshal(data, v); err != nil {
			r.log.Warn("undecodable message", "type", typ, "err", err)
			r.spool.sendOnce(agentproto.Error{Type: agentproto.TypeError, Code: agentproto.ErrBadMessage, Message: fmt.Sprintf("decoding %s: %v", typ, err)})
			return false
		}
		return true
	}
	switch typ {
	case agentproto.TypeJob:
		var m agentproto.JobAssignment
		if decode(&m) {
			id, _ := strconv.Atoi(m.JobID)
			jobstages.Stamp(id, "agent decoded")
			r.accept(m)
		}
	case agentproto.TypeCancel:
		var m agentproto.Cancel
		if decode(&m) {
			r.mu.Lock()
			if j := r.running[m.JobID]; j != nil {
				r.log.Info("job canceled by server", "job", m.JobID, "reason", m.Reason)
				j.cancel(&canceledError{reason: m.Reason})
			}
			r.mu.Unlock()
		}
	case agentproto.TypeLogAck:
		var m agentproto.LogAck
		if decode(&m) {
			r.spool.ackLogs(m.JobID, m.UptoSeq)
		}
	case agentproto.TypeResultAck:
		var m agentproto.ResultAck
		if decode(&m) {
			r.spool.ackResult(m.JobID)
		}
	case agentproto.TypeError:
		var m agentproto.Error
		if decode(&m) {
			if m.Code == agentproto.ErrUnauthorized {
				return fmt.Errorf("%w: %s", ErrUnauthorized, m.Message)
			}
			r.log.Warn("server reported an error", "code", m.Code, "message", m.Message, "job", m.JobID)
		}
	default:
		r.log.Debug("ignoring message", "type", typ)
	}
	return nil
}

// accept starts a job, or rejects it, or (for a job the agent already holds) resends its reports.
func (r *runner) accept(m agentproto.JobAssignment) {
	reject := func(code, msg string) {
		r.log.Warn("rejecting job", "job", m.JobID, "code", code, "message", msg)
		r.spool.sendOnce(agentproto.JobRejected{Type: agentproto.TypeJobRejected, JobID: m.JobID, Code: code, Message: msg})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.spool.has(m.JobID):
		r.spool.resend(m.JobID)
		return
	case r.closing:
		reject(agentproto.RejectClosing, "agent is shutting down")
		return
	case len(r.running) >= r.cfg.MaxJobs:
		reject(agentproto.RejectBusy, fmt.Sprintf("agent already runs %d jobs", len(r.running)))
		return
	}
	if err := r.exec.validateAssignment(m); err != nil {
		reject(agentproto.RejectInvalid, err.Error())
		return
	}
	r.spool.addJob(m.JobID)
	j := r.exec.newJobRun(context.Background(), m)
	r.spool.hold() // the accept goes out with the first step's start (spool.hold)
	j.holding = true
	_ = r.spool.event(m.JobID, agentproto.JobAccepted{Type: agentproto.TypeJobAccepted, JobID: m.JobID}, false)
	j.freeSlot = func() {
		r.mu.Lock()
		delete(r.running, m.JobID)
		r.mu.Unlock()
	}
	r.running[m.JobID] = j
	r.jobs.Add(1)
	if jobstages.Enabled() {
		id, _ := strconv.Atoi(m.JobID)
		jobstages.Stamp(id, "agent accepted")
	}
	r.log.Info("job accepted", "job", m.JobID, "deployment", m.DeploymentID, "tasks", len(m.Tasks))
	go func() {
		defer r.jobs.Done()
		status := j.execute() // frees the slot before reporting the result
		r.log.Info("job finished", "job", m.JobID, "status", status)
	}()
}
