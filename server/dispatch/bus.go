package dispatch

import (
	"context"
	"sync"

	"github.com/cairnhq/cairn/delivery"
)

// Bus is a small in-process event bus (server/eventbus does not exist yet in this tree; the
// PostgreSQL LISTEN/NOTIFY bus of several replicas will offer the same two methods). The engine
// publishes to it after commit; the hub and GraphQL subscriptions subscribe. Each subscriber has
// a bounded buffer: one that falls behind is dropped (its channel closed) instead of stalling the
// publisher or the others, and resumes by re-reading the database.
type Bus struct {
	buffer int
	mu     sync.Mutex
	subs   map[chan delivery.Event]struct{}
	closed bool
}

// NewBus returns a bus whose subscribers buffer up to buffer events (default 1024).
func NewBus(buffer int) *Bus {
	if buffer <= 0 {
		buffer = 1024
	}
	return &Bus{buffer: buffer, subs: map[chan delivery.Event]struct{}{}}
}

// Publish delivers events to every subscriber without blocking.
func (b *Bus) Publish(_ context.Context, events []delivery.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		for _, ev := range events {
			select {
			case ch <- ev:
			default:
				// Lagging: drop the subscriber; it re-reads what it missed.
				delete(b.subs, ch)
				close(ch)
			}
			if _, ok := b.subs[ch]; !ok {
				break
			}
		}
	}
}

// Subscribe returns a channel of the events published from now on, and the function that ends the
// subscription. The channel is closed when the subscriber lags or the bus closes.
func (b *Bus) Subscribe() (<-chan delivery.Event, func()) {
	ch := make(chan delivery.Event, b.buffer)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(ch)
		return ch, func() {}
	}
	b.subs[ch] = struct{}{}
	return ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.subs[ch]; ok {
			delete(b.subs, ch)
			close(ch)
		}
	}
}

// Close ends every subscription.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for ch := range b.subs {
		delete(b.subs, ch)
		close(ch)
	}
}
