package delivery

import (
	"context"
	stdsql "database/sql"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/agent"
	"github.com/cairnhq/cairn/ent/agentpool"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/deploymentgroup"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/releaseartifact"
	"github.com/cairnhq/cairn/ent/serviceconnection"
	"github.com/cairnhq/cairn/internal/jobstages"
	"github.com/cairnhq/cairn/internal/origin"
	"github.com/cairnhq/cairn/internal/tasklib"
)

// jobFinal reports whether a job status is final.
func jobFinal(s job.Status) bool {
	switch s {
	case job.StatusSUCCEEDED, job.StatusPARTIALLY_SUCCEEDED, job.StatusFAILED, job.StatusCANCELED, job.StatusLOST, job.StatusSKIPPED:
		return true
	}
	return false
}

// Demand is one agent capability requirement of a job: the capability exists, or (Equals) it
// has the value Value. Names compare case-insensitively, values too (as Azure DevOps does).
type Demand struct {
	Name   string
	Equals bool
	Value  string
}

func (d Demand) String() string {
	if d.Equals {
		return d.Name + " -equals " + d.Value
	}
	return d.Name
}

// ParseDemand parses "name" or "name -equals value".
func ParseDemand(s string) (Demand, error) {
	s = strings.TrimSpace(s)
	lower := strings.ToLower(s)
	if i := strings.Index(lower, " -equals "); i >= 0 {
		name, value := strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+len(" -equals "):])
		if name == "" || strings.ContainsAny(name, " \t") || value == "" {
			return Demand{}, Invalid("demands", "demand %q is not valid: write \"name\" or \"name -equals value\"", s)
		}
		return Demand{Name: name, Equals: true, Value: value}, nil
	}
	if s == "" || strings.ContainsAny(s, " \t") {
		return Demand{}, Invalid("demands", "demand %q is not valid: write \"name\" or \"name -equals value\"", s)
	}
	return Demand{Name: s}, nil
}

// Capabilities returns an agent's capabilities as demands see them: system ones overridden by
// user ones, names lowercased.
func Capabilities(a *ent.Agent) map[string]string {
	caps := make(map[string]string, len(a.SystemCapabilities)+len(a.UserCapabilities))
	for k, v := range a.SystemCapabilities {
		caps[strings.ToLower(k)] = v
	}
	for k, v := range a.UserCapabilities {
		caps[strings.ToLower(k)] = v
	}
	return caps
}

// Meets reports whether capabilities caps satisfy demand d.
func (d Demand) Meets(caps map[string]string) bool {
	v, ok := caps[strings.ToLower(d.Name)]
	if !ok {
		return false
	}
	return !d.Equals || strings.EqualFold(v, d.Value)
}

// parseDemands parses a job's demands; the error names the first invalid one.
func parseDemands(raw []string) ([]Demand, error) {
	ds := make([]Demand, 0, len(raw))
	for _, r := range raw {
		d, err := ParseDemand(r)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// meetsAll reports whether caps satisfy every demand.
func meetsAll(ds []Demand, caps map[string]string) bool {
	for _, d := range ds {
		if !d.Meets(caps) {
			return false
		}
	}
	return true
}

var activeJob = job.StatusIn(job.StatusASSIGNED, job.StatusRUNNING)

// ClaimJobFor assigns to the agent the oldest QUEUED job whose demands it meets, if it is enabled
// and runs fewer than its max jobs (ClaimJobs for one agent and one job, with the capabilities
// stored for it). It returns nil, nil when there is nothing for the agent.
func (e *Engine) ClaimJobFor(ctx context.Context, agentID int) (*ent.Job, error) {
	a, err := e.client.Agent.Get(ctx, agentID)
	if ent.IsNotFound(err) {
		return nil, NotFound("agent", agentID)
	}
	if err != nil {
		return nil, fmt.Errorf("claiming a job for agent %d: %w", agentID, err)
	}
	route, err := agentRouteOf(ctx, e.client, a)
	if err != nil {
		return nil, fmt.Errorf("claiming a job for agent %d: %w", agentID, err)
	}
	jobs, err := e.claimJobs(ctx, []AgentOffer{{AgentID: a.ID, Capabilities: Capabilities(a), Route: route}}, 1)
	if err != nil || len(jobs) == 0 {
		return nil, err
	}
	return jobs[0], nil
}

// AgentOffer is a connected agent the dispatcher may give jobs to, with the capabilities its
// hello recorded (Reconciliation.Capabilities), so that matching jobs to agents reads no agent.
type AgentOffer struct {
	AgentID      int
	Capabilities map[string]string
	// Route says which jobs the agent may take: those of its pool, or, for a deployment-group
	// target, only those addressed to it (Reconciliation.Route, refreshed on EventAgentChanged
	// MOVED; the claim checks the stored one again).
	Route AgentRoute
}

// AgentRoute is where an agent takes jobs from: the jobs of agent phases naming Pool, or, for a
// target of a deployment group (Group set), only the jobs addressed to it.
type AgentRoute struct {
	Pool  string
	Group string
}

// jobPool is the pool of a job: its own, "default" for jobs stored before pools routed.
func jobPool(j *ent.Job) string {
	if j.Pool == "" {
		return DefaultPool
	}
	return j.Pool
}

// routes reports whether a job may go to the agent with that id and route (demands aside): a
// target's job only to its target, any other job only to a pool agent of its pool.
func routes(j *ent.Job, agentID int, r AgentRoute) bool {
	if j.TargetAgentID != nil {
		return *j.TargetAgentID == agentID
	}
	pool := r.Pool
	if pool == "" {
		pool = DefaultPool // an offer that names no route: the default pool's agent
	}
	return r.Group == "" && strings.EqualFold(pool, jobPool(j))
}

// ClaimJobs assigns QUEUED jobs, oldest first, to the offered agents (the dispatcher's connected
// agents with a free slot, in the order it prefers them): each job goes to the first offered
// agent that meets its demands, is enabled and runs fewer than its max jobs. Demands are matched
// in memory; only the agents that meet a queued job's demands are read (enabled, max jobs, active
// jobs), so a round costs the same whatever the number of agents that cannot take the jobs. Each
// claim is one conditional update (status still QUEUED), so that of several dispatchers racing
// for a job exactly one gets it. It returns the claimed jobs, their AgentID set.
func (e *Engine) ClaimJobs(ctx context.Context, offers []AgentOffer) ([]*ent.Job, error) {
	return e.claimJobs(ctx, offers, 0)
}

// idChunk bounds the ids of one IN (…) list.
const idChunk = 500

// freeSlots reads, for the agents ids, how many more jobs each may take now (0 when disabled,
// deleted or full): one statement per chunk, each agent's active jobs counted beside it.
func (e *Engine) freeSlots(ctx context.Context, ids []int) (map[int]int, error) {
	free := make(map[int]int, len(ids))
	for chunk := range slices.Chunk(ids, idChunk) {
		var agents []struct {
			ID      int `json:"id"`
			MaxJobs int `json:"max_jobs"`
			Active  int `json:"active_jobs"`
		}
		err := e.client.Agent.Query().Where(agent.IDIn(chunk...), agent.Enabled(true)).
			Modify(func(s *entsql.Selector) {
				s.Select(s.C(agent.FieldID), s.C(agent.FieldMaxJobs)).
					AppendSelectExprAs(entsql.Expr(activeJobsOf(s.C(agent.FieldID))), "active_jobs")
			}).Scan(ctx, &agents)
		if err != nil {
			return nil, fmt.Errorf("reading agents and their active jobs: %w", err)
		}
		for _, a := range agents {
			free[a.ID] = a.MaxJobs - a.Active
		}
	}
	for _, id := range ids {
		free[id] = max(free[id], 0)
	}
	return free, nil
}

// activeJobsOf is the SQL count of the active jobs (activeJob) of the agent whose id is the
// column agentID.
func activeJobsOf(agentID string) string {
	return `(SELECT count(*) FROM ` + job.Table + ` AS active WHERE active.` + job.FieldAgentID + ` = ` + agentID +
		` AND active.` + job.FieldStatus + ` IN ('` + string(job.StatusASSIGNED) + `', '` + string(job.StatusRUNNING) + `'))`
}

// ClaimQueued is ClaimJobs over a dispatcher's mirror of the queue (ClaimQueue): it reads only
// the jobs noted as changed since the previous round (the whole queue after a resync), and
// matches the mirrored jobs class by class, so that a round costs what changed, not the backlog.
func (e *Engine) ClaimQueued(ctx context.Context, q *ClaimQueue, offers []AgentOffer) ([]*ent.Job, error) {
	claimed, err := e.claimFrom(ctx, q, offers, 0, false)
	return claimedJobs(claimed), err
}

// ClaimedJob is a job a claim round gave an agent, with its assignment (BuildAssignment's
// result and error) when the round prepared it.
type ClaimedJob struct {
	Job           *ent.Job
	Assignment    AssignmentData
	AssignmentErr error
}

// ClaimQueuedPrepared is ClaimQueued that also builds the assignment of each job it claims,
// reading it beside the claim's transaction instead of after its commit: what the assignment
// reads (the job's spec, deployment, release, artifacts, connections, earlier jobs' outputs) is
// not what a claim changes, and the agent's name, the one part that depends on the claim, comes
// from the agent row the claim read. A build whose claim fails (another dispatcher took the job)
// is canceled and dropped; a job tried with several agents is built once. The dispatcher uses
// it so that a queued job reaches its agent one database round trip (or more) sooner.
func (e *Engine) ClaimQueuedPrepared(ctx context.Context, q *ClaimQueue, offers []AgentOffer) ([]ClaimedJob, error) {
	return e.claimFrom(ctx, q, offers, 0, true)
}

func claimedJobs(c []ClaimedJob) []*ent.Job {
	if c == nil {
		return nil
	}
	jobs := make([]*ent.Job, len(c))
	for i := range c {
		jobs[i] = c[i].Job
	}
	return jobs
}

// prepareAhead bounds the assignments a claim round starts building before its first claim.
const prepareAhead = 2

// preparedAssignment is an assignment being built beside a claim (ClaimQueuedPrepared).
type preparedAssignment struct {
	cancel context.CancelFunc
	done   chan struct{}
	data   AssignmentData
	err    error
}

// prepareAssignment starts building job's assignment, without the agent's name, in its own
// goroutine.
func (e *Engine) prepareAssignment(ctx context.Context, jobID int) *preparedAssignment {
	ctx, cancel := context.WithCancel(ctx)
	p := &preparedAssignment{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.data, p.err = e.buildAssignment(ctx, jobID, false)
	}()
	return p
}

// wait returns the built assignment, with AGENT_NAME set to agentName.
func (p *preparedAssignment) wait(agentName string) (AssignmentData, error) {
	<-p.done
	p.cancel()
	if p.err == nil {
		p.data.ReleaseVariables["AGENT_NAME"] = agentName
	}
	return p.data, p.err
}

// drop cancels a build whose claim failed and waits for its goroutine, so that a round leaves
// none behind.
func (p *preparedAssignment) drop() {
	p.cancel()
	<-p.done
}

// claimJobs is ClaimJobs, stopping after limit claims (0: no limit): one round over a mirror
// read once.
func (e *Engine) claimJobs(ctx context.Context, offers []AgentOffer, limit int) ([]*ent.Job, error) {
	if len(offers) == 0 {
		return nil, nil
	}
	claimed, err := e.claimFrom(ctx, NewClaimQueue(), offers, limit, false)
	return claimedJobs(claimed), err
}

// claimFrom runs one claim round over the mirror q, stopping after limit claims (0: no limit);
// with prepare it builds the claimed jobs' assignments beside their claims
// (ClaimQueuedPrepared).
func (e *Engine) claimFrom(ctx context.Context, q *ClaimQueue, offers []AgentOffer, limit int, prepare bool) (claimed []ClaimedJob, err error) {
	if err := e.refresh(ctx, q); err != nil {
		return nil, fmt.Errorf("claiming jobs: %w", err)
	}
	if len(offers) == 0 {
		return nil, nil
	}
	page, matches := q.candidates(offers)
	if len(page) == 0 {
		return nil, nil
	}
	// Read the free slots of the agents that meet some job, once.
	var unread []int
	toRead := map[int]bool{}
	for _, m := range matches {
		for _, id := range m {
			if !toRead[id] {
				toRead[id] = true
				unread = append(unread, id)
			}
		}
	}
	// Assignments being built beside their jobs' claims, by job; those whose job was not
	// claimed are dropped when the round ends. The oldest jobs, as many as there are agents
	// that meet some job and at most prepareAhead, are started now, beside the read of the
	// agents' free slots: with free agents they are the jobs the round claims first. The others
	// start with their claim, and each claimed job waits for its build before the next claim,
	// so that a round holds at most prepareAhead+1 database connections for them.
	prepared := map[int]*preparedAssignment{}
	defer func() {
		for _, p := range prepared {
			p.drop()
		}
	}()
	if prepare {
		for _, j := range page[:min(len(page), len(unread), prepareAhead)] {
			prepared[j.id] = e.prepareAssignment(ctx, j.id)
		}
	}
	free, err := e.freeSlots(ctx, unread)
	if err != nil {
		q.Resync()
		return nil, fmt.Errorf("claiming jobs: %w", err)
	}
	// A job whose row another transaction holds is skipped at first (PostgreSQL), then tried
	// again, waiting for it, once the free ones are claimed: the holder may be a claimer on
	// another replica (the job is gone then) or a short write such as a waiting reason (the
	// job is still to be claimed, and no event would bring it back to this round).
	var skipped []int
	for pass := 0; pass < 2; pass++ {
		for i, j := range page {
			if pass == 1 && !slices.Contains(skipped, i) {
				continue
			}
			for _, id := range matches[j.class()] {
				if free[id] == 0 {
					continue
				}
				if prepare && prepared[j.id] == nil {
					prepared[j.id] = e.prepareAssignment(ctx, j.id)
				}
				got, agentName, full, locked, err := e.claim(ctx, id, j, pass == 0)
				if err != nil {
					q.Resync()
					return claimed, err
				}
				if locked {
					skipped = append(skipped, i)
					break
				}
				if full {
					free[id] = 0 // another dispatcher filled it meanwhile: try the next agent
					continue
				}
				// Claimed, or no longer claimable (another dispatcher took it, canceled): it
				// leaves the mirror either way.
				q.Forget(j.id)
				if got != nil {
					free[id]--
					c := ClaimedJob{Job: got}
					if p := prepared[j.id]; p != nil {
						delete(prepared, j.id)
						c.Assignment, c.AssignmentErr = p.wait(agentName)
						jobstages.Stamp(j.id, "assignment built")
					}
					claimed = append(claimed, c)
					if limit > 0 && len(claimed) >= limit {
						return claimed, nil
					}
				}
				break
			}
		}
		if len(skipped) == 0 {
			break
		}
	}
	return claimed, nil
}

// claim tries to assign job jobID to the agent. full is set when the agent has no free slot.
// With skipLocked (PostgreSQL), a job row another transaction holds is not waited for: locked
// is set instead.
func (e *Engine) claim(ctx context.Context, agentID int, qj queuedJob, skipLocked bool) (claimed *ent.Job, agentName string, full, locked bool, err error) {
	jobID, j := qj.id, qj.job()
	jobstages.Stamp(jobID, "claim requested")
	err = e.inTxConcurrent(ctx, func(t *txn) error {
		jobstages.Stamp(jobID, "claim tx began")
		// Lock the agent row so that two claims for one agent cannot both see a free slot; its
		// route (pool or group name) comes in the same statement.
		a, err := t.lockAgentForClaim(agentID)
		if err != nil {
			return err
		}
		if !a.enabled {
			full = true
			return nil
		}
		// The route as stored now: an agent moved to another pool since the dispatcher read
		// its route takes nothing of the old pool's.
		if !routes(j, a.id, a.route) {
			full = true
			return nil
		}
		if skipLocked && t.postgres() {
			// The usual case in one statement: the job free, claimable and the agent's slot
			// free. When it claims nothing, the statements below tell why (full, locked,
			// gone) and decide as before.
			got, err := t.claimInOneStatement(jobID, a)
			if err != nil {
				return err
			}
			if got != nil {
				claimed, agentName = got, a.name
				return nil
			}
		}
		active, err := t.Job.Query().Where(job.AgentID(agentID), activeJob).Count(t.ctx)
		if err != nil {
			return fmt.Errorf("counting jobs of agent %d: %w", agentID, err)
		}
		if active >= a.maxJobs {
			full = true
			return nil
		}
		to, err := jobMachine.apply(jobID, job.StatusQUEUED, JobAssign)
		if err != nil {
			return err
		}
		if skipLocked && t.postgres() {
			// Lock the job unless another transaction holds it: a job another dispatcher
			// (replica) is claiming is skipped, not waited for, so claimers do not queue behind
			// each other's transactions (the update below alone blocks on the row until the
			// other commits, then matches nothing). SQLite has one writer.
			ids, err := t.Job.Query().Where(job.ID(jobID)).
				ForUpdate(entsql.WithLockAction(entsql.SkipLocked)).IDs(t.ctx)
			if err != nil {
				return fmt.Errorf("locking job %d: %w", jobID, err)
			}
			if len(ids) == 0 {
				locked = true
				return nil
			}
		}
		n, err := t.Job.Update().Where(job.ID(jobID), job.StatusEQ(job.StatusQUEUED), job.CancelRequested(false), job.Held(false)).
			SetStatus(to).SetAgentID(agentID).SetAssignedAt(t.now).SetWaitingReason("").
			AddVersion(1).Save(t.ctx)
		if err != nil {
			return fmt.Errorf("claiming job %d: %w", jobID, err)
		}
		if n == 0 {
			return nil
		}
		claimed, err = t.Job.Get(t.ctx, jobID)
		if err != nil {
			return fmt.Errorf("reading claimed job %d: %w", jobID, err)
		}
		agentName = a.name
		return nil
	})
	if err != nil {
		claimed = nil // a failed commit claimed nothing
	}
	if claimed != nil {
		claimed = claimed.Unwrap()
		jobstages.Stamp(jobID, "claim committed")
	}
	return claimed, agentName, full, locked, err
}

// claimAgent is what a claim reads of its agent.
type claimAgent struct {
	id      int
	name    string
	enabled bool
	maxJobs int
	route   AgentRoute
}

// lockAgentForClaim reads agent agentID with its route, locking its row on PostgreSQL (FOR
// UPDATE OF the agent alone): one statement, the pool's and the group's names joined in.
func (t *txn) lockAgentForClaim(agentID int) (claimAgent, error) {
	a := entsql.Table(agent.Table)
	p, g := entsql.Table(agentpool.Table).As("route_pool"), entsql.Table(deploymentgroup.Table).As("route_group")
	s := entsql.Dialect(string(t.e.dialect)).
		Select(a.C(agent.FieldName), a.C(agent.FieldEnabled), a.C(agent.FieldMaxJobs), a.C(agent.FieldPoolID),
			a.C(agent.FieldDeploymentGroupID), p.C(agentpool.FieldName), g.C(deploymentgroup.FieldName)).
		From(a).
		LeftJoin(p).On(a.C(agent.FieldPoolID), p.C(agentpool.FieldID)).
		LeftJoin(g).On(a.C(agent.FieldDeploymentGroupID), g.C(deploymentgroup.FieldID)).
		Where(entsql.EQ(a.C(agent.FieldID), agentID))
	if t.postgres() {
		s.ForUpdate(entsql.WithLockTables(agent.Table))
	}
	q, args := s.Query()
	rows, err := t.QueryContext(t.ctx, q, args...)
	if err != nil {
		return claimAgent{}, fmt.Errorf("locking agent %d: %w", agentID, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return claimAgent{}, fmt.Errorf("locking agent %d: %w", agentID, err)
		}
		return claimAgent{}, fmt.Errorf("locking agent %d: %w", agentID, NotFound("agent", agentID))
	}
	c := claimAgent{id: agentID}
	var poolID, groupID stdsql.NullInt64
	var pool, group stdsql.NullString
	if err := rows.Scan(&c.name, &c.enabled, &c.maxJobs, &poolID, &groupID, &pool, &group); err != nil {
		return claimAgent{}, fmt.Errorf("locking agent %d: %w", agentID, err)
	}
	switch {
	case groupID.Valid:
		if !group.Valid {
			return claimAgent{}, fmt.Errorf("reading deployment group of agent %d: group %d not found", agentID, groupID.Int64)
		}
		c.route = AgentRoute{Group: group.String}
	case poolID.Valid:
		if !pool.Valid {
			return claimAgent{}, fmt.Errorf("reading pool of agent %d: pool %d not found", agentID, poolID.Int64)
		}
		c.route = AgentRoute{Pool: pool.String}
	default:
		c.route = AgentRoute{Pool: DefaultPool}
	}
	return c, rows.Close()
}

// claimOneStatementSQL claims job $1 for agent $2 in one PostgreSQL statement, under the agent's
// row lock the transaction already holds (so that its snapshot, taken after the lock, counts
// every job another claim gave the agent): the job's row locked, if it is still QUEUED, not held
// or being canceled and the agent runs fewer than its max ($6) active jobs (activeJobsOf),
// unless another transaction holds it (SKIP LOCKED; a full agent locks nothing), then updated.
// It returns the claimed row, or none; the job's columns are ent's, selected from the claimed
// CTE (claimInOneStatement).
var claimOneStatementSQL = `WITH claim_target AS (
  SELECT id FROM jobs WHERE id = $1 AND status = 'QUEUED' AND NOT cancel_requested AND NOT held
    AND ` + activeJobsOf("$2") + ` < $6
  FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE jobs SET status = $3, agent_id = $2, assigned_at = $4, updated_at = $5, waiting_reason = '',
    version = COALESCE(jobs.version, 0) + 1
  FROM claim_target
  WHERE jobs.id = claim_target.id AND jobs.status = 'QUEUED' AND NOT jobs.cancel_requested AND NOT jobs.held
  RETURNING jobs.*
) `

// claimInOneStatement is the PostgreSQL claim of job jobID by agent a (locked by
// lockAgentForClaim) in one round trip: the claimed job, or nil when the statement claimed
// nothing (the agent full, the job locked by another transaction, or no longer claimable).
func (t *txn) claimInOneStatement(jobID int, a claimAgent) (*ent.Job, error) {
	to, err := jobMachine.apply(jobID, job.StatusQUEUED, JobAssign)
	if err != nil {
		return nil, err
	}
	q := t.Job.Query()
	q.Modify(func(s *entsql.Selector) {
		s.Prefix(entsql.Expr(claimOneStatementSQL, jobID, a.id, string(to), t.now, time.Now(), a.maxJobs))
		s.From(entsql.Table("claimed").As(job.Table))
	})
	got, err := q.All(t.ctx)
	if err != nil {
		return nil, fmt.Errorf("claiming job %d: %w", jobID, err)
	}
	if len(got) == 0 {
		return nil, nil
	}
	return got[0], nil
}

// agentPool is what waiting reasons are explained from: the enabled agents, the online ones with
// their capabilities (computed once for all the jobs explained), and their active job counts.
type agentPool struct {
	enabled int
	online  []pooledAgent
	// all are the enabled agents by id, online or not, with their routes.
	all map[int]pooledAgent
}

type pooledAgent struct {
	id     int
	name   string
	online bool
	route  AgentRoute
	caps   map[string]string
	busy   bool // runs its max jobs
}

// waitingReason explains why job j is not assigned, given the agents.
func waitingReason(j *ent.Job, agents *agentPool) string {
	if j.Held {
		return "waiting for its turn: the phase runs at most maxParallel targets at once"
	}
	ds, err := parseDemands(j.Demands)
	if err != nil {
		return err.Error()
	}
	if j.TargetAgentID != nil {
		a, ok := agents.all[*j.TargetAgentID]
		switch {
		case !ok:
			return fmt.Sprintf("target %s is disabled or no longer registered", j.Target)
		case !a.online:
			return fmt.Sprintf("waiting for target %s to come online", j.Target)
		case !meetsAll(ds, a.caps):
			return fmt.Sprintf("target %s does not meet the demands %s", j.Target, quoteDemands(ds))
		case a.busy:
			return fmt.Sprintf("waiting for target %s: it runs its max jobs", j.Target)
		}
		return "waiting for dispatch"
	}
	// Only the pool's agents count.
	name := jobPool(j)
	pool := &agentPool{}
	for _, a := range agents.all {
		if routes(j, a.id, a.route) {
			pool.enabled++
		}
	}
	for _, a := range agents.online {
		if routes(j, a.id, a.route) {
			pool.online = append(pool.online, a)
		}
	}
	if len(pool.online) == 0 {
		if pool.enabled == 0 {
			return fmt.Sprintf("no enabled agent is registered in pool %s", name)
		}
		return fmt.Sprintf("no agent in pool %s is online", name)
	}
	var unmet []string
	for _, d := range ds {
		met := slices.ContainsFunc(pool.online, func(a pooledAgent) bool { return d.Meets(a.caps) })
		if met {
			continue
		}
		if d.Equals {
			unmet = append(unmet, fmt.Sprintf("no online agent%s meets demand %q", inPool(name), d.String()))
		} else {
			unmet = append(unmet, fmt.Sprintf("no online agent%s has capability %q", inPool(name), d.Name))
		}
	}
	if len(unmet) > 0 {
		return strings.Join(unmet, "; ")
	}
	matching, busy := 0, 0
	for _, a := range pool.online {
		if meetsAll(ds, a.caps) {
			matching++
			if a.busy {
				busy++
			}
		}
	}
	switch {
	case matching == 0:
		return fmt.Sprintf("no online agent in pool %s matches demands %s together", name, quoteDemands(ds))
	case busy == matching:
		return fmt.Sprintf("waiting for a free agent: all %d matching agents are busy", matching)
	}
	return "waiting for dispatch"
}

// inPool names a pool in a waiting reason, except the default one (as before pools routed).
func inPool(name string) string {
	if strings.EqualFold(name, DefaultPool) {
		return ""
	}
	return " in pool " + name
}

func quoteDemands(ds []Demand) string {
	quoted := make([]string, len(ds))
	for i, d := range ds {
		quoted[i] = strconv.Quote(d.String())
	}
	return strings.Join(quoted, ", ")
}

// waitingInputs reads what waitingReason needs: the enabled agents and their active job counts.
func (e *Engine) waitingInputs(ctx context.Context) (*agentPool, error) {
	agents, err := e.client.Agent.Query().Where(agent.Enabled(true)).WithPool().WithDeploymentGroup().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading agents: %w", err)
	}
	active := map[int]int{}
	busy, err := e.client.Job.Query().Where(activeJob, job.AgentIDNotNil()).Select(job.FieldAgentID).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading active jobs: %w", err)
	}
	for _, j := range busy {
		active[*j.AgentID]++
	}
	pool := &agentPool{enabled: len(agents), all: make(map[int]pooledAgent, len(agents))}
	for _, a := range agents {
		pa := pooledAgent{id: a.ID, name: a.Name, online: a.Online, route: routeOfLoaded(a),
			caps: Capabilities(a), busy: active[a.ID] >= a.MaxJobs}
		pool.all[a.ID] = pa
		if a.Online {
			pool.online = append(pool.online, pa)
		}
	}
	return pool, nil
}

// ExplainWaiting says why a queued job is not assigned (e.g. `no online agent has capability
// "docker"`), records it as the job's waiting reason, and returns it. It returns "" for a job
// that is not queued.
func (e *Engine) ExplainWaiting(ctx context.Context, jobID int) (string, error) {
	j, err := e.client.Job.Get(ctx, jobID)
	if ent.IsNotFound(err) {
		return "", NotFound("job", jobID)
	}
	if err != nil {
		return "", fmt.Errorf("reading job %d: %w", jobID, err)
	}
	if j.Status != job.StatusQUEUED {
		return "", nil
	}
	pool, err := e.waitingInputs(ctx)
	if err != nil {
		return "", err
	}
	reason := waitingReason(j, pool)
	return reason, e.setWaitingReason(ctx, j, reason)
}

// UpdateWaitingReasons refreshes the waiting reason of every queued job (the oldest 500), after a
// dispatch round. It is a full refresh for RefreshWaitingReasons too.
func (e *Engine) UpdateWaitingReasons(ctx context.Context) error {
	jobs, err := e.queuedForReasons(ctx, nil)
	if err != nil || len(jobs) == 0 {
		return err
	}
	pool, err := e.waitingInputs(ctx)
	if err != nil {
		return err
	}
	now := e.clock.Now()
	if err := e.writeWaitingReasons(ctx, jobs, pool); err != nil {
		return err
	}
	e.waiting.remember(pool.fingerprint(), now)
	return nil
}

// waitingFullEvery bounds how long RefreshWaitingReasons explains only the jobs it is told of:
// a change that no event reports is seen within it.
const waitingFullEvery = 30 * time.Second

// waitingMemo is what the last full refresh of the waiting reasons saw (RefreshWaitingReasons).
type waitingMemo struct {
	mu   sync.Mutex
	pool string    // the agents, as waitingReason reads them (agentPool.fingerprint)
	at   time.Time // by the engine's clock
}

// remember records a full refresh that saw the agents as pool (a fingerprint) at at.
func (m *waitingMemo) remember(pool string, at time.Time) {
	m.mu.Lock()
	m.pool, m.at = pool, at
	m.mu.Unlock()
}

// RefreshWaitingReasons is UpdateWaitingReasons for a dispatcher that knows which jobs changed
// since its last call (their events): while the agents are as the last full refresh found them,
// less than waitingFullEvery ago, only those jobs can have a new reason, and only they are read,
// by id. Otherwise every queued job is explained again (the oldest 500). Every replica runs it
// after its dispatch rounds, for the jobs whose events it published itself (the server's hub:
// one replica's explanation, stored, serves all); each read the oldest 500 queued jobs every
// time before.
func (e *Engine) RefreshWaitingReasons(ctx context.Context, changed []int) error {
	pool, err := e.waitingInputs(ctx)
	if err != nil {
		return err
	}
	fp := pool.fingerprint()
	now := e.clock.Now()
	e.waiting.mu.Lock()
	full := fp != e.waiting.pool || now.Sub(e.waiting.at) >= waitingFullEvery || now.Before(e.waiting.at)
	e.waiting.mu.Unlock()
	if !full && len(changed) == 0 {
		return nil
	}
	var ids []int
	if !full {
		ids = changed
	}
	jobs, err := e.queuedForReasons(ctx, ids)
	if err != nil {
		return err
	}
	if err := e.writeWaitingReasons(ctx, jobs, pool); err != nil {
		return err
	}
	if full {
		e.waiting.remember(fp, now)
	}
	return nil
}

// fingerprint is what waitingReason reads of the agents, as a string: two pools with the same
// fingerprint give every job the same reason.
func (p *agentPool) fingerprint() string {
	ids := make([]int, 0, len(p.all))
	for id := range p.all {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b strings.Builder
	for _, id := range ids {
		a := p.all[id]
		fmt.Fprintf(&b, "%d %q %v %v %v %v;", a.id, a.name, a.online, a.busy, a.route, a.caps)
	}
	return b.String()
}

// queuedForReasons reads what waitingReason reads of the queued jobs (not the job's spec, which
// is most of a row): those of ids, or the oldest 500 when ids is nil.
func (e *Engine) queuedForReasons(ctx context.Context, ids []int) ([]*ent.Job, error) {
	q := e.client.Job.Query().Where(job.StatusEQ(job.StatusQUEUED))
	if ids != nil {
		q.Where(job.IDIn(ids...))
	} else {
		q.Order(ent.Asc(job.FieldQueuedAt), ent.Asc(job.FieldID)).Limit(500)
	}
	jobs, err := q.Select(job.FieldID, job.FieldHeld, job.FieldDemands, job.FieldTargetAgentID, job.FieldTarget,
		job.FieldPool, job.FieldWaitingReason).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading queued jobs: %w", err)
	}
	return jobs, nil
}

// writeWaitingReasons records the reasons of jobs that changed, given the agents.
func (e *Engine) writeWaitingReasons(ctx context.Context, jobs []*ent.Job, pool *agentPool) error {
	// The changed reasons are written in one transaction, one statement per distinct reason
	// (new jobs of a burst share theirs), not one transaction per job.
	changed := map[string][]int{}
	var reasons []string
	for _, j := range jobs {
		reason := waitingReason(j, pool)
		if reason == j.WaitingReason {
			continue
		}
		if changed[reason] == nil {
			reasons = append(reasons, reason)
		}
		changed[reason] = append(changed[reason], j.ID)
	}
	if len(reasons) == 0 {
		return nil
	}
	err := e.inTxConcurrent(ctx, func(t *txn) error {
		for _, reason := range reasons {
			ids := changed[reason]
			if !t.postgres() {
				if err := t.Job.Update().Where(job.IDIn(ids...), job.StatusEQ(job.StatusQUEUED)).
					SetWaitingReason(reason).Exec(t.ctx); err != nil {
					return err
				}
				continue
			}
			// Rows another transaction holds (claimed, canceled) are skipped, not waited for:
			// a multi-row update must not wait on, or deadlock with, the writers that change
			// jobs; a job skipped and still queued is explained by the next refresh.
			ids64 := make([]int64, len(ids))
			for i, id := range ids {
				ids64[i] = int64(id)
			}
			if _, err := t.ExecContext(t.ctx, `UPDATE jobs SET waiting_reason = $1 WHERE id IN
				(SELECT id FROM jobs WHERE id = ANY($2::bigint[]) AND status = 'QUEUED' FOR UPDATE SKIP LOCKED)`,
				reason, ids64); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording the waiting reasons of %d jobs: %w", len(jobs), err)
	}
	return nil
}

func (e *Engine) setWaitingReason(ctx context.Context, j *ent.Job, reason string) error {
	if j.WaitingReason == reason {
		return nil
	}
	err := e.inTxConcurrent(ctx, func(t *txn) error {
		return t.Job.Update().Where(job.ID(j.ID), job.StatusEQ(job.StatusQUEUED)).SetWaitingReason(reason).Exec(t.ctx)
	})
	if err != nil {
		return fmt.Errorf("recording waiting reason of job %d: %w", j.ID, err)
	}
	return nil
}

// errNotAssigned is the answer to an agent reporting on a job that is not its own.
func errNotAssigned(jobID int) error {
	return &Error{Code: CodeNotFound, Message: fmt.Sprintf("job %d is not assigned to this agent", jobID)}
}

// agentJob returns the job if it is assigned to the agent (locked FOR UPDATE on PostgreSQL).
func (t *txn) agentJob(jobID, agentID int) (*ent.Job, error) {
	q := t.Job.Query().Where(job.ID(jobID))
	if t.postgres() {
		q = q.ForUpdate()
	}
	j, err := q.Only(t.ctx)
	if ent.IsNotFound(err) {
		return nil, errNotAssigned(jobID)
	}
	if err != nil {
		return nil, fmt.Errorf("reading job %d: %w", jobID, err)
	}
	if j.AgentID == nil || *j.AgentID != agentID {
		return nil, errNotAssigned(jobID)
	}
	return j, nil
}

// AgentJob returns the job if it is assigned to the agent, else a NOT_FOUND error.
func (e *Engine) AgentJob(ctx context.Context, jobID, agentID int) (*ent.Job, error) {
	j, err := e.client.Job.Get(ctx, jobID)
	if ent.IsNotFound(err) || (err == nil && (j.AgentID == nil || *j.AgentID != agentID)) {
		return nil, errNotAssigned(jobID)
	}
	if err != nil {
		return nil, fmt.Errorf("reading job %d: %w", jobID, err)
	}
	return j, nil
}

// AcceptJob records that the agent took its assigned job (StartJob). A repeat, or an accept of a
// job already running or final, changes nothing.
func (e *Engine) AcceptJob(ctx context.Context, jobID, agentID int) error {
	j, err := e.AgentJob(ctx, jobID, agentID)
	if err != nil {
		return err
	}
	if j.Status != job.StatusASSIGNED {
		return nil
	}
	err = e.StartJob(ctx, jobID, agentID)
	if CodeOf(err) == CodeConflict {
		return nil // started meanwhile (a resent accept raced the first)
	}
	return err
}

// RequeueJob puts a job the agent declined (busy, shutting down) back in the queue: nothing ran.
// It is a no-op unless the job is still ASSIGNED to that agent.
func (e *Engine) RequeueJob(ctx context.Context, jobID, agentID int, reason string) error {
	return e.inTx(ctx, func(t *txn) error {
		j, err := t.agentJob(jobID, agentID)
		if err != nil {
			return err
		}
		to, err := jobMachine.apply(jobID, j.Status, JobRequeue)
		if err != nil {
			return nil // started or finished meanwhile: nothing to put back
		}
		n, err := t.Job.Update().Where(job.ID(jobID), job.AgentID(agentID), job.StatusEQ(job.StatusASSIGNED)).
			SetStatus(to).ClearAgentID().ClearAssignedAt().SetWaitingReason(reason).
			AddVersion(1).Save(t.ctx)
		if err != nil {
			return fmt.Errorf("re-queueing job %d: %w", jobID, err)
		}
		if n == 0 {
			return nil
		}
		return t.emit(Event{Type: EventJobQueued, JobID: jobID, DeploymentID: j.DeploymentID, Status: string(job.StatusQUEUED)})
	})
}

// AssignmentData is everything an agent needs to run a job, secrets decrypted: the dispatcher
// maps it to the wire's JobAssignment and never stores it.
type AssignmentData struct {
	JobID, DeploymentID  int
	ReleaseVariables     map[string]string
	Variables            []AssignmentVariable
	Tasks                []AssignmentTask
	Artifacts            []AssignmentArtifact
	TimeoutSeconds       int
	SkipArtifactDownload bool
	// SecureFiles are the library files the job names, decrypted.
	SecureFiles []SecureFileContent
}

// AssignmentVariable is a merged user variable; Value is plaintext even for secrets. EnvName is
// the environment variable the agent exports it as (envName of Name): the server names every
// variable a task sees, the agent only exports.
type AssignmentVariable struct {
	Name, EnvName, Value string
	Secret               bool
}

// AssignmentTask is one enabled task of the job.
type AssignmentTask struct {
	Name, Shell, Script, WorkingDirectory string
	Env                                   map[string]string
	TimeoutSeconds                        int
	ContinueOnError                       bool
	// Condition says when the task runs (spec.Task.Condition); empty: SUCCEEDED.
	Condition string
	// Inputs are a template's inputs as INPUT_<NAME> → value, $(VAR) references left for the
	// agent to expand; SecretInputs names those it masks.
	Inputs       map[string]string
	SecretInputs []string
	// Runner names an implementation built into the agent (tasklib.Runners) that runs the task
	// instead of Shell and Script.
	Runner string
	// HasCredentials says Username/Password (decrypted) are the service connection's a
	// DownloadFile task names, for its URL, which is on Origin (the connection's URL).
	HasCredentials     bool
	Username, Password string
	Origin             string
	// Endpoint is the service connection the task deploys to (an SSH, DOCKER_REGISTRY or
	// KUBERNETES input of its template), secrets decrypted; nil: none.
	Endpoint *TaskEndpoint
}

// AssignmentArtifact is one artifact download of the release.
type AssignmentArtifact struct {
	Alias string
	// PathVariable is the environment variable the agent sets to the directory it downloads
	// the artifact to (RELEASE_ARTIFACTS_<ALIAS>_PATH).
	PathVariable string
	Type         string // JENKINS or TEAMBUILD
	BuildNumber  string
	// Jenkins: BuildURL and RelativePaths, or WholeArchive when the build listed no file.
	BuildURL      string
	RelativePaths []string
	WholeArchive  bool
	// Team Build: the artifact's download URL.
	DownloadURL string
	// HasCredentials says Username/Password (decrypted) authenticate the download.
	HasCredentials     bool
	Username, Password string
	// Origin is the service connection's URL: the agent sends the credentials only to URLs of
	// its scheme, host and port (internal/origin), as the engine checked before sending them.
	Origin string
}

// envName turns a name into an environment variable name (or part of one): upper case, every
// character but [A-Z0-9_] replaced by "_" ("deploy.target" → DEPLOY_TARGET). It is the one place
// that names the variables of a job; the agent exports the names it is sent.
func envName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			return r
		}
		return '_'
	}, s)
}

// BuildAssignment gathers what the agent needs for the job: release variables, the merged user
// variables (release overrides environment overrides definition; secrets decrypted), the enabled
// tasks, the release's artifacts with their CI download information and credentials (decrypted),
// and the timeout. Its result holds secrets: send it, never log or store it.
func (e *Engine) BuildAssignment(ctx context.Context, jobID int) (AssignmentData, error) {
	return e.buildAssignment(ctx, jobID, true)
}

// buildAssignment is BuildAssignment; without withAgent it leaves out AGENT_NAME (the job's
// agent is not read), for a build that runs beside the job's claim, before the job has an agent
// (ClaimQueuedPrepared sets it from the claim).
func (e *Engine) buildAssignment(ctx context.Context, jobID int, withAgent bool) (AssignmentData, error) {
	fail := func(err error) (AssignmentData, error) {
		return AssignmentData{}, fmt.Errorf("building assignment of job %d: %w", jobID, err)
	}
	// unusable is stored data the job cannot run with (INVALID_INPUT: retrying does not help).
	unusable := func(format string, args ...any) (AssignmentData, error) {
		return AssignmentData{}, &Error{Code: CodeInvalidInput, Message: fmt.Sprintf(format, args...)}
	}
	j, err := e.client.Job.Get(ctx, jobID)
	if ent.IsNotFound(err) {
		return AssignmentData{}, NotFound("job", jobID)
	}
	if err != nil {
		return fail(err)
	}
	d, err := e.client.Deployment.Get(ctx, j.DeploymentID)
	if err != nil {
		return fail(err)
	}
	// The release, its artifacts and its earlier jobs' outputs depend only on the deployment:
	// they are read side by side, one round trip deep instead of three.
	var (
		rel     *ent.Release
		arts    []*ent.ReleaseArtifact
		envOf   map[int]string
		earlier []*ent.Job
	)
	g, gctx := sideBySideWith(ctx)
	g.run(func() (err error) {
		rel, err = e.client.Release.Get(gctx, d.ReleaseID)
		return err
	})
	g.run(func() (err error) {
		arts, err = e.client.ReleaseArtifact.Query().Where(releaseartifact.ReleaseID(d.ReleaseID)).
			Order(ent.Asc(releaseartifact.FieldAlias)).All(gctx)
		return err
	})
	g.run(func() (err error) {
		envOf, earlier, err = e.earlierJobs(gctx, d.ReleaseID, j.ID)
		return err
	})
	var agentName string
	if withAgent && j.AgentID != nil {
		g.run(func() error {
			a, err := e.client.Agent.Get(gctx, *j.AgentID)
			if err == nil {
				agentName = a.Name
			} else if ent.IsNotFound(err) {
				err = nil // deleted since: the job runs without AGENT_NAME
			}
			return err
		})
	}
	if err := g.wait(); err != nil {
		return fail(err)
	}
	// A release frozen before the refused names existed (deployed
	// automatically, so DeployEnvironment did not check it) fails here.
	if err := refusedInRelease(rel, d.EnvironmentName); err != nil {
		return unusable("%v", err)
	}
	snap := rel.Snapshot
	out := AssignmentData{
		JobID: j.ID, DeploymentID: d.ID,
		TimeoutSeconds:       j.Spec.TimeoutMinutes * 60,
		SkipArtifactDownload: j.Spec.SkipArtifactDownload,
		ReleaseVariables: map[string]string{
			"RELEASE_RELEASENAME":        rel.Name,
			"RELEASE_RELEASEID":          strconv.Itoa(rel.ID),
			"RELEASE_RELEASEDESCRIPTION": rel.Description,
			"RELEASE_REASON":             string(rel.Reason),
			"RELEASE_ENVIRONMENTNAME":    d.EnvironmentName,
			"RELEASE_ENVIRONMENTID":      strconv.Itoa(d.ReleaseEnvironmentID),
			"RELEASE_DEFINITIONNAME":     snap.Name,
			"RELEASE_DEFINITIONID":       strconv.Itoa(rel.DefinitionID),
			"RELEASE_DEPLOYMENTID":       strconv.Itoa(d.ID),
			"RELEASE_ATTEMPTNUMBER":      strconv.Itoa(d.Attempt),
			"RELEASE_REQUESTEDFOR":       d.RequestedBy,
			"RELEASE_JOBID":              strconv.Itoa(j.ID),
		},
	}
	// AGENT_NAME (Azure's Agent.Name): the agent the job was given to, a target's name.
	if agentName != "" {
		out.ReleaseVariables["AGENT_NAME"] = agentName
	}
	// Variables, lowest precedence first (mergedVariables): definition-scoped groups, definition,
	// environment-scoped groups, environment, release overrides; names case-insensitive.
	for _, v := range mergedVariables(&snap, rel.VariableGroups, d.EnvironmentName, rel.VariableOverrides) {
		val, err := e.SecretValue(v)
		if err != nil {
			return unusable("%v", err)
		}
		out.Variables = append(out.Variables, AssignmentVariable{Name: v.Name, EnvName: envName(v.Name), Value: val, Secret: v.Secret})
	}
	if files := jobSecureFileNames(j.Spec); len(files) > 0 {
		if out.SecureFiles, err = e.secureFilesOf(ctx, files); err != nil {
			return fail(err)
		}
	}
	// Output variables of the release's earlier jobs (##vso[task.setvariable isOutput=true]),
	// "<task name>.<name>", in the order the jobs finished: a later one wins. A secret one stays
	// in the environment whose job set it: it was made under that environment's control, and
	// another environment's tasks are written by people that control need not trust.
	outputs := map[string]int{}
	for _, ej := range earlier {
		sameEnvironment := envOf[ej.DeploymentID] == d.EnvironmentName
		for _, v := range ej.OutputVariables {
			if v.Secret && !sameEnvironment {
				continue
			}
			val, err := e.SecretValue(v)
			if err != nil {
				return unusable("output variable %s: %v", v.Name, err)
			}
			av := AssignmentVariable{Name: v.Name, EnvName: envName(v.Name), Value: val, Secret: v.Secret}
			if i, ok := outputs[av.EnvName]; ok {
				out.Variables[i] = av
				continue
			}
			outputs[av.EnvName] = len(out.Variables)
			out.Variables = append(out.Variables, av)
		}
	}
	for _, f := range flattenTasks(j.Spec.Tasks) {
		task := f.AssignmentTask
		if f.template != nil {
			task.Inputs, task.SecretInputs = tasklib.InputEnv(f.template, f.inputs, func(string) (string, bool) { return "", false })
			if err := e.taskCredentials(ctx, f, &task); err != nil {
				return AssignmentData{}, err
			}
			if err := e.taskEndpoint(ctx, f, &task); err != nil {
				return AssignmentData{}, err
			}
		}
		out.Tasks = append(out.Tasks, task)
	}
	conns := map[string]*ent.ServiceConnection{}
	for _, a := range arts {
		prefix := "RELEASE_ARTIFACTS_" + envName(a.Alias) + "_"
		rv := out.ReleaseVariables
		rv[prefix+"BUILDNUMBER"] = a.BuildNumber
		rv[prefix+"BUILDID"] = a.BuildID
		rv[prefix+"SOURCEBRANCH"] = a.Branch
		rv[prefix+"SOURCEVERSION"] = a.Commit
		rv[prefix+"TYPE"] = string(a.Type)
		rv[prefix+"BUILDURI"] = a.BuildURL
		if a.Primary {
			rv["RELEASE_PRIMARYARTIFACTSOURCEALIAS"] = a.Alias
		}
		base := AssignmentArtifact{Alias: a.Alias, PathVariable: prefix + "PATH", Type: string(a.Type), BuildNumber: a.BuildNumber}
		if a.Connection != "" {
			c, ok := conns[a.Connection]
			if !ok {
				c, err = e.client.ServiceConnection.Query().Where(serviceconnection.Name(a.Connection)).Only(ctx)
				if ent.IsNotFound(err) {
					return unusable("service connection %q of artifact %s no longer exists", a.Connection, a.Alias)
				}
				if err != nil {
					return fail(err)
				}
				conns[a.Connection] = c
			}
			base.Origin = c.URL
			if len(c.SecretEncrypted) > 0 || c.Username != "" {
				base.HasCredentials, base.Username = true, c.Username
				if len(c.SecretEncrypted) > 0 {
					if e.secrets == nil {
						return unusable("credentials of service connection %q cannot be decrypted: the server has no secret key", c.Name)
					}
					pw, err := e.secrets.Open(c.SecretEncrypted)
					if err != nil {
						return unusable("credentials of service connection %q cannot be decrypted (was the secret key changed?): %v", c.Name, err)
					}
					base.Password = string(pw)
				}
			}
		}
		// Credentials go home only: a download URL outside the connection's origin (one a
		// release stored before webhooks were confirmed with the CI server, say) fails the job
		// rather than carry them elsewhere.
		foreign := func(u string) bool { return base.HasCredentials && !origin.Same(u, base.Origin) }
		switch a.Type {
		case releaseartifact.TypeJENKINS:
			base.BuildURL = a.BuildURL
			if base.BuildURL == "" && conns[a.Connection] != nil {
				// A version created unchecked (overrideArtifactChecks) with only a build
				// number has no URL from Jenkins: it is the job's URL plus the number.
				base.BuildURL = jenkinsBuildURL(conns[a.Connection].URL, a.Job, a.BuildID)
			}
			// No URL at all sends nothing anywhere (the agent names the missing URL).
			if base.BuildURL != "" && foreign(base.BuildURL) {
				return unusable("artifact %s: build URL %q is not on service connection %q (%s); its credentials are only sent there", a.Alias, base.BuildURL, a.Connection, base.Origin)
			}
			base.RelativePaths = slices.Clone(a.Files)
			base.WholeArchive = len(a.Files) == 0
			out.Artifacts = append(out.Artifacts, base)
		case releaseartifact.TypeTEAMBUILD:
			// One download per artifact of the build; each unpacks under a/<alias>/<name>/.
			for _, u := range a.Files {
				if foreign(u) {
					return unusable("artifact %s: download URL %q is not on service connection %q (%s); its credentials are only sent there", a.Alias, u, a.Connection, base.Origin)
				}
				art := base
				art.DownloadURL = u
				out.Artifacts = append(out.Artifacts, art)
			}
		}
	}
	return out, nil
}

// sideBySide runs reads in goroutines of their own and returns the first error, canceling the
// others' context when one fails.
type sideBySide struct {
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
	cancel context.CancelFunc
}

// sideBySideWith returns a sideBySide and the context its reads run with.
func sideBySideWith(ctx context.Context) (*sideBySide, context.Context) {
	g := &sideBySide{}
	ctx, g.cancel = context.WithCancel(ctx)
	return g, ctx
}

// run starts one read.
func (g *sideBySide) run(read func() error) {
	g.wg.Go(func() {
		if err := read(); err != nil {
			g.mu.Lock()
			if g.err == nil {
				g.err = err
				g.cancel()
			}
			g.mu.Unlock()
		}
	})
}

// wait waits for every read and returns the first error.
func (g *sideBySide) wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}

// earlierJobs reads the finished jobs of release relID other than jobID, in the order they
// finished, with their output variables, and the environment of each of the release's
// deployments. The release's deployments are read first and its jobs by their deployment_id
// index: a condition on the jobs' status with a subquery on the deployments made SQLite walk the
// status index, every finished job of the installation, on every assignment.
func (e *Engine) earlierJobs(ctx context.Context, relID, jobID int) (envOf map[int]string, earlier []*ent.Job, err error) {
	deps, err := e.client.Deployment.Query().Where(deployment.ReleaseID(relID)).
		Select(deployment.FieldID, deployment.FieldEnvironmentName).All(ctx)
	if err != nil {
		return nil, nil, err
	}
	envOf = make(map[int]string, len(deps))
	depIDs := make([]int, 0, len(deps))
	for _, dep := range deps {
		envOf[dep.ID] = dep.EnvironmentName
		depIDs = append(depIDs, dep.ID)
	}
	earlier, err = e.client.Job.Query().
		Where(job.DeploymentIDIn(depIDs...), job.IDNEQ(jobID),
			job.StatusIn(job.StatusSUCCEEDED, job.StatusPARTIALLY_SUCCEEDED, job.StatusFAILED)).
		Select(job.FieldID, job.FieldDeploymentID, job.FieldFinishedAt, job.FieldOutputVariables).
		Order(ent.Asc(job.FieldFinishedAt), ent.Asc(job.FieldID)).All(ctx)
	return envOf, earlier, err
}

// jenkinsBuildURL is the URL of build number of a Jenkins job (full name "a/b") on the
// server at base: base/job/a/job/b/number/. It is "" when number is not a build number.
func jenkinsBuildURL(base, fullName, number string) string {
	if n, err := strconv.Atoi(strings.TrimSpace(number)); err != nil || n <= 0 || base == "" || strings.Trim(fullName, "/") == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString(strings.TrimRight(base, "/"))
	for _, name := range strings.Split(strings.Trim(fullName, "/"), "/") {
		b.WriteString("/job/")
		b.WriteString(url.PathEscape(name))
	}
	b.WriteString("/" + strings.TrimSpace(number) + "/")
	return b.String()
}

// ActiveJobIDs returns the ids of the jobs ASSIGNED or RUNNING on the agent.
func (e *Engine) ActiveJobIDs(ctx context.Context, agentID int) ([]int, error) {
	ids, err := e.client.Job.Query().Where(job.AgentID(agentID), activeJob).IDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading jobs of agent %d: %w", agentID, err)
	}
	return ids, nil
}

func cancelReason(j *ent.Job) string {
	if j.ResultReason != "" {
		return j.ResultReason
	}
	return "deployment canceled"
}
