package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/cairnhq/cairn/ent/schema/spec"
)

// ManualIntervention is a manual intervention task of a deployment, held by
// the server: the deployment waits (IN_PROGRESS, its queue slot kept) until
// a person resumes or rejects it, or its timeout acts for them.
type ManualIntervention struct{ ent.Schema }

// Mixin of the ManualIntervention.
func (ManualIntervention) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the ManualIntervention.
func (ManualIntervention) Fields() []ent.Field {
	return []ent.Field{
		// Phase is its place among the deployment's phases (see Job.phase).
		field.Int("phase").Immutable(),
		field.String("task_name").Immutable(),
		// Instructions are the task's, variables expanded and secrets masked.
		field.Text("instructions").Default("").Immutable(),
		// Approvers may act on it; empty: whoever may manage the
		// environment's deployments.
		field.JSON("approvers", []spec.Approver{}).Optional().Immutable(),
		field.Enum("on_timeout").Values("REJECT", "RESUME").Default("REJECT").Immutable(),
		field.Enum("status").Values("PENDING", "RESUMED", "REJECTED", "CANCELED").
			Default("PENDING").Annotations(entgql.OrderField("STATUS")),
		field.Time("timeout_at"),
		// DecidedBy is the person who resumed or rejected it; empty when its
		// timeout or a cancel decided.
		field.String("decided_by").Optional().Nillable(),
		// DecidedVia is the bot that acted for DecidedBy, if any.
		field.String("decided_via").Optional().Nillable(),
		field.String("comment").Default("").MaxLen(4000),
		field.Time("decided_at").Optional().Nillable(),
		field.Int("version").Default(0).Annotations(entgql.Skip()),
		field.Int("deployment_id").Immutable(),
		field.Int("release_id").Immutable(),
	}
}

// Edges of the ManualIntervention.
func (ManualIntervention) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("deployment", Deployment.Type).Ref("manual_interventions").Field("deployment_id").
			Unique().Required().Immutable(),
	}
}

// Indexes of the ManualIntervention.
func (ManualIntervention) Indexes() []ent.Index {
	return []ent.Index{index.Fields("deployment_id", "phase").Unique(), index.Fields("status")}
}

// Annotations of the ManualIntervention.
func (ManualIntervention) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
