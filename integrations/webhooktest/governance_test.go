package webhooktest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releaseartifact"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/timer"
	"github.com/cairnhq/cairn/ent/user"
	"github.com/cairnhq/cairn/integrations/enrich"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// The app repository's commits in the builds below.
const (
	mainSHA    = "9fceb02d0ae598e95dc970b74767f19372d61af8"
	featureSHA = "feedface00000000000000000000000000000001"
)

// jenkinsBuild is build_pipeline.json (a Pipeline build with a shared
// library checkout and the app's) as build number n of acme/app, built from
// branch of the app repository at sha, with result (SUCCESS, FAILURE, …; ""
// while building).
func jenkinsBuild(t testing.TB, n int, branch, sha, result string) []byte {
	t.Helper()
	return mutate(t, fixture(t, "jenkins", "build_pipeline.json"), func(m map[string]any) {
		m["number"], m["displayName"] = n, fmt.Sprintf("#%d", n)
		m["url"] = fmt.Sprintf("https://ci.example.com/jenkins/job/acme/job/app/%d/", n)
		m["building"] = result == ""
		if result == "" {
			m["result"] = nil
		} else {
			m["result"] = result
		}
		for _, a := range m["actions"].([]any) {
			a, _ := a.(map[string]any)
			urls, _ := a["remoteUrls"].([]any)
			if len(urls) == 1 && urls[0] == "git@github.com:acme/app.git" {
				a["lastBuiltRevision"] = map[string]any{"SHA1": sha,
					"branch": []any{map[string]any{"SHA1": sha, "name": "refs/remotes/origin/" + branch}}}
			}
		}
	})
}

// jenkinsBuildList is a job's api/json for RecentBuilds' tree query: each
// build's summary and git BuildData (the library's checkout first).
func jenkinsBuildList(t testing.TB, builds ...[4]string) []byte {
	t.Helper()
	var out []map[string]any
	for _, b := range builds { // number, branch, sha, result
		var result any = b[3]
		if b[3] == "" {
			result = nil
		}
		rev := func(sha, name string) map[string]any {
			return map[string]any{"_class": "hudson.plugins.git.util.Revision", "SHA1": sha,
				"branch": []any{map[string]any{"_class": "hudson.plugins.git.Branch", "SHA1": sha, "name": name}}}
		}
		out = append(out, map[string]any{
			"_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun", "number": json.Number(b[0]), "displayName": "#" + b[0],
			"url": "https://ci.example.com/jenkins/job/acme/job/app/" + b[0] + "/", "result": result, "timestamp": 1736073001234,
			"actions": []any{
				map[string]any{"_class": "hudson.model.CauseAction"},
				map[string]any{"_class": "hudson.plugins.git.util.BuildData", "remoteUrls": []any{"https://github.com/acme/jenkins-shared-library.git"},
					"lastBuiltRevision": rev("0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c", "v3")},
				map[string]any{"_class": "hudson.plugins.git.util.BuildData", "remoteUrls": []any{"git@github.com:acme/app.git"},
					"lastBuiltRevision": rev(b[2], "refs/remotes/origin/"+b[1])},
			},
		})
	}
	body, err := json.Marshal(map[string]any{"_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob", "builds": out})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// person creates a user and returns an actor for them.
func (ev *env) person(name string, role user.Role) delivery.Actor {
	ev.t.Helper()
	u, err := ev.c.User.Create().SetUsername(name).SetRole(role).Save(ev.ctx)
	if err != nil {
		ev.t.Fatal(err)
	}
	return delivery.Actor{UserID: u.ID, Username: name, Role: delivery.Role(role)}
}

// defineTwo creates a definition with the Jenkins app source (branch
// filter main) and the Team Build api source, dev after release, and the
// given schedules.
func (ev *env) defineTwo(name string, schedules ...spec.Schedule) int {
	ev.t.Helper()
	app, api := appSource, apiSource
	app.Primary = true
	job := spec.JobSpec{Tasks: []spec.Task{{Name: "deploy", Script: "./deploy.sh"}}}
	def, err := ev.e.CreateDefinition(ev.ctx, ev.editor, spec.DefinitionSnapshot{
		Name: name, ArtifactSources: []spec.ArtifactSourceSpec{app, api}, Schedules: schedules,
		Environments: []spec.EnvironmentSpec{{Name: "dev", Trigger: spec.Trigger{Kind: spec.TriggerAfterRelease}, Job: job}},
	}, "test")
	if err != nil {
		ev.t.Fatalf("creating definition %s: %v", name, err)
	}
	return def.ID
}

// enrichmentQueued reports, per alias, whether the release's artifact is
// PENDING enrichment with a pending timer.
func (ev *env) enrichmentQueued(releaseID int) map[string]bool {
	ev.t.Helper()
	out := map[string]bool{}
	for _, a := range ev.c.ReleaseArtifact.Query().Where(releaseartifact.ReleaseID(releaseID)).AllX(ev.ctx) {
		n := ev.c.Timer.Query().Where(timer.Kind("artifact.enrich"), timer.TargetID(a.ID), timer.DoneAtIsNil()).CountX(ev.ctx)
		out[a.Alias] = a.Enrichment == releaseartifact.EnrichmentPENDING && n == 1
	}
	return out
}

// TestManualReleaseArtifactChecks: the versions a person gives a manual
// release are checked with Jenkins and Azure DevOps: the build exists, it
// succeeded, it was built from a branch the source admits, and the branch
// and commit given agree with it. A refusal is INVALID_INPUT and writes
// nothing; an accepted release records the CI server's revision.
func TestManualReleaseArtifactChecks(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		alice := ev.person("alice", user.RoleEDITOR)
		def := ev.defineTwo("shop")
		ev.ci.serve("/jenkins/job/acme/job/app/42/api/json", jenkinsBuild(t, 42, "main", mainSHA, "SUCCESS"))
		ev.ci.serve("/jenkins/job/acme/job/app/50/api/json", jenkinsBuild(t, 50, "feature/untested", featureSHA, "SUCCESS"))
		ev.ci.serve("/jenkins/job/acme/job/app/51/api/json", jenkinsBuild(t, 51, "main", mainSHA, "FAILURE"))
		ev.ci.serve("/jenkins/job/acme/job/app/52/api/json", jenkinsBuild(t, 52, "main", mainSHA, ""))
		ev.ci.serve("/jenkins/job/acme/job/app/53/api/json", []byte(`{"number": 53, "result": "SUCCESS", "actions": [`)) // cut off
		ev.ci.serve("/fabrikam/Shop/_apis/build/builds/1021", fixture(t, "teambuild", "api_build.json"))
		ev.ci.serve("/fabrikam/Shop/_apis/build/builds/1017", mutate(t, fixture(t, "teambuild", "api_build.json"), func(m map[string]any) {
			m["id"], m["result"], m["sourceBranch"] = 1017, "failed", "refs/heads/main"
		}))
		ev.ci.serve("/fabrikam/Shop/_apis/build/builds/1030", mutate(t, fixture(t, "teambuild", "api_build.json"), func(m map[string]any) {
			m["id"] = 1030
			obj(m, "definition")["id"] = 99 // another pipeline's build
		}))
		ev.ci.serve("/fabrikam/Shop/_apis/build/builds/1040", mutate(t, fixture(t, "teambuild", "api_build.json"), func(m map[string]any) {
			m["id"], m["status"], m["result"] = 1040, "inProgress", nil
		}))
		api := delivery.ArtifactVersion{Alias: "api", BuildID: "1021"}
		for _, c := range []struct {
			name      string
			app, api  delivery.ArtifactVersion
			field     string
			msg       string
			ciFailure bool
		}{
			{"branch not admitted", delivery.ArtifactVersion{Alias: "app", BuildNumber: "50", Branch: "feature/untested", Commit: featureSHA}, api,
				"artifacts[0].buildId", "built from branch feature/untested, which the source's filters main do not admit", false},
			{"no such build", delivery.ArtifactVersion{Alias: "app", BuildID: "4242"}, api, "artifacts[0].buildId", "has no build 4242", false},
			{"not a build number", delivery.ArtifactVersion{Alias: "app", BuildNumber: "../../script"}, api, "artifacts[0].buildId", "has no build", false},
			{"failed build", delivery.ArtifactVersion{Alias: "app", BuildID: "51"}, api, "artifacts[0].buildId", "is FAILED", false},
			{"running build", delivery.ArtifactVersion{Alias: "app", BuildID: "52"}, api, "artifacts[0].buildId", "has not finished", false},
			{"branch contradicts", delivery.ArtifactVersion{Alias: "app", BuildID: "42", Branch: "feature/untested"}, api,
				"artifacts[0].branch", `built from "main", not "feature/untested"`, false},
			{"commit contradicts", delivery.ArtifactVersion{Alias: "app", BuildID: "42", Commit: featureSHA}, api,
				"artifacts[0].commit", "built from commit " + mainSHA, false},
			{"team build failed", delivery.ArtifactVersion{Alias: "app", BuildID: "42"}, delivery.ArtifactVersion{Alias: "api", BuildID: "1017"},
				"artifacts[1].buildId", "is FAILED", false},
			{"team build of another definition", delivery.ArtifactVersion{Alias: "app", BuildID: "42"}, delivery.ArtifactVersion{Alias: "api", BuildID: "1030"},
				"artifacts[1].buildId", "has no build 1030", false},
			{"team build running", delivery.ArtifactVersion{Alias: "app", BuildID: "42"}, delivery.ArtifactVersion{Alias: "api", BuildID: "1040"},
				"artifacts[1].buildId", "has not finished", false},
			{"team build by number only", delivery.ArtifactVersion{Alias: "app", BuildID: "42"}, delivery.ArtifactVersion{Alias: "api", BuildNumber: "20250105.3"},
				"artifacts[1].buildId", "give the build id", false},
			{"CI server down", delivery.ArtifactVersion{Alias: "app", BuildID: "42"}, api, "", "503", true},
			{"malformed CI reply", delivery.ArtifactVersion{Alias: "app", BuildID: "53"}, api, "", "decoding", false},
			{"hostile build id", delivery.ArtifactVersion{Alias: "app", BuildID: "42/../../../script?x="}, api, "artifacts[0].buildId", "has no build", false},
		} {
			t.Run(c.name, func(t *testing.T) {
				before := ev.counts()
				if c.ciFailure {
					ev.ci.failNext(1)
				}
				_, err := ev.e.CreateRelease(ev.ctx, alice, delivery.CreateReleaseInput{DefinitionID: def, Artifacts: []delivery.ArtifactVersion{c.app, c.api}})
				if err == nil || !strings.Contains(err.Error(), c.msg) {
					t.Fatalf("got %v, want an error saying %q", err, c.msg)
				}
				var de *delivery.Error
				switch {
				case c.ciFailure || c.field == "":
					if delivery.CodeOf(err) != delivery.CodeInternal {
						t.Fatalf("code %s", delivery.CodeOf(err))
					}
				case delivery.CodeOf(err) != delivery.CodeInvalidInput || !asError(err, &de) || de.Field != c.field:
					t.Fatalf("got %s %+v, want INVALID_INPUT on %s", delivery.CodeOf(err), de, c.field)
				}
				if after := ev.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
					t.Fatalf("a refused release wrote: %v → %v", before, after)
				}
			})
		}
		// Accepted: the CI server's build number, URL, branch and commit are
		// recorded (a short commit prefix and the branch given agree).
		rel, err := ev.e.CreateRelease(ev.ctx, alice, delivery.CreateReleaseInput{DefinitionID: def, Artifacts: []delivery.ArtifactVersion{
			{Alias: "app", BuildNumber: "42", Branch: "origin/main", Commit: mainSHA[:10], BuildURL: "https://evil.example.com/"}, api}})
		if err != nil {
			t.Fatal(err)
		}
		arts := map[string]*ent.ReleaseArtifact{}
		for _, a := range ev.c.ReleaseArtifact.Query().Where(releaseartifact.ReleaseID(rel.ID)).AllX(ev.ctx) {
			arts[a.Alias] = a
		}
		app, tb := arts["app"], arts["api"]
		if app.BuildID != "42" || app.Branch != "main" || app.Commit != mainSHA || app.BuildURL != ev.ci.srv.URL+"/jenkins/job/acme/job/app/42/" {
			t.Fatalf("app artifact %+v", app)
		}
		if tb.BuildNumber != "20250105.3" || tb.Branch != "main" || tb.Commit != "2f6a8e0c4b1d3f5a7c9e0b2d4f6a8c0e1b3d5f7a" {
			t.Fatalf("api artifact %+v", tb)
		}
		// Every artifact of a manual release is enriched.
		if q := ev.enrichmentQueued(rel.ID); !q["app"] || !q["api"] {
			t.Fatalf("enrichment queued: %v", q)
		}
	})
}

func asError(err error, target **delivery.Error) bool {
	for err != nil {
		if e, ok := err.(*delivery.Error); ok {
			*target = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// TestOverrideArtifactChecks: only an ADMIN may skip the checks, only by
// asking to, and the override is audited.
func TestOverrideArtifactChecks(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		alice, root := ev.person("alice", user.RoleEDITOR), ev.person("root", user.RoleADMIN)
		def := ev.defineTwo("shop")
		in := delivery.CreateReleaseInput{DefinitionID: def, OverrideArtifactChecks: true, Artifacts: []delivery.ArtifactVersion{
			{Alias: "app", BuildNumber: "77", Branch: "hotfix/outage", Commit: "abc"}, {Alias: "api", BuildID: "5000"}}}
		before := ev.counts()
		_, err := ev.e.CreateRelease(ev.ctx, alice, in)
		if delivery.CodeOf(err) != delivery.CodeForbidden {
			t.Fatalf("an EDITOR's override: %v", err)
		}
		if after := ev.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("a refused override wrote: %v → %v", before, after)
		}
		// Without the flag an ADMIN is checked like everyone (no build 77).
		plain := in
		plain.OverrideArtifactChecks = false
		if _, err := ev.e.CreateRelease(ev.ctx, root, plain); delivery.CodeOf(err) != delivery.CodeInvalidInput {
			t.Fatalf("an ADMIN without the flag: %v", err)
		}
		rel, err := ev.e.CreateRelease(ev.ctx, root, in)
		if err != nil {
			t.Fatal(err)
		}
		audits := ev.c.AuditEvent.Query().Where(auditevent.Action("release.overrideArtifactChecks")).AllX(ev.ctx)
		if len(audits) != 1 || audits[0].Actor != "root" || audits[0].TargetID != fmt.Sprint(rel.ID) {
			t.Fatalf("override audits: %+v", audits)
		}
		if a := ev.c.ReleaseArtifact.Query().Where(releaseartifact.ReleaseID(rel.ID), releaseartifact.Alias("app")).OnlyX(ev.ctx); a.Branch != "hotfix/outage" {
			t.Fatalf("overridden artifact %+v", a)
		}
		if ev.ci.hitCount("/jenkins/job/acme/job/app/77/api/json") != 1 {
			t.Fatal("the overridden release still asked Jenkins (or the plain one did not)")
		}
	})
}

// TestWebhookReleaseEnrichesEveryArtifact: a CI release enriches its other
// sources' artifacts too, not only the one the build triggered.
func TestWebhookReleaseEnrichesEveryArtifact(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		def := ev.defineTwo("shop")
		ev.ci.serve("/jenkins/job/acme/job/app/41/api/json", jenkinsBuild(t, 41, "main", mainSHA, "SUCCESS"))
		ev.ci.serve("/jenkins/job/acme/job/app/42/api/json", jenkinsBuild(t, 42, "main", mainSHA, "SUCCESS"))
		ev.ci.serve("/fabrikam/Shop/_apis/build/builds/1021", fixture(t, "teambuild", "api_build.json"))
		if _, err := ev.e.CreateRelease(ev.ctx, ev.person("alice", user.RoleEDITOR), delivery.CreateReleaseInput{DefinitionID: def,
			Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildID: "41"}, {Alias: "api", BuildID: "1021"}}}); err != nil {
			t.Fatal(err)
		}
		r := ev.postJenkins(fixture(t, "jenkins", "notification_completed.json"))
		if r.Status != 201 {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		if q := ev.enrichmentQueued(r.Body.Releases[0]); !q["app"] || !q["api"] {
			t.Fatalf("enrichment queued: %v", q)
		}
	})
}

// TestScheduleTakesNewestAdmittedBuild: a scheduled release deploys the
// newest build of each source that succeeded on an admitted branch (not the
// latest release's builds), and with scheduleOnlyWithChanges an occurrence
// with nothing new creates no release.
func TestScheduleTakesNewestAdmittedBuild(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		def := ev.defineTwo("nightly", spec.Schedule{Cron: "0 3 * * *", ScheduleOnlyWithChanges: true})
		jobAPI := "/jenkins/job/acme/job/app/api/json"
		ev.ci.serve(jobAPI, jenkinsBuildList(t,
			[4]string{"45", "main", mainSHA, ""},                       // running
			[4]string{"44", "feature/untested", featureSHA, "SUCCESS"}, // branch not admitted
			[4]string{"43", "main", mainSHA, "FAILURE"},
			[4]string{"42", "main", mainSHA, "SUCCESS"},
		))
		ev.ci.serve("/fabrikam/Shop/_apis/build/builds", fixture(t, "teambuild", "api_builds.json"))
		scheduled := func() []*ent.Release {
			return ev.c.Release.Query().Where(release.DefinitionID(def), release.ReasonEQ(release.ReasonSCHEDULE)).
				Order(ent.Asc(release.FieldNumber)).WithArtifacts().AllX(ev.ctx)
		}
		occur := func(day int) {
			t.Helper()
			ev.clk.Set(time.Date(2025, 1, 5+day, 3, 0, 1, 0, time.UTC))
			if _, err := ev.e.RunDueTimers(ev.ctx); err != nil {
				t.Fatalf("day %d: %v", day, err)
			}
		}
		// The CI server failing: no release, the occurrence is retried after the lease.
		ev.ci.failNext(1)
		ev.clk.Set(time.Date(2025, 1, 6, 3, 0, 1, 0, time.UTC))
		if _, err := ev.e.RunDueTimers(ev.ctx); err == nil || !strings.Contains(err.Error(), "503") {
			t.Fatalf("a failing CI server: %v", err)
		}
		if n := len(scheduled()); n != 0 {
			t.Fatalf("%d releases without the CI server", n)
		}
		ev.clk.Set(time.Date(2025, 1, 6, 3, 5, 0, 0, time.UTC))
		if _, err := ev.e.RunDueTimers(ev.ctx); err != nil {
			t.Fatalf("the retry: %v", err)
		}
		rels := scheduled()
		if len(rels) != 1 {
			t.Fatalf("%d scheduled releases, want 1", len(rels))
		}
		versions := map[string]string{}
		for _, a := range rels[0].Edges.Artifacts {
			versions[a.Alias] = a.BuildID + "@" + a.Branch + "@" + a.Commit
		}
		if versions["app"] != "42@main@"+mainSHA || versions["api"] != "1021@main@2f6a8e0c4b1d3f5a7c9e0b2d4f6a8c0e1b3d5f7a" {
			t.Fatalf("scheduled versions %v", versions)
		}
		if q := ev.enrichmentQueued(rels[0].ID); !q["app"] || !q["api"] {
			t.Fatalf("enrichment queued: %v", q)
		}
		// Nothing new: no release, and the timer says why.
		occur(2)
		if n := len(scheduled()); n != 1 {
			t.Fatalf("%d scheduled releases after an unchanged day, want 1", n)
		}
		skipped := ev.c.Timer.Query().Where(timer.Kind("definition.schedule"), timer.DoneAtNotNil()).
			Order(ent.Desc(timer.FieldDueAt)).FirstX(ev.ctx)
		if !strings.Contains(skipped.LastError, "no artifact has a newer admitted build than "+rels[0].Name) {
			t.Fatalf("skipped occurrence recorded %q", skipped.LastError)
		}
		// A new admitted build: released.
		ev.ci.serve(jobAPI, jenkinsBuildList(t, [4]string{"46", "main", featureSHA, "SUCCESS"}, [4]string{"42", "main", mainSHA, "SUCCESS"}))
		occur(3)
		rels = scheduled()
		if len(rels) != 2 {
			t.Fatalf("%d scheduled releases after a new build, want 2", len(rels))
		}
		for _, a := range rels[1].Edges.Artifacts {
			if a.Alias == "app" && a.BuildID != "46" {
				t.Fatalf("app deployed build %s, want 46", a.BuildID)
			}
		}
	})
}

// TestArtifactChecksFollowPermissions: a definition's overrideArtifactChecks
// list lets its members skip the checks (an unlisted ADMIN overrides, audited
// as such), and a definition the actor may not read is NOT_FOUND before the
// CI server is asked anything about its builds.
func TestArtifactChecksFollowPermissions(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		alice, bob, root := ev.person("alice", user.RoleEDITOR), ev.person("bob", user.RoleEDITOR), ev.person("root", user.RoleADMIN)
		if err := ev.c.Group.Create().SetName("shop-team").AddMemberIDs(alice.UserID).Exec(ev.ctx); err != nil {
			t.Fatal(err)
		}
		app, api := appSource, apiSource
		app.Primary = true
		def, err := ev.e.CreateDefinition(ev.ctx, alice, spec.DefinitionSnapshot{
			Name: "shop", ArtifactSources: []spec.ArtifactSourceSpec{app, api}, Readers: []string{"shop-team"},
			Permissions:  spec.DefinitionPermissions{OverrideArtifactChecks: []spec.Approver{{Kind: spec.ApproverUser, Name: "alice"}}},
			Environments: []spec.EnvironmentSpec{{Name: "dev"}},
		}, "")
		if err != nil {
			t.Fatal(err)
		}
		in := delivery.CreateReleaseInput{DefinitionID: def.ID, Artifacts: []delivery.ArtifactVersion{
			{Alias: "app", BuildNumber: "78"}, {Alias: "api", BuildID: "5001"}}}
		before := ev.counts()
		for _, override := range []bool{false, true} {
			in.OverrideArtifactChecks = override
			if _, err := ev.e.CreateRelease(ev.ctx, bob, in); delivery.CodeOf(err) != delivery.CodeNotFound {
				t.Fatalf("an outsider's release (override %v): %v", override, err)
			}
		}
		if n := ev.ci.hitCount("/jenkins/job/acme/job/app/78/api/json"); n != 0 {
			t.Fatalf("Jenkins was asked %d times about a build of a definition the actor may not read", n)
		}
		if after := ev.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("refused releases wrote: %v → %v", before, after)
		}
		in.OverrideArtifactChecks = true
		if _, err := ev.e.CreateRelease(ev.ctx, alice, in); err != nil {
			t.Fatalf("a listed EDITOR's override: %v", err)
		}
		if _, err := ev.e.CreateRelease(ev.ctx, root, in); err != nil {
			t.Fatalf("an ADMIN's override: %v", err)
		}
		if n := ev.c.AuditEvent.Query().Where(auditevent.Action("release.overrideArtifactChecks")).CountX(ev.ctx); n != 2 {
			t.Fatalf("%d override audits, want 2", n)
		}
		overrides := ev.c.AuditEvent.Query().Where(auditevent.Action("permission.override")).AllX(ev.ctx)
		if len(overrides) != 1 || overrides[0].Actor != "root" || !strings.Contains(overrides[0].After, "OVERRIDE_ARTIFACT_CHECKS") {
			t.Fatalf("permission overrides: %+v", overrides)
		}
	})
}

// TestOverrideWithBuildNumberOnly: an unchecked release of a Jenkins build given only by its
// number is enriched by that number (it is the build's id) and its job downloads from the
// build's URL on the connection; a Team Build version given only by number (its id unknown)
// is not enriched at all instead of failing "not a build id" again and again.
func TestOverrideWithBuildNumberOnly(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		root := ev.person("root", user.RoleADMIN)
		def := ev.defineTwo("shop")
		rel, err := ev.e.CreateRelease(ev.ctx, root, delivery.CreateReleaseInput{DefinitionID: def, OverrideArtifactChecks: true,
			Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: "42"}, {Alias: "api", BuildNumber: "20250105.3"}}})
		if err != nil {
			t.Fatal(err)
		}
		app := ev.c.ReleaseArtifact.Query().Where(releaseartifact.ReleaseID(rel.ID), releaseartifact.Alias("app")).OnlyX(ev.ctx)
		if app.BuildID != "42" || app.BuildNumber != "42" {
			t.Fatalf("app artifact: build id %q number %q", app.BuildID, app.BuildNumber)
		}
		if q := ev.enrichmentQueued(rel.ID); !q["app"] || q["api"] {
			t.Fatalf("enrichment queued: %v, want app only", q)
		}
		ev.ci.serve("/jenkins/job/acme/job/app/42/api/json", jenkinsBuild(t, 42, "main", mainSHA, "SUCCESS"))
		if n, err := ev.e.RunDueEnrichments(ev.ctx, &enrich.Fetcher{HTTP: &http.Client{Timeout: 5 * time.Second}}); n != 1 || err != nil {
			t.Fatalf("enrichment: %d, %v", n, err)
		}
		j := ev.c.Job.Query().OnlyX(ev.ctx) // dev deploys after release
		as, err := ev.e.BuildAssignment(ev.ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		var url string
		for _, a := range as.Artifacts {
			if a.Alias == "app" {
				url = a.BuildURL
			}
		}
		if want := ev.ci.srv.URL + "/jenkins/job/acme/job/app/42/"; url != want {
			t.Fatalf("app's download URL %q, want %q", url, want)
		}
	})
}
