package delivery_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// refusedNames are names that start a process differently or are Cairn's
// own, in the spellings a user might try (case, "." for "_").
var refusedNames = []string{"BASH_ENV", "bash.env", "ENV", "Path", "LD_PRELOAD", "ld_library_path", "DYLD_INSERT_LIBRARIES",
	"IFS", "PS4", "SHELLOPTS", "bashopts", "BASH_FUNC_ls", "RELEASE_RELEASENAME", "Release.EnvironmentName",
	"agent.jobid", "SYSTEM_ARTIFACTSDIRECTORY"}

// TestRefusedVariableNamesOnSave: a refused name is INVALID_INPUT naming it
// as a definition variable, an environment variable and a task env entry,
// on create and on update, and nothing is stored.
func TestRefusedVariableNamesOnSave(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		f.connection()
		ed := f.user("ed", "EDITOR")
		base := snapshot("web", environment("dev", manualOnly))
		def, err := f.e.CreateDefinition(f.ctx, ed, base, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range refusedNames {
			sources := map[string]func(*spec.DefinitionSnapshot){
				"definition variable": func(d *spec.DefinitionSnapshot) { d.Variables = []spec.Variable{{Name: name, Value: "x"}} },
				"environment variable": func(d *spec.DefinitionSnapshot) {
					d.Environments[0].Variables = []spec.Variable{{Name: name, Value: "x"}}
				},
			}
			if !strings.Contains(name, ".") {
				sources["task env"] = func(d *spec.DefinitionSnapshot) { d.Environments[0].Job.Tasks[0].Env = map[string]string{name: "x"} }
			}
			for src, set := range sources {
				before := f.rowCounts()
				doc := snapshot("web2", environment("dev", manualOnly))
				set(&doc)
				_, err := f.e.CreateDefinition(f.ctx, ed, doc, "")
				if delivery.CodeOf(err) != delivery.CodeInvalidInput || !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
					t.Errorf("creating with %s %s: %v; want INVALID_INPUT naming it", src, name, err)
				}
				doc = snapshot("web", environment("dev", manualOnly))
				set(&doc)
				_, err = f.e.UpdateDefinition(f.ctx, ed, def.ID, 1, doc, "")
				if delivery.CodeOf(err) != delivery.CodeInvalidInput || !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
					t.Errorf("updating with %s %s: %v; want INVALID_INPUT naming it", src, name, err)
				}
				f.wantUnchanged(before, src+" "+name)
			}
		}
		// Names that merely look alike are fine.
		doc := snapshot("web", environment("dev", manualOnly))
		doc.Variables = []spec.Variable{{Name: "MY_PATH", Value: "x"}, {Name: "environment", Value: "x"}, {Name: "RELEASED", Value: "x"}}
		if _, err := f.e.UpdateDefinition(f.ctx, ed, def.ID, 1, doc, ""); err != nil {
			t.Fatal(err)
		}
	})
}

// TestReleaseTimeOverridesDeclared is issue 22's second attack: someone who
// may only create releases overrides BASH_ENV (or PATH, or any undeclared
// variable). An override must name a variable declared settable at release
// time in every place that declares it; anything else is INVALID_INPUT
// naming it, with no release written. An override of a secret stays secret.
func TestReleaseTimeOverridesDeclared(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		f.connection()
		owner := f.user("owner", "EDITOR")
		rm := f.user("rm", "EDITOR")
		doc := snapshot("web", environment("dev", manualOnly), environment("prod", manualOnly, func(e *spec.EnvironmentSpec) {
			e.Variables = []spec.Variable{{Name: "region", Value: "eu", SettableAtReleaseTime: true}, {Name: "mixed", Value: "prod"}}
		}))
		doc.Variables = []spec.Variable{
			{Name: "level", Value: "info", SettableAtReleaseTime: true},
			{Name: "token", Value: "s3cr3t", Secret: true, SettableAtReleaseTime: true},
			{Name: "apiUrl", Value: "https://api.example.com"},
			{Name: "mixed", Value: "all", SettableAtReleaseTime: true},
		}
		doc.Permissions = spec.DefinitionPermissions{EditDefinition: users("owner"), CreateReleases: users("rm")}
		def, err := f.e.CreateDefinition(f.ctx, owner, doc, "")
		if err != nil {
			t.Fatal(err)
		}
		create := func(vs ...spec.Variable) error {
			_, err := f.e.CreateRelease(f.ctx, rm, delivery.CreateReleaseInput{DefinitionID: def.ID,
				Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: "1"}}, VariableOverrides: vs})
			return err
		}
		for _, tc := range []struct {
			name, mention string
		}{
			{"BASH_ENV", "changes how a task's process starts"},
			{"Path", "PATH"},
			{"ld.preload", "LD_PRELOAD"},
			{"release.releasename", "Cairn's own"},
			{"undeclared", `variable "undeclared" is not declared`},
			{"apiUrl", `"apiUrl" is not settable at release time (declared in the definition)`},
			{"MIXED", "declared in the definition, environment prod"},
		} {
			before := f.rowCounts()
			err := create(spec.Variable{Name: "level", Value: "debug"}, spec.Variable{Name: tc.name, Value: "$(id)"})
			if delivery.CodeOf(err) != delivery.CodeInvalidInput || !strings.Contains(err.Error(), "variableOverrides[1].name") ||
				!strings.Contains(err.Error(), tc.mention) {
				t.Errorf("override %s: %v; want INVALID_INPUT on variableOverrides[1].name mentioning %q", tc.name, err, tc.mention)
			}
			f.wantUnchanged(before, "override "+tc.name)
		}
		if err := create(spec.Variable{Name: "LEVEL", Value: "debug"}, spec.Variable{Name: "region", Value: "us"},
			spec.Variable{Name: "token", Value: "other"}); err != nil {
			t.Fatalf("declared overrides: %v", err)
		}
		rel := f.c.Release.Query().OnlyX(f.ctx)
		if o := rel.VariableOverrides; len(o) != 3 || !o[2].Secret || o[2].Value == "other" {
			t.Fatalf("overrides stored: %+v", o)
		}
	})
}

// TestStoredRefusedNames: a definition or release stored before the refused
// names existed behaves predictably: no new release of such a definition, no
// deployment of such a release (by hand: INVALID_INPUT; automatic: its job
// cannot be prepared), each naming the variable.
func TestStoredRefusedNames(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		// f.definition stores without validation, as an old server did.
		old := snapshot("legacy", environment("dev", manualOnly))
		old.Variables = []spec.Variable{{Name: "Path", Value: "/tmp/evil"}}
		legacy := f.definition(old)
		before := f.rowCounts()
		_, err := f.e.CreateRelease(f.ctx, f.admin, delivery.CreateReleaseInput{DefinitionID: legacy,
			Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: "1"}}})
		if delivery.CodeOf(err) != delivery.CodeInvalidInput || !strings.Contains(err.Error(), "variables[Path]") {
			t.Fatalf("release of a legacy definition: %v", err)
		}
		f.wantUnchanged(before, "release of a legacy definition")

		clean := f.definition(snapshot("clean", environment("dev", afterRelease), environment("prod", manualOnly)))
		rel := f.release(f.admin, clean, "1")
		snap := rel.Snapshot
		snap.Environments[0].Job.Tasks[0].Env = map[string]string{"BASH_ENV": "/tmp/x"}
		snap.Environments[1].Job.Tasks[0].Env = map[string]string{"LD_PRELOAD": "/tmp/x.so"}
		raw, _ := json.Marshal(snap)
		q := "UPDATE releases SET snapshot = ? WHERE id = ?"
		if db.URL != "" {
			q = "UPDATE releases SET snapshot = $1 WHERE id = $2"
		}
		if _, err := db.SQL.ExecContext(f.ctx, q, string(raw), rel.ID); err != nil {
			t.Fatal(err)
		}
		before = f.rowCounts()
		_, err = f.e.DeployEnvironment(f.ctx, f.admin, delivery.DeployInput{ReleaseID: rel.ID, Environment: "prod"})
		if delivery.CodeOf(err) != delivery.CodeInvalidInput || !strings.Contains(err.Error(), "environments[prod].job.tasks[0].env[LD_PRELOAD]") {
			t.Fatalf("deploying a legacy release: %v", err)
		}
		f.wantUnchanged(before, "deploying a legacy release")
		job := f.job(f.deployment(rel.ID, "dev").ID)
		_, err = f.e.BuildAssignment(f.ctx, job.ID)
		if delivery.CodeOf(err) != delivery.CodeInvalidInput || !strings.Contains(err.Error(), "env[BASH_ENV]") {
			t.Fatalf("preparing the automatic deployment of a legacy release: %v", err)
		}
		// Overrides stored before they were checked, likewise.
		rel2 := f.release(f.admin, clean, "2")
		f.c.Release.UpdateOne(rel2).SetVariableOverrides([]spec.Variable{{Name: "bash_env", Value: "/tmp/x"}}).ExecX(f.ctx)
		_, err = f.e.DeployEnvironment(f.ctx, f.admin, delivery.DeployInput{ReleaseID: rel2.ID, Environment: "prod"})
		if delivery.CodeOf(err) != delivery.CodeInvalidInput || !strings.Contains(err.Error(), "variableOverrides[bash_env]") {
			t.Fatalf("deploying a release with a legacy override: %v", err)
		}
	})
}
