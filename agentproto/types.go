package agentproto

import "time"

// Subprotocol is the websocket subprotocol of this version of the protocol. The agent offers it
// when it dials /agent/connect; the server must select it (coder/websocket: AcceptOptions.Subprotocols)
// and refuse the upgrade when the client does not offer it. An incompatible change gets a new
// subprotocol (cairn.agent.v2); both ends may support several during a transition.
const Subprotocol = "cairn.agent.v1"

// Endpoint paths, relative to the server's base URL.
const (
	// RegisterPath is the HTTP endpoint that exchanges a registration token for an agent credential:
	// POST with a RegisterRequest body, answered by a RegisterResponse.
	RegisterPath = "/agent/register"
	// ConnectPath is the websocket endpoint (GET + upgrade) of the session, authenticated by the
	// header "Authorization: Bearer <credential>".
	ConnectPath = "/agent/connect"
)

// CredentialAudience is the JWT audience ("aud") of agent credentials. The server must reject at
// /agent/connect any token whose audience is not exactly this one (an API token is not an agent).
const CredentialAudience = "agent"

// Size and timing limits. Both ends must apply them explicitly: coder/websocket's default read
// limit is 32 KiB and a larger message closes the connection with StatusMessageTooBig.
const (
	// MaxMessageBytes is the largest JSON message either end may send, and the read limit
	// (Conn.SetReadLimit) both ends must set. A JobAssignment larger than this must not be
	// dispatched: the server fails the job instead.
	MaxMessageBytes = 4 << 20
	// MaxRegisterBodyBytes caps the body of POST /agent/register on the server.
	MaxRegisterBodyBytes = 64 << 10
	// LogBatchBytes is the size of log text at which the agent flushes a batch; a LogBatch never
	// holds more than LogBatchBytes+MaxLineBytes bytes of text.
	LogBatchBytes = 64 << 10
	// LogBatchInterval is the longest a log line waits in the agent before it is sent (when the
	// connection is up).
	LogBatchInterval = 100 * time.Millisecond
	// MaxLineBytes is the longest LogLine.Text; the agent splits longer lines.
	MaxLineBytes = 16 << 10
	// PingInterval is the heartbeat's period: every PingInterval the server pings, all at once,
	// the agents it has not heard from for half of it, and an unanswered ping (after PingInterval)
	// ends the connection, on either end.
	PingInterval = 10 * time.Second
	// AgentPingAfter is how long an agent hears nothing from the server before it pings it:
	// longer than PingInterval, so that an agent of a live server never needs to.
	AgentPingAfter = PingInterval * 3 / 2
)

// MessageType is the "type" member of every websocket message.
type MessageType string

// Agent → server messages.
const (
	TypeHello        MessageType = "hello"
	TypeJobAccepted  MessageType = "jobAccepted"
	TypeJobRejected  MessageType = "jobRejected"
	TypeStepStarted  MessageType = "stepStarted"
	TypeStepFinished MessageType = "stepFinished"
	TypeLogBatch     MessageType = "logBatch"
	TypeJobFinished  MessageType = "jobFinished"
	// TypeStepProgress and TypeAttachment came with logging commands (##vso[…]); a server that
	// predates them ignores them (unknown types are ignored), so v1 stays compatible.
	TypeStepProgress MessageType = "stepProgress"
	TypeAttachment   MessageType = "attachment"
)

// Server → agent messages.
const (
	TypeWelcome   MessageType = "welcome"
	TypeJob       MessageType = "job"
	TypeCancel    MessageType = "cancel"
	TypeLogAck    MessageType = "logAck"
	TypeResultAck MessageType = "resultAck"
)

// TypeError is sent by either end (see Error).
const TypeError MessageType = "error"

// Header is the part common to every message: decode it first to learn which type to decode the
// message into. Unknown types must be ignored by the receiver (forward compatibility within v1).
type Header struct {
	Type MessageType `json:"type"`
}

// RegisterRequest is the body of POST /agent/register.
type RegisterRequest struct {
	// Token is the registration token an administrator created. The server decides whether it is
	// single use or reusable; it must compare it in constant time.
	Token string `json:"token"`
	Name  string `json:"name"`
	Pool  string `json:"pool,omitempty"`
	// DeploymentGroup registers the agent as a target of that deployment group, with Tags.
	DeploymentGroup string            `json:"deploymentGroup,omitempty"`
	Tags            []string          `json:"tags,omitempty"`
	Capabilities    map[string]string `json:"capabilities,omitempty"`
	Version         string            `json:"version"`
	OS              string            `json:"os"`
	Arch            string            `json:"arch"`
}

// RegisterResponse is the 200/201 answer of POST /agent/register.
type RegisterResponse struct {
	AgentID string `json:"agentId"`
	// Credential is a JWT with audience CredentialAudience and subject AgentID.
	Credential string `json:"credential"`
}

// RegisterError is the JSON body of a non-2xx answer of POST /agent/register (optional: the agent
// also copes with a plain-text body).
type RegisterError struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
}

// JobProgress tells the server, in Hello, where the agent stands on a job it still holds.
type JobProgress struct {
	JobID string `json:"jobId"`
	// AckedSeq is the highest sequence number the agent has seen acknowledged (0: none).
	AckedSeq int64 `json:"ackedSeq"`
	// LastSeq is the highest sequence number the agent has produced so far (0: none).
	LastSeq int64 `json:"lastSeq"`
}

// Hello is the first message of every connection, agent → server.
type Hello struct {
	Type               MessageType       `json:"type"` // "hello"
	Name               string            `json:"name"`
	Version            string            `json:"version"`
	OS                 string            `json:"os"`
	Arch               string            `json:"arch"`
	SystemCapabilities map[string]string `json:"systemCapabilities"`
	UserCapabilities   map[string]string `json:"userCapabilities"`
	MaxJobs            int               `json:"maxJobs"`
	// RunningJobs are the jobs the agent is executing now.
	RunningJobs []JobProgress `json:"runningJobs"`
	// FinishedJobs are jobs the agent has finished whose JobFinished the server has not acknowledged
	// yet (ResultAck). Their JobFinished follows on this connection.
	FinishedJobs []JobProgress `json:"finishedJobs"`
}

// Welcome answers Hello, server → agent. Nothing else is sent by either end before it.
type Welcome struct {
	Type       MessageType `json:"type"` // "welcome"
	AgentID    string      `json:"agentId"`
	ServerTime time.Time   `json:"serverTime"`
	// GraceMillis is the server's grace period in milliseconds: how long the agent may be
	// silent (disconnected) before its jobs are LOST. An agent holding jobs must retry at least
	// every GraceMillis/ReconnectsPerGrace while disconnected (see Connection). 0: not told
	// (older servers); the agent keeps its own backoff cap.
	GraceMillis int64 `json:"graceMillis,omitempty"`
}

// ReconnectsPerGrace is how many connection attempts an agent makes, at least, within the
// server's grace period (Welcome.GraceMillis): its reconnect backoff is capped at the grace
// divided by it, so that an agent comes back within a fifth of the grace after the server (or
// another replica) is reachable again.
const ReconnectsPerGrace = 5

// JobAssignment ("job"), server → agent: run this job.
type JobAssignment struct {
	Type         MessageType `json:"type"` // "job"
	JobID        string      `json:"jobId"`
	DeploymentID string      `json:"deploymentId"`
	// ReleaseVariables are exported as-is (names already final), e.g. RELEASE_RELEASENAME,
	// RELEASE_RELEASEID, RELEASE_ENVIRONMENTNAME, RELEASE_DEFINITIONNAME, and per artifact
	// RELEASE_ARTIFACTS_<ALIAS>_BUILDNUMBER, _BUILDID, _SOURCEBRANCH, _SOURCEVERSION, _TYPE,
	// _BUILDURI.
	ReleaseVariables map[string]string `json:"releaseVariables"`
	// Variables are the definition's, environment's and release's user variables, already merged
	// by the server (release overrides environment overrides definition). The agent exports each
	// as its EnvName, after the release variables (a user variable of the same name wins).
	Variables []Variable `json:"variables"`
	Tasks     []Task     `json:"tasks"`
	Artifacts []Artifact `json:"artifacts"`
	// TimeoutSeconds bounds the whole job on the agent (0: no limit). The server enforces its own
	// timeout as well.
	TimeoutSeconds       int  `json:"timeoutSeconds"`
	SkipArtifactDownload bool `json:"skipArtifactDownload"`
	// SecureFiles are library secure files the job names. Before the first task the agent writes
	// each to <job dir>/securefiles/<name> (mode 0600) and exports its path as PathVariable; it
	// deletes them when the job ends, whatever its result (succeeded, failed, canceled, timed out).
	// Absent from servers before secure files.
	SecureFiles []SecureFile `json:"secureFiles,omitempty"`
}

// SecureFile is one library secure file of a job. Content is the plaintext (JSON base64); the
// agent never logs it.
type SecureFile struct {
	Name         string `json:"name"`
	PathVariable string `json:"pathVariable"` // SECUREFILE_<NAME>_PATH
	Content      []byte `json:"content"`
}

// Variable is one user variable of a job.
type Variable struct {
	// Name is the variable's name as the definition spells it ("deploy.target"), for people.
	Name string `json:"name"`
	// EnvName is the environment variable the agent exports Value as ("DEPLOY_TARGET"); the
	// server chooses it. Empty (servers before it was sent): the agent derives it from Name,
	// upper case with every character but [A-Z0-9_] replaced by "_".
	EnvName string `json:"envName,omitempty"`
	Value   string `json:"value"`
	// Secret values are exported to tasks like the others but masked as "***" in every log line.
	Secret bool `json:"secret,omitempty"`
}

// Shell values of Task.Shell.
const (
	ShellBash = "bash" // bash -e <script file>
	ShellSh   = "sh"   // sh -e <script file>
	ShellPwsh = "pwsh" // pwsh -NoLogo -NoProfile -NonInteractive -File <script file>.ps1
	// ShellCmd runs on Windows agents only: cmd.exe /D /E:ON /V:OFF /S /C "<script file>.cmd".
	// Other agents refuse the job (RejectInvalid); the server demands Agent.OS Windows_NT.
	ShellCmd = "cmd"
)

// Task is one script of a job. Task i (0-based in JobAssignment.Tasks) is step i+1.
type Task struct {
	Name string `json:"name"`
	// Shell is ShellBash, ShellSh or ShellPwsh; empty means bash when the agent has it, else sh.
	Shell  string `json:"shell"`
	Script string `json:"script"`
	// WorkingDirectory is relative to the job's source directory (SYSTEM_DEFAULTWORKINGDIRECTORY) or
	// absolute; empty means that directory. It must exist.
	WorkingDirectory string            `json:"workingDirectory,omitempty"`
	Env              map[string]string `json:"env,omitempty"`
	// TimeoutSeconds bounds this task (0: no limit but the job's).
	TimeoutSeconds  int  `json:"timeoutSeconds,omitempty"`
	ContinueOnError bool `json:"continueOnError,omitempty"`
	// Condition says when the task runs (see "Task conditions" in the package documentation);
	// empty is SUCCEEDED.
	Condition string `json:"condition,omitempty"`
	// Inputs are a task template's inputs (INPUT_<NAME> → value): the agent expands $(NAME)
	// references in each value against the job's variables when the task starts (names looked
	// up through their environment form, so $(System.ArtifactsDirectory) is
	// SYSTEM_ARTIFACTSDIRECTORY; unknown references stay as written) and exports the results
	// to this task only, after Env. SecretInputs names those whose expanded values are masked
	// in every later line of the job.
	Inputs       map[string]string `json:"inputs,omitempty"`
	SecretInputs []string          `json:"secretInputs,omitempty"`
	// Runner, when set, names an implementation built into the agent that runs the task
	// instead of a script (Shell and Script are then empty): "ssh", "copyFilesOverSSH",
	// "fileTransform", "invokeHttp", "downloadSecureFile", "downloadFile". It reads the task's Inputs, expanded
	// as for a script. An agent that has runner R reports the system capability
	// "agent.runner.<r>" (lower case); the server demands it, and an agent that does not know a
	// runner refuses the job (RejectInvalid).
	Runner string `json:"runner,omitempty"`
	// Credentials authenticate a runner's HTTP requests (HTTP basic auth): the service
	// connection a DownloadFile task names. The server sends them only when the task's URL is
	// on Origin, the connection's URL (same scheme, host and port, internal/origin); the agent
	// checks the expanded URL and every redirect against Origin again before attaching them,
	// never stores them and masks the password. Nil: anonymous.
	Credentials *Credentials `json:"credentials,omitempty"`
	Origin      string       `json:"origin,omitempty"`
	// Endpoint is the service connection the task deploys to (its template's SSH,
	// DOCKER_REGISTRY or KUBERNETES input), resolved by the server when it sent the job. The
	// agent never stores it and masks Password, PrivateKey and Secrets in every line of the
	// job. See Endpoint for how the task gets it. Nil: none (a task may still carry the
	// endpoint inline in its inputs).
	Endpoint *Endpoint `json:"endpoint,omitempty"`
}

// Endpoint kinds (Endpoint.Kind).
const (
	EndpointSSH            = "SSH"
	EndpointDockerRegistry = "DOCKER_REGISTRY"
	EndpointKubernetes     = "KUBERNETES"
)

// Endpoint is a service connection that a task deploys to. Runners use it directly (the SSH
// runners connect with it instead of their inline inputs). A script task gets it as
// environment variables, set for every task with inputs (empty without an endpoint, so that a
// job variable of the same name never stands in for one): ENDPOINT_KIND, ENDPOINT_NAME,
// ENDPOINT_URL, ENDPOINT_REGISTRY, ENDPOINT_HOST, ENDPOINT_PORT, ENDPOINT_USERNAME,
// ENDPOINT_PASSWORD, ENDPOINT_HOSTKEY, ENDPOINT_KUBECONTEXT, ENDPOINT_NAMESPACE; the
// kubeconfig (KUBERNETES) and the private key (SSH) are written to files of mode 0600 under
// the job's temporary directory, named by ENDPOINT_KUBECONFIG and ENDPOINT_PRIVATEKEYFILE, and
// a DOCKER_REGISTRY endpoint sets DOCKER_CONFIG to an empty private directory, so that a
// docker login stays within the task. The files and the directory are removed when the task
// ends, whatever its result.
type Endpoint struct {
	// Input is the task input that named the connection; Name and Kind are the connection's.
	Input string `json:"input"`
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	// URL: the registry (DOCKER_REGISTRY) or the cluster's API server (KUBERNETES);
	// Registry: the registry's host[:port], what docker login takes and images are prefixed with.
	URL      string `json:"url,omitempty"`
	Registry string `json:"registry,omitempty"`
	// SSH: Host and Port (never 0), the pinned host keys (authorized_keys or known_hosts
	// lines, or SHA256: fingerprints, one a line) or TrustOnFirstUse.
	Host            string `json:"host,omitempty"`
	Port            int    `json:"port,omitempty"`
	HostKey         string `json:"hostKey,omitempty"`
	TrustOnFirstUse bool   `json:"trustOnFirstUse,omitempty"`
	Username        string `json:"username,omitempty"`
	// Password is the SSH password or the registry's password or token.
	Password   string `json:"password,omitempty"`
	PrivateKey string `json:"privateKey,omitempty"`
	// KUBERNETES: the kubeconfig, the context to use (empty: its current-context) and the
	// default namespace.
	Kubeconfig  string `json:"kubeconfig,omitempty"`
	KubeContext string `json:"kubeContext,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	// Secrets are further values to mask: the kubeconfig's tokens, passwords and keys.
	Secrets []string `json:"secrets,omitempty"`
}

// CapabilityEndpoints is the system capability ("1") of agents that take Task.Endpoint. The
// server demands it of a job whose tasks name an endpoint connection.
const CapabilityEndpoints = "agent.endpoints"

// CapabilityTasks is the system capability ("1") of agents that evaluate Task.Condition (and
// run cleanup tasks on cancel) and export Task.Inputs. The server adds it to the demands of a
// job that uses either, since an older agent would ignore them: run the task as SUCCEEDED, or
// without its inputs.
const CapabilityTasks = "agent.tasks"

// ArtifactType is the kind of CI server an artifact comes from.
type ArtifactType string

// Artifact types.
const (
	ArtifactJenkins   ArtifactType = "JENKINS"
	ArtifactTeamBuild ArtifactType = "TEAMBUILD"
)

// Artifact is one artifact of the release, downloaded to <job dir>/a/<alias>/.
type Artifact struct {
	Alias string `json:"alias"`
	// PathVariable is the environment variable the agent sets to a/<alias>/ (absolute) for every
	// task, RELEASE_ARTIFACTS_<ALIAS>_PATH; the server chooses it. Empty (servers before it was
	// sent): the agent derives it from Alias as for Variable.EnvName.
	PathVariable string       `json:"pathVariable,omitempty"`
	Type         ArtifactType `json:"type"`
	// BuildNumber is for the agent's log; the task sees it as the release variable
	// RELEASE_ARTIFACTS_<ALIAS>_BUILDNUMBER.
	BuildNumber string `json:"buildNumber"`
	// Jenkins is set when Type is JENKINS.
	Jenkins *JenkinsDownload `json:"jenkins,omitempty"`
	// TeamBuild is set when Type is TEAMBUILD.
	TeamBuild *TeamBuildDownload `json:"teamBuild,omitempty"`
	// Credentials authenticate the downloads (HTTP basic auth); nil means anonymous. They are
	// valid for the job's duration only: the agent never stores them and masks the password.
	Credentials *Credentials `json:"credentials,omitempty"`
	// Origin is the service connection's URL that the credentials belong to. The agent sends
	// Credentials only to download URLs of the same scheme, host and port (internal/origin);
	// with Credentials set and Origin empty or different, the download fails without sending them.
	Origin string `json:"origin,omitempty"`
}

// JenkinsDownload says what to fetch from a Jenkins build.
type JenkinsDownload struct {
	// BuildURL is the build's URL, e.g. https://ci/job/x/12 (no trailing slash needed).
	BuildURL string `json:"buildUrl"`
	// RelativePaths are fetched one by one from {buildUrl}/artifact/{path}, kept at
	// a/<alias>/{path}. Ignored when WholeArchive is set.
	RelativePaths []string `json:"relativePaths,omitempty"`
	// WholeArchive fetches {buildUrl}/artifact/*zip*/archive.zip and unpacks it into a/<alias>/
	// (without Jenkins' leading "archive/" directory).
	WholeArchive bool `json:"wholeArchive,omitempty"`
}

// TeamBuildDownload says what to fetch from an Azure DevOps / TFS build.
type TeamBuildDownload struct {
	// DownloadURL is the artifact's resource.downloadUrl (a zip), unpacked into a/<alias>/ (the
	// zip's top directory, the artifact name, is kept: a/<alias>/<artifact name>/...).
	DownloadURL string `json:"downloadUrl"`
}

// Credentials are HTTP basic auth credentials. For Jenkins, Password is the user's API token;
// for Azure DevOps it is a personal access token and Username may be empty.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// JobAccepted, agent → server: the agent took the job and will report on it.
type JobAccepted struct {
	Type  MessageType `json:"type"` // "jobAccepted"
	JobID string      `json:"jobId"`
}

// Rejection reasons of JobRejected.Code.
const (
	RejectBusy    = "busy"    // the agent already runs MaxJobs jobs
	RejectInvalid = "invalid" // the assignment cannot be run (unknown shell, no such artifact type…)
	RejectClosing = "closing" // the agent is shutting down
)

// JobRejected, agent → server: the agent will not run the job; it has done nothing for it.
type JobRejected struct {
	Type    MessageType `json:"type"` // "jobRejected"
	JobID   string      `json:"jobId"`
	Code    string      `json:"code"`
	Message string      `json:"message"`
}

// Step status values of StepFinished.Status.
const (
	StepSucceeded = "SUCCEEDED"
	StepFailed    = "FAILED" // non-zero exit, task timeout, job timeout, or agent-side error
	StepCanceled  = "CANCELED"
	StepSkipped   = "SKIPPED" // never started: an earlier step failed, the job was canceled, or nothing to download
)

// StepStarted, agent → server: step Step began.
type StepStarted struct {
	Type  MessageType `json:"type"` // "stepStarted"
	JobID string      `json:"jobId"`
	// Step is 0 for "Download artifacts", i+1 for JobAssignment.Tasks[i].
	Step      int       `json:"step"`
	Name      string    `json:"name"`
	StartedAt time.Time `json:"startedAt"`
}

// StepFinished, agent → server: step Step ended. Every step of a job gets exactly one
// StepFinished; a SKIPPED step gets no StepStarted.
type StepFinished struct {
	Type   MessageType `json:"type"` // "stepFinished"
	JobID  string      `json:"jobId"`
	Step   int         `json:"step"`
	Name   string      `json:"name"`
	Status string      `json:"status"`
	// ExitCode is the process's exit code; -1 when it was killed by a signal or never ran.
	ExitCode   int       `json:"exitCode"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt"`
	// Reason explains a non-SUCCEEDED status in words, e.g. "timed out after 30s".
	Reason string `json:"reason,omitempty"`

	// The members below report what the task said through logging commands (see
	// "Logging commands" in the package documentation). All are optional: an agent that
	// predates them sends none, and a server that predates them ignores them.

	// Issues are the step's first MaxIssuesPerStep issues (##vso[task.logissue], ##[error],
	// ##[warning] and the agent's own refusals of bad commands); ErrorCount and WarningCount
	// count all of them.
	Issues       []Issue `json:"issues,omitempty"`
	ErrorCount   int     `json:"errorCount,omitempty"`
	WarningCount int     `json:"warningCount,omitempty"`
	// SucceededWithIssues: the task ended with ##vso[task.complete result=SucceededWithIssues]
	// (Status is SUCCEEDED); the job is then PARTIALLY_SUCCEEDED at best.
	SucceededWithIssues bool `json:"succeededWithIssues,omitempty"`
	// Progress is the last ##vso[task.setprogress value=N] of the step (0-100), -1 or absent
	// when it set none.
	Progress *int `json:"progress,omitempty"`
	// OutputVariables are the variables the step set with isOutput=true, Name as the task
	// wrote it. The server names them for later jobs of the release (see Logging commands).
	// Secret ones carry Secret: the server seals them at rest like secret variables.
	OutputVariables []Variable `json:"outputVariables,omitempty"`
}

// Issue types.
const (
	IssueError   = "error"
	IssueWarning = "warning"
)

// Issue is one error or warning a step reported.
type Issue struct {
	Type    string `json:"type"` // IssueError or IssueWarning
	Message string `json:"message"`
	// SourcePath and LineNumber locate it when the task said where (logissue sourcepath, linenumber).
	SourcePath string `json:"sourcePath,omitempty"`
	LineNumber int    `json:"lineNumber,omitempty"`
}

// Limits on what a step may report through logging commands.
const (
	// MaxIssuesPerStep is how many issues StepFinished carries; the counts go on.
	MaxIssuesPerStep = 100
	// MaxIssueBytes caps an issue's message (longer ones are cut, at a UTF-8 boundary).
	MaxIssueBytes = 4 << 10
	// MaxCommandBytes is the longest logging command line the agent reads; a longer one is
	// ignored (its value is never printed: it may be a secret) and the step gets a warning.
	MaxCommandBytes = 64 << 10
	// MaxOutputVariables is how many variables one job may set (##vso[task.setvariable]).
	MaxOutputVariables = 100
	// MaxAttachmentBytes is the largest file ##vso[task.uploadfile] sends; a larger one is
	// refused with a step warning.
	MaxAttachmentBytes = 1 << 20
	// MaxAttachmentsPerJob is how many files a job may upload.
	MaxAttachmentsPerJob = 20
)

// StepProgress, agent → server: the running step reported its progress
// (##vso[task.setprogress value=N]text). Informational: resent with the other reports after a
// reconnect, idempotent, the last one received wins; StepFinished carries the final value.
type StepProgress struct {
	Type  MessageType `json:"type"` // "stepProgress"
	JobID string      `json:"jobId"`
	Step  int         `json:"step"`
	// Percent is 0-100.
	Percent int    `json:"percent"`
	Text    string `json:"text,omitempty"`
}

// Attachment, agent → server: a file the step uploaded (##vso[task.uploadfile]path), stored with
// the deployment. Sent after the step's StepStarted and before its StepFinished; at most
// MaxAttachmentsPerJob per job and MaxAttachmentBytes each. Idempotent by (jobId, step, name): a
// resent copy is the same file and the server keeps one. A second upload of the same name in a
// step is renamed by the agent ("name (2)").
type Attachment struct {
	Type  MessageType `json:"type"` // "attachment"
	JobID string      `json:"jobId"`
	Step  int         `json:"step"`
	// Name is the file's base name.
	Name string `json:"name"`
	// Data is the file's content (base64 in JSON).
	Data []byte `json:"data"`
}

// LogLine is one line of a job's output. Secrets are already masked.
type LogLine struct {
	// Seq numbers a job's lines 1, 2, 3… with no gap, in output order.
	Seq  int64     `json:"seq"`
	Step int       `json:"step"`
	Time time.Time `json:"time"`
	// Text is the line without its line terminator (nor a trailing "\r"), valid UTF-8 (invalid
	// bytes become U+FFFD), cut into pieces of at most MaxLineBytes bytes of the original output.
	Text string `json:"text"`
	// Kind is what the line is, from its formatting command ("##[group]…"): one of the Line*
	// constants; empty for plain output. Text keeps the prefix, so a reader that ignores
	// Kind shows what the task printed. Absent from agents that predate it.
	Kind string `json:"kind,omitempty"`
}

// Values of LogLine.Kind: Azure Pipelines' formatting commands, which a task prints at the start
// of a line ("##[section]Deploying"), and the agent's own account of a logging command.
const (
	LineGroup    = "group"    // ##[group]title: starts a collapsible group
	LineEndGroup = "endgroup" // ##[endgroup]
	LineSection  = "section"  // ##[section]title
	LineWarning  = "warning"  // ##[warning]text, or a task.logissue type=warning
	LineError    = "error"    // ##[error]text, a task.logissue type=error, or the agent's own failure notices
	LineCommand  = "command"  // ##[command]text, or the agent's account of a ##vso command it ran
	LineDebug    = "debug"    // ##[debug]text
)

// LogBatch, agent → server: consecutive lines of one job, ascending Seq.
type LogBatch struct {
	Type  MessageType `json:"type"` // "logBatch"
	JobID string      `json:"jobId"`
	Lines []LogLine   `json:"lines"`
}

// Job status values of JobFinished.Status.
const (
	JobSucceeded          = "SUCCEEDED"
	JobPartiallySucceeded = "PARTIALLY_SUCCEEDED" // a continue-on-error task failed, all others succeeded
	JobFailed             = "FAILED"
	JobCanceled           = "CANCELED"
)

// JobFinished, agent → server: the final result of a job.
type JobFinished struct {
	Type   MessageType `json:"type"` // "jobFinished"
	JobID  string      `json:"jobId"`
	Status string      `json:"status"`
	Reason string      `json:"reason,omitempty"`
	// LastSeq is the job's last log sequence number (0 if it printed nothing): lines 1..LastSeq
	// are the complete log.
	LastSeq    int64     `json:"lastSeq"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
}

// Cancel, server → agent: stop the job.
type Cancel struct {
	Type   MessageType `json:"type"` // "cancel"
	JobID  string      `json:"jobId"`
	Reason string      `json:"reason"`
}

// LogAck, server → agent: lines 1..UptoSeq of the job are durably stored.
type LogAck struct {
	Type    MessageType `json:"type"` // "logAck"
	JobID   string      `json:"jobId"`
	UptoSeq int64       `json:"uptoSeq"`
}

// ResultAck, server → agent: the job's JobFinished (and so its whole log) is durably stored.
type ResultAck struct {
	Type  MessageType `json:"type"` // "resultAck"
	JobID string      `json:"jobId"`
}

// ErrorCode classifies an Error.
type ErrorCode string

// Error codes.
const (
	ErrUnauthorized ErrorCode = "unauthorized" // credential invalid, expired, revoked, or agent disabled
	ErrBadMessage   ErrorCode = "bad_message"  // undecodable, unknown required field, protocol order violated
	ErrUnknownJob   ErrorCode = "unknown_job"  // the job is not assigned to this agent
	ErrConflict     ErrorCode = "conflict"     // e.g. a result for a job the server already finalized differently
	ErrInternal     ErrorCode = "internal"     // the receiver failed; retrying later may work
)

// Error, either direction: the receiver of a message could not process it. It is informational
// and never acknowledged; JobID is set when the error concerns one job.
type Error struct {
	Type    MessageType `json:"type"` // "error"
	Code    ErrorCode   `json:"code"`
	Message string      `json:"message"`
	JobID   string      `json:"jobId,omitempty"`
}

// Websocket close status codes (private range 4000-4999) the server uses.
const (
	// CloseUnauthorized: the credential is no longer valid. The agent stops instead of reconnecting.
	CloseUnauthorized = 4401
	// CloseProtocolError: the peer broke this contract. The agent reconnects with backoff.
	CloseProtocolError = 4400
	// CloseReplaced: a newer connection of the same agent took over. The agent reconnects with
	// backoff (a second process sharing a credential is a misconfiguration the server should log).
	CloseReplaced = 4409
)
