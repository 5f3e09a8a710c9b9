package azureclassic

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/cairnhq/cairn/ent/schema/spec"
)

// Azure's DeployPhaseTypes, by number.
var phaseTypes = map[int]string{0: "undefined", 1: "agentbaseddeployment", 2: "runonserver", 4: "machinegroupbaseddeployment", 8: "deploymentgates"}

// Bounds of a Cairn phase (delivery's validation refuses more).
const (
	maxPhaseName     = 200
	maxPhaseTimeout  = 30 * 24 * 60
	defaultPhaseName = "Agent job"
)

// phases maps an environment's deploy phases (and the TFS 2015 deployStep) onto Cairn
// phases, one for each: agentBasedDeployment → AGENT, machineGroupBasedDeployment →
// DEPLOYMENT_GROUP, runOnServer → SERVER (its manual interventions). The environment's
// own demands and environmentOptions (older exports) are the settings every agent phase
// starts from. An environment without phases gets one agent phase without tasks (it
// downloads the artifacts), as Azure runs it.
func (c *mapper) phases(p, envName string, e *azEnvironment) []spec.PhaseSpec {
	base := spec.PhaseSpec{Kind: spec.PhaseAgent, Name: defaultPhaseName}
	for i, d := range e.Demands {
		if dm, ok := demand(d); !ok {
			c.note(fmt.Sprintf("%s.demands[%d]", p, i), Dropped, fmt.Sprintf("demand %q is not a Cairn demand (\"name\" or \"name -equals value\")", d))
		} else if !contains(base.Demands, dm) {
			base.Demands = append(base.Demands, dm)
		}
	}
	if len(base.Demands) > 0 {
		c.note(p+".demands", Mapped, "environment demands → the demands of every agent phase")
	}
	c.jobOptions(p+".environmentOptions", e.EnvironmentOptions, &base)
	var out []spec.PhaseSpec
	if e.DeployStep != nil && len(e.DeployStep.Tasks) > 0 {
		if len(e.DeployPhases) > 0 {
			c.note(p+".deployStep", Dropped, "deployStep.tasks (TFS 2015) is ignored: the environment has deploy phases, which replaced it")
		} else {
			c.note(p+".deployStep", Mapped, "TFS 2015 deploy step → one agent phase")
			ph := clonePhase(base)
			c.mapTasks(e.DeployStep.Tasks, p+".deployStep.tasks", taskCtx{env: envName, phase: &ph})
			out = append(out, c.splitInterventions(p+".deployStep", ph)...)
		}
	}
	for i := range e.DeployPhases {
		az := &e.DeployPhases[i]
		pp := fmt.Sprintf("%s.deployPhases[%d]", p, i)
		switch kind := enumName(az.PhaseType, phaseTypes); kind {
		case "agentbaseddeployment":
			out = append(out, c.agentPhase(pp, envName, az, base)...)
		case "machinegroupbaseddeployment":
			out = append(out, c.groupPhase(pp, envName, az)...)
		case "runonserver":
			if ph, ok := c.serverPhase(pp, envName, az); ok {
				out = append(out, ph)
			}
		default:
			c.note(pp, Dropped, fmt.Sprintf("unknown phase type %q: its %d tasks are left out", string(az.PhaseType), len(az.WorkflowTasks)))
		}
	}
	if len(out) == 0 {
		c.note(p+".deployPhases", Mapped, "no tasks: one agent phase that downloads the artifacts")
		out = append(out, base)
	}
	return out
}

// agentPhase maps an agentBasedDeployment phase onto an AGENT phase that starts from the
// environment's settings (base).
func (c *mapper) agentPhase(pp, envName string, az *azPhase, base spec.PhaseSpec) []spec.PhaseSpec {
	in := az.DeploymentInput
	ip := pp + ".deploymentInput"
	ph := clonePhase(base)
	ph.Name = c.phaseName(pp, az, defaultPhaseName)
	c.note(pp, Mapped, fmt.Sprintf("agent phase %q → AGENT phase", ph.Name))
	ph.Pool = c.pool(ip+".queueId", int(in.QueueID))
	c.phaseSettings(ip, &ph, in)
	if in.AgentSpecification != nil && in.AgentSpecification.Identifier != "" {
		c.note(ip+".agentSpecification", Dropped, fmt.Sprintf("hosted agent image %q: Cairn runs on its own agents", in.AgentSpecification.Identifier))
	}
	if pe := in.ParallelExecution; pe != nil {
		if t := strings.ToLower(string(pe.ParallelExecutionType)); t != "" && t != "none" && t != "0" {
			c.note(ip+".parallelExecution", Approximated, fmt.Sprintf("parallel execution %q: the phase runs once, on one agent", pe.ParallelExecutionType))
		}
	}
	c.mapTasks(az.WorkflowTasks, pp+".workflowTasks", taskCtx{env: envName, phase: &ph})
	return c.splitInterventions(pp, ph)
}

// groupPhase maps a machineGroupBasedDeployment phase onto a DEPLOYMENT_GROUP phase: the
// group by queueId through mapping.deploymentGroups, its tags, and its health option as
// maxParallel and failureThreshold.
func (c *mapper) groupPhase(pp, envName string, az *azPhase) []spec.PhaseSpec {
	in := az.DeploymentInput
	ip := pp + ".deploymentInput"
	ph := spec.PhaseSpec{Kind: spec.PhaseDeploymentGroup, Name: c.phaseName(pp, az, "Deployment group job")}
	c.note(pp, Mapped, fmt.Sprintf("deployment group phase %q → DEPLOYMENT_GROUP phase: its tasks run on every matching target", ph.Name))
	ph.DeploymentGroup = c.deploymentGroup(ip+".queueId", int(in.QueueID))
	for i, tag := range in.Tags {
		t := strings.ToLower(strings.TrimSpace(tag))
		switch {
		case t == "" || strings.ContainsFunc(t, func(r rune) bool { return r == ',' || unicode.IsSpace(r) || unicode.IsControl(r) }):
			c.note(fmt.Sprintf("%s.tags[%d]", ip, i), Dropped, fmt.Sprintf("tag %q is not a Cairn tag (no spaces, commas or control characters): targets are selected without it", tag))
		case !contains(ph.Tags, t):
			ph.Tags = append(ph.Tags, t)
		}
	}
	c.health(ip, &ph, in)
	c.phaseSettings(ip, &ph, in)
	c.mapTasks(az.WorkflowTasks, pp+".workflowTasks", taskCtx{env: envName, phase: &ph})
	return c.splitInterventions(pp, ph)
}

// health maps deploymentHealthOption and healthPercent. Azure's "OneTargetAtATime" is
// maxParallel 1 (and Cairn's default failure threshold, 0: the first failed target stops
// the phase). "Custom" keeps at least healthPercent% of the targets healthy: at most
// (100 − healthPercent)% run at once and at most that share may fail, so both maxParallel
// and failureThreshold are that percentage.
func (c *mapper) health(ip string, ph *spec.PhaseSpec, in azDeploymentInput) {
	hp := ip + ".deploymentHealthOption"
	switch opt := strings.ToLower(strings.TrimSpace(string(in.DeploymentHealthOption))); opt {
	case "", "onetargetatatime":
		ph.MaxParallel = "1"
		if opt != "" {
			c.note(hp, Mapped, "one target at a time → maxParallel 1; the first failed target stops the phase (failureThreshold 0)")
		}
	case "custom":
		h := int(in.HealthPercent)
		switch {
		case h < 0 || h > 100:
			ph.MaxParallel = "1"
			c.note(ip+".healthPercent", Approximated, fmt.Sprintf("healthPercent %d is not a percentage: one target at a time (maxParallel 1)", h))
		case h == 100:
			ph.MaxParallel = "1"
			c.note(ip+".healthPercent", Approximated, "every target must stay healthy (100%): one target at a time (maxParallel 1), the first failed target stops the phase")
		default:
			share := fmt.Sprintf("%d%%", 100-h)
			ph.MaxParallel, ph.FailureThreshold = share, share
			c.note(ip+".healthPercent", Approximated, fmt.Sprintf("at least %d%% of the targets healthy → maxParallel %s and failureThreshold %s; Cairn rounds maxParallel up where Azure keeps the healthy share (with 3 targets and 50%%, Cairn runs 2 at once, Azure 1)", h, share, share))
		}
	default:
		ph.MaxParallel = "1"
		c.note(hp, Approximated, fmt.Sprintf("unknown deployment health option %q: one target at a time (maxParallel 1)", string(in.DeploymentHealthOption)))
	}
}

// serverPhase maps a runOnServer phase onto a SERVER phase holding its manual
// interventions; other agentless tasks are left out. A phase with no intervention is none.
func (c *mapper) serverPhase(pp, envName string, az *azPhase) (spec.PhaseSpec, bool) {
	in := az.DeploymentInput
	ip := pp + ".deploymentInput"
	ph := spec.PhaseSpec{Kind: spec.PhaseServer, Name: c.phaseName(pp, az, "Agentless job")}
	ph.Condition = c.phaseCondition(ip+".condition", in.Condition)
	ph.TimeoutMinutes = c.phaseTimeout(ip+".timeoutInMinutes", int(in.TimeoutInMinutes), 0)
	tc := taskCtx{env: envName, phase: &ph}
	for j := range az.WorkflowTasks {
		t := &az.WorkflowTasks[j]
		tp := fmt.Sprintf("%s.workflowTasks[%d]", pp, j)
		major, _ := parseMajor(t.version())
		if t.id() == guidManualIntervention || (t.definitionType() != "metatask" && taskTable[taskKey{t.id(), major}].special == manualIntervention) {
			tc.path = tp
			c.mapTask(t, tc)
			continue
		}
		c.note(tp, Dropped, fmt.Sprintf("server task %q is left out: it ran on the server in an agentless phase; Cairn's SERVER phase runs manual interventions only", firstNonEmpty(t.name(), t.id(), "without a name")))
	}
	if len(ph.Tasks) == 0 {
		c.note(pp, Dropped, fmt.Sprintf("server phase %q has no manual intervention: it is left out", ph.Name))
		return ph, false
	}
	c.note(pp, Mapped, fmt.Sprintf("server phase %q → SERVER phase with %d manual intervention(s)", ph.Name, len(ph.Tasks)))
	return ph, true
}

// phaseSettings maps what agent and deployment-group phases share: demands, timeout,
// artifact download and condition.
func (c *mapper) phaseSettings(ip string, ph *spec.PhaseSpec, in azDeploymentInput) {
	for i, d := range in.Demands {
		if dm, ok := demand(d); !ok {
			c.note(fmt.Sprintf("%s.demands[%d]", ip, i), Dropped, fmt.Sprintf("demand %q is not a Cairn demand (\"name\" or \"name -equals value\")", d))
		} else if !contains(ph.Demands, dm) {
			ph.Demands = append(ph.Demands, dm)
		}
	}
	ph.TimeoutMinutes = c.phaseTimeout(ip+".timeoutInMinutes", int(in.TimeoutInMinutes), ph.TimeoutMinutes)
	ph.SkipArtifactDownload = ph.SkipArtifactDownload || bool(in.SkipArtifactsDownload)
	ph.Condition = c.phaseCondition(ip+".condition", in.Condition)
}

// phaseTimeout reads timeoutInMinutes (0 or less: def), bounded by Cairn's longest.
func (c *mapper) phaseTimeout(p string, n, def int) int {
	switch {
	case n <= 0:
		return def
	case n > maxPhaseTimeout:
		c.note(p, Approximated, fmt.Sprintf("timeout of %d minutes: Cairn's longest is %d (30 days)", n, maxPhaseTimeout))
		return maxPhaseTimeout
	}
	return n
}

// phaseCondition maps a phase's condition: succeeded(), always() (and succeededOrFailed())
// and failed() are Cairn's; any other expression runs as succeeded().
func (c *mapper) phaseCondition(p string, v flexString) string {
	raw := strings.TrimSpace(string(v))
	switch strings.ToLower(strings.Join(strings.Fields(raw), "")) {
	case "", "succeeded()":
		return ""
	case "succeededorfailed()":
		c.note(p, Mapped, "succeededOrFailed() → ALWAYS (runs after a failure, not after a cancel)")
		return spec.PhaseRunAlways
	case "always()":
		c.note(p, Approximated, "always() → ALWAYS: it runs after a failure, but not after a cancel (Azure runs it then too)")
		return spec.PhaseRunAlways
	case "failed()":
		c.note(p, Mapped, "failed() → FAILED")
		return spec.PhaseRunFailed
	}
	c.note(p, Approximated, fmt.Sprintf("phase condition %q: Cairn phases run on succeeded(), always() or failed(); this one runs when every phase before it succeeded", truncate(raw, 200)))
	return ""
}

// phaseName is the Azure phase's name, trimmed and made a valid Cairn phase name.
func (c *mapper) phaseName(pp string, az *azPhase, def string) string {
	name := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.TrimSpace(string(az.Name)))
	name = strings.TrimSpace(name)
	if len(name) > maxPhaseName {
		cut := maxPhaseName
		for cut > 0 && !utf8RuneStart(name[cut]) {
			cut--
		}
		c.note(pp+".name", Approximated, fmt.Sprintf("the phase name is %d bytes long; Cairn keeps the first %d", len(name), cut))
		name = name[:cut]
	}
	if name == "" {
		return def
	}
	return name
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// pool maps an agent queue id to a Cairn pool through mapping.agentPools; a queue the
// mapping does not name runs in the default pool ("").
func (c *mapper) pool(p string, id int) string {
	if id == 0 {
		return ""
	}
	name := queueName(c.m.AgentPools, id)
	switch {
	case name == "":
		c.note(p, Approximated, fmt.Sprintf("agent queue %d is not in mapping.agentPools: the phase runs in the default pool", id))
		return ""
	case strings.EqualFold(name, "default"):
		c.note(p, Mapped, fmt.Sprintf("agent queue %d → the default pool", id))
		return ""
	}
	if known, ok := findFold(c.cat.Pools, name); ok {
		c.note(p, Mapped, fmt.Sprintf("agent queue %d → pool %q", id, known))
		return known
	}
	c.note(p, NeedsInput, fmt.Sprintf("agent queue %d is pool %q (from mapping.agentPools), which Cairn does not have: create it", id, name))
	return name
}

// deploymentGroup maps a deployment group id (a machine group phase's queueId) to a Cairn
// deployment group through mapping.deploymentGroups; without one the phase cannot run.
func (c *mapper) deploymentGroup(p string, id int) string {
	name := queueName(c.m.DeploymentGroups, id)
	if name == "" {
		c.note(p, NeedsInput, fmt.Sprintf("deployment group %d: map it to a Cairn deployment group (mapping.deploymentGroups)", id))
		return ""
	}
	if known, ok := findFold(c.cat.DeploymentGroups, name); ok {
		c.note(p, Mapped, fmt.Sprintf("deployment group %d → deployment group %q", id, known))
		return known
	}
	c.note(p, NeedsInput, fmt.Sprintf("deployment group %d is %q (from mapping.deploymentGroups), which Cairn does not have: create it", id, name))
	return name
}

func queueName(list []Queue, id int) string {
	for _, q := range list {
		if q.Azure == id && strings.TrimSpace(q.Name) != "" {
			return strings.TrimSpace(q.Name)
		}
	}
	return ""
}

func findFold(list []string, s string) (string, bool) {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return v, true
		}
	}
	return "", false
}

// splitInterventions splits an agent or deployment-group phase at its enabled manual
// interventions (Azure allows them only in server phases, but an export may hold them):
// each becomes a SERVER phase between the parts, which keep the phase's settings.
func (c *mapper) splitInterventions(pp string, ph spec.PhaseSpec) []spec.PhaseSpec {
	if !slices.ContainsFunc(ph.Tasks, func(t spec.Task) bool { return t.IsManualIntervention() }) {
		return []spec.PhaseSpec{ph}
	}
	var out []spec.PhaseSpec
	part := clonePhase(ph)
	part.Tasks = nil
	for _, t := range ph.Tasks {
		if !t.IsManualIntervention() {
			part.Tasks = append(part.Tasks, t)
			continue
		}
		if t.Disabled {
			continue
		}
		if len(part.Tasks) > 0 {
			out = append(out, part)
			part = clonePhase(ph)
			part.Tasks = nil
		}
		out = append(out, spec.PhaseSpec{Kind: spec.PhaseServer, Name: firstNonEmpty(t.Name, "Manual intervention"), Tasks: []spec.Task{t}})
	}
	if len(part.Tasks) > 0 {
		out = append(out, part)
	}
	c.note(pp, Approximated, fmt.Sprintf("phase %q holds manual interventions, which Cairn runs only in SERVER phases: it is split around them (%d phases)", ph.Name, len(out)))
	return out
}

func clonePhase(p spec.PhaseSpec) spec.PhaseSpec {
	p.Demands = slices.Clone(p.Demands)
	p.Tags = slices.Clone(p.Tags)
	p.SecureFiles = slices.Clone(p.SecureFiles)
	p.Tasks = slices.Clone(p.Tasks)
	return p
}

// jobOptions reads the phase settings environmentOptions held before deploy phases had them.
func (c *mapper) jobOptions(p string, o map[string]any, ph *spec.PhaseSpec) {
	if v, ok := o["timeoutInMinutes"]; ok {
		if n, ok := v.(float64); ok && n > 0 {
			ph.TimeoutMinutes = c.phaseTimeout(p+".timeoutInMinutes", int(min(n, 1e9)), 0)
		}
	}
	if v, ok := o["skipArtifactsDownload"].(bool); ok {
		ph.SkipArtifactDownload = v
	}
}

var demandRe = regexp.MustCompile(`^([A-Za-z0-9_.][A-Za-z0-9_.\-]*)(?:\s+-(equals|exists)\s*(.*))?$`)

// demand reads an Azure demand ("name", "name -exists", "name -equals value") as Cairn's.
func demand(d string) (string, bool) {
	m := demandRe.FindStringSubmatch(strings.TrimSpace(d))
	if m == nil {
		return "", false
	}
	switch {
	case m[2] == "" || strings.EqualFold(m[2], "exists"):
		return m[1], true
	case strings.TrimSpace(m[3]) != "":
		return m[1] + " -equals " + strings.TrimSpace(m[3]), true
	}
	return "", false
}
