package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/cairnhq/cairn/ent/schema/spec"
)

// VariableGroup is a library variable group: variables shared by the
// definitions and environments that link it by name. Secret values are
// sealed at rest; only delivery writes it (docs/decisions.md, "Library").
type VariableGroup struct{ ent.Schema }

// Mixin of the VariableGroup.
func (VariableGroup) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the VariableGroup.
func (VariableGroup) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).Unique().Annotations(entgql.OrderField("NAME")),
		field.String("description").Default("").MaxLen(4000),
		field.JSON("variables", []spec.GroupVariable{}).Optional().Annotations(entgql.Skip()),
		field.JSON("permissions", spec.LibraryPermissions{}).Optional().Annotations(entgql.Skip()),
		// Revision counts the group's changes; releases record the one they froze.
		field.Int("revision").Default(1),
		field.String("created_by").Default(""),
	}
}

// Annotations of the VariableGroup.
func (VariableGroup) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// VariableGroupRevision is one change of a variable group: who changed
// which variable when. Its changes show secret values as "***". It stays
// after the group is deleted.
type VariableGroupRevision struct{ ent.Schema }

// Mixin of the VariableGroupRevision.
func (VariableGroupRevision) Mixin() []ent.Mixin { return []ent.Mixin{CreatedMixin{}} }

// Fields of the VariableGroupRevision.
func (VariableGroupRevision) Fields() []ent.Field {
	return []ent.Field{
		field.Int("group_id").Immutable(),
		field.Int("revision").Immutable(),
		field.Enum("change_type").Values("CREATE", "UPDATE", "DELETE").Immutable(),
		field.String("author").Immutable(),
		field.String("comment").Default("").Immutable(),
		field.JSON("changes", []spec.LibraryChange{}).Optional().Immutable().Annotations(entgql.Skip()),
	}
}

// Indexes of the VariableGroupRevision.
func (VariableGroupRevision) Indexes() []ent.Index {
	return []ent.Index{index.Fields("group_id", "revision").Unique()}
}

// Annotations of the VariableGroupRevision.
func (VariableGroupRevision) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// SecureFile is a library secure file: content sealed at rest, never
// returned through the API; agents receive it for the jobs that name it.
type SecureFile struct{ ent.Schema }

// Mixin of the SecureFile.
func (SecureFile) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the SecureFile.
func (SecureFile) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).Unique().Annotations(entgql.OrderField("NAME")),
		field.String("description").Default("").MaxLen(4000),
		field.Int64("size"),
		// Sha256 is the hex digest of the plaintext, for checking an upload.
		field.String("sha256"),
		field.Bytes("content").Sensitive().Annotations(entgql.Skip()),
		field.JSON("permissions", spec.LibraryPermissions{}).Optional().Annotations(entgql.Skip()),
		field.String("created_by").Default(""),
	}
}

// Annotations of the SecureFile.
func (SecureFile) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
