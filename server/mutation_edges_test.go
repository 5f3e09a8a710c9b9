package server_test

import (
	"strings"
	"testing"
)

// TestMutationResultsLoadEdges selects edges of mutation results: the engine must hand back
// entities usable after its transaction committed (ent binds entities read in a transaction to
// it; loading an edge through one afterwards fails with "transaction has already been committed").
func TestMutationResultsLoadEdges(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		def := h.ok(h.admin, `mutation { createDefinition(input: {name: "edges", environments: [
		    {name: "dev", trigger: {kind: AFTER_RELEASE}, job: {tasks: [{name: "t", script: "true"}]}},
		    {name: "prod", trigger: {kind: AFTER_ENVIRONMENTS, environments: ["dev"]}, preApproval: {approvers: [{kind: USER, name: "admin"}]},
		     job: {tasks: [{name: "t", script: "true"}]}}]}) { id environments { name } } }`, nil)
		if got := toJSON(dig(def, "createDefinition", "environments")); got != `[{"name":"dev"},{"name":"prod"}]` {
			t.Fatalf("createDefinition environments: %s", got)
		}
		defID := dig(def, "createDefinition", "id")
		upd := h.ok(h.admin, `mutation($d: ID!) { updateDefinition(id: $d, expectedRevision: 1, input: {name: "edges", environments: [
		    {name: "dev", trigger: {kind: AFTER_RELEASE}, job: {tasks: [{name: "t", script: "true"}]}}]}) { revision environments { name } } }`,
			map[string]any{"d": defID})
		if got := toJSON(dig(upd, "updateDefinition", "environments")); got != `[{"name":"dev"}]` {
			t.Fatalf("updateDefinition environments: %s", got)
		}
		rel := h.ok(h.admin, `mutation($d: ID!) { createRelease(input: {definitionId: $d}) { id definition { name }
		    environments { name deployments { id status job { status } } } } }`, map[string]any{"d": defID})
		envs := toJSON(dig(rel, "createRelease", "environments"))
		if !strings.Contains(envs, `"name":"dev"`) || !strings.Contains(envs, `"job":{"status":"QUEUED"}`) {
			t.Fatalf("createRelease environments: %s", envs)
		}
		dep := dig(rel, "createRelease", "environments").([]any)[0].(map[string]any)["deployments"].([]any)[0].(map[string]any)["id"]
		canceled := h.ok(h.admin, `mutation($d: ID!) { cancelDeployment(deploymentId: $d) { status release { name } job { status } } }`,
			map[string]any{"d": dep})
		if got := toJSON(dig(canceled, "cancelDeployment")); !strings.Contains(got, `"release":{"name":"Release-1"}`) {
			t.Fatalf("cancelDeployment: %s", got)
		}
		redeploy := h.ok(h.admin, `mutation($r: ID!) { deployEnvironment(input: {releaseId: $r, environment: "dev"}) { status release { name } } }`,
			map[string]any{"r": dig(rel, "createRelease", "id")})
		if got := toJSON(dig(redeploy, "deployEnvironment", "release")); got != `{"name":"Release-1"}` {
			t.Fatalf("deployEnvironment: %s", got)
		}
		abandoned := h.ok(h.admin, `mutation($r: ID!) { abandonRelease(releaseId: $r) { status environments { name } } }`,
			map[string]any{"r": dig(rel, "createRelease", "id")})
		if got := toJSON(dig(abandoned, "abandonRelease", "environments")); !strings.Contains(got, `"dev"`) {
			t.Fatalf("abandonRelease: %s", got)
		}
	})
}
