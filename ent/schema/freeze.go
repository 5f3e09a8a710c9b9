package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// FreezeWindow is a time when deployments do not start: global (no
// definition), for one definition, or for one environment of it. It is
// one span (starts_at, ends_at) or recurring (cron, duration_minutes,
// time_zone). Mode WAIT holds deployments until it ends; REFUSE also
// refuses new deployment requests. Only delivery writes it.
type FreezeWindow struct{ ent.Schema }

// Mixin of the FreezeWindow.
func (FreezeWindow) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the FreezeWindow.
func (FreezeWindow) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty(),
		field.String("reason").Default(""),
		// DefinitionID is nil for a global window.
		field.Int("definition_id").Optional().Nillable(),
		// Environment narrows a definition's window to one environment ("": all).
		field.String("environment").Default(""),
		field.Enum("mode").Values("WAIT", "REFUSE"),
		field.Time("starts_at").Optional().Nillable(),
		field.Time("ends_at").Optional().Nillable(),
		field.String("cron").Default(""),
		field.Int("duration_minutes").Default(0),
		field.String("time_zone").Default("UTC"),
		field.String("created_by"),
	}
}

// Indexes of the FreezeWindow.
func (FreezeWindow) Indexes() []ent.Index {
	return []ent.Index{index.Fields("definition_id", "environment")}
}

// Annotations of the FreezeWindow.
func (FreezeWindow) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
