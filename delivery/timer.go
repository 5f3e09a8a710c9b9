package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/timer"
)

// Timer kinds: the timed work the engine persists.
const (
	// timerApprovalTimeout times a pending approval out (target: approval).
	timerApprovalTimeout = "approval.timeout"
	// timerDeferredDeployment releases a deferred deployment (target: deployment).
	timerDeferredDeployment = "deployment.deferred"
	// timerJobTimeout fails a job that ran too long (target: job).
	timerJobTimeout = "job.timeout"
	// timerSchedule creates a release from a cron schedule (target:
	// definition; payload: the schedule as JSON).
	timerSchedule = "definition.schedule"
	// timerGates (gates.go) samples a deployment's gates;
	// timerInterventionTimeout (intervention.go) acts on a manual
	// intervention nobody acted on in time.
)

// timerLease is how long a replica holds a claimed timer; a timer whose run
// failed is retried after it.
const timerLease = 2 * time.Minute

// timerActor is the actor of changes made by timed work.
var timerActor = SystemActor("timer")

// createTimer persists timed work due at due.
func (t *txn) createTimer(kind string, targetID int, due time.Time, payload string) error {
	err := t.Timer.Create().SetKind(kind).SetTargetID(targetID).SetDueAt(due).SetPayload(payload).
		SetCreatedAt(t.now).Exec(t.ctx)
	if err != nil {
		return fmt.Errorf("storing %s timer: %w", kind, err)
	}
	t.timersChanged = true
	return nil
}

// retireTimers marks the pending timers of a kind and target done: the work
// they would do is moot.
func (t *txn) retireTimers(kind string, targetID int) error {
	err := t.Timer.Update().
		Where(timer.Kind(kind), timer.TargetID(targetID), timer.DoneAtIsNil()).
		SetDoneAt(t.now).SetLastError("retired: no longer needed").Exec(t.ctx)
	if err != nil {
		return fmt.Errorf("retiring %s timers: %w", kind, err)
	}
	return nil
}

// RunDueTimers runs every timer due by the engine's clock (but enrichment,
// which RunEnrichmentLoop runs) and returns how
// many it ran. Each is first claimed by a conditional update (not done, not
// claimed by a live lease), so that replicas never run one timer twice; its
// work and its done mark commit in one transaction. Work that fails for a
// domain reason (the definition has no build to release, say) is recorded on
// the timer, which is done; other failures are retried after the lease.
func (e *Engine) RunDueTimers(ctx context.Context) (int, error) {
	ran := 0
	var errs []error
	for {
		now := e.clock.Now()
		due, err := e.client.Timer.Query().
			Where(timer.KindNotIn(timerEnrich, timerRetention), timer.DoneAtIsNil(), timer.DueAtLTE(now),
				timer.Or(timer.ClaimedUntilIsNil(), timer.ClaimedUntilLTE(now))).
			Order(ent.Asc(timer.FieldDueAt), ent.Asc(timer.FieldID)).Limit(100).All(ctx)
		if err != nil {
			return ran, fmt.Errorf("reading due timers: %w", err)
		}
		claimedAny := false
		for _, tm := range due {
			n, err := e.client.Timer.Update().
				Where(timer.ID(tm.ID), timer.DoneAtIsNil(),
					timer.Or(timer.ClaimedUntilIsNil(), timer.ClaimedUntilLTE(now))).
				SetClaimedUntil(now.Add(timerLease)).AddAttempts(1).Save(ctx)
			if err != nil {
				return ran, fmt.Errorf("claiming timer %d: %w", tm.ID, err)
			}
			if n == 0 {
				continue // another replica has it
			}
			claimedAny = true
			if err := e.runTimer(ctx, tm); err != nil {
				errs = append(errs, fmt.Errorf("running %s timer %d: %w", tm.Kind, tm.ID, err))
				continue
			}
			ran++
		}
		if len(due) < 100 || !claimedAny {
			return ran, errors.Join(errs...)
		}
	}
}

// errTimerDone stops a run whose timer another replica finished.
var errTimerDone = errors.New("timer already done")

func (e *Engine) runTimer(ctx context.Context, tm *ent.Timer) error {
	// A schedule's builds come from the CI servers, asked before the
	// transaction: no HTTP call runs inside one.
	// A CI failure is retried after the lease like any internal error; a
	// domain one (a source's connection is gone) skips the occurrence.
	var builds *scheduledBuilds
	var err error
	switch tm.Kind {
	case timerSchedule:
		builds, err = e.newestBuilds(ctx, tm.TargetID)
	case timerGates:
		// A gate sample's checks (HTTP calls) run before its transaction too.
		err = e.runGatesTimer(ctx, tm)
	case timerServerCall:
		err = e.runServerCallTimer(ctx, tm) // the same: the call, then its transaction
	}
	if err == nil && tm.Kind != timerGates && tm.Kind != timerServerCall {
		err = e.inTx(ctx, func(t *txn) error {
			if err := t.claimTimerRun(tm.ID); err != nil {
				return err
			}
			if tm.Kind == timerSchedule {
				return t.runSchedule(tm, builds)
			}
			return t.fireTimer(tm)
		})
	}
	switch {
	case err == nil, errors.Is(err, errTimerDone):
		return nil
	case ServerFault(err):
		if uerr := e.client.Timer.UpdateOneID(tm.ID).SetLastError(err.Error()).Exec(context.WithoutCancel(ctx)); uerr != nil {
			return fmt.Errorf("%w (recording it: %v)", err, uerr)
		}
		return err
	}
	// A domain error: the work cannot be done; record why and finish.
	e.log.Warn("timed work failed", "kind", tm.Kind, "target", tm.TargetID, "err", err)
	return e.inTx(ctx, func(t *txn) error {
		if err := t.claimTimerRun(tm.ID); err != nil {
			if errors.Is(err, errTimerDone) {
				return nil
			}
			return err
		}
		if err := t.Timer.UpdateOneID(tm.ID).SetLastError(err.Error()).Exec(t.ctx); err != nil {
			return fmt.Errorf("recording timer error: %w", err)
		}
		if tm.Kind == timerSchedule {
			return t.scheduleNext(tm)
		}
		return nil
	})
}

// claimTimerRun marks a timer done inside the transaction that does its
// work, so that the work commits once.
func (t *txn) claimTimerRun(id int) error {
	n, err := t.Timer.Update().Where(timer.ID(id), timer.DoneAtIsNil()).SetDoneAt(t.now).Save(t.ctx)
	if err != nil {
		return fmt.Errorf("marking timer %d done: %w", id, err)
	}
	if n == 0 {
		return errTimerDone
	}
	return nil
}

// fireTimer does the work of a due timer. Work made moot by what happened
// since (an approval decided, a deployment canceled) does nothing.
func (t *txn) fireTimer(tm *ent.Timer) error {
	switch tm.Kind {
	case timerApprovalTimeout:
		return t.timeOutApproval(tm.TargetID)
	case timerDeferredDeployment:
		dc, err := t.loadDeployment(tm.TargetID)
		if err != nil {
			return err
		}
		if dc.d.Status != deployment.StatusSCHEDULED {
			return nil
		}
		return t.enqueue(timerActor, dc)
	case timerJobTimeout:
		return t.timeOutJob(tm.TargetID)
	case timerSchedule:
		return t.runSchedule(tm, nil)
	case timerFreeze:
		return t.fireFreeze(tm)
	case timerInterventionTimeout:
		return t.timeOutIntervention(tm.TargetID)
	}
	return fmt.Errorf("unknown timer kind %q", tm.Kind)
}

// timeOutApproval times a pending approval out: the deployment is REJECTED.
func (t *txn) timeOutApproval(id int) error {
	a, dc, err := t.loadApproval(id)
	if err != nil {
		return err
	}
	if a.Status != approval.StatusPENDING {
		return nil
	}
	minutes := dc.policy(a.Stage).TimeoutMinutes
	why := fmt.Sprintf("approval by %s %s timed out", kindName(a), a.Approver)
	if minutes > 0 {
		why += fmt.Sprintf(" after %d minutes", minutes)
	}
	if _, err := t.moveApproval(timerActor, dc, a, ApprovalTimeOut, why, nil); err != nil {
		return err
	}
	return t.finishDeployment(timerActor, dc, DeploymentTimeOut, "rejected: "+why)
}

// timeOutJob fails a job that ran past its timeout and asks its agent to
// stop it; the deployment FAILS and its queue slot is freed.
func (t *txn) timeOutJob(id int) error {
	j, dc, err := t.loadJob(id)
	if err != nil {
		return err
	}
	if !jobActive(j.Status) {
		return nil
	}
	why := fmt.Sprintf("timed out after %d minutes", j.Spec.TimeoutMinutes)
	j, err = t.moveJob(timerActor, dc, j, JobFail, why, nil)
	if err != nil {
		return err
	}
	if err := t.requestJobCancel(timerActor, dc, j, why); err != nil {
		return err
	}
	return t.finishDeployment(timerActor, dc, DeploymentFail, "failed: job "+why)
}

// NextTimerDue returns when the next timer is due (or its lease ends, for a
// claimed one), and false when no timer is pending.
func (e *Engine) NextTimerDue(ctx context.Context) (time.Time, bool, error) {
	now := e.clock.Now()
	var next time.Time
	free, err := e.client.Timer.Query().
		Where(timer.KindNotIn(timerEnrich, timerRetention), timer.DoneAtIsNil(), timer.Or(timer.ClaimedUntilIsNil(), timer.ClaimedUntilLTE(now))).
		Order(ent.Asc(timer.FieldDueAt)).First(ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		return time.Time{}, false, fmt.Errorf("reading the next timer: %w", err)
	default:
		next = free.DueAt
	}
	leased, err := e.client.Timer.Query().
		Where(timer.KindNotIn(timerEnrich, timerRetention), timer.DoneAtIsNil(), timer.ClaimedUntilGT(now)).
		Order(ent.Asc(timer.FieldClaimedUntil)).First(ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		return time.Time{}, false, fmt.Errorf("reading the next timer: %w", err)
	default:
		due := *leased.ClaimedUntil
		if leased.DueAt.After(due) {
			due = leased.DueAt
		}
		if next.IsZero() || due.Before(next) {
			next = due
		}
	}
	return next, !next.IsZero(), nil
}

// RunTimerLoop runs due timers until ctx ends. Between runs it sleeps until
// the next timer is due, or until a wake-up: from wake (the server feeds it,
// e.g. on events of other replicas) or from this engine committing a new
// timer. It never polls at a fixed rate.
func (e *Engine) RunTimerLoop(ctx context.Context, wake <-chan struct{}) {
	const retry = 5 * time.Second
	for {
		var wait <-chan time.Time
		var tm *time.Timer
		if _, err := e.RunDueTimers(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("running due timers", "err", err)
		}
		next, ok, err := e.NextTimerDue(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			e.log.Error("reading the next timer", "err", err)
			wait = time.After(retry)
		case ok:
			tm = time.NewTimer(max(next.Sub(e.clock.Now()), 0))
			wait = tm.C
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-e.timerWake:
		case <-wait:
		}
		if tm != nil {
			tm.Stop()
		}
	}
}

// schedulePayload is the payload of a cron timer.
type schedulePayload struct {
	Cron            string `json:"cron"`
	TimeZone        string `json:"timeZone,omitempty"`
	OnlyWithChanges bool   `json:"scheduleOnlyWithChanges,omitempty"`
}

// parseSchedule parses a definition schedule: a standard 5-field cron
// expression in an IANA time zone (UTC by default).
func parseSchedule(s spec.Schedule) (cron.Schedule, *time.Location, error) {
	sched, err := cron.ParseStandard(s.Cron)
	if err != nil {
		return nil, nil, fmt.Errorf("cron %q: %w", s.Cron, err)
	}
	loc := time.UTC
	if s.TimeZone != "" {
		if loc, err = time.LoadLocation(s.TimeZone); err != nil {
			return nil, nil, fmt.Errorf("time zone %q: %w", s.TimeZone, err)
		}
	}
	return sched, loc, nil
}

// ValidateSchedule checks a definition schedule: a standard 5-field cron
// expression ("0 3 * * 1-5") and an IANA time zone. The definition CRUD
// validates with it before saving.
func ValidateSchedule(field string, s spec.Schedule) error {
	if _, _, err := parseSchedule(s); err != nil {
		return Invalid(field, "%v", err)
	}
	return nil
}

// ScheduleDefinition (re)creates the cron timers of a definition from its
// latest revision; the definition CRUD calls it (or the in-transaction
// scheduleDefinition) after every change. A deleted definition keeps none.
func (e *Engine) ScheduleDefinition(ctx context.Context, definitionID int) error {
	if err := e.inTx(ctx, func(t *txn) error { return t.scheduleDefinition(definitionID) }); err != nil {
		return fmt.Errorf("scheduling definition %d: %w", definitionID, err)
	}
	return nil
}

// scheduleDefinition is ScheduleDefinition inside a transaction.
func (t *txn) scheduleDefinition(definitionID int) error {
	if err := t.retireTimers(timerSchedule, definitionID); err != nil {
		return err
	}
	_, snap, err := t.definitionSnapshot(definitionID)
	if CodeOf(err) == CodeNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	for i, s := range snap.Schedules {
		sched, loc, err := parseSchedule(s)
		if err != nil {
			return Invalid(fmt.Sprintf("schedules[%d]", i), "%v", err)
		}
		payload, err := json.Marshal(schedulePayload{Cron: s.Cron, TimeZone: s.TimeZone, OnlyWithChanges: s.ScheduleOnlyWithChanges})
		if err != nil {
			return fmt.Errorf("encoding schedule: %w", err)
		}
		if err := t.createTimer(timerSchedule, definitionID, sched.Next(t.now.In(loc)).UTC(), string(payload)); err != nil {
			return err
		}
	}
	return nil
}

// runSchedule creates a release for a due cron timer, if the definition still
// has that schedule, and schedules the next occurrence. The release deploys
// the newest admitted build of each source (builds, read from the CI
// servers before the transaction; a source without one, or an engine
// without a CI server, reuses the latest release's version). With
// scheduleOnlyWithChanges an occurrence whose builds are those of the
// latest release creates nothing; the timer records why.
func (t *txn) runSchedule(tm *ent.Timer, builds *scheduledBuilds) error {
	var p schedulePayload
	if err := json.Unmarshal([]byte(tm.Payload), &p); err != nil {
		return Invalid("payload", "timer %d has a malformed schedule: %v", tm.ID, err)
	}
	_, snap, err := t.definitionSnapshot(tm.TargetID)
	if CodeOf(err) == CodeNotFound {
		return nil // the definition is gone
	}
	if err != nil {
		return err
	}
	current := false
	for _, s := range snap.Schedules {
		current = current || (s.Cron == p.Cron && s.TimeZone == p.TimeZone && s.ScheduleOnlyWithChanges == p.OnlyWithChanges)
	}
	if !current {
		return nil // superseded by a definition change
	}
	in := CreateReleaseInput{
		DefinitionID: tm.TargetID, Reason: string(release.ReasonSCHEDULE),
		Description: "scheduled by cron " + p.Cron,
	}
	if builds != nil {
		in.Artifacts, in.checkedRevision = builds.versions, builds.revision
	}
	if p.OnlyWithChanges {
		last, err := t.unchangedSince(tm.TargetID, in.Artifacts)
		if err != nil {
			return err
		}
		if last != "" {
			why := fmt.Sprintf("no release: no artifact has a newer admitted build than %s (scheduleOnlyWithChanges)", last)
			if err := t.Timer.UpdateOneID(tm.ID).SetLastError(why).Exec(t.ctx); err != nil {
				return fmt.Errorf("recording the skipped schedule: %w", err)
			}
			return t.scheduleNext(tm)
		}
	}
	if _, err := t.createRelease(SystemActor("schedule"), in); err != nil {
		return err
	}
	return t.scheduleNext(tm)
}

// scheduleNext creates the timer of a cron schedule's next occurrence after
// both now and the due time that just ran.
func (t *txn) scheduleNext(tm *ent.Timer) error {
	var p schedulePayload
	if err := json.Unmarshal([]byte(tm.Payload), &p); err != nil {
		return nil // malformed: nothing to reschedule
	}
	sched, loc, err := parseSchedule(spec.Schedule{Cron: p.Cron, TimeZone: p.TimeZone})
	if err != nil {
		return nil
	}
	from := t.now
	if tm.DueAt.After(from) {
		from = tm.DueAt
	}
	return t.createTimer(timerSchedule, tm.TargetID, sched.Next(from.In(loc)).UTC(), tm.Payload)
}
