package dispatch

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestHeartbeatPingsOnlySilentAgents: the server never pings an agent that pings it, pings one
// that stays silent (and keeps it while it answers), closes one that does not answer, and counts
// an agent's pings as signs of life.
func TestHeartbeatPingsOnlySilentAgents(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		clk := delivery.NewManualClock(time.Now())
		// Every 600 ms the server pings the agents silent for 300 ms.
		h := newHarness(t, db, harnessOpts{clock: clk, ping: 600 * time.Millisecond})

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
		pinger, pc, pingerPings := counting("pinger", true)
		stop := make(chan struct{})
		pingerDone := make(chan struct{})
		go func() { // the pinger pings every 20 ms from its welcome on
			defer close(pingerDone)
			for {
				pctx, cancel := context.WithTimeout(context.Background(), time.Second)
				pc.conn.Ping(pctx)
				cancel()
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		silent, _, silentPings := counting("silent", true)
		time.Sleep(2 * time.Second)
		close(stop)
		<-pingerDone
		if n := pingerPings.Load(); n != 0 {
			t.Errorf("the server pinged an agent that pings every 20 ms %d times", n)
		}
		if n := silentPings.Load(); n < 2 {
			t.Errorf("the server pinged a silent agent %d times in 2 s (every 600 ms), want about 3", n)
		}
		if h.hub.session(silent) == nil || h.hub.session(pinger) == nil {
			t.Fatal("an agent that answers pings was disconnected")
		}

		// Pings alone are signs of life: the flush records the pinger as seen now.
		clk.Advance(time.Minute)
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		if err := pc.conn.Ping(pctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		h.hub.flushSeen(ctx)
		if a := h.c.Agent.GetX(ctx, pinger); a.LastSeenAt == nil || clk.Now().Sub(*a.LastSeenAt).Abs() > time.Millisecond {
			t.Errorf("after a ping and a flush: last seen %v, want %v", a.LastSeenAt, clk.Now())
		}

		// An agent that stops reading cannot answer: the server closes its connection.
		mute, _, _ := counting("mute", false) // no reader: its pongs are never sent
		h.waitFor(t, "the mute agent disconnected", func() bool { return h.hub.session(mute) == nil })
		if h.hub.session(silent) == nil {
			t.Error("the silent agent that answers pings was disconnected")
		}
	})
}
