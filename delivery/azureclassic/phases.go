package azureclassic

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/cairnhq/cairn/ent/schema/spec"
)

// Azure's DeployPhaseTypes, by number.
var phaseTypes = map[int]string{0: "undefined", 1: "agentbaseddeployment", 2: "runonserver", 4: "machinegroupbaseddeployment", 8: "deploymentgates"}

// phases maps an environment's deploy phases (and the TFS 2015 deployStep) onto its job.
//
// This is the one place that knows how Cairn runs an environment: today as one agent job
// whose tasks run in order, a MANUAL_INTERVENTION task splitting it where the deployment
// waits for a person. Agent phases are concatenated into that job; a deployment group
// phase runs once, on an agent with the group's tags as capabilities; a server phase's
// manual intervention becomes the MANUAL_INTERVENTION task. When Cairn has phases of its
// own (agent, deployment group, server), this function maps each Azure phase to one.
func (c *mapper) phases(p, envName string, e *azEnvironment) spec.JobSpec {
	job := spec.JobSpec{}
	for _, d := range e.Demands {
		if dm, ok := demand(d); ok && !contains(job.Demands, dm) {
			job.Demands = append(job.Demands, dm)
		}
	}
	if len(e.Demands) > 0 {
		c.note(p+".demands", Mapped, "environment demands → job demands")
	}
	c.jobOptions(p+".environmentOptions", e.EnvironmentOptions, &job)
	if e.DeployStep != nil && len(e.DeployStep.Tasks) > 0 {
		if len(e.DeployPhases) > 0 {
			c.note(p+".deployStep", Dropped, "deployStep.tasks (TFS 2015) is ignored: the environment has deploy phases, which replaced it")
		} else {
			c.note(p+".deployStep", Mapped, "TFS 2015 deploy step: its tasks run as the environment's job")
			c.mapTasks(e.DeployStep.Tasks, p+".deployStep.tasks", taskCtx{env: envName, job: &job})
		}
	}
	agentPhases := 0
	for i := range e.DeployPhases {
		ph := &e.DeployPhases[i]
		pp := fmt.Sprintf("%s.deployPhases[%d]", p, i)
		in := ph.DeploymentInput
		tc := taskCtx{env: envName, job: &job}
		switch kind := enumName(ph.PhaseType, phaseTypes); kind {
		case "agentbaseddeployment", "machinegroupbaseddeployment":
			agentPhases++
			if kind == "agentbaseddeployment" {
				c.note(pp, Mapped, fmt.Sprintf("agent phase %q → the environment's job", ph.Name))
			} else {
				tags := strings.Join(in.Tags, ", ")
				if tags == "" {
					tags = "none"
				}
				c.note(pp, Approximated, fmt.Sprintf("deployment group phase %q (queue %d, tags %s) runs once, on one agent that has a capability for each tag, not on every target of the group", ph.Name, int(in.QueueID), tags))
				for _, tag := range in.Tags {
					if dm, ok := demand(tag); ok && !contains(job.Demands, dm) {
						job.Demands = append(job.Demands, dm)
					}
				}
				if in.DeploymentHealthOption != "" && !strings.EqualFold(string(in.DeploymentHealthOption), "OneTargetAtATime") || in.HealthPercent > 0 {
					c.note(pp+".deploymentInput.deploymentHealthOption", Dropped, fmt.Sprintf("targets deployed %s (healthy %d%%): one agent runs the job", in.DeploymentHealthOption, int(in.HealthPercent)))
				}
			}
			if agentPhases > 1 {
				c.note(pp, Approximated, "a further agent phase: its tasks are appended to the same job (one agent, one workspace)")
			}
			c.phaseInput(pp, ph, &job, agentPhases == 1)
			c.mapTasks(ph.WorkflowTasks, pp+".workflowTasks", tc)
		case "runonserver":
			c.note(pp, Mapped, fmt.Sprintf("server phase %q: its manual interventions pause the deployment between the agent tasks before and after it", ph.Name))
			if cond := strings.TrimSpace(string(in.Condition)); cond != "" && !strings.EqualFold(cond, "succeeded()") {
				c.note(pp+".deploymentInput.condition", Dropped, fmt.Sprintf("phase condition %q: Cairn runs a manual intervention whenever the deployment reaches it", cond))
			}
			for j := range ph.WorkflowTasks {
				t := &ph.WorkflowTasks[j]
				tp := fmt.Sprintf("%s.workflowTasks[%d]", pp, j)
				major, _ := parseMajor(t.version())
				if t.id() == guidManualIntervention || (t.definitionType() != "metatask" && taskTable[taskKey{t.id(), major}].special == manualIntervention) {
					tc.path = tp
					c.mapTask(t, tc)
					continue
				}
				name := t.name()
				if name == "" {
					name = fmt.Sprintf("Server task %d", j+1)
				}
				why := "it ran on the server in an agentless phase; Cairn's server phase runs manual interventions only"
				c.addTask(tc, placeholder(t, name, why), t)
				c.note(tp, Dropped, why+"; kept as a disabled placeholder task")
			}
		default:
			c.note(pp, Dropped, fmt.Sprintf("unknown phase type %q: its %d tasks are left out", string(ph.PhaseType), len(ph.WorkflowTasks)))
		}
	}
	if len(job.Tasks) == 0 {
		c.note(p+".deployPhases", Mapped, "no tasks")
	}
	return job
}

// phaseInput maps an agent phase's deployment input onto the job; first says whether it
// is the first agent phase (whose timeout and artifact download the job takes).
func (c *mapper) phaseInput(pp string, ph *azPhase, job *spec.JobSpec, first bool) {
	in := ph.DeploymentInput
	ip := pp + ".deploymentInput"
	for _, d := range in.Demands {
		if dm, ok := demand(d); ok && !contains(job.Demands, dm) {
			job.Demands = append(job.Demands, dm)
		} else if !ok {
			c.note(ip+".demands", Dropped, fmt.Sprintf("demand %q is not a Cairn demand (\"name\" or \"name -equals value\")", d))
		}
	}
	if in.TimeoutInMinutes > 0 {
		if first || int(in.TimeoutInMinutes) > job.TimeoutMinutes {
			if !first {
				c.note(ip+".timeoutInMinutes", Approximated, "the job's timeout is the longest of its phases'")
			}
			job.TimeoutMinutes = int(in.TimeoutInMinutes)
		}
	}
	if first {
		job.SkipArtifactDownload = bool(in.SkipArtifactsDownload)
	} else if bool(in.SkipArtifactsDownload) != job.SkipArtifactDownload {
		c.note(ip+".skipArtifactsDownload", Approximated, "artifacts are downloaded (or not) once, as the first agent phase says")
	}
	if in.QueueID != 0 {
		c.note(ip+".queueId", Approximated, fmt.Sprintf("agent queue %d: Cairn picks an agent by demands; add demands that select the agents of that pool", int(in.QueueID)))
	}
	if in.AgentSpecification != nil && in.AgentSpecification.Identifier != "" {
		c.note(ip+".agentSpecification", Dropped, fmt.Sprintf("hosted agent image %q: Cairn runs on its own agents", in.AgentSpecification.Identifier))
	}
	if pe := in.ParallelExecution; pe != nil {
		if t := strings.ToLower(string(pe.ParallelExecutionType)); t != "" && t != "none" && t != "0" {
			c.note(ip+".parallelExecution", Approximated, fmt.Sprintf("parallel execution %q: the job runs once, on one agent", pe.ParallelExecutionType))
		}
	}
	if cond := strings.TrimSpace(string(in.Condition)); cond != "" && !strings.EqualFold(cond, "succeeded()") {
		c.note(ip+".condition", Dropped, fmt.Sprintf("phase condition %q: the phase's tasks run as every other task of the job", cond))
	}
}

// jobOptions reads the job settings environmentOptions held before deploy phases had them.
func (c *mapper) jobOptions(p string, o map[string]any, job *spec.JobSpec) {
	if v, ok := o["timeoutInMinutes"]; ok {
		if n, ok := v.(float64); ok && n > 0 {
			job.TimeoutMinutes = int(n)
		}
	}
	if v, ok := o["skipArtifactsDownload"].(bool); ok {
		job.SkipArtifactDownload = v
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
