package delivery_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestHeldRowsMatchStoredRows: on PostgreSQL a new release's triggered deployments, their jobs
// and automated approvals are built in memory and inserted once (held.go) when the release name
// is its number between fixed strings; with a padded number ($(rev:rrr)) they are inserted and
// updated one by one as before. Both give the same rows, field by field (ids and the release's
// own fields aside), and a later read in the transaction (a second release's queue) sees them.
func TestHeldRowsMatchStoredRows(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		envs := func() []spec.EnvironmentSpec {
			return []spec.EnvironmentSpec{
				environment("dev", afterRelease),
				environment("qa", afterRelease, queue(spec.QueuePolicy{MaxParallel: 1})),
				environment("prod", manualOnly),
			}
		}
		held := snapshot("held", envs()...)
		plain := snapshot("plain", envs()...)
		plain.ReleaseNameFormat = "Release-$(rev:rrr)"
		rows := func(def int) map[string]string {
			out := map[string]string{}
			for _, build := range []string{"1", "2"} { // the second waits behind the first in qa
				rel := f.release(alice, def, build)
				for _, env := range []string{"dev", "qa", "prod"} {
					re, err := f.c.ReleaseEnvironment.Query().Where(releaseenvironment.ReleaseID(rel.ID), releaseenvironment.Name(env)).Only(f.ctx)
					if err != nil {
						t.Fatal(err)
					}
					key := build + "/" + env
					out[key+" environment"] = fmt.Sprintf("%s v%d", re.Status, re.Version)
					d, err := f.c.Deployment.Query().Where(deployment.ReleaseEnvironmentID(re.ID)).Only(f.ctx)
					if ent.IsNotFound(err) {
						out[key+" deployment"] = "none"
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					d.ID, d.ReleaseID, d.ReleaseEnvironmentID, d.DefinitionID = 0, 0, 0, 0
					d.Edges = ent.DeploymentEdges{}
					out[key+" deployment"] = asJSON(t, d)
					js, err := f.c.Deployment.Query().Where(deployment.ReleaseEnvironmentID(re.ID)).QueryJobs().All(f.ctx)
					if err != nil {
						t.Fatal(err)
					}
					for _, j := range js {
						j.ID, j.DeploymentID, j.Edges = 0, 0, ent.JobEdges{}
					}
					out[key+" jobs"] = asJSON(t, js)
					as, err := f.c.Deployment.Query().Where(deployment.ReleaseEnvironmentID(re.ID)).QueryApprovals().
						Order(ent.Asc(approval.FieldID)).All(f.ctx)
					if err != nil {
						t.Fatal(err)
					}
					for _, a := range as {
						a.ID, a.DeploymentID, a.ReleaseID, a.Edges = 0, 0, 0, ent.ApprovalEdges{}
					}
					out[key+" approvals"] = asJSON(t, as)
				}
			}
			return out
		}
		a, b := rows(f.definition(held)), rows(f.definition(plain))
		for k, v := range a {
			if b[k] != v {
				t.Errorf("%s:\n held %s\nplain %s", k, v, b[k])
			}
		}
		if len(a) != len(b) {
			t.Errorf("held %d rows, plain %d", len(a), len(b))
		}
		if a["1/qa jobs"] == "null" || a["1/qa jobs"] == "[]" || a["2/qa jobs"] != "[]" {
			t.Errorf("qa: release 1 should hold the one slot with a job and release 2 wait: %s / %s", a["1/qa jobs"], a["2/qa jobs"])
		}
		f.verifyChain()
	})
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
