package webhooktest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/ent/user"
	"github.com/cairnhq/cairn/ent/webhookdelivery"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestRedeliver: a build that no definition followed is released once a definition follows
// it, by redelivering the stored notification: a new delivery linked to the first, holding
// the build's key from then on, audited with the person who asked. Redelivering again
// releases nothing twice.
func TestRedeliver(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		root := ev.person("root", user.RoleADMIN)
		ev.confirmJenkins("acme/app", 42, "SUCCESS")
		body := fixture(t, "jenkins", "notification_completed.json")
		first := ev.postJenkins(body)
		if first.Status != 202 || !strings.Contains(first.Body.Reason, "no definition follows") {
			t.Fatalf("first delivery: %d %s", first.Status, first.Raw)
		}
		ev.define("shop", appSource)
		// Sent again, the same build is only a duplicate: the reason redelivery exists.
		if dup := ev.postJenkins(body); dup.Status != 202 || !strings.Contains(dup.Body.Reason, "duplicate") {
			t.Fatalf("the build sent again: %d %s", dup.Status, dup.Raw)
		}

		d, err := ev.e.RedeliverWebhookDelivery(ev.ctx, root, first.Body.Delivery)
		if err != nil {
			t.Fatal(err)
		}
		if d.Result != webhookdelivery.ResultACCEPTED || d.RedeliveryOfID == nil || *d.RedeliveryOfID != first.Body.Delivery || len(d.Payload) == 0 {
			t.Fatalf("redelivery %+v", d)
		}
		rels := ev.c.WebhookDelivery.QueryReleases(d).AllX(ev.ctx)
		if len(rels) != 1 || len(ev.releases()) != 1 {
			t.Fatalf("releases of the redelivery %d, in all %d", len(rels), len(ev.releases()))
		}
		audits := ev.c.AuditEvent.Query().Where(auditevent.Action("webhook.redeliver")).AllX(ev.ctx)
		if len(audits) != 1 || audits[0].Actor != "root" || audits[0].TargetID != fmt.Sprint(d.ID) {
			t.Fatalf("audits %+v", audits)
		}
		// The key is the redelivery's now: the build sent again is its duplicate.
		if dup := ev.postJenkins(body); dup.Status != 202 || !strings.Contains(dup.Body.Reason, fmt.Sprintf("duplicate of delivery %d", d.ID)) {
			t.Fatalf("the build sent after the redelivery: %d %s", dup.Status, dup.Raw)
		}
		// Again: the definition released the build already.
		again, err := ev.e.RedeliverWebhookDelivery(ev.ctx, root, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if again.Result != webhookdelivery.ResultIGNORED || !strings.Contains(again.Reason, "released it already") || len(ev.releases()) != 1 {
			t.Fatalf("second redelivery %+v, %d releases", again, len(ev.releases()))
		}
	})
}

// TestRedeliverRefusals: a person who is not an ADMIN, an unknown delivery and a delivery
// without a stored body are refused with FORBIDDEN, NOT_FOUND and INVALID_INPUT, writing
// nothing; a stored body that names no build is recorded again as IGNORED, linked.
func TestRedeliverRefusals(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		root, alice := ev.person("root", user.RoleADMIN), ev.person("alice", user.RoleEDITOR)
		ev.define("shop", appSource)
		first := ev.postJenkins(fixture(t, "jenkins", "notification_queued.json"))
		if first.Status != 202 || first.Body.Delivery == 0 {
			t.Fatalf("queued: %d %s", first.Status, first.Raw)
		}
		bare, err := ev.e.RecordDelivery(ev.ctx, delivery.DeliveryRecord{Source: delivery.SourceJenkins, ConnectionID: ev.jenkins,
			Result: delivery.DeliveryRejected, Reason: "no body kept"})
		if err != nil {
			t.Fatal(err)
		}
		deliveries := func() int { return ev.c.WebhookDelivery.Query().CountX(ev.ctx) }
		before, n := ev.counts(), deliveries()
		for _, tc := range []struct {
			actor delivery.Actor
			id    int
			code  delivery.Code
		}{
			{alice, first.Body.Delivery, delivery.CodeForbidden},
			{root, first.Body.Delivery + 1000, delivery.CodeNotFound},
			{root, bare, delivery.CodeInvalidInput},
		} {
			if _, err := ev.e.RedeliverWebhookDelivery(ev.ctx, tc.actor, tc.id); delivery.CodeOf(err) != tc.code {
				t.Errorf("%s redelivering %d: %v, want %s", tc.actor.Username, tc.id, err, tc.code)
			}
		}
		if after := ev.counts(); fmt.Sprint(after) != fmt.Sprint(before) || deliveries() != n {
			t.Fatalf("a refused redelivery wrote: %v → %v, deliveries %d → %d", before, after, n, deliveries())
		}
		d, err := ev.e.RedeliverWebhookDelivery(ev.ctx, root, first.Body.Delivery)
		if err != nil {
			t.Fatal(err)
		}
		if d.Result != webhookdelivery.ResultIGNORED || d.RedeliveryOfID == nil || *d.RedeliveryOfID != first.Body.Delivery || d.Reason == "" {
			t.Fatalf("redelivered QUEUED phase: %+v", d)
		}
	})
}
