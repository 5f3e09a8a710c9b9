package delivery

import (
	"fmt"

	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/manualintervention"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
)

// This file holds the state machines of the engine as data: for each entity
// one table maps (state, event) to the next state. Every status change in the
// engine goes through apply on one of these tables, so a forbidden change
// always fails the same way, with a *TransitionError (CODE CONFLICT) that names
// the entity, its state and the event. The diagrams in doc.go draw the same
// tables; transitions_test.go checks every (state, event) pair.

// transitions is a state machine of one entity kind.
type transitions[S ~string, E ~string] struct {
	entity string
	next   map[S]map[E]S
}

// apply returns the state that event ev leads to from state from, or a
// *TransitionError when the table has no such edge.
func (tb transitions[S, E]) apply(id int, from S, ev E) (S, error) {
	if to, ok := tb.next[from][ev]; ok {
		return to, nil
	}
	return from, &TransitionError{Entity: fmt.Sprintf("%s %d", tb.entity, id), From: string(from), Event: string(ev)}
}

// allows reports whether ev is allowed from state from.
func (tb transitions[S, E]) allows(from S, ev E) bool {
	_, ok := tb.next[from][ev]
	return ok
}

// DeploymentEvent is something that happens to a deployment.
type DeploymentEvent string

// The deployment events.
const (
	// DeploymentDefer: the pre-deployment approvals completed with a deferral.
	DeploymentDefer DeploymentEvent = "defer"
	// DeploymentQueue: the pre-deployment approvals completed (or the
	// deferral came due); the deployment joins the environment's queue.
	DeploymentQueue DeploymentEvent = "queue"
	// DeploymentStart: an agent started the job (or the server opened the
	// manual intervention that comes first in the tasks).
	DeploymentStart DeploymentEvent = "start"
	// DeploymentCompleteJob: the job succeeded (fully or partially), and
	// with it every phase of the tasks; the post-deployment approvals begin.
	DeploymentCompleteJob DeploymentEvent = "completeJob"
	// DeploymentSucceed: the post-deployment approvals completed after a
	// succeeded job.
	DeploymentSucceed DeploymentEvent = "succeed"
	// DeploymentSucceedPartially: the post-deployment approvals completed
	// after a partially succeeded job.
	DeploymentSucceedPartially DeploymentEvent = "succeedPartially"
	// DeploymentFail: the job failed, timed out or lost its agent.
	DeploymentFail DeploymentEvent = "fail"
	// DeploymentReject: an approver rejected.
	DeploymentReject DeploymentEvent = "reject"
	// DeploymentTimeOut: an approval timed out.
	DeploymentTimeOut DeploymentEvent = "timeOut"
	// DeploymentCancel: a person canceled it, or the agent reported the
	// job canceled.
	DeploymentCancel DeploymentEvent = "cancel"
	// DeploymentRequestCancel: a person canceled it while an agent holds
	// its job; the state stays until the agent reports.
	DeploymentRequestCancel DeploymentEvent = "requestCancel"
	// DeploymentSupersede: a newer release made it moot before its job
	// started: a newer release's deployment was requested in a LATEST_ONLY
	// environment, or the environment already runs (or is deploying) a
	// newer release and this deployment is automatic, so it would step
	// backwards.
	DeploymentSupersede DeploymentEvent = "supersede"
	// DeploymentEvaluateGates: the stage's gates begin to be sampled
	// (before or after its approvals, as the gate policy orders them).
	DeploymentEvaluateGates DeploymentEvent = "evaluateGates"
	// DeploymentPassGates: every gate passed in one sample and kept passing
	// for the minimum success duration, or a person ignored the gates; the
	// deployment returns to its stage (its approvals, or what follows them).
	DeploymentPassGates DeploymentEvent = "passGates"
)

// deploymentMachine is the deployment state machine.
var deploymentMachine = transitions[deployment.Status, DeploymentEvent]{
	entity: "deployment",
	next: map[deployment.Status]map[DeploymentEvent]deployment.Status{
		deployment.StatusPENDING_APPROVAL: {
			DeploymentEvaluateGates: deployment.StatusEVALUATING_GATES,
			DeploymentDefer:         deployment.StatusSCHEDULED,
			DeploymentQueue:         deployment.StatusQUEUED,
			DeploymentReject:        deployment.StatusREJECTED,
			DeploymentTimeOut:       deployment.StatusREJECTED,
			DeploymentCancel:        deployment.StatusCANCELED,
			DeploymentSupersede:     deployment.StatusCANCELED,
		},
		deployment.StatusEVALUATING_GATES: {
			DeploymentPassGates: deployment.StatusPENDING_APPROVAL,
			DeploymentTimeOut:   deployment.StatusREJECTED,
			DeploymentCancel:    deployment.StatusCANCELED,
			DeploymentSupersede: deployment.StatusCANCELED,
		},
		deployment.StatusSCHEDULED: {
			DeploymentQueue:     deployment.StatusQUEUED,
			DeploymentCancel:    deployment.StatusCANCELED,
			DeploymentSupersede: deployment.StatusCANCELED,
		},
		deployment.StatusQUEUED: {
			DeploymentStart:         deployment.StatusIN_PROGRESS,
			DeploymentFail:          deployment.StatusFAILED,
			DeploymentCancel:        deployment.StatusCANCELED,
			DeploymentRequestCancel: deployment.StatusQUEUED,
			DeploymentSupersede:     deployment.StatusCANCELED,
		},
		deployment.StatusIN_PROGRESS: {
			DeploymentCompleteJob:   deployment.StatusPENDING_POST_APPROVAL,
			DeploymentFail:          deployment.StatusFAILED,
			DeploymentReject:        deployment.StatusREJECTED, // at a manual intervention
			DeploymentTimeOut:       deployment.StatusREJECTED, // a manual intervention timed out
			DeploymentCancel:        deployment.StatusCANCELED,
			DeploymentRequestCancel: deployment.StatusIN_PROGRESS,
		},
		deployment.StatusPENDING_POST_APPROVAL: {
			DeploymentEvaluateGates:    deployment.StatusEVALUATING_POST_GATES,
			DeploymentSucceed:          deployment.StatusSUCCEEDED,
			DeploymentSucceedPartially: deployment.StatusPARTIALLY_SUCCEEDED,
			DeploymentReject:           deployment.StatusREJECTED,
			DeploymentTimeOut:          deployment.StatusREJECTED,
			DeploymentCancel:           deployment.StatusCANCELED,
		},
		deployment.StatusEVALUATING_POST_GATES: {
			DeploymentPassGates: deployment.StatusPENDING_POST_APPROVAL,
			DeploymentTimeOut:   deployment.StatusREJECTED,
			DeploymentCancel:    deployment.StatusCANCELED,
		},
		// SUCCEEDED, PARTIALLY_SUCCEEDED, FAILED, REJECTED, CANCELED are final.
	},
}

// EnvironmentEvent is something that happens to a release's environment.
// Its status follows the environment's latest deployment, in the same words:
// an environment whose deployment waits for approval is PENDING_APPROVAL, not
// QUEUED (one status vocabulary for people, bots and the dashboard).
type EnvironmentEvent string

// The release environment events.
const (
	// EnvironmentDeploy: a deployment of this release to it began.
	EnvironmentDeploy EnvironmentEvent = "deploy"
	// EnvironmentSchedule: the deployment was deferred.
	EnvironmentSchedule EnvironmentEvent = "schedule"
	// EnvironmentQueue: the pre-deployment stage completed, or the deferral
	// came due; the deployment joined the environment's queue.
	EnvironmentQueue EnvironmentEvent = "queue"
	// EnvironmentStart: an agent started the deployment's job.
	EnvironmentStart EnvironmentEvent = "start"
	// EnvironmentCompleteJob: the deployment's phases completed; its
	// post-deployment stage begins.
	EnvironmentCompleteJob EnvironmentEvent = "completeJob"
	// EnvironmentAwaitIntervention: the deployment reached a manual
	// intervention and waits for a person (the deployment stays IN_PROGRESS
	// and keeps its slot); EnvironmentResumeIntervention: it was resumed.
	EnvironmentAwaitIntervention  EnvironmentEvent = "awaitIntervention"
	EnvironmentResumeIntervention EnvironmentEvent = "resumeIntervention"
	// EnvironmentSucceed, EnvironmentSucceedPartially, EnvironmentFail,
	// EnvironmentReject and EnvironmentCancel mirror the deployment's end.
	EnvironmentSucceed          EnvironmentEvent = "succeed"
	EnvironmentSucceedPartially EnvironmentEvent = "succeedPartially"
	EnvironmentFail             EnvironmentEvent = "fail"
	EnvironmentReject           EnvironmentEvent = "reject"
	EnvironmentCancel           EnvironmentEvent = "cancel"
	// EnvironmentEvaluateGates: the deployment's pre- or post-deployment
	// gates began to be sampled.
	EnvironmentEvaluateGates EnvironmentEvent = "evaluateGates"
	// EnvironmentPassGates: the pre-deployment gates passed (back to
	// PENDING_APPROVAL); EnvironmentPassPostGates: the post-deployment gates
	// passed (back to PENDING_POST_APPROVAL).
	EnvironmentPassGates     EnvironmentEvent = "passGates"
	EnvironmentPassPostGates EnvironmentEvent = "passPostGates"
)

// environmentMachine is the release environment state machine. Its states
// are its latest deployment's: PENDING_APPROVAL, EVALUATING_GATES, SCHEDULED,
// QUEUED (for a slot or an agent), IN_PROGRESS, PENDING_POST_APPROVAL,
// WAITING_FOR_INTERVENTION (the deployment is IN_PROGRESS, held at a manual
// intervention: the one state an environment adds to its deployment's),
// EVALUATING_POST_GATES, then the deployment's end. A new deployment may
// begin only from NOT_STARTED or a final state, which is what makes two
// concurrent deploy requests conflict.
//
// Databases written before the states were split hold QUEUED for a
// deployment waiting for approval and IN_PROGRESS for one in its
// post-deployment stage; the edges marked "earlier databases" let such rows
// move on.
var environmentMachine = transitions[releaseenvironment.Status, EnvironmentEvent]{
	entity: "release environment",
	next: map[releaseenvironment.Status]map[EnvironmentEvent]releaseenvironment.Status{
		releaseenvironment.StatusNOT_STARTED:         {EnvironmentDeploy: releaseenvironment.StatusPENDING_APPROVAL},
		releaseenvironment.StatusSUCCEEDED:           {EnvironmentDeploy: releaseenvironment.StatusPENDING_APPROVAL},
		releaseenvironment.StatusPARTIALLY_SUCCEEDED: {EnvironmentDeploy: releaseenvironment.StatusPENDING_APPROVAL},
		releaseenvironment.StatusREJECTED:            {EnvironmentDeploy: releaseenvironment.StatusPENDING_APPROVAL},
		releaseenvironment.StatusCANCELED:            {EnvironmentDeploy: releaseenvironment.StatusPENDING_APPROVAL},
		releaseenvironment.StatusFAILED:              {EnvironmentDeploy: releaseenvironment.StatusPENDING_APPROVAL},
		releaseenvironment.StatusPENDING_APPROVAL: {
			EnvironmentEvaluateGates: releaseenvironment.StatusEVALUATING_GATES,
			EnvironmentSchedule:      releaseenvironment.StatusSCHEDULED,
			EnvironmentQueue:         releaseenvironment.StatusQUEUED,
			EnvironmentReject:        releaseenvironment.StatusREJECTED,
			EnvironmentCancel:        releaseenvironment.StatusCANCELED,
		},
		releaseenvironment.StatusEVALUATING_GATES: {
			EnvironmentPassGates:     releaseenvironment.StatusPENDING_APPROVAL,
			EnvironmentReject:        releaseenvironment.StatusREJECTED,
			EnvironmentCancel:        releaseenvironment.StatusCANCELED,
			EnvironmentPassPostGates: releaseenvironment.StatusPENDING_POST_APPROVAL, // earlier databases
		},
		releaseenvironment.StatusSCHEDULED: {
			EnvironmentQueue:  releaseenvironment.StatusQUEUED,
			EnvironmentCancel: releaseenvironment.StatusCANCELED,
		},
		releaseenvironment.StatusQUEUED: {
			EnvironmentStart:  releaseenvironment.StatusIN_PROGRESS,
			EnvironmentFail:   releaseenvironment.StatusFAILED,
			EnvironmentCancel: releaseenvironment.StatusCANCELED,
			// earlier databases: QUEUED while waiting for approval.
			EnvironmentQueue:         releaseenvironment.StatusQUEUED,
			EnvironmentEvaluateGates: releaseenvironment.StatusEVALUATING_GATES,
			EnvironmentSchedule:      releaseenvironment.StatusSCHEDULED,
			EnvironmentReject:        releaseenvironment.StatusREJECTED,
		},
		releaseenvironment.StatusIN_PROGRESS: {
			EnvironmentAwaitIntervention: releaseenvironment.StatusWAITING_FOR_INTERVENTION,
			EnvironmentCompleteJob:       releaseenvironment.StatusPENDING_POST_APPROVAL,
			EnvironmentFail:              releaseenvironment.StatusFAILED,
			EnvironmentReject:            releaseenvironment.StatusREJECTED, // at a manual intervention
			EnvironmentCancel:            releaseenvironment.StatusCANCELED,
			// earlier databases: IN_PROGRESS through the post-deployment stage.
			EnvironmentEvaluateGates:    releaseenvironment.StatusEVALUATING_POST_GATES,
			EnvironmentSucceed:          releaseenvironment.StatusSUCCEEDED,
			EnvironmentSucceedPartially: releaseenvironment.StatusPARTIALLY_SUCCEEDED,
		},
		releaseenvironment.StatusWAITING_FOR_INTERVENTION: {
			EnvironmentResumeIntervention: releaseenvironment.StatusIN_PROGRESS,
			EnvironmentReject:             releaseenvironment.StatusREJECTED,
			EnvironmentFail:               releaseenvironment.StatusFAILED,
			EnvironmentCancel:             releaseenvironment.StatusCANCELED,
		},
		releaseenvironment.StatusPENDING_POST_APPROVAL: {
			EnvironmentEvaluateGates:    releaseenvironment.StatusEVALUATING_POST_GATES,
			EnvironmentSucceed:          releaseenvironment.StatusSUCCEEDED,
			EnvironmentSucceedPartially: releaseenvironment.StatusPARTIALLY_SUCCEEDED,
			EnvironmentReject:           releaseenvironment.StatusREJECTED,
			EnvironmentCancel:           releaseenvironment.StatusCANCELED,
		},
		releaseenvironment.StatusEVALUATING_POST_GATES: {
			EnvironmentPassPostGates: releaseenvironment.StatusPENDING_POST_APPROVAL,
			EnvironmentReject:        releaseenvironment.StatusREJECTED,
			EnvironmentCancel:        releaseenvironment.StatusCANCELED,
		},
	},
}

// ApprovalEvent is something that happens to an approval.
type ApprovalEvent string

// The approval events. Every one of them leaves PENDING: an approval is
// decided exactly once.
const (
	ApprovalApprove  ApprovalEvent = "approve"
	ApprovalReject   ApprovalEvent = "reject"
	ApprovalReassign ApprovalEvent = "reassign"
	// ApprovalSkip: not needed (approved in the previous environment, or
	// another approver completed an ANY_ONE stage).
	ApprovalSkip ApprovalEvent = "skip"
	// ApprovalCancel: the deployment ended another way (rejected by another
	// approver, canceled, release abandoned).
	ApprovalCancel  ApprovalEvent = "cancel"
	ApprovalTimeOut ApprovalEvent = "timeOut"
)

// approvalMachine is the approval state machine.
var approvalMachine = transitions[approval.Status, ApprovalEvent]{
	entity: "approval",
	next: map[approval.Status]map[ApprovalEvent]approval.Status{
		approval.StatusPENDING: {
			ApprovalApprove:  approval.StatusAPPROVED,
			ApprovalReject:   approval.StatusREJECTED,
			ApprovalReassign: approval.StatusREASSIGNED,
			ApprovalSkip:     approval.StatusSKIPPED,
			ApprovalCancel:   approval.StatusCANCELED,
			ApprovalTimeOut:  approval.StatusTIMED_OUT,
		},
	},
}

// JobEvent is something that happens to a job.
type JobEvent string

// The job events.
const (
	// JobAssign: the dispatcher pushed the job to an agent.
	JobAssign JobEvent = "assign"
	// JobStart: the agent started it.
	JobStart JobEvent = "start"
	// JobSucceed, JobSucceedPartially, JobFail, JobCancel: the result.
	JobSucceed          JobEvent = "succeed"
	JobSucceedPartially JobEvent = "succeedPartially"
	JobFail             JobEvent = "fail"
	JobCancel           JobEvent = "cancel"
	// JobLose: its agent went silent for longer than the grace period.
	JobLose JobEvent = "lose"
	// JobSkip: a deployment-group target's job never started (the phase's failure threshold
	// was exceeded first).
	JobSkip JobEvent = "skip"
	// JobRequeue: the agent declined the assigned job (busy, shutting down) or was deleted
	// before it started it; nothing ran, so the job waits for another agent.
	JobRequeue JobEvent = "requeue"
)

// jobMachine is the job state machine.
var jobMachine = transitions[job.Status, JobEvent]{
	entity: "job",
	next: map[job.Status]map[JobEvent]job.Status{
		job.StatusQUEUED: {
			JobAssign: job.StatusASSIGNED,
			JobStart:  job.StatusRUNNING,
			JobCancel: job.StatusCANCELED,
			JobSkip:   job.StatusSKIPPED,
		},
		job.StatusASSIGNED: {
			JobStart:   job.StatusRUNNING,
			JobFail:    job.StatusFAILED,
			JobCancel:  job.StatusCANCELED,
			JobLose:    job.StatusLOST,
			JobRequeue: job.StatusQUEUED,
		},
		job.StatusRUNNING: {
			JobSucceed:          job.StatusSUCCEEDED,
			JobSucceedPartially: job.StatusPARTIALLY_SUCCEEDED,
			JobFail:             job.StatusFAILED,
			JobCancel:           job.StatusCANCELED,
			JobLose:             job.StatusLOST,
		},
	},
}

// InterventionEvent is something that happens to a manual intervention.
type InterventionEvent string

// The manual intervention events; each leaves PENDING, so it is decided once.
const (
	// InterventionResume: a person resumed it, or its timeout did
	// (OnTimeout RESUME); the next phase of the tasks starts.
	InterventionResume InterventionEvent = "resume"
	// InterventionReject: a person rejected it, or its timeout did; the
	// deployment is REJECTED.
	InterventionReject InterventionEvent = "reject"
	// InterventionCancel: the deployment ended another way.
	InterventionCancel InterventionEvent = "cancel"
)

// interventionMachine is the manual intervention state machine.
var interventionMachine = transitions[manualintervention.Status, InterventionEvent]{
	entity: "manual intervention",
	next: map[manualintervention.Status]map[InterventionEvent]manualintervention.Status{
		manualintervention.StatusPENDING: {
			InterventionResume: manualintervention.StatusRESUMED,
			InterventionReject: manualintervention.StatusREJECTED,
			InterventionCancel: manualintervention.StatusCANCELED,
		},
	},
}

// ReleaseEvent is something that happens to a release as a whole.
type ReleaseEvent string

// Release events: abandon ends a release (nothing more deploys from it); start makes a draft
// active (its triggers run as at creation).
const (
	ReleaseAbandon ReleaseEvent = "abandon"
	ReleaseStart   ReleaseEvent = "start"
)

// environmentEventFor is what a deployment's final event does to its release
// environment (finishDeployment applies both).
var environmentEventFor = map[DeploymentEvent]EnvironmentEvent{
	DeploymentSucceed:          EnvironmentSucceed,
	DeploymentSucceedPartially: EnvironmentSucceedPartially,
	DeploymentFail:             EnvironmentFail,
	DeploymentReject:           EnvironmentReject,
	DeploymentTimeOut:          EnvironmentReject,
	DeploymentCancel:           EnvironmentCancel,
	DeploymentSupersede:        EnvironmentCancel,
}

// jobEventFor maps a job status an agent reports to the job's event.
var jobEventFor = map[string]JobEvent{
	string(job.StatusSUCCEEDED):           JobSucceed,
	string(job.StatusPARTIALLY_SUCCEEDED): JobSucceedPartially,
	string(job.StatusFAILED):              JobFail,
	string(job.StatusCANCELED):            JobCancel,
	string(job.StatusLOST):                JobLose,
}

// releaseMachine is the release state machine: a DRAFT until started, then ACTIVE until abandoned.
var releaseMachine = transitions[release.Status, ReleaseEvent]{
	entity: "release",
	next: map[release.Status]map[ReleaseEvent]release.Status{
		release.StatusDRAFT:  {ReleaseStart: release.StatusACTIVE},
		release.StatusACTIVE: {ReleaseAbandon: release.StatusABANDONED},
	},
}

// jobActive reports whether a job in status s still occupies its
// environment's queue slot.
func jobActive(s job.Status) bool {
	return s == job.StatusQUEUED || s == job.StatusASSIGNED || s == job.StatusRUNNING
}

// deploymentFinal reports whether s is a final deployment status.
func deploymentFinal(s deployment.Status) bool {
	return len(deploymentMachine.next[s]) == 0
}
