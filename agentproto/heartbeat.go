package agentproto

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// start is the monotonic origin of every zero-value Heard in this process.
var start = time.Now()

// Clock is the time a heartbeat runs on: [SystemClock], or in tests a clock that moves only when
// told (delivery.ManualClock has these methods), so that heartbeats are tested without waiting.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed on the clock, and a function that
	// releases the timer early.
	After(d time.Duration) (<-chan time.Time, func())
}

// SystemClock is the process's clock. Its times keep their monotonic reading, so the silences
// measured with it ignore steps of the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After is a real timer.
func (SystemClock) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// Heard is when one end of a connection last heard from the other: any message, ping or pong.
// Both ends keep one per connection and ping only after [PingInterval] of silence (see the
// package documentation, Heartbeats). The zero value runs on [SystemClock] and has heard nothing
// since the process began; [NewHeard] runs on a given clock. It is safe for concurrent use.
type Heard struct {
	at     atomic.Int64 // last heard, as a duration since origin
	clock  Clock        // nil: SystemClock, origin start
	origin time.Time
}

// NewHeard returns a Heard on clock c that has just heard from the peer.
func NewHeard(c Clock) *Heard { return &Heard{clock: c, origin: c.Now()} }

// Clock returns the clock h runs on.
func (h *Heard) Clock() Clock {
	if h.clock == nil {
		return SystemClock{}
	}
	return h.clock
}

func (h *Heard) now() time.Duration {
	if h.clock == nil {
		return time.Since(start)
	}
	return h.clock.Now().Sub(h.origin)
}

// Mark records that the peer was just heard from.
func (h *Heard) Mark() { h.at.Store(int64(h.now())) }

// Silent returns how long the peer has been silent.
func (h *Heard) Silent() time.Duration { return h.now() - time.Duration(h.at.Load()) }

// OnPing is a websocket OnPingReceived callback that marks h and lets the library answer.
func (h *Heard) OnPing(context.Context, []byte) bool { h.Mark(); return true }

// OnPong is a websocket OnPongReceived callback that marks h.
func (h *Heard) OnPong(context.Context, []byte) { h.Mark() }

// Pinger is the one method of a websocket connection (*websocket.Conn) the heartbeat needs.
type Pinger interface {
	Ping(ctx context.Context) error
}

// errNoPong is the cause of a ping's end when its pong did not come in time.
var errNoPong = errors.New("no pong in time")

// PingWithin pings conn and waits up to d of clock c for the pong.
func PingWithin(ctx context.Context, conn Pinger, c Clock, d time.Duration) error {
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timeout, stop := c.After(d)
	defer stop()
	go func() {
		select {
		case <-timeout:
			cancel(errNoPong)
		case <-pctx.Done():
		}
	}()
	err := conn.Ping(pctx)
	if err != nil && context.Cause(pctx) == errNoPong {
		return fmt.Errorf("%w (%s): %w", errNoPong, d, err)
	}
	return err
}

// PingWhileSilent is the agent's heartbeat: it pings conn whenever heard has recorded nothing
// for interval, waits up to interval for the pong, and returns when ctx ends (its cause) or a
// ping fails. It runs on heard's clock. The connection's reader must run meanwhile, and heard
// must be wired to it (mark it for every message, and set OnPing and OnPong as the connection's
// callbacks).
func PingWhileSilent(ctx context.Context, conn Pinger, heard *Heard, interval time.Duration) error {
	c := heard.Clock()
	wait := interval
	for {
		due, stop := c.After(wait)
		select {
		case <-due:
		case <-ctx.Done():
			stop()
			return context.Cause(ctx)
		}
		if wait = interval - heard.Silent(); wait > 0 {
			continue
		}
		if err := PingWithin(ctx, conn, c, interval); err != nil {
			return fmt.Errorf("ping: %w", err)
		}
		wait = interval
	}
}
