package delivery_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestReceiveBuildInvalid: a receipt the engine cannot act on is refused
// with a reason and writes nothing, not even a delivery.
func TestReceiveBuildInvalid(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		conn, err := f.e.CreateConnection(f.ctx, f.admin, delivery.ConnectionInput{Name: "jenkins", Kind: "JENKINS", URL: "https://ci.example.com"})
		if err != nil {
			t.Fatal(err)
		}
		ok := delivery.BuildReceipt{Source: "JENKINS", ConnectionID: conn.ID, Key: "JENKINS/jenkins/app/1", Job: "app", BuildID: "1", Result: "SUCCEEDED"}
		for _, tt := range []struct {
			name, field string
			mod         func(r *delivery.BuildReceipt)
		}{
			{"source", "source", func(r *delivery.BuildReceipt) { r.Source = "GITLAB" }},
			{"no key", "key", func(r *delivery.BuildReceipt) { r.Key = " " }},
			{"no connection", "connectionId", func(r *delivery.BuildReceipt) { r.ConnectionID = 0 }},
			{"no job", "job", func(r *delivery.BuildReceipt) { r.Job = "" }},
			{"no build", "buildId", func(r *delivery.BuildReceipt) { r.BuildID = "" }},
			{"huge branch", "branch", func(r *delivery.BuildReceipt) { r.Branch = strings.Repeat("b", 9000) }},
		} {
			r := ok
			tt.mod(&r)
			_, err := f.e.ReceiveBuild(f.ctx, r, nil)
			var de *delivery.Error
			if delivery.CodeOf(err) != delivery.CodeInvalidInput || !errors.As(err, &de) || de.Field != tt.field {
				t.Errorf("%s: %v", tt.name, err)
			}
		}
		if n := f.c.WebhookDelivery.Query().CountX(f.ctx); n != 0 {
			t.Fatalf("%d deliveries written", n)
		}
		// An unknown connection is NOT_FOUND, and the claim rolls back.
		r := ok
		r.ConnectionID = 99999
		if _, err := f.e.ReceiveBuild(f.ctx, r, nil); delivery.CodeOf(err) != delivery.CodeNotFound {
			t.Fatalf("unknown connection: %v", err)
		}
		if _, err := f.e.RecordDelivery(f.ctx, delivery.DeliveryRecord{Source: "JENKINS", Result: "ACCEPTED"}); delivery.CodeOf(err) != delivery.CodeInvalidInput {
			t.Fatalf("recording an ACCEPTED delivery by hand: %v", err)
		}
		// No source follows the job: IGNORED, key claimed, nothing released.
		res, err := f.e.ReceiveBuild(f.ctx, ok, nil)
		if err != nil || res.Result != "IGNORED" || !strings.Contains(res.Reason, "no definition follows") {
			t.Fatalf("unfollowed job: %+v %v", res, err)
		}
		res, err = f.e.ReceiveBuild(f.ctx, ok, nil)
		if err != nil || !strings.HasPrefix(res.Reason, "duplicate of delivery") {
			t.Fatalf("second delivery: %+v %v", res, err)
		}
	})
}
