// Package eventbus fans the engine's events out to subscribers (GraphQL
// subscriptions, the notification loop, outgoing hooks) inside one server
// process.
//
// Publishing never blocks: every subscriber has a bounded buffer, and one
// that lets it fill up is dropped: it is marked lagged and its channel is
// closed. Events are notices, not the data: a lagged subscriber re-reads the
// database from the last sequence number it handled and subscribes again, so
// a slow consumer never slows the engine or the other subscribers.
package eventbus

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/cairnhq/cairn/delivery"
)

// DefaultBuffer is the number of events a subscriber may have unread before
// it is dropped as lagged.
const DefaultBuffer = 1024

// Bus is the in-process event bus. The zero value is not usable; call New.
// It is safe for concurrent use.
type Bus struct {
	buffer int

	mu   sync.Mutex
	subs map[*Subscription]struct{}
	// lagged counts the subscribers dropped for a full buffer (metrics).
	lagged atomic.Uint64
}

var _ delivery.Publisher = (*Bus)(nil)

// New returns a bus whose subscribers each buffer up to buffer events
// (DefaultBuffer when buffer <= 0).
func New(buffer int) *Bus {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	return &Bus{buffer: buffer, subs: map[*Subscription]struct{}{}}
}

// chanBuffer is the capacity of a subscriber's channel. An idle subscriber
// holds no more than that: what does not fit waits in a queue that grows on
// demand (up to the bus's buffer, the lag bound) and is freed once drained,
// so that ten thousand idle subscriptions cost kilobytes each, not a
// DefaultBuffer-sized channel each.
const chanBuffer = 4

// Subscription receives the events that its filter accepts, in publication
// order, on C. C is closed by Close, or by the bus when the subscriber fell a
// full buffer behind; Lagged then reports true and the subscriber must
// resume from the last sequence number it handled by re-reading the database.
type Subscription struct {
	// C delivers the events.
	C <-chan delivery.Event

	c      chan delivery.Event // nil for SubscribeNotify's
	notify func()              // SubscribeNotify's
	bus    *Bus
	filter func(delivery.Event) bool
	lagged atomic.Bool
	closed bool // guarded by bus.mu: unregistered, accepts no more events

	// mu guards the overflow: events that did not fit in c, oldest first,
	// which a pump goroutine (running while the queue is not empty) moves
	// into c. The head stays queued until it is sent, so that Publish, which
	// sends directly only when the queue is empty, never overtakes it.
	mu      sync.Mutex
	queue   []delivery.Event
	pumping bool
	ended   bool          // no more events will be queued: the pump closes c once the queue is sent
	stop    chan struct{} // closed by Close: the pump drops the queue (made with the pump)
	pumped  chan struct{} // closed when the pump has returned (made with the pump)
	stopped bool          // stop is closed
}

var _ delivery.Subscriber = (*Bus)(nil)

// Subscribe registers a subscriber to every event and returns its channel
// and the function that ends the subscription (delivery.Subscriber).
func (b *Bus) Subscribe() (<-chan delivery.Event, func()) {
	s := b.SubscribeFunc(nil)
	return s.C, s.Close
}

// SubscribeFunc registers a subscriber. filter (nil accepts everything) is
// called for every published event while the bus is locked: it must be quick
// and must not call the bus.
func (b *Bus) SubscribeFunc(filter func(delivery.Event) bool) *Subscription {
	c := make(chan delivery.Event, min(chanBuffer, b.buffer))
	s := &Subscription{C: c, c: c, bus: b, filter: filter}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

var _ delivery.NotifySubscriber = (*Bus)(nil)

// SubscribeNotify registers a subscriber to every event that has no
// channel (delivery.NotifySubscriber): its events wait in the queue, which
// grows on demand up to the bus's buffer (the lag bound) and is freed once
// Take has emptied it, and notify is called, while the bus is locked, when
// an event arrives in the empty queue and when the subscription ends. An
// idle subscriber holds the Subscription alone.
func (b *Bus) SubscribeNotify(notify func()) delivery.EventQueue {
	s := &Subscription{bus: b, notify: notify}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Take returns the oldest event queued for a SubscribeNotify subscriber;
// when none is, open is false once the subscription has ended.
func (s *Subscription) Take() (ev delivery.Event, ok, open bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return delivery.Event{}, false, !s.ended
	}
	ev = s.queue[0]
	s.queue[0] = delivery.Event{} // let the taken event's data go
	s.queue = s.queue[1:]
	if len(s.queue) == 0 {
		s.queue = nil
	}
	return ev, true, true
}

// Publish hands events to every matching subscriber without waiting: a
// subscriber whose buffer is full is dropped as lagged. All subscribers see
// events in the same order. ctx is unused; Publish never blocks.
func (b *Bus) Publish(_ context.Context, events []delivery.Event) {
	if len(events) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		for _, ev := range events {
			if s.filter != nil && !s.filter(ev) {
				continue
			}
			if !s.offer(ev) {
				s.lagged.Store(true)
				b.lagged.Add(1)
				b.remove(s)
				break
			}
		}
	}
}

// offer buffers ev for s: in c when nothing is queued and c has room, else
// at the end of the queue, whose pump it starts. false when s already holds
// the bus's buffer of unread events (it lags). b.mu is held.
func (s *Subscription) offer(ev delivery.Event) bool {
	if s.notify != nil {
		s.mu.Lock()
		n := len(s.queue)
		if n < s.bus.buffer {
			s.queue = append(s.queue, ev)
		}
		s.mu.Unlock()
		if n >= s.bus.buffer {
			return false
		}
		if n == 0 {
			s.notify()
		}
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		select {
		case s.c <- ev:
			return true
		default:
		}
	}
	if len(s.queue) >= s.bus.buffer-cap(s.c) {
		return false
	}
	s.queue = append(s.queue, ev)
	if !s.pumping {
		s.pumping = true
		if s.stop == nil {
			s.stop = make(chan struct{})
		}
		s.pumped = make(chan struct{})
		go s.pump(s.pumped)
	}
	return true
}

// pump moves the queue into c, in order, until the queue is empty (it then
// frees the queue and returns) or Close stops it. It closes c when the
// subscription ended and nothing more is to be sent.
func (s *Subscription) pump(done chan struct{}) {
	defer close(done)
	s.mu.Lock()
	for len(s.queue) > 0 && !s.stopped {
		ev, stop := s.queue[0], s.stop
		s.mu.Unlock()
		select {
		case s.c <- ev:
		case <-stop:
		}
		s.mu.Lock()
		if !s.stopped {
			s.queue[0] = delivery.Event{} // let the sent event's data go
			s.queue = s.queue[1:]
		}
	}
	// The queue is freed (an idle subscriber holds only c), and c closed in
	// the same step as the last send, so that Buffered() == 0 of an ended
	// subscription means C is closed.
	s.queue = nil
	s.pumping = false
	if s.ended {
		close(s.c)
	}
	s.mu.Unlock()
}

// Buffered returns how many events s holds unread: in C and queued behind it
// (for SubscribeNotify's, queued).
func (s *Subscription) Buffered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.c) + len(s.queue)
}

// Subscribers returns the number of live subscriptions.
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Lagged returns how many subscribers the bus has dropped because they fell a full buffer
// behind (each then re-reads the database).
func (b *Bus) Lagged() uint64 { return b.lagged.Load() }

// dropAll drops every subscriber as lagged, for when the bus itself may have
// missed events (a replica's listening connection was down).
func (b *Bus) dropAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		s.lagged.Store(true)
		b.remove(s)
	}
}

// remove unregisters s; b.mu must be held. C is closed once what s has
// buffered is read (at once when nothing is queued beyond C).
func (b *Bus) remove(s *Subscription) {
	if s.closed {
		return
	}
	s.closed = true
	delete(b.subs, s)
	s.mu.Lock()
	s.ended = true
	if !s.pumping && s.c != nil {
		close(s.c)
	}
	s.mu.Unlock()
	if s.notify != nil {
		s.notify()
	}
}

// Lagged reports whether the bus dropped this subscriber because its buffer
// was full. Events buffered before that can still be read from C.
func (s *Subscription) Lagged() bool { return s.lagged.Load() }

// Close unregisters the subscriber and closes C (events already in C can
// still be read; queued ones beyond it are dropped). It is idempotent and
// may be called concurrently with Publish.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	s.bus.remove(s)
	s.bus.mu.Unlock()
	if s.notify != nil { // SubscribeNotify's: no pump, the queue dropped
		s.mu.Lock()
		s.queue = nil
		s.mu.Unlock()
		return
	}
	s.halt()
}

// halt stops the pump, if one runs, and waits until it has closed C.
func (s *Subscription) halt() {
	s.mu.Lock()
	pumped := s.pumped
	if s.pumping && !s.stopped {
		s.stopped = true
		close(s.stop)
	}
	s.mu.Unlock()
	if pumped != nil {
		<-pumped
	}
}

// Close ends every subscription (at shutdown). Subscribers see their channel
// closed.
func (b *Bus) Close() {
	b.mu.Lock()
	subs := make([]*Subscription, 0, len(b.subs))
	for s := range b.subs {
		b.remove(s)
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		s.halt()
	}
}

// SubscribeMatching is SubscribeFunc for consumers that know only channels:
// the events keep accepts, and the function that ends the subscription.
func (b *Bus) SubscribeMatching(keep func(delivery.Event) bool) (<-chan delivery.Event, func()) {
	s := b.SubscribeFunc(keep)
	return s.C, s.Close
}
