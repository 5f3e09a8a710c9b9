package eventbus

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/internal/backoff"
)

// DefaultPGChannel is the LISTEN/NOTIFY channel that replicas share.
const DefaultPGChannel = "cairn_events"

// maxPGPayload keeps a NOTIFY payload under PostgreSQL's 8000-byte limit.
const maxPGPayload = 7900

// PG carries events between server replicas that share one PostgreSQL
// database, over LISTEN/NOTIFY. Publish hands events to the local bus at once
// and queues them for the other replicas; Run sends the queue (in order, as
// many events as are waiting in one statement, off the publisher's path) and
// listens, republishing the other replicas' events on the local bus. A replica
// ignores its own notifications, so every local subscriber sees each event
// once.
//
// Notifications are not durable: while the listening connection is down,
// events from other replicas are lost. After a reconnect every local
// subscriber is therefore dropped as lagged, and re-reads the database. The
// same happens on the other replicas when this one's queue overflows: Publish
// never makes a committer wait, it drops and the notify loop sends a resync.
type PG struct {
	local   *Bus
	db      *sql.DB
	dsn     string
	channel string
	origin  string
	// ownPrefix starts the payloads this replica sends (pgMessage's first member).
	ownPrefix string
	log       *slog.Logger

	listening     chan struct{}
	listeningOnce sync.Once
	outbox        chan []delivery.Event // to NOTIFY, in publication order
	// overflowed is set when Publish found the outbox full and dropped a batch instead of
	// waiting: the notify loop then tells the other replicas to resync.
	overflowed atomic.Bool
}

// pgOutbox bounds the batches waiting for NOTIFY; a publisher that finds it full notifies
// itself, so nothing is dropped and order holds behind what is queued.
const pgOutbox = 4096

var _ delivery.Publisher = (*PG)(nil)

// PGOptions configure a PG bus.
type PGOptions struct {
	// Channel is the NOTIFY channel; DefaultPGChannel when empty.
	Channel string
	Logger  *slog.Logger
}

// NewPG returns a bus that fans out on local and, through db (NOTIFY) and a
// dedicated connection to dsn (LISTEN, opened by Run), to other replicas.
func NewPG(local *Bus, db *sql.DB, dsn string, opts PGOptions) *PG {
	var b [8]byte
	_, _ = rand.Read(b[:])
	p := &PG{
		local:     local,
		db:        db,
		dsn:       dsn,
		channel:   opts.Channel,
		origin:    hex.EncodeToString(b[:]),
		log:       opts.Logger,
		listening: make(chan struct{}),
		outbox:    make(chan []delivery.Event, pgOutbox),
	}
	if p.channel == "" {
		p.channel = DefaultPGChannel
	}
	p.ownPrefix = `{"o":"` + p.origin + `"`
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.log = p.log.With("component", "eventbus")
	return p
}

// pgMessage is the NOTIFY payload: events in publication order (Events), or word that the
// sender dropped some (Resync), so that the receivers' subscribers re-read the database.
//
// A payload carries as many events as fit under maxPGPayload: PostgreSQL queues, signals and
// sends each notification to every listening replica on its own, so a release's eight events
// are one notification instead of eight. Event is the one-event form an earlier version sent
// and read; a batch also sets Resync, so that a replica of that version, which reads only
// Event, drops its subscribers to re-read the database instead of taking the batch for an
// empty event. This version reads Events first.
type pgMessage struct {
	Origin string           `json:"o"`
	Event  delivery.Event   `json:"e"`
	Events []delivery.Event `json:"es,omitempty"`
	Resync bool             `json:"r,omitempty"`
}

// Publish delivers events to the local subscribers, then queues them for the
// other replicas (Run notifies them). A failed NOTIFY is logged, at the edge,
// and not retried: the events are in the database, and other replicas'
// subscribers catch up when they next re-read it.
func (p *PG) Publish(ctx context.Context, events []delivery.Event) {
	p.local.Publish(ctx, events)
	if len(events) == 0 {
		return
	}
	select {
	case p.outbox <- events:
	default:
		// Full (Run is behind, or not running). The publisher is a committing transaction's
		// caller: it never waits. The events are in the database; the other replicas are told
		// to resync (their subscribers re-read it), as after a lost LISTEN connection.
		if !p.overflowed.Swap(true) {
			p.log.Warn("replica notifications are behind; dropping events and asking replicas to resync", "events", len(events))
		}
	}
}

// notifyLoop sends the queued events until ctx ends, then what is still queued.
func (p *PG) notifyLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			p.notifyQueued(context.WithoutCancel(ctx))
			return
		case events := <-p.outbox:
			p.notify(ctx, p.drain(events))
			p.resyncIfOverflowed(ctx)
		}
	}
}

// resyncIfOverflowed tells the other replicas to drop their subscribers as lagged when Publish
// dropped events since the last call.
func (p *PG) resyncIfOverflowed(ctx context.Context) {
	if !p.overflowed.Swap(false) {
		return
	}
	b, err := json.Marshal(pgMessage{Origin: p.origin, Resync: true})
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := p.db.ExecContext(ctx, "SELECT pg_notify($1, $2)", p.channel, string(b)); err != nil {
		p.log.Error("asking replicas to resync", "err", err)
	}
}

// drain appends to events whatever else is queued, without waiting.
func (p *PG) drain(events []delivery.Event) []delivery.Event {
	for {
		select {
		case more := <-p.outbox:
			events = append(events, more...)
		default:
			return events
		}
	}
}

func (p *PG) notifyQueued(ctx context.Context) {
	select {
	case events := <-p.outbox:
		p.notify(ctx, p.drain(events))
	default:
	}
}

// notify sends events in one statement (pg_notify over an array of payloads, in order), as
// few payloads as the NOTIFY limit allows.
func (p *PG) notify(ctx context.Context, events []delivery.Event) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	payloads := p.payloads(events)
	if len(payloads) == 0 {
		return
	}
	if _, err := p.db.ExecContext(ctx, "SELECT pg_notify($1, x) FROM unnest($2::text[]) AS x", p.channel, payloads); err != nil {
		p.log.Error("notifying replicas", "events", len(events), "payloads", len(payloads), "err", err)
	}
}

// payloads encodes events into batches (pgMessage), each under maxPGPayload, in order. An
// event too large for NOTIFY on its own goes without its Data and Lines, as ids only
// (subscribers re-read the rest); one too large even so is logged and left out.
func (p *PG) payloads(events []delivery.Event) []string {
	head := `{"o":"` + p.origin + `","r":true,"es":[`
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			b.WriteString("]}")
			out = append(out, b.String())
			b.Reset()
		}
	}
	for _, ev := range events {
		e, err := json.Marshal(ev)
		if err == nil && len(head)+len(e)+2 > maxPGPayload {
			ev.Data, ev.Lines = nil, nil
			if e, err = json.Marshal(ev); err == nil && len(head)+len(e)+2 > maxPGPayload {
				err = fmt.Errorf("event of %d bytes without data exceeds the NOTIFY limit", len(e))
			}
		}
		if err != nil {
			p.log.Error("encoding event for NOTIFY", "type", ev.Type, "sequence", ev.Sequence, "err", err)
			continue
		}
		if b.Len() > 0 && b.Len()+1+len(e)+2 > maxPGPayload {
			flush()
		}
		if b.Len() == 0 {
			b.WriteString(head)
		} else {
			b.WriteByte(',')
		}
		b.Write(e)
	}
	flush()
	return out
}

// Listening is closed once Run first listens: from then on, other replicas'
// events reach the local bus.
func (p *PG) Listening() <-chan struct{} { return p.listening }

// Run listens for other replicas' events until ctx ends, reconnecting with
// backoff (1 s doubling to 30 s) when the connection fails. It returns nil
// when ctx ends.
func (p *PG) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() { defer close(done); p.notifyLoop(ctx) }()
	defer func() { <-done }()
	retry := backoff.Retrier{Policy: backoff.Policy{Base: time.Second, Max: 30 * time.Second}}
	connected := false
	for {
		err := p.listen(ctx, func() {
			if connected {
				// Events may have been missed while disconnected.
				p.local.dropAll()
			}
			connected = true
			retry.Reset()
			p.listeningOnce.Do(func() { close(p.listening) })
		})
		if ctx.Err() != nil {
			return nil
		}
		wait := retry.Next()
		p.log.Warn("listening for replica events", "err", err, "retry_in", wait)
		if !backoff.Sleep(ctx, wait) {
			return nil
		}
	}
}

// listen runs one LISTEN connection until it fails or ctx ends.
func (p *PG) listen(ctx context.Context, onListening func()) error {
	conn, err := pgx.Connect(ctx, p.dsn)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{p.channel}.Sanitize()); err != nil {
		return fmt.Errorf("listening on %s: %w", p.channel, err)
	}
	onListening()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("waiting for notifications: %w", err)
		}
		if strings.HasPrefix(n.Payload, p.ownPrefix) {
			continue // this replica's own event: its subscribers have it
		}
		var m pgMessage
		if err := json.Unmarshal([]byte(n.Payload), &m); err != nil {
			p.log.Warn("ignoring malformed replica event", "err", err)
			continue
		}
		if m.Origin == p.origin {
			continue
		}
		switch {
		case len(m.Events) > 0:
			for i := range m.Events {
				m.Events[i].Remote = true
			}
			p.local.Publish(ctx, m.Events)
		case m.Resync:
			p.local.dropAll() // the sender dropped events: subscribers re-read the database
		default: // one event, as an earlier version sends it
			m.Event.Remote = true
			p.local.Publish(ctx, []delivery.Event{m.Event})
		}
	}
}
