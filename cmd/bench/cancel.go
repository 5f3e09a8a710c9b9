package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/internal/proc"
)

// cancelScript starts a process tree (the shell, a background child, a subshell with its own
// child), writes their pids, then waits in the foreground: what cancel must kill.
const cancelScript = `echo $$ > "$PIDS/$RELEASE_JOBID.shell"
sleep 600 &
echo $! > "$PIDS/$RELEASE_JOBID.child"
( sleep 600 & echo $! > "$PIDS/$RELEASE_JOBID.grandchild"; wait ) &
echo $! > "$PIDS/$RELEASE_JOBID.subshell"
while [ ! -s "$PIDS/$RELEASE_JOBID.grandchild" ]; do sleep 0.01; done
touch "$PIDS/$RELEASE_JOBID.ready"
sleep 600`

// benchCancel runs n releases whose task starts a process tree and waits, cancels each
// deployment once its tree runs, and measures from the cancelDeployment mutation to every process
// of the tree gone, and to the job recorded CANCELED.
func benchCancel(ctx context.Context, e *env, n int, r *report) error {
	pids := filepath.Join(e.dir, "pids")
	if err := os.MkdirAll(pids, 0o700); err != nil {
		return err
	}
	def, err := e.createDefinition(`{name: "cancel", variables: [{name: "PIDS", value: ` + strconv.Quote(pids) + `}],
	  environments: [{name: "dev", trigger: {kind: AFTER_RELEASE}, job: {skipArtifactDownload: true,
	    tasks: [{name: "tree", shell: "bash", script: ` + strconv.Quote(cancelScript) + `}]}}]}`)
	if err != nil {
		return err
	}
	const warmup = 2
	var gone, recorded dist
	for i := range n + warmup {
		g, rec, err := cancelOnce(ctx, e, def, pids)
		if err != nil {
			return fmt.Errorf("cancel %d: %w", i+1, err)
		}
		if i >= warmup {
			gone, recorded = append(gone, g), append(recorded, rec)
		}
	}
	fork := floorForkExec.pct(.5)
	r.add(row{metric: fmt.Sprintf("cancel: cancelDeployment mutation sent → every process of the task's tree gone, p50 / p99 (%d cancels)", len(gone)),
		value: ms(gone.pct(.5)) + " / " + ms(gone.pct(.99)),
		floor: "fork/exec p50 " + ms(fork), ratio: ratio(float64(gone.pct(.5)), float64(fork)) + " / " + ratio(float64(gone.pct(.99)), float64(fork)),
		target: "p99 < 100 ms", verdict: verdict(gone.pct(.99) < 100*time.Millisecond)})
	r.add(row{metric: "cancel: cancelDeployment mutation sent → job recorded CANCELED, p50 / p99",
		value: ms(recorded.pct(.5)) + " / " + ms(recorded.pct(.99))})
	r.note("Cancel: %d releases whose bash task starts a background child, a subshell with its own child, then `sleep 600` in the foreground; once the tree runs, the `cancelDeployment` mutation is sent over HTTP. \"Gone\" is when the last of the four processes has exited (polled every 0.2 ms in /proc; a zombie counts as gone); the agent sends SIGTERM to the process group at once (SIGKILL after its kill grace, which these processes never need). The first %d are warm-up and not counted.", len(gone), warmup)
	return nil
}

// cancelOnce runs one release, cancels it once its process tree runs and returns how long until
// the tree was gone and until the job was recorded CANCELED.
func cancelOnce(ctx context.Context, e *env, def, pids string) (gone, recorded time.Duration, err error) {
	rel, err := e.createRelease(def)
	if err != nil {
		return 0, 0, err
	}
	var j *jobRow
	if err := e.waitFor(ctx, func() bool {
		j, err = jobRowOf(ctx, e, rel)
		return err == nil && j.id != 0 && fileExists(filepath.Join(pids, strconv.Itoa(j.id)+".ready"))
	}); err != nil {
		return 0, 0, fmt.Errorf("waiting for the task's processes: %w", err)
	}
	var tree []int
	for _, name := range []string{"shell", "child", "subshell", "grandchild"} {
		b, err := os.ReadFile(filepath.Join(pids, strconv.Itoa(j.id)+"."+name))
		if err != nil {
			return 0, 0, err
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return 0, 0, fmt.Errorf("%s pid %q", name, b)
		}
		tree = append(tree, pid)
	}
	t0 := time.Now()
	treeGone := make(chan time.Duration, 1)
	go func() {
		for deadline := t0.Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Microsecond) {
			alive := false
			for _, pid := range tree {
				alive = alive || proc.Alive(pid)
			}
			if !alive {
				treeGone <- time.Since(t0)
				return
			}
		}
		treeGone <- -1
	}()
	if err := e.gql(`mutation($d: ID!) { cancelDeployment(deploymentId: $d, comment: "bench") { id } }`,
		map[string]any{"d": strconv.Itoa(j.deploymentID)}, nil); err != nil {
		return 0, 0, err
	}
	if err := e.waitFor(ctx, func() bool {
		st, err := e.srv.Engine.Client().Job.Query().Where(job.ID(j.id)).Select(job.FieldStatus).String(ctx)
		if err == nil && st == string(job.StatusCANCELED) {
			recorded = time.Since(t0)
			return true
		}
		return false
	}); err != nil {
		return 0, 0, fmt.Errorf("waiting for CANCELED: %w", err)
	}
	if gone = <-treeGone; gone < 0 {
		return 0, 0, errors.New("the task's processes still run a minute after the cancel")
	}
	return gone, recorded, nil
}

type jobRow struct{ id, deploymentID int }

func jobRowOf(ctx context.Context, e *env, rel string) (*jobRow, error) {
	j, err := jobOf(ctx, e, rel, "dev")
	if err != nil {
		return nil, err
	}
	return &jobRow{id: j.ID, deploymentID: j.DeploymentID}, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
