package graph_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/server/hooks"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

const hookSecretValue = "h00k-s3cr3t-value-0123"

func TestGraphQLOutgoingHooks(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e, as := newAPI(t, db)
		root, err := e.EnsureAdmin(ctx, "root")
		if err != nil {
			t.Fatal(err)
		}
		admin := as(delivery.Actor{UserID: root.ID, Username: "root", Role: delivery.RoleAdmin})
		calls := 0
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls++
			if calls == 1 {
				w.WriteHeader(http.StatusTeapot)
			}
		}))
		defer rcv.Close()

		var created struct {
			CreateOutgoingHook map[string]any `json:"createOutgoingHook"`
		}
		admin.do(`mutation($in: NewOutgoingHookInput!) { createOutgoingHook(input: $in) {
			id name url eventTypes definitionID slack enabled hasSecret } }`,
			map[string]any{"in": map[string]any{
				"name": "ops", "url": rcv.URL + "/in", "secret": hookSecretValue,
				"eventTypes": []string{delivery.EventReleaseCreated},
			}}, &created)
		h := created.CreateOutgoingHook
		if h["hasSecret"] != true || h["enabled"] != true || h["slack"] != false || h["definitionID"] != nil {
			t.Fatalf("created %+v", h)
		}
		id := h["id"]

		var upd struct {
			UpdateOutgoingHook map[string]any `json:"updateOutgoingHook"`
		}
		admin.do(`mutation($id: ID!) { updateOutgoingHook(id: $id, input: {eventTypes: [], name: "ops-all"}) { name eventTypes hasSecret } }`,
			map[string]any{"id": id}, &upd)
		if upd.UpdateOutgoingHook["name"] != "ops-all" || len(upd.UpdateOutgoingHook["eventTypes"].([]any)) != 0 {
			t.Errorf("updated %+v", upd.UpdateOutgoingHook)
		}

		bad := admin.raw(`mutation { createOutgoingHook(input: {name: "x", url: "ftp://nope", secret: "`+hookSecretValue+`"}) { id } }`, nil)
		if len(bad.Errors) != 1 || !strings.Contains(bad.Errors[0].Message, "not an absolute http") {
			t.Errorf("bad url: %+v", bad.Errors)
		}
		bad = admin.raw(`mutation { createOutgoingHook(input: {name: "x", url: "https://a.example", secret: "`+hookSecretValue+`", eventTypes: ["log.appended"]}) { id } }`, nil)
		if len(bad.Errors) != 1 || !strings.Contains(bad.Errors[0].Message, "transient") {
			t.Errorf("transient event type: %+v", bad.Errors)
		}
		viewer := as(delivery.Actor{UserID: root.ID, Username: "vera", Role: delivery.RoleViewer})
		bad = viewer.raw(`mutation { createOutgoingHook(input: {name: "v", url: "https://a.example", secret: "`+hookSecretValue+`"}) { id } }`, nil)
		if len(bad.Errors) != 1 || !strings.Contains(bad.Errors[0].Message, "requires role ADMIN") {
			t.Errorf("viewer create: %+v", bad.Errors)
		}

		// One event, delivered twice (a 418, then 200): the log shows it.
		if err := db.Client.Event.Create().SetSequence(1).SetType(delivery.EventJobQueued).
			SetTime(e.Clock().Now()).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := e.EnqueueHookDeliveries(ctx); err != nil || n != 1 {
			t.Fatalf("enqueue: %d %v", n, err)
		}
		if _, failed, err := e.DeliverHooks(ctx, hooks.NewPoster(0), 10); err != nil || failed != 1 {
			t.Fatalf("deliver: %d %v", failed, err)
		}
		var log struct {
			HookDeliveries struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						EventSequence int
						EventType     string
						DeliveryID    string
						Status        string
						Attempts      int
						ResponseCode  int
						LastError     string
					}
				}
			} `json:"hookDeliveries"`
		}
		admin.do(`query($id: ID!) { hookDeliveries(hookId: $id, first: 10) { totalCount edges { node {
			eventSequence eventType deliveryID status attempts responseCode lastError nextAttemptAt } } } }`,
			map[string]any{"id": id}, &log)
		if log.HookDeliveries.TotalCount != 1 {
			t.Fatalf("deliveries %+v", log)
		}
		n := log.HookDeliveries.Edges[0].Node
		if n.EventSequence != 1 || n.EventType != delivery.EventJobQueued || n.Status != "PENDING" ||
			n.Attempts != 1 || n.ResponseCode != 418 || n.LastError != "HTTP 418" || n.DeliveryID == "" {
			t.Errorf("delivery %+v", n)
		}

		var types struct{ HookEventTypes []string }
		admin.do(`{ hookEventTypes }`, nil, &types)
		if len(types.HookEventTypes) != len(delivery.HookEventTypes) {
			t.Errorf("hookEventTypes %v", types.HookEventTypes)
		}
		var list struct {
			OutgoingHooks struct {
				TotalCount int
				Edges      []struct{ Node map[string]any }
			} `json:"outgoingHooks"`
		}
		admin.do(`{ outgoingHooks(first: 5) { totalCount edges { node { id name hasSecret } } } }`, nil, &list)
		if list.OutgoingHooks.TotalCount != 1 || list.OutgoingHooks.Edges[0].Node["hasSecret"] != true {
			t.Errorf("outgoingHooks %+v", list)
		}

		var del struct {
			DeleteOutgoingHook string `json:"deleteOutgoingHook"`
		}
		admin.do(`mutation($id: ID!) { deleteOutgoingHook(id: $id) }`, map[string]any{"id": id}, &del)
		admin.do(`{ outgoingHooks { totalCount } }`, nil, &list)
		if list.OutgoingHooks.TotalCount != 0 {
			t.Error("hook not deleted")
		}
		for _, b := range *admin.bodies {
			if strings.Contains(b, hookSecretValue) {
				t.Errorf("a response leaks the hook secret: %s", b)
			}
		}
	})
}
