package delivery_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/internal/tasklib"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestDownloadFileCredentialsGoHome: a DownloadFile task naming a service connection is saved
// only with a URL on the connection's origin (written out, not a $(variable) host) and a
// literal connection name, each refusal INVALID_INPUT naming the input; the assignment carries
// the decrypted credentials and the origin for that task only; after the connection moves to
// another host, the assignment is refused naming the url input and carries nothing.
func TestDownloadFileCredentialsGoHome(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		admin, ed := f.user("ada", "ADMIN"), f.user("eddie", "EDITOR")
		secret := "repo-token"
		conn, err := f.e.CreateConnection(f.ctx, admin, delivery.ConnectionInput{Name: "repo", Kind: "JENKINS",
			URL: "https://repo.example.com/artifacts", Username: "bot", Secret: &secret})
		if err != nil {
			t.Fatal(err)
		}
		doc := func(inputs map[string]string) spec.DefinitionSnapshot {
			return spec.DefinitionSnapshot{Name: "pkg", Environments: []spec.EnvironmentSpec{{Name: "prod", Job: spec.JobSpec{Tasks: []spec.Task{
				{Name: "anon", Uses: "DownloadFile@1", Inputs: map[string]string{"url": "https://cdn.example.org/tool.tgz", "targetPath": "tool.tgz"}},
				{Name: "fetch", Uses: "DownloadFile@1", Inputs: inputs},
			}}}}}
		}
		for _, tt := range []struct {
			name   string
			inputs map[string]string
			field  string
			says   string
		}{
			{"another host", map[string]string{"url": "https://evil.example.net/artifacts/app.tgz", "targetPath": "a", "serviceConnection": "repo"}, "inputs.url", "not on service connection"},
			{"another scheme", map[string]string{"url": "http://repo.example.com/artifacts/app.tgz", "targetPath": "a", "serviceConnection": "repo"}, "inputs.url", "not on service connection"},
			{"another port", map[string]string{"url": "https://repo.example.com:8443/artifacts/app.tgz", "targetPath": "a", "serviceConnection": "repo"}, "inputs.url", "not on service connection"},
			{"a variable host", map[string]string{"url": "https://$(repo.host)/artifacts/app.tgz", "targetPath": "a", "serviceConnection": "repo"}, "inputs.url", "must be written out"},
			{"a userinfo trick", map[string]string{"url": "https://repo.example.com@evil.example.net/app.tgz", "targetPath": "a", "serviceConnection": "repo"}, "inputs.url", "not on service connection"},
			{"a connection by variable", map[string]string{"url": "https://repo.example.com/a", "targetPath": "a", "serviceConnection": "$(conn)"}, "inputs.serviceConnection", "not a $(variable) reference"},
			{"an unknown connection", map[string]string{"url": "https://repo.example.com/a", "targetPath": "a", "serviceConnection": "nope"}, "inputs.serviceConnection", "no service connection"},
			{"no target", map[string]string{"url": "https://repo.example.com/a"}, "inputs.targetPath", "required"},
		} {
			_, err := f.e.CreateDefinition(f.ctx, ed, doc(tt.inputs), "")
			if delivery.CodeOf(err) != delivery.CodeInvalidInput || !strings.Contains(err.Error(), "environments[0].job.tasks[1]."+tt.field) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("%s: %v", tt.name, err)
			}
		}
		def, err := f.e.CreateDefinition(f.ctx, ed, doc(map[string]string{"URL": "https://REPO.example.com:443/artifacts/$(Release.ReleaseName)/app.tgz", "targetPath": "app.tgz", "ServiceConnection": "repo"}), "")
		if err != nil {
			t.Fatal(err)
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
		jobID := j.ID
		if !slices.Contains(j.Demands, tasklib.RunnerCapability(tasklib.RunnerDownloadFile)) {
			t.Errorf("demands %v", j.Demands)
		}
		a, err := f.e.BuildAssignment(f.ctx, jobID)
		if err != nil {
			t.Fatal(err)
		}
		anon, fetch := a.Tasks[0], a.Tasks[1]
		if anon.HasCredentials || anon.Password != "" || anon.Runner != "downloadFile" {
			t.Errorf("anonymous task %+v", anon)
		}
		if !fetch.HasCredentials || fetch.Username != "bot" || fetch.Password != secret || fetch.Origin != conn.URL || fetch.Runner != "downloadFile" {
			t.Errorf("task with the connection %+v", fetch)
		}

		// The connection moves: the stored URL no longer goes home, and the job is refused.
		moved := "https://new-repo.example.com/artifacts"
		if _, err := f.e.UpdateConnection(f.ctx, admin, conn.ID, delivery.ConnectionPatch{URL: &moved}); err != nil {
			t.Fatal(err)
		}
		a, err = f.e.BuildAssignment(f.ctx, jobID)
		if delivery.CodeOf(err) != delivery.CodeInvalidInput || !strings.Contains(err.Error(), "task fetch") || !strings.Contains(err.Error(), "not on service connection") ||
			len(a.Tasks) != 0 {
			t.Errorf("moved connection: %+v %v", a.Tasks, err)
		}
		var de *delivery.Error
		if errors.As(err, &de) && de.Field != "inputs.URL" {
			t.Errorf("field %q, want inputs.URL", de.Field)
		}
	})
}
