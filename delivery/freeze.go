package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/robfig/cron/v3"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/freezewindow"
)

// This file holds deployment freeze windows (see doc.go, "Freeze windows").

// timerFreeze marks a freeze window's next boundary (target: window;
// payload: freezePayload).
const timerFreeze = "freeze.boundary"

// Freeze events. Data: windowId, name, mode, until (started); a global
// window's events have no definition.
const (
	EventFreezeStarted = "freeze.started"
	EventFreezeEnded   = "freeze.ended"
)

// ErrFrozen is what a deployment request refused by a REFUSE window
// matches (errors.Is); the error is also a CONFLICT whose field is
// "frozen", naming the window and when it ends.
var ErrFrozen = errors.New("frozen")

// FreezeWindowInput describes a freeze window: one span (StartsAt, EndsAt)
// or recurring (Cron, DurationMinutes, TimeZone), global (DefinitionID nil)
// or for a definition, or one of its environments.
type FreezeWindowInput struct {
	Name         string
	Reason       string
	DefinitionID *int
	Environment  string
	// Mode is WAIT (deployments wait until the window ends) or REFUSE
	// (deployment requests are also refused, with ErrFrozen).
	Mode            freezewindow.Mode
	StartsAt        *time.Time
	EndsAt          *time.Time
	Cron            string
	DurationMinutes int
	TimeZone        string
}

type freezePayload struct {
	// Active says whether the window was active before this boundary.
	Active bool `json:"active"`
}

// FreezeState is where a window stands at a time.
type FreezeState struct {
	Active bool
	// EndsAt is when the current occurrence ends (Active).
	EndsAt time.Time
	// NextStartsAt is when the next occurrence starts (not Active; zero
	// when there is none).
	NextStartsAt time.Time
}

// windowState computes where w stands at t.
func windowState(w *ent.FreezeWindow, t time.Time) FreezeState {
	if w.Cron == "" {
		switch {
		case w.StartsAt == nil || w.EndsAt == nil:
			return FreezeState{}
		case !t.Before(*w.StartsAt) && t.Before(*w.EndsAt):
			return FreezeState{Active: true, EndsAt: *w.EndsAt}
		case t.Before(*w.StartsAt):
			return FreezeState{NextStartsAt: *w.StartsAt}
		}
		return FreezeState{}
	}
	sched, loc, err := parseFreezeCron(w.Cron, w.TimeZone)
	if err != nil || w.DurationMinutes <= 0 {
		return FreezeState{}
	}
	dur := time.Duration(w.DurationMinutes) * time.Minute
	s := sched.Next(t.Add(-dur).In(loc))
	if s.After(t) {
		return FreezeState{NextStartsAt: s.UTC()}
	}
	end := s.Add(dur)
	for range 1000 { // occurrences that overlap extend the window
		n := sched.Next(s)
		if n.After(end) || n.IsZero() {
			break
		}
		s, end = n, n.Add(dur)
	}
	return FreezeState{Active: true, EndsAt: end.UTC()}
}

func parseFreezeCron(expr, tz string) (cron.Schedule, *time.Location, error) {
	sched, err := cron.ParseStandard(expr)
	if err != nil {
		return nil, nil, fmt.Errorf("cron %q: %w", expr, err)
	}
	loc := time.UTC
	if tz != "" {
		if loc, err = time.LoadLocation(tz); err != nil {
			return nil, nil, fmt.Errorf("time zone %q: %w", tz, err)
		}
	}
	return sched, loc, nil
}

// FreezeWindowState is where w stands now, by the engine's clock.
func (e *Engine) FreezeWindowState(w *ent.FreezeWindow) FreezeState {
	return windowState(w, e.clock.Now())
}

// windowsFor reads the windows that apply to an environment of a definition.
func windowsFor(ctx context.Context, c *ent.Client, definitionID int, env string) ([]*ent.FreezeWindow, error) {
	ws, err := c.FreezeWindow.Query().Where(freezewindow.Or(
		freezewindow.DefinitionIDIsNil(),
		freezewindow.And(freezewindow.DefinitionID(definitionID),
			freezewindow.Or(freezewindow.Environment(""), freezewindow.Environment(env))),
	)).Order(ent.Asc(freezewindow.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading freeze windows: %w", err)
	}
	return ws, nil
}

// frozen is the freeze of an environment at t: the active windows, when
// the last of them ends, and the first REFUSE one (nil if none).
type frozen struct {
	windows []*ent.FreezeWindow
	until   time.Time
	refuse  *ent.FreezeWindow
}

func frozenAt(ctx context.Context, c *ent.Client, definitionID int, env string, t time.Time) (*frozen, error) {
	ws, err := windowsFor(ctx, c, definitionID, env)
	if err != nil {
		return nil, err
	}
	return frozenBy(ws, t), nil
}

// frozenAt is frozenAt in the transaction. One that creates a release (it changes no freeze
// window) reads the windows of its definition once, for all its environments.
func (t *txn) frozenAt(definitionID int, env string) (*frozen, error) {
	if t.releaseSnap == nil || t.releaseSnapDef != definitionID {
		return frozenAt(t.ctx, t.Client(), definitionID, env, t.now)
	}
	if t.releaseFreezes == nil {
		ws, err := t.FreezeWindow.Query().Where(freezewindow.Or(
			freezewindow.DefinitionIDIsNil(), freezewindow.DefinitionID(definitionID))).
			Order(ent.Asc(freezewindow.FieldID)).All(t.ctx)
		if err != nil {
			return nil, fmt.Errorf("reading freeze windows: %w", err)
		}
		t.releaseFreezes = append(ws, nil)[:len(ws)] // not nil: read
	}
	var ws []*ent.FreezeWindow
	for _, w := range t.releaseFreezes {
		if w.DefinitionID == nil || w.Environment == "" || w.Environment == env {
			ws = append(ws, w)
		}
	}
	return frozenBy(ws, t.now), nil
}

// frozenBy is the freeze that windows ws make at t (nil: none).
func frozenBy(ws []*ent.FreezeWindow, t time.Time) *frozen {
	var f *frozen
	for _, w := range ws {
		st := windowState(w, t)
		if !st.Active {
			continue
		}
		if f == nil {
			f = &frozen{}
		}
		f.windows = append(f.windows, w)
		if st.EndsAt.After(f.until) {
			f.until = st.EndsAt
		}
		if w.Mode == freezewindow.ModeREFUSE && f.refuse == nil {
			f.refuse = w
		}
	}
	return f
}

// FrozenUntil returns when the freeze of a definition's environment ends,
// nil when it is not frozen now.
func (e *Engine) FrozenUntil(ctx context.Context, definitionID int, env string) (*time.Time, error) {
	f, err := frozenAt(ctx, e.client, definitionID, env, e.clock.Now())
	if err != nil || f == nil {
		return nil, err
	}
	return &f.until, nil
}

// freezeCheck decides a new deployment under the freezes of its
// environment: nothing to do when none is active; an override (ADMIN only,
// audited freeze.override) marks the deployment to go through; a REFUSE
// window refuses a person's request with ErrFrozen and cancels a
// trigger's deployment (cancel=reason); a WAIT window lets it wait in the
// queue.
func (t *txn) freezeCheck(actor Actor, definitionID int, env string, override, automatic bool) (pass bool, cancel string, err error) {
	f, err := t.frozenAt(definitionID, env)
	if err != nil || f == nil {
		return false, "", err
	}
	if override {
		if err := actor.Require(RoleAdmin, "deploying through a freeze window"); err != nil {
			return false, "", err
		}
		names := make([]string, len(f.windows))
		for i, w := range f.windows {
			names[i] = w.Name
		}
		if err := t.audit(actor, "freeze.override", auditTargetFreezeWindow, f.windows[0].ID, nil,
			map[string]any{"windows": names, "environment": env, "definition": definitionID}); err != nil {
			return false, "", err
		}
		return true, "", nil
	}
	if f.refuse == nil {
		return false, "", nil
	}
	if automatic {
		return false, "canceled: " + freezeMessage(f, env), nil
	}
	return false, "", freezeRefusal(f, env)
}

// freezeMessage says which REFUSE window freezes env, until when and why.
func freezeMessage(f *frozen, env string) string {
	msg := fmt.Sprintf("environment %s is frozen by window %q until %s, which refuses new deployments", env, f.refuse.Name, f.until.UTC().Format(time.RFC3339))
	if f.refuse.Reason != "" {
		msg += " (" + f.refuse.Reason + ")"
	}
	return msg
}

// freezeRefusal is a REFUSE window's answer to a person's request to deploy.
func freezeRefusal(f *frozen, env string) error {
	return fmt.Errorf("%w: %w", ErrFrozen, &Error{Code: CodeConflict, Field: "frozen", Message: freezeMessage(f, env)})
}

// CreateFreezeWindow stores a freeze window. A global one needs an ADMIN;
// one of a definition needs editDefinition on it, of an environment
// editEnvironment there. Audited freeze.create; when it is active at once,
// freeze.started is emitted.
// normalizeFreeze trims a freeze window's input, fills its defaults (WAIT, UTC) and validates
// it: the same for a new window and an edited one.
func normalizeFreeze(in FreezeWindowInput) (FreezeWindowInput, error) {
	in.Name, in.Environment, in.Cron, in.TimeZone = strings.TrimSpace(in.Name), strings.TrimSpace(in.Environment), strings.TrimSpace(in.Cron), strings.TrimSpace(in.TimeZone)
	if in.Mode == "" {
		in.Mode = freezewindow.ModeWAIT
	}
	if in.TimeZone == "" {
		in.TimeZone = "UTC"
	}
	return in, validateFreeze(in)
}

func (e *Engine) CreateFreezeWindow(ctx context.Context, actor Actor, in FreezeWindowInput) (*ent.FreezeWindow, error) {
	if err := actor.Require(RoleEditor, "creating a freeze window"); err != nil {
		return nil, err
	}
	in, err := normalizeFreeze(in)
	if err != nil {
		return nil, err
	}
	var w *ent.FreezeWindow
	err = e.inTx(ctx, func(t *txn) error {
		if in.DefinitionID == nil {
			if err := actor.Require(RoleAdmin, "creating a global freeze window"); err != nil {
				return err
			}
		} else {
			if err := t.authorize(actor, *in.DefinitionID, in.Environment, PermEditDefinition,
				"creating a freeze window", NotFound("definition", *in.DefinitionID)); err != nil {
				return err
			}
			_, snap, err := t.definitionSnapshot(*in.DefinitionID)
			if err != nil {
				return err
			}
			if _, ok := snap.Environment(in.Environment); in.Environment != "" && !ok {
				return Invalid("environment", "definition %s has no environment %q", snap.Name, in.Environment)
			}
		}
		c := t.FreezeWindow.Create().SetName(in.Name).SetReason(in.Reason).SetNillableDefinitionID(in.DefinitionID).
			SetEnvironment(in.Environment).SetMode(in.Mode).SetNillableStartsAt(utcPtr(in.StartsAt)).
			SetNillableEndsAt(utcPtr(in.EndsAt)).SetCron(in.Cron).SetDurationMinutes(in.DurationMinutes).
			SetTimeZone(in.TimeZone).SetCreatedBy(actor.String()).SetCreatedAt(t.now).SetUpdatedAt(t.now)
		var err error
		if w, err = c.Save(t.ctx); err != nil {
			return fmt.Errorf("storing freeze window: %w", err)
		}
		if err := t.audit(actor, "freeze.create", auditTargetFreezeWindow, w.ID, nil, map[string]any{
			"name": w.Name, "definition": in.DefinitionID, "environment": w.Environment, "mode": w.Mode,
			"startsAt": w.StartsAt, "endsAt": w.EndsAt, "cron": w.Cron, "durationMinutes": w.DurationMinutes, "timeZone": w.TimeZone,
		}); err != nil {
			return err
		}
		return t.freezeBoundary(actor, w, false)
	})
	if err != nil {
		return nil, fmt.Errorf("creating freeze window %q: %w", in.Name, err)
	}
	return w, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func validateFreeze(in FreezeWindowInput) error {
	p := &problems{}
	switch {
	case in.Name == "":
		p.add("name", "a freeze window needs a name")
	case len(in.Name) > 200 || hasControl(in.Name):
		p.add("name", "must be at most 200 bytes without control characters")
	}
	if len(in.Reason) > maxActionComment || !utf8.ValidString(in.Reason) {
		p.add("reason", "must be valid UTF-8 of at most %d bytes", maxActionComment)
	}
	if in.Environment != "" && in.DefinitionID == nil {
		p.add("environment", "an environment's window needs its definitionId")
	}
	if freezewindow.ModeValidator(in.Mode) != nil {
		p.add("mode", "unknown mode %q; use WAIT or REFUSE", in.Mode)
	}
	switch {
	case in.Cron == "" && (in.StartsAt == nil || in.EndsAt == nil):
		p.add("startsAt", "give startsAt and endsAt, or cron and durationMinutes")
	case in.Cron == "":
		if !in.EndsAt.After(*in.StartsAt) {
			p.add("endsAt", "must be after startsAt")
		}
		if in.DurationMinutes != 0 {
			p.add("durationMinutes", "is for recurring windows (with cron)")
		}
	default:
		if in.StartsAt != nil || in.EndsAt != nil {
			p.add("cron", "a recurring window has no startsAt or endsAt")
		}
		if _, _, err := parseFreezeCron(in.Cron, in.TimeZone); err != nil {
			p.add("cron", "%v", err)
		}
		if in.DurationMinutes <= 0 || in.DurationMinutes > 366*24*60 {
			p.add("durationMinutes", "must be between 1 and %d (a year)", 366*24*60)
		}
	}
	return p.err()
}

// DeleteFreezeWindow removes a freeze window (same permission as creating
// it); if it was active, freeze.ended is emitted and waiting deployments
// go on.
func (e *Engine) DeleteFreezeWindow(ctx context.Context, actor Actor, id int) error {
	if err := actor.Require(RoleEditor, "deleting a freeze window"); err != nil {
		return err
	}
	err := e.inTx(ctx, func(t *txn) error {
		w, err := t.FreezeWindow.Get(t.ctx, id)
		if ent.IsNotFound(err) {
			return NotFound("freeze window", id)
		}
		if err != nil {
			return fmt.Errorf("reading freeze window %d: %w", id, err)
		}
		if w.DefinitionID == nil {
			if err := actor.Require(RoleAdmin, "deleting a global freeze window"); err != nil {
				return err
			}
		} else if err := t.authorize(actor, *w.DefinitionID, w.Environment, PermEditDefinition,
			"deleting a freeze window", NotFound("freeze window", id)); err != nil {
			return err
		}
		active := windowState(w, t.now).Active
		if err := t.FreezeWindow.DeleteOne(w).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting freeze window %d: %w", id, err)
		}
		if err := t.retireTimers(timerFreeze, w.ID); err != nil {
			return err
		}
		if err := t.audit(actor, "freeze.delete", auditTargetFreezeWindow, w.ID, map[string]any{"name": w.Name}, nil); err != nil {
			return err
		}
		if active {
			if err := t.emitFreeze(actor, w, EventFreezeEnded, time.Time{}); err != nil {
				return err
			}
			return t.pumpAllWaiting(actor)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("deleting freeze window %d: %w", id, err)
	}
	return nil
}

// FreezeWindows lists the global windows and those of the definitions the
// actor may read (of one definition, with definitionID).
func (e *Engine) FreezeWindows(ctx context.Context, actor Actor, definitionID *int) ([]*ent.FreezeWindow, error) {
	if err := actor.Require(RoleViewer, "listing freeze windows"); err != nil {
		return nil, err
	}
	q := e.client.FreezeWindow.Query()
	if definitionID != nil {
		if err := e.RequireReadableDefinition(ctx, actor, *definitionID); err != nil {
			return nil, err
		}
		q = q.Where(freezewindow.Or(freezewindow.DefinitionIDIsNil(), freezewindow.DefinitionID(*definitionID)))
	}
	ws, err := q.Order(ent.Asc(freezewindow.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading freeze windows: %w", err)
	}
	hidden, err := e.HiddenDefinitions(ctx, actor)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(ws, func(w *ent.FreezeWindow) bool {
		return w.DefinitionID != nil && slices.Contains(hidden, *w.DefinitionID)
	}), nil
}

// freezeBoundary handles a window at one of its boundaries (or at its
// creation, wasActive false): emits freeze.started or freeze.ended when
// its state changed, lets waiting deployments go on when it ended, and
// creates the timer of its next boundary.
func (t *txn) freezeBoundary(actor Actor, w *ent.FreezeWindow, wasActive bool) error {
	st := windowState(w, t.now)
	switch {
	case st.Active && !wasActive:
		if err := t.emitFreeze(actor, w, EventFreezeStarted, st.EndsAt); err != nil {
			return err
		}
	case !st.Active && wasActive:
		if err := t.emitFreeze(actor, w, EventFreezeEnded, time.Time{}); err != nil {
			return err
		}
		if err := t.pumpAllWaiting(actor); err != nil {
			return err
		}
	}
	next := st.NextStartsAt
	if st.Active {
		next = st.EndsAt
	}
	if next.IsZero() {
		return nil
	}
	payload, err := json.Marshal(freezePayload{Active: st.Active})
	if err != nil {
		return fmt.Errorf("encoding freeze payload: %w", err)
	}
	return t.createTimer(timerFreeze, w.ID, next, string(payload))
}

// fireFreeze runs a window's boundary timer.
func (t *txn) fireFreeze(tm *ent.Timer) error {
	var p freezePayload
	if err := json.Unmarshal([]byte(tm.Payload), &p); err != nil {
		return Invalid("payload", "timer %d has a malformed freeze payload: %v", tm.ID, err)
	}
	w, err := t.FreezeWindow.Get(t.ctx, tm.TargetID)
	if ent.IsNotFound(err) {
		return nil // deleted
	}
	if err != nil {
		return fmt.Errorf("reading freeze window %d: %w", tm.TargetID, err)
	}
	return t.freezeBoundary(timerActor, w, p.Active)
}

func (t *txn) emitFreeze(actor Actor, w *ent.FreezeWindow, typ string, until time.Time) error {
	ev := Event{Type: typ, Environment: w.Environment, Actor: actor.String(),
		Data: map[string]any{"windowId": w.ID, "name": w.Name, "mode": string(w.Mode), "reason": w.Reason}}
	if w.DefinitionID != nil {
		ev.DefinitionID = *w.DefinitionID
	}
	if !until.IsZero() {
		ev.Data["until"] = until.UTC().Format(time.RFC3339)
	}
	return t.emit(ev)
}

// pumpAllWaiting applies the queue policy of every environment that has
// waiting deployments (QUEUED without a job), after a freeze ended.
func (t *txn) pumpAllWaiting(actor Actor) error {
	waiting, err := t.Deployment.Query().
		Where(deployment.StatusEQ(deployment.StatusQUEUED), deployment.Not(holdsSlot())).
		Order(ent.Asc(deployment.FieldID)).All(t.ctx)
	if err != nil {
		return fmt.Errorf("reading waiting deployments: %w", err)
	}
	type key struct {
		def int
		env string
	}
	seen := map[key]bool{}
	for _, d := range waiting {
		k := key{d.DefinitionID, d.EnvironmentName}
		if seen[k] {
			continue
		}
		seen[k] = true
		if err := t.pumpQueue(actor, k.def, k.env); err != nil {
			return err
		}
	}
	return nil
}
