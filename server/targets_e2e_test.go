package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/agent"
	"github.com/cairnhq/cairn/delivery"
	entagent "github.com/cairnhq/cairn/ent/agent"
)

// startTargetAgent runs a real agent registered through createTargetRegistration, with tags.
func (h *harness) startTargetAgent(t *testing.T, token, name, tags string) {
	t.Helper()
	cfg := agent.Config{
		Server: h.http.URL, Token: token, Name: name, WorkDir: t.TempDir(), Tags: strings.Split(tags, ","),
		Logger:       testLogger(t).With("agent", name),
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
		KillGrace: 300 * time.Millisecond, ShutdownTimeout: 2 * time.Second,
	}
	a := &liveAgent{name: name, dir: cfg.WorkDir, exited: make(chan struct{})}
	actx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() {
		a.err = agent.Run(actx, cfg)
		close(a.exited)
	}()
	t.Cleanup(func() {
		if err := a.stop(); err != nil {
			t.Errorf("agent %s: %v", name, err)
		}
	})
	h.waitFor(t, "target "+name+" online", func() bool {
		row, err := h.srv.Engine.Client().Agent.Query().Where(entagent.Name(name)).Only(context.Background())
		return err == nil && row.Online
	})
}

// TestDeploymentGroupThroughTheAPI deploys a definition written with phases through GraphQL to
// two real targets registered into a deployment group, and reads the targets, their logs and
// the group back through the API.
func TestDeploymentGroupThroughTheAPI(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		h.ok(h.admin, `mutation { saveDeploymentGroup(input: {name: "farm", description: "web farm"}) { id name } }`, nil)
		d := h.ok(h.admin, `mutation { createTargetRegistration(deploymentGroup: "farm", maxUses: 2) { token } }`, nil)
		token := dig(d, "createTargetRegistration", "token").(string)
		h.startTargetAgent(t, token, "web-a", "web,eu")
		h.startTargetAgent(t, token, "web-b", "web")
		h.startAgent(t, "builder", nil) // the default pool's agent, for the AGENT phase
		def := h.createDefinition(t, `{name: "site", environments: [{name: "prod", phases: [
		  {kind: DEPLOYMENT_GROUP, name: "rollout", deploymentGroup: "farm", tags: ["web"], maxParallel: "50%",
		   failureThreshold: "0", offlineTargets: SKIP, skipArtifactDownload: true,
		   tasks: [{name: "deploy", script: "echo \"deployed to $AGENT_NAME\""}]},
		  {kind: AGENT, name: "smoke", condition: "ALWAYS", skipArtifactDownload: true, tasks: [{name: "t", script: "echo smoke"}]}]}]}`)
		got := h.ok(h.admin, `query($d: ID!) { node(id: $d) { ... on ReleaseDefinition { revisions(first: 1) { edges { node { snapshot {
		    environments { job { tasks { name } } phases { kind name condition maxParallel tags offlineTargets }
		                   deployPhases { kind pool } } } } } } } } }`, map[string]any{"d": def})
		if s := toJSON(dig(got, "node", "revisions", "edges")); !strings.Contains(s, `"deployPhases":[{"kind":"DEPLOYMENT_GROUP","pool":""},{"kind":"AGENT","pool":""}]`) ||
			!strings.Contains(s, `"condition":"ALWAYS"`) || !strings.Contains(s, `"maxParallel":"50%"`) {
			t.Fatalf("stored phases: %s", s)
		}
		rel := h.createRelease(t, def, nil)
		h.ok(h.admin, `mutation($r: ID!) { deployEnvironment(input: {releaseId: $r, environment: "prod"}) { id } }`, map[string]any{"r": rel})
		st := h.waitEnv(t, rel, "prod", "SUCCEEDED")
		d = h.ok(h.admin, `query($d: ID!) { node(id: $d) { ... on Deployment { targets { id target status startedAt finishedAt } } } }`,
			map[string]any{"d": st.DeploymentID})
		targets := dig(d, "node", "targets").([]any)
		if len(targets) != 2 {
			t.Fatalf("targets %v", targets)
		}
		for i, name := range []string{"web-a", "web-b"} {
			tj := targets[i].(map[string]any)
			if tj["target"] != name || tj["status"] != "SUCCEEDED" || tj["startedAt"] == nil {
				t.Fatalf("target %d: %v", i, tj)
			}
			if log := h.taskLog(t, tj["id"].(string)); len(log) != 1 || log[0] != "deployed to "+name {
				t.Fatalf("%s log %q", name, log)
			}
		}
		req, _ := http.NewRequest("GET", h.http.URL+"/logs/deployments/"+st.DeploymentID+"?target=web-b", nil)
		req.Header.Set("Authorization", "Bearer "+h.admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "deployed to web-b") || strings.Contains(string(body), "web-a") {
			t.Fatalf("target download %d: %s", resp.StatusCode, body)
		}
		// With headers, the whole download groups by phase, target and task.
		req, _ = http.NewRequest("GET", h.http.URL+"/logs/deployments/"+st.DeploymentID+"?headers=1", nil)
		req.Header.Set("Authorization", "Bearer "+h.admin)
		if resp, err = http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		task := func(prefix string, phase int, name string) string {
			return regexp.QuoteMeta(fmt.Sprintf("%s===== Phase %d · Task 1: %s · SUCCEEDED · started ", prefix, phase, name)) + `\S+ · \S+ =====\n`
		}
		grouped := "^" + task("", 2, "t") + "smoke\n" + task("[web-a] ", 1, "deploy") + regexp.QuoteMeta("[web-a] deployed to web-a") + "\n" +
			task("[web-b] ", 1, "deploy") + regexp.QuoteMeta("[web-b] deployed to web-b") + "\n$"
		if ok, _ := regexp.Match(grouped, body); resp.StatusCode != 200 || !ok {
			t.Fatalf("grouped download %d:\n%s", resp.StatusCode, body)
		}
		// The agent phase's log is the deployment's.
		if log := h.taskLog(t, st.JobID); len(log) != 1 || log[0] != "smoke" {
			t.Fatalf("smoke log %q (job %s)", log, st.JobID)
		}
		groups := h.ok(h.admin, `{ deploymentGroups { name description targets { name online tags lastDeployment { id } } } }`, nil)
		if s := toJSON(groups); !strings.Contains(s, `"name":"web-a","online":true,"tags":["eu","web"]`) || !strings.Contains(s, `"lastDeployment":{"id":"`+st.DeploymentID+`"}`) {
			t.Fatalf("groups %s", s)
		}
		// Hostile input is refused with its path, nothing written.
		r := h.do(h.admin, `mutation { createDefinition(input: {name: "bad", environments: [{name: "e", phases: [
		  {kind: DEPLOYMENT_GROUP, deploymentGroup: "farm", maxParallel: "150%"}]}]}) { id } }`, nil)
		if r.code() != "INVALID_INPUT" || !strings.Contains(toJSON(r.Errors), "environments[0].phases[0].maxParallel") {
			t.Fatalf("150%%: %s %s", r.code(), toJSON(r.Errors))
		}
		r = h.do(h.admin, `mutation { setTargetTags(agentId: "1", tags: ["`+strings.Repeat("x", 80)+`"]) { id } }`, nil)
		if r.code() != "INVALID_INPUT" && r.code() != "NOT_FOUND" {
			t.Fatalf("long tag: %s", r.code())
		}
		// A VIEWER may list but not change groups.
		viewer := h.tokenFor("vic", delivery.RoleViewer)
		if r := h.do(viewer, `mutation { saveDeploymentGroup(input: {name: "x"}) { id } }`, nil); r.code() != "FORBIDDEN" {
			t.Fatalf("viewer saving a group: %s", r.code())
		}
	})
}

// targetLine is a line of a deploymentLog stream with targets.
type targetLine struct {
	Seq    int    `json:"seq"`
	Text   string `json:"text"`
	Target string `json:"target"`
}

// nextLogLine reads the next line of log subscription id; ok is false when it completed.
func (c *wsClient) nextLogLine(id string) (l targetLine, ok bool) {
	c.t.Helper()
	for {
		m, open := c.next(waitLimit)
		if !open {
			c.t.Fatalf("connection closed: %v", <-c.closed)
		}
		if m.ID != id {
			continue
		}
		switch m.Type {
		case "next":
			var p struct {
				Data struct {
					DeploymentLog targetLine `json:"deploymentLog"`
				} `json:"data"`
				Errors []gqlError `json:"errors"`
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 {
				c.t.Fatalf("bad message %s (%v)", m.Payload, err)
			}
			return p.Data.DeploymentLog, true
		case "complete":
			return targetLine{}, false
		default:
			c.t.Fatalf("unexpected %s message: %s", m.Type, m.Payload)
		}
	}
}

// TestDeploymentLogCarriesTargetsLive follows a deployment whose deployment-group phase runs on
// two real targets at once: a deploymentLog subscriber with targets: true receives each
// target's lines as the target prints them (one target's last line while the other still runs),
// each labelled with its target and numbered in its own sequence, between the agent phases'
// lines; a subscriber without targets gets the agent phases' lines only, in one sequence; the
// batches carry the target too, and a resume after the agent phase before the group sends the
// targets' lines again from their first.
func TestDeploymentLogCarriesTargetsLive(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		h.ok(h.admin, `mutation { saveDeploymentGroup(input: {name: "farm"}) { id } }`, nil)
		d := h.ok(h.admin, `mutation { createTargetRegistration(deploymentGroup: "farm", maxUses: 2) { token } }`, nil)
		token := dig(d, "createTargetRegistration", "token").(string)
		h.startTargetAgent(t, token, "web-a", "web")
		h.startTargetAgent(t, token, "web-b", "web")
		h.startAgent(t, "builder", nil)
		gate := t.TempDir()
		// Each target prints a line, waits for its file, prints another.
		script := `echo "start on $AGENT_NAME"; for i in $(seq 1 2400); do [ -f '` + gate + `'/$AGENT_NAME ] && break; sleep 0.05; done; echo "done on $AGENT_NAME"`
		def := h.createDefinition(t, `{name: "site", environments: [{name: "prod", phases: [
		  {kind: AGENT, name: "build", skipArtifactDownload: true, tasks: [{name: "b", script: "echo built"}]},
		  {kind: DEPLOYMENT_GROUP, name: "rollout", deploymentGroup: "farm", tags: ["web"], maxParallel: "2",
		   skipArtifactDownload: true, tasks: [{name: "deploy", script: `+strconv.Quote(script)+`}]},
		  {kind: AGENT, name: "smoke", skipArtifactDownload: true, tasks: [{name: "t", script: "echo smoke; echo smoke 2"}]}]}]}`)
		rel := h.createRelease(t, def, nil)
		h.ok(h.admin, `mutation($r: ID!) { deployEnvironment(input: {releaseId: $r, environment: "prod"}) { id } }`, map[string]any{"r": rel})
		var depID string
		h.waitFor(t, "the deployment", func() bool {
			depID = h.releaseEnvs(t, rel)["prod"].DeploymentID
			return depID != ""
		})
		ws := h.dialWS(h.admin, false)
		ws.ack()
		ws.subscribe("all", `subscription($d: ID!) { deploymentLog(deploymentId: $d, targets: true) { seq text target } }`, map[string]any{"d": depID})
		plainWS := h.dialWS(h.admin, false) // a connection each: nextLogLine skips other operations
		plainWS.ack()
		plainWS.subscribe("agents", `subscription($d: ID!) { deploymentLog(deploymentId: $d) { seq text target } }`, map[string]any{"d": depID})
		// Both targets' first lines, labelled, while both still run.
		started := map[string]targetLine{}
		var got []targetLine
		for len(started) < 2 {
			l, ok := ws.nextLogLine("all")
			if !ok {
				t.Fatalf("stream ended early after %v", got)
			}
			got = append(got, l)
			if strings.HasPrefix(l.Text, "start on ") {
				if want := strings.TrimPrefix(l.Text, "start on "); l.Target != want {
					t.Fatalf("line %q labelled %q", l.Text, l.Target)
				}
				started[l.Target] = l
			}
		}
		// web-a finishes while web-b still waits: its last line arrives live.
		if err := os.WriteFile(filepath.Join(gate, "web-a"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		for {
			l, ok := ws.nextLogLine("all")
			if !ok {
				t.Fatalf("stream ended before web-a's last line: %v", got)
			}
			got = append(got, l)
			if l.Text == "done on web-b" {
				t.Fatalf("web-b finished before its file was written: %v", got)
			}
			if l.Text == "done on web-a" {
				if l.Target != "web-a" || l.Seq <= started["web-a"].Seq {
					t.Fatalf("web-a's last line %+v (first %+v)", l, started["web-a"])
				}
				break
			}
		}
		st := h.releaseEnvs(t, rel)["prod"]
		if st.Deployment != "IN_PROGRESS" {
			t.Fatalf("deployment %s while web-b waits", st.Deployment)
		}
		if err := os.WriteFile(filepath.Join(gate, "web-b"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		for {
			l, ok := ws.nextLogLine("all")
			if !ok {
				break
			}
			got = append(got, l)
		}
		h.waitEnv(t, rel, "prod", "SUCCEEDED")
		// Every line once, labelled; each target's in its own sequence from 1; the agent
		// phases' lines in one sequence around them.
		texts := map[string][]string{}
		seqs := map[string][]int{}
		for _, l := range got {
			if strings.Contains(l.Text, "on web-") && !strings.HasSuffix(l.Text, l.Target) {
				t.Fatalf("line %+v has the wrong target", l)
			}
			texts[l.Target] = append(texts[l.Target], l.Text)
			seqs[l.Target] = append(seqs[l.Target], l.Seq)
		}
		for _, name := range []string{"web-a", "web-b", ""} {
			for i, s := range seqs[name] {
				if s != i+1 {
					t.Fatalf("%q sequence %v", name, seqs[name])
				}
			}
		}
		for _, name := range []string{"web-a", "web-b"} {
			if s := strings.Join(texts[name], "|"); !strings.Contains(s, "start on "+name+"|done on "+name) {
				t.Fatalf("%s lines %q", name, texts[name])
			}
		}
		agentLines := strings.Join(texts[""], "|")
		if !strings.Contains(agentLines, "built") || !strings.HasSuffix(agentLines, "smoke|smoke 2") || strings.Contains(agentLines, "on web-") {
			t.Fatalf("agent phases' lines %q", texts[""])
		}
		if got[len(got)-1].Text != "smoke 2" {
			t.Fatalf("the smoke phase's line is not last: %+v", got[len(got)-1])
		}
		// Without targets: the agent phases' lines only, one sequence, no target.
		var plain []targetLine
		for {
			l, ok := plainWS.nextLogLine("agents")
			if !ok {
				break
			}
			plain = append(plain, l)
		}
		for i, l := range plain {
			if l.Seq != i+1 || l.Target != "" || strings.Contains(l.Text, "on web-") {
				t.Fatalf("log without targets: %+v", plain)
			}
		}
		if len(plain) != len(texts[""]) {
			t.Fatalf("log without targets has %d lines, with targets %d agent lines", len(plain), len(texts[""]))
		}
		// Resuming after the build phase's lines sends the targets' lines again, then smoke;
		// from past the smoke line's predecessor, smoke only. Batches carry the target.
		lastBuild := 0 // the build phase's last line: the agent phases' last line before a target's
		for _, l := range got {
			if l.Target != "" {
				break
			}
			lastBuild = l.Seq
		}
		sse := h.subscribeSSE(h.admin, `subscription($d: ID!, $f: Int64) { deploymentLogBatches(deploymentId: $d, fromSeq: $f, targets: true) { target fromSeq texts } }`,
			map[string]any{"d": depID, "f": lastBuild + 1}, "deploymentLogBatches")
		var batches []string
		for {
			b, ok := sse.next(eventWait)
			if !ok {
				break
			}
			batches = append(batches, toJSON(b))
		}
		all := strings.Join(batches, "\n")
		if !strings.Contains(all, `"target":"web-a"`) || !strings.Contains(all, `"target":"web-b"`) ||
			!strings.Contains(all, `"done on web-b"`) || !strings.Contains(all, `"smoke"`) || strings.Contains(all, `"built"`) {
			t.Fatalf("batches from %d:\n%s", lastBuild+1, all)
		}
		// From the smoke phase's second line on: the group lies before the line before it.
		sse = h.subscribeSSE(h.admin, `subscription($d: ID!, $f: Int64) { deploymentLogBatches(deploymentId: $d, fromSeq: $f, targets: true) { target texts } }`,
			map[string]any{"d": depID, "f": lastBuild + 2}, "deploymentLogBatches")
		batches = nil
		for {
			b, ok := sse.next(eventWait)
			if !ok {
				break
			}
			batches = append(batches, toJSON(b))
		}
		if all := strings.Join(batches, "\n"); strings.Contains(all, "web-") || strings.Contains(all, `"smoke"`) || !strings.Contains(all, `"smoke 2"`) {
			t.Fatalf("batches from %d:\n%s\nlines %+v", lastBuild+2, all, got)
		}
	})
}

// TestServerPhaseCallsHTTP runs SERVER phases with an INVOKE_REST_API task against an httptest
// server: a call whose success criteria hold lets the next phase run (its request carried the
// release's variables); one that does not fails the phase with the status and the answer's
// start; a call to a refused address (the server itself) fails without reaching it; bad calls
// are refused at save with their path.
func TestServerPhaseCallsHTTP(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		h.srv.RefuseOutbound(h.http.Listener.Addr())
		var mu sync.Mutex
		var calls []string
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			calls = append(calls, r.Method+" "+r.URL.Path+" "+r.Header.Get("X-Release")+" "+string(body))
			mu.Unlock()
			if strings.HasSuffix(r.URL.Path, "/red") {
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, `{"state":"red"}`)
				return
			}
			io.WriteString(w, `{"state":"green"}`)
		}))
		defer api.Close()
		h.startAgent(t, "builder", nil)
		define := func(name, url string) string {
			return h.createDefinition(t, `{name: "`+name+`", environments: [{name: "prod", phases: [
			  {kind: SERVER, name: "check", tasks: [{name: "health", kind: INVOKE_REST_API, http: {method: "POST", url: "`+url+`",
			    headers: [{name: "X-Release", value: "$(Release.ReleaseName)"}], body: "{\"env\": \"$(Release.EnvironmentName)\"}",
			    successCriteria: "status == 200 && body.state == \"green\""}}]},
			  {kind: AGENT, name: "deploy", skipArtifactDownload: true, tasks: [{name: "t", script: "echo deployed"}]}]}]}`)
		}
		deploy := func(def string) (string, envState) {
			rel := h.createRelease(t, def, nil)
			h.ok(h.admin, `mutation($r: ID!) { deployEnvironment(input: {releaseId: $r, environment: "prod"}) { id } }`, map[string]any{"r": rel})
			return rel, h.waitEnv(t, rel, "prod", "SUCCEEDED", "FAILED")
		}
		reasonOf := func(depID string) string {
			d := h.ok(h.admin, `query($d: ID!) { node(id: $d) { ... on Deployment { statusReason } } }`, map[string]any{"d": depID})
			return dig(d, "node", "statusReason").(string)
		}

		// Success: the call is made once, with the variables expanded, and the agent phase runs.
		rel, st := deploy(define("green", api.URL+"/health/green"))
		if st.Deployment != "SUCCEEDED" {
			t.Fatalf("green call: %+v (%s)", st, reasonOf(st.DeploymentID))
		}
		if log := h.taskLog(t, st.JobID); len(log) != 1 || log[0] != "deployed" {
			t.Fatalf("the agent phase after the call: %q", log)
		}
		relName := dig(h.ok(h.admin, `query($r: ID!) { release(id: $r) { name } }`, map[string]any{"r": rel}), "release", "name").(string)
		mu.Lock()
		if len(calls) != 1 || calls[0] != `POST /health/green `+relName+` {"env": "prod"}` {
			t.Fatalf("calls %q", calls)
		}
		mu.Unlock()

		// Failure: the phase fails with the status and the answer; the agent phase never runs.
		_, st = deploy(define("red", api.URL+"/health/red"))
		if st.Deployment != "FAILED" || st.JobID != "" {
			t.Fatalf("red call: %+v", st)
		}
		if why := reasonOf(st.DeploymentID); !strings.Contains(why, "health: status 503; successCriteria not met") || !strings.Contains(why, `red`) {
			t.Fatalf("red call's reason %q", why)
		}

		// A call to a refused address (the server's own listener) is never made.
		_, st = deploy(define("self", h.http.URL+"/graphql"))
		if why := reasonOf(st.DeploymentID); st.Deployment != "FAILED" || !strings.Contains(why, "health: calling POST "+h.http.URL) ||
			!strings.Contains(why, "denied") {
			t.Fatalf("call to the server itself: %+v %q", st, why)
		}
		mu.Lock()
		if len(calls) != 2 {
			t.Fatalf("calls %q", calls)
		}
		mu.Unlock()

		// Refused at save, with the path: no http, a non-http URL, a bad criteria, the task in
		// an agent phase or in a job, a script on it.
		for _, tc := range []struct{ env, path string }{
			{`phases: [{kind: SERVER, tasks: [{name: "x", kind: INVOKE_REST_API}]}]`, "environments[0].phases[0].tasks[0].http"},
			{`phases: [{kind: SERVER, tasks: [{name: "x", kind: INVOKE_REST_API, http: {url: "file:///etc/passwd"}}]}]`, "environments[0].phases[0].tasks[0].http.url"},
			{`phases: [{kind: SERVER, tasks: [{name: "x", kind: INVOKE_REST_API, http: {url: "http://x", successCriteria: "status +"}}]}]`, "environments[0].phases[0].tasks[0].http.successCriteria"},
			{`phases: [{kind: AGENT, tasks: [{name: "x", kind: INVOKE_REST_API, http: {url: "http://x"}}]}]`, "environments[0].phases[0].tasks[0].kind"},
			{`job: {tasks: [{name: "x", kind: INVOKE_REST_API, http: {url: "http://x"}}]}`, "environments[0].job.tasks[0].kind"},
			{`phases: [{kind: SERVER, tasks: [{name: "x", kind: INVOKE_REST_API, script: "rm -rf /", http: {url: "http://x"}}]}]`, "environments[0].phases[0].tasks[0].script"},
			{`phases: [{kind: AGENT, tasks: [{name: "x", script: "true", http: {url: "http://x"}}]}]`, "environments[0].phases[0].tasks[0].http"},
		} {
			r := h.do(h.admin, `mutation { createDefinition(input: {name: "bad", environments: [{name: "e", `+tc.env+`}]}) { id } }`, nil)
			if r.code() != "INVALID_INPUT" || !strings.Contains(toJSON(r.Errors), tc.path) {
				t.Errorf("%s: %s %s", tc.env, r.code(), toJSON(r.Errors))
			}
		}
		if n, _ := h.srv.Engine.Client().ReleaseDefinition.Query().Count(context.Background()); n != 3 {
			t.Fatalf("%d definitions stored, want 3", n)
		}
	})
}
