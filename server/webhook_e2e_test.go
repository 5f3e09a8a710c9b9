package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/releaseartifact"
	"github.com/cairnhq/cairn/ent/workitem"
)

// fakeJenkins serves the build and job api/json of acme/app from the
// integration fixtures, as a Jenkins under the /jenkins context path.
func fakeJenkins(t *testing.T) *httptest.Server {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile("../integrations/jenkins/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	build, jobBuilds := read("build_pipeline.json"), read("job_builds.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "cairn" || p != "api-token" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/jenkins/job/acme/job/app/42/api/json":
			w.Write(build)
		case "/jenkins/job/acme/job/app/api/json":
			w.Write(jobBuilds)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestJenkinsWebhookEndToEnd: a Jenkins notification through the real
// server creates a release, whose commits and work items come from the fake
// Jenkins REST API by the server's enrichment loop; dev deploys, and the
// work item then shows as deployed to dev and not yet to prod.
func TestJenkinsWebhookEndToEnd(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		jenkins := fakeJenkins(t)
		h.ok(h.admin, `mutation($u: String!) { createServiceConnection(input: {name: "ci", kind: JENKINS, url: $u,
			username: "cairn", secret: "api-token", webhookSecret: "hook-secret"}) { id } }`, map[string]any{"u": jenkins.URL + "/jenkins"})
		def := h.ok(h.admin, `mutation { createDefinition(input: {
		    name: "shop",
		    artifactSources: [{alias: "app", type: "JENKINS", connection: "ci", job: "acme/app", primary: true,
		      repositoryUrl: "https://github.com/acme/app", continuousDeployment: true, branchFilters: ["main"]}],
		    environments: [
		      {name: "dev", trigger: {kind: AFTER_RELEASE}, job: {skipArtifactDownload: true,
		        tasks: [{name: "deploy", script: "echo deploying build $RELEASE_ARTIFACTS_APP_BUILDNUMBER to dev"}]}},
		      {name: "prod", trigger: {kind: MANUAL}, job: {tasks: [{name: "deploy", script: "echo prod"}]}}
		    ]}) { id } }`, nil)
		defID := dig(def, "createDefinition", "id")

		// Manual releases can pick from the builds Jenkins reports.
		vers := h.ok(h.admin, `query($d: ID!) { artifactVersions(definitionId: $d, alias: "app", first: 2) { buildNumber result admitted } }`, map[string]any{"d": defID})
		// Admitted: what the source would release by itself (43 still runs; 42 succeeded on main).
		if got := toJSON(dig(vers, "artifactVersions")); !contains(got, `"admitted":false,"buildNumber":"43","result":""`) || !contains(got, `"admitted":true,"buildNumber":"42","result":"SUCCEEDED"`) {
			t.Fatalf("artifact versions: %s", got)
		}

		body, err := os.ReadFile("../integrations/jenkins/testdata/notification_completed.json")
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", h.http.URL+"/webhooks/jenkins/ci", bytes.NewReader(body))
		req.SetBasicAuth("cairn", "hook-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var answer struct {
			Result   string `json:"result"`
			Releases []int  `json:"releases"`
		}
		json.NewDecoder(resp.Body).Decode(&answer)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || answer.Result != "ACCEPTED" || len(answer.Releases) != 1 {
			t.Fatalf("webhook: %d %+v", resp.StatusCode, answer)
		}
		relID := answer.Releases[0]

		// Wait for the enrichment loop, on its progress signal.
		deadline := time.After(10 * time.Second)
		for {
			progress := h.srv.Engine.EnrichmentProgress()
			a := h.srv.Engine.Client().ReleaseArtifact.Query().OnlyX(ctx)
			if a.Enrichment == releaseartifact.EnrichmentDONE {
				break
			}
			select {
			case <-progress:
			case <-deadline:
				t.Fatalf("enrichment not done: %s", a.Enrichment)
			}
		}
		rel := h.ok(h.admin, `query($r: ID!) { release(id: $r) { name reason createdBy
			commits(first: 10) { totalCount edges { node { sha message author } } }
			workItems(first: 10) { edges { node { system externalID } } } } }`, map[string]any{"r": relID})
		if dig(rel, "release", "reason") != "CONTINUOUS_INTEGRATION" || dig(rel, "release", "createdBy") != "ci:ci" {
			t.Fatalf("release: %s", toJSON(rel))
		}
		got := toJSON(rel)
		for _, want := range []string{`"totalCount":3`, `The load balancer needs /healthz.`, `"externalID":"1234"`, `"system":"AZURE_BOARDS"`} {
			if !contains(got, want) {
				t.Fatalf("release lacks %s: %s", want, got)
			}
		}

		// dev deploys on a real agent.
		h.startAgent(t, "runner", nil)
		st := h.waitEnv(t, fmt.Sprint(relID), "dev", "SUCCEEDED")
		if got := strings.Join(h.taskLog(t, st.JobID), "\n"); !contains(got, "deploying build 42 to dev") {
			t.Fatalf("dev log: %s", got)
		}
		viewer := h.tokenFor("vic", delivery.RoleViewer)
		wi := h.ok(viewer, `{ workItem(system: "AZURE_BOARDS", externalId: "1234") {
			workItem { externalID } deployedTo { environment status release { id } deployedAt }
			notDeployedTo { environment introduced { id } } } }`, nil)
		dep := dig(wi, "workItem", "deployedTo").([]any)
		pend := dig(wi, "workItem", "notDeployedTo").([]any)
		if len(dep) != 1 || dig(dep[0], "environment") != "dev" || dig(dep[0], "status") != "SUCCEEDED" || dig(dep[0], "deployedAt") == nil ||
			len(pend) != 1 || dig(pend[0], "environment") != "prod" {
			t.Fatalf("work item deployments: %s", toJSON(wi))
		}
		if r := h.ok(viewer, `{ workItem(system: "JIRA", externalId: "NOPE-1") { workItem { id } } }`, nil); dig(r, "workItem") != nil {
			t.Fatalf("unknown work item: %s", toJSON(r))
		}
		ch := h.ok(viewer, `query($r: ID!) { changesSince(releaseId: $r, environment: "prod") { current { id } releases { id } commits { sha } workItems { externalID } } }`,
			map[string]any{"r": relID})
		if got := toJSON(ch); dig(ch, "changesSince", "current") != nil || !contains(got, `"externalID":"1234"`) || len(dig(ch, "changesSince", "commits").([]any)) != 3 {
			t.Fatalf("changes since prod: %s", got)
		}
		ch = h.ok(viewer, `query($r: ID!) { changesSince(releaseId: $r, environment: "dev") { releases { id } commits { sha } } }`, map[string]any{"r": relID})
		if len(dig(ch, "changesSince", "releases").([]any)) != 0 || len(dig(ch, "changesSince", "commits").([]any)) != 0 {
			t.Fatalf("changes since dev (runs it already): %s", toJSON(ch))
		}

		// A rollback's changes: dev runs a second release (one more commit, one more work item,
		// and again 1234); from there, the first release takes out the second's commit and its
		// new work item, not 1234, which the first carries too.
		rel2 := h.createRelease(t, defID.(string), []map[string]any{{"alias": "app", "buildNumber": "42"}})
		rel2ID, _ := strconv.Atoi(rel2)
		db := h.srv.DB().Client
		db.SourceCommit.Create().SetReleaseID(rel2ID).SetAlias("app").SetSha("abc1234def").SetMessage("second change").SaveX(ctx)
		db.WorkItem.Create().SetSystem("JIRA").SetExternalID("SHOP-9").SetTitle("second item").AddReleaseIDs(rel2ID).SaveX(ctx)
		db.WorkItem.Update().Where(workitem.ExternalID("1234")).AddReleaseIDs(rel2ID).ExecX(ctx)
		h.waitEnv(t, rel2, "dev", "SUCCEEDED")
		const changesQ = `query($r: ID!) { changesSince(releaseId: $r, environment: "dev") { current { id } releases { id }
			removedReleases { id } removedCommits { sha } removedWorkItems { externalID } } }`
		ch = h.ok(viewer, changesQ, map[string]any{"r": relID})
		if got := toJSON(dig(ch, "changesSince")); got != `{"current":{"id":"`+rel2+`"},"releases":[],"removedCommits":[{"sha":"abc1234def"}],"removedReleases":[{"id":"`+rel2+`"}],"removedWorkItems":[{"externalID":"SHOP-9"}]}` {
			t.Fatalf("what a rollback of dev to the first release takes out: %s", got)
		}
		ch = h.ok(viewer, changesQ, map[string]any{"r": rel2})
		if got := toJSON(dig(ch, "changesSince")); got != `{"current":{"id":"`+rel2+`"},"releases":[],"removedCommits":[],"removedReleases":[],"removedWorkItems":[]}` {
			t.Fatalf("changes of the release dev runs: %s", got)
		}

		// Deliveries are for admins.
		if r := h.do(viewer, `{ webhookDeliveries(first: 5) { totalCount } }`, nil); r.code() != "FORBIDDEN" {
			t.Fatalf("viewer read deliveries: %s", r.Raw)
		}
		dl := h.ok(h.admin, `{ webhookDeliveries(first: 5) { totalCount edges { node { result reason statusCode releases { id } } } } }`, nil)
		if got := toJSON(dl); !contains(got, `"result":"ACCEPTED"`) || !contains(got, `"statusCode":201`) {
			t.Fatalf("deliveries: %s", got)
		}
	})
}
