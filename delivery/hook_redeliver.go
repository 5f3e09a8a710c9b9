package delivery

import (
	"context"
	"fmt"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/event"
	"github.com/cairnhq/cairn/ent/hookdelivery"
)

// EventHookRedelivery (transient): an ADMIN asked for a hook delivery again; hook loops wake
// on it (a redelivery persists no event, which is what wakes them otherwise).
const EventHookRedelivery = "hook.redelivery"

// EventHooksChanged (transient): an outgoing hook was created, changed or deleted. Hook loops
// that found nothing to do (HooksIdle) wake on it rather than on every event.
const EventHooksChanged = "hooks.changed"

// RedeliverHookDelivery sends the event of a finished (SUCCEEDED or FAILED) outgoing hook
// delivery again (ADMIN only, as the whole hook log): a new PENDING delivery of the same event
// to the same hook, numbered after the event's earlier redeliveries, linked to the delivery the
// outbox enqueued (redelivery_of), with its own delivery id, retried like any other. Audited as
// hook.redeliver. An unknown id is NOT_FOUND; a PENDING delivery (it is retried by itself), a
// disabled hook or an event no longer stored is INVALID_INPUT; a refusal writes nothing.
func (e *Engine) RedeliverHookDelivery(ctx context.Context, actor Actor, id int) (*ent.HookDelivery, error) {
	fail := func(err error) (*ent.HookDelivery, error) {
		return nil, fmt.Errorf("redelivering hook delivery %d: %w", id, err)
	}
	if err := actor.Require(RoleAdmin, "redelivering an outgoing hook delivery"); err != nil {
		return fail(err)
	}
	var row *ent.HookDelivery
	err := e.inTx(ctx, func(t *txn) error {
		d, err := t.HookDelivery.Get(t.ctx, id)
		if ent.IsNotFound(err) {
			return NotFound("hook delivery", id)
		}
		if err != nil {
			return fmt.Errorf("reading hook delivery %d: %w", id, err)
		}
		if d.Status == hookdelivery.StatusPENDING {
			return Invalid("id", "delivery %d is still pending: it is retried by itself", id)
		}
		h, err := t.OutgoingHook.Get(t.ctx, d.HookID)
		if err != nil {
			return fmt.Errorf("reading hook %d: %w", d.HookID, err)
		}
		if !h.Enabled {
			return Invalid("id", "hook %q is disabled: enable it before redelivering", h.Name)
		}
		stored, err := t.Event.Query().Where(event.Sequence(d.EventSequence)).Exist(t.ctx)
		if err != nil {
			return fmt.Errorf("reading event %d: %w", d.EventSequence, err)
		}
		if !stored {
			return Invalid("id", "event %d of delivery %d is no longer stored (the event stream keeps a day)", d.EventSequence, id)
		}
		first := d.ID
		if d.RedeliveryOfID != nil {
			first = *d.RedeliveryOfID
		}
		last, err := t.HookDelivery.Query().
			Where(hookdelivery.HookID(d.HookID), hookdelivery.EventSequence(d.EventSequence)).
			Order(ent.Desc(hookdelivery.FieldRedelivery)).First(t.ctx)
		if err != nil {
			return fmt.Errorf("reading the redeliveries of delivery %d: %w", first, err)
		}
		did, err := newDeliveryID()
		if err != nil {
			return err
		}
		row, err = t.HookDelivery.Create().SetHookID(d.HookID).SetEventSequence(d.EventSequence).
			SetEventType(d.EventType).SetDeliveryID(did).SetNextAttemptAt(t.now).
			SetRedelivery(last.Redelivery + 1).SetRedeliveryOfID(first).
			SetCreatedAt(t.now).SetUpdatedAt(t.now).Save(t.ctx)
		if ent.IsConstraintError(err) {
			return &Error{Code: CodeConflict, Field: "id", Message: fmt.Sprintf("delivery %d was redelivered at the same time; try again", id)}
		}
		if err != nil {
			return fmt.Errorf("recording the redelivery: %w", err)
		}
		t.notify(Event{Type: EventHookRedelivery})
		return t.audit(actor, "hook.redeliver", auditTargetHookDelivery, row.ID,
			map[string]any{"redeliveryOf": first, "asked": id, "hook": h.Name},
			map[string]any{"eventSequence": d.EventSequence, "eventType": d.EventType, "deliveryId": did, "redelivery": row.Redelivery})
	})
	if err != nil {
		return fail(err)
	}
	// Read again outside the transaction, so that its edges can be loaded.
	return e.client.HookDelivery.Get(ctx, row.ID)
}
