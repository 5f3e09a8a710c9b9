package server_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
)

// TestRestrictedDefinitionReachedAround: what a definition hides stays hidden when it is reached
// from elsewhere: pending approvals (even where the viewer is a named approver), a work item's
// deployments and its releases edge, a release's commits, artifact versions, and an agent's
// jobs. A member of the readers' group sees all of it.
func TestRestrictedDefinitionReachedAround(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		e, sys := h.srv.Engine, delivery.SystemActor("test")
		editor := h.tokenFor("eddie", delivery.RoleEditor)
		vic := h.tokenFor("vic", delivery.RoleViewer) // not in the group
		sam := h.tokenFor("sam", delivery.RoleViewer) // in the group
		g, err := e.CreateGroup(ctx, sys, delivery.GroupInput{Name: "vault-team"})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range e.Client().User.Query().AllX(ctx) {
			if u.Username == "sam" {
				if _, err := e.AddGroupMember(ctx, sys, g.ID, u.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		h.ok(h.admin, `mutation($u: String!) { createServiceConnection(input: {name: "jenkins", kind: JENKINS, url: $u}) { id } }`, map[string]any{"u": anyBuildJenkins(t)})
		const define = `mutation($n: String!, $r: [String!]) { createDefinition(input: {name: $n, readers: $r,
		  artifactSources: [{alias: "web", type: "JENKINS", connection: "jenkins", job: "web"}],
		  environments: [{name: "prod", trigger: {kind: AFTER_RELEASE},
		    preApproval: {approvers: [{kind: USER, name: "vic"}, {kind: USER, name: "sam"}]},
		    job: {tasks: [{name: "t", script: "true"}]}}]}) { id } }`
		vault := dig(h.ok(editor, define, map[string]any{"n": "vault", "r": []string{"vault-team"}}), "createDefinition", "id").(string)
		open := dig(h.ok(editor, define, map[string]any{"n": "open", "r": nil}), "createDefinition", "id").(string)
		const create = `mutation($d: ID!) { createRelease(input: {definitionId: $d, artifacts: [{alias: "web", buildNumber: "7", buildId: "7"}]}) { id } }`
		vaultRel := dig(h.ok(h.admin, create, map[string]any{"d": vault}), "createRelease", "id").(string)
		openRel := dig(h.ok(editor, create, map[string]any{"d": open}), "createRelease", "id").(string)

		// One work item and one commit in both releases.
		c := h.srv.DB().Client // seeding: the engine's client (Engine.Client is read-only)
		ids := []int{}
		for _, s := range []string{vaultRel, openRel} {
			id, _ := strconv.Atoi(s)
			ids = append(ids, id)
		}
		c.WorkItem.Create().SetSystem("JIRA").SetExternalID("SEC-1").SetTitle("rotate keys").SetType("Task").
			SetState("Done").SetURL("https://jira.example.com/browse/SEC-1").AddReleaseIDs(ids...).SaveX(ctx)
		// vic, although a named approver of the hidden definition, is shown only the open one;
		// sam is shown both.
		releasesOf := func(token string) map[string]string { // release id → approval id
			out := map[string]string{}
			for _, x := range dig(h.ok(token, `{ pendingApprovals { id deployment { release { id } } } }`, nil), "pendingApprovals").([]any) {
				m := x.(map[string]any)
				out[dig(m, "deployment", "release", "id").(string)] = m["id"].(string)
			}
			return out
		}
		vicSees, samSees := releasesOf(vic), releasesOf(sam)
		if len(vicSees) != 1 || vicSees[openRel] == "" {
			t.Fatalf("vic's pending approvals are for releases %v, want only the open one %s", vicSees, openRel)
		}
		if len(samSees) != 2 || samSees[vaultRel] == "" {
			t.Fatalf("sam's pending approvals are for releases %v, want %s and %s", samSees, vaultRel, openRel)
		}
		const approve = `mutation($a: ID!) { approve(input: {approvalId: $a}) { status } }`
		if r := h.do(vic, approve, map[string]any{"a": samSees[vaultRel]}); r.code() != "NOT_FOUND" {
			t.Fatalf("vic decided an approval of the hidden definition: %s", r.Raw)
		}
		h.ok(sam, approve, map[string]any{"a": samSees[vaultRel]})
		h.ok(vic, approve, map[string]any{"a": vicSees[openRel]})

		// An agent runs both releases' jobs.
		a := c.Agent.Create().SetName("a1").SaveX(ctx)
		for _, j := range c.Job.Query().AllX(ctx) {
			if err := e.StartJob(ctx, j.ID, a.ID); err != nil {
				t.Fatal(err)
			}
		}

		wi := `{ workItem(system: "JIRA", externalId: "SEC-1") { workItem { releases { id } }
		  deployedTo { definitionName release { id } } notDeployedTo { definitionName } } }`
		if got := toJSON(h.ok(vic, wi, nil)); strings.Contains(got, "vault") || strings.Contains(got, `"`+vaultRel+`"`) ||
			!strings.Contains(got, `"`+openRel+`"`) {
			t.Errorf("vic's view of the work item shows the vault: %s", got)
		}
		if got := toJSON(h.ok(sam, wi, nil)); !strings.Contains(got, "vault") || !strings.Contains(got, `"`+vaultRel+`"`) {
			t.Errorf("sam's view of the work item lacks the vault: %s", got)
		}
		agentJobs := `query($a: ID!) { node(id: $a) { ... on Agent { jobs { edges { node { id deployment { release { id } } } } } } } }`
		if got := toJSON(h.ok(h.admin, agentJobs, map[string]any{"a": strconv.Itoa(a.ID)})); !strings.Contains(got, `"`+vaultRel+`"`) {
			t.Fatalf("the admin does not see the agent's vault job: %s", got)
		}
		if got := toJSON(h.do(vic, agentJobs, map[string]any{"a": strconv.Itoa(a.ID)}).Data); strings.Contains(got, `"`+vaultRel+`"`) {
			t.Errorf("vic reached the vault job through the agent: %s", got)
		}
		// A yes/no question through where-edge predicates about a hidden definition's name
		// answers as if it did not exist.
		for _, q := range []string{
			`{ agents(where: {hasJobsWith: {hasDeploymentWith: {hasReleaseWith: {hasDefinitionWith: {name: "vault"}}}}}) { totalCount } }`,
			`{ agents(where: {hasJobsWith: {hasDeploymentWith: {hasReleaseWith: {hasDefinitionWith: {nameHasPrefix: "va"}}}}}) { totalCount } }`,
			`{ release(id: "` + openRel + `") { workItems(where: {hasReleasesWith: {hasDefinitionWith: {name: "vault"}}}) { totalCount } } }`,
		} {
			if got := toJSON(h.ok(h.admin, q, nil)); !strings.Contains(got, `"totalCount":1`) {
				t.Fatalf("admin: %s → %s", q, got)
			}
			if got := toJSON(h.ok(vic, q, nil)); !strings.Contains(got, `"totalCount":0`) {
				t.Errorf("vic learned about the vault through %s: %s", q, got)
			}
		}
		av := `query($d: ID!) { artifactVersions(definitionId: $d, alias: "web") { buildNumber } }`
		if r := h.do(vic, av, map[string]any{"d": vault}); r.code() != "NOT_FOUND" {
			t.Errorf("vic listed the vault's artifact versions: %s", r.Raw)
		}
		if r := h.do(sam, av, map[string]any{"d": vault}); r.code() == "NOT_FOUND" {
			t.Errorf("sam may not list the vault's artifact versions: %s", r.Raw)
		}
	})
}

// TestSubscriptionsRespectReaders: every subscription, over a real websocket, delivers to an
// outsider (vic, not among the vault's readers) only what vic could read by query: agentEvents
// do not reach the vault's jobs, releaseEvents of the open definition do not reach the vault's
// release through a shared work item, approvalEvents carry none of the vault's approvals, and
// the vault's deployment log is NOT_FOUND. A reader (sam) sees all of it over the same
// subscriptions, so each assertion can fail.
func TestSubscriptionsRespectReaders(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		e, sys := h.srv.Engine, delivery.SystemActor("test")
		editor := h.tokenFor("eddie", delivery.RoleEditor)
		vic := h.tokenFor("vic", delivery.RoleViewer)
		sam := h.tokenFor("sam", delivery.RoleViewer)
		g, err := e.CreateGroup(ctx, sys, delivery.GroupInput{Name: "vault-team"})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range e.Client().User.Query().AllX(ctx) {
			if u.Username == "sam" {
				if _, err := e.AddGroupMember(ctx, sys, g.ID, u.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		const define = `mutation($n: String!, $r: [String!]) { createDefinition(input: {name: $n, readers: $r,
		  environments: [{name: "prod", trigger: {kind: AFTER_RELEASE},
		    preApproval: {approvers: [{kind: USER, name: "vic"}, {kind: USER, name: "sam"}]},
		    job: {tasks: [{name: "t", script: "true"}]}}]}) { id } }`
		vault := dig(h.ok(editor, define, map[string]any{"n": "vault-secret-name", "r": []string{"vault-team"}}), "createDefinition", "id").(string)
		open := dig(h.ok(editor, define, map[string]any{"n": "open", "r": nil}), "createDefinition", "id").(string)
		const create = `mutation($d: ID!) { createRelease(input: {definitionId: $d}) { id } }`
		vaultRel := dig(h.ok(h.admin, create, map[string]any{"d": vault}), "createRelease", "id").(string)
		openRel := dig(h.ok(editor, create, map[string]any{"d": open}), "createRelease", "id").(string)
		c := h.srv.DB().Client
		ids := []int{}
		for _, s := range []string{vaultRel, openRel} {
			id, _ := strconv.Atoi(s)
			ids = append(ids, id)
		}
		c.WorkItem.Create().SetSystem("JIRA").SetExternalID("SEC-1").SetTitle("rotate keys").SetType("Task").
			SetState("Done").SetURL("https://jira.example.com/browse/SEC-1").AddReleaseIDs(ids...).SaveX(ctx)
		// Approve both, so that jobs exist; an agent takes both and is then disabled (an agent event).
		for _, tok := range []string{sam} {
			for _, x := range dig(h.ok(tok, `{ pendingApprovals { id } }`, nil), "pendingApprovals").([]any) {
				h.ok(tok, `mutation($a: ID!) { approve(input: {approvalId: $a}) { status } }`, map[string]any{"a": x.(map[string]any)["id"]})
			}
		}
		ag := c.Agent.Create().SetName("a1").SaveX(ctx)
		jobs := c.Job.Query().AllX(ctx)
		if len(jobs) != 2 {
			t.Fatalf("%d jobs, want 2", len(jobs))
		}
		var vaultDeployment int
		for _, j := range jobs {
			if err := e.StartJob(ctx, j.ID, ag.ID); err != nil {
				t.Fatal(err)
			}
			if d := c.Deployment.GetX(ctx, j.DeploymentID); strconv.Itoa(d.ReleaseID) == vaultRel {
				vaultDeployment = d.ID
			}
		}
		if _, err := e.SetAgentEnabled(ctx, sys, ag.ID, false); err != nil {
			t.Fatal(err)
		}

		const agentSub = `subscription { agentEvents(afterSequence: 0) { ... on AgentStatusEvent { status
		  agent { name jobs { edges { node { id deployment { release { id definition { name readers } } } } } } } } } }`
		const releaseSub = `subscription($d: ID) { releaseEvents(definitionId: $d, afterSequence: 0) { ... on ReleaseCreatedEvent { releaseId
		  release { workItems { edges { node { externalID releases { id name definition { name } } } } } } } } }`
		const approvalSub = `subscription { approvalEvents(afterSequence: 0) { ... on ApprovalPendingEvent { releaseId
		  release { name definition { name } } deployment { id } } } }`
		const logSub = `subscription($d: ID!) { deploymentLog(deploymentId: $d) { seq text } }`
		view := func(token string) (agentView, releaseView, approvals string, logErr string) {
			ws := h.dialWS(token, false)
			ws.ack()
			ws.subscribe("agents", agentSub, nil)
			agentView = toJSON(ws.event("agents", "agentEvents", eventWait))
			ws.subscribe("releases", releaseSub, map[string]any{"d": open})
			releaseView = toJSON(ws.event("releases", "releaseEvents", eventWait))
			ws.subscribe("approvals", approvalSub, nil)
			var seen []string
			for range 2 { // vic: the open release's pending approval only; sam: both
				ev := ws.event("approvals", "approvalEvents", eventWait)
				seen = append(seen, toJSON(ev))
				if token == vic {
					break
				}
			}
			approvals = strings.Join(seen, " ")
			if token != vic {
				return // a reader's log stream is open and silent: the job prints nothing
			}
			ws.subscribe("log", logSub, map[string]any{"d": strconv.Itoa(vaultDeployment)})
			m := ws.until(func(m wsMsg) bool { return m.ID == "log" })
			logErr = m.Type + " " + string(m.Payload)
			return
		}
		av, rv, ap, le := view(vic)
		if strings.Contains(av, "vault") || strings.Contains(av, `"`+vaultRel+`"`) || !strings.Contains(av, `"`+openRel+`"`) {
			t.Errorf("vic's agentEvents reach the vault: %s", av)
		}
		if strings.Contains(rv, "vault") || strings.Contains(rv, `"`+vaultRel+`"`) || !strings.Contains(rv, "SEC-1") {
			t.Errorf("vic's releaseEvents reach the vault through the work item: %s", rv)
		}
		if strings.Contains(ap, "vault") || strings.Contains(ap, `"`+vaultRel+`"`) {
			t.Errorf("vic's approvalEvents carry the vault: %s", ap)
		}
		if !strings.Contains(le, "NOT_FOUND") {
			t.Errorf("vic followed the vault's deployment log: %s", le)
		}
		av, rv, ap, _ = view(sam)
		if !strings.Contains(av, "vault-secret-name") || !strings.Contains(rv, "vault-secret-name") || !strings.Contains(ap, "vault-secret-name") {
			t.Errorf("sam, a reader, does not see the vault: %s | %s | %s", av, rv, ap)
		}
	})
}
