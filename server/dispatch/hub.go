package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/agentproto"
	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/internal/jobstages"
)

// Options configure a Hub. Zero values get the defaults noted.
type Options struct {
	Engine *delivery.Engine
	// Keys verify agent credentials and sign new ones.
	Keys *auth.Keys
	// Events is the bus the engine publishes to.
	Events delivery.Subscriber
	Logger *slog.Logger
	// Grace is how long a silent agent keeps its jobs (default 2 minutes).
	Grace time.Duration
	// SweepInterval is how often silent agents and job timeouts are checked (default Grace/4;
	// negative disables the sweeper, for tests that drive it by hand).
	SweepInterval time.Duration
	// PingInterval paces the heartbeat (default agentproto.PingInterval, or Grace/4 if shorter):
	// every PingInterval the server pings the agents it has not heard from for half of it, and
	// closes a connection whose ping is not answered within PingInterval.
	PingInterval time.Duration
	// HelloTimeout bounds the wait for an agent's hello (default 30 s).
	HelloTimeout time.Duration
	// CredentialTTL is the lifetime of agent credentials (default 10 years: agents have no
	// refresh flow; revoke by deleting the agent).
	CredentialTTL time.Duration
	// Observer is told of assignments and log lines (metrics); nil tells no one.
	Observer Observer
	// Clock paces the hub's liveness work: the heartbeat, the flush of signs of life, the sweeper,
	// the retry of a failed claim round and the pauses between waiting-reason refreshes and after
	// a busy agent's refusal, and measures agents' silence. Nil means agentproto.SystemClock
	// (monotonic); tests pass a manual clock (delivery.ManualClock) and move it. The times the
	// engine stores (grace, signs of life, welcome) are the engine's clock's.
	Clock agentproto.Clock
}

// Hub tracks the connected agents and pushes jobs to them.
type Hub struct {
	opts   Options
	e      *delivery.Engine
	clock  agentproto.Clock
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	kickc  chan struct{}
	// queue mirrors the claimable jobs for the dispatcher's rounds (delivery.ClaimQueue): fed by
	// job events, read whole again after a lagging subscription and every resyncEvery.
	queue *delivery.ClaimQueue
	// waitc asks the waiting-reasons loop for an update; requests coalesce.
	waitc chan struct{}
	// waitIDs are the jobs whose events arrived since the waiting reasons' last refresh, and
	// waitAll asks it to explain every queued job (after a gap in the events).
	waitMu  sync.Mutex
	waitIDs map[int]bool
	waitAll bool
	wg      sync.WaitGroup // background loops
	conns   sync.WaitGroup // sessions

	mu       sync.Mutex
	sessions map[int]*session
	closed   bool
	started  bool
	// upSince is when Start ran (engine clock): the grace of agents last heard from before it
	// counts from then, not from their last sign of life (see Sweep).
	upSince time.Time

	// flushMu is held across a whole flushSeen, so that a session that ends waits for a flush in
	// flight before it records the disconnect; lastFlush (guarded by it) is when the last flush
	// collected its sessions.
	flushMu   sync.Mutex
	lastFlush time.Time
}

// NewHub returns a hub; Start runs its loops.
func NewHub(opts Options) *Hub {
	if opts.Grace <= 0 {
		opts.Grace = 2 * time.Minute
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = opts.Grace / 4
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = min(agentproto.PingInterval, max(opts.Grace/4, 10*time.Millisecond))
	}
	if opts.HelloTimeout <= 0 {
		opts.HelloTimeout = 30 * time.Second
	}
	if opts.CredentialTTL <= 0 {
		opts.CredentialTTL = 10 * 365 * 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	if opts.Clock == nil {
		opts.Clock = agentproto.SystemClock{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{
		opts: opts, e: opts.Engine, clock: opts.Clock, log: opts.Logger.With("component", "dispatch"),
		ctx: ctx, cancel: cancel, kickc: make(chan struct{}, 1), queue: delivery.NewClaimQueue(), waitc: make(chan struct{}, 1), sessions: map[int]*session{},
	}
}

// Start runs the event loop, the dispatcher, the waiting-reasons loop, the heartbeat and the
// sweeper until Close.
func (h *Hub) Start() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started || h.closed {
		return
	}
	h.started = true
	h.upSince = h.e.Clock().Now()
	h.wg.Add(6)
	go func() { defer h.wg.Done(); h.eventLoop() }()
	go func() { defer h.wg.Done(); h.every(resyncEvery, h.resync) }()
	go func() { defer h.wg.Done(); h.dispatchLoop() }()
	go func() { defer h.wg.Done(); h.waitingLoop() }()
	go func() { defer h.wg.Done(); h.seenLoop() }()
	go func() { defer h.wg.Done(); h.heartbeatLoop() }()
	if h.opts.SweepInterval > 0 {
		h.wg.Add(1)
		go func() { defer h.wg.Done(); h.sweepLoop() }()
	}
	h.kick()
}

// Close stops the loops and closes every agent connection with StatusGoingAway (agents
// reconnect to another replica or after the restart); http.Server.Shutdown does not close
// hijacked connections, so the server must call it.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	sessions := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		sessions = append(sessions, s)
	}
	h.mu.Unlock()
	h.cancel()
	for _, s := range sessions {
		s.close(websocket.StatusGoingAway, "server shutting down")
	}
	h.wg.Wait()
	h.conns.Wait()
}

// kick asks the dispatcher for a round; kicks coalesce.
func (h *Hub) kick() {
	select {
	case h.kickc <- struct{}{}:
	default:
	}
}

// session returns the current session of an agent.
func (h *Hub) session(agentID int) *session {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessions[agentID]
}

// add makes s the agent's current session, closing the older one with CloseReplaced. It fails
// when the hub is closed.
func (h *Hub) add(s *session) bool {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return false
	}
	old := h.sessions[s.agentID]
	h.sessions[s.agentID] = s
	h.mu.Unlock()
	if old != nil {
		h.log.Warn("agent connected again; closing its older connection (two processes sharing a credential?)",
			"agent", s.agentID)
		old.close(agentproto.CloseReplaced, "replaced by a newer connection of this agent")
	}
	return true
}

// waitFlush waits for a flush in flight, so that a session that ended records its disconnect
// after any flush that may have collected it (a flush collects only current sessions).
func (h *Hub) waitFlush() {
	h.flushMu.Lock()
	defer h.flushMu.Unlock()
}

// seenEveryFor is how often signs of life are written: every seenEvery, and at least four
// times per grace period.
func (h *Hub) seenEveryFor() time.Duration {
	return max(min(seenEvery, h.opts.Grace/4), 10*time.Millisecond)
}

// seenLoop writes the agents' signs of life periodically, in one statement.
func (h *Hub) seenLoop() { h.every(h.seenEveryFor(), func() { h.flushSeen(h.ctx) }) }

// every runs fn every d of the hub's clock (d after the previous run ended) until the hub closes.
func (h *Hub) every(d time.Duration, fn func()) {
	for h.pause(d) {
		fn()
	}
}

// pause waits d of the hub's clock; it reports false when the hub closed meanwhile.
func (h *Hub) pause(d time.Duration) bool {
	due, stop := h.clock.After(d)
	defer stop()
	select {
	case <-h.ctx.Done():
		return false
	case <-due:
		return true
	}
}

// after runs fn once d of the hub's clock has passed, unless the hub closes first (then the
// goroutine ends at once).
func (h *Hub) after(d time.Duration, fn func()) {
	go func() {
		if h.pause(d) {
			fn()
		}
	}()
}

// flushSeen records as seen, in one statement, the agents of every current session heard from
// since the previous flush.
func (h *Hub) flushSeen(ctx context.Context) {
	h.flushMu.Lock()
	defer h.flushMu.Unlock()
	now := h.clock.Now()
	since := now.Sub(h.lastFlush)
	h.lastFlush = now
	var ids []int
	for _, s := range h.snapshot() {
		if s.heard.Silent() <= since { // heard at the previous flush's instant: it may have missed it
			ids = append(ids, s.agentID)
		}
	}
	if len(ids) == 0 {
		return
	}
	if err := h.e.AgentsSeen(ctx, ids); err != nil && ctx.Err() == nil {
		h.log.Error("recording agents as seen", "agents", len(ids), "err", err)
	}
}

// heartbeatLoop pings, every PingInterval and all at once, the agents not heard from for half an
// interval. One loop and one timer serve every connection, and the burst matters: pings spread
// over the interval (one timer per connection, or agents pinging on their own schedule) each wake
// an idle server, which costs several times the CPU of the same pings sent together.
func (h *Hub) heartbeatLoop() { h.every(h.opts.PingInterval, func() { h.heartbeat() }) }

// heartbeat pings the welcomed agents not heard from for half a ping interval (and not being
// pinged already); it returns the ids of those it pinged.
func (h *Hub) heartbeat() (pinged []int) {
	for _, s := range h.snapshot() {
		if s.welcomed.Load() && s.heard.Silent() >= h.opts.PingInterval/2 && s.pinging.CompareAndSwap(false, true) {
			pinged = append(pinged, s.agentID)
			go s.ping()
		}
	}
	return pinged
}

// remove forgets s; it reports whether s was the agent's current session.
func (h *Hub) remove(s *session) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sessions[s.agentID] != s {
		return false
	}
	delete(h.sessions, s.agentID)
	return true
}

// eventLoop wakes the dispatcher and forwards cancels, from the bus.
func (h *Hub) eventLoop() {
	for h.ctx.Err() == nil {
		events, unsubscribe := h.opts.Events.Subscribe()
		// Whatever happened while not subscribed: a round over the whole queue and the
		// pending cancels, and every waiting reason again.
		h.queue.Resync()
		h.waitMu.Lock()
		h.waitAll = true
		h.waitMu.Unlock()
		h.kick()
		h.resendCancels()
		h.consume(events)
		unsubscribe()
	}
}

func (h *Hub) consume(events <-chan delivery.Event) {
	for {
		select {
		case <-h.ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return // lagged or bus closed: resubscribe and resync
			}
			// Its waiting reason may have changed. Every replica receives every event, and one
			// explanation serves them all (it is stored): the replica that published the event
			// explains its job; the periodic refresh of every queued job covers a replica that
			// stopped before it did.
			if ev.JobID != 0 && !ev.Remote {
				h.waitMu.Lock()
				if h.waitIDs == nil {
					h.waitIDs = map[int]bool{}
				}
				h.waitIDs[ev.JobID] = true
				h.waitMu.Unlock()
			}
			switch ev.Type {
			case delivery.EventJobQueued, delivery.EventJobClaimable: // claimable: PostgreSQL, before the seal
				jobstages.Stamp(ev.JobID, "event received")
				if ev.JobID != 0 {
					h.queue.Changed(ev.JobID)
				} else {
					h.queue.Resync()
				}
				h.kick()
			case delivery.EventJobFinished, delivery.EventJobLost:
				h.queue.Forget(ev.JobID)
				h.kick()
			case delivery.EventAgentChanged:
				if ev.Status == "DELETED" {
					h.queue.Resync() // its assigned jobs went back to the queue, without job events
					if s := h.session(ev.AgentID); s != nil {
						s.close(agentproto.CloseUnauthorized, "agent deleted")
					}
				}
				if ev.Status == "MOVED" {
					if s := h.session(ev.AgentID); s != nil {
						if r, err := h.e.AgentRoute(h.ctx, ev.AgentID); err == nil {
							s.setRoute(r)
						} else if h.ctx.Err() == nil {
							h.log.Error("reading the route of a moved agent", "agent", ev.AgentID, "err", err)
						}
					}
				}
				h.kick()
			case delivery.EventJobCancelRequested:
				h.forwardCancel(ev)
			}
		}
	}
}

// forwardCancel sends a cancel to the agent running the job, if it is connected here.
func (h *Hub) forwardCancel(ev delivery.Event) {
	agentID := ev.AgentID
	if agentID == 0 {
		j, err := h.e.Client().Job.Get(h.ctx, ev.JobID)
		if err != nil || j.AgentID == nil {
			return
		}
		agentID = *j.AgentID
	}
	s := h.session(agentID)
	if s == nil {
		return // sent at its next hello
	}
	reason, _ := ev.Data["reason"].(string)
	if reason == "" {
		reason = "deployment canceled"
	}
	s.send(agentproto.Cancel{Type: agentproto.TypeCancel, JobID: strconv.Itoa(ev.JobID), Reason: reason})
}

// snapshot returns the connected sessions, so that work on them runs without
// holding the hub's lock.
func (h *Hub) snapshot() []*session {
	h.mu.Lock()
	defer h.mu.Unlock()
	sessions := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		sessions = append(sessions, s)
	}
	return sessions
}

// resendCancels sends the cancels a lagging subscription may have missed.
func (h *Hub) resendCancels() {
	sessions := h.snapshot()
	for _, s := range sessions {
		if !s.welcomed.Load() {
			continue
		}
		ids, err := h.e.ActiveJobIDs(h.ctx, s.agentID)
		if err != nil {
			h.log.Error("reading jobs to cancel", "agent", s.agentID, "err", err)
			continue
		}
		for _, id := range ids {
			j, err := h.e.Client().Job.Get(h.ctx, id)
			if err == nil && j.CancelRequested {
				s.send(agentproto.Cancel{Type: agentproto.TypeCancel, JobID: strconv.Itoa(id), Reason: "deployment canceled"})
			}
		}
	}
}

// Retries of a failed claim round: the first after roundRetryMin, doubling up to roundRetryMax.
const (
	roundRetryMin = 100 * time.Millisecond
	roundRetryMax = 5 * time.Second
)

// dispatchLoop runs a dispatch round per kick. A round that failed (the database restarting,
// say) is run again after a backoff, so that jobs queued meanwhile do not wait for the next
// event to be offered.
func (h *Hub) dispatchLoop() {
	var retry time.Duration
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.kickc:
		}
		if h.dispatchRound() {
			retry = 0
			continue
		}
		retry = min(max(retry*2, roundRetryMin), roundRetryMax)
		h.after(retry, h.kick)
	}
}

// dispatchRound offers queued jobs to the connected agents with a free slot (one claim round in
// the engine, whatever the number of agents), then asks waitingLoop to record why the others
// wait. It reports false when the claims failed.
func (h *Hub) dispatchRound() (ok bool) {
	ok = true
	began := time.Now()
	sessions := h.snapshot()
	free := make([]delivery.AgentOffer, 0, len(sessions))
	for _, s := range sessions {
		if s.canTake() { // welcomed: caps are set
			free = append(free, delivery.AgentOffer{AgentID: s.agentID, Capabilities: s.caps, Route: s.getRoute()})
		}
	}
	if len(free) > 0 {
		// The assignments are built beside the claims (ClaimQueuedPrepared), not after them.
		claimed, err := h.e.ClaimQueuedPrepared(h.ctx, h.queue, free)
		if err != nil && h.ctx.Err() == nil {
			h.log.Error("claiming jobs", "agents", len(free), "err", err)
			ok = false
		}
		for _, c := range claimed { // claimed before any error: they are this round's to deliver
			j := c.Job
			jobstages.At(j.ID, "round began", began)
			if j.AssignedAt != nil {
				h.opts.Observer.JobAssigned(j.AssignedAt.Sub(j.QueuedAt))
			}
			if s := h.session(*j.AgentID); s != nil {
				h.deliver(s, j.ID, c.Assignment, c.AssignmentErr)
			}
			// A session gone since the snapshot: the job stays ASSIGNED to its agent, which
			// reconciles it when it reconnects (or it is LOST after the grace period).
		}
	}
	select { // the jobs left in the queue may wait for another reason now
	case h.waitc <- struct{}{}:
	default:
	}
	return ok
}

// resync makes the next round read the whole queue, and runs one.
func (h *Hub) resync() {
	h.queue.Resync()
	h.kick()
}

// resyncEvery is how often the dispatcher's mirror of the queue is read whole again: a net under
// the job events that feed it (a job queued by a path that published no event with its id waits
// at most this long).
const resyncEvery = 30 * time.Second

// waitingEvery is the shortest time between two refreshes of the waiting reasons.
const waitingEvery = 250 * time.Millisecond

// waitingLoop refreshes the waiting reasons of the queued jobs after dispatch rounds, off the
// dispatcher's path and at most every waitingEvery: an explanation reads every enabled agent,
// which a busy installation should not pay on every round. The first request after a quiet
// moment is served at once; those arriving meanwhile coalesce into one more refresh. It explains
// the jobs whose events arrived since, or every queued job when the agents changed
// (delivery.Engine.RefreshWaitingReasons) or events were missed.
func (h *Hub) waitingLoop() {
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.waitc:
		}
		h.waitMu.Lock()
		ids, all := make([]int, 0, len(h.waitIDs)), h.waitAll
		for id := range h.waitIDs {
			ids = append(ids, id)
		}
		h.waitIDs, h.waitAll = nil, false
		h.waitMu.Unlock()
		var err error
		if all {
			err = h.e.UpdateWaitingReasons(h.ctx)
		} else {
			// Only the jobs of the events since, unless the agents changed (the engine compares).
			err = h.e.RefreshWaitingReasons(h.ctx, ids)
		}
		if err != nil && h.ctx.Err() == nil {
			h.log.Error("updating waiting reasons", "err", err)
			h.waitMu.Lock() // try them again next time
			h.waitAll = h.waitAll || all
			if h.waitIDs == nil {
				h.waitIDs = map[int]bool{}
			}
			for _, id := range ids {
				h.waitIDs[id] = true
			}
			h.waitMu.Unlock()
		}
		if !h.pause(waitingEvery) {
			return
		}
	}
}

// assign sends a claimed (or still unaccepted) job to the session's agent. A job that cannot be
// prepared fails; one that cannot be prepared now (database trouble) goes back to the queue.
func (h *Hub) assign(s *session, jobID int) {
	data, err := h.e.BuildAssignment(h.ctx, jobID)
	jobstages.Stamp(jobID, "assignment built")
	h.deliver(s, jobID, data, err)
}

// deliver sends a job's assignment, built (data) or not (err, from BuildAssignment), as assign
// does.
func (h *Hub) deliver(s *session, jobID int, data delivery.AssignmentData, err error) {
	if err == nil {
		msg := toWire(data)
		var raw []byte
		if raw, err = json.Marshal(msg); err == nil {
			if len(raw) > agentproto.MaxMessageBytes {
				h.failJob(jobID, fmt.Sprintf("the job's assignment is %d bytes, above the agent protocol's limit of %d bytes (too many or too large variables or tasks)", len(raw), agentproto.MaxMessageBytes))
				return
			}
			s.sendRaw(raw)
			jobstages.Stamp(jobID, "queued for the writer")
			h.log.Info("job assigned", "job", jobID, "agent", s.agentID)
			return
		}
	}
	if h.ctx.Err() != nil {
		return
	}
	if delivery.ServerFault(err) {
		h.log.Error("preparing a job assignment; re-queueing it", "job", jobID, "err", err)
		if err := h.e.RequeueJob(h.ctx, jobID, s.agentID, "re-queued after an internal error while preparing it"); err != nil {
			// The job stays ASSIGNED to an agent that never got it: the reconnect's hello
			// reconciles it (sent again, or queued), so make the agent reconnect.
			h.log.Error("re-queueing a job; closing the agent's connection so that its hello reconciles it", "job", jobID, "err", err)
			s.close(websocket.StatusTryAgainLater, "could not send a job; reconnect")
		}
		return
	}
	h.failJob(jobID, "cannot prepare the job: "+err.Error())
}

func (h *Hub) failJob(jobID int, reason string) {
	if err := h.e.FinishJob(h.ctx, jobID, delivery.JobResult{Status: delivery.JobResultFailed, Reason: reason}); err != nil {
		h.log.Error("failing a job that cannot run", "job", jobID, "err", err)
	}
}

// sweepLoop marks silent agents' jobs lost and enforces job timeouts.
func (h *Hub) sweepLoop() { h.every(h.opts.SweepInterval, func() { h.Sweep(h.ctx) }) }

// Sweep runs one pass of the sweeper: silent agents and job timeouts. An agent is silent after
// Grace without a sign of life, counted from the hub's start for agents last heard from before
// it (a server that was down heard nobody: its downtime does not count against them), and
// allowing for the signs of life not written yet (they are flushed in batches).
func (h *Hub) Sweep(ctx context.Context) {
	h.mu.Lock()
	since := h.upSince
	h.mu.Unlock()
	check := delivery.SilenceCheck{Grace: h.opts.Grace, Lag: h.seenEveryFor(), Since: since}
	if n, err := h.e.MarkSilentAgentsLost(ctx, check); err != nil {
		if ctx.Err() == nil { // else shutting down; the next start's sweep finishes what this one began
			h.log.Error("marking silent agents lost", "err", err)
		}
	} else if n > 0 {
		h.log.Warn("jobs of silent agents marked lost", "jobs", n)
	}
	if _, err := h.e.EnforceJobTimeouts(ctx); err != nil && ctx.Err() == nil {
		h.log.Error("enforcing job timeouts", "err", err)
	}
}

// toWire maps the engine's assignment to the wire message.
func toWire(d delivery.AssignmentData) agentproto.JobAssignment {
	m := agentproto.JobAssignment{
		Type: agentproto.TypeJob, JobID: strconv.Itoa(d.JobID), DeploymentID: strconv.Itoa(d.DeploymentID),
		ReleaseVariables: d.ReleaseVariables, TimeoutSeconds: d.TimeoutSeconds,
		SkipArtifactDownload: d.SkipArtifactDownload,
		Variables:            []agentproto.Variable{}, Tasks: []agentproto.Task{}, Artifacts: []agentproto.Artifact{},
	}
	for _, v := range d.Variables {
		m.Variables = append(m.Variables, agentproto.Variable{Name: v.Name, EnvName: v.EnvName, Value: v.Value, Secret: v.Secret})
	}
	for _, t := range d.Tasks {
		m.Tasks = append(m.Tasks, agentproto.Task{Name: t.Name, Shell: t.Shell, Script: t.Script,
			WorkingDirectory: t.WorkingDirectory, Env: t.Env, TimeoutSeconds: t.TimeoutSeconds, ContinueOnError: t.ContinueOnError,
			Condition: t.Condition, Inputs: t.Inputs, SecretInputs: t.SecretInputs, Runner: t.Runner})
		if t.HasCredentials {
			w := &m.Tasks[len(m.Tasks)-1]
			w.Credentials = &agentproto.Credentials{Username: t.Username, Password: t.Password}
			w.Origin = t.Origin
		}
		if ep := t.Endpoint; ep != nil {
			m.Tasks[len(m.Tasks)-1].Endpoint = &agentproto.Endpoint{
				Input: ep.Input, Name: ep.Name, Kind: ep.Kind, URL: ep.URL, Registry: ep.Registry,
				Host: ep.Host, Port: ep.Port, HostKey: ep.HostKey, TrustOnFirstUse: ep.TrustOnFirstUse,
				Username: ep.Username, Password: ep.Password, PrivateKey: ep.PrivateKey,
				Kubeconfig: ep.Kubeconfig, KubeContext: ep.KubeContext, Namespace: ep.Namespace, Secrets: ep.Secrets,
			}
		}
	}
	for _, a := range d.Artifacts {
		w := agentproto.Artifact{Alias: a.Alias, PathVariable: a.PathVariable, Type: agentproto.ArtifactType(a.Type), BuildNumber: a.BuildNumber}
		switch w.Type {
		case agentproto.ArtifactJenkins:
			w.Jenkins = &agentproto.JenkinsDownload{BuildURL: a.BuildURL, RelativePaths: a.RelativePaths, WholeArchive: a.WholeArchive}
		case agentproto.ArtifactTeamBuild:
			w.TeamBuild = &agentproto.TeamBuildDownload{DownloadURL: a.DownloadURL}
		}
		if a.HasCredentials {
			w.Credentials = &agentproto.Credentials{Username: a.Username, Password: a.Password}
			w.Origin = a.Origin
		}
		m.Artifacts = append(m.Artifacts, w)
	}
	for _, f := range d.SecureFiles {
		m.SecureFiles = append(m.SecureFiles, agentproto.SecureFile{Name: f.Name, PathVariable: f.PathVariable, Content: f.Content})
	}
	return m
}
