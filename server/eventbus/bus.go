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

// Subscription receives the events that its filter accepts, in publication
// order, on C. C is closed by Close, or by the bus when the subscriber fell a
// full buffer behind; Lagged then reports true and the subscriber must
// resume from the last sequence number it handled by re-reading the database.
type Subscription struct {
	// C delivers the events.
	C <-chan delivery.Event

	c      chan delivery.Event
	bus    *Bus
	filter func(delivery.Event) bool
	lagged atomic.Bool
	closed bool // guarded by bus.mu
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
	c := make(chan delivery.Event, b.buffer)
	s := &Subscription{C: c, c: c, bus: b, filter: filter}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
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
			select {
			case s.c <- ev:
			default:
				s.lagged.Store(true)
				b.lagged.Add(1)
				b.remove(s)
			}
			if s.closed {
				break
			}
		}
	}
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

// remove unregisters s and closes its channel; b.mu must be held.
func (b *Bus) remove(s *Subscription) {
	if s.closed {
		return
	}
	s.closed = true
	delete(b.subs, s)
	close(s.c)
}

// Lagged reports whether the bus dropped this subscriber because its buffer
// was full. Events buffered before that can still be read from C.
func (s *Subscription) Lagged() bool { return s.lagged.Load() }

// Close unregisters the subscriber and closes C. It is idempotent and may be
// called concurrently with Publish.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	s.bus.remove(s)
	s.bus.mu.Unlock()
}

// Close ends every subscription (at shutdown). Subscribers see their channel
// closed.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		b.remove(s)
	}
}

// SubscribeMatching is SubscribeFunc for consumers that know only channels:
// the events keep accepts, and the function that ends the subscription.
func (b *Bus) SubscribeMatching(keep func(delivery.Event) bool) (<-chan delivery.Event, func()) {
	s := b.SubscribeFunc(keep)
	return s.C, s.Close
}
