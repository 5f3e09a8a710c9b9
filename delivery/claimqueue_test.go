package delivery_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// backlog queues n more jobs of the seeded deployment (phases 1…n) demanding what no agent has.
func backlog(t *testing.T, c *ent.Client, s deliverytest.Seeded, n int) {
	t.Helper()
	ctx := context.Background()
	for from := 0; from < n; from += 500 {
		var bulk []*ent.JobCreate
		for i := from; i < min(n, from+500); i++ {
			bulk = append(bulk, c.Job.Create().SetDeploymentID(s.Deployment.ID).SetPhase(i+1).
				SetDemands([]string{"gpu -equals nowhere"}).SetSpec(spec.JobSpec{Demands: []string{"gpu -equals nowhere"}}).
				SetQueuedAt(s.Job.QueuedAt))
		}
		if err := c.Job.CreateBulk(bulk...).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestClaimRoundCostIgnoresBacklog checks that a dispatcher's claim round over its mirror of the
// queue (ClaimQueued) reads the same statements whether 0, 100 or 1,000 jobs no agent meets
// wait in the queue: the round reads the job it was told was queued, not the backlog.
func TestClaimRoundCostIgnoresBacklog(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		reads := map[int]int64{}
		for _, n := range []int{0, 100, 1000} {
			t.Run(fmt.Sprintf("backlog %d", n), func(t *testing.T) {
				ctx := context.Background()
				v := newEnv(t, db)
				a, _ := register(t, v, fmt.Sprintf("a-%d", n), map[string]string{"zone": "a"})
				stuck := deliverytest.Job(t, v.c, deliverytest.JobOptions{Demands: []string{"gpu -equals nowhere"}})
				backlog(t, v.c, stuck, n)
				counted, count := storagetest.Counting(db)
				e := delivery.New(counted, delivery.Options{Dialect: db.Dialect, Secrets: v.box})
				q := delivery.NewClaimQueue()
				offers := []delivery.AgentOffer{offer(v, a)}
				if got, err := e.ClaimQueued(ctx, q, offers); err != nil || len(got) != 0 {
					t.Fatalf("first round claimed %d, %v; want none", len(got), err)
				}
				// The database is shared by the subtests: the mirror holds every waiting job.
				waiting := v.c.Job.Query().Where(job.StatusEQ(job.StatusQUEUED)).CountX(ctx)
				if waiting < n+1 || q.Len() != waiting {
					t.Fatalf("mirror holds %d jobs, want the %d waiting", q.Len(), waiting)
				}
				mine := deliverytest.Job(t, v.c, deliverytest.JobOptions{Demands: []string{"zone -equals a"}}).Job.ID
				q.Changed(mine)
				count.Store(0)
				got, err := e.ClaimQueued(ctx, q, offers)
				if err != nil || len(got) != 1 || got[0].ID != mine || *got[0].AgentID != a.ID {
					t.Fatalf("round claimed %v, %v; want job %d on agent %d", got, err, mine, a.ID)
				}
				reads[n] = count.Load()
				if q.Len() != waiting {
					t.Fatalf("mirror holds %d jobs after the claim, want %d", q.Len(), waiting)
				}
			})
		}
		if reads[0] == 0 || reads[100] != reads[0] || reads[1000] != reads[0] {
			t.Fatalf("a round ran %v statements for backlogs of 0, 100 and 1,000; want the same, not 0", reads)
		}
	})
}

// TestClaimQueueStaleAndUnnoted checks the mirror's two ways of being wrong: a job claimed
// elsewhere (another replica) is dropped by the round that tries it, without error; a job queued
// without a note is not claimed until a resync reads the queue again.
func TestClaimQueueStaleAndUnnoted(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := newEnv(t, db)
		a, _ := register(t, v, "a", map[string]string{"zone": "a"})
		b, _ := register(t, v, "b", map[string]string{"zone": "a"})
		q := delivery.NewClaimQueue()
		if _, err := v.e.ClaimQueued(ctx, q, nil); err != nil { // the first, full read
			t.Fatal(err)
		}
		taken := deliverytest.Job(t, v.c, deliverytest.JobOptions{Demands: []string{"zone"}}).Job.ID
		q.Changed(taken)
		if _, err := v.e.ClaimQueued(ctx, q, nil); err != nil || q.Len() != 1 {
			t.Fatalf("mirror holds %d jobs, %v; want the noted one", q.Len(), err)
		}
		// Another dispatcher claims it for b.
		other := delivery.New(v.c, delivery.Options{Dialect: db.Dialect, Secrets: v.box})
		if j, err := other.ClaimJobFor(ctx, b.ID); err != nil || j == nil || j.ID != taken {
			t.Fatalf("other claimer got %v, %v", j, err)
		}
		got, err := v.e.ClaimQueued(ctx, q, []delivery.AgentOffer{offer(v, a)})
		if err != nil || len(got) != 0 || q.Len() != 0 {
			t.Fatalf("round claimed %d, %v, mirror holds %d; want nothing claimed and the job dropped", len(got), err, q.Len())
		}
		unnoted := deliverytest.Job(t, v.c, deliverytest.JobOptions{Demands: []string{"zone"}}).Job.ID
		if got, err := v.e.ClaimQueued(ctx, q, []delivery.AgentOffer{offer(v, a)}); err != nil || len(got) != 0 {
			t.Fatalf("round claimed %d, %v; want nothing (the job was not noted)", len(got), err)
		}
		q.Resync()
		got, err = v.e.ClaimQueued(ctx, q, []delivery.AgentOffer{offer(v, a)})
		if err != nil || len(got) != 1 || got[0].ID != unnoted {
			t.Fatalf("round after resync claimed %v, %v; want job %d", got, err, unnoted)
		}
		if j := v.c.Job.GetX(ctx, unnoted); j.Status != job.StatusASSIGNED || *j.AgentID != a.ID {
			t.Fatalf("job is %s on %v", j.Status, j.AgentID)
		}
	})
}
