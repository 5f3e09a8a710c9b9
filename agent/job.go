package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairnhq/cairn/agentproto"
	"github.com/cairnhq/cairn/internal/condition"
	"github.com/cairnhq/cairn/internal/envnames"
	"github.com/cairnhq/cairn/internal/jobstages"
	"github.com/cairnhq/cairn/internal/netguard"
	"github.com/cairnhq/cairn/internal/tasklib"
)

// Causes of a job's cancellation (context.Cause of its context).
var (
	errShutdown   = errors.New("agent shutting down")
	errJobTimeout = errors.New("job timed out")
	errTaskTimout = errors.New("task timed out")
	// errCleanupTimeout ends a task that runs after a cancel or a timeout (its condition asked
	// for it) once the agent's cleanup time is over.
	errCleanupTimeout = errors.New("cleanup time exceeded")
)

// defaultCleanupTime bounds each task that runs after its job was canceled or timed out.
const defaultCleanupTime = time.Minute

// canceledError is the cause of a job canceled by the server.
type canceledError struct{ reason string }

func (e *canceledError) Error() string {
	if e.reason == "" {
		return "canceled"
	}
	return "canceled: " + e.reason
}

// executor runs jobs. It holds what every job needs; a job's own state is in jobRun.
type executor struct {
	workDir    string
	client     *http.Client
	environ    []string
	limits     artifactLimits
	killGrace  time.Duration
	spool      *spool
	log        *slog.Logger
	lookPath   func(string) (string, error)
	batchEvery time.Duration
	// cleanup bounds each task that runs after its job was stopped (0: defaultCleanupTime).
	cleanup time.Duration
	// osName is the operating system tasks run on ("": runtime.GOOS; tests set it).
	osName string
	// guard checks the addresses the InvokeHttp runner calls (nil: netguard's defaults).
	guard *netguard.Guard
	// knownHosts is the agent's own known_hosts file, where the SSH runners record host keys
	// trusted on first use ("": <work dir>/known_hosts).
	knownHosts string
	// dirs makes jobs' directories ahead (nil: each job makes its own when it starts; its
	// methods work on nil).
	dirs *jobDirs
	// shells caches where lookPath found each shell (name → path), so that a task's start does
	// not walk PATH; the agent's PATH does not change while it runs.
	shells sync.Map
}

// shellPath is lookPath, remembered once found.
func (x *executor) shellPath(name string) (string, error) {
	if p, ok := x.shells.Load(name); ok {
		return p.(string), nil
	}
	p, err := x.lookPath(name)
	if err == nil {
		x.shells.Store(name, p)
	}
	return p, err
}

func (x *executor) goos() string { return cmp.Or(x.osName, runtime.GOOS) }

func (x *executor) cleanupTime() time.Duration { return cmp.Or(x.cleanup, defaultCleanupTime) }

// jobRun is one job being executed.
type jobRun struct {
	x       *executor
	asg     agentproto.JobAssignment
	ctx     context.Context
	cancel  context.CancelCauseFunc
	dir     string
	secrets []string
	// dropped explains the names environment did not export, for each task's log.
	dropped []string
	batch   *batcher
	// setVars are the variables tasks set (##vso[task.setvariable]) by environment name, in
	// setOrder, exported to later tasks; readOnly are those set with isReadOnly.
	setVars     map[string]jobVariable
	setOrder    []string
	readOnly    map[string]bool
	attachments int
	// freeSlot, when set, is called once the job's processes are gone and before its
	// JobFinished is reported: the server may offer the next job as soon as it reads the result,
	// and the agent must not refuse it as busy.
	freeSlot func()
	// holding is set while the spool holds the reports of the job's start (spool.hold), until
	// its first step starts or it ends (releaseHold); only the job's goroutine clears it.
	holding bool
}

// releaseHold ends the spool's hold of the job's first reports, once.
func (j *jobRun) releaseHold() {
	if j.holding {
		j.holding = false
		j.x.spool.release()
	}
}

// newJobRun prepares a job; the caller then runs execute in its own goroutine and may call cancel
// at any time.
func (x *executor) newJobRun(parent context.Context, asg agentproto.JobAssignment) *jobRun {
	ctx, cancel := context.WithCancelCause(parent)
	j := &jobRun{x: x, asg: asg, ctx: ctx, cancel: cancel, dir: filepath.Join(x.workDir, fileName(asg.JobID)),
		setVars: map[string]jobVariable{}, readOnly: map[string]bool{}}
	for _, v := range asg.Variables {
		if v.Secret {
			j.secrets = append(j.secrets, v.Value)
		}
	}
	for _, a := range asg.Artifacts {
		if a.Credentials != nil {
			j.secrets = append(j.secrets, a.Credentials.Password)
		}
	}
	for _, t := range asg.Tasks {
		if t.Credentials != nil && t.Credentials.Password != "" {
			j.secrets = append(j.secrets, t.Credentials.Password)
		}
		if ep := t.Endpoint; ep != nil {
			j.secrets = append(j.secrets, ep.Password, ep.PrivateKey)
			j.secrets = append(j.secrets, ep.Secrets...)
		}
	}
	j.batch = newBatcher(x.batchEvery, agentproto.LogBatchBytes, func(lines []agentproto.LogLine) {
		// The job's context ends on cancel; lines printed while dying are still kept.
		x.spool.appendLines(context.WithoutCancel(ctx), asg.JobID, lines)
	})
	return j
}

// validateAssignment returns why an assignment cannot run on this agent, or nil.
func (x *executor) validateAssignment(a agentproto.JobAssignment) error {
	if a.JobID == "" {
		return errors.New("empty job id")
	}
	for i, t := range a.Tasks {
		if t.Runner != "" {
			if _, ok := runners[t.Runner]; !ok {
				return fmt.Errorf("task %d (%s): this agent has no runner %q", i+1, t.Name, t.Runner)
			}
			continue
		}
		if _, _, err := x.shellCommand(t.Shell); err != nil {
			return fmt.Errorf("task %d (%s): %w", i+1, t.Name, err)
		}
	}
	for _, f := range a.SecureFiles {
		if !localPath(f.Name) || strings.ContainsAny(f.Name, "/\\") || f.PathVariable == "" {
			return fmt.Errorf("secure file %q is not a valid file name", f.Name)
		}
	}
	for _, art := range a.Artifacts {
		if art.Type != agentproto.ArtifactJenkins && art.Type != agentproto.ArtifactTeamBuild {
			return fmt.Errorf("artifact %s: unknown type %q", art.Alias, art.Type)
		}
		if !localPath(art.Alias) || strings.Contains(art.Alias, "/") {
			return fmt.Errorf("artifact alias %q is not a valid directory name", art.Alias)
		}
	}
	return nil
}

// shellCommand returns the program and the arguments before the script file for a shell.
func (x *executor) shellCommand(shell string) (string, []string, error) {
	var name string
	var args []string
	switch shell {
	case "":
		if p, err := x.shellPath("bash"); err == nil {
			return p, []string{"-e"}, nil
		}
		name, args = "sh", []string{"-e"}
	case agentproto.ShellBash, agentproto.ShellSh:
		name, args = shell, []string{"-e"}
	case agentproto.ShellPwsh:
		name, args = "pwsh", []string{"-NoLogo", "-NoProfile", "-NonInteractive", "-File"}
	case agentproto.ShellCmd:
		if x.goos() != "windows" {
			return "", nil, fmt.Errorf("shell cmd runs only on Windows agents, and this agent runs %s (the job demands Agent.OS Windows_NT: pick a Windows pool, or use sh or bash)", x.goos())
		}
		name, args = "cmd.exe", []string{"/D", "/E:ON", "/V:OFF", "/S", "/C"}
	default:
		return "", nil, fmt.Errorf("unknown shell %q", shell)
	}
	p, err := x.shellPath(name)
	if err != nil {
		return "", nil, fmt.Errorf("shell %s not found on this agent", name)
	}
	return p, args, nil
}

// step reporting helpers; errors only come from persisting, which is logged.

func (j *jobRun) report(msg any, finished bool) {
	if err := j.x.spool.event(j.asg.JobID, msg, finished); err != nil {
		j.x.log.Error("recording job report", "job", j.asg.JobID, "err", err)
	}
}

// stepWriter returns the masking writer of a step's log.
func (j *jobRun) stepWriter(step int) *maskWriter {
	w := newMaskWriter(j.secrets, agentproto.MaxLineBytes, nil)
	w.emitKind = func(text, kind string) {
		j.batch.Add(agentproto.LogLine{Step: step, Time: time.Now().UTC(), Text: text, Kind: kind})
	}
	return w
}

// taskWriter returns the masking writer of a task's log, which also runs the logging commands
// the task prints and collects what they report.
func (j *jobRun) taskWriter(step int, name, dir string) (*maskWriter, *stepReport) {
	w := j.stepWriter(step)
	r := &stepReport{j: j, step: step, taskName: name, dir: dir, w: w}
	w.command, w.tooLong, w.formatted = r.commandLine, r.tooLong, r.formatted
	return w, r
}

func (j *jobRun) stepStarted(step int, name string) time.Time {
	now := time.Now().UTC()
	j.report(agentproto.StepStarted{Type: agentproto.TypeStepStarted, JobID: j.asg.JobID, Step: step, Name: name, StartedAt: now}, false)
	j.releaseHold() // its process runs (or a download starts): the reports go out
	// The next job's directory, made once this job's first process runs: neither beside its
	// fork nor at its end, where the next job's assignment may already be arriving.
	j.x.dirs.refill()
	return now
}

func (j *jobRun) stepFinished(step int, name, status string, exitCode int, started time.Time, reason string) {
	j.finishStep(step, name, status, exitCode, started, reason, nil)
}

// finishStep reports a step's end with what its logging commands said (r may be nil).
func (j *jobRun) finishStep(step int, name, status string, exitCode int, started time.Time, reason string, r *stepReport) {
	j.batch.Flush() // the step's lines precede its end
	m := agentproto.StepFinished{
		Type: agentproto.TypeStepFinished, JobID: j.asg.JobID, Step: step, Name: name, Status: status,
		ExitCode: exitCode, StartedAt: started, FinishedAt: time.Now().UTC(), Reason: reason,
	}
	if r != nil {
		r.finish(&m)
	}
	j.report(m, false)
}

// stopStatus maps the job context's cancellation cause to a job status and reason.
func (j *jobRun) stopStatus() (string, string) {
	cause := context.Cause(j.ctx)
	var ce *canceledError
	switch {
	case errors.As(cause, &ce):
		return agentproto.JobCanceled, ce.Error()
	case errors.Is(cause, errShutdown):
		return agentproto.JobCanceled, errShutdown.Error()
	case errors.Is(cause, errJobTimeout):
		return agentproto.JobFailed, fmt.Sprintf("job timed out after %ds", j.asg.TimeoutSeconds)
	default:
		return agentproto.JobCanceled, fmt.Sprint(cause)
	}
}

// execute runs the job to its end and records every report in the spool, the final JobFinished
// last. It returns the final status.
func (j *jobRun) execute() string {
	defer j.cancel(nil)
	started := time.Now().UTC()
	if j.asg.TimeoutSeconds > 0 {
		var stop context.CancelFunc
		j.ctx, stop = context.WithTimeoutCause(j.ctx, time.Duration(j.asg.TimeoutSeconds)*time.Second, errJobTimeout)
		defer stop()
	}
	status, reason := j.run()
	j.releaseHold()
	j.batch.Flush()
	if j.freeSlot != nil {
		j.freeSlot()
	}
	j.report(agentproto.JobFinished{
		Type: agentproto.TypeJobFinished, JobID: j.asg.JobID, Status: status, Reason: reason,
		LastSeq: j.x.spool.lastSeq(j.asg.JobID), StartedAt: started, FinishedAt: time.Now().UTC(),
	}, true)
	j.x.dirs.refill() // if no step started (stepStarted makes it otherwise)
	if err := os.RemoveAll(j.dir); err != nil {
		j.x.log.Warn("removing job directory", "job", j.asg.JobID, "err", err)
	}
	return status
}

// run runs the steps and returns the job's status and reason.
func (j *jobRun) run() (string, string) {
	const downloadStep = "Download artifacts"
	srcDir := filepath.Join(j.dir, "s")
	artDir := filepath.Join(j.dir, "a")
	tmpDir := filepath.Join(j.dir, "tmp")
	skipAll := func(from int) {
		for i := from; i < len(j.asg.Tasks); i++ {
			j.stepFinished(i+1, j.asg.Tasks[i].Name, agentproto.StepSkipped, -1, time.Time{}, "")
		}
	}
	if err := j.x.dirs.make(j.dir); err != nil {
		j.stepFinished(0, downloadStep, agentproto.StepFailed, -1, time.Time{}, err.Error())
		skipAll(0)
		return agentproto.JobFailed, fmt.Sprintf("preparing job directory: %v", err)
	}

	// Secure files live for the job only: removed when run returns, before the job's end is
	// reported, whatever the outcome (execute removes the whole job directory after).
	secureDir := filepath.Join(j.dir, "securefiles")
	defer func() {
		if err := os.RemoveAll(secureDir); err != nil {
			j.x.log.Warn("removing secure files", "job", j.asg.JobID, "err", err)
		}
	}()
	secureEnv, err := WriteSecureFiles(secureDir, j.asg.SecureFiles)
	if err != nil {
		j.stepFinished(0, downloadStep, agentproto.StepFailed, -1, time.Time{}, err.Error())
		skipAll(0)
		return agentproto.JobFailed, err.Error()
	}

	var downloadErr error
	if j.asg.SkipArtifactDownload || len(j.asg.Artifacts) == 0 {
		j.stepFinished(0, downloadStep, agentproto.StepSkipped, -1, time.Time{}, "")
	} else {
		t0 := j.stepStarted(0, downloadStep)
		w := j.stepWriter(0)
		d := &downloader{client: j.x.client, limits: j.x.limits, logf: func(f string, args ...any) { fmt.Fprintf(w, f+"\n", args...) }}
		var err error
		for _, a := range j.asg.Artifacts {
			fmt.Fprintf(w, "Downloading artifact %s (%s %s)\n", a.Alias, a.Type, a.BuildNumber)
			if err = d.download(j.ctx, a, filepath.Join(artDir, a.Alias)); err != nil {
				err = fmt.Errorf("artifact %s: %w", a.Alias, err)
				w.emitOwn(fmt.Sprintf("##[error] %v", err), agentproto.LineError)
				break
			}
		}
		w.Close()
		switch {
		case err != nil && j.ctx.Err() != nil:
			_, reason := j.stopStatus()
			j.stepFinished(0, downloadStep, agentproto.StepCanceled, -1, t0, reason)
		case err != nil:
			// The tasks that run after a failure (condition ALWAYS, FAILED) still run.
			downloadErr = err
			j.stepFinished(0, downloadStep, agentproto.StepFailed, -1, t0, err.Error())
		default:
			j.stepFinished(0, downloadStep, agentproto.StepSucceeded, 0, t0, "")
		}
	}

	env := append(j.environment(srcDir, artDir), secureEnv...)
	failure := ""
	if downloadErr != nil {
		failure = "downloading artifacts: " + downloadErr.Error()
	}
	partial, issues := false, false
	for i, t := range j.asg.Tasks {
		step := i + 1
		stopped := j.ctx.Err() != nil
		if stopped && errors.Is(context.Cause(j.ctx), errShutdown) {
			skipAll(i) // no cleanup on agent shutdown
			break
		}
		cond, err := condition.Parse(t.Condition)
		if err != nil {
			reason := fmt.Sprintf("invalid condition: %v", err)
			j.stepFinished(step, t.Name, agentproto.StepFailed, -1, time.Time{}, reason)
			if failure == "" && !t.ContinueOnError {
				failure = fmt.Sprintf("task %d (%s) failed: %s", step, t.Name, reason)
			}
			continue
		}
		st := condition.State{Failed: failure != "", Canceled: stopped, Variable: j.variableLookup(env)}
		if !cond.Eval(st) {
			reason := ""
			if strings.TrimSpace(t.Condition) != "" {
				reason = "condition not met: " + strings.TrimSpace(t.Condition)
			}
			j.stepFinished(step, t.Name, agentproto.StepSkipped, -1, time.Time{}, reason)
			continue
		}
		base := j.ctx
		if stopped { // a cleanup task after a cancel or a timeout: bounded
			var stop context.CancelFunc
			base, stop = context.WithTimeoutCause(context.WithoutCancel(j.ctx), j.x.cleanupTime(), errCleanupTimeout)
			defer stop()
		}
		status, reason, withIssues := j.runTask(base, stopped, i, t, env, srcDir, tmpDir)
		switch {
		case status == agentproto.StepSucceeded:
			issues = issues || withIssues
		case status == agentproto.StepCanceled:
		case t.ContinueOnError:
			partial = true
		case failure == "":
			failure = fmt.Sprintf("task %d (%s) failed: %s", step, t.Name, reason)
		}
	}
	if j.ctx.Err() != nil {
		return j.stopStatus()
	}
	if failure != "" {
		return agentproto.JobFailed, failure
	}
	if partial {
		return agentproto.JobPartiallySucceeded, "a task that continues on error failed"
	}
	if issues {
		return agentproto.JobPartiallySucceeded, "a task succeeded with issues"
	}
	return agentproto.JobSucceeded, ""
}

// variableLookup returns the job's variables as conditions and $(VAR) references see them: by
// name, through its environment form (RELEASE_ENVIRONMENTNAME for Release.EnvironmentName), the
// variables earlier tasks set winning; env is the job's environment (j.environment, and what
// follows it), of which the agent's own process environment is not part.
func (j *jobRun) variableLookup(env []string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		key := legacyEnvName(name)
		if v, ok := j.setVars[key]; ok {
			return v.value, true
		}
		// The agent's own environment (its first entries) holds no job variable: $(PWD) or
		// variables['HOME'] must not read the agent's process.
		for i := len(env) - 1; i >= len(j.x.environ); i-- {
			if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
				return v, true
			}
		}
		return "", false
	}
}

// runTask runs task i (step i+1), reports it, and returns its step status and reason, and
// whether it succeeded with issues (##vso[task.complete result=SucceededWithIssues]).
//
// base is the job's context, or for a cleanup task (one that runs after a cancel or a timeout)
// a context bounded by the agent's cleanup time.
func (j *jobRun) runTask(base context.Context, cleanup bool, i int, t agentproto.Task, env []string, srcDir, tmpDir string) (string, string, bool) {
	step := i + 1
	// The step starts when its process does (so its start time is the process's); a task that
	// cannot start still reports a start, then its failure.
	var t0 time.Time
	begin := func() {
		if t0.IsZero() {
			t0 = j.stepStarted(step, t.Name)
		}
	}
	dir := srcDir
	if t.WorkingDirectory != "" {
		dir = t.WorkingDirectory
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(srcDir, dir)
		}
	}
	w, rep := j.taskWriter(step, t.Name, dir)
	fail := func(reason string) (string, string, bool) {
		begin()
		w.emitOwn("##[error] "+reason, agentproto.LineError)
		w.Close()
		j.finishStep(step, t.Name, agentproto.StepFailed, -1, t0, reason, rep)
		return agentproto.StepFailed, reason, false
	}
	var prog string
	var args []string
	if t.Runner == "" {
		var err error
		if prog, args, err = j.x.shellCommand(t.Shell); err != nil {
			return fail(err.Error())
		}
	} else if _, ok := runners[t.Runner]; !ok {
		return fail(fmt.Sprintf("this agent has no runner %q", t.Runner))
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fail(fmt.Sprintf("working directory %s does not exist", dir))
	}
	script := ""
	if t.Runner == "" {
		ext := ".sh"
		switch t.Shell {
		case agentproto.ShellPwsh:
			ext = ".ps1"
		case agentproto.ShellCmd:
			ext = ".cmd"
		}
		script = filepath.Join(tmpDir, fmt.Sprintf("task%d%s", step, ext))
		if err := os.WriteFile(script, []byte(t.Script), 0o700); err != nil {
			return fail(fmt.Sprintf("writing script: %v", err))
		}
		defer os.Remove(script)
	}

	taskEnv := slices.Clip(env)
	for _, k := range j.setOrder { // variables earlier tasks set
		if why := refusedUserEnv(k); why != "" {
			fmt.Fprintf(w, "##[warning] the variable %s set by an earlier task is not exported: %s\n", k, why)
			continue
		}
		taskEnv = append(taskEnv, k+"="+j.setVars[k].value)
	}
	for _, k := range slices.Sorted(maps.Keys(t.Env)) {
		if why := refusedUserEnv(k); why != "" {
			fmt.Fprintf(w, "##[warning] the task's env entry %s is not exported: %s\n", k, why)
			continue
		}
		taskEnv = append(taskEnv, k+"="+t.Env[k])
	}
	for _, d := range j.dropped {
		fmt.Fprintf(w, "##[warning] %s\n", d)
	}
	expanded := map[string]string{}
	if len(t.Inputs) > 0 { // a template's inputs, $(VAR) expanded now
		lookup := j.variableLookup(taskEnv)
		for _, k := range slices.Sorted(maps.Keys(t.Inputs)) {
			expanded[k] = tasklib.Expand(t.Inputs[k], lookup)
			taskEnv = append(taskEnv, k+"="+expanded[k])
		}
		for _, k := range t.SecretInputs {
			if v := expanded[k]; v != "" {
				j.secrets = append(j.secrets, v)
				w.addSecret(v)
			}
		}
	}
	if t.Runner == "" && (len(t.Inputs) > 0 || t.Endpoint != nil) { // runners read t.Endpoint
		epEnv, removeEndpoint, err := endpointEnv(t, tmpDir, step)
		defer removeEndpoint()
		if err != nil {
			return fail(err.Error())
		}
		taskEnv = append(taskEnv, epEnv...)
	}
	ctx := base
	if t.TimeoutSeconds > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, time.Duration(t.TimeoutSeconds)*time.Second, errTaskTimout)
		defer stop()
	}
	var code int
	var err error
	if t.Runner != "" {
		begin()
		rc := &runContext{j: j, step: step, task: t, inputs: expanded, dir: dir, env: taskEnv, w: w, rep: rep}
		if err = runners[t.Runner](ctx, rc); err != nil {
			code = 1
			if ctx.Err() == nil {
				err = errors.New(rc.w.mask([]byte(err.Error())))
			}
		}
	} else {
		if jobstages.Enabled() {
			id, _ := strconv.Atoi(j.asg.JobID)
			jobstages.Stamp(id, "agent forks")
		}
		p := process{path: prog, args: append(args, script), dir: dir, env: taskEnv, out: w, grace: j.x.killGrace, started: begin}
		code, err = p.run(ctx)
	}
	begin()
	w.Close()
	status, reason := agentproto.StepSucceeded, ""
	switch {
	case cleanup && base.Err() != nil:
		status, reason = agentproto.StepFailed, fmt.Sprintf("cleanup time of %s exceeded (the job was stopped)", j.x.cleanupTime())
	case !cleanup && j.ctx.Err() != nil:
		_, reason = j.stopStatus()
		status = agentproto.StepCanceled
		if errors.Is(context.Cause(j.ctx), errJobTimeout) {
			status = agentproto.StepFailed
		}
	case ctx.Err() != nil:
		status, reason = agentproto.StepFailed, fmt.Sprintf("timed out after %ds", t.TimeoutSeconds)
	case err != nil:
		status, reason = agentproto.StepFailed, err.Error()
	case code != 0:
		status, reason = agentproto.StepFailed, fmt.Sprintf("exit code %d", code)
	case rep.result == "failed":
		status, reason = agentproto.StepFailed, cmp.Or(rep.resultMessage, "the task reported result Failed")
	}
	if status != agentproto.StepSucceeded {
		j.batch.Add(agentproto.LogLine{Step: step, Time: time.Now().UTC(), Text: "##[error] " + reason, Kind: agentproto.LineError})
	}
	j.finishStep(step, t.Name, status, code, t0, reason, rep)
	return status, reason, status == agentproto.StepSucceeded && rep.result == "succeededwithissues"
}

// environment returns the base environment of the job's tasks: the agent's environment, the
// release variables, the user variables and the artifact paths under the names the server chose
// (agentproto.Variable.EnvName, Artifact.PathVariable), and the paths only the agent knows.
// Later entries win (os/exec keeps the last of duplicate keys).
func (j *jobRun) environment(srcDir, artDir string) []string {
	env := append([]string(nil), j.x.environ...)
	j.dropped = nil
	drop := func(what, name, why string) {
		j.dropped = append(j.dropped, fmt.Sprintf("%s %s is not exported: %s", what, name, why))
	}
	for _, k := range slices.Sorted(maps.Keys(j.asg.ReleaseVariables)) {
		if why := refusedStartEnv(k); why != "" {
			drop("the release variable", k, why)
			continue
		}
		env = append(env, k+"="+j.asg.ReleaseVariables[k])
	}
	for _, v := range j.asg.Variables {
		name := cmp.Or(v.EnvName, legacyEnvName(v.Name))
		if why := refusedUserEnv(name); why != "" {
			drop("the variable", name, why)
			continue
		}
		env = append(env, name+"="+v.Value)
	}
	for _, a := range j.asg.Artifacts {
		name := cmp.Or(a.PathVariable, "RELEASE_ARTIFACTS_"+legacyEnvName(a.Alias)+"_PATH")
		if why := refusedStartEnv(name); why != "" {
			drop("the artifact path variable", name, why)
			continue
		}
		env = append(env, name+"="+filepath.Join(artDir, a.Alias))
	}
	return append(env,
		"SYSTEM_DEFAULTWORKINGDIRECTORY="+srcDir,
		"SYSTEM_ARTIFACTSDIRECTORY="+artDir,
		"AGENT_JOBID="+j.asg.JobID,
		"RELEASE_DEPLOYMENTID="+j.asg.DeploymentID,
	)
}

// refusedStartEnv says why name (compared without case) may not be exported by any source:
// it changes how a task's process starts (internal/envnames, the server's list too, applied
// here again so that an agent never exports such a name whatever a server sends).
func refusedStartEnv(name string) string {
	if ok, prefix := envnames.ChangesStartOnly(name); ok {
		if prefix != "" {
			return "names starting with " + prefix + " change how a task's process starts"
		}
		return "it changes how a task's process starts"
	}
	return ""
}

// refusedUserEnv is refusedStartEnv for user variables and task env entries, which may not set
// Cairn's own names (RELEASE_*, AGENT_*, SYSTEM_*) either; the release variables the server
// computes are RELEASE_* by design.
func refusedUserEnv(name string) string {
	if why := refusedStartEnv(name); why != "" {
		return why
	}
	if kind, prefix := envnames.Check(name); kind == envnames.Own {
		return "names starting with " + prefix + " are Cairn's own"
	}
	return ""
}

// legacyEnvName names a variable for a server that sends no names (before
// agentproto.Variable.EnvName and Artifact.PathVariable): the server's rule, upper case with
// every character but [A-Z0-9_] replaced by "_". Current servers name every variable
// themselves; remove this with the next subprotocol.
func legacyEnvName(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			return r
		default:
			return '_'
		}
	}, name)
}

// defaultLookPath is exec.LookPath.
func defaultLookPath(name string) (string, error) { return exec.LookPath(name) }

// WriteSecureFiles writes the secure files of a job into dir (created 0700, each file 0600) and
// returns the environment entries PathVariable=path that expose them to tasks. The caller
// removes dir when the job ends. It is the one way secure files reach disk, for the job-level
// setting and for a task that downloads one.
func WriteSecureFiles(dir string, files []agentproto.SecureFile) ([]string, error) {
	if len(files) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("preparing secure files: %w", err)
	}
	env := make([]string, 0, len(files))
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		if err := os.WriteFile(path, f.Content, 0o600); err != nil {
			return nil, fmt.Errorf("writing secure file %s: %w", f.Name, err)
		}
		env = append(env, f.PathVariable+"="+path)
	}
	return env, nil
}
