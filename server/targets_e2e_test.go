package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
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
