package delivery_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// offer is the dispatcher's offer of a connected agent, with its stored capabilities.
func offer(v env, a *ent.Agent) delivery.AgentOffer {
	return delivery.AgentOffer{AgentID: a.ID, Capabilities: delivery.Capabilities(v.c.Agent.GetX(context.Background(), a.ID))}
}

// TestClaimJobsRoundCostDoesNotGrowWithAgents checks that one dispatch round gives each job to
// the first free agent that meets its demands, in the dispatcher's order, and that the reads of
// the round do not grow with the number of connected agents that cannot take the jobs.
func TestClaimJobsRoundCostDoesNotGrowWithAgents(t *testing.T) {
	reads := map[int]int64{}
	for _, crowd := range []int{2, 40} {
		t.Run(fmt.Sprintf("crowd %d", crowd), func(t *testing.T) {
			db := storagetest.Open(t, "sqlite")
			ctx := context.Background()
			v := newEnv(t, db)
			var ids []delivery.AgentOffer
			for i := range crowd {
				a, _ := register(t, v, fmt.Sprintf("crowd-%d", i), map[string]string{"zone": "x"})
				ids = append(ids, offer(v, a))
			}
			a, _ := register(t, v, "gpu-a", map[string]string{"gpu": "yes"})
			b, _ := register(t, v, "gpu-b", map[string]string{"gpu": "yes"})
			ids = append(ids, offer(v, a), offer(v, b))
			var gpuJobs []int
			for range 3 {
				gpuJobs = append(gpuJobs, deliverytest.Job(t, v.c, deliverytest.JobOptions{Demands: []string{"gpu"}}).Job.ID)
			}
			nowhere := deliverytest.Job(t, v.c, deliverytest.JobOptions{Demands: []string{"zone -equals nowhere"}}).Job.ID

			counted, n := storagetest.Counting(db)
			e := delivery.New(counted, delivery.Options{Dialect: db.Dialect, Secrets: v.box})
			claimed, err := e.ClaimJobs(ctx, ids)
			if err != nil {
				t.Fatal(err)
			}
			reads[crowd] = n.Load()
			got := map[int]int{}
			for _, j := range claimed {
				got[j.ID] = *j.AgentID
			}
			if len(claimed) != 2 || got[gpuJobs[0]] != a.ID || got[gpuJobs[1]] != b.ID {
				t.Fatalf("claimed %v; want job %d on gpu-a (%d) and job %d on gpu-b (%d)", got, gpuJobs[0], a.ID, gpuJobs[1], b.ID)
			}
			for _, id := range []int{gpuJobs[2], nowhere} {
				if j := v.c.Job.GetX(ctx, id); j.Status != job.StatusQUEUED {
					t.Fatalf("job %d is %s, want QUEUED (no free agent meets it)", id, j.Status)
				}
			}
			// Every agent is full or cannot take what is left: a second round claims nothing.
			if again, err := e.ClaimJobs(ctx, ids); err != nil || len(again) != 0 {
				t.Fatalf("second round claimed %d jobs, %v", len(again), err)
			}
		})
	}
	if reads[2] == 0 {
		t.Fatal("no read counted: the counting driver is not in the path")
	}
	if reads[40] != reads[2] {
		t.Fatalf("a round read %d times with 2 other agents, %d with 40: want the same", reads[2], reads[40])
	}
}

// TestClaimJobsBothDialects runs the round on each database: two agents with a
// free slot each, three jobs, one of which only the second agent meets.
func TestClaimJobsBothDialects(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := newEnv(t, db)
		a, _ := register(t, v, "a", map[string]string{"zone": "a"})
		b, _ := register(t, v, "b", map[string]string{"zone": "b"})
		forB := deliverytest.Job(t, v.c, deliverytest.JobOptions{Demands: []string{"zone -equals b"}}).Job.ID
		forAny := deliverytest.Job(t, v.c, deliverytest.JobOptions{}).Job.ID
		third := deliverytest.Job(t, v.c, deliverytest.JobOptions{}).Job.ID
		claimed, err := v.e.ClaimJobs(ctx, []delivery.AgentOffer{offer(v, a), offer(v, b), offer(v, a)})
		if err != nil {
			t.Fatal(err)
		}
		got := map[int]int{}
		for _, j := range claimed {
			if j.Status != job.StatusASSIGNED {
				t.Fatalf("claimed job %d is %s", j.ID, j.Status)
			}
			got[j.ID] = *j.AgentID
		}
		if len(got) != 2 || got[forB] != b.ID || got[forAny] != a.ID {
			t.Fatalf("claimed %v; want job %d on b, job %d on a", got, forB, forAny)
		}
		if j := v.c.Job.GetX(ctx, third); j.Status != job.StatusQUEUED {
			t.Fatalf("third job is %s, want QUEUED (both agents are full)", j.Status)
		}
	})
}

// TestFreeSlots checks what a claim round reads of the agents that meet a job: max jobs minus
// active jobs, and nothing for a disabled or unknown agent.
func TestFreeSlots(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := newEnv(t, db)
		wide, _ := register(t, v, "wide", nil)
		if _, err := v.e.AgentConnected(ctx, wide.ID, delivery.HelloInfo{Name: "wide", MaxJobs: 3}); err != nil {
			t.Fatal(err)
		}
		off, _ := register(t, v, "off", nil)
		if _, err := v.e.SetAgentEnabled(ctx, admin, off.ID, false); err != nil {
			t.Fatal(err)
		}
		deliverytest.Job(t, v.c, deliverytest.JobOptions{})
		if j, err := v.e.ClaimJobFor(ctx, wide.ID); err != nil || j == nil {
			t.Fatalf("claim: %v %v", j, err)
		}
		free, err := v.e.FreeSlots(ctx, []int{wide.ID, off.ID, 999999})
		if err != nil {
			t.Fatal(err)
		}
		if free[wide.ID] != 2 || free[off.ID] != 0 || free[999999] != 0 || len(free) != 3 {
			t.Fatalf("free slots %v; want wide 2 (3 max, 1 active), off 0, unknown 0", free)
		}
	})
}
