package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/internal/jobstages"
)

// advisoryLockKey is, on PostgreSQL, the engine's coarse lock: inTx takes it exclusively, so
// read-decide-write sequences of configuration, identity, agents and timers see no concurrent
// writer; inTxDefinition takes it shared, with its definition's lock (definitionLockSpace,
// id) exclusively, so that writers of different definitions run side by side. The audit
// chain and the event stream no longer need it: the sealer orders them (seal.go).
const advisoryLockKey = 0x636169726e // "cairn"

// byKeyOnly is SQL that makes the rest of a PostgreSQL transaction read rows by their indexes
// (enable_seqscan off, for the transaction only). It rides on the statement that takes a lock
// (a definition's, numbering a release; the sealer's), at no round trip of its own. What runs
// under those locks reads and updates rows by key: ids, the waiting deployments' and the
// unsealed rows' partial indexes (TestCreateReleaseStatements checks, on SQLite, that every
// statement of a release's creation is served by an index). PostgreSQL plans by statistics, and
// a young table's lag its growth (autovacuum analyzes it at most once a minute, and not at all
// where autovacuum is off): there it chose
// sequential scans, of every release environment to update three statuses, of every event to
// find the few unsealed ones, of every audit row to seal one, whose time grew with the table
// while the lock's other writers waited. A statement left with a sequential scan (the audit
// checkpoint's single row) then costs more than jit_above_cost, and compiling it took ~100 ms:
// JIT is off for the transaction too.
const byKeyOnly = `set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true)`

// definitionLockSpace is the top 16 bits of a definition's advisory lock key; its id (a global
// id, type in the high bits) fills the low 48.
const definitionLockSpace = int64(0x6361) << 48 // "ca"

// definitionLockKey is the advisory lock key of a definition.
func definitionLockKey(id int) int64 { return definitionLockSpace | int64(id)&(1<<48-1) }

// txLock says which advisory locks a transaction takes on PostgreSQL.
type txLock struct {
	kind       int // lockNone, lockEngine, lockDefinition
	definition int
}

const (
	lockNone = iota
	lockEngine
	lockDefinition
	// lockDefinitionLate takes the engine lock shared at the start and the definition's lock
	// when the transaction asks for it (lockDefinitionNow): creating a release reads and
	// authorizes before it, so that a definition's releases serialise only from their numbering
	// to their commit.
	lockDefinitionLate
)

// txn is one engine transaction: the ent transaction, the time it started by
// the engine's clock, and the events to publish once it commits.
type txn struct {
	*ent.Tx
	e   *Engine
	ctx context.Context
	now time.Time
	// events are the transient events to publish after commit; persisted ones are
	// published by the sealer once they have their sequence.
	events []Event
	// onlyTargets, when set, limits the deployment beginDeployment creates to these
	// deployment-group targets (a failedTargetsOnly redeploy).
	onlyTargets []string
	// unsealed is set when the transaction stored audit rows or events for the sealer.
	unsealed bool
	// emitted are the persisted events of the transaction, inserted together just before it
	// commits (flushEvents): one statement instead of one per event.
	emitted []*ent.EventCreate
	// audits are, on PostgreSQL, the transaction's audit rows, inserted with its events
	// (storeUnsealed).
	audits []heldAudit
	// releaseSnap is, in a transaction that creates a release, the current snapshot of its
	// definition (releaseSnapDef), which that transaction does not change (currentSnapshot).
	releaseSnap    *spec.DefinitionSnapshot
	releaseSnapDef int
	// releaseFreezes are the freeze windows of that definition (frozenAt), once read.
	releaseFreezes []*ent.FreezeWindow
	// fresh are the deployments this transaction created (beginDeployment), with their
	// context: nobody else has decided on them yet (no deferral, no job before its first).
	fresh map[int]*deployCtx
	// freshEnvs are the release environments this transaction created: no deployment yet.
	freshEnvs map[int]bool
	// forwardOK memoises forwardOnly's "goes on" per deployment, valid while landed (bumped
	// whenever a deployment takes a slot or succeeds in the transaction) has not changed.
	forwardOK map[int]int
	landed    int
	// newestRelease is the release this transaction numbered last when it was numbered above
	// every other release of its definition (0: none): for it, landedOf needs no read.
	newestRelease int
	// landedMemo is what landedOf read, valid while landed has not changed.
	landedMemo map[landedKey]landed
	// lateDefinition is, in a lockDefinitionLate transaction, the definition whose lock it takes
	// when it numbers a release; definitionLockedAt is when it took it (zero: not yet).
	lateDefinition     int
	definitionLockedAt time.Time
	// batchFresh is set while a release's new environments are triggered (triggerAfterRelease):
	// writes to rows only this transaction can see (its new release environments' statuses, its
	// new deployments' queued_at) wait in freshEnvWrites and freshQueuedAt, and are stored
	// together when the environments are triggered (flushFresh): one statement on PostgreSQL.
	batchFresh     bool
	freshEnvWrites []*deployCtx
	freshQueuedAt  map[int]time.Time
	freshApprovals []*ent.ApprovalCreate
	// held are, on PostgreSQL, the new deployments, jobs and automated approvals of a release
	// being triggered, built in memory with ids taken in advance and not inserted yet (held.go).
	held heldRows
	// timersChanged is set when the transaction created a timer, so that
	// the timer loop recomputes its next wake-up after commit.
	timersChanged bool
	// enrichQueued is set when the transaction queued enrichment work, so
	// that the enrichment loop runs it after commit.
	enrichQueued bool
	// queuedJobs are the jobs this transaction queued, while jobstages records (the benchmark).
	queuedJobs []int
}

// inTx runs fn in one serialised write transaction: on SQLite every write
// transaction is BEGIN IMMEDIATE; on PostgreSQL it takes the engine's
// transaction-scoped advisory lock first, so audited changes never deadlock on
// each other and read-decide-write sequences see no concurrent writer.
// Events collected by fn are published after commit.
func (e *Engine) inTx(ctx context.Context, fn func(t *txn) error) error {
	return e.runTx(ctx, txLock{kind: lockEngine}, fn)
}

// inTxDefinition is inTx for a transaction whose decisions concern one definition's releases
// only (its numbering, environments, deployments, approvals, jobs): on PostgreSQL it holds the
// engine lock shared and the definition's lock exclusively, so that it waits for the engine's
// exclusive transactions and for writers of the same definition, not for other definitions'.
func (e *Engine) inTxDefinition(ctx context.Context, definitionID int, fn func(t *txn) error) error {
	return e.runTx(ctx, txLock{kind: lockDefinition, definition: definitionID}, fn)
}

// inTxDefinitionLate is inTxDefinition whose definition lock is taken later, when fn numbers a
// release (nextReleaseNumber): what fn reads and checks before (authorization, the definition,
// its freeze windows) is guarded by the engine lock, held shared from the start, since every
// change to them takes it exclusively.
func (e *Engine) inTxDefinitionLate(ctx context.Context, definitionID int, fn func(t *txn) error) error {
	return e.runTx(ctx, txLock{kind: lockDefinitionLate, definition: definitionID}, fn)
}

// DefinitionLockHeld reports how many transactions held a definition's advisory lock on
// PostgreSQL (creating releases, retention) and for how long in all, from taking it to the end
// of their commit: a definition's writers wait for each other that long.
func (e *Engine) DefinitionLockHeld() (txs int64, held time.Duration) {
	return e.definitionLockTxs.Load(), time.Duration(e.definitionLockHeld.Load())
}

// inTxConcurrent is inTx without the advisory lock, for high-rate writes that
// neither audit nor emit persisted events (log ingestion, heartbeats). They
// must lock the rows they decide on themselves.
func (e *Engine) inTxConcurrent(ctx context.Context, fn func(t *txn) error) error {
	return e.runTx(ctx, txLock{}, fn)
}

func (e *Engine) runTx(ctx context.Context, lock txLock, fn func(t *txn) error) (err error) {
	if e.dialect != Postgres {
		// SQLite has one writer: writers of this engine queue here, in order, instead of in
		// SQLite's busy handler, which sleeps (up to 100 ms a try) while another holds the lock.
		select {
		case e.sqliteWriter <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the database writer: %w", ctx.Err())
		}
		defer func() { <-e.sqliteWriter }()
	}
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
	if lock.kind == lockDefinitionLate {
		t.lateDefinition = lock.definition
	}
	if e.dialect == Postgres && lock.kind != lockNone {
		var err error
		switch lock.kind {
		case lockEngine:
			_, err = tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", advisoryLockKey)
		case lockDefinitionLate:
			_, err = tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock_shared($1)", advisoryLockKey)
		default:
			_, err = tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock_shared($1), pg_advisory_xact_lock($2)",
				advisoryLockKey, definitionLockKey(lock.definition))
			t.definitionLockedAt = time.Now()
		}
		if err != nil {
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
	t.stamp("tx body done")
	if t.timersChanged {
		t.notify(Event{Type: EventTimersChanged})
	}
	if t.enrichQueued {
		t.notify(Event{Type: EventEnrichmentQueued})
	}
	// On SQLite the write transaction is the single writer: it seals its own rows before
	// committing, in commit order by construction (its events are stored sealed). On
	// PostgreSQL the sealer runs after commit.
	sealed, more, err := t.flushEvents()
	if err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return fmt.Errorf("%w (rollback: %v)", err, rerr)
		}
		return err
	}
	t.stamp("events stored")
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	t.stamp("committed")
	if !t.definitionLockedAt.IsZero() {
		e.definitionLockHeld.Add(int64(time.Since(t.definitionLockedAt)))
		e.definitionLockTxs.Add(1)
	}
	if len(t.events) > 0 {
		e.bus.Publish(context.WithoutCancel(ctx), t.events)
	}
	if len(sealed) > 0 {
		e.bus.Publish(context.WithoutCancel(ctx), sealed)
	}
	if more || (t.unsealed && e.dialect == Postgres) {
		e.sealAfterCommit(context.WithoutCancel(ctx))
	}
	t.stamp("published")
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

// stamp marks the stage for the jobs the transaction queued (jobstages, the benchmark).
func (t *txn) stamp(stage string) {
	if len(t.queuedJobs) == 0 {
		return
	}
	now := time.Now()
	for _, id := range t.queuedJobs {
		jobstages.At(id, stage, now)
	}
}

// postgres reports whether row locks (FOR UPDATE) are available and needed.
func (t *txn) postgres() bool { return t.e.dialect == Postgres }

// emitBatch bounds the events of one insert statement (SQLite binds at most 32,766 values).
const emitBatch = 500

// flushEvents stores the transaction's events before it commits. On PostgreSQL they are stored
// unsealed, for the sealer. On SQLite, the single writer, the transaction seals what waits (its
// audit rows, and rows a stopped writer left) and stores its events with their sequences,
// after them; it returns the events sealed and stored, to publish after commit, and whether
// more unsealed rows wait than one pass takes.
func (t *txn) flushEvents() ([]Event, bool, error) {
	if !t.unsealed {
		return nil, false, t.storeHeld()
	}
	e := t.e
	if e.dialect == Postgres {
		return nil, false, t.storeUnsealed()
	}
	sealed, _, more, err := e.sealIn(t.ctx, t.Tx)
	if err != nil || len(t.emitted) == 0 {
		return sealed, more, err
	}
	if more {
		// Older rows wait beyond one pass: the transaction's events are sealed after them.
		for batch := range slices.Chunk(t.emitted, emitBatch) {
			if err := t.Event.CreateBulk(batch...).Exec(t.ctx); err != nil {
				return nil, false, fmt.Errorf("storing events: %w", err)
			}
		}
		return sealed, more, nil
	}
	var seq int64
	if len(sealed) > 0 {
		seq = sealed[len(sealed)-1].Sequence
	} else if seq, err = lastEventSequence(t.ctx, t.Client()); err != nil {
		return nil, false, err
	}
	for _, c := range t.emitted {
		seq++
		c.SetSequence(seq)
	}
	for batch := range slices.Chunk(t.emitted, emitBatch) {
		rows, err := t.Event.CreateBulk(batch...).Save(t.ctx)
		if err != nil {
			return nil, false, fmt.Errorf("storing events: %w", err)
		}
		for _, row := range rows {
			ev, err := eventOf(row)
			if err != nil {
				return nil, false, err
			}
			sealed = append(sealed, ev)
		}
	}
	return sealed, false, nil
}

// storeUnsealed inserts, on PostgreSQL, the transaction's audit rows and events, in the order
// they were made, in one statement (arrays, data-modifying WITH): the sealer numbers them after
// commit, audit rows by id. Rows the transaction holds (held.go) are inserted by the same
// statement.
func (t *txn) storeUnsealed() error {
	var p pgArgs
	parts, err := t.heldCTEs(&p)
	if err != nil {
		return err
	}
	parts = append(parts, t.unsealedCTEs(&p)...) // before p is read below
	return t.execWith(parts, p, "storing audit events and events")
}

// unsealedCTEs returns the data-modifying WITH parts that insert the transaction's audit rows
// and events (storeUnsealed), and forgets them.
func (t *txn) unsealedCTEs(p *pgArgs) []string {
	var parts []string
	if n := len(t.audits); n > 0 {
		aSeq, aTime := make([]int64, n), make([]time.Time, n)
		aActor, aOnBehalf, aAction, aType, aTarget, aBefore, aAfter := make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i, a := range t.audits {
			aSeq[i], aTime[i], aActor[i], aOnBehalf[i], aAction[i] = a.sequence, a.time, a.actor, a.onBehalfOf, a.action
			aType[i], aTarget[i], aBefore[i], aAfter[i] = a.targetType, a.targetID, a.before, a.after
		}
		parts = append(parts, `ua AS (INSERT INTO audit_events
			(sequence, time, actor, on_behalf_of, action, target_type, target_id, before, after, prev_hash, hash)
			SELECT s, tm, ac, ob, act, tt, ti, b, af, '', '' FROM unnest(`+strings.Join([]string{
			p.add(aSeq, "bigint[]"), p.add(aTime, "timestamptz[]"), p.add(aActor, "text[]"), p.add(aOnBehalf, "text[]"),
			p.add(aAction, "text[]"), p.add(aType, "text[]"), p.add(aTarget, "text[]"), p.add(aBefore, "text[]"),
			p.add(aAfter, "text[]")}, ", ")+`) WITH ORDINALITY
				AS v(s, tm, ac, ob, act, tt, ti, b, af, n) ORDER BY n RETURNING 1)`)
	}
	if m := len(t.emitted); m > 0 {
		eSeq, eTime, eDef, eRel := make([]int64, m), make([]time.Time, m), make([]int64, m), make([]int64, m)
		eType, eEnv, ePayload := make([]string, m), make([]string, m), make([]string, m)
		for i, c := range t.emitted {
			mu := c.Mutation()
			eSeq[i], _ = mu.Sequence()
			eType[i], _ = mu.GetType()
			eTime[i], _ = mu.Time()
			if d, ok := mu.DefinitionID(); ok {
				eDef[i] = int64(d)
			}
			if r, ok := mu.ReleaseID(); ok {
				eRel[i] = int64(r)
			}
			eEnv[i], _ = mu.Environment()
			ePayload[i], _ = mu.Payload()
		}
		parts = append(parts, `ue AS (INSERT INTO events (sequence, type, time, definition_id, release_id, environment, payload)
			SELECT s, ty, tm, NULLIF(d, 0), NULLIF(r, 0), en, p FROM unnest(`+strings.Join([]string{
			p.add(eSeq, "bigint[]"), p.add(eType, "text[]"), p.add(eTime, "timestamptz[]"), p.add(eDef, "bigint[]"),
			p.add(eRel, "bigint[]"), p.add(eEnv, "text[]"), p.add(ePayload, "text[]")}, ", ")+`) WITH ORDINALITY
				AS v(s, ty, tm, d, r, en, p, n) ORDER BY n RETURNING 1)`)
	}
	t.audits, t.emitted = nil, nil
	return parts
}

// emit persists ev in the event stream, unsealed: the sealer gives it its sequence after
// commit and publishes it (seal.go). The row is inserted with the transaction's other events
// just before it commits (flushEvents).
func (t *txn) emit(ev Event) error {
	ev.Sequence = 0
	if ev.Time.IsZero() {
		ev.Time = t.now
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding event: %w", err)
	}
	c := t.Event.Create().SetSequence(unsealedSequence()).SetType(ev.Type).SetTime(ev.Time).
		SetEnvironment(ev.Environment).SetPayload(string(payload))
	if ev.DefinitionID != 0 {
		c.SetDefinitionID(ev.DefinitionID)
	}
	if ev.ReleaseID != 0 {
		c.SetReleaseID(ev.ReleaseID)
	}
	t.emitted = append(t.emitted, c)
	t.unsealed = true
	if ev.Type == EventJobQueued && ev.JobID != 0 && t.postgres() {
		t.notify(Event{Type: EventJobClaimable, JobID: ev.JobID, DeploymentID: ev.DeploymentID})
	}
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
