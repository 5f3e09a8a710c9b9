package server_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/internal/proc"
)

// TestReplicasShareWork runs two replicas on one PostgreSQL database, the agent connected to the
// first: a release created through the second is dispatched by the first (the job.queued event
// crosses replicas on the PostgreSQL bus), its live log is read through the second, and a cancel
// sent to the second reaches the agent through the first and kills the task.
func TestReplicasShareWork(t *testing.T) {
	each(t, func(t *testing.T, a *harness) {
		if a.cfg.DatabaseURL == "" {
			t.Skip("replicas share a PostgreSQL database")
		}
		b := a.replica(t)
		pids := t.TempDir()
		script := `echo $$ > "$PID_DIR/shell"` + "\n" + `sleep 600 &` + "\n" + `echo $! > "$PID_DIR/child"` + "\n" +
			`echo started` + "\n" + `wait`
		def := b.createDefinition(t, `{name: "long", variables: [{name: "PID_DIR", value: `+strconv.Quote(pids)+`}],
		  environments: [{name: "dev", trigger: {kind: AFTER_RELEASE}, job: {tasks: [{name: "sleep", shell: "bash", script: `+strconv.Quote(script)+`}]}}]}`)
		a.startAgent(t, "on-a", nil)
		rel := b.createRelease(t, def, nil)
		var dev envState
		b.waitFor(t, "the task to start, read through the other replica", func() bool {
			dev = b.releaseEnvs(t, rel)["dev"]
			return dev.JobID != "" && slices.Contains(b.jobLog(t, dev.JobID), "started")
		})
		var tree []int
		for _, name := range []string{"shell", "child"} {
			raw, err := os.ReadFile(filepath.Join(pids, name))
			if err != nil {
				t.Fatal(err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
			if err != nil || !proc.Alive(pid) {
				t.Fatalf("%s pid %q not running", name, raw)
			}
			tree = append(tree, pid)
		}
		b.ok(b.admin, `mutation($d: ID!) { cancelDeployment(deploymentId: $d, comment: "from the other replica") { id } }`,
			map[string]any{"d": dev.DeploymentID})
		b.waitEnv(t, rel, "dev", "CANCELED")
		a.waitFor(t, "the task's processes to exit", func() bool {
			for _, pid := range tree {
				if proc.Alive(pid) {
					return false
				}
			}
			return true
		})
	})
}

// TestReplicasRunTimedWorkOfAStoppedReplica checks that timed work outlives the replica that
// committed it: a deployment approved on the second replica with a deferral, the second replica
// then stopped, is started by the first when the deferral ends (its timer loop learns of the new
// timer from the PostgreSQL bus, not only from its own commits).
func TestReplicasRunTimedWorkOfAStoppedReplica(t *testing.T) {
	each(t, func(t *testing.T, a *harness) {
		if a.cfg.DatabaseURL == "" {
			t.Skip("replicas share a PostgreSQL database")
		}
		b := a.replica(t)
		def := b.createDefinition(t, `{name: "deferred", environments: [{name: "dev", trigger: {kind: AFTER_RELEASE},
		  preApproval: {approvers: [{kind: USER, name: "admin"}]}, job: {tasks: [{name: "hi", script: "echo deferred hello"}]}}]}`)
		a.startAgent(t, "on-a", nil)
		rel := b.createRelease(t, def, nil)
		b.waitEnv(t, rel, "dev", "PENDING_APPROVAL")
		ids := dig(b.ok(b.admin, `{ pendingApprovals { id } }`, nil), "pendingApprovals").([]any)
		if len(ids) != 1 {
			t.Fatalf("pending approvals: %v", ids)
		}
		until := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)
		b.ok(b.admin, `mutation($a: ID!, $u: Time!) { approve(input: {approvalId: $a, deferUntil: $u}) { status } }`,
			map[string]any{"a": ids[0].(map[string]any)["id"], "u": until})
		b.waitEnv(t, rel, "dev", "SCHEDULED")
		b.stop()
		dev := a.waitEnv(t, rel, "dev", "SUCCEEDED")
		if got := a.jobLog(t, dev.JobID); !slices.Equal(got, []string{"deferred hello"}) {
			t.Fatalf("log = %q", got)
		}
	})
}

// TestReplicasLiveLogOnAnotherReplica follows a job's log live through a replica the agent is not
// connected to: the lines reach the first replica, cross to the second on the PostgreSQL bus, and
// the second's subscriber gets the first half while the task still runs (it then waits for a gate
// that opens only once they arrived), then the rest, in order, and the end of the subscription.
func TestReplicasLiveLogOnAnotherReplica(t *testing.T) {
	each(t, func(t *testing.T, a *harness) {
		if a.cfg.DatabaseURL == "" {
			t.Skip("replicas share a PostgreSQL database")
		}
		b := a.replica(t)
		const half, lines = 1000, 2000
		gate := filepath.Join(t.TempDir(), "second-half")
		script := "seq 1 " + strconv.Itoa(half) + "\n" + `while [ ! -e "$GATE" ]; do sleep 0.01; done` + "\n" +
			"seq " + strconv.Itoa(half+1) + " " + strconv.Itoa(lines)
		def := a.createDefinition(t, `{name: "halves", variables: [{name: "GATE", value: `+strconv.Quote(gate)+`}],
		  environments: [{name: "dev", trigger: {kind: AFTER_RELEASE}, job: {tasks: [{name: "count", script: `+strconv.Quote(script)+`}]}}]}`)
		a.startAgent(t, "on-a", nil)
		rel := a.createRelease(t, def, nil)
		dev := a.waitEnv(t, rel, "dev", "IN_PROGRESS")

		c := b.dialWS(b.admin, false)
		c.ack()
		halfway := make(chan struct{})
		reached := sync.OnceFunc(func() { close(halfway) }) // a duplicate line fails checkSequence, not here
		done := make(chan []int, 1)
		go func() {
			done <- c.followLog(dev.DeploymentID, 1, func(seq int) string {
				if seq == half {
					reached()
				}
				return strconv.Itoa(seq)
			})
		}()
		select {
		case <-halfway:
		case <-time.After(waitLimit):
			t.Fatal("the first half of the log did not reach the second replica's subscriber while the task ran")
		}
		if st := a.releaseEnvs(t, rel)["dev"]; st.Job != "RUNNING" {
			t.Fatalf("job %s at half way, want RUNNING (waiting for the gate)", st.Job)
		}
		if err := os.WriteFile(gate, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		select {
		case seqs := <-done:
			checkSequence(t, seqs, 1, lines)
		case <-time.After(2 * waitLimit):
			t.Fatal("the subscription on the second replica did not complete")
		}
	})
}
