package delivery

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time. The engine never calls time.Now directly, so timeouts,
// deferrals and schedules are tested without sleeping.
type Clock interface {
	Now() time.Time
}

// TimerClock is a Clock that can also wake a waiter after a duration of its
// own time. Background loops (RunHookLoop) wait with it, so a test that
// advances a ManualClock wakes them without sleeping; for a clock without it
// the loops fall back to a real timer.
type TimerClock interface {
	Clock
	// After returns a channel that receives the clock's time once d has
	// passed, and a function that releases the timer early.
	After(d time.Duration) (<-chan time.Time, func())
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current UTC time.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// After is a real timer.
func (SystemClock) After(d time.Duration) (<-chan time.Time, func()) {
	return realAfter(d)
}

func realAfter(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// ManualClock is a Clock that moves only when told to; for tests. Its timers
// fire when Advance or Set moves it past their time.
type ManualClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  map[*manualTimer]struct{}
	changed chan struct{} // closed and replaced whenever timers change
}

type manualTimer struct {
	at time.Time
	ch chan time.Time
}

// NewManualClock returns a clock stopped at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t.UTC()} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.fireLocked()
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t.UTC()
	c.fireLocked()
	c.mu.Unlock()
}

// After returns a channel that receives once the clock has been moved d past
// the current time (at once if d <= 0), and a function that cancels it.
func (c *ManualClock) After(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		return t.ch, func() {}
	}
	if c.timers == nil {
		c.timers = map[*manualTimer]struct{}{}
	}
	c.timers[t] = struct{}{}
	c.signalLocked()
	return t.ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, ok := c.timers[t]; ok {
			delete(c.timers, t)
			c.signalLocked()
		}
	}
}

// WaitForTimers blocks until at least n timers are pending (a loop parked on
// its next due time), so a test advances the clock only once the loop waits.
func (c *ManualClock) WaitForTimers(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		if len(c.timers) >= n {
			c.mu.Unlock()
			return nil
		}
		if c.changed == nil {
			c.changed = make(chan struct{})
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *ManualClock) fireLocked() {
	fired := false
	for t := range c.timers {
		if !t.at.After(c.now) {
			t.ch <- c.now
			delete(c.timers, t)
			fired = true
		}
	}
	if fired {
		c.signalLocked()
	}
}

func (c *ManualClock) signalLocked() {
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
}
