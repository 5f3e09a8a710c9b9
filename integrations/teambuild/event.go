package teambuild

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/webhooks/v6/azuredevops"

	"github.com/cairnhq/cairn/integrations/hook"
)

// BuildEvent is a build.complete service hook, both resource versions
// folded into one shape.
type BuildEvent struct {
	// ID is the notification's id; a retried delivery repeats it.
	ID              string
	ResourceVersion string // "1.0", "2.0"
	CreatedDate     time.Time
	// CollectionID is the project collection (organisation) id, when sent.
	CollectionID string

	BuildID     int
	BuildNumber string
	// Status and Result are as sent: 1.0 has the outcome in Status and no
	// Result; 2.0 has Status "completed" and the outcome in Result.
	Status string
	Result string
	Reason string

	DefinitionID   int
	DefinitionName string
	ProjectID      string
	ProjectName    string // empty in 1.0 payloads

	SourceBranch  string // "refs/heads/main"; empty for TFVC
	SourceVersion string // a git SHA-1, or a TFVC changeset "C123"
	Repository    Repository

	RequestedFor Identity
	// URL is the build's REST URL; WebURL its page (2.0 only).
	URL    string
	WebURL string

	StartTime, FinishTime time.Time
}

// Repository is the source repository of a build (2.0 only).
type Repository struct {
	ID   string `json:"id"`
	Type string `json:"type"` // TfsGit, TfsVersionControl, GitHub, …
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Identity is a person or service in Azure DevOps.
type Identity struct {
	ID          string
	DisplayName string
	UniqueName  string
}

// The wire shapes. go-playground's types are used where they carry the
// fields as sent; everything else is declared here.
type wireEvent struct {
	ID                 string              `json:"id"`
	EventType          azuredevops.Event   `json:"eventType"`
	Message            azuredevops.Message `json:"message"`
	ResourceVersion    string              `json:"resourceVersion"`
	ResourceContainers wireContainers      `json:"resourceContainers"`
	CreatedDate        string              `json:"createdDate"`
	Resource           json.RawMessage     `json:"resource"`
}

type wireContainers struct {
	Collection struct {
		ID string `json:"id"`
	} `json:"collection"`
	Project struct {
		ID string `json:"id"`
	} `json:"project"`
}

type wireBuild struct {
	ID               int                   `json:"id"`
	BuildNumber      string                `json:"buildNumber"`
	URL              string                `json:"url"`
	Status           string                `json:"status"`
	Result           string                `json:"result"`
	Reason           string                `json:"reason"`
	StartTime        string                `json:"startTime"`
	FinishTime       string                `json:"finishTime"`
	SourceBranch     string                `json:"sourceBranch"`
	SourceVersion    string                `json:"sourceVersion"`
	SourceGetVersion string                `json:"sourceGetVersion"`
	Definition       wireDefinition        `json:"definition"`
	Project          *azuredevops.Project  `json:"project"`
	RequestedFor     *azuredevops.User     `json:"requestedFor"`
	Requests         []azuredevops.Request `json:"requests"`
	Repository       *Repository           `json:"repository"`
	Links            wireLinks             `json:"_links"`
}

// wireDefinition is azuredevops.BuildDefinition's id, name and url plus the
// 2.0 project; embedding that type would put "BuildDefinition" into the
// field paths of decoding errors.
type wireDefinition struct {
	ID      int                  `json:"id"`
	Name    string               `json:"name"`
	URL     string               `json:"url"`
	Project *azuredevops.Project `json:"project"`
}

type wireLinks struct {
	Web struct {
		Href string `json:"href"`
	} `json:"web"`
}

const (
	payloadName = "team build event"
	maxFieldLen = 8 << 10 // any string field we keep
)

// ReadEvent reads and parses the service hook in a webhook request,
// refusing a body over hook.MaxBodyBytes with a *hook.TooLargeError.
func ReadEvent(r *http.Request) (*BuildEvent, error) {
	body, err := hook.ReadBody(r, hook.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	return Parse(body)
}

func invalid(field, format string, args ...any) error {
	return &hook.ParseError{Payload: payloadName, Kind: hook.ErrInvalid, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Parse decodes a service hook document. An event other than build.complete
// gives a *hook.IgnoredError (the hook is valid, just not ours); malformed
// JSON a *hook.ParseError of kind hook.ErrMalformed; a build.complete without
// a resource, a positive build id or a definition, or with a field longer
// than 8 KiB, a *hook.ParseError of kind hook.ErrInvalid. Dates that do not
// parse are left zero rather than rejected.
func Parse(data []byte) (*BuildEvent, error) {
	if len(data) > hook.MaxBodyBytes {
		return nil, &hook.TooLargeError{Limit: hook.MaxBodyBytes}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &hook.ParseError{Payload: payloadName, Kind: hook.ErrMalformed, Reason: "empty body"}
	}
	var ev wireEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, hook.DecodeError(payloadName, err)
	}
	switch ev.EventType {
	case azuredevops.BuildCompleteEventType:
	case "":
		return nil, invalid("eventType", "missing")
	default:
		return nil, hook.Ignored("team build event type %q is not %s", truncate(string(ev.EventType)), azuredevops.BuildCompleteEventType)
	}
	if len(bytes.TrimSpace(ev.Resource)) == 0 || bytes.Equal(bytes.TrimSpace(ev.Resource), []byte("null")) {
		return nil, invalid("resource", "missing")
	}
	var b wireBuild
	if err := json.Unmarshal(ev.Resource, &b); err != nil {
		pe := hook.DecodeError(payloadName, err)
		if pe.Field != "" {
			pe.Field = "resource." + pe.Field
		} else {
			pe.Field = "resource"
		}
		return nil, pe
	}
	switch {
	case b.ID <= 0:
		return nil, invalid("resource.id", "missing or not positive")
	case b.Definition.ID <= 0 && b.Definition.Name == "":
		return nil, invalid("resource.definition", "missing")
	}
	out := &BuildEvent{
		ID:              ev.ID,
		ResourceVersion: ev.ResourceVersion,
		CreatedDate:     parseTime(ev.CreatedDate),
		CollectionID:    ev.ResourceContainers.Collection.ID,
		BuildID:         b.ID,
		BuildNumber:     b.BuildNumber,
		Status:          b.Status,
		Result:          b.Result,
		Reason:          b.Reason,
		DefinitionID:    b.Definition.ID,
		DefinitionName:  b.Definition.Name,
		SourceBranch:    b.SourceBranch,
		SourceVersion:   b.SourceVersion,
		URL:             b.URL,
		WebURL:          b.Links.Web.Href,
		StartTime:       parseTime(b.StartTime),
		FinishTime:      parseTime(b.FinishTime),
	}
	if b.Repository != nil {
		out.Repository = *b.Repository
	}
	// Project: 2.0 resource.project, else the definition's, else the
	// containers' id, else the id in the REST URL (…/{project}/_apis/…).
	for _, p := range []*azuredevops.Project{b.Project, b.Definition.Project} {
		if p != nil && out.ProjectID == "" && out.ProjectName == "" {
			out.ProjectID, out.ProjectName = p.ID, p.Name
		}
	}
	if out.ProjectID == "" {
		out.ProjectID = ev.ResourceContainers.Project.ID
	}
	if out.ProjectID == "" && out.ProjectName == "" {
		out.ProjectID = projectFromURL(b.URL)
	}
	// Source: 2.0 fields, else 1.0's "LG:<ref>:<sha>" or "C<changeset>".
	if out.SourceBranch == "" && out.SourceVersion == "" && b.SourceGetVersion != "" {
		out.SourceBranch, out.SourceVersion = splitSourceGetVersion(b.SourceGetVersion)
	}
	switch {
	case b.RequestedFor != nil:
		out.RequestedFor = identity(*b.RequestedFor)
	case len(b.Requests) > 0:
		out.RequestedFor = identity(b.Requests[0].RequestedFor)
	}
	for _, f := range []struct{ name, v string }{
		{"id", out.ID}, {"resource.buildNumber", out.BuildNumber}, {"resource.status", out.Status},
		{"resource.result", out.Result}, {"resource.definition.name", out.DefinitionName},
		{"resource.project", out.ProjectID + out.ProjectName}, {"resource.sourceBranch", out.SourceBranch},
		{"resource.sourceVersion", out.SourceVersion}, {"resource.url", out.URL}, {"resource._links.web.href", out.WebURL},
		{"resource.repository", out.Repository.ID + out.Repository.Name + out.Repository.URL + out.Repository.Type},
		{"resource.requestedFor", out.RequestedFor.ID + out.RequestedFor.DisplayName + out.RequestedFor.UniqueName},
	} {
		if len(f.v) > maxFieldLen {
			return nil, invalid(f.name, "%d bytes, more than the %d allowed", len(f.v), maxFieldLen)
		}
	}
	return out, nil
}

func identity(u azuredevops.User) Identity {
	return Identity{ID: u.ID, DisplayName: u.DisplayName, UniqueName: u.UniqueName}
}

// splitSourceGetVersion reads a 1.0 sourceGetVersion: "LG:refs/heads/main:<sha>"
// for git, "C123" for a TFVC changeset (no branch), anything else as the
// version alone.
func splitSourceGetVersion(v string) (branch, version string) {
	if rest, ok := strings.CutPrefix(v, "LG:"); ok {
		if i := strings.LastIndex(rest, ":"); i >= 0 {
			return rest[:i], rest[i+1:]
		}
		return "", rest
	}
	return "", v
}

// projectFromURL returns the path segment before "_apis" of a REST URL.
func projectFromURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i := 1; i < len(segs); i++ {
		if strings.EqualFold(segs[i], "_apis") {
			return segs[i-1]
		}
	}
	return ""
}

// parseTime reads Azure DevOps dates: RFC 3339 with up to 7 fractional
// digits, or without a zone (taken as UTC). Anything else is zero.
func parseTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// Outcome returns the neutral result of the build, or a *hook.IgnoredError
// for a build that has not completed or whose outcome creates nothing
// ("none", or a value this package does not know). The comparison ignores
// case.
func (e *BuildEvent) Outcome() (hook.Result, error) {
	outcome := e.Result
	if e.Result == "" && !strings.EqualFold(e.Status, "completed") {
		outcome = e.Status // 1.0: the status is the outcome
	} else if !strings.EqualFold(e.Status, "completed") {
		return "", hook.Ignored("team build %d has status %q, not completed", e.BuildID, truncate(e.Status))
	}
	switch strings.ToLower(outcome) {
	case "succeeded":
		return hook.ResultSucceeded, nil
	case "partiallysucceeded":
		return hook.ResultPartiallySucceeded, nil
	case "failed":
		return hook.ResultFailed, nil
	case "canceled", "stopped":
		return hook.ResultCanceled, nil
	}
	return "", hook.Ignored("team build %d has outcome %q", e.BuildID, truncate(outcome))
}

// ToBuild converts the event into the neutral hook.Build, with Connection
// set to connection. It fails as Outcome does.
func (e *BuildEvent) ToBuild(connection string) (*hook.Build, error) {
	result, err := e.Outcome()
	if err != nil {
		return nil, err
	}
	b := &hook.Build{
		Source:       hook.SourceTeamBuild,
		Connection:   connection,
		Job:          e.DefinitionName,
		Project:      e.ProjectName,
		BuildID:      strconv.Itoa(e.BuildID),
		Number:       e.BuildNumber,
		Branch:       e.SourceBranch,
		Commit:       e.SourceVersion,
		Result:       result,
		URL:          e.WebURL,
		RequestedFor: e.RequestedFor.DisplayName,
		Finished:     e.FinishTime,
	}
	if e.DefinitionID > 0 {
		b.JobID = strconv.Itoa(e.DefinitionID)
	}
	if b.Project == "" {
		b.Project = e.ProjectID
	}
	return b, nil
}
