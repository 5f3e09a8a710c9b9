package graph_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/serviceconnection"
	"github.com/cairnhq/cairn/ent/user"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

const importMutation = `mutation($docs: [String!]!, $dry: Boolean, $mapping: ImportMappingInput) {
  importDefinitions(format: AZURE_CLASSIC, documents: $docs, dryRun: $dry, mapping: $mapping) {
    dryRun applied
    definitions {
      document sourceId sourceRevision sourceUrl name action input valid existingDefinitionId
      definition { id revision name importedFrom }
      findings { path status message }
    }
  }
}`

type importPayload struct {
	ImportDefinitions struct {
		DryRun, Applied bool
		Definitions     []struct {
			Document, SourceID, SourceRevision int
			SourceURL, Name, Action, Input     string
			Valid                              bool
			ExistingDefinitionID               *string
			Definition                         *struct {
				ID           string
				Revision     int
				Name         string
				ImportedFrom *string
			}
			Findings []struct{ Path, Status, Message string }
		}
	}
}

func legacyDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../delivery/azureclassic/testdata/definition-2.0.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// legacyMapping is what the legacy definition needs: its Build artifact's connection, its
// approver and the deployment group of its group phase.
var legacyMapping = map[string]any{
	"serviceConnections": []any{map[string]any{"azure": "Legacy", "connection": "tfs"}},
	"identities":         []any{map[string]any{"azure": "bo@example.org", "kind": "USER", "name": "alice"}},
	"deploymentGroups":   []any{map[string]any{"azure": 4, "name": "db-servers"}},
}

func seedImport(t *testing.T, db *storage.DB) *gqlClient {
	t.Helper()
	ctx := context.Background()
	alice := db.Client.User.Create().SetUsername("alice").SetRole(user.RoleEDITOR).SaveX(ctx)
	db.Client.ServiceConnection.Create().SetName("tfs").SetKind(serviceconnection.KindAZURE_DEVOPS).SetURL("https://tfs.example.org/tfs/DefaultCollection").SaveX(ctx)
	db.Client.DeploymentGroup.Create().SetName("db-servers").SetDescription("").SetCreatedAt(time.Now()).SaveX(ctx)
	return newGQL(t, db, delivery.Actor{UserID: alice.ID, Username: "alice", Role: delivery.RoleEditor})
}

func TestImportDefinitionsDryRunCreatesNothing(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		c := seedImport(t, db)
		var out importPayload
		doc := strings.Replace(legacyDoc(t), `"Release-$(rev:r)"`, `"$(Release.DefinitionName)-$(Build.Nonsense)"`, 1)
		doc = strings.Replace(doc, `"variables": {"Region": {"value": "north"}},`, `"variables": {"Region": {"value": "north"}, "system.debug": {"value": "true"}},`, 1)
		c.ok(importMutation, map[string]any{"docs": []any{doc}, "mapping": legacyMapping}, &out)
		p := out.ImportDefinitions
		if !p.DryRun || p.Applied || len(p.Definitions) != 1 {
			t.Fatalf("payload %+v", p)
		}
		d := p.Definitions[0]
		if d.SourceID != 7 || d.SourceRevision != 12 || d.Name != "Legacy" || d.Action != "CREATE" || !d.Valid || d.Definition != nil ||
			!strings.HasSuffix(d.SourceURL, "/_apis/Release/definitions/7") {
			t.Errorf("report %+v", d)
		}
		var input map[string]any
		if err := json.Unmarshal([]byte(d.Input), &input); err != nil || input["name"] != "Legacy" {
			t.Errorf("input %s (%v)", d.Input, err)
		}
		// The legacy stage's phases: agent, server (its manual intervention), deployment group.
		var typed struct {
			Environments []struct {
				Job    map[string]any
				Phases []struct{ Kind, Name, DeploymentGroup string }
			}
		}
		if err := json.Unmarshal([]byte(d.Input), &typed); err != nil || len(typed.Environments) != 2 {
			t.Fatalf("input environments %s (%v)", d.Input, err)
		}
		ph := typed.Environments[1].Phases
		if len(ph) != 3 || ph[0].Kind != "AGENT" || ph[1].Kind != "SERVER" || ph[2].Kind != "DEPLOYMENT_GROUP" || ph[2].DeploymentGroup != "db-servers" || ph[2].Name != "Group phase" {
			t.Errorf("stage phases %+v", ph)
		}
		if input["releaseNameFormat"] != "Release-$(rev:r)" {
			t.Errorf("release name format %v, want the default for a format with unknown tokens", input["releaseNameFormat"])
		}
		approximated := false
		for _, f := range d.Findings {
			approximated = approximated || (f.Path == "releaseNameFormat" && f.Status == "APPROXIMATED" && strings.Contains(f.Message, "Build.Nonsense"))
		}
		if !approximated {
			t.Errorf("no finding about the release name format: %+v", d.Findings)
		}
		dropped := false
		for _, f := range d.Findings {
			dropped = dropped || (f.Path == "cairn:variables.system.debug" && f.Status == "DROPPED")
		}
		if !dropped || strings.Contains(d.Input, "system.debug") || !d.Valid {
			t.Errorf("system.debug: dropped %v, valid %v, input %s", dropped, d.Valid, d.Input)
		}
		if n := db.Client.ReleaseDefinition.Query().CountX(ctx); n != 0 {
			t.Errorf("a dry run created %d definitions", n)
		}
		if n := db.Client.AuditEvent.Query().CountX(ctx); n != 0 {
			t.Errorf("a dry run wrote %d audit events", n)
		}
	})
}

func TestImportDefinitionsAllOrNothing(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		c := seedImport(t, db)
		// The second document's approver is not mapped: NEEDS_INPUT.
		second := strings.ReplaceAll(strings.ReplaceAll(legacyDoc(t), `"name": "Legacy",`, `"name": "Legacy two",`), "bo@example.org", "nobody@example.org")
		second = strings.ReplaceAll(second, "definitions/7", "definitions/8")
		var out importPayload
		c.ok(importMutation, map[string]any{"docs": []any{legacyDoc(t), second}, "dry": false, "mapping": legacyMapping}, &out)
		p := out.ImportDefinitions
		if p.DryRun || p.Applied || len(p.Definitions) != 2 || !p.Definitions[0].Valid || p.Definitions[1].Valid {
			t.Fatalf("payload %+v", p)
		}
		blocked := false
		for _, f := range p.Definitions[1].Findings {
			blocked = blocked || (f.Status == "NEEDS_INPUT" && strings.Contains(f.Message, "nobody@example.org"))
		}
		if !blocked {
			t.Errorf("findings of the invalid definition: %+v", p.Definitions[1].Findings)
		}
		if n := db.Client.ReleaseDefinition.Query().CountX(ctx); n != 0 {
			t.Errorf("%d definitions created although one document is invalid", n)
		}
		// Two documents that make the same definition: refused, nothing written.
		c.ok(importMutation, map[string]any{"docs": []any{legacyDoc(t), legacyDoc(t)}, "dry": false, "mapping": legacyMapping}, &out)
		if out.ImportDefinitions.Applied || out.ImportDefinitions.Definitions[1].Valid {
			t.Errorf("the same definition twice: %+v", out.ImportDefinitions)
		}
		// Cairn's own validation counts too: an approver mapped to a user that does not exist.
		bad := map[string]any{"serviceConnections": legacyMapping["serviceConnections"], "deploymentGroups": legacyMapping["deploymentGroups"],
			"identities": []any{map[string]any{"azure": "bo@example.org", "kind": "USER", "name": "ghost"}}}
		c.ok(importMutation, map[string]any{"docs": []any{legacyDoc(t)}, "dry": false, "mapping": bad}, &out)
		d := out.ImportDefinitions.Definitions[0]
		invalid := false
		for _, f := range d.Findings {
			invalid = invalid || (f.Status == "INVALID" && strings.Contains(f.Message, "ghost"))
		}
		if out.ImportDefinitions.Applied || d.Valid || !invalid {
			t.Errorf("import with an unknown user: %+v", out.ImportDefinitions)
		}
		if n := db.Client.ReleaseDefinition.Query().CountX(ctx); n != 0 {
			t.Errorf("%d definitions created although one is invalid", n)
		}
	})
}

func TestImportDefinitionsReimportIsANewRevision(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		c := seedImport(t, db)
		var out importPayload
		// A secret variable: its value comes from the mapping the first time, and is kept
		// by a re-import that does not give it.
		doc := strings.Replace(legacyDoc(t), `"variables": {"Region": {"value": "north"}},`,
			`"variables": {"Region": {"value": "north"}, "Token": {"value": null, "isSecret": true}},`, 1)
		withSecret := map[string]any{"serviceConnections": legacyMapping["serviceConnections"], "identities": legacyMapping["identities"],
			"deploymentGroups": legacyMapping["deploymentGroups"],
			"secretValues":     []any{map[string]any{"variable": "Token", "value": "tok-1"}}}
		c.ok(importMutation, map[string]any{"docs": []any{doc}, "dry": false, "mapping": withSecret}, &out)
		p := out.ImportDefinitions
		if !p.Applied || p.Definitions[0].Definition == nil {
			t.Fatalf("first import %+v", p)
		}
		if strings.Contains(p.Definitions[0].Input, "tok-1") {
			t.Errorf("the report shows a secret value: %s", p.Definitions[0].Input)
		}
		def := p.Definitions[0].Definition
		if def.Revision != 1 || def.ImportedFrom == nil || !strings.Contains(*def.ImportedFrom, "/_apis/Release/definitions/7") {
			t.Errorf("created %+v", def)
		}
		changed := strings.Replace(doc, `"Region": {"value": "north"}`, `"Region": {"value": "south"}`, 1)
		changed = strings.Replace(changed, `"revision": 12`, `"revision": 13`, 1)
		c.ok(importMutation, map[string]any{"docs": []any{changed}, "dry": false, "mapping": legacyMapping}, &out)
		p = out.ImportDefinitions
		d := p.Definitions[0]
		if !p.Applied || d.Action != "UPDATE" || d.ExistingDefinitionID == nil || *d.ExistingDefinitionID != def.ID ||
			d.Definition == nil || d.Definition.ID != def.ID || d.Definition.Revision != 2 {
			t.Fatalf("re-import %+v", p)
		}
		var diff struct {
			DefinitionDiff []struct {
				Path, Kind    string
				Before, After *string
			}
		}
		c.ok(`query($id: ID!) { definitionDiff(id: $id, from: 1, to: 2) { path kind before after } }`, map[string]any{"id": def.ID}, &diff)
		found := false
		for _, ch := range diff.DefinitionDiff {
			if strings.Contains(ch.Path, "Region") && ch.After != nil && *ch.After == "south" {
				found = true
			}
		}
		if !found {
			t.Errorf("diff of the re-import: %+v", diff.DefinitionDiff)
		}
		// A dry run of the same document again reports an UPDATE and writes nothing.
		c.ok(importMutation, map[string]any{"docs": []any{changed}, "mapping": legacyMapping}, &out)
		if d := out.ImportDefinitions.Definitions[0]; d.Action != "UPDATE" || !d.Valid {
			t.Errorf("dry re-import %+v", d)
		}
	})
}

// TestImportDefinitionsReimportNeedsEditPermission: a re-import is an update with the
// caller's permissions; a definition whose editors do not include the caller is not
// changed.
func TestImportDefinitionsReimportNeedsEditPermission(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		c := seedImport(t, db)
		root := db.Client.User.Create().SetUsername("root").SetRole(user.RoleADMIN).SaveX(ctx)
		admin := newGQL(t, db, delivery.Actor{UserID: root.ID, Username: "root", Role: delivery.RoleAdmin})
		var out importPayload
		c.ok(importMutation, map[string]any{"docs": []any{legacyDoc(t)}, "dry": false, "mapping": legacyMapping}, &out)
		def := out.ImportDefinitions.Definitions[0].Definition
		if def == nil {
			t.Fatalf("import %+v", out.ImportDefinitions)
		}
		input := out.ImportDefinitions.Definitions[0].Input
		var doc map[string]any
		if err := json.Unmarshal([]byte(input), &doc); err != nil {
			t.Fatal(err)
		}
		// The import's own input, with editors narrowed to root.
		doc["permissions"] = map[string]any{"editDefinition": []any{map[string]any{"kind": "USER", "name": "root"}}}
		delete(doc, "variableGroups")
		admin.ok(`mutation($id: ID!, $in: DefinitionInput!) { updateDefinition(id: $id, expectedRevision: 1, input: $in) { revision } }`,
			map[string]any{"id": def.ID, "in": doc}, nil)
		r := c.do(importMutation, map[string]any{"docs": []any{legacyDoc(t)}, "dry": false, "mapping": legacyMapping})
		if len(r.Errors) == 0 {
			t.Fatalf("re-import by a user who may not edit the definition: %s", r.raw)
		}
		if rev := db.Client.ReleaseDefinition.GetX(ctx, mustAtoi(t, def.ID)).Revision; rev != 2 {
			t.Errorf("revision %d after a refused re-import, want 2", rev)
		}
		// root may: the re-import keeps the permission lists, which exist only in Cairn.
		admin.ok(importMutation, map[string]any{"docs": []any{legacyDoc(t)}, "dry": false, "mapping": legacyMapping}, &out)
		got := db.Client.ReleaseDefinition.GetX(ctx, mustAtoi(t, def.ID))
		if !out.ImportDefinitions.Applied || got.Revision != 3 || len(got.Permissions.EditDefinition) != 1 || got.Permissions.EditDefinition[0].Name != "root" {
			t.Errorf("re-import by root: applied %v, revision %d, permissions %+v", out.ImportDefinitions.Applied, got.Revision, got.Permissions)
		}
	})
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestImportDefinitionsPermissionsAndBadInput(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := db.Client.User.Create().SetUsername("vic").SetRole(user.RoleVIEWER).SaveX(ctx)
		viewer := newGQL(t, db, delivery.Actor{UserID: v.ID, Username: "vic", Role: delivery.RoleViewer})
		for _, dry := range []bool{true, false} {
			r := viewer.do(importMutation, map[string]any{"docs": []any{legacyDoc(t)}, "dry": dry, "mapping": legacyMapping})
			if len(r.Errors) == 0 || !strings.Contains(strings.ToLower(r.raw), "editor") {
				t.Errorf("viewer import (dry %v): %s", dry, r.raw)
			}
		}
		c := seedImport(t, db)
		for _, tc := range []struct{ doc, want string }{
			{"not json at all", "documents[0]"},
			{`{"name": "x"}`, "neither a release definition"},
			{strings.Repeat("[", 100) + strings.Repeat("]", 100), "nested more than"},
		} {
			r := c.do(importMutation, map[string]any{"docs": []any{tc.doc}, "dry": false})
			if len(r.Errors) == 0 || !strings.Contains(r.raw, tc.want) {
				t.Errorf("document %.30q: %s; want an error mentioning %q", tc.doc, r.raw, tc.want)
			}
		}
		if n := db.Client.ReleaseDefinition.Query().CountX(ctx); n != 0 {
			t.Errorf("%d definitions created by refused imports", n)
		}
	})
}
