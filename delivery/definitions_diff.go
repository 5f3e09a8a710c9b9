package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/definitionrevision"
	"github.com/cairnhq/cairn/ent/schema/spec"
)

// ChangeKind says how a field differs between two revisions.
type ChangeKind string

// The change kinds.
const (
	ChangeAdded   ChangeKind = "ADDED"
	ChangeRemoved ChangeKind = "REMOVED"
	ChangeChanged ChangeKind = "CHANGED"
)

// FieldChange is one difference between two revisions of a definition. Path
// names the field with environments, artifact sources and variables keyed by
// name (environments[prod].preApproval.approvers, variables[API_URL].value),
// so that a reorder reads as a rank change, not as every field changing.
// Before is nil for ADDED, After nil for REMOVED. Secret values read "***".
type FieldChange struct {
	Path   string
	Before *string
	After  *string
	Kind   ChangeKind
}

// DiffRevisions compares revision from with revision to of definition
// definitionID (which may be deleted: its history stays readable) field by
// field.
func (e *Engine) DiffRevisions(ctx context.Context, actor Actor, definitionID, fromRevision, toRevision int) ([]FieldChange, error) {
	if err := actor.Require(RoleViewer, "comparing definition revisions"); err != nil {
		return nil, err
	}
	if err := e.RequireReadableDefinition(ctx, actor, definitionID); err != nil {
		return nil, err
	}
	revs, err := e.client.DefinitionRevision.Query().
		Where(definitionrevision.DefinitionID(definitionID),
			definitionrevision.RevisionIn(fromRevision, toRevision)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading revisions %d and %d of definition %d: %w", fromRevision, toRevision, definitionID, err)
	}
	var from, to *ent.DefinitionRevision
	for _, r := range revs {
		if r.Revision == fromRevision {
			from = r
		}
		if r.Revision == toRevision {
			to = r
		}
	}
	switch {
	case from == nil:
		return nil, NotFound(fmt.Sprintf("revision %d of definition", fromRevision), definitionID)
	case to == nil:
		return nil, NotFound(fmt.Sprintf("revision %d of definition", toRevision), definitionID)
	}
	return diffSnapshots(&from.Snapshot, &to.Snapshot), nil
}

// leaf is one flattened field of a snapshot. cmp is what is compared (a
// secret's ciphertext), show what is displayed ("***" for a secret). An item
// leaf stands for a whole keyed element (an environment, a task); parents are
// the items that the leaf belongs to.
type leaf struct {
	path, cmp, show string
	item            bool
	parents         []string
}

type flattener struct {
	leaves  []leaf
	parents []string
}

func (f *flattener) add(path, value string) {
	f.leaves = append(f.leaves, leaf{path: path, cmp: value, show: value, parents: f.parents})
}

// enter records an item and makes it the parent of the leaves that follow
// until leave.
func (f *flattener) enter(path string, v any) {
	b, _ := json.Marshal(v)
	f.leaves = append(f.leaves, leaf{path: path, cmp: string(b), show: string(b), item: true, parents: f.parents})
	f.parents = append(append([]string(nil), f.parents...), path)
}

func (f *flattener) leave() { f.parents = f.parents[:len(f.parents)-1] }

func (f *flattener) variables(prefix string, vs []spec.Variable) {
	for _, v := range vs {
		p := fmt.Sprintf("%s[%s]", prefix, v.Name)
		show := v.Value
		if v.Secret {
			show = maskedValue
		}
		b, _ := json.Marshal(spec.Variable{Name: v.Name, Value: show, Secret: v.Secret})
		f.leaves = append(f.leaves, leaf{path: p, cmp: string(b), show: string(b), item: true, parents: f.parents})
		f.parents = append(append([]string(nil), f.parents...), p)
		f.leaves = append(f.leaves, leaf{path: p + ".value", cmp: v.Value, show: show, parents: f.parents})
		f.add(p+".secret", strconv.FormatBool(v.Secret))
		f.leave()
	}
}

func (f *flattener) policy(prefix string, p spec.ApprovalPolicy) {
	f.add(prefix+".approvers", principalNames(p.Approvers))
	f.add(prefix+".mode", string(p.Mode))
	f.add(prefix+".requiredCount", strconv.Itoa(p.RequiredCount))
	f.add(prefix+".requesterCannotApprove", strconv.FormatBool(p.RequesterCannotApprove))
	f.add(prefix+".timeoutMinutes", strconv.Itoa(p.TimeoutMinutes))
	f.add(prefix+".skipIfApprovedInPreviousEnvironment", strconv.FormatBool(p.SkipIfApprovedInPreviousEnvironment))
}

func (f *flattener) gates(prefix string, p spec.GatePolicy) {
	f.add(prefix+".order", string(p.Order))
	f.add(prefix+".delayMinutes", strconv.Itoa(p.DelayMinutes))
	f.add(prefix+".intervalMinutes", strconv.Itoa(p.IntervalMinutes))
	f.add(prefix+".timeoutMinutes", strconv.Itoa(p.TimeoutMinutes))
	f.add(prefix+".minimumSuccessMinutes", strconv.Itoa(p.MinimumSuccessMinutes))
	for _, g := range p.Gates {
		gp := fmt.Sprintf("%s.gates[%s]", prefix, g.Name)
		f.enter(gp, g)
		f.add(gp+".kind", string(g.Kind))
		if h := g.HTTP; h != nil {
			f.add(gp+".http.method", h.Method)
			f.add(gp+".http.url", h.URL)
			hs := make([]string, len(h.Headers))
			for i, x := range h.Headers {
				hs[i] = x.Name + ": " + x.Value
			}
			f.add(gp+".http.headers", strings.Join(hs, ", "))
			f.add(gp+".http.body", h.Body)
			f.add(gp+".http.successCriteria", h.SuccessCriteria)
			f.add(gp+".http.timeoutSeconds", strconv.Itoa(h.TimeoutSeconds))
		}
		if w := g.WorkItems; w != nil {
			f.add(gp+".workItems.types", strings.Join(w.Types, ", "))
			f.add(gp+".workItems.states", strings.Join(w.States, ", "))
			f.add(gp+".workItems.maxCount", strconv.Itoa(w.MaxCount))
		}
		f.leave()
	}
}

func (f *flattener) permissions(prefix string, lists []permissionList) {
	for _, l := range lists {
		f.add(prefix+"."+l.field, principalNames(l.list))
	}
}

// principalNames shows a list of users and groups: "USER:alice, GROUP:ops".
func principalNames(list []spec.Approver) string {
	names := make([]string, len(list))
	for i, a := range list {
		names[i] = string(a.Kind) + ":" + a.Name
	}
	return strings.Join(names, ", ")
}

func flatten(doc *spec.DefinitionSnapshot) []leaf {
	f := &flattener{}
	f.add("name", doc.Name)
	f.add("description", doc.Description)
	f.add("releaseNameFormat", doc.ReleaseNameFormat)
	f.add("path", doc.Path)
	f.add("tags", strings.Join(doc.Tags, ", "))
	f.add("disabled", strconv.FormatBool(doc.Disabled))
	f.add("readers", strings.Join(doc.Readers, ", "))
	f.permissions("permissions", definitionPermissionLists(&doc.Permissions))
	f.variables("variables", doc.Variables)
	f.add("variableGroups", strings.Join(doc.VariableGroups, ", "))
	for _, s := range doc.ArtifactSources {
		p := fmt.Sprintf("artifactSources[%s]", s.Alias)
		f.enter(p, s)
		f.add(p+".type", s.Type)
		f.add(p+".connection", s.Connection)
		f.add(p+".job", s.Job)
		f.add(p+".project", s.Project)
		f.add(p+".repositoryUrl", s.RepositoryURL)
		f.add(p+".primary", strconv.FormatBool(s.Primary))
		f.add(p+".continuousDeployment", strconv.FormatBool(s.ContinuousDeployment))
		f.add(p+".branchFilters", strings.Join(s.BranchFilters, ", "))
		f.add(p+".allowPartial", strconv.FormatBool(s.AllowPartial))
		f.leave()
	}
	for rank, env := range doc.Environments {
		p := fmt.Sprintf("environments[%s]", env.Name)
		masked := env
		masked.Variables = maskVariables(env.Variables)
		f.enter(p, masked)
		f.add(p+".rank", strconv.Itoa(rank))
		f.add(p+".owner", env.Owner)
		if r := env.Retention; r != nil {
			f.add(p+".retention", fmt.Sprintf("%d days, %d releases, retainBuild %v", r.DaysToKeep, r.ReleasesToKeep, r.RetainBuild))
		} else {
			f.add(p+".retention", "server default")
		}
		f.add(p+".trigger.kind", string(env.Trigger.Kind))
		f.add(p+".trigger.environments", strings.Join(env.Trigger.Environments, ", "))
		f.add(p+".trigger.allowPartiallySucceeded", strconv.FormatBool(env.Trigger.AllowPartiallySucceeded))
		f.policy(p+".preApproval", env.PreApproval)
		f.policy(p+".postApproval", env.PostApproval)
		f.gates(p+".preGates", env.PreGates)
		f.gates(p+".postGates", env.PostGates)
		f.add(p+".job.demands", strings.Join(env.Job.Demands, ", "))
		f.add(p+".job.timeoutMinutes", strconv.Itoa(env.Job.TimeoutMinutes))
		f.add(p+".job.skipArtifactDownload", strconv.FormatBool(env.Job.SkipArtifactDownload))
		f.add(p+".job.secureFiles", strings.Join(env.Job.SecureFiles, ", "))
		f.tasks(p+".job.tasks", env.Job.Tasks)
		for i, ph := range env.Phases {
			pp := fmt.Sprintf("%s.phases[%d]", p, i)
			f.enter(pp, ph)
			f.add(pp+".kind", string(ph.Kind))
			f.add(pp+".name", ph.Name)
			f.add(pp+".condition", ph.ConditionOrDefault())
			f.add(pp+".timeoutMinutes", strconv.Itoa(ph.TimeoutMinutes))
			f.add(pp+".pool", ph.Pool)
			f.add(pp+".demands", strings.Join(ph.Demands, ", "))
			f.add(pp+".skipArtifactDownload", strconv.FormatBool(ph.SkipArtifactDownload))
			f.add(pp+".secureFiles", strings.Join(ph.SecureFiles, ", "))
			f.add(pp+".deploymentGroup", ph.DeploymentGroup)
			f.add(pp+".tags", strings.Join(ph.Tags, ", "))
			f.add(pp+".maxParallel", ph.MaxParallel)
			f.add(pp+".failureThreshold", ph.FailureThreshold)
			f.add(pp+".offlineTargets", string(ph.OfflineTargets))
			f.tasks(pp+".tasks", ph.Tasks)
			f.leave()
		}
		f.add(p+".queue.maxParallel", strconv.Itoa(env.Queue.MaxParallel))
		f.add(p+".queue.mode", string(env.Queue.Mode))
		f.variables(p+".variables", env.Variables)
		f.add(p+".variableGroups", strings.Join(env.VariableGroups, ", "))
		f.permissions(p+".permissions", environmentPermissionLists(&env.Permissions))
		f.leave()
	}
	for i, s := range doc.Schedules {
		p := fmt.Sprintf("schedules[%d]", i)
		f.enter(p, s)
		f.add(p+".cron", s.Cron)
		f.add(p+".timeZone", s.TimeZone)
		f.add(p+".scheduleOnlyWithChanges", strconv.FormatBool(s.ScheduleOnlyWithChanges))
		f.leave()
	}
	return f.leaves
}

// diffSnapshots lists the differences from a to b in b's document order, with
// removed fields placed where they stood in a. An added or removed element
// (environment, source, variable, task, schedule) is one change carrying the
// element as JSON; a changed element lists its changed fields.
func diffSnapshots(a, b *spec.DefinitionSnapshot) []FieldChange {
	la, lb := flatten(a), flatten(b)
	ia, ib := index(la), index(lb)
	var out []FieldChange
	present := func(parents []string, idx map[string]int) bool {
		for _, p := range parents {
			if _, ok := idx[p]; !ok {
				return false
			}
		}
		return true
	}
	removed := func(l leaf) {
		if _, ok := ib[l.path]; ok || !present(l.parents, ib) {
			return
		}
		out = append(out, FieldChange{Path: l.path, Before: ptr(l.show), Kind: ChangeRemoved})
	}
	j := 0
	for _, l := range lb {
		if k, ok := ia[l.path]; ok {
			for ; j <= k; j++ {
				removed(la[j])
			}
			if old := la[k]; !l.item && old.cmp != l.cmp {
				out = append(out, FieldChange{Path: l.path, Before: ptr(old.show), After: ptr(l.show), Kind: ChangeChanged})
			}
			continue
		}
		if present(l.parents, ia) {
			out = append(out, FieldChange{Path: l.path, After: ptr(l.show), Kind: ChangeAdded})
		}
	}
	for ; j < len(la); j++ {
		removed(la[j])
	}
	return out
}

func index(ls []leaf) map[string]int {
	m := make(map[string]int, len(ls))
	for i, l := range ls {
		m[l.path] = i
	}
	return m
}

func ptr(s string) *string { return &s }

// tasks flattens a list of tasks (a job's or a phase's) under prefix.
func (f *flattener) tasks(prefix string, tasks []spec.Task) {
	for i, task := range tasks {
		tp := fmt.Sprintf("%s[%d]", prefix, i)
		f.enter(tp, task)
		f.add(tp+".name", task.Name)
		f.add(tp+".shell", task.Shell)
		f.add(tp+".script", task.Script)
		f.add(tp+".workingDirectory", task.WorkingDirectory)
		envs := make([]string, 0, len(task.Env))
		for _, k := range sortedKeys(task.Env) {
			envs = append(envs, k+"="+task.Env[k])
		}
		f.add(tp+".env", strings.Join(envs, ", "))
		f.add(tp+".timeoutMinutes", strconv.Itoa(task.TimeoutMinutes))
		f.add(tp+".continueOnError", strconv.FormatBool(task.ContinueOnError))
		f.add(tp+".disabled", strconv.FormatBool(task.Disabled))
		f.leave()
	}
}
