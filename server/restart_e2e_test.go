package server_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// TestServerRestartLeavesJobRunning restarts the server while an agent runs a job: the task keeps
// running through the restart, the agent reconnects to the new process, and the job's result
// and its whole log (lines printed before, during and after the restart, each once) are recorded.
func TestServerRestartLeavesJobRunning(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		gate := filepath.Join(t.TempDir(), "gate")
		script := `echo before` + "\n" +
			`while [ ! -e "$GATE" ]; do sleep 0.02; done` + "\n" +
			`echo after`
		def := h.createDefinition(t, `{name: "through-restart", variables: [{name: "GATE", value: `+strconv.Quote(gate)+`}],
		  environments: [{name: "dev", trigger: {kind: AFTER_RELEASE}, job: {tasks: [{name: "wait", shell: "bash", script: `+strconv.Quote(script)+`}]}}]}`)
		h.startAgent(t, "steady", nil)
		rel := h.createRelease(t, def, nil)
		var dev envState
		h.waitFor(t, "the task to print before the restart", func() bool {
			dev = h.releaseEnvs(t, rel)["dev"]
			return dev.JobID != "" && slices.Contains(h.jobLog(t, dev.JobID), "before")
		})

		h2 := h.restart(t)
		if got := h2.releaseEnvs(t, rel)["dev"]; got.Job != "RUNNING" {
			t.Fatalf("after the restart the job is %s, want RUNNING", got.Job)
		}
		if err := os.WriteFile(gate, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		dev = h2.waitEnv(t, rel, "dev", "SUCCEEDED", "FAILED")
		if dev.Status != "SUCCEEDED" || dev.Job != "SUCCEEDED" || dev.Agent != "steady" {
			t.Fatalf("after the restart: %+v", dev)
		}
		if got := h2.jobLog(t, dev.JobID); !slices.Equal(got, []string{"before", "after"}) {
			t.Fatalf("log = %q, want before, after (each once)", got)
		}
	})
}
