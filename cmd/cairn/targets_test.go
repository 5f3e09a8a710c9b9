package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/agent"
	"github.com/cairnhq/cairn/delivery"
	entagent "github.com/cairnhq/cairn/ent/agent"
)

// startTarget runs a real agent registered into a deployment group with tags.
func (ts *testServer) startTarget(t *testing.T, token, name string, tags ...string) {
	t.Helper()
	actx, cancel := context.WithCancel(context.Background())
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		agent.Run(actx, agent.Config{Server: ts.url, Token: token, Name: name, WorkDir: t.TempDir(), Tags: tags,
			Logger: slog.New(slog.DiscardHandler), ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
			KillGrace: 300 * time.Millisecond, ShutdownTimeout: 2 * time.Second})
	}()
	t.Cleanup(func() { cancel(); <-exited })
	ts.waitFor(t, name+" online", func() bool {
		a, err := ts.srv.Engine.Client().Agent.Query().Where(entagent.Name(name)).Only(context.Background())
		return err == nil && a.Online
	})
}

// TestCLITargets: cairn targets DEPLOYMENT shows each target's status, times, agent and reason
// (a failed target's and one that never started); cairn deployment-groups lists the groups with
// their targets' tags, online state and last deployment; logs -f labels the targets' lines. Two
// real target agents, in a table and as JSON.
func TestCLITargets(t *testing.T) {
	ts := startServer(t)
	c := newCLI(t)
	c.env["CAIRN_SERVER"], c.env["CAIRN_TOKEN"] = ts.url, ts.admin
	ctx, sys := context.Background(), delivery.SystemActor("test")
	if _, err := ts.srv.Engine.SaveDeploymentGroup(ctx, sys, "farm", "web farm", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.srv.Engine.SaveDeploymentGroup(ctx, sys, "empty", "", nil); err != nil {
		t.Fatal(err)
	}
	token, _, err := ts.srv.Engine.CreateTargetRegistration(ctx, sys, "farm", 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	ts.startTarget(t, token, "web-a", "web", "eu")
	ts.startTarget(t, token, "web-b", "web")
	ts.startTarget(t, token, "db-1", "db")

	// One target at a time, none may fail: web-a fails, web-b never starts.
	cl := &client{server: ts.url, token: ts.admin, http: &httpClient}
	if err := cl.do(ctx, `mutation { createDefinition(input: {name: "site", environments: [{name: "prod", phases: [
	    {kind: DEPLOYMENT_GROUP, name: "rollout", deploymentGroup: "farm", tags: ["web"], maxParallel: "1", skipArtifactDownload: true,
	     tasks: [{name: "deploy", script: "echo \"hello from $AGENT_NAME\"; [ \"$AGENT_NAME\" != web-a ]"}]}]}]}) { id } }`, nil, nil); err != nil {
		t.Fatal(err)
	}
	var rel release
	c.json(&rel, "release", "create", "site", "--manual", "prod")
	c.ok("deploy", rel.ID, "prod")
	depID := ts.deploymentOf(t, rel.ID, "prod")
	ts.waitFor(t, "the deployment to fail", func() bool { return ts.envStatus(t, rel.ID, "prod") == "FAILED" })

	out := c.ok("targets", depID)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "TARGET") || !strings.Contains(lines[0], "AGENT") ||
		!strings.Contains(lines[1], "web-a") || !strings.Contains(lines[1], "FAILED") ||
		!strings.Contains(lines[2], "web-b") || !strings.Contains(lines[2], "SKIPPED") || !strings.Contains(lines[2], "not started") {
		t.Fatalf("targets:\n%s", out)
	}
	var targets []struct {
		Target, Status, StartedAt, FinishedAt, ResultReason string
		Agent                                               *struct{ Name string }
	}
	c.json(&targets, "targets", depID)
	if len(targets) != 2 || targets[0].Target != "web-a" || targets[0].Status != "FAILED" || targets[0].StartedAt == "" ||
		targets[0].FinishedAt == "" || targets[0].Agent == nil || targets[0].Agent.Name != "web-a" ||
		targets[1].Status != "SKIPPED" || targets[1].Agent != nil || !strings.Contains(targets[1].ResultReason, "not started") {
		t.Fatalf("targets -o json: %+v", targets)
	}

	out = c.ok("deployment-groups")
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != 5 || !strings.Contains(rows[0], "LAST DEPLOYMENT") || !strings.HasPrefix(rows[1], "empty") ||
		!strings.Contains(rows[1], "(no target)") {
		t.Fatalf("deployment-groups:\n%s", out)
	}
	for i, want := range []string{"farm db-1 online db", "farm web-a online eu,web " + depID + " " + rel.Name + " → prod FAILED",
		"farm web-b online web"} { // web-b never started: no last deployment
		if got := strings.Join(strings.Fields(rows[i+2]), " "); !strings.HasPrefix(got, want) || (i != 1 && strings.Contains(got, depID)) {
			t.Fatalf("deployment-groups row %d: %q, want %q…\n%s", i+2, got, want, out)
		}
	}
	var groups []struct {
		Name    string
		Targets []struct {
			Name           string
			Online         bool
			Tags           []string
			LastDeployment *struct{ ID, Status string }
		}
	}
	c.json(&groups, "deployment-groups")
	if len(groups) != 2 || groups[1].Name != "farm" || len(groups[1].Targets) != 3 || groups[1].Targets[0].Name != "db-1" || groups[1].Targets[1].Name != "web-a" ||
		!groups[1].Targets[1].Online || strings.Join(groups[1].Targets[1].Tags, ",") != "eu,web" ||
		groups[1].Targets[1].LastDeployment == nil || groups[1].Targets[1].LastDeployment.ID != depID {
		t.Fatalf("deployment-groups -o json: %+v", groups)
	}

	// logs -f: the target's lines with its name, as the download writes them.
	if out := c.ok("logs", "-f", depID); !strings.Contains(out, "[web-a] hello from web-a\n") || strings.Contains(out, "web-b") {
		t.Fatalf("logs -f:\n%s", out)
	}

	// Refusals: a usage error, a deployment that does not exist.
	if _, err := c.run("", "targets"); !errors.As(err, new(usageError)) {
		t.Errorf("targets without a deployment: %v", err)
	}
	if _, err := c.run("", "deployment-groups", "x"); !errors.As(err, new(usageError)) {
		t.Errorf("deployment-groups with an argument: %v", err)
	}
	if _, err := c.run("", "targets", "987654"); err == nil || !strings.Contains(err.Error(), "987654") {
		t.Errorf("targets of no deployment: %v", err)
	}
}
