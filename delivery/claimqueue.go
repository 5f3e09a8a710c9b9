package delivery

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/job"
)

// queuedJob is what a claim round matches a claimable job on: its queue order, route and
// demands, never its spec (most of a row).
type queuedJob struct {
	id            int
	queuedAt      time.Time
	pool          string
	demands       []string
	targetAgentID *int
}

// class is the key of the jobs that match the same agents: pool, target and demands.
func (q queuedJob) class() string {
	var b strings.Builder
	if q.targetAgentID != nil {
		b.WriteString("target:")
		b.WriteString(strconv.Itoa(*q.targetAgentID))
		b.WriteByte(0)
	}
	b.WriteString(q.pool)
	for _, d := range q.demands {
		b.WriteByte(0)
		b.WriteString(d)
	}
	return b.String()
}

// job is the part of an ent.Job that routes reads.
func (q queuedJob) job() *ent.Job {
	return &ent.Job{ID: q.id, Pool: q.pool, TargetAgentID: q.targetAgentID, Demands: q.demands, QueuedAt: q.queuedAt}
}

// jobClass is the mirrored jobs of one class, with the class's demands parsed once.
type jobClass struct {
	sample queuedJob // routes and demands of the class
	ds     []Demand
	bad    bool // a demand does not parse: the jobs wait with the error as their reason
	jobs   map[int]queuedJob
}

// maxChanged is how many changed jobs a ClaimQueue remembers one by one; beyond it the next round
// reads the whole queue once instead of the ids in chunks.
const maxChanged = 2000

// ClaimQueue mirrors the claimable jobs (QUEUED, not held, no cancel requested) for the claim
// rounds of one dispatcher, so that a round reads what changed since the previous one instead
// of the whole queue: the jobs the dispatcher heard were queued (Changed, from job.queued events
// of every replica), and the whole queue again after Resync (at the start, after a lagging event
// subscription, after a failed round, periodically, and whenever more than maxChanged changes
// piled up). Jobs that left the queue without the dispatcher claiming them (claimed by another
// replica, canceled) may stay in it until the next resync: the claim's conditional update
// matches nothing and drops them, and one no free agent meets costs nothing per round. The
// zero value is not usable: NewClaimQueue.
type ClaimQueue struct {
	mu      sync.Mutex
	classes map[string]*jobClass
	classOf map[int]string
	changed map[int]struct{}
	full    bool
}

// NewClaimQueue returns an empty mirror whose first round reads the whole queue.
func NewClaimQueue() *ClaimQueue {
	return &ClaimQueue{classes: map[string]*jobClass{}, classOf: map[int]string{}, changed: map[int]struct{}{}, full: true}
}

// Changed notes jobs that may have been queued (or changed their route or demands): the next
// round reads them.
func (q *ClaimQueue) Changed(ids ...int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.full {
		return
	}
	for _, id := range ids {
		q.changed[id] = struct{}{}
	}
	if len(q.changed) > maxChanged {
		q.full, q.changed = true, map[int]struct{}{}
	}
}

// Forget drops jobs that are no longer claimable (finished, lost).
func (q *ClaimQueue) Forget(ids ...int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, id := range ids {
		q.remove(id)
	}
}

// Resync makes the next round read the whole queue.
func (q *ClaimQueue) Resync() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.full, q.changed = true, map[int]struct{}{}
}

// Len is the number of mirrored jobs.
func (q *ClaimQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.classOf)
}

// remove drops a job; q.mu is held.
func (q *ClaimQueue) remove(id int) {
	key, ok := q.classOf[id]
	if !ok {
		return
	}
	delete(q.classOf, id)
	c := q.classes[key]
	delete(c.jobs, id)
	if len(c.jobs) == 0 {
		delete(q.classes, key)
	}
}

// put adds or replaces a job; q.mu is held.
func (q *ClaimQueue) put(j queuedJob) {
	q.remove(j.id)
	key := j.class()
	c := q.classes[key]
	if c == nil {
		c = &jobClass{sample: j, jobs: map[int]queuedJob{}}
		ds, err := parseDemands(j.demands)
		c.ds, c.bad = ds, err != nil
		q.classes[key] = c
	}
	c.jobs[j.id] = j
	q.classOf[j.id] = key
}

// readQueued reads the claimable jobs (all, or those of ids), only the columns matching needs.
func (e *Engine) readQueued(ctx context.Context, ids []int) ([]queuedJob, error) {
	var out []queuedJob
	read := func(extra ...func(*ent.JobQuery) *ent.JobQuery) error {
		q := e.client.Job.Query().Where(job.StatusEQ(job.StatusQUEUED), job.CancelRequested(false), job.Held(false))
		for _, f := range extra {
			q = f(q)
		}
		rows, err := q.Select(job.FieldID, job.FieldQueuedAt, job.FieldPool, job.FieldDemands, job.FieldTargetAgentID).All(ctx)
		if err != nil {
			return fmt.Errorf("reading the queue: %w", err)
		}
		for _, r := range rows {
			out = append(out, queuedJob{id: r.ID, queuedAt: r.QueuedAt, pool: r.Pool, demands: r.Demands, targetAgentID: r.TargetAgentID})
		}
		return nil
	}
	if ids == nil {
		return out, read()
	}
	for chunk := range slices.Chunk(ids, idChunk) {
		if err := read(func(q *ent.JobQuery) *ent.JobQuery { return q.Where(job.IDIn(chunk...)) }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// refresh brings the mirror up to date: the whole queue after a Resync, else the changed jobs.
func (e *Engine) refresh(ctx context.Context, q *ClaimQueue) error {
	q.mu.Lock()
	full, changed := q.full, q.changed
	q.full, q.changed = false, map[int]struct{}{}
	q.mu.Unlock()
	if !full && len(changed) == 0 {
		return nil
	}
	var ids []int
	if !full {
		ids = make([]int, 0, len(changed))
		for id := range changed {
			ids = append(ids, id)
		}
	}
	jobs, err := e.readQueued(ctx, ids)
	if err != nil {
		q.Resync()
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if full {
		// Changes noted during the read are kept (read again next round); what the read saw
		// replaces the mirror.
		q.classes, q.classOf = map[string]*jobClass{}, map[int]string{}
		for _, j := range jobs {
			q.put(j)
		}
		return nil
	}
	for _, id := range ids {
		q.remove(id) // no longer claimable, unless read back below
	}
	for _, j := range jobs {
		q.put(j)
	}
	return nil
}

// candidates returns the mirrored jobs some offered agent meets, oldest first, each with the
// offered agents that meet it (in the offers' order). Classes no offered agent meets cost one
// match per offer, whatever their number of jobs.
func (q *ClaimQueue) candidates(offers []AgentOffer) (jobs []queuedJob, matches map[string][]int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	matches = map[string][]int{}
	for key, c := range q.classes {
		if c.bad {
			continue // waits with the parse error as its reason
		}
		sample := c.sample.job()
		var m []int
		for _, o := range offers {
			if routes(sample, o.AgentID, o.Route) && meetsAll(c.ds, o.Capabilities) {
				m = append(m, o.AgentID)
			}
		}
		if len(m) == 0 {
			continue
		}
		matches[key] = m
		for _, j := range c.jobs {
			jobs = append(jobs, j)
		}
	}
	slices.SortFunc(jobs, func(a, b queuedJob) int {
		if c := a.queuedAt.Compare(b.queuedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	return jobs, matches
}
