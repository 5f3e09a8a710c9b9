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

// GateSample is one evaluation of a deployment's pre- or post-deployment
// gates: every gate's result, and whether all passed. The engine writes one
// per sample; they are never changed.
type GateSample struct{ ent.Schema }

// Fields of the GateSample.
func (GateSample) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("stage").Values("PRE", "POST").Immutable(),
		// Number counts the samples of the stage from 1.
		field.Int("number").Immutable(),
		field.Time("taken_at").Immutable().Annotations(entgql.OrderField("TAKEN_AT")),
		field.Bool("passed").Immutable(),
		field.JSON("results", []spec.GateResult{}).Immutable().Annotations(entgql.Skip()),
		field.Int("deployment_id").Immutable(),
	}
}

// Edges of the GateSample.
func (GateSample) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("deployment", Deployment.Type).Ref("gate_samples").Field("deployment_id").
			Unique().Required().Immutable(),
	}
}

// Indexes of the GateSample.
func (GateSample) Indexes() []ent.Index {
	return []ent.Index{index.Fields("deployment_id", "stage", "number").Unique()}
}

// Annotations of the GateSample.
func (GateSample) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
