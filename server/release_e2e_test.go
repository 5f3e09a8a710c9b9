package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/job"
)

const threeEnvDefinition = `mutation($c: String!) {
  createDefinition(comment: "three stages", input: {
    name: "shop",
    artifactSources: [{alias: "web", type: "JENKINS", connection: $c, job: "shop/web", primary: true}],
    environments: [
      {name: "dev", trigger: {kind: AFTER_RELEASE}, job: {tasks: [{name: "deploy", script: "echo dev"}]}},
      {name: "qa", trigger: {kind: AFTER_ENVIRONMENTS, environments: ["dev"]}, job: {tasks: [{name: "deploy", script: "echo qa"}]}},
      {name: "prod", trigger: {kind: AFTER_ENVIRONMENTS, environments: ["qa"]},
       preApproval: {mode: ALL, approvers: [{kind: USER, name: "pam"}, {kind: USER, name: "pat"}]},
       job: {tasks: [{name: "deploy", script: "echo prod"}]}}
    ]}) { id revision }
}`

// TestReleaseEndToEnd drives a three-environment release over HTTP: dev
// deploys on creation, qa after dev, prod after qa once two approvers (ALL)
// approved; jobs complete through the engine's job-result function.
func TestReleaseEndToEnd(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		editor := h.tokenFor("eddie", delivery.RoleEditor)
		pam := h.tokenFor("pam", delivery.RoleViewer)
		pat := h.tokenFor("pat", delivery.RoleViewer)
		h.ok(h.admin, `mutation($u: String!) { createServiceConnection(input: {name: "jenkins", kind: JENKINS, url: $u}) { id } }`, map[string]any{"u": anyBuildJenkins(t)})
		def := h.ok(editor, threeEnvDefinition, map[string]any{"c": "jenkins"})
		defID := dig(def, "createDefinition", "id")

		rel := h.ok(editor, `mutation($d: ID!) { createRelease(input: {definitionId: $d, artifacts: [{alias: "web", buildNumber: "42", buildId: "42"}]}) { id name } }`,
			map[string]any{"d": defID})
		relID := dig(rel, "createRelease", "id")
		if name := dig(rel, "createRelease", "name"); name != "Release-1" {
			t.Fatalf("release name = %v, want Release-1", name)
		}
		agent := registerAgent(t, h.srv.Engine, "a1")

		envStatus := func() map[string]string {
			d := h.ok(h.admin, `query($r: ID!) { release(id: $r) { status environments { name status } } }`, map[string]any{"r": relID})
			out := map[string]string{}
			for _, e := range dig(d, "release", "environments").([]any) {
				m := e.(map[string]any)
				out[m["name"].(string)] = m["status"].(string)
			}
			return out
		}
		// runQueued completes the one queued job, as an agent would report it.
		runQueued := func(env string) {
			t.Helper()
			jobs := h.srv.Engine.Client().Job.Query().Where(job.StatusEQ(job.StatusQUEUED)).AllX(ctx)
			if len(jobs) != 1 {
				t.Fatalf("%s: %d queued jobs, want 1 (environments %v)", env, len(jobs), envStatus())
			}
			if err := h.srv.Engine.StartJob(ctx, jobs[0].ID, agent.ID); err != nil {
				t.Fatalf("%s: starting job: %v", env, err)
			}
			if err := h.srv.Engine.FinishJob(ctx, jobs[0].ID, delivery.JobResult{Status: "SUCCEEDED"}); err != nil {
				t.Fatalf("%s: finishing job: %v", env, err)
			}
		}

		runQueued("dev")
		runQueued("qa")
		if s := envStatus(); s["dev"] != "SUCCEEDED" || s["qa"] != "SUCCEEDED" || s["prod"] != "PENDING_APPROVAL" {
			t.Fatalf("before approvals: %v", s)
		}
		// prod waits for pam and pat; an editor who is not an approver may not decide.
		approvals := func(token string) []string {
			d := h.ok(token, `{ pendingApprovals { id } }`, nil)
			var ids []string
			for _, a := range dig(d, "pendingApprovals").([]any) {
				ids = append(ids, a.(map[string]any)["id"].(string))
			}
			return ids
		}
		pamIDs, patIDs := approvals(pam), approvals(pat)
		if len(pamIDs) != 1 || len(patIDs) != 1 {
			t.Fatalf("pending approvals: pam %v, pat %v", pamIDs, patIDs)
		}
		// Each approver is mailed, with a link to the release.
		got := map[string]string{}
		for range 2 {
			m := h.smtp.Next(t, 10*time.Second)
			got[strings.Join(m.To, ",")] = m.Subject + "\n" + m.Body
		}
		for _, to := range []string{"pam@example.com", "pat@example.com"} {
			msg, ok := got[to]
			if !ok || !contains(msg, "prod") || !contains(msg, "/releases/"+relID.(string)) {
				t.Fatalf("mail to %s: %q (all: %v)", to, msg, got)
			}
		}
		// The mail is on record with each approval (resolved through the batch loader).
		for token, to := range map[string]string{pam: "pam@example.com", pat: "pat@example.com"} {
			ns := toJSON(h.ok(token, `{ pendingApprovals { notifications { channel recipient } } }`, nil))
			if !contains(ns, `{"channel":"EMAIL","recipient":"`+to+`"}`) {
				t.Fatalf("notifications of %s's approval: %s", to, ns)
			}
		}
		const approve = `mutation($a: ID!) { approve(input: {approvalId: $a, comment: "ok"}) { status decidedBy } }`
		if r := h.do(editor, approve, map[string]any{"a": pamIDs[0]}); r.code() != "FORBIDDEN" {
			t.Fatalf("non-approver approved: %s", r.Raw)
		}
		h.ok(pam, approve, map[string]any{"a": pamIDs[0]})
		if jobs := h.srv.Engine.Client().Job.Query().Where(job.StatusEQ(job.StatusQUEUED)).CountX(ctx); jobs != 0 {
			t.Fatalf("prod queued after one of two ALL approvals")
		}
		h.ok(pat, approve, map[string]any{"a": patIDs[0]})
		runQueued("prod")
		for env, st := range envStatus() {
			if st != "SUCCEEDED" {
				t.Fatalf("%s is %s, want SUCCEEDED (%v)", env, st, envStatus())
			}
		}
		cur := h.ok(h.admin, `query($d: ID!) { currentDeployments(definitionId: $d) { environment current { name } } }`, map[string]any{"d": defID})
		if got := fmt.Sprint(dig(cur, "currentDeployments")); !contains(got, "prod") || !contains(got, "Release-1") {
			t.Fatalf("current deployments: %v", got)
		}
		// The audit trail tells the story, and its chain holds.
		audit := h.ok(h.admin, `{ auditEvents(first: 100) { edges { node { actor action targetType } } } }`, nil)
		trail := toJSON(audit)
		for _, want := range []string{`"action":"definition.create"`, `"action":"release.create"`, `"actor":"pam"`, `"actor":"pat"`} {
			if !contains(trail, want) {
				t.Errorf("audit trail lacks %s: %s", want, trail)
			}
		}
		chain := h.ok(h.admin, `{ verifyAuditChain { ok checked } }`, nil)
		if dig(chain, "verifyAuditChain", "ok") != true {
			t.Fatalf("audit chain broken: %v", chain)
		}
	})
}
