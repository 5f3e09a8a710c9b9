package delivery_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/jobstep"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/stepattachment"
	"github.com/cairnhq/cairn/ent/user"
	"github.com/cairnhq/cairn/internal/tasklib"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestStepReportsAndOutputVariables: what a step said through logging commands is stored with
// it (issues, counts, progress, attachments, once), and its output variables reach the
// release's later environments under "<task name>.<name>" (secret ones only in their own
// environment), secrets sealed at rest.
func TestStepReportsAndOutputVariables(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		editor := f.user("ed", "EDITOR")
		def := f.definition(snapshot("web",
			environment("qa", afterRelease, func(e *spec.EnvironmentSpec) {
				e.Job.Tasks = []spec.Task{{Name: "Deploy web", Script: "./deploy.sh"}, {Name: "cleanup", Script: "rm -rf x", Condition: "ALWAYS"}}
			}),
			environment("prod", after("qa"))))
		rel := f.release(editor, def, "1")
		qa := f.job(f.deployment(rel.ID, "qa").ID)
		if !slices.Contains(qa.Demands, "agent.tasks") || !slices.Contains(qa.Demands, "sh") {
			t.Errorf("qa demands %v: a task with a condition needs an agent that evaluates it", qa.Demands)
		}
		agent := f.agent()
		if err := f.e.StartJob(f.ctx, qa.ID, agent); err != nil {
			t.Fatal(err)
		}
		if err := f.e.StepStarted(f.ctx, qa.ID, agent, 1, "Deploy web", t0); err != nil {
			t.Fatal(err)
		}
		if err := f.e.StepProgress(f.ctx, qa.ID, agent, 1, 40, "copying"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, f.e.StepProgress(f.ctx, qa.ID, agent, 1, 140, ""), delivery.CodeInvalidInput)
		for range 2 { // a resent attachment is kept once
			if err := f.e.AddAttachment(f.ctx, qa.ID, agent, 1, "report.txt", []byte("ok\n")); err != nil {
				t.Fatal(err)
			}
		}
		wantCode(t, f.e.AddAttachment(f.ctx, qa.ID, agent, 1, "../x", []byte("x")), delivery.CodeInvalidInput)
		wantCode(t, f.e.AddAttachment(f.ctx, qa.ID, agent, 7, "x", []byte("x")), delivery.CodeInvalidInput)
		wantCode(t, f.e.AddAttachment(f.ctx, qa.ID, agent, 1, "big", make([]byte, 1<<20+1)), delivery.CodeInvalidInput)
		if err := f.e.AddAttachment(f.ctx, qa.ID, agent+1000, 1, "y", nil); err == nil {
			t.Error("an attachment from another agent was accepted")
		}
		progress := 60
		if err := f.e.StepFinished(f.ctx, qa.ID, agent, delivery.StepReport{
			Step: 1, Name: "Deploy web", Status: "SUCCEEDED", FinishedAt: t0, Progress: &progress,
			Issues:     []delivery.StepIssue{{Type: "warning", Message: "disk almost full", SourcePath: "deploy.sh", LineNumber: 7}, {Type: "bogus", Message: "x"}},
			ErrorCount: 0, WarningCount: 3, SucceededWithIssues: true,
			OutputVariables: []delivery.OutputVariable{{Name: "url", Value: "https://web.example/"}, {Name: "token", Value: "tok-s3cret", Secret: true}},
		}); err != nil {
			t.Fatal(err)
		}
		st := f.c.JobStep.Query().Where(jobstep.JobID(qa.ID), jobstep.Position(1)).OnlyX(f.ctx)
		if st.WarningCount != 3 || !st.SucceededWithIssues || st.Progress == nil || *st.Progress != 60 ||
			len(st.Issues) != 1 || st.Issues[0].Message != "disk almost full" || st.Issues[0].LineNumber != 7 {
			t.Errorf("step %+v issues %+v", st, st.Issues)
		}
		atts := f.c.StepAttachment.Query().Where(stepattachment.JobStepID(st.ID)).AllX(f.ctx)
		if len(atts) != 1 || atts[0].Name != "report.txt" || string(atts[0].Content) != "ok\n" || atts[0].Size != 3 {
			t.Errorf("attachments %+v", atts)
		}
		stored := f.c.Job.GetX(f.ctx, qa.ID).OutputVariables
		if len(stored) != 2 || stored[0].Name != "Deploy web.url" || stored[1].Name != "Deploy web.token" ||
			!stored[1].Secret || strings.Contains(stored[1].Value, "tok-s3cret") {
			t.Errorf("stored output variables %+v (a secret must be sealed)", stored)
		}
		if err := f.e.FinishJob(f.ctx, qa.ID, delivery.JobResult{Status: "SUCCEEDED"}); err != nil {
			t.Fatal(err)
		}
		prod := f.job(f.deployment(rel.ID, "prod").ID)
		if prod == nil {
			t.Fatal("prod did not start")
		}
		if slices.Contains(prod.Demands, "agent.tasks") {
			t.Errorf("prod demands %v: no task there has a condition", prod.Demands)
		}
		a, err := f.e.BuildAssignment(f.ctx, prod.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]delivery.AssignmentVariable{}
		for _, v := range a.Variables {
			got[v.EnvName] = v
		}
		if v := got["DEPLOY_WEB_URL"]; v.Value != "https://web.example/" || v.Name != "Deploy web.url" || v.Secret {
			t.Errorf("url output variable %+v", v)
		}
		// A secret output stays in the environment that set it.
		if v, ok := got["DEPLOY_WEB_TOKEN"]; ok {
			t.Errorf("qa's secret output variable reached prod: %+v", v)
		}
		qaAsg, err := f.e.BuildAssignment(f.ctx, qa.ID)
		if err != nil {
			t.Fatal(err)
		}
		if qaAsg.Tasks[1].Condition != "ALWAYS" {
			t.Errorf("qa tasks %+v", qaAsg.Tasks)
		}
		for _, v := range qaAsg.Variables {
			if strings.HasPrefix(v.EnvName, "DEPLOY_WEB_") {
				t.Errorf("a job got its own output variable %+v", v)
			}
		}
	})
}

// TestTaskConditionValidation: conditions are checked when a definition is saved (naming the
// task), keywords are normalized, and alwaysRun is stored as ALWAYS.
func TestTaskConditionValidation(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newDefFixture(t, db)
		doc := validDoc()
		doc.Environments[0].Job.Tasks = []spec.Task{{Name: "deploy", Script: "x", Condition: "eq(variables['a'], 'b'"}}
		_, err := f.eng.CreateDefinition(f.ctx, f.editor, doc, "")
		wantCode(t, err, delivery.CodeInvalidInput)
		if err == nil || !strings.Contains(err.Error(), "environments[0].job.tasks[0].condition") || !strings.Contains(err.Error(), "missing ')' of eq") {
			t.Errorf("error %v", err)
		}
		doc.Environments[0].Job.Tasks = []spec.Task{{Name: "deploy", Script: "x", Condition: "failed", AlwaysRun: true}}
		_, err = f.eng.CreateDefinition(f.ctx, f.editor, doc, "")
		if err == nil || !strings.Contains(err.Error(), "alwaysRun") {
			t.Errorf("alwaysRun with another condition: %v", err)
		}
		doc.Environments[0].Job.Tasks = []spec.Task{
			{Name: "a", Script: "x", AlwaysRun: true}, {Name: "b", Script: "x", Condition: "failed"},
			{Name: "c", Script: "x", Condition: "Succeeded"}, {Name: "d", Script: "x", Condition: " and(always(), eq(variables['x'], 'y')) "},
		}
		def := f.create(doc)
		env := def.QueryEnvironments().Order(ent.Asc("rank")).FirstX(f.ctx)
		var conds []string
		for _, task := range env.Job.Tasks {
			conds = append(conds, task.Condition+"|"+map[bool]string{true: "alwaysRun"}[task.AlwaysRun])
		}
		if want := []string{"ALWAYS|", "FAILED|", "|", "and(always(), eq(variables['x'], 'y'))|"}; !slices.Equal(conds, want) {
			t.Errorf("stored conditions %q, want %q", conds, want)
		}
	})
}

// TestTemplateTasks: a task uses a template with inputs, validated on save; the release freezes
// the resolved template, so a later library change does not change it; the assignment runs the
// template's script with its inputs (references left for the agent) and demands.
func TestTemplateTasks(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newDefFixture(t, db)
		root := f.db.Client.User.Create().SetUsername("root").SetRole(user.RoleADMIN).SaveX(f.ctx)
		admin := delivery.Actor{UserID: root.ID, Username: "root", Role: delivery.RoleAdmin}
		doc := validDoc()
		bad := []spec.Task{{Name: "copy", Uses: "CopyFiles@2", Inputs: map[string]string{"Overwrite": "maybe", "Target": "x"}}}
		doc.Environments[0].Job.Tasks = bad
		_, err := f.eng.CreateDefinition(f.ctx, f.editor, doc, "")
		wantCode(t, err, delivery.CodeInvalidInput)
		for _, want := range []string{"tasks[0].inputs.TargetFolder: task copy: input TargetFolder of CopyFiles@2 is required",
			"tasks[0].inputs.OverWrite", `CopyFiles@2 has no input "Target"`} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v, want %q", err, want)
			}
		}
		for uses, want := range map[string]string{"CopyFiles@9": "no task template CopyFiles@9", "Copy Files": "is not Name@major"} {
			doc.Environments[0].Job.Tasks = []spec.Task{{Name: "x", Uses: uses}}
			if _, err := f.eng.CreateDefinition(f.ctx, f.editor, doc, ""); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("uses %s: %v", uses, err)
			}
		}
		// A custom template, then a group that uses it and a built-in.
		notify := tasklib.Template{Name: "Notify", Version: "1.0", Shell: "bash", Script: `echo "notify $INPUT_CHANNEL"`,
			Inputs: []tasklib.Input{{Name: "channel", Type: tasklib.InputString, Required: true}, {Name: "token", Type: tasklib.InputSecret}}, Demands: []string{"curl"}}
		if _, err := f.eng.SaveTaskTemplate(f.ctx, f.editor, notify, true); err == nil {
			t.Error("an EDITOR managed the task library")
		}
		if _, err := f.eng.SaveTaskTemplate(f.ctx, admin, notify, true); err != nil {
			t.Fatal(err)
		}
		_, err = f.eng.SaveTaskTemplate(f.ctx, admin, notify, true)
		wantCode(t, err, delivery.CodeConflict)
		_, err = f.eng.SaveTaskTemplate(f.ctx, admin, tasklib.Template{Name: "Bash", Version: "9.0", Shell: "bash", Script: "x"}, true)
		wantCode(t, err, delivery.CodeConflict)
		group := tasklib.Template{Name: "DeployAndTell", Version: "1.0", Inputs: []tasklib.Input{{Name: "dir", Type: tasklib.InputFilePath, Required: true}},
			Steps: []tasklib.Step{
				{Name: "copy", Uses: "CopyFiles@2", Inputs: map[string]string{"TargetFolder": "$(dir)/out", "Contents": "$(pattern)"}},
				{Name: "tell", Uses: "Notify@1", Inputs: map[string]string{"channel": "#ops"}, Condition: "ALWAYS"},
			}}
		if _, err := f.eng.SaveTaskTemplate(f.ctx, admin, group, true); err != nil {
			t.Fatal(err)
		}
		// A cycle is refused: Notify@1 (a new version) using the group that uses it.
		cyc := tasklib.Template{Name: "Notify", Version: "1.1", Steps: []tasklib.Step{{Name: "loop", Uses: "DeployAndTell@1", Inputs: map[string]string{"dir": "x"}}}}
		if _, err := f.eng.SaveTaskTemplate(f.ctx, admin, cyc, true); err == nil || !strings.Contains(err.Error(), "task group cycle: Notify@1 → DeployAndTell@1 → Notify@1") {
			t.Errorf("cycle: %v", err)
		}
		doc.Environments[0].Job.Tasks = []spec.Task{
			{Name: "tell", Uses: "Notify@1", Inputs: map[string]string{"channel": "#dev", "token": "plain-text"}},
		}
		if _, err := f.eng.CreateDefinition(f.ctx, f.editor, doc, ""); err == nil || !strings.Contains(err.Error(), "input token is SECRET") {
			t.Errorf("literal secret input: %v", err)
		}
		doc.Environments[0].Job.Tasks = []spec.Task{
			{Name: "tell", Uses: "Notify@1", Inputs: map[string]string{"channel": "#dev", "token": "$(DB_PASSWORD)"}},
			{Name: "ship", Uses: "DeployAndTell@1", Inputs: map[string]string{"dir": "/srv/$(Release.EnvironmentName)"}},
		}
		def := f.create(doc)
		users, err := f.eng.TaskTemplateUsers(f.ctx, "Notify", 1)
		if err != nil || !slices.Equal(users, []string{"definition shop", "task group DeployAndTell@1.0"}) {
			t.Errorf("users %v %v", users, err)
		}
		err = f.eng.DeleteTaskTemplate(f.ctx, admin, "Notify", "1.0")
		wantCode(t, err, delivery.CodeConflict)
		if err == nil || !strings.Contains(err.Error(), "in use by definition shop, task group DeployAndTell@1.0") {
			t.Errorf("delete in use: %v", err)
		}
		rel, err := f.eng.CreateRelease(f.ctx, f.editor, delivery.CreateReleaseInput{DefinitionID: def.ID,
			Artifacts: []delivery.ArtifactVersion{{Alias: "web", BuildID: "1", BuildNumber: "1"}, {Alias: "infra", BuildID: "2", BuildNumber: "2"}}})
		if err != nil {
			t.Fatal(err)
		}
		// A later change of the library does not change the release.
		notify2 := notify
		notify2.Script = `echo changed`
		if _, err := f.eng.SaveTaskTemplate(f.ctx, admin, notify2, false); err != nil {
			t.Fatal(err)
		}
		dev := f.db.Client.Deployment.Query().Where(deployment.ReleaseID(rel.ID), deployment.EnvironmentName("dev")).OnlyX(f.ctx)
		j := f.db.Client.Job.Query().Where(job.DeploymentID(dev.ID)).OnlyX(f.ctx)
		for _, d := range []string{"agent.tasks", "curl", "docker"} {
			if !slices.Contains(j.Demands, d) {
				t.Errorf("demands %v lack %s", j.Demands, d)
			}
		}
		a, err := f.eng.BuildAssignment(f.ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, task := range a.Tasks {
			names = append(names, task.Name)
		}
		if want := []string{"tell", "ship / copy", "ship / tell"}; !slices.Equal(names, want) {
			t.Fatalf("tasks %q, want %q", names, want)
		}
		tell, copyStep, groupTell := a.Tasks[0], a.Tasks[1], a.Tasks[2]
		if tell.Script != `echo "notify $INPUT_CHANNEL"` || tell.Shell != "bash" || tell.Inputs["INPUT_TOKEN"] != "$(DB_PASSWORD)" ||
			!slices.Equal(tell.SecretInputs, []string{"INPUT_TOKEN"}) {
			t.Errorf("tell %+v", tell)
		}
		if copyStep.Inputs["INPUT_TARGETFOLDER"] != "/srv/$(Release.EnvironmentName)/out" || copyStep.Inputs["INPUT_CONTENTS"] != "$(pattern)" ||
			copyStep.Inputs["INPUT_OVERWRITE"] != "false" || !strings.Contains(copyStep.Script, "each_match") {
			t.Errorf("copy step %+v", copyStep.Inputs)
		}
		if groupTell.Condition != "ALWAYS" || groupTell.Inputs["INPUT_CHANNEL"] != "#ops" {
			t.Errorf("group tell %+v", groupTell)
		}
		got, err := f.eng.TaskTemplate(f.ctx, "notify", "1")
		if err != nil || got == nil || got.Script != "echo changed" {
			t.Errorf("library now %+v %v", got, err)
		}
		if got, _ := f.eng.TaskTemplate(f.ctx, "CopyFiles", "2.0"); got == nil || !got.Builtin {
			t.Errorf("built-in CopyFiles 2.0: %+v", got)
		}
		if got, _ := f.eng.TaskTemplate(f.ctx, "CopyFiles", "2.7"); got != nil {
			t.Errorf("CopyFiles 2.7: %+v", got)
		}
	})
}

// TestSecretOutputStaysInItsEnvironment: a secret output variable of an environment's first
// phase reaches its later phase (after a manual intervention), unlike other environments.
func TestSecretOutputStaysInItsEnvironment(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newMIFixture(t, db)
		rel := f.newRelease("41")
		dep := f.deployment(rel.ID, "prod")
		agentID := f.agent()
		first := f.job(dep.ID)
		if err := f.e.StartJob(f.ctx, first.ID, agentID); err != nil {
			t.Fatal(err)
		}
		if err := f.e.StepFinished(f.ctx, first.ID, agentID, delivery.StepReport{Step: 1, Name: "build", Status: "SUCCEEDED",
			FinishedAt: t0, OutputVariables: []delivery.OutputVariable{{Name: "key", Value: "k3y", Secret: true}}}); err != nil {
			t.Fatal(err)
		}
		if err := f.e.FinishJob(f.ctx, first.ID, delivery.JobResult{Status: "SUCCEEDED"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.ResumeManualIntervention(f.ctx, f.alice, f.pending(dep.ID).ID, "ok"); err != nil {
			t.Fatal(err)
		}
		second := f.job(dep.ID)
		if second.ID == first.ID {
			t.Fatal("no second phase")
		}
		a, err := f.e.BuildAssignment(f.ctx, second.ID)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, v := range a.Variables {
			found = found || (v.EnvName == "BUILD_KEY" && v.Value == "k3y" && v.Secret)
		}
		if !found {
			t.Errorf("the later phase lacks the secret output BUILD_KEY: %+v", a.Variables)
		}
	})
}
