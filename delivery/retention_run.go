package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/definitionrevision"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/freezewindow"
	"github.com/cairnhq/cairn/ent/gatesample"
	"github.com/cairnhq/cairn/ent/hookdelivery"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/jobstep"
	"github.com/cairnhq/cairn/ent/logchunk"
	"github.com/cairnhq/cairn/ent/manualintervention"
	"github.com/cairnhq/cairn/ent/notification"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releaseartifact"
	"github.com/cairnhq/cairn/ent/releasedefinition"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
	"github.com/cairnhq/cairn/ent/session"
	"github.com/cairnhq/cairn/ent/sourcecommit"
	"github.com/cairnhq/cairn/ent/stepattachment"
	"github.com/cairnhq/cairn/ent/timer"
	"github.com/cairnhq/cairn/ent/webhookdelivery"
)

// timerRetention is the persisted schedule of the retention loop (target 0): one pending row,
// claimed by a conditional update like every timer, so that one replica runs each pass.
const timerRetention = "retention.run"

// auditRetentionPrune is the audit action of a retention run that deleted anything.
const auditRetentionPrune = "retention.prune"

// retentionActor is the actor of the retention loop's changes.
var retentionActor = SystemActor("retention")

// RetentionRun is what one retention run did.
type RetentionRun struct {
	// ReleasesDeleted names the deleted releases ("web/Release-4").
	ReleasesDeleted                               []string
	LogsPruned                                    int
	WebhookDeliveriesPruned, HookDeliveriesPruned int
	NotificationsPruned, SessionsPruned           int
	DefinitionsPurged                             int
	deletedIDs                                    []int
	logIDs                                        []int
	purgedIDs                                     []int
}

func (r *RetentionRun) empty() bool {
	return len(r.ReleasesDeleted) == 0 && r.LogsPruned == 0 && r.WebhookDeliveriesPruned == 0 &&
		r.HookDeliveriesPruned == 0 && r.NotificationsPruned == 0 && r.SessionsPruned == 0 && r.DefinitionsPurged == 0
}

// RunRetention runs release, log and record retention now (ADMIN only); the loop runs the
// same on its schedule.
func (e *Engine) RunRetention(ctx context.Context, actor Actor) (*RetentionRun, error) {
	if err := actor.Require(RoleAdmin, "running retention"); err != nil {
		return nil, err
	}
	return e.runRetention(ctx, actor)
}

// errWatermarkMoved stops a definition's deletions when its deployments changed after the
// rule was evaluated: the definition is evaluated again.
var errWatermarkMoved = errors.New("the definition's deployments changed")

// runRetention is one pass over every definition (live and deleted), then the other records.
// Each release is deleted in a transaction of its own, after checking again, under the
// definition's lock, that what the verdict rested on has not changed; batches of
// BatchSize releases are separated by BatchPause.
func (e *Engine) runRetention(ctx context.Context, actor Actor) (*RetentionRun, error) {
	started := time.Now()
	run := &RetentionRun{}
	// After each batch the run pauses BatchPause, or as long as the batch took if that is
	// longer: it holds the database's writer (SQLite's single one, a definition's lock on
	// PostgreSQL) at most about half of the time, so that deployments go on beside it.
	batch := 0
	batchStart := time.Now()
	pause := func() error {
		batch++
		if batch%e.retention.BatchSize != 0 || e.retention.BatchPause <= 0 {
			return ctx.Err()
		}
		wait := max(e.retention.BatchPause, time.Since(batchStart))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		batchStart = time.Now()
		return nil
	}
	var errs []error
	after := 0
	for {
		defs, err := liveOrDeleted(ctx, e.client, after, 100)
		if err != nil {
			return run, err
		}
		for _, d := range defs {
			after = d.ID
			if err := e.pruneDefinition(ctx, d, run, pause); err != nil {
				if ctx.Err() != nil {
					return run, ctx.Err()
				}
				errs = append(errs, fmt.Errorf("definition %d: %w", d.ID, err))
			}
		}
		if len(defs) < 100 {
			break
		}
	}
	if err := e.pruneRecords(ctx, run); err != nil {
		errs = append(errs, err)
	}
	if !run.empty() {
		rels := make([]map[string]any, len(run.deletedIDs))
		for i, id := range run.deletedIDs {
			rels[i] = map[string]any{"id": id, "name": run.ReleasesDeleted[i]}
		}
		after := map[string]any{
			"releasesDeleted": rels, "logsPrunedOf": run.logIDs, "definitionsPurged": run.purgedIDs,
			"webhookDeliveries": run.WebhookDeliveriesPruned, "hookDeliveries": run.HookDeliveriesPruned,
			"notifications": run.NotificationsPruned, "sessions": run.SessionsPruned,
		}
		err := e.inTx(context.WithoutCancel(ctx), func(t *txn) error {
			return t.audit(actor, auditRetentionPrune, auditTargetRetentionRun, t.now.UTC().Format(time.RFC3339), nil, after)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("auditing the retention run: %w", err))
		}
	}
	s := &e.retStats
	s.runs.Add(1)
	s.releasesDeleted.Add(int64(len(run.ReleasesDeleted)))
	s.logsPruned.Add(int64(run.LogsPruned))
	s.recordsPruned.Add(int64(run.WebhookDeliveriesPruned + run.HookDeliveriesPruned + run.NotificationsPruned + run.SessionsPruned))
	s.lastRunNanos.Store(int64(time.Since(started)))
	s.lastRunUnix.Store(e.clock.Now().Unix())
	if len(run.ReleasesDeleted) > 0 || run.LogsPruned > 0 {
		e.log.InfoContext(ctx, "retention run", "releasesDeleted", len(run.ReleasesDeleted), "logsPruned", run.LogsPruned,
			"definitionsPurged", run.DefinitionsPurged, "took", time.Since(started))
	}
	return run, errors.Join(errs...)
}

// pruneDefinition deletes the due releases of one definition and prunes the logs that log
// retention lets go, evaluating again (at most a few times) when its deployments move.
func (e *Engine) pruneDefinition(ctx context.Context, d *ent.ReleaseDefinition, run *RetentionRun, pause func() error) error {
	if d.DeletedAt != nil && !e.clock.Now().Before(d.DeletedAt.AddDate(0, 0, e.retention.DeletedDefinitionDays)) {
		return e.purgeDefinition(ctx, d, run, pause)
	}
	// Evaluate again when the deployments moved under us (another replica deleting, a
	// deployment finishing); give up for this run after a few evaluations without progress.
	for idle := 0; idle < 3; {
		facts, err := readRetentionFacts(ctx, e.client, d.ID)
		if err != nil {
			return err
		}
		w := facts.watermark
		moved, progress := false, false
		for _, v := range e.retention.evaluate(facts, e.clock.Now()) {
			var ok bool
			var err error
			switch {
			case v.Verdict == RetentionDue:
				ok, w, err = e.deleteDueRelease(ctx, d.ID, v, w)
				if ok {
					run.ReleasesDeleted = append(run.ReleasesDeleted, d.Name+"/"+v.Name)
					run.deletedIDs = append(run.deletedIDs, v.ReleaseID)
				}
			case v.logsDue:
				ok, err = e.pruneReleaseLogs(ctx, d.ID, v, w)
				if ok {
					run.LogsPruned++
					run.logIDs = append(run.logIDs, v.ReleaseID)
				}
			default:
				continue
			}
			progress = progress || ok
			if errors.Is(err, errWatermarkMoved) {
				moved = true
				break
			}
			if err != nil {
				return err
			}
			if err := pause(); err != nil {
				return err
			}
		}
		if !moved {
			return nil
		}
		if !progress {
			idle++
		}
	}
	return nil // busy: the next run tries again
}

// lockForRetention reads release v again under the definition's lock (on PostgreSQL, its row
// FOR UPDATE SKIP LOCKED: a release another replica is deleting is skipped), and reports false
// when it is gone, kept forever or changed since the verdict, or when the definition's
// deployments moved (errWatermarkMoved).
func (t *txn) lockForRetention(defID int, v ReleaseRetention, w retentionWatermark) (bool, error) {
	q := t.Release.Query().Where(release.ID(v.ReleaseID), release.KeepForever(false))
	if t.postgres() {
		q = q.ForUpdate(entsql.WithLockAction(entsql.SkipLocked))
	}
	rows, err := q.All(t.ctx)
	if err != nil {
		return false, fmt.Errorf("locking release %d: %w", v.ReleaseID, err)
	}
	// Compared here, not in SQL: a time's stored text need not match its bound parameter's.
	if len(rows) == 0 || !rows[0].UpdatedAt.Equal(v.updatedAt) {
		return false, nil
	}
	now, err := readWatermark(t.ctx, t.Client(), defID)
	if err != nil {
		return false, err
	}
	if now != w {
		return false, errWatermarkMoved
	}
	open, err := t.Deployment.Query().Where(deployment.ReleaseID(v.ReleaseID), deployment.StatusNotIn(finalDeploymentStatuses...)).Exist(t.ctx)
	if err != nil {
		return false, fmt.Errorf("reading open deployments: %w", err)
	}
	if open {
		return false, errWatermarkMoved
	}
	return true, nil
}

// deleteDueRelease deletes one due release and every row that hangs from it, in one
// transaction, if nothing its verdict rested on changed. It returns the definition's
// watermark after its own deletion, so that the next deletion of the same pass compares with
// it.
func (e *Engine) deleteDueRelease(ctx context.Context, defID int, v ReleaseRetention, w retentionWatermark) (bool, retentionWatermark, error) {
	deleted := false
	after := w
	err := e.inTxDefinition(ctx, defID, func(t *txn) error {
		ok, err := t.lockForRetention(defID, v, w)
		if err != nil || !ok {
			return err
		}
		if err := t.deleteReleaseRows(v.ReleaseID); err != nil {
			return err
		}
		if after, err = readWatermark(t.ctx, t.Client(), defID); err != nil {
			return err
		}
		deleted = true
		return nil
	})
	if err != nil {
		return false, w, fmt.Errorf("deleting release %d: %w", v.ReleaseID, err)
	}
	return deleted, after, nil
}

// pruneReleaseLogs removes the job logs, step attachments and gate samples of a release that
// log retention lets go, and notes when on the release.
func (e *Engine) pruneReleaseLogs(ctx context.Context, defID int, v ReleaseRetention, w retentionWatermark) (bool, error) {
	pruned := false
	err := e.inTxDefinition(ctx, defID, func(t *txn) error {
		ok, err := t.lockForRetention(defID, v, w)
		if err != nil || !ok {
			return err
		}
		deps, jobs, steps, err := t.releaseWork(v.ReleaseID)
		if err != nil {
			return err
		}
		if err := t.deleteLogs(deps, jobs, steps); err != nil {
			return err
		}
		// updated_at stays: pruning logs is not a change that restarts the release's days.
		if err := t.Release.UpdateOneID(v.ReleaseID).SetLogsPrunedAt(t.now).SetUpdatedAt(v.updatedAt).Exec(t.ctx); err != nil {
			return fmt.Errorf("noting pruned logs: %w", err)
		}
		pruned = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("pruning logs of release %d: %w", v.ReleaseID, err)
	}
	return pruned, nil
}

// releaseWork lists the ids of a release's deployments, jobs and job steps.
func (t *txn) releaseWork(relID int) (deps, jobs, steps []int, err error) {
	if deps, err = t.Deployment.Query().Where(deployment.ReleaseID(relID)).IDs(t.ctx); err != nil {
		return nil, nil, nil, fmt.Errorf("reading deployments: %w", err)
	}
	if len(deps) > 0 {
		if jobs, err = t.Job.Query().Where(job.DeploymentIDIn(deps...)).IDs(t.ctx); err != nil {
			return nil, nil, nil, fmt.Errorf("reading jobs: %w", err)
		}
	}
	if len(jobs) > 0 {
		if steps, err = t.JobStep.Query().Where(jobstep.JobIDIn(jobs...)).IDs(t.ctx); err != nil {
			return nil, nil, nil, fmt.Errorf("reading job steps: %w", err)
		}
	}
	return deps, jobs, steps, nil
}

// deleteLogs removes the log chunks, step attachments and gate samples of the given work.
func (t *txn) deleteLogs(deps, jobs, steps []int) error {
	if len(steps) > 0 {
		if _, err := t.StepAttachment.Delete().Where(stepattachment.JobStepIDIn(steps...)).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting step attachments: %w", err)
		}
	}
	if len(jobs) > 0 {
		if _, err := t.LogChunk.Delete().Where(logchunk.JobIDIn(jobs...)).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting logs: %w", err)
		}
	}
	if len(deps) > 0 {
		if _, err := t.GateSample.Delete().Where(gatesample.DeploymentIDIn(deps...)).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting gate samples: %w", err)
		}
	}
	return nil
}

// deleteReleaseRows deletes a release with its environments, deployments, approvals, manual
// interventions, jobs, steps, logs, gate samples, artifacts, commits, its links to work items
// and webhook deliveries, and the timers and notifications of its work. Audit rows and the
// event stream are not touched (they have their own retention).
func (t *txn) deleteReleaseRows(relID int) error {
	deps, jobs, steps, err := t.releaseWork(relID)
	if err != nil {
		return err
	}
	if err := t.deleteLogs(deps, jobs, steps); err != nil {
		return err
	}
	var approvals, interventions, artifacts []int
	if len(deps) > 0 {
		if approvals, err = t.Approval.Query().Where(approval.DeploymentIDIn(deps...)).IDs(t.ctx); err != nil {
			return fmt.Errorf("reading approvals: %w", err)
		}
		if interventions, err = t.ManualIntervention.Query().Where(manualintervention.DeploymentIDIn(deps...)).IDs(t.ctx); err != nil {
			return fmt.Errorf("reading manual interventions: %w", err)
		}
	}
	if artifacts, err = t.ReleaseArtifact.Query().Where(releaseartifact.ReleaseID(relID)).IDs(t.ctx); err != nil {
		return fmt.Errorf("reading artifacts: %w", err)
	}
	if len(approvals) > 0 {
		if _, err := t.Notification.Delete().Where(notification.ApprovalIDIn(approvals...)).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting notifications: %w", err)
		}
	}
	if len(interventions) > 0 {
		if _, err := t.Notification.Delete().Where(notification.InterventionIDIn(interventions...)).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting notifications: %w", err)
		}
	}
	for _, k := range []struct {
		kinds []string
		ids   []int
	}{
		{[]string{timerApprovalTimeout}, approvals},
		{[]string{timerDeferredDeployment, timerGates, timerServerCall}, deps},
		{[]string{timerJobTimeout}, jobs},
		{[]string{timerInterventionTimeout}, interventions},
		{[]string{timerEnrich}, artifacts},
	} {
		if len(k.ids) == 0 {
			continue
		}
		if _, err := t.Timer.Delete().Where(timer.KindIn(k.kinds...), timer.TargetIDIn(k.ids...)).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting timers: %w", err)
		}
	}
	if len(steps) > 0 {
		if _, err := t.JobStep.Delete().Where(jobstep.IDIn(steps...)).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting job steps: %w", err)
		}
	}
	if len(deps) > 0 {
		if _, err := t.Job.Delete().Where(job.DeploymentIDIn(deps...)).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting jobs: %w", err)
		}
		if _, err := t.Approval.Delete().Where(approval.DeploymentIDIn(deps...)).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting approvals: %w", err)
		}
		if _, err := t.ManualIntervention.Delete().Where(manualintervention.DeploymentIDIn(deps...)).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting manual interventions: %w", err)
		}
		if _, err := t.Deployment.Delete().Where(deployment.IDIn(deps...)).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting deployments: %w", err)
		}
	}
	if _, err := t.ReleaseEnvironment.Delete().Where(releaseenvironment.ReleaseID(relID)).Exec(t.ctx); err != nil {
		return fmt.Errorf("deleting release environments: %w", err)
	}
	if _, err := t.ReleaseArtifact.Delete().Where(releaseartifact.ReleaseID(relID)).Exec(t.ctx); err != nil {
		return fmt.Errorf("deleting artifacts: %w", err)
	}
	if _, err := t.SourceCommit.Delete().Where(sourcecommit.ReleaseID(relID)).Exec(t.ctx); err != nil {
		return fmt.Errorf("deleting commits: %w", err)
	}
	if err := t.Release.UpdateOneID(relID).ClearWorkItems().ClearWebhookDeliveries().Exec(t.ctx); err != nil {
		return fmt.Errorf("unlinking work items and webhook deliveries: %w", err)
	}
	if err := t.Release.DeleteOneID(relID).Exec(t.ctx); err != nil {
		return fmt.Errorf("deleting release: %w", err)
	}
	return nil
}

// purgeDefinition removes a definition deleted longer ago than the retention of deleted
// definitions: its releases (each in its transaction), then its revisions, freeze windows and
// row. A release kept forever or with work pending keeps the definition until it no longer is.
func (e *Engine) purgeDefinition(ctx context.Context, d *ent.ReleaseDefinition, run *RetentionRun, pause func() error) error {
	rels, err := e.client.Release.Query().Where(release.DefinitionID(d.ID)).
		Select(release.FieldID, release.FieldName, release.FieldUpdatedAt, release.FieldKeepForever).All(ctx)
	if err != nil {
		return fmt.Errorf("reading releases: %w", err)
	}
	w, err := readWatermark(ctx, e.client, d.ID)
	if err != nil {
		return err
	}
	for _, r := range rels {
		if r.KeepForever {
			return nil
		}
		var ok bool
		ok, w, err = e.deleteDueRelease(ctx, d.ID, ReleaseRetention{ReleaseID: r.ID, Name: r.Name, updatedAt: r.UpdatedAt}, w)
		if err != nil {
			if errors.Is(err, errWatermarkMoved) {
				return nil
			}
			return err
		}
		if !ok {
			return nil
		}
		run.ReleasesDeleted = append(run.ReleasesDeleted, d.Name+"/"+r.Name)
		run.deletedIDs = append(run.deletedIDs, r.ID)
		if err := pause(); err != nil {
			return err
		}
	}
	purged := false
	err = e.inTx(ctx, func(t *txn) error {
		left, err := t.Release.Query().Where(release.DefinitionID(d.ID)).Exist(t.ctx)
		if err != nil || left {
			return err
		}
		if _, err := t.DefinitionRevision.Delete().Where(definitionrevision.DefinitionID(d.ID)).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting revisions: %w", err)
		}
		if _, err := t.FreezeWindow.Delete().Where(freezewindow.DefinitionID(d.ID)).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting freeze windows: %w", err)
		}
		n, err := t.ReleaseDefinition.Delete().Where(releasedefinition.ID(d.ID), releasedefinition.DeletedAtNotNil()).Exec(t.ctx)
		if err != nil {
			return fmt.Errorf("deleting definition: %w", err)
		}
		purged = n > 0
		return nil
	})
	if err != nil {
		return err
	}
	if purged {
		run.DefinitionsPurged++
		run.purgedIDs = append(run.purgedIDs, d.ID)
	}
	return nil
}

// pruneRecords deletes webhook deliveries, final outgoing-hook deliveries, final
// notifications, ended sessions and finished timers older than their retention, in batches.
func (e *Engine) pruneRecords(ctx context.Context, run *RetentionRun) error {
	now := e.clock.Now()
	days := func(n int) time.Time { return now.AddDate(0, 0, -n) }
	const batch = 500
	var errs []error
	loop := func(what string, step func(t *txn) (int, error), into *int) {
		for {
			var n int
			err := e.inTxConcurrent(ctx, func(t *txn) error {
				var err error
				n, err = step(t)
				return err
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("pruning %s: %w", what, err))
				return
			}
			if into != nil {
				*into += n
			}
			if n < batch || ctx.Err() != nil {
				return
			}
		}
	}
	loop("webhook deliveries", func(t *txn) (int, error) {
		ids, err := t.WebhookDelivery.Query().Where(webhookdelivery.CreatedAtLT(days(e.retention.WebhookDeliveryDays))).
			Limit(batch).IDs(t.ctx)
		if err != nil || len(ids) == 0 {
			return 0, err
		}
		if err := t.WebhookDelivery.Update().Where(webhookdelivery.RedeliveryOfIDIn(ids...)).ClearRedeliveryOfID().Exec(t.ctx); err != nil {
			return 0, err
		}
		if err := t.WebhookDelivery.Update().Where(webhookdelivery.IDIn(ids...)).ClearReleases().Exec(t.ctx); err != nil {
			return 0, err
		}
		return t.WebhookDelivery.Delete().Where(webhookdelivery.IDIn(ids...)).Exec(t.ctx)
	}, &run.WebhookDeliveriesPruned)
	loop("hook deliveries", func(t *txn) (int, error) {
		ids, err := t.HookDelivery.Query().Where(hookdelivery.StatusNEQ(hookdelivery.StatusPENDING),
			hookdelivery.UpdatedAtLT(days(e.retention.HookDeliveryDays))).Limit(batch).IDs(t.ctx)
		if err != nil || len(ids) == 0 {
			return 0, err
		}
		return t.HookDelivery.Delete().Where(hookdelivery.IDIn(ids...)).Exec(t.ctx)
	}, &run.HookDeliveriesPruned)
	loop("notifications", func(t *txn) (int, error) {
		ids, err := t.Notification.Query().Where(notification.StatusNEQ(notification.StatusPENDING),
			notification.UpdatedAtLT(days(e.retention.NotificationDays))).Limit(batch).IDs(t.ctx)
		if err != nil || len(ids) == 0 {
			return 0, err
		}
		return t.Notification.Delete().Where(notification.IDIn(ids...)).Exec(t.ctx)
	}, &run.NotificationsPruned)
	loop("sessions", func(t *txn) (int, error) {
		cutoff := days(e.retention.SessionDays)
		ids, err := t.Session.Query().Where(session.Or(session.ExpiresAtLT(cutoff), session.RevokedAtLT(cutoff))).
			Limit(batch).IDs(t.ctx)
		if err != nil || len(ids) == 0 {
			return 0, err
		}
		return t.Session.Delete().Where(session.IDIn(ids...)).Exec(t.ctx)
	}, &run.SessionsPruned)
	loop("finished timers", func(t *txn) (int, error) {
		// Finished timed work is kept as long as webhook deliveries, for the record.
		ids, err := t.Timer.Query().Where(timer.DoneAtLT(days(e.retention.WebhookDeliveryDays))).Limit(batch).IDs(t.ctx)
		if err != nil || len(ids) == 0 {
			return 0, err
		}
		return t.Timer.Delete().Where(timer.IDIn(ids...)).Exec(t.ctx)
	}, nil)
	return errors.Join(errs...)
}

// ensureRetentionTimer creates the retention loop's pending timer when there is none; in the
// engine's exclusive transaction, so replicas starting together create one.
func (e *Engine) ensureRetentionTimer(ctx context.Context) error {
	return e.inTx(ctx, func(t *txn) error {
		ok, err := t.Timer.Query().Where(timer.Kind(timerRetention), timer.DoneAtIsNil()).Exist(t.ctx)
		if err != nil || ok {
			return err
		}
		return t.Timer.Create().SetKind(timerRetention).SetTargetID(0).SetDueAt(t.now).SetCreatedAt(t.now).Exec(t.ctx)
	})
}

// RunRetentionIfDue runs retention when its persisted schedule is due and this engine claims
// it (a conditional update: of replicas that try at once, one runs); the run's end schedules
// the next after Interval. It reports whether it ran and when the next run is due.
func (e *Engine) RunRetentionIfDue(ctx context.Context) (bool, time.Time, error) {
	if err := e.ensureRetentionTimer(ctx); err != nil {
		return false, time.Time{}, err
	}
	now := e.clock.Now()
	tm, err := e.client.Timer.Query().Where(timer.Kind(timerRetention), timer.DoneAtIsNil()).
		Order(ent.Asc(timer.FieldDueAt)).First(ctx)
	if err != nil {
		return false, time.Time{}, fmt.Errorf("reading the retention schedule: %w", err)
	}
	next := tm.DueAt
	if tm.ClaimedUntil != nil && tm.ClaimedUntil.After(next) {
		next = *tm.ClaimedUntil
	}
	if next.After(now) {
		return false, next, nil
	}
	// The lease outlasts a long run; the run renews nothing, so a replica that died mid-run
	// is replaced after it, and a second runner is harmless (each deletion checks again).
	lease := max(e.retention.Interval, timerLease)
	n, err := e.client.Timer.Update().
		Where(timer.ID(tm.ID), timer.DoneAtIsNil(), timer.Or(timer.ClaimedUntilIsNil(), timer.ClaimedUntilLTE(now))).
		SetClaimedUntil(now.Add(lease)).AddAttempts(1).Save(ctx)
	if err != nil {
		return false, time.Time{}, fmt.Errorf("claiming the retention run: %w", err)
	}
	if n == 0 {
		return false, now.Add(lease), nil // another replica has it
	}
	_, runErr := e.runRetention(ctx, retentionActor)
	nextDue := e.clock.Now().Add(e.retention.Interval)
	err = e.inTx(context.WithoutCancel(ctx), func(t *txn) error {
		u := t.Timer.UpdateOneID(tm.ID).SetDoneAt(t.now)
		if runErr != nil {
			u.SetLastError(truncateText(runErr.Error(), 2000))
		}
		if err := u.Exec(t.ctx); err != nil {
			return fmt.Errorf("finishing the retention run: %w", err)
		}
		return t.Timer.Create().SetKind(timerRetention).SetTargetID(0).SetDueAt(nextDue).SetCreatedAt(t.now).Exec(t.ctx)
	})
	return true, nextDue, errors.Join(runErr, err)
}

// RunRetentionLoop runs retention on its persisted schedule until ctx ends; errors are logged
// here, the loop's boundary. It re-reads the schedule at least every Interval/4 (at most every
// minute), since another replica may have run it.
func (e *Engine) RunRetentionLoop(ctx context.Context) {
	log := e.log.With("loop", "retention")
	for {
		_, next, err := e.RunRetentionIfDue(ctx)
		if err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "running retention", "err", err)
		}
		wait := next.Sub(e.clock.Now())
		if err != nil || wait <= 0 {
			wait = 5 * time.Second
		}
		wait = min(wait, max(e.retention.Interval/4, time.Second), time.Minute)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
