package delivery

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/releasedefinition"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/tasktemplate"
	"github.com/cairnhq/cairn/internal/tasklib"
)

// The task library: built-in templates (internal/tasklib, in the binary) and custom ones (the
// TaskTemplate table). A definition's task names one as Name@major; validation resolves it to
// check the inputs, and a release freezes the resolved template (the newest minor of that
// major, task group steps resolved too) in its snapshot, so that a later change to the library
// never changes a release that exists.

// maxGroupDepth bounds the nesting of task groups.
const maxGroupDepth = 8

// builtinTemplates returns the built-ins by name.
func builtinTemplates() map[string][]tasklib.Template {
	out := map[string][]tasklib.Template{}
	for _, t := range tasklib.Builtins() {
		out[strings.ToLower(t.Name)] = append(out[strings.ToLower(t.Name)], t)
	}
	return out
}

// newestOf returns the newest version of major among ts, or nil.
func newestOf(ts []tasklib.Template, major int) *tasklib.Template {
	var best *tasklib.Template
	bestMinor := -1
	for i := range ts {
		m, n, err := tasklib.ParseVersion(ts[i].Version)
		if err == nil && m == major && n > bestMinor {
			best, bestMinor = &ts[i], n
		}
	}
	if best == nil {
		return nil
	}
	c := *best
	return &c
}

// templateReader reads the library within a transaction or outside one.
type templateReader interface {
	readCustom(ctx context.Context, name string) ([]tasklib.Template, error)
}

type clientReader struct{ c *ent.TaskTemplateClient }

func (r clientReader) readCustom(ctx context.Context, name string) ([]tasklib.Template, error) {
	rows, err := r.c.Query().Where(tasktemplate.NameEqualFold(name)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading task template %s: %w", name, err)
	}
	out := make([]tasklib.Template, len(rows))
	for i, row := range rows {
		out[i] = row.Spec
	}
	return out, nil
}

// resolveTemplate returns the newest version of name@major ("CopyFiles@2"): a built-in when the
// name is one, else a custom template; nil when there is none. Task group steps are not resolved.
func resolveTemplate(ctx context.Context, r templateReader, uses string) (*tasklib.Template, error) {
	name, major, err := tasklib.ParseRef(uses)
	if err != nil {
		return nil, err
	}
	if b, ok := builtinTemplates()[strings.ToLower(name)]; ok {
		return newestOf(b, major), nil
	}
	custom, err := r.readCustom(ctx, name)
	if err != nil {
		return nil, err
	}
	return newestOf(custom, major), nil
}

// resolveDeep resolves a task group's steps, recursively, into their Template fields, refusing
// cycles and unknown references. path holds the Name@major being resolved, outermost first.
func resolveDeep(ctx context.Context, r templateReader, t *tasklib.Template, path []string) error {
	if !t.IsGroup() {
		return nil
	}
	path = append(path, t.Ref())
	if len(path) > maxGroupDepth {
		return Invalid("steps", "task groups nest deeper than %d: %s", maxGroupDepth, strings.Join(path, " → "))
	}
	steps := slices.Clone(t.Steps)
	for i := range steps {
		s := &steps[i]
		name, major, err := tasklib.ParseRef(s.Uses)
		if err != nil {
			return Invalid(fmt.Sprintf("steps[%d].uses", i), "%v", err)
		}
		ref := fmt.Sprintf("%s@%d", name, major)
		for _, p := range path {
			if strings.EqualFold(p, ref) {
				return Invalid(fmt.Sprintf("steps[%d].uses", i), "task group cycle: %s → %s", strings.Join(path, " → "), ref)
			}
		}
		sub, err := resolveTemplate(ctx, r, s.Uses)
		if err != nil {
			return err
		}
		if sub == nil {
			return Invalid(fmt.Sprintf("steps[%d].uses", i), "no task template %s", s.Uses)
		}
		if err := resolveDeep(ctx, r, sub, path); err != nil {
			return err
		}
		s.Template = sub
	}
	t.Steps = steps
	return nil
}

// TaskTemplates returns the whole library, built-ins first, each by name then version.
func (e *Engine) TaskTemplates(ctx context.Context) ([]tasklib.Template, error) {
	out := tasklib.Builtins()
	rows, err := e.client.TaskTemplate.Query().Order(ent.Asc(tasktemplate.FieldName), ent.Asc(tasktemplate.FieldMajor), ent.Asc(tasktemplate.FieldMinor)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading task templates: %w", err)
	}
	for _, r := range rows {
		out = append(out, r.Spec)
	}
	return out, nil
}

// TaskTemplate returns a template: version "2" is the newest 2.x, "2.1" that version; nil when
// there is none.
func (e *Engine) TaskTemplate(ctx context.Context, name, version string) (*tasklib.Template, error) {
	r := clientReader{e.client.TaskTemplate}
	if major, err := strconv.Atoi(strings.TrimSpace(version)); err == nil {
		return resolveTemplate(ctx, r, fmt.Sprintf("%s@%d", name, major))
	}
	if _, _, err := tasklib.ParseVersion(version); err != nil {
		return nil, Invalid("version", "%v (or a major alone, e.g. 2)", err)
	}
	all, ok := builtinTemplates()[strings.ToLower(name)]
	if !ok {
		var err error
		if all, err = r.readCustom(ctx, name); err != nil {
			return nil, err
		}
	}
	for _, t := range all {
		if t.Version == strings.TrimSpace(version) {
			return &t, nil
		}
	}
	return nil, nil
}

// TaskTemplateUsers names the definitions (by name) and custom task groups (Name@version)
// whose tasks use name@major.
// It sees every definition: the engine's own checks (a delete refused while in use) need them
// all. What a person is shown goes through TaskTemplateUsersFor.
func (e *Engine) TaskTemplateUsers(ctx context.Context, name string, major int) ([]string, error) {
	return e.taskTemplateUsers(WithoutReadScope(ctx), name, major, nil)
}

func (e *Engine) taskTemplateUsers(ctx context.Context, name string, major int, hidden []int) ([]string, error) {
	ref := strings.ToLower(fmt.Sprintf("%s@%d", name, major))
	var out []string
	defs, err := e.client.ReleaseDefinition.Query().Where(releasedefinition.DeletedAtIsNil(), releasedefinition.IDNotIn(hidden...)).WithEnvironments().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading definitions: %w", err)
	}
	for _, d := range defs {
		for _, env := range d.Edges.Environments {
			tasks := allTasks(&spec.EnvironmentSpec{Job: env.Job, Phases: env.Phases})
			if slices.ContainsFunc(tasks, func(t spec.Task) bool { return strings.ToLower(strings.TrimSpace(t.Uses)) == ref }) {
				out = append(out, "definition "+d.Name)
				break
			}
		}
	}
	groups, err := e.client.TaskTemplate.Query().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading task groups: %w", err)
	}
	for _, g := range groups {
		if slices.ContainsFunc(g.Spec.Steps, func(s tasklib.Step) bool { return strings.ToLower(strings.TrimSpace(s.Uses)) == ref }) {
			out = append(out, "task group "+g.Name+"@"+g.Spec.Version)
		}
	}
	return out, nil
}

// TaskTemplateUsersFor is TaskTemplateUsers as actor may see it: the definitions actor may not
// read are left out, whatever read scope ctx carries (task groups are the library's, visible
// to every VIEWER).
func (e *Engine) TaskTemplateUsersFor(ctx context.Context, actor Actor, name string, major int) ([]string, error) {
	hidden, err := e.HiddenDefinitions(WithoutReadScope(ctx), actor)
	if err != nil {
		return nil, err
	}
	return e.taskTemplateUsers(WithoutReadScope(ctx), name, major, hidden)
}

// txReader reads custom templates inside a transaction, seeing pending as the stored version
// of its name and version (a create or update being validated).
type txReader struct {
	t       *txn
	pending *tasklib.Template
}

func (r txReader) readCustom(ctx context.Context, name string) ([]tasklib.Template, error) {
	out, err := clientReader{r.t.TaskTemplate}.readCustom(ctx, name)
	if err != nil || r.pending == nil || !strings.EqualFold(r.pending.Name, name) {
		return out, err
	}
	out = slices.DeleteFunc(out, func(t tasklib.Template) bool { return t.Version == r.pending.Version })
	return append(out, *r.pending), nil
}

// normalizeTemplate trims a template input and checks it.
func normalizeTemplate(in tasklib.Template) (tasklib.Template, error) {
	in.Name = strings.TrimSpace(in.Name)
	in.Version = strings.TrimSpace(in.Version)
	in.Shell = strings.TrimSpace(in.Shell)
	in.Builtin = false
	if in.Runner != "" {
		return in, Invalid("runner", "only built-in templates have a runner; give a script")
	}
	in.Demands = trimAll(in.Demands)
	for i := range in.Inputs {
		in.Inputs[i].Name = strings.TrimSpace(in.Inputs[i].Name)
		in.Inputs[i].Type = tasklib.InputType(strings.ToUpper(strings.TrimSpace(string(in.Inputs[i].Type))))
	}
	for i := range in.Steps {
		in.Steps[i].Name = strings.TrimSpace(in.Steps[i].Name)
		in.Steps[i].Uses = strings.TrimSpace(in.Steps[i].Uses)
		in.Steps[i].Template = nil
		in.Steps[i].Inputs = maps.Clone(in.Steps[i].Inputs)
	}
	if p := tasklib.Validate(&in); len(p) > 0 {
		msgs := make([]string, len(p))
		for i, x := range p {
			msgs[i] = x.Field + ": " + x.Message
		}
		return in, &Error{Code: CodeInvalidInput, Field: p[0].Field, Message: strings.Join(msgs, "; ")}
	}
	return in, nil
}

// SaveTaskTemplate creates (create) or replaces (!create) a custom template version. Only
// ADMINs manage the library. A task group's steps must resolve, with inputs that their
// templates accept, and without a cycle.
func (e *Engine) SaveTaskTemplate(ctx context.Context, actor Actor, in tasklib.Template, create bool) (*tasklib.Template, error) {
	if err := actor.Require(RoleAdmin, "managing the task library"); err != nil {
		return nil, err
	}
	in, err := normalizeTemplate(in)
	if err != nil {
		return nil, err
	}
	if _, ok := builtinTemplates()[strings.ToLower(in.Name)]; ok {
		return nil, Conflict("%s is a built-in task; choose another name", in.Name)
	}
	major, minor, _ := tasklib.ParseVersion(in.Version)
	err = e.inTx(ctx, func(t *txn) error {
		existing, err := t.TaskTemplate.Query().Where(tasktemplate.NameEqualFold(in.Name), tasktemplate.Major(major), tasktemplate.Minor(minor)).Only(t.ctx)
		if err != nil && !ent.IsNotFound(err) {
			return fmt.Errorf("reading task template %s: %w", in.Name, err)
		}
		switch {
		case create && existing != nil:
			return Conflict("task template %s %s exists; update it or create another version", in.Name, in.Version)
		case !create && existing == nil:
			return NotFound("task template", in.Name+" "+in.Version)
		}
		check := in
		if err := resolveDeep(t.ctx, txReader{t, &in}, &check, nil); err != nil {
			return err
		}
		for i, s := range check.Steps {
			if p := tasklib.ValidateInputs(s.Template, s.Inputs, nil); len(p) > 0 {
				return Invalid(fmt.Sprintf("steps[%d].%s", i, p[0].Field), "step %s: %s", s.Name, p[0].Message)
			}
		}
		var before any
		if existing != nil {
			before = existing.Spec
			err = t.TaskTemplate.UpdateOne(existing).SetSpec(in).SetUpdatedAt(t.now).Exec(t.ctx)
		} else {
			err = t.TaskTemplate.Create().SetName(in.Name).SetMajor(major).SetMinor(minor).SetSpec(in).
				SetCreatedBy(actor.Username).SetCreatedAt(t.now).SetUpdatedAt(t.now).Exec(t.ctx)
		}
		if err != nil {
			return fmt.Errorf("storing task template %s: %w", in.Name, err)
		}
		action := "task_template.update"
		if create {
			action = "task_template.create"
		}
		return t.audit(actor, action, auditTargetTaskTemplate, in.Name+"@"+in.Version, before, in)
	})
	if err != nil {
		return nil, err
	}
	return &in, nil
}

// DeleteTaskTemplate deletes a custom template version. It is refused (CONFLICT, naming them)
// while definitions or task groups use its name@major and no other version of that major
// remains; releases keep the copy they froze.
func (e *Engine) DeleteTaskTemplate(ctx context.Context, actor Actor, name, version string) error {
	if err := actor.Require(RoleAdmin, "managing the task library"); err != nil {
		return err
	}
	if _, ok := builtinTemplates()[strings.ToLower(strings.TrimSpace(name))]; ok {
		return Conflict("%s is a built-in task and cannot be deleted", name)
	}
	major, minor, err := tasklib.ParseVersion(version)
	if err != nil {
		return Invalid("version", "%v", err)
	}
	users, err := e.TaskTemplateUsers(ctx, name, major)
	if err != nil {
		return err
	}
	return e.inTx(ctx, func(t *txn) error {
		row, err := t.TaskTemplate.Query().Where(tasktemplate.NameEqualFold(name), tasktemplate.Major(major), tasktemplate.Minor(minor)).Only(t.ctx)
		if ent.IsNotFound(err) {
			return NotFound("task template", name+" "+version)
		}
		if err != nil {
			return fmt.Errorf("reading task template %s: %w", name, err)
		}
		others, err := t.TaskTemplate.Query().Where(tasktemplate.NameEqualFold(name), tasktemplate.Major(major), tasktemplate.IDNEQ(row.ID)).Count(t.ctx)
		if err != nil {
			return fmt.Errorf("reading task template %s: %w", name, err)
		}
		if others == 0 && len(users) > 0 {
			return Conflict("task template %s@%d is in use by %s", row.Name, major, strings.Join(users, ", "))
		}
		if err := t.TaskTemplate.DeleteOne(row).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting task template %s: %w", name, err)
		}
		return t.audit(actor, "task_template.delete", auditTargetTaskTemplate, row.Name+"@"+row.Spec.Version, row.Spec, nil)
	})
}

// validateTemplateTask checks a task that uses a template: no script of its own, a template
// that exists, inputs it accepts, SECRET inputs given as $(variable) references.
func validateTemplateTask(p *problems, f string, task spec.Task, refs *references) {
	if strings.TrimSpace(task.Script) != "" || task.Shell != "" {
		p.add(f+".uses", "a task that uses a template has inputs, not a script or shell of its own")
	}
	tpl := refs.templates[strings.ToLower(task.Uses)]
	if tpl == nil {
		if _, _, err := tasklib.ParseRef(task.Uses); err != nil {
			p.add(f+".uses", "%v", err)
		} else {
			p.add(f+".uses", "no task template %s (see taskTemplates)", task.Uses)
		}
		return
	}
	connections := func(name string) (string, bool) { k, ok := refs.connections[name]; return string(k), ok }
	for _, pr := range tasklib.ValidateInputs(tpl, task.Inputs, connections) {
		p.add(f+"."+pr.Field, "task %s: %s", task.Name, pr.Message)
	}
	validateDownloadFile(p, f, task, tpl, refs)
	validateEndpointInput(p, f, task, tpl)
	if k, v, ok := downloadSecureFileInput(task); ok && hasVariableReference(v) {
		p.add(f+".inputs."+k, "task %s: input secureFile names a secure file of the library, not a $(variable) reference: the server sends the file with the job", task.Name)
	}
	for _, in := range tpl.Inputs {
		if in.Type != tasklib.InputSecret {
			continue
		}
		for k, v := range task.Inputs {
			if strings.EqualFold(k, in.Name) && strings.TrimSpace(v) != "" && !isSingleReference(v) {
				p.add(f+".inputs."+in.Name, "task %s: input %s is SECRET: give a $(variable) reference to a secret variable, not the value", task.Name, in.Name)
			}
		}
	}
}

// isSingleReference reports whether v is exactly one $(NAME) reference.
func isSingleReference(v string) bool {
	v = strings.TrimSpace(v)
	return strings.HasPrefix(v, "$(") && strings.HasSuffix(v, ")") && strings.Count(v, "$(") == 1 &&
		tasklib.EnvName(v[2:len(v)-1]) != "" && !strings.ContainsAny(v[2:len(v)-1], " ()$")
}

// loadTemplates resolves the templates the definition's tasks use into refs.
func (t *txn) loadTemplates(doc *spec.DefinitionSnapshot, refs *references) error {
	refs.templates = map[string]*tasklib.Template{}
	for ei := range doc.Environments {
		for _, task := range allTasks(&doc.Environments[ei]) {
			key := strings.ToLower(strings.TrimSpace(task.Uses))
			if key == "" {
				continue
			}
			if _, done := refs.templates[key]; done {
				continue
			}
			if _, _, err := tasklib.ParseRef(task.Uses); err != nil {
				refs.templates[key] = nil // validation says why
				continue
			}
			tpl, err := resolveTemplate(t.ctx, clientReader{t.TaskTemplate}, task.Uses)
			if err != nil {
				return err
			}
			refs.templates[key] = tpl
		}
	}
	return nil
}

// freezeTemplates resolves, into each task of snap that uses a template, the template it runs
// (task group steps included): what a release keeps.
func (t *txn) freezeTemplates(snap *spec.DefinitionSnapshot) error {
	for ei := range snap.Environments {
		for _, list := range snap.Environments[ei].TaskLists() {
			tasks := *list
			for ti := range tasks {
				task := &tasks[ti]
				if task.Uses == "" || task.Disabled {
					continue
				}
				tpl, err := resolveTemplate(t.ctx, clientReader{t.TaskTemplate}, task.Uses)
				if err != nil {
					return err
				}
				if tpl == nil {
					return Conflict("environment %s, task %s: task template %s no longer exists", snap.Environments[ei].Name, task.Name, task.Uses)
				}
				if err := resolveDeep(t.ctx, clientReader{t.TaskTemplate}, tpl, nil); err != nil {
					return err
				}
				task.Template = tpl
			}
		}
	}
	return nil
}

// flatTask is one step of a job as the agent runs it: a script task, a template task, or a
// task group's step (groups flatten, recursively, into their steps).
type flatTask struct {
	AssignmentTask
	template *tasklib.Template
	inputs   map[string]string
}

// flattenTasks turns a job's enabled tasks into the steps the agent runs, in order.
func flattenTasks(tasks []spec.Task) []flatTask {
	var out []flatTask
	for _, t := range tasks {
		if t.Disabled {
			continue
		}
		base := AssignmentTask{
			Name: t.Name, Shell: t.Shell, Script: t.Script, WorkingDirectory: t.WorkingDirectory,
			Env: maps.Clone(t.Env), TimeoutSeconds: t.TimeoutMinutes * 60, ContinueOnError: t.ContinueOnError,
			Condition: t.Condition,
		}
		if t.Template == nil {
			out = append(out, flatTask{AssignmentTask: base})
			continue
		}
		out = appendTemplate(out, base, t.Template, t.Inputs)
	}
	return out
}

func appendTemplate(out []flatTask, base AssignmentTask, tpl *tasklib.Template, inputs map[string]string) []flatTask {
	if !tpl.IsGroup() {
		base.Shell, base.Script, base.Runner = tpl.Shell, tpl.Script, tpl.Runner
		return append(out, flatTask{AssignmentTask: base, template: tpl, inputs: inputs})
	}
	// A step's $(name) references to the group's inputs take the values the group got (or
	// its defaults); other references stay for the agent.
	groupValues := map[string]string{}
	for _, in := range tpl.Inputs {
		v, ok := inputs[in.Name]
		if !ok {
			for k, x := range inputs {
				if strings.EqualFold(k, in.Name) {
					v, ok = x, true
				}
			}
		}
		if !ok {
			v = in.Default
		}
		groupValues[strings.ToLower(in.Name)] = v
	}
	lookup := func(n string) (string, bool) { v, ok := groupValues[strings.ToLower(n)]; return v, ok }
	for _, s := range tpl.Steps {
		if s.Template == nil {
			continue
		}
		step := base
		step.Name = base.Name + " / " + s.Name
		step.Env = maps.Clone(base.Env)
		step.ContinueOnError = base.ContinueOnError || s.ContinueOnError
		if s.Condition != "" {
			step.Condition = s.Condition
		}
		in := make(map[string]string, len(s.Inputs))
		for k, v := range s.Inputs {
			in[k] = tasklib.Expand(v, lookup)
		}
		out = appendTemplate(out, step, s.Template, in)
	}
	return out
}

// templateDemands returns the demands of the templates a job's tasks run.
func templateDemands(tasks []spec.Task) []string {
	var out []string
	for _, f := range flattenTasks(tasks) {
		if f.template != nil {
			out = append(out, f.template.Demands...)
			if f.template.Runner != "" {
				out = append(out, tasklib.RunnerCapability(f.template.Runner))
			}
			if usesEndpoint(f) {
				out = append(out, endpointsCapability)
			}
		}
		if f.Shell == "cmd" {
			out = append(out, tasklib.WindowsDemand)
		}
	}
	return out
}

// downloadSecureFileInput returns the secureFile input (its key as written, and value) of a
// task that uses the DownloadSecureFile built-in.
func downloadSecureFileInput(task spec.Task) (key, value string, ok bool) {
	name, _, err := tasklib.ParseRef(task.Uses)
	if err != nil || !strings.EqualFold(name, "DownloadSecureFile") {
		return "", "", false
	}
	for k, v := range task.Inputs {
		if strings.EqualFold(k, "secureFile") {
			return k, strings.TrimSpace(v), true
		}
	}
	return "", "", true
}

// lookupInput finds a task's input value by name, ignoring case.
func lookupInput(inputs map[string]string, name string) (string, bool) {
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

// hasVariableReference reports whether v holds a $(VAR) reference.
func hasVariableReference(v string) bool { return strings.Contains(v, "$(") }

// jobSecureFileNames are the secure files a job names: job.secureFiles, then those of its
// DownloadSecureFile tasks, each once. They are sent with the job, linked (use permission,
// audited) and listed as users of the file like job.secureFiles.
func jobSecureFileNames(js spec.JobSpec) []string {
	out := slices.Clone(js.SecureFiles)
	for _, t := range js.Tasks {
		if _, v, ok := downloadSecureFileInput(t); ok && v != "" && !hasVariableReference(v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// allTasks lists every task of an environment: its job's and its phases'.
func allTasks(env *spec.EnvironmentSpec) []spec.Task {
	var out []spec.Task
	for _, l := range env.TaskLists() {
		out = append(out, *l...)
	}
	return out
}
