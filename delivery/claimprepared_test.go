package delivery_test

import (
	"context"
	"encoding/base64"
	"reflect"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestClaimQueuedPreparedBuildsTheAssignment checks that the dispatcher's claim round with the
// assignments built beside the claims (ClaimQueuedPrepared) returns, for a claimed job, what
// BuildAssignment returns after the claim (the agent's name included), and nothing for a job
// another dispatcher claimed first.
func TestClaimQueuedPreparedBuildsTheAssignment(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := newEnv(t, db)
		a, _ := register(t, v, "a", map[string]string{"zone": "a"})
		b, _ := register(t, v, "b", map[string]string{"zone": "a"})
		seal := func(s string) string { return "sealed:" + base64.StdEncoding.EncodeToString(v.box.Seal([]byte(s))) }
		s := deliverytest.Job(t, v.c, deliverytest.JobOptions{
			Demands:   []string{"zone -equals a"},
			Tasks:     []spec.Task{{Name: "deploy", Script: "echo hi"}},
			Variables: []spec.Variable{{Name: "region", Value: "eu"}, {Name: "password", Value: seal("hunter2"), Secret: true}},
		})
		q := delivery.NewClaimQueue()
		got, err := v.e.ClaimQueuedPrepared(ctx, q, []delivery.AgentOffer{offer(v, a)})
		if err != nil || len(got) != 1 || got[0].Job.ID != s.Job.ID || *got[0].Job.AgentID != a.ID {
			t.Fatalf("round claimed %+v, %v; want job %d on agent %d", got, err, s.Job.ID, a.ID)
		}
		if got[0].AssignmentErr != nil {
			t.Fatal(got[0].AssignmentErr)
		}
		want, err := v.e.BuildAssignment(ctx, s.Job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want.ReleaseVariables["AGENT_NAME"] != "a" || !reflect.DeepEqual(got[0].Assignment, want) {
			t.Fatalf("prepared assignment\n%+v\nwant (built after the claim)\n%+v", got[0].Assignment, want)
		}

		// A job another dispatcher claims first: the round's build is dropped, nothing claimed.
		taken := deliverytest.Job(t, v.c, deliverytest.JobOptions{Demands: []string{"zone -equals a"}}).Job.ID
		q.Changed(taken)
		if _, err := v.e.ClaimQueued(ctx, q, nil); err != nil { // the mirror reads it
			t.Fatal(err)
		}
		other := delivery.New(v.c, delivery.Options{Dialect: db.Dialect, Secrets: v.box})
		if j, err := other.ClaimJobFor(ctx, b.ID); err != nil || j == nil || j.ID != taken {
			t.Fatalf("other claimer got %v, %v", j, err)
		}
		v.c.Job.UpdateOneID(s.Job.ID).SetStatus(job.StatusSUCCEEDED).ExecX(ctx) // a is free again
		got, err = v.e.ClaimQueuedPrepared(ctx, q, []delivery.AgentOffer{offer(v, a)})
		if err != nil || len(got) != 0 || q.Len() != 0 {
			t.Fatalf("round claimed %+v, %v, mirror holds %d; want nothing claimed and the job dropped", got, err, q.Len())
		}
		if j := v.c.Job.GetX(ctx, taken); *j.AgentID != b.ID {
			t.Fatalf("job %d is on agent %d, want %d", taken, *j.AgentID, b.ID)
		}
	})
}
