// Package enrich reads what CI servers know about a build beyond its webhook
// (commits with their full messages, work items, artifact files, the built
// revision), and lists and reads builds: to pick one for a manual release,
// to check the version a person gives one, and to find the newest admitted
// build for a scheduled release. Fetcher implements delivery.BuildInfoFetcher
// and delivery.CIServer over the Jenkins and Azure DevOps REST clients; the
// engine calls it outside transactions and never inside a webhook request.
package enrich

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/integrations/hook"
	"github.com/cairnhq/cairn/integrations/jenkins"
	"github.com/cairnhq/cairn/integrations/teambuild"
	"github.com/cairnhq/cairn/integrations/workitems"
)

// maxChanges bounds the changes and work items read per build.
const maxChanges = 500

// Fetcher reads builds from Jenkins and Azure DevOps.
type Fetcher struct {
	// HTTP sends the requests; nil means a client with a 60 s timeout.
	HTTP *http.Client
	// JiraKeys are the Jira project keys whose mentions ("PROJ-123") in
	// commit messages are work items; without them no Jira mention is
	// recognised (so "UTF-8" is never one).
	JiraKeys []string
}

func (f *Fetcher) client() *http.Client {
	if f.HTTP == nil {
		return &http.Client{Timeout: 60 * time.Second}
	}
	return f.HTTP
}

// Fetch reads the build of a release artifact from its CI server.
func (f *Fetcher) Fetch(ctx context.Context, a delivery.ArtifactRef, c delivery.ConnectionCreds) (*delivery.BuildInfo, error) {
	switch a.Type {
	case delivery.SourceJenkins:
		return f.jenkins(ctx, a, c)
	case delivery.SourceTeamBuild:
		return f.teamBuild(ctx, a, c)
	}
	return nil, fmt.Errorf("enriching artifact %s: unknown source type %q", a.Alias, a.Type)
}

func (f *Fetcher) jenkins(ctx context.Context, a delivery.ArtifactRef, c delivery.ConnectionCreds) (*delivery.BuildInfo, error) {
	n, err := strconv.ParseInt(a.BuildID, 10, 64)
	if err != nil || n <= 0 {
		return nil, fmt.Errorf("jenkins build %q of %s: not a build number", a.BuildID, a.Job)
	}
	cl := &jenkins.Client{BaseURL: c.URL, User: c.Username, Token: c.Secret, HTTP: f.client()}
	b, err := cl.Build(ctx, a.Job, n)
	if err != nil {
		return nil, err
	}
	info := &delivery.BuildInfo{}
	var wis []delivery.WorkItemInfo
	for _, ch := range b.Changes() {
		if len(info.Commits) == maxChanges {
			break
		}
		info.Commits = append(info.Commits, delivery.CommitInfo{SHA: ch.ID, Message: ch.Message, Author: ch.Author, Time: ch.Time, URL: ch.URL})
		wis = append(wis, f.mentions(ch.Message)...)
	}
	info.WorkItems = dedupe(wis)
	for _, art := range b.Artifacts {
		info.Files = append(info.Files, art.RelativePath)
	}
	if bd, ok := jenkins.SelectBuildData(b.GitBuildData(), a.RepositoryURL); ok {
		info.Commit = bd.SHA1
		if len(bd.Branches) > 0 {
			info.Branch = bd.Branches[0]
		}
	}
	return info, nil
}

func (f *Fetcher) teamBuild(ctx context.Context, a delivery.ArtifactRef, c delivery.ConnectionCreds) (*delivery.BuildInfo, error) {
	id, err := strconv.Atoi(a.BuildID)
	if err != nil || id <= 0 {
		return nil, fmt.Errorf("team build %q of %s: not a build id", a.BuildID, a.Job)
	}
	cl := &teambuild.Client{BaseURL: c.URL, User: c.Username, Token: c.Secret, HTTP: f.client()}
	b, err := cl.Build(ctx, a.Project, id)
	if err != nil {
		return nil, err
	}
	info := &delivery.BuildInfo{Branch: b.SourceBranch, Commit: b.SourceVersion}
	changes, err := cl.Changes(ctx, a.Project, id, maxChanges)
	if err != nil {
		return nil, err
	}
	var wis []delivery.WorkItemInfo
	for _, ch := range changes {
		hc := ch.HookChange()
		info.Commits = append(info.Commits, delivery.CommitInfo{SHA: hc.ID, Message: hc.Message, Author: hc.Author, Time: hc.Time, URL: hc.URL})
	}
	refs, err := cl.WorkItems(ctx, a.Project, id, maxChanges)
	if err != nil {
		return nil, err
	}
	for _, ref := range refs {
		w := delivery.WorkItemInfo{System: string(workitems.AzureBoards), ExternalID: ref.ID}
		// A work item that cannot be read (deleted, no permission) stays
		// listed by its id.
		if d, err := cl.WorkItem(ctx, ref.ID); err == nil {
			w.Title, w.Type, w.State, w.URL = d.Fields.Title, d.Fields.WorkItemType, d.Fields.State, d.Links.HTML.Href
			w.Tags = d.TagList()
		}
		wis = append(wis, w)
	}
	for _, ch := range changes {
		for _, w := range f.mentions(ch.Message) {
			// In Azure Repos (and TFVC) "#123" links Azure Boards work
			// item 123, not a GitHub issue.
			if w.System == string(workitems.GitHub) && (ch.Type == "TfsGit" || ch.Type == "TfsVersionControl") {
				w.System = string(workitems.AzureBoards)
			}
			wis = append(wis, w)
		}
	}
	info.WorkItems = dedupe(wis)
	arts, err := cl.Artifacts(ctx, a.Project, id)
	if err != nil {
		return nil, err
	}
	for _, art := range arts {
		if art.Resource.DownloadURL != "" {
			info.Files = append(info.Files, art.Resource.DownloadURL)
		}
	}
	return info, nil
}

// mentions are the work items a commit message mentions.
func (f *Fetcher) mentions(message string) []delivery.WorkItemInfo {
	var out []delivery.WorkItemInfo
	for _, r := range workitems.Extract(message, f.JiraKeys) {
		out = append(out, delivery.WorkItemInfo{System: string(r.System), ExternalID: r.ID})
	}
	return out
}

// dedupe keeps the first of each (system, id), preferring one with details.
func dedupe(in []delivery.WorkItemInfo) []delivery.WorkItemInfo {
	idx := map[[2]string]int{}
	var out []delivery.WorkItemInfo
	for _, w := range in {
		k := [2]string{w.System, w.ExternalID}
		if i, ok := idx[k]; ok {
			if out[i].Title == "" && w.Title != "" {
				out[i] = w
			}
			continue
		}
		idx[k] = len(out)
		out = append(out, w)
	}
	return out
}

// RecentBuilds lists the n latest builds of an artifact source, newest
// first. A Team Build source must name its build definition by id.
func (f *Fetcher) RecentBuilds(ctx context.Context, s delivery.ArtifactRef, c delivery.ConnectionCreds, n int) ([]delivery.BuildVersion, error) {
	switch s.Type {
	case delivery.SourceJenkins:
		cl := &jenkins.Client{BaseURL: c.URL, User: c.Username, Token: c.Secret, HTTP: f.client()}
		builds, err := cl.RecentBuilds(ctx, s.Job, n)
		if err != nil {
			return nil, err
		}
		out := make([]delivery.BuildVersion, 0, len(builds))
		for _, b := range builds {
			num := strconv.FormatInt(b.Number, 10)
			// The build URL is the connection's, not the one Jenkins reports
			// (its configured root URL may name another host): the agent
			// downloads from it with the connection's credentials.
			u, _ := cl.BuildURL(s.Job, b.Number)
			v := delivery.BuildVersion{BuildID: num, BuildNumber: num, BuildURL: u, Result: jenkinsResult(b.Result)}
			if bd, ok := jenkins.SelectBuildData(b.GitBuildData(), s.RepositoryURL); ok {
				v.Commit = bd.SHA1
				if len(bd.Branches) > 0 {
					v.Branch = bd.Branches[0]
				}
			}
			out = append(out, v)
		}
		return out, nil
	case delivery.SourceTeamBuild:
		defID, err := strconv.Atoi(strings.TrimSpace(s.Job))
		if err != nil {
			return nil, fmt.Errorf("listing builds of %q: give the build definition's id in the artifact source to list its builds", s.Job)
		}
		cl := &teambuild.Client{BaseURL: c.URL, User: c.Username, Token: c.Secret, HTTP: f.client()}
		builds, err := cl.DefinitionBuilds(ctx, s.Project, defID, n)
		if err != nil {
			return nil, err
		}
		out := make([]delivery.BuildVersion, 0, len(builds))
		for _, b := range builds {
			v := delivery.BuildVersion{
				BuildID: strconv.Itoa(b.ID), BuildNumber: b.BuildNumber, Branch: b.SourceBranch,
				Commit: b.SourceVersion, BuildURL: b.WebURL(), Result: teamBuildResult(b.Result),
			}
			if t := b.Finished(); !t.IsZero() {
				v.FinishedAt = &t
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("listing builds of %s: unknown source type %q", s.Alias, s.Type)
}

// Build reads one build of an artifact source: a Jenkins build by number
// (its branch and commit from the git BuildData of the source's
// repository), a Team Build build by id (which must belong to the source's
// build definition when the source names it by id). A build the server
// does not have matches delivery.ErrBuildNotFound; the result is empty
// while the build runs.
func (f *Fetcher) Build(ctx context.Context, s delivery.ArtifactRef, c delivery.ConnectionCreds, buildID string) (*delivery.BuildVersion, error) {
	switch s.Type {
	case delivery.SourceJenkins:
		n, err := strconv.ParseInt(strings.TrimSpace(buildID), 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("jenkins build %q of %s: %w (a Jenkins build is named by its number)", buildID, s.Job, delivery.ErrBuildNotFound)
		}
		cl := &jenkins.Client{BaseURL: c.URL, User: c.Username, Token: c.Secret, HTTP: f.client()}
		b, err := cl.Build(ctx, s.Job, n)
		if errors.Is(err, hook.ErrNotFound) {
			return nil, fmt.Errorf("%w: %w", delivery.ErrBuildNotFound, err)
		}
		if err != nil {
			return nil, err
		}
		num := strconv.FormatInt(b.Number, 10)
		u, _ := cl.BuildURL(s.Job, b.Number)
		v := &delivery.BuildVersion{BuildID: num, BuildNumber: num, BuildURL: u}
		if !b.Building {
			v.Result = jenkinsResult(b.Result)
		}
		if bd, ok := jenkins.SelectBuildData(b.GitBuildData(), s.RepositoryURL); ok {
			v.Commit = bd.SHA1
			if len(bd.Branches) > 0 {
				v.Branch = bd.Branches[0]
			}
		}
		return v, nil
	case delivery.SourceTeamBuild:
		id, err := strconv.Atoi(strings.TrimSpace(buildID))
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("team build %q of %s: %w (a Team Build build is named by its id)", buildID, s.Job, delivery.ErrBuildNotFound)
		}
		cl := &teambuild.Client{BaseURL: c.URL, User: c.Username, Token: c.Secret, HTTP: f.client()}
		b, err := cl.Build(ctx, s.Project, id)
		if errors.Is(err, hook.ErrNotFound) {
			return nil, fmt.Errorf("%w: %w", delivery.ErrBuildNotFound, err)
		}
		if err != nil {
			return nil, err
		}
		job := strings.TrimSpace(s.Job)
		if defID, err := strconv.Atoi(job); (err == nil && defID != b.Definition.ID) ||
			(err != nil && !strings.EqualFold(job, b.Definition.Name)) {
			return nil, fmt.Errorf("team build %d belongs to build definition %d %q, not %s: %w", id, b.Definition.ID, b.Definition.Name, s.Job, delivery.ErrBuildNotFound)
		}
		v := &delivery.BuildVersion{
			BuildID: strconv.Itoa(b.ID), BuildNumber: b.BuildNumber, Branch: b.SourceBranch,
			Commit: b.SourceVersion, BuildURL: b.WebURL(),
		}
		if strings.EqualFold(b.Status, "completed") {
			v.Result = teamBuildResult(b.Result)
		}
		if t := b.Finished(); !t.IsZero() {
			v.FinishedAt = &t
		}
		return v, nil
	}
	return nil, fmt.Errorf("reading build %s of %s: unknown source type %q", buildID, s.Alias, s.Type)
}

func jenkinsResult(s jenkins.Status) string {
	switch s {
	case jenkins.StatusSuccess:
		return "SUCCEEDED"
	case jenkins.StatusUnstable:
		return "PARTIALLY_SUCCEEDED"
	case jenkins.StatusFailure:
		return "FAILED"
	case jenkins.StatusAborted, jenkins.StatusNotBuilt:
		return "CANCELED"
	}
	return ""
}

func teamBuildResult(s string) string {
	switch strings.ToLower(s) {
	case "succeeded":
		return "SUCCEEDED"
	case "partiallysucceeded":
		return "PARTIALLY_SUCCEEDED"
	case "failed":
		return "FAILED"
	case "canceled":
		return "CANCELED"
	}
	return ""
}
