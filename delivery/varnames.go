package delivery

import (
	"fmt"
	"strings"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/internal/envnames"
)

// refusedVariableName says why name may not be set by a user (empty: it may):
// the environment variable it becomes changes how task processes start, or
// is Cairn's own. The list is internal/envnames, shared with the agent, which
// refuses the same names whatever a server sends; names are compared after
// envName's transformation (deploy.target → DEPLOY_TARGET), so case and "."
// make no difference.
func refusedVariableName(name string) string {
	n := envName(name)
	switch kind, prefix := envnames.Check(n); {
	case kind == envnames.ChangesStart && prefix == "":
		return fmt.Sprintf("%q becomes the environment variable %s, which changes how a task's process starts; Cairn refuses it from every source", name, n)
	case kind == envnames.ChangesStart:
		return fmt.Sprintf("%q becomes the environment variable %s, and names starting with %s change how a task's process starts; Cairn refuses them from every source", name, n, prefix)
	case kind == envnames.Own:
		return fmt.Sprintf("%q becomes the environment variable %s, and names starting with %s are Cairn's own; choose another name", name, n, prefix)
	}
	return ""
}

// refusedInSnapshot returns the first refused name of a stored document (a
// definition revision or a release's frozen copy) with where it is: a
// document saved before the list existed may hold one. env limits the
// environments looked at to one ("" for all).
func refusedInSnapshot(doc *spec.DefinitionSnapshot, env string) (where, why string) {
	for _, v := range doc.Variables {
		if why := refusedVariableName(v.Name); why != "" {
			return fmt.Sprintf("variables[%s]", v.Name), why
		}
	}
	for _, e := range doc.Environments {
		if env != "" && e.Name != env {
			continue
		}
		for _, v := range e.Variables {
			if why := refusedVariableName(v.Name); why != "" {
				return fmt.Sprintf("environments[%s].variables[%s]", e.Name, v.Name), why
			}
		}
		for i, task := range e.Job.Tasks {
			for _, k := range sortedKeys(task.Env) {
				if why := refusedVariableName(k); why != "" {
					return fmt.Sprintf("environments[%s].job.tasks[%d].env[%s]", e.Name, i, k), why
				}
			}
		}
		for j, ph := range e.Phases {
			for i, task := range ph.Tasks {
				for _, k := range sortedKeys(task.Env) {
					if why := refusedVariableName(k); why != "" {
						return fmt.Sprintf("environments[%s].phases[%d].tasks[%d].env[%s]", e.Name, j, i, k), why
					}
				}
			}
		}
	}
	return "", ""
}

// storedRefusal is the INVALID_INPUT of acting on a stored document that
// holds a refused name.
func storedRefusal(what, where, why, advice string) error {
	return Invalid("definition", "%s holds %s: %s; %s", what, where, why, advice)
}

// checkOverrides judges release-time variable overrides against the
// definition's declarations and its linked variable groups' (groups, as the
// release freezes them): an override must name a variable that the
// definition, one of its environments or a linked group declares, and every
// declaration of that name must be settable at release time (so that a
// definition-wide declaration cannot open an environment's own variable, nor
// a definition's declaration a group's variable that its administrators keep
// fixed). An override of a secret variable is kept secret. It returns the
// overrides to store.
func checkOverrides(doc *spec.DefinitionSnapshot, groups []spec.FrozenGroup, vars []spec.Variable) ([]spec.Variable, error) {
	type decl struct {
		where    []string
		settable bool
		secret   bool
	}
	decls := map[string]*decl{}
	add := func(scope string, vs []spec.Variable) {
		for _, v := range vs {
			k := strings.ToLower(v.Name)
			d, ok := decls[k]
			if !ok {
				d = &decl{settable: true}
				decls[k] = d
			}
			d.where = append(d.where, scope)
			d.settable = d.settable && v.SettableAtReleaseTime
			d.secret = d.secret || v.Secret
		}
	}
	add("the definition", doc.Variables)
	for _, e := range doc.Environments {
		add("environment "+e.Name, e.Variables)
	}
	for _, g := range groups {
		scope := "variable group " + g.Name
		if g.Environment != "" {
			scope += " (linked to environment " + g.Environment + ")"
		}
		add(scope, g.Variables)
	}
	out := make([]spec.Variable, len(vars))
	for i, v := range vars {
		field := fmt.Sprintf("variableOverrides[%d]", i)
		v.Name = strings.TrimSpace(v.Name)
		if v.Name == "" {
			out[i] = v // sealOverrides names the problem
			continue
		}
		if why := refusedVariableName(v.Name); why != "" {
			return nil, Invalid(field+".name", "%s", why)
		}
		d, ok := decls[strings.ToLower(v.Name)]
		switch {
		case !ok:
			return nil, Invalid(field+".name", "variable %q is not declared by definition %q nor by a variable group it links; only variables declared settable at release time may be overridden", v.Name, doc.Name)
		case !d.settable:
			return nil, Invalid(field+".name", "variable %q is not settable at release time (declared in %s); ask an editor of the definition, or an administrator of the variable group, to mark it settableAtReleaseTime", v.Name, strings.Join(d.where, ", "))
		}
		v.SettableAtReleaseTime = false
		v.Secret = v.Secret || d.secret
		out[i] = v
	}
	return out, nil
}

// refusedInRelease is the INVALID_INPUT of deploying a release, created
// before the refused names existed, whose frozen document (for env) or
// overrides hold one: it runs nothing rather than run it without.
func refusedInRelease(rel *ent.Release, env string) error {
	const advice = "this release cannot deploy; remove it from the definition and create a new release"
	if where, why := refusedInSnapshot(&rel.Snapshot, env); where != "" {
		return storedRefusal(fmt.Sprintf("release %s", rel.Name), where, why, advice)
	}
	for _, v := range rel.VariableOverrides {
		if why := refusedVariableName(v.Name); why != "" {
			return storedRefusal(fmt.Sprintf("release %s", rel.Name), fmt.Sprintf("variableOverrides[%s]", v.Name), why,
				"this release cannot deploy; create a new release without it")
		}
	}
	return nil
}
