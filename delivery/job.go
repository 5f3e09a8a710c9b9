package delivery

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/agent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
)

// JobResult is an agent's report of how a job ended.
type JobResult struct {
	// Status is SUCCEEDED, PARTIALLY_SUCCEEDED, FAILED, CANCELED, or LOST
	// (reported by the dispatcher when the agent went silent).
	Status string
	Reason string
}

// agentActor is the actor of changes reported by agents.
var agentActor = SystemActor("agent")

// StartJob records that agent agentID started job jobID (QUEUED or ASSIGNED
// → RUNNING); the deployment and its environment become IN_PROGRESS (unless
// an earlier phase started them) and the job's timeout starts. A repeated report from the same agent is accepted
// and changes nothing.
func (e *Engine) StartJob(ctx context.Context, jobID, agentID int) error {
	err := e.inTx(ctx, func(t *txn) error {
		j, dc, err := t.loadJob(jobID)
		if err != nil {
			return err
		}
		if j.Status == job.StatusRUNNING && j.AgentID != nil && *j.AgentID == agentID {
			return nil
		}
		if ok, err := t.Agent.Query().Where(agent.ID(agentID)).Exist(t.ctx); err != nil {
			return fmt.Errorf("reading agent %d: %w", agentID, err)
		} else if !ok {
			return NotFound("agent", agentID)
		}
		var timeoutAt *time.Time
		if n := j.Spec.TimeoutMinutes; n > 0 {
			at := t.now.Add(time.Duration(n) * time.Minute)
			timeoutAt = &at
		}
		j, err = t.moveJob(agentActor, dc, j, JobStart, "", func(u *ent.JobUpdateOne) {
			u.SetAgentID(agentID).SetStartedAt(t.now).SetNillableTimeoutAt(timeoutAt)
		})
		if err != nil {
			return err
		}
		if timeoutAt != nil {
			if err := t.createTimer(timerJobTimeout, j.ID, *timeoutAt, ""); err != nil {
				return err
			}
		}
		if dc.d.Status != deployment.StatusQUEUED {
			return nil // a later phase's job: the deployment runs already
		}
		if err := t.moveDeployment(agentActor, dc, DeploymentStart, "", func(u *ent.DeploymentUpdateOne) { u.SetStartedAt(t.now) }); err != nil {
			return err
		}
		return t.moveEnvironment(agentActor, dc, EnvironmentStart)
	})
	if err != nil {
		return fmt.Errorf("starting job %d: %w", jobID, err)
	}
	return nil
}

// FinishJob records the result of a job. SUCCEEDED and PARTIALLY_SUCCEEDED
// start the deployment's next phase (a manual intervention), or after the
// last one open the post-deployment approvals (and, once they complete, end the
// deployment as SUCCEEDED or PARTIALLY_SUCCEEDED and trigger the environments
// waiting on it); FAILED and LOST end it FAILED, CANCELED ends it CANCELED.
// When a person had canceled the deployment, it ends CANCELED whatever the
// job's result. The job's queue slot is freed. The same report twice is
// accepted once; a different report for a finished job is a CONFLICT.
func (e *Engine) FinishJob(ctx context.Context, jobID int, res JobResult) error {
	ev, ok := jobEventFor[res.Status]
	if !ok {
		return Invalid("status", "unknown job result %q: use SUCCEEDED, PARTIALLY_SUCCEEDED, FAILED, CANCELED or LOST", res.Status)
	}
	if utf8.RuneCountInString(res.Reason) > maxActionComment {
		return Invalid("reason", "is longer than %d characters", maxActionComment)
	}
	err := e.inTx(ctx, func(t *txn) error {
		j, dc, err := t.loadJob(jobID)
		if err != nil {
			return err
		}
		if res.Status == jobResultLost && res.Reason == "" {
			res.Reason = j.ResultReason // finishing a job markLost marked: its reason stands
		}
		if string(j.Status) == res.Status && j.ResultReason == res.Reason && j.FinishedAt != nil {
			return nil // a resent report
		}
		canceled := j.CancelRequested
		if j.Status == job.StatusLOST && j.FinishedAt == nil && (ev == JobFail || ev == JobLose) {
			// The dispatcher's sweep marked the job LOST (its agent went
			// silent); this report finishes its deployment. The job stays LOST.
			j, err = t.Job.UpdateOne(j).SetFinishedAt(t.now).SetResultReason(res.Reason).AddVersion(1).Save(t.ctx)
			if err != nil {
				return fmt.Errorf("finishing lost job %d: %w", jobID, err)
			}
		} else {
			j, err = t.moveJob(agentActor, dc, j, ev, res.Reason, func(u *ent.JobUpdateOne) { u.SetFinishedAt(t.now) })
			if err != nil {
				return err
			}
		}
		if err := t.retireTimers(timerJobTimeout, j.ID); err != nil {
			return err
		}
		// finishDeployment gives the queue slot on once the deployment is
		// final; a job that succeeded keeps it through the post-deployment
		// approval.
		return t.finishJobDeployment(agentActor, dc, j, canceled, res.Reason)
	})
	if err != nil {
		return fmt.Errorf("finishing job %d: %w", jobID, err)
	}
	return nil
}

func prefixed(what, reason string) string {
	if reason == "" {
		return what
	}
	return what + ": " + reason
}

// loadJob reads a job (locked on PostgreSQL) and its deployment.
func (t *txn) loadJob(id int) (*ent.Job, *deployCtx, error) {
	q := t.Job.Query().Where(job.ID(id))
	if t.postgres() {
		q = q.ForUpdate()
	}
	j, err := q.Only(t.ctx)
	if ent.IsNotFound(err) {
		return nil, nil, NotFound("job", id)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading job %d: %w", id, err)
	}
	dc, err := t.loadDeployment(j.DeploymentID)
	if err != nil {
		return nil, nil, err
	}
	return j, dc, nil
}

// moveJob applies ev to a job with extra field changes, audits it as
// "job.<ev>" and emits EventJobStarted or EventJobFinished.
func (t *txn) moveJob(actor Actor, dc *deployCtx, j *ent.Job, ev JobEvent, reason string, set func(*ent.JobUpdateOne)) (*ent.Job, error) {
	from := j.Status
	to, err := jobMachine.apply(j.ID, from, ev)
	if err != nil {
		return nil, err
	}
	u := t.Job.UpdateOne(j).Where(job.Version(j.Version)).SetStatus(to).AddVersion(1).SetUpdatedAt(t.now)
	if reason != "" {
		u.SetResultReason(reason)
	}
	if !jobActive(to) {
		u.SetFinishedAt(t.now)
	}
	if set != nil {
		set(u)
	}
	nj, err := u.Save(t.ctx)
	if ent.IsNotFound(err) {
		return nil, Conflict("job %d changed concurrently; read it again", j.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("updating job %d: %w", j.ID, err)
	}
	// Not audited: a job's transitions are its agent's reports, kept on the job row (times,
	// agent, result reason) and its steps (auditedTransition).
	typ := EventJobFinished
	if jobActive(to) {
		typ = EventJobStarted
	}
	e := dc.event(typ, actor)
	e.JobID = j.ID
	e.Status = string(to)
	if nj.AgentID != nil {
		e.AgentID = *nj.AgentID
	}
	return nj, t.emit(e)
}

// requestJobCancel asks the agent that holds a job to stop it.
func (t *txn) requestJobCancel(actor Actor, dc *deployCtx, j *ent.Job, reason string) error {
	if err := t.Job.UpdateOne(j).SetCancelRequested(true).AddVersion(1).SetUpdatedAt(t.now).Exec(t.ctx); err != nil {
		return fmt.Errorf("updating job %d: %w", j.ID, err)
	}
	// Not audited: the deployment's requestCancel is (auditedTransition).
	e := dc.event(EventJobCancelRequested, actor)
	e.JobID = j.ID
	e.Status = string(j.Status)
	if j.AgentID != nil {
		e.AgentID = *j.AgentID
	}
	return t.emit(e)
}
