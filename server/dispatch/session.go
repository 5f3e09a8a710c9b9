package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/agentproto"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/internal/jobstages"
)

// Session tuning.
const (
	// outboxSize bounds the messages waiting to be written to one agent; an agent that does not
	// read them is disconnected (it reconnects and everything is reconciled).
	outboxSize = 256
	// writeTimeout bounds one write.
	writeTimeout = 30 * time.Second
	// busyPause is how long an agent that refused a job as busy gets no offer.
	busyPause = 250 * time.Millisecond
	// seenEvery is how often the hub writes its agents' signs of life (in one statement).
	seenEvery = 5 * time.Second
)

// session is one websocket connection of an agent.
type session struct {
	hub     *Hub
	agentID int
	conn    *websocket.Conn
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelCauseFunc
	out     chan []byte

	heard        *agentproto.Heard // any frame from the agent, pings and pongs included
	pinging      atomic.Bool       // a heartbeat ping is in flight
	welcomed     atomic.Bool
	closeOnce    sync.Once
	closeStarted atomic.Bool
	closed       chan struct{} // closed when the close handshake started by close is over

	// caps are the agent's capabilities as its hello recorded them (set before welcomed).
	caps map[string]string
	// route is where the agent takes jobs from (set before welcomed, refreshed on a move;
	// guarded by mu).
	route delivery.AgentRoute

	mu      sync.Mutex
	busy    bool // the agent refused a job as busy: no more until one of its jobs ends
	closing bool // the agent is shutting down
}

// canTake reports whether the dispatcher may offer a job to this session.
func (s *session) canTake() bool {
	if !s.welcomed.Load() || s.ctx.Err() != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.busy && !s.closing
}

// send queues a message for the agent.
func (s *session) send(v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encoding a message", "err", err)
		return
	}
	s.sendRaw(raw)
}

// sendRaw queues an encoded message; a full outbox closes the connection.
func (s *session) sendRaw(raw []byte) {
	if s.ctx.Err() != nil {
		return
	}
	select {
	case s.out <- raw:
	default:
		s.log.Warn("agent does not read its messages; closing its connection")
		s.close(websocket.StatusTryAgainLater, "outgoing queue full")
	}
}

// close closes the connection with a status (once) and ends the session.
func (s *session) close(code websocket.StatusCode, reason string) {
	s.closeOnce.Do(func() {
		s.closeStarted.Store(true)
		s.cancel(fmt.Errorf("closed: %s", reason))
		go func() { // the close handshake waits for the peer: not on the caller's goroutine
			defer close(s.closed)
			_ = s.conn.Close(code, reason)
		}()
	})
}

// run serves the connection after the upgrade until it ends.
func (s *session) run(hello agentproto.Hello) {
	defer s.cancel(nil)
	if !s.hub.add(s) {
		s.close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	defer func() {
		if s.hub.remove(s) {
			s.hub.waitFlush()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(s.hub.ctx), 5*time.Second)
			defer cancel()
			if err := s.hub.e.AgentDisconnected(ctx, s.agentID); err != nil {
				s.log.Error("recording disconnect", "err", err)
			}
		}
	}()
	go s.writeLoop()
	if !s.welcome(hello) {
		return
	}
	s.hub.kick()
	s.readLoop()
}

// welcome records the hello, answers Welcome, and reconciles the agent's jobs.
func (s *session) welcome(hello agentproto.Hello) bool {
	info := delivery.HelloInfo{
		Name: hello.Name, Version: hello.Version, OS: hello.OS, Arch: hello.Arch,
		SystemCapabilities: hello.SystemCapabilities, UserCapabilities: hello.UserCapabilities,
		MaxJobs: hello.MaxJobs, Running: progress(hello.RunningJobs), Finished: progress(hello.FinishedJobs),
	}
	rec, err := s.hub.e.AgentConnected(s.ctx, s.agentID, info)
	if err != nil {
		code := wireError(err)
		if code == agentproto.ErrInternal {
			s.log.Error("recording hello", "err", err)
		}
		s.sendNow(agentproto.Error{Type: agentproto.TypeError, Code: code, Message: err.Error()})
		if code == agentproto.ErrUnauthorized {
			s.close(agentproto.CloseUnauthorized, "unauthorized")
		} else {
			s.close(websocket.StatusInternalError, "cannot record hello")
		}
		return false
	}
	s.caps = rec.Capabilities
	s.setRoute(rec.Route)
	s.send(agentproto.Welcome{Type: agentproto.TypeWelcome, AgentID: strconv.Itoa(s.agentID), ServerTime: s.hub.e.Clock().Now(),
		GraceMillis: s.hub.opts.Grace.Milliseconds()})
	s.welcomed.Store(true)
	for _, c := range rec.Cancels {
		s.send(agentproto.Cancel{Type: agentproto.TypeCancel, JobID: strconv.Itoa(c.JobID), Reason: c.Reason})
	}
	for _, id := range rec.Unknown {
		s.send(agentproto.Cancel{Type: agentproto.TypeCancel, JobID: strconv.Itoa(id), Reason: "the server does not know this job as this agent's"})
	}
	for id, seq := range rec.Acks {
		s.send(agentproto.LogAck{Type: agentproto.TypeLogAck, JobID: strconv.Itoa(id), UptoSeq: seq})
	}
	for _, id := range rec.Resend {
		s.hub.assign(s, id)
	}
	if len(rec.Lost) > 0 {
		s.log.Warn("agent no longer runs jobs it had accepted; marked lost", "jobs", rec.Lost)
	}
	return true
}

// sendNow writes a message directly (before the writer runs, or right before closing).
func (s *session) sendNow(v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.hub.ctx), writeTimeout) // as in writeLoop
	defer cancel()
	_ = s.conn.Write(ctx, websocket.MessageText, raw)
}

func progress(ps []agentproto.JobProgress) []delivery.JobProgress {
	out := make([]delivery.JobProgress, 0, len(ps))
	for _, p := range ps {
		id, err := strconv.Atoi(p.JobID)
		if err != nil {
			continue // not a job of this server
		}
		out = append(out, delivery.JobProgress{JobID: id, AckedSeq: p.AckedSeq, LastSeq: p.LastSeq})
	}
	return out
}

// writeLoop writes queued messages in order.
func (s *session) writeLoop() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case raw := <-s.out:
			// Not s.ctx: close cancels it, and coder/websocket drops a connection whose write is
			// canceled midway, before the close handshake could tell the agent why.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), writeTimeout)
			err := s.conn.Write(ctx, websocket.MessageText, raw)
			cancel()
			if err != nil {
				s.cancel(fmt.Errorf("writing: %w", err))
				s.conn.CloseNow()
				return
			}
			if jobstages.Enabled() {
				var m struct {
					Type  agentproto.MessageType `json:"type"`
					JobID string                 `json:"jobId"`
				}
				if json.Unmarshal(raw, &m) == nil && m.Type == agentproto.TypeJob {
					id, _ := strconv.Atoi(m.JobID)
					jobstages.Stamp(id, "written to the socket")
				}
			}
		}
	}
}

// ping pings a silent agent once (the heartbeat loop calls it); the pong marks heard, an
// unanswered ping ends the connection.
func (s *session) ping() {
	defer s.pinging.Store(false)
	err := agentproto.PingWithin(context.WithoutCancel(s.ctx), s.conn, s.hub.clock, s.hub.opts.PingInterval) // as in writeLoop
	if err != nil && s.ctx.Err() == nil {
		s.log.Warn("agent did not answer a ping; closing", "err", err)
		s.cancel(fmt.Errorf("ping: %w", err))
		s.conn.CloseNow()
	}
}

// readLoop handles the agent's messages in order until the connection ends. It reads with a
// context that close does not cancel (coder/websocket drops a connection whose read is
// canceled), so that the close handshake completes and the agent sees the close status.
func (s *session) readLoop() {
	for {
		_, data, err := s.conn.Read(context.WithoutCancel(s.ctx))
		if err != nil {
			if s.ctx.Err() == nil {
				logEnd(s.log, err)
			}
			return
		}
		s.heard.Mark()
		s.handle(data)
	}
}

// badMessage answers an Error frame and moves on: closing would only make the agent resend it.
func (s *session) reply(code agentproto.ErrorCode, jobID, msg string) {
	s.send(agentproto.Error{Type: agentproto.TypeError, Code: code, Message: msg, JobID: jobID})
}

// handle processes one agent message.
func (s *session) handle(data []byte) {
	if agentproto.IsLogBatch(data) { // most messages: decoded once, without reflection
		m, err := agentproto.DecodeLogBatch(data)
		if err != nil {
			s.reply(agentproto.ErrBadMessage, "", fmt.Sprintf("decoding %s: %v", agentproto.TypeLogBatch, err))
			return
		}
		s.onJob(m.JobID, func(id int) error { return s.logs(id, m) })
		return
	}
	var h agentproto.Header
	if err := json.Unmarshal(data, &h); err != nil {
		s.reply(agentproto.ErrBadMessage, "", "message is not a JSON object with a type: "+err.Error())
		return
	}
	decode := func(v any) bool {
		if err := json.Unmarshal(data, v); err != nil {
			s.reply(agentproto.ErrBadMessage, "", fmt.Sprintf("decoding %s: %v", h.Type, err))
			return false
		}
		return true
	}
	switch h.Type {
	case agentproto.TypeHello:
		s.reply(agentproto.ErrBadMessage, "", "hello is sent once, first")
	case agentproto.TypeJobAccepted:
		var m agentproto.JobAccepted
		if decode(&m) {
			s.onJob(m.JobID, func(id int) error { return s.hub.e.AcceptJob(s.ctx, id, s.agentID) })
		}
	case agentproto.TypeJobRejected:
		var m agentproto.JobRejected
		if decode(&m) {
			s.onJob(m.JobID, func(id int) error { return s.rejected(id, m) })
		}
	case agentproto.TypeStepStarted:
		var m agentproto.StepStarted
		if decode(&m) {
			s.onJob(m.JobID, func(id int) error {
				return s.hub.e.StepStarted(s.ctx, id, s.agentID, m.Step, m.Name, m.StartedAt)
			})
		}
	case agentproto.TypeStepFinished:
		var m agentproto.StepFinished
		if decode(&m) {
			s.onJob(m.JobID, func(id int) error {
				return s.hub.e.StepFinished(s.ctx, id, s.agentID, stepReport(m))
			})
		}
	case agentproto.TypeStepProgress:
		var m agentproto.StepProgress
		if decode(&m) {
			s.onJob(m.JobID, func(id int) error {
				return s.hub.e.StepProgress(s.ctx, id, s.agentID, m.Step, m.Percent, m.Text)
			})
		}
	case agentproto.TypeAttachment:
		var m agentproto.Attachment
		if decode(&m) {
			s.onJob(m.JobID, func(id int) error {
				return s.hub.e.AddAttachment(s.ctx, id, s.agentID, m.Step, m.Name, m.Data)
			})
		}
	case agentproto.TypeLogBatch:
		var m agentproto.LogBatch
		if decode(&m) {
			s.onJob(m.JobID, func(id int) error { return s.logs(id, m) })
		}
	case agentproto.TypeJobFinished:
		var m agentproto.JobFinished
		if decode(&m) {
			s.onJob(m.JobID, func(id int) error { return s.finished(id, m) })
		}
	case agentproto.TypeError:
		var m agentproto.Error
		if decode(&m) {
			s.log.Warn("agent reported an error", "code", m.Code, "message", m.Message, "job", m.JobID)
		}
	default:
		s.log.Debug("ignoring message of unknown type", "type", h.Type)
	}
}

// stepReport maps a StepFinished to the engine's report, with what the task said through
// logging commands.
func stepReport(m agentproto.StepFinished) delivery.StepReport {
	r := delivery.StepReport{
		Step: m.Step, Name: m.Name, Status: m.Status, ExitCode: m.ExitCode,
		StartedAt: m.StartedAt, FinishedAt: m.FinishedAt, Reason: m.Reason,
		ErrorCount: m.ErrorCount, WarningCount: m.WarningCount, SucceededWithIssues: m.SucceededWithIssues,
		Progress: m.Progress,
	}
	for _, is := range m.Issues {
		r.Issues = append(r.Issues, delivery.StepIssue{Type: is.Type, Message: is.Message, SourcePath: is.SourcePath, LineNumber: is.LineNumber})
	}
	for _, v := range m.OutputVariables {
		r.OutputVariables = append(r.OutputVariables, delivery.OutputVariable{Name: v.Name, Value: v.Value, Secret: v.Secret})
	}
	return r
}

// onJob parses the job id and runs fn, answering an Error frame when it fails.
func (s *session) onJob(raw string, fn func(id int) error) {
	id, err := strconv.Atoi(raw)
	if err != nil || id <= 0 {
		s.reply(agentproto.ErrUnknownJob, raw, fmt.Sprintf("job id %q is not a job of this server", raw))
		return
	}
	if err := fn(id); err != nil {
		if s.ctx.Err() != nil {
			return
		}
		code := wireError(err)
		msg := err.Error()
		if delivery.ServerFault(err) {
			s.retryLater(raw, id, err)
			return
		}
		if code == agentproto.ErrInternal {
			s.log.Error("handling an agent message", "job", id, "err", err)
			msg = "internal error; retry later"
		} else {
			s.log.Warn("refused an agent message", "job", id, "code", code, "err", err)
		}
		s.reply(code, raw, msg)
	}
}

// retryLater handles a message the server failed to process for a reason of its own (the
// database restarting or unreachable, a full disk, a lock timeout, a bug): the agent is told
// why, then the connection is closed with StatusTryAgainLater. The agent reconnects with backoff
// and resends everything not acknowledged (lines after the last LogAck, step reports, results);
// the engine deduplicates all of it. Answering an Error and reading on would leave the message
// unstored for good: the agent never resends on the same connection, and a result that follows
// unstored lines is refused, so the job would wait for a reconnect that nothing causes. Every
// message after the failed one is dropped (the session's context is canceled first), so that no
// later line or result is stored past the hole.
func (s *session) retryLater(raw string, jobID int, err error) {
	msg := "internal error; reconnect and resend"
	if u := delivery.Unavailable(err); u != nil {
		msg = u.Message + "; reconnect and resend"
		s.log.Warn("could not store an agent message; closing the connection so that the agent resends", "job", jobID, "err", err)
	} else {
		s.log.Error("handling an agent message; closing the connection so that the agent resends", "job", jobID, "err", err)
	}
	s.cancel(errors.New("retry later: " + msg)) // before anything else is handled
	s.sendNow(agentproto.Error{Type: agentproto.TypeError, Code: agentproto.ErrInternal, Message: msg, JobID: raw})
	s.close(websocket.StatusTryAgainLater, "could not store a message; reconnect and resend")
}

// logs stores a batch and acknowledges what is stored.
func (s *session) logs(jobID int, m agentproto.LogBatch) error {
	lines := make([]delivery.LogLine, len(m.Lines))
	for i, l := range m.Lines {
		lines[i] = delivery.LogLine{Seq: l.Seq, Step: l.Step, Time: l.Time, Text: l.Text, Kind: l.Kind}
	}
	acked, err := s.hub.e.AppendLogs(s.ctx, jobID, s.agentID, lines)
	if err != nil {
		return err
	}
	n := 0
	for _, l := range m.Lines {
		if l.Seq <= acked {
			n++
		}
	}
	s.hub.opts.Observer.LogLinesReceived(n)
	s.send(agentproto.LogAck{Type: agentproto.TypeLogAck, JobID: m.JobID, UptoSeq: acked})
	return nil
}

// finished records a job's result once its whole log is stored, and acknowledges it. A result for
// a job the server already finalized (canceled, lost, timed out) is acknowledged too: the agent
// must forget the job; the server's result stands.
func (s *session) finished(jobID int, m agentproto.JobFinished) error {
	j, err := s.hub.e.AgentJob(s.ctx, jobID, s.agentID)
	if err != nil {
		return err
	}
	if stored := j.LogSeq - j.LogBase; stored < m.LastSeq {
		return delivery.Invalid("lastSeq", "lines %d..%d of job %d are not stored yet; resend them before the result", stored+1, m.LastSeq, jobID)
	}
	if err := s.hub.e.FinishJob(s.ctx, jobID, delivery.JobResult{Status: m.Status, Reason: m.Reason}); err != nil {
		if delivery.CodeOf(err) != delivery.CodeConflict {
			return err
		}
		s.log.Info("agent reported a result for a job already final; the server's result stands",
			"job", jobID, "status", m.Status, "stored", j.Status)
	}
	s.send(agentproto.ResultAck{Type: agentproto.TypeResultAck, JobID: m.JobID})
	s.mu.Lock()
	s.busy = false
	s.mu.Unlock()
	s.hub.kick()
	return nil
}

// rejected handles a JobRejected: busy or closing re-queues the job (nothing ran), invalid fails it.
func (s *session) rejected(jobID int, m agentproto.JobRejected) error {
	if _, err := s.hub.e.AgentJob(s.ctx, jobID, s.agentID); err != nil {
		return err
	}
	switch m.Code {
	case agentproto.RejectBusy, agentproto.RejectClosing:
		s.mu.Lock()
		if m.Code == agentproto.RejectBusy {
			// The agent reports a result a moment before it frees the slot: offer it jobs again
			// after a short pause, or as soon as one of its jobs ends.
			s.busy = true
			s.hub.after(busyPause, func() {
				s.mu.Lock()
				s.busy = false
				s.mu.Unlock()
				s.hub.kick()
			})
		} else {
			s.closing = true
		}
		s.mu.Unlock()
		if err := s.hub.e.RequeueJob(s.ctx, jobID, s.agentID, "agent declined the job: "+m.Code); err != nil {
			return err
		}
		s.hub.kick()
		return nil
	default:
		reason := "the agent cannot run the job: " + m.Message
		err := s.hub.e.FinishJob(s.ctx, jobID, delivery.JobResult{Status: delivery.JobResultFailed, Reason: reason})
		if delivery.CodeOf(err) == delivery.CodeConflict {
			return nil
		}
		return err
	}
}

// wireError maps an engine error to the protocol's error code: the one place that does.
func wireError(err error) agentproto.ErrorCode {
	switch delivery.CodeOf(err) {
	case delivery.CodeNotFound:
		return agentproto.ErrUnknownJob
	case delivery.CodeInvalidInput:
		return agentproto.ErrBadMessage
	case delivery.CodeConflict:
		return agentproto.ErrConflict
	case delivery.CodeUnauthenticated, delivery.CodeForbidden:
		return agentproto.ErrUnauthorized
	}
	return agentproto.ErrInternal
}

// logEnd logs how an agent's connection ended: a close frame or the end of the stream (an
// agent stopping, a dev agent stopped with the server) is the normal way and logs no error.
func logEnd(log *slog.Logger, err error) {
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway:
		log.Info("agent disconnected")
		return
	}
	if errors.Is(err, io.EOF) {
		log.Info("agent disconnected")
		return
	}
	log.Warn("agent connection lost", "err", err)
}

func (s *session) setRoute(r delivery.AgentRoute) {
	s.mu.Lock()
	s.route = r
	s.mu.Unlock()
}

func (s *session) getRoute() delivery.AgentRoute {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.route
}
