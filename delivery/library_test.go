package delivery_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/variablegroup"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// libraryDef is a definition with environments dev and prod (manual) whose
// jobs run one task, linking groups at both scopes.
func libraryDef(defGroups, prodGroups []string, files ...string) spec.DefinitionSnapshot {
	job := spec.JobSpec{Tasks: []spec.Task{{Name: "t", Script: "true"}}, SecureFiles: files}
	return spec.DefinitionSnapshot{
		Name:           "app",
		VariableGroups: defGroups,
		Variables:      []spec.Variable{{Name: "DEF_VAR", Value: "definition"}, {Name: "FROM_DEF_GROUP", Value: "definition"}},
		Environments: []spec.EnvironmentSpec{
			{Name: "dev", Job: job},
			{Name: "prod", Job: job, VariableGroups: prodGroups,
				Variables: []spec.Variable{{Name: "ENV_VAR", Value: "environment", SettableAtReleaseTime: true}, {Name: "FROM_ENV_GROUP", Value: "environment"}}},
		},
	}
}

func wantCodeOf(t *testing.T, err error, code delivery.Code, what string) {
	t.Helper()
	if delivery.CodeOf(err) != code {
		t.Fatalf("%s: %v (code %s), want %s", what, err, delivery.CodeOf(err), code)
	}
}

// assignmentOf deploys rel to env and returns the job's variables by name.
func (f *fixture) assignmentOf(actor delivery.Actor, rel int, env string) (map[string]delivery.AssignmentVariable, delivery.AssignmentData) {
	f.t.Helper()
	d, err := f.e.DeployEnvironment(f.ctx, actor, delivery.DeployInput{ReleaseID: rel, Environment: env})
	if err != nil {
		f.t.Fatalf("deploying %s: %v", env, err)
	}
	j := f.job(d.ID)
	if j == nil {
		f.t.Fatalf("no job for %s", env)
	}
	a, err := f.e.BuildAssignment(f.ctx, j.ID)
	if err != nil {
		f.t.Fatalf("assignment: %v", err)
	}
	// The job ends, so that the environment may be deployed again.
	if err := f.e.StartJob(f.ctx, j.ID, f.agent()); err != nil {
		f.t.Fatalf("starting job: %v", err)
	}
	if err := f.e.FinishJob(f.ctx, j.ID, delivery.JobResult{Status: "SUCCEEDED"}); err != nil {
		f.t.Fatalf("finishing job: %v", err)
	}
	vars := map[string]delivery.AssignmentVariable{}
	for _, v := range a.Variables {
		vars[v.Name] = v
	}
	return vars, a
}

// TestVariableGroupPrecedenceFreezeRefresh: override > environment variables
// > environment groups > definition variables > definition groups (link
// order) > system variables; values frozen at release creation, redeploys
// use them, refreshVariables re-reads them (audited); secrets sealed at
// rest, decrypted for the agent, never in revisions or audit.
func TestVariableGroupPrecedenceFreezeRefresh(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ed := f.user("eddie", "EDITOR")
		g1, err := f.e.CreateVariableGroup(f.ctx, ed, delivery.VariableGroupInput{Name: "shared", Variables: []spec.GroupVariable{
			{Name: "G1_ONLY", Value: "g1"}, {Name: "LINK_ORDER", Value: "g1"}, {Name: "FROM_DEF_GROUP", Value: "g1"},
			{Name: "DB_PASSWORD", Value: "hunter2", Secret: true},
		}}, "first")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.CreateVariableGroup(f.ctx, ed, delivery.VariableGroupInput{Name: "later", Variables: []spec.GroupVariable{
			{Name: "LINK_ORDER", Value: "g2"},
		}}, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.CreateVariableGroup(f.ctx, ed, delivery.VariableGroupInput{Name: "prod-only", Variables: []spec.GroupVariable{
			{Name: "FROM_ENV_GROUP", Value: "envgroup"}, {Name: "DEF_VAR", Value: "envgroup"}, {Name: "ENV_GROUP_ONLY", Value: "x"},
		}}, ""); err != nil {
			t.Fatal(err)
		}
		raw := f.c.VariableGroup.Query().Where(variablegroup.Name("shared")).OnlyX(f.ctx)
		b, _ := json.Marshal(raw.Variables)
		if bytes.Contains(b, []byte("hunter2")) {
			t.Fatalf("secret stored in clear: %s", b)
		}
		// Linked by id at definition scope (as an import would by name).
		def, err := f.e.CreateDefinition(f.ctx, ed, libraryDef([]string{"shared", "later"}, []string{"prod-only"}), "")
		if err != nil {
			t.Fatal(err)
		}
		rel, err := f.e.CreateRelease(f.ctx, ed, delivery.CreateReleaseInput{DefinitionID: def.ID,
			VariableOverrides: []spec.Variable{{Name: "ENV_VAR", Value: "override"}}})
		if err != nil {
			t.Fatal(err)
		}
		vars, _ := f.assignmentOf(ed, rel.ID, "prod")
		want := map[string]string{
			"G1_ONLY": "g1", "LINK_ORDER": "g2", "FROM_DEF_GROUP": "definition", "DEF_VAR": "envgroup",
			"FROM_ENV_GROUP": "environment", "ENV_VAR": "override", "ENV_GROUP_ONLY": "x", "DB_PASSWORD": "hunter2",
		}
		for k, v := range want {
			if vars[k].Value != v {
				t.Errorf("%s = %q, want %q (all: %+v)", k, vars[k].Value, v, vars)
			}
		}
		if !vars["DB_PASSWORD"].Secret {
			t.Error("a group secret must reach the agent as a secret (masked in logs)")
		}
		// dev does not see prod's group.
		devVars, _ := f.assignmentOf(ed, rel.ID, "dev")
		if _, ok := devVars["ENV_GROUP_ONLY"]; ok || devVars["DEF_VAR"].Value != "definition" {
			t.Fatalf("dev sees prod's group: %+v", devVars)
		}

		// Rotating the secret is one change; the existing release keeps its frozen values.
		_, err = f.e.UpdateVariableGroup(f.ctx, ed, g1.ID, 1, delivery.VariableGroupInput{Name: "shared", Variables: []spec.GroupVariable{
			{Name: "G1_ONLY", Value: "g1-new"}, {Name: "LINK_ORDER", Value: "g1"}, {Name: "FROM_DEF_GROUP", Value: "g1"},
			{Name: "DB_PASSWORD", Value: "rotated", Secret: true},
		}}, "rotate")
		if err != nil {
			t.Fatal(err)
		}
		revs, err := f.e.VariableGroupRevisions(f.ctx, ed, g1.ID)
		if err != nil || len(revs) != 2 || revs[0].Revision != 2 || revs[0].Author != "eddie" {
			t.Fatalf("revisions %+v %v", revs, err)
		}
		changes, _ := json.Marshal(revs[0].Changes)
		if !strings.Contains(string(changes), `"path":"variables[DB_PASSWORD].value","before":"***","after":"***","kind":"CHANGED"`) ||
			!strings.Contains(string(changes), `"variables[G1_ONLY].value","before":"g1","after":"g1-new"`) {
			t.Fatalf("revision changes %s", changes)
		}
		redeploy, _ := f.assignmentOf(ed, rel.ID, "prod")
		if redeploy["DB_PASSWORD"].Value != "hunter2" || redeploy["G1_ONLY"].Value != "g1" {
			t.Fatalf("a redeploy must use the release's frozen values: %+v", redeploy)
		}
		// A new release picks the rotation up.
		rel2, err := f.e.CreateRelease(f.ctx, ed, delivery.CreateReleaseInput{DefinitionID: def.ID})
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := f.assignmentOf(ed, rel2.ID, "prod"); v["DB_PASSWORD"].Value != "rotated" {
			t.Fatalf("next release: %+v", v)
		}
		// refreshVariables re-reads them for the first release (audited).
		if _, err := f.e.RefreshVariables(f.ctx, ed, rel.ID, "pick up rotation"); err != nil {
			t.Fatal(err)
		}
		if v, _ := f.assignmentOf(ed, rel.ID, "prod"); v["DB_PASSWORD"].Value != "rotated" || v["G1_ONLY"].Value != "g1-new" {
			t.Fatalf("after refresh: %+v", v)
		}
		if f.audits("release.refreshVariables") != 1 || f.audits("variableGroup.link") != 3 || f.audits("variableGroup.update") != 1 {
			t.Fatalf("audits: refresh %d link %d update %d", f.audits("release.refreshVariables"),
				f.audits("variableGroup.link"), f.audits("variableGroup.update"))
		}
		// The release shows its frozen groups; secrets never.
		shown, err := f.e.ReleaseVariableGroups(f.ctx, ed, f.c.Release.GetX(f.ctx, rel.ID))
		if err != nil || len(shown) != 3 || shown[0].Name != "shared" || shown[0].Revision != 2 || shown[2].Environment != "prod" {
			t.Fatalf("release groups %+v %v", shown, err)
		}
		for _, v := range shown[0].Variables {
			if v.Name == "DB_PASSWORD" && v.Value != nil {
				t.Fatal("a secret value was shown")
			}
		}
		for _, a := range f.c.AuditEvent.Query().AllX(f.ctx) {
			if strings.Contains(string(a.Before)+string(a.After), "hunter2") || strings.Contains(string(a.Before)+string(a.After), "rotated") {
				t.Fatalf("audit %s holds a secret: %s %s", a.Action, a.Before, a.After)
			}
		}
		// Deleting a used group is refused with its users; unlinked, it goes.
		err = f.e.DeleteVariableGroup(f.ctx, ed, g1.ID, "")
		wantCodeOf(t, err, delivery.CodeConflict, "deleting a used group")
		if !strings.Contains(err.Error(), "definition app") {
			t.Fatalf("refusal does not name the users: %v", err)
		}
		doc := libraryDef([]string{"later"}, []string{"prod-only"})
		if _, err := f.e.UpdateDefinition(f.ctx, ed, def.ID, def.Revision, doc, "unlink"); err != nil {
			t.Fatal(err)
		}
		if f.audits("variableGroup.unlink") != 1 {
			t.Fatalf("unlink audits %d", f.audits("variableGroup.unlink"))
		}
		if err := f.e.DeleteVariableGroup(f.ctx, ed, g1.ID, "gone"); err != nil {
			t.Fatal(err)
		}
		// The release keeps what it froze.
		if v, _ := f.assignmentOf(ed, rel.ID, "prod"); v["DB_PASSWORD"].Value != "rotated" {
			t.Fatalf("after deleting the group: %+v", v)
		}
	})
}

// TestVariableGroupPermissions: linking needs use (FORBIDDEN, nothing
// written), changing needs administer, values are shown to readers only; a
// definition linking a group its editor may not read still deploys.
func TestVariableGroupPermissions(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		owner, other, viewer := f.user("olga", "EDITOR"), f.user("otto", "EDITOR"), f.user("vic", "VIEWER")
		f.group("secops", owner)
		only := []spec.Approver{{Kind: spec.ApproverGroup, Name: "secops"}}
		g, err := f.e.CreateVariableGroup(f.ctx, owner, delivery.VariableGroupInput{Name: "locked",
			Variables:   []spec.GroupVariable{{Name: "PLAIN", Value: "visible"}, {Name: "KEY", Value: "s3cret", Secret: true}},
			Permissions: spec.LibraryPermissions{Use: only, Administer: only, Read: only}}, "")
		if err != nil {
			t.Fatal(err)
		}
		counts := func() [3]int {
			return [3]int{f.c.AuditEvent.Query().CountX(f.ctx), f.c.ReleaseDefinition.Query().CountX(f.ctx), f.c.VariableGroupRevision.Query().CountX(f.ctx)}
		}
		before := counts()
		_, err = f.e.CreateDefinition(f.ctx, other, libraryDef([]string{"locked"}, nil), "")
		wantCodeOf(t, err, delivery.CodeForbidden, "linking a group one may not use")
		_, err = f.e.CreateDefinition(f.ctx, other, libraryDef(nil, nil, "nope"), "")
		wantCodeOf(t, err, delivery.CodeInvalidInput, "naming a secure file that does not exist")
		_, err = f.e.CreateDefinition(f.ctx, other, libraryDef([]string{"missing"}, nil), "")
		wantCodeOf(t, err, delivery.CodeInvalidInput, "linking a group that does not exist")
		_, err = f.e.UpdateVariableGroup(f.ctx, other, g.ID, 1, delivery.VariableGroupInput{Name: "locked"}, "")
		wantCodeOf(t, err, delivery.CodeForbidden, "changing a group one may not administer")
		wantCodeOf(t, f.e.DeleteVariableGroup(f.ctx, other, g.ID, ""), delivery.CodeForbidden, "deleting a group one may not administer")
		_, err = f.e.CreateVariableGroup(f.ctx, viewer, delivery.VariableGroupInput{Name: "v"}, "")
		wantCodeOf(t, err, delivery.CodeForbidden, "a VIEWER creating a group")
		if after := counts(); after != before {
			t.Fatalf("refused writes changed rows: %v → %v", before, after)
		}
		// The owner links it; the other editor still deploys the definition but sees no values.
		def, err := f.e.CreateDefinition(f.ctx, owner, libraryDef([]string{"locked"}, nil), "")
		if err != nil {
			t.Fatal(err)
		}
		rel, err := f.e.CreateRelease(f.ctx, other, delivery.CreateReleaseInput{DefinitionID: def.ID})
		if err != nil {
			t.Fatal(err)
		}
		if vars, _ := f.assignmentOf(other, rel.ID, "dev"); vars["PLAIN"].Value != "visible" || vars["KEY"].Value != "s3cret" {
			t.Fatalf("the engine reads the group for any deployer: %+v", vars)
		}
		p, err := f.e.PrincipalOf(f.ctx, other)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range p.ShowGroupVariables(g) {
			if v.Value != nil {
				t.Fatalf("a non-reader sees %s", v.Name)
			}
		}
		shown, _ := f.e.ReleaseVariableGroups(f.ctx, other, rel)
		if len(shown) != 1 || shown[0].Variables[0].Value != nil {
			t.Fatalf("a non-reader sees the release's values: %+v", shown)
		}
		po, _ := f.e.PrincipalOf(f.ctx, owner)
		vs := po.ShowGroupVariables(g)
		if vs[0].Value == nil || *vs[0].Value != "visible" || vs[1].Value != nil {
			t.Fatalf("reader view %+v", vs)
		}
		if c := p.CanLibrary(g.Permissions); c.Use || c.Administer || c.Read {
			t.Fatalf("viewerCan of an outsider %+v", c)
		}
		// An ADMIN may act without being listed: audited.
		if _, err := f.e.UpdateVariableGroup(f.ctx, f.admin, g.ID, 1, delivery.VariableGroupInput{Name: "locked",
			Variables:   []spec.GroupVariable{{Name: "PLAIN", Value: "v2"}, {Name: "KEY", Secret: true}},
			Permissions: g.Permissions}, ""); err != nil {
			t.Fatal(err)
		}
		if n := f.c.AuditEvent.Query().Where(auditevent.Action("permission.override"), auditevent.TargetType("variableGroup")).CountX(f.ctx); n != 1 {
			t.Fatalf("override audits %d", n)
		}
		// The secret kept its value (given without one).
		rel2, _ := f.e.CreateRelease(f.ctx, owner, delivery.CreateReleaseInput{DefinitionID: def.ID})
		if vars, _ := f.assignmentOf(owner, rel2.ID, "dev"); vars["KEY"].Value != "s3cret" || vars["PLAIN"].Value != "v2" {
			t.Fatalf("after update: %+v", vars)
		}
		// Renaming a linked group is refused (definitions link by name).
		_, err = f.e.UpdateVariableGroup(f.ctx, owner, g.ID, 2, delivery.VariableGroupInput{Name: "renamed", Permissions: g.Permissions,
			Variables: []spec.GroupVariable{{Name: "KEY", Secret: true}}}, "")
		wantCodeOf(t, err, delivery.CodeConflict, "renaming a linked group")
		// Bad input names what is wrong.
		_, err = f.e.CreateVariableGroup(f.ctx, owner, delivery.VariableGroupInput{Name: "123",
			Variables: []spec.GroupVariable{{Name: "A"}, {Name: "a"}, {Name: "S", Secret: true}}}, "")
		var ve *delivery.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), "read as an id") || !strings.Contains(err.Error(), "defined twice") ||
			!strings.Contains(err.Error(), "needs a value") {
			t.Fatalf("validation: %v", err)
		}
	})
}

// TestSecureFiles: size cap, sealed at rest, listed without content, named
// by jobs (use permission), delivered decrypted in the job's assignment,
// delete refused while used.
func TestSecureFiles(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ed, other := f.user("eddie", "EDITOR"), f.user("otto", "EDITOR")
		content := []byte("-----BEGIN CERT-----\nplaintext-marker\n")
		eddie := []spec.Approver{{Kind: spec.ApproverUser, Name: "eddie"}}
		sf, err := f.e.UploadSecureFile(f.ctx, ed, delivery.SecureFileInput{Name: "signing.pem",
			Permissions: spec.LibraryPermissions{Use: eddie, Administer: eddie}}, bytes.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		if sf.Size != int64(len(content)) || sf.Content != nil {
			t.Fatalf("upload answer %+v", sf)
		}
		stored := f.c.SecureFile.GetX(f.ctx, sf.ID)
		if bytes.Contains(stored.Content, []byte("plaintext-marker")) {
			t.Fatal("secure file stored in clear")
		}
		_, err = f.e.UploadSecureFile(f.ctx, ed, delivery.SecureFileInput{Name: "big"}, bytes.NewReader(make([]byte, delivery.MaxSecureFileBytes+1)))
		wantCodeOf(t, err, delivery.CodeInvalidInput, "an oversized file")
		_, err = f.e.UploadSecureFile(f.ctx, ed, delivery.SecureFileInput{Name: "signing.pem"}, strings.NewReader("x"))
		wantCodeOf(t, err, delivery.CodeConflict, "uploading over an existing name")
		_, err = f.e.UploadSecureFile(f.ctx, other, delivery.SecureFileInput{Name: "signing.pem", Replace: true}, strings.NewReader("x"))
		wantCodeOf(t, err, delivery.CodeForbidden, "replacing without administer")
		_, err = f.e.CreateDefinition(f.ctx, other, libraryDef(nil, nil, "signing.pem"), "")
		wantCodeOf(t, err, delivery.CodeForbidden, "naming a secure file one may not use")
		def, err := f.e.CreateDefinition(f.ctx, ed, libraryDef(nil, nil, "signing.pem"), "")
		if err != nil {
			t.Fatal(err)
		}
		rel, err := f.e.CreateRelease(f.ctx, ed, delivery.CreateReleaseInput{DefinitionID: def.ID})
		if err != nil {
			t.Fatal(err)
		}
		_, a := f.assignmentOf(ed, rel.ID, "dev")
		if len(a.SecureFiles) != 1 || a.SecureFiles[0].PathVariable != "SECUREFILE_SIGNING_PEM_PATH" ||
			!bytes.Equal(a.SecureFiles[0].Content, content) {
			t.Fatalf("assignment secure files %+v", a.SecureFiles)
		}
		err = f.e.DeleteSecureFile(f.ctx, ed, sf.ID)
		wantCodeOf(t, err, delivery.CodeConflict, "deleting a used file")
		if !strings.Contains(err.Error(), "definition app (environments dev, prod)") {
			t.Fatalf("refusal does not name the users: %v", err)
		}
		wantCodeOf(t, f.e.DeleteSecureFile(f.ctx, other, sf.ID), delivery.CodeForbidden, "deleting without administer")
		if f.audits("secureFile.link") != 2 || f.audits("secureFile.create") != 1 {
			t.Fatalf("audits link %d create %d", f.audits("secureFile.link"), f.audits("secureFile.create"))
		}
		list, err := f.e.SecureFiles(f.ctx, other)
		if err != nil || len(list) != 1 || list[0].Content != nil {
			t.Fatalf("list %+v %v", list, err)
		}
	})
}

// TestGroupVariablesSettableAtReleaseTime: a release may override a linked group's variable only
// when the group declares it settable at release time (and every other declaration of the
// name is settable too, as for definition variables); a group secret stays secret.
func TestGroupVariablesSettableAtReleaseTime(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ed := f.user("eddie", "EDITOR")
		if _, err := f.e.CreateVariableGroup(f.ctx, ed, delivery.VariableGroupInput{Name: "shared", Variables: []spec.GroupVariable{
			{Name: "FLAG", Value: "off", SettableAtReleaseTime: true}, {Name: "FIXED", Value: "1"},
			{Name: "TOKEN", Value: "t0", Secret: true, SettableAtReleaseTime: true},
			{Name: "ENV_VAR", Value: "group"},
		}}, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.CreateVariableGroup(f.ctx, ed, delivery.VariableGroupInput{Name: "prod-only", Variables: []spec.GroupVariable{
			{Name: "REPLICAS", Value: "2", SettableAtReleaseTime: true},
		}}, ""); err != nil {
			t.Fatal(err)
		}
		def, err := f.e.CreateDefinition(f.ctx, ed, libraryDef([]string{"shared"}, []string{"prod-only"}), "")
		if err != nil {
			t.Fatal(err)
		}
		releases := f.c.Release.Query().CountX(f.ctx)
		for _, tt := range []struct{ name, want string }{
			{"FIXED", "variable group shared"},
			// ENV_VAR is settable in environment prod, not in the group: refused.
			{"ENV_VAR", "environment prod, variable group shared"},
			{"UNDECLARED", "nor by a variable group it links"},
		} {
			_, err := f.e.CreateRelease(f.ctx, ed, delivery.CreateReleaseInput{DefinitionID: def.ID,
				VariableOverrides: []spec.Variable{{Name: tt.name, Value: "x"}}})
			if delivery.CodeOf(err) != delivery.CodeInvalidInput || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "variableOverrides[0].name") {
				t.Errorf("override of %s: %v", tt.name, err)
			}
		}
		if n := f.c.Release.Query().CountX(f.ctx); n != releases {
			t.Fatalf("a refused release was stored (%d releases, %d before)", n, releases)
		}
		rel, err := f.e.CreateRelease(f.ctx, ed, delivery.CreateReleaseInput{DefinitionID: def.ID,
			VariableOverrides: []spec.Variable{{Name: "flag", Value: "on"}, {Name: "TOKEN", Value: "t1"}, {Name: "REPLICAS", Value: "5"}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range rel.VariableOverrides {
			// Sealed: "sealed:" and the sealed box's base64 (which may contain "t1" by chance).
			if o.Name == "TOKEN" && (!o.Secret || !strings.HasPrefix(o.Value, "sealed:")) {
				t.Errorf("an override of a group secret must be sealed: %+v", o)
			}
		}
		vars, _ := f.assignmentOf(ed, rel.ID, "prod")
		if vars["flag"].Value != "on" || vars["TOKEN"].Value != "t1" || !vars["TOKEN"].Secret || vars["REPLICAS"].Value != "5" || vars["FIXED"].Value != "1" {
			t.Errorf("prod variables %+v", vars)
		}
	})
}
