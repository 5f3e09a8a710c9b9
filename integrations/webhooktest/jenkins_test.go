package webhooktest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/cairnhq/cairn/ent/releaseartifact"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// appSource follows the acme/app Pipeline job on main.
var appSource = spec.ArtifactSourceSpec{Alias: "app", Type: "JENKINS", Connection: jenkinsConnStr, Job: "acme/app",
	RepositoryURL: "https://github.com/acme/app", ContinuousDeployment: true, BranchFilters: []string{"main"}}

// TestJenkinsPhases replays QUEUED, STARTED, COMPLETED and FINALIZED of one
// build: one release, created by COMPLETED; FINALIZED is a duplicate.
func TestJenkinsPhases(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		ev.confirmJenkins("acme/app", 42, "SUCCESS", "dist/app-linux-amd64.tar.gz", "dist/app.sbom.json")
		defID := ev.define("shop", appSource)
		ev.define("unrelated", spec.ArtifactSourceSpec{Alias: "x", Type: "JENKINS", Connection: jenkinsConnStr, Job: "acme/other", ContinuousDeployment: true})
		for _, step := range []struct {
			file, result string
			status       int
			releases     int
		}{
			{"notification_queued.json", "IGNORED", http.StatusAccepted, 0},
			{"notification_started.json", "IGNORED", http.StatusAccepted, 0},
			{"notification_completed.json", "ACCEPTED", http.StatusCreated, 1},
			{"notification_finalized.json", "IGNORED", http.StatusAccepted, 0},
		} {
			r := ev.postJenkins(fixture(t, "jenkins", step.file))
			if r.Status != step.status || r.Body.Result != step.result || len(r.Body.Releases) != step.releases {
				t.Fatalf("%s: %d %s", step.file, r.Status, r.Raw)
			}
		}
		rels := ev.releases()
		if len(rels) != 1 {
			t.Fatalf("%d releases, want 1", len(rels))
		}
		rel := rels[0]
		if rel.DefinitionID != defID || rel.Reason != "CONTINUOUS_INTEGRATION" || rel.CreatedBy != "ci:ci" || rel.Partial {
			t.Fatalf("release %+v", rel)
		}
		a := rel.Edges.Artifacts[0]
		if a.BuildID != "42" || a.Branch != "main" || a.Commit != "9fceb02d0ae598e95dc970b74767f19372d61af8" ||
			a.Enrichment != releaseartifact.EnrichmentPENDING ||
			strings.Join(a.Files, ",") != "dist/app-linux-amd64.tar.gz,dist/app.sbom.json" ||
			a.BuildURL != ev.ci.srv.URL+"/jenkins/job/acme/job/app/42/" {
			t.Fatalf("artifact %+v", a)
		}
		ds := ev.deliveries()
		if len(ds) != 4 {
			t.Fatalf("%d deliveries, want 4", len(ds))
		}
		accepted := ds[2]
		if accepted.Result != "ACCEPTED" || accepted.Key == nil || *accepted.Key != "JENKINS/ci/acme%2Fapp/42" ||
			len(accepted.Edges.Releases) != 1 || accepted.ConnectionID == nil || *accepted.ConnectionID != ev.jenkins {
			t.Fatalf("accepted delivery %+v", accepted)
		}
		if dup := ds[3]; dup.Key != nil || dup.BuildKey != "JENKINS/ci/acme%2Fapp/42" ||
			dup.Reason != fmt.Sprintf("duplicate of delivery %d", accepted.ID) {
			t.Fatalf("duplicate delivery %+v", dup)
		}
		if !contains(ds[0].Reason, "QUEUED") || ds[0].StatusCode != 202 {
			t.Fatalf("queued delivery %+v", ds[0])
		}
		if n := ev.c.Timer.Query().CountX(ev.ctx); n != 1 {
			t.Fatalf("%d enrichment timers, want 1", n)
		}
		rep, err := ev.e.VerifyAuditChain(ev.ctx, ev.editor)
		if err != nil || !rep.OK {
			t.Fatalf("audit chain: %+v %v", rep, err)
		}
		if n := ev.c.AuditEvent.Query().Where().CountX(ev.ctx); n == 0 {
			t.Fatal("no audit events")
		}
	})
}

// TestJenkinsResultsAndFilters: results, partial opt-in, branch filters
// and unknown jobs decide which releases exist.
func TestJenkinsResultsAndFilters(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		ev.define("shop", appSource)
		strict := ev.define("login-strict", spec.ArtifactSourceSpec{Alias: "web", Type: "JENKINS", Connection: jenkinsConnStr,
			Job: "shop/feature%2Flogin", ContinuousDeployment: true})
		lenient := ev.define("login-lenient", spec.ArtifactSourceSpec{Alias: "web", Type: "JENKINS", Connection: jenkinsConnStr,
			Job: "shop/feature%2Flogin", ContinuousDeployment: true, AllowPartial: true, BranchFilters: []string{"feature/*"}})
		ev.define("nightly", spec.ArtifactSourceSpec{Alias: "n", Type: "JENKINS", Connection: jenkinsConnStr,
			Job: "nightly-report", ContinuousDeployment: true})
		ev.define("no-cd", spec.ArtifactSourceSpec{Alias: "app", Type: "JENKINS", Connection: jenkinsConnStr, Job: "acme/app"})
		ev.confirmJenkinsOn("feature/login", "shop/feature%2Flogin", 3, "UNSTABLE")
		ev.confirmJenkins("acme/app", 51, "UNSTABLE")
		ev.confirmJenkinsOn("refs/remotes/origin/feature/x", "acme/app", 53, "SUCCESS")
		ev.confirmJenkins("acme/app", 54, "SUCCESS")
		ev.confirmJenkinsOn("refs/remotes/origin/feature/evil", "acme/app", 55, "SUCCESS")

		// UNSTABLE multibranch build: only the source that allows partial builds releases it.
		r := ev.postJenkins(fixture(t, "jenkins", "notification_multibranch_unstable.json"))
		if r.Status != 201 || len(r.Body.Releases) != 1 || !contains(r.Body.Reason, "does not allow partial") {
			t.Fatalf("unstable: %d %s", r.Status, r.Raw)
		}
		rel := ev.c.Release.GetX(ev.ctx, r.Body.Releases[0])
		if rel.DefinitionID != lenient || !rel.Partial {
			t.Fatalf("unstable released %+v, want definition %d partial (not %d)", rel, lenient, strict)
		}
		// ABORTED freestyle build.
		if r := ev.postJenkins(fixture(t, "jenkins", "notification_freestyle_aborted.json")); r.Status != 202 || !contains(r.Body.Reason, "CANCELED") {
			t.Fatalf("aborted: %d %s", r.Status, r.Raw)
		}
		completed := fixture(t, "jenkins", "notification_completed.json")
		variant := func(number int, fn func(b, scm map[string]any)) []byte {
			return mutate(t, completed, func(m map[string]any) {
				b := obj(m, "build")
				b["number"] = number
				b["full_url"] = fmt.Sprintf("https://ci.example.com/jenkins/job/acme/job/app/%d/", number)
				b["url"] = fmt.Sprintf("job/acme/job/app/%d/", number)
				fn(b, obj(b, "scm"))
			})
		}
		for _, tt := range []struct {
			name, want string
			body       []byte
		}{
			{"failure", "FAILED", variant(50, func(b, _ map[string]any) { b["status"] = "FAILURE" })},
			{"unstable, not allowed", "does not allow partial", variant(51, func(b, _ map[string]any) { b["status"] = "UNSTABLE" })},
			{"not built", "NOT_BUILT", variant(52, func(b, _ map[string]any) { b["status"] = "NOT_BUILT" })},
			{"filtered branch", "branch feature/x is not admitted", variant(53, func(_, s map[string]any) { s["branch"] = "origin/feature/x" })},
			// The payload's scm.branch is not trusted: Jenkins' own git data decides.
			{"payload branch Jenkins does not confirm", "branch feature/evil is not admitted", variant(55, func(_, s map[string]any) { s["branch"] = "origin/main" })},
			{"unknown job", "no definition follows", mutate(t, completed, func(m map[string]any) {
				b := obj(m, "build")
				b["full_url"], b["url"] = "https://ci.example.com/jenkins/job/acme/job/unknown/42/", "job/acme/job/unknown/42/"
			})},
		} {
			r := ev.postJenkins(tt.body)
			if r.Status != 202 || r.Body.Result != "IGNORED" || !contains(r.Body.Reason, tt.want) || len(r.Body.Releases) != 0 {
				t.Errorf("%s: %d %s", tt.name, r.Status, r.Raw)
			}
		}
		// An admitted branch given as refs/remotes/origin/main releases.
		r = ev.postJenkins(variant(54, func(_, s map[string]any) { s["branch"] = "refs/remotes/origin/main" }))
		if r.Status != 201 {
			t.Fatalf("admitted branch: %d %s", r.Status, r.Raw)
		}
		if n := len(ev.releases()); n != 2 {
			t.Fatalf("%d releases, want 2 (unstable to the lenient definition, build 54)", n)
		}
	})
}

// TestJenkinsConcurrentDuplicates posts the same COMPLETED notification ten
// times at once: the unique key admits one, the others are duplicates.
func TestJenkinsConcurrentDuplicates(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		ev.define("shop", appSource)
		ev.confirmJenkins("acme/app", 42, "SUCCESS")
		body := fixture(t, "jenkins", "notification_completed.json")
		var wg sync.WaitGroup
		replies := make([]reply, 10)
		for i := range replies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				replies[i] = ev.postJenkins(body)
			}()
		}
		wg.Wait()
		created, dup := 0, 0
		for _, r := range replies {
			switch {
			case r.Status == 201 && len(r.Body.Releases) == 1:
				created++
			case r.Status == 202 && strings.HasPrefix(r.Body.Reason, "duplicate of delivery"):
				dup++
			default:
				t.Errorf("unexpected reply %d %s", r.Status, r.Raw)
			}
		}
		if created != 1 || dup != 9 {
			t.Fatalf("created %d, duplicates %d; want 1 and 9", created, dup)
		}
		if n := len(ev.releases()); n != 1 {
			t.Fatalf("%d releases, want 1", n)
		}
		if n := len(ev.deliveries()); n != 10 {
			t.Fatalf("%d deliveries, want 10", n)
		}
	})
}

// TestJenkinsHostile: bad credentials, bodies and connections get the right
// status; an authenticated one is recorded as a REJECTED delivery, an
// unauthenticated one writes nothing at all.
func TestJenkinsHostile(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		ev.define("shop", appSource)
		ev.confirmJenkins("acme/app", 42, "SUCCESS")
		good := fixture(t, "jenkins", "notification_completed.json")
		huge := []byte(`{"name":"app","build":{"number":42,"phase":"COMPLETED","status":"SUCCESS","log":"` +
			strings.Repeat("x", 2<<20) + `"}}`)
		for _, tt := range []struct {
			name, path, user, pass string
			body                   []byte
			status                 int
			reason                 string
			withConn               bool
		}{
			{"wrong password", "/webhooks/jenkins/ci", jenkinsUser, "nope", good, 401, "wrong or missing credentials", true},
			{"wrong user", "/webhooks/jenkins/ci", "mallory", jenkinsHook, good, 401, "wrong or missing credentials", true},
			{"no credentials", "/webhooks/jenkins/ci", "", "", good, 401, "wrong or missing credentials", true},
			{"wrong token", "/webhooks/jenkins/ci?token=guess", "", "", good, 401, "wrong or missing credentials", true},
			{"API secret is not the webhook secret", "/webhooks/jenkins/ci", jenkinsUser, jenkinsAPI, good, 401, "wrong", true},
			{"unknown connection", "/webhooks/jenkins/nope", jenkinsUser, jenkinsHook, good, 401, "wrong or missing credentials", false},
			{"connection of another kind", "/webhooks/jenkins/ado", adoUser, adoHook, good, 401, "wrong or missing credentials", false},
			{"truncated JSON", "/webhooks/jenkins/ci", jenkinsUser, jenkinsHook, good[:len(good)/2], 400, "truncated JSON", true},
			{"wrong types", "/webhooks/jenkins/ci", jenkinsUser, jenkinsHook, []byte(`{"name":"app","build":{"number":"42","phase":"COMPLETED"}}`), 400, "build.number", true},
			{"empty body", "/webhooks/jenkins/ci", jenkinsUser, jenkinsHook, nil, 400, "empty body", true},
			{"unknown phase", "/webhooks/jenkins/ci", jenkinsUser, jenkinsHook, []byte(`{"name":"app","build":{"number":42,"phase":"EXPLODED"}}`), 400, "unknown phase", true},
			{"huge body", "/webhooks/jenkins/ci", jenkinsUser, jenkinsHook, huge, 413, "too large", true},
			{"not JSON", "/webhooks/jenkins/ci", jenkinsUser, jenkinsHook, []byte("<xml/>"), 400, "not JSON", true},
		} {
			before := ev.counts()
			n := len(ev.deliveries())
			r := ev.post(tt.path, tt.body, tt.user, tt.pass)
			if r.Status != tt.status || r.Body.Result != "REJECTED" || !contains(r.Body.Reason, tt.reason) {
				t.Errorf("%s: %d %s", tt.name, r.Status, r.Raw)
				continue
			}
			ds := ev.deliveries()
			if unauthenticated := tt.status == 401 || tt.status == 404; unauthenticated {
				if len(ds) != n || r.Body.Delivery != 0 {
					t.Errorf("%s: %d new deliveries (answer %+v), want none", tt.name, len(ds)-n, r.Body)
				}
				if after := ev.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
					t.Errorf("%s: wrote %v, had %v", tt.name, after, before)
				}
				continue
			}
			if len(ds) != n+1 {
				t.Errorf("%s: %d new deliveries, want 1", tt.name, len(ds)-n)
				continue
			}
			d := ds[len(ds)-1]
			if d.Result != "REJECTED" || d.StatusCode != tt.status || d.Key != nil || !contains(d.Reason, tt.reason) ||
				(d.ConnectionID != nil) != tt.withConn {
				t.Errorf("%s: delivery %+v", tt.name, d)
			}
			if after := ev.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("%s: wrote %v, had %v", tt.name, after, before)
			}
		}
		// The secret in the query, and URL user-info sent percent-encoded, are accepted.
		if r := ev.post("/webhooks/jenkins/ci?token=p%40ss-hook", good, "", ""); r.Status != 201 {
			t.Fatalf("token auth: %d %s", r.Status, r.Raw)
		}
		if r := ev.post("/webhooks/jenkins/ci", fixture(t, "jenkins", "notification_finalized.json"), jenkinsUser, "p%40ss-hook"); r.Status != 202 {
			t.Fatalf("encoded basic auth: %d %s", r.Status, r.Raw)
		}
	})
}

// TestJenkinsPipelineWithoutBranch: a Pipeline notification without scm
// gets its branch from api/json, from the BuildData of the source's
// repository and not from the shared library's.
func TestJenkinsPipelineWithoutBranch(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		ev.ci.serve("/jenkins/job/acme/job/app/42/api/json", fixture(t, "jenkins", "build_pipeline.json"))
		ev.define("shop", appSource)
		// The shared library's checkout is on "v3": a source that wants v3
		// must not take the library's BuildData for the application's.
		v3 := appSource
		v3.BranchFilters = []string{"v3"}
		ev.define("library-trap", v3)
		body := mutate(t, fixture(t, "jenkins", "notification_completed.json"), func(m map[string]any) {
			delete(obj(m, "build"), "scm")
		})
		r := ev.postJenkins(body)
		if r.Status != 201 || len(r.Body.Releases) != 1 || !contains(r.Body.Reason, "branch main is not admitted by the filters v3") {
			t.Fatalf("pipeline: %d %s", r.Status, r.Raw)
		}
		a := ev.c.ReleaseArtifact.Query().OnlyX(ev.ctx)
		if a.Branch != "main" || a.Commit != "9fceb02d0ae598e95dc970b74767f19372d61af8" {
			t.Fatalf("artifact branch %q commit %q", a.Branch, a.Commit)
		}
		if ev.ci.hitCount("/jenkins/job/acme/job/app/42/api/json") != 1 || !ev.ci.auth["Basic Y2Fpcm46amVua2lucy1hcGktdG9rZW4="] {
			t.Fatalf("api/json not read once with the API credentials: %v %v", ev.ci.hits, ev.ci.auth)
		}
		// Jenkins unreachable: 503 and no key claimed, so FINALIZED can still release.
		ev.ci.failNext(1)
		body43 := mutate(t, body, func(m map[string]any) {
			b := obj(m, "build")
			b["number"], b["full_url"] = 43, "https://ci.example.com/jenkins/job/acme/job/app/43/"
			b["url"] = "job/acme/job/app/43/"
		})
		ev.ci.serve("/jenkins/job/acme/job/app/43/api/json", mutate(t, fixture(t, "jenkins", "build_pipeline.json"), func(m map[string]any) { m["number"] = 43 }))
		if r := ev.postJenkins(body43); r.Status != 503 || r.Body.Result != "REJECTED" {
			t.Fatalf("unreachable: %d %s", r.Status, r.Raw)
		}
		if r := ev.postJenkins(body43); r.Status != 201 {
			t.Fatalf("retry after unreachable: %d %s", r.Status, r.Raw)
		}
		// No filter: one call back, to confirm the build, and none for a job no definition follows.
		calls := ev.ci.hitCount("/jenkins/job/acme/job/other/7/api/json")
		ev.define("unfiltered", spec.ArtifactSourceSpec{Alias: "o", Type: "JENKINS", Connection: jenkinsConnStr, Job: "acme/other", ContinuousDeployment: true})
		ev.confirmJenkins("acme/other", 7, "SUCCESS")
		other := mutate(t, body, func(m map[string]any) {
			b := obj(m, "build")
			b["number"], b["full_url"], b["url"] = 7, "https://ci.example.com/jenkins/job/acme/job/other/7/", "job/acme/job/other/7/"
		})
		if r := ev.postJenkins(other); r.Status != 201 || ev.ci.hitCount("/jenkins/job/acme/job/other/7/api/json") != calls+1 {
			t.Fatalf("unfiltered: %d %s", r.Status, r.Raw)
		}
		unfollowed := mutate(t, body, func(m map[string]any) {
			b := obj(m, "build")
			b["number"], b["full_url"], b["url"] = 8, "https://ci.example.com/jenkins/job/acme/job/nobody/8/", "job/acme/job/nobody/8/"
		})
		if r := ev.postJenkins(unfollowed); r.Status != 202 || ev.ci.hitCount("/jenkins/job/acme/job/nobody/8/api/json") != 0 {
			t.Fatalf("unfollowed: %d %s", r.Status, r.Raw)
		}
	})
}
