package delivery

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/agent"
	"github.com/cairnhq/cairn/ent/agentpool"
	"github.com/cairnhq/cairn/ent/agentregistration"
	"github.com/cairnhq/cairn/ent/deploymentgroup"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/predicate"
)

// DefaultPool is the pool of agents registered without one.
const DefaultPool = "default"

// registrationTokenPrefix makes registration tokens recognisable in logs and secret scanners.
const registrationTokenPrefix = "cairnreg_"

// Agent registration limits.
const (
	defaultRegistrationExpiry = 24 * time.Hour
	maxRegistrationExpiry     = 365 * 24 * time.Hour
	maxRegistrationUses       = 10000
)

// LostReason is the result reason of a job whose agent went silent.
const LostReason = "agent lost communication"

// hashRegistrationToken is what is stored of a registration token: its SHA-256. Looking a token
// up by its hash compares no secret byte by byte, so it leaks nothing through timing.
func hashRegistrationToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// randomID returns n random bytes, base64url-encoded.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// CreateAgentRegistration creates a registration token that agents exchange for their credential
// at most maxUses times before it expires (expiresIn, default 24 h). The token is returned once:
// only its SHA-256 is stored. pool is the pool the agents join (empty: the one they ask for, else
// the default pool).
func (e *Engine) CreateAgentRegistration(ctx context.Context, actor Actor, pool string, maxUses int, expiresIn time.Duration) (string, *ent.AgentRegistration, error) {
	return e.createRegistration(ctx, actor, pool, "", maxUses, expiresIn)
}

// createRegistration is CreateAgentRegistration into a pool, or (group set) a deployment group.
func (e *Engine) createRegistration(ctx context.Context, actor Actor, pool, group string, maxUses int, expiresIn time.Duration) (string, *ent.AgentRegistration, error) {
	if err := actor.Require(RoleAdmin, "creating an agent registration token"); err != nil {
		return "", nil, err
	}
	pool = strings.TrimSpace(pool)
	switch {
	case maxUses < 1 || maxUses > maxRegistrationUses:
		return "", nil, Invalid("maxUses", "must be between 1 and %d, got %d", maxRegistrationUses, maxUses)
	case expiresIn < 0 || expiresIn > maxRegistrationExpiry:
		return "", nil, Invalid("expiresIn", "must be positive and at most 365 days, got %s", expiresIn)
	case len(pool) > 100:
		return "", nil, Invalid("pool", "pool names are at most 100 characters")
	}
	if expiresIn == 0 {
		expiresIn = defaultRegistrationExpiry
	}
	token := registrationTokenPrefix + randomID(32)
	var row *ent.AgentRegistration
	err := e.inTx(ctx, func(t *txn) error {
		var err error
		row, err = t.AgentRegistration.Create().SetTokenHash(hashRegistrationToken(token)).SetPool(pool).SetDeploymentGroup(group).
			SetMaxUses(maxUses).SetExpiresAt(t.now.Add(expiresIn)).SetCreatedBy(actor.String()).
			SetCreatedAt(t.now).Save(t.ctx)
		if err != nil {
			return fmt.Errorf("creating agent registration: %w", err)
		}
		return t.audit(actor, "agentRegistration.create", auditTargetAgentRegistration, row.ID, nil,
			map[string]any{"pool": pool, "deploymentGroup": group, "maxUses": maxUses, "expiresAt": row.ExpiresAt})
	})
	if err != nil {
		return "", nil, err
	}
	return token, row.Unwrap(), nil
}

// maxRegistrationsListed bounds AgentRegistrations: the newest are the ones an administrator
// reviews and revokes; older ones have expired or been used up long ago.
const maxRegistrationsListed = 200

// AgentRegistrations returns the newest registration tokens (at most 200), spent, expired and
// revoked ones included, so an administrator sees what was handed out and revokes what is still
// usable. The tokens themselves were never stored.
func (e *Engine) AgentRegistrations(ctx context.Context, actor Actor) ([]*ent.AgentRegistration, error) {
	if err := actor.Require(RoleAdmin, "listing agent registration tokens"); err != nil {
		return nil, err
	}
	rows, err := e.client.AgentRegistration.Query().
		Order(ent.Desc(agentregistration.FieldCreatedAt), ent.Desc(agentregistration.FieldID)).
		Limit(maxRegistrationsListed).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing agent registrations: %w", err)
	}
	return rows, nil
}

// RevokeAgentRegistration revokes a registration token: no agent registers with it any more
// (agents that registered with it keep their credentials). Revoking twice returns the token
// unchanged.
func (e *Engine) RevokeAgentRegistration(ctx context.Context, actor Actor, id int) (*ent.AgentRegistration, error) {
	if err := actor.Require(RoleAdmin, "revoking an agent registration token"); err != nil {
		return nil, err
	}
	var row *ent.AgentRegistration
	err := e.inTx(ctx, func(t *txn) error {
		r, err := t.AgentRegistration.Get(t.ctx, id)
		if ent.IsNotFound(err) {
			return NotFound("agent registration", id)
		}
		if err != nil {
			return fmt.Errorf("reading agent registration %d: %w", id, err)
		}
		if r.RevokedAt != nil {
			row = r
			return nil
		}
		if row, err = t.AgentRegistration.UpdateOne(r).SetRevokedAt(t.now).Save(t.ctx); err != nil {
			return fmt.Errorf("revoking agent registration %d: %w", id, err)
		}
		return t.audit(actor, "agentRegistration.revoke", auditTargetAgentRegistration, id, nil,
			map[string]any{"pool": r.Pool, "deploymentGroup": r.DeploymentGroup, "uses": r.Uses})
	})
	if err != nil {
		return nil, err
	}
	return row.Unwrap(), nil
}

// RegisterAgentInput is what an agent sends when it registers.
type RegisterAgentInput struct {
	Name string
	Pool string
	// DeploymentGroup registers the agent as a target of that group (which must exist), with
	// Tags; a token made for a group registers into it whatever the agent asks.
	DeploymentGroup string
	Tags            []string
	Version         string
	OS              string
	Arch            string
	Capabilities    map[string]string
}

var errBadRegistration = &Error{Code: CodeUnauthenticated,
	Message: "registration token is invalid, expired, revoked or used up; ask an administrator for a new one"}

// RegisterAgent exchanges a registration token for a new agent: it counts one use of the token
// (atomically: a token with one use left registers one agent however many ask at once), creates
// the agent in its pool and returns the id (jti) of the credential the caller must issue.
// A bad, expired, revoked or used-up token is UNAUTHENTICATED; a taken name is CONFLICT.
func (e *Engine) RegisterAgent(ctx context.Context, token string, in RegisterAgentInput) (*ent.Agent, string, error) {
	in.Name = strings.TrimSpace(in.Name)
	switch {
	case token == "" || len(token) > 200:
		return nil, "", errBadRegistration
	case in.Name == "":
		return nil, "", Invalid("name", "an agent needs a name")
	case len(in.Name) > 200:
		return nil, "", Invalid("name", "agent names are at most 200 characters")
	case len(in.Capabilities) > 500:
		return nil, "", Invalid("capabilities", "at most 500 capabilities")
	case len(in.DeploymentGroup) > maxPoolName:
		return nil, "", Invalid("deploymentGroup", "is longer than %d characters", maxPoolName)
	}
	tags, err := normalizeTags("tags", in.Tags)
	if err != nil {
		return nil, "", err
	}
	jti := randomID(18)
	var a *ent.Agent
	err = e.inTx(ctx, func(t *txn) error {
		reg, err := t.AgentRegistration.Query().
			Where(agentregistration.TokenHash(hashRegistrationToken(token))).Only(t.ctx)
		if ent.IsNotFound(err) {
			return errBadRegistration
		}
		if err != nil {
			return fmt.Errorf("registering agent: %w", err)
		}
		n, err := t.AgentRegistration.Update().Where(
			agentregistration.ID(reg.ID), agentregistration.RevokedAtIsNil(),
			agentregistration.ExpiresAtGT(t.now), agentregistration.UsesLT(reg.MaxUses),
			agentregistration.Uses(reg.Uses),
		).AddUses(1).Save(t.ctx)
		if err != nil {
			return fmt.Errorf("registering agent: %w", err)
		}
		if n != 1 {
			return errBadRegistration
		}
		group := reg.DeploymentGroup
		if group == "" {
			group = strings.TrimSpace(in.DeploymentGroup)
		} else if in.DeploymentGroup != "" && !strings.EqualFold(in.DeploymentGroup, group) {
			return Invalid("deploymentGroup", "this registration token is for deployment group %q, not %q", group, in.DeploymentGroup)
		}
		var poolID, groupID *int
		pool := ""
		if group != "" {
			if reg.Pool != "" || in.Pool != "" {
				return Invalid("pool", "a target of deployment group %q joins no pool", group)
			}
			g, err := t.DeploymentGroup.Query().Where(deploymentgroup.Name(group)).Only(t.ctx)
			if ent.IsNotFound(err) {
				return Invalid("deploymentGroup", "no deployment group named %q; an administrator creates it first", group)
			}
			if err != nil {
				return fmt.Errorf("registering agent: %w", err)
			}
			groupID = &g.ID
		} else {
			if len(tags) > 0 {
				return Invalid("tags", "only targets of a deployment group have tags")
			}
			pool = reg.Pool
			if pool == "" {
				pool = strings.TrimSpace(in.Pool)
			} else if in.Pool != "" && !strings.EqualFold(in.Pool, pool) {
				return Invalid("pool", "this registration token is for pool %q, not %q", pool, in.Pool)
			}
			if pool == "" {
				pool = DefaultPool
			}
			if err := checkName("pool", pool); err != nil {
				return err
			}
			id, err := t.ensurePool(pool)
			if err != nil {
				return err
			}
			poolID = &id
		}
		if taken, err := t.Agent.Query().Where(agent.Name(in.Name)).Exist(t.ctx); err != nil {
			return fmt.Errorf("registering agent: %w", err)
		} else if taken {
			return Conflict("an agent named %q already exists; choose another name or delete that agent", in.Name)
		}
		sys := map[string]string{}
		if in.OS != "" {
			sys["os"] = in.OS
		}
		if in.Arch != "" {
			sys["arch"] = in.Arch
		}
		a, err = t.Agent.Create().SetName(in.Name).SetVersion(in.Version).SetNillablePoolID(poolID).
			SetNillableDeploymentGroupID(groupID).SetTags(tags).
			SetCredentialID(jti).SetSystemCapabilities(sys).SetUserCapabilities(nonNil(in.Capabilities)).
			SetCreatedAt(t.now).SetUpdatedAt(t.now).Save(t.ctx)
		if ent.IsConstraintError(err) {
			return Conflict("an agent named %q already exists; choose another name or delete that agent", in.Name)
		}
		if err != nil {
			return fmt.Errorf("registering agent: %w", err)
		}
		regActor := SystemActor(fmt.Sprintf("agent-registration:%d", reg.ID))
		if err := t.audit(regActor, "agent.register", auditTargetAgent, a.ID, nil,
			map[string]any{"name": a.Name, "pool": pool, "deploymentGroup": group, "tags": tags, "version": in.Version, "registration": reg.ID}); err != nil {
			return err
		}
		return t.emit(Event{Type: EventAgentChanged, AgentID: a.ID, Status: "REGISTERED", Actor: regActor.Username})
	})
	if err != nil {
		return nil, "", err
	}
	return a.Unwrap(), jti, nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// ensurePool returns the id of the pool with that name, creating it.
func (t *txn) ensurePool(name string) (int, error) {
	id, err := t.AgentPool.Query().Where(agentpool.Name(name)).OnlyID(t.ctx)
	if err == nil {
		return id, nil
	}
	if !ent.IsNotFound(err) {
		return 0, fmt.Errorf("finding pool %q: %w", name, err)
	}
	p, err := t.AgentPool.Create().SetName(name).SetCreatedAt(t.now).Save(t.ctx)
	if err != nil {
		return 0, fmt.Errorf("creating pool %q: %w", name, err)
	}
	return p.ID, nil
}

// SetAgentEnabled enables or disables an agent. A disabled agent gets no new job and is refused
// (FORBIDDEN) when it connects again; the jobs it runs now finish.
func (e *Engine) SetAgentEnabled(ctx context.Context, actor Actor, id int, enabled bool) (*ent.Agent, error) {
	if err := actor.Require(RoleAdmin, "enabling or disabling an agent"); err != nil {
		return nil, err
	}
	var a *ent.Agent
	err := e.inTx(ctx, func(t *txn) error {
		before, err := t.Agent.Get(t.ctx, id)
		if ent.IsNotFound(err) {
			return NotFound("agent", id)
		}
		if err != nil {
			return fmt.Errorf("reading agent %d: %w", id, err)
		}
		if before.Enabled == enabled {
			a = before
			return nil
		}
		if a, err = t.Agent.UpdateOne(before).SetEnabled(enabled).SetUpdatedAt(t.now).Save(t.ctx); err != nil {
			return fmt.Errorf("updating agent %d: %w", id, err)
		}
		if err := t.audit(actor, "agent.setEnabled", auditTargetAgent, id,
			map[string]any{"enabled": before.Enabled}, map[string]any{"enabled": enabled}); err != nil {
			return err
		}
		status := "DISABLED"
		if enabled {
			status = "ENABLED"
		}
		return t.emit(Event{Type: EventAgentChanged, AgentID: id, Status: status, Actor: actor.String()})
	})
	if err != nil {
		return nil, err
	}
	return a.Unwrap(), nil
}

// DeleteAgent removes an agent and revokes its credential. Jobs assigned to it but not started go
// back to the queue; jobs it was running become LOST and their deployments fail (nothing re-runs
// by itself). Finished jobs keep their history without the agent.
func (e *Engine) DeleteAgent(ctx context.Context, actor Actor, id int) error {
	if err := actor.Require(RoleAdmin, "deleting an agent"); err != nil {
		return err
	}
	var lost []int
	err := e.inTx(ctx, func(t *txn) error {
		a, err := t.Agent.Get(t.ctx, id)
		if ent.IsNotFound(err) {
			return NotFound("agent", id)
		}
		if err != nil {
			return fmt.Errorf("reading agent %d: %w", id, err)
		}
		requeued, err := jobMachine.apply(0, job.StatusASSIGNED, JobRequeue)
		if err != nil {
			return err
		}
		if _, err := t.Job.Update().Where(job.AgentID(id), job.StatusEQ(job.StatusASSIGNED)).
			SetStatus(requeued).ClearAgentID().ClearAssignedAt().AddVersion(1).Save(t.ctx); err != nil {
			return fmt.Errorf("re-queueing jobs of agent %d: %w", id, err)
		}
		if lost, err = t.markLost("agent deleted", job.AgentID(id)); err != nil {
			return err
		}
		if err := t.Agent.DeleteOne(a).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting agent %d: %w", id, err)
		}
		if err := t.audit(actor, "agent.delete", auditTargetAgent, id, map[string]any{"name": a.Name}, nil); err != nil {
			return err
		}
		return t.emit(Event{Type: EventAgentChanged, AgentID: id, Status: "DELETED", Actor: actor.String()})
	})
	if err != nil {
		return err
	}
	return e.finishLost(ctx, lost)
}

// lostActor is the actor of jobs marked LOST: the engine's judgement that their agent is gone.
var lostActor = SystemActor("dispatcher")

// markLost moves the ASSIGNED and RUNNING jobs matching where to LOST (JobLose in the job
// machine), with reason as their result reason, and returns their ids. finished_at stays unset
// until FinishJob records the failure of their deployments (finishLost); a crash in between is
// repaired by the next sweep, which finds LOST jobs without finished_at.
func (t *txn) markLost(reason string, where ...predicate.Job) ([]int, error) {
	preds := append([]predicate.Job{job.StatusIn(job.StatusASSIGNED, job.StatusRUNNING)}, where...)
	q := t.Job.Query().Where(preds...)
	if t.postgres() {
		q = q.ForUpdate()
	}
	jobs, err := q.All(t.ctx)
	if err != nil {
		return nil, fmt.Errorf("finding jobs to mark lost: %w", err)
	}
	var ids []int
	for _, j := range jobs {
		to, err := jobMachine.apply(j.ID, j.Status, JobLose)
		if err != nil {
			return nil, err
		}
		n, err := t.Job.Update().Where(job.ID(j.ID), job.StatusEQ(j.Status), job.Version(j.Version)).
			SetStatus(to).SetResultReason(reason).AddVersion(1).SetUpdatedAt(t.now).Save(t.ctx)
		if err != nil {
			return nil, fmt.Errorf("marking job %d lost: %w", j.ID, err)
		}
		if n != 1 {
			continue // changed since it was read (SQLite: cannot happen inside IMMEDIATE)
		}
		ids = append(ids, j.ID)
		if err := t.audit(lostActor, "job."+string(JobLose), auditTargetJob, j.ID,
			map[string]any{"status": j.Status}, map[string]any{"status": to, "reason": reason}); err != nil {
			return nil, err
		}
		ev := Event{Type: EventJobLost, JobID: j.ID, DeploymentID: j.DeploymentID,
			AgentID: derefInt(j.AgentID), Status: string(to)}
		// The deployment's ids let subscribers filter by definition and
		// environment, and let readers' rules apply.
		d, err := t.Deployment.Get(t.ctx, j.DeploymentID)
		switch {
		case err == nil:
			ev.DefinitionID, ev.ReleaseID, ev.Environment = d.DefinitionID, d.ReleaseID, d.EnvironmentName
		case !ent.IsNotFound(err):
			return nil, fmt.Errorf("reading deployment of lost job %d: %w", j.ID, err)
		}
		if err := t.emit(ev); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func derefInt(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// finishLost fails the deployments of jobs marked LOST through FinishJob; each keeps the reason
// markLost recorded.
func (e *Engine) finishLost(ctx context.Context, ids []int) error {
	for _, id := range ids {
		if err := e.FinishJob(ctx, id, JobResult{Status: jobResultLost}); err != nil {
			return fmt.Errorf("failing lost job %d: %w", id, err)
		}
	}
	return nil
}

// AgentForCredential returns the agent of a verified credential: an unknown agent or a replaced
// or revoked credential (another jti) is UNAUTHENTICATED, a disabled agent FORBIDDEN.
func (e *Engine) AgentForCredential(ctx context.Context, agentID int, jti string) (*ent.Agent, error) {
	a, err := e.client.Agent.Get(ctx, agentID)
	if ent.IsNotFound(err) {
		return nil, &Error{Code: CodeUnauthenticated, Message: "agent no longer exists; register it again"}
	}
	if err != nil {
		return nil, fmt.Errorf("reading agent %d: %w", agentID, err)
	}
	if a.CredentialID == "" || a.CredentialID != jti {
		return nil, &Error{Code: CodeUnauthenticated, Message: "agent credential was revoked"}
	}
	if !a.Enabled {
		return nil, Forbidden("agent %q is disabled", a.Name)
	}
	return a, nil
}

// JobProgress is where an agent stands on a job it holds, as it says in its hello.
type JobProgress struct {
	JobID    int
	AckedSeq int64
	LastSeq  int64
}

// HelloInfo is what an agent reports when it connects.
type HelloInfo struct {
	Name, Version, OS, Arch string
	SystemCapabilities      map[string]string
	UserCapabilities        map[string]string
	MaxJobs                 int
	Running, Finished       []JobProgress
}

// CancelOrder asks the agent to stop a job.
type CancelOrder struct {
	JobID  int
	Reason string
}

// Reconciliation is what the dispatcher must tell an agent that just connected.
type Reconciliation struct {
	// Acks are the stored log high-water marks of the jobs the agent listed (and holds rightly).
	Acks map[int]int64
	// Cancels are listed jobs that are cancel-requested or already final.
	Cancels []CancelOrder
	// Resend are jobs assigned to the agent that it never accepted nor listed: send them again.
	Resend []int
	// Unknown are listed jobs that are not this agent's.
	Unknown []int
	// Lost are jobs the agent was running but no longer lists (it restarted without them).
	Lost []int
	// Capabilities are the agent's capabilities as recorded from this hello, as demands see
	// them (Capabilities): only a hello changes them, so the dispatcher may keep them for the
	// connection's life (AgentOffer).
	Capabilities map[string]string
	// Route is where the agent takes jobs from (AgentOffer.Route); a move changes it
	// (EventAgentChanged MOVED).
	Route AgentRoute
}

// maxAgentJobs bounds an agent's reported concurrency.
const maxAgentJobs = 64

// AgentConnected records an agent's hello (online, last seen, version, capabilities, max jobs)
// and reconciles its jobs: a running job it no longer lists is LOST (its deployment fails), an
// assigned job it never accepted is sent again, and listed jobs that were canceled or finalized
// meanwhile get a cancel.
func (e *Engine) AgentConnected(ctx context.Context, agentID int, h HelloInfo) (*Reconciliation, error) {
	rec := &Reconciliation{Acks: map[int]int64{}}
	listed := map[int]bool{}
	for _, p := range append(append([]JobProgress{}, h.Running...), h.Finished...) {
		listed[p.JobID] = true
	}
	maxJobs := min(max(h.MaxJobs, 1), maxAgentJobs)
	err := e.inTx(ctx, func(t *txn) error {
		a, err := t.Agent.Get(t.ctx, agentID)
		if ent.IsNotFound(err) {
			return &Error{Code: CodeUnauthenticated, Message: "agent no longer exists"}
		}
		if err != nil {
			return fmt.Errorf("reading agent %d: %w", agentID, err)
		}
		sys := maps.Clone(nonNil(h.SystemCapabilities))
		if h.OS != "" {
			sys["os"] = h.OS
		}
		if h.Arch != "" {
			sys["arch"] = h.Arch
		}
		u := t.Agent.UpdateOne(a).SetOnline(true).SetLastSeenAt(t.now).SetVersion(h.Version).
			SetSystemCapabilities(sys).SetUserCapabilities(nonNil(h.UserCapabilities)).
			SetMaxJobs(maxJobs).SetUpdatedAt(t.now)
		rec.Capabilities = Capabilities(&ent.Agent{SystemCapabilities: sys, UserCapabilities: nonNil(h.UserCapabilities)})
		if rec.Route, err = agentRouteOf(t.ctx, t.Client(), a); err != nil {
			return err
		}
		if name := strings.TrimSpace(h.Name); name != "" && name != a.Name && len(name) <= 200 {
			taken, err := t.Agent.Query().Where(agent.Name(name)).Exist(t.ctx)
			if err != nil {
				return fmt.Errorf("checking agent name: %w", err)
			}
			if !taken {
				u.SetName(name)
			}
		}
		if err := u.Exec(t.ctx); err != nil {
			return fmt.Errorf("updating agent %d: %w", agentID, err)
		}
		// Listed jobs.
		ids := make([]int, 0, len(listed))
		for id := range listed {
			ids = append(ids, id)
		}
		var jobs []*ent.Job
		if len(ids) > 0 {
			if jobs, err = t.Job.Query().Where(job.IDIn(ids...)).All(t.ctx); err != nil {
				return fmt.Errorf("reading listed jobs: %w", err)
			}
		}
		found := map[int]bool{}
		for _, j := range jobs {
			if j.AgentID == nil || *j.AgentID != agentID {
				continue
			}
			found[j.ID] = true
			rec.Acks[j.ID] = j.LogSeq - j.LogBase // in the agent's numbers
			switch {
			case j.CancelRequested && !jobFinal(j.Status):
				rec.Cancels = append(rec.Cancels, CancelOrder{JobID: j.ID, Reason: cancelReason(j)})
			case jobFinal(j.Status) && isRunningIn(h.Running, j.ID):
				reason := finalReason(j)
				if j.CancelRequested {
					reason = cancelReason(j)
				}
				rec.Cancels = append(rec.Cancels, CancelOrder{JobID: j.ID, Reason: reason})
			}
		}
		for id := range listed {
			if !found[id] {
				rec.Unknown = append(rec.Unknown, id)
			}
		}
		// Jobs of this agent it does not list.
		mine, err := t.Job.Query().Where(job.AgentID(agentID), job.StatusIn(job.StatusASSIGNED, job.StatusRUNNING)).All(t.ctx)
		if err != nil {
			return fmt.Errorf("reading jobs of agent %d: %w", agentID, err)
		}
		for _, j := range mine {
			if listed[j.ID] {
				continue
			}
			if j.Status == job.StatusASSIGNED {
				rec.Resend = append(rec.Resend, j.ID)
			}
		}
		gone := []predicate.Job{job.AgentID(agentID), job.StatusEQ(job.StatusRUNNING)}
		if len(ids) > 0 {
			gone = append(gone, job.IDNotIn(ids...))
		}
		lost, err := t.markLost("agent restarted and no longer runs the job", gone...)
		if err != nil {
			return err
		}
		rec.Lost = lost
		return t.emit(Event{Type: EventAgentChanged, AgentID: agentID, Status: "ONLINE"})
	})
	if err != nil {
		return nil, err
	}
	if err := e.finishLost(ctx, rec.Lost); err != nil {
		return rec, err
	}
	return rec, nil
}

func isRunningIn(ps []JobProgress, id int) bool {
	for _, p := range ps {
		if p.JobID == id {
			return true
		}
	}
	return false
}

func finalReason(j *ent.Job) string {
	if j.ResultReason != "" {
		return fmt.Sprintf("job is already %s: %s", j.Status, j.ResultReason)
	}
	return fmt.Sprintf("job is already %s", j.Status)
}

// AgentSeen records that the agent is alive (any frame, or an answered ping). It is a hot path:
// no audit, no event.
func (e *Engine) AgentSeen(ctx context.Context, agentID int) error {
	err := e.inTxConcurrent(ctx, func(t *txn) error {
		return t.Agent.Update().Where(agent.ID(agentID)).SetLastSeenAt(t.now).SetOnline(true).Exec(t.ctx)
	})
	if err != nil {
		return fmt.Errorf("recording agent %d as seen: %w", agentID, err)
	}
	return nil
}

// AgentsSeen records that the agents are alive, in one statement per 500 agents: the dispatcher
// batches the signs of life of all its connections (answered pings, frames read), so that a
// thousand idle agents cost a write every few seconds rather than a hundred writes a second. It
// is a hot path: no audit, no event.
func (e *Engine) AgentsSeen(ctx context.Context, agentIDs []int) error {
	for len(agentIDs) > 0 {
		batch := agentIDs[:min(len(agentIDs), 500)]
		agentIDs = agentIDs[len(batch):]
		err := e.inTxConcurrent(ctx, func(t *txn) error {
			return t.Agent.Update().Where(agent.IDIn(batch...)).SetLastSeenAt(t.now).SetOnline(true).Exec(t.ctx)
		})
		if err != nil {
			return fmt.Errorf("recording %d agents as seen: %w", len(batch), err)
		}
	}
	return nil
}

// AgentDisconnected marks the agent offline. Its jobs keep running on it: they become LOST only
// when it stays silent past the grace period (MarkSilentAgentsLost).
func (e *Engine) AgentDisconnected(ctx context.Context, agentID int) error {
	return e.inTx(ctx, func(t *txn) error {
		n, err := t.Agent.Update().Where(agent.ID(agentID), agent.Online(true)).SetOnline(false).
			SetLastSeenAt(t.now).Save(t.ctx)
		if err != nil {
			return fmt.Errorf("marking agent %d offline: %w", agentID, err)
		}
		if n == 0 {
			return nil
		}
		return t.emit(Event{Type: EventAgentChanged, AgentID: agentID, Status: "OFFLINE"})
	})
}

// SilenceCheck says when an agent counts as gone (MarkSilentAgentsLost).
type SilenceCheck struct {
	// Grace is how long a silent agent keeps its jobs.
	Grace time.Duration
	// Lag is how far an agent's recorded last sign of life may trail the real one: the
	// dispatcher writes them in batches, every Lag at most. An agent is silent when its record
	// is older than Grace+Lag, so that no agent loses its jobs before Grace of real silence.
	Lag time.Duration
	// Since is when the caller began to hear agents (its dispatcher's start); zero for always.
	// Silence counts from it when the agent's last sign of life is older: an agent cannot be
	// heard by a server that is down, so the server's own downtime is not held against it.
	// With replicas each sweeps with its own start, so the replica up the longest decides: grace
	// counts from the moment any replica is up again.
	Since time.Time
}

// MarkSilentAgentsLost marks offline the agents silent for longer than the check allows and
// their ASSIGNED and RUNNING jobs LOST, failing their deployments with a reason that starts with
// LostReason and says how long the agent was silent (a lost job is never re-run). It also
// finishes lost jobs whose failure a crash left unrecorded. It returns how many jobs it marked
// lost.
func (e *Engine) MarkSilentAgentsLost(ctx context.Context, c SilenceCheck) (int, error) {
	var lost []int
	err := e.inTx(ctx, func(t *txn) error {
		cutoff := t.now.Add(-c.Grace - c.Lag)
		if !c.Since.Before(cutoff) {
			return nil // not up long enough for anyone to have been silent a whole grace period
		}
		silent, err := t.Agent.Query().Where(agent.Or(agent.LastSeenAtLT(cutoff), agent.LastSeenAtIsNil())).
			Where(agent.Or(agent.Online(true), agent.HasJobsWith(job.StatusIn(job.StatusASSIGNED, job.StatusRUNNING)))).
			All(t.ctx)
		if err != nil {
			return fmt.Errorf("finding silent agents: %w", err)
		}
		for _, a := range silent {
			if a.Online {
				if err := t.Agent.UpdateOne(a).SetOnline(false).Exec(t.ctx); err != nil {
					return fmt.Errorf("marking agent %d offline: %w", a.ID, err)
				}
				if err := t.emit(Event{Type: EventAgentChanged, AgentID: a.ID, Status: "OFFLINE"}); err != nil {
					return err
				}
			}
			ids, err := t.markLost(silenceReason(a, c, t.now), job.AgentID(a.ID))
			if err != nil {
				return err
			}
			lost = append(lost, ids...)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// Lost jobs whose deployment failure is not recorded yet (this call's, or a crashed one's).
	pending, err := e.client.Job.Query().Where(job.StatusEQ(job.StatusLOST), job.FinishedAtIsNil()).IDs(ctx)
	if err != nil {
		return len(lost), fmt.Errorf("finding unfinished lost jobs: %w", err)
	}
	return len(lost), e.finishLost(ctx, pending)
}

// silenceReason says why an agent's jobs are lost: for how long it was not heard from, or that
// it did not come back within the grace period after this server started.
func silenceReason(a *ent.Agent, c SilenceCheck, now time.Time) string {
	grace := c.Grace.Round(time.Millisecond)
	if a.LastSeenAt == nil {
		return fmt.Sprintf("%s: agent %q was never heard from (grace period %s)", LostReason, a.Name, grace)
	}
	last := now.Sub(*a.LastSeenAt).Round(100 * time.Millisecond)
	if !c.Since.IsZero() && a.LastSeenAt.Before(c.Since) {
		return fmt.Sprintf("%s: agent %q did not reconnect within the grace period (%s) after the server started; last heard from %s ago",
			LostReason, a.Name, grace, last)
	}
	return fmt.Sprintf("%s: agent %q was not heard from for %s (grace period %s)", LostReason, a.Name, last, grace)
}

// EnforceJobTimeouts fails the RUNNING jobs past their timeout ("timed out") and asks their agents
// to stop them (cancel requested). It returns how many jobs it timed out.
func (e *Engine) EnforceJobTimeouts(ctx context.Context) (int, error) {
	type timedOut struct {
		id     int
		reason string
	}
	var out []timedOut
	err := e.inTx(ctx, func(t *txn) error {
		jobs, err := t.Job.Query().Where(job.StatusEQ(job.StatusRUNNING), job.TimeoutAtLT(t.now)).All(t.ctx)
		if err != nil {
			return fmt.Errorf("finding timed out jobs: %w", err)
		}
		for _, j := range jobs {
			if err := t.Job.UpdateOne(j).SetCancelRequested(true).AddVersion(1).Exec(t.ctx); err != nil {
				return fmt.Errorf("requesting cancel of job %d: %w", j.ID, err)
			}
			reason := "timed out"
			if j.Spec.TimeoutMinutes > 0 {
				reason = fmt.Sprintf("timed out after %d minutes", j.Spec.TimeoutMinutes)
			}
			out = append(out, timedOut{j.ID, reason})
			if err := t.emit(Event{Type: EventJobCancelRequested, JobID: j.ID, DeploymentID: j.DeploymentID,
				AgentID: derefInt(j.AgentID), Data: map[string]any{"reason": reason}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, o := range out {
		if err := e.FinishJob(ctx, o.id, JobResult{Status: JobResultFailed, Reason: o.reason}); err != nil && CodeOf(err) != CodeConflict {
			return len(out), fmt.Errorf("failing timed out job %d: %w", o.id, err)
		}
	}
	return len(out), nil
}
