package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/cairnhq/cairn/agent"
	"github.com/cairnhq/cairn/delivery"
	entagent "github.com/cairnhq/cairn/ent/agent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
)

// benchFanOut measures one deployment to many idle targets of a deployment group (maxParallel
// 100%): from the deployment's queued_at to the last target's job started (the server records
// its JobAccepted), beside n × the single-dispatch floor (queued → accepted p50 of one job on
// one idle agent, measured in the same run).
func benchFanOut(ctx context.Context, e *env, n, rounds int, r *report) error {
	sys := delivery.SystemActor("bench")
	single, err := runDispatch(ctx, e, "fanout-floor", 20, 3)
	if err != nil {
		return fmt.Errorf("single-dispatch floor: %w", err)
	}
	floor := single.accepted.pct(.5)
	if _, err := e.srv.Engine.SaveDeploymentGroup(ctx, sys, "fanout", "", nil); err != nil {
		return err
	}
	tok, _, err := e.srv.Engine.CreateTargetRegistration(ctx, sys, "fanout", n, 0)
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{}, n)
	defer func() {
		cancel()
		for range n {
			<-done
		}
	}()
	for i := range n {
		name := fmt.Sprintf("target-%03d", i)
		go func() {
			_ = agent.Run(actx, agent.Config{Server: e.http.URL, Token: tok, Name: name, Tags: []string{"web"},
				WorkDir: filepath.Join(e.dir, "targets", name), Logger: quiet})
			done <- struct{}{}
		}()
	}
	err = e.waitFor(ctx, func() bool {
		c, err := e.srv.Engine.Client().Agent.Query().Where(entagent.Online(true), entagent.HasDeploymentGroup()).Count(ctx)
		return err == nil && c == n
	})
	if err != nil {
		return fmt.Errorf("waiting for %d targets: %w", n, err)
	}
	def, err := e.createDefinition(`{name: "fanout", environments: [{name: "farm", trigger: {kind: AFTER_RELEASE},
	  phases: [{kind: DEPLOYMENT_GROUP, deploymentGroup: "fanout", tags: ["web"], maxParallel: "100%", skipArtifactDownload: true,
	    tasks: [{name: "t", script: "true"}]}]}]}`)
	if err != nil {
		return err
	}
	var spans dist
	for range rounds {
		rel, err := e.createRelease(def)
		if err != nil {
			return err
		}
		id, _ := strconv.Atoi(rel)
		d := new(struct{ id int })
		err = e.waitFor(ctx, func() bool {
			dep, err := e.srv.Engine.Client().Deployment.Query().Where(deployment.ReleaseID(id)).Only(ctx)
			if err != nil {
				return false
			}
			d.id = dep.ID
			return dep.Status == deployment.StatusSUCCEEDED || dep.Status == deployment.StatusFAILED
		})
		if err != nil {
			return fmt.Errorf("fan-out release %s: %w", rel, err)
		}
		dep := e.srv.Engine.Client().Deployment.GetX(ctx, d.id)
		if dep.Status != deployment.StatusSUCCEEDED || dep.QueuedAt == nil {
			return fmt.Errorf("fan-out deployment %d is %s (%s)", dep.ID, dep.Status, dep.StatusReason)
		}
		jobs, err := e.srv.Engine.Client().Job.Query().Where(job.DeploymentID(dep.ID)).All(ctx)
		if err != nil || len(jobs) != n {
			return fmt.Errorf("fan-out deployment %d has %d jobs (%v), want %d", dep.ID, len(jobs), err, n)
		}
		var last time.Time
		for _, j := range jobs {
			if j.StartedAt != nil && j.StartedAt.After(last) {
				last = *j.StartedAt
			}
		}
		spans = append(spans, last.Sub(*dep.QueuedAt))
	}
	slices.Sort(spans)
	med := spans.pct(.5)
	r.add(row{metric: fmt.Sprintf("fan-out: one deployment to %d idle targets, queued → every target's job started, median of %d", n, rounds),
		value: ms(med), floor: fmt.Sprintf("%d × single dispatch p50 %s = %s", n, ms(floor), ms(time.Duration(n)*floor)),
		ratio: ratio(float64(med), float64(time.Duration(n)*floor))})
	r.note("Fan-out: %d targets (agent.Run in this process, each its own work directory) of one deployment group, a deployment-group phase with maxParallel 100%%; time from the deployment's queued_at to the last target's job RUNNING (the server recorded its JobAccepted). The floor is %d × the p50 of queued → accepted of one job on one idle agent, measured in the same run (20 jobs after 3 warm-up).", n, n)
	return nil
}
