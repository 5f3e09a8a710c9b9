package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/internal/tasklib"
)

// Job is the agent work of a deployment.
type Job struct{ ent.Schema }

// Mixin of the Job.
func (Job) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Job.
func (Job) Fields() []ent.Field {
	return []ent.Field{
		field.Strings("demands").Optional(),
		field.JSON("spec", spec.JobSpec{}).Annotations(entgql.Skip()),
		field.Enum("status").Values(
			"QUEUED", "ASSIGNED", "RUNNING", "SUCCEEDED", "PARTIALLY_SUCCEEDED", "FAILED", "CANCELED", "LOST", "SKIPPED",
		).Default("QUEUED").Annotations(entgql.OrderField("STATUS")),
		// WaitingReason says why a queued job has not been assigned (unmet demands).
		field.String("waiting_reason").Default(""),
		field.String("result_reason").Default(""),
		field.Time("queued_at"),
		field.Time("assigned_at").Optional().Nillable(),
		field.Time("started_at").Optional().Nillable(),
		field.Time("finished_at").Optional().Nillable(),
		// TimeoutAt is enforced by the server, whatever the agent does.
		field.Time("timeout_at").Optional().Nillable(),
		field.Bool("cancel_requested").Default(false),
		// LogSeq is the highest stored log sequence number.
		field.Int64("log_seq").Default(0),
		field.Int64("log_bytes").Default(0),
		field.Bool("log_truncated").Default(false),
		field.Int("version").Default(0).Annotations(entgql.Skip()),
		// Phase is the job's place among the deployment's phases (0 first):
		// manual interventions split an environment's tasks into agent
		// phases, each a job.
		field.Int("phase").Default(0),
		// LogBase is the deployment log's last sequence number before this
		// job: its lines are stored as LogBase + the agent's per-job number,
		// so that the phases of a deployment make one log.
		field.Int64("log_base").Default(0),
		// Pool is the agent pool whose agents may take the job (an agent phase's; "" reads as
		// "default"); a target's job has none.
		field.String("pool").Default(""),
		// Target is the name of the deployment-group target the job is for ("" for an agent
		// phase's job); TargetAgentID its agent, the only one that may take the job.
		field.String("target").Default(""),
		field.Int("target_agent_id").Optional().Nillable(),
		// Held is a target's job created with its phase but not yet released to its target
		// (the phase's maxParallel): the dispatcher does not offer it.
		field.Bool("held").Default(false),
		field.Int("deployment_id"),
		field.Int("agent_id").Optional().Nillable(),
		// OutputVariables are the variables the job's tasks set with isOutput
		// (##vso[task.setvariable]), named "<task name>.<name>", secret values
		// sealed; later jobs of the release get them.
		field.JSON("output_variables", []spec.Variable{}).Optional().Annotations(entgql.Skip()),
	}
}

// Edges of the Job.
func (Job) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("deployment", Deployment.Type).Ref("jobs").Field("deployment_id").Unique().Required(),
		edge.From("agent", Agent.Type).Ref("jobs").Field("agent_id").Unique(),
		edge.To("steps", JobStep.Type),
		edge.To("log_chunks", LogChunk.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of the Job.
func (Job) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("status", "queued_at"), index.Fields("agent_id", "status"),
		index.Fields("deployment_id", "phase", "target").Unique(),
		index.Fields("target_agent_id", "status"),
	}
}

// Annotations of the Job.
func (Job) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// JobStep is one task of a job as it ran.
type JobStep struct{ ent.Schema }

// Fields of the JobStep.
func (JobStep) Fields() []ent.Field {
	return []ent.Field{
		field.Int("position"),
		field.String("name"),
		field.Enum("status").Values("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "SKIPPED", "CANCELED").
			Default("PENDING"),
		field.Int("exit_code").Optional().Nillable(),
		field.Bool("continue_on_error").Default(false),
		field.Time("started_at").Optional().Nillable(),
		field.Time("finished_at").Optional().Nillable(),
		field.Int("job_id"),
		// What the task reported through logging commands: its errors and
		// warnings (the first 100 listed, all counted), a SucceededWithIssues
		// result, and its last progress.
		field.Int("error_count").Default(0),
		field.Int("warning_count").Default(0),
		field.JSON("issues", []spec.StepIssue{}).Optional(),
		field.Bool("succeeded_with_issues").Default(false),
		field.Int("progress").Optional().Nillable(),
		field.String("progress_text").Default(""),
		// Reason says why a step did not succeed, or was skipped by its condition.
		field.String("reason").Default(""),
	}
}

// Edges of the JobStep.
func (JobStep) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("job", Job.Type).Ref("steps").Field("job_id").Unique().Required(),
		edge.To("attachments", StepAttachment.Type),
	}
}

// StepAttachment is a file a task uploaded (##vso[task.uploadfile]), kept
// with its deployment.
type StepAttachment struct{ ent.Schema }

// Mixin of the StepAttachment.
func (StepAttachment) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the StepAttachment.
func (StepAttachment) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(255),
		field.Int("size"),
		field.Bytes("content").MaxLen(1 << 20).Annotations(entgql.Skip()),
		field.Int("job_step_id"),
	}
}

// Edges of the StepAttachment.
func (StepAttachment) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("step", JobStep.Type).Ref("attachments").Field("job_step_id").Unique().Required(),
	}
}

// Indexes of the StepAttachment.
func (StepAttachment) Indexes() []ent.Index {
	return []ent.Index{index.Fields("job_step_id", "name").Unique()}
}

// Indexes of the JobStep.
func (JobStep) Indexes() []ent.Index {
	return []ent.Index{index.Fields("job_id", "position").Unique()}
}

// LogChunk stores a run of consecutive log lines of a job, [first_seq, last_seq].
type LogChunk struct{ ent.Schema }

// Fields of the LogChunk.
func (LogChunk) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("first_seq"),
		field.Int64("last_seq"),
		// Lines is a JSON array of {seq, step, time, text, afterLoss} (delivery.LogLine).
		field.Bytes("lines"),
		field.Int("job_id"),
	}
}

// Edges of the LogChunk.
func (LogChunk) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("job", Job.Type).Ref("log_chunks").Field("job_id").Unique().Required(),
	}
}

// Indexes of the LogChunk.
func (LogChunk) Indexes() []ent.Index {
	return []ent.Index{index.Fields("job_id", "first_seq").Unique()}
}

// Annotations of the LogChunk.
func (LogChunk) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Agent is a machine that runs deployment jobs.
type Agent struct{ ent.Schema }

// Mixin of the Agent.
func (Agent) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Agent.
func (Agent) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).Unique().Annotations(entgql.OrderField("NAME")),
		field.JSON("system_capabilities", map[string]string{}).Optional().Annotations(entgql.Skip()),
		field.JSON("user_capabilities", map[string]string{}).Optional().Annotations(entgql.Skip()),
		field.String("version").Default(""),
		field.Bool("enabled").Default(true),
		field.Bool("online").Default(false),
		field.Time("last_seen_at").Optional().Nillable(),
		field.Int("max_jobs").Default(1),
		// CredentialID is the jti of the agent's current credential.
		field.String("credential_id").Default("").Annotations(entgql.Skip()),
		field.Int("pool_id").Optional().Nillable(),
		// DeploymentGroupID makes the agent a target of that deployment group: it takes only
		// the jobs of deployment-group phases addressed to it, none of a pool's.
		field.Int("deployment_group_id").Optional().Nillable(),
		// Tags of a target (lower case), which deployment-group phases select by.
		field.Strings("tags").Optional(),
	}
}

// Edges of the Agent.
func (Agent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("pool", AgentPool.Type).Ref("agents").Field("pool_id").Unique(),
		edge.From("deployment_group", DeploymentGroup.Type).Ref("targets").Field("deployment_group_id").Unique(),
		edge.To("jobs", Job.Type).Annotations(entgql.RelayConnection()),
	}
}

// Annotations of the Agent.
func (Agent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}

// AgentPool groups agents.
type AgentPool struct{ ent.Schema }

// Mixin of the AgentPool.
func (AgentPool) Mixin() []ent.Mixin { return []ent.Mixin{CreatedMixin{}} }

// Fields of the AgentPool.
func (AgentPool) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(100).Unique(),
		field.String("description").Default(""),
		// MayUse are the users and groups who may name the pool in a definition; empty:
		// every EDITOR. ADMINs may without being listed (audited).
		field.JSON("may_use", []spec.Approver{}).Optional().Annotations(entgql.Skip()),
	}
}

// Edges of the AgentPool.
func (AgentPool) Edges() []ent.Edge {
	return []ent.Edge{edge.To("agents", Agent.Type)}
}

// DeploymentGroup is a set of targets: agents registered into it with tags, which
// deployment-group phases deploy to one by one.
type DeploymentGroup struct{ ent.Schema }

// Mixin of the DeploymentGroup.
func (DeploymentGroup) Mixin() []ent.Mixin { return []ent.Mixin{CreatedMixin{}} }

// Fields of the DeploymentGroup.
func (DeploymentGroup) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(100).Unique(),
		field.String("description").Default(""),
		// MayUse are the users and groups who may name the group in a definition; empty:
		// every EDITOR. ADMINs may without being listed (audited).
		field.JSON("may_use", []spec.Approver{}).Optional().Annotations(entgql.Skip()),
	}
}

// Edges of the DeploymentGroup.
func (DeploymentGroup) Edges() []ent.Edge {
	return []ent.Edge{edge.To("targets", Agent.Type)}
}

// AgentRegistration is a token that agents exchange for their credential.
// Only a hash of the token is stored.
type AgentRegistration struct{ ent.Schema }

// Mixin of the AgentRegistration.
func (AgentRegistration) Mixin() []ent.Mixin { return []ent.Mixin{CreatedMixin{}} }

// Fields of the AgentRegistration.
func (AgentRegistration) Fields() []ent.Field {
	return []ent.Field{
		field.String("token_hash").Unique().Sensitive().Annotations(entgql.Skip()),
		field.String("pool").Default(""),
		// DeploymentGroup, when set, registers the agents as targets of that group.
		field.String("deployment_group").Default(""),
		field.Int("max_uses").Default(1),
		field.Int("uses").Default(0),
		field.Time("expires_at"),
		field.String("created_by"),
		field.Time("revoked_at").Optional().Nillable(),
	}
}

// TaskTemplate is a custom task template or task group of the task library
// (the built-ins ship in the binary, internal/tasklib). One row per version.
type TaskTemplate struct{ ent.Schema }

// Mixin of the TaskTemplate.
func (TaskTemplate) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the TaskTemplate.
func (TaskTemplate) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(100),
		field.Int("major"),
		field.Int("minor"),
		// Spec is the whole template (tasklib.Template), as a release freezes it.
		field.JSON("spec", tasklib.Template{}),
		field.String("created_by").Default(""),
	}
}

// Indexes of the TaskTemplate.
func (TaskTemplate) Indexes() []ent.Index {
	return []ent.Index{index.Fields("name", "major", "minor").Unique()}
}

// Annotations of the TaskTemplate.
func (TaskTemplate) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
