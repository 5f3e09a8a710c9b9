package hooks

import (
	"context"

	"github.com/cairnhq/cairn/delivery"
)

// Waker is a delivery.Publisher that wakes the hook loop (RunHookLoop's wake
// channel) whenever persisted events are published, then passes the events
// on to the next publisher. Wake-ups coalesce: one pending signal covers any
// number of events, since the loop reads the stored stream, not the signal.
type Waker struct {
	next delivery.Publisher
	ch   chan struct{}
}

// NewWaker returns a Waker in front of next (nil: none).
func NewWaker(next delivery.Publisher) *Waker {
	return &Waker{next: next, ch: make(chan struct{}, 1)}
}

// Publish signals the loop if any event is persisted (has a sequence) and
// forwards the events. It never blocks.
func (w *Waker) Publish(ctx context.Context, events []delivery.Event) {
	for _, ev := range events {
		if ev.Sequence > 0 {
			w.Wake()
			break
		}
	}
	if w.next != nil {
		w.next.Publish(ctx, events)
	}
}

// Wake signals the loop without an event, e.g. when another replica's
// events arrive over the PostgreSQL bus.
func (w *Waker) Wake() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// C is the channel to pass to RunHookLoop.
func (w *Waker) C() <-chan struct{} { return w.ch }
