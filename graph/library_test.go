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
	"github.com/cairnhq/cairn/graph"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestLibraryMutationsAsOutsider walks, through the real GraphQL handler,
// every library mutation as an EDITOR outside the group's and file's lists
// (and creating as a VIEWER): each answers FORBIDDEN, returns no data and
// writes nothing; no answer, reads included, holds a value the outsider may
// not read or any secret.
func TestLibraryMutationsAsOutsider(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		box, _ := delivery.NewSecretBox(make([]byte, 32))
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Secrets: box})
		mk := func(name, role string) delivery.Actor {
			u := db.Client.User.Create().SetUsername(name).SetRole("VIEWER").SaveX(ctx)
			return delivery.Actor{UserID: u.ID, Username: name, Role: delivery.Role(role)}
		}
		owner, outsider, viewer := mk("olga", "EDITOR"), mk("otto", "EDITOR"), mk("vic", "VIEWER")
		db.Client.Group.Create().SetName("secops").AddMemberIDs(owner.UserID).ExecX(ctx)
		only := []spec.Approver{{Kind: spec.ApproverGroup, Name: "secops"}}
		perms := spec.LibraryPermissions{Use: only, Administer: only, Read: only}
		g, err := e.CreateVariableGroup(ctx, owner, delivery.VariableGroupInput{Name: "locked", Permissions: perms,
			Variables: []spec.GroupVariable{{Name: "PLAIN", Value: "plain-value-marker"}, {Name: "KEY", Value: "secret-value-marker", Secret: true}}}, "")
		if err != nil {
			t.Fatal(err)
		}
		f, err := e.UploadSecureFile(ctx, owner, delivery.SecureFileInput{Name: "cert.pem", Permissions: perms},
			strings.NewReader("file-content-marker"))
		if err != nil {
			t.Fatal(err)
		}
		serve := func(a delivery.Actor) *httptest.Server {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				graph.NewHandler(&graph.Resolver{Engine: e}, graph.Options{}).
					ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), a)))
			}))
			t.Cleanup(ts.Close)
			return ts
		}
		post := func(ts *httptest.Server, q string, vars map[string]any) []byte {
			body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
			res, err := http.Post(ts.URL, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			return raw
		}
		vars := map[string]any{"g": g.ID, "f": f.ID}
		walked := map[string]string{
			"updateVariableGroup": `mutation($g: ID!) { updateVariableGroup(id: $g, expectedRevision: 1, input: {name: "locked", variables: [{name: "PLAIN", value: "x"}]}) { id } }`,
			"deleteVariableGroup": `mutation($g: ID!) { deleteVariableGroup(id: $g) }`,
			"updateSecureFile":    `mutation($f: ID!) { updateSecureFile(id: $f, description: "mine") { id } }`,
			"deleteSecureFile":    `mutation($f: ID!) { deleteSecureFile(id: $f) }`,
			"createDefinition": `mutation { createDefinition(input: {name: "d", variableGroups: ["locked"],
				environments: [{name: "dev", job: {secureFiles: ["cert.pem"], tasks: [{name: "t", script: "true"}]}}]}) { id } }`,
		}
		counts := func() [5]int {
			return [5]int{db.Client.AuditEvent.Query().CountX(ctx), db.Client.VariableGroupRevision.Query().CountX(ctx),
				db.Client.ReleaseDefinition.Query().CountX(ctx), db.Client.VariableGroup.Query().CountX(ctx), db.Client.SecureFile.Query().CountX(ctx)}
		}
		before := counts()
		out := serve(outsider)
		check := func(name string, raw []byte) {
			t.Helper()
			var r walkResponse
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatalf("%s: %s", name, raw)
			}
			if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "FORBIDDEN" {
				t.Errorf("%s as an outsider: %s; want one FORBIDDEN", name, raw)
			}
			if d := r.Data[name]; len(d) > 0 && string(d) != "null" {
				t.Errorf("%s returned data to an outsider: %s", name, d)
			}
		}
		for name, q := range walked {
			check(name, post(out, q, vars))
		}
		check("createVariableGroup", post(serve(viewer), `mutation { createVariableGroup(input: {name: "v"}) { id } }`, nil))
		if after := counts(); after != before {
			t.Fatalf("outsider writes changed rows (audit, revisions, definitions, groups, files): %v → %v", before, after)
		}
		// Reads: the outsider sees the group exists, never its values; nobody sees a secret or a file's content.
		reads := `query($g: ID!) { variableGroups { name variables { name value secret } viewerCan { use administer read } }
			variableGroup(id: $g) { revision variables { value } permissions { read { name } } }
			variableGroupRevisions(id: $g) { revision author changes { path before after } }
			secureFiles { name size sha256 viewerCan { use } } }`
		raw := post(out, reads, vars)
		if !strings.Contains(string(raw), `"name":"locked"`) || !strings.Contains(string(raw), `"use":false`) {
			t.Fatalf("outsider's reads: %s", raw)
		}
		for _, m := range []string{"plain-value-marker", "secret-value-marker", "file-content-marker"} {
			if strings.Contains(string(raw), m) {
				t.Errorf("an outsider's answer holds %s: %s", m, raw)
			}
		}
		raw = post(serve(owner), reads, vars)
		if !strings.Contains(string(raw), "plain-value-marker") || !strings.Contains(string(raw), `"after":"***"`) {
			t.Fatalf("owner's reads: %s", raw)
		}
		for _, m := range []string{"secret-value-marker", "file-content-marker", "sealed:"} {
			if strings.Contains(string(raw), m) {
				t.Errorf("an answer holds %s: %s", m, raw)
			}
		}
	})
}
