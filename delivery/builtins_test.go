package delivery_test

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/internal/tasklib"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestBuiltinRunnersAndDemands: the agent-run built-ins reach the assignment as a runner with
// their inputs (secrets listed for masking), their jobs demand the runner's capability (and a
// cmd task a Windows agent); a DownloadSecureFile task names a file that must exist and be
// usable, is linked and listed as a user of the file, and the file travels with the job; a
// custom template cannot claim a runner.
func TestBuiltinRunnersAndDemands(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ed, other := f.user("eddie", "EDITOR"), f.user("otto", "EDITOR")
		eddie := []spec.Approver{{Kind: spec.ApproverUser, Name: "eddie"}}
		sf, err := f.e.UploadSecureFile(f.ctx, ed, delivery.SecureFileInput{Name: "kubeconfig",
			Permissions: spec.LibraryPermissions{Use: eddie, Administer: eddie}}, strings.NewReader("apiVersion: v1\n"))
		if err != nil {
			t.Fatal(err)
		}
		doc := func(file string) spec.DefinitionSnapshot {
			return spec.DefinitionSnapshot{Name: "ops", Variables: []spec.Variable{{Name: "key", Value: "k", Secret: true}},
				Environments: []spec.EnvironmentSpec{{Name: "prod", Job: spec.JobSpec{Tasks: []spec.Task{
					{Name: "kube", Uses: "DownloadSecureFile@1", Inputs: map[string]string{"secureFile": file}},
					{Name: "remote", Uses: "SSH@0", Inputs: map[string]string{"host": "web01", "username": "deploy", "privateKey": "$(key)", "trustOnFirstUse": "true", "commands": "uptime"}},
					{Name: "win", Shell: "cmd", Script: "echo %PATH%"},
				}}}}}
		}
		_, err = f.e.CreateDefinition(f.ctx, other, doc("kubeconfig"), "")
		wantCodeOf(t, err, delivery.CodeForbidden, "a DownloadSecureFile task naming a file one may not use")
		_, err = f.e.CreateDefinition(f.ctx, ed, doc("nope"), "")
		if delivery.CodeOf(err) != delivery.CodeInvalidInput || !strings.Contains(err.Error(), "environments[0].job.tasks[0].inputs.secureFile") {
			t.Fatalf("unknown file: %v", err)
		}
		_, err = f.e.CreateDefinition(f.ctx, ed, doc("$(which.file)"), "")
		if delivery.CodeOf(err) != delivery.CodeInvalidInput || !strings.Contains(err.Error(), "not a $(variable) reference") {
			t.Fatalf("file by variable: %v", err)
		}
		// By id: stored as the name.
		def, err := f.e.CreateDefinition(f.ctx, ed, doc(strconv.Itoa(sf.ID)), "")
		if err != nil {
			t.Fatal(err)
		}
		if f.audits("secureFile.link") != 1 {
			t.Errorf("link audits %d", f.audits("secureFile.link"))
		}
		err = f.e.DeleteSecureFile(f.ctx, ed, sf.ID)
		if delivery.CodeOf(err) != delivery.CodeConflict || !strings.Contains(err.Error(), "definition ops (environments prod)") {
			t.Fatalf("delete of a file a task uses: %v", err)
		}
		rel, err := f.e.CreateRelease(f.ctx, ed, delivery.CreateReleaseInput{DefinitionID: def.ID})
		if err != nil {
			t.Fatal(err)
		}
		d, err := f.e.DeployEnvironment(f.ctx, ed, delivery.DeployInput{ReleaseID: rel.ID, Environment: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		j := f.job(d.ID)
		for _, want := range []string{"agent.tasks", tasklib.RunnerCapability("ssh"), tasklib.RunnerCapability("downloadSecureFile"), tasklib.WindowsDemand} {
			if !slices.Contains(j.Demands, want) {
				t.Errorf("demands %v lack %q", j.Demands, want)
			}
		}
		a, err := f.e.BuildAssignment(f.ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.SecureFiles) != 1 || a.SecureFiles[0].Name != "kubeconfig" || !bytes.Equal(a.SecureFiles[0].Content, []byte("apiVersion: v1\n")) {
			t.Errorf("secure files %+v", a.SecureFiles)
		}
		kube, remote, win := a.Tasks[0], a.Tasks[1], a.Tasks[2]
		if kube.Runner != "downloadSecureFile" || kube.Inputs["INPUT_SECUREFILE"] != "kubeconfig" || kube.Script != "" {
			t.Errorf("kube %+v", kube)
		}
		if remote.Runner != "ssh" || remote.Inputs["INPUT_PRIVATEKEY"] != "$(key)" || !slices.Contains(remote.SecretInputs, "INPUT_PRIVATEKEY") || remote.Inputs["INPUT_PORT"] != "22" {
			t.Errorf("remote %+v", remote)
		}
		if win.Shell != "cmd" || win.Runner != "" {
			t.Errorf("win %+v", win)
		}
		_, err = f.e.SaveTaskTemplate(f.ctx, f.user("root2", "ADMIN"), tasklib.Template{Name: "Sneaky", Version: "1.0", Runner: "ssh"}, true)
		wantCodeOf(t, err, delivery.CodeInvalidInput, "a custom template with a runner")
	})
}
