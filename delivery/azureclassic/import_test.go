package azureclassic

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/internal/tasklib"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testCatalog() Catalog {
	return Catalog{
		Templates:        tasklib.Builtins(),
		VariableGroups:   []string{"shared-config", "qa-settings"},
		SecureFiles:      []string{"shop-cert.pfx"},
		Users:            []string{"ana@example.org", "admin"},
		Groups:           []string{"Release Managers"},
		Connections:      map[string]string{"tfs": "AZURE_DEVOPS", "jenkins": "JENKINS"},
		Pools:            []string{"default", "Linux"},
		DeploymentGroups: []string{"web-servers"},
	}
}

func testMapping() Mapping {
	return Mapping{
		Identities: []Identity{{Azure: "bo@example.org", Kind: spec.ApproverUser, Name: "admin"}},
		ServiceConnections: []ServiceConnection{
			{Azure: "*", Connection: "tfs"},
			{Azure: "Contoso Jenkins", Connection: "jenkins"},
			{Azure: "c0ffee00-1111-4222-8333-444444444444", URL: "https://status.example.org"},
		},
		VariableGroups:   []VariableGroup{{Azure: 12, Name: "qa-settings"}},
		SecretValues:     []SecretValue{{Variable: "DbPassword", Value: "s3cret"}},
		WorkItemQueries:  []WorkItemQuery{{QueryID: "8a4e7c3d-aaaa-4bbb-8ccc-123456789abc", Types: []string{"Bug"}, States: []string{"Active"}}},
		AgentPools:       []Queue{{Azure: 9, Name: "linux"}},
		DeploymentGroups: []Queue{{Azure: 240, Name: "web-servers"}},
	}
}

// finding returns the finding at path (the last one there), failing the test when none.
func finding(t *testing.T, r Result, path string) Finding {
	t.Helper()
	var out *Finding
	for i := range r.Findings {
		if r.Findings[i].Path == path {
			out = &r.Findings[i]
		}
	}
	if out == nil {
		t.Fatalf("no finding at %s; findings:\n%s", path, dump(r.Findings))
	}
	return *out
}

func wantFinding(t *testing.T, r Result, path string, status Status, contains string) {
	t.Helper()
	for _, f := range r.Findings {
		if f.Path == path && f.Status == status && strings.Contains(f.Message, contains) {
			return
		}
	}
	t.Errorf("no %s finding at %s containing %q; findings:\n%s", status, path, contains, dump(r.Findings))
}

func dump(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.Path + " " + string(f.Status) + " " + f.Message + "\n")
	}
	return b.String()
}

func importOne(t *testing.T, m Mapping, docs ...[]byte) Result {
	t.Helper()
	rs, err := Import(docs, m, testCatalog())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("%d results, want 1", len(rs))
	}
	return rs[0]
}

func taskNamed(t *testing.T, ph spec.PhaseSpec, name string) spec.Task {
	t.Helper()
	for _, task := range ph.Tasks {
		if task.Name == name {
			return task
		}
	}
	t.Fatalf("no task %q in %+v", name, ph.Tasks)
	return spec.Task{}
}

// phaseShape is a phase's kind, name and task names, for comparing phase lists.
func phaseShape(phs []spec.PhaseSpec) []string {
	var out []string
	for _, ph := range phs {
		s := string(ph.Kind) + " " + ph.Name + ":"
		for _, task := range ph.Tasks {
			s += " " + task.Name
		}
		out = append(out, s)
	}
	return out
}

func TestImportDefinitionLevel(t *testing.T) {
	r := importOne(t, testMapping(), readTestdata(t, "definition-7.1.json"), readTestdata(t, "taskgroup.json"), readTestdata(t, "variablegroup.json"))
	d := r.Definition
	if r.Source.ID != 42 || r.Source.Revision != 7 || !strings.HasSuffix(r.Source.URL, "/_apis/Release/definitions/42") || r.Source.Document != 0 {
		t.Errorf("source %+v", r.Source)
	}
	if d.Name != "Shop" || d.Description != "Web shop, from build to production" || d.ReleaseNameFormat != "Shop-$(rev:r)" {
		t.Errorf("name, description, format: %q %q %q", d.Name, d.Description, d.ReleaseNameFormat)
	}
	wantVars := []spec.Variable{
		{Name: "ApiUrl", Value: "https://api.example.org"},
		{Name: "DbPassword", Value: "s3cret", Secret: true},
		{Name: "DeployUser", Value: "deploy", SettableAtReleaseTime: true},
	}
	if !slices.Equal(d.Variables, wantVars) {
		t.Errorf("variables %+v, want %+v", d.Variables, wantVars)
	}
	wantFinding(t, r, "variables.DbPassword", Mapped, "value given in the mapping")
	wantFinding(t, r, "variables.DeployUser.allowOverride", Mapped, "settable at release time")
	if !slices.Equal(d.VariableGroups, []string{"shared-config"}) {
		t.Errorf("variable groups %v (from the export of group 11)", d.VariableGroups)
	}
	wantFinding(t, r, "variableGroups[0]", Mapped, `library group "shared-config"`)
	wantFinding(t, r, "path", Dropped, "folders")
	wantFinding(t, r, "tags", Dropped, "")

	// Artifacts: Build and Jenkins mapped, Git reported.
	if len(d.ArtifactSources) != 2 {
		t.Fatalf("artifact sources %+v", d.ArtifactSources)
	}
	build, jenkins := d.ArtifactSources[0], d.ArtifactSources[1]
	want := spec.ArtifactSourceSpec{Alias: "_Shop-CI", Type: "TEAMBUILD", Connection: "tfs", Job: "17", Project: "Shop", Primary: true,
		ContinuousDeployment: true, BranchFilters: []string{"main", "release/*"}}
	if build.Alias != want.Alias || build.Type != want.Type || build.Connection != want.Connection || build.Job != want.Job ||
		build.Project != want.Project || !build.Primary || !build.ContinuousDeployment || !slices.Equal(build.BranchFilters, want.BranchFilters) {
		t.Errorf("build source %+v, want %+v", build, want)
	}
	if jenkins.Alias != "shop_tests" || jenkins.Type != "JENKINS" || jenkins.Connection != "jenkins" || jenkins.Job != "shop/tests" || jenkins.ContinuousDeployment {
		t.Errorf("jenkins source %+v", jenkins)
	}
	wantFinding(t, r, "artifacts[1].alias", Approximated, `"shop tests" → "shop_tests"`)
	wantFinding(t, r, "artifacts[2]", Dropped, "Git artifact")
	wantFinding(t, r, "triggers[0]", Mapped, "main, release/*")
	wantFinding(t, r, "triggers[2]", Dropped, "pullRequest")

	// Schedule: Monday to Friday (31) at 3:30 in W. Europe.
	if len(d.Schedules) != 1 || d.Schedules[0] != (spec.Schedule{Cron: "30 3 * * 1,2,3,4,5", TimeZone: "Europe/Berlin", ScheduleOnlyWithChanges: true}) {
		t.Errorf("schedules %+v", d.Schedules)
	}
	var needs []string
	for _, f := range r.Findings {
		if f.Status == NeedsInput {
			needs = append(needs, f.Path)
		}
	}
	wantNeeds := []string{"environments[0].variables.DevToken", "environments[2].variableGroups[0]",
		"environments[2].preDeployApprovals.approvals[1].approver", "environments[2].deployPhases[0].workflowTasks[2]"}
	if !slices.Equal(needs, wantNeeds) || !r.Blocked() {
		t.Errorf("NEEDS_INPUT at %v, want %v", needs, wantNeeds)
	}
}

func TestImportEnvironments(t *testing.T) {
	r := importOne(t, testMapping(), readTestdata(t, "definition-7.1.json"), readTestdata(t, "taskgroup.json"), readTestdata(t, "variablegroup.json"))
	envs := r.Definition.Environments
	if len(envs) != 3 || envs[0].Name != "Dev" || envs[1].Name != "QA" || envs[2].Name != "Prod" {
		t.Fatalf("environments %+v", envs)
	}
	dev, qa, prod := envs[0], envs[1], envs[2]

	// Conditions.
	if dev.Trigger.Kind != spec.TriggerAfterRelease {
		t.Errorf("dev trigger %+v", dev.Trigger)
	}
	if qa.Trigger.Kind != spec.TriggerAfterEnvironments || !slices.Equal(qa.Trigger.Environments, []string{"Dev"}) || !qa.Trigger.AllowPartiallySucceeded {
		t.Errorf("qa trigger %+v (value 132 = succeeded | partially succeeded)", qa.Trigger)
	}
	if prod.Trigger.Kind != spec.TriggerAfterEnvironments || prod.Trigger.AllowPartiallySucceeded {
		t.Errorf("prod trigger %+v", prod.Trigger)
	}

	// Owner, variables, groups.
	if dev.Owner != "ana@example.org" {
		t.Errorf("dev owner %q", dev.Owner)
	}
	if !slices.Equal(dev.Variables, []spec.Variable{{Name: "Color", Value: "blue"}, {Name: "DevToken", Secret: true}}) {
		t.Errorf("dev variables %+v", dev.Variables)
	}
	wantFinding(t, r, "environments[0].variables.DevToken", NeedsInput, "never exports secret values")
	if len(r.Secrets) != 1 || r.Secrets[0].Environment != "Dev" || r.Secrets[0].Variable != "DevToken" || r.Findings[r.Secrets[0].Finding].Path != "environments[0].variables.DevToken" {
		t.Errorf("secrets %+v", r.Secrets)
	}
	if !slices.Equal(qa.VariableGroups, []string{"qa-settings"}) {
		t.Errorf("qa groups %v", qa.VariableGroups)
	}
	wantFinding(t, r, "environments[2].variableGroups[0]", NeedsInput, "variable group 99")

	// Approvals.
	if len(dev.PreApproval.Approvers) != 0 {
		t.Errorf("dev pre-approval %+v, want automated", dev.PreApproval)
	}
	wantQA := spec.ApprovalPolicy{Approvers: []spec.Approver{{Kind: spec.ApproverUser, Name: "ana@example.org"}, {Kind: spec.ApproverUser, Name: "admin"}},
		Mode: spec.ApprovalSequential, RequesterCannotApprove: true, TimeoutMinutes: 1440}
	if !slices.Equal(qa.PreApproval.Approvers, wantQA.Approvers) || qa.PreApproval.Mode != wantQA.Mode ||
		qa.PreApproval.RequesterCannotApprove != true || qa.PreApproval.TimeoutMinutes != 1440 {
		t.Errorf("qa pre-approval %+v, want %+v", qa.PreApproval, wantQA)
	}
	if p := prod.PreApproval; p.Mode != spec.ApprovalAnyOne || p.RequiredCount != 1 || !p.SkipIfApprovedInPreviousEnvironment ||
		p.RequesterCannotApprove || p.TimeoutMinutes != 43200 ||
		!slices.Equal(p.Approvers, []spec.Approver{{Kind: spec.ApproverGroup, Name: "Release Managers"}}) {
		t.Errorf("prod pre-approval %+v", p)
	}
	wantFinding(t, r, "environments[2].preDeployApprovals.approvals[1].approver", NeedsInput, "cy@example.org")
	wantFinding(t, r, "environments[2].preDeployApprovals.approvalOptions.enforceIdentityRevalidation", Dropped, "sign in again")

	// Gates: the REST gate and the mapped work-item query; Azure Monitor reported.
	g := qa.PreGates
	if g.Order != spec.GatesBeforeApprovals || g.TimeoutMinutes != 360 || g.IntervalMinutes != 10 || g.DelayMinutes != 5 || g.MinimumSuccessMinutes != 15 {
		t.Errorf("qa gate policy %+v", g)
	}
	if len(g.Gates) != 2 || g.Gates[0].Kind != spec.GateHTTP || g.Gates[1].Kind != spec.GateWorkItems {
		t.Fatalf("qa gates %+v", g.Gates)
	}
	h := g.Gates[0].HTTP
	if h.Method != "GET" || h.URL != "https://status.example.org/health" || h.SuccessCriteria != `body["status"] == "green"` ||
		len(h.Headers) != 1 || h.Headers[0] != (spec.Header{Name: "Content-Type", Value: "application/json"}) {
		t.Errorf("http gate %+v", h)
	}
	if w := g.Gates[1].WorkItems; !slices.Equal(w.Types, []string{"Bug"}) || !slices.Equal(w.States, []string{"Active"}) || w.MaxCount != 0 {
		t.Errorf("work item gate %+v", w)
	}
	wantFinding(t, r, "environments[1].preDeploymentGates.gates[0].tasks[2]", Dropped, "Query Azure Monitor alerts")
	wantFinding(t, r, "environments[1].preDeployApprovals.approvalOptions.executionOrder", Mapped, "after the gates")

	// Queue.
	if dev.Queue != (spec.QueuePolicy{MaxParallel: 1, Mode: spec.QueueLatestOnly}) || qa.Queue != (spec.QueuePolicy{Mode: spec.QueueAllInOrder}) ||
		prod.Queue != (spec.QueuePolicy{MaxParallel: 1, Mode: spec.QueueAllInOrder}) {
		t.Errorf("queues %+v %+v %+v", dev.Queue, qa.Queue, prod.Queue)
	}
	wantFinding(t, r, "environments[2].executionPolicy", Approximated, "latest 3")

	// Options, retention, schedules: reported.
	wantFinding(t, r, "environments[0].environmentOptions.emailNotificationType", Approximated, "OnlyOnFailure")
	wantFinding(t, r, "environments[0].environmentOptions.badgeEnabled", Dropped, "badge")
	wantFinding(t, r, "environments[0].retentionPolicy", Mapped, "30 days")
	if rp := dev.Retention; rp == nil || rp.DaysToKeep != 30 {
		t.Errorf("dev's retention %+v, want Azure's 30 days", rp)
	}
	wantFinding(t, r, "environments[2].schedules", Dropped, "")
}

func TestImportTasksAndPhases(t *testing.T) {
	r := importOne(t, testMapping(), readTestdata(t, "definition-7.1.json"), readTestdata(t, "taskgroup.json"), readTestdata(t, "variablegroup.json"))
	envs := r.Definition.Environments
	for i, env := range envs {
		if len(env.Phases) == 0 || len(env.Job.Tasks) > 0 {
			t.Errorf("environment %d: job %+v, phases %+v; want phases only", i, env.Job, env.Phases)
		}
	}
	if len(envs[0].Phases) != 1 || len(envs[1].Phases) != 3 || len(envs[2].Phases) != 1 {
		t.Fatalf("phases: %v / %v / %v", phaseShape(envs[0].Phases), phaseShape(envs[1].Phases), phaseShape(envs[2].Phases))
	}
	dev, prod := envs[0].Phases[0], envs[2].Phases[0]

	if dev.Kind != spec.PhaseAgent || dev.Name != "Agent job" || dev.Pool != "Linux" || !slices.Equal(dev.Demands, []string{"java", "Agent.OS -equals Linux"}) ||
		dev.TimeoutMinutes != 30 || dev.SkipArtifactDownload || dev.Condition != "" {
		t.Errorf("dev phase %+v", dev)
	}
	wantFinding(t, r, "environments[0].deployPhases[0].deploymentInput.queueId", Mapped, `agent queue 9 → pool "Linux"`)
	bash := taskNamed(t, dev, "Say hello")
	if bash.Uses != "Bash@3" || bash.Inputs["targetType"] != "inline" || bash.Inputs["script"] != "echo hello from $(Release.EnvironmentName)" ||
		bash.TimeoutMinutes != 5 || bash.Disabled || bash.Condition != "" || len(bash.Inputs) != 2 {
		t.Errorf("bash task %+v", bash)
	}
	if len(bash.Env) != 1 || bash.Env["SHOP_MODE"] != "fast" {
		t.Errorf("task environment %v", bash.Env)
	}
	wantFinding(t, r, "environments[0].deployPhases[0].workflowTasks[0].environment.bad-name", Dropped, "not a name")
	copyTask := taskNamed(t, dev, "Copy site")
	if copyTask.Uses != "CopyFiles@2" || !copyTask.ContinueOnError || !copyTask.AlwaysRun || copyTask.Inputs["TargetFolder"] != "/srv/shop" || copyTask.Inputs["OverWrite"] != "true" {
		t.Errorf("copy task %+v", copyTask)
	}
	wantFinding(t, r, "environments[0].deployPhases[0].workflowTasks[1]", Approximated, `preserveTimestamp="true"`)
	if unpack := taskNamed(t, dev, "Unpack"); !unpack.Disabled || unpack.Uses != "ExtractFiles@1" {
		t.Errorf("disabled task %+v", unpack)
	}
	ph := taskNamed(t, dev, "Deploy Azure App Service")
	if !ph.Disabled || ph.Uses != "" || !strings.Contains(ph.Script, "497d490f-eea7-4f2b-ab94-48d9c1acdcb1") ||
		!strings.Contains(ph.Script, "#   WebAppName: shop-dev") || !strings.Contains(ph.Script, "exit 1") {
		t.Errorf("placeholder %+v", ph)
	}
	wantFinding(t, r, "environments[0].deployPhases[0].workflowTasks[3]", Dropped, "disabled placeholder")
	if main := taskNamed(t, dev, "Only on main"); main.Condition != "and(succeeded(), eq(variables['Build.SourceBranch'], 'refs/heads/main'))" || main.Disabled {
		t.Errorf("condition task %+v", main)
	}
	if odd := taskNamed(t, dev, "Odd condition"); !odd.Disabled || odd.Condition != "" {
		t.Errorf("task with an unsupported condition %+v, want disabled", odd)
	}
	wantFinding(t, r, "environments[0].deployPhases[0].workflowTasks[5].condition", Dropped, "imported disabled")

	// QA: agent phase, server phase (manual intervention), agent phase: three phases.
	want := []string{"AGENT Prepare: Smoke", "SERVER Agentless job: Check the canary", "AGENT Finish: Finish"}
	if got := phaseShape(envs[1].Phases); !slices.Equal(got, want) {
		t.Errorf("qa phases %q, want %q", got, want)
	}
	prepare, server, finish := envs[1].Phases[0], envs[1].Phases[1], envs[1].Phases[2]
	smoke := taskNamed(t, prepare, "Smoke")
	if smoke.Uses != "PowerShell@2" || smoke.Inputs["targetType"] != "inline" || !strings.Contains(smoke.Inputs["script"], "smoke.ps1' -Env qa") {
		t.Errorf("powershell with arguments %+v", smoke)
	}
	mi := taskNamed(t, server, "Check the canary")
	if mi.Kind != spec.TaskManualIntervention || mi.Instructions != "Look at the dashboards" || mi.OnTimeout != spec.InterventionResume || mi.TimeoutMinutes != 120 {
		t.Errorf("manual intervention %+v", mi)
	}
	if server.Kind != spec.PhaseServer || server.Pool != "" || len(server.Demands) > 0 {
		t.Errorf("server phase %+v", server)
	}
	wantFinding(t, r, "environments[1].deployPhases[1].workflowTasks[1]", Dropped, "manual interventions only")
	if prepare.TimeoutMinutes != 20 || prepare.SkipArtifactDownload || len(prepare.Demands) != 0 || prepare.Pool != "Linux" {
		t.Errorf("qa prepare phase %+v", prepare)
	}
	if !slices.Equal(finish.Demands, []string{"docker"}) || finish.TimeoutMinutes != 45 || !finish.SkipArtifactDownload || finish.Pool != "Linux" {
		t.Errorf("qa finish phase %+v (each phase keeps its own settings)", finish)
	}
	wantFinding(t, r, "environments[1].deployPhases[2]", Mapped, `agent phase "Finish" → AGENT phase`)

	// Prod: deployment group phase, task group inlined from its export, secure file, unknown group.
	if prod.Kind != spec.PhaseDeploymentGroup || prod.Name != "Deploy web servers" || prod.DeploymentGroup != "web-servers" || prod.Pool != "" ||
		!slices.Equal(prod.Tags, []string{"web", "eu"}) || len(prod.Demands) != 0 || !slices.Equal(prod.SecureFiles, []string{"shop-cert.pfx"}) {
		t.Errorf("prod phase %+v", prod)
	}
	// healthPercent 50 (Custom): at most half the targets at once, at most half may fail.
	if prod.MaxParallel != "50%" || prod.FailureThreshold != "50%" {
		t.Errorf("prod maxParallel %q failureThreshold %q, want 50%% and 50%%", prod.MaxParallel, prod.FailureThreshold)
	}
	wantFinding(t, r, "environments[2].deployPhases[0]", Mapped, "DEPLOYMENT_GROUP phase")
	wantFinding(t, r, "environments[2].deployPhases[0].deploymentInput.queueId", Mapped, `deployment group 240 → deployment group "web-servers"`)
	wantFinding(t, r, "environments[2].deployPhases[0].deploymentInput.healthPercent", Approximated, "at least 50% of the targets healthy")
	stop := taskNamed(t, prod, "Stop $(SiteName)")
	if stop.Uses != "Bash@3" || stop.Inputs["script"] != "echo stopping shop" {
		t.Errorf("inlined task group step %+v", stop)
	}
	wantFinding(t, r, "environments[2].deployPhases[0].workflowTasks[0]", Approximated, "copied into the phase")
	wantFinding(t, r, "environments[2].deployPhases[0].workflowTasks[2]", NeedsInput, "77777777-0000-4000-8000-000000000eee")
}

func TestImportLegacyShapes(t *testing.T) {
	m := Mapping{ServiceConnections: []ServiceConnection{{Azure: "Legacy", Connection: "tfs"}},
		Identities: []Identity{{Azure: "5f5f5f5f-0000-4000-8000-000000000bbb", Kind: spec.ApproverUser, Name: "admin"}}}
	r := importOne(t, m, readTestdata(t, "definition-2.0.json"))
	d := r.Definition
	if len(d.ArtifactSources) != 1 || !d.ArtifactSources[0].ContinuousDeployment || d.ArtifactSources[0].Connection != "tfs" {
		t.Errorf("numeric artifact trigger: %+v", d.ArtifactSources)
	}
	if len(d.Schedules) != 1 || d.Schedules[0].Cron != "5 6 * * 1,5" || d.Schedules[0].TimeZone != "America/Los_Angeles" {
		t.Errorf("numeric schedule trigger with day names: %+v", d.Schedules)
	}
	test, stage := d.Environments[0], d.Environments[1]
	if test.Trigger.Kind != spec.TriggerAfterRelease {
		t.Errorf("numeric event condition: %+v", test.Trigger)
	}
	if p := test.PreApproval; p.TimeoutMinutes != 4320 || p.RequesterCannotApprove || len(p.Approvers) != 1 || p.Approvers[0].Name != "admin" {
		t.Errorf("approval with timeoutInMintues and string booleans: %+v", p)
	}
	if len(test.Phases) != 1 {
		t.Fatalf("test phases %v", phaseShape(test.Phases))
	}
	tp := test.Phases[0]
	if tp.Kind != spec.PhaseAgent || !slices.Equal(tp.Demands, []string{"msbuild", "DotNetFramework"}) || !tp.SkipArtifactDownload || tp.TimeoutMinutes != 60 {
		t.Errorf("environment demands and options: %+v", tp)
	}
	ps := taskNamed(t, tp, "Run deploy.ps1")
	if ps.Uses != "PowerShell@2" || ps.Inputs["targetType"] != "inline" || !strings.Contains(ps.Inputs["script"], "deploy.ps1' -Verbose") {
		t.Errorf("PowerShell@1 of deployStep.tasks: %+v", ps)
	}
	wantFinding(t, r, "environments[0].deployStep.tasks[0]", Approximated, "PowerShell@1 runs as Cairn's PowerShell@2")
	sh := taskNamed(t, tp, "Run shell script")
	if sh.Uses != "ShellScript@2" || sh.Inputs["cwd"] != "Legacy.Build/tools" || sh.Inputs["args"] != "--quick" {
		t.Errorf("ShellScript@2 (the Bash GUID, major 2): %+v", sh)
	}
	// Numeric phase types: 1 agent, 2 server, 4 deployment group, 16 unknown.
	want := []string{"AGENT Agent phase: Echo", "SERVER Server phase: Approve stage", "DEPLOYMENT_GROUP Group phase: Migrate"}
	if got := phaseShape(stage.Phases); !slices.Equal(got, want) || stage.Phases[1].Tasks[0].Kind != spec.TaskManualIntervention {
		t.Errorf("stage phases %q, want %q", got, want)
	}
	// Queue 2 is not mapped: the default pool. Group 4 is not mapped: NEEDS_INPUT.
	if g := stage.Phases[2]; stage.Phases[0].Pool != "" || g.DeploymentGroup != "" || !slices.Equal(g.Tags, []string{"db"}) || g.MaxParallel != "1" || g.FailureThreshold != "" {
		t.Errorf("stage agent phase %+v, group phase %+v", stage.Phases[0], g)
	}
	wantFinding(t, r, "environments[1].deployPhases[0].deploymentInput.queueId", Approximated, "default pool")
	wantFinding(t, r, "environments[1].deployPhases[2].deploymentInput.queueId", NeedsInput, "mapping.deploymentGroups")
	wantFinding(t, r, "environments[1].deployPhases[3]", Dropped, `unknown phase type "16"`)
	// An artifact condition makes the environment manual.
	if stage.Trigger.Kind != spec.TriggerManual {
		t.Errorf("stage with an artifact condition: %+v, want MANUAL", stage.Trigger)
	}
	wantFinding(t, r, "environments[1].conditions[1]", Approximated, "deployed by hand")
	wantFinding(t, r, "retentionPolicy", Dropped, "60 days")
	wantFinding(t, r, "environments[0].environmentOptions.emailNotificationType", Approximated, "OnlyOnFailure")
}

func TestImportNeedsInputWithoutMapping(t *testing.T) {
	r := importOne(t, Mapping{}, readTestdata(t, "definition-7.1.json"))
	if !r.Blocked() {
		t.Fatal("not blocked without a mapping")
	}
	for _, path := range []string{
		"variables.DbPassword", "variableGroups[0]", "artifacts[0]", "artifacts[1]",
		"environments[1].preDeployApprovals.approvals[1].approver",
		"environments[1].preDeploymentGates.gates[0].tasks[0]",
		"environments[1].preDeploymentGates.gates[0].tasks[1]",
		"environments[2].deployPhases[0].workflowTasks[0]",
		"environments[2].deployPhases[0].deploymentInput.queueId",
	} {
		if f := finding(t, r, path); f.Status != NeedsInput {
			t.Errorf("%s: %s %s, want NEEDS_INPUT", path, f.Status, f.Message)
		}
	}
}

func TestImportTaskGroupMappedAndCycle(t *testing.T) {
	cat := testCatalog()
	cat.Templates = append(cat.Templates, tasklib.Template{Name: "InstallSite", Version: "1.0",
		Steps: []tasklib.Step{{Name: "s", Uses: "Bash@3", Inputs: map[string]string{"script": "echo"}}}})
	def := `{"id": 1, "name": "tg", "environments": [{"name": "e", "rank": 1, "deployPhases": [{"phaseType": "agentBasedDeployment", "workflowTasks": [
		{"taskId": "1ed9aa9e-1c03-4525-a1a5-e5b6e2bd65b7", "version": "1.*", "name": "Install", "definitionType": "metaTask", "inputs": {"SiteName": "shop"}},
		{"taskId": "aaaaaaaa-0000-4000-8000-000000000001", "version": "1.*", "name": "Loop", "definitionType": "metaTask"}]}]}]}`
	loop := `{"count": 2, "value": [
		{"id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "A", "version": {"major": 1}, "tasks": [{"displayName": "to B", "task": {"id": "aaaaaaaa-0000-4000-8000-000000000002", "versionSpec": "1.*", "definitionType": "metaTask"}}]},
		{"id": "aaaaaaaa-0000-4000-8000-000000000002", "name": "B", "version": {"major": 1}, "tasks": [{"displayName": "to A", "task": {"id": "aaaaaaaa-0000-4000-8000-000000000001", "versionSpec": "1.*", "definitionType": "metaTask"}}]}]}`
	m := Mapping{TaskGroups: []TaskGroup{{Azure: "1ED9AA9E-1C03-4525-A1A5-E5B6E2BD65B7", Uses: "InstallSite@1"}}}
	rs, err := Import([][]byte{[]byte(def), []byte(loop)}, m, cat)
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	job := r.Definition.Environments[0].Phases[0]
	if job.Tasks[0].Uses != "InstallSite@1" || job.Tasks[0].Inputs["SiteName"] != "shop" {
		t.Errorf("mapped task group %+v", job.Tasks[0])
	}
	wantFinding(t, r, "environments[0].deployPhases[0].workflowTasks[1].tasks[0].tasks[0]", Dropped, "contains itself")
	if last := job.Tasks[len(job.Tasks)-1]; !last.Disabled {
		t.Errorf("the cycle's placeholder %+v is not disabled", last)
	}
}

func TestImportListDocument(t *testing.T) {
	one := readTestdata(t, "definition-2.0.json")
	list := []byte(`{"count": 2, "value": [` + string(one) + `,` + strings.Replace(string(one), `"name": "Legacy"`, `"name": "Legacy 2"`, 1) + `]}`)
	rs, err := Import([][]byte{list}, Mapping{}, testCatalog())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[1].Definition.Name != "Legacy 2" {
		t.Fatalf("results %+v", rs)
	}
	if !strings.HasPrefix(rs[1].Findings[0].Path, "value[1].") {
		t.Errorf("finding paths of a list item: %s", rs[1].Findings[0].Path)
	}
}

func TestImportHostileDocuments(t *testing.T) {
	deep := strings.Repeat(`{"environments":`, 200) + "[]" + strings.Repeat("}", 200)
	huge := `{"name": "x", "environments": [], "description": "` + strings.Repeat("a", MaxDocumentBytes) + `"}`
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"not JSON", `<html>`, "is not JSON"},
		{"empty", ``, "is not JSON"},
		{"array", `[1, 2]`, "is not a JSON object"},
		{"deep", deep, "nested more than"},
		{"huge", huge, "at most"},
		{"no environments", `{"name": "x"}`, "neither a release definition"},
		{"environments not a list", `{"name": "x", "environments": {"a": 1}}`, "environments"},
		{"rank is an object", `{"name": "x", "environments": [{"name": "e", "rank": {"a": 1}}]}`, "environments.rank"},
		{"tasks of wrong type", `{"name": "x", "environments": [{"name": "e", "deployPhases": [{"workflowTasks": "all"}]}]}`, "workflowTasks"},
		{"value not a list", `{"count": 1, "value": 3}`, "not a list"},
		{"trailing garbage", `{"name": "x", "environments": []} {`, "is not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Import([][]byte{[]byte(tc.doc)}, Mapping{}, testCatalog())
			var de *DocumentError
			if !errors.As(err, &de) {
				t.Fatalf("err %v, want a DocumentError", err)
			}
			if !strings.Contains(de.Error(), tc.want) {
				t.Errorf("error %q, want it to mention %q", de.Error(), tc.want)
			}
		})
	}
	// Odd but readable: findings, never a failure.
	odd := `{"name": "odd", "environments": [
		{"name": "a", "rank": "2", "conditions": [{"conditionType": 9, "name": "x"}, {"conditionType": "environmentState", "name": "nowhere", "value": "4"}],
		 "deployPhases": [{"phaseType": "somethingNew", "workflowTasks": [{"taskId": "x"}]}, {"phaseType": "agentBasedDeployment", "workflowTasks": [{}, {"taskId": "6c731c3c-3c68-459a-a5c9-bde6e6595b5b", "version": "banana"}]}],
		 "preDeployApprovals": {"approvals": [{"isAutomated": false, "approver": {}}], "approvalOptions": {"executionOrder": "sideways"}},
		 "executionPolicy": {"concurrencyCount": -4, "queueDepthCount": "7"}},
		{"rank": 1}]}`
	r := importOne(t, Mapping{}, []byte(odd))
	wantFinding(t, r, "environments[0].conditions[0]", Dropped, "unknown condition type")
	wantFinding(t, r, "environments[0].conditions[1]", Dropped, "does not have")
	wantFinding(t, r, "environments[0].deployPhases[0]", Dropped, "unknown phase type")
	wantFinding(t, r, "environments[0].deployPhases[1].workflowTasks[1]", Dropped, "banana")
	wantFinding(t, r, "environments[1].name", Approximated, "no name")
	if r.Definition.Environments[0].Name != "Environment 1" || r.Definition.Environments[1].Name != "a" {
		t.Errorf("rank order: %+v", r.Definition.Environments)
	}
	if q := r.Definition.Environments[1].Queue; q.MaxParallel != 0 {
		t.Errorf("negative concurrency %+v", q)
	}
	// Too many documents.
	many := make([][]byte, MaxDocuments+1)
	for i := range many {
		many[i] = []byte(`{}`)
	}
	if _, err := Import(many, Mapping{}, testCatalog()); err == nil {
		t.Error("more than MaxDocuments documents accepted")
	}
}

// FuzzImport: whatever the documents, Import returns results or a DocumentError, never
// panics, and every result has a definition document that encodes as JSON.
func FuzzImport(f *testing.F) {
	for _, name := range []string{"definition-7.1.json", "definition-2.0.json", "taskgroup.json", "variablegroup.json"} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte(`{"count":1,"value":[{"environments":[{"deployPhases":[{"phaseType":4,"workflowTasks":[{"definitionType":"metaTask","taskId":"x"}]}]}]}]}`))
	f.Add([]byte(`{"environments":[{"conditions":[{"conditionType":2,"value":"-1"}]}],"triggers":[{"triggerType":2,"schedule":{"daysToRelease":"-1","startHours":99}}]}`))
	cat := testCatalog()
	tg := readTestdata(f, "taskgroup.json")
	f.Fuzz(func(t *testing.T, doc []byte) {
		rs, err := Import([][]byte{doc, tg}, testMapping(), cat)
		if err != nil {
			var de *DocumentError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a DocumentError", err)
			}
			return
		}
		for _, r := range rs {
			if _, err := json.Marshal(r.Definition); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestTranslateCriteria(t *testing.T) {
	for in, want := range map[string]string{
		"eq(root['status'], 'green')":                           `body["status"] == "green"`,
		"and(eq(root['a']['b'], 1), ne(root['c'], 'it''s'))":    `(body["a"]["b"] == 1) && (body["c"] != "it's")`,
		"or(eq(root['ok'], true), eq(root['state'], 'passed'))": `(body["ok"] == true) || (body["state"] == "passed")`,
		"eq(root[']x'], 1)":                                     `body["]x"] == 1`,
		"eq(root[']'], 1)":                                      `body["]"] == 1`,
		"eq(root['a\"b'], 'x')":                                 `body["a\"b"] == "x"`,
		"contains(root['a'], 'x')":                              "",
		"eq(root['a'], 1":                                       "",
	} {
		got, ok := translateCriteria(in)
		if got != want || ok != (want != "") {
			t.Errorf("translateCriteria(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// TestImportRetentionHeldToAzuresLimits: a retention policy beyond what Azure allows (365 days,
// 25 releases) or negative is held to the limits and reported APPROXIMATED, never refused.
func TestImportRetentionHeldToAzuresLimits(t *testing.T) {
	doc := []byte(`{"id": 7, "name": "kept", "environments": [{"id": 1, "name": "prod", "rank": 1,
		"retentionPolicy": {"daysToKeep": 1000, "releasesToKeep": -2, "retainBuild": "true"},
		"deployPhases": [{"phaseType": "agentBasedDeployment", "name": "Agent job", "rank": 1, "workflowTasks": []}]}]}`)
	r := importOne(t, testMapping(), doc)
	rp := r.Definition.Environments[0].Retention
	if rp == nil || rp.DaysToKeep != 365 || rp.ReleasesToKeep != 0 || !rp.RetainBuild {
		t.Fatalf("retention %+v, want 365 days, 0 releases, retainBuild", rp)
	}
	wantFinding(t, r, "environments[0].retentionPolicy", Approximated, "Azure said 1000 days and -2 releases")
}
