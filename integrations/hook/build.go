package hook

import (
	"net/url"
	"strings"
	"time"
)

// Source names the kind of CI server a build comes from. The values are those
// of ArtifactSourceSpec.Type.
type Source string

// The CI sources.
const (
	SourceJenkins   Source = "JENKINS"
	SourceTeamBuild Source = "TEAMBUILD"
)

// Result is the outcome of a completed build, in the vocabulary of release
// environments rather than that of either CI server.
type Result string

// The build results. Jenkins' SUCCESS, UNSTABLE, FAILURE and ABORTED and Team
// Build's succeeded, partiallySucceeded, failed and canceled (stopped in 1.0
// payloads) map onto them one to one.
const (
	ResultSucceeded          Result = "SUCCEEDED"
	ResultPartiallySucceeded Result = "PARTIALLY_SUCCEEDED"
	ResultFailed             Result = "FAILED"
	ResultCanceled           Result = "CANCELED"
)

// Build is a completed CI build as a webhook reported it. It is neutral: the
// release engine needs no knowledge of Jenkins or Team Build to decide whether
// an artifact source follows it and whether its branch filter admits it.
// Fields the payload did not carry are empty; enrichment from the REST API
// (changes, work items, artifacts) happens later and fills Changes and
// Artifacts of the release, not of this value.
type Build struct {
	Source Source
	// Connection is the name of the service connection the webhook
	// authenticated as; the parsers leave it to the caller.
	Connection string
	// Job is the Jenkins job's full name ("folder/job") or the Team Build
	// definition's name.
	Job string
	// JobID is the Team Build definition id; empty for Jenkins.
	JobID string
	// Project is the Azure DevOps project (name, or id when a 1.0 payload
	// gives no name); empty for Jenkins.
	Project string
	// BuildID identifies the build on its server: the Jenkins build number or
	// the Team Build build id, in decimal.
	BuildID string
	// Number is the build's human name: "12" for Jenkins, the buildNumber
	// ("20240105.3") for Team Build.
	Number string
	// Branch is the branch as the server reported it ("origin/main",
	// "refs/heads/main"); spec.NormalizeBranch makes it comparable.
	Branch string
	// Commit is the source revision (a git SHA-1, or a TFVC changeset "C123").
	Commit string
	Result Result
	// URL is the build's web page.
	URL string
	// RequestedFor is the person the build ran for, when known.
	RequestedFor string
	// Finished is when the build finished; zero when not reported.
	Finished time.Time
	// Changes are the changes the payload itself lists (Jenkins' scm.changes
	// are file paths and do not become changes; Team Build sends none).
	Changes []Change
	// Artifacts are the artifacts the payload lists (Jenkins' artifacts map).
	Artifacts []Artifact
}

// Change is one commit or changeset a build brings.
type Change struct {
	ID      string // commit SHA-1 or changeset number
	Message string // full message
	Author  string
	Time    time.Time
	URL     string
}

// Artifact is a build output and where to download it.
type Artifact struct {
	Name string
	URL  string
}

// Key is the idempotency key of the build: the same build delivered twice (a
// retried delivery, or Jenkins' COMPLETED then FINALIZED) has the same key,
// so the engine creates one release. Components are path-escaped so that no
// two builds share a key.
func (b *Build) Key() string {
	parts := []string{string(b.Source), b.Connection}
	if b.Source == SourceJenkins {
		// Build numbers are per job.
		parts = append(parts, b.Job)
	}
	// Team Build ids are unique in a project collection, which is what a
	// connection points at; a definition's name may change between deliveries.
	parts = append(parts, b.BuildID)
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
