package delivery_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// leafPaths lists every settable leaf of type t by JSON name: struct fields
// are followed, slice elements read "[]", pointers are followed. It is the
// list of what a client can write through the GraphQL input bound to t
// (EnvironmentInput is bound to spec.EnvironmentSpec in gqlgen.yml).
// A struct type met again below itself (a task group's steps are tasks) is
// walked once: its leaves are already listed at the outer level.
func leafPaths(t reflect.Type, prefix string) []string {
	return leafPathsIn(t, prefix, map[reflect.Type]bool{})
}

func leafPathsIn(t reflect.Type, prefix string, onPath map[reflect.Type]bool) []string {
	switch t.Kind() {
	case reflect.Pointer:
		return leafPathsIn(t.Elem(), prefix, onPath)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return leafPathsIn(t.Elem(), prefix+"[]", onPath)
		}
	case reflect.Struct:
		if onPath[t] {
			return nil
		}
		onPath[t] = true
		defer delete(onPath, t)
		var out []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if name == "template" && t == reflect.TypeFor[spec.Task]() {
				// Server-managed: a definition's tasks carry no resolved template (the
				// save clears it; a release freezes it), so nothing a client sends there
				// is kept.
				continue
			}
			p := name
			if prefix != "" {
				p = prefix + "." + name
			}
			out = append(out, leafPathsIn(f.Type, p, onPath)...)
		}
		return out
	}
	return []string{prefix}
}

// mutateLeaf changes the leaf at path (as leafPaths names it) in v, making
// the slice elements and pointers on the way when they are missing: a string
// gets a suffix, a number grows, a bool flips, a map or a list gains an entry.
func mutateLeaf(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	if path == "" {
		switch v.Kind() {
		case reflect.String:
			v.SetString(v.String() + "-changed")
		case reflect.Int, reflect.Int64, reflect.Int32:
			v.SetInt(v.Int() + 1)
		case reflect.Bool:
			v.SetBool(!v.Bool())
		case reflect.Map:
			m := reflect.MakeMap(v.Type())
			for _, k := range v.MapKeys() {
				m.SetMapIndex(k, v.MapIndex(k))
			}
			m.SetMapIndex(reflect.ValueOf("CHANGED_KEY").Convert(v.Type().Key()), reflect.ValueOf("x").Convert(v.Type().Elem()))
			v.Set(m)
		case reflect.Slice:
			v.Set(reflect.Append(v, reflect.ValueOf("changed").Convert(v.Type().Elem())))
		default:
			t.Fatalf("no mutation for a leaf of kind %s: extend mutateLeaf", v.Kind())
		}
		return
	}
	head, rest, _ := strings.Cut(path, ".")
	field, elem := strings.CutSuffix(head, "[]")
	if v.Kind() != reflect.Struct {
		t.Fatalf("path %q reaches a %s", path, v.Kind())
	}
	var fv reflect.Value
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		if name == field || (name == "" && v.Type().Field(i).Name == field) {
			fv = v.Field(i)
		}
	}
	if !fv.IsValid() {
		t.Fatalf("no field %q in %s", field, v.Type())
	}
	if elem {
		if fv.Len() == 0 {
			fv.Set(reflect.Append(fv, reflect.Zero(fv.Type().Elem())))
		}
		fv = fv.Index(0)
	}
	mutateLeaf(t, fv, rest)
}

// envPermFixture is a definition whose prod environment lists its own
// editors (pe), with something in every list and policy that has elements,
// and an editor (ed) who holds editDefinition but nothing on prod.
type envPermFixture struct {
	*fixture
	def         int
	ed, pe, mgr delivery.Actor
}

func newEnvPermFixture(t *testing.T, db *storage.DB) *envPermFixture {
	f := newFixture(t, db)
	f.connection()
	ed := f.user("ed", "EDITOR")
	pe := f.user("pe", "EDITOR")
	mgr := f.user("mgr", "EDITOR")
	f.user("ann", "VIEWER")
	f.group("ops", ed, pe, mgr)
	prod := environment("prod", after("dev"), pre(spec.ApprovalPolicy{Approvers: users("ann")}),
		post(spec.ApprovalPolicy{Approvers: users("ann")}), queue(spec.QueuePolicy{MaxParallel: 1}),
		func(e *spec.EnvironmentSpec) {
			e.Owner = "ann"
			e.Variables = []spec.Variable{{Name: "TARGET", Value: "prod-1"}, {Name: "TOKEN", Value: "s3cr3t", Secret: true}}
			e.Job.Tasks[0].Env = map[string]string{"MODE": "prod"}
			e.PreGates = spec.GatePolicy{Gates: []spec.Gate{{Name: "health", Kind: spec.GateHTTP,
				HTTP: &spec.HTTPGate{URL: "https://status.example.com/ok", Headers: []spec.Header{{Name: "Accept", Value: "text/plain"}}}}}}
			e.PostGates = spec.GatePolicy{Gates: []spec.Gate{{Name: "bugs", Kind: spec.GateWorkItems,
				WorkItems: &spec.WorkItemGate{Types: []string{"Bug"}, MaxCount: 1}}}}
			e.Permissions = spec.EnvironmentPermissions{
				EditEnvironment: users("pe"), ManageDeployments: users("pe"), ManageApprovals: users("pe"),
			}
		})
	doc := snapshot("web", environment("dev", afterRelease), prod)
	doc.Readers = []string{"ops"}
	doc.Permissions = spec.DefinitionPermissions{
		EditDefinition: users("ed", "pe"), CreateReleases: users("ed"), ManageDeployments: users("ed"),
		ManageApprovals: users("ed"), OverrideArtifactChecks: users("mgr"), ManagePermissions: users("mgr"),
	}
	def, err := f.e.CreateDefinition(f.ctx, mgr, doc, "")
	if err != nil {
		t.Fatal(err)
	}
	return &envPermFixture{fixture: f, def: def.ID, ed: ed, pe: pe, mgr: mgr}
}

// current returns the definition's revision and a fresh copy of its
// document, secret values left out as clients send them (kept on save).
func (f *envPermFixture) current() (int, spec.DefinitionSnapshot) {
	f.t.Helper()
	d := f.c.ReleaseDefinition.GetX(f.ctx, f.def)
	rev, err := f.e.DefinitionRevisions(f.ctx, f.admin, f.def)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, r := range rev.AllX(f.ctx) {
		if r.Revision == d.Revision {
			doc := r.Snapshot
			for i := range doc.Environments {
				for j := range doc.Environments[i].Variables {
					if v := &doc.Environments[i].Variables[j]; v.Secret {
						v.Value = ""
					}
				}
			}
			return d.Revision, doc
		}
	}
	f.t.Fatalf("no revision %d", d.Revision)
	return 0, spec.DefinitionSnapshot{}
}

// refused saves change as who and expects FORBIDDEN mentioning mention,
// with nothing written.
func (f *envPermFixture) refused(what string, who delivery.Actor, change func(*spec.DefinitionSnapshot), mention string) {
	f.t.Helper()
	rev, doc := f.current()
	before := f.rowCounts()
	orig, _ := json.Marshal(doc)
	change(&doc)
	if b, _ := json.Marshal(doc); string(b) == string(orig) {
		f.t.Fatalf("%s: the change changes nothing", what)
	}
	_, err := f.e.UpdateDefinition(f.ctx, who, f.def, rev, doc, "")
	if delivery.CodeOf(err) != delivery.CodeForbidden || !strings.Contains(err.Error(), mention) {
		f.t.Errorf("%s by %s: %v; want FORBIDDEN mentioning %q", what, who.Username, err, mention)
	}
	if now := f.c.ReleaseDefinition.GetX(f.ctx, f.def).Revision; now != rev {
		f.t.Errorf("%s: revision went from %d to %d", what, rev, now)
	}
	f.wantUnchanged(before, what)
}

func prodOf(t *testing.T, doc *spec.DefinitionSnapshot) *spec.EnvironmentSpec {
	t.Helper()
	for i := range doc.Environments {
		if doc.Environments[i].Name == "prod" {
			return &doc.Environments[i]
		}
	}
	t.Fatal("no prod")
	return nil
}

// TestEnvironmentChangesNeedEditEnvironment walks every field of
// EnvironmentInput (spec.EnvironmentSpec, by reflection, so that a field
// added later is walked too) and changes it on prod as ed, who may edit the
// definition but not prod: each save is FORBIDDEN naming editEnvironment on
// prod, and nothing is written. pe, prod's editor, is not refused the same
// change (it may still be invalid), so the refusals are prod's list at work.
// Removing and renaming prod are refused too.
func TestEnvironmentChangesNeedEditEnvironment(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newEnvPermFixture(t, db)
		paths := leafPaths(reflect.TypeFor[spec.EnvironmentSpec](), "")
		for _, want := range []string{"name", "permissions.editEnvironment[].name", "job.tasks[].script",
			"job.tasks[].env", "preGates.gates[].http.url", "variables[].value", "queue.mode", "trigger.kind"} {
			if !strings.Contains(","+strings.Join(paths, ",")+",", ","+want+",") {
				t.Fatalf("the walk misses %s: %v", want, paths)
			}
		}
		const mention = "editEnvironment on environment prod"
		for _, path := range paths {
			change := func(doc *spec.DefinitionSnapshot) { mutateLeaf(t, reflect.ValueOf(prodOf(t, doc)), path) }
			f.refused("changing prod's "+path, f.ed, change, mention)
			if path == "name" {
				continue // a rename also needs editDefinition, which pe holds; see below
			}
			rev, doc := f.current()
			change(&doc)
			if _, err := f.e.UpdateDefinition(f.ctx, f.pe, f.def, rev, doc, ""); delivery.CodeOf(err) == delivery.CodeForbidden {
				t.Errorf("pe changing prod's %s: %v", path, err)
			}
		}
		f.refused("removing prod", f.ed, func(doc *spec.DefinitionSnapshot) {
			doc.Environments = doc.Environments[:1]
		}, mention)
		f.refused("renaming prod", f.ed, func(doc *spec.DefinitionSnapshot) {
			prodOf(t, doc).Name = "production"
		}, mention)
		f.refused("emptying prod's lists", f.ed, func(doc *spec.DefinitionSnapshot) {
			prodOf(t, doc).Permissions = spec.EnvironmentPermissions{}
		}, mention)
		// Deleting the definition removes prod too.
		before := f.rowCounts()
		rev0 := f.c.ReleaseDefinition.GetX(f.ctx, f.def).Revision
		err := f.e.DeleteDefinition(f.ctx, f.ed, f.def, rev0, "")
		if delivery.CodeOf(err) != delivery.CodeForbidden || !strings.Contains(err.Error(), mention) {
			t.Errorf("ed deletes the definition: %v", err)
		}
		f.wantUnchanged(before, "deleting the definition")
		// Adding an environment is definition-wide: pe, prod's editor who
		// holds editDefinition, may; its lists start empty and so inherit
		// the definition's.
		rev, doc := f.current()
		doc.Environments = append(doc.Environments, environment("qa", manualOnly))
		if _, err := f.e.UpdateDefinition(f.ctx, f.ed, f.def, rev, doc, ""); err != nil {
			t.Fatalf("ed adds qa: %v", err)
		}
		f.verifyChain()
	})
}

// TestDefinitionPermissionsNeedManagePermissions changes each of the
// definition's permission lists (by reflection over
// spec.DefinitionPermissions) and its readers as ed, who holds
// editDefinition but not managePermissions: granting itself, emptying a
// list (dropping the other editors) and the readers are FORBIDDEN with
// nothing written. mgr, listed in managePermissions, may; an ADMIN may with
// an audited override.
func TestDefinitionPermissionsNeedManagePermissions(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newEnvPermFixture(t, db)
		const mention = "managePermissions on definition web"
		pt := reflect.TypeFor[spec.DefinitionPermissions]()
		if pt.NumField() < 6 {
			t.Fatalf("DefinitionPermissions has %d lists", pt.NumField())
		}
		for i := range pt.NumField() {
			name := pt.Field(i).Name
			f.refused("granting ed "+name, f.ed, func(doc *spec.DefinitionSnapshot) {
				l := reflect.ValueOf(&doc.Permissions).Elem().Field(i)
				l.Set(reflect.ValueOf(users("ed", "pe", "mgr")))
			}, mention)
			f.refused("emptying "+name, f.ed, func(doc *spec.DefinitionSnapshot) {
				l := reflect.ValueOf(&doc.Permissions).Elem().Field(i)
				l.Set(reflect.Zero(l.Type()))
			}, mention)
		}
		f.refused("dropping the readers", f.ed, func(doc *spec.DefinitionSnapshot) { doc.Readers = nil }, mention)
		f.refused("ed changes the description and grants itself", f.ed, func(doc *spec.DefinitionSnapshot) {
			doc.Description = "mine"
			doc.Permissions.ManagePermissions = users("ed")
		}, mention)

		rev, doc := f.current()
		doc.Permissions.CreateReleases = users("ed", "pe")
		if _, err := f.e.UpdateDefinition(f.ctx, f.mgr, f.def, rev, doc, ""); err != nil {
			t.Fatalf("mgr changes createReleases: %v", err)
		}
		if n := f.audits("permission.override"); n != 0 {
			t.Fatalf("%d overrides", n)
		}
		rev, doc = f.current()
		doc.Permissions.CreateReleases = nil
		if _, err := f.e.UpdateDefinition(f.ctx, f.admin, f.def, rev, doc, ""); err != nil {
			t.Fatalf("admin changes createReleases: %v", err)
		}
		if n := f.audits("permission.override"); n != 1 {
			t.Fatalf("%d overrides after the admin's change, want 1", n)
		}
		f.verifyChain()
	})
}

// TestProdTakeoverInTwoSaves is issue 22's attack: an editor of the
// definition, not of prod, first rewrites prod's permission lists to name
// itself, then changes prod's script. Both saves are refused; prod's script
// and lists are what they were.
func TestProdTakeoverInTwoSaves(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newEnvPermFixture(t, db)
		const mention = "editEnvironment on environment prod"
		f.refused("ed names itself prod's editor", f.ed, func(doc *spec.DefinitionSnapshot) {
			p := prodOf(t, doc)
			p.Permissions = spec.EnvironmentPermissions{EditEnvironment: users("ed"), ManageDeployments: users("ed")}
		}, mention)
		f.refused("ed rewrites prod's script", f.ed, func(doc *spec.DefinitionSnapshot) {
			prodOf(t, doc).Job.Tasks[0].Script = "id"
		}, mention)
		_, doc := f.current()
		if p := prodOf(t, &doc); p.Job.Tasks[0].Script != "./deploy.sh" || principalNamesOf(p.Permissions.EditEnvironment) != "pe" {
			t.Fatalf("prod now: %+v", p)
		}
	})
}

func principalNamesOf(list []spec.Approver) string {
	names := make([]string, len(list))
	for i, a := range list {
		names[i] = a.Name
	}
	return strings.Join(names, ",")
}
