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

// ReleaseDefinition describes artifacts, environments, triggers, approvals and
// deployment tasks. Its rows (artifact sources, environments) always mirror the
// latest DefinitionRevision; a deleted definition keeps its history
// (deleted_at is set and its name is free again).
type ReleaseDefinition struct{ ent.Schema }

// Mixin of the ReleaseDefinition.
func (ReleaseDefinition) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the ReleaseDefinition.
func (ReleaseDefinition) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.String("description").Default("").MaxLen(4000),
		field.String("release_name_format").Default("Release-$(rev:r)").MaxLen(200),
		field.JSON("variables", []spec.Variable{}).Optional().Annotations(entgql.Skip()),
		field.JSON("schedules", []spec.Schedule{}).Optional(),
		// Revision is the number of the latest DefinitionRevision.
		field.Int("revision").Default(1).Annotations(entgql.OrderField("REVISION")),
		// ReleaseCounter feeds $(rev:r).
		field.Int("release_counter").Default(0).Annotations(entgql.Skip()),
		field.Time("deleted_at").Optional().Nillable(),
		// Readers restricts reading the definition, its releases and their
		// events to members of these groups (and ADMINs); empty: every VIEWER.
		field.Strings("readers").Optional(),
		// Permissions mirror the document's scoped permissions (the
		// engine's authorization reads them here, not from the revision).
		field.JSON("permissions", spec.DefinitionPermissions{}).Optional().
			Annotations(entgql.Type("DefinitionPermissions")),
		// ImportSource says where an imported definition came from
		// ("azure-classic <definition url>", see delivery's import), so that
		// importing the same definition again updates it as a new revision;
		// empty for a definition written in Cairn. Only the import sets it.
		field.String("import_source").Default("").MaxLen(2200).
			Annotations(entgql.Skip()),

		// Path is the definition's folder ("/" or "/team/web"); the document
		// holds it too.
		field.String("path").Default("/").MaxLen(400).Annotations(entgql.OrderField("PATH")),
		field.Strings("tags").Optional(),
		// TagIndex is the tags lowercased and joined as "|a|b|", for the
		// hasTag filter of the definitions list on both databases.
		field.String("tag_index").Default("").Annotations(entgql.Skip()),
		// Disabled refuses new releases (the document holds it too).
		field.Bool("disabled").Default(false),
	}
}

// Edges of the ReleaseDefinition.
func (ReleaseDefinition) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("artifact_sources", ArtifactSource.Type),
		edge.To("environments", Environment.Type),
		edge.To("revisions", DefinitionRevision.Type).Annotations(entgql.RelayConnection()),
		edge.To("releases", Release.Type).Annotations(entgql.RelayConnection()),
	}
}

// Indexes of the ReleaseDefinition.
func (ReleaseDefinition) Indexes() []ent.Index {
	return []ent.Index{
		// Names are unique among live definitions.
		index.Fields("name").Unique().Annotations(entsql.IndexWhere("deleted_at IS NULL")),
		// Re-import finds the definition it updates by its source.
		index.Fields("import_source"),
	}
}

// Annotations of the ReleaseDefinition.
func (ReleaseDefinition) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField("definitions")}
}

// ArtifactSource is a CI job whose builds a definition deploys.
type ArtifactSource struct{ ent.Schema }

// Fields of the ArtifactSource.
func (ArtifactSource) Fields() []ent.Field {
	return []ent.Field{
		field.String("alias").NotEmpty().MaxLen(100),
		field.Enum("type").Values("JENKINS", "TEAMBUILD"),
		field.String("job").NotEmpty().MaxLen(1000),
		field.String("project").Default("").MaxLen(200),
		field.String("repository_url").Default("").MaxLen(2000),
		field.Bool("primary").Default(false),
		field.Bool("continuous_deployment").Default(false),
		field.Strings("branch_filters").Optional(),
		field.Bool("allow_partial").Default(false),
		field.Int("definition_id"),
		field.Int("connection_id"),
	}
}

// Edges of the ArtifactSource.
func (ArtifactSource) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("definition", ReleaseDefinition.Type).Ref("artifact_sources").
			Field("definition_id").Unique().Required(),
		edge.From("connection", ServiceConnection.Type).Ref("artifact_sources").
			Field("connection_id").Unique().Required(),
	}
}

// Indexes of the ArtifactSource.
func (ArtifactSource) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("definition_id", "alias").Unique(),
		// Webhooks look sources up by connection and job.
		index.Fields("connection_id", "job"),
	}
}

// Environment is a stage of a definition (dev, QA, production).
type Environment struct{ ent.Schema }

// Fields of the Environment.
func (Environment) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(100),
		field.Int("rank"),
		field.String("owner").Default(""),
		field.JSON("trigger", spec.Trigger{}),
		field.JSON("pre_approval", spec.ApprovalPolicy{}),
		field.JSON("post_approval", spec.ApprovalPolicy{}),
		field.JSON("job", spec.JobSpec{}),
		// Phases are the environment's phases when it lists them (spec.EnvironmentSpec.Phases).
		field.JSON("phases", []spec.PhaseSpec{}).Optional().Annotations(entgql.Skip()),
		field.JSON("queue", spec.QueuePolicy{}),
		field.JSON("variables", []spec.Variable{}).Optional().Annotations(entgql.Skip()),
		// Permissions are the environment's own lists (empty: inherited).
		field.JSON("permissions", spec.EnvironmentPermissions{}).Optional().
			Annotations(entgql.Type("EnvironmentPermissions")),
		field.Int("definition_id"),
	}
}

// Edges of the Environment.
func (Environment) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("definition", ReleaseDefinition.Type).Ref("environments").
			Field("definition_id").Unique().Required(),
	}
}

// Indexes of the Environment.
func (Environment) Indexes() []ent.Index {
	return []ent.Index{index.Fields("definition_id", "name").Unique()}
}

// DefinitionRevision is an immutable snapshot of a definition after one change.
type DefinitionRevision struct{ ent.Schema }

// Mixin of the DefinitionRevision.
func (DefinitionRevision) Mixin() []ent.Mixin { return []ent.Mixin{CreatedMixin{}} }

// Fields of the DefinitionRevision.
func (DefinitionRevision) Fields() []ent.Field {
	return []ent.Field{
		field.Int("revision").Immutable().Annotations(entgql.OrderField("REVISION")),
		field.Enum("change_type").Values("CREATE", "UPDATE", "DELETE", "UNDELETE", "REVERT").Immutable(),
		field.String("comment").Default("").MaxLen(2000).Immutable(),
		field.String("author").Immutable(),
		field.JSON("snapshot", spec.DefinitionSnapshot{}).Immutable().Annotations(entgql.Skip()),
		field.Int("definition_id").Immutable(),
	}
}

// Edges of the DefinitionRevision.
func (DefinitionRevision) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("definition", ReleaseDefinition.Type).Ref("revisions").
			Field("definition_id").Unique().Required().Immutable(),
	}
}

// Indexes of the DefinitionRevision.
func (DefinitionRevision) Indexes() []ent.Index {
	return []ent.Index{index.Fields("definition_id", "revision").Unique()}
}

// Annotations of the DefinitionRevision.
func (DefinitionRevision) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
