package eventbus_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/server/eventbus"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

func TestPGReplicasSeeEachOthersEvents(t *testing.T) {
	db := storagetest.Open(t, "postgres") // skips without CAIRN_TEST_DATABASE_URL
	var b [6]byte
	_, _ = rand.Read(b[:])
	channel := "cairn_test_" + hex.EncodeToString(b[:]) // tests share the database

	ctx, cancel := context.WithCancel(context.Background())
	type replica struct {
		local *eventbus.Bus
		pg    *eventbus.PG
		done  chan error
	}
	start := func() replica {
		local := eventbus.New(0)
		pg := eventbus.NewPG(local, db.SQL, db.URL, eventbus.PGOptions{Channel: channel})
		done := make(chan error, 1)
		go func() { done <- pg.Run(ctx) }()
		select {
		case <-pg.Listening():
		case <-time.After(10 * time.Second):
			t.Fatal("replica did not start listening")
		}
		return replica{local, pg, done}
	}
	a, bb := start(), start()
	subA := a.local.SubscribeFunc(nil)
	subB := bb.local.SubscribeFunc(nil)

	next := func(s *eventbus.Subscription) delivery.Event {
		t.Helper()
		select {
		case ev, ok := <-s.C:
			if !ok {
				t.Fatal("subscription closed")
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no event arrived")
			return delivery.Event{}
		}
	}

	a.pg.Publish(ctx, []delivery.Event{{Sequence: 1, Type: delivery.EventReleaseCreated, ReleaseID: 7, Data: map[string]any{"name": "R-7"}}})
	if ev := next(subA); ev.Sequence != 1 || ev.Remote {
		t.Fatalf("A's own subscriber got %+v; want it local (not Remote)", ev)
	}
	if ev := next(subB); ev.Sequence != 1 || ev.ReleaseID != 7 || ev.Data["name"] != "R-7" || !ev.Remote {
		t.Fatalf("B got %+v; want A's event marked Remote", ev)
	}

	big := map[string]any{"log": strings.Repeat("x", 9000)}
	bb.pg.Publish(ctx, []delivery.Event{{Sequence: 2, Type: delivery.EventLogAppended, JobID: 3, Data: big}})
	if ev := next(subB); ev.Sequence != 2 || ev.Data == nil {
		t.Fatalf("B's own subscriber got %+v", ev)
	}
	if ev := next(subA); ev.Sequence != 2 || ev.JobID != 3 || ev.Data != nil {
		t.Fatalf("A got %+v; want ids only for an oversized event", ev)
	}

	// A replica ignores its own NOTIFY: A sees 3 (locally) once, then B's 4
	// (A's NOTIFY of 3 reached A's listener before B's 4 did).
	a.pg.Publish(ctx, []delivery.Event{{Sequence: 3, Type: "x"}})
	next(subB)
	bb.pg.Publish(ctx, []delivery.Event{{Sequence: 4, Type: "y"}})
	if ev := next(subA); ev.Sequence != 3 {
		t.Fatalf("A got %d, want 3 once", ev.Sequence)
	}
	if ev := next(subA); ev.Sequence != 4 {
		t.Fatalf("A got %d after 3, want 4 (no duplicate)", ev.Sequence)
	}

	// A lost listening connection may have lost events: after reconnecting,
	// B drops its local subscribers as lagged so they re-read the database.
	if _, err := db.SQL.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query = $1", "LISTEN \""+channel+"\""); err != nil {
		t.Fatal(err)
	}
	// Both replicas' listeners were terminated (same query text): both drop.
	if ev := next(subB); ev.Sequence != 4 { // B's own, still buffered
		t.Fatalf("B had %d buffered, want 4", ev.Sequence)
	}
	for _, s := range []*eventbus.Subscription{subA, subB} {
		select {
		case ev, ok := <-s.C:
			if ok {
				t.Fatalf("unexpected event %+v", ev)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("subscriber not dropped after the listener reconnected")
		}
		if !s.Lagged() {
			t.Fatal("dropped subscriber not marked lagged")
		}
	}
	subB = bb.local.SubscribeFunc(nil)
	a.pg.Publish(ctx, []delivery.Event{{Sequence: 5, Type: "z"}})
	if ev := next(subB); ev.Sequence != 5 {
		t.Fatalf("after reconnect B got %d, want 5", ev.Sequence)
	}

	cancel()
	for _, r := range []replica{a, bb} {
		select {
		case err := <-r.done:
			if err != nil {
				t.Fatalf("Run = %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not end with its context")
		}
	}
}

// TestPGPublishNeverBlocks: a publisher (a committed transaction's caller) never waits for the
// NOTIFY queue. Past its capacity the events are dropped, and once the queue moves the other
// replicas are told to resync: their subscribers are dropped as lagged and re-read the database.
func TestPGPublishNeverBlocks(t *testing.T) {
	db := storagetest.Open(t, "postgres")
	var b [6]byte
	_, _ = rand.Read(b[:])
	channel := "cairn_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Replica B listens; replica A publishes before its Run starts, so its queue only fills.
	localB := eventbus.New(0)
	pgB := eventbus.NewPG(localB, db.SQL, db.URL, eventbus.PGOptions{Channel: channel})
	doneB := make(chan error, 1)
	go func() { doneB <- pgB.Run(ctx) }()
	select {
	case <-pgB.Listening():
	case <-time.After(10 * time.Second):
		t.Fatal("B did not start listening")
	}
	subB := localB.SubscribeFunc(nil)
	pgA := eventbus.NewPG(eventbus.New(0), db.SQL, db.URL, eventbus.PGOptions{Channel: channel})
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := 1; i <= 10000; i++ { // more batches than the queue holds
			pgA.Publish(ctx, []delivery.Event{{Sequence: int64(i), Type: "x"}})
		}
	}()
	select {
	case <-published:
	case <-time.After(20 * time.Second): // the old code waited 5 s per batch past the queue
		t.Fatal("Publish blocked on a full queue")
	}
	doneA := make(chan error, 1)
	go func() { doneA <- pgA.Run(ctx) }()
	// B receives what A had queued, then the resync: its subscriber ends as lagged.
	deadline := time.After(30 * time.Second)
	for {
		select {
		case _, ok := <-subB.C:
			if !ok {
				if !subB.Lagged() {
					t.Fatal("B's subscription ended without being marked lagged")
				}
				cancel()
				<-doneA
				<-doneB
				return
			}
		case <-deadline:
			t.Fatal("B was never told to resync")
		}
	}
}

// TestPGLogLinesArriveTyped: the lines of a log event published on one replica reach another
// replica's followers as lines (typed), not as JSON leftovers they cannot use.
func TestPGLogLinesArriveTyped(t *testing.T) {
	db := storagetest.Open(t, "postgres")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newReplicas(t, ctx, db)
	_, a := r.start()
	localB, _ := r.start()
	sub := localB.SubscribeFunc(nil)
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	a.Publish(ctx, []delivery.Event{{Type: delivery.EventLogAppended, JobID: 5, DeploymentID: 6,
		Lines: []delivery.LogLine{{Seq: 1, Step: 1, Time: at, Text: "hello"}, {Seq: 2, Step: 1, Time: at, Text: "world", AfterLoss: true}}}})
	select {
	case ev := <-sub.C:
		if !ev.Remote || len(ev.Lines) != 2 || ev.Lines[1].Text != "world" || !ev.Lines[1].AfterLoss || !ev.Lines[0].Time.Equal(at) {
			t.Fatalf("B got %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event arrived")
	}
	cancel()
	r.wait()
}

// TestPGBatchesEventsPerNotification: a batch of events goes to the other replicas in as few
// NOTIFY payloads as the limit allows, arrives whole and in order, and a payload of the one-event
// form an earlier version sends is still read. A batch tells a reader of that earlier form to
// resync rather than take it for an empty event; a hostile payload is ignored.
func TestPGBatchesEventsPerNotification(t *testing.T) {
	db := storagetest.Open(t, "postgres")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newReplicas(t, ctx, db)
	channel := r.channel

	// A bare listener counts the notifications and keeps their payloads.
	raw, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(context.Background())
	if _, err := raw.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	_, a := r.start()
	localB, _ := r.start()
	sub := localB.SubscribeFunc(nil)

	// 200 events of ~100 bytes, one of them over the limit on its own (sent as ids only).
	var events []delivery.Event
	for i := 1; i <= 200; i++ {
		ev := delivery.Event{Sequence: int64(i), Type: delivery.EventDeploymentStatusChanged, DeploymentID: i, Status: "QUEUED",
			Data: map[string]any{"note": strings.Repeat("n", 40)}}
		if i == 100 {
			ev.Data = map[string]any{"log": strings.Repeat("x", 9000)}
		}
		events = append(events, ev)
	}
	a.Publish(ctx, events)
	for i := 1; i <= 200; i++ {
		select {
		case ev := <-sub.C:
			if ev.Sequence != int64(i) || ev.DeploymentID != i || !ev.Remote {
				t.Fatalf("event %d: B got %+v", i, ev)
			}
			if (i == 100) != (ev.Data == nil) {
				t.Fatalf("event %d: data %v (only the oversized one goes without)", i, ev.Data)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d never arrived", i)
		}
	}
	var payloads []string
	for len(payloads) < 2 || !strings.Contains(payloads[len(payloads)-1], `"sequence":200,`) {
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		n, err := raw.WaitForNotification(wctx)
		wcancel()
		if err != nil {
			t.Fatalf("after %d notifications: %v", len(payloads), err)
		}
		if len(n.Payload) > 8000 {
			t.Fatalf("a payload of %d bytes (PostgreSQL's limit is 8000)", len(n.Payload))
		}
		payloads = append(payloads, n.Payload)
	}
	if len(payloads) > 10 {
		t.Fatalf("200 events took %d notifications; want them batched", len(payloads))
	}
	// What an earlier version reads of a batch: a resync, not an event.
	var old struct {
		Event  delivery.Event `json:"e"`
		Resync bool           `json:"r"`
	}
	if err := json.Unmarshal([]byte(payloads[0]), &old); err != nil || !old.Resync || old.Event.Type != "" {
		t.Fatalf("a batch read by the one-event form: %+v, %v; want a resync", old, err)
	}

	// The one-event form, and hostile payloads: read, and ignored.
	for _, p := range []string{`{"o":"elsewhere","e":{"sequence":201,"type":"x"}}`, `not json`, `{"o":"elsewhere","es":"no"}`, `[]`} {
		if _, err := db.SQL.ExecContext(ctx, "SELECT pg_notify($1, $2)", channel, p); err != nil {
			t.Fatal(err)
		}
	}
	a.Publish(ctx, []delivery.Event{{Sequence: 202, Type: "y"}})
	for _, want := range []int64{201, 202} {
		select {
		case ev, ok := <-sub.C:
			if !ok || ev.Sequence != want {
				t.Fatalf("B got %+v (open %v), want %d", ev, ok, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d never arrived", want)
		}
	}
	cancel()
	r.wait()
}

// replicas starts PG buses on one test channel of db, as replicas of one database.
type replicas struct {
	t       *testing.T
	ctx     context.Context
	db      *storage.DB
	channel string
	dones   []chan error
}

func newReplicas(t *testing.T, ctx context.Context, db *storage.DB) *replicas {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &replicas{t: t, ctx: ctx, db: db, channel: "cairn_test_" + hex.EncodeToString(b[:])} // tests share the server
}

// start starts a replica's bus and returns once it listens.
func (r *replicas) start() (*eventbus.Bus, *eventbus.PG) {
	r.t.Helper()
	local := eventbus.New(0)
	pg := eventbus.NewPG(local, r.db.SQL, r.db.URL, eventbus.PGOptions{Channel: r.channel})
	done := make(chan error, 1)
	r.dones = append(r.dones, done)
	go func() { done <- pg.Run(r.ctx) }()
	select {
	case <-pg.Listening():
	case <-time.After(10 * time.Second):
		r.t.Fatal("replica did not start listening")
	}
	return local, pg
}

// wait waits for every replica's Run to return (after ctx ended).
func (r *replicas) wait() {
	for _, d := range r.dones {
		<-d
	}
}
