// Package backoff is Cairn's one retry policy: exponential backoff with a cap and optional
// jitter. The durable outboxes (approval email, outgoing hooks, CI enrichment) compute their
// next attempt time with Policy.Delay from the attempt count they store; in-process loops (the
// PostgreSQL event bus's reconnect) wait with a Retrier. It imports only the standard library,
// so that every package, the engine included, may use it.
//
// The agent's reconnect loop (agent/agent.go) keeps its own jittered backoff for now: it is
// being reworked separately (issue 17) and should move here after that.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is exponential backoff: the wait after the n-th consecutive failure is
// Base·2^(n-1), at most Max. With Jitter j (0 to 1), each wait is drawn uniformly from
// [d·(1-j), d], so that many clients failing together do not retry together.
type Policy struct {
	Base, Max time.Duration
	Jitter    float64
}

// Delay returns the wait after the failures-th consecutive failure (1 for the first; less is
// taken as 1).
func (p Policy) Delay(failures int) time.Duration {
	d := p.Base
	if d <= 0 {
		d = time.Second
	}
	limit := p.Max
	if limit < d {
		limit = d
	}
	for i := 1; i < failures && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	if j := min(max(p.Jitter, 0), 1); j > 0 {
		d -= time.Duration(rand.Float64() * j * float64(d))
	}
	return d
}

// Retrier counts the consecutive failures of a loop and waits after each by its Policy.
// It is not safe for concurrent use.
type Retrier struct {
	Policy   Policy
	failures int
}

// Next records a failure and returns the wait before the next try.
func (r *Retrier) Next() time.Duration {
	r.failures++
	return r.Policy.Delay(r.failures)
}

// Reset starts over after a success: the next failure waits Base again.
func (r *Retrier) Reset() { r.failures = 0 }

// Sleep waits d, or less if ctx ends first; it reports whether the whole wait passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
