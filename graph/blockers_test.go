package graph_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestWhyNotDeployedAPI reads, through the real handler, why a release is
// not in its environments: the approver sees the pending approval with the
// actions they may take, the same blockers come with a release's
// environments, a reader outside the definition gets NOT_FOUND, and
// malformed ids and unknown environments are INVALID_INPUT.
func TestWhyNotDeployedAPI(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect})
		mk := func(name, role string) delivery.Actor {
			u := db.Client.User.Create().SetUsername(name).SetRole("VIEWER").SaveX(ctx)
			return delivery.Actor{UserID: u.ID, Username: name, Role: delivery.Role(role)}
		}
		eddie, alice, otto := mk("eddie", "EDITOR"), mk("alice", "VIEWER"), mk("otto", "EDITOR")
		db.Client.Group.Create().SetName("ops").AddMemberIDs(eddie.UserID, alice.UserID).ExecX(ctx)
		db.Client.ServiceConnection.Create().SetName("jenkins").SetKind("JENKINS").SetURL("https://ci").ExecX(ctx)
		def, err := e.CreateDefinition(ctx, eddie, spec.DefinitionSnapshot{Name: "shop", Readers: []string{"ops"},
			ArtifactSources: []spec.ArtifactSourceSpec{{Alias: "app", Type: "JENKINS", Connection: "jenkins", Job: "app"}},
			Environments: []spec.EnvironmentSpec{
				{Name: "dev", Trigger: spec.Trigger{Kind: spec.TriggerAfterRelease},
					PreApproval: spec.ApprovalPolicy{Approvers: []spec.Approver{{Kind: spec.ApproverUser, Name: "alice"}}, TimeoutMinutes: 30}},
				{Name: "prod", Trigger: spec.Trigger{Kind: spec.TriggerManual}},
			}}, "")
		if err != nil {
			t.Fatal(err)
		}
		rel, err := e.CreateRelease(ctx, eddie, delivery.CreateReleaseInput{DefinitionID: def.ID,
			Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: "1"}}})
		if err != nil {
			t.Fatal(err)
		}
		post := poster(t, e)
		const why = `query($rel: ID!, $env: String!) { whyNotDeployed(releaseId: $rel, environment: $env) {
			releaseName environment status deployed
			blockers { kind message since until stage whoCanAct viewerActions deployment { id status }
				approvals { approval { id approver } viewerCanDecide viewerCanReassign } } } }`
		type answer struct {
			WhyNotDeployed struct {
				ReleaseName, Environment, Status string
				Deployed                         bool
				Blockers                         []struct {
					Kind, Message string
					Since, Until  *string
					Stage         *string
					WhoCanAct     []string
					ViewerActions []string
					Deployment    *struct{ ID, Status string }
					Approvals     []struct {
						Approval          struct{ ID, Approver string }
						ViewerCanDecide   bool
						ViewerCanReassign bool
					}
				}
			}
		}
		read := func(who delivery.Actor, env string) answer {
			t.Helper()
			out := post(who, why, map[string]any{"rel": rel.ID, "env": env})
			if len(out.Errors) > 0 {
				t.Fatalf("%s %s: %+v", who.Username, env, out.Errors)
			}
			var a answer
			raw, _ := json.Marshal(out.Data)
			if err := json.Unmarshal(raw, &a); err != nil {
				t.Fatal(err)
			}
			return a
		}
		a := read(alice, "dev")
		b := a.WhyNotDeployed.Blockers
		if a.WhyNotDeployed.Status != "PENDING_APPROVAL" || a.WhyNotDeployed.Deployed || len(b) != 1 || b[0].Kind != "PENDING_APPROVAL" ||
			b[0].Stage == nil || *b[0].Stage != "PRE" || b[0].Until == nil || b[0].Deployment == nil ||
			len(b[0].Approvals) != 1 || !b[0].Approvals[0].ViewerCanDecide || strings.Join(b[0].ViewerActions, ",") != "APPROVE,REJECT,REASSIGN" ||
			strings.Join(b[0].WhoCanAct, ",") != "user alice" {
			t.Fatalf("alice on dev: %+v", a)
		}
		if b := read(eddie, "dev").WhyNotDeployed.Blockers; len(b) != 1 || b[0].Approvals[0].ViewerCanDecide || strings.Join(b[0].ViewerActions, ",") != "CANCEL_DEPLOYMENT" {
			t.Fatalf("eddie on dev: %+v", b)
		}
		if b := read(eddie, "prod").WhyNotDeployed.Blockers; len(b) != 1 || b[0].Kind != "TRIGGER_NOT_MET" || strings.Join(b[0].ViewerActions, ",") != "DEPLOY" {
			t.Fatalf("eddie on prod: %+v", b)
		}

		// The same, with a release's environments.
		out := post(alice, `query($rel: ID!) { release(id: $rel) { environments { name blockers { kind viewerActions } } } }`, map[string]any{"rel": rel.ID})
		raw, _ := json.Marshal(out.Data)
		if len(out.Errors) > 0 || !strings.Contains(string(raw), `{"name":"dev","blockers":[{"kind":"PENDING_APPROVAL","viewerActions":["APPROVE","REJECT","REASSIGN"]}]}`) ||
			!strings.Contains(string(raw), `{"name":"prod","blockers":[{"kind":"TRIGGER_NOT_MET","viewerActions":[]}]}`) {
			t.Fatalf("release environments: %s %+v", raw, out.Errors)
		}

		// Outside the readers, or with bad input: one clear error, no data.
		for _, c := range []struct {
			who  delivery.Actor
			vars map[string]any
			code string
			msg  string
		}{
			{otto, map[string]any{"rel": rel.ID, "env": "dev"}, "NOT_FOUND", "not found"},
			{otto, map[string]any{"rel": rel.ID, "env": "nope"}, "NOT_FOUND", "not found"},
			{eddie, map[string]any{"rel": 987654321, "env": "dev"}, "NOT_FOUND", "not found"},
			{eddie, map[string]any{"rel": "1 OR 1=1", "env": "dev"}, "INVALID_INPUT", "ID"},
			{eddie, map[string]any{"rel": rel.ID, "env": "staging"}, "INVALID_INPUT", `no environment "staging" (it has dev, prod)`},
			{eddie, map[string]any{"rel": rel.ID, "env": strings.Repeat("é", 500)}, "INVALID_INPUT", "not an environment name"},
		} {
			out := post(c.who, why, c.vars)
			if len(out.Errors) != 1 || out.Errors[0].Extensions["code"] != c.code || !strings.Contains(out.Errors[0].Message, c.msg) ||
				string(out.Data["whyNotDeployed"]) != "" && string(out.Data["whyNotDeployed"]) != "null" {
				t.Errorf("%s %v: %+v, data %s; want %s saying %q", c.who.Username, c.vars, out.Errors, out.Data["whyNotDeployed"], c.code, c.msg)
			}
		}
	})
}
