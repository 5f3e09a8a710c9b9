package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/agentproto"
)

// waitSpare waits until d has a spare ready and returns it.
func waitSpare(t *testing.T, d *jobDirs) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		d.mu.Lock()
		spare := d.spare
		d.mu.Unlock()
		if spare != "" {
			return spare
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("no job directory was made ahead")
	return ""
}

// TestJobDirectoriesMadeAhead: jobs run in directories made before they came (the spare is
// renamed into place, with its sources, artifacts and temporary directories), one after
// another; a job whose directory is taken still gets one; close removes the spare.
func TestJobDirectoriesMadeAhead(t *testing.T) {
	t.Parallel()
	x := newTestExecutor(t)
	x.dirs = newJobDirs(x.workDir, x.log)
	x.dirs.refill()
	for i, id := range []string{"7", "8"} {
		spare := waitSpare(t, x.dirs)
		if !strings.HasPrefix(filepath.Base(spare), ".next-") {
			t.Fatalf("spare %s is named like a job's directory", spare)
		}
		// A marker in the spare shows the job ran in it, renamed (execute removes it after).
		marker := filepath.Join(spare, "s", "made-ahead")
		if err := os.WriteFile(marker, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		o := runJob(t, x, agentproto.JobAssignment{JobID: id, Tasks: []agentproto.Task{{Name: "look",
			Script: `test -f made-ahead && test -d ../a && test -d ../tmp && echo "in $(basename "$(dirname "$PWD")")"`}}})
		if o.finished.Status != agentproto.JobSucceeded {
			t.Fatalf("job %d: %s %s, log %q", i, o.finished.Status, o.finished.Reason, o.text(1))
		}
		if got := o.text(1); len(got) != 1 || got[0] != "in "+id {
			t.Fatalf("job %d ran in %q, want its own directory %s", i, got, id)
		}
		if _, err := os.Stat(spare); !os.IsNotExist(err) {
			t.Fatalf("the spare %s is still there after its job took it: %v", spare, err)
		}
	}

	// A job directory that cannot take the spare's place (not empty) is made where it is.
	spare := waitSpare(t, x.dirs)
	taken := filepath.Join(x.workDir, "9")
	if err := os.MkdirAll(filepath.Join(taken, "left"), 0o755); err != nil {
		t.Fatal(err)
	}
	o := runJob(t, x, agentproto.JobAssignment{JobID: "9", Tasks: []agentproto.Task{{Name: "t", Script: "test -d ../a && test -d ../tmp && test -d ../left"}}})
	if o.finished.Status != agentproto.JobSucceeded {
		t.Fatalf("job in a directory that existed: %s %s %q", o.finished.Status, o.finished.Reason, o.text(1))
	}
	if _, err := os.Stat(spare); !os.IsNotExist(err) {
		t.Fatalf("the spare that could not be used is left at %s: %v", spare, err)
	}

	waitSpare(t, x.dirs)
	if err := x.dirs.close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(x.workDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left in the jobs directory after close: %s", e.Name())
	}
	// Closed: no more spares; a job still gets its directory.
	o = runJob(t, x, agentproto.JobAssignment{JobID: "10", Tasks: []agentproto.Task{{Name: "t", Script: "test -d ../tmp"}}})
	if o.finished.Status != agentproto.JobSucceeded {
		t.Fatalf("job after close: %s %s", o.finished.Status, o.finished.Reason)
	}
	x.dirs.mu.Lock()
	defer x.dirs.mu.Unlock()
	if x.dirs.spare != "" || x.dirs.making {
		t.Fatalf("a spare was made after close: %q making=%v", x.dirs.spare, x.dirs.making)
	}
}
