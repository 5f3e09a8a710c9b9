package delivery

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/event"
	"github.com/cairnhq/cairn/ent/hookdelivery"
	"github.com/cairnhq/cairn/ent/outgoinghook"
	"github.com/cairnhq/cairn/ent/streamcursor"
)

// Event streams for dashboards and bots (GraphQL subscriptions): the stored
// events after a sequence number, then the live ones, filtered by type, by
// definition and environment, and by what the subscriber may read.

// The event types of each stream.
var (
	// ReleaseEventTypes: what happens to releases, their environments,
	// deployments, approvals, manual interventions and jobs.
	ReleaseEventTypes = []string{
		EventReleaseCreated, EventReleaseAbandoned, EventEnvironmentStatusChanged,
		EventDeploymentStarted, EventDeploymentFinished, EventApprovalPending, EventApprovalDecided,
		EventApprovalTimedOut, EventApprovalReassigned, EventJobLost, EventGateSampleFailed,
		EventFreezeStarted, EventFreezeEnded, EventInterventionPending, EventInterventionDecided,
		EventStepProgress,
	}
	// ApprovalEventTypes: approvals created (pending), decided (approved,
	// rejected, canceled, skipped), timed out and reassigned.
	ApprovalEventTypes = []string{
		EventApprovalPending, EventApprovalDecided, EventApprovalTimedOut, EventApprovalReassigned,
	}
	// AgentEventTypes: agents registered, online, offline, enabled,
	// disabled, deleted (Status says which).
	AgentEventTypes = []string{EventAgentChanged}
)

// FromNow, as FollowEvents' afterSeq, starts a stream with the events
// committed after the call: no stored ones.
const FromNow int64 = -1

// Retention of the persisted event stream: an event is kept while it is
// younger than EventRetentionAge or among the newest EventRetentionCount,
// so a client may resume (afterSequence) after a day away or 10,000 events.
const (
	EventRetentionAge   = 24 * time.Hour
	EventRetentionCount = 10000
)

// eventPage is how many stored events a stream reads at once.
const eventPage = 500

// EventFilter selects the events of a stream. Zero fields select all.
type EventFilter struct {
	// Types lists the event types wanted (see ReleaseEventTypes…); empty:
	// every persisted event.
	Types []string
	// DefinitionID keeps the events of one definition.
	DefinitionID int
	// Environment keeps the events of one environment (by name).
	Environment string
	// AssignedToActor keeps only events of approvals that the actor can
	// decide: it is the approver, or a member of the approver group.
	AssignedToActor bool
}

// FollowEvents streams the persisted events that f selects and actor may
// read (see CanReadDefinition): first the stored ones after afterSeq (0: all
// that are kept; FromNow: none), in sequence order, then the live ones, with
// no gap and no duplicate. It subscribes to the bus before reading the
// database, skips live events at or below the last sequence handled, and
// re-reads the database when a live event shows a gap (events of concurrent
// transactions may be published out of order) or when the subscription lags
// or closes. A filter naming a definition actor may not read is NOT_FOUND;
// an afterSeq whose successors were already pruned is a CONFLICT (the client
// must reload its state and follow FromNow). The channel closes when ctx
// ends or the database fails (logged here); every send waits on ctx.
func (e *Engine) FollowEvents(ctx context.Context, bus Subscriber, actor Actor, f EventFilter, afterSeq int64) (<-chan Event, error) {
	out := make(chan Event)
	send := func(ctx context.Context, ev Event) error {
		select {
		case out <- ev:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := e.FollowEventsEach(ctx, bus, actor, f, afterSeq, send, func() { close(out) }); err != nil {
		return nil, err
	}
	return out, nil
}

// FollowEventsEach is FollowEvents without the channel: emit is called for
// each event of the stream, in order and one at a time, until ctx ends, the
// database fails or emit returns an error, then done is called. A consumer
// that turns events into something else saves a goroutine per stream this
// way. On a NotifySubscriber (the server's bus) no goroutine waits for the
// next event: one is started when the bus has events for the stream and
// ends a moment after they are handled (followLinger), so an idle stream
// holds none (an idle GraphQL subscription holds its connection's reader
// alone). The checks of FollowEvents fail before anything starts (done is
// then not called).
func (e *Engine) FollowEventsEach(ctx context.Context, bus Subscriber, actor Actor, f EventFilter, afterSeq int64,
	emit func(context.Context, Event) error, done func()) error {
	if err := e.startFollowing(ctx, actor, f, &afterSeq); err != nil {
		return err
	}
	fl := &eventFollower{
		e: e, emit: emit, actor: actor, f: f, last: afterSeq,
		readers: &definitionReaders{e: e, actor: actor},
	}
	if nb, ok := bus.(NotifySubscriber); ok {
		n := &notifiedFollower{fl: fl, ctx: ctx, bus: nb, done: done, kick: make(chan struct{}, 1)}
		n.stop = context.AfterFunc(ctx, n.wake)
		n.wake()
		return nil
	}
	go func() {
		defer done()
		for {
			events, unsubscribe := bus.Subscribe()
			err := fl.follow(ctx, events)
			unsubscribe()
			if err != nil || ctx.Err() != nil {
				if err != nil && ctx.Err() == nil {
					e.log.WarnContext(ctx, "following events", "actor", actor.String(), "err", err)
				}
				return
			}
		}
	}()
	return nil
}

// startFollowing checks a FollowEvents request and resolves FromNow to the
// last sequence number.
func (e *Engine) startFollowing(ctx context.Context, actor Actor, f EventFilter, after *int64) error {
	afterSeq := *after
	if err := actor.Require(RoleViewer, "following events"); err != nil {
		return err
	}
	if afterSeq < FromNow {
		return Invalid("afterSequence", "must be 0 or more (the last sequence number received)")
	}
	if f.DefinitionID != 0 {
		if err := e.RequireReadableDefinition(ctx, actor, f.DefinitionID); err != nil {
			return err
		}
	}
	if afterSeq > 0 {
		if err := e.requireKept(ctx, afterSeq); err != nil {
			return err
		}
	}
	if afterSeq == FromNow {
		// Read before subscribing: what commits in between is caught up.
		last, err := e.lastSequence(ctx)
		if err != nil {
			return err
		}
		afterSeq = last
	}
	*after = afterSeq
	return nil
}

// requireKept returns CONFLICT when events right after afterSeq were pruned.
func (e *Engine) requireKept(ctx context.Context, afterSeq int64) error {
	oldest, err := e.client.Event.Query().Where(event.SequenceGT(0)).Order(ent.Asc(event.FieldSequence)).First(ctx)
	switch {
	case ent.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading the oldest event: %w", err)
	}
	if oldest.Sequence > afterSeq+1 {
		return Conflict("events after sequence %d are no longer kept (the oldest is %d): reload what you show and subscribe without afterSequence",
			afterSeq, oldest.Sequence)
	}
	return nil
}

// eventFollower is the state of one FollowEvents stream.
type eventFollower struct {
	e       *Engine
	emit    func(context.Context, Event) error
	actor   Actor
	f       EventFilter
	last    int64 // the highest sequence handled (sent or filtered out)
	readers *definitionReaders
}

// follow runs on one subscription until it closes (nil: resubscribe), ctx
// ends or the database fails.
func (fl *eventFollower) follow(ctx context.Context, events <-chan Event) error {
	if err := fl.catchUp(ctx); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-events:
			if !ok {
				return nil // lagged or closed: resubscribe, then re-read
			}
			if err := fl.live(ctx, ev); err != nil {
				return err
			}
		}
	}
}

// live handles an event from the bus.
func (fl *eventFollower) live(ctx context.Context, ev Event) error {
	if ev.Type == EventDefinitionChanged {
		fl.readers.forget(ev.DefinitionID)
	}
	if ev.Sequence == 0 || ev.Sequence <= fl.last {
		return nil // transient, or already handled
	}
	if ev.Sequence > fl.last+1 {
		// Published before an earlier transaction's events: both are
		// committed, read them in order.
		return fl.catchUp(ctx)
	}
	return fl.handle(ctx, ev)
}

// notifiedFollower runs an eventFollower on a NotifySubscriber's
// subscription: a goroutine runs it only while there is something to do
// (events queued, the subscription ended, ctx ended), started by the bus's
// notice, and ends once the queue has stayed empty for followLinger. An
// idle stream holds no goroutine, and the goroutine that runs it starts
// with a small stack each time instead of keeping the one its first deep
// calls (the catch-up read, executing and writing an event) grew; a stream
// whose events come closer than followLinger keeps its goroutine.
type notifiedFollower struct {
	fl   *eventFollower
	ctx  context.Context
	bus  NotifySubscriber
	done func()
	stop func() bool // the AfterFunc of ctx

	mu       sync.Mutex
	running  bool // a goroutine runs drain
	again    bool // woken while running: look again before ending
	finished bool // done was called
	// kick wakes a goroutine that lingers after draining (capacity 1; sent
	// to by wake with again set, never blocking).
	kick chan struct{}

	q EventQueue // the current subscription (nil: subscribe and catch up); drain's
}

// followLinger is how long a stream's goroutine waits for the next event
// after its queue drains before it ends. A stream whose events come more
// often keeps its goroutine and the stack that executing and writing an
// event grew, instead of starting a goroutine per event whose stack grows
// again through the resolver (paced fan-out's p99 rose with that); a stream
// idle for longer gives the goroutine up as before. docs/decisions.md,
// "An idle event subscription holds one goroutine".
const followLinger = 500 * time.Millisecond

// wake makes sure a goroutine looks at the stream: it starts one unless one
// runs. Called by the bus (while it is locked) and when ctx ends.
func (n *notifiedFollower) wake() {
	n.mu.Lock()
	switch {
	case n.finished:
	case n.running:
		n.again = true
		select {
		case n.kick <- struct{}{}:
		default: // already kicked
		}
	default:
		n.running = true
		go n.drain()
	}
	n.mu.Unlock()
}

// drain runs the stream until nothing is left to do for followLinger, or to
// its end.
func (n *notifiedFollower) drain() {
	var linger *time.Timer
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	for {
		if err := n.step(); err != nil {
			if n.ctx.Err() == nil {
				n.fl.e.log.WarnContext(n.ctx, "following events", "actor", n.fl.actor.String(), "err", err)
			}
			n.finish()
			return
		}
		if n.rearmed() {
			continue
		}
		// Drained: wait a moment for the next event (wake kicks) before
		// giving the goroutine up.
		if linger == nil {
			linger = time.NewTimer(followLinger)
		} else {
			linger.Reset(followLinger)
		}
		select {
		case <-n.kick:
			n.rearmed()
			continue
		case <-linger.C:
		}
		n.mu.Lock()
		if n.again {
			n.again = false
			n.mu.Unlock()
			continue
		}
		n.running = false
		select {
		case <-n.kick: // a kick that lost the race with the timer: again was already seen
		default:
		}
		n.mu.Unlock()
		return
	}
}

// rearmed reports whether wake was called since drain last looked, and
// clears it.
func (n *notifiedFollower) rearmed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	again := n.again
	n.again = false
	return again
}

// step handles what is queued, subscribing and catching up first when it has
// no subscription; an error (ctx's when it ended) ends the stream.
func (n *notifiedFollower) step() error {
	ctx, fl := n.ctx, n.fl
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if n.q == nil {
			// Subscribe before reading the database: what commits in
			// between is read, and skipped when it arrives.
			n.q = n.bus.SubscribeNotify(n.wake)
			if err := fl.catchUp(ctx); err != nil {
				return err
			}
			continue
		}
		ev, ok, open := n.q.Take()
		switch {
		case ok:
			if err := fl.live(ctx, ev); err != nil {
				return err
			}
		case open:
			return nil // nothing queued: the bus wakes us
		default:
			n.q.Close() // lagged or closed: resubscribe, then re-read
			n.q = nil
		}
	}
}

// finish ends the stream: unsubscribed, done called, no goroutine started
// again.
func (n *notifiedFollower) finish() {
	n.stop()
	if n.q != nil {
		n.q.Close()
		n.q = nil
	}
	n.mu.Lock()
	n.finished = true
	n.mu.Unlock()
	n.done()
}

// catchUp handles the stored events after fl.last.
func (fl *eventFollower) catchUp(ctx context.Context) error {
	for {
		rows, err := fl.e.client.Event.Query().Where(event.SequenceGT(fl.last)).
			Order(ent.Asc(event.FieldSequence)).Limit(eventPage).All(ctx)
		if err != nil {
			return fmt.Errorf("reading events after %d: %w", fl.last, err)
		}
		for _, row := range rows {
			ev, err := eventOf(row)
			if err != nil {
				return err
			}
			if err := fl.handle(ctx, ev); err != nil {
				return err
			}
		}
		if len(rows) < eventPage {
			return nil
		}
	}
}

// handle sends ev if the stream wants it and marks it handled.
func (fl *eventFollower) handle(ctx context.Context, ev Event) error {
	ok, err := fl.wants(ctx, ev)
	if err != nil {
		return err
	}
	if ok {
		if err := fl.emit(ctx, ev); err != nil {
			return err
		}
	}
	fl.last = ev.Sequence
	return nil
}

// wants applies the filter, then the read permission.
func (fl *eventFollower) wants(ctx context.Context, ev Event) (bool, error) {
	f := fl.f
	if len(f.Types) > 0 && !slices.Contains(f.Types, ev.Type) {
		return false, nil
	}
	// A freeze window's events concern every environment it covers: a
	// global one every definition, a definition's every environment.
	freeze := ev.Type == EventFreezeStarted || ev.Type == EventFreezeEnded
	if f.DefinitionID != 0 && ev.DefinitionID != f.DefinitionID && !(freeze && ev.DefinitionID == 0) {
		return false, nil
	}
	if f.Environment != "" && ev.Environment != f.Environment && !(freeze && ev.Environment == "") {
		return false, nil
	}
	if ok, err := fl.readers.readable(ctx, ev.DefinitionID); err != nil || !ok {
		return false, err
	}
	if f.AssignedToActor {
		if ev.ApprovalID == 0 {
			return false, nil
		}
		a, err := fl.e.client.Approval.Query().Where(approval.ID(ev.ApprovalID)).Only(ctx)
		if ent.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("reading approval %d: %w", ev.ApprovalID, err)
		}
		return isApprover(ctx, fl.e.client, fl.actor.Username, a)
	}
	return true, nil
}

// lastSequence returns the sequence of the newest persisted event, 0 if none.
func (e *Engine) lastSequence(ctx context.Context) (int64, error) {
	last, err := e.client.Event.Query().Where(event.SequenceGT(0)).Order(ent.Desc(event.FieldSequence)).First(ctx)
	switch {
	case ent.IsNotFound(err):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("reading the last event: %w", err)
	}
	return last.Sequence, nil
}

// StoredEvents returns up to limit (at most 500) persisted events after
// afterSeq in sequence order, whatever their type, for tests and tools that
// compare a stream with the store. It applies no read permission: callers
// are ADMINs or tests.
func (e *Engine) StoredEvents(ctx context.Context, afterSeq int64, limit int) ([]Event, error) {
	limit = min(max(limit, 1), eventPage)
	rows, err := e.client.Event.Query().Where(event.SequenceGT(afterSeq)).
		Order(ent.Asc(event.FieldSequence)).Limit(limit).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading events after %d: %w", afterSeq, err)
	}
	out := make([]Event, 0, len(rows))
	for _, row := range rows {
		ev, err := eventOf(row)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// PruneEvents deletes the persisted events that are both older than
// EventRetentionAge and not among the newest EventRetentionCount (or the
// engine's Options), except
// those outgoing hooks still need: events after the hook outbox's cursor
// (or after the oldest hook's start while there is no cursor yet) and events
// of deliveries not yet final. It returns how many it deleted. It takes no
// engine lock: it never deletes the newest event, which numbering reads.
func (e *Engine) PruneEvents(ctx context.Context) (int, error) {
	last, err := e.lastSequence(ctx)
	if err != nil {
		return 0, err
	}
	upTo := last - int64(e.keepCount) // delete sequences <= upTo
	if upTo <= 0 {
		return 0, nil
	}
	cur, err := e.client.StreamCursor.Query().Where(streamcursor.Name(hookCursorName)).Only(ctx)
	switch {
	case err == nil:
		upTo = min(upTo, cur.Sequence)
	case ent.IsNotFound(err):
		first, err := e.client.OutgoingHook.Query().Order(ent.Asc(outgoinghook.FieldFromSequence)).First(ctx)
		switch {
		case err == nil:
			upTo = min(upTo, first.FromSequence)
		case !ent.IsNotFound(err):
			return 0, fmt.Errorf("reading outgoing hooks: %w", err)
		}
	default:
		return 0, fmt.Errorf("reading hook cursor: %w", err)
	}
	pending, err := e.client.HookDelivery.Query().Where(hookdelivery.StatusEQ(hookdelivery.StatusPENDING)).
		Order(ent.Asc(hookdelivery.FieldEventSequence)).First(ctx)
	switch {
	case err == nil:
		upTo = min(upTo, pending.EventSequence-1)
	case !ent.IsNotFound(err):
		return 0, fmt.Errorf("reading pending hook deliveries: %w", err)
	}
	if upTo <= 0 {
		return 0, nil
	}
	n, err := e.client.Event.Delete().
		Where(event.SequenceGT(0), event.SequenceLTE(upTo), event.TimeLT(e.clock.Now().Add(-e.keepAge))).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("pruning events: %w", err)
	}
	return n, nil
}

// DefaultEventPruneInterval is how often RunEventPruneLoop prunes.
const DefaultEventPruneInterval = time.Hour

// RunEventPruneLoop prunes the event stream (PruneEvents) at once and then
// every interval (DefaultEventPruneInterval when <= 0) on the engine's clock,
// until ctx ends. Errors are logged here, the loop's boundary.
func (e *Engine) RunEventPruneLoop(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultEventPruneInterval
	}
	log := e.log.With("loop", "event-prune")
	for {
		if n, err := e.PruneEvents(ctx); err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "pruning events", "err", err)
		} else if n > 0 {
			log.InfoContext(ctx, "pruned events", "deleted", n)
		}
		if _, err := e.PruneSessions(ctx); err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "pruning sessions", "err", err)
		}
		timer, stop := e.hookTimer(interval)
		select {
		case <-ctx.Done():
			stop()
			return
		case <-timer:
		}
		stop()
	}
}
