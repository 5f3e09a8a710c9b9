package teambuild

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cairnhq/cairn/integrations/hook"
)

// DefaultAPIVersion is the REST api-version sent when Client.APIVersion is
// empty: 7.1, the current version of Azure DevOps Services, also served by
// Azure DevOps Server 2022.1 and later. Older servers need an older one
// (Server 2019 "5.0", TFS 2018 "4.1", TFS 2017 "3.2").
const DefaultAPIVersion = "7.1"

// Client reads builds and work items from the Azure DevOps / TFS REST API.
type Client struct {
	// BaseURL is the organisation or collection URL:
	// "https://dev.azure.com/fabrikam", "https://tfs.example.com/tfs/DefaultCollection".
	BaseURL string
	// User and Token are the Basic auth credentials; with a personal access
	// token the user may be empty.
	User  string
	Token string
	// APIVersion is the api-version query parameter; DefaultAPIVersion when
	// empty.
	APIVersion string
	// HTTP sends the requests; nil means http.DefaultClient. Set its Timeout.
	HTTP *http.Client
}

// Build is a build as the REST API returns it.
type Build struct {
	ID            int    `json:"id"`
	BuildNumber   string `json:"buildNumber"`
	Status        string `json:"status"`
	Result        string `json:"result"`
	Reason        string `json:"reason"`
	SourceBranch  string `json:"sourceBranch"`
	SourceVersion string `json:"sourceVersion"`
	// QueueTime, StartTime and FinishTime are RFC 3339 texts; see Finished.
	QueueTime  string `json:"queueTime"`
	StartTime  string `json:"startTime"`
	FinishTime string `json:"finishTime"`
	URL        string `json:"url"`
	Definition struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	} `json:"definition"`
	Project struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"project"`
	RequestedFor struct {
		DisplayName string `json:"displayName"`
		UniqueName  string `json:"uniqueName"`
	} `json:"requestedFor"`
	Repository Repository `json:"repository"`
	Links      wireLinks  `json:"_links"`
}

// WebURL is the build's page.
func (b *Build) WebURL() string { return b.Links.Web.Href }

// Finished is the finish time, zero while the build runs.
func (b *Build) Finished() time.Time { return parseTime(b.FinishTime) }

// Change is a commit or changeset associated with a build.
type Change struct {
	ID      string `json:"id"`
	Message string `json:"message"`
	// MessageTruncated says Message is cut (at about 200 characters); the
	// full text is in the repository (Location).
	MessageTruncated bool   `json:"messageTruncated"`
	Type             string `json:"type"` // TfsGit, TfsVersionControl, GitHub
	Author           struct {
		DisplayName string `json:"displayName"`
		UniqueName  string `json:"uniqueName"`
	} `json:"author"`
	Timestamp  string `json:"timestamp"`
	Location   string `json:"location"`   // REST URL of the commit
	DisplayURI string `json:"displayUri"` // web page of the commit
}

// HookChange converts the change to the neutral form.
func (c *Change) HookChange() hook.Change {
	return hook.Change{ID: c.ID, Message: c.Message, Author: c.Author.DisplayName, Time: parseTime(c.Timestamp), URL: c.DisplayURI}
}

// WorkItemRef is a work item associated with a build. The API sends the id
// as a string.
type WorkItemRef struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// Artifact is a build artifact; Resource.DownloadURL fetches it as a zip.
type Artifact struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Resource struct {
		Type        string `json:"type"` // Container, PipelineArtifact, FilePath
		Data        string `json:"data"`
		URL         string `json:"url"`
		DownloadURL string `json:"downloadUrl"`
	} `json:"resource"`
}

// WorkItem is the part of a work item a release shows.
type WorkItem struct {
	ID     int `json:"id"`
	Rev    int `json:"rev"`
	Fields struct {
		Title        string `json:"System.Title"`
		WorkItemType string `json:"System.WorkItemType"`
		State        string `json:"System.State"`
		// Tags are "; "-separated (absent when the item has none).
		Tags string `json:"System.Tags"`
	} `json:"fields"`
	URL   string `json:"url"`
	Links struct {
		HTML struct {
			Href string `json:"href"`
		} `json:"html"`
	} `json:"_links"`
}

// list is the envelope of every list reply.
type list[T any] struct {
	Count int `json:"count"`
	Value []T `json:"value"`
}

// Build reads one build.
func (c *Client) Build(ctx context.Context, project string, id int) (*Build, error) {
	var b Build
	if err := c.get(ctx, project, "_apis/build/builds/"+strconv.Itoa(id), nil, &b); err != nil {
		return nil, fmt.Errorf("reading team build %d: %w", id, err)
	}
	return &b, nil
}

// Changes reads the changes of a build; top bounds their number (0 means
// the server's default).
func (c *Client) Changes(ctx context.Context, project string, id, top int) ([]Change, error) {
	var l list[Change]
	if err := c.get(ctx, project, "_apis/build/builds/"+strconv.Itoa(id)+"/changes", topQuery(top), &l); err != nil {
		return nil, fmt.Errorf("reading changes of team build %d: %w", id, err)
	}
	return l.Value, nil
}

// WorkItems reads the work items associated with a build; top as for
// Changes.
func (c *Client) WorkItems(ctx context.Context, project string, id, top int) ([]WorkItemRef, error) {
	var l list[WorkItemRef]
	if err := c.get(ctx, project, "_apis/build/builds/"+strconv.Itoa(id)+"/workitems", topQuery(top), &l); err != nil {
		return nil, fmt.Errorf("reading work items of team build %d: %w", id, err)
	}
	return l.Value, nil
}

// Artifacts reads the artifacts of a build.
func (c *Client) Artifacts(ctx context.Context, project string, id int) ([]Artifact, error) {
	var l list[Artifact]
	if err := c.get(ctx, project, "_apis/build/builds/"+strconv.Itoa(id)+"/artifacts", nil, &l); err != nil {
		return nil, fmt.Errorf("reading artifacts of team build %d: %w", id, err)
	}
	return l.Value, nil
}

// TagList splits the work item's tags.
func (w *WorkItem) TagList() []string {
	out := []string{}
	for _, t := range strings.Split(w.Fields.Tags, ";") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// WorkItem reads a work item's title, type, state and tags. id is decimal, as
// WorkItemRef and workitems.Ref carry it.
func (c *Client) WorkItem(ctx context.Context, id string) (*WorkItem, error) {
	if n, err := strconv.Atoi(id); err != nil || n <= 0 {
		return nil, fmt.Errorf("reading work item %q: not a work item id", id)
	}
	q := url.Values{"fields": {"System.Title,System.WorkItemType,System.State,System.Tags"}}
	var w WorkItem
	if err := c.get(ctx, "", "_apis/wit/workitems/"+id, q, &w); err != nil {
		return nil, fmt.Errorf("reading work item %s: %w", id, err)
	}
	return &w, nil
}

// DefinitionBuilds lists the completed builds of a definition, newest
// first, at most top of them (0: the server's default).
func (c *Client) DefinitionBuilds(ctx context.Context, project string, definitionID, top int) ([]Build, error) {
	q := topQuery(top)
	q.Set("definitions", strconv.Itoa(definitionID))
	q.Set("statusFilter", "completed")
	q.Set("queryOrder", "finishTimeDescending")
	var l list[Build]
	if err := c.get(ctx, project, "_apis/build/builds", q, &l); err != nil {
		return nil, fmt.Errorf("listing builds of team build definition %d: %w", definitionID, err)
	}
	return l.Value, nil
}

func topQuery(top int) url.Values {
	q := url.Values{}
	if top > 0 {
		q.Set("$top", strconv.Itoa(top))
	}
	return q
}

// get reads {BaseURL}/{project}/{path}?{q}&api-version=… into v.
func (c *Client) get(ctx context.Context, project, path string, q url.Values, v any) error {
	base, err := url.Parse(strings.TrimRight(c.BaseURL, "/") + "/")
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") {
		return fmt.Errorf("azure devops base URL %q: not an http(s) URL", c.BaseURL)
	}
	rel := path
	if project != "" {
		rel = url.PathEscape(project) + "/" + path
	}
	ref, err := url.Parse(rel)
	if err != nil {
		return fmt.Errorf("azure devops path %q: %w", rel, err)
	}
	u := base.ResolveReference(ref)
	if q == nil {
		q = url.Values{}
	}
	version := c.APIVersion
	if version == "" {
		version = DefaultAPIVersion
	}
	q.Set("api-version", version)
	u.RawQuery = q.Encode()
	return hook.GetJSON(ctx, c.HTTP, u.String(), c.User, c.Token, v)
}
