package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// HookDelivery is the outbox row of one event for one outgoing hook, and the
// log of its attempts. It is its own entity rather than a Notification row
// because it needs what email does not: a receiver-visible delivery id, the
// HTTP status of the last attempt, a lease for atomic claims, and a unique
// (hook, event) pair that makes enqueueing idempotent across replicas.
type HookDelivery struct{ ent.Schema }

// Mixin of the HookDelivery.
func (HookDelivery) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the HookDelivery.
func (HookDelivery) Fields() []ent.Field {
	return []ent.Field{
		field.Int("hook_id").Immutable(),
		field.Int64("event_sequence").Immutable().Annotations(entgql.OrderField("EVENT_SEQUENCE")),
		field.String("event_type").Immutable(),
		// DeliveryID is a random UUID sent as X-Cairn-Delivery, the same on
		// every retry, so that receivers can drop duplicates.
		field.String("delivery_id").Unique().Immutable(),
		field.Enum("status").Values("PENDING", "SUCCEEDED", "FAILED").Default("PENDING").
			Annotations(entgql.OrderField("STATUS")),
		// Attempts counts the POSTs started; it is also the claim's fencing
		// token (an outcome is recorded only if it has not moved).
		field.Int("attempts").Default(0),
		// ResponseCode is the HTTP status of the last attempt, 0 when none came.
		field.Int("response_code").Default(0),
		field.String("last_error").Default(""),
		field.Time("next_attempt_at").Default(time.Now),
		// ClaimedUntil leases the row to the replica that is POSTing it.
		field.Time("claimed_until").Optional().Nillable().Annotations(entgql.Skip()),
		field.Time("delivered_at").Optional().Nillable(),
		// Redelivery numbers the deliveries of one event to one hook: 0 for the one the
		// outbox enqueued, n for the nth that an ADMIN asked for (redeliverHookDelivery).
		field.Int("redelivery").Default(0).Immutable(),
		// RedeliveryOfID links a redelivery to the delivery the outbox enqueued.
		field.Int("redelivery_of_id").Optional().Nillable().Immutable(),
	}
}

// Edges of the HookDelivery.
func (HookDelivery) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("hook", OutgoingHook.Type).Ref("deliveries").Field("hook_id").
			Unique().Required().Immutable(),
		edge.To("redeliveries", HookDelivery.Type).
			From("redelivery_of").Field("redelivery_of_id").Unique().Immutable(),
	}
}

// Indexes of the HookDelivery.
func (HookDelivery) Indexes() []ent.Index {
	return []ent.Index{
		// One enqueued delivery per event and hook (redelivery 0), whichever replica enqueues.
		index.Fields("hook_id", "event_sequence", "redelivery").Unique(),
		index.Fields("status", "next_attempt_at"),
	}
}

// Annotations of the HookDelivery.
func (HookDelivery) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// StreamCursor is a named, durable position in the event stream for a
// consumer that must see every event once (the outgoing-hook outbox). It
// moves only by a conditional update, so two replicas never both advance it
// from the same value.
type StreamCursor struct{ ent.Schema }

// Fields of the StreamCursor.
func (StreamCursor) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").Unique().Immutable(),
		field.Int64("sequence").Default(0),
		field.Time("updated_at").Default(time.Now),
	}
}

// Annotations of the StreamCursor.
func (StreamCursor) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
