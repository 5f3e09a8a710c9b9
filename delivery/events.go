package delivery

import (
	"context"
	"time"
)

// Event types. Persisted events get a sequence number from the event stream;
// transient ones (log lines) have Sequence 0.
const (
	EventDefinitionChanged        = "definition.changed"
	EventReleaseCreated           = "release.created"
	EventReleaseAbandoned         = "release.abandoned"
	EventEnvironmentStatusChanged = "environment.statusChanged"
	EventDeploymentStarted        = "deployment.started"
	EventDeploymentStatusChanged  = "deployment.statusChanged"
	EventDeploymentFinished       = "deployment.finished"
	EventApprovalPending          = "approval.pending"
	EventApprovalDecided          = "approval.decided"
	EventApprovalTimedOut         = "approval.timedOut"
	EventApprovalReassigned       = "approval.reassigned"
	EventJobQueued                = "job.queued"
	EventJobStarted               = "job.started"
	EventJobCancelRequested       = "job.cancelRequested"
	EventJobFinished              = "job.finished"
	EventJobLost                  = "job.lost"
	// EventStepProgress: a running step reported its progress (##vso[task.setprogress]);
	// Data: step (its position), name, percent, text.
	EventStepProgress = "step.progress"
	EventLogAppended  = "log.appended"
	EventAgentChanged = "agent.changed"
	// EventCredentialRevoked (transient): an API token was revoked (Data:
	// jti, userId) or a user disabled (Data: userId). Connections
	// authenticated with it re-check their credential at once.
	EventCredentialRevoked = "credential.revoked"
	// EventArtifactEnriched: a release artifact's commits, work items and
	// files were read from its CI server.
	EventArtifactEnriched = "artifact.enriched"
	// EventTimersChanged (transient): a transaction created timed work
	// (an approval timeout, a deferred deployment, a job timeout, a
	// schedule). The replica that committed it wakes its own timer loop
	// directly; other replicas wake theirs on this event, so that timed work
	// committed by a replica that stops before it is due still runs on time.
	EventTimersChanged = "timers.changed"
	// EventEnrichmentQueued (transient): a transaction queued enrichment of a
	// release's artifacts from their CI server; other replicas' enrichment
	// loops wake on it, as for EventTimersChanged.
	EventEnrichmentQueued = "enrichment.queued"
	// EventIdentityChanged (transient): a user or group was created, changed or deleted, or a
	// member added or removed (Data: targetType "user" or "group", targetId, action: the audit
	// action). The identityEvents subscription streams it to the administration pages.
	EventIdentityChanged = "identity.changed"
	// EventJobClaimable (transient, PostgreSQL only): a transaction made job JobID claimable
	// (its job.queued event is stored). It is published as the transaction commits, before the
	// sealer gives job.queued its place in the stream and publishes it (a second transaction),
	// so that dispatchers claim the job without waiting for the seal. On SQLite the writer
	// seals its own events before committing, and job.queued is published as soon.
	EventJobClaimable = "job.claimable"
)

// Event is a fact published after the transaction that caused it committed.
// It carries ids and sequence numbers, never the only copy of data: a
// subscriber that misses events can re-read the database.
type Event struct {
	Sequence     int64          `json:"sequence"`
	Type         string         `json:"type"`
	Time         time.Time      `json:"time"`
	DefinitionID int            `json:"definitionId,omitempty"`
	ReleaseID    int            `json:"releaseId,omitempty"`
	Environment  string         `json:"environment,omitempty"`
	DeploymentID int            `json:"deploymentId,omitempty"`
	ApprovalID   int            `json:"approvalId,omitempty"`
	JobID        int            `json:"jobId,omitempty"`
	AgentID      int            `json:"agentId,omitempty"`
	Status       string         `json:"status,omitempty"`
	Actor        string         `json:"actor,omitempty"`
	Data         map[string]any `json:"data,omitempty"`
	// Lines are the stored lines of an EventLogAppended, in order: a typed
	// payload, so that it reads the same after the PostgreSQL bus's JSON
	// (an oversized event arrives without them; followers re-read).
	Lines []LogLine `json:"lines,omitempty"`
	// Target names the deployment-group target of an EventLogAppended whose job is a target's
	// ("" for an agent phase's job): its lines are numbered in the job's own sequence.
	Target string `json:"target,omitempty"`
	// Remote is set on an event another replica committed, as the
	// PostgreSQL bus delivers it; never sent on the wire.
	Remote bool `json:"-"`
}

// Publisher receives events after commit. Implementations must not block for
// long: the in-process bus fans out with bounded buffers, the PostgreSQL bus
// sends NOTIFY.
type Publisher interface {
	Publish(ctx context.Context, events []Event)
}

// NopPublisher drops events.
type NopPublisher struct{}

// Publish does nothing.
func (NopPublisher) Publish(context.Context, []Event) {}
