package agent

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairnhq/cairn/agentproto"
)

// TestSecureFilesLiveForTheJob: a job's secure files are on disk (0600, under the job's
// directory, path in SECUREFILE_<NAME>_PATH) while its tasks run, and gone when its end is
// reported, whether the job succeeded or a task failed.
func TestSecureFilesLiveForTheJob(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, last string
		want       string
	}{
		{"succeeded", "true", agentproto.JobSucceeded},
		{"failed", "exit 3", agentproto.JobFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			x := newTestExecutor(t)
			witness := filepath.Join(t.TempDir(), "seen")
			jobID := "secure-" + tt.name
			o := runJob(t, x, agentproto.JobAssignment{JobID: jobID, SkipArtifactDownload: true,
				SecureFiles: []agentproto.SecureFile{{Name: "signing.pem", PathVariable: "SECUREFILE_SIGNING_PEM_PATH", Content: []byte("key material\n")}},
				Tasks: []agentproto.Task{{Name: "check", Shell: "sh", Script: `
test "$(cat "$SECUREFILE_SIGNING_PEM_PATH")" = "key material"
test "$(stat -c %a "$SECUREFILE_SIGNING_PEM_PATH" 2>/dev/null || stat -f %Lp "$SECUREFILE_SIGNING_PEM_PATH")" = 600
echo "$SECUREFILE_SIGNING_PEM_PATH" > ` + witness + `
` + tt.last}}})
			if o.finished.Status != tt.want {
				t.Fatalf("job %s (%s), log %q", o.finished.Status, o.finished.Reason, o.text(1))
			}
			path, err := os.ReadFile(witness)
			if err != nil {
				t.Fatalf("the task did not see the file: %v (log %q)", err, o.text(1))
			}
			if want := filepath.Join(x.workDir, jobID, "securefiles", "signing.pem") + "\n"; string(path) != want {
				t.Fatalf("path %q, want %q", path, want)
			}
			if _, err := os.Stat(string(path[:len(path)-1])); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("secure file still on disk after the job: %v", err)
			}
		})
	}
}

// TestSecureFileNamesValidated: a name that would leave the directory is refused before the job
// runs.
func TestSecureFileNamesValidated(t *testing.T) {
	t.Parallel()
	x := newTestExecutor(t)
	for _, name := range []string{"../escape", "a/b", "", ".."} {
		err := x.validateAssignment(agentproto.JobAssignment{JobID: "v",
			SecureFiles: []agentproto.SecureFile{{Name: name, PathVariable: "P"}}})
		if err == nil {
			t.Errorf("secure file name %q accepted", name)
		}
	}
}
