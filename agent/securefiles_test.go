package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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

// TestSecureFilesRemovedOnCancelAndTimeout: a job's secure file is on disk while its task runs
// and gone from disk when the job ends by a cancel from the server or by its timeout.
func TestSecureFilesRemovedOnCancelAndTimeout(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		timeout int
		want    string
	}{
		{"canceled", 0, agentproto.JobCanceled},
		{"timed-out", 1, agentproto.JobFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			x := newTestExecutor(t)
			fifo := filepath.Join(t.TempDir(), "started")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("no fifo: %v", err)
			}
			jobID := "secure-" + tt.name
			asg := agentproto.JobAssignment{JobID: jobID, SkipArtifactDownload: true, TimeoutSeconds: tt.timeout,
				SecureFiles: []agentproto.SecureFile{{Name: "id_rsa", PathVariable: "SECUREFILE_ID_RSA_PATH", Content: []byte("private\n")}},
				Tasks: []agentproto.Task{{Name: "hold", Shell: "sh", Script: `echo "$SECUREFILE_ID_RSA_PATH" > ` + fifo + `
exec sleep 30`}}}
			x.spool.addJob(jobID)
			j := x.newJobRun(t.Context(), asg)
			done := make(chan string, 1)
			go func() { done <- j.execute() }()
			// Reading the fifo waits for the task to have started with the file in place.
			path, err := os.ReadFile(fifo)
			if err != nil {
				t.Fatal(err)
			}
			file := strings.TrimSpace(string(path))
			if data, err := os.ReadFile(file); err != nil || string(data) != "private\n" {
				t.Fatalf("secure file while the task runs: %q %v", data, err)
			}
			if tt.timeout == 0 {
				j.cancel(&canceledError{reason: "stopped by alice"})
			}
			select {
			case status := <-done:
				if status != tt.want {
					t.Fatalf("job %s, want %s", status, tt.want)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the job did not end")
			}
			if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("secure file still on disk after the job (%s): %v", tt.name, err)
			}
			if _, err := os.Stat(filepath.Dir(file)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("secure files directory still on disk: %v", err)
			}
		})
	}
}
