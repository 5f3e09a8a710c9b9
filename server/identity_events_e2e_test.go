package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
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

// TestIdentityEventsRefuseNonAdmins: a VIEWER's or an EDITOR's identityEvents subscription is
// refused (FORBIDDEN, on the subscription's own id) rather than left open: gqlgen runs the
// root field middleware for queries and mutations only (authorizeSubscriptionFields).
func TestIdentityEventsRefuseNonAdmins(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		for _, who := range []struct {
			name string
			role delivery.Role
		}{{"viv", delivery.RoleViewer}, {"eddie", delivery.RoleEditor}} {
			ws := h.dialWS(h.tokenFor(who.name, who.role), false)
			ws.ack()
			ws.subscribe("1", `subscription { identityEvents { targetType targetId action } }`, nil)
			m := ws.until(func(m wsMsg) bool { return m.ID == "1" })
			if m.Type != "next" && m.Type != "error" || !strings.Contains(string(m.Payload), "FORBIDDEN") || strings.Contains(string(m.Payload), `"identityEvents":{`) {
				t.Fatalf("%s subscribing to identityEvents: %s %s", who.role, m.Type, m.Payload)
			}
			// Nothing of the refused stream reaches them when a group changes.
			h.ok(h.admin, `mutation { createGroup(input: {name: "after-`+who.name+`"}) { id } }`, nil)
			for quiet := time.After(300 * time.Millisecond); ; {
				select {
				case m, ok := <-ws.msgs:
					if ok && m.ID == "1" && m.Type == "next" {
						t.Fatalf("%s received an identity event after the refusal: %s", who.role, m.Payload)
					}
					if ok {
						continue
					}
				case <-quiet:
				}
				break
			}
		}
	})
}
