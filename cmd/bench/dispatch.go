package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cairnhq/cairn/agentproto"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	entagent "github.com/cairnhq/cairn/ent/agent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/jobstep"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/internal/jobstages"
)

// dispatchDefinition creates the one-environment definition of the dispatch runs: its job
// demands the capability only the benchmark's real agent has, and its task writes $EPOCHREALTIME
// to a file named after the job.
func dispatchDefinition(e *env, name, stamps string) (string, error) {
	return e.createDefinition(`{name: ` + strconv.Quote(name) + `, variables: [{name: "STAMPS", value: ` + strconv.Quote(stamps) + `}],
	  environments: [{name: "dev", trigger: {kind: AFTER_RELEASE}, job: {skipArtifactDownload: true, demands: ["bench -equals runner"],
	    tasks: [{name: "stamp", shell: "bash", script: "echo \"$EPOCHREALTIME\" > \"$STAMPS/$RELEASE_JOBID\""}]}}]}`)
}

// dispatchTimes are the per-job times of a dispatch run, from each job's queued_at (fromCommit:
// from the job.queued event's publication).
type dispatchTimes struct {
	claimed, accepted, stepStarted, running, fromCommit dist
	// stages are the per-stage times (-stages), runtime what the Go runtime says of the run.
	stages  *stageTimes
	runtime string
}

// runDispatch queues n jobs (after warmup uncounted ones) one after the other and collects
// their times.
func runDispatch(ctx context.Context, e *env, name string, n, warmup int) (dispatchTimes, error) {
	var out dispatchTimes
	stamps := filepath.Join(e.dir, "stamps-"+name)
	if err := os.MkdirAll(stamps, 0o700); err != nil {
		return out, err
	}
	def, err := dispatchDefinition(e, name, stamps)
	if err != nil {
		return out, err
	}
	var releases []string
	published := map[string]time.Time{}
	var before runtimeSample
	for i := range n + warmup {
		if i == warmup {
			before = sampleRuntime()
		}
		rel, queued, err := e.runRelease(ctx, def, 1)
		if err != nil {
			return out, fmt.Errorf("release %d: %w", i+1, err)
		}
		if i >= warmup {
			releases = append(releases, rel)
			published[rel] = queued
		}
	}
	out.runtime = describeRuntime(before, sampleRuntime())
	if jobstages.Enabled() {
		out.stages = newStageTimes()
	}
	for _, rel := range releases {
		j, err := jobOf(ctx, e, rel, "dev")
		if err != nil {
			return out, err
		}
		if j.Status != job.StatusSUCCEEDED || j.AssignedAt == nil {
			return out, fmt.Errorf("job %d is %s (%s)", j.ID, j.Status, j.ResultReason)
		}
		step, err := e.srv.Engine.Client().JobStep.Query().Where(jobstep.JobID(j.ID), jobstep.Position(1)).Only(ctx)
		if err != nil || step.StartedAt == nil {
			return out, fmt.Errorf("step of job %d: %v", j.ID, err)
		}
		b, err := os.ReadFile(filepath.Join(stamps, strconv.Itoa(j.ID)))
		if err != nil {
			return out, err
		}
		at, err := parseEpoch(strings.TrimSpace(string(b)))
		if err != nil {
			return out, err
		}
		out.claimed = append(out.claimed, j.AssignedAt.Sub(j.QueuedAt))
		if j.StartedAt != nil {
			out.accepted = append(out.accepted, j.StartedAt.Sub(j.QueuedAt))
		}
		out.stepStarted = append(out.stepStarted, step.StartedAt.Sub(j.QueuedAt))
		out.running = append(out.running, at.Sub(j.QueuedAt))
		out.fromCommit = append(out.fromCommit, at.Sub(published[rel]))
		if out.stages != nil {
			out.stages.add(j.ID, map[string]time.Time{"queued_at": j.QueuedAt, "process started": *step.StartedAt, "first command": at})
		}
	}
	return out, nil
}

// benchDispatch queues n jobs one after the other (each a release of a one-environment
// definition) on an idle agent and measures, per job, queued → claimed, queued → the agent
// starts the task step, and queued → the task's first command runs (it writes $EPOCHREALTIME).
func benchDispatch(ctx context.Context, e *env, n int, r *report) error {
	const warmup = 5
	d, err := runDispatch(ctx, e, "dispatch", n, warmup)
	if err != nil {
		return err
	}
	claimed, accepted, stepStarted, running, fromCommit := d.claimed, d.accepted, d.stepStarted, d.running, d.fromCommit
	fork := floorForkExec.pct(.5)
	r.add(row{metric: fmt.Sprintf("dispatch: queued → claimed for the agent, p50 / p99 (%d jobs)", len(claimed)),
		value: ms(claimed.pct(.5)) + " / " + ms(claimed.pct(.99))})
	r.add(row{metric: "dispatch: queued → server records the agent's JobAccepted, p50 / p99",
		value: ms(accepted.pct(.5)) + " / " + ms(accepted.pct(.99))})
	r.add(row{metric: "dispatch: queued → task process started (the agent's StepStarted, stamped once fork/exec returned), p50 / p99",
		value: ms(stepStarted.pct(.5)) + " / " + ms(stepStarted.pct(.99)),
		floor: "fork/exec p50 " + ms(fork), ratio: ratio(float64(stepStarted.pct(.5)), float64(fork)) + " / " + ratio(float64(stepStarted.pct(.99)), float64(fork)),
		target: "p50 < 5 ms, p99 < 25 ms", verdict: verdict(stepStarted.pct(.5) < 5*time.Millisecond && stepStarted.pct(.99) < 25*time.Millisecond)})
	bash := floorBashStart.pct(.5)
	r.add(row{metric: "dispatch: queued → task's first command runs (bash started), p50 / p99",
		value: ms(running.pct(.5)) + " / " + ms(running.pct(.99)),
		floor: "bash start p50 " + ms(bash), ratio: ratio(float64(running.pct(.5)), float64(bash)) + " / " + ratio(float64(running.pct(.99)), float64(bash)),
		target: "p50 < 5 ms, p99 < 25 ms", verdict: verdict(running.pct(.5) < 5*time.Millisecond && running.pct(.99) < 25*time.Millisecond)})
	r.add(row{metric: "dispatch: queue event published (after commit) → task's first command runs, p50 / p99",
		value: ms(fromCommit.pct(.5)) + " / " + ms(fromCommit.pct(.99)),
		floor: "bash start p50 " + ms(bash), ratio: ratio(float64(fromCommit.pct(.5)), float64(bash)) + " / " + ratio(float64(fromCommit.pct(.99)), float64(bash)),
		target: "p50 < 5 ms, p99 < 25 ms", verdict: verdict(fromCommit.pct(.5) < 5*time.Millisecond && fromCommit.pct(.99) < 25*time.Millisecond)})
	r.note("Dispatch: %d jobs one after the other on one idle agent (max 1 job), each queued by a release of a one-environment definition; times from the job's queued_at (server clock) to the job's claim, to the agent's StepStarted timestamp of the task, and to `$EPOCHREALTIME` printed by the task's first command (same machine clock). queued_at is the clock when the job row is written, near the end of the release's transaction (after it froze the definition and created the environments; before the deployment update, audit, event and commit); the last row starts when the job.queued event is published after commit, which is when any dispatcher can first see the job. The agent's StepStarted is stamped as soon as fork/exec of the task's shell returned; the first command adds the shell's own start-up (see the bash floor). Server, agent and benchmark share the machine's 2 cores, as with `cairn --dev`; in production the agent runs elsewhere. The first %d jobs are warm-up and not counted. Go runtime during the counted jobs: %s.", len(claimed), warmup, d.runtime)
	if d.stages != nil {
		d.stages.print(os.Stdout, "Dispatch, one idle agent")
	}
	return nil
}

// benchDispatchCrowd repeats the dispatch run with crowd other agents connected and idle, none
// of which meets the job's demands, and backlog jobs queued that no agent meets (they wait, and
// every dispatch round explains why): what a busy installation's dispatcher pays per queued job
// for agents and jobs that do not concern it.
func benchDispatchCrowd(ctx context.Context, e *env, crowd, backlog, n int, r *report) error {
	reg, _, err := e.srv.Engine.CreateAgentRegistration(ctx, delivery.SystemActor("bench"), "", crowd, 0)
	if err != nil {
		return err
	}
	conns, err := connectIdleAgents(ctx, e.http.URL, reg, "crowd", crowd, agentproto.AgentPingAfter)
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	if err != nil {
		return fmt.Errorf("connecting the crowd: %w", err)
	}
	if err := e.waitFor(ctx, func() bool {
		online, err := e.srv.Engine.Client().Agent.Query().Where(entagent.Online(true)).Count(ctx)
		return err == nil && online >= crowd+1
	}); err != nil {
		return fmt.Errorf("waiting for the crowd to be online: %w", err)
	}
	stuck, err := queueBacklog(ctx, e, backlog)
	if err != nil {
		return fmt.Errorf("queueing the backlog: %w", err)
	}
	d, err := runDispatch(ctx, e, "dispatch-crowd", n, 5)
	if err != nil {
		return err
	}
	for _, dep := range stuck { // leave the queue empty for the benchmarks that follow
		if err := e.gql(`mutation($d: ID!) { cancelDeployment(deploymentId: $d, comment: "bench backlog") { id } }`,
			map[string]any{"d": strconv.Itoa(dep)}, nil); err != nil {
			return fmt.Errorf("canceling the backlog: %w", err)
		}
	}
	fork := floorForkExec.pct(.5)
	r.add(row{metric: fmt.Sprintf("dispatch with %d other agents online and idle, none meeting the job's demands, and %d jobs waiting that no agent meets: queued → claimed, p50 / p99 (%d jobs)", crowd, backlog, len(d.claimed)),
		value: ms(d.claimed.pct(.5)) + " / " + ms(d.claimed.pct(.99))})
	r.add(row{metric: fmt.Sprintf("dispatch with %d other agents online and %d jobs waiting: queued → task process started, p50 / p99", crowd, backlog),
		value: ms(d.stepStarted.pct(.5)) + " / " + ms(d.stepStarted.pct(.99)),
		floor: "fork/exec p50 " + ms(fork), ratio: ratio(float64(d.stepStarted.pct(.5)), float64(fork)) + " / " + ratio(float64(d.stepStarted.pct(.99)), float64(fork)),
		target: "none set", verdict: "–"})
	r.note("Dispatch with other agents: the same run of %d jobs with %d lightweight agents also connected (registered, said hello with no capabilities, max 1 job, then idle with the heartbeat of agent.Run); the jobs demand `bench -equals runner`, which only the real agent has. %d more jobs wait in the queue throughout, demanding a capability no agent has (each dispatch round records why they wait); they are canceled afterwards. Go runtime during the counted jobs: %s.", len(d.claimed), crowd, backlog, d.runtime)
	if d.stages != nil {
		d.stages.print(os.Stdout, fmt.Sprintf("Dispatch with %d other agents and %d waiting jobs", crowd, backlog))
	}
	return nil
}

// queueBacklog creates n releases whose job demands a capability no agent has, so that their jobs
// wait in the queue, and returns their deployments.
func queueBacklog(ctx context.Context, e *env, n int) ([]int, error) {
	if n == 0 {
		return nil, nil
	}
	def, err := e.createDefinition(`{name: "backlog", environments: [{name: "dev", trigger: {kind: AFTER_RELEASE},
	  job: {skipArtifactDownload: true, demands: ["gpu -equals nowhere"], tasks: [{name: "never", shell: "bash", script: "true"}]}}]}`)
	if err != nil {
		return nil, err
	}
	for range n {
		if _, err := e.createRelease(def); err != nil {
			return nil, err
		}
	}
	var deps []int
	err = e.waitFor(ctx, func() bool {
		jobs, err := e.srv.Engine.Client().Job.Query().Where(job.StatusEQ(job.StatusQUEUED)).All(ctx)
		if err != nil || len(jobs) < n {
			return false
		}
		deps = deps[:0]
		for _, j := range jobs {
			deps = append(deps, j.DeploymentID)
		}
		return true
	})
	return deps, err
}

// runRelease creates a release and waits until envs of its jobs finished. It also returns when
// the first job.queued event arrived (published after the release's commit).
func (e *env) runRelease(ctx context.Context, def string, envs int) (string, time.Time, error) {
	events, unsubscribe := e.srv.Events().Subscribe()
	defer func() { unsubscribe() }()
	var queued time.Time
	rel, err := e.createRelease(def)
	if err != nil {
		return "", queued, err
	}
	id, _ := strconv.Atoi(rel)
	finished := 0
	check := func() (bool, error) {
		n, err := e.srv.Engine.Client().Job.Query().Where(job.HasDeploymentWith(deployment.ReleaseID(id)),
			job.StatusIn(job.StatusSUCCEEDED, job.StatusFAILED, job.StatusCANCELED, job.StatusLOST)).Count(ctx)
		return n >= envs, err
	}
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok { // lagged: resubscribe and look at the database
				unsubscribe()
				events, unsubscribe = e.srv.Events().Subscribe()
				if done, err := check(); done || err != nil {
					return rel, queued, err
				}
				continue
			}
			if ev.Type == delivery.EventJobQueued && queued.IsZero() {
				queued = time.Now()
			}
			if ev.Type == delivery.EventJobFinished && ev.DeploymentID != 0 {
				finished++
				if finished >= envs {
					if done, err := check(); done || err != nil {
						return rel, queued, err
					}
				}
			}
		case <-deadline.C:
			return "", queued, fmt.Errorf("release %s: timed out", rel)
		case <-ctx.Done():
			return "", queued, ctx.Err()
		}
	}
}

// jobOf returns the job of a release's environment.
func jobOf(ctx context.Context, e *env, rel, envName string) (*ent.Job, error) {
	id, _ := strconv.Atoi(rel)
	return e.srv.Engine.Client().Job.Query().Where(job.HasDeploymentWith(deployment.ReleaseID(id),
		deployment.EnvironmentName(envName))).Only(ctx)
}

// benchPipeline runs n releases of dev → qa → prod (each after the previous, tasks `true`) and
// measures each from createRelease to prod finished.
func benchPipeline(ctx context.Context, e *env, n int, r *report) error {
	job := `{skipArtifactDownload: true, tasks: [{name: "deploy", shell: "bash", script: "true"}]}`
	def, err := e.createDefinition(`{name: "pipeline", environments: [
	  {name: "dev", trigger: {kind: AFTER_RELEASE}, job: ` + job + `},
	  {name: "qa", trigger: {kind: AFTER_ENVIRONMENTS, environments: ["dev"]}, job: ` + job + `},
	  {name: "prod", trigger: {kind: AFTER_ENVIRONMENTS, environments: ["qa"]}, job: ` + job + `}]}`)
	if err != nil {
		return err
	}
	var total dist
	for i := range n + 2 {
		t0 := time.Now()
		rel, _, err := e.runRelease(ctx, def, 3)
		if err != nil {
			return err
		}
		took := time.Since(t0)
		id, _ := strconv.Atoi(rel)
		got, err := e.srv.Engine.Client().Release.Query().Where(release.ID(id)).QueryEnvironments().All(ctx)
		if err != nil {
			return err
		}
		for _, env := range got {
			if env.Status != "SUCCEEDED" {
				return fmt.Errorf("release %s: %s is %s", rel, env.Name, env.Status)
			}
		}
		if i >= 2 {
			total = append(total, took)
		}
	}
	floor := 3 * floorForkExec.pct(.5)
	r.add(row{metric: fmt.Sprintf("release dev → qa → prod of `true` tasks, createRelease → prod done, p50 / p99 (%d releases)", n),
		value: ms(total.pct(.5)) + " / " + ms(total.pct(.99)),
		floor: "3 × fork/exec p50 " + ms(floor), ratio: ratio(float64(total.pct(.5)), float64(floor)),
		target: "none set", verdict: "–"})
	return nil
}
