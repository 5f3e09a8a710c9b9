package azureclassic

import (
	"fmt"

	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/internal/tasklib"
)

// Status is what became of one construct of the Azure definition.
type Status string

// The statuses of a finding.
const (
	// Mapped: Cairn does the same thing.
	Mapped Status = "MAPPED"
	// Approximated: Cairn does nearly the same thing; the message says how it differs.
	Approximated Status = "APPROXIMATED"
	// Dropped: Cairn does not do it; the message says why.
	Dropped Status = "DROPPED"
	// NeedsInput: the export lacks something only a person can give (a secret value, who an
	// identity is here, which connection an endpoint is); the definition cannot be created
	// until the mapping gives it.
	NeedsInput Status = "NEEDS_INPUT"
	// Invalid: Cairn's validation refused the mapped document at this path (set by the
	// engine, never by the mapper).
	Invalid Status = "INVALID"
)

// Blocking reports whether a finding of this status stops the definition from being created.
func (s Status) Blocking() bool { return s == NeedsInput || s == Invalid }

// Finding is one line of the report: the source path in the Azure document, what
// happened, and a sentence for people.
type Finding struct {
	Path    string `json:"path"`
	Status  Status `json:"status"`
	Message string `json:"message"`
}

// Identity maps an Azure identity (its uniqueName, id or display name) to a Cairn user or
// group.
type Identity struct {
	Azure string            `json:"azure"`
	Kind  spec.ApproverKind `json:"kind"`
	Name  string            `json:"name"`
}

// ServiceConnection maps an Azure service endpoint (its id or name; for Build artifacts of
// the same organization the project id or name, or "*" for any) to a Cairn connection,
// and, for the generic endpoint of an Invoke REST API gate, gives the URL it points at.
type ServiceConnection struct {
	Azure      string `json:"azure"`
	Connection string `json:"connection,omitempty"`
	URL        string `json:"url,omitempty"`
}

// VariableGroup maps an Azure variable group id to a Cairn library group name.
type VariableGroup struct {
	Azure int    `json:"azure"`
	Name  string `json:"name"`
}

// Queue maps an Azure queue id (a phase's deploymentInput.queueId) to a Cairn agent pool
// (agent phases) or deployment group (deployment group phases), by name.
type Queue struct {
	Azure int    `json:"azure"`
	Name  string `json:"name"`
}

// TaskGroup maps an Azure task group id to a Cairn task template, "Name@major".
type TaskGroup struct {
	Azure string `json:"azure"`
	Uses  string `json:"uses"`
}

// SecretValue gives the value of a secret variable, which Azure never exports: of the
// definition (Environment "") or of one environment.
type SecretValue struct {
	Variable    string `json:"variable"`
	Environment string `json:"environment,omitempty"`
	Value       string `json:"value"`
}

// WorkItemQuery says what the saved work item query of a "Query work items" gate selects,
// which the export names only by id.
type WorkItemQuery struct {
	QueryID string   `json:"queryId"`
	Types   []string `json:"types,omitempty"`
	States  []string `json:"states,omitempty"`
	Tags    []string `json:"tags,omitempty"`
}

// Mapping is what a person tells the import.
type Mapping struct {
	Identities         []Identity          `json:"identities,omitempty"`
	ServiceConnections []ServiceConnection `json:"serviceConnections,omitempty"`
	VariableGroups     []VariableGroup     `json:"variableGroups,omitempty"`
	TaskGroups         []TaskGroup         `json:"taskGroups,omitempty"`
	SecretValues       []SecretValue       `json:"secretValues,omitempty"`
	WorkItemQueries    []WorkItemQuery     `json:"workItemQueries,omitempty"`
	AgentPools         []Queue             `json:"agentPools,omitempty"`
	DeploymentGroups   []Queue             `json:"deploymentGroups,omitempty"`
}

// Catalog is what the import knows of the Cairn side, read by the engine.
type Catalog struct {
	// Templates are the task library: built-ins, custom templates and task groups.
	Templates []tasklib.Template
	// VariableGroups and SecureFiles name the library's groups and files.
	VariableGroups []string
	SecureFiles    []string
	// Users and Groups name Cairn's users (usernames) and groups: an Azure identity whose
	// uniqueName is a username (or a group name) maps without being listed.
	Users  []string
	Groups []string
	// Pools and DeploymentGroups name the agent pools and deployment groups.
	Pools            []string
	DeploymentGroups []string
	// Connections are the service connections: name → kind (JENKINS, AZURE_DEVOPS).
	Connections map[string]string
}

// Source identifies the Azure definition a result came from.
type Source struct {
	// Document is the index of the document in the import's list.
	Document int `json:"document"`
	// ID is the Azure definition id; URL its REST URL (the document's "url").
	ID       int    `json:"id"`
	URL      string `json:"url"`
	Name     string `json:"name"`
	Revision int    `json:"revision"`
}

// Key is what the engine records on an imported definition to find it again: the
// definition's URL when the export has one, else its id and name.
func (s Source) Key() string {
	if s.URL != "" {
		return "azure-classic " + s.URL
	}
	return fmt.Sprintf("azure-classic id=%d name=%s", s.ID, s.Name)
}

// Result is the import of one Azure definition.
type Result struct {
	Source     Source
	Definition spec.DefinitionSnapshot
	Findings   []Finding
	// Secrets are the secret variables given without a value: the engine turns their
	// NEEDS_INPUT finding into MAPPED when the definition it updates has them stored.
	Secrets []SecretRef
}

// SecretRef names a secret variable without a value and its finding (index in Findings).
type SecretRef struct {
	Environment string // "" for the definition's
	Variable    string
	Finding     int
}

// Blocked reports whether a finding stops the definition from being created.
func (r *Result) Blocked() bool {
	for _, f := range r.Findings {
		if f.Status.Blocking() {
			return true
		}
	}
	return false
}

// DocumentError says why a document could not be read at all (not JSON, too big, too
// deep, not a release definition); Path names the place in it when known.
type DocumentError struct {
	Document int
	Path     string
	Message  string
}

func (e *DocumentError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("documents[%d] at %s: %s", e.Document, e.Path, e.Message)
	}
	return fmt.Sprintf("documents[%d]: %s", e.Document, e.Message)
}

// Limits of what the import reads: a document past them is refused, not truncated.
const (
	// MaxDocuments is how many documents one import takes.
	MaxDocuments = 100
	// MaxDocumentBytes bounds one document (the API's request body limit usually binds first).
	MaxDocumentBytes = 8 << 20
	// MaxDepth bounds JSON nesting; Azure's deepest construct is well under 20.
	MaxDepth = 64
	// maxDefinitions bounds the definitions of one import, lists included.
	maxDefinitions = 200
	// maxTaskGroupDepth bounds nested task groups expanded inline.
	maxTaskGroupDepth = 10
)
