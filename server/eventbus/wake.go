package eventbus

import (
	"context"

	"github.com/cairnhq/cairn/delivery"
)

// Wake turns the events that filter accepts into wake-up signals for a loop
// that re-reads the database when woken (delivery.Engine.RunNotificationLoop).
// Signals coalesce: the channel holds at most one, so a burst of events wakes
// the loop once, and a slow loop never makes the subscriber lag. If the
// subscriber lags anyway, Wake signals (the loop re-reads everything) and
// subscribes again. The returned channel is closed when ctx ends, after the
// helper goroutine unsubscribed.
func Wake(ctx context.Context, b *Bus, filter func(delivery.Event) bool) <-chan struct{} {
	out := make(chan struct{}, 1)
	sub := b.SubscribeFunc(filter)
	signal := func() {
		select {
		case out <- struct{}{}:
		default:
		}
	}
	go func() {
		defer close(out)
		defer func() { sub.Close() }()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-sub.C:
				if !ok {
					// Lagged: the events are lost, the database is not.
					sub = b.SubscribeFunc(filter)
				}
				signal()
			}
		}
	}()
	return out
}
