package server_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/cairnhq/cairn/delivery"
)

// TestCredentialWatchIsShared: websockets watched for their credential share
// one bus subscription (the guard's loop), not one each; revoking the token
// still closes every websocket that used it with 4403, and one with another
// token stays open.
func TestCredentialWatchIsShared(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		tok, row := h.tokenWith("wanda", delivery.RoleViewer, nil)
		other := h.tokenFor("otto", delivery.RoleViewer)
		before := h.srv.Events().Subscribers()
		const n = 4
		var conns []*wsClient
		for i := range n {
			ws := h.dialWS(tok, false)
			ws.ack()
			ws.subscribe(fmt.Sprint(i), `subscription { agentEvents { __typename } }`, nil)
			conns = append(conns, ws)
		}
		keep := h.dialWS(other, false)
		keep.ack()
		keep.subscribe("k", `subscription { agentEvents { __typename } }`, nil)
		// n+1 event subscriptions and the guard's one.
		want := before + n + 1 + 1
		poll(t, "the subscriptions on the bus", func() bool { return h.srv.Events().Subscribers() >= want })
		if got := h.srv.Events().Subscribers(); got != want {
			t.Fatalf("%d bus subscribers for %d websockets with one subscription each, want %d (one shared credential watch)", got-before, n+1, want-before)
		}
		if _, err := h.srv.Engine.RevokeAPIToken(ctx, delivery.SystemActor("test"), row.ID); err != nil {
			t.Fatal(err)
		}
		for i, ws := range conns {
			if code := ws.closeStatus(eventWait); code != 4403 {
				t.Fatalf("websocket %d of the revoked token closed with %d, want 4403", i, code)
			}
		}
		// The other token's websocket still works: a new subscription is answered.
		keep.subscribe("k2", `subscription { agentEvents(afterSequence: 0) { __typename } }`, nil)
		agent := h.srv.DB().Client.Agent.Create().SetName("a-shared").SaveX(ctx)
		if _, err := h.srv.Engine.SetAgentEnabled(ctx, delivery.SystemActor("t"), agent.ID, false); err != nil {
			t.Fatal(err)
		}
		if ev := keep.event("k2", "agentEvents", eventWait); ev["__typename"] == nil {
			t.Fatalf("the other token's websocket: %v", ev)
		}
	})
}
