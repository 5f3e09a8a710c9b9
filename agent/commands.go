package agent

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cairnhq/cairn/agentproto"
	"github.com/cairnhq/cairn/internal/envnames"
)

// Logging commands: what a task prints to talk back (Azure Pipelines' "##vso[…]" commands and
// "##[…]" formatting), parsed here and reported as typed messages (agentproto, "Logging commands").

const (
	commandPrefix = "##vso["
	formatPrefix  = "##["
)

// command is one parsed logging command: ##vso[area.event k=v;k=v]data.
type command struct {
	area, event string            // lower case: "task", "setvariable"
	props       map[string]string // keys lower case, values unescaped
	data        string            // unescaped
}

var commandName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,63}\.[A-Za-z][A-Za-z0-9]{0,63}$`)

// isCommandLine reports whether line is a logging command: it starts, after blanks, with ##vso[.
// A command quoted in the middle of a line (a shell trace, a log) is output, not a command.
func isCommandLine(line []byte) bool {
	t := strings.TrimLeft(string(line[:min(len(line), 64)]), " \t")
	return strings.HasPrefix(t, commandPrefix)
}

// mayBecomeCommand reports whether an unterminated line could still turn out to be a command
// line once more bytes arrive.
func mayBecomeCommand(buf []byte) bool {
	head := string(buf[:min(len(buf), 64)])
	t := strings.TrimLeft(head, " \t")
	if len(head)-len(t) > 16 {
		return false // an indented line of output, not a command
	}
	if len(t) < len(commandPrefix) {
		return strings.HasPrefix(commandPrefix, t)
	}
	return strings.HasPrefix(t, commandPrefix)
}

// parseCommand parses a logging command line (isCommandLine). It never panics; a malformed line
// gets an error that says what is wrong, in words a task author understands.
func parseCommand(line string) (command, error) {
	t := strings.TrimLeft(line, " \t")
	if !strings.HasPrefix(t, commandPrefix) {
		return command{}, errors.New("not a logging command")
	}
	t = t[len(commandPrefix):]
	end := strings.IndexByte(t, ']')
	if end < 0 {
		return command{}, errors.New("malformed logging command: no closing ']'")
	}
	head, data := t[:end], t[end+1:]
	name, rest, _ := strings.Cut(head, " ")
	if !commandName.MatchString(name) {
		return command{}, fmt.Errorf("malformed logging command: %q is not area.event", truncate(name, 80))
	}
	area, event, _ := strings.Cut(strings.ToLower(name), ".")
	c := command{area: area, event: event, props: map[string]string{}, data: unescapeCommand(data)}
	for p := range strings.SplitSeq(rest, ";") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, v, ok := strings.Cut(p, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			return command{}, fmt.Errorf("malformed logging command %s.%s: property %q is not key=value", area, event, truncate(p, 80))
		}
		if len(c.props) >= 32 {
			return command{}, fmt.Errorf("malformed logging command %s.%s: too many properties", area, event)
		}
		c.props[k] = unescapeCommand(strings.TrimSpace(v))
	}
	return c, nil
}

// unescapeCommand undoes Azure's escaping of logging command values: ";" as %3B, "]" as %5D,
// CR and LF as %0D and %0A, and "%" itself as %AZP25 (done last, so that "%AZP253B" is "%3B").
var commandUnescaper = strings.NewReplacer("%3B", ";", "%3b", ";", "%5D", "]", "%5d", "]",
	"%0D", "\r", "%0d", "\r", "%0A", "\n", "%0a", "\n", "%AZP25", "%")

func unescapeCommand(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	return commandUnescaper.Replace(s)
}

// lineKind returns the agentproto.Line* kind of an output line from its formatting prefix.
func lineKind(text string) string {
	if !strings.HasPrefix(text, formatPrefix) {
		return ""
	}
	k, _, ok := strings.Cut(text[len(formatPrefix):], "]")
	if !ok {
		return ""
	}
	switch k = strings.ToLower(k); k {
	case agentproto.LineGroup, agentproto.LineEndGroup, agentproto.LineSection, agentproto.LineWarning,
		agentproto.LineError, agentproto.LineCommand, agentproto.LineDebug:
		return k
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Limits of what a command may set.
const (
	maxVariableName  = 256
	maxVariableValue = 32 << 10
	maxProgressText  = 256
)

var variableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-]*$`)

// protectedVariable reports why a task may not set the variable with this environment name
// through task.setvariable, or "": the names internal/envnames refuses (those the agent and the
// server export themselves, and those that would change how every later task starts), and
// BUILD_* (Azure's build variables, which a release task must not fake).
func protectedVariable(env string) string {
	switch kind, prefix := envnames.Check(env); {
	case kind == envnames.Own:
		return "the " + prefix + "* variables are set by the server and the agent"
	case kind == envnames.ChangesStart:
		return env + " would change how every later task starts"
	}
	if strings.HasPrefix(strings.ToUpper(env), "BUILD_") {
		return "the BUILD_* variables are set by the server and the agent"
	}
	return ""
}

// jobVariable is a variable set by a task of the job, exported to the job's later tasks.
type jobVariable struct {
	envName, value string
	// name is the variable's name as the task wrote it (FileTransform matches keys with it).
	name string
}

// stepReport collects what a running step said through logging commands; runTask turns it into
// the StepFinished members.
type stepReport struct {
	j        *jobRun
	step     int
	taskName string
	dir      string // the task's working directory, for relative upload paths
	w        *maskWriter

	issues           []agentproto.Issue
	errors, warnings int
	result           string // task.complete: "", "succeeded", "succeededwithissues", "failed"
	resultMessage    string
	progress         *int
	outputs          []agentproto.Variable
	uploaded         map[string]bool
}

// issue records an issue of the step.
func (r *stepReport) issue(typ, message, sourcePath string, line int) {
	if typ == agentproto.IssueError {
		r.errors++
	} else {
		r.warnings++
	}
	if len(r.issues) < agentproto.MaxIssuesPerStep {
		r.issues = append(r.issues, agentproto.Issue{Type: typ, Message: truncate(message, agentproto.MaxIssueBytes),
			SourcePath: truncate(sourcePath, 1024), LineNumber: line})
	}
}

// refuse reports a command the agent did not run: a warning line and a warning issue.
func (r *stepReport) refuse(reason string) {
	r.w.emitOwn("##[warning]"+reason, agentproto.LineWarning)
	r.issue(agentproto.IssueWarning, r.w.mask([]byte(reason)), "", 0)
}

// tooLong is called for a command line longer than agentproto.MaxCommandBytes.
func (r *stepReport) tooLong() {
	r.refuse(fmt.Sprintf("logging command ignored: longer than %d bytes", agentproto.MaxCommandBytes))
}

// commandLine runs one logging command line. It never fails the job by itself: a bad command
// is refused with a warning.
func (r *stepReport) commandLine(raw []byte) {
	if len(raw) > agentproto.MaxCommandBytes {
		r.tooLong()
		return
	}
	c, err := parseCommand(strings.ToValidUTF8(string(raw), "\uFFFD"))
	if err != nil {
		r.refuse(err.Error())
		return
	}
	say := func(format string, args ...any) {
		r.w.emitOwn("##[command]"+fmt.Sprintf(format, args...), agentproto.LineCommand)
	}
	switch c.area + "." + c.event {
	case "task.setvariable":
		r.setVariable(c, say)
	case "task.logissue":
		typ := strings.ToLower(c.props["type"])
		if typ != agentproto.IssueError && typ != agentproto.IssueWarning {
			r.refuse(fmt.Sprintf("task.logissue: type %q is not error or warning", truncate(c.props["type"], 40)))
			return
		}
		line, _ := strconv.Atoi(c.props["linenumber"])
		msg := r.w.mask([]byte(c.data))
		r.w.emitOwn("##["+typ+"]"+c.data, typ)
		r.issue(typ, msg, r.w.mask([]byte(c.props["sourcepath"])), max(line, 0))
	case "task.complete":
		res := strings.ToLower(c.props["result"])
		switch res {
		case "succeeded", "succeededwithissues", "failed":
		case "":
			res = "succeeded"
		default:
			r.refuse(fmt.Sprintf("task.complete: result %q is not Succeeded, SucceededWithIssues or Failed", truncate(c.props["result"], 40)))
			return
		}
		r.result, r.resultMessage = res, truncate(r.w.mask([]byte(c.data)), 1024)
		say("Task result set to %s", c.props["result"])
	case "task.setprogress":
		v, err := strconv.Atoi(strings.TrimSpace(c.props["value"]))
		if err != nil || v < 0 || v > 100 {
			r.refuse(fmt.Sprintf("task.setprogress: value %q is not a number from 0 to 100", truncate(c.props["value"], 40)))
			return
		}
		r.progress = &v
		r.j.report(agentproto.StepProgress{Type: agentproto.TypeStepProgress, JobID: r.j.asg.JobID, Step: r.step,
			Percent: v, Text: truncate(r.w.mask([]byte(c.data)), maxProgressText)}, false)
	case "task.uploadfile":
		r.upload(c.data, say)
	default:
		r.refuse(fmt.Sprintf("unknown logging command %s.%s (ignored)", c.area, c.event))
	}
}

// setVariable runs task.setvariable.
func (r *stepReport) setVariable(c command, say func(string, ...any)) {
	name := strings.TrimSpace(c.props["variable"])
	if name == "" {
		r.refuse("task.setvariable: no variable name (variable=NAME)")
		return
	}
	if len(name) > maxVariableName || !variableName.MatchString(name) {
		r.refuse(fmt.Sprintf("task.setvariable: %q is not a variable name (letters, digits, _ . -)", truncate(name, 80)))
		return
	}
	if len(c.data) > maxVariableValue {
		r.refuse(fmt.Sprintf("task.setvariable %s: value longer than %d bytes", name, maxVariableValue))
		return
	}
	env := legacyEnvName(name)
	if why := protectedVariable(env); why != "" {
		r.refuse(fmt.Sprintf("task.setvariable %s: not set, %s", name, why))
		return
	}
	secret := parseBool(c.props["issecret"])
	output := parseBool(c.props["isoutput"])
	j := r.j
	if _, known := j.setVars[env]; !known && len(j.setVars) >= agentproto.MaxOutputVariables {
		r.refuse(fmt.Sprintf("task.setvariable %s: a job may set at most %d variables", name, agentproto.MaxOutputVariables))
		return
	}
	if j.readOnly[env] {
		r.refuse(fmt.Sprintf("task.setvariable %s: the variable is read-only", name))
		return
	}
	if secret {
		// Masked from this moment on: in this step's later lines and in every later step.
		j.secrets = append(j.secrets, c.data)
		r.w.addSecret(c.data)
	}
	if parseBool(c.props["isreadonly"]) {
		j.readOnly[env] = true
	}
	j.setVars[env] = jobVariable{envName: env, name: name, value: c.data}
	j.setOrder = append(slices.DeleteFunc(j.setOrder, func(s string) bool { return s == env }), env)
	kind := "variable"
	if secret {
		kind = "secret variable"
	}
	if output {
		kind = "output " + kind
		r.outputs = slices.DeleteFunc(r.outputs, func(v agentproto.Variable) bool { return v.Name == name })
		r.outputs = append(r.outputs, agentproto.Variable{Name: name, Value: c.data, Secret: secret})
		// The job's later tasks also see it under its qualified name, as later jobs will.
		q := legacyEnvName(r.taskName + "." + name)
		if protectedVariable(q) == "" {
			j.setVars[q] = jobVariable{envName: q, name: r.taskName + "." + name, value: c.data}
			j.setOrder = append(slices.DeleteFunc(j.setOrder, func(s string) bool { return s == q }), q)
		}
	}
	say("Set %s %s", kind, name)
}

// upload runs task.uploadfile: the file is sent to the server as an attachment of the step.
func (r *stepReport) upload(path string, say func(string, ...any)) {
	path = strings.TrimSpace(path)
	if path == "" {
		r.refuse("task.uploadfile: no file path")
		return
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(r.dir, path)
	}
	if r.j.attachments >= agentproto.MaxAttachmentsPerJob {
		r.refuse(fmt.Sprintf("task.uploadfile: a job may upload at most %d files", agentproto.MaxAttachmentsPerJob))
		return
	}
	f, err := os.Open(path)
	if err != nil {
		r.refuse(fmt.Sprintf("task.uploadfile: %v", err))
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		r.refuse(fmt.Sprintf("task.uploadfile: %s is not a regular file", path))
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, agentproto.MaxAttachmentBytes+1))
	if err != nil {
		r.refuse(fmt.Sprintf("task.uploadfile: reading %s: %v", path, err))
		return
	}
	if len(data) > agentproto.MaxAttachmentBytes {
		r.refuse(fmt.Sprintf("task.uploadfile: %s is larger than %d bytes (not uploaded)", path, agentproto.MaxAttachmentBytes))
		return
	}
	name := truncate(filepath.Base(path), 200)
	if r.uploaded == nil {
		r.uploaded = map[string]bool{}
	}
	for i, base := 2, name; r.uploaded[name]; i++ {
		name = fmt.Sprintf("%s (%d)", base, i)
	}
	r.uploaded[name] = true
	r.j.attachments++
	r.j.report(agentproto.Attachment{Type: agentproto.TypeAttachment, JobID: r.j.asg.JobID, Step: r.step, Name: name, Data: data}, false)
	say("Uploaded %s (%d bytes)", name, len(data))
}

// formatted counts a "##[error]" or "##[warning]" output line as an issue.
func (r *stepReport) formatted(text, kind string) {
	switch kind {
	case agentproto.LineError:
		r.issue(agentproto.IssueError, strings.TrimSpace(text[len("##[error]"):]), "", 0)
	case agentproto.LineWarning:
		r.issue(agentproto.IssueWarning, strings.TrimSpace(text[len("##[warning]"):]), "", 0)
	}
}

// finish fills the StepFinished members from the report.
func (r *stepReport) finish(m *agentproto.StepFinished) {
	m.Issues, m.ErrorCount, m.WarningCount = r.issues, r.errors, r.warnings
	m.Progress = r.progress
	m.OutputVariables = r.outputs
	m.SucceededWithIssues = m.Status == agentproto.StepSucceeded && r.result == "succeededwithissues"
}

func parseBool(s string) bool {
	b, _ := strconv.ParseBool(strings.TrimSpace(s))
	return b
}
