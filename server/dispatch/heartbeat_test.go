package dispatch

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestHeartbeatPingsOnlySilentAgents, on the hub's clock (moved by the test, never waited for):
// the server never pings an agent that pings it, pings one that stays silent (and keeps it while
// it answers), counts an agent's pings as signs of life, and closes one that does not answer.
func TestHeartbeatPingsOnlySilentAgents(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		clk := delivery.NewManualClock(time.Now())
		t0 := clk.Now()
		// Every 10 s the server pings the agents silent for 5 s; signs of life are written every
		// 5 s (the default grace's quarter is longer).
		const every = 10 * time.Second
		h := newHarness(t, db, harnessOpts{clock: clk, hubClock: true, ping: every})

		// counting dials a client that counts the server's pings and keeps a reader
		// (coder/websocket answers pings and pongs only while reading).
		counting := func(name string, read bool) (int, *rawClient, *atomic.Int32) {
			id, cred := h.credentialFor(t, name)
			var pings atomic.Int32
			c, _, err := h.dial(t, cred, func(o *websocket.DialOptions) {
				o.OnPingReceived = func(context.Context, []byte) bool { pings.Add(1); return true }
			})
			if err != nil {
				t.Fatal(err)
			}
			c.hello()
			if read {
				go func() {
					for {
						if _, _, err := c.conn.Read(context.Background()); err != nil {
							return
						}
					}
				}()
			}
			return id, c, &pings
		}
		ping := func(c *rawClient) {
			t.Helper()
			pctx, cancel := context.WithTimeout(ctx, waitLimit)
			defer cancel()
			if err := c.conn.Ping(pctx); err != nil {
				t.Fatal(err)
			}
		}
		pinging := func(id int) bool { s := h.hub.session(id); return s != nil && s.pinging.Load() }
		pinger, pc, pingerPings := counting("pinger", true)
		silent, _, silentPings := counting("silent", true)

		// The hub's loops wake when the clock passes their due times; when exactly they run is the
		// scheduler's business, so the test calls the heartbeat and the flush itself where it
		// needs them at a known instant.
		// 6 s: the pinger pinged just now, the silent agent has said nothing since its hello.
		clk.Advance(6 * time.Second)
		ping(pc)
		h.hub.flushSeen(ctx)
		if got := h.hub.heartbeat(); !slices.Equal(got, []int{silent}) {
			t.Fatalf("6 s after the hellos the heartbeat pinged %v, want only the silent agent %d", got, silent)
		}
		h.waitFor(t, "the silent agent's pong", func() bool { return silentPings.Load() == 1 && !pinging(silent) })
		// 9 s: the pinger pinged again, the silent agent answered 3 s ago.
		clk.Advance(3 * time.Second)
		ping(pc)
		if got := h.hub.heartbeat(); len(got) != 0 {
			t.Fatalf("9 s: the heartbeat pinged %v, want nobody (both heard from within 5 s)", got)
		}
		// 10 s: a flush (since the one at 6 s) writes the pinger as seen: its pings are its only
		// frames since then.
		clk.Advance(time.Second)
		h.hub.flushSeen(ctx)
		if a := h.c.Agent.GetX(ctx, pinger); a.LastSeenAt == nil || a.LastSeenAt.Sub(t0.Add(10*time.Second)).Abs() > time.Millisecond { // PostgreSQL keeps µs
			t.Errorf("the pinger was last seen at %v, want 10 s after %v", a.LastSeenAt, t0)
		}
		if n := pingerPings.Load(); n != 0 {
			t.Errorf("the server pinged an agent that pings it %d times", n)
		}

		// The heartbeat's own loop, on the hub's clock, pings the silent agent. The clock moves by
		// half an interval at a time, and only while the agents that answer have no ping in
		// flight, so that their pings (which time out after an interval) never do.
		step := func() {
			if !pinging(silent) && !pinging(pinger) {
				clk.Advance(every / 2)
			}
		}
		h.waitFor(t, "the heartbeat loop's ping answered", func() bool {
			if silentPings.Load() >= 2 && !pinging(silent) {
				return true
			}
			step()
			return false
		})

		// An agent that stops reading cannot answer: the server closes its connection once its
		// ping has gone unanswered for an interval.
		mute, _, _ := counting("mute", false) // no reader: its pongs are never sent
		h.waitFor(t, "the mute agent disconnected", func() bool {
			if h.hub.session(mute) == nil {
				return true
			}
			step()
			return false
		})
		if h.hub.session(silent) == nil || h.hub.session(pinger) == nil {
			t.Error("an agent that answers pings was disconnected")
		}
	})
}
