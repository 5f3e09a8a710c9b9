package eventbus

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairnhq/cairn/delivery"
)

// DefaultPGChannel is the LISTEN/NOTIFY channel that replicas share.
const DefaultPGChannel = "cairn_events"

// maxPGPayload keeps a NOTIFY payload under PostgreSQL's 8000-byte limit.
const maxPGPayload = 7900

// PG carries events between server replicas that share one PostgreSQL
// database, over LISTEN/NOTIFY. Publish hands events to the local bus at once
// and NOTIFYs the other replicas; Run listens and republishes their events on
// the local bus. A replica ignores its own notifications, so every local
// subscriber sees each event once.
//
// Notifications are not durable: while the listening connection is down,
// events from other replicas are lost. After a reconnect every local
// subscriber is therefore dropped as lagged, and re-reads the database.
type PG struct {
	local   *Bus
	db      *sql.DB
	dsn     string
	channel string
	origin  string
	log     *slog.Logger

	listening     chan struct{}
	listeningOnce sync.Once
}

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
	}
	if p.channel == "" {
		p.channel = DefaultPGChannel
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.log = p.log.With("component", "eventbus")
	return p
}

// pgMessage is the NOTIFY payload.
type pgMessage struct {
	Origin string         `json:"o"`
	Event  delivery.Event `json:"e"`
}

// Publish delivers events to the local subscribers, then notifies the other
// replicas. A failed NOTIFY is logged here, at the edge, and not retried: the
// events are in the database, and other replicas' subscribers catch up when
// they next re-read it.
func (p *PG) Publish(ctx context.Context, events []delivery.Event) {
	p.local.Publish(ctx, events)
	if len(events) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, ev := range events {
		payload, err := p.payload(ev)
		if err != nil {
			p.log.Error("encoding event for NOTIFY", "type", ev.Type, "sequence", ev.Sequence, "err", err)
			continue
		}
		if _, err := p.db.ExecContext(ctx, "SELECT pg_notify($1, $2)", p.channel, payload); err != nil {
			p.log.Error("notifying replicas", "type", ev.Type, "sequence", ev.Sequence, "err", err)
			return
		}
	}
}

// payload encodes ev; an event too large for NOTIFY goes without its Data, as
// ids only (subscribers re-read the rest).
func (p *PG) payload(ev delivery.Event) (string, error) {
	b, err := json.Marshal(pgMessage{Origin: p.origin, Event: ev})
	if err != nil {
		return "", err
	}
	if len(b) > maxPGPayload {
		ev.Data = nil
		if b, err = json.Marshal(pgMessage{Origin: p.origin, Event: ev}); err != nil {
			return "", err
		}
		if len(b) > maxPGPayload {
			return "", fmt.Errorf("event of %d bytes without data exceeds the NOTIFY limit", len(b))
		}
	}
	return string(b), nil
}

// Listening is closed once Run first listens: from then on, other replicas'
// events reach the local bus.
func (p *PG) Listening() <-chan struct{} { return p.listening }

// Run listens for other replicas' events until ctx ends, reconnecting with
// backoff (1 s doubling to 30 s) when the connection fails. It returns nil
// when ctx ends.
func (p *PG) Run(ctx context.Context) error {
	backoff := time.Second
	connected := false
	for {
		err := p.listen(ctx, func() {
			if connected {
				// Events may have been missed while disconnected.
				p.local.dropAll()
			}
			connected = true
			backoff = time.Second
			p.listeningOnce.Do(func() { close(p.listening) })
		})
		if ctx.Err() != nil {
			return nil
		}
		p.log.Warn("listening for replica events", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
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
		var m pgMessage
		if err := json.Unmarshal([]byte(n.Payload), &m); err != nil {
			p.log.Warn("ignoring malformed replica event", "err", err)
			continue
		}
		if m.Origin == p.origin {
			continue
		}
		p.local.Publish(ctx, []delivery.Event{m.Event})
	}
}
