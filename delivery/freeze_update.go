package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/cairnhq/cairn/ent"
)

// freezeAudit is what the audit records of a freeze window.
func freezeAudit(w *ent.FreezeWindow) map[string]any {
	return map[string]any{
		"name": w.Name, "reason": w.Reason, "definition": w.DefinitionID, "environment": w.Environment, "mode": w.Mode,
		"startsAt": w.StartsAt, "endsAt": w.EndsAt, "cron": w.Cron, "durationMinutes": w.DurationMinutes, "timeZone": w.TimeZone,
	}
}

// mayManageFreeze checks that actor may manage a window of this scope: a global one needs an
// ADMIN, a definition's editDefinition on it, an environment's editEnvironment there. hidden is
// the answer for a definition actor may not read.
func (t *txn) mayManageFreeze(actor Actor, definitionID *int, env, doing string, hidden error) error {
	if definitionID == nil {
		return actor.Require(RoleAdmin, doing+" of a global freeze window")
	}
	return t.authorize(actor, *definitionID, env, PermEditDefinition, doing, hidden)
}

// UpdateFreezeWindow replaces freeze window id with in (validated as CreateFreezeWindow's
// input). actor needs the permission of the window's current scope and of its new one.
// Audited freeze.update (before and after). The window's boundary timer is replaced; when the
// change makes it stop or start freezing now, freeze.ended or freeze.started is emitted (both
// when an active window changes, since what it freezes may have changed) and waiting
// deployments go on. A refusal writes nothing.
func (e *Engine) UpdateFreezeWindow(ctx context.Context, actor Actor, id int, in FreezeWindowInput) (*ent.FreezeWindow, error) {
	fail := func(err error) (*ent.FreezeWindow, error) {
		return nil, fmt.Errorf("updating freeze window %d: %w", id, err)
	}
	if err := actor.Require(RoleEditor, "updating a freeze window"); err != nil {
		return fail(err)
	}
	in, err := normalizeFreeze(in)
	if err != nil {
		return fail(err)
	}
	var w *ent.FreezeWindow
	err = e.inTx(ctx, func(t *txn) error {
		old, err := t.FreezeWindow.Get(t.ctx, id)
		if ent.IsNotFound(err) {
			return NotFound("freeze window", id)
		}
		if err != nil {
			return fmt.Errorf("reading freeze window %d: %w", id, err)
		}
		if err := t.mayManageFreeze(actor, old.DefinitionID, old.Environment, "updating a freeze window", NotFound("freeze window", id)); err != nil {
			return err
		}
		if in.DefinitionID != nil {
			if err := t.mayManageFreeze(actor, in.DefinitionID, in.Environment, "moving a freeze window",
				NotFound("definition", *in.DefinitionID)); err != nil {
				return err
			}
			_, snap, err := t.definitionSnapshot(*in.DefinitionID)
			if err != nil {
				return err
			}
			if _, ok := snap.Environment(in.Environment); in.Environment != "" && !ok {
				return Invalid("environment", "definition %s has no environment %q", snap.Name, in.Environment)
			}
		} else if err := t.mayManageFreeze(actor, nil, "", "making a freeze window global", nil); err != nil {
			return err
		}
		wasActive := windowState(old, t.now).Active
		u := t.FreezeWindow.UpdateOne(old).SetName(in.Name).SetReason(in.Reason).SetEnvironment(in.Environment).
			SetMode(in.Mode).SetCron(in.Cron).SetDurationMinutes(in.DurationMinutes).SetTimeZone(in.TimeZone).
			SetUpdatedAt(t.now)
		if in.DefinitionID != nil {
			u.SetDefinitionID(*in.DefinitionID)
		} else {
			u.ClearDefinitionID()
		}
		if in.StartsAt != nil {
			u.SetStartsAt(in.StartsAt.UTC())
		} else {
			u.ClearStartsAt()
		}
		if in.EndsAt != nil {
			u.SetEndsAt(in.EndsAt.UTC())
		} else {
			u.ClearEndsAt()
		}
		if w, err = u.Save(t.ctx); err != nil {
			return fmt.Errorf("storing freeze window %d: %w", id, err)
		}
		if err := t.audit(actor, "freeze.update", auditTargetFreezeWindow, id, freezeAudit(old), freezeAudit(w)); err != nil {
			return err
		}
		if err := t.retireTimers(timerFreeze, id); err != nil {
			return err
		}
		if wasActive {
			// The old window ends here; the new one starts below if it freezes now.
			if err := t.emitFreeze(actor, old, EventFreezeEnded, time.Time{}); err != nil {
				return err
			}
			if err := t.freezeBoundary(actor, w, false); err != nil {
				return err
			}
			return t.pumpAllWaiting(actor)
		}
		return t.freezeBoundary(actor, w, false)
	})
	if err != nil {
		return fail(err)
	}
	return e.client.FreezeWindow.Get(ctx, w.ID)
}
