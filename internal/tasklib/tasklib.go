// Package tasklib is Cairn's task library: the shape of a task template (a versioned, typed unit
// that a definition's task uses as "Name@major" with inputs), the built-in catalogue shipped in
// the binary, input validation, the environment a template's implementation receives, and the
// catalogue's documentation. It is pure (no I/O) and uses nothing of the module, so that the
// engine (resolution and validation, package delivery) and the agent's tests (running the
// built-ins for real) share it.
//
// A template's implementation is a script for one shell. It never has inputs pasted into its
// text: each input reaches it as the environment variable INPUT_<NAME> (upper case, every
// character but [A-Z0-9_] as "_"), after $(VAR) references in the value were expanded from the
// release's variables, so that no input value can inject code into the script.
package tasklib

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// InputType is the type of a template input.
type InputType string

// The input types.
const (
	InputString            InputType = "STRING"
	InputMultiline         InputType = "MULTILINE"
	InputBoolean           InputType = "BOOLEAN"
	InputPicklist          InputType = "PICKLIST"
	InputSecret            InputType = "SECRET"
	InputFilePath          InputType = "FILE_PATH"
	InputServiceConnection InputType = "SERVICE_CONNECTION"
)

// Input is one typed input of a template.
type Input struct {
	Name     string    `json:"name"`
	Type     InputType `json:"type"`
	Required bool      `json:"required,omitempty"`
	Default  string    `json:"default,omitempty"`
	// Options are the allowed values of a PICKLIST.
	Options []string `json:"options,omitempty"`
	Help    string   `json:"help,omitempty"`
	// ConnectionKind, on a SERVICE_CONNECTION input, is the kind of connection it takes
	// (ConnectionKinds); empty: any. A connection of an endpoint kind (EndpointKinds) is
	// resolved by the server when it sends the job and given to the task as its endpoint.
	ConnectionKind string `json:"connectionKind,omitempty"`
	// Replaces, on a SERVICE_CONNECTION input, names the inputs the connection stands in for
	// (the inline form of the same endpoint): with a connection given they must be left out,
	// and those of them that are Required are required only without it.
	Replaces []string `json:"replaces,omitempty"`
}

// The kinds of service connection (the server's ServiceConnection kinds).
const (
	ConnectionJenkins        = "JENKINS"
	ConnectionAzureDevOps    = "AZURE_DEVOPS"
	ConnectionSSH            = "SSH"
	ConnectionDockerRegistry = "DOCKER_REGISTRY"
	ConnectionKubernetes     = "KUBERNETES"
)

// ConnectionKinds lists every kind of service connection.
var ConnectionKinds = []string{ConnectionJenkins, ConnectionAzureDevOps, ConnectionSSH, ConnectionDockerRegistry, ConnectionKubernetes}

// EndpointKinds are the kinds a task deploys to: the server sends such a connection with the
// task (agentproto.Endpoint). A template has at most one input of an endpoint kind.
var EndpointKinds = []string{ConnectionSSH, ConnectionDockerRegistry, ConnectionKubernetes}

// EndpointInput returns the template's input of an endpoint kind, if it has one.
func (t *Template) EndpointInput() (Input, bool) {
	for _, in := range t.Inputs {
		if in.Type == InputServiceConnection && slices.Contains(EndpointKinds, in.ConnectionKind) {
			return in, true
		}
	}
	return Input{}, false
}

// Template is a task template: built in (Builtin) or created through the API. A template has an
// implementation (Shell and Script), or, for a task group, Steps: tasks that use other
// templates, whose inputs may refer to the group's own inputs as $(name).
type Template struct {
	Name string `json:"name"`
	// Version is "major.minor"; a definition pins the major ("CopyFiles@2") and a release freezes
	// the newest minor at its creation.
	Version     string  `json:"version"`
	Description string  `json:"description,omitempty"`
	Category    string  `json:"category,omitempty"`
	Inputs      []Input `json:"inputs,omitempty"`
	Shell       string  `json:"shell,omitempty"` // bash, sh, pwsh or cmd (Windows agents)
	Script      string  `json:"script,omitempty"`
	// Runner names an implementation built into the agent (Runners) instead of a script: the
	// agent runs it in Go with the same INPUT_<NAME> values. Only built-ins have one (a custom
	// template cannot name one); its template demands the agent capability RunnerCapability.
	Runner  string   `json:"runner,omitempty"`
	Demands []string `json:"demands,omitempty"`
	Steps   []Step   `json:"steps,omitempty"`
	Builtin bool     `json:"builtin,omitempty"`
}

// Step is one task of a task group.
type Step struct {
	Name            string            `json:"name"`
	Uses            string            `json:"uses"`
	Inputs          map[string]string `json:"inputs,omitempty"`
	Condition       string            `json:"condition,omitempty"`
	ContinueOnError bool              `json:"continueOnError,omitempty"`
	// Template is the resolved template Uses names, frozen with the release (nil before).
	Template *Template `json:"template,omitempty"`
}

// The runners: implementations built into the agent (Template.Runner, and the task's runner in
// the assignment). An agent reports RunnerCapability(name) for each one it has.
const (
	RunnerSSH                = "ssh"
	RunnerCopyFilesOverSSH   = "copyFilesOverSSH"
	RunnerFileTransform      = "fileTransform"
	RunnerInvokeHTTP         = "invokeHttp"
	RunnerDownloadSecureFile = "downloadSecureFile"
	RunnerDownloadFile       = "downloadFile"
)

// Runners lists every runner.
var Runners = []string{RunnerSSH, RunnerCopyFilesOverSSH, RunnerFileTransform, RunnerInvokeHTTP, RunnerDownloadSecureFile, RunnerDownloadFile}

// RunnerCapability is the agent capability of a runner ("agent.runner.ssh"): a template with a
// runner demands it, so that an agent without the runner never gets the task.
func RunnerCapability(runner string) string { return "agent.runner." + strings.ToLower(runner) }

// WindowsDemand is the demand of a task that runs with the cmd shell: Azure's capability
// name and value, which Cairn agents report as well.
const WindowsDemand = "Agent.OS -equals Windows_NT"

// IsGroup reports whether the template is a task group.
func (t *Template) IsGroup() bool { return len(t.Steps) > 0 }

// Major returns the template's major version.
func (t *Template) Major() int {
	m, _, _ := ParseVersion(t.Version)
	return m
}

// Ref is "Name@major".
func (t *Template) Ref() string { return fmt.Sprintf("%s@%d", t.Name, t.Major()) }

var (
	nameRe    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,99}$`)
	inputRe   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,99}$`)
	versionRe = regexp.MustCompile(`^(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$`)
)

// ParseVersion parses "major.minor".
func ParseVersion(v string) (major, minor int, err error) {
	m := versionRe.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return 0, 0, fmt.Errorf("version %q is not major.minor (e.g. 2.1)", v)
	}
	major, _ = strconv.Atoi(m[1])
	minor, _ = strconv.Atoi(m[2])
	return major, minor, nil
}

// ParseRef parses a task's "uses": "Name@major".
func ParseRef(uses string) (name string, major int, err error) {
	name, v, ok := strings.Cut(strings.TrimSpace(uses), "@")
	if !ok || !nameRe.MatchString(name) {
		return "", 0, fmt.Errorf("%q is not Name@major (e.g. CopyFiles@2)", uses)
	}
	major, err = strconv.Atoi(v)
	if err != nil || major < 0 || major > 999999 || strconv.Itoa(major) != v {
		return "", 0, fmt.Errorf("%q is not Name@major (e.g. CopyFiles@2)", uses)
	}
	return name, major, nil
}

// Problem is one thing wrong with a template or with a task's inputs: Field names it relative
// to the template or task ("inputs.Contents").
type Problem struct {
	Field, Message string
}

// Validate checks a template's own shape (not its steps' references: the engine resolves them).
func Validate(t *Template) []Problem {
	var out []Problem
	add := func(f, format string, args ...any) { out = append(out, Problem{f, fmt.Sprintf(format, args...)}) }
	if !nameRe.MatchString(t.Name) {
		add("name", "%q is not a template name (a letter, then letters, digits, _ or -; at most 100)", t.Name)
	}
	if _, _, err := ParseVersion(t.Version); err != nil {
		add("version", "%v", err)
	}
	seen := map[string]bool{}
	endpoints := 0
	for i, in := range t.Inputs {
		f := fmt.Sprintf("inputs[%d]", i)
		if !inputRe.MatchString(in.Name) {
			add(f+".name", "%q is not an input name (a letter, then letters, digits or _)", in.Name)
		}
		key := strings.ToLower(in.Name)
		if seen[key] {
			add(f+".name", "input %q is declared twice", in.Name)
		}
		seen[key] = true
		if in.Type != InputServiceConnection && (in.ConnectionKind != "" || len(in.Replaces) > 0) {
			add(f+".connectionKind", "only a SERVICE_CONNECTION input has a connection kind or replaces inputs")
		}
		switch in.Type {
		case InputString, InputMultiline, InputFilePath:
		case InputServiceConnection:
			if in.ConnectionKind != "" && !slices.Contains(ConnectionKinds, in.ConnectionKind) {
				add(f+".connectionKind", "unknown connection kind %q; use %s", in.ConnectionKind, strings.Join(ConnectionKinds, ", "))
			}
			if slices.Contains(EndpointKinds, in.ConnectionKind) {
				endpoints++
			}
		case InputSecret:
			if in.Default != "" {
				add(f+".default", "a SECRET input has no default")
			}
		case InputBoolean:
			if in.Default != "" && !isBool(in.Default) {
				add(f+".default", "%q is not true or false", in.Default)
			}
		case InputPicklist:
			if len(in.Options) == 0 {
				add(f+".options", "a PICKLIST needs options")
			}
			if in.Default != "" && !slices.Contains(in.Options, in.Default) {
				add(f+".default", "%q is not one of the options", in.Default)
			}
		default:
			add(f+".type", "unknown input type %q; use STRING, MULTILINE, BOOLEAN, PICKLIST, SECRET, FILE_PATH or SERVICE_CONNECTION", in.Type)
		}
	}
	if endpoints > 1 {
		add("inputs", "a template has at most one input of an endpoint connection kind (%s): a task gets one endpoint", strings.Join(EndpointKinds, ", "))
	}
	for i, in := range t.Inputs {
		for _, r := range in.Replaces {
			if !seen[strings.ToLower(r)] || strings.EqualFold(r, in.Name) {
				add(fmt.Sprintf("inputs[%d].replaces", i), "%q is not another input of the template", r)
			}
		}
	}
	switch {
	case t.IsGroup() && strings.TrimSpace(t.Script) != "":
		add("script", "a task group has steps and no script of its own")
	case t.IsGroup() && t.Runner != "":
		add("runner", "a task group has steps and no runner of its own")
	case !t.IsGroup() && t.Runner != "":
		if !slices.Contains(Runners, t.Runner) {
			add("runner", "unknown runner %q", t.Runner)
		}
		if t.Script != "" || t.Shell != "" {
			add("script", "a template with a runner has no script or shell")
		}
	case !t.IsGroup():
		if strings.TrimSpace(t.Script) == "" {
			add("script", "a template needs a script (or steps, for a task group)")
		}
		switch t.Shell {
		case "bash", "sh", "pwsh", "cmd":
		default:
			add("shell", "unknown shell %q; use bash, sh, pwsh or cmd", t.Shell)
		}
	}
	for i, s := range t.Steps {
		if strings.TrimSpace(s.Name) == "" {
			add(fmt.Sprintf("steps[%d].name", i), "a step needs a name")
		}
		if _, _, err := ParseRef(s.Uses); err != nil {
			add(fmt.Sprintf("steps[%d].uses", i), "%v", err)
		}
	}
	return out
}

func isBool(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "false":
		return true
	}
	return false
}

// hasReference reports whether a value holds a $(VAR) reference, which only the run resolves.
func hasReference(v string) bool { return refRe.MatchString(v) }

var refRe = regexp.MustCompile(`\$\(([A-Za-z0-9_.\-]+)\)`)

// ValidateInputs checks the inputs a task gives a template: every name is declared, every
// required input has a value (or a default), booleans and picklists hold allowed values (unless
// they are a $(VAR) reference, known only at run time), a service connection input names a
// connection of its kind, and the inputs a given connection replaces are left out.
// connections returns the kind of a service connection by name, and whether it exists (nil:
// not checked).
func ValidateInputs(t *Template, inputs map[string]string, connections func(string) (kind string, ok bool)) []Problem {
	var out []Problem
	add := func(name, format string, args ...any) {
		out = append(out, Problem{"inputs." + name, fmt.Sprintf(format, args...)})
	}
	declared := map[string]Input{}
	for _, in := range t.Inputs {
		declared[strings.ToLower(in.Name)] = in
	}
	for _, k := range sortedKeys(inputs) {
		if _, ok := declared[strings.ToLower(k)]; !ok {
			add(k, "%s has no input %q (its inputs: %s)", t.Ref(), k, inputNames(t))
		}
	}
	// replacedBy maps an input to the connection input that replaces it, when that one is given.
	replacedBy := map[string]string{}
	for _, in := range t.Inputs {
		if v, _ := lookup(inputs, in.Name); strings.TrimSpace(v) != "" {
			for _, r := range in.Replaces {
				replacedBy[strings.ToLower(r)] = in.Name
			}
		}
	}
	for _, in := range t.Inputs {
		v, given := lookup(inputs, in.Name)
		if by, ok := replacedBy[strings.ToLower(in.Name)]; ok {
			if given && strings.TrimSpace(v) != "" {
				add(in.Name, "input %s of %s: the service connection in %s gives it; leave %s out", in.Name, t.Ref(), by, in.Name)
			}
			continue
		}
		if !given {
			v = in.Default
		}
		if strings.TrimSpace(v) == "" {
			if in.Required {
				add(in.Name, "input %s of %s is required%s", in.Name, t.Ref(), unlessReplaced(t, in.Name))
			}
			continue
		}
		if hasReference(v) {
			continue
		}
		switch in.Type {
		case InputBoolean:
			if !isBool(v) {
				add(in.Name, "input %s of %s is BOOLEAN: %q is not true or false", in.Name, t.Ref(), v)
			}
		case InputPicklist:
			if !slices.Contains(in.Options, v) {
				add(in.Name, "input %s of %s is one of %s, not %q", in.Name, t.Ref(), strings.Join(in.Options, ", "), v)
			}
		case InputServiceConnection:
			if connections == nil {
				break
			}
			kind, ok := connections(strings.TrimSpace(v))
			switch {
			case !ok:
				add(in.Name, "input %s of %s: no service connection named %q", in.Name, t.Ref(), v)
			case in.ConnectionKind != "" && kind != in.ConnectionKind:
				add(in.Name, "input %s of %s takes a service connection of kind %s; %q is of kind %s", in.Name, t.Ref(), in.ConnectionKind, v, kind)
			}
		}
	}
	return out
}

// unlessReplaced says which connection input can stand in for a required input, or "".
func unlessReplaced(t *Template, name string) string {
	if by := t.ReplacedBy(name); by != "" {
		return " (or give the service connection " + by + ")"
	}
	return ""
}

// ReplacedBy returns the name of the connection input that replaces input name, or "".
func (t *Template) ReplacedBy(name string) string {
	for _, in := range t.Inputs {
		for _, r := range in.Replaces {
			if strings.EqualFold(r, name) {
				return in.Name
			}
		}
	}
	return ""
}

func inputNames(t *Template) string {
	names := make([]string, len(t.Inputs))
	for i, in := range t.Inputs {
		names[i] = in.Name
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// lookup finds an input value by name, ignoring case.
func lookup(inputs map[string]string, name string) (string, bool) {
	if v, ok := inputs[name]; ok {
		return v, true
	}
	for k, v := range inputs {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// EnvName is the environment form of a name: upper case, every character but [A-Z0-9_] as "_".
func EnvName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			return r
		}
		return '_'
	}, s)
}

// Expand replaces $(NAME) references with values from lookup (by name, as written); an unknown
// reference is left as it is, as Azure does.
func Expand(v string, lookup func(name string) (string, bool)) string {
	if !strings.Contains(v, "$(") {
		return v
	}
	return refRe.ReplaceAllStringFunc(v, func(m string) string {
		if val, ok := lookup(m[2 : len(m)-1]); ok {
			return val
		}
		return m
	})
}

// InputEnv returns the environment a template's implementation gets for the task's inputs:
// INPUT_<NAME> for every declared input (its value, else its default, $(VAR) expanded through
// lookup). secret lists the variable names that hold SECRET inputs, which the agent masks.
func InputEnv(t *Template, inputs map[string]string, lookup func(string) (string, bool)) (env map[string]string, secret []string) {
	env = map[string]string{}
	for _, in := range t.Inputs {
		v, ok := inputs[in.Name]
		if !ok {
			v, ok = lookupFold(inputs, in.Name)
		}
		if !ok {
			v = in.Default
		}
		name := "INPUT_" + EnvName(in.Name)
		env[name] = Expand(v, lookup)
		if in.Type == InputSecret {
			secret = append(secret, name)
		}
	}
	return env, secret
}

func lookupFold(inputs map[string]string, name string) (string, bool) { return lookup(inputs, name) }
