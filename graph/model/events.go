package model

import (
	"context"
	"encoding/json"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/schema/spec"
)

// EventLoader reads the objects an event names, for the fields of event
// types that resolve them (release, deployment, approval, agent, changes).
// The graph package implements it over the engine.
type EventLoader interface {
	Release(ctx context.Context, id int) (*ent.Release, error)
	Deployment(ctx context.Context, id int) (*ent.Deployment, error)
	Approval(ctx context.Context, id int) (*ent.Approval, error)
	Intervention(ctx context.Context, id int) (*ent.ManualIntervention, error)
	Agent(ctx context.Context, id int) (*ent.Agent, error)
	StageApprovers(ctx context.Context, deploymentID int, stage string) ([]*spec.Approver, error)
	Changes(ctx context.Context, releaseID int, environment string) (*delivery.ReleaseChanges, error)
}

// EventBase is what every GraphQL event type shares: the engine's event
// (sequence, time, type, actor and ids) and the loader of what it names.
// The event types embed it, so their GraphQL fields bind to its fields and
// methods.
type EventBase struct {
	delivery.Event
	Loader EventLoader
}

// IsCairnEvent marks the CairnEvent interface.
func (EventBase) IsCairnEvent() {}

// Release resolves the event's release; null when it has none.
func (b EventBase) Release(ctx context.Context) (*ent.Release, error) {
	if b.ReleaseID == 0 {
		return nil, nil
	}
	return b.Loader.Release(ctx, b.ReleaseID)
}

// Deployment resolves the event's deployment; null when it has none.
func (b EventBase) Deployment(ctx context.Context) (*ent.Deployment, error) {
	if b.DeploymentID == 0 {
		return nil, nil
	}
	return b.Loader.Deployment(ctx, b.DeploymentID)
}

// Approval resolves the event's approval; null when it has none.
func (b EventBase) Approval(ctx context.Context) (*ent.Approval, error) {
	if b.ApprovalID == 0 {
		return nil, nil
	}
	return b.Loader.Approval(ctx, b.ApprovalID)
}

// Agent resolves the event's agent; null when it has none or was deleted.
func (b EventBase) Agent(ctx context.Context) (*ent.Agent, error) {
	if b.AgentID == 0 {
		return nil, nil
	}
	return b.Loader.Agent(ctx, b.AgentID)
}

// Stage is PRE or POST for approval events.
func (b EventBase) Stage() string { return dataString(b.Data, "stage") }

// dataString reads a string from an event's data.
func dataString(data map[string]any, key string) string {
	s, _ := data[key].(string)
	return s
}

// dataInt reads a number from an event's data: an int when the event comes
// from the bus in process, a float64 when it was decoded from JSON.
func dataInt(data map[string]any, key string) int {
	switch v := data[key].(type) {
	case int:
		return v
	case int64:
		return int(v)
	case float64:
		return int(v)
	}
	return 0
}

// ReleaseCreatedEvent: a release was created.
type ReleaseCreatedEvent struct{ EventBase }

// Name is the release's name.
func (e ReleaseCreatedEvent) Name() string { return dataString(e.Data, "name") }

// IsReleaseEvent marks the ReleaseEvent union.
func (ReleaseCreatedEvent) IsReleaseEvent() {}

// ReleaseAbandonedEvent: a release was abandoned.
type ReleaseAbandonedEvent struct{ EventBase }

// IsReleaseEvent marks the ReleaseEvent union.
func (ReleaseAbandonedEvent) IsReleaseEvent() {}

// EnvironmentStatusChangedEvent: a release environment changed status.
type EnvironmentStatusChangedEvent struct{ EventBase }

// IsReleaseEvent marks the ReleaseEvent union.
func (EnvironmentStatusChangedEvent) IsReleaseEvent() {}

// DeploymentStartedEvent: a deployment was requested.
type DeploymentStartedEvent struct{ EventBase }

// Operation is DEPLOY, REDEPLOY or ROLLBACK.
func (e DeploymentStartedEvent) Operation() string { return dataString(e.Data, "operation") }

// Attempt numbers the deployments of the release to the environment.
func (e DeploymentStartedEvent) Attempt() int { return dataInt(e.Data, "attempt") }

// IsReleaseEvent marks the ReleaseEvent union.
func (DeploymentStartedEvent) IsReleaseEvent() {}

// DeploymentFinishedEvent: a deployment ended.
type DeploymentFinishedEvent struct{ EventBase }

// StatusReason says why the deployment ended so.
func (e DeploymentFinishedEvent) StatusReason() string { return dataString(e.Data, "statusReason") }

// IsReleaseEvent marks the ReleaseEvent union.
func (DeploymentFinishedEvent) IsReleaseEvent() {}

// ApprovalPendingEvent: an approval can now be decided.
type ApprovalPendingEvent struct{ EventBase }

// Approver is the user or group of this approval.
func (e ApprovalPendingEvent) Approver() *spec.Approver {
	name := dataString(e.Data, "approver")
	if name == "" {
		return nil
	}
	return &spec.Approver{Kind: spec.ApproverKind(dataString(e.Data, "kind")), Name: name}
}

// Approvers lists everyone who approves this stage of the deployment.
func (e ApprovalPendingEvent) Approvers(ctx context.Context) ([]*spec.Approver, error) {
	return e.Loader.StageApprovers(ctx, e.DeploymentID, e.Stage())
}

// Deadline is when the approval times out, if ever.
func (e ApprovalPendingEvent) Deadline(ctx context.Context) (*time.Time, error) {
	a, err := e.EventBase.Approval(ctx)
	if err != nil || a == nil {
		return nil, err
	}
	return a.DueAt, nil
}

// Changes are the commits and work items the deployment would bring to the
// environment since what it runs now.
func (e ApprovalPendingEvent) Changes(ctx context.Context) (*delivery.ReleaseChanges, error) {
	return e.Loader.Changes(ctx, e.ReleaseID, e.Environment)
}

// IsReleaseEvent marks the ReleaseEvent union.
func (ApprovalPendingEvent) IsReleaseEvent() {}

// IsApprovalEvent marks the ApprovalEvent union.
func (ApprovalPendingEvent) IsApprovalEvent() {}

// ApprovalDecidedEvent: an approval was approved, rejected, canceled or skipped.
type ApprovalDecidedEvent struct{ EventBase }

// IsReleaseEvent marks the ReleaseEvent union.
func (ApprovalDecidedEvent) IsReleaseEvent() {}

// IsApprovalEvent marks the ApprovalEvent union.
func (ApprovalDecidedEvent) IsApprovalEvent() {}

// ApprovalTimedOutEvent: an approval was not decided in time.
type ApprovalTimedOutEvent struct{ EventBase }

// IsReleaseEvent marks the ReleaseEvent union.
func (ApprovalTimedOutEvent) IsReleaseEvent() {}

// IsApprovalEvent marks the ApprovalEvent union.
func (ApprovalTimedOutEvent) IsApprovalEvent() {}

// ApprovalReassignedEvent: an approval was handed to someone else.
type ApprovalReassignedEvent struct{ EventBase }

// IsReleaseEvent marks the ReleaseEvent union.
func (ApprovalReassignedEvent) IsReleaseEvent() {}

// IsApprovalEvent marks the ApprovalEvent union.
func (ApprovalReassignedEvent) IsApprovalEvent() {}

// JobLostEvent: a deployment's job was lost.
type JobLostEvent struct{ EventBase }

// IsReleaseEvent marks the ReleaseEvent union.
func (JobLostEvent) IsReleaseEvent() {}

// StepProgressEvent: a running step reported its progress.
type StepProgressEvent struct{ EventBase }

// IsReleaseEvent marks the ReleaseEvent union.
func (StepProgressEvent) IsReleaseEvent() {}

// Step is the step's position in its job.
func (e StepProgressEvent) Step() int { return dataInt(e.Data, "step") }

// Name is the step's name.
func (e StepProgressEvent) Name() string { return dataString(e.Data, "name") }

// Percent is the progress, 0-100.
func (e StepProgressEvent) Percent() int { return dataInt(e.Data, "percent") }

// Text is what the task said with it.
func (e StepProgressEvent) Text() string { return dataString(e.Data, "text") }

// GateSampleFailedEvent: a sample of a deployment's gates did not pass.
type GateSampleFailedEvent struct{ EventBase }

// Number is the sample's number within its stage.
func (e GateSampleFailedEvent) Number() int { return dataInt(e.Data, "number") }

// Results are the sample's gate results (typed in process, decoded JSON
// from another replica).
func (e GateSampleFailedEvent) Results() []spec.GateResult {
	switch v := e.Data["results"].(type) {
	case []spec.GateResult:
		return v
	case nil:
		return nil
	default:
		var out []spec.GateResult
		b, err := json.Marshal(v)
		if err == nil && json.Unmarshal(b, &out) == nil {
			return out
		}
		return nil
	}
}

// IsReleaseEvent marks the ReleaseEvent union.
func (GateSampleFailedEvent) IsReleaseEvent() {}

// FreezeStartedEvent: a freeze window started.
type FreezeStartedEvent struct{ EventBase }

// WindowID is the freeze window's id.
func (e FreezeStartedEvent) WindowID() int { return dataInt(e.Data, "windowId") }

// Name is the window's name.
func (e FreezeStartedEvent) Name() string { return dataString(e.Data, "name") }

// Mode is WAIT or REFUSE.
func (e FreezeStartedEvent) Mode() string { return dataString(e.Data, "mode") }

// Reason is the window's reason.
func (e FreezeStartedEvent) Reason() string { return dataString(e.Data, "reason") }

// Until is when the window ends.
func (e FreezeStartedEvent) Until() *time.Time {
	t, err := time.Parse(time.RFC3339, dataString(e.Data, "until"))
	if err != nil {
		return nil
	}
	return &t
}

// IsReleaseEvent marks the ReleaseEvent union.
func (FreezeStartedEvent) IsReleaseEvent() {}

// FreezeEndedEvent: a freeze window ended.
type FreezeEndedEvent struct{ EventBase }

// WindowID is the freeze window's id.
func (e FreezeEndedEvent) WindowID() int { return dataInt(e.Data, "windowId") }

// Name is the window's name.
func (e FreezeEndedEvent) Name() string { return dataString(e.Data, "name") }

// Mode is WAIT or REFUSE.
func (e FreezeEndedEvent) Mode() string { return dataString(e.Data, "mode") }

// Reason is the window's reason.
func (e FreezeEndedEvent) Reason() string { return dataString(e.Data, "reason") }

// IsReleaseEvent marks the ReleaseEvent union.
func (FreezeEndedEvent) IsReleaseEvent() {}

// AgentStatusEvent: an agent changed (Status says how).
type AgentStatusEvent struct{ EventBase }

// IsAgentEvent marks the AgentEvent union.
func (AgentStatusEvent) IsAgentEvent() {}

// ManualInterventionPendingEvent: a deployment waits at a manual intervention.
type ManualInterventionPendingEvent struct{ EventBase }

// InterventionID is the manual intervention's id.
func (e ManualInterventionPendingEvent) InterventionID() int {
	return dataInt(e.Data, "interventionId")
}

// Task is the intervention task's name.
func (e ManualInterventionPendingEvent) Task() string { return dataString(e.Data, "task") }

// Instructions are the task's, expanded and masked.
func (e ManualInterventionPendingEvent) Instructions() string {
	return dataString(e.Data, "instructions")
}

// Approvers describes who may act.
func (e ManualInterventionPendingEvent) Approvers() string { return dataString(e.Data, "approvers") }

// TimeoutAt is when its timeout acts.
func (e ManualInterventionPendingEvent) TimeoutAt() *time.Time {
	t, err := time.Parse(time.RFC3339, dataString(e.Data, "timeoutAt"))
	if err != nil {
		return nil
	}
	return &t
}

// OnTimeout is REJECT or RESUME.
func (e ManualInterventionPendingEvent) OnTimeout() spec.InterventionTimeoutAction {
	return spec.InterventionTimeoutAction(dataString(e.Data, "onTimeout"))
}

// Intervention resolves the manual intervention.
func (e ManualInterventionPendingEvent) Intervention(ctx context.Context) (*ent.ManualIntervention, error) {
	return e.Loader.Intervention(ctx, e.InterventionID())
}

// IsReleaseEvent marks the ReleaseEvent union.
func (ManualInterventionPendingEvent) IsReleaseEvent() {}

// ManualInterventionDecidedEvent: a manual intervention was resumed,
// rejected or canceled.
type ManualInterventionDecidedEvent struct{ EventBase }

// InterventionID is the manual intervention's id.
func (e ManualInterventionDecidedEvent) InterventionID() int {
	return dataInt(e.Data, "interventionId")
}

// Task is the intervention task's name.
func (e ManualInterventionDecidedEvent) Task() string { return dataString(e.Data, "task") }

// Comment is the person's comment, or why the timeout or a cancel acted.
func (e ManualInterventionDecidedEvent) Comment() string { return dataString(e.Data, "comment") }

// TimedOut is set when its timeout acted.
func (e ManualInterventionDecidedEvent) TimedOut() bool {
	b, _ := e.Data["timedOut"].(bool)
	return b
}

// Intervention resolves the manual intervention.
func (e ManualInterventionDecidedEvent) Intervention(ctx context.Context) (*ent.ManualIntervention, error) {
	return e.Loader.Intervention(ctx, e.InterventionID())
}

// IsReleaseEvent marks the ReleaseEvent union.
func (ManualInterventionDecidedEvent) IsReleaseEvent() {}
