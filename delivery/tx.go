package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/event"
)

// advisoryLockKey serialises, on PostgreSQL, the transactions that append to
// the audit chain and the event stream (both need gap-free sequences).
const advisoryLockKey = 0x636169726e // "cairn"

// txn is one engine transaction: the ent transaction, the time it started by
// the engine's clock, and the events to publish once it commits.
type txn struct {
	*ent.Tx
	e       *Engine
	ctx     context.Context
	now     time.Time
	events  []Event
	lastSeq int64
	// auditHead is the audit chain's last sequence and hash, once read (only serialised
	// transactions audit, so it cannot change under them).
	auditHead struct {
		known bool
		seq   int64
		hash  string
	}
	// timersChanged is set when the transaction created a timer, so that
	// the timer loop recomputes its next wake-up after commit.
	timersChanged bool
	// enrichQueued is set when the transaction queued enrichment work, so
	// that the enrichment loop runs it after commit.
	enrichQueued bool
}

// inTx runs fn in one serialised write transaction: on SQLite every write
// transaction is BEGIN IMMEDIATE; on PostgreSQL it takes the engine's
// transaction-scoped advisory lock first, so audited changes never deadlock on
// each other and read-decide-write sequences see no concurrent writer.
// Events collected by fn are published after commit.
func (e *Engine) inTx(ctx context.Context, fn func(t *txn) error) error {
	return e.runTx(ctx, true, fn)
}

// inTxConcurrent is inTx without the advisory lock, for high-rate writes that
// neither audit nor emit persisted events (log ingestion, heartbeats). They
// must lock the rows they decide on themselves.
func (e *Engine) inTxConcurrent(ctx context.Context, fn func(t *txn) error) error {
	return e.runTx(ctx, false, fn)
}

func (e *Engine) runTx(ctx context.Context, serialise bool, fn func(t *txn) error) (err error) {
	tx, err := e.client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	t := &txn{Tx: tx, e: e, ctx: ctx, now: e.clock.Now()}
	defer func() {
		if r := recover(); r != nil {
			_ = tx.Rollback()
			panic(r)
		}
	}()
	if serialise && e.dialect == Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", advisoryLockKey); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("taking engine lock: %w", err)
		}
	}
	if err := fn(t); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return fmt.Errorf("%w (rollback: %v)", err, rerr)
		}
		return err
	}
	if t.timersChanged {
		t.notify(Event{Type: EventTimersChanged})
	}
	if t.enrichQueued {
		t.notify(Event{Type: EventEnrichmentQueued})
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	if len(t.events) > 0 {
		e.bus.Publish(context.WithoutCancel(ctx), t.events)
	}
	if t.enrichQueued {
		select {
		case e.enrichWake <- struct{}{}:
		default:
		}
	}
	if t.timersChanged {
		select {
		case e.timerWake <- struct{}{}:
		default:
		}
	}
	return nil
}

// postgres reports whether row locks (FOR UPDATE) are available and needed.
func (t *txn) postgres() bool { return t.e.dialect == Postgres }

// emit persists ev in the event stream with the next sequence number and
// queues it for publication after commit.
func (t *txn) emit(ev Event) error {
	if t.lastSeq == 0 {
		last, err := t.Event.Query().Order(ent.Desc(event.FieldSequence)).First(t.ctx)
		switch {
		case ent.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("reading event sequence: %w", err)
		default:
			t.lastSeq = last.Sequence
		}
	}
	t.lastSeq++
	ev.Sequence = t.lastSeq
	if ev.Time.IsZero() {
		ev.Time = t.now
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding event: %w", err)
	}
	c := t.Event.Create().SetSequence(ev.Sequence).SetType(ev.Type).SetTime(ev.Time).
		SetEnvironment(ev.Environment).SetPayload(string(payload))
	if ev.DefinitionID != 0 {
		c.SetDefinitionID(ev.DefinitionID)
	}
	if ev.ReleaseID != 0 {
		c.SetReleaseID(ev.ReleaseID)
	}
	if err := c.Exec(t.ctx); err != nil {
		return fmt.Errorf("storing event: %w", err)
	}
	t.events = append(t.events, ev)
	return nil
}

// notify queues a transient event (not persisted, no sequence) for
// publication after commit.
func (t *txn) notify(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = t.now
	}
	t.events = append(t.events, ev)
}
