// Package spec holds the value types that release definitions are made of: the
// environment policies, the deployment job and its tasks, variables and
// schedules. They are stored as JSON columns by ent, frozen into release
// snapshots, and bound directly to GraphQL types, so they carry no behaviour
// beyond small helpers.
package spec

import "github.com/cairnhq/cairn/internal/tasklib"

// Variable is a name/value pair exported to deployment tasks. A secret
// variable's Value is ciphertext at rest (see delivery's secret box) and is
// never returned by the API.
type Variable struct {
	Name   string `json:"name"`
	Value  string `json:"value,omitempty"`
	Secret bool   `json:"secret,omitempty"`
	// SettableAtReleaseTime (Azure's "Settable at release time") lets a
	// release's variable overrides replace this variable; an override of a
	// variable that does not say so is refused. Meaningless on an override.
	SettableAtReleaseTime bool `json:"settableAtReleaseTime,omitempty"`
}

// ApprovalMode says how the approvals of one stage combine.
type ApprovalMode string

// The approval modes.
const (
	// ApprovalAnyOne completes the stage when one approver approves.
	ApprovalAnyOne ApprovalMode = "ANY_ONE"
	// ApprovalAll requires every approver, in any order.
	ApprovalAll ApprovalMode = "ALL"
	// ApprovalSequential requires every approver, in the listed order.
	ApprovalSequential ApprovalMode = "SEQUENTIAL"
)

// ApproverKind says whether an approver names a user or a group.
type ApproverKind string

// The approver kinds.
const (
	ApproverUser  ApproverKind = "USER"
	ApproverGroup ApproverKind = "GROUP"
)

// Approver names a user (by username) or a group (by name) that may decide an
// approval. Names, not ids, so that a snapshot reads well and survives renames
// of nothing but the id.
type Approver struct {
	Kind ApproverKind `json:"kind"`
	Name string       `json:"name"`
}

// ApprovalPolicy is the pre- or post-deployment approval policy of an
// environment. No approvers means the stage is approved automatically.
type ApprovalPolicy struct {
	Approvers []Approver   `json:"approvers,omitempty"`
	Mode      ApprovalMode `json:"mode,omitempty"`
	// RequiredCount is, for ANY_ONE, how many distinct approvers must approve
	// (default 1). ALL and SEQUENTIAL need every approver.
	RequiredCount int `json:"requiredCount,omitempty"`
	// RequesterCannotApprove forbids the release creator and the person who
	// requested the deployment from deciding.
	RequesterCannotApprove bool `json:"requesterCannotApprove,omitempty"`
	// TimeoutMinutes, when positive, times a pending approval out
	// (TIMED_OUT, deployment REJECTED).
	TimeoutMinutes int `json:"timeoutMinutes,omitempty"`
	// SkipIfApprovedInPreviousEnvironment skips the pre-deployment approval
	// when the same approvers approved this release's previous environment.
	SkipIfApprovedInPreviousEnvironment bool `json:"skipIfApprovedInPreviousEnvironment,omitempty"`
}

// TriggerKind says when an environment deploys by itself.
type TriggerKind string

// The environment trigger kinds.
const (
	TriggerAfterRelease      TriggerKind = "AFTER_RELEASE"
	TriggerAfterEnvironments TriggerKind = "AFTER_ENVIRONMENTS"
	TriggerManual            TriggerKind = "MANUAL"
)

// Trigger is an environment's automatic deployment condition.
type Trigger struct {
	Kind TriggerKind `json:"kind"`
	// Environments names the environments that must all have succeeded,
	// for AFTER_ENVIRONMENTS.
	Environments []string `json:"environments,omitempty"`
	// AllowPartiallySucceeded also accepts PARTIALLY_SUCCEEDED upstreams.
	AllowPartiallySucceeded bool `json:"allowPartiallySucceeded,omitempty"`
}

// TaskKind says where a task runs.
type TaskKind string

// The task kinds.
const (
	// TaskScript (the default, also written "") is a script an agent runs.
	TaskScript TaskKind = "SCRIPT"
	// TaskManualIntervention pauses the deployment on the server until a
	// person resumes or rejects it (Azure's Manual Intervention task): the
	// tasks before it run on an agent as one job, those after it as another.
	TaskManualIntervention TaskKind = "MANUAL_INTERVENTION"
	// TaskInvokeRESTAPI is an HTTP call the server makes in a SERVER phase (Azure's
	// InvokeRESTAPI task in an agentless phase), judged like an HTTP gate: the phase goes on
	// when its success criteria hold, and fails with the reason otherwise.
	TaskInvokeRESTAPI TaskKind = "INVOKE_REST_API"
)

// InterventionTimeoutAction is what a manual intervention does when nobody
// acted before its timeout.
type InterventionTimeoutAction string

// The timeout actions.
const (
	// InterventionReject (the default) rejects the deployment.
	InterventionReject InterventionTimeoutAction = "REJECT"
	// InterventionResume resumes it.
	InterventionResume InterventionTimeoutAction = "RESUME"
)

// Task is one step of a deployment job: a script run by a shell on the
// agent, or a manual intervention the server holds (Kind).
type Task struct {
	Name string `json:"name"`
	// Kind is SCRIPT (or empty) or MANUAL_INTERVENTION.
	Kind             TaskKind          `json:"kind,omitempty"`
	Shell            string            `json:"shell,omitempty"` // bash (default), sh, pwsh
	Script           string            `json:"script"`
	WorkingDirectory string            `json:"workingDirectory,omitempty"`
	Env              map[string]string `json:"env,omitempty"`
	// TimeoutMinutes bounds a script task; for a manual intervention it is
	// how long it waits (default DefaultInterventionTimeoutMinutes).
	TimeoutMinutes  int  `json:"timeoutMinutes,omitempty"`
	ContinueOnError bool `json:"continueOnError,omitempty"`
	Disabled        bool `json:"disabled,omitempty"`
	// Instructions (manual intervention) tell the person what to check or
	// do; $(NAME) references expand to the release's variables, secrets
	// masked.
	Instructions string `json:"instructions,omitempty"`
	// Approvers (manual intervention) may resume or reject it and are
	// notified; none: whoever may manage the environment's deployments.
	Approvers []Approver `json:"approvers,omitempty"`
	// OnTimeout (manual intervention) is REJECT (default) or RESUME.
	OnTimeout InterventionTimeoutAction `json:"onTimeout,omitempty"`
	// Condition (script task) says when it runs, given how the job went so far: SUCCEEDED
	// (the default: every earlier task succeeded), ALWAYS (also after a failure and on cancel),
	// FAILED (only after a failure), CANCELED (only when the job was canceled), or an Azure
	// expression such as "and(succeeded(), eq(variables['target'], 'prod'))" (see package
	// condition). A task that runs after a cancel has a bounded time.
	Condition string `json:"condition,omitempty"`
	// AlwaysRun is Azure's classic flag, accepted on input and stored as Condition ALWAYS.
	AlwaysRun bool `json:"alwaysRun,omitempty"`
	// Uses names a task template, "Name@major" (e.g. "CopyFiles@2"): the task runs the
	// template's implementation (or, for a task group, its steps) instead of Script, with
	// Inputs. A SECRET input takes a $(variable) reference to a secret variable.
	Uses   string            `json:"uses,omitempty"`
	Inputs map[string]string `json:"inputs,omitempty"`
	// Template is the template Uses resolved to (the newest minor of its major, task group
	// steps resolved too), frozen when a release is created; nil in a definition.
	Template *tasklib.Template `json:"template,omitempty"`
	// HTTP (INVOKE_REST_API) is the call and its success criteria, as an HTTP gate's.
	HTTP *HTTPGate `json:"http,omitempty"`
}

// StepIssue is an error or warning a task reported (a logging command, or an
// error/warning line), stored with its step.
type StepIssue struct {
	// Type is "error" or "warning".
	Type       string `json:"type"`
	Message    string `json:"message"`
	SourcePath string `json:"sourcePath,omitempty"`
	LineNumber int    `json:"lineNumber,omitempty"`
}

// DefaultInterventionTimeoutMinutes is how long a manual intervention waits
// when its task sets no timeout (Azure's default: one day);
// MaxInterventionTimeoutMinutes is the longest it may wait (30 days).
const (
	DefaultInterventionTimeoutMinutes = 24 * 60
	MaxInterventionTimeoutMinutes     = 30 * 24 * 60
)

// KindOrDefault is the task's kind, SCRIPT when it has none.
func (t Task) KindOrDefault() TaskKind {
	if t.Kind == "" {
		return TaskScript
	}
	return t.Kind
}

// OnTimeoutOrDefault is the task's timeout action, REJECT when it has none.
func (t Task) OnTimeoutOrDefault() InterventionTimeoutAction {
	if t.OnTimeout == "" {
		return InterventionReject
	}
	return t.OnTimeout
}

// IsManualIntervention reports whether the task is a manual intervention.
func (t Task) IsManualIntervention() bool { return t.Kind == TaskManualIntervention }

// JobSpec is the agent work of an environment's deployment.
type JobSpec struct {
	// Demands are agent capability requirements: "name" (exists) or
	// "name -equals value".
	Demands              []string `json:"demands,omitempty"`
	Tasks                []Task   `json:"tasks,omitempty"`
	TimeoutMinutes       int      `json:"timeoutMinutes,omitempty"`
	SkipArtifactDownload bool     `json:"skipArtifactDownload,omitempty"`
	// SecureFiles name library secure files the agent writes to the job's
	// temporary directory before the first task (SECUREFILE_<NAME>_PATH)
	// and deletes when the job ends.
	SecureFiles []string `json:"secureFiles,omitempty"`
}

// QueueMode says what happens to deployments waiting for an environment.
type QueueMode string

// The queue modes.
const (
	// QueueAllInOrder deploys every waiting release, oldest first.
	QueueAllInOrder QueueMode = "ALL_IN_ORDER"
	// QueueLatestOnly cancels older waiting deployments when a newer release arrives.
	QueueLatestOnly QueueMode = "LATEST_ONLY"
)

// QueuePolicy limits how many deployments of an environment run at once.
type QueuePolicy struct {
	MaxParallel int       `json:"maxParallel,omitempty"` // 0 means unlimited
	Mode        QueueMode `json:"mode,omitempty"`
}

// Schedule is a cron release trigger of a definition.
type Schedule struct {
	Cron     string `json:"cron"`
	TimeZone string `json:"timeZone,omitempty"` // IANA name; UTC by default
	// ScheduleOnlyWithChanges skips an occurrence when no artifact source
	// has a newer admitted build than the definition's latest release
	// (Azure DevOps' "only schedule releases if the source has changed").
	ScheduleOnlyWithChanges bool `json:"scheduleOnlyWithChanges,omitempty"`
}

// ArtifactSourceSpec is an artifact source as written in a definition.
type ArtifactSourceSpec struct {
	Alias      string `json:"alias"`
	Type       string `json:"type"` // JENKINS or TEAMBUILD
	Connection string `json:"connection"`
	// Job is the Jenkins job's full name (folder/job) or the Team Build
	// definition (id or name).
	Job string `json:"job"`
	// Project is the Azure DevOps project (TEAMBUILD only).
	Project string `json:"project,omitempty"`
	// RepositoryURL selects the git BuildData of a Jenkins Pipeline build.
	RepositoryURL string `json:"repositoryUrl,omitempty"`
	Primary       bool   `json:"primary,omitempty"`
	// ContinuousDeployment creates a release for each admitted build.
	ContinuousDeployment bool `json:"continuousDeployment,omitempty"`
	// BranchFilters admit branches: "main", "release/*", "-release/old*".
	BranchFilters []string `json:"branchFilters,omitempty"`
	// AllowPartial lets UNSTABLE (Jenkins) and partiallySucceeded (Team
	// Build) builds trigger releases.
	AllowPartial bool `json:"allowPartial,omitempty"`
}

// EnvironmentSpec is an environment as written in a definition.
type EnvironmentSpec struct {
	Name         string         `json:"name"`
	Owner        string         `json:"owner,omitempty"`
	Trigger      Trigger        `json:"trigger"`
	PreApproval  ApprovalPolicy `json:"preApproval"`
	PostApproval ApprovalPolicy `json:"postApproval"`
	// PreGates and PostGates are checked before the job runs and after it
	// succeeded; see GatePolicy.
	PreGates  GatePolicy `json:"preGates,omitzero"`
	PostGates GatePolicy `json:"postGates,omitzero"`
	Job       JobSpec    `json:"job"`
	// Phases, when set, are the environment's deployment (see DeployPhases); Job is then
	// unused. An environment without phases deploys its Job, read as phases.
	Phases    []PhaseSpec `json:"phases,omitempty"`
	Queue     QueuePolicy `json:"queue"`
	Variables []Variable  `json:"variables,omitempty"`
	// VariableGroups link library variable groups (by name) to this
	// environment, in precedence order (a later group wins).
	VariableGroups []string `json:"variableGroups,omitempty"`
	// Permissions narrow, for this environment, who may change its
	// configuration, deploy to it and manage its approvals; a list left
	// empty inherits the definition's.
	Permissions EnvironmentPermissions `json:"permissions,omitzero"`
	// Retention says how long releases deployed here are kept (Azure's
	// per-stage retentionPolicy); nil: the server's default policy.
	Retention *RetentionPolicy `json:"retention,omitempty"`
}

// RetentionPolicy is an environment's release retention, with the field
// names of Azure classic's retentionPolicy. A release deployed to the
// environment is kept while it was deployed there (or changed) within the
// last DaysToKeep days, or while it is among the ReleasesToKeep releases most
// recently deployed there; see docs/decisions.md for the whole rule.
type RetentionPolicy struct {
	DaysToKeep     int `json:"daysToKeep"`
	ReleasesToKeep int `json:"releasesToKeep"`
	// RetainBuild is informational: Cairn deletes nothing on the CI server.
	RetainBuild bool `json:"retainBuild,omitempty"`
}

// DefinitionSnapshot is the whole of a release definition at one revision: what
// a DefinitionRevision stores and a Release freezes.
type DefinitionSnapshot struct {
	Name              string               `json:"name"`
	Description       string               `json:"description,omitempty"`
	ReleaseNameFormat string               `json:"releaseNameFormat"`
	Variables         []Variable           `json:"variables,omitempty"`
	ArtifactSources   []ArtifactSourceSpec `json:"artifactSources,omitempty"`
	Environments      []EnvironmentSpec    `json:"environments"`
	Schedules         []Schedule           `json:"schedules,omitempty"`
	// VariableGroups link library variable groups (by name) to the whole
	// definition, in precedence order (a later group wins).
	VariableGroups []string `json:"variableGroups,omitempty"`
	// Readers are the groups whose members (and ADMINs) may read the
	// definition, its releases and their events; empty: every VIEWER.
	Readers []string `json:"readers,omitempty"`
	// Permissions narrow who, among those with the role, may change the
	// definition, create its releases and act on its deployments.
	Permissions DefinitionPermissions `json:"permissions,omitzero"`
	// Path is the folder of the definition ("/", "/team/web"), as Azure's
	// definition path.
	Path string `json:"path,omitempty"`
	// Tags label the definition for lists and filters.
	Tags []string `json:"tags,omitempty"`
	// Disabled refuses new releases (continuous deployment, schedules and
	// manual ones) with a clear reason; existing releases go on.
	Disabled bool `json:"disabled,omitempty"`
}

// DefinitionPermissions are the scoped permissions of a definition, modelled
// on Azure Release Management's release security. Each list names users and
// groups (the shape of an approver). A role stays the ceiling (writes need
// EDITOR); a non-empty list narrows a permission to the principals it names,
// and an empty one leaves it at its default: every EDITOR for EditDefinition,
// CreateReleases and ManageDeployments; nobody beyond the assigned approvers
// for ManageApprovals; nobody but ADMINs for OverrideArtifactChecks and
// ManagePermissions. ADMINs may act without being listed; each such override
// is audited.
type DefinitionPermissions struct {
	// EditDefinition: change the definition-wide parts (name, variables,
	// artifact sources, schedules, the list and order of environments),
	// delete it, and every environment that does not list its own editors.
	EditDefinition []Approver `json:"editDefinition,omitempty"`
	// CreateReleases: create releases by hand.
	CreateReleases []Approver `json:"createReleases,omitempty"`
	// ManageDeployments: deploy, redeploy, roll back and cancel in every
	// environment that does not list its own, and abandon releases.
	ManageDeployments []Approver `json:"manageDeployments,omitempty"`
	// ManageApprovals: reassign pending approvals of environments that do
	// not list their own.
	ManageApprovals []Approver `json:"manageApprovals,omitempty"`
	// OverrideArtifactChecks: create a release with artifact versions the CI
	// server did not confirm.
	OverrideArtifactChecks []Approver `json:"overrideArtifactChecks,omitempty"`
	// ManagePermissions (Azure's "Manage permissions"): change the
	// definition's readers and these lists, this one included.
	ManagePermissions []Approver `json:"managePermissions,omitempty"`
}

// EnvironmentPermissions are an environment's own permission lists; an empty
// list inherits the definition's (Azure's stage-level security).
type EnvironmentPermissions struct {
	// EditEnvironment: change anything of this environment as stored
	// (trigger, approvals, gates, job and tasks, queue, variables, owner,
	// these lists, its name) or remove it.
	EditEnvironment []Approver `json:"editEnvironment,omitempty"`
	// ManageDeployments: deploy, redeploy, roll back and cancel here.
	ManageDeployments []Approver `json:"manageDeployments,omitempty"`
	// ManageApprovals: reassign this environment's pending approvals.
	ManageApprovals []Approver `json:"manageApprovals,omitempty"`
}

// Environment returns the environment of the snapshot with the given name.
func (s *DefinitionSnapshot) Environment(name string) (*EnvironmentSpec, bool) {
	for i := range s.Environments {
		if s.Environments[i].Name == name {
			return &s.Environments[i], true
		}
	}
	return nil, false
}

// PhaseKind says where a phase of an environment's deployment runs (Azure's deployPhases
// phaseType: agentBasedDeployment, machineGroupBasedDeployment, runOnServer).
type PhaseKind string

// The phase kinds.
const (
	// PhaseAgent runs the phase's tasks as one job on one agent of a pool that meets the
	// demands (Azure: agentBasedDeployment).
	PhaseAgent PhaseKind = "AGENT"
	// PhaseDeploymentGroup runs the phase's tasks as one job on every target of a deployment
	// group whose tags match, a few at a time (Azure: machineGroupBasedDeployment).
	PhaseDeploymentGroup PhaseKind = "DEPLOYMENT_GROUP"
	// PhaseServer runs agentless tasks on the server: manual interventions (Azure: runOnServer).
	PhaseServer PhaseKind = "SERVER"
)

// The phase conditions: when a phase runs, given how the phases before it went.
const (
	// PhaseRunSucceeded (the default): every phase before it succeeded (Azure: succeeded()).
	PhaseRunSucceeded = "SUCCEEDED"
	// PhaseRunAlways: whatever happened before, but not after a cancel (Azure: always()).
	PhaseRunAlways = "ALWAYS"
	// PhaseRunFailed: only when a phase before it failed (Azure: failed()).
	PhaseRunFailed = "FAILED"
)

// OfflineTargets says what a deployment-group phase does with a matching target that is
// offline when the phase starts.
type OfflineTargets string

// The offline target policies.
const (
	// OfflineSkip (the default) leaves the target out; the deployment reports it SKIPPED.
	OfflineSkip OfflineTargets = "SKIP"
	// OfflineWait gives the target its job anyway: it waits for the target to come online.
	OfflineWait OfflineTargets = "WAIT"
)

// PhaseSpec is one phase of an environment's deployment (Azure's deployPhases item). Kind
// decides which of the groups of fields below apply; the others must be empty.
type PhaseSpec struct {
	// Kind is AGENT, DEPLOYMENT_GROUP or SERVER (Azure phaseType).
	Kind PhaseKind `json:"kind"`
	// Name is shown on the deployment (Azure name).
	Name string `json:"name,omitempty"`
	// Tasks run in order (Azure workflowTasks): scripts and templates for agent and
	// deployment-group phases, MANUAL_INTERVENTION tasks for a server phase.
	Tasks []Task `json:"tasks,omitempty"`
	// Condition is SUCCEEDED (default), ALWAYS or FAILED (Azure deploymentInput.condition:
	// succeeded(), always(), failed()).
	Condition string `json:"condition,omitempty"`
	// TimeoutMinutes bounds each job of the phase (Azure deploymentInput.timeoutInMinutes).
	TimeoutMinutes int `json:"timeoutMinutes,omitempty"`

	// Agent phase (also the demands of deployment-group targets).
	// Pool names the agent pool (Azure deploymentInput.queueId); empty: "default".
	Pool string `json:"pool,omitempty"`
	// Demands are capability requirements (Azure deploymentInput.demands).
	Demands []string `json:"demands,omitempty"`
	// SkipArtifactDownload (Azure deploymentInput.skipArtifactsDownload).
	SkipArtifactDownload bool `json:"skipArtifactDownload,omitempty"`
	// SecureFiles name library secure files written for the job (see JobSpec).
	SecureFiles []string `json:"secureFiles,omitempty"`

	// Deployment-group phase.
	// DeploymentGroup names the group (Azure deploymentInput.queueId of a deployment group).
	DeploymentGroup string `json:"deploymentGroup,omitempty"`
	// Tags select the targets that have every one of them (Azure deploymentInput.tags).
	Tags []string `json:"tags,omitempty"`
	// MaxParallel is how many targets run at once: a count ("1") or a percentage of the
	// matching targets ("50%"); empty: 1 (Azure deploymentHealthOption OneTargetAtATime).
	MaxParallel string `json:"maxParallel,omitempty"`
	// FailureThreshold is how many targets may fail before no new target starts: a count
	// ("0") or a percentage of the matching targets ("25%"); empty: 0 (Azure healthPercent
	// is 100 minus this percentage).
	FailureThreshold string `json:"failureThreshold,omitempty"`
	// OfflineTargets is SKIP (default) or WAIT.
	OfflineTargets OfflineTargets `json:"offlineTargets,omitempty"`
}

// KindOrDefault is the phase's kind, AGENT when it has none.
func (p PhaseSpec) KindOrDefault() PhaseKind {
	if p.Kind == "" {
		return PhaseAgent
	}
	return p.Kind
}

// ConditionOrDefault is the phase's condition, SUCCEEDED when it has none.
func (p PhaseSpec) ConditionOrDefault() string {
	if p.Condition == "" {
		return PhaseRunSucceeded
	}
	return p.Condition
}

// DeployPhases is the environment's deployment as an ordered list of phases: Phases when
// the environment lists them, else its Job read as phases (the one place that reads an
// environment written before phases existed): the job's tasks split at their enabled manual
// interventions into agent phases (the job's demands, timeout and settings) and server
// phases (one manual intervention each). Consecutive scripts make one agent phase; a run of
// scripts that are all disabled makes none; without interventions there is one agent phase,
// even without tasks (the job downloads the artifacts).
func (e *EnvironmentSpec) DeployPhases() []PhaseSpec {
	if len(e.Phases) > 0 {
		return e.Phases
	}
	js := e.Job
	agentPhase := func(tasks []Task) PhaseSpec {
		return PhaseSpec{Kind: PhaseAgent, Tasks: tasks, TimeoutMinutes: js.TimeoutMinutes,
			Demands: js.Demands, SkipArtifactDownload: js.SkipArtifactDownload, SecureFiles: js.SecureFiles}
	}
	var out []PhaseSpec
	var cur []Task
	enabled := false
	for _, t := range js.Tasks {
		if !t.IsManualIntervention() {
			cur = append(cur, t)
			enabled = enabled || !t.Disabled
			continue
		}
		if t.Disabled {
			continue
		}
		if enabled {
			out = append(out, agentPhase(cur))
		}
		out = append(out, PhaseSpec{Kind: PhaseServer, Tasks: []Task{t}})
		cur, enabled = nil, false
	}
	if enabled || len(out) == 0 {
		out = append(out, agentPhase(cur))
	}
	return out
}

// TaskLists returns the environment's task lists: its job's, then each phase's, for code that
// treats every task alike (normalising, templates, secure files).
func (e *EnvironmentSpec) TaskLists() []*[]Task {
	out := []*[]Task{&e.Job.Tasks}
	for i := range e.Phases {
		out = append(out, &e.Phases[i].Tasks)
	}
	return out
}
