package webhooktest

import (
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/releaseartifact"
	"github.com/cairnhq/cairn/ent/sourcecommit"
	"github.com/cairnhq/cairn/ent/timer"
	"github.com/cairnhq/cairn/integrations/enrich"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

func workItemKeys(t *testing.T, ev *env, releaseID int) []string {
	t.Helper()
	ws := ev.c.Release.GetX(ev.ctx, releaseID).QueryWorkItems().AllX(ev.ctx)
	var out []string
	for _, w := range ws {
		out = append(out, w.System+":"+w.ExternalID+":"+w.Title)
	}
	sort.Strings(out)
	return out
}

// TestJenkinsEnrichment: after a release, the enrichment reads the build's
// api/json (failing once first), stores every commit with its full message,
// the work items of the messages (AB#, configured Jira keys; not UTF-8) and
// the artifact files, and marks the artifact DONE.
func TestJenkinsEnrichment(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		build := mutate(t, fixture(t, "jenkins", "build_pipeline.json"), func(m map[string]any) {
			set := m["changeSets"].([]any)[0].(map[string]any)
			set["items"] = append(set["items"].([]any), map[string]any{
				"commitId": "c0ffee0000000000000000000000000000000001", "timestamp": 1736072500000,
				"msg": "Handle UTF-8 names", "comment": "Handle UTF-8 names\n\nFixes PROJ-7 and proj-8.\n",
				"author": map[string]any{"fullName": "Carol Diaz"},
			})
		})
		ev.ci.serve("/jenkins/job/acme/job/app/42/api/json", build)
		ev.define("shop", appSource)
		r := ev.postJenkins(fixture(t, "jenkins", "notification_completed.json"))
		if r.Status != 201 {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		relID := r.Body.Releases[0]
		// Other replicas' enrichment loops learn of the queued work from this transient event.
		if n := ev.events.count(delivery.EventEnrichmentQueued); n != 1 {
			t.Fatalf("%d %s events after the release, want 1", n, delivery.EventEnrichmentQueued)
		}
		f := &enrich.Fetcher{HTTP: &http.Client{Timeout: 5 * time.Second}, JiraKeys: []string{"PROJ", "SHOP"}}

		ev.ci.failNext(1)
		if n, err := ev.e.RunDueEnrichments(ev.ctx, f); n != 0 || err == nil || !strings.Contains(err.Error(), "503") {
			t.Fatalf("first attempt: %d, %v", n, err)
		}
		a := ev.c.ReleaseArtifact.Query().OnlyX(ev.ctx)
		tm := ev.c.Timer.Query().Where(timer.Kind("artifact.enrich")).OnlyX(ev.ctx)
		if a.Enrichment != releaseartifact.EnrichmentPENDING || tm.DoneAt != nil || !tm.DueAt.After(t0) || tm.LastError == "" {
			t.Fatalf("after a failure: artifact %s, timer %+v", a.Enrichment, tm)
		}
		// Not due yet: nothing runs.
		if n, err := ev.e.RunDueEnrichments(ev.ctx, f); n != 0 || err != nil {
			t.Fatalf("before the backoff: %d, %v", n, err)
		}
		next, ok, err := ev.e.NextEnrichmentDue(ev.ctx)
		if err != nil || !ok || !next.Equal(tm.DueAt) {
			t.Fatalf("next due %v %v %v, want %v", next, ok, err, tm.DueAt)
		}
		ev.clk.Set(next)
		if n, err := ev.e.RunDueEnrichments(ev.ctx, f); n != 1 || err != nil {
			t.Fatalf("retry: %d, %v", n, err)
		}
		a = ev.c.ReleaseArtifact.Query().OnlyX(ev.ctx)
		if a.Enrichment != releaseartifact.EnrichmentDONE {
			t.Fatalf("artifact %s after the retry", a.Enrichment)
		}
		// The notification's archive URLs are kept; the api/json paths
		// only fill an empty list.
		if len(a.Files) != 2 {
			t.Fatalf("files %v", a.Files)
		}
		commits := ev.c.SourceCommit.Query().Where(sourcecommit.ReleaseID(relID)).Order(ent.Asc(sourcecommit.FieldSha)).AllX(ev.ctx)
		if len(commits) != 4 {
			t.Fatalf("%d commits, want 4", len(commits))
		}
		var health *ent.SourceCommit
		for _, c := range commits {
			if c.Sha == "5d3a1f0c9b8e7d6c5b4a39281706f5e4d3c2b1a0" {
				health = c
			}
		}
		if health == nil || health.Message != "Add health endpoint AB#1234\n\nThe load balancer needs /healthz." ||
			health.Author != "Alice Martin" || health.AuthoredAt == nil || health.Alias != "app" {
			t.Fatalf("commit %+v", health)
		}
		got := strings.Join(workItemKeys(t, ev, relID), " ")
		if got != "AZURE_BOARDS:1234: JIRA:PROJ-7: JIRA:SHOP-77:" {
			t.Fatalf("work items %q", got)
		}
		if tm := ev.c.Timer.GetX(ev.ctx, tm.ID); tm.DoneAt == nil || tm.Attempts != 2 {
			t.Fatalf("timer %+v", tm)
		}
		if _, ok, _ := ev.e.NextEnrichmentDue(ev.ctx); ok {
			t.Fatal("enrichment still pending")
		}
		// A second build with the same work item links the same row.
		body := mutate(t, fixture(t, "jenkins", "notification_completed.json"), func(m map[string]any) {
			b := obj(m, "build")
			b["number"], b["full_url"], b["url"] = 43, "https://ci.example.com/jenkins/job/acme/job/app/43/", "job/acme/job/app/43/"
			delete(b, "artifacts")
		})
		ev.ci.serve("/jenkins/job/acme/job/app/43/api/json", mutate(t, fixture(t, "jenkins", "build_pipeline.json"), func(m map[string]any) { m["number"] = 43 }))
		r = ev.postJenkins(body)
		if n, err := ev.e.RunDueEnrichments(ev.ctx, f); r.Status != 201 || n != 1 || err != nil {
			t.Fatalf("second build: %d %s; %d %v", r.Status, r.Raw, n, err)
		}
		if n := ev.c.WorkItem.Query().CountX(ev.ctx); n != 3 {
			t.Fatalf("%d work item rows, want 3", n)
		}
		a43 := ev.c.ReleaseArtifact.Query().Where(releaseartifact.ReleaseID(r.Body.Releases[0])).OnlyX(ev.ctx)
		if strings.Join(a43.Files, ",") != "dist/app-linux-amd64.tar.gz,dist/app.sbom.json" {
			t.Fatalf("files from api/json: %v", a43.Files)
		}
		rep, err := ev.e.VerifyAuditChain(ev.ctx, ev.editor)
		if err != nil || !rep.OK {
			t.Fatalf("audit chain %+v %v", rep, err)
		}
	})
}

// TestTeamBuildEnrichment reads the build, its changes, work items (one
// that cannot be read stays listed by id) and artifacts from Azure DevOps.
func TestTeamBuildEnrichment(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		base := "/fabrikam/Shop/_apis/build/builds/1021"
		ev.ci.serve(base, fixture(t, "teambuild", "api_build.json"))
		ev.ci.serve(base+"/changes", fixture(t, "teambuild", "api_changes.json"))
		ev.ci.serve(base+"/workitems", fixture(t, "teambuild", "api_workitems.json"))
		ev.ci.serve(base+"/artifacts", fixture(t, "teambuild", "api_artifacts.json"))
		ev.ci.serve("/fabrikam/_apis/wit/workitems/1234", fixture(t, "teambuild", "api_workitem_1234.json"))
		ev.define("api", apiSource)
		r := ev.postTeamBuild(fixture(t, "teambuild", "build_complete_v2_succeeded.json"))
		if r.Status != 201 {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		f := &enrich.Fetcher{HTTP: &http.Client{Timeout: 5 * time.Second}}
		if n, err := ev.e.RunDueEnrichments(ev.ctx, f); n != 1 || err != nil {
			t.Fatalf("enrichment: %d %v", n, err)
		}
		relID := r.Body.Releases[0]
		got := strings.Join(workItemKeys(t, ev, relID), "|")
		if got != "AZURE_BOARDS:1233:|AZURE_BOARDS:1234:Expose a health endpoint for the load balancer" {
			t.Fatalf("work items %q", got)
		}
		w := ev.c.Release.GetX(ev.ctx, relID).QueryWorkItems().AllX(ev.ctx)
		for _, x := range w {
			if x.ExternalID == "1234" && (x.Type != "User Story" || x.State != "Resolved" || !strings.Contains(x.URL, "_workitems/edit/1234") ||
				strings.Join(x.Tags, "|") != "api|Release Blocker") {
				t.Fatalf("work item %+v", x)
			}
		}
		if n := ev.c.SourceCommit.Query().Where(sourcecommit.ReleaseID(relID)).CountX(ev.ctx); n != 2 {
			t.Fatalf("%d commits, want 2", n)
		}
		a := ev.c.ReleaseArtifact.Query().OnlyX(ev.ctx)
		if a.Enrichment != releaseartifact.EnrichmentDONE || len(a.Files) != 2 || !strings.HasPrefix(a.Files[0], "https://artprodweu5") {
			t.Fatalf("artifact %+v", a)
		}
		if !ev.ci.auth["Basic OmFkby1wYXQ="] && !ev.ci.auth["Basic c3ZjLWhvb2tzOmFkby1wYXQ="] {
			t.Fatalf("Azure DevOps not called with the PAT: %v", ev.ci.auth)
		}
	})
}
