package delivery

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/robfig/cron/v3"

	"github.com/cairnhq/cairn/ent/group"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/serviceconnection"
	"github.com/cairnhq/cairn/ent/user"
	"github.com/cairnhq/cairn/internal/condition"
	"github.com/cairnhq/cairn/internal/tasklib"
)

// Defaults applied to a definition document before it is validated.
const (
	DefaultReleaseNameFormat = "Release-$(rev:r)"
	DefaultShell             = "bash"
	DefaultTimeZone          = "UTC"
)

// Limits of a definition document. The byte limits match the ent schema's
// MaxLen validators, so that a document that passes validation never fails
// on insert with an untyped error.
const (
	maxDefinitionName  = 200
	maxDescription     = 4000
	maxNameFormat      = 200
	maxEnvironmentName = 100
	maxAlias           = 100
	maxJob             = 1000
	maxProject         = 200
	maxRepositoryURL   = 2000
	maxComment         = 2000
	maxVariableValue   = 64 << 10
	maxReaders         = 50
)

var (
	variableNameRe = regexp.MustCompile(`^[A-Za-z0-9_.]+$`)
	envKeyRe       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// aliasRe keeps aliases usable as directory and variable names on the
	// agent: no separators and no leading dot, so never "..".
	aliasRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.\-]*$`)
	// demandRe is "name" (the capability exists) or "name -equals value".
	demandRe = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.\-]*(?:\s+-equals\s+\S.*)?$`)
)

var validShells = map[string]bool{"bash": true, "sh": true, "pwsh": true, "cmd": true}

// ValidationError lists every problem found in a definition document, so that
// a person fixes them in one round trip. It has the code INVALID_INPUT:
// errors.As(err, &*Error) yields the first problem, and CodeOf reports
// INVALID_INPUT.
type ValidationError struct {
	Problems []*Error
}

func (v *ValidationError) Error() string {
	parts := make([]string, len(v.Problems))
	for i, p := range v.Problems {
		parts[i] = p.Error()
	}
	return strings.Join(parts, "; ")
}

// Is makes a ValidationError match ErrInvalidInput.
func (v *ValidationError) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == CodeInvalidInput
}

// As yields the first problem to a caller asking for an *Error, so that the
// edges map the error (code, field, message) without knowing this type.
func (v *ValidationError) As(target any) bool {
	if p, ok := target.(**Error); ok && len(v.Problems) > 0 {
		*p = v.Problems[0]
		return true
	}
	return false
}

// problems collects validation errors in document order.
type problems struct{ list []*Error }

func (p *problems) add(field, format string, args ...any) {
	p.list = append(p.list, Invalid(field, format, args...))
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &ValidationError{Problems: p.list}
}

// normalizeDefinition returns a deep copy of in with names trimmed and
// defaults applied; the caller's document is never modified.
func normalizeDefinition(in spec.DefinitionSnapshot) spec.DefinitionSnapshot {
	out := spec.DefinitionSnapshot{
		Name:              strings.TrimSpace(in.Name),
		Description:       in.Description,
		ReleaseNameFormat: strings.TrimSpace(in.ReleaseNameFormat),
		Variables:         normalizeVariables(in.Variables),
		VariableGroups:    append([]string(nil), in.VariableGroups...),
		Readers:           normalizeReaders(in.Readers),
		Permissions:       normalizeDefinitionPermissions(in.Permissions),
		Path:              normalizePath(in.Path),
		Tags:              normalizeLabelTags(in.Tags),
		Disabled:          in.Disabled,
	}
	if out.ReleaseNameFormat == "" {
		out.ReleaseNameFormat = DefaultReleaseNameFormat
	}
	primary := false
	for _, s := range in.ArtifactSources {
		s.Alias = strings.TrimSpace(s.Alias)
		s.Type = strings.ToUpper(strings.TrimSpace(s.Type))
		s.Connection = strings.TrimSpace(s.Connection)
		s.Job = strings.TrimSpace(s.Job)
		s.Project = strings.TrimSpace(s.Project)
		s.RepositoryURL = strings.TrimSpace(s.RepositoryURL)
		s.BranchFilters = append([]string(nil), s.BranchFilters...)
		primary = primary || s.Primary
		out.ArtifactSources = append(out.ArtifactSources, s)
	}
	if !primary && len(out.ArtifactSources) > 0 {
		out.ArtifactSources[0].Primary = true
	}
	for _, env := range in.Environments {
		env.Name = strings.TrimSpace(env.Name)
		env.Owner = strings.TrimSpace(env.Owner)
		if env.Trigger.Kind == "" {
			env.Trigger.Kind = spec.TriggerManual
		}
		env.Trigger.Environments = trimAll(env.Trigger.Environments)
		env.PreApproval = normalizePolicy(env.PreApproval)
		env.PostApproval = normalizePolicy(env.PostApproval)
		env.PreGates = normalizeGates(env.PreGates)
		env.PostGates = normalizeGates(env.PostGates)
		env.Job.Demands = trimAll(env.Job.Demands)
		env.Job.Tasks = normalizeTasks(env.Job.Tasks)
		if len(env.Phases) == 0 {
			env.Phases = nil
		}
		for j := range env.Phases {
			ph := &env.Phases[j]
			ph.Kind = spec.PhaseKind(strings.ToUpper(strings.TrimSpace(string(ph.Kind))))
			ph.Name = strings.TrimSpace(ph.Name)
			ph.Condition = strings.ToUpper(strings.TrimSpace(ph.Condition))
			if ph.Condition == spec.PhaseRunSucceeded {
				ph.Condition = ""
			}
			ph.Pool = strings.TrimSpace(ph.Pool)
			ph.Demands = trimAll(ph.Demands)
			ph.DeploymentGroup = strings.TrimSpace(ph.DeploymentGroup)
			ph.Tags = trimAll(ph.Tags)
			for t := range ph.Tags {
				ph.Tags[t] = strings.ToLower(ph.Tags[t])
			}
			ph.MaxParallel = strings.TrimSpace(ph.MaxParallel)
			ph.FailureThreshold = strings.TrimSpace(ph.FailureThreshold)
			ph.OfflineTargets = spec.OfflineTargets(strings.ToUpper(strings.TrimSpace(string(ph.OfflineTargets))))
			ph.Tasks = normalizeTasks(ph.Tasks)
		}
		if env.Queue.Mode == "" {
			env.Queue.Mode = spec.QueueAllInOrder
		}
		env.Variables = normalizeVariables(env.Variables)
		env.Permissions = normalizeEnvironmentPermissions(env.Permissions)
		if env.Retention != nil {
			r := *env.Retention
			env.Retention = &r
		}
		out.Environments = append(out.Environments, env)
	}
	for _, s := range in.Schedules {
		s.Cron = strings.TrimSpace(s.Cron)
		s.TimeZone = strings.TrimSpace(s.TimeZone)
		if s.TimeZone == "" {
			s.TimeZone = DefaultTimeZone
		}
		out.Schedules = append(out.Schedules, s)
	}
	return out
}

func normalizePolicy(p spec.ApprovalPolicy) spec.ApprovalPolicy {
	if p.Mode == "" {
		p.Mode = spec.ApprovalAnyOne
	}
	p.Approvers = normalizePrincipals(p.Approvers)
	if p.Mode == spec.ApprovalAnyOne && p.RequiredCount == 0 && len(p.Approvers) > 0 {
		p.RequiredCount = 1
	}
	return p
}

func normalizeVariables(vs []spec.Variable) []spec.Variable {
	if len(vs) == 0 {
		return nil
	}
	out := make([]spec.Variable, len(vs))
	for i, v := range vs {
		v.Name = strings.TrimSpace(v.Name)
		out[i] = v
	}
	return out
}

// normalizeReaders trims the reader group names and drops repeats, keeping
// the order given.
func normalizeReaders(rs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range rs {
		r = strings.TrimSpace(r)
		if seen[r] {
			continue
		}
		seen[r] = true
		out = append(out, r)
	}
	return out
}

func trimAll(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.TrimSpace(s)
	}
	return out
}

// references are the named things of the database that a definition points
// at, looked up once per validation.
type references struct {
	connections map[string]serviceconnection.Kind
	connIDs     map[string]int
	connURLs    map[string]string
	users       map[string]bool
	groups      map[string]bool
	// templates are the task templates the tasks use, by lower-case Name@major (nil: none).
	templates map[string]*tasklib.Template
}

// loadReferences reads the connections, users and groups that doc names.
func (t *txn) loadReferences(doc *spec.DefinitionSnapshot) (*references, error) {
	refs := &references{
		connections: map[string]serviceconnection.Kind{}, connIDs: map[string]int{}, connURLs: map[string]string{},
		users: map[string]bool{}, groups: map[string]bool{},
	}
	var conns, users []string
	groups := append([]string(nil), doc.Readers...)
	for _, s := range doc.ArtifactSources {
		conns = append(conns, s.Connection)
	}
	for _, env := range doc.Environments {
		for _, p := range []spec.ApprovalPolicy{env.PreApproval, env.PostApproval} {
			users, groups = appendPrincipals(users, groups, p.Approvers)
		}
		for _, l := range environmentPermissionLists(&env.Permissions) {
			users, groups = appendPrincipals(users, groups, l.list)
		}
		for _, task := range env.Job.Tasks {
			users, groups = appendPrincipals(users, groups, task.Approvers)
		}
	}
	for _, l := range definitionPermissionLists(&doc.Permissions) {
		users, groups = appendPrincipals(users, groups, l.list)
	}
	if err := t.loadTemplates(doc, refs); err != nil {
		return nil, err
	}
	for _, env := range doc.Environments { // connections named by SERVICE_CONNECTION inputs
		for _, task := range allTasks(&env) {
			if tpl := refs.templates[strings.ToLower(strings.TrimSpace(task.Uses))]; tpl != nil {
				for _, in := range tpl.Inputs {
					if v, ok := lookupInput(task.Inputs, in.Name); ok && in.Type == tasklib.InputServiceConnection {
						conns = append(conns, strings.TrimSpace(v))
					}
				}
			}
		}
	}
	if len(conns) > 0 {
		rows, err := t.ServiceConnection.Query().Where(serviceconnection.NameIn(conns...)).All(t.ctx)
		if err != nil {
			return nil, fmt.Errorf("reading service connections: %w", err)
		}
		for _, c := range rows {
			refs.connections[c.Name], refs.connIDs[c.Name], refs.connURLs[c.Name] = c.Kind, c.ID, c.URL
		}
	}
	if len(users) > 0 {
		names, err := t.User.Query().Where(user.UsernameIn(users...)).Select(user.FieldUsername).Strings(t.ctx)
		if err != nil {
			return nil, fmt.Errorf("reading approvers: %w", err)
		}
		for _, n := range names {
			refs.users[n] = true
		}
	}
	if len(groups) > 0 {
		names, err := t.Group.Query().Where(group.NameIn(groups...)).Select(group.FieldName).Strings(t.ctx)
		if err != nil {
			return nil, fmt.Errorf("reading approver and reader groups: %w", err)
		}
		for _, n := range names {
			refs.groups[n] = true
		}
	}
	return refs, nil
}

// validateDefinition checks a normalised document against itself and refs and
// returns every problem found, in document order.
func validateDefinition(doc *spec.DefinitionSnapshot, refs *references) *problems {
	p := &problems{}
	switch {
	case doc.Name == "":
		p.add("name", "a definition needs a name")
	case len(doc.Name) > maxDefinitionName:
		p.add("name", "is %d bytes long; at most %d are allowed", len(doc.Name), maxDefinitionName)
	case hasControl(doc.Name):
		p.add("name", "must not contain control characters")
	}
	if len(doc.Description) > maxDescription {
		p.add("description", "is %d bytes long; at most %d are allowed", len(doc.Description), maxDescription)
	}
	validateNameFormat(p, doc.ReleaseNameFormat)
	validateVariables(p, "variables", doc.Variables)
	validateSources(p, doc.ArtifactSources, refs)
	validateEnvironments(p, doc.Environments, refs)
	validateReaders(p, doc.Readers, refs)
	validatePath(p, "path", doc.Path)
	validateTags(p, "tags", doc.Tags)
	for _, l := range definitionPermissionLists(&doc.Permissions) {
		validatePrincipalList(p, "permissions."+l.field, l.list, refs)
	}
	for i, s := range doc.Schedules {
		field := fmt.Sprintf("schedules[%d]", i)
		if n := len(strings.Fields(s.Cron)); n != 5 {
			p.add(field+".cron", "%q has %d fields; write 5: minute hour day-of-month month day-of-week, e.g. \"0 3 * * 1-5\"", s.Cron, n)
		} else if _, err := cron.ParseStandard(s.Cron); err != nil {
			p.add(field+".cron", "%q is not a valid cron expression: %v", s.Cron, err)
		}
		if s.TimeZone == "Local" {
			p.add(field+".timeZone", "name the time zone explicitly (IANA name, e.g. Europe/Paris), not Local")
		} else if _, err := time.LoadLocation(s.TimeZone); err != nil {
			p.add(field+".timeZone", "unknown time zone %q; use an IANA name such as Europe/Paris or UTC", s.TimeZone)
		}
	}
	return p
}

// validateReaders checks that every reader names an existing group.
func validateReaders(p *problems, readers []string, refs *references) {
	if len(readers) > maxReaders {
		p.add("readers", "lists %d groups; at most %d are allowed", len(readers), maxReaders)
		return
	}
	for i, r := range readers {
		field := fmt.Sprintf("readers[%d]", i)
		switch {
		case r == "":
			p.add(field, "a reader group needs a name")
		case !refs.groups[r]:
			p.add(field, "group %q does not exist; create it first or remove it from readers", r)
		}
	}
}

func validateNameFormat(p *problems, f string) {
	const field = "releaseNameFormat"
	if len(f) > maxNameFormat {
		p.add(field, "is %d bytes long; at most %d are allowed", len(f), maxNameFormat)
		return
	}
	if hasControl(f) {
		p.add(field, "must not contain control characters")
		return
	}
	rest := f
	for {
		i := strings.Index(rest, "$(")
		if i < 0 {
			return
		}
		j := strings.IndexByte(rest[i:], ')')
		if j < 0 {
			p.add(field, "token %q is not closed with \")\"", rest[i:])
			return
		}
		tok := rest[i+2 : i+j]
		if _, ok := lookupNameToken(tok); !ok {
			p.add(field, "unknown token $(%s); allowed are %s (dates with yyyy, yy, MM, dd, HH, mm, ss and the separators - . _ : or a space)", tok, nameTokenSyntax())
		}
		rest = rest[i+j+1:]
	}
}

func validateVariables(p *problems, field string, vars []spec.Variable) {
	seen := map[string]string{}
	for i, v := range vars {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case v.Name == "":
			p.add(f+".name", "a variable needs a name")
			continue
		case !variableNameRe.MatchString(v.Name):
			p.add(f+".name", "%q may only contain letters, digits, \"_\" and \".\"", v.Name)
			continue
		}
		if why := refusedVariableName(v.Name); why != "" {
			p.add(f+".name", "%s", why)
		}
		if prev, ok := seen[strings.ToLower(v.Name)]; ok {
			p.add(f+".name", "variable %q is defined twice (also as %q); names are compared without case", v.Name, prev)
		}
		seen[strings.ToLower(v.Name)] = v.Name
		if len(v.Value) > maxVariableValue {
			p.add(f+".value", "is %d bytes long; at most %d are allowed", len(v.Value), maxVariableValue)
		}
	}
}

func validateSources(p *problems, sources []spec.ArtifactSourceSpec, refs *references) {
	aliases := map[string]int{}
	primary := -1
	for i, s := range sources {
		f := fmt.Sprintf("artifactSources[%d]", i)
		switch {
		case s.Alias == "":
			p.add(f+".alias", "an artifact source needs an alias")
		case len(s.Alias) > maxAlias:
			p.add(f+".alias", "is %d bytes long; at most %d are allowed", len(s.Alias), maxAlias)
		case !aliasRe.MatchString(s.Alias):
			p.add(f+".alias", "%q may only contain letters, digits, \"_\", \".\" and \"-\", and may not start with \".\" or \"-\"", s.Alias)
		default:
			if j, ok := aliases[strings.ToLower(s.Alias)]; ok {
				p.add(f+".alias", "alias %q is already used by artifactSources[%d]; aliases are compared without case", s.Alias, j)
			} else {
				aliases[strings.ToLower(s.Alias)] = i
			}
		}
		var want serviceconnection.Kind
		switch s.Type {
		case "JENKINS":
			want = serviceconnection.KindJENKINS
		case "TEAMBUILD":
			want = serviceconnection.KindAZURE_DEVOPS
			if s.Project == "" {
				p.add(f+".project", "a TEAMBUILD source needs the Azure DevOps project")
			}
		default:
			p.add(f+".type", "unknown artifact type %q; use JENKINS or TEAMBUILD", s.Type)
		}
		if s.Connection == "" {
			p.add(f+".connection", "an artifact source needs a service connection")
		} else if kind, ok := refs.connections[s.Connection]; !ok {
			p.add(f+".connection", "unknown connection %q", s.Connection)
		} else if want != "" && kind != want {
			p.add(f+".connection", "connection %q is a %s connection; a %s source needs a %s connection", s.Connection, kind, s.Type, want)
		}
		switch {
		case s.Job == "":
			p.add(f+".job", "an artifact source needs the CI job (Jenkins job or Team Build definition)")
		case len(s.Job) > maxJob:
			p.add(f+".job", "is %d bytes long; at most %d are allowed", len(s.Job), maxJob)
		}
		if len(s.Project) > maxProject {
			p.add(f+".project", "is %d bytes long; at most %d are allowed", len(s.Project), maxProject)
		}
		if len(s.RepositoryURL) > maxRepositoryURL {
			p.add(f+".repositoryUrl", "is %d bytes long; at most %d are allowed", len(s.RepositoryURL), maxRepositoryURL)
		}
		for j, bf := range s.BranchFilters {
			if msg := validateBranchFilter(bf); msg != "" {
				p.add(fmt.Sprintf("%s.branchFilters[%d]", f, j), "%s", msg)
			}
		}
		if s.Primary {
			if primary >= 0 {
				p.add(f+".primary", "artifactSources[%d] is already the primary artifact; only one source may be primary", primary)
			} else {
				primary = i
			}
		}
	}
}

// validateBranchFilter returns what is wrong with a branch filter ("main",
// "release/*", "-release/old*"), or "" when it is valid.
func validateBranchFilter(f string) string {
	if f == "" {
		return "a branch filter may not be empty"
	}
	for _, r := range f {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Sprintf("%q contains whitespace or a control character", f)
		}
	}
	pattern := strings.TrimPrefix(f, "-")
	if pattern == "" {
		return "\"-\" alone excludes nothing; write -<pattern>, e.g. -release/old*"
	}
	if _, err := path.Match(pattern, ""); errors.Is(err, path.ErrBadPattern) {
		return fmt.Sprintf("%q is not a valid pattern (check its [ ] brackets and \\ escapes)", f)
	}
	return ""
}

func validateEnvironments(p *problems, envs []spec.EnvironmentSpec, refs *references) {
	if len(envs) == 0 {
		p.add("environments", "a definition needs at least one environment")
		return
	}
	byName := map[string]int{}
	lower := map[string]string{}
	for i, env := range envs {
		f := fmt.Sprintf("environments[%d]", i)
		switch {
		case env.Name == "":
			p.add(f+".name", "an environment needs a name")
		case len(env.Name) > maxEnvironmentName:
			p.add(f+".name", "is %d bytes long; at most %d are allowed", len(env.Name), maxEnvironmentName)
		case hasControl(env.Name):
			p.add(f+".name", "must not contain control characters")
		default:
			if prev, ok := lower[strings.ToLower(env.Name)]; ok {
				p.add(f+".name", "environment %q is defined twice (also as %q); names are compared without case", env.Name, prev)
			} else {
				lower[strings.ToLower(env.Name)] = env.Name
				byName[env.Name] = i
			}
		}
	}
	for i, env := range envs {
		f := fmt.Sprintf("environments[%d]", i)
		validateTrigger(p, f+".trigger", env, byName, lower)
		validatePolicy(p, f+".preApproval", env.PreApproval, refs)
		validatePolicy(p, f+".postApproval", env.PostApproval, refs)
		validateGates(p, f+".preGates", env.PreGates)
		validateGates(p, f+".postGates", env.PostGates)
		validateJob(p, f+".job", env.Job, refs)
		validatePhases(p, f, env, refs)
		if env.Queue.MaxParallel < 0 {
			p.add(f+".queue.maxParallel", "may not be negative (0 means unlimited)")
		}
		switch env.Queue.Mode {
		case spec.QueueAllInOrder, spec.QueueLatestOnly:
		default:
			p.add(f+".queue.mode", "unknown queue mode %q; use ALL_IN_ORDER or LATEST_ONLY", env.Queue.Mode)
		}
		validateVariables(p, f+".variables", env.Variables)
		for _, l := range environmentPermissionLists(&env.Permissions) {
			validatePrincipalList(p, f+".permissions."+l.field, l.list, refs)
		}
	}
	if cycle, at := triggerCycle(envs, byName); cycle != "" {
		p.add(fmt.Sprintf("environments[%d].trigger", at), "environments trigger each other in a cycle: %s; one of them must trigger after the release or manually", cycle)
	}
}

func validateTrigger(p *problems, f string, env spec.EnvironmentSpec, byName map[string]int, lower map[string]string) {
	tr := env.Trigger
	switch tr.Kind {
	case spec.TriggerAfterEnvironments:
		if len(tr.Environments) == 0 {
			p.add(f+".environments", "AFTER_ENVIRONMENTS needs at least one environment to wait for")
		}
	case spec.TriggerAfterRelease, spec.TriggerManual:
		if len(tr.Environments) > 0 {
			p.add(f+".environments", "environments to wait for are only allowed with AFTER_ENVIRONMENTS, not %s", tr.Kind)
			return
		}
	default:
		p.add(f+".kind", "unknown trigger kind %q; use AFTER_RELEASE, AFTER_ENVIRONMENTS or MANUAL", tr.Kind)
		return
	}
	seen := map[string]bool{}
	for j, name := range tr.Environments {
		ff := fmt.Sprintf("%s.environments[%d]", f, j)
		_, known := byName[name]
		switch {
		case name == env.Name:
			p.add(ff, "environment %q cannot trigger after itself", name)
		case !known:
			if actual, ok := lower[strings.ToLower(name)]; ok {
				p.add(ff, "unknown environment %q (did you mean %q?)", name, actual)
			} else {
				p.add(ff, "unknown environment %q", name)
			}
		case seen[name]:
			p.add(ff, "environment %q is listed twice", name)
		}
		seen[name] = true
	}
}

// triggerCycle finds a cycle among AFTER_ENVIRONMENTS triggers and returns it
// as "qa → prod → qa" (each environment waits for the next) with the index of
// the environment where it starts; "" when there is none. Self-references and
// unknown names are reported elsewhere and ignored here.
func triggerCycle(envs []spec.EnvironmentSpec, byName map[string]int) (string, int) {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(envs))
	var stack []int
	var found []int
	var visit func(i int) bool
	visit = func(i int) bool {
		color[i] = grey
		stack = append(stack, i)
		if envs[i].Trigger.Kind == spec.TriggerAfterEnvironments {
			for _, name := range envs[i].Trigger.Environments {
				j, ok := byName[name]
				if !ok || j == i {
					continue
				}
				switch color[j] {
				case grey:
					for k, s := range stack {
						if s == j {
							found = append(append([]int(nil), stack[k:]...), j)
							return true
						}
					}
				case white:
					if visit(j) {
						return true
					}
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
		return false
	}
	for i := range envs {
		if _, ok := byName[envs[i].Name]; !ok || color[i] != white {
			continue
		}
		if visit(i) {
			names := make([]string, len(found))
			for k, j := range found {
				names[k] = envs[j].Name
			}
			return strings.Join(names, " → "), found[0]
		}
	}
	return "", -1
}

// validatePrincipals checks a list of users and groups (approvers, a
// permission's principals): known kinds, existing names, no repeats.
func validatePrincipals(p *problems, f, noun string, list []spec.Approver, refs *references) {
	seen := map[spec.Approver]bool{}
	for j, a := range list {
		ff := fmt.Sprintf("%s[%d]", f, j)
		switch {
		case a.Kind != spec.ApproverUser && a.Kind != spec.ApproverGroup:
			p.add(ff+".kind", "unknown kind %q; use USER or GROUP", a.Kind)
		case a.Name == "":
			p.add(ff+".name", "%s needs a name", noun)
		case a.Kind == spec.ApproverUser && !refs.users[a.Name]:
			p.add(ff+".name", "no user %q exists", a.Name)
		case a.Kind == spec.ApproverGroup && !refs.groups[a.Name]:
			p.add(ff+".name", "no group %q exists", a.Name)
		case seen[a]:
			p.add(ff, "%s %q is listed twice", strings.ToLower(string(a.Kind)), a.Name)
		}
		seen[a] = true
	}
}

func validatePolicy(p *problems, f string, pol spec.ApprovalPolicy, refs *references) {
	switch pol.Mode {
	case spec.ApprovalAnyOne, spec.ApprovalAll, spec.ApprovalSequential:
	default:
		p.add(f+".mode", "unknown approval mode %q; use ANY_ONE, ALL or SEQUENTIAL", pol.Mode)
	}
	validatePrincipals(p, f+".approvers", "an approver", pol.Approvers, refs)
	switch {
	case pol.RequiredCount < 0:
		p.add(f+".requiredCount", "may not be negative")
	case pol.RequiredCount > len(pol.Approvers):
		p.add(f+".requiredCount", "is %d but only %d approver(s) are listed", pol.RequiredCount, len(pol.Approvers))
	}
	if pol.TimeoutMinutes < 0 {
		p.add(f+".timeoutMinutes", "may not be negative (0 means no timeout)")
	}
}

func validateJob(p *problems, f string, job spec.JobSpec, refs *references) {
	for j, d := range job.Demands {
		if !demandRe.MatchString(d) {
			p.add(fmt.Sprintf("%s.demands[%d]", f, j), "%q is not a demand; write \"name\" (the capability exists) or \"name -equals value\"", d)
		}
	}
	if job.TimeoutMinutes < 0 {
		p.add(f+".timeoutMinutes", "may not be negative (0 means the server default)")
	}
	for j, task := range job.Tasks {
		ff := fmt.Sprintf("%s.tasks[%d]", f, j)
		if task.Name == "" {
			p.add(ff+".name", "a task needs a name")
		}
		switch task.Kind {
		case "", spec.TaskScript:
		case spec.TaskManualIntervention:
			validateIntervention(p, ff, task, refs)
			continue
		default:
			p.add(ff+".kind", "unknown task kind %q; use SCRIPT or MANUAL_INTERVENTION", task.Kind)
			continue
		}
		if task.Instructions != "" || len(task.Approvers) > 0 || task.OnTimeout != "" {
			p.add(ff+".kind", "instructions, approvers and onTimeout belong to a MANUAL_INTERVENTION task, and this one is a SCRIPT")
		}
		if task.Uses != "" {
			validateTemplateTask(p, ff, task, refs)
		} else {
			if strings.TrimSpace(task.Script) == "" {
				p.add(ff+".script", "a task needs a script")
			}
			if !validShells[task.Shell] {
				p.add(ff+".shell", "unknown shell %q; use bash, sh, pwsh or cmd (Windows agents)", task.Shell)
			}
			if len(task.Inputs) > 0 {
				p.add(ff+".inputs", "inputs belong to a task that uses a template")
			}
		}
		if task.TimeoutMinutes < 0 {
			p.add(ff+".timeoutMinutes", "may not be negative (0 means the job's timeout)")
		}
		if task.AlwaysRun {
			p.add(ff+".alwaysRun", "alwaysRun means condition ALWAYS, and this task's condition is %q: set one of them", task.Condition)
		}
		if err := condition.Validate(task.Condition); err != nil {
			p.add(ff+".condition", "%v", err)
		}
		for _, k := range sortedKeys(task.Env) {
			if !envKeyRe.MatchString(k) {
				p.add(ff+".env", "%q is not an environment variable name (letters, digits and \"_\", not starting with a digit)", k)
			} else if why := refusedVariableName(k); why != "" {
				p.add(ff+".env", "%s", why)
			}
		}
	}
}

// maxInstructions bounds a manual intervention's instructions.
const maxInstructions = 4000

// validateIntervention checks a manual intervention task: it runs nothing
// (no script, shell, directory or environment), its approvers exist, its
// timeout is at most 30 days and its timeout action is known.
func validateIntervention(p *problems, f string, task spec.Task, refs *references) {
	if task.Script != "" || task.Shell != "" || task.WorkingDirectory != "" || len(task.Env) > 0 {
		p.add(f+".script", "a MANUAL_INTERVENTION task runs on the server and takes no script, shell, working directory or environment; write what the person should do in its instructions")
	}
	if task.ContinueOnError {
		p.add(f+".continueOnError", "a MANUAL_INTERVENTION task cannot continue on error: a rejection ends the deployment")
	}
	if task.Condition != "" || task.AlwaysRun {
		p.add(f+".condition", "a MANUAL_INTERVENTION task always runs when the deployment reaches it; conditions belong to script tasks")
	}
	if n := utf8.RuneCountInString(task.Instructions); n > maxInstructions {
		p.add(f+".instructions", "is %d characters long; at most %d are allowed", n, maxInstructions)
	}
	if task.TimeoutMinutes < 0 || task.TimeoutMinutes > spec.MaxInterventionTimeoutMinutes {
		p.add(f+".timeoutMinutes", "must be between 0 (the default, %d minutes) and %d (30 days)",
			spec.DefaultInterventionTimeoutMinutes, spec.MaxInterventionTimeoutMinutes)
	}
	switch task.OnTimeout {
	case "", spec.InterventionReject, spec.InterventionResume:
	default:
		p.add(f+".onTimeout", "unknown timeout action %q; use REJECT or RESUME", task.OnTimeout)
	}
	validatePrincipalList(p, f+".approvers", task.Approvers, refs)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// normalizeTasks normalises a list of tasks (a job's or a phase's).
func normalizeTasks(in []spec.Task) []spec.Task {
	tasks := make([]spec.Task, 0, len(in))
	for _, task := range in {
		task.Name = strings.TrimSpace(task.Name)
		task.Kind = spec.TaskKind(strings.TrimSpace(string(task.Kind)))
		if task.Kind == spec.TaskScript {
			task.Kind = "" // the default, stored as before kinds existed
		}
		task.Shell = strings.TrimSpace(task.Shell)
		if task.IsManualIntervention() {
			task.Approvers = normalizePrincipals(task.Approvers)
			if task.OnTimeout == "" {
				task.OnTimeout = spec.InterventionReject
			}
		} else if task.Shell == "" && strings.TrimSpace(task.Uses) == "" {
			task.Shell = DefaultShell
		}
		task.Uses = strings.TrimSpace(task.Uses)
		task.Template = nil // a definition names templates; releases freeze them
		if len(task.Inputs) == 0 {
			task.Inputs = nil
		} else {
			task.Inputs = maps.Clone(task.Inputs)
		}
		task.Condition = strings.TrimSpace(task.Condition)
		if task.AlwaysRun && (task.Condition == "" || strings.EqualFold(task.Condition, condition.Always)) {
			// Azure's classic flag, stored as the condition it means.
			task.Condition, task.AlwaysRun = condition.Always, false
		}
		if k := strings.ToUpper(task.Condition); condition.IsKeyword(k) {
			task.Condition = k
			if k == condition.Succeeded {
				task.Condition = "" // the default, stored as before conditions existed
			}
		}
		if task.Env != nil {
			m := make(map[string]string, len(task.Env))
			for k, v := range task.Env {
				m[k] = v
			}
			task.Env = m
		}
		tasks = append(tasks, task)
	}
	if len(tasks) == 0 {
		tasks = nil
	}
	return tasks
}

// Limits of phases.
const (
	maxPhases           = 20
	maxPhaseName        = 200
	maxPhaseTimeoutMins = 30 * 24 * 60
)

// validatePhases checks an environment's phases (environments[i].phases[j].…).
func validatePhases(p *problems, f string, env spec.EnvironmentSpec, refs *references) {
	if len(env.Phases) == 0 {
		return
	}
	js := env.Job
	if len(js.Tasks) > 0 || len(js.Demands) > 0 || js.TimeoutMinutes != 0 || js.SkipArtifactDownload || len(js.SecureFiles) > 0 {
		p.add(f+".job", "an environment with phases has no job: give each phase its tasks and settings")
	}
	if len(env.Phases) > maxPhases {
		p.add(f+".phases", "at most %d phases", maxPhases)
		return
	}
	for j, ph := range env.Phases {
		ff := fmt.Sprintf("%s.phases[%d]", f, j)
		switch {
		case len(ph.Name) > maxPhaseName:
			p.add(ff+".name", "is %d bytes long; at most %d are allowed", len(ph.Name), maxPhaseName)
		case hasControl(ph.Name):
			p.add(ff+".name", "must not contain control characters")
		}
		switch ph.Condition {
		case "", spec.PhaseRunAlways, spec.PhaseRunFailed:
		default:
			p.add(ff+".condition", "unknown condition %q; use SUCCEEDED, ALWAYS or FAILED", truncateText(ph.Condition, 40))
		}
		if ph.TimeoutMinutes < 0 || ph.TimeoutMinutes > maxPhaseTimeoutMins {
			p.add(ff+".timeoutMinutes", "must be between 0 (the server default) and %d", maxPhaseTimeoutMins)
		}
		agentOnly := ph.Pool != ""
		groupOnly := ph.DeploymentGroup != "" || len(ph.Tags) > 0 || ph.MaxParallel != "" || ph.FailureThreshold != "" || ph.OfflineTargets != ""
		onAgents := len(ph.Demands) > 0 || ph.SkipArtifactDownload || len(ph.SecureFiles) > 0
		switch ph.Kind {
		case spec.PhaseAgent:
			if groupOnly {
				p.add(ff+".kind", "deploymentGroup, tags, maxParallel, failureThreshold and offlineTargets belong to a DEPLOYMENT_GROUP phase")
			}
			if len(ph.Pool) > maxPoolName || hasControl(ph.Pool) {
				p.add(ff+".pool", "is not a pool name (at most %d characters, no control characters)", maxPoolName)
			}
		case spec.PhaseDeploymentGroup:
			if agentOnly {
				p.add(ff+".pool", "a DEPLOYMENT_GROUP phase runs on its group's targets, not on a pool")
			}
			switch {
			case ph.DeploymentGroup == "":
				p.add(ff+".deploymentGroup", "a DEPLOYMENT_GROUP phase names its deployment group")
			case len(ph.DeploymentGroup) > maxPoolName || hasControl(ph.DeploymentGroup):
				p.add(ff+".deploymentGroup", "is not a group name (at most %d characters, no control characters)", maxPoolName)
			}
			if _, err := normalizeTags("tags", ph.Tags); err != nil {
				p.add(ff+".tags", "%s", strings.TrimPrefix(err.Error(), "tags: "))
			}
			if ph.MaxParallel != "" {
				n, _, err := ParseShare(ph.MaxParallel)
				switch {
				case err != nil:
					p.add(ff+".maxParallel", "%v", err)
				case n < 1:
					p.add(ff+".maxParallel", "must let at least one target run (1 or more, or 1%% to 100%%)")
				}
			}
			if ph.FailureThreshold != "" {
				if _, _, err := ParseShare(ph.FailureThreshold); err != nil {
					p.add(ff+".failureThreshold", "%v", err)
				}
			}
			switch ph.OfflineTargets {
			case "", spec.OfflineSkip, spec.OfflineWait:
			default:
				p.add(ff+".offlineTargets", "unknown policy %q; use SKIP or WAIT", truncateText(string(ph.OfflineTargets), 40))
			}
		case spec.PhaseServer:
			if agentOnly || groupOnly || onAgents {
				p.add(ff+".kind", "a SERVER phase runs on no agent: pool, demands, skipArtifactDownload, secureFiles and the deployment group settings do not apply")
			}
			if len(ph.Tasks) == 0 {
				p.add(ff+".tasks", "a SERVER phase needs at least one MANUAL_INTERVENTION task")
			}
			for t, task := range ph.Tasks {
				if !task.IsManualIntervention() {
					p.add(fmt.Sprintf("%s.tasks[%d].kind", ff, t), "a SERVER phase runs only MANUAL_INTERVENTION tasks")
				}
			}
		case "":
			p.add(ff+".kind", "a phase needs a kind: AGENT, DEPLOYMENT_GROUP or SERVER")
			continue
		default:
			p.add(ff+".kind", "unknown phase kind %q; use AGENT, DEPLOYMENT_GROUP or SERVER", truncateText(string(ph.Kind), 40))
			continue
		}
		if ph.Kind != spec.PhaseServer {
			for t, task := range ph.Tasks {
				if task.IsManualIntervention() {
					p.add(fmt.Sprintf("%s.tasks[%d].kind", ff, t), "a manual intervention runs in a SERVER phase of its own")
				}
			}
		}
		validateJob(p, ff, spec.JobSpec{Demands: ph.Demands, Tasks: ph.Tasks}, refs)
	}
}
