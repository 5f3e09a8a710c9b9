package server_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/cairnhq/cairn/delivery"
)

// TestFanOutSharedShapeKeepsReadScope: two viewers of different read scope
// follow releaseEvents with the very same operation and variables, each on
// two websockets (so the payload of an event is executed once per
// visibility class and reused by the other subscription). The viewer who
// may not read the vault definition never receives its events, on either
// websocket; the one who may receives them on both, in order; both receive
// the open definition's event with the same payload. The cache was used: the
// metrics count a hit for each event the second websocket of a viewer got
// (at least the open release's creation for each viewer and the vault's for
// sam).
func TestFanOutSharedShapeKeepsReadScope(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		editor := h.tokenFor("eddie", delivery.RoleEditor)
		vic := h.tokenFor("vic", delivery.RoleViewer) // not in the group
		sam := h.tokenFor("sam", delivery.RoleViewer) // in the group
		e, sys := h.srv.Engine, delivery.SystemActor("test")
		g, err := e.CreateGroup(ctx, sys, delivery.GroupInput{Name: "vault-team"})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range e.Client().User.Query().AllX(ctx) {
			if u.Username == "sam" {
				if _, err := e.AddGroupMember(ctx, sys, g.ID, u.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		const define = `mutation($n: String!, $r: [String!]) { createDefinition(input: {name: $n, readers: $r,
		  environments: [{name: "only", trigger: {kind: AFTER_RELEASE}, job: {tasks: [{name: "t", script: "true"}]}}]}) { id readers } }`
		vault := dig(h.ok(editor, define, map[string]any{"n": "vault", "r": []string{"vault-team"}}), "createDefinition", "id").(string)
		open := dig(h.ok(editor, define, map[string]any{"n": "open", "r": nil}), "createDefinition", "id").(string)

		vars := map[string]any{"after": 0}
		var vics, sams []*wsClient
		for range 2 {
			for _, v := range []struct {
				tok  string
				into *[]*wsClient
			}{{vic, &vics}, {sam, &sams}} {
				ws := h.dialWS(v.tok, false)
				ws.ack()
				ws.subscribe("all", releaseEventsSub, vars)
				*v.into = append(*v.into, ws)
			}
		}

		const create = `mutation($d: ID!) { createRelease(input: {definitionId: $d}) { id } }`
		vaultRel := dig(h.ok(h.admin, create, map[string]any{"d": vault}), "createRelease", "id").(string)
		openRel := dig(h.ok(editor, create, map[string]any{"d": open}), "createRelease", "id").(string)

		// Every vault event precedes the open release's creation: a viewer
		// of the vault sees it first, one who may not sees the open one first.
		var openPayloads []string
		for i, ws := range vics {
			ev := ws.event("all", "releaseEvents", eventWait)
			if ev["releaseId"] != openRel {
				t.Fatalf("vic's websocket %d: first event is not the open release's creation: %v", i, ev)
			}
			openPayloads = append(openPayloads, toJSON(ev))
		}
		for i, ws := range sams {
			if ev := ws.event("all", "releaseEvents", eventWait); ev["releaseId"] != vaultRel || ev["__typename"] != "ReleaseCreatedEvent" {
				t.Fatalf("sam's websocket %d: first event is not the vault release's creation: %v", i, ev)
			}
			for {
				ev := ws.event("all", "releaseEvents", eventWait)
				if ev["releaseId"] == vaultRel || ev["releaseId"] == nil {
					continue // the vault release's other events (its environment)
				}
				if ev["releaseId"] != openRel {
					t.Fatalf("sam's websocket %d: unexpected event %v", i, ev)
				}
				openPayloads = append(openPayloads, toJSON(ev))
				break
			}
		}
		for _, p := range openPayloads[1:] {
			if p != openPayloads[0] {
				t.Fatalf("the open release's creation differs between subscribers:\n%s\n%s", openPayloads[0], p)
			}
		}
		metrics := httptest.NewServer(h.srv.MetricsHandler())
		defer metrics.Close()
		_, m := scrape(t, metrics.URL, "")
		if hits, misses := m["cairn_event_payload_cache_hits_total"], m["cairn_event_payload_cache_misses_total"]; hits < 3 || misses < 3 {
			t.Fatalf("fan-out cache: %v hits, %v misses; want at least 3 of each (one payload per event and viewer, reused by the viewer's other websocket)", hits, misses)
		}
	})
}
