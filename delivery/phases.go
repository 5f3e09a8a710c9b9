package delivery

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/agent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/deploymentgroup"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/schema/spec"
)

// This file decides what runs next in a deployment's phases (doc.go, "Phases and manual
// interventions"; docs/decisions.md, "Phases, pools and deployment groups"). An environment's
// phases (spec.EnvironmentSpec.DeployPhases: its phases, or its job read as phases) unfold into
// steps, numbered by Job.phase and ManualIntervention.phase: an agent phase is one step (one
// job), a deployment-group phase one step (a job per target), a server phase one step per
// enabled manual intervention or INVOKE_REST_API task (servercall.go). Each step runs when its phase's condition holds given whether an
// earlier step failed (Deployment.phase_failure); after the last, a deployment without a
// failure goes on to its post-deployment stage and one with a failure fails with it.

// phase is one step of a deployment's phases.
type phase struct {
	spec spec.PhaseSpec
	// intervention is the manual intervention of a server phase's step; nil otherwise.
	intervention *spec.Task
	// call is the INVOKE_REST_API task of a server phase's step; nil otherwise.
	call *spec.Task
	// job is the work of an agent or deployment-group step: the phase's tasks and settings.
	job spec.JobSpec
}

// targets reports whether the step runs on the targets of a deployment group.
func (p phase) targets() bool { return p.spec.KindOrDefault() == spec.PhaseDeploymentGroup }

// phasesOfEnv unfolds an environment's phases into steps.
func phasesOfEnv(env *spec.EnvironmentSpec) []phase {
	var out []phase
	for _, ps := range env.DeployPhases() {
		if ps.KindOrDefault() == spec.PhaseServer {
			for _, t := range ps.Tasks {
				switch {
				case t.Disabled:
				case t.IsManualIntervention():
					mi := t
					out = append(out, phase{spec: ps, intervention: &mi})
				case t.Kind == spec.TaskInvokeRESTAPI && t.HTTP != nil:
					call := t
					out = append(out, phase{spec: ps, call: &call})
				}
			}
			continue
		}
		out = append(out, phase{spec: ps, job: spec.JobSpec{
			Demands: ps.Demands, Tasks: ps.Tasks, TimeoutMinutes: ps.TimeoutMinutes,
			SkipArtifactDownload: ps.SkipArtifactDownload, SecureFiles: ps.SecureFiles,
		}})
	}
	return out
}

// phasesOf splits a job spec's tasks at their enabled manual interventions (an environment
// without phases).
func phasesOf(js spec.JobSpec) []phase {
	return phasesOfEnv(&spec.EnvironmentSpec{Job: js})
}

// conditionHolds reports whether a step with condition cond runs, given whether an earlier
// step failed.
func conditionHolds(cond string, failed bool) bool {
	switch strings.ToUpper(cond) {
	case spec.PhaseRunAlways:
		return true
	case spec.PhaseRunFailed:
		return failed
	}
	return !failed
}

// startPhase starts the first step from k on whose condition holds: its job, its targets' jobs
// or its manual intervention. Past the last step the deployment fails with its phase failure,
// or, without one, goes on to its post-deployment stage. The first step starts when the queue
// gives the deployment its slot (pumpQueue); each later one when the one before it ended
// (FinishJob, a deployment-group phase's last target, a resumed intervention).
func (t *txn) startPhase(actor Actor, dc *deployCtx, k int) error {
	ps := phasesOfEnv(dc.env)
	failed := dc.d.PhaseFailure != ""
	for k < len(ps) && !conditionHolds(ps[k].spec.ConditionOrDefault(), failed) {
		k++
	}
	if k >= len(ps) {
		if dc.d.Status == deployment.StatusQUEUED {
			// No step ran (every condition was false): the deployment starts and ends here.
			if err := t.startWithoutAgent(dc); err != nil {
				return err
			}
		}
		if failed {
			return t.finishDeployment(actor, dc, DeploymentFail, dc.d.PhaseFailure)
		}
		if err := t.moveDeployment(actor, dc, DeploymentCompleteJob, "", nil); err != nil {
			return err
		}
		if err := t.moveEnvironment(actor, dc, EnvironmentCompleteJob); err != nil {
			return err
		}
		return t.openPostStage(actor, dc)
	}
	p := ps[k]
	t.landed++ // the deployment takes (or keeps) a slot: forwardOnly's answers may change
	switch {
	case p.intervention != nil:
		return t.openIntervention(actor, dc, k, *p.intervention)
	case p.call != nil:
		return t.startServerCall(dc, k)
	case p.targets():
		return t.startTargets(actor, dc, k, p)
	}
	var base int64
	if k > 0 || t.fresh[dc.d.ID] == nil { // a deployment created in this transaction has no job yet
		var err error
		if base, err = t.logHighWater(dc.d.ID); err != nil {
			return err
		}
	}
	return t.createJob(actor, dc, k, p, base)
}

// startWithoutAgent moves a QUEUED deployment and its environment to IN_PROGRESS with no agent
// involved (a manual intervention first, or no step to run).
func (t *txn) startWithoutAgent(dc *deployCtx) error {
	if err := t.moveDeployment(interventionActor, dc, DeploymentStart, "", func(u *ent.DeploymentUpdateOne) {
		u.SetStartedAt(t.now)
		if dc.d.QueuedAt == nil {
			u.SetQueuedAt(t.now)
		}
	}); err != nil {
		return err
	}
	return t.moveEnvironment(interventionActor, dc, EnvironmentStart)
}

// phaseFailed records that step k failed (the first failure's reason is kept) and goes on
// with the steps after it that run after a failure (condition ALWAYS or FAILED); without any,
// the deployment fails with the reason.
func (t *txn) phaseFailed(actor Actor, dc *deployCtx, k int, reason string) error {
	if dc.d.PhaseFailure == "" {
		d, err := t.Deployment.UpdateOne(dc.d).Where(deployment.Version(dc.d.Version)).
			SetPhaseFailure(truncateText(reason, maxActionComment)).AddVersion(1).SetUpdatedAt(t.now).Save(t.ctx)
		if ent.IsNotFound(err) {
			return Conflict("deployment %d changed concurrently; read it again", dc.d.ID)
		}
		if err != nil {
			return fmt.Errorf("recording the failure of deployment %d: %w", dc.d.ID, err)
		}
		dc.d = d
	}
	return t.startPhase(actor, dc, k+1)
}

// ParseShare reads a maxParallel or failureThreshold value: a count ("2") or a percentage
// ("50%", 0 to 100). It returns the count, or the percentage with pct set.
func ParseShare(s string) (n int, pct bool, err error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || v < 0 || v > 100 {
			return 0, true, fmt.Errorf("%q is not a percentage from 0%% to 100%%", s)
		}
		return v, true, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || v > 100000 {
		return 0, false, fmt.Errorf("%q is not a count (0 or more) or a percentage such as \"50%%\"", s)
	}
	return v, false, nil
}

// shareOf applies a share to n targets: a count as it is, a percentage of n rounded up (up) or
// down. An empty or unreadable share (validation refuses those) is def.
func shareOf(s string, n int, up bool, def int) int {
	if strings.TrimSpace(s) == "" {
		return def
	}
	v, pct, err := ParseShare(s)
	if err != nil {
		return def
	}
	if !pct {
		return v
	}
	f := float64(n) * float64(v) / 100
	if up {
		return int(math.Ceil(f))
	}
	return int(math.Floor(f + 1e-9))
}

// hasTags reports whether a target's tags include every wanted one (case-insensitive).
func hasTags(have, want []string) bool {
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, w) }) {
			return false
		}
	}
	return true
}

// startTargets starts deployment-group step k: one job per target of the group that has the
// phase's tags (and, for a failedTargetsOnly redeploy, is among the deployment's OnlyTargets),
// created held; a target offline now is SKIPPED (reported with its reason) unless the phase
// waits for offline targets. releaseTargets then lets maxParallel of them go.
func (t *txn) startTargets(actor Actor, dc *deployCtx, k int, p phase) error {
	name := p.spec.DeploymentGroup
	g, err := t.DeploymentGroup.Query().Where(deploymentgroup.NameEqualFold(name)).Only(t.ctx)
	if ent.IsNotFound(err) {
		return t.phaseFailed(actor, dc, k, fmt.Sprintf("deployment group %s no longer exists", name))
	}
	if err != nil {
		return fmt.Errorf("reading deployment group %q: %w", name, err)
	}
	all, err := t.Agent.Query().Where(agent.DeploymentGroupID(g.ID), agent.Enabled(true)).
		Order(ent.Asc(agent.FieldName)).All(t.ctx)
	if err != nil {
		return fmt.Errorf("reading targets of %s: %w", g.Name, err)
	}
	var targets []*ent.Agent
	for _, a := range all {
		if hasTags(a.Tags, p.spec.Tags) && (len(dc.d.OnlyTargets) == 0 || slices.Contains(dc.d.OnlyTargets, a.Name)) {
			targets = append(targets, a)
		}
	}
	if len(targets) == 0 {
		what := "no enabled target"
		if len(p.spec.Tags) > 0 {
			what += " tagged " + strings.Join(p.spec.Tags, ", ")
		}
		if len(dc.d.OnlyTargets) > 0 {
			what += " among " + strings.Join(dc.d.OnlyTargets, ", ")
		}
		return t.phaseFailed(actor, dc, k, fmt.Sprintf("deployment group %s has %s", g.Name, what))
	}
	queuedAt := t.e.clock.Now()
	demands := jobDemands(p.job)
	for _, a := range targets {
		j, err := t.Job.Create().SetDeploymentID(dc.d.ID).SetPhase(k).SetTarget(a.Name).SetTargetAgentID(a.ID).
			SetDemands(demands).SetSpec(p.job).SetQueuedAt(queuedAt).SetCreatedAt(t.now).SetUpdatedAt(t.now).
			SetStatus(job.StatusQUEUED).SetHeld(true).Save(t.ctx)
		if err != nil {
			return fmt.Errorf("storing the job of target %s: %w", a.Name, err)
		}
		if !a.Online && p.spec.OfflineTargets != spec.OfflineWait {
			if _, err := t.moveJob(actor, dc, j, JobSkip, "skipped: the target was offline when the phase started", nil); err != nil {
				return err
			}
		}
	}
	if dc.d.QueuedAt == nil {
		d, err := t.Deployment.UpdateOne(dc.d).SetQueuedAt(queuedAt).AddVersion(1).Save(t.ctx)
		if err != nil {
			return fmt.Errorf("updating deployment %d: %w", dc.d.ID, err)
		}
		dc.d = d
	}
	return t.releaseTargets(actor, dc, k, p)
}

// releaseTargets moves deployment-group step k on after a change (its start, a target's job
// ending): while no more targets failed than the phase's failure threshold allows, held jobs
// are released until maxParallel run; past the threshold the held ones are SKIPPED. When no
// job of the step is left to run, the step ends: failed (naming the failed and never started
// targets) past the threshold, else the next step starts.
func (t *txn) releaseTargets(actor Actor, dc *deployCtx, k int, p phase) error {
	jobs, err := t.Job.Query().Where(job.DeploymentID(dc.d.ID), job.Phase(k), job.TargetNEQ("")).
		Order(ent.Asc(job.FieldTarget)).All(t.ctx)
	if err != nil {
		return fmt.Errorf("reading the targets of deployment %d: %w", dc.d.ID, err)
	}
	n := len(jobs)
	maxPar := max(shareOf(p.spec.MaxParallel, n, true, 1), 1)
	threshold := shareOf(p.spec.FailureThreshold, n, false, 0)
	var failed, skipped []string
	var held []*ent.Job
	running := 0
	for _, j := range jobs {
		switch {
		case j.Status == job.StatusFAILED || j.Status == job.StatusLOST || j.Status == job.StatusCANCELED:
			failed = append(failed, j.Target)
		case j.Status == job.StatusSKIPPED:
			skipped = append(skipped, j.Target)
		case j.Status == job.StatusQUEUED && j.Held:
			held = append(held, j)
		case jobActive(j.Status):
			running++
		}
	}
	over := len(failed) > threshold
	var notStarted []string
	if over {
		why := fmt.Sprintf("not started: %d of %d targets failed (%s), more than the %d allowed",
			len(failed), n, strings.Join(failed, ", "), threshold)
		for _, j := range held {
			if _, err := t.moveJob(actor, dc, j, JobSkip, why, nil); err != nil {
				return err
			}
			notStarted = append(notStarted, j.Target)
		}
		held = nil
	}
	for len(held) > 0 && running < maxPar {
		j := held[0]
		held = held[1:]
		if err := t.Job.UpdateOne(j).SetHeld(false).SetQueuedAt(t.e.clock.Now()).AddVersion(1).SetUpdatedAt(t.now).Exec(t.ctx); err != nil {
			return fmt.Errorf("releasing the job of target %s: %w", j.Target, err)
		}
		running++
		ev := dc.event(EventJobQueued, actor)
		ev.JobID, ev.Status = j.ID, string(job.StatusQUEUED)
		if err := t.emit(ev); err != nil {
			return err
		}
	}
	if running > 0 || len(held) > 0 {
		return nil
	}
	if over {
		reason := fmt.Sprintf("deployment group %s: %d of %d targets failed (%s), more than the %d allowed",
			p.spec.DeploymentGroup, len(failed), n, strings.Join(failed, ", "), threshold)
		if len(notStarted) > 0 {
			reason += "; not started: " + strings.Join(notStarted, ", ")
		}
		if len(skipped) > len(notStarted) {
			reason += "; skipped (offline): " + strings.Join(slices.DeleteFunc(skipped, func(s string) bool { return slices.Contains(notStarted, s) }), ", ")
		}
		return t.phaseFailed(actor, dc, k, reason)
	}
	if dc.d.Status == deployment.StatusQUEUED {
		// Every target was skipped: the deployment never started a job.
		if err := t.startWithoutAgent(dc); err != nil {
			return err
		}
	}
	return t.startPhase(actor, dc, k+1)
}

// targetJobEnded moves a deployment on after the job of one of its targets ended: a canceled
// deployment ends when its last running target reports; otherwise the step may release more
// targets or end (releaseTargets).
func (t *txn) targetJobEnded(actor Actor, dc *deployCtx, j *ent.Job, canceling bool) error {
	if canceling {
		left, err := t.Job.Query().Where(job.DeploymentID(dc.d.ID), job.StatusIn(job.StatusASSIGNED, job.StatusRUNNING)).Exist(t.ctx)
		if err != nil {
			return fmt.Errorf("reading the running targets of deployment %d: %w", dc.d.ID, err)
		}
		if left {
			return nil // the last target to report ends it
		}
		why := dc.d.StatusReason
		if why == "" {
			why = "canceled"
		}
		return t.finishDeployment(actor, dc, DeploymentCancel, why)
	}
	ps := phasesOfEnv(dc.env)
	if j.Phase >= len(ps) || !ps[j.Phase].targets() {
		return fmt.Errorf("job %d: phase %d of deployment %d is not a deployment-group phase", j.ID, j.Phase, dc.d.ID)
	}
	return t.releaseTargets(actor, dc, j.Phase, ps[j.Phase])
}
