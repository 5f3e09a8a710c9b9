package agentproto

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// start is the monotonic origin of every Heard in this process.
var start = time.Now()

// Heard is when one end of a connection last heard from the other: any message, ping or pong.
// Both ends keep one per connection and ping only after [PingInterval] of silence (see the
// package documentation, Heartbeats). The zero value has heard nothing since the process began;
// it is safe for concurrent use.
type Heard struct{ at atomic.Int64 }

// Mark records that the peer was just heard from.
func (h *Heard) Mark() { h.at.Store(int64(time.Since(start))) }

// Silent returns how long the peer has been silent.
func (h *Heard) Silent() time.Duration { return time.Since(start) - time.Duration(h.at.Load()) }

// OnPing is a websocket OnPingReceived callback that marks h and lets the library answer.
func (h *Heard) OnPing(context.Context, []byte) bool { h.Mark(); return true }

// OnPong is a websocket OnPongReceived callback that marks h.
func (h *Heard) OnPong(context.Context, []byte) { h.Mark() }

// Pinger is the one method of a websocket connection (*websocket.Conn) the heartbeat needs.
type Pinger interface {
	Ping(ctx context.Context) error
}

// PingWhileSilent is the agent's heartbeat: it pings conn whenever heard has recorded nothing
// for interval, waits up to interval for the pong, and returns when ctx ends (its cause) or a
// ping fails. The connection's reader must run meanwhile, and heard must be wired to it (mark
// it for every message, and set OnPing and OnPong as the connection's callbacks).
func PingWhileSilent(ctx context.Context, conn Pinger, heard *Heard, interval time.Duration) error {
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if wait := interval - heard.Silent(); wait > 0 {
			t.Reset(wait)
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, interval)
		err := conn.Ping(pctx)
		cancel()
		if err != nil {
			return fmt.Errorf("ping: %w", err)
		}
		t.Reset(interval)
	}
}
