package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	entsql "entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// WebhookDelivery records each webhook received, whatever its outcome.
type WebhookDelivery struct{ ent.Schema }

// Mixin of the WebhookDelivery.
func (WebhookDelivery) Mixin() []ent.Mixin { return []ent.Mixin{CreatedMixin{}} }

// Fields of the WebhookDelivery.
func (WebhookDelivery) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("source").Values("JENKINS", "TEAMBUILD"),
		// Key is the idempotency key, set only on the delivery that claimed it
		// (duplicates keep it in BuildKey and have Key empty).
		field.String("key").Optional().Nillable().Unique(),
		field.String("build_key").Default(""),
		field.String("event").Default(""),
		field.Enum("result").Values("ACCEPTED", "IGNORED", "REJECTED").
			Annotations(entgql.OrderField("RESULT")),
		field.String("reason").Default(""),
		field.Int("status_code").Default(0),
		field.Int("connection_id").Optional().Nillable(),
		// Payload is the body as received from an authenticated sender, kept so
		// that an administrator can redeliver it under the current definitions.
		field.Bytes("payload").Optional().Annotations(entgql.Skip()),
		// RedeliveryOfID links a redelivery to the delivery whose payload it
		// processed again.
		field.Int("redelivery_of_id").Optional().Nillable(),
	}
}

// Edges of the WebhookDelivery.
func (WebhookDelivery) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("connection", ServiceConnection.Type).Ref("webhook_deliveries").
			Field("connection_id").Unique(),
		edge.To("releases", Release.Type),
		edge.To("redeliveries", WebhookDelivery.Type).
			From("redelivery_of").Field("redelivery_of_id").Unique(),
	}
}

// Annotations of the WebhookDelivery.
func (WebhookDelivery) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// AuditEvent is an append-only record of a change, chained by hash to the
// previous one so that an edited or removed row is detected.
type AuditEvent struct{ ent.Schema }

// Fields of the AuditEvent.
func (AuditEvent) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("sequence").Unique().Immutable().Annotations(entgql.OrderField("SEQUENCE")),
		field.Time("time").Immutable().Annotations(entgql.OrderField("TIME")),
		field.String("actor").Immutable(),
		// OnBehalfOf is the person a bot acted for.
		field.String("on_behalf_of").Default("").Immutable(),
		field.String("action").Immutable(),
		field.String("target_type").Immutable(),
		field.String("target_id").Immutable(),
		field.Text("before").Default("").Immutable(),
		field.Text("after").Default("").Immutable(),
		field.String("prev_hash").Immutable(),
		field.String("hash").Immutable(),
	}
}

// Indexes of the AuditEvent. The auditEvents query filters by target, actor, action and time
// and pages newest first (ORDER BY sequence DESC): each filter's index ends with sequence, so a
// page reads its rows in order from the index instead of sorting every matching row (or
// walking the sequence index backwards past the rows that do not match). target_id leads its
// index because ids are unique across types (global ids), so it serves "this target" with or
// without targetType (target_type second: with both, two equalities make SQLite's planner
// prefer it to the target_type index, which would read every event of the type); target_type
// has its own for "every event on a kind of target". Other
// filters (on_behalf_of, before/after, hashes, substring and case-folding operators) have no
// index: they scan the rows the indexed conditions leave, or the whole table (docs/decisions.md).
// The partial index of unsealed rows (sequence < 0) is the sealer's: it reads them in id order
// without walking the table (the query must say `sequence < 0` literally for the planner to use it).
func (AuditEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("id").Annotations(entsql.IndexWhere("sequence < 0")).StorageKey("auditevent_unsealed"),
		index.Fields("target_id", "target_type", "sequence"),
		index.Fields("target_type", "sequence"),
		index.Fields("actor", "sequence"),
		index.Fields("action", "sequence"),
		index.Fields("time"),
	}
}

// Annotations of the AuditEvent.
func (AuditEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Notification is an outbox row: a message to deliver, retried until sent.
type Notification struct{ ent.Schema }

// Mixin of the Notification.
func (Notification) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Notification.
func (Notification) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("channel").Values("EMAIL", "HOOK"),
		field.String("kind").Default(""),
		field.String("recipient"),
		field.String("subject").Default(""),
		field.Text("body").Default(""),
		field.Enum("status").Values("PENDING", "SENT", "FAILED").Default("PENDING"),
		field.Int("attempts").Default(0),
		field.String("last_error").Default(""),
		field.Time("next_attempt_at").Default(time.Now),
		field.Time("sent_at").Optional().Nillable(),
		field.Int("approval_id").Optional().Nillable(),
		field.Int("intervention_id").Optional().Nillable(),
		field.Int("hook_id").Optional().Nillable(),
		field.Int64("event_sequence").Optional().Nillable(),
	}
}

// Indexes of the Notification.
func (Notification) Indexes() []ent.Index {
	return []ent.Index{index.Fields("status", "next_attempt_at"), index.Fields("approval_id")}
}

// Annotations of the Notification.
func (Notification) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Timer is persisted timed work: an approval timeout, a deferred deployment, a
// cron trigger, a job timeout, an enrichment retry. One loop runs the due ones;
// a restart loses none.
type Timer struct{ ent.Schema }

// Mixin of the Timer.
func (Timer) Mixin() []ent.Mixin { return []ent.Mixin{CreatedMixin{}} }

// Fields of the Timer.
func (Timer) Fields() []ent.Field {
	return []ent.Field{
		field.String("kind"),
		field.Int("target_id"),
		field.String("payload").Default(""),
		field.Time("due_at"),
		// ClaimedUntil leases the timer to one replica while it runs.
		field.Time("claimed_until").Optional().Nillable(),
		field.Time("done_at").Optional().Nillable(),
		field.Int("attempts").Default(0),
		field.String("last_error").Default(""),
	}
}

// Indexes of the Timer.
func (Timer) Indexes() []ent.Index {
	return []ent.Index{index.Fields("done_at", "due_at"), index.Fields("kind", "target_id")}
}

// Annotations of the Timer.
func (Timer) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Event is the persisted stream of domain events, numbered by sequence, that
// subscriptions replay from (afterSequence) and outgoing hooks deliver.
type Event struct{ ent.Schema }

// Fields of the Event.
func (Event) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("sequence").Unique().Immutable(),
		field.String("type").Immutable(),
		field.Time("time").Immutable(),
		field.Int("definition_id").Optional().Nillable().Immutable(),
		field.Int("release_id").Optional().Nillable().Immutable(),
		field.String("environment").Default("").Immutable(),
		field.Text("payload").Default("").Immutable(),
	}
}

// Indexes of the Event. The partial index of unsealed rows (sequence < 0) is the sealer's, as
// for AuditEvent.
func (Event) Indexes() []ent.Index {
	return []ent.Index{index.Fields("time"), index.Fields("definition_id", "sequence"),
		index.Fields("id").Annotations(entsql.IndexWhere("sequence < 0")).StorageKey("event_unsealed")}
}

// Annotations of the Event.
func (Event) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// OutgoingHook is an outgoing HTTP endpoint that receives matching events.
type OutgoingHook struct{ ent.Schema }

// Mixin of the OutgoingHook.
func (OutgoingHook) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the OutgoingHook.
func (OutgoingHook) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().Unique(),
		field.String("url").NotEmpty(),
		field.Bytes("secret_encrypted").Optional().Sensitive().Annotations(entgql.Skip()),
		field.Strings("event_types").Optional(),
		field.Int("definition_id").Optional().Nillable(),
		field.Bool("slack").Default(false),
		field.Bool("enabled").Default(true),
		// FromSequence is the last event sequence when the hook was created or
		// last enabled: a hook receives the events after it, never the history
		// nor the events of while it was disabled.
		field.Int64("from_sequence").Default(0).Annotations(entgql.Skip()),
	}
}

// Edges of the OutgoingHook.
func (OutgoingHook) Edges() []ent.Edge {
	return []ent.Edge{
		// Deliveries are listed by the hookDeliveries query, not as a field.
		edge.To("deliveries", HookDelivery.Type).Annotations(entgql.Skip()),
	}
}

// Annotations of the OutgoingHook.
func (OutgoingHook) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// AuditCheckpoint anchors the audit chain's head outside the audited table: one row, written by
// the sealer with every batch it seals, holding the newest sealed sequence and hash and a MAC
// over them with the audit key. Deleting the newest audit rows leaves the checkpoint ahead of
// the table; a checkpoint cannot be moved back to match without the key (docs/decisions.md).
type AuditCheckpoint struct{ ent.Schema }

// Fields of the AuditCheckpoint.
func (AuditCheckpoint) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("sequence"),
		field.String("hash"),
		// LegacyUntil is the last sequence hashed with plain SHA-256 before the chain was
		// keyed (0: every event is keyed); those rows verify as a legacy prefix.
		field.Int64("legacy_until").Default(0),
		field.String("mac"),
		field.Time("updated_at"),
	}
}

// Annotations of the AuditCheckpoint.
func (AuditCheckpoint) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
