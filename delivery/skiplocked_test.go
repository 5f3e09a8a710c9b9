package delivery_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/job"
)

// openPostgres opens a fresh PostgreSQL schema, or skips without CAIRN_TEST_DATABASE_URL.
func openPostgres(t *testing.T) env {
	t.Helper()
	return newEnv(t, openPostgresDB(t))
}

// TestClaimSkipsAJobAnotherClaimerHolds holds the oldest queued job's row in another
// transaction (a claimer on another replica): a claim round skips it (FOR UPDATE SKIP LOCKED)
// and takes the next job instead of waiting for that transaction to end.
func TestClaimSkipsAJobAnotherClaimerHolds(t *testing.T) {
	v := openPostgres(t)
	db := v.c
	ctx := context.Background()
	a, _ := register(t, v, "a", nil)
	held := deliverytest.Job(t, db, deliverytest.JobOptions{}).Job.ID
	next := deliverytest.Job(t, db, deliverytest.JobOptions{}).Job.ID

	tx, err := db.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Job.Query().Where(job.ID(held)).ForUpdate().IDs(ctx); err != nil {
		t.Fatal(err)
	}
	type result struct {
		jobs []*ent.Job
		err  error
	}
	done := make(chan result, 1)
	go func() {
		jobs, err := v.e.ClaimJobs(ctx, []delivery.AgentOffer{offer(v, a)})
		done <- result{jobs, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		if len(r.jobs) != 1 || r.jobs[0].ID != next || *r.jobs[0].AgentID != a.ID {
			t.Fatalf("claimed %v; want job %d (the one nobody holds) on agent %d", r.jobs, next, a.ID)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the claim waited for a job row another transaction holds")
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if j := db.Job.GetX(ctx, held); j.Status != job.StatusQUEUED {
		t.Fatalf("held job is %s, want QUEUED (its claimer let it go)", j.Status)
	}
}

// TestConcurrentClaimersClaimEachJobOnce runs claim rounds of four engines at once (replicas,
// each with its own agents) over one queue: every job is claimed exactly once, by an agent of
// the claimer that reports it, and no agent exceeds its max jobs.
func TestConcurrentClaimersClaimEachJobOnce(t *testing.T) {
	v := openPostgres(t)
	ctx := context.Background()
	const claimers, agentsPer, maxJobs, jobs = 4, 3, 2, 20
	offers := make([][]delivery.AgentOffer, claimers)
	for c := range claimers {
		for i := range agentsPer {
			name := fmt.Sprintf("c%d-a%d", c, i)
			a, _ := register(t, v, name, nil)
			if _, err := v.e.AgentConnected(ctx, a.ID, delivery.HelloInfo{Name: name, MaxJobs: maxJobs}); err != nil {
				t.Fatal(err)
			}
			offers[c] = append(offers[c], offer(v, a))
		}
	}
	for range jobs {
		deliverytest.Job(t, v.c, deliverytest.JobOptions{})
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		claimed = map[int]int{} // job → agent
		dup     []int
		errs    []error
	)
	start := make(chan struct{})
	for c := range claimers {
		e := delivery.New(v.c, delivery.Options{Dialect: delivery.Postgres, Secrets: v.box})
		mine := map[int]bool{}
		for _, o := range offers[c] {
			mine[o.AgentID] = true
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range 5 { // rounds, as kicks would run them
				got, err := e.ClaimJobs(ctx, offers[c])
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, j := range got {
					if _, seen := claimed[j.ID]; seen || !mine[*j.AgentID] {
						dup = append(dup, j.ID)
					}
					claimed[j.ID] = *j.AgentID
				}
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 || len(dup) > 0 {
		t.Fatalf("errors %v; jobs claimed twice or for another claimer's agent: %v", errs, dup)
	}
	if len(claimed) != jobs {
		t.Fatalf("%d jobs claimed, want all %d (%d slots)", len(claimed), jobs, claimers*agentsPer*maxJobs)
	}
	perAgent := map[int]int{}
	for id, agentID := range claimed {
		j := v.c.Job.GetX(ctx, id)
		if j.Status != job.StatusASSIGNED || j.AgentID == nil || *j.AgentID != agentID {
			t.Fatalf("job %d is %s on agent %v; its claimer reported agent %d", id, j.Status, j.AgentID, agentID)
		}
		perAgent[agentID]++
	}
	for agentID, n := range perAgent {
		if n > maxJobs {
			t.Fatalf("agent %d holds %d jobs, above its max of %d", agentID, n, maxJobs)
		}
	}
}
