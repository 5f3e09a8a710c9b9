package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// User is a person (or a bot account) that signs in with API tokens.
type User struct{ ent.Schema }

// Mixin of the User.
func (User) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("username").NotEmpty().MaxLen(100).Unique().
			Annotations(entgql.OrderField("USERNAME")),
		field.String("display_name").Default("").MaxLen(200),
		field.String("email").Default("").MaxLen(320),
		field.Enum("role").Values("ADMIN", "EDITOR", "VIEWER").Default("VIEWER"),
		field.Bool("disabled").Default(false),
		// ExternalIdentities maps chat identities to this user, e.g. "slack:U123".
		field.Strings("external_identities").Optional(),
		// PasswordHash is the argon2id hash (PHC string) of the user's
		// password for signing in to the dashboard; empty: no password.
		field.String("password_hash").Default("").Sensitive().Annotations(entgql.Skip()),
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("groups", Group.Type).Ref("members"),
		edge.To("api_tokens", ApiToken.Type).Annotations(entgql.Skip()),
		edge.To("sessions", Session.Type).Annotations(entgql.Skip()),
	}
}

// Annotations of the User.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Group is a team of users; groups can be approvers.
type Group struct{ ent.Schema }

// Mixin of the Group.
func (Group) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Group.
func (Group) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(100).Unique().
			Annotations(entgql.OrderField("NAME")),
		field.String("description").Default("").MaxLen(1000),
	}
}

// Edges of the Group.
func (Group) Edges() []ent.Edge {
	return []ent.Edge{edge.To("members", User.Type)}
}

// Annotations of the Group.
func (Group) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// ApiToken records an issued API JWT by its id (jti), so that it can be
// listed and revoked. The token itself is never stored.
type ApiToken struct{ ent.Schema }

// Mixin of the ApiToken.
func (ApiToken) Mixin() []ent.Mixin { return []ent.Mixin{CreatedMixin{}} }

// Fields of the ApiToken.
func (ApiToken) Fields() []ent.Field {
	return []ent.Field{
		field.String("jti").NotEmpty().Unique().Immutable(),
		field.String("name").NotEmpty().MaxLen(200),
		// Scopes grant extra powers, e.g. "act-as".
		field.Strings("scopes").Optional(),
		field.Time("expires_at"),
		field.Time("revoked_at").Optional().Nillable(),
		field.Time("last_used_at").Optional().Nillable(),
		field.Int("owner_id"),
	}
}

// Edges of the ApiToken.
func (ApiToken) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("owner", User.Type).Ref("api_tokens").Field("owner_id").Unique().Required(),
	}
}

// Indexes of the ApiToken.
func (ApiToken) Indexes() []ent.Index {
	return []ent.Index{index.Fields("owner_id")}
}

// Session is a person's sign-in to the dashboard: the cookie carries a
// random secret, the row only its SHA-256, so a database dump signs nobody
// in. A session ends when it expires, is revoked (sign-out, password
// change) or its user is disabled.
type Session struct{ ent.Schema }

// Mixin of the Session.
func (Session) Mixin() []ent.Mixin { return []ent.Mixin{CreatedMixin{}} }

// Fields of the Session.
func (Session) Fields() []ent.Field {
	return []ent.Field{
		field.String("secret_hash").NotEmpty().Unique().Immutable().Sensitive(),
		field.Time("expires_at"),
		field.Time("revoked_at").Optional().Nillable(),
		field.Time("last_seen_at").Optional().Nillable(),
		// Method is how the person signed in: "password" (or an OIDC issuer).
		field.String("method").Default("password").MaxLen(200),
		field.String("user_agent").Default("").MaxLen(500),
		field.String("remote_addr").Default("").MaxLen(100),
		field.Int("user_id"),
	}
}

// Edges of the Session.
func (Session) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("sessions").Field("user_id").Unique().Required(),
	}
}

// Indexes of the Session.
func (Session) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id")}
}

// Annotations of the Session: not part of the GraphQL API.
func (Session) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// ServiceConnection is an external system with its credentials: a CI server
// (JENKINS, AZURE_DEVOPS) that artifacts come from, or an endpoint that tasks
// deploy to (SSH host, DOCKER_REGISTRY, KUBERNETES cluster). Which fields a
// kind uses is checked on save (delivery/connkinds.go). Secrets (password or
// token, private key, kubeconfig, webhook secret) are AES-GCM ciphertext and
// never leave the server through the API.
type ServiceConnection struct{ ent.Schema }

// Mixin of the ServiceConnection.
func (ServiceConnection) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the ServiceConnection.
func (ServiceConnection) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(100).Unique().
			Annotations(entgql.OrderField("NAME")),
		field.Enum("kind").Values("JENKINS", "AZURE_DEVOPS", "SSH", "DOCKER_REGISTRY", "KUBERNETES"),
		// url is the server's base URL (CI kinds), the registry (DOCKER_REGISTRY), or the
		// cluster's API server read from the kubeconfig (KUBERNETES, for display); SSH has none.
		field.String("url").Default("").MaxLen(2000),
		field.String("username").Default("").MaxLen(200),
		field.Bytes("secret_encrypted").Optional().Sensitive().Annotations(entgql.Skip()),
		field.Bytes("webhook_secret_encrypted").Optional().Sensitive().Annotations(entgql.Skip()),
		// SSH: the host, its port (0: 22), the pinned host keys (authorized_keys or
		// known_hosts lines, public), or trust on first use; a private key and/or the
		// password (secret_encrypted).
		field.String("host").Default("").MaxLen(253),
		field.Int("port").Default(0),
		field.Text("host_key").Default("").MaxLen(16384),
		field.Bool("trust_on_first_use").Default(false),
		field.Bytes("private_key_encrypted").Optional().Sensitive().Annotations(entgql.Skip()),
		// KUBERNETES: the kubeconfig (sealed whole: it holds tokens and keys), the context
		// to use (empty: its current-context) and the default namespace.
		field.Bytes("kubeconfig_encrypted").Optional().Sensitive().Annotations(entgql.Skip()),
		field.String("kube_context").Default("").MaxLen(253),
		field.String("namespace").Default("").MaxLen(63),
	}
}

// Edges of the ServiceConnection.
func (ServiceConnection) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("artifact_sources", ArtifactSource.Type).Annotations(entgql.Skip()),
		edge.To("webhook_deliveries", WebhookDelivery.Type).Annotations(entgql.Skip()),
	}
}

// Annotations of the ServiceConnection.
func (ServiceConnection) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
