package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
)

// TestSourceBuildsForTheDesigner: the builds of a CI job are listed through a connection
// before any definition names it (the designer's artifact picker), for editors only, and a
// source that a definition would refuse is refused with the field at fault.
func TestSourceBuildsForTheDesigner(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		jenkins := fakeJenkins(t)
		h.ok(h.admin, `mutation($u: String!) { createServiceConnection(input: {name: "ci", kind: JENKINS, url: $u,
			username: "cairn", secret: "api-token", webhookSecret: "hook-secret"}) { id } }`, map[string]any{"u": jenkins.URL + "/jenkins"})
		const q = `query($s: ArtifactSourceInput!, $n: Int) { sourceBuilds(source: $s, first: $n) { buildNumber result } }`
		src := func(typ, conn, job, project string) map[string]any {
			return map[string]any{"alias": "app", "type": typ, "connection": conn, "job": job, "project": project}
		}
		got := toJSON(dig(h.ok(h.admin, q, map[string]any{"s": src("JENKINS", "ci", "acme/app", ""), "n": 2}), "sourceBuilds"))
		if got != `[{"buildNumber":"43","result":""},{"buildNumber":"42","result":"SUCCEEDED"}]` {
			t.Fatalf("builds: %s", got)
		}
		editor := h.tokenFor("eddie", delivery.RoleEditor)
		if got := toJSON(dig(h.ok(editor, q, map[string]any{"s": src("JENKINS", "ci", "acme/app", ""), "n": 1}), "sourceBuilds")); got != `[{"buildNumber":"43","result":""}]` {
			t.Fatalf("an editor's builds: %s", got)
		}
		viewer := h.tokenFor("vic", delivery.RoleViewer)
		if r := h.do(viewer, q, map[string]any{"s": src("JENKINS", "ci", "acme/app", "")}); r.code() != "FORBIDDEN" || r.Data["sourceBuilds"] != nil {
			t.Errorf("a viewer listed a job's builds: %s", r.Raw)
		}
		for _, c := range []struct {
			name  string
			vars  map[string]any
			field string
		}{
			{"unknown connection", map[string]any{"s": src("JENKINS", "nope", "acme/app", "")}, "connection"},
			{"connection of another kind", map[string]any{"s": src("TEAMBUILD", "ci", "7", "shop")}, "connection"},
			{"unknown type", map[string]any{"s": src("GITHUB", "ci", "acme/app", "")}, "type"},
			{"TEAMBUILD without project", map[string]any{"s": src("TEAMBUILD", "ci", "7", "")}, "project"},
			{"no job", map[string]any{"s": src("JENKINS", "ci", "  ", "")}, "job"},
			{"huge job", map[string]any{"s": src("JENKINS", "ci", strings.Repeat("a/", 600), "")}, "job"},
			{"too many builds", map[string]any{"s": src("JENKINS", "ci", "acme/app", ""), "n": 101}, "first"},
		} {
			r := h.do(h.admin, q, c.vars)
			if r.code() != "INVALID_INPUT" || r.Errors[0].Extensions["field"] != c.field || r.Data["sourceBuilds"] != nil {
				t.Errorf("%s: %s", c.name, r.Raw)
			}
		}
		// Many aliases of the field are refused before any CI call: each costs a call.
		var many strings.Builder
		many.WriteString(`query($s: ArtifactSourceInput!) {`)
		for i := range 40 {
			fmt.Fprintf(&many, ` b%d: sourceBuilds(source: $s) { buildNumber }`, i)
		}
		many.WriteString(` }`)
		if r := h.do(h.admin, many.String(), map[string]any{"s": src("JENKINS", "ci", "acme/app", "")}); len(r.Errors) == 0 || r.Data["b0"] != nil {
			t.Errorf("40 CI calls in one query: %.300s", r.Raw)
		}
		// A source naming a connection by a hostile name is only a name: no such connection.
		if r := h.do(h.admin, q, map[string]any{"s": src("JENKINS", "ci' OR '1'='1", "acme/app", "")}); r.code() != "INVALID_INPUT" {
			t.Errorf("hostile connection name: %s", r.Raw)
		}
	})
}

// TestDefinitionProblemsEachNameTheirField: an invalid definition's INVALID_INPUT carries every
// problem with its field (extensions.problems), which the designer shows beside each input;
// nothing is written.
func TestDefinitionProblemsEachNameTheirField(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		r := h.do(h.admin, `mutation { createDefinition(input: {name: "shop",
			environments: [
			  {name: "dev", preApproval: {requiredCount: 2, approvers: [{kind: USER, name: "admin"}]}},
			  {name: "prod", trigger: {kind: AFTER_ENVIRONMENTS, environments: ["qa"]}}
			]}) { id } }`, nil)
		if r.code() != "INVALID_INPUT" {
			t.Fatalf("want INVALID_INPUT: %s", r.Raw)
		}
		probs, _ := r.Errors[0].Extensions["problems"].([]any)
		fields := map[string]string{}
		for _, p := range probs {
			m, _ := p.(map[string]any)
			f, _ := m["field"].(string)
			msg, _ := m["message"].(string)
			fields[f] = msg
		}
		if len(probs) != 2 || !strings.Contains(fields["environments[0].preApproval.requiredCount"], "only 1 approver") ||
			!strings.Contains(fields["environments[1].trigger.environments[0]"], `unknown environment "qa"`) {
			t.Fatalf("problems: %s", r.Raw)
		}
		if r.Errors[0].Extensions["field"] != "environments[0].preApproval.requiredCount" {
			t.Errorf("the first problem's field: %s", r.Raw)
		}
		if n := dig(h.ok(h.admin, `{ definitions { totalCount } }`, nil), "definitions", "totalCount"); n != float64(0) {
			t.Errorf("%v definitions after a refused create", n)
		}
	})
}
