package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/cairnhq/cairn/ent/schema/spec"
)

// Release is a frozen snapshot of a definition revision plus the exact
// artifact versions it deploys.
type Release struct{ ent.Schema }

// Mixin of the Release.
func (Release) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Release.
func (Release) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(300).Annotations(entgql.OrderField("NAME")),
		// Number is the definition's release counter value ($(rev:r)).
		field.Int("number").Immutable().Annotations(entgql.OrderField("NUMBER")),
		field.Int("definition_revision").Immutable(),
		field.JSON("snapshot", spec.DefinitionSnapshot{}).Immutable().Annotations(entgql.Skip()),
		field.Enum("reason").Values("MANUAL", "CONTINUOUS_INTEGRATION", "SCHEDULE").Immutable(),
		// DRAFT releases deploy nothing until startRelease makes them ACTIVE.
		field.Enum("status").Values("DRAFT", "ACTIVE", "ABANDONED").Default("ACTIVE").
			Annotations(entgql.OrderField("STATUS")),
		field.String("description").Default("").MaxLen(4000),
		// CreatedBy is the username of the creator, or "ci:<connection>" /
		// "schedule" for automatic releases.
		field.String("created_by").Immutable(),
		field.JSON("variable_overrides", []spec.Variable{}).Optional().Annotations(entgql.Skip()),
		// VariableGroups are the library groups the release froze at its
		// creation (secrets sealed), in precedence order; refreshVariables
		// re-reads them.
		field.JSON("variable_groups", []spec.FrozenGroup{}).Optional().Annotations(entgql.Skip()),
		// ManualEnvironments are left manual for this release whatever their trigger.
		field.Strings("manual_environments").Optional(),
		// Partial is set when a partially succeeded build (Jenkins UNSTABLE,
		// Team Build partiallySucceeded) triggered the release.
		field.Bool("partial").Default(false),
		field.Int("definition_id").Immutable(),
		// Tags label the release (updateRelease).
		field.Strings("tags").Optional(),
		// KeepForever exempts the release from retention; KeepForeverBy
		// names who set it.
		field.Bool("keep_forever").Default(false),
		field.String("keep_forever_by").Default(""),
		// LogsPrunedAt is when log retention removed the release's job logs
		// and gate samples (the release itself stays).
		field.Time("logs_pruned_at").Optional().Nillable(),
	}
}

// Edges of the Release.
func (Release) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("definition", ReleaseDefinition.Type).Ref("releases").
			Field("definition_id").Unique().Required().Immutable(),
		edge.To("artifacts", ReleaseArtifact.Type),
		edge.To("environments", ReleaseEnvironment.Type),
		edge.To("deployments", Deployment.Type).Annotations(entgql.RelayConnection()),
		edge.To("commits", SourceCommit.Type).Annotations(entgql.RelayConnection()),
		edge.To("work_items", WorkItem.Type).Annotations(entgql.RelayConnection()),
		edge.From("webhook_deliveries", WebhookDelivery.Type).Ref("releases").Annotations(entgql.Skip()),
	}
}

// Indexes of the Release.
func (Release) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("definition_id", "name").Unique(),
		index.Fields("definition_id", "number").Unique(),
		index.Fields("status"),
		index.Fields("definition_id", "created_at"),
	}
}

// Annotations of the Release.
func (Release) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}

// ReleaseArtifact is the exact version of one artifact source in a release.
type ReleaseArtifact struct{ ent.Schema }

// Fields of the ReleaseArtifact.
func (ReleaseArtifact) Fields() []ent.Field {
	return []ent.Field{
		field.String("alias").NotEmpty(),
		field.Enum("type").Values("JENKINS", "TEAMBUILD"),
		field.String("connection").Default(""),
		field.String("job").Default(""),
		field.String("build_id").Default(""),
		field.String("build_number").Default(""),
		field.String("branch").Default(""),
		field.String("commit").Default(""),
		field.String("build_url").Default(""),
		field.Bool("primary").Default(false),
		// Result is the CI result of the build, e.g. SUCCEEDED or PARTIALLY_SUCCEEDED.
		field.String("result").Default("SUCCEEDED"),
		// Files are the build's artifact paths (Jenkins relativePath) or
		// download URLs (Team Build), as the CI server reported them.
		field.Strings("files").Optional(),
		field.Enum("enrichment").Values("PENDING", "DONE", "FAILED", "NONE").Default("NONE"),
		field.Int("release_id"),
	}
}

// Edges of the ReleaseArtifact.
func (ReleaseArtifact) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("release", Release.Type).Ref("artifacts").Field("release_id").Unique().Required(),
	}
}

// Indexes of the ReleaseArtifact.
func (ReleaseArtifact) Indexes() []ent.Index {
	return []ent.Index{index.Fields("release_id", "alias").Unique()}
}

// SourceCommit is a source change (GraphQL type Commit; ent reserves Tx.Commit) that a release's artifact brings.
type SourceCommit struct{ ent.Schema }

// Fields of the SourceCommit.
func (SourceCommit) Fields() []ent.Field {
	return []ent.Field{
		field.String("alias").Default(""),
		field.String("sha").NotEmpty(),
		field.Text("message").Default(""),
		field.String("author").Default(""),
		field.Time("authored_at").Optional().Nillable(),
		field.String("url").Default(""),
		field.Int("release_id"),
	}
}

// Edges of the SourceCommit.
func (SourceCommit) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("release", Release.Type).Ref("commits").Field("release_id").Unique().Required(),
	}
}

// Indexes of the SourceCommit.
func (SourceCommit) Indexes() []ent.Index {
	return []ent.Index{index.Fields("release_id", "sha").Unique()}
}

// Annotations of the SourceCommit.
func (SourceCommit) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.Type("Commit")}
}

// WorkItem is a tracked work item (Azure Boards, Jira, GitHub issue) that
// releases bring.
type WorkItem struct{ ent.Schema }

// Mixin of the WorkItem.
func (WorkItem) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the WorkItem.
func (WorkItem) Fields() []ent.Field {
	return []ent.Field{
		// System names the tracker: AZURE_BOARDS, JIRA or GITHUB (workitems.System).
		field.String("system").NotEmpty(),
		field.String("external_id").NotEmpty(),
		field.String("title").Default(""),
		field.String("type").Default(""),
		field.String("state").Default(""),
		field.String("url").Default(""),
		// Tags are the tracker's tags or labels (Azure Boards System.Tags).
		field.Strings("tags").Optional(),
	}
}

// Edges of the WorkItem.
func (WorkItem) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("releases", Release.Type).Ref("work_items"),
	}
}

// Indexes of the WorkItem.
func (WorkItem) Indexes() []ent.Index {
	return []ent.Index{index.Fields("system", "external_id").Unique()}
}

// Annotations of the WorkItem.
func (WorkItem) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// ReleaseEnvironment is the state of one environment within one release.
type ReleaseEnvironment struct{ ent.Schema }

// Mixin of the ReleaseEnvironment.
func (ReleaseEnvironment) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the ReleaseEnvironment.
func (ReleaseEnvironment) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty(),
		field.Int("rank"),
		field.Enum("status").Values(
			"NOT_STARTED", "PENDING_APPROVAL", "EVALUATING_GATES", "SCHEDULED", "QUEUED", "IN_PROGRESS",
			"WAITING_FOR_INTERVENTION", "PENDING_POST_APPROVAL", "EVALUATING_POST_GATES", "SUCCEEDED",
			"PARTIALLY_SUCCEEDED", "REJECTED", "CANCELED", "FAILED",
		).Default("NOT_STARTED").Annotations(entgql.OrderField("STATUS")),
		// Manual is set when the release leaves this environment to a person.
		field.Bool("manual").Default(false),
		// Version increments on every change: conditional updates use it.
		field.Int("version").Default(0).Annotations(entgql.Skip()),
		field.Int("release_id"),
		field.Int("definition_id"),
	}
}

// Edges of the ReleaseEnvironment.
func (ReleaseEnvironment) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("release", Release.Type).Ref("environments").Field("release_id").Unique().Required(),
		edge.To("deployments", Deployment.Type),
	}
}

// Indexes of the ReleaseEnvironment.
func (ReleaseEnvironment) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("release_id", "name").Unique(),
		index.Fields("definition_id", "name", "status"),
	}
}

// Deployment is one attempt to deploy a release to an environment.
type Deployment struct{ ent.Schema }

// Mixin of the Deployment.
func (Deployment) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Deployment.
func (Deployment) Fields() []ent.Field {
	return []ent.Field{
		field.Int("attempt"),
		field.Enum("operation").Values("DEPLOY", "REDEPLOY", "ROLLBACK"),
		field.Enum("status").Values(
			"PENDING_APPROVAL", "EVALUATING_GATES", "SCHEDULED", "QUEUED", "IN_PROGRESS",
			"WAITING_FOR_INTERVENTION", "PENDING_POST_APPROVAL", "EVALUATING_POST_GATES", "SUCCEEDED", "PARTIALLY_SUCCEEDED", "FAILED", "REJECTED", "CANCELED",
		).Default("PENDING_APPROVAL").Annotations(entgql.OrderField("STATUS")),
		// RequestedBy is the username of the person (or "system") that asked.
		field.String("requested_by"),
		// Reason says why the deployment started ("release created", "after dev succeeded", …).
		field.String("reason").Default(""),
		// StatusReason says why it ended where it did ("canceled: newer release 12 …").
		field.String("status_reason").Default(""),
		// Automatic is set when a trigger (the release's creation, upstream
		// environments succeeding) asked for the deployment rather than a
		// person: an automatic deployment never lands over a newer release.
		field.Bool("automatic").Default(false),
		// FreezeOverride is set when an ADMIN deployed through a freeze
		// window on purpose (audited as freeze.override).
		field.Bool("freeze_override").Default(false),
		// PhaseFailure is why the first failed phase failed, kept while phases with condition
		// ALWAYS or FAILED run after it: the deployment fails with it when they are done.
		field.String("phase_failure").Default(""),
		// OnlyTargets, when set, limits the deployment-group phases to these targets (a
		// redeploy to the targets that failed: failedTargetsOnly).
		field.Strings("only_targets").Optional(),
		field.Time("deferred_until").Optional().Nillable(),
		field.Time("queued_at").Optional().Nillable(),
		field.Time("started_at").Optional().Nillable(),
		field.Time("completed_at").Optional().Nillable(),
		field.Int("version").Default(0).Annotations(entgql.Skip()),
		field.String("environment_name"),
		field.Int("release_id"),
		field.Int("release_environment_id"),
		field.Int("definition_id"),
	}
}

// Edges of the Deployment.
func (Deployment) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("release", Release.Type).Ref("deployments").Field("release_id").Unique().Required(),
		edge.From("release_environment", ReleaseEnvironment.Type).Ref("deployments").
			Field("release_environment_id").Unique().Required(),
		edge.To("approvals", Approval.Type),
		// Jobs are the agent phases of the deployment, in phase order: one
		// unless its tasks hold manual interventions, which split them.
		edge.To("jobs", Job.Type),
		edge.To("gate_samples", GateSample.Type),
		edge.To("manual_interventions", ManualIntervention.Type),
	}
}

// Indexes of the Deployment.
func (Deployment) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("release_environment_id", "attempt").Unique(),
		index.Fields("definition_id", "environment_name", "status"),
		// The deployments waiting in an environment's queue (pumpQueue): a deployment's
		// queued_at is set when it first gets a job, target jobs or a manual intervention, and
		// never cleared, so the queue's read walks only those never given one, not every
		// QUEUED deployment whose job waits for an agent.
		index.Fields("definition_id", "environment_name", "status").
			Annotations(entsql.IndexWhere("queued_at IS NULL")).StorageKey("deployment_waiting"),
		index.Fields("status"),
		// A release's deployments (retention deletes them, and SQLite checks the foreign key
		// of each deleted release against this column).
		index.Fields("release_id"),
	}
}

// Annotations of the Deployment.
func (Deployment) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Approval is one approver's pre- or post-deployment decision.
type Approval struct{ ent.Schema }

// Mixin of the Approval.
func (Approval) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Approval.
func (Approval) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("stage").Values("PRE", "POST"),
		field.Enum("approver_kind").Values("USER", "GROUP").Optional().Nillable(),
		field.String("approver").Default(""),
		field.Int("rank").Default(1),
		field.Enum("status").Values(
			"PENDING", "APPROVED", "REJECTED", "REASSIGNED", "SKIPPED", "CANCELED", "TIMED_OUT",
		).Default("PENDING").Annotations(entgql.OrderField("STATUS")),
		// Automated is set when no approver was configured.
		field.Bool("automated").Default(false),
		field.String("decided_by").Optional().Nillable(),
		// OnBehalfOf is the bot that decided for DecidedBy, if any.
		field.String("decided_via").Optional().Nillable(),
		field.String("comment").Default("").MaxLen(4000),
		field.Time("decided_at").Optional().Nillable(),
		field.Time("due_at").Optional().Nillable(),
		field.Time("deferred_until").Optional().Nillable(),
		field.Int("reassigned_from_id").Optional().Nillable(),
		field.Int("version").Default(0).Annotations(entgql.Skip()),
		field.Int("deployment_id"),
		field.Int("release_id"),
	}
}

// Edges of the Approval.
func (Approval) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("deployment", Deployment.Type).Ref("approvals").Field("deployment_id").Unique().Required(),
	}
}

// Indexes of the Approval.
func (Approval) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("deployment_id", "stage", "rank"),
		index.Fields("status", "approver"),
	}
}

// Annotations of the Approval.
func (Approval) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
