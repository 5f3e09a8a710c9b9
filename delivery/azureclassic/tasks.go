package azureclassic

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/internal/condition"
	"github.com/cairnhq/cairn/internal/tasklib"
)

// taskKey is an Azure task: its GUID (lower case) and major version.
type taskKey struct {
	id    string
	major int
}

// special marks tasks that map onto something other than a task template.
type special int

const (
	plain special = iota
	// manualIntervention maps to a MANUAL_INTERVENTION task.
	manualIntervention
	// downloadSecureFile maps to the job's secure files.
	downloadSecureFile
)

// taskRule maps one Azure task to a Cairn task template.
type taskRule struct {
	// azure is the Azure task's name, for messages.
	azure string
	// uses is the Cairn template, "Name@major"; when the catalogue lacks it, the task
	// becomes a placeholder (another major or a custom template may be added later).
	uses    string
	special special
	// fixed are inputs given to Cairn when Azure's export omits them, because the two
	// defaults differ (Azure's Bash runs a file by default, Cairn's inline).
	fixed map[string]string
	// defaults are Azure's defaults of inputs Cairn's template lacks: an input at its
	// default needs no finding.
	defaults map[string]string
	// convert rewrites the Azure inputs before they are copied (an older major's names);
	// note adds a finding to the task.
	convert func(in map[string]string, note func(Status, string)) map[string]string
}

// The Azure task GUIDs, from the task.json files of microsoft/azure-pipelines-tasks.
const (
	guidBash               = "6c731c3c-3c68-459a-a5c9-bde6e6595b5b" // Bash@3; ShellScript@2 shares it
	guidPowerShell         = "e213ff0f-5d5c-4791-802d-52ea3e7be1f1"
	guidCmdLine            = "d9bafed4-0b18-4f58-968d-86655b4d2ce9"
	guidCopyFiles          = "5bfb729a-a7c8-4a78-a7c3-8d717bb7c13c"
	guidExtractFiles       = "5e1e3830-fbfb-11e5-aab1-090c92bc4988"
	guidManualIntervention = "bcb64569-d51a-4af0-9c01-ea5d05b3b622"
	guidSSH                = "91443475-df55-4874-944b-39253b558790"
	guidCopyFilesOverSSH   = "67cec91b-0351-4c2f-8465-d74b3d2a2d96"
	guidDownloadSecureFile = "2a6ca863-f2ce-4f4d-8bcb-15e64608ec4b"
	guidFileTransform      = "8ce97e91-56cc-4743-bfab-9a9315be5f27"
	guidDocker             = "e28912f1-0114-4464-802a-a3a35437fd16"
	guidKubernetes         = "cbc316a2-586f-4def-be79-488a1f503564"
	guidHelmDeploy         = "afa7d54d-537b-4dc8-b60a-e0eeea2c9a87"
	guidInvokeRESTAPI      = "9c3e8943-130d-4c78-ac63-8af81df62dfb"
)

// taskTable is the one table from Azure tasks to Cairn's catalogue. To map another task,
// add its GUID and major here (and, if its inputs are named differently, a convert).
var taskTable = map[taskKey]taskRule{
	{guidBash, 3}: {azure: "Bash@3", uses: "Bash@3",
		fixed:    map[string]string{"targetType": "filePath"},
		defaults: map[string]string{"failOnStderr": "false", "bashEnvValue": "", "noProfile": "true", "noRc": "true"}},
	{guidBash, 2}: {azure: "ShellScript@2", uses: "ShellScript@2",
		defaults: map[string]string{"failOnStandardError": "false", "disableAutoCwd": "false"},
		convert:  convertShellScript},
	{guidPowerShell, 2}: {azure: "PowerShell@2", uses: "PowerShell@2",
		fixed: map[string]string{"targetType": "filePath"},
		defaults: map[string]string{"errorActionPreference": "stop", "warningPreference": "default",
			"informationPreference": "default", "verbosePreference": "default", "debugPreference": "default",
			"progressPreference": "silentlyContinue", "failOnStderr": "false", "showWarnings": "false",
			"ignoreLASTEXITCODE": "false", "pwsh": "false", "runScriptInSeparateScope": "false"},
		convert: convertPowerShell2},
	{guidPowerShell, 1}: {azure: "PowerShell@1", uses: "PowerShell@2",
		defaults: map[string]string{"failOnStandardError": "true"},
		convert:  convertPowerShell1},
	{guidCmdLine, 2}: {azure: "CmdLine@2", uses: "CmdLine@2",
		defaults: map[string]string{"failOnStderr": "false", "ignoreHostExpression": "true"},
		convert:  convertCmdLine},
	{guidCopyFiles, 2}: {azure: "CopyFiles@2", uses: "CopyFiles@2",
		defaults: map[string]string{"preserveTimestamp": "false", "retryCount": "0", "delayBetweenRetries": "1000", "ignoreMakeDirErrors": "false"}},
	{guidExtractFiles, 1}: {azure: "ExtractFiles@1", uses: "ExtractFiles@1",
		defaults: map[string]string{"pathToSevenZipTool": ""}},
	{guidManualIntervention, 8}: {azure: "ManualIntervention@8", special: manualIntervention},
	{guidDownloadSecureFile, 1}: {azure: "DownloadSecureFile@1", special: downloadSecureFile},
	{guidSSH, 0}:                {azure: "SSH@0", uses: "SSH@0"},
	{guidCopyFilesOverSSH, 0}:   {azure: "CopyFilesOverSSH@0", uses: "CopyFilesOverSSH@0"},
	{guidFileTransform, 1}:      {azure: "FileTransform@1", uses: "FileTransform@1"},
	{guidDocker, 2}:             {azure: "Docker@2", uses: "Docker@2"},
	{guidKubernetes, 1}:         {azure: "Kubernetes@1", uses: "Kubernetes@1"},
	{guidHelmDeploy, 0}:         {azure: "HelmDeploy@0", uses: "HelmDeploy@0"},
	{guidInvokeRESTAPI, 1}:      {azure: "InvokeRESTAPI@1", uses: "InvokeRESTAPI@1"},
}

// knownNames names Azure tasks by GUID for messages about majors the table lacks.
func knownName(id string) string {
	for k, r := range taskTable {
		if k.id == id {
			name, _, _ := strings.Cut(r.azure, "@")
			return name
		}
	}
	return ""
}

// convertShellScript: Azure runs the script in its own folder unless disableAutoCwd.
func convertShellScript(in map[string]string, note func(Status, string)) map[string]string {
	if !isTrue(in["disableAutoCwd"]) && strings.TrimSpace(in["cwd"]) == "" && strings.TrimSpace(in["scriptPath"]) != "" {
		in["cwd"] = path.Dir(strings.ReplaceAll(in["scriptPath"], `\`, "/"))
	}
	delete(in, "disableAutoCwd")
	return in
}

// convertPowerShell2: Cairn's PowerShell@2 has no arguments input; a file with
// arguments becomes an inline call of the file.
func convertPowerShell2(in map[string]string, note func(Status, string)) map[string]string {
	if args := strings.TrimSpace(in["arguments"]); args != "" && !strings.EqualFold(in["targetType"], "inline") {
		in["script"] = fmt.Sprintf("& '%s' %s", strings.ReplaceAll(in["filePath"], "'", "''"), args)
		in["targetType"] = "inline"
		delete(in, "filePath")
		note(Approximated, "the script file and its arguments are run as an inline call (Cairn's PowerShell@2 has no arguments input)")
	}
	delete(in, "arguments")
	if !isTrue(in["pwsh"]) {
		note(Approximated, "runs with PowerShell 7 (pwsh) on the agent, not Windows PowerShell")
	}
	delete(in, "pwsh")
	return in
}

// convertPowerShell1 renames PowerShell@1's inputs to PowerShell@2's.
func convertPowerShell1(in map[string]string, note func(Status, string)) map[string]string {
	out := map[string]string{}
	if strings.EqualFold(in["scriptType"], "inlineScript") {
		out["targetType"], out["script"] = "inline", in["inlineScript"]
	} else {
		out["targetType"], out["filePath"] = "filePath", in["scriptName"]
		out["arguments"] = in["arguments"]
	}
	if in["workingFolder"] != "" {
		out["workingDirectory"] = in["workingFolder"]
	}
	if v, ok := in["failOnStandardError"]; ok {
		out["failOnStandardError"] = v
	}
	for k := range in {
		switch k {
		case "scriptType", "inlineScript", "scriptName", "arguments", "workingFolder", "failOnStandardError":
		default:
			out[k] = in[k]
		}
	}
	note(Approximated, "PowerShell@1 runs as Cairn's PowerShell@2 (its inputs renamed)")
	return convertPowerShell2(out, note)
}

// convertCmdLine: Cairn's CmdLine runs sh, Azure's cmd.exe on Windows.
func convertCmdLine(in map[string]string, note func(Status, string)) map[string]string {
	note(Approximated, "runs with sh -e on the agent (Azure's CmdLine runs cmd.exe on Windows agents)")
	return in
}

var versionRe = regexp.MustCompile(`^\s*v?(\d{1,6})(?:[.*].*)?$`)

// parseMajor reads the major of Azure's "2.*", "2.1.0", "2" or "*".
func parseMajor(v string) (int, bool) {
	m := versionRe.FindStringSubmatch(v)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}

func isTrue(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "true") }

// taskInputs returns a task's inputs as plain strings.
func taskInputs(t *azTask) map[string]string {
	out := make(map[string]string, len(t.Inputs))
	for k, v := range t.Inputs {
		out[k] = string(v)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// maxPlaceholderValue bounds one input value copied into a placeholder's comment.
const maxPlaceholderValue = 2000

// placeholder is the disabled task that stands for an Azure task Cairn cannot run: it
// names the task and its inputs, and fails if someone enables it unchanged.
func placeholder(t *azTask, name, why string) spec.Task {
	var b strings.Builder
	fmt.Fprintf(&b, "# Imported from Azure DevOps: task %s (%s, version %s) was not imported: %s\n",
		commentLine(name), commentLine(t.id()), commentLine(t.version()), commentLine(why))
	in := taskInputs(t)
	if len(in) > 0 {
		b.WriteString("# Its inputs were:\n")
	}
	for _, k := range sortedKeys(in) {
		v := in[k]
		if len(v) > maxPlaceholderValue {
			v = v[:maxPlaceholderValue] + fmt.Sprintf(" … (%d more bytes)", len(v)-maxPlaceholderValue)
		}
		lines := strings.Split(strings.ReplaceAll(v, "\r", ""), "\n")
		fmt.Fprintf(&b, "#   %s: %s\n", commentLine(k), lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(&b, "#     %s\n", l)
		}
	}
	fmt.Fprintf(&b, "echo %s >&2\nexit 1\n", shellQuote("Azure DevOps task "+name+" was not imported; replace this placeholder"))
	return spec.Task{
		Name: name, Shell: "bash", Script: b.String(), Disabled: true,
		ContinueOnError: bool(t.ContinueOnError), TimeoutMinutes: int(max(t.TimeoutInMinutes, 0)),
	}
}

// commentLine keeps a value on one comment line.
func commentLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// template finds a catalogue template by "Name@major" (any case).
func (c *mapper) template(uses string) *tasklib.Template {
	name, major, err := tasklib.ParseRef(uses)
	if err != nil {
		return nil
	}
	var best *tasklib.Template
	for i := range c.cat.Templates {
		t := &c.cat.Templates[i]
		if strings.EqualFold(t.Name, name) && t.Major() == major {
			best = t
		}
	}
	return best
}

// taskCtx is where a task is mapped: its path and the phase it joins.
type taskCtx struct {
	path  string
	env   string
	phase *spec.PhaseSpec
	// stack holds the task groups being expanded (cycle detection).
	stack []string
	// params are the inputs of the task group being expanded, for $(name) references.
	params map[string]string
}

// mapTasks maps a list of Azure tasks into the phase.
func (c *mapper) mapTasks(tasks []azTask, base string, tc taskCtx) {
	for i := range tasks {
		tc.path = fmt.Sprintf("%s[%d]", base, i)
		c.mapTask(&tasks[i], tc)
	}
}

// mapTask maps one Azure task (or task group) onto the job's tasks.
func (c *mapper) mapTask(t *azTask, tc taskCtx) {
	if c.tooMany(tc.path) {
		return
	}
	name := t.name()
	id := t.id()
	if name == "" {
		name = "Azure task " + firstNonEmpty(knownName(id), id, "without a name")
	}
	if tc.params != nil {
		for k, v := range t.Inputs {
			t.Inputs[k] = flexString(expandParams(string(v), tc.params))
		}
	}
	if t.definitionType() == "metatask" {
		c.mapTaskGroup(t, name, tc)
		return
	}
	major, ok := parseMajor(t.version())
	rule, known := taskTable[taskKey{id, major}]
	if !ok || !known {
		why := fmt.Sprintf("Cairn's catalogue has no task for Azure task %s version %s", id, t.version())
		if n := knownName(id); n != "" {
			why = fmt.Sprintf("Cairn maps other majors of Azure's %s task, not version %s", n, t.version())
		}
		c.addTask(tc, placeholder(t, name, why), t)
		c.note(tc.path, Dropped, why+"; kept as a disabled placeholder task that names it and its inputs: replace it before deploying")
		return
	}
	switch rule.special {
	case manualIntervention:
		c.mapIntervention(t, name, tc)
		return
	case downloadSecureFile:
		c.mapSecureFile(t, name, tc)
		return
	}
	tpl := c.template(rule.uses)
	if tpl == nil {
		why := fmt.Sprintf("Cairn's task library has no %s (for Azure's %s)", rule.uses, rule.azure)
		c.addTask(tc, placeholder(t, name, why), t)
		c.note(tc.path, Dropped, why+"; kept as a disabled placeholder task that names it and its inputs: add the template or replace the task before deploying")
		return
	}
	in := taskInputs(t)
	var notes []string
	worst := Mapped
	note := func(s Status, msg string) {
		notes = append(notes, msg)
		if s == Approximated && worst == Mapped {
			worst = Approximated
		}
	}
	if rule.convert != nil {
		in = rule.convert(in, note)
	}
	inputs := map[string]string{}
	declared := map[string]tasklib.Input{}
	for _, d := range tpl.Inputs {
		declared[strings.ToLower(d.Name)] = d
	}
	var dropped []string
	for _, k := range sortedKeys(in) {
		v := in[k]
		d, ok := declared[strings.ToLower(k)]
		if !ok {
			if strings.TrimSpace(v) == "" || strings.EqualFold(strings.TrimSpace(rule.defaults[k]), strings.TrimSpace(v)) {
				continue
			}
			dropped = append(dropped, fmt.Sprintf("%s=%q", k, truncate(v, 80)))
			continue
		}
		if v == "" && d.Default == "" {
			continue
		}
		if d.Type == tasklib.InputServiceConnection && v != "" && !strings.Contains(v, "$(") {
			conn, ok := c.connection(v)
			if !ok {
				c.note(tc.path+".inputs."+k, NeedsInput, fmt.Sprintf("service connection %q: map it to a Cairn connection (mapping.serviceConnections)", v))
			}
			v = conn
		}
		inputs[d.Name] = v
	}
	for k, v := range rule.fixed {
		if _, ok := inputs[k]; !ok {
			if _, given := in[k]; !given {
				inputs[k] = v
			}
		}
	}
	if len(dropped) > 0 {
		note(Dropped, fmt.Sprintf("Cairn's %s has no input for %s", tpl.Ref(), strings.Join(dropped, ", ")))
		worst = Approximated
	}
	task := spec.Task{
		Name: name, Uses: tpl.Ref(), Inputs: inputs,
		ContinueOnError: bool(t.ContinueOnError), TimeoutMinutes: int(max(t.TimeoutInMinutes, 0)),
		Disabled: !t.enabled(),
	}
	if len(inputs) == 0 {
		task.Inputs = nil
	}
	task.Env = c.taskEnv(t, tc.path)
	c.taskOptions(&task, t, tc.path)
	c.addTask(tc, task, t)
	msg := fmt.Sprintf("Azure's %s → %s", rule.azure, tpl.Ref())
	if len(notes) > 0 {
		msg += ": " + strings.Join(notes, "; ")
	}
	c.note(tc.path, worst, msg)
}

var envKeyRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// taskEnv maps a task's environment variables (Azure's "Environment Variables" section).
func (c *mapper) taskEnv(t *azTask, p string) map[string]string {
	if len(t.Environment) == 0 {
		return nil
	}
	env := map[string]string{}
	for _, k := range sortedKeys(t.Environment) {
		if !envKeyRe.MatchString(k) {
			c.note(p+".environment."+k, Dropped, fmt.Sprintf("environment variable %q: not a name a process environment takes (letters, digits, _)", k))
			continue
		}
		env[k] = string(t.Environment[k])
	}
	if len(env) == 0 {
		return nil
	}
	c.note(p+".environment", Mapped, fmt.Sprintf("%d environment variable(s)", len(env)))
	return env
}

// taskOptions carries enabled, alwaysRun and the condition over; a condition Cairn
// cannot evaluate disables the task rather than change when it runs.
func (c *mapper) taskOptions(task *spec.Task, t *azTask, p string) {
	cond := strings.TrimSpace(string(t.Condition))
	switch {
	case cond == "" || strings.EqualFold(cond, "succeeded()"):
		task.AlwaysRun = bool(t.AlwaysRun)
	default:
		if err := condition.Validate(cond); err != nil {
			task.Disabled = true
			c.note(p+".condition", Dropped, fmt.Sprintf("condition %q cannot be evaluated by Cairn (%v); the task is imported disabled", truncate(cond, 200), err))
			return
		}
		task.Condition = cond
		if t.AlwaysRun {
			c.note(p+".alwaysRun", Approximated, "alwaysRun is set together with a condition; the condition decides")
		}
	}
}

// addTask appends a task to the phase (task group expansion included).
func (c *mapper) addTask(tc taskCtx, task spec.Task, t *azTask) {
	if t != nil && !t.enabled() {
		task.Disabled = true
	}
	tc.phase.Tasks = append(tc.phase.Tasks, task)
}

// mapIntervention maps Azure's Manual Intervention task.
func (c *mapper) mapIntervention(t *azTask, name string, tc taskCtx) {
	in := taskInputs(t)
	task := spec.Task{Name: name, Kind: spec.TaskManualIntervention, Instructions: in["instructions"], Disabled: !t.enabled()}
	var notes []string
	status := Mapped
	switch strings.ToLower(strings.TrimSpace(in["onTimeout"])) {
	case "", "reject":
		task.OnTimeout = spec.InterventionReject
	case "resume":
		task.OnTimeout = spec.InterventionResume
	default:
		task.OnTimeout = spec.InterventionReject
		status = Approximated
		notes = append(notes, fmt.Sprintf("unknown onTimeout %q: rejects on timeout", in["onTimeout"]))
	}
	switch m := int(t.TimeoutInMinutes); {
	case m <= 0:
		// Azure's default is 60 days, Cairn's longest 30.
		task.TimeoutMinutes = spec.MaxInterventionTimeoutMinutes
		status = Approximated
		notes = append(notes, "no timeout in Azure means 60 days; Cairn waits at most 30 days")
	case m > spec.MaxInterventionTimeoutMinutes:
		task.TimeoutMinutes = spec.MaxInterventionTimeoutMinutes
		status = Approximated
		notes = append(notes, fmt.Sprintf("timeout %d minutes is longer than Cairn's 30 days; waits 30 days", m))
	default:
		task.TimeoutMinutes = m
	}
	if rs := strings.TrimSpace(in["emailRecipients"]); rs != "" {
		c.note(tc.path+".inputs.emailRecipients", Dropped, "notify users: Cairn notifies those who may manage the environment's deployments, and they decide (as in Azure, where notified users need that permission too)")
	}
	if t.ContinueOnError {
		c.note(tc.path+".continueOnError", Dropped, "a manual intervention cannot continue on error in Cairn: a rejection ends the deployment")
	}
	if n := len([]rune(task.Instructions)); n > 4000 {
		task.Instructions = string([]rune(task.Instructions)[:4000])
		status = Approximated
		notes = append(notes, "instructions cut to 4000 characters")
	}
	c.addTask(tc, task, t)
	msg := "manual intervention → MANUAL_INTERVENTION task"
	if len(notes) > 0 {
		msg += ": " + strings.Join(notes, "; ")
	}
	c.note(tc.path, status, msg)
}

// mapSecureFile maps Download secure file onto the job's secure files.
func (c *mapper) mapSecureFile(t *azTask, name string, tc taskCtx) {
	file := strings.TrimSpace(string(t.Inputs["secureFile"]))
	switch {
	case file == "":
		c.note(tc.path, Dropped, "download secure file names no file")
	case !contains(c.cat.SecureFiles, file):
		c.note(tc.path, NeedsInput, fmt.Sprintf("secure file %q is not in Cairn's library (Azure exports a file's id or name, never its content): upload it with that name", file))
	case !t.enabled():
		c.note(tc.path, Dropped, fmt.Sprintf("download secure file %q is disabled", file))
	default:
		if !contains(tc.phase.SecureFiles, file) {
			tc.phase.SecureFiles = append(tc.phase.SecureFiles, file)
		}
		c.note(tc.path, Approximated, fmt.Sprintf("secure file %q is written for the whole phase (each of its jobs) before its first task; its path is in SECUREFILE_<NAME>_PATH, not the task's secureFilePath output variable", file))
	}
}

// mapTaskGroup maps a task group (definitionType metaTask): to a Cairn template named by
// the mapping or of the same name, else inline from its export, else NEEDS_INPUT.
func (c *mapper) mapTaskGroup(t *azTask, name string, tc taskCtx) {
	id := t.id()
	major, _ := parseMajor(t.version())
	uses := ""
	for _, m := range c.m.TaskGroups {
		if strings.EqualFold(strings.TrimSpace(m.Azure), id) {
			uses = strings.TrimSpace(m.Uses)
		}
	}
	exp, exported := c.taskGroups[id]
	if uses == "" && exported {
		uses = fmt.Sprintf("%s@%d", strings.TrimSpace(string(exp.Name)), major)
	}
	if uses != "" {
		if tpl := c.template(uses); tpl != nil {
			task := spec.Task{Name: name, Uses: tpl.Ref(), Inputs: taskInputs(t),
				ContinueOnError: bool(t.ContinueOnError), TimeoutMinutes: int(max(t.TimeoutInMinutes, 0)), Disabled: !t.enabled()}
			if len(task.Inputs) == 0 {
				task.Inputs = nil
			}
			task.Env = c.taskEnv(t, tc.path)
			c.taskOptions(&task, t, tc.path)
			c.addTask(tc, task, t)
			c.note(tc.path, Mapped, fmt.Sprintf("task group → Cairn task group %s", tpl.Ref()))
			return
		}
	}
	if !exported {
		why := fmt.Sprintf("task group %s: map it to a Cairn task group (mapping.taskGroups) or give its export as a document", id)
		if uses != "" {
			why = fmt.Sprintf("task group %s: Cairn's task library has no %s", id, uses)
		}
		c.addTask(tc, placeholder(t, name, "a task group Cairn does not have"), t)
		c.note(tc.path, NeedsInput, why)
		return
	}
	if slices_contains(tc.stack, id) {
		c.addTask(tc, placeholder(t, name, "a task group that contains itself"), t)
		c.note(tc.path, Dropped, fmt.Sprintf("task group %q contains itself (%s → %s); kept as a disabled placeholder", exp.Name, strings.Join(tc.stack, " → "), id))
		return
	}
	if len(tc.stack) >= maxTaskGroupDepth {
		c.addTask(tc, placeholder(t, name, "task groups nested too deep"), t)
		c.note(tc.path, Dropped, fmt.Sprintf("task groups nested more than %d deep; kept as a disabled placeholder", maxTaskGroupDepth))
		return
	}
	c.note(tc.path, Approximated, fmt.Sprintf("task group %q is not in Cairn's library: its %d tasks are copied into the phase from its export (create a Cairn task group to share them)", exp.Name, len(exp.Tasks)))
	inner := tc
	inner.stack = append(append([]string(nil), tc.stack...), id)
	inner.params = taskInputs(t)
	tasks := make([]azTask, len(exp.Tasks))
	for i, st := range exp.Tasks {
		st.Inputs = cloneInputs(st.Inputs)
		if !t.enabled() {
			f := flexBool(false)
			st.Enabled = &f
		}
		tasks[i] = st
	}
	c.mapTasks(tasks, tc.path+".tasks", inner)
}

func cloneInputs(m map[string]flexString) map[string]flexString {
	out := make(map[string]flexString, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

var paramRe = regexp.MustCompile(`\$\(([A-Za-z0-9_.\-]+)\)`)

// expandParams replaces a task group's own inputs, $(name), in an inner task's value.
func expandParams(v string, params map[string]string) string {
	if !strings.Contains(v, "$(") {
		return v
	}
	return paramRe.ReplaceAllStringFunc(v, func(m string) string {
		name := m[2 : len(m)-1]
		for k, val := range params {
			if strings.EqualFold(k, name) {
				return val
			}
		}
		return m
	})
}

func slices_contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
