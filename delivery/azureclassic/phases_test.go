package azureclassic

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/ent/schema/spec"
)

// phasesOf imports one environment with the given deployPhases JSON and returns its phases.
func phasesOf(t *testing.T, m Mapping, deployPhases string) (Result, []spec.PhaseSpec) {
	t.Helper()
	r := importOne(t, m, envDoc(`{"name": "e", "rank": 2, "deployPhases": `+deployPhases+`}`))
	env := r.Definition.Environments[1]
	if len(env.Job.Tasks) > 0 || len(env.Job.Demands) > 0 {
		t.Errorf("job %+v next to phases", env.Job)
	}
	return r, env.Phases
}

const echoTask = `{"taskId": "d9bafed4-0b18-4f58-968d-86655b4d2ce9", "version": "2.*", "name": "Echo", "enabled": true, "inputs": {"script": "echo"}}`
const miTask = `{"taskId": "bcb64569-d51a-4af0-9c01-ea5d05b3b622", "version": "8.*", "name": "Wait", "enabled": true, "inputs": {"instructions": "ok?"}}`

func TestImportPhaseHealthOptions(t *testing.T) {
	m := Mapping{DeploymentGroups: []Queue{{Azure: 7, Name: "WEB-SERVERS"}}}
	for _, tc := range []struct {
		option, percent  string
		maxPar, failures string
		status           Status
		path             string
	}{
		{`"OneTargetAtATime"`, `0`, "1", "", Mapped, "deploymentHealthOption"},
		{`"oneTargetAtATime"`, `80`, "1", "", Mapped, "deploymentHealthOption"},
		{`"Custom"`, `50`, "50%", "50%", Approximated, "healthPercent"},
		{`"Custom"`, `"75"`, "25%", "25%", Approximated, "healthPercent"},
		{`"Custom"`, `0`, "100%", "100%", Approximated, "healthPercent"},
		{`"Custom"`, `100`, "1", "", Approximated, "healthPercent"},
		{`"Custom"`, `-5`, "1", "", Approximated, "healthPercent"},
		{`"Custom"`, `250`, "1", "", Approximated, "healthPercent"},
		{`"HalfAtOnce"`, `0`, "1", "", Approximated, "deploymentHealthOption"},
	} {
		t.Run(tc.option+tc.percent, func(t *testing.T) {
			r, phs := phasesOf(t, m, fmt.Sprintf(`[{"phaseType": 4, "name": "Web", "deploymentInput": {"queueId": 7, "tags": ["Web", " eu ", "web"],
				"deploymentHealthOption": %s, "healthPercent": %s}, "workflowTasks": [%s]}]`, tc.option, tc.percent, echoTask))
			if len(phs) != 1 {
				t.Fatalf("phases %v", phaseShape(phs))
			}
			ph := phs[0]
			if ph.Kind != spec.PhaseDeploymentGroup || ph.Name != "Web" || ph.DeploymentGroup != "web-servers" || !slices.Equal(ph.Tags, []string{"web", "eu"}) {
				t.Errorf("phase %+v", ph)
			}
			if ph.MaxParallel != tc.maxPar || ph.FailureThreshold != tc.failures {
				t.Errorf("maxParallel %q failureThreshold %q, want %q %q", ph.MaxParallel, ph.FailureThreshold, tc.maxPar, tc.failures)
			}
			finding := finding(t, r, "environments[1].deployPhases[0].deploymentInput."+tc.path)
			if finding.Status != tc.status {
				t.Errorf("finding %+v, want %s", finding, tc.status)
			}
			if r.Blocked() {
				t.Errorf("blocked: %s", dump(r.Findings))
			}
		})
	}
}

func TestImportPhaseGroupAndPoolMapping(t *testing.T) {
	doc := `[{"phaseType": "agentBasedDeployment", "name": "Build", "deploymentInput": {"queueId": 3}, "workflowTasks": [` + echoTask + `]},
		{"phaseType": "machineGroupBasedDeployment", "name": "Farm", "deploymentInput": {"queueId": 8}, "workflowTasks": [` + echoTask + `]}]`
	// Nothing mapped: the agent phase runs in the default pool; the group blocks.
	r, phs := phasesOf(t, Mapping{}, doc)
	if len(phs) != 2 || phs[0].Pool != "" || phs[1].DeploymentGroup != "" || !r.Blocked() {
		t.Errorf("phases %+v blocked %v", phs, r.Blocked())
	}
	wantFinding(t, r, "environments[1].deployPhases[0].deploymentInput.queueId", Approximated, "agent queue 3 is not in mapping.agentPools")
	wantFinding(t, r, "environments[1].deployPhases[1].deploymentInput.queueId", NeedsInput, "deployment group 8: map it")
	// Mapped to names Cairn does not have: NEEDS_INPUT for both.
	r, _ = phasesOf(t, Mapping{AgentPools: []Queue{{Azure: 3, Name: "gpu"}}, DeploymentGroups: []Queue{{Azure: 8, Name: "farm"}}}, doc)
	wantFinding(t, r, "environments[1].deployPhases[0].deploymentInput.queueId", NeedsInput, `pool "gpu"`)
	wantFinding(t, r, "environments[1].deployPhases[1].deploymentInput.queueId", NeedsInput, `"farm" (from mapping.deploymentGroups), which Cairn does not have`)
	// Mapped to the default pool and a known group.
	r, phs = phasesOf(t, Mapping{AgentPools: []Queue{{Azure: 3, Name: "Default"}}, DeploymentGroups: []Queue{{Azure: 8, Name: "web-servers"}}}, doc)
	if phs[0].Pool != "" || phs[1].DeploymentGroup != "web-servers" || phs[1].MaxParallel != "1" || r.Blocked() {
		t.Errorf("phases %+v; findings\n%s", phs, dump(r.Findings))
	}
}

func TestImportPhaseConditionsAndSettings(t *testing.T) {
	r, phs := phasesOf(t, Mapping{}, `[
		{"phaseType": 1, "name": "A", "deploymentInput": {"condition": "succeeded()", "timeoutInMinutes": 15, "skipArtifactsDownload": "true", "demands": ["node", "bad demand!"]}, "workflowTasks": [`+echoTask+`]},
		{"phaseType": 1, "name": "B", "deploymentInput": {"condition": " Always( ) "}, "workflowTasks": [`+echoTask+`]},
		{"phaseType": 1, "name": "C", "deploymentInput": {"condition": "failed()"}, "workflowTasks": [`+echoTask+`]},
		{"phaseType": 1, "name": "D", "deploymentInput": {"condition": "succeededOrFailed()"}, "workflowTasks": [`+echoTask+`]},
		{"phaseType": 1, "name": "E", "deploymentInput": {"condition": "and(succeeded(), eq(variables['x'], 'y'))"}, "workflowTasks": [`+echoTask+`]},
		{"phaseType": 2, "name": "F", "deploymentInput": {"condition": "always()"}, "workflowTasks": [`+miTask+`]}]`)
	want := []string{"AGENT A: Echo", "AGENT B: Echo", "AGENT C: Echo", "AGENT D: Echo", "AGENT E: Echo", "SERVER F: Wait"}
	if got := phaseShape(phs); !slices.Equal(got, want) {
		t.Fatalf("phases %q, want %q", got, want)
	}
	conds := []string{"", spec.PhaseRunAlways, spec.PhaseRunFailed, spec.PhaseRunAlways, "", spec.PhaseRunAlways}
	for i, c := range conds {
		if phs[i].Condition != c {
			t.Errorf("phase %d condition %q, want %q", i, phs[i].Condition, c)
		}
	}
	if a := phs[0]; a.TimeoutMinutes != 15 || !a.SkipArtifactDownload || !slices.Equal(a.Demands, []string{"node"}) {
		t.Errorf("phase A %+v", a)
	}
	if b := phs[1]; b.TimeoutMinutes != 0 || b.SkipArtifactDownload || len(b.Demands) > 0 {
		t.Errorf("phase B takes nothing of A: %+v", b)
	}
	wantFinding(t, r, "environments[1].deployPhases[0].deploymentInput.demands[1]", Dropped, "not a Cairn demand")
	wantFinding(t, r, "environments[1].deployPhases[1].deploymentInput.condition", Approximated, "not after a cancel")
	wantFinding(t, r, "environments[1].deployPhases[2].deploymentInput.condition", Mapped, "FAILED")
	wantFinding(t, r, "environments[1].deployPhases[4].deploymentInput.condition", Approximated, "when every phase before it succeeded")
	wantFinding(t, r, "environments[1].deployPhases[5].deploymentInput.condition", Approximated, "ALWAYS")
}

func TestImportServerPhasesAndInterventions(t *testing.T) {
	rest := `{"taskId": "9c3e8943-130d-4c78-ac63-8af81df62dfb", "version": "1.*", "name": "Call", "enabled": true, "inputs": {"method": "POST"}}`
	r, phs := phasesOf(t, Mapping{}, `[
		{"phaseType": "runOnServer", "name": "Only REST", "workflowTasks": [`+rest+`]},
		{"phaseType": "runOnServer", "name": "", "deploymentInput": {"timeoutInMinutes": 60}, "workflowTasks": [`+rest+`, `+miTask+`]},
		{"phaseType": "agentBasedDeployment", "name": "Mixed", "deploymentInput": {"demands": ["node"]}, "workflowTasks": [`+echoTask+`, `+miTask+`, `+echoTask+`]}]`)
	want := []string{"SERVER Agentless job: Wait", "AGENT Mixed: Echo", "SERVER Wait: Wait", "AGENT Mixed: Echo"}
	if got := phaseShape(phs); !slices.Equal(got, want) {
		t.Fatalf("phases %q, want %q", got, want)
	}
	if phs[0].TimeoutMinutes != 60 || !slices.Equal(phs[3].Demands, []string{"node"}) || len(phs[2].Demands) > 0 {
		t.Errorf("phases %+v", phs)
	}
	wantFinding(t, r, "environments[1].deployPhases[0]", Dropped, "has no manual intervention")
	wantFinding(t, r, "environments[1].deployPhases[0].workflowTasks[0]", Dropped, "manual interventions only")
	wantFinding(t, r, "environments[1].deployPhases[2]", Approximated, "split around them (3 phases)")
}

func TestImportPhasesHostile(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes
	r, phs := phasesOf(t, Mapping{DeploymentGroups: []Queue{{Azure: 1, Name: "web-servers"}}}, `[
		{"phaseType": 1, "name": "`+long+`", "deploymentInput": {"timeoutInMinutes": 99999999, "queueId": "12"}, "workflowTasks": []},
		{"phaseType": 4, "name": "a\u0000b\nc", "deploymentInput": {"queueId": 1, "tags": ["", "has space", "ok,no", "fine"], "deploymentHealthOption": 17}, "workflowTasks": []},
		{"phaseType": 2, "workflowTasks": []},
		{"phaseType": 99, "workflowTasks": [{}]}]`)
	if len(phs) != 2 {
		t.Fatalf("phases %q", phaseShape(phs))
	}
	if a := phs[0]; len(a.Name) > maxPhaseName || !strings.HasPrefix(a.Name, "éé") || a.TimeoutMinutes != maxPhaseTimeout {
		t.Errorf("agent phase name %d bytes, timeout %d", len(a.Name), a.TimeoutMinutes)
	}
	if g := phs[1]; g.Name != "a b c" || !slices.Equal(g.Tags, []string{"fine"}) || g.MaxParallel != "1" {
		t.Errorf("group phase %+v", g)
	}
	wantFinding(t, r, "environments[1].deployPhases[0].name", Approximated, "keeps the first 200")
	wantFinding(t, r, "environments[1].deployPhases[0].deploymentInput.timeoutInMinutes", Approximated, "30 days")
	for i := 0; i < 3; i++ {
		wantFinding(t, r, fmt.Sprintf("environments[1].deployPhases[1].deploymentInput.tags[%d]", i), Dropped, "not a Cairn tag")
	}
	wantFinding(t, r, "environments[1].deployPhases[1].deploymentInput.deploymentHealthOption", Approximated, `unknown deployment health option "17"`)
	wantFinding(t, r, "environments[1].deployPhases[3]", Dropped, "unknown phase type")
	// No phases at all: one agent phase that downloads the artifacts.
	r, phs = phasesOf(t, Mapping{}, `[]`)
	if len(phs) != 1 || phs[0].Kind != spec.PhaseAgent || len(phs[0].Tasks) != 0 {
		t.Errorf("phases of an environment without any %+v", phs)
	}
	wantFinding(t, r, "environments[1].deployPhases", Mapped, "one agent phase")
}
