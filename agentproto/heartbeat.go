package agentproto

import (
	"context"
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
