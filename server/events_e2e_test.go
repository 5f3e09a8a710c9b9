package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/job"
)

const releaseEventsSub = `subscription($d: ID, $after: Int64) { releaseEvents(definitionId: $d, afterSequence: $after) {
  __typename
  ... on CairnEvent { sequence type actor }
  ... on ReleaseCreatedEvent { releaseId name release { name } }
  ... on EnvironmentStatusChangedEvent { environment status }
  ... on DeploymentStartedEvent { environment operation attempt }
  ... on DeploymentFinishedEvent { environment status statusReason deployment { status } }
  ... on ApprovalPendingEvent { environment approvalId stage approver { kind name } approvers { name } changes { environment releases { name } } }
  ... on ApprovalDecidedEvent { environment approvalId status }
} }`

const eventWait = 15 * time.Second

// seqOf is an event's sequence number.
func seqOf(ev map[string]any) int64 {
	f, _ := ev["sequence"].(float64)
	return int64(f)
}

// describe lists events as "sequence:type", to compare streams.
func describe(evs []map[string]any) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = fmt.Sprintf("%d:%v", seqOf(ev), ev["type"])
	}
	return out
}

// storedReleaseEvents is what releaseEvents(definitionId) must deliver: the
// stored events of those types and that definition, in order.
func storedReleaseEvents(t *testing.T, h *harness, defID int) []string {
	t.Helper()
	evs, err := h.srv.Engine.StoredEvents(context.Background(), 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if ev.DefinitionID == defID && slices.Contains(delivery.ReleaseEventTypes, ev.Type) {
			out = append(out, fmt.Sprintf("%d:%s", ev.Sequence, ev.Type))
		}
	}
	return out
}

// runQueuedJob completes the one queued job, as an agent would report it.
func runQueuedJob(t *testing.T, h *harness, agentID int) {
	t.Helper()
	ctx := context.Background()
	jobs := h.srv.Engine.Client().Job.Query().Where(job.StatusEQ(job.StatusQUEUED)).AllX(ctx)
	if len(jobs) != 1 {
		t.Fatalf("%d queued jobs, want 1", len(jobs))
	}
	if err := h.srv.Engine.StartJob(ctx, jobs[0].ID, agentID); err != nil {
		t.Fatalf("starting job: %v", err)
	}
	if err := h.srv.Engine.FinishJob(ctx, jobs[0].ID, delivery.JobResult{Status: "SUCCEEDED"}); err != nil {
		t.Fatalf("finishing job: %v", err)
	}
}

// TestDashboardFollowsRelease follows a three-environment release with
// approvals from a dashboard's point of view over graphql-transport-ws,
// legacy graphql-ws and SSE at once: each sees every release event in
// order; the graphql-transport-ws client disconnects half-way and resumes
// with afterSequence, missing nothing and repeating nothing.
func TestDashboardFollowsRelease(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		editor := h.tokenFor("eddie", delivery.RoleEditor)
		pam := h.tokenFor("pam", delivery.RoleViewer)
		pat := h.tokenFor("pat", delivery.RoleViewer)
		dash := h.tokenFor("dash", delivery.RoleViewer)
		h.ok(h.admin, `mutation($u: String!) { createServiceConnection(input: {name: "jenkins", kind: JENKINS, url: $u}) { id } }`, map[string]any{"u": anyBuildJenkins(t)})
		defID := dig(h.ok(editor, threeEnvDefinition, map[string]any{"c": "jenkins"}), "createDefinition", "id").(string)
		var def int
		fmt.Sscan(defID, &def)
		vars := map[string]any{"d": defID, "after": 0}

		ws := h.dialWS(dash, false)
		ws.ack()
		ws.subscribe("1", releaseEventsSub, vars)
		legacy := h.dialWS(dash, true)
		legacy.ack()
		legacy.subscribe("1", releaseEventsSub, vars)
		sse := h.subscribeSSE(dash, releaseEventsSub, vars, "releaseEvents")

		rel := h.ok(editor, `mutation($d: ID!) { createRelease(input: {definitionId: $d, artifacts: [{alias: "web", buildNumber: "42", buildId: "42"}]}) { id } }`,
			map[string]any{"d": defID})
		relID := dig(rel, "createRelease", "id").(string)
		agent := registerAgent(t, h.srv.Engine, "a1")
		runQueuedJob(t, h, agent.ID)

		// The first client reads up to dev's end, then drops off.
		var first []map[string]any
		for {
			ev := ws.event("1", "releaseEvents", eventWait)
			first = append(first, ev)
			if ev["__typename"] == "DeploymentFinishedEvent" && ev["environment"] == "dev" {
				break
			}
		}
		ws.conn.CloseNow()
		resumeAfter := seqOf(first[len(first)-1])

		// Meanwhile qa deploys and prod waits for pam and pat, who approve.
		runQueuedJob(t, h, agent.ID)
		approvalsOf := func(token string) string {
			d := h.ok(token, `{ pendingApprovals { id } }`, nil)
			list := dig(d, "pendingApprovals").([]any)
			if len(list) != 1 {
				t.Fatalf("pending approvals: %v", d)
			}
			return list[0].(map[string]any)["id"].(string)
		}
		const approve = `mutation($a: ID!) { approve(input: {approvalId: $a, comment: "ok"}) { status } }`
		h.ok(pam, approve, map[string]any{"a": approvalsOf(pam)})
		h.ok(pat, approve, map[string]any{"a": approvalsOf(pat)})
		runQueuedJob(t, h, agent.ID)
		if st := dig(h.ok(h.admin, `query($r: ID!) { release(id: $r) { environments { name status } } }`, map[string]any{"r": relID}), "release"); !strings.Contains(toJSON(st), `"prod","status":"SUCCEEDED"`) {
			t.Fatalf("release not deployed: %v", toJSON(st))
		}
		want := storedReleaseEvents(t, h, def)

		// Every kind of release event happened.
		kinds := strings.Join(want, " ")
		for _, k := range []string{"release.created", "environment.statusChanged", "deployment.started",
			"approval.pending", "approval.decided", "deployment.finished"} {
			if !strings.Contains(kinds, k) {
				t.Fatalf("no %s among %v", k, want)
			}
		}

		// The first client resumes where it stopped.
		ws2 := h.dialWS(dash, false)
		ws2.ack()
		ws2.subscribe("r", releaseEventsSub, map[string]any{"d": defID, "after": resumeAfter})
		resumed := append([]map[string]any{}, first...)
		for len(resumed) < len(want) {
			resumed = append(resumed, ws2.event("r", "releaseEvents", eventWait))
		}
		if got := describe(resumed); !slices.Equal(got, want) {
			t.Fatalf("resumed stream:\n got %v\nwant %v", got, want)
		}

		var legacyEvs, sseEvs []map[string]any
		for len(legacyEvs) < len(want) {
			legacyEvs = append(legacyEvs, legacy.event("1", "releaseEvents", eventWait))
		}
		for len(sseEvs) < len(want) {
			ev, ok := sse.next(eventWait)
			if !ok {
				t.Fatalf("SSE stream ended after %v", describe(sseEvs))
			}
			sseEvs = append(sseEvs, ev)
		}
		for name, got := range map[string][]string{"graphql-ws": describe(legacyEvs), "sse": describe(sseEvs)} {
			if !slices.Equal(got, want) {
				t.Fatalf("%s stream:\n got %v\nwant %v", name, got, want)
			}
		}

		// Typed events carry what a dashboard shows.
		var pending, decided int
		for _, ev := range resumed {
			switch ev["__typename"] {
			case "ReleaseCreatedEvent":
				if ev["name"] != "Release-1" || dig(ev, "release", "name") != "Release-1" || ev["actor"] != "eddie" {
					t.Errorf("release created: %v", ev)
				}
			case "ApprovalPendingEvent":
				pending++
				approvers := toJSON(ev["approvers"])
				if ev["environment"] != "prod" || ev["stage"] != "PRE" || !strings.Contains(approvers, "pam") ||
					!strings.Contains(approvers, "pat") || dig(ev, "changes", "environment") != "prod" {
					t.Errorf("approval pending: %v", toJSON(ev))
				}
			case "ApprovalDecidedEvent":
				decided++
				if ev["status"] != "APPROVED" || (ev["actor"] != "pam" && ev["actor"] != "pat") {
					t.Errorf("approval decided: %v", ev)
				}
			case "DeploymentFinishedEvent":
				if ev["status"] != "SUCCEEDED" || dig(ev, "deployment", "status") != "SUCCEEDED" {
					t.Errorf("deployment finished: %v", ev)
				}
			}
		}
		if pending != 2 || decided != 2 {
			t.Fatalf("%d pending and %d decided approval events, want 2 and 2", pending, decided)
		}
	})
}

// TestRestrictedDefinitionEvents: a definition restricted to a group is
// invisible to a viewer outside it, in queries and in every event stream,
// and visible to a member.
func TestRestrictedDefinitionEvents(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		editor := h.tokenFor("eddie", delivery.RoleEditor)
		vic := h.tokenFor("vic", delivery.RoleViewer) // not in the group
		sam := h.tokenFor("sam", delivery.RoleViewer) // in the group
		e, sys := h.srv.Engine, delivery.SystemActor("test")
		g, err := e.CreateGroup(ctx, sys, delivery.GroupInput{Name: "vault-team"})
		if err != nil {
			t.Fatal(err)
		}
		samUser := e.Client().User.Query().AllX(ctx)
		for _, u := range samUser {
			if u.Username == "sam" {
				if _, err := e.AddGroupMember(ctx, sys, g.ID, u.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		const define = `mutation($n: String!, $r: [String!]) { createDefinition(input: {name: $n, readers: $r,
		  environments: [{name: "only", trigger: {kind: AFTER_RELEASE}, job: {tasks: [{name: "t", script: "true"}]}}]}) { id readers } }`
		if r := h.do(editor, define, map[string]any{"n": "ghost", "r": []string{"no-such-group"}}); r.code() != "INVALID_INPUT" ||
			!strings.Contains(r.Raw, "no-such-group") {
			t.Fatalf("unknown reader group accepted: %s", r.Raw)
		}
		vault := dig(h.ok(editor, define, map[string]any{"n": "vault", "r": []string{"vault-team"}}), "createDefinition", "id").(string)
		open := dig(h.ok(editor, define, map[string]any{"n": "open", "r": nil}), "createDefinition", "id").(string)

		vicWS := h.dialWS(vic, false)
		vicWS.ack()
		vicWS.subscribe("all", releaseEventsSub, map[string]any{"after": 0})
		vicWS.subscribe("vault", releaseEventsSub, map[string]any{"d": vault, "after": 0})
		if m, _ := vicWS.next(eventWait); m.ID != "vault" || !strings.Contains(string(m.Payload), "NOT_FOUND") {
			t.Fatalf("vic followed the vault definition: %s %s", m.Type, m.Payload)
		}
		vicSSE := h.subscribeSSE(vic, releaseEventsSub, map[string]any{"after": 0}, "releaseEvents")
		samWS := h.dialWS(sam, false)
		samWS.ack()
		samWS.subscribe("all", releaseEventsSub, map[string]any{"after": 0})

		const create = `mutation($d: ID!) { createRelease(input: {definitionId: $d}) { id } }`
		vaultRel := dig(h.ok(h.admin, create, map[string]any{"d": vault}), "createRelease", "id").(string)
		openRel := dig(h.ok(editor, create, map[string]any{"d": open}), "createRelease", "id").(string)

		// vic's first event is the open release's: every vault event came before it.
		if ev := vicWS.event("all", "releaseEvents", eventWait); ev["releaseId"] != openRel {
			t.Fatalf("vic's first event is not the open release's creation: %v", ev)
		}
		if ev, _ := vicSSE.next(eventWait); ev["releaseId"] != openRel {
			t.Fatalf("vic's first SSE event is not the open release's creation: %v", ev)
		}
		if ev := samWS.event("all", "releaseEvents", eventWait); ev["releaseId"] != vaultRel {
			t.Fatalf("sam does not see the vault release first: %v", ev)
		}

		// Nor can vic read it.
		if r := h.do(vic, `query($d: ID!) { definition(id: $d) { name } }`, map[string]any{"d": vault}); r.code() != "NOT_FOUND" {
			t.Fatalf("vic read the vault definition: %s", r.Raw)
		}
		if d := h.ok(vic, `query($r: ID!) { release(id: $r) { name } }`, map[string]any{"r": vaultRel}); d["release"] != nil {
			t.Fatalf("vic read the vault release: %v", d)
		}
		if r := h.do(vic, `query($r: ID!) { node(id: $r) { id } }`, map[string]any{"r": vaultRel}); r.code() != "NOT_FOUND" {
			t.Fatalf("vic read the vault release as a node: %s", r.Raw)
		}
		lists := toJSON(h.ok(vic, `{ definitions { edges { node { name } } } releases { edges { node { id } } } }`, nil))
		if strings.Contains(lists, "vault") || strings.Contains(lists, `"`+vaultRel+`"`) || !strings.Contains(lists, "open") {
			t.Fatalf("vic's lists: %s", lists)
		}
		if d := toJSON(h.ok(sam, `query($d: ID!) { definition(id: $d) { name readers } }`, map[string]any{"d": vault})); !strings.Contains(d, "vault-team") {
			t.Fatalf("sam cannot read vault: %s", d)
		}
	})
}

// TestSubscriptionCredentials: a bad connection_init is refused with 4403; a
// revoked token ends its websocket (4403) and its SSE stream; a connection
// may hold at most 20 subscriptions.
func TestSubscriptionCredentials(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		bad := h.dialWS("not-a-token", false)
		if code := bad.closeStatus(eventWait); code != 4403 {
			t.Fatalf("bad token closed with %d, want 4403", code)
		}

		tok, row := h.tokenWith("viv", delivery.RoleViewer, nil)
		agent := h.srv.DB().Client.Agent.Create().SetName("a1").SaveX(ctx) // no event: the first is DISABLED
		if _, err := h.srv.Engine.SetAgentEnabled(ctx, delivery.SystemActor("t"), agent.ID, false); err != nil {
			t.Fatal(err)
		}
		ws := h.dialWS(tok, false)
		ws.ack()
		for i := 1; i <= 21; i++ {
			ws.subscribe(fmt.Sprint(i), `subscription { agentEvents { __typename } }`, nil)
		}
		refused := ws.until(func(m wsMsg) bool { return m.Type == "next" || m.Type == "error" })
		if !strings.Contains(string(refused.Payload), "FORBIDDEN") || !strings.Contains(string(refused.Payload), "20 open subscriptions") {
			t.Fatalf("21st subscription: %s %s", refused.Type, refused.Payload)
		}
		// A slot frees when a subscription completes.
		stop := "1"
		if refused.ID == "1" {
			stop = "2"
		}
		ws.send(wsMsg{ID: stop, Type: "complete"})
		ws.until(func(m wsMsg) bool { return m.ID == stop && m.Type == "complete" })
		ws.subscribe("22", `subscription { agentEvents(afterSequence: 0) { ... on AgentStatusEvent { status agentId } } }`, nil)
		if ev := ws.event("22", "agentEvents", eventWait); ev["status"] != "DISABLED" || ev["agentId"] != fmt.Sprint(agent.ID) {
			t.Fatalf("agent event %v", ev)
		}
		sse := h.subscribeSSE(tok, `subscription { agentEvents(afterSequence: 0) { ... on AgentStatusEvent { status } } }`, nil, "agentEvents")
		if ev, ok := sse.next(eventWait); !ok || ev["status"] != "DISABLED" {
			t.Fatalf("SSE agent event %v (open %v)", ev, ok)
		}

		if _, err := h.srv.Engine.RevokeAPIToken(ctx, delivery.SystemActor("test"), row.ID); err != nil {
			t.Fatal(err)
		}
		if code := ws.closeStatus(eventWait); code != 4403 {
			t.Fatalf("revoked token's websocket closed with %d, want 4403", code)
		}
		for {
			if _, ok := sse.next(eventWait); !ok {
				break // the stream ended
			}
		}
	})
}

// TestOutgoingHookReceivesReleaseEvent: a hook registered through the API
// receives a real release event as a POST signed with its secret.
func TestOutgoingHookReceivesReleaseEvent(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		type post struct {
			sig, delivery string
			body          []byte
		}
		posts := make(chan post, 10)
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			posts <- post{r.Header.Get("X-Cairn-Signature-256"), r.Header.Get("X-Cairn-Delivery"), b}
		}))
		defer recv.Close()
		const secret = "a-very-secret-hook-key"
		h.ok(h.admin, `mutation($u: String!, $s: String!) { createOutgoingHook(input: {name: "ops", url: $u, secret: $s,
		  eventTypes: ["release.created"]}) { id } }`, map[string]any{"u": recv.URL, "s": secret})
		editor := h.tokenFor("eddie", delivery.RoleEditor)
		def := dig(h.ok(editor, `mutation { createDefinition(input: {name: "svc", environments: [{name: "dev"}]}) { id } }`, nil), "createDefinition", "id")
		rel := dig(h.ok(editor, `mutation($d: ID!) { createRelease(input: {definitionId: $d}) { id } }`, map[string]any{"d": def}), "createRelease", "id")

		var p post
		select {
		case p = <-posts:
		case <-time.After(eventWait):
			t.Fatal("the hook received nothing")
		}
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(p.body)
		if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); !hmac.Equal([]byte(p.sig), []byte(want)) {
			t.Fatalf("signature %q, want %q", p.sig, want)
		}
		var body struct {
			DeliveryID string `json:"deliveryId"`
			Type       string `json:"type"`
			ReleaseID  int    `json:"releaseId"`
		}
		if err := json.Unmarshal(p.body, &body); err != nil {
			t.Fatal(err)
		}
		if body.Type != "release.created" || fmt.Sprint(body.ReleaseID) != rel || body.DeliveryID != p.delivery || p.delivery == "" {
			t.Fatalf("hook body %s (delivery header %q)", p.body, p.delivery)
		}
	})
}
