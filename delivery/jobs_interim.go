// This file is INTERIM: it holds minimal versions of the release engine's StartJob, FinishJob and
// JobResult so that the agent dispatcher (agents.go, dispatch.go, logs.go, server/dispatch)
// compiles and is tested on its own branch. It is replaced by the engine's implementation at merge
// (which also moves the deployment IN_PROGRESS and onward); these versions only update the Job row.
//
// Contract the dispatcher relies on, which the engine's versions must keep:
//   - StartJob moves a QUEUED or ASSIGNED job to RUNNING on agentID (started_at, timeout_at).
//   - FinishJob is idempotent for an identical repeat, answers CONFLICT for a different result on
//     a final job, and accepts FAILED for a job the dispatcher already marked LOST (finished_at
//     unset): the job stays LOST and its deployment fails with r.Reason.
//   - FinishJob publishes EventJobFinished (with JobID, DeploymentID, AgentID).

package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/job"
)

// JobResult is the outcome of a job as an agent (or the server) reports it.
type JobResult struct {
	// Status is SUCCEEDED, PARTIALLY_SUCCEEDED, FAILED or CANCELED.
	Status string
	Reason string
}

// StartJob records that agentID started the job: QUEUED or ASSIGNED → RUNNING.
func (e *Engine) StartJob(ctx context.Context, jobID, agentID int) error {
	return e.inTx(ctx, func(t *txn) error {
		j, err := t.Job.Get(t.ctx, jobID)
		if ent.IsNotFound(err) {
			return NotFound("job", jobID)
		}
		if err != nil {
			return fmt.Errorf("starting job %d: %w", jobID, err)
		}
		if j.Status != job.StatusQUEUED && j.Status != job.StatusASSIGNED {
			return &TransitionError{Entity: fmt.Sprintf("job %d", jobID), From: string(j.Status), Event: "start"}
		}
		u := t.Job.UpdateOne(j).SetStatus(job.StatusRUNNING).SetAgentID(agentID).SetStartedAt(t.now).
			SetWaitingReason("").AddVersion(1)
		if j.Spec.TimeoutMinutes > 0 {
			u.SetTimeoutAt(t.now.Add(time.Duration(j.Spec.TimeoutMinutes) * time.Minute))
		}
		if err := u.Exec(t.ctx); err != nil {
			return fmt.Errorf("starting job %d: %w", jobID, err)
		}
		return nil
	})
}

// FinishJob records the final result of a job.
func (e *Engine) FinishJob(ctx context.Context, jobID int, r JobResult) error {
	switch r.Status {
	case "SUCCEEDED", "PARTIALLY_SUCCEEDED", "FAILED", "CANCELED":
	default:
		return Invalid("status", "job result %q is not SUCCEEDED, PARTIALLY_SUCCEEDED, FAILED or CANCELED", r.Status)
	}
	return e.inTx(ctx, func(t *txn) error {
		j, err := t.Job.Get(t.ctx, jobID)
		if ent.IsNotFound(err) {
			return NotFound("job", jobID)
		}
		if err != nil {
			return fmt.Errorf("finishing job %d: %w", jobID, err)
		}
		status := job.Status(r.Status)
		switch {
		case j.Status == job.StatusLOST && j.FinishedAt == nil && r.Status == "FAILED":
			status = job.StatusLOST
		case j.Status == status && j.ResultReason == r.Reason && j.FinishedAt != nil:
			return nil
		case jobFinal(j.Status):
			return &TransitionError{Entity: fmt.Sprintf("job %d", jobID), From: string(j.Status), Event: "finish as " + r.Status}
		}
		if err := t.Job.UpdateOne(j).SetStatus(status).SetResultReason(r.Reason).SetFinishedAt(t.now).
			SetWaitingReason("").AddVersion(1).Exec(t.ctx); err != nil {
			return fmt.Errorf("finishing job %d: %w", jobID, err)
		}
		ev := Event{Type: EventJobFinished, JobID: jobID, DeploymentID: j.DeploymentID, Status: string(status)}
		if j.AgentID != nil {
			ev.AgentID = *j.AgentID
		}
		return t.emit(ev)
	})
}
