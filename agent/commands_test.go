package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/agentproto"
)

func TestParseCommand(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		line, area, event, data string
		props                   map[string]string
		err                     string
	}{
		{line: "##vso[task.setvariable variable=X;isSecret=true]va%3Blue%5D%0A%AZP253B", area: "task", event: "setvariable",
			props: map[string]string{"variable": "X", "issecret": "true"}, data: "va;lue]\n%3B"},
		{line: "  ##vso[Task.LogIssue type=warning;sourcepath=a%3Bb.sh;linenumber=3]careful", area: "task", event: "logissue",
			props: map[string]string{"type": "warning", "sourcepath": "a;b.sh", "linenumber": "3"}, data: "careful"},
		{line: "##vso[task.complete]", area: "task", event: "complete", props: map[string]string{}},
		// "]" inside a value must be escaped: the first "]" ends the properties.
		{line: "##vso[task.setvariable variable=X]]]", area: "task", event: "setvariable",
			props: map[string]string{"variable": "X"}, data: "]]"},
		{line: "##vso[task.setvariable variable=X", err: "no closing ']'"},
		{line: "##vso[task variable=X]v", err: "is not area.event"},
		{line: "##vso[task.set;variable variable=X]v", err: "is not area.event"},
		{line: "##vso[task.setvariable variable]v", err: "is not key=value"},
		{line: "##vso[]", err: "is not area.event"},
	} {
		c, err := parseCommand(tt.line)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.line, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.line, err)
			continue
		}
		if c.area != tt.area || c.event != tt.event || c.data != tt.data || len(c.props) != len(tt.props) {
			t.Errorf("%q: got %+v", tt.line, c)
		}
		for k, v := range tt.props {
			if c.props[k] != v {
				t.Errorf("%q: prop %s = %q, want %q", tt.line, k, c.props[k], v)
			}
		}
	}
}

func TestLineKind(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]string{
		"##[group]Build": "group", "##[endgroup]": "endgroup", "##[section]Deploy": "section",
		"##[WARNING]w": "warning", "##[error] e": "error", "##[command]ls": "command", "##[debug]d": "debug",
		"##[other]x": "", " ##[error]x": "", "plain": "", "##[error": "",
	} {
		if got := lineKind(text); got != want {
			t.Errorf("lineKind(%q) = %q, want %q", text, got, want)
		}
	}
}

// FuzzParseCommand: any line parses or is refused with an error; never a panic, and what parses
// is well formed.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"##vso[task.setvariable variable=X;isSecret=true;isOutput=true]value",
		"##vso[task.logissue type=error]bad", "##vso[task.complete result=Failed]", "##vso[a.b ;;=;x=]]]",
		"##vso[task.setprogress value=50]half", "##vso[task.uploadfile]../../etc/passwd", "##vso[%AZP25.x]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := parseCommand(line)
		if err != nil {
			return
		}
		if c.area == "" || c.event == "" || strings.ContainsAny(c.area+c.event, ".] ;") {
			t.Fatalf("%q parsed to %+v", line, c)
		}
	})
}

// FuzzTaskOutput: whatever a task prints, the writer that runs its logging commands neither
// panics, and every line and the issue list fit the wire.
func FuzzTaskOutput(f *testing.F) {
	for _, s := range []string{
		"##vso[task.setvariable variable=TOKEN;issecret=true]s3cr3t-value\nTOKEN is s3cr3t-value\n",
		"##vso[task.setvariable variable=PATH]x\n##vso[task.logissue type=bogus]x\n##vso[x.y]z\n",
		"##vso[task.setprogress value=101]\n##vso[task.complete result=Maybe]\n##[group]g\n##[endgroup]\n",
		"   ##vso[task.uploadfile]nothere\n##vso[task.setvariable variable=A;isOutput=true]" + strings.Repeat("v", 40000) + "\n",
	} {
		f.Add([]byte(s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, out []byte, chunk uint8) {
		x := newTestExecutor(t)
		j := x.newJobRun(t.Context(), agentproto.JobAssignment{JobID: "fuzz"})
		x.spool.addJob("fuzz")
		var lines []agentproto.LogLine
		w, rep := j.taskWriter(1, "T", t.TempDir())
		w.emitKind = func(text, kind string) { lines = append(lines, agentproto.LogLine{Text: text, Kind: kind}) }
		step := int(chunk) + 1
		for len(out) > 0 {
			n := min(step, len(out))
			w.Write(out[:n])
			out = out[n:]
		}
		w.Close()
		var m agentproto.StepFinished
		rep.finish(&m)
		for _, l := range lines {
			if len(l.Text) > agentproto.MaxLineBytes+64 {
				t.Fatalf("line of %d bytes", len(l.Text))
			}
		}
		if len(m.Issues) > agentproto.MaxIssuesPerStep {
			t.Fatalf("%d issues", len(m.Issues))
		}
	})
}

// TestLoggingCommands runs real scripts that talk back: variables reach later tasks, a secret is
// masked from the moment it is set, issues are counted, a task may fail or succeed with issues
// by command, progress and files are reported, formatting lines keep their kinds, and hostile
// command lines are refused with warnings while the job goes on.
func TestLoggingCommands(t *testing.T) {
	t.Parallel()
	x := newTestExecutor(t)
	huge := strings.Repeat("A", agentproto.MaxCommandBytes+10)
	tasks := []agentproto.Task{
		{Name: "Set", Shell: "bash", Script: `
echo "##vso[task.setvariable variable=plain.name]hello world"
echo "##vso[task.setvariable variable=TOKEN;issecret=true]tok-123-secret"
echo "same step: tok-123-secret"
echo "##vso[task.setvariable variable=url;isOutput=true]https://web.example/"
echo "##vso[task.logissue type=warning;sourcepath=deploy.sh;linenumber=7]disk almost full"
echo "##vso[task.logissue type=error]not fatal"
echo "##[group]Details"
echo "##[warning]formatted warning"
echo "##[endgroup]"
echo "##vso[task.setprogress value=40]copying"
echo "report" > report.txt
echo "##vso[task.uploadfile]report.txt"
`},
		{Name: "Use", Shell: "bash", Script: `
echo "plain=$PLAIN_NAME token=$TOKEN url=$URL qualified=$SET_URL"
echo "##vso[task.setvariable variable=RELEASE_RELEASENAME]hijack"
echo "##vso[task.setvariable variable=BASH_ENV]/tmp/evil"
echo "##vso[task.setvariable variable=bad name]x"
echo "##vso[task.unknown x=1]y"
echo "##vso[task.setprogress value=500]"
echo "##vso[task.uploadfile]/nonexistent/file"
printf '##vso[task.setvariable variable=BIG]%s\n' "` + huge + `"
echo "after the big one"
echo "##vso[task.complete result=SucceededWithIssues]some checks skipped"
`},
		{Name: "Fail by command", Shell: "bash", ContinueOnError: true, Script: `
echo "##vso[task.complete result=Failed]smoke test failed"
exit 0
`},
		{Name: "Still runs", Shell: "bash", Script: `echo "big=${BIG:-unset} release=$RELEASE_RELEASENAME"`},
	}
	o := runJob(t, x, agentproto.JobAssignment{JobID: "cmds", SkipArtifactDownload: true, Tasks: tasks,
		ReleaseVariables: map[string]string{"RELEASE_RELEASENAME": "Release-1"}})
	all := strings.Join(slices.Concat(o.text(1), o.text(2), o.text(3), o.text(4)), "\n")
	if strings.Contains(all, "tok-123-secret") {
		t.Fatalf("secret printed:\n%s", all)
	}
	if strings.Contains(all, huge[:100]) {
		t.Fatalf("over-long command printed")
	}
	if !slices.Contains(o.text(1), "same step: ***") {
		t.Errorf("secret not masked in its own step: %q", o.text(1))
	}
	if !slices.Contains(o.text(2), "plain=hello world token=*** url=https://web.example/ qualified=https://web.example/") {
		t.Errorf("variables not passed on: %q", o.text(2))
	}
	if !slices.Contains(o.text(4), "big=unset release=Release-1") {
		t.Errorf("refused variables were set: %q", o.text(4))
	}
	s1 := o.steps[1]
	if s1.Status != agentproto.StepSucceeded || s1.ErrorCount != 1 || s1.WarningCount != 2 || len(s1.Issues) != 3 {
		t.Errorf("step 1: %+v", s1)
	}
	if s1.Issues[0] != (agentproto.Issue{Type: "warning", Message: "disk almost full", SourcePath: "deploy.sh", LineNumber: 7}) {
		t.Errorf("first issue %+v", s1.Issues[0])
	}
	if s1.Progress == nil || *s1.Progress != 40 {
		t.Errorf("progress %v", s1.Progress)
	}
	if len(s1.OutputVariables) != 1 || s1.OutputVariables[0] != (agentproto.Variable{Name: "url", Value: "https://web.example/"}) {
		t.Errorf("output variables %+v", s1.OutputVariables)
	}
	kinds := map[string]string{}
	for _, l := range o.lines {
		if l.Kind != "" {
			kinds[l.Text] = l.Kind
		}
	}
	for text, kind := range map[string]string{"##[group]Details": "group", "##[endgroup]": "endgroup",
		"##[warning]formatted warning": "warning", "##[warning]disk almost full": "warning",
		"##[command]Set secret variable TOKEN": "command"} {
		if kinds[text] != kind {
			t.Errorf("line %q: kind %q, want %q (kinds %v)", text, kinds[text], kind, kinds)
		}
	}
	s2 := o.steps[2]
	if s2.Status != agentproto.StepSucceeded || !s2.SucceededWithIssues || s2.WarningCount != 7 {
		t.Errorf("step 2: %+v", s2)
	}
	for _, want := range []string{"RELEASE_* variables", "BASH_ENV would change", "is not a variable name",
		"unknown logging command task.unknown", "not a number from 0 to 100", "no such file", "longer than 65536 bytes"} {
		found := false
		for _, is := range s2.Issues {
			found = found || strings.Contains(is.Message, want)
		}
		if !found {
			t.Errorf("no warning %q in %+v", want, s2.Issues)
		}
	}
	if !slices.Contains(o.text(2), "after the big one") {
		t.Errorf("output after the over-long command lost: %q", o.text(2))
	}
	if s3 := o.steps[3]; s3.Status != agentproto.StepFailed || s3.Reason != "smoke test failed" {
		t.Errorf("step 3: %+v", s3)
	}
	if o.finished.Status != agentproto.JobPartiallySucceeded {
		t.Errorf("job %s (%s)", o.finished.Status, o.finished.Reason)
	}
	// The progress and the file went out as their own messages.
	var progress []agentproto.StepProgress
	var files []agentproto.Attachment
	x.spool.mu.Lock()
	for _, ev := range x.spool.jobs["cmds"].events {
		var h agentproto.Header
		json.Unmarshal(ev.Msg, &h)
		switch h.Type {
		case agentproto.TypeStepProgress:
			var m agentproto.StepProgress
			json.Unmarshal(ev.Msg, &m)
			progress = append(progress, m)
		case agentproto.TypeAttachment:
			var m agentproto.Attachment
			json.Unmarshal(ev.Msg, &m)
			files = append(files, m)
		}
	}
	x.spool.mu.Unlock()
	if len(progress) != 1 || progress[0].Percent != 40 || progress[0].Text != "copying" || progress[0].Step != 1 {
		t.Errorf("progress messages %+v", progress)
	}
	if len(files) != 1 || files[0].Name != "report.txt" || string(files[0].Data) != "report\n" || files[0].Step != 1 {
		t.Errorf("attachments %+v", files)
	}
}

// TestUploadFileTooLarge: a file over the cap is refused, not sent.
func TestUploadFileTooLarge(t *testing.T) {
	t.Parallel()
	x := newTestExecutor(t)
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(big, make([]byte, agentproto.MaxAttachmentBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	o := runJob(t, x, agentproto.JobAssignment{JobID: "upload", SkipArtifactDownload: true, Tasks: []agentproto.Task{
		{Name: "up", Shell: "bash", Script: "echo '##vso[task.uploadfile]" + big + "'"}}})
	if s := o.steps[1]; s.WarningCount != 1 || !strings.Contains(s.Issues[0].Message, "larger than") {
		t.Errorf("step %+v", s)
	}
}

// TestTaskConditions: after a failure only the tasks whose condition asks for it run; an
// expression reads the job's variables, those set by earlier tasks included.
func TestTaskConditions(t *testing.T) {
	t.Parallel()
	x := newTestExecutor(t)
	o := runJob(t, x, agentproto.JobAssignment{JobID: "conds", SkipArtifactDownload: true,
		ReleaseVariables: map[string]string{"RELEASE_ENVIRONMENTNAME": "QA"},
		Variables:        []agentproto.Variable{{Name: "target", EnvName: "TARGET", Value: "prod"}},
		Tasks: []agentproto.Task{
			{Name: "set", Shell: "bash", Script: `echo "##vso[task.setvariable variable=stage]two"`},
			{Name: "only if set", Shell: "bash", Condition: "eq(variables['stage'], 'two')", Script: "echo stage-two"},
			{Name: "breaks", Shell: "bash", Script: "exit 3"},
			{Name: "default", Shell: "bash", Script: "echo never"},
			{Name: "always", Shell: "bash", Condition: "ALWAYS", Script: "echo cleanup"},
			{Name: "on failure", Shell: "bash", Condition: "failed", Script: "echo notify"},
			{Name: "expression implies succeeded", Shell: "bash", Condition: "eq(variables['target'], 'PROD')", Script: "echo never"},
			{Name: "expression with always", Shell: "bash", Condition: "and(always(), eq(variables['Release.EnvironmentName'], 'qa'))", Script: "echo qa"},
			{Name: "on cancel", Shell: "bash", Condition: "canceled()", Script: "echo never"},
			{Name: "bad", Shell: "bash", Condition: "eq(", Script: "echo never"},
		}})
	want := []string{"SUCCEEDED", "SUCCEEDED", "FAILED", "SKIPPED", "SUCCEEDED", "SUCCEEDED", "SKIPPED", "SUCCEEDED", "SKIPPED", "FAILED"}
	for i, w := range want {
		if got := o.steps[i+1].Status; got != w {
			t.Errorf("step %d (%s): %s (%s), want %s", i+1, o.steps[i+1].Name, got, o.steps[i+1].Reason, w)
		}
	}
	if r := o.steps[7].Reason; r != "condition not met: eq(variables['target'], 'PROD')" {
		t.Errorf("skip reason %q", r)
	}
	if r := o.steps[10].Reason; !strings.Contains(r, "invalid condition") {
		t.Errorf("bad condition reason %q", r)
	}
	if o.finished.Status != agentproto.JobFailed || o.finished.Reason != "task 3 (breaks) failed: exit code 3" {
		t.Errorf("job %s (%s)", o.finished.Status, o.finished.Reason)
	}
	if !slices.Contains(o.text(5), "cleanup") || !slices.Contains(o.text(6), "notify") || !slices.Contains(o.text(8), "qa") {
		t.Errorf("log %q %q %q", o.text(5), o.text(6), o.text(8))
	}
}

// TestCleanupTasksOnCancel: a canceled job still runs its ALWAYS and CANCELED tasks, each for at
// most the cleanup time, and ends CANCELED.
func TestCleanupTasksOnCancel(t *testing.T) {
	t.Parallel()
	x := newTestExecutor(t)
	x.cleanup = 500 * time.Millisecond
	asg := agentproto.JobAssignment{JobID: "cleanup", SkipArtifactDownload: true, Tasks: []agentproto.Task{
		{Name: "long", Shell: "bash", Script: "echo started\nsleep 600"},
		{Name: "default", Shell: "bash", Script: "echo never"},
		{Name: "cleanup", Shell: "bash", Condition: "ALWAYS", Script: "echo cleaning"},
		{Name: "slow cleanup", Shell: "bash", Condition: "canceled()", Script: "echo slow\nsleep 600"},
		{Name: "on failure", Shell: "bash", Condition: "FAILED", Script: "echo never"},
	}}
	x.spool.addJob(asg.JobID)
	j := x.newJobRun(t.Context(), asg)
	done := make(chan struct{})
	go func() { j.execute(); close(done) }()
	deadline := time.After(15 * time.Second)
	for started := false; !started; {
		x.spool.mu.Lock()
		changed := x.spool.changed
		for _, l := range x.spool.jobs[asg.JobID].lines {
			started = started || l.Text == "started"
		}
		x.spool.mu.Unlock()
		if started {
			break
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatal("task never started")
		}
	}
	j.cancel(&canceledError{reason: "stop it"})
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("job still running 20s after cancel")
	}
	o := outcome(t, x.spool, asg.JobID)
	want := []string{"CANCELED", "SKIPPED", "SUCCEEDED", "FAILED", "SKIPPED"}
	for i, w := range want {
		if got := o.steps[i+1].Status; got != w {
			t.Errorf("step %d (%s): %s (%s), want %s", i+1, o.steps[i+1].Name, got, o.steps[i+1].Reason, w)
		}
	}
	if !strings.Contains(o.steps[4].Reason, "cleanup time of 500ms exceeded") || !slices.Contains(o.text(3), "cleaning") {
		t.Errorf("cleanup steps: %+v, log %q", o.steps[4], o.text(3))
	}
	if o.finished.Status != agentproto.JobCanceled || !strings.Contains(o.finished.Reason, "stop it") {
		t.Errorf("job %s (%s)", o.finished.Status, o.finished.Reason)
	}
}
