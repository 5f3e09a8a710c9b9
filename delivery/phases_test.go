package delivery_test

import (
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// phaseDef is a definition whose one environment has the phases.
func phaseDef(name string, phases ...spec.PhaseSpec) spec.DefinitionSnapshot {
	return spec.DefinitionSnapshot{Name: name, ReleaseNameFormat: "Release-$(rev:r)",
		Environments: []spec.EnvironmentSpec{{Name: "prod", Trigger: spec.Trigger{Kind: spec.TriggerManual}, Phases: phases}}}
}

func dgPhase(mod func(*spec.PhaseSpec)) spec.PhaseSpec {
	p := spec.PhaseSpec{Kind: spec.PhaseDeploymentGroup, DeploymentGroup: "farm", Tasks: []spec.Task{{Name: "x", Script: "true"}}}
	if mod != nil {
		mod(&p)
	}
	return p
}

func TestPhaseInputHostile(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	f := newFixture(t, db)
	if _, err := f.e.SaveDeploymentGroup(f.ctx, f.admin, "farm", "", nil); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("t", 65)
	cases := []struct {
		name  string
		phase spec.PhaseSpec
		path  string
	}{
		{"maxParallel over 100%", dgPhase(func(p *spec.PhaseSpec) { p.MaxParallel = "150%" }), "environments[0].phases[0].maxParallel"},
		{"negative maxParallel", dgPhase(func(p *spec.PhaseSpec) { p.MaxParallel = "-1" }), "environments[0].phases[0].maxParallel"},
		{"zero maxParallel", dgPhase(func(p *spec.PhaseSpec) { p.MaxParallel = "0" }), "environments[0].phases[0].maxParallel"},
		{"word maxParallel", dgPhase(func(p *spec.PhaseSpec) { p.MaxParallel = "all" }), "environments[0].phases[0].maxParallel"},
		{"bad threshold", dgPhase(func(p *spec.PhaseSpec) { p.FailureThreshold = "1e9%" }), "environments[0].phases[0].failureThreshold"},
		{"unknown group", dgPhase(func(p *spec.PhaseSpec) { p.DeploymentGroup = "nope" }), "environments[0].phases[0].deploymentGroup"},
		{"no group", dgPhase(func(p *spec.PhaseSpec) { p.DeploymentGroup = "" }), "environments[0].phases[0].deploymentGroup"},
		{"tag too long", dgPhase(func(p *spec.PhaseSpec) { p.Tags = []string{"web", long} }), "environments[0].phases[0].tags"},
		{"tag with comma", dgPhase(func(p *spec.PhaseSpec) { p.Tags = []string{"web,eu"} }), "environments[0].phases[0].tags"},
		{"offline policy", dgPhase(func(p *spec.PhaseSpec) { p.OfflineTargets = "MAYBE" }), "environments[0].phases[0].offlineTargets"},
		{"pool on a group phase", dgPhase(func(p *spec.PhaseSpec) { p.Pool = "x" }), "environments[0].phases[0].pool"},
		{"unknown kind", spec.PhaseSpec{Kind: "LAMBDA"}, "environments[0].phases[0].kind"},
		{"no kind", spec.PhaseSpec{Tasks: []spec.Task{{Name: "x", Script: "true"}}}, "environments[0].phases[0].kind"},
		{"bad condition", spec.PhaseSpec{Kind: spec.PhaseAgent, Condition: "sometimes()"}, "environments[0].phases[0].condition"},
		{"negative timeout", spec.PhaseSpec{Kind: spec.PhaseAgent, TimeoutMinutes: -5}, "environments[0].phases[0].timeoutMinutes"},
		{"unknown pool", spec.PhaseSpec{Kind: spec.PhaseAgent, Pool: "nowhere"}, "environments[0].phases[0].pool"},
		{"script in a server phase", spec.PhaseSpec{Kind: spec.PhaseServer, Tasks: []spec.Task{{Name: "x", Script: "true"}}}, "environments[0].phases[0].tasks[0].kind"},
		{"intervention in an agent phase", spec.PhaseSpec{Kind: spec.PhaseAgent, Tasks: []spec.Task{{Name: "mi", Kind: spec.TaskManualIntervention}}}, "environments[0].phases[0].tasks[0].kind"},
		{"bad demand", spec.PhaseSpec{Kind: spec.PhaseAgent, Demands: []string{"a b c"}}, "environments[0].phases[0].demands[0]"},
		{"control characters in a name", spec.PhaseSpec{Kind: spec.PhaseAgent, Name: "a\x00b"}, "environments[0].phases[0].name"},
	}
	for i, c := range cases {
		_, err := f.e.CreateDefinition(f.ctx, f.admin, phaseDef("bad"+strings.Repeat("x", i), c.phase), "")
		if delivery.CodeOf(err) != delivery.CodeInvalidInput || !strings.Contains(err.Error(), c.path) {
			t.Errorf("%s: %v, want INVALID_INPUT naming %s", c.name, err, c.path)
		}
	}
	// Job and phases together.
	doc := phaseDef("both", spec.PhaseSpec{Kind: spec.PhaseAgent})
	doc.Environments[0].Job.Tasks = []spec.Task{{Name: "x", Script: "true"}}
	if _, err := f.e.CreateDefinition(f.ctx, f.admin, doc, ""); delivery.CodeOf(err) != delivery.CodeInvalidInput || !strings.Contains(err.Error(), "environments[0].job") {
		t.Errorf("job and phases: %v", err)
	}
	if n, err := f.c.ReleaseDefinition.Query().Count(f.ctx); err != nil || n != 0 {
		t.Fatalf("%d definitions written by refused input (%v)", n, err)
	}
	// Registration and tags.
	if _, err := f.e.SetTargetTags(f.ctx, f.admin, 1, []string{strings.Repeat("x", 100)}); delivery.CodeOf(err) != delivery.CodeInvalidInput {
		t.Errorf("long tag: %v", err)
	}
	if _, _, err := f.e.CreateTargetRegistration(f.ctx, f.admin, "nope", 1, 0); delivery.CodeOf(err) != delivery.CodeInvalidInput {
		t.Errorf("registration for an unknown group: %v", err)
	}
	if _, err := f.e.SaveAgentPool(f.ctx, f.admin, "", "", nil); delivery.CodeOf(err) != delivery.CodeInvalidInput {
		t.Errorf("empty pool name: %v", err)
	}
	if _, err := f.e.SaveAgentPool(f.ctx, f.admin, "p", "", []spec.Approver{{Kind: spec.ApproverUser, Name: "ghost"}}); delivery.CodeOf(err) != delivery.CodeInvalidInput {
		t.Errorf("pool for a missing user: %v", err)
	}
}

func TestPoolAndGroupUsePermission(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ed := f.user("ed", "EDITOR")
		ops := f.user("olga", "EDITOR")
		if _, err := f.e.SaveAgentPool(f.ctx, f.admin, "prod-pool", "", []spec.Approver{{Kind: spec.ApproverUser, Name: "olga"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.SaveDeploymentGroup(f.ctx, f.admin, "farm", "", []spec.Approver{{Kind: spec.ApproverUser, Name: "olga"}}); err != nil {
			t.Fatal(err)
		}
		agentPhase := spec.PhaseSpec{Kind: spec.PhaseAgent, Pool: "prod-pool", Tasks: []spec.Task{{Name: "x", Script: "true"}}}
		// Not listed: FORBIDDEN, nothing written.
		if _, err := f.e.CreateDefinition(f.ctx, ed, phaseDef("a", agentPhase), ""); delivery.CodeOf(err) != delivery.CodeForbidden {
			t.Fatalf("ed naming prod-pool: %v", err)
		}
		if _, err := f.e.CreateDefinition(f.ctx, ed, phaseDef("b", dgPhase(nil)), ""); delivery.CodeOf(err) != delivery.CodeForbidden {
			t.Fatalf("ed naming farm: %v", err)
		}
		// Listed: allowed, no override.
		def, err := f.e.CreateDefinition(f.ctx, ops, phaseDef("c", agentPhase, dgPhase(nil)), "")
		if err != nil {
			t.Fatal(err)
		}
		if n := f.audits("permission.override"); n != 0 {
			t.Fatalf("%d overrides", n)
		}
		// An ADMIN not listed goes through, audited once per resource.
		if _, err := f.e.CreateDefinition(f.ctx, f.admin, phaseDef("d", agentPhase, dgPhase(nil)), ""); err != nil {
			t.Fatal(err)
		}
		if n := f.audits("permission.override"); n != 2 {
			t.Fatalf("%d overrides after the ADMIN's definition, want 2", n)
		}
		// An edit that keeps the pool it already names is not judged again.
		doc := phaseDef("c", agentPhase, dgPhase(nil))
		doc.Description = "changed by ed"
		if _, err := f.e.UpdateDefinition(f.ctx, ed, def.ID, 1, doc, ""); err != nil {
			t.Fatalf("ed's unrelated edit: %v", err)
		}
		f.verifyChain()
	})
}

func TestJobReadsAsPhases(t *testing.T) {
	env := spec.EnvironmentSpec{Job: spec.JobSpec{Demands: []string{"docker"}, TimeoutMinutes: 7, Tasks: []spec.Task{
		{Name: "a", Script: "true"}, {Name: "mi", Kind: spec.TaskManualIntervention}, {Name: "b", Script: "true"}}}}
	ps := env.DeployPhases()
	if len(ps) != 3 || ps[0].Kind != spec.PhaseAgent || ps[1].Kind != spec.PhaseServer || ps[2].Kind != spec.PhaseAgent ||
		ps[0].TimeoutMinutes != 7 || ps[2].Demands[0] != "docker" || ps[1].Tasks[0].Name != "mi" {
		t.Fatalf("phases %+v", ps)
	}
	for _, c := range []struct {
		s       string
		n       int
		up      bool
		want    int
		wantErr bool
	}{{"1", 4, true, 1, false}, {"50%", 4, true, 2, false}, {"50%", 3, true, 2, false}, {"25%", 3, false, 0, false},
		{"150%", 4, true, 0, true}, {"-1", 4, true, 0, true}, {"", 4, true, 0, false}} {
		_, _, err := delivery.ParseShare(c.s)
		if (err != nil) != c.wantErr && c.s != "" {
			t.Errorf("ParseShare(%q): %v", c.s, err)
		}
		if !c.wantErr && c.s != "" {
			if got := delivery.ShareOf(c.s, c.n, c.up, -1); got != c.want {
				t.Errorf("shareOf(%q, %d) = %d, want %d", c.s, c.n, got, c.want)
			}
		}
	}
}

func TestPhaseSecureFilesNeedUse(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	f := newFixture(t, db)
	ed := f.user("ed", "EDITOR")
	f.user("olga", "EDITOR")
	if _, err := f.e.UploadSecureFile(f.ctx, f.admin, delivery.SecureFileInput{Name: "key.pem",
		Permissions: spec.LibraryPermissions{Use: []spec.Approver{{Kind: spec.ApproverUser, Name: "olga"}}}}, strings.NewReader("secret")); err != nil {
		t.Fatal(err)
	}
	ph := spec.PhaseSpec{Kind: spec.PhaseAgent, SecureFiles: []string{"key.pem"}, Tasks: []spec.Task{{Name: "x", Script: "true"}}}
	if _, err := f.e.CreateDefinition(f.ctx, ed, phaseDef("a", ph), ""); delivery.CodeOf(err) != delivery.CodeForbidden {
		t.Fatalf("ed naming key.pem in a phase: %v", err)
	}
	ph.SecureFiles = []string{"nope.pem"}
	if _, err := f.e.CreateDefinition(f.ctx, ed, phaseDef("b", ph), ""); delivery.CodeOf(err) != delivery.CodeInvalidInput ||
		!strings.Contains(err.Error(), "environments[0].phases[0].secureFiles[0]") {
		t.Fatalf("unknown file in a phase: %v", err)
	}
}

func TestTemplateUsedByPhases(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	f := newFixture(t, db)
	ph := spec.PhaseSpec{Kind: spec.PhaseAgent, Tasks: []spec.Task{{Name: "copy", Uses: "CopyFiles@2",
		Inputs: map[string]string{"SourceFolder": "a", "Contents": "**", "TargetFolder": "b"}}}}
	if _, err := f.e.CreateDefinition(f.ctx, f.admin, phaseDef("uses", ph), ""); err != nil {
		t.Fatal(err)
	}
	used, err := f.e.TaskTemplateUsers(f.ctx, "CopyFiles", 2)
	if err != nil || len(used) != 1 || used[0] != "definition uses" {
		t.Fatalf("used by %v, %v", used, err)
	}
}
