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

// TestClaimInOneStatement checks the PostgreSQL claim's single statement on its own: it claims a
// free, queued job for an agent with a free slot (the row as ent reads it, version counted up),
// and claims nothing, without waiting, when the agent is full, the job's row is held by another
// transaction, or the job is no longer claimable (claimed, held, being canceled).
func TestClaimInOneStatement(t *testing.T) {
	v := openPostgres(t)
	ctx := context.Background()
	a, _ := register(t, v, "a", nil) // max jobs 1

	free := deliverytest.Job(t, v.c, deliverytest.JobOptions{}).Job
	got, route, err := v.e.ClaimInOneStatement(ctx, free.ID, a.ID)
	if err != nil || got == nil {
		t.Fatalf("claim of a free job: %v, %v", got, err)
	}
	if got.ID != free.ID || got.Status != job.StatusASSIGNED || got.AgentID == nil || *got.AgentID != a.ID ||
		got.AssignedAt == nil || got.Version != free.Version+1 || got.QueuedAt.IsZero() || got.WaitingReason != "" {
		t.Fatalf("claimed %+v; want job %d ASSIGNED to agent %d, assigned_at set, version %d", got, free.ID, a.ID, free.Version+1)
	}
	if route.Pool != delivery.DefaultPool || route.Group != "" {
		t.Fatalf("route %+v; want the default pool", route)
	}
	if stored := v.c.Job.GetX(ctx, free.ID); stored.Status != job.StatusASSIGNED || stored.Version != got.Version {
		t.Fatalf("stored job is %s v%d; want ASSIGNED v%d", stored.Status, stored.Version, got.Version)
	}

	// The agent runs its max (1): the next job is not claimed.
	next := deliverytest.Job(t, v.c, deliverytest.JobOptions{}).Job
	if got, _, err := v.e.ClaimInOneStatement(ctx, next.ID, a.ID); err != nil || got != nil {
		t.Fatalf("claim for a full agent: %v, %v; want nothing", got, err)
	}
	b, _ := register(t, v, "b", nil)

	// The job's row held by another transaction: nothing claimed, at once.
	tx, err := v.c.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Job.Query().Where(job.ID(next.ID)).ForUpdate().IDs(ctx); err != nil {
		t.Fatal(err)
	}
	quick, cancel := context.WithTimeout(ctx, 20*time.Second)
	got, _, err = v.e.ClaimInOneStatement(quick, next.ID, b.ID)
	cancel()
	if err != nil || got != nil {
		t.Fatalf("claim of a job another transaction holds: %v, %v; want nothing, without waiting", got, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}

	// No longer claimable: held, being canceled, already claimed.
	v.c.Job.UpdateOneID(next.ID).SetHeld(true).ExecX(ctx)
	if got, _, err := v.e.ClaimInOneStatement(ctx, next.ID, b.ID); err != nil || got != nil {
		t.Fatalf("claim of a held job: %v, %v; want nothing", got, err)
	}
	v.c.Job.UpdateOneID(next.ID).SetHeld(false).SetCancelRequested(true).ExecX(ctx)
	if got, _, err := v.e.ClaimInOneStatement(ctx, next.ID, b.ID); err != nil || got != nil {
		t.Fatalf("claim of a job being canceled: %v, %v; want nothing", got, err)
	}
	if got, _, err := v.e.ClaimInOneStatement(ctx, free.ID, b.ID); err != nil || got != nil {
		t.Fatalf("claim of a job another agent has: %v, %v; want nothing", got, err)
	}
	if j := v.c.Job.GetX(ctx, free.ID); *j.AgentID != a.ID {
		t.Fatalf("job %d moved to agent %d", free.ID, *j.AgentID)
	}
}

// TestClaimersOfOneAgentKeepItsMax runs claim rounds of eight engines at once (replicas) that all
// offer the same two agents (max 2 and 1 jobs) over one queue, ten times with new agents: each
// agent's row lock orders the claims for it, so no agent ever holds more than its max, every
// slot is filled and no job is claimed twice.
func TestClaimersOfOneAgentKeepItsMax(t *testing.T) {
	v := openPostgres(t)
	ctx := context.Background()
	for round := range 10 {
		wide, _ := register(t, v, fmt.Sprintf("wide-%d", round), nil)
		if _, err := v.e.AgentConnected(ctx, wide.ID, delivery.HelloInfo{Name: wide.Name, MaxJobs: 2}); err != nil {
			t.Fatal(err)
		}
		narrow, _ := register(t, v, fmt.Sprintf("narrow-%d", round), nil)
		maxOf := map[int]int{wide.ID: 2, narrow.ID: 1}
		for range 8 {
			deliverytest.Job(t, v.c, deliverytest.JobOptions{})
		}
		offers := []delivery.AgentOffer{offer(v, wide), offer(v, narrow)}
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			errs  []error
			seen  = map[int]bool{}
			dup   []int
			ready sync.WaitGroup
		)
		start := make(chan struct{})
		for range 8 {
			e := delivery.New(v.c, delivery.Options{Dialect: delivery.Postgres, Secrets: v.box})
			wg.Add(1)
			ready.Add(1)
			go func() {
				defer wg.Done()
				ready.Done()
				<-start
				for range 3 {
					got, err := e.ClaimJobs(ctx, offers)
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
					}
					for _, j := range got {
						if seen[j.ID] {
							dup = append(dup, j.ID)
						}
						seen[j.ID] = true
					}
					mu.Unlock()
				}
			}()
		}
		ready.Wait()
		close(start)
		wg.Wait()
		if len(errs) > 0 || len(dup) > 0 {
			t.Fatalf("round %d: errors %v; jobs claimed twice: %v", round, errs, dup)
		}
		for id, limit := range maxOf {
			n := v.c.Job.Query().Where(job.AgentID(id), job.StatusIn(job.StatusASSIGNED, job.StatusRUNNING)).CountX(ctx)
			if n != limit {
				t.Fatalf("round %d: agent %d holds %d jobs; want its max, %d", round, id, n, limit)
			}
		}
		if len(seen) != 3 {
			t.Fatalf("round %d: %d jobs reported claimed; want 3 (the slots)", round, len(seen))
		}
	}
}
