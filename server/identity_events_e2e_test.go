package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestIdentityEventsSubscription: an ADMIN's websocket follows the changes of users and groups
// (what the Users and Groups pages reload on). (The field's ADMIN role is the root-field check
// every field gets: TestEveryRootFieldDeclaresARole and mayCall.)
func TestIdentityEventsSubscription(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		ws := h.dialWS(h.admin, false)
		ws.ack()
		ws.subscribe("1", `subscription { identityEvents { __typename targetType targetId action } }`, nil)
		// The subscription is live only: create groups until one's event comes (the first ones
		// may commit before the server has subscribed).
		for i := range 50 {
			id := dig(h.ok(h.admin, fmt.Sprintf(`mutation { createGroup(input: {name: "g%d"}) { id } }`, i), nil), "createGroup", "id")
			select {
			case m := <-ws.msgs:
				var p gqlPayload
				if err := json.Unmarshal(m.Payload, &p); err != nil || m.ID != "1" || len(p.Errors) > 0 {
					t.Fatalf("%s %s", m.Type, m.Payload)
				}
				ev, _ := p.Data["identityEvents"].(map[string]any)
				if ev["__typename"] != "IdentityChangedEvent" || ev["targetType"] != "group" || ev["action"] != "group.create" {
					t.Fatalf("event %v", ev)
				}
				if ev["targetId"] != id {
					t.Fatalf("event %v for group %v", ev, id)
				}
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		t.Fatal("no identity event after 50 groups")
	})
}
