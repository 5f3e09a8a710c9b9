package eventbus_test

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/server/eventbus"
)

func events(from, to int64, typ string) []delivery.Event {
	var out []delivery.Event
	for i := from; i <= to; i++ {
		out = append(out, delivery.Event{Sequence: i, Type: typ})
	}
	return out
}

// drain reads what is buffered on s (in C and queued behind it) without
// waiting for more.
func drain(s *eventbus.Subscription) (got []int64, open bool) {
	for {
		select {
		case ev, ok := <-s.C:
			if !ok {
				return got, false
			}
			got = append(got, ev.Sequence)
		default:
			if s.Buffered() > 0 {
				runtime.Gosched() // the queue's pump is moving events into C
				continue
			}
			// C of an ended subscription is closed in the step that emptied
			// its queue.
			select {
			case ev, ok := <-s.C:
				if !ok {
					return got, false
				}
				got = append(got, ev.Sequence)
			default:
				return got, true
			}
		}
	}
}

// publish runs Publish and fails the test if it does not return promptly.
func publish(t *testing.T, b *eventbus.Bus, evs []delivery.Event) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		b.Publish(context.Background(), evs)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // a blocked Publish never returns; a loaded CI machine with -race took over 5 s for 2,000 subscribers
		t.Fatal("Publish blocked")
	}
}

func TestFanOutInOrderWithFilters(t *testing.T) {
	t.Parallel()
	b := eventbus.New(0)
	all := b.SubscribeFunc(nil)
	approvals := b.SubscribeFunc(func(ev delivery.Event) bool { return ev.Type == delivery.EventApprovalPending })
	defer all.Close()
	defer approvals.Close()

	publish(t, b, events(1, 3, delivery.EventReleaseCreated))
	publish(t, b, events(4, 5, delivery.EventApprovalPending))
	publish(t, b, nil)
	publish(t, b, events(6, 6, delivery.EventReleaseCreated))

	if got, open := drain(all); !open || !equal(got, []int64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("unfiltered subscriber got %v (open %v)", got, open)
	}
	if got, open := drain(approvals); !open || !equal(got, []int64{4, 5}) {
		t.Fatalf("filtered subscriber got %v (open %v)", got, open)
	}
	if all.Lagged() || approvals.Lagged() {
		t.Fatal("a subscriber that kept up is marked lagged")
	}
}

func TestSlowSubscriberIsDroppedAsLagged(t *testing.T) {
	t.Parallel()
	b := eventbus.New(4)
	slow := b.SubscribeFunc(nil)
	fast := b.SubscribeFunc(nil)
	defer fast.Close()
	var fastGot []int64
	for i := int64(1); i <= 10; i++ {
		publish(t, b, events(i, i, "x"))
		got, open := drain(fast)
		if !open {
			t.Fatal("the fast subscriber was dropped")
		}
		fastGot = append(fastGot, got...)
	}
	if !equal(fastGot, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) {
		t.Fatalf("fast subscriber got %v", fastGot)
	}
	if !slow.Lagged() || b.Lagged() != 1 {
		t.Fatalf("slow subscriber not marked lagged (bus count %d)", b.Lagged())
	}
	// What was buffered before the drop is still readable, then C is closed:
	// the subscriber resumes from sequence 4 by re-reading the database.
	got, open := drain(slow)
	if open || !equal(got, []int64{1, 2, 3, 4}) {
		t.Fatalf("slow subscriber got %v, open %v; want [1 2 3 4], closed", got, open)
	}
	if fast.Lagged() {
		t.Fatal("fast subscriber marked lagged")
	}
	if n := b.Subscribers(); n != 1 {
		t.Fatalf("%d subscribers left, want 1", n)
	}
	slow.Close() // closing a dropped subscription is harmless
}

func TestOneBatchLargerThanTheBufferLagsOnce(t *testing.T) {
	t.Parallel()
	b := eventbus.New(2)
	s := b.SubscribeFunc(nil)
	publish(t, b, events(1, 5, "x"))
	got, open := drain(s)
	if open || !s.Lagged() || !equal(got, []int64{1, 2}) {
		t.Fatalf("got %v, open %v, lagged %v", got, open, s.Lagged())
	}
}

func TestCloseIsIdempotentAndStopsDelivery(t *testing.T) {
	t.Parallel()
	b := eventbus.New(8)
	s := b.SubscribeFunc(nil)
	s.Close()
	s.Close()
	publish(t, b, events(1, 1, "x"))
	if got, open := drain(s); open || len(got) != 0 || s.Lagged() {
		t.Fatalf("after Close: got %v, open %v, lagged %v", got, open, s.Lagged())
	}
	if b.Subscribers() != 0 {
		t.Fatal("closed subscription still registered")
	}
}

// TestConcurrentUseLeaksNoGoroutines publishes from several goroutines while
// subscribers come, read, lag and go; run it with -race.
func TestConcurrentUseLeaksNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	b := eventbus.New(16)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for p := range 4 {
		wg.Go(func() {
			for i := int64(0); ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				b.Publish(context.Background(), events(i, i+2, "p"+string(rune('0'+p))))
			}
		})
	}
	var subs sync.WaitGroup
	for i := range 50 {
		subs.Go(func() {
			s := b.SubscribeFunc(func(ev delivery.Event) bool { return ev.Sequence%2 == int64(i%2) })
			defer s.Close()
			n := 0
			for range s.C {
				n++
				if i%5 == 0 {
					// A slow reader: it will lag and see C closed.
					runtime.Gosched()
					continue
				}
				if n == 200 {
					return
				}
			}
			if !s.Lagged() {
				t.Error("channel closed without Close or lag")
			}
		})
	}
	subs.Wait()
	close(stop)
	wg.Wait()
	if n := b.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers left registered", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// BenchmarkPublishFanout1000 measures one Publish of one event to 1000
// subscribers (every one accepting it).
func BenchmarkPublishFanout1000(b *testing.B) {
	bus := eventbus.New(eventbus.DefaultBuffer)
	subs := make([]*eventbus.Subscription, 1000)
	for i := range subs {
		subs[i] = bus.SubscribeFunc(nil)
	}
	ev := []delivery.Event{{Type: delivery.EventDeploymentStatusChanged, Sequence: 1}}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i > 0 && i%eventbus.DefaultBuffer == 0 {
			b.StopTimer()
			for _, s := range subs {
				drain(s)
			}
			b.StartTimer()
		}
		bus.Publish(ctx, ev)
	}
	b.StopTimer()
	for _, s := range subs {
		if s.Lagged() {
			b.Fatal("a subscriber lagged: the benchmark measured drops, not sends")
		}
		s.Close()
	}
}

func TestWakeCoalescesAndEndsWithContext(t *testing.T) {
	before := runtime.NumGoroutine()
	b := eventbus.New(2)
	ctx, cancel := context.WithCancel(context.Background())
	wake := eventbus.Wake(ctx, b, func(ev delivery.Event) bool { return ev.Type == delivery.EventApprovalPending })
	waitWake := func() {
		t.Helper()
		select {
		case _, ok := <-wake:
			if !ok {
				t.Fatal("wake channel closed early")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no wake-up")
		}
	}
	publish(t, b, events(1, 1, delivery.EventReleaseCreated))
	publish(t, b, events(2, 2, delivery.EventApprovalPending))
	waitWake()
	// A burst far beyond the buffer: the helper lags, resubscribes, and
	// still wakes the loop.
	for i := int64(3); i < 100; i++ {
		publish(t, b, events(i, i, delivery.EventApprovalPending))
	}
	waitWake()
	if n := b.Subscribers(); n > 1 {
		t.Fatalf("%d subscriptions for one waker", n)
	}
	cancel()
	deadline := time.After(5 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-wake:
		case <-deadline:
			t.Fatal("wake channel not closed after cancel")
		}
	}
	if n := b.Subscribers(); n != 0 {
		t.Fatalf("%d subscriptions left after cancel", n)
	}
	end := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(end) {
			t.Fatalf("goroutines: %d before, %d after", before, runtime.NumGoroutine())
		}
		runtime.Gosched()
	}
}

// read reads n events from s, waiting for each (a deadline fails the test).
func read(t *testing.T, s *eventbus.Subscription, n int) []int64 {
	t.Helper()
	var got []int64
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case ev, ok := <-s.C:
			if !ok {
				return got
			}
			got = append(got, ev.Sequence)
		case <-timeout:
			t.Fatalf("after %d of %d events: nothing more arrived", len(got), n)
		}
	}
	return got
}

func seq(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// waitGoroutines waits until no more goroutines run than before (the pumps
// have returned).
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
	}
}

// TestBurstBeyondTheChannelIsQueuedInOrder: a subscriber's channel is small,
// but it may fall up to the bus's buffer behind: the rest is queued, in
// order, interleaved with new publications, and the queue's pump goes away
// once it is drained.
func TestBurstBeyondTheChannelIsQueuedInOrder(t *testing.T) {
	before := runtime.NumGoroutine()
	b := eventbus.New(64)
	s := b.SubscribeFunc(nil)
	defer s.Close()
	if cap(s.C) >= 64 {
		t.Fatalf("the channel has room for %d events up front", cap(s.C))
	}
	publish(t, b, events(1, 40, "x"))
	if n := s.Buffered(); n != 40 {
		t.Fatalf("Buffered() = %d after 40 events, want 40", n)
	}
	got := read(t, s, 10)
	publish(t, b, events(41, 60, "x")) // 50 unread: within the bound
	got = append(got, read(t, s, 50)...)
	if !equal(got, seq(1, 60)) || s.Lagged() {
		t.Fatalf("got %v (lagged %v), want 1…60 in order", got, s.Lagged())
	}
	waitGoroutines(t, before)
	// Idle again, and it can take another burst.
	publish(t, b, events(61, 100, "x"))
	if got := read(t, s, 40); !equal(got, seq(61, 100)) {
		t.Fatalf("second burst: got %v", got)
	}
	// The pump takes the last event off its queue just after handing it over.
	for deadline := time.Now().Add(5 * time.Second); s.Buffered() != 0; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatalf("Buffered() = %d after reading everything", s.Buffered())
		}
	}
}

// TestLagBoundCountsTheQueue: the bound is the bus's buffer, channel and
// queue together; beyond it the subscriber is dropped, and what it held is
// still delivered before C closes.
func TestLagBoundCountsTheQueue(t *testing.T) {
	before := runtime.NumGoroutine()
	b := eventbus.New(16)
	s := b.SubscribeFunc(nil)
	publish(t, b, events(1, 16, "x"))
	if s.Lagged() {
		t.Fatal("lagged at exactly the buffer")
	}
	publish(t, b, events(17, 17, "x"))
	if !s.Lagged() || b.Lagged() != 1 || b.Subscribers() != 0 {
		t.Fatalf("17 unread of a 16-event buffer: lagged %v, bus count %d, subscribers %d", s.Lagged(), b.Lagged(), b.Subscribers())
	}
	publish(t, b, events(18, 18, "x")) // a dropped subscriber receives nothing more
	got := read(t, s, 100)             // returns when C closes
	if !equal(got, seq(1, 16)) {
		t.Fatalf("got %v, want 1…16 then C closed", got)
	}
	waitGoroutines(t, before)
}

// TestCloseStopsAPumpNobodyReads: a subscriber that stops reading and closes
// its subscription leaves no goroutine behind, and C is closed when Close
// returns.
func TestCloseStopsAPumpNobodyReads(t *testing.T) {
	before := runtime.NumGoroutine()
	b := eventbus.New(64)
	s := b.SubscribeFunc(nil)
	publish(t, b, events(1, 30, "x"))
	s.Close()
	s.Close()
	n := 0
	for range s.C { // what C held is readable, then it is closed
		n++
	}
	if n > cap(s.C) || s.Lagged() {
		t.Fatalf("read %d events after Close (channel capacity %d), lagged %v", n, cap(s.C), s.Lagged())
	}
	waitGoroutines(t, before)

	// Bus.Close at shutdown does the same for every subscriber.
	s1, s2 := b.SubscribeFunc(nil), b.SubscribeFunc(nil)
	publish(t, b, events(31, 60, "x"))
	b.Close()
	for range s1.C {
	}
	for range s2.C {
	}
	waitGoroutines(t, before)
}

// TestIdleSubscriptionsAreSmall: two thousand idle subscriptions on a bus
// with the default buffer hold a few hundred bytes each, not a
// DefaultBuffer-event channel each (about 190 KB).
func TestIdleSubscriptionsAreSmall(t *testing.T) {
	b := eventbus.New(eventbus.DefaultBuffer)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	subs := make([]*eventbus.Subscription, 2000)
	for i := range subs {
		subs[i] = b.SubscribeFunc(nil)
	}
	// Each took a burst once, read it, and is idle again.
	publish(t, b, events(1, 100, "x"))
	for _, s := range subs {
		if got := read(t, s, 100); len(got) != 100 {
			t.Fatalf("read %d of 100", len(got))
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	per := (int64(m1.HeapAlloc) - int64(m0.HeapAlloc)) / int64(len(subs))
	if per > 2048 {
		t.Fatalf("%d bytes per idle subscription, want < 2 KiB", per)
	}
	for _, s := range subs {
		s.Close()
	}
}

// TestSubscribeNotify: a subscriber without a channel is notified when an
// event arrives in its empty queue (not for each event behind it) and when
// it is dropped as lagged; Take hands the queue out in order, then says the
// subscription ended.
func TestSubscribeNotify(t *testing.T) {
	b := eventbus.New(3)
	var notices int
	q := b.SubscribeNotify(func() { notices++ }) // called under the bus's lock: no race on notices
	take := func() (got []int64, open bool) {
		for {
			ev, ok, open := q.Take()
			if !ok {
				return got, open
			}
			got = append(got, ev.Sequence)
		}
	}
	if got, open := take(); len(got) != 0 || !open || notices != 0 {
		t.Fatalf("idle: got %v open %v, %d notices", got, open, notices)
	}
	publish(t, b, events(1, 2, "a"))
	publish(t, b, events(3, 3, "a"))
	if notices != 1 {
		t.Fatalf("%d notices for three events arriving in one queue, want 1", notices)
	}
	if got, open := take(); !slices.Equal(got, []int64{1, 2, 3}) || !open {
		t.Fatalf("got %v open %v, want 1 2 3 and open", got, open)
	}
	publish(t, b, events(4, 4, "a"))
	if notices != 2 {
		t.Fatalf("%d notices, want 2 (an event in the emptied queue)", notices)
	}
	publish(t, b, events(5, 7, "a")) // 4 events queued, the buffer is 3: lagged
	if notices != 3 || b.Lagged() != 1 || b.Subscribers() != 0 {
		t.Fatalf("after the overflow: %d notices (want 3), lagged %d, %d subscribers", notices, b.Lagged(), b.Subscribers())
	}
	if got, open := take(); !slices.Equal(got, []int64{4, 5, 6}) || open {
		t.Fatalf("got %v open %v, want 4 5 6 and ended", got, open)
	}
	q.Close() // idempotent after the drop
	q2 := b.SubscribeNotify(func() {})
	publish(t, b, events(8, 8, "a"))
	q2.Close()
	if ev, ok, open := q2.Take(); ok || open || b.Subscribers() != 0 {
		t.Fatalf("closed: took %v (%v), open %v, %d subscribers", ev.Sequence, ok, open, b.Subscribers())
	}
}
