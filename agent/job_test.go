package agent

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairnhq/cairn/agentproto"
)

// newTestExecutor returns an executor writing under a temporary directory, with an in-memory spool.
func newTestExecutor(t *testing.T) *executor {
	t.Helper()
	return &executor{
		workDir: t.TempDir(), client: http.DefaultClient, environ: os.Environ(),
		limits:    artifactLimits{maxBytes: 1 << 20, maxEntries: 100},
		killGrace: 2 * time.Second, spool: newSpool("", 1<<20), log: slog.New(slog.DiscardHandler),
		lookPath: defaultLookPath, batchEvery: 10 * time.Millisecond,
	}
}

// jobOutcome is what a job left in the spool.
type jobOutcome struct {
	steps    map[int]agentproto.StepFinished
	started  map[int]bool
	finished agentproto.JobFinished
	lines    []agentproto.LogLine
}

// text returns the job's log lines of one step.
func (o jobOutcome) text(step int) []string {
	var out []string
	for _, l := range o.lines {
		if l.Step == step {
			out = append(out, l.Text)
		}
	}
	return out
}

func outcome(t *testing.T, s *spool, jobID string) jobOutcome {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[jobID]
	if j == nil {
		t.Fatalf("job %s not in spool", jobID)
	}
	o := jobOutcome{steps: map[int]agentproto.StepFinished{}, started: map[int]bool{}, lines: j.lines}
	for i, l := range j.lines {
		if l.Seq != int64(i+1) {
			t.Fatalf("line %d has seq %d", i, l.Seq)
		}
	}
	for _, ev := range j.events {
		var h agentproto.Header
		json.Unmarshal(ev.Msg, &h)
		switch h.Type {
		case agentproto.TypeStepStarted:
			var m agentproto.StepStarted
			json.Unmarshal(ev.Msg, &m)
			o.started[m.Step] = true
		case agentproto.TypeStepFinished:
			var m agentproto.StepFinished
			json.Unmarshal(ev.Msg, &m)
			if _, dup := o.steps[m.Step]; dup {
				t.Errorf("step %d finished twice", m.Step)
			}
			o.steps[m.Step] = m
		case agentproto.TypeJobFinished:
			json.Unmarshal(ev.Msg, &o.finished)
		}
	}
	return o
}

// runJob runs an assignment to its end and returns its outcome.
func runJob(t *testing.T, x *executor, asg agentproto.JobAssignment) jobOutcome {
	t.Helper()
	x.spool.addJob(asg.JobID)
	x.newJobRun(t.Context(), asg).execute()
	return outcome(t, x.spool, asg.JobID)
}

// TestJobEnvironmentNames: the agent exports variables under the names the server sends, and
// derives the server's names itself only from an assignment that has none (older servers).
func TestJobEnvironmentNames(t *testing.T) {
	t.Parallel()
	script := `echo "$DEPLOY_TARGET|$CHOSEN_BY_SERVER|$RELEASE_ARTIFACTS_WEB_APP_PATH|$APP_DIR"`
	for _, tt := range []struct {
		name string
		vars []agentproto.Variable
		arts []agentproto.Artifact
		want string
	}{
		{"named by the server",
			[]agentproto.Variable{{Name: "deploy.target", EnvName: "CHOSEN_BY_SERVER", Value: "web01"}},
			[]agentproto.Artifact{{Alias: "web-app", PathVariable: "APP_DIR", Type: agentproto.ArtifactJenkins}},
			"|web01||<a>/web-app"},
		{"older server",
			[]agentproto.Variable{{Name: "deploy.target", Value: "web01"}},
			[]agentproto.Artifact{{Alias: "web-app", Type: agentproto.ArtifactJenkins}},
			"web01||<a>/web-app|"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			x := newTestExecutor(t)
			jobID := "names-" + strings.ReplaceAll(tt.name, " ", "-")
			o := runJob(t, x, agentproto.JobAssignment{JobID: jobID, Variables: tt.vars, Artifacts: tt.arts,
				SkipArtifactDownload: true, Tasks: []agentproto.Task{{Name: "names", Shell: "bash", Script: script}}})
			if o.finished.Status != agentproto.JobSucceeded {
				t.Fatalf("job status %s (%s), log %q", o.finished.Status, o.finished.Reason, o.text(1))
			}
			want := strings.ReplaceAll(tt.want, "<a>", filepath.Join(x.workDir, jobID, "a"))
			if got := o.text(1); len(got) != 1 || got[0] != want {
				t.Errorf("task log = %q, want %q", got, want)
			}
		})
	}
}

func TestJobEnvironmentAndWorkingDirectory(t *testing.T) {
	t.Parallel()
	x := newTestExecutor(t)
	o := runJob(t, x, agentproto.JobAssignment{
		JobID: "env", DeploymentID: "d1",
		ReleaseVariables: map[string]string{"RELEASE_RELEASENAME": "Release-7", "RELEASE_ENVIRONMENTNAME": "prod",
			"RELEASE_ARTIFACTS_APP_BUILDNUMBER": "12"},
		Variables: []agentproto.Variable{{Name: "deploy.target", EnvName: "DEPLOY_TARGET", Value: "web01"},
			{Name: "db.password", EnvName: "DB_PASSWORD", Value: "pa55word!", Secret: true}},
		Artifacts:            []agentproto.Artifact{{Alias: "app", PathVariable: "RELEASE_ARTIFACTS_APP_PATH", Type: agentproto.ArtifactJenkins, BuildNumber: "12"}},
		SkipArtifactDownload: true,
		Tasks: []agentproto.Task{
			{Name: "vars", Shell: "bash", Script: `echo "name=$RELEASE_RELEASENAME env=$RELEASE_ENVIRONMENTNAME target=$DEPLOY_TARGET build=$RELEASE_ARTIFACTS_APP_BUILDNUMBER task=$TASK_VAR"
echo "secret=$DB_PASSWORD"
echo "cwd=$(pwd) default=$SYSTEM_DEFAULTWORKINGDIRECTORY"
mkdir sub`, Env: map[string]string{"TASK_VAR": "tv"}},
			{Name: "subdir", Shell: "sh", WorkingDirectory: "sub", Script: `echo "cwd=$(pwd)"`},
		},
	})
	if o.finished.Status != agentproto.JobSucceeded {
		t.Fatalf("job status %s (%s), log %q", o.finished.Status, o.finished.Reason, o.text(1))
	}
	if o.steps[0].Status != agentproto.StepSkipped || o.started[0] {
		t.Errorf("download step: %+v started=%v", o.steps[0], o.started[0])
	}
	got := o.text(1)
	if len(got) != 3 {
		t.Fatalf("task 1 log = %q", got)
	}
	if want := "name=Release-7 env=prod target=web01 build=12 task=tv"; got[0] != want {
		t.Errorf("variables: %q, want %q", got[0], want)
	}
	if got[1] != "secret=***" {
		t.Errorf("secret not masked: %q", got[1])
	}
	srcDir := filepath.Join(x.workDir, "env", "s")
	if want := "cwd=" + srcDir + " default=" + srcDir; got[2] != want {
		t.Errorf("working directory: %q, want %q", got[2], want)
	}
	if got := o.text(2); len(got) != 1 || got[0] != "cwd="+filepath.Join(srcDir, "sub") {
		t.Errorf("task working directory: %q", got)
	}
	if o.finished.LastSeq != int64(len(o.lines)) {
		t.Errorf("LastSeq %d, lines %d", o.finished.LastSeq, len(o.lines))
	}
	if _, err := os.Stat(filepath.Join(x.workDir, "env")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("job directory not removed: %v", err)
	}
}

func TestJobStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		tasks     []agentproto.Task
		job       string
		steps     []string // statuses of steps 1..n
		exitCodes []int
	}{
		{"success", []agentproto.Task{{Script: "true"}, {Script: "echo hi"}}, agentproto.JobSucceeded,
			[]string{agentproto.StepSucceeded, agentproto.StepSucceeded}, []int{0, 0}},
		{"failure skips later tasks", []agentproto.Task{{Script: "exit 3"}, {Script: "echo never"}}, agentproto.JobFailed,
			[]string{agentproto.StepFailed, agentproto.StepSkipped}, []int{3, -1}},
		{"bash -e stops at the first failing command", []agentproto.Task{{Shell: "bash", Script: "false\necho never"}}, agentproto.JobFailed,
			[]string{agentproto.StepFailed}, []int{1}},
		{"continue on error", []agentproto.Task{{Script: "exit 1", ContinueOnError: true}, {Script: "echo ok"}}, agentproto.JobPartiallySucceeded,
			[]string{agentproto.StepFailed, agentproto.StepSucceeded}, []int{1, 0}},
		{"failure after continue on error", []agentproto.Task{{Script: "exit 1", ContinueOnError: true}, {Script: "exit 2"}, {Script: "true"}}, agentproto.JobFailed,
			[]string{agentproto.StepFailed, agentproto.StepFailed, agentproto.StepSkipped}, []int{1, 2, -1}},
		{"missing working directory", []agentproto.Task{{Script: "true", WorkingDirectory: "nope"}}, agentproto.JobFailed,
			[]string{agentproto.StepFailed}, []int{-1}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			x := newTestExecutor(t)
			o := runJob(t, x, agentproto.JobAssignment{JobID: "j" + strconv.Itoa(i), Tasks: tt.tasks})
			if o.finished.Status != tt.job {
				t.Errorf("job status %s (%s), want %s", o.finished.Status, o.finished.Reason, tt.job)
			}
			for k, want := range tt.steps {
				st := o.steps[k+1]
				if st.Status != want || st.ExitCode != tt.exitCodes[k] {
					t.Errorf("step %d: %s exit %d, want %s exit %d", k+1, st.Status, st.ExitCode, want, tt.exitCodes[k])
				}
				if o.started[k+1] == (want == agentproto.StepSkipped) {
					t.Errorf("step %d: started=%v with status %s", k+1, o.started[k+1], want)
				}
			}
			for _, l := range o.lines {
				if strings.Contains(l.Text, "never") && !strings.Contains(l.Text, "echo") {
					t.Errorf("a skipped command ran: %q", l.Text)
				}
			}
		})
	}
}

func TestTaskTimeout(t *testing.T) {
	t.Parallel()
	x := newTestExecutor(t)
	// The task sleeps 600 s: the job ends in this test's lifetime only through its timeout,
	// and the step's reason says so.
	o := runJob(t, x, agentproto.JobAssignment{JobID: "timeout", Tasks: []agentproto.Task{
		{Script: "echo start; sleep 600", TimeoutSeconds: 1},
		{Script: "echo never"},
	}})
	if o.finished.Status != agentproto.JobFailed || o.steps[1].Status != agentproto.StepFailed || !strings.Contains(o.steps[1].Reason, "timed out") {
		t.Errorf("job %s, step 1 %+v", o.finished.Status, o.steps[1])
	}
	if o.steps[2].Status != agentproto.StepSkipped {
		t.Errorf("step 2: %s", o.steps[2].Status)
	}
}

func TestJobTimeout(t *testing.T) {
	t.Parallel()
	x := newTestExecutor(t)
	o := runJob(t, x, agentproto.JobAssignment{JobID: "jobtimeout", TimeoutSeconds: 1, Tasks: []agentproto.Task{{Script: "sleep 600"}}})
	if o.finished.Status != agentproto.JobFailed || !strings.Contains(o.finished.Reason, "timed out") {
		t.Errorf("job %s (%s)", o.finished.Status, o.finished.Reason)
	}
}

// processGone reports whether pid no longer runs (gone, or a zombie waiting for its reaper).
func processGone(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	}
	// The state follows the command name in parentheses.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	return len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X")
}

func TestCancelKillsProcessGroup(t *testing.T) {
	t.Parallel()
	x := newTestExecutor(t)
	asg := agentproto.JobAssignment{JobID: "cancel", Tasks: []agentproto.Task{
		{Shell: "bash", Script: "sleep 600 &\necho child=$!\nsleep 600"},
		{Script: "echo never"},
	}}
	x.spool.addJob(asg.JobID)
	j := x.newJobRun(t.Context(), asg)
	done := make(chan struct{})
	go func() { j.execute(); close(done) }()

	// Wait for the child's pid in the log.
	var child int
	deadline := time.After(15 * time.Second)
	for child == 0 {
		x.spool.mu.Lock()
		changed := x.spool.changed
		for _, l := range x.spool.jobs[asg.JobID].lines {
			if v, ok := strings.CutPrefix(l.Text, "child="); ok {
				child, _ = strconv.Atoi(v)
			}
		}
		x.spool.mu.Unlock()
		if child != 0 {
			break
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatal("no child pid in the log")
		}
	}
	if processGone(child) {
		t.Fatalf("child %d not running before cancel", child)
	}
	j.cancel(&canceledError{reason: "stop it"})
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("job still running 20s after cancel")
	}
	// The job ends only after its output pipe closed, which the child held: it has exited or
	// is exiting. Give the kernel a bounded moment to finish tearing it down.
	gone := processGone(child)
	for i := 0; !gone && i < 200; i++ {
		time.Sleep(10 * time.Millisecond)
		gone = processGone(child)
	}
	if !gone {
		syscall.Kill(child, syscall.SIGKILL)
		t.Fatalf("child process %d survived the cancel", child)
	}
	o := outcome(t, x.spool, asg.JobID)
	if o.finished.Status != agentproto.JobCanceled || !strings.Contains(o.finished.Reason, "stop it") {
		t.Errorf("job %s (%s)", o.finished.Status, o.finished.Reason)
	}
	if o.steps[1].Status != agentproto.StepCanceled || o.steps[2].Status != agentproto.StepSkipped {
		t.Errorf("steps %+v", o.steps)
	}
}

func TestValidateAssignment(t *testing.T) {
	t.Parallel()
	x := newTestExecutor(t)
	bad := []agentproto.JobAssignment{
		{},
		{JobID: "a", Tasks: []agentproto.Task{{Shell: "fish"}}},
		{JobID: "a", Artifacts: []agentproto.Artifact{{Alias: "../x", Type: agentproto.ArtifactJenkins}}},
		{JobID: "a", Artifacts: []agentproto.Artifact{{Alias: "x", Type: "S3"}}},
	}
	for _, a := range bad {
		if x.validateAssignment(a) == nil {
			t.Errorf("accepted %+v", a)
		}
	}
	if err := x.validateAssignment(agentproto.JobAssignment{JobID: "a", Tasks: []agentproto.Task{{Shell: "sh"}}}); err != nil {
		t.Error(err)
	}
}

// TestStepStartReported: a task's StepStarted comes with its process's start, before its first
// line; a task whose process cannot start (missing working directory, missing shell) still
// reports a start before its failure.
func TestStepStartReported(t *testing.T) {
	t.Parallel()
	x := newTestExecutor(t)
	before := time.Now().UTC()
	o := runJob(t, x, agentproto.JobAssignment{
		JobID: "starts", DeploymentID: "d1", SkipArtifactDownload: true,
		Tasks: []agentproto.Task{
			{Name: "runs", Shell: "sh", Script: "echo hi"},
			{Name: "no dir", Shell: "sh", WorkingDirectory: "missing", Script: "echo never", ContinueOnError: true},
		},
	})
	for step := 1; step <= 2; step++ {
		if !o.started[step] {
			t.Errorf("step %d finished %s without a start", step, o.steps[step].Status)
		}
		if s := o.steps[step]; s.StartedAt.Before(before) || s.FinishedAt.Before(s.StartedAt) {
			t.Errorf("step %d times: started %v finished %v (job began %v)", step, s.StartedAt, s.FinishedAt, before)
		}
	}
	if o.steps[1].Status != agentproto.StepSucceeded || o.steps[2].Status != agentproto.StepFailed {
		t.Errorf("statuses %s, %s", o.steps[1].Status, o.steps[2].Status)
	}
	if got := o.text(1); len(got) != 1 || got[0] != "hi" {
		t.Errorf("step 1 log %q", got)
	}
	if got := o.text(2); len(got) != 1 || !strings.Contains(got[0], "does not exist") {
		t.Errorf("step 2 log %q", got)
	}
}

// TestJobRefusesStartEnv: whatever a server sends, the agent exports no name that changes how a
// process starts (BASH_ENV would run its file before every bash task, PATH would pick the
// programs), from release variables, user variables, artifact paths or task env, and no user
// variable or task env entry takes Cairn's own names; each dropped name is reported in the
// task's log.
func TestJobRefusesStartEnv(t *testing.T) {
	t.Parallel()
	x := newTestExecutor(t)
	marker := filepath.Join(t.TempDir(), "ran")
	rc := filepath.Join(t.TempDir(), "rc")
	if err := os.WriteFile(rc, []byte("touch "+marker+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := runJob(t, x, agentproto.JobAssignment{
		JobID: "refused", DeploymentID: "d1",
		ReleaseVariables: map[string]string{"RELEASE_RELEASENAME": "Release-7", "LD_PRELOAD": "/nope.so", "path": "/nope"},
		Variables: []agentproto.Variable{{Name: "bash.env", EnvName: "BASH_ENV", Value: rc},
			{Name: "x", EnvName: "Path", Value: "/nope"}, {Name: "own", EnvName: "SYSTEM_DEFAULTWORKINGDIRECTORY", Value: "/nope"},
			{Name: "ok", EnvName: "OK_VAR", Value: "fine"}},
		Artifacts:            []agentproto.Artifact{{Alias: "app", PathVariable: "DYLD_INSERT_LIBRARIES", Type: agentproto.ArtifactJenkins}},
		SkipArtifactDownload: true,
		Tasks: []agentproto.Task{{Name: "vars", Shell: "bash",
			Env:    map[string]string{"ENV": rc, "AGENT_JOBID": "nope", "TASK_VAR": "tv"},
			Script: `echo "ok=$OK_VAR task=$TASK_VAR name=$RELEASE_RELEASENAME job=$AGENT_JOBID bashenv=${BASH_ENV:-} env=${ENV:-} ld=${LD_PRELOAD:-}${DYLD_INSERT_LIBRARIES:-} sys=$SYSTEM_DEFAULTWORKINGDIRECTORY"; command -v env >/dev/null && echo path-ok`}},
	})
	if o.finished.Status != agentproto.JobSucceeded {
		t.Fatalf("job status %s (%s), log %q", o.finished.Status, o.finished.Reason, o.text(1))
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("BASH_ENV or ENV ran: %v", err)
	}
	log := strings.Join(o.text(1), "\n")
	srcDir := filepath.Join(x.workDir, "refused", "s")
	want := "ok=fine task=tv name=Release-7 job=refused bashenv= env= ld= sys=" + srcDir + "\npath-ok"
	if !strings.Contains(log, want) {
		t.Fatalf("task log:\n%s\nwant it to contain:\n%s", log, want)
	}
	for _, name := range []string{"BASH_ENV", "Path", "SYSTEM_DEFAULTWORKINGDIRECTORY", "LD_PRELOAD", "path", "DYLD_INSERT_LIBRARIES", "env entry ENV", "env entry AGENT_JOBID"} {
		if !strings.Contains(log, name+" is not exported") {
			t.Errorf("the log does not report %s:\n%s", name, log)
		}
	}
}
