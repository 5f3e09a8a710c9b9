package jenkins

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/cairnhq/cairn/integrations/hook"
)

// Phase is the point of a build's life a notification reports.
type Phase string

// The Notification plugin's phases. A build that completes sends COMPLETED
// and then FINALIZED (after post-build steps) with the same status; both are
// accepted and deduplicated by hook.Build.Key.
const (
	PhaseQueued    Phase = "QUEUED"
	PhaseStarted   Phase = "STARTED"
	PhaseCompleted Phase = "COMPLETED"
	PhaseFinalized Phase = "FINALIZED"
)

// Status is a Jenkins build result.
type Status string

// The Jenkins build results (hudson.model.Result).
const (
	StatusSuccess  Status = "SUCCESS"
	StatusUnstable Status = "UNSTABLE"
	StatusFailure  Status = "FAILURE"
	StatusNotBuilt Status = "NOT_BUILT"
	StatusAborted  Status = "ABORTED"
)

// Notification is the Notification plugin's JSON document.
type Notification struct {
	// Name is the job's name as the plugin reports it (the short name on most
	// versions); use JobFullName for the folder path.
	Name        string `json:"name"`
	DisplayName string `json:"display_name,omitempty"`
	// URL is the job's URL relative to the Jenkins root: "job/a/job/b/".
	URL   string      `json:"url,omitempty"`
	Build BuildNotice `json:"build"`
}

// BuildNotice is the "build" object of a notification.
type BuildNotice struct {
	// FullURL is the build's absolute URL: "https://ci/job/a/job/b/12/".
	FullURL string `json:"full_url,omitempty"`
	Number  int64  `json:"number"`
	QueueID int64  `json:"queue_id,omitempty"`
	Phase   Phase  `json:"phase"`
	// Status is the result; empty before COMPLETED.
	Status Status `json:"status,omitempty"`
	// URL is the build's URL relative to the Jenkins root: "job/a/12/".
	URL string `json:"url,omitempty"`
	// Timestamp is the build's start, in Unix milliseconds; Duration is in
	// milliseconds. Recent plugin versions only.
	Timestamp  int64               `json:"timestamp,omitempty"`
	Duration   int64               `json:"duration,omitempty"`
	SCM        *SCM                `json:"scm,omitempty"`
	Parameters Parameters          `json:"parameters,omitempty"`
	Artifacts  map[string]Artifact `json:"artifacts,omitempty"`
	// Log is the tail of the console log, when the plugin is set to send it.
	Log   string `json:"log,omitempty"`
	Notes string `json:"notes,omitempty"`
}

// SCM is the git data the plugin reads from the build's environment.
type SCM struct {
	URL string `json:"url,omitempty"`
	// Branch as git reports it: "origin/main".
	Branch string `json:"branch,omitempty"`
	Commit string `json:"commit,omitempty"`
	// Changes are the paths of the files the build's changes touched.
	Changes []string `json:"changes,omitempty"`
	// Culprits are the ids of the users whose changes the build includes.
	Culprits []string `json:"culprits,omitempty"`
}

// Artifact locates one archived file; Archive is its download URL. Other
// keys (an "s3" upload, say) are ignored.
type Artifact struct {
	Archive string `json:"archive,omitempty"`
}

// Parameters are the build parameters. The plugin renders every value as a
// string, but numbers, booleans and null are accepted and rendered as text so
// that a plugin variation does not reject a build.
type Parameters map[string]string

// UnmarshalJSON accepts an object of scalars.
func (p *Parameters) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		*p = nil
		return nil
	}
	out := make(Parameters, len(raw))
	for k, v := range raw {
		var s string
		switch {
		case bytes.Equal(v, []byte("null")):
		case len(v) > 0 && v[0] == '"':
			if err := json.Unmarshal(v, &s); err != nil {
				return err
			}
		case len(v) > 0 && (v[0] == '{' || v[0] == '['):
			return &json.UnmarshalTypeError{Value: "object or array", Type: stringType, Field: k} // the decoder prefixes "build.parameters."
		default:
			s = string(v)
		}
		out[k] = s
	}
	*p = out
	return nil
}

// The limits of Parse. The body cap (hook.MaxBodyBytes) bounds the whole;
// these catch fields that are absurd on their own.
const (
	maxNameLen    = 1024      // name, display_name
	maxURLLen     = 8 << 10   // url, full_url, scm.url, artifact URLs
	maxRefLen     = 1024      // scm.branch, scm.commit
	maxListLen    = 10000     // artifacts, scm.changes, scm.culprits, parameters
	maxTextLen    = 512 << 10 // log, notes
	maxParamBytes = 64 << 10  // one parameter's name and value
	payloadName   = "jenkins notification"
)

var stringType = reflect.TypeFor[string]()

// ReadNotification reads and parses the notification in a webhook request,
// refusing a body over hook.MaxBodyBytes with a *hook.TooLargeError.
func ReadNotification(r *http.Request) (*Notification, error) {
	body, err := hook.ReadBody(r, hook.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	return Parse(body)
}

// Parse decodes a Notification plugin document and checks it: name, a
// positive build.number and a known build.phase are required, status is
// required from COMPLETED on and must be a known result, and no field may be
// absurdly long. Errors are *hook.ParseError (kind hook.ErrMalformed for bad
// JSON, hook.ErrInvalid for a broken contract) or *hook.TooLargeError.
// Unknown fields are ignored.
func Parse(data []byte) (*Notification, error) {
	if len(data) > hook.MaxBodyBytes {
		return nil, &hook.TooLargeError{Limit: hook.MaxBodyBytes}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &hook.ParseError{Payload: payloadName, Kind: hook.ErrMalformed, Reason: "empty body"}
	}
	var n Notification
	if err := json.Unmarshal(data, &n); err != nil {
		return nil, hook.DecodeError(payloadName, err)
	}
	if err := n.validate(); err != nil {
		return nil, err
	}
	return &n, nil
}

func invalid(field, format string, args ...any) error {
	return &hook.ParseError{Payload: payloadName, Kind: hook.ErrInvalid, Field: field, Reason: fmt.Sprintf(format, args...)}
}

func (n *Notification) validate() error {
	b := &n.Build
	switch {
	case n.Name == "":
		return invalid("name", "missing")
	case b.Number == 0:
		return invalid("build.number", "missing")
	case b.Number < 0:
		return invalid("build.number", "negative (%d)", b.Number)
	case b.Phase == "":
		return invalid("build.phase", "missing")
	}
	switch b.Phase {
	case PhaseQueued, PhaseStarted:
	case PhaseCompleted, PhaseFinalized:
		if b.Status == "" {
			return invalid("build.status", "missing in phase %s", b.Phase)
		}
	default:
		return invalid("build.phase", "unknown phase %q (want QUEUED, STARTED, COMPLETED or FINALIZED)", truncate(string(b.Phase)))
	}
	switch b.Status {
	case "", StatusSuccess, StatusUnstable, StatusFailure, StatusNotBuilt, StatusAborted:
	default:
		return invalid("build.status", "unknown result %q", truncate(string(b.Status)))
	}
	for _, f := range []struct {
		name  string
		value string
		max   int
	}{
		{"name", n.Name, maxNameLen},
		{"display_name", n.DisplayName, maxNameLen},
		{"url", n.URL, maxURLLen},
		{"build.full_url", b.FullURL, maxURLLen},
		{"build.url", b.URL, maxURLLen},
		{"build.log", b.Log, maxTextLen},
		{"build.notes", b.Notes, maxTextLen},
	} {
		if len(f.value) > f.max {
			return invalid(f.name, "%d bytes, more than the %d allowed", len(f.value), f.max)
		}
	}
	if s := b.SCM; s != nil {
		switch {
		case len(s.URL) > maxURLLen:
			return invalid("build.scm.url", "%d bytes, more than the %d allowed", len(s.URL), maxURLLen)
		case len(s.Branch) > maxRefLen:
			return invalid("build.scm.branch", "%d bytes, more than the %d allowed", len(s.Branch), maxRefLen)
		case len(s.Commit) > maxRefLen:
			return invalid("build.scm.commit", "%d bytes, more than the %d allowed", len(s.Commit), maxRefLen)
		case len(s.Changes) > maxListLen:
			return invalid("build.scm.changes", "%d entries, more than the %d allowed", len(s.Changes), maxListLen)
		case len(s.Culprits) > maxListLen:
			return invalid("build.scm.culprits", "%d entries, more than the %d allowed", len(s.Culprits), maxListLen)
		}
	}
	if len(b.Artifacts) > maxListLen {
		return invalid("build.artifacts", "%d entries, more than the %d allowed", len(b.Artifacts), maxListLen)
	}
	for name, a := range b.Artifacts {
		if len(name) > maxURLLen || len(a.Archive) > maxURLLen {
			return invalid("build.artifacts", "an entry longer than %d bytes", maxURLLen)
		}
	}
	if len(b.Parameters) > maxListLen {
		return invalid("build.parameters", "%d entries, more than the %d allowed", len(b.Parameters), maxListLen)
	}
	for k, v := range b.Parameters {
		if len(k)+len(v) > maxParamBytes {
			return invalid("build.parameters", "parameter %q longer than %d bytes", truncate(k), maxParamBytes)
		}
	}
	return nil
}

// truncate shortens a value quoted in an error message.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// Final reports whether the notification is of a finished build (COMPLETED
// or FINALIZED).
func (n *Notification) Final() bool {
	return n.Build.Phase == PhaseCompleted || n.Build.Phase == PhaseFinalized
}

// JobFullName is the job's full name ("folder/job") from the build's
// full_url, else its url, else the job's url; see JobFullNameFromURL. A
// notification without any URL falls back on its name.
func (n *Notification) JobFullName() (string, error) {
	switch {
	case n.Build.FullURL != "":
		return JobFullNameFromURL(n.Build.FullURL, n.Build.Number)
	case n.Build.URL != "":
		return JobFullNameFromURL(n.Build.URL, n.Build.Number)
	case n.URL != "":
		return JobFullNameFromURL(n.URL, 0)
	}
	return n.Name, nil
}

// ToBuild converts a finished build into the neutral hook.Build, with
// Connection set to connection. QUEUED and STARTED notifications, and
// NOT_BUILT results, give a *hook.IgnoredError. Branch and Commit are those
// of scm, which the plugin takes from the build environment (GIT_BRANCH,
// GIT_COMMIT): a Pipeline build may lack them, and the client's BuildData
// is then the way to find them. URL is build.full_url; without it URL stays
// empty (the relative build.url needs the connection's base URL, which the
// caller has). Changes stay empty: scm.changes are file paths.
func (n *Notification) ToBuild(connection string) (*hook.Build, error) {
	b := &n.Build
	if !n.Final() {
		return nil, hook.Ignored("jenkins build %d is %s, not completed", b.Number, b.Phase)
	}
	result, ok := mapStatus(b.Status)
	if !ok {
		return nil, hook.Ignored("jenkins build %d result is %s", b.Number, b.Status)
	}
	job, err := n.JobFullName()
	if err != nil {
		return nil, err
	}
	out := &hook.Build{
		Source:     hook.SourceJenkins,
		Connection: connection,
		Job:        job,
		BuildID:    strconv.FormatInt(b.Number, 10),
		Number:     strconv.FormatInt(b.Number, 10),
		Result:     result,
		URL:        b.FullURL,
	}
	if b.Timestamp > 0 && b.Duration > 0 {
		out.Finished = time.UnixMilli(b.Timestamp + b.Duration).UTC()
	}
	if b.SCM != nil {
		out.Branch, out.Commit = b.SCM.Branch, b.SCM.Commit
	}
	names := make([]string, 0, len(b.Artifacts))
	for name := range b.Artifacts {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		out.Artifacts = append(out.Artifacts, hook.Artifact{Name: name, URL: b.Artifacts[name].Archive})
	}
	return out, nil
}

// mapStatus maps a Jenkins result onto the neutral one; NOT_BUILT (and an
// absent status) have none.
func mapStatus(s Status) (hook.Result, bool) {
	switch s {
	case StatusSuccess:
		return hook.ResultSucceeded, true
	case StatusUnstable:
		return hook.ResultPartiallySucceeded, true
	case StatusFailure:
		return hook.ResultFailed, true
	case StatusAborted:
		return hook.ResultCanceled, true
	}
	return "", false
}
