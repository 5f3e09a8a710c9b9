package delivery_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/server/eventbus"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// handBus is a Subscriber whose subscriptions the test feeds by hand: it
// hands each new subscription's channel to the test.
type handBus struct{ subscribed chan chan delivery.Event }

func (b *handBus) Subscribe() (<-chan delivery.Event, func()) {
	ch := make(chan delivery.Event, 16)
	b.subscribed <- ch
	return ch, func() {}
}

// toggler emits one persisted event per call (an agent enabled or disabled)
// and returns it as stored.
func toggler(t *testing.T, f *fixture) func() delivery.Event {
	agent := f.agent()
	enabled := true
	return func() delivery.Event {
		t.Helper()
		enabled = !enabled
		if _, err := f.e.SetAgentEnabled(f.ctx, f.admin, agent, enabled); err != nil {
			t.Fatal(err)
		}
		evs, err := f.e.StoredEvents(f.ctx, 0, 500)
		if err != nil {
			t.Fatal(err)
		}
		return evs[len(evs)-1]
	}
}

func wantSeq(t *testing.T, out <-chan delivery.Event, seq int64) {
	t.Helper()
	select {
	case ev, ok := <-out:
		if !ok || ev.Sequence != seq {
			t.Fatalf("got event %d (open %v), want %d", ev.Sequence, ok, seq)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no event; want %d", seq)
	}
}

// TestFollowEventsNoGapNoDuplicate feeds a stream live events out of order,
// twice, and drops its subscription: it delivers each stored event once, in
// order.
func TestFollowEventsNoGapNoDuplicate(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		toggle := toggler(t, f)
		viewer := f.user("vera", "VIEWER")
		e1, e2, e3 := toggle(), toggle(), toggle()
		bus := &handBus{subscribed: make(chan chan delivery.Event, 4)}
		ctx, cancel := context.WithCancel(f.ctx)
		defer cancel()
		out, err := f.e.FollowEvents(ctx, bus, viewer, delivery.EventFilter{Types: delivery.AgentEventTypes}, 0)
		if err != nil {
			t.Fatal(err)
		}
		live := <-bus.subscribed
		for _, ev := range []delivery.Event{e1, e2, e3} {
			wantSeq(t, out, ev.Sequence)
		}
		e4, e5 := toggle(), toggle()
		live <- e5 // before e4: a gap, read from the store
		wantSeq(t, out, e4.Sequence)
		wantSeq(t, out, e5.Sequence)
		live <- e4 // duplicates
		live <- e5
		live <- e3
		e6 := toggle()
		live <- e6
		wantSeq(t, out, e6.Sequence)
		e7 := toggle() // stored, never published
		close(live)    // lagged: the stream resubscribes and re-reads
		live = <-bus.subscribed
		wantSeq(t, out, e7.Sequence)
		live <- e7
		e8 := toggle()
		live <- e8
		wantSeq(t, out, e8.Sequence)
		cancel()
		for range out { // closes once ctx ended
		}

		// From now: nothing stored, the next live event.
		ctx2, cancel2 := context.WithCancel(f.ctx)
		defer cancel2()
		out, err = f.e.FollowEvents(ctx2, bus, viewer, delivery.EventFilter{}, delivery.FromNow)
		if err != nil {
			t.Fatal(err)
		}
		live = <-bus.subscribed
		e9 := toggle()
		live <- e9
		wantSeq(t, out, e9.Sequence)

		if _, err := f.e.FollowEvents(f.ctx, bus, viewer, delivery.EventFilter{}, -2); delivery.CodeOf(err) != delivery.CodeInvalidInput {
			t.Fatalf("negative afterSequence: %v", err)
		}
		if _, err := f.e.FollowEvents(f.ctx, bus, viewer, delivery.EventFilter{DefinitionID: 424242}, 0); delivery.CodeOf(err) != delivery.CodeNotFound {
			t.Fatalf("unknown definition: %v", err)
		}
	})
}

// TestFollowEventsNotified is TestFollowEventsNoGapNoDuplicate on the
// server's bus, whose subscriptions have no channel (NotifySubscriber): the
// stream runs only when the bus notifies it, reads the gap from the store,
// skips duplicates, resubscribes and re-reads after it lagged, and
// unsubscribes when ctx ends.
func TestFollowEventsNotified(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		toggle := toggler(t, f)
		viewer := f.user("vera", "VIEWER")
		e1, e2 := toggle(), toggle()
		bus := eventbus.New(3)
		publish := func(evs ...delivery.Event) { bus.Publish(f.ctx, evs) }
		ctx, cancel := context.WithCancel(f.ctx)
		defer cancel()
		out, err := f.e.FollowEvents(ctx, bus, viewer, delivery.EventFilter{Types: delivery.AgentEventTypes}, 0)
		if err != nil {
			t.Fatal(err)
		}
		wantSeq(t, out, e1.Sequence)
		wantSeq(t, out, e2.Sequence) // read after subscribing: the stream is on the bus
		if n := bus.Subscribers(); n != 1 {
			t.Fatalf("%d bus subscribers, want 1", n)
		}
		e3, e4 := toggle(), toggle()
		publish(e4) // before e3: a gap, read from the store
		wantSeq(t, out, e3.Sequence)
		wantSeq(t, out, e4.Sequence)
		publish(e3, e4) // duplicates
		e5 := toggle()
		publish(e5)
		wantSeq(t, out, e5.Sequence)
		// Five events in one publication while the stream waits on out: the
		// bus's buffer is 3, so it lags; it hands out what it had queued,
		// then resubscribes and reads the rest from the store.
		var burst []delivery.Event
		for range 5 {
			burst = append(burst, toggle())
		}
		publish(burst...)
		for _, ev := range burst {
			wantSeq(t, out, ev.Sequence)
		}
		if bus.Lagged() != 1 {
			t.Fatalf("lagged %d times, want 1", bus.Lagged())
		}
		e6 := toggle()
		publish(e6)
		wantSeq(t, out, e6.Sequence)
		// Idle, the stream gives its goroutine up (after a linger), and the
		// next event starts one again.
		waitFollowers(t, 0)
		e7 := toggle()
		publish(e7)
		wantSeq(t, out, e7.Sequence)
		cancel()
		for range out { // closes once ctx ended
		}
		if n := bus.Subscribers(); n != 0 {
			t.Fatalf("%d bus subscribers after the end, want 0", n)
		}
		waitFollowers(t, 0)
	})
}

// waitFollowers waits until want goroutines run a notified stream (drain),
// and fails with their stacks if that does not happen within 10 seconds.
func waitFollowers(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 1<<20)
	for {
		stacks := string(buf[:runtime.Stack(buf, true)])
		n := strings.Count(stacks, "delivery.(*notifiedFollower).drain(")
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines run a notified stream, want %d\n%s", n, want, stacks)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPruneEvents keeps young events and the newest ones, and those that
// outgoing hooks have not read; a stream that would resume past pruned
// events is refused.
func TestPruneEvents(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		f.e = delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: f.clk,
			EventRetentionAge: time.Hour, EventRetentionCount: 2})
		toggle := toggler(t, f)
		var seqs []int64
		for range 5 {
			seqs = append(seqs, toggle().Sequence)
		}
		f.clk.Advance(2 * time.Hour)
		seqs = append(seqs, toggle().Sequence) // young
		oldest := func() int64 {
			evs, err := f.e.StoredEvents(f.ctx, 0, 1)
			if err != nil {
				t.Fatal(err)
			}
			return evs[0].Sequence
		}
		// The hook outbox has read up to the third event only.
		if err := db.Client.StreamCursor.Create().SetName("hooks").SetSequence(seqs[2]).
			SetUpdatedAt(f.clk.Now()).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := f.e.PruneEvents(f.ctx); err != nil || n != 3 || oldest() != seqs[3] {
			t.Fatalf("pruned %d (%v), oldest %d; want 3 and %d", n, err, oldest(), seqs[3])
		}
		if _, err := db.Client.StreamCursor.Update().SetSequence(seqs[5]).Save(f.ctx); err != nil {
			t.Fatal(err)
		}
		// The newest two stay whatever their age.
		if n, err := f.e.PruneEvents(f.ctx); err != nil || n != 1 || oldest() != seqs[4] {
			t.Fatalf("pruned %d (%v), oldest %d; want 1 and %d", n, err, oldest(), seqs[4])
		}
		viewer := f.user("vera", "VIEWER")
		bus := &handBus{subscribed: make(chan chan delivery.Event, 4)}
		if _, err := f.e.FollowEvents(f.ctx, bus, viewer, delivery.EventFilter{}, seqs[2]); delivery.CodeOf(err) != delivery.CodeConflict {
			t.Fatalf("resuming after pruned events: %v", err)
		}
		ctx, cancel := context.WithCancel(f.ctx)
		defer cancel()
		out, err := f.e.FollowEvents(ctx, bus, viewer, delivery.EventFilter{}, seqs[3])
		if err != nil {
			t.Fatal(err)
		}
		<-bus.subscribed
		wantSeq(t, out, seqs[4])
		wantSeq(t, out, seqs[5])
	})
}
