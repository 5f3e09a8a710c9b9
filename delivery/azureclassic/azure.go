package azureclassic

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

// The wire types of Azure DevOps' release definition (Microsoft's REST specification,
// release area, api-versions 2.0–7.1: ReleaseDefinition, ReleaseDefinitionEnvironment,
// DeployPhase, WorkflowTask, …). Only what the import reads is declared. Azure has
// written some fields in more than one way over the years (enums as numbers or names,
// numbers as strings, booleans as "true"), so the scalar types here accept each spelling.

// flexString reads a JSON string, number or boolean as text; null is "".
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case string(b) == "true" || string(b) == "false":
		*f = flexString(b)
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*f = flexString(n.String())
	default:
		return &json.UnmarshalTypeError{Value: "object or array", Type: typeOfString}
	}
	return nil
}

// flexInt reads a JSON number or a numeric string; null and "" are 0.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	t := strings.TrimSpace(string(s))
	if t == "" || t == "false" {
		*f = 0
		return nil
	}
	if t == "true" {
		*f = 1
		return nil
	}
	if fl, err := strconv.ParseFloat(t, 64); err == nil && fl >= -1e9 && fl <= 1e9 {
		*f = flexInt(int(fl))
		return nil
	}
	return &json.UnmarshalTypeError{Value: "string " + strconv.Quote(t), Type: typeOfInt}
}

// flexBool reads true/false, "true"/"false" (any case), 1/0; null is false.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	switch strings.ToLower(strings.TrimSpace(string(s))) {
	case "true", "1", "yes":
		*f = true
	case "", "false", "0", "no":
		*f = false
	default:
		return &json.UnmarshalTypeError{Value: "string " + strconv.Quote(string(s)), Type: typeOfBool}
	}
	return nil
}

// flexStrings reads an array of scalars, or one scalar (a comma- or semicolon-separated
// list) as its items.
type flexStrings []string

func (f *flexStrings) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var items []flexString
		if err := json.Unmarshal(b, &items); err != nil {
			return err
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			out = append(out, string(it))
		}
		*f = out
		return nil
	}
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	*f = nil
	for _, p := range strings.FieldsFunc(string(s), func(r rune) bool { return r == ',' || r == ';' }) {
		if p = strings.TrimSpace(p); p != "" {
			*f = append(*f, p)
		}
	}
	return nil
}

var (
	typeOfString = reflect.TypeOf("")
	typeOfInt    = reflect.TypeOf(0)
	typeOfBool   = reflect.TypeOf(false)
)

type identityRef struct {
	ID          flexString `json:"id"`
	DisplayName flexString `json:"displayName"`
	UniqueName  flexString `json:"uniqueName"`
	IsContainer flexBool   `json:"isContainer"`
}

type configVar struct {
	Value         flexString `json:"value"`
	IsSecret      flexBool   `json:"isSecret"`
	AllowOverride flexBool   `json:"allowOverride"`
}

type azDefinition struct {
	ID                flexInt              `json:"id"`
	Revision          flexInt              `json:"revision"`
	Name              flexString           `json:"name"`
	Description       flexString           `json:"description"`
	ReleaseNameFormat flexString           `json:"releaseNameFormat"`
	URL               flexString           `json:"url"`
	Path              flexString           `json:"path"`
	Variables         map[string]configVar `json:"variables"`
	VariableGroups    []flexInt            `json:"variableGroups"`
	Environments      []azEnvironment      `json:"environments"`
	Artifacts         []azArtifact         `json:"artifacts"`
	Triggers          []azTrigger          `json:"triggers"`
	Tags              flexStrings          `json:"tags"`
	RetentionPolicy   json.RawMessage      `json:"retentionPolicy"`
	Properties        json.RawMessage      `json:"properties"`
	Links             struct {
		Self struct {
			Href flexString `json:"href"`
		} `json:"self"`
		Web struct {
			Href flexString `json:"href"`
		} `json:"web"`
	} `json:"_links"`
}

type azEnvironment struct {
	ID                   flexInt              `json:"id"`
	Name                 flexString           `json:"name"`
	Rank                 flexInt              `json:"rank"`
	Owner                *identityRef         `json:"owner"`
	Variables            map[string]configVar `json:"variables"`
	VariableGroups       []flexInt            `json:"variableGroups"`
	PreDeployApprovals   *azApprovals         `json:"preDeployApprovals"`
	PostDeployApprovals  *azApprovals         `json:"postDeployApprovals"`
	PreDeploymentGates   *azGates             `json:"preDeploymentGates"`
	PostDeploymentGates  *azGates             `json:"postDeploymentGates"`
	DeployStep           *azDeployStep        `json:"deployStep"`
	DeployPhases         []azPhase            `json:"deployPhases"`
	EnvironmentOptions   map[string]any       `json:"environmentOptions"`
	Demands              flexStrings          `json:"demands"`
	Conditions           []azCondition        `json:"conditions"`
	ExecutionPolicy      *azExecutionPolicy   `json:"executionPolicy"`
	Schedules            []json.RawMessage    `json:"schedules"`
	RetentionPolicy      *azRetention         `json:"retentionPolicy"`
	EnvironmentTriggers  []json.RawMessage    `json:"environmentTriggers"`
	ProcessParameters    json.RawMessage      `json:"processParameters"`
	QueueID              flexInt              `json:"queueId"`
	RunOptions           map[string]any       `json:"runOptions"`
	Properties           json.RawMessage      `json:"properties"`
	Badge                json.RawMessage      `json:"badgeUrl"`
	CurrentRelease       json.RawMessage      `json:"currentRelease"`
	DeploymentGroupPhase json.RawMessage      `json:"deploymentGroupPhase"`
}

type azDeployStep struct {
	Tasks []azTask `json:"tasks"`
}

type azApprovals struct {
	Approvals       []azApproval       `json:"approvals"`
	ApprovalOptions *azApprovalOptions `json:"approvalOptions"`
}

type azApproval struct {
	Rank             flexInt      `json:"rank"`
	IsAutomated      flexBool     `json:"isAutomated"`
	IsNotificationOn flexBool     `json:"isNotificationOn"`
	Approver         *identityRef `json:"approver"`
}

type azApprovalOptions struct {
	RequiredApproverCount                                   *flexInt  `json:"requiredApproverCount"`
	ReleaseCreatorCanBeApprover                             *flexBool `json:"releaseCreatorCanBeApprover"`
	AutoTriggeredAndPreviousEnvironmentApprovedCanBeSkipped flexBool  `json:"autoTriggeredAndPreviousEnvironmentApprovedCanBeSkipped"`
	EnforceIdentityRevalidation                             flexBool  `json:"enforceIdentityRevalidation"`
	TimeoutInMinutes                                        *flexInt  `json:"timeoutInMinutes"`
	// TimeoutInMintues is how Azure spelled the field before api-version 5.0 (and
	// still does in its own 5.0 examples).
	TimeoutInMintues *flexInt   `json:"timeoutInMintues"`
	ExecutionOrder   flexString `json:"executionOrder"`
}

type azGates struct {
	GatesOptions *azGatesOptions `json:"gatesOptions"`
	Gates        []struct {
		Tasks []azTask `json:"tasks"`
	} `json:"gates"`
}

type azGatesOptions struct {
	IsEnabled              *flexBool `json:"isEnabled"`
	Timeout                flexInt   `json:"timeout"`
	SamplingInterval       flexInt   `json:"samplingInterval"`
	StabilizationTime      flexInt   `json:"stabilizationTime"`
	MinimumSuccessDuration flexInt   `json:"minimumSuccessDuration"`
}

type azPhase struct {
	Name            flexString        `json:"name"`
	RefName         flexString        `json:"refName"`
	Rank            flexInt           `json:"rank"`
	PhaseType       flexString        `json:"phaseType"`
	DeploymentInput azDeploymentInput `json:"deploymentInput"`
	WorkflowTasks   []azTask          `json:"workflowTasks"`
}

type azDeploymentInput struct {
	Demands                flexStrings `json:"demands"`
	TimeoutInMinutes       flexInt     `json:"timeoutInMinutes"`
	SkipArtifactsDownload  flexBool    `json:"skipArtifactsDownload"`
	QueueID                flexInt     `json:"queueId"`
	Condition              flexString  `json:"condition"`
	DeploymentHealthOption flexString  `json:"deploymentHealthOption"`
	HealthPercent          flexInt     `json:"healthPercent"`
	Tags                   flexStrings `json:"tags"`
	ParallelExecution      *struct {
		ParallelExecutionType flexString `json:"parallelExecutionType"`
		MaxNumberOfAgents     flexInt    `json:"maxNumberOfAgents"`
		Multipliers           flexString `json:"multipliers"`
	} `json:"parallelExecution"`
	AgentSpecification *struct {
		Identifier flexString `json:"identifier"`
	} `json:"agentSpecification"`
	MaxParallelism flexInt `json:"maxParallelism"`
}

// azTask is a workflow task of a phase (and of the TFS 2015 deployStep, and of a gate),
// and a task of a task group export, whose shape nests the id and version under "task".
type azTask struct {
	TaskID           flexString            `json:"taskId"`
	Version          flexString            `json:"version"`
	Name             flexString            `json:"name"`
	DisplayName      flexString            `json:"displayName"`
	RefName          flexString            `json:"refName"`
	Enabled          *flexBool             `json:"enabled"`
	ContinueOnError  flexBool              `json:"continueOnError"`
	AlwaysRun        flexBool              `json:"alwaysRun"`
	TimeoutInMinutes flexInt               `json:"timeoutInMinutes"`
	Condition        flexString            `json:"condition"`
	Inputs           map[string]flexString `json:"inputs"`
	DefinitionType   flexString            `json:"definitionType"`
	Environment      map[string]flexString `json:"environment"`
	Task             *struct {
		ID             flexString `json:"id"`
		VersionSpec    flexString `json:"versionSpec"`
		DefinitionType flexString `json:"definitionType"`
	} `json:"task"`
}

// id, version and kind read both task shapes.
func (t *azTask) id() string {
	if t.Task != nil && t.TaskID == "" {
		return strings.ToLower(strings.TrimSpace(string(t.Task.ID)))
	}
	return strings.ToLower(strings.TrimSpace(string(t.TaskID)))
}

func (t *azTask) version() string {
	if t.Task != nil && t.Version == "" {
		return string(t.Task.VersionSpec)
	}
	return string(t.Version)
}

func (t *azTask) definitionType() string {
	if t.Task != nil && t.DefinitionType == "" {
		return strings.ToLower(string(t.Task.DefinitionType))
	}
	return strings.ToLower(string(t.DefinitionType))
}

func (t *azTask) name() string {
	if n := strings.TrimSpace(string(t.Name)); n != "" {
		return n
	}
	return strings.TrimSpace(string(t.DisplayName))
}

func (t *azTask) enabled() bool { return t.Enabled == nil || bool(*t.Enabled) }

type azCondition struct {
	Name          flexString `json:"name"`
	ConditionType flexString `json:"conditionType"`
	Value         flexString `json:"value"`
}

type azExecutionPolicy struct {
	ConcurrencyCount flexInt `json:"concurrencyCount"`
	QueueDepthCount  flexInt `json:"queueDepthCount"`
}

type azRetention struct {
	DaysToKeep     flexInt  `json:"daysToKeep"`
	ReleasesToKeep flexInt  `json:"releasesToKeep"`
	RetainBuild    flexBool `json:"retainBuild"`
}

type azRef struct {
	ID   flexString `json:"id"`
	Name flexString `json:"name"`
}

type azArtifact struct {
	Alias               flexString       `json:"alias"`
	Type                flexString       `json:"type"`
	IsPrimary           flexBool         `json:"isPrimary"`
	SourceID            flexString       `json:"sourceId"`
	DefinitionReference map[string]azRef `json:"definitionReference"`
}

type azTrigger struct {
	TriggerType       flexString `json:"triggerType"`
	ArtifactAlias     flexString `json:"artifactAlias"`
	TriggerConditions []struct {
		SourceBranch             flexString  `json:"sourceBranch"`
		Tags                     flexStrings `json:"tags"`
		UseBuildDefinitionBranch flexBool    `json:"useBuildDefinitionBranch"`
	} `json:"triggerConditions"`
	Schedule *azSchedule `json:"schedule"`
}

type azSchedule struct {
	DaysToRelease           flexString `json:"daysToRelease"`
	StartHours              flexInt    `json:"startHours"`
	StartMinutes            flexInt    `json:"startMinutes"`
	TimeZoneID              flexString `json:"timeZoneId"`
	ScheduleOnlyWithChanges flexBool   `json:"scheduleOnlyWithChanges"`
}

// azTaskGroup is a task group export (distributedtask/taskgroups).
type azTaskGroup struct {
	ID      flexString `json:"id"`
	Name    flexString `json:"name"`
	Version struct {
		Major flexInt `json:"major"`
	} `json:"version"`
	Tasks []azTask `json:"tasks"`
}

// azVariableGroup is a variable group export (distributedtask/variablegroups).
type azVariableGroup struct {
	ID        flexInt              `json:"id"`
	Name      flexString           `json:"name"`
	Variables map[string]configVar `json:"variables"`
}
