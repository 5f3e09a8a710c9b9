package graph_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/user"
	"github.com/cairnhq/cairn/graph"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// poster answers a function that sends one GraphQL request as who through the real handler.
func poster(t *testing.T, e *delivery.Engine) func(who delivery.Actor, q string, vars map[string]any) walkResponse {
	return func(who delivery.Actor, q string, vars map[string]any) walkResponse {
		t.Helper()
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			graph.NewHandler(&graph.Resolver{Engine: e}, graph.Options{}).ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), who)))
		}))
		defer ts.Close()
		body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
		res, err := http.Post(ts.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var out walkResponse
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s", raw)
		}
		return out
	}
}

// TestPrincipalCandidatesAPI: an EDITOR finds enabled users (by username or display name)
// and groups by part of their name, users first; a disabled user is not offered; LIKE's
// wildcards match themselves; a VIEWER is refused; malformed arguments are INVALID_INPUT
// naming the argument, and nothing is written.
func TestPrincipalCandidatesAPI(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect})
		mk := func(name, display, role string, disabled bool) delivery.Actor {
			u := db.Client.User.Create().SetUsername(name).SetDisplayName(display).SetRole(user.Role(role)).SetDisabled(disabled).SaveX(ctx)
			return delivery.Actor{UserID: u.ID, Username: name, Role: delivery.Role(role)}
		}
		eddie := mk("eddie", "Eddie Editor", "EDITOR", false)
		vic := mk("vic", "", "VIEWER", false)
		mk("alice", "Alice Smith", "VIEWER", false)
		mk("albert", "Albert Gone", "EDITOR", true)
		mk("zed", "Sally Alder", "VIEWER", false)
		db.Client.Group.Create().SetName("alpha-team").SetDescription("the alphas").ExecX(ctx)
		db.Client.Group.Create().SetName("ops").ExecX(ctx)
		post := poster(t, e)
		const q = `query($s: String!, $k: ApproverKind, $n: Int) { principalCandidates(search: $s, kind: $k, first: $n) { kind name detail } }`
		names := func(out walkResponse) string {
			t.Helper()
			if len(out.Errors) > 0 {
				t.Fatalf("%+v", out.Errors)
			}
			var got []struct{ Kind, Name, Detail string }
			if err := json.Unmarshal(out.Data["principalCandidates"], &got); err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, c := range got {
				s = append(s, c.Kind+":"+c.Name+":"+c.Detail)
			}
			return strings.Join(s, ",")
		}
		for _, c := range []struct {
			vars map[string]any
			want string
		}{
			{map[string]any{"s": "AL"}, "USER:alice:Alice Smith,USER:zed:Sally Alder,GROUP:alpha-team:the alphas"},
			{map[string]any{"s": " al ", "k": "GROUP"}, "GROUP:alpha-team:the alphas"},
			{map[string]any{"s": "al", "k": "USER", "n": 1}, "USER:alice:Alice Smith"},
			{map[string]any{"s": "al", "n": 2}, "USER:alice:Alice Smith,USER:zed:Sally Alder"},
			{map[string]any{"s": "albert"}, ""},
			{map[string]any{"s": "%"}, ""},
			{map[string]any{"s": "_"}, ""},
			{map[string]any{"s": "' OR 1=1 --"}, ""},
		} {
			if got := names(post(eddie, q, c.vars)); got != c.want {
				t.Errorf("%v: %q, want %q", c.vars, got, c.want)
			}
		}
		audits := db.Client.AuditEvent.Query().CountX(ctx)
		for _, c := range []struct {
			who        delivery.Actor
			vars       map[string]any
			code, want string
		}{
			{vic, map[string]any{"s": "al"}, "FORBIDDEN", ""},
			{eddie, map[string]any{"s": ""}, "INVALID_INPUT", "search"},
			{eddie, map[string]any{"s": "   "}, "INVALID_INPUT", "search"},
			{eddie, map[string]any{"s": strings.Repeat("é", 101)}, "INVALID_INPUT", "search"},
			{eddie, map[string]any{"s": "a\x00b"}, "INVALID_INPUT", "search"},
			{eddie, map[string]any{"s": "al", "n": 0}, "INVALID_INPUT", "first"},
			{eddie, map[string]any{"s": "al", "n": -1}, "INVALID_INPUT", "first"},
			{eddie, map[string]any{"s": "al", "n": 51}, "INVALID_INPUT", "first"},
			{eddie, map[string]any{"s": "al", "k": "ROBOT"}, "", "ROBOT"},
			{eddie, map[string]any{"s": map[string]any{"like": "%"}}, "", "String"},
		} {
			out := post(c.who, q, c.vars)
			if len(out.Errors) != 1 || (c.code != "" && out.Errors[0].Extensions["code"] != c.code) || !strings.Contains(out.Errors[0].Message, c.want) ||
				(string(out.Data["principalCandidates"]) != "" && string(out.Data["principalCandidates"]) != "null") {
				t.Errorf("%s %v: %+v, data %s; want %s naming %q", c.who.Username, c.vars, out.Errors, out.Data["principalCandidates"], c.code, c.want)
			}
			if c.code == "INVALID_INPUT" && out.Errors[0].Extensions["field"] != c.want {
				t.Errorf("%v: field %v, want %s", c.vars, out.Errors[0].Extensions["field"], c.want)
			}
		}
		if n := db.Client.AuditEvent.Query().CountX(ctx); n != audits {
			t.Errorf("asking wrote %d audit events", n-audits)
		}
	})
}

// TestReleaseTimeVariablesFieldAPI: a definition says which variables a release may set, those of
// its linked variable groups included: a name every declaration of which is settable, with
// where it is declared; a secret's value never, nor a value of a group the viewer may not
// read; a reader outside the definition's readers gets nothing. createRelease agrees with the
// list: it takes an override of each listed name and refuses one of a name not listed.
func TestReleaseTimeVariablesFieldAPI(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		box, _ := delivery.NewSecretBox(make([]byte, 32))
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Secrets: box})
		mk := func(name, role string) delivery.Actor {
			u := db.Client.User.Create().SetUsername(name).SetRole(user.Role(role)).SaveX(ctx)
			return delivery.Actor{UserID: u.ID, Username: name, Role: delivery.Role(role)}
		}
		eddie, otto, vic := mk("eddie", "EDITOR"), mk("otto", "EDITOR"), mk("vic", "VIEWER")
		db.Client.Group.Create().SetName("shop").AddMemberIDs(eddie.UserID, vic.UserID).ExecX(ctx)
		db.Client.Group.Create().SetName("secops").AddMemberIDs(eddie.UserID).ExecX(ctx)
		if _, err := e.CreateVariableGroup(ctx, eddie, delivery.VariableGroupInput{Name: "shared", Variables: []spec.GroupVariable{
			{Name: "REGION", Value: "eu", SettableAtReleaseTime: true},
			{Name: "FIXED", Value: "no", SettableAtReleaseTime: false},
			{Name: "TOKEN", Value: "group-secret-marker", Secret: true, SettableAtReleaseTime: true},
			{Name: "level", Value: "group-level", SettableAtReleaseTime: true},
		}}, ""); err != nil {
			t.Fatal(err)
		}
		only := []spec.Approver{{Kind: spec.ApproverGroup, Name: "secops"}}
		if _, err := e.CreateVariableGroup(ctx, eddie, delivery.VariableGroupInput{Name: "locked",
			Permissions: spec.LibraryPermissions{Read: only, Administer: only, Use: only},
			Variables:   []spec.GroupVariable{{Name: "LOCKED", Value: "locked-value-marker", SettableAtReleaseTime: true}}}, ""); err != nil {
			t.Fatal(err)
		}
		def, err := e.CreateDefinition(ctx, eddie, spec.DefinitionSnapshot{Name: "shop", Readers: []string{"shop"},
			VariableGroups: []string{"shared"},
			Variables: []spec.Variable{
				{Name: "LEVEL", Value: "definition-level", SettableAtReleaseTime: true},
				{Name: "PLAIN", Value: "p", SettableAtReleaseTime: false},
				{Name: "PASSWORD", Value: "definition-secret-marker", Secret: true, SettableAtReleaseTime: true},
			},
			Environments: []spec.EnvironmentSpec{
				{Name: "dev", Trigger: spec.Trigger{Kind: spec.TriggerManual}, Job: spec.JobSpec{Tasks: []spec.Task{{Name: "t", Script: "true"}}},
					Variables: []spec.Variable{{Name: "DEV_ONLY", Value: "d", SettableAtReleaseTime: true}, {Name: "PLAIN", Value: "q", SettableAtReleaseTime: true}}},
				{Name: "prod", Trigger: spec.Trigger{Kind: spec.TriggerManual}, Job: spec.JobSpec{Tasks: []spec.Task{{Name: "t", Script: "true"}}},
					VariableGroups: []string{"locked"}},
			}}, "")
		if err != nil {
			t.Fatal(err)
		}
		post := poster(t, e)
		const q = `query($id: ID!) { definition(id: $id) { releaseTimeVariables { name value secret declaredIn } } }`
		read := func(who delivery.Actor) string {
			t.Helper()
			out := post(who, q, map[string]any{"id": def.ID})
			if len(out.Errors) > 0 {
				t.Fatalf("%s: %+v", who.Username, out.Errors)
			}
			return string(out.Data["definition"])
		}
		want := `{"releaseTimeVariables":[` +
			`{"name":"LEVEL","value":"definition-level","secret":false,"declaredIn":["the definition","variable group shared"]},` +
			`{"name":"PASSWORD","value":null,"secret":true,"declaredIn":["the definition"]},` +
			`{"name":"DEV_ONLY","value":"d","secret":false,"declaredIn":["environment dev"]},` +
			`{"name":"REGION","value":"eu","secret":false,"declaredIn":["variable group shared"]},` +
			`{"name":"TOKEN","value":null,"secret":true,"declaredIn":["variable group shared"]},` +
			`{"name":"LOCKED","value":%s,"secret":false,"declaredIn":["variable group locked (linked to environment prod)"]}]}`
		if got, w := read(eddie), strings.Replace(want, "%s", `"locked-value-marker"`, 1); got != w {
			t.Errorf("eddie:\n got %s\nwant %s", got, w)
		}
		// vic reads the definition but not the locked group: its variable is listed without its value.
		if got, w := read(vic), strings.Replace(want, "%s", "null", 1); got != w {
			t.Errorf("vic:\n got %s\nwant %s", got, w)
		}
		// otto is outside the readers: nothing, and no marker anywhere.
		out := post(otto, q, map[string]any{"id": def.ID})
		raw, _ := json.Marshal(out)
		if d := string(out.Data["definition"]); d != "" && d != "null" || strings.Contains(string(raw), "marker") {
			t.Errorf("otto: %s", raw)
		}
		for _, who := range []delivery.Actor{eddie, vic} {
			raw, _ := json.Marshal(post(who, q, map[string]any{"id": def.ID}))
			if strings.Contains(string(raw), "secret-marker") {
				t.Errorf("%s sees a secret: %s", who.Username, raw)
			}
		}
		// createRelease agrees: every listed name may be set; PLAIN (not settable in the
		// definition) and FIXED (not settable in its group) may not.
		for _, name := range []string{"LEVEL", "PASSWORD", "DEV_ONLY", "REGION", "TOKEN", "LOCKED"} {
			if _, err := e.CreateRelease(ctx, eddie, delivery.CreateReleaseInput{DefinitionID: def.ID,
				VariableOverrides: []spec.Variable{{Name: name, Value: "x"}}}); err != nil {
				t.Errorf("override %s: %v", name, err)
			}
		}
		for _, name := range []string{"PLAIN", "FIXED", "UNDECLARED"} {
			if _, err := e.CreateRelease(ctx, eddie, delivery.CreateReleaseInput{DefinitionID: def.ID,
				VariableOverrides: []spec.Variable{{Name: name, Value: "x"}}}); err == nil {
				t.Errorf("override %s was taken", name)
			}
		}
	})
}
