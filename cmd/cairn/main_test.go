package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/agent"
	"github.com/cairnhq/cairn/delivery"
	entagent "github.com/cairnhq/cairn/ent/agent"
	"github.com/cairnhq/cairn/server"
)

const waitLimit = 60 * time.Second

// testServer is a real Cairn server on a real listener with one real agent connected.
type testServer struct {
	srv   *server.Server
	url   string
	admin string
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	s, err := server.New(ctx, server.Config{DataDir: t.TempDir(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); s.Close() })
	ts := &testServer{srv: s, url: hs.URL}
	ts.admin = ts.token(t, "admin", delivery.RoleAdmin)

	reg, _, err := s.Engine.CreateAgentRegistration(ctx, delivery.SystemActor("test"), "", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithCancel(ctx)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		agent.Run(actx, agent.Config{Server: hs.URL, Token: reg, Name: "builder", WorkDir: t.TempDir(),
			Logger: log, ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
			KillGrace: 300 * time.Millisecond, ShutdownTimeout: 2 * time.Second})
	}()
	t.Cleanup(func() { cancel(); <-exited }) // before the server stops (cleanups run last in, first out)
	ts.waitFor(t, "the agent online", func() bool {
		a, err := s.Engine.Client().Agent.Query().Where(entagent.Name("builder")).Only(ctx)
		return err == nil && a.Online
	})
	return ts
}

func (ts *testServer) token(t *testing.T, username string, role delivery.Role) string {
	t.Helper()
	ctx, e, sys := context.Background(), ts.srv.Engine, delivery.SystemActor("test")
	var id int
	if role == delivery.RoleAdmin {
		u, err := e.EnsureAdmin(ctx, username)
		if err != nil {
			t.Fatal(err)
		}
		id = u.ID
	} else {
		u, err := e.CreateUser(ctx, sys, delivery.UserInput{Username: username, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		id = u.ID
	}
	row, err := e.CreateAPIToken(ctx, sys, "cli", id, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.srv.Keys.IssueAPIToken(username, row.Jti, row.ExpiresAt, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// waitFor waits for cond, re-checking on every event of the server's bus, up to waitLimit.
func (ts *testServer) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	events, unsubscribe := ts.srv.Events().Subscribe()
	defer func() { unsubscribe() }()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for !cond() {
		select {
		case _, ok := <-events:
			if !ok { // lagged: subscribe again, and check again
				events, unsubscribe = ts.srv.Events().Subscribe()
			}
		case <-time.After(100 * time.Millisecond): // changes that publish nothing
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// cli runs the command line in-process with a config dir of its own.
type cli struct {
	t      *testing.T
	config string
	env    map[string]string
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, config: filepath.Join(t.TempDir(), "conf"), env: map[string]string{}}
}

func (c *cli) environ() environ {
	return environ{
		lookup: func(k string) (string, bool) { v, ok := c.env[k]; return v, ok },
		home:   func() (string, error) { return c.config, nil },
	}
}

// run runs a command line and returns its output and error.
func (c *cli) run(stdin string, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, c.environ())
	return out.String(), err
}

// ok runs a command line that must succeed.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	out, err := c.run("", args...)
	if err != nil {
		c.t.Fatalf("cairn %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// json runs a command line with -o json and decodes its output.
func (c *cli) json(v any, args ...string) {
	c.t.Helper()
	out := c.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("cairn %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// lineWriter is an output that tells when a line containing a text was written.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	want  string
	found chan struct{}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.found != nil && strings.Contains(w.buf.String(), w.want) {
		close(w.found)
		w.found = nil
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestCLIAgainstARealServer walks a person's day with the command line: login, a release, its
// log followed live, approvals decided both ways, a redeploy, the environment matrix and the
// agents; and -o json of each.
func TestCLIAgainstARealServer(t *testing.T) {
	ts := startServer(t)
	c := newCLI(t)

	// Login reads the token from stdin, checks it and keeps it in a 0600 file.
	out, err := c.run(ts.admin+"\n", "login", "--server", ts.url+"/", "--token", "-")
	if err != nil || !strings.Contains(out, "as admin (ADMIN)") {
		t.Fatalf("login: %v %q", err, out)
	}
	path := filepath.Join(c.config, "cairn", "config.json")
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", info, err)
	}
	var who viewer
	c.json(&who, "whoami")
	if who.User.Username != "admin" || who.Role != "ADMIN" {
		t.Errorf("whoami %+v", who)
	}

	gate := filepath.Join(t.TempDir(), "gate")
	cl := &client{server: ts.url, token: ts.admin, http: &httpClient}
	script := "echo first line; while [ ! -e '" + gate + "' ]; do sleep 0.02; done; echo second line"
	if err := cl.do(context.Background(), `mutation($s: String!) { createDefinition(input: {name: "flow", environments: [
	    {name: "dev", trigger: {kind: AFTER_RELEASE}, job: {tasks: [{name: "t", script: $s}]}},
	    {name: "prod", trigger: {kind: AFTER_ENVIRONMENTS, environments: ["dev"]},
	     preApproval: {approvers: [{kind: USER, name: "admin"}]}, job: {tasks: [
	       {name: "verify", kind: MANUAL_INTERVENTION, instructions: "Check\nthe canary"}, {name: "t", script: "echo prod"}]}}]}) { id } }`,
		map[string]any{"s": script}, nil); err != nil {
		t.Fatal(err)
	}

	var rel release
	c.json(&rel, "release", "create", "flow", "--description", "first")
	if rel.Name == "" || rel.Definition.Name != "flow" || len(rel.Environments) != 2 {
		t.Fatalf("release create: %+v", rel)
	}
	depID := ts.deploymentOf(t, rel.ID, "dev")

	// logs -f prints the first line while the task still runs, then the rest, then ends.
	w := &lineWriter{want: "first line", found: make(chan struct{})}
	found := w.found
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"logs", "-f", depID}, strings.NewReader(""), w, &bytes.Buffer{}, c.environ())
	}()
	select {
	case <-found:
	case err := <-done:
		t.Fatalf("logs -f ended before the first line: %v %q", err, w.String())
	case <-time.After(waitLimit):
		t.Fatalf("no first line: %q", w.String())
	}
	if strings.Contains(w.String(), "second line") {
		t.Fatal("second line before the gate opened")
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("logs -f: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatalf("logs -f did not end with the job: %q", w.String())
	}
	if f, s := strings.Index(w.String(), "first line"), strings.Index(w.String(), "second line"); f < 0 || s < f {
		t.Errorf("followed log: %q", w.String())
	}
	// Without -f: the stored log; with -o json, one object per line.
	if out := c.ok("logs", depID); !strings.Contains(out, "first line\n") || !strings.Contains(out, "second line\n") {
		t.Errorf("logs: %q", out)
	}
	jl := strings.Split(strings.TrimSpace(c.ok("logs", depID, "-o", "json", "--from", "2")), "\n")
	var l logLine
	if err := json.Unmarshal([]byte(jl[0]), &l); err != nil || l.Seq != 2 {
		t.Errorf("logs -o json --from 2: %v %q", err, jl[0])
	}

	// prod waits for admin's approval: approve it with a comment.
	approval := c.pendingApproval(ts, rel.Name)
	// why says so, with the command that approves it.
	if out := c.ok("why", rel.ID, "prod"); !strings.Contains(out, rel.Name+" is not in prod yet (PENDING_APPROVAL):") ||
		!strings.Contains(out, "1. PENDING_APPROVAL (pre): the pre-deployment approval of prod waits for user admin") ||
		!strings.Contains(out, "who can act: user admin") || !strings.Contains(out, "approve (cairn approve "+approval+")") {
		t.Errorf("why:\n%s", out)
	}
	var why struct {
		Deployed bool
		Blockers []struct{ Kind string }
	}
	c.json(&why, "why", rel.ID, "dev")
	if !why.Deployed || len(why.Blockers) != 0 {
		t.Errorf("why of a deployed environment: %+v", why)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"why", rel.ID}, "want RELEASE-ID ENVIRONMENT"},
		{[]string{"why", "Release-1", "prod"}, "want the release's number id"},
		{[]string{"why", "987654321", "prod"}, "release 987654321 not found"},
		{[]string{"why", rel.ID, "staging"}, `no environment "staging" (it has dev, prod)`},
	} {
		if _, err := c.run("", bad.args...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("cairn %s: %v, want %q", strings.Join(bad.args, " "), err, bad.want)
		}
	}
	if out := c.ok("approve", approval, "--comment", "ship it"); !strings.Contains(out, "APPROVED") {
		t.Errorf("approve: %q", out)
	}
	// Then it waits at its manual intervention: list it and resume it.
	var pending []struct {
		ID, TaskName, Instructions string
	}
	ts.waitFor(t, "the manual intervention", func() bool {
		c.json(&pending, "interventions", "list")
		return len(pending) == 1
	})
	if pending[0].TaskName != "verify" || pending[0].Instructions != "Check\nthe canary" {
		t.Errorf("interventions list: %+v", pending)
	}
	if out := c.ok("interventions", "list"); !strings.Contains(out, "Check the canary") {
		t.Errorf("interventions list table:\n%s", out)
	}
	if out := c.ok("resume", pending[0].ID, "--comment", "canary fine"); !strings.Contains(out, "RESUMED") {
		t.Errorf("resume: %q", out)
	}
	ts.waitFor(t, "prod deployed", func() bool { return ts.envStatus(t, rel.ID, "prod") == "SUCCEEDED" })
	if out := c.ok("why", rel.ID, "prod"); out != rel.Name+" is in prod (SUCCEEDED): nothing blocks it.\n" {
		t.Errorf("why once deployed: %q", out)
	}

	// A second release: reject prod.
	var rel2 release // dev's task finds the gate open and ends at once
	c.json(&rel2, "release", "create", "flow")
	approval = c.pendingApproval(ts, rel2.Name)
	var decided struct{ Status, Comment string }
	c.json(&decided, "reject", approval, "--comment", "not today")
	if decided.Status != "REJECTED" || decided.Comment != "not today" {
		t.Errorf("reject: %+v", decided)
	}

	// Redeploy release 1 to dev.
	var dep deployment
	c.json(&dep, "deploy", rel.ID, "dev", "--comment", "again")
	if dep.Attempt != 2 || dep.EnvironmentName != "dev" || dep.Release.ID != rel.ID {
		t.Errorf("deploy: %+v", dep)
	}
	ts.waitFor(t, "the redeploy", func() bool { return ts.envStatus(t, rel.ID, "dev") == "SUCCEEDED" })

	// The matrix: newest release first; * marks what each environment runs.
	status := c.ok("status", "flow")
	lines := strings.Split(strings.TrimSpace(status), "\n")
	if len(lines) != 3 || strings.Fields(lines[0])[1] != "dev" || strings.Fields(lines[0])[2] != "prod" {
		t.Fatalf("status:\n%s", status)
	}
	if f := strings.Fields(lines[1]); f[0] != rel2.Name || f[2] != "REJECTED" {
		t.Errorf("status row of %s: %q", rel2.Name, lines[1])
	}
	if f := strings.Fields(lines[2]); f[0] != rel.Name || f[1] != "SUCCEEDED*" || f[2] != "SUCCEEDED*" {
		t.Errorf("status row of %s: %q", rel.Name, lines[2])
	}
	var st struct {
		Environments []struct{ Environment string }
		Releases     []release
	}
	c.json(&st, "status", "flow", "--releases", "1")
	if len(st.Environments) != 2 || len(st.Releases) != 1 || st.Releases[0].ID != rel2.ID {
		t.Errorf("status -o json: %+v", st)
	}

	var list []release
	c.json(&list, "releases", "list", "--definition", "flow")
	if len(list) != 2 || list[0].ID != rel2.ID {
		t.Errorf("releases list: %+v", list)
	}
	if out := c.ok("releases", "list"); !strings.Contains(out, rel.Name) || !strings.Contains(out, "dev SUCCEEDED, prod SUCCEEDED") {
		t.Errorf("releases list:\n%s", out)
	}
	if out := c.ok("releases", "list", "--definition", "nope"); strings.Count(out, "\n") != 1 {
		t.Errorf("releases of an unknown definition:\n%s", out)
	}

	var agents []struct {
		Name   string
		Online bool
	}
	c.json(&agents, "agents", "list")
	if len(agents) != 1 || agents[0].Name != "builder" || !agents[0].Online {
		t.Errorf("agents list: %+v", agents)
	}
	if out := c.ok("agents", "list"); !strings.Contains(out, "builder") || !strings.Contains(out, "online") {
		t.Errorf("agents list:\n%s", out)
	}

	// A viewer may look but not deploy: the server's error reaches the person.
	viewerCLI := newCLI(t)
	viewerCLI.env["CAIRN_SERVER"], viewerCLI.env["CAIRN_TOKEN"] = ts.url, ts.token(t, "vera", delivery.RoleViewer)
	viewerCLI.ok("status", "flow")
	if _, err := viewerCLI.run("", "deploy", rel.ID, "prod"); err == nil || !strings.Contains(err.Error(), "FORBIDDEN") {
		t.Errorf("viewer deploy: %v", err)
	}
}

// deploymentOf returns the id of the latest deployment of a release's environment.
func (ts *testServer) deploymentOf(t *testing.T, relID, env string) string {
	t.Helper()
	var id string
	ts.waitFor(t, "a deployment of "+env, func() bool {
		id = ts.envField(t, relID, env, "id")
		return id != ""
	})
	return id
}

func (ts *testServer) envStatus(t *testing.T, relID, env string) string {
	return ts.envField(t, relID, env, "status")
}

func (ts *testServer) envField(t *testing.T, relID, env, field string) string {
	t.Helper()
	cl := &client{server: ts.url, token: ts.admin, http: &httpClient}
	var res struct {
		Release struct {
			Environments []struct {
				Name        string
				Deployments []map[string]any
			}
		}
	}
	if err := cl.do(context.Background(), `query($r: ID!) { release(id: $r) { environments { name deployments { id status } } } }`,
		map[string]any{"r": relID}, &res); err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Release.Environments {
		if e.Name == env && len(e.Deployments) > 0 {
			v, _ := e.Deployments[len(e.Deployments)-1][field].(string)
			return v
		}
	}
	return ""
}

// pendingApproval waits until approvals list shows one for release and returns its id.
func (c *cli) pendingApproval(ts *testServer, releaseName string) string {
	c.t.Helper()
	var id string
	ts.waitFor(c.t, "an approval of "+releaseName, func() bool {
		var list []struct {
			ID         string
			Deployment struct {
				Release struct{ Name string }
			}
		}
		c.json(&list, "approvals", "list")
		for _, a := range list {
			if a.Deployment.Release.Name == releaseName {
				id = a.ID
				return true
			}
		}
		return false
	})
	if out := c.ok("approvals", "list"); !strings.Contains(out, releaseName) || !strings.Contains(out, "PRE") {
		c.t.Errorf("approvals list:\n%s", out)
	}
	return id
}

// TestCLIRefusals: command lines and situations the command must refuse with a clear message
// and without calling the server wrongly.
func TestCLIRefusals(t *testing.T) {
	ts := startServer(t)
	c := newCLI(t)
	usage := func(args ...string) {
		t.Helper()
		_, err := c.run("", args...)
		if !errors.As(err, new(usageError)) {
			t.Errorf("cairn %q: %v, want a usage error", args, err)
		}
	}
	usage()
	usage("frobnicate")
	usage("releases") // a word short
	usage("deploy", "12")
	usage("approve")
	usage("releases", "list", "-o", "yaml")
	usage("releases", "list", "--first", "0")
	usage("status", "flow", "--releases", "1000")
	usage("release", "create", "flow", "--artifact", "app")
	usage("release", "create", "flow", "--artifact", "=42")
	usage("logs", "1", "--from", "0")
	usage("approve", "1", "--defer-until", "tomorrow")
	usage("login", "--token", "x")                                       // no server
	usage("login", "--server", "ftp://example.com", "--token", "x")      // not http
	usage("login", "--server", "http://u:p@example.com", "--token", "x") // credentials in the URL
	usage("login", "--server", ts.url, "--token", "two words")
	if _, err := c.run("", "releases", "list", "--bogus"); err == nil {
		t.Error("an unknown flag was accepted")
	}

	// Not logged in.
	if _, err := c.run("", "releases", "list"); err == nil || !strings.Contains(err.Error(), "not logged in") {
		t.Errorf("not logged in: %v", err)
	}
	// A wrong token is not kept.
	if _, err := c.run("", "login", "--server", ts.url, "--token", "not-a-token"); err == nil {
		t.Error("login with a bad token succeeded")
	}
	if _, err := os.Stat(filepath.Join(c.config, "cairn", "config.json")); !os.IsNotExist(err) {
		t.Errorf("a bad token was written: %v", err)
	}
	// A server that is not Cairn.
	if _, err := c.run("", "whoami", "--server", ts.url+"/nothing-here", "--token", ts.admin); err == nil || !strings.Contains(err.Error(), "not GraphQL") {
		t.Errorf("not a Cairn server: %v", err)
	}
	// A config file others can read is refused.
	c.ok("login", "--server", ts.url, "--token", ts.admin)
	path := filepath.Join(c.config, "cairn", "config.json")
	os.Chmod(path, 0o644)
	if _, err := c.run("", "whoami"); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("readable config: %v", err)
	}
	os.Chmod(path, 0o600)
	good, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(`{"server": 12`), 0o600)
	if _, err := c.run("", "whoami"); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("malformed config: %v", err)
	}
	os.WriteFile(path, []byte(`{"server": "javascript:alert(1)", "token": "x"}`), 0o600)
	if _, err := c.run("", "whoami"); !errors.As(err, new(usageError)) {
		t.Errorf("hostile server in config: %v", err)
	}
	os.WriteFile(path, good, 0o600)
	// Flags and variables win over the config file; logout forgets the token.
	c.env["CAIRN_TOKEN"] = "bad"
	if _, err := c.run("", "whoami"); err == nil {
		t.Error("CAIRN_TOKEN did not override the config")
	}
	delete(c.env, "CAIRN_TOKEN")
	c.ok("whoami")
	c.ok("logout")
	if _, err := c.run("", "whoami"); err == nil || !strings.Contains(err.Error(), "not logged in") {
		t.Errorf("after logout: %v", err)
	}
	c.ok("login", "--server", ts.url, "--token", ts.admin)
	// Unknown things are errors from the server, shown as such.
	for _, args := range [][]string{{"release", "create", "nope"}, {"status", "nope"}, {"logs", "999999"},
		{"deploy", "999999", "dev"}, {"approve", "999999"}, {"logs", "-f", "999999"}, {"logs", "'; drop table"}} {
		if _, err := c.run("", args...); err == nil || errors.As(err, new(usageError)) {
			t.Errorf("cairn %q: %v, want a server error", args, err)
		}
	}
	// The id of something that is not a deployment (a user) is no deployment either.
	userID := ts.srv.Engine.Client().User.Query().FirstIDX(context.Background())
	if out, err := c.run("", "logs", fmt.Sprint(userID)); err == nil || !strings.Contains(err.Error(), "no deployment") {
		t.Errorf("cairn logs <a user's id>: %q, %v", out, err)
	}
	usage("webhooks", "redeliver")
	if _, err := c.run("", "webhooks", "redeliver", "999999"); err == nil || !strings.Contains(err.Error(), "NOT_FOUND") && !strings.Contains(err.Error(), "not found") {
		t.Errorf("redelivering an unknown delivery: %v", err)
	}
}

// TestCLIRedeliver: a webhook delivery is redelivered by its id; the answer names the new
// delivery, the first, and the result.
func TestCLIRedeliver(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	secret := "hook-secret"
	if _, err := ts.srv.Engine.CreateConnection(ctx, delivery.SystemActor("test"), delivery.ConnectionInput{Name: "jenkins",
		Kind: "JENKINS", URL: "https://jenkins.invalid", WebhookSecret: &secret}); err != nil {
		t.Fatal(err)
	}
	body := `{"name":"main","url":"job/web/job/main/","build":{"number":43,"phase":"COMPLETED","status":"SUCCESS","url":"job/web/job/main/43/","scm":{"branch":"origin/main"}}}`
	resp, err := http.Post(ts.url+"/webhooks/jenkins/jenkins?token="+secret, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var first struct {
		Delivery int `json:"delivery"`
	}
	json.NewDecoder(resp.Body).Decode(&first)
	resp.Body.Close()
	if resp.StatusCode != 202 || first.Delivery == 0 {
		t.Fatalf("webhook: %d %+v", resp.StatusCode, first)
	}
	c := newCLI(t)
	c.ok("login", "--server", ts.url, "--token", ts.admin)
	out := c.ok("webhooks", "redeliver", fmt.Sprint(first.Delivery))
	if !strings.Contains(out, fmt.Sprintf("(redelivery of %d): IGNORED: no definition follows", first.Delivery)) {
		t.Fatalf("redeliver: %q", out)
	}
	editor := newCLI(t)
	editor.ok("login", "--server", ts.url, "--token", ts.token(t, "eve", delivery.RoleEditor))
	if _, err := editor.run("", "webhooks", "redeliver", fmt.Sprint(first.Delivery)); err == nil || !strings.Contains(err.Error(), "FORBIDDEN") && !strings.Contains(strings.ToLower(err.Error()), "requires role") {
		t.Fatalf("an EDITOR redelivering: %v", err)
	}
}

// TestCLITasks: the task library is listed and a template's documentation shown.
func TestCLITasks(t *testing.T) {
	ts := startServer(t)
	c := newCLI(t)
	c.env["CAIRN_SERVER"], c.env["CAIRN_TOKEN"] = ts.url, ts.admin
	if out := c.ok("tasks", "list"); !strings.Contains(out, "CopyFiles@2") || !strings.Contains(out, "built-in") {
		t.Errorf("tasks list:\n%s", out)
	}
	if out := c.ok("tasks", "show", "CopyFiles@2"); !strings.Contains(out, "## CopyFiles@2 (2.0)") || !strings.Contains(out, "| `TargetFolder` | FILE_PATH | yes |") {
		t.Errorf("tasks show:\n%s", out)
	}
	if _, err := c.run("", "tasks", "show", "Nope@1"); err == nil || !strings.Contains(err.Error(), "no task template Nope version 1") {
		t.Errorf("unknown template: %v", err)
	}
}

// TestCLIRetentionPreview: cairn retention preview DEF (by name or id) prints each release's
// verdict and reasons, in a table and as JSON.
func TestCLIRetentionPreview(t *testing.T) {
	ts := startServer(t)
	c := newCLI(t)
	c.env["CAIRN_SERVER"], c.env["CAIRN_TOKEN"] = ts.url, ts.admin
	cl := &client{server: ts.url, token: ts.admin, http: &httpClient}
	var def struct {
		CreateDefinition struct {
			ID string `json:"id"`
		} `json:"createDefinition"`
	}
	if err := cl.do(context.Background(), `mutation { createDefinition(input: {name: "kept", environments: [
	    {name: "qa", retention: {daysToKeep: 3, releasesToKeep: 2}}]}) { id } }`, nil, &def); err != nil {
		t.Fatal(err)
	}
	var rel release
	c.json(&rel, "release", "create", "kept")
	if err := cl.do(context.Background(), `mutation($id: ID!) { updateRelease(id: $id, input: {keepForever: true}) { id } }`,
		map[string]any{"id": rel.ID}, nil); err != nil {
		t.Fatal(err)
	}
	out := c.ok("retention", "preview", "kept")
	if !strings.Contains(out, "VERDICT") || !strings.Contains(out, "KEPT") || !strings.Contains(out, "keep forever by admin") ||
		!strings.Contains(out, "the definition's newest release") {
		t.Errorf("retention preview:\n%s", out)
	}
	var p retentionPreview
	c.json(&p, "retention", "preview", def.CreateDefinition.ID)
	if len(p.Releases) != 1 || p.Releases[0].Verdict != "KEPT" || p.Releases[0].Name != rel.Name {
		t.Errorf("retention preview -o json: %+v", p)
	}
	if _, err := c.run("", "retention", "preview", "nope"); err == nil || !strings.Contains(err.Error(), `no definition named "nope"`) {
		t.Errorf("unknown definition: %v", err)
	}
}
