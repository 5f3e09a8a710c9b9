// Package webhooktest replays real-shaped Jenkins and Azure DevOps payloads
// through the webhook handlers into a real engine on SQLite and PostgreSQL,
// with fake CI servers speaking the documented REST shapes.
package webhooktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/serviceconnection"
	"github.com/cairnhq/cairn/integrations/enrich"
	"github.com/cairnhq/cairn/integrations/hook"
	"github.com/cairnhq/cairn/integrations/jenkins"
	"github.com/cairnhq/cairn/integrations/teambuild"
	"github.com/cairnhq/cairn/storage"
)

var t0 = time.Date(2025, 1, 5, 12, 0, 0, 0, time.UTC)

// The connections' credentials.
const (
	jenkinsUser    = "cairn"
	jenkinsHook    = "p@ss-hook"
	jenkinsAPI     = "jenkins-api-token"
	adoUser        = "svc-hooks"
	adoHook        = "tb-hook-secret"
	adoPAT         = "ado-pat"
	jenkinsConnStr = "ci"
	adoConnStr     = "ado"
)

func fixture(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", dir, "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeCI is a fake Jenkins and Azure DevOps: it serves fixture replies by
// path, can fail the next N requests, and counts requests per path.
type fakeCI struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	routes map[string][]byte
	fail   int
	hits   map[string]int
	auth   map[string]bool // Authorization headers seen
}

func newFakeCI(t testing.TB) *fakeCI {
	f := &fakeCI{t: t, routes: map[string][]byte{}, hits: map[string]int{}, auth: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.hits[r.URL.Path]++
		f.auth[r.Header.Get("Authorization")] = true
		if f.fail > 0 {
			f.fail--
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		body, ok := f.routes[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCI) serve(path string, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[path] = body
}

func (f *fakeCI) failNext(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = n
}

func (f *fakeCI) hitCount(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

// env is an engine over a fresh database, the two webhooks on a real
// listener, and the fake CI servers behind both connections.
type env struct {
	t       *testing.T
	ctx     context.Context
	db      *storage.DB
	c       *ent.Client
	e       *delivery.Engine
	clk     *delivery.ManualClock
	ci      *fakeCI
	hooks   *httptest.Server
	editor  delivery.Actor
	jenkins int // connection ids
	ado     int
	events  *published
}

// published records the types of the events the engine publishes after commit.
type published struct {
	mu    sync.Mutex
	types []string
}

func (p *published) Publish(_ context.Context, evs []delivery.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ev := range evs {
		p.types = append(p.types, ev.Type)
	}
}

func (p *published) count(typ string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, t := range p.types {
		if t == typ {
			n++
		}
	}
	return n
}

func newEnv(t *testing.T, db *storage.DB) *env {
	t.Helper()
	box, err := delivery.NewSecretBox(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	ev := &env{t: t, ctx: context.Background(), db: db, c: db.Client, clk: delivery.NewManualClock(t0), events: &published{}}
	ev.e = delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: ev.clk, Secrets: box, Bus: ev.events,
		CI:       &enrich.Fetcher{HTTP: &http.Client{Timeout: 5 * time.Second}},
		Webhooks: hook.Parsers{hook.SourceJenkins: jenkins.NewAdapter(nil), hook.SourceTeamBuild: teambuild.NewAdapter()}})
	ev.ci = newFakeCI(t)
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/jenkins/{connection}", jenkins.NewHandler(ev.e, nil, nil))
	mux.Handle("POST /webhooks/teambuild/{connection}", teambuild.NewHandler(ev.e, nil, nil))
	ev.hooks = httptest.NewServer(mux)
	t.Cleanup(ev.hooks.Close)
	admin := delivery.SystemActor("test-admin")
	ev.editor = admin
	str := func(s string) *string { return &s }
	jc, err := ev.e.CreateConnection(ev.ctx, admin, delivery.ConnectionInput{Name: jenkinsConnStr, Kind: serviceconnection.KindJENKINS,
		URL: ev.ci.srv.URL + "/jenkins", Username: jenkinsUser, Secret: str(jenkinsAPI), WebhookSecret: str(jenkinsHook)})
	if err != nil {
		t.Fatal(err)
	}
	ac, err := ev.e.CreateConnection(ev.ctx, admin, delivery.ConnectionInput{Name: adoConnStr, Kind: serviceconnection.KindAZURE_DEVOPS,
		URL: ev.ci.srv.URL + "/fabrikam", Username: adoUser, Secret: str(adoPAT), WebhookSecret: str(adoHook)})
	if err != nil {
		t.Fatal(err)
	}
	ev.jenkins, ev.ado = jc.ID, ac.ID
	return ev
}

// define creates a definition with one artifact source and two
// environments: dev deploys after release, prod manually.
func (ev *env) define(name string, src spec.ArtifactSourceSpec) int {
	ev.t.Helper()
	src.Primary = true
	job := spec.JobSpec{Tasks: []spec.Task{{Name: "deploy", Script: "./deploy.sh"}}}
	def, err := ev.e.CreateDefinition(ev.ctx, ev.editor, spec.DefinitionSnapshot{
		Name:            name,
		ArtifactSources: []spec.ArtifactSourceSpec{src},
		Environments: []spec.EnvironmentSpec{
			{Name: "dev", Trigger: spec.Trigger{Kind: spec.TriggerAfterRelease}, Job: job},
			{Name: "prod", Trigger: spec.Trigger{Kind: spec.TriggerManual}, Job: job},
		},
	}, "test")
	if err != nil {
		ev.t.Fatalf("creating definition %s: %v", name, err)
	}
	return def.ID
}

// reply is a webhook answer.
type reply struct {
	Status int
	Body   struct {
		Result   string `json:"result"`
		Reason   string `json:"reason"`
		Delivery int    `json:"delivery"`
		Releases []int  `json:"releases"`
	}
	Raw string
}

// post sends body to a webhook path with optional Basic credentials.
func (ev *env) post(path string, body []byte, user, pass string) reply {
	ev.t.Helper()
	req, err := http.NewRequest("POST", ev.hooks.URL+path, bytes.NewReader(body))
	if err != nil {
		ev.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ev.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode, Raw: string(raw)}
	if err := json.Unmarshal(raw, &r.Body); err != nil {
		ev.t.Fatalf("%s answered %d with non-JSON %q", path, resp.StatusCode, raw)
	}
	return r
}

func (ev *env) postJenkins(body []byte) reply {
	return ev.post("/webhooks/jenkins/"+jenkinsConnStr, body, jenkinsUser, jenkinsHook)
}

func (ev *env) postTeamBuild(body []byte) reply {
	return ev.post("/webhooks/teambuild/"+adoConnStr, body, adoUser, adoHook)
}

func (ev *env) releases() []*ent.Release {
	ev.t.Helper()
	rs, err := ev.c.Release.Query().WithArtifacts().All(ev.ctx)
	if err != nil {
		ev.t.Fatal(err)
	}
	return rs
}

func (ev *env) deliveries() []*ent.WebhookDelivery {
	ev.t.Helper()
	ds, err := ev.c.WebhookDelivery.Query().WithReleases().Order(ent.Asc("id")).All(ev.ctx)
	if err != nil {
		ev.t.Fatal(err)
	}
	return ds
}

// counts snapshots the tables that a rejected delivery must not touch.
func (ev *env) counts() map[string]int {
	ev.t.Helper()
	return map[string]int{
		"releases": ev.c.Release.Query().CountX(ev.ctx),
		"audit":    ev.c.AuditEvent.Query().CountX(ev.ctx),
		"timers":   ev.c.Timer.Query().CountX(ev.ctx),
		"events":   ev.c.Event.Query().CountX(ev.ctx),
	}
}

// mutate decodes a JSON fixture, lets fn change it, and encodes it again.
func mutate(t testing.TB, raw []byte, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func obj(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// confirmJenkins makes the fake Jenkins know build number of job (full
// name, "folder/job") with result (SUCCESS, UNSTABLE…) and archived files:
// the api/json a webhook's build is confirmed with, in Jenkins' documented
// shape.
func (ev *env) confirmJenkins(job string, number int, result string, files ...string) {
	ev.t.Helper()
	ev.confirmJenkinsOn("refs/remotes/origin/main", job, number, result, files...)
}

// confirmJenkinsOn is confirmJenkins for a build whose git data (the git
// plugin's BuildData action, as a real Jenkins reports it) names branch.
func (ev *env) confirmJenkinsOn(branch, job string, number int, result string, files ...string) {
	ev.t.Helper()
	arts := []map[string]any{}
	for _, f := range files {
		arts = append(arts, map[string]any{"displayPath": path.Base(f), "fileName": path.Base(f), "relativePath": f})
	}
	body, err := json.Marshal(map[string]any{
		"_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun", "number": number, "displayName": fmt.Sprintf("#%d", number),
		"url":    fmt.Sprintf("https://ci.example.com/jenkins/%s%d/", jenkinsJobPath(job), number),
		"result": result, "building": false, "timestamp": 1736073001234, "duration": 61000,
		"artifacts": arts, "changeSets": []any{},
		"actions": []any{map[string]any{"_class": "hudson.model.CauseAction"}, map[string]any{
			"_class": "hudson.plugins.git.util.BuildData", "remoteUrls": []string{"https://github.com/acme/app.git"},
			"lastBuiltRevision": map[string]any{"SHA1": "9fceb02d0ae598e95dc970b74767f19372d61af8",
				"branch": []any{map[string]any{"SHA1": "9fceb02d0ae598e95dc970b74767f19372d61af8", "name": branch}}},
		}},
	})
	if err != nil {
		ev.t.Fatal(err)
	}
	ev.ci.serve(fmt.Sprintf("/jenkins/%s%d/api/json", jenkinsJobPath(job), number), body)
}

// jenkinsJobPath is "job/a/job/b/" for the full name "a/b".
func jenkinsJobPath(job string) string {
	return "job/" + strings.Join(strings.Split(job, "/"), "/job/") + "/"
}

// confirmTeamBuild makes the fake Azure DevOps know build id of build
// definition defID in project, completed with result (succeeded,
// partiallySucceeded…) on branch: api_build.json with those values.
func (ev *env) confirmTeamBuild(project string, id, defID int, defName, result, branch string) {
	ev.t.Helper()
	ev.ci.serve(fmt.Sprintf("/fabrikam/%s/_apis/build/builds/%d", project, id), mutate(ev.t, fixture(ev.t, "teambuild", "api_build.json"), func(m map[string]any) {
		m["id"], m["result"], m["status"], m["sourceBranch"] = id, result, "completed", branch
		d := obj(m, "definition")
		d["id"], d["name"] = defID, defName
	}))
}
