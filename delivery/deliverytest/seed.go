// Package deliverytest seeds the rows that tests of job dispatch need (definition, release,
// release environment, deployment, job) directly with ent, standing in for the release engine.
package deliverytest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
	"github.com/cairnhq/cairn/ent/schema/spec"
)

// JobOptions describe a seeded job.
type JobOptions struct {
	Demands []string
	Tasks   []spec.Task
	// TimeoutMinutes is the job's timeout.
	TimeoutMinutes int
	// QueuedAt orders queued jobs (default: now + a counter, so seeding order is queue order).
	QueuedAt time.Time
	// Variables are the definition's variables; EnvVariables the environment's; Overrides the release's.
	Variables, EnvVariables, Overrides []spec.Variable
	// Status is the deployment's status (default QUEUED).
	Status deployment.Status
}

var counter atomic.Int64

// Seeded are the rows of one seeded job.
type Seeded struct {
	Definition *ent.ReleaseDefinition
	Release    *ent.Release
	Env        *ent.ReleaseEnvironment
	Deployment *ent.Deployment
	Job        *ent.Job
}

// Job seeds a definition, a release, its environment "prod", a QUEUED deployment and its QUEUED
// job.
func Job(t testing.TB, c *ent.Client, o JobOptions) Seeded {
	t.Helper()
	ctx := context.Background()
	n := counter.Add(1)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("seeding: %v", err)
		}
	}
	js := spec.JobSpec{Demands: o.Demands, Tasks: o.Tasks, TimeoutMinutes: o.TimeoutMinutes}
	snap := spec.DefinitionSnapshot{
		Name: fmt.Sprintf("app-%d", n), ReleaseNameFormat: "Release-$(rev:r)", Variables: o.Variables,
		Environments: []spec.EnvironmentSpec{{Name: "prod", Trigger: spec.Trigger{Kind: spec.TriggerManual}, Job: js, Variables: o.EnvVariables}},
	}
	def, err := c.ReleaseDefinition.Create().SetName(snap.Name).Save(ctx)
	must(err)
	rel, err := c.Release.Create().SetName(fmt.Sprintf("Release-%d", n)).SetNumber(1).SetDefinitionRevision(1).
		SetSnapshot(snap).SetReason(release.ReasonMANUAL).SetCreatedBy("alice").SetDefinitionID(def.ID).
		SetVariableOverrides(o.Overrides).Save(ctx)
	must(err)
	// The environment is QUEUED like its deployment, as the engine leaves it
	// when it queues a job.
	env, err := c.ReleaseEnvironment.Create().SetName("prod").SetRank(1).SetReleaseID(rel.ID).
		SetDefinitionID(def.ID).SetStatus(releaseenvironment.StatusQUEUED).Save(ctx)
	must(err)
	status := o.Status
	if status == "" {
		status = deployment.StatusQUEUED
	}
	dep, err := c.Deployment.Create().SetAttempt(1).SetOperation(deployment.OperationDEPLOY).SetStatus(status).
		SetRequestedBy("alice").SetEnvironmentName("prod").SetReleaseID(rel.ID).SetReleaseEnvironmentID(env.ID).
		SetDefinitionID(def.ID).Save(ctx)
	must(err)
	queued := o.QueuedAt
	if queued.IsZero() {
		queued = time.Now().UTC().Add(time.Duration(n) * time.Millisecond)
	}
	j, err := c.Job.Create().SetDemands(o.Demands).SetSpec(js).SetQueuedAt(queued).SetDeploymentID(dep.ID).Save(ctx)
	must(err)
	return Seeded{Definition: def, Release: rel, Env: env, Deployment: dep, Job: j}
}
