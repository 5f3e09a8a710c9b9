package delivery

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/auditcheckpoint"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/ent/event"
	"github.com/cairnhq/cairn/ent/predicate"
)

// Sealing (docs/decisions.md, "Writes scale out: a sealer orders the audit chain and the
// event stream"). Writers insert audit rows and events without their place in the chain or
// the stream: their sequence is a negative placeholder, unique at random, and an audit row's
// hashes are empty. One sealer at a time (on PostgreSQL the holder of the seal lock, whichever
// replica; on SQLite the single writer) reads the committed unsealed rows in id order and
// gives each its sequence, and each audit row its previous hash and HMAC, then moves the signed
// checkpoint. What a later sealer sees can only have committed later, so sequences follow
// commit order and the stream has no gap that a late commit fills: a follower that resumes
// after sequence n never skips a row. Events are published by the sealer, after its commit.

// sealLockKey is the PostgreSQL advisory lock (transaction-scoped) of the sealer.
const sealLockKey = 0x636169726e73 // "cairns"

// sealPlainIndexScans makes the sealer read the unsealed rows by plain index scans. Every row it
// seals leaves dead entries (the row's old version) in the indexes its reads walk: the partial
// ones of unsealed rows and the sequences' unique ones, whose negative placeholders stay until
// VACUUM. A plain index scan marks the entries it finds dead, so that the next pass skips them;
// a bitmap scan, which PostgreSQL chose on a young table's statistics, marks none, and every
// pass visited every row sealed since the last VACUUM (550 pages, 7,620 entries, for 16 rows in
// an eight-second bench run).
const sealPlainIndexScans = `set_config('enable_bitmapscan', 'off', true)`

// sealGenericPlans keeps the sealer's statements on their generic plans for its transaction.
// Its updates take their rows as arrays (unnest), which a generic plan estimates at ten rows:
// for the one to twenty rows of a pass a plan for the call's arrays looked cheaper, so
// PostgreSQL planned the update anew on every pass (0.2 ms, once per release's commit); both
// plans are the same (each row by its primary key).
const sealGenericPlans = `set_config('plan_cache_mode', 'force_generic_plan', true)`

// sealBatch is how many rows of each table one seal transaction takes.
const sealBatch = 1000

// unsealedSequence returns a placeholder sequence: negative and unique at random, so that the
// unique index holds while rows wait for the sealer.
func unsealedSequence() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return -int64(binary.BigEndian.Uint64(b[:])>>1) - 1
}

// defaultAuditKey keys the chain of an engine built without Options.AuditKey (tests and
// tools that open a database directly). The server always passes its own key.
var defaultAuditKey = sha256.Sum256([]byte("cairn audit chain: no key configured"))

// DeriveAuditKey derives the audit chain's key from the secret key of secrets at rest, for
// servers given no audit key of their own: replicas that share the secret key share it.
func DeriveAuditKey(secretKey []byte) []byte {
	m := hmac.New(sha256.New, secretKey)
	m.Write([]byte("cairn audit chain v1"))
	return m.Sum(nil)
}

// sealState coordinates one engine's sealing: a writer that committed unsealed rows waits for
// a seal that read after its commit, and one seal serves every writer waiting for it.
type sealState struct {
	sealMu   sync.Mutex
	sealCond *sync.Cond
	sealing  bool
	// sealRead numbers the last pass that began reading the unsealed rows, sealDone the last
	// that ended. A pass waiting for the seal lock (another replica's pass holds it) has not
	// read yet: writers that commit meanwhile join it instead of waiting for the next.
	sealRead uint64
	sealDone uint64
	// sealWaiters counts the writers in sealAfterCommit (tests wait for them).
	sealWaiters int
	// headSeen is the highest checkpoint sequence this engine sealed or read: a checkpoint
	// found below it was moved back.
	headSeen int64
	// sealTxs and sealEmpty count seal transactions, and those that found nothing (SealPasses).
	sealTxs, sealEmpty atomic.Int64
}

// SealPasses reports how many seal transactions this engine ran and how many of them found
// nothing to seal (another replica's pass had sealed it).
func (e *Engine) SealPasses() (txs, empty int64) {
	return e.sealTxs.Load(), e.sealEmpty.Load()
}

// sealAfterCommit returns once a seal that began reading after the caller's commit has run (or
// failed: then the seal loop retries and the error is logged here).
func (e *Engine) sealAfterCommit(ctx context.Context) {
	e.sealMu.Lock()
	e.sealWaiters++
	// The next pass to read reads after this commit: the one running now if it has not read yet.
	target := e.sealRead + 1
	for e.sealDone < target {
		if e.sealing {
			e.sealCond.Wait()
			continue
		}
		e.sealing = true
		n := e.sealRead + 1
		e.sealMu.Unlock()
		err := e.seal(ctx, func() {
			// Before the pass's first read (after its lock): a writer that saw sealRead below n
			// committed before this, so the read sees its rows.
			e.sealMu.Lock()
			e.sealRead = max(e.sealRead, n)
			e.sealMu.Unlock()
		})
		e.sealMu.Lock()
		e.sealing = false
		e.sealRead = max(e.sealRead, n)
		e.sealDone = n
		e.sealCond.Broadcast()
		if err != nil && ctx.Err() == nil {
			e.log.ErrorContext(ctx, "sealing the audit chain and event stream (the seal loop retries)", "err", err)
		}
	}
	e.sealWaiters--
	e.sealMu.Unlock()
}

// Seal seals every committed unsealed audit row and event and publishes the events. It is
// safe to call from any replica at any time; RunSealLoop calls it for rows whose writer
// stopped between its commit and its seal.
func (e *Engine) Seal(ctx context.Context) error { return e.seal(ctx, nil) }

// seal is Seal; reading, when set, is called once, after the seal lock is taken and before the
// first read of the unsealed rows.
func (e *Engine) seal(ctx context.Context, reading func()) error {
	for {
		var events []Event
		more := false
		err := func() error {
			tx, err := e.client.Tx(ctx)
			if err != nil {
				return fmt.Errorf("beginning seal transaction: %w", err)
			}
			if e.dialect == Postgres {
				if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1), "+byKeyOnly+", "+sealPlainIndexScans+", "+sealGenericPlans, sealLockKey); err != nil {
					_ = tx.Rollback()
					return fmt.Errorf("taking the seal lock: %w", err)
				}
			}
			e.sealTxs.Add(1)
			if reading != nil {
				reading()
				reading = nil
			}
			var sealed bool
			events, sealed, more, err = e.sealIn(ctx, tx)
			if err != nil {
				_ = tx.Rollback()
				return err
			}
			if !sealed {
				e.sealEmpty.Add(1)
			}
			if err := tx.Commit(); err != nil {
				return fmt.Errorf("committing seal: %w", err)
			}
			return nil
		}()
		if err != nil {
			return err
		}
		if len(events) > 0 {
			e.bus.Publish(context.WithoutCancel(ctx), events)
		}
		if !more {
			return nil
		}
	}
}

// DefaultSealInterval is how often RunSealLoop looks for unsealed rows.
const DefaultSealInterval = time.Second

// RunSealLoop seals at once and then every interval (DefaultSealInterval when <= 0) until ctx
// ends: rows committed by a writer that stopped before sealing wait at most that long.
func (e *Engine) RunSealLoop(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultSealInterval
	}
	log := e.log.With("loop", "seal")
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := e.Seal(ctx); err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "sealing", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkpoint is the audit chain's signed head.
type checkpoint struct {
	exists      bool
	sequence    int64
	hash        string
	legacyUntil int64
}

func (c checkpoint) mac(key []byte) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "cairn audit checkpoint;%d;%d;%s", c.legacyUntil, c.sequence, c.hash)
	return hex.EncodeToString(m.Sum(nil))
}

// readCheckpoint returns the chain's head: the checkpoint when there is one (an error when its
// MAC does not hold), else, for a database from before the chain was keyed, its newest row,
// every row so far being a legacy plain SHA-256 link.
func (e *Engine) readCheckpoint(ctx context.Context, c *ent.Client) (checkpoint, error) {
	row, err := c.AuditCheckpoint.Query().Order(ent.Asc(auditcheckpoint.FieldID)).First(ctx)
	switch {
	case err == nil:
		cp := checkpoint{exists: true, sequence: row.Sequence, hash: row.Hash, legacyUntil: row.LegacyUntil}
		if !hmac.Equal([]byte(cp.mac(e.auditKey)), []byte(row.MAC)) {
			return cp, fmt.Errorf("the audit checkpoint (head %d) does not match its MAC: it was edited, or this server has another audit key", row.Sequence)
		}
		return cp, nil
	case !ent.IsNotFound(err):
		return checkpoint{}, fmt.Errorf("reading the audit checkpoint: %w", err)
	}
	last, err := c.AuditEvent.Query().Where(auditevent.SequenceGT(0)).
		Order(ent.Desc(auditevent.FieldSequence)).First(ctx)
	switch {
	case ent.IsNotFound(err):
		return checkpoint{hash: genesisHash}, nil
	case err != nil:
		return checkpoint{}, fmt.Errorf("reading the audit chain's head: %w", err)
	}
	return checkpoint{sequence: last.Sequence, hash: last.Hash, legacyUntil: last.Sequence}, nil
}

// sealIn seals up to sealBatch audit rows and sealBatch events in tx (which holds the seal lock
// on PostgreSQL, or is SQLite's single writer) and returns the sealed events in order, and
// whether more wait.
//
// On PostgreSQL it costs three statements after the lock whatever it seals: the unsealed audit
// rows come with the checkpoint, the unsealed events with the stream's last sequence, and one
// statement numbers both and moves the checkpoint (seven before; each is a round trip, and a
// writer's seal follows its commit). On SQLite the statements run in process.
func (e *Engine) sealIn(ctx context.Context, tx *ent.Tx) (_ []Event, sealed, more bool, _ error) {
	c := tx.Client()
	pg := e.dialect == Postgres
	aq := c.AuditEvent.Query().Where(unsealed[predicate.AuditEvent]()).
		Order(ent.Asc(auditevent.FieldID)).Limit(sealBatch)
	if pg {
		aq.Modify(func(s *entsql.Selector) {
			s.AppendSelectExprAs(entsql.Raw(`(SELECT row_to_json(c)::text FROM (SELECT sequence, hash, legacy_until, mac
				FROM audit_checkpoints ORDER BY id LIMIT 1) AS c)`), sealCheckpointColumn)
		})
	}
	audits, err := aq.All(ctx)
	if err != nil {
		return nil, false, false, fmt.Errorf("reading unsealed audit events: %w", err)
	}
	var auditUpdate *rowsUpdate
	var head checkpoint
	if len(audits) > 0 {
		if pg {
			head, err = e.checkpointOf(ctx, c, audits[0])
		} else {
			head, err = e.readCheckpoint(ctx, c)
		}
		if err != nil {
			return nil, false, false, err
		}
		u := &rowsUpdate{table: "audit_events", ids: make([]int64, len(audits)), seqs: make([]int64, len(audits)),
			prevs: make([]string, len(audits)), hashes: make([]string, len(audits))}
		for i, a := range audits {
			rec := recordOf(a)
			rec.Sequence, rec.PrevHash = head.sequence+1, head.hash
			h := rec.mac(e.auditKey)
			u.ids[i], u.seqs[i], u.prevs[i], u.hashes[i] = int64(a.ID), rec.Sequence, rec.PrevHash, h
			head.sequence, head.hash = rec.Sequence, h
		}
		auditUpdate = u
		if !pg {
			if err := e.updateRows(ctx, tx, u); err != nil {
				return nil, false, false, fmt.Errorf("sealing audit events: %w", err)
			}
			if err := e.moveCheckpoint(ctx, c, head); err != nil {
				return nil, false, false, err
			}
		}
	}

	eq := c.Event.Query().Where(unsealed[predicate.Event]()).
		Order(ent.Asc(event.FieldID)).Limit(sealBatch)
	if pg {
		eq.Modify(func(s *entsql.Selector) {
			s.AppendSelectExprAs(entsql.Raw(`(SELECT COALESCE(max(sequence), 0) FROM events WHERE sequence > 0)`), sealLastSequenceColumn)
		})
	}
	rows, err := eq.All(ctx)
	if err != nil {
		return nil, false, false, fmt.Errorf("reading unsealed events: %w", err)
	}
	var out []Event
	var eventUpdate *rowsUpdate
	if len(rows) > 0 {
		var seq int64
		if pg {
			seq, err = lastSequenceOf(rows[0])
		} else {
			seq, err = lastEventSequence(ctx, c)
		}
		if err != nil {
			return nil, false, false, err
		}
		u := &rowsUpdate{table: "events", ids: make([]int64, len(rows)), seqs: make([]int64, len(rows))}
		out = make([]Event, 0, len(rows))
		for i, row := range rows {
			seq++
			row.Sequence = seq
			ev, err := eventOf(row)
			if err != nil {
				return nil, false, false, err
			}
			out = append(out, ev)
			u.ids[i], u.seqs[i] = int64(row.ID), seq
		}
		eventUpdate = u
		if !pg {
			if err := e.updateRows(ctx, tx, u); err != nil {
				return nil, false, false, fmt.Errorf("sealing events: %w", err)
			}
		}
	}
	if pg && (auditUpdate != nil || eventUpdate != nil) {
		if err := e.sealPostgres(ctx, tx, c, auditUpdate, eventUpdate, head); err != nil {
			return nil, false, false, err
		}
	}
	if auditUpdate != nil {
		e.sawHead(head.sequence)
	}
	return out, len(audits) > 0 || len(rows) > 0, len(audits) == sealBatch || len(rows) == sealBatch, nil
}

// The columns the PostgreSQL sealer adds to its reads: the checkpoint (as JSON) beside the
// unsealed audit rows, the stream's last sequence beside the unsealed events.
const (
	sealCheckpointColumn   = "cairn_checkpoint"
	sealLastSequenceColumn = "cairn_last_sequence"
)

// checkpointOf is readCheckpoint from the checkpoint read beside an unsealed audit row (the
// fallback for a database without one reads the chain's head).
func (e *Engine) checkpointOf(ctx context.Context, c *ent.Client, a *ent.AuditEvent) (checkpoint, error) {
	v, err := a.Value(sealCheckpointColumn)
	if err != nil {
		return checkpoint{}, fmt.Errorf("reading the audit checkpoint: %w", err)
	}
	var raw string
	switch x := v.(type) {
	case nil:
		return e.readCheckpoint(ctx, c) // none yet: readCheckpoint finds the chain's head
	case string:
		raw = x
	case []byte:
		raw = string(x)
	default:
		return checkpoint{}, fmt.Errorf("reading the audit checkpoint: unexpected %T", v)
	}
	var row struct {
		Sequence    int64  `json:"sequence"`
		Hash        string `json:"hash"`
		LegacyUntil int64  `json:"legacy_until"`
		MAC         string `json:"mac"`
	}
	if err := json.Unmarshal([]byte(raw), &row); err != nil {
		return checkpoint{}, fmt.Errorf("reading the audit checkpoint: %w", err)
	}
	cp := checkpoint{exists: true, sequence: row.Sequence, hash: row.Hash, legacyUntil: row.LegacyUntil}
	if !hmac.Equal([]byte(cp.mac(e.auditKey)), []byte(row.MAC)) {
		return cp, fmt.Errorf("the audit checkpoint (head %d) does not match its MAC: it was edited, or this server has another audit key", row.Sequence)
	}
	return cp, nil
}

// lastSequenceOf is lastEventSequence from the value read beside an unsealed event.
func lastSequenceOf(row *ent.Event) (int64, error) {
	v, err := row.Value(sealLastSequenceColumn)
	if err != nil {
		return 0, fmt.Errorf("reading event sequence: %w", err)
	}
	switch x := v.(type) {
	case int64:
		return x, nil
	case nil:
		return 0, nil
	default:
		return 0, fmt.Errorf("reading event sequence: unexpected %T", v)
	}
}

// moveCheckpoint stores the chain's new head and its MAC.
func (e *Engine) moveCheckpoint(ctx context.Context, c *ent.Client, head checkpoint) error {
	mac := head.mac(e.auditKey)
	var err error
	if head.exists {
		err = c.AuditCheckpoint.Update().SetSequence(head.sequence).SetHash(head.hash).
			SetMAC(mac).SetUpdatedAt(e.clock.Now()).Exec(ctx)
	} else {
		err = c.AuditCheckpoint.Create().SetSequence(head.sequence).SetHash(head.hash).
			SetLegacyUntil(head.legacyUntil).SetMAC(mac).SetUpdatedAt(e.clock.Now()).Exec(ctx)
	}
	if err != nil {
		return fmt.Errorf("moving the audit checkpoint: %w", err)
	}
	return nil
}

// rowsUpdate is what a seal sets on one table's rows: sequence, and for audit rows prev_hash
// and hash, by id.
type rowsUpdate struct {
	table         string
	ids, seqs     []int64
	prevs, hashes []string
}

// sealPostgres numbers the audit rows and events and moves the checkpoint in one statement
// (data-modifying WITH clauses); a first checkpoint is inserted by a second one.
func (e *Engine) sealPostgres(ctx context.Context, tx *ent.Tx, c *ent.Client, audits, events *rowsUpdate, head checkpoint) error {
	var with []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if audits != nil {
		with = append(with, `a AS (UPDATE audit_events AS t SET sequence = v.seq, prev_hash = v.prev, hash = v.hash FROM
			(SELECT unnest(`+arg(audits.ids)+`::bigint[]) AS id, unnest(`+arg(audits.seqs)+`::bigint[]) AS seq,
			 unnest(`+arg(audits.prevs)+`::text[]) AS prev, unnest(`+arg(audits.hashes)+`::text[]) AS hash) AS v
			WHERE t.id = v.id RETURNING 1)`)
	}
	if events != nil {
		with = append(with, `e AS (UPDATE events AS t SET sequence = v.seq FROM
			(SELECT unnest(`+arg(events.ids)+`::bigint[]) AS id, unnest(`+arg(events.seqs)+`::bigint[]) AS seq) AS v
			WHERE t.id = v.id RETURNING 1)`)
	}
	var q string
	if audits != nil && head.exists {
		q = `WITH ` + strings.Join(with, ", ") + ` UPDATE audit_checkpoints SET sequence = ` + arg(head.sequence) +
			`, hash = ` + arg(head.hash) + `, mac = ` + arg(head.mac(e.auditKey)) + `, updated_at = ` + arg(e.clock.Now())
	} else {
		q = `WITH ` + strings.Join(with, ", ") + ` SELECT (SELECT count(*) FROM ` + map[bool]string{true: "a", false: "e"}[audits != nil] + `)`
		if audits != nil && events != nil {
			q += `, (SELECT count(*) FROM e)`
		}
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("sealing audit events and events: %w", err)
	}
	if audits != nil && !head.exists {
		return e.moveCheckpoint(ctx, c, head)
	}
	return nil
}

// unsealed selects the rows waiting for the sealer with the literal condition `sequence < 0`,
// which the partial indexes auditevent_unsealed and event_unsealed are made of: with a bound
// parameter instead, the planners cannot use them and walk the table.
func unsealed[P ~func(*entsql.Selector)]() P {
	return func(s *entsql.Selector) { s.Where(entsql.ExprP(s.C("sequence") + " < 0")) }
}

// lastEventSequence returns the stream's last sequence (0 when it is empty).
func lastEventSequence(ctx context.Context, c *ent.Client) (int64, error) {
	last, err := c.Event.Query().Where(event.SequenceGT(0)).Order(ent.Desc(event.FieldSequence)).
		Select(event.FieldSequence).First(ctx)
	switch {
	case ent.IsNotFound(err):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("reading event sequence: %w", err)
	}
	return last.Sequence, nil
}

// sawHead raises headSeen to seq.
func (e *Engine) sawHead(seq int64) {
	e.sealMu.Lock()
	e.headSeen = max(e.headSeen, seq)
	e.sealMu.Unlock()
}

// updateRows sets sequence (and, for audit rows, prev_hash and hash) of u's rows by id, one
// statement per row (SQLite: in process, no round trip).
func (e *Engine) updateRows(ctx context.Context, tx *ent.Tx, u *rowsUpdate) error {
	q := `UPDATE ` + u.table + ` SET sequence = ? WHERE id = ?`
	if u.prevs != nil {
		q = `UPDATE ` + u.table + ` SET sequence = ?, prev_hash = ?, hash = ? WHERE id = ?`
	}
	for i := range u.ids {
		args := []any{u.seqs[i], u.ids[i]}
		if u.prevs != nil {
			args = []any{u.seqs[i], u.prevs[i], u.hashes[i], u.ids[i]}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// recordOf returns the hashed content of a stored audit event.
func recordOf(ev *ent.AuditEvent) auditRecord {
	return auditRecord{
		Sequence: ev.Sequence, Time: ev.Time, Actor: ev.Actor, OnBehalfOf: ev.OnBehalfOf,
		Action: ev.Action, TargetType: ev.TargetType, TargetID: ev.TargetID,
		Before: ev.Before, After: ev.After, PrevHash: ev.PrevHash,
	}
}

// encode is the length-prefixed encoding of the record's fields, so that no two different
// records share one.
func (r auditRecord) encode() string {
	var b strings.Builder
	for _, f := range []string{
		strconv.FormatInt(r.Sequence, 10), r.Time.UTC().Format(time.RFC3339Nano), r.Actor, r.OnBehalfOf,
		r.Action, r.TargetType, r.TargetID, r.Before, r.After, r.PrevHash,
	} {
		fmt.Fprintf(&b, "%d:%s;", len(f), f)
	}
	return b.String()
}

// mac is HMAC-SHA256 of the record with the audit key: without the key, an edited row's MAC
// (and every later one) cannot be recomputed.
func (r auditRecord) mac(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(r.encode()))
	return hex.EncodeToString(m.Sum(nil))
}
