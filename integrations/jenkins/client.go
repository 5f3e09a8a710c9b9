package jenkins

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

// Client reads builds from the Jenkins JSON API. It only sends GETs, so it
// needs no CSRF crumb.
type Client struct {
	// BaseURL is the Jenkins root URL, context path included:
	// "https://ci.example.com/jenkins".
	BaseURL string
	// User and Token are the Basic auth credentials: a user and one of its
	// API tokens. Both empty means anonymous.
	User  string
	Token string
	// HTTP sends the requests; nil means http.DefaultClient. Set its Timeout.
	HTTP *http.Client
}

// BuildDetails is the part of a build's api/json that Cairn reads.
type BuildDetails struct {
	Class       string `json:"_class"`
	Number      int64  `json:"number"`
	URL         string `json:"url"`
	DisplayName string `json:"displayName"`
	// Result is SUCCESS, UNSTABLE, FAILURE, NOT_BUILT or ABORTED; empty
	// (JSON null) while Building.
	Result    Status          `json:"result"`
	Building  bool            `json:"building"`
	Timestamp int64           `json:"timestamp"` // start, Unix milliseconds
	Duration  int64           `json:"duration"`  // milliseconds
	Actions   []Action        `json:"actions"`
	Artifacts []BuildArtifact `json:"artifacts"`
	// ChangeSets are a Pipeline build's change sets, one per checkout.
	ChangeSets []ChangeSet `json:"changeSets"`
	// ChangeSet is a freestyle build's single change set.
	ChangeSet *ChangeSet `json:"changeSet"`
}

// Action is an entry of a build's "actions". Only the fields of git's
// BuildData are decoded; other actions keep just their class (some are
// empty objects, with none).
type Action struct {
	Class             string    `json:"_class"`
	RemoteURLs        []string  `json:"remoteUrls"`
	LastBuiltRevision *Revision `json:"lastBuiltRevision"`
	SCMName           string    `json:"scmName"`
}

// buildDataClass is the class of the git plugin's per-checkout action.
const buildDataClass = "hudson.plugins.git.util.BuildData"

// Revision is a git revision a build checked out, and the branches that
// point at it ("refs/remotes/origin/main").
type Revision struct {
	SHA1   string           `json:"SHA1"`
	Branch []RevisionBranch `json:"branch"`
}

// RevisionBranch is a branch of a Revision.
type RevisionBranch struct {
	SHA1 string `json:"SHA1"`
	Name string `json:"name"`
}

// BuildArtifact is an archived file of a build.
type BuildArtifact struct {
	FileName     string `json:"fileName"`
	RelativePath string `json:"relativePath"`
}

// ChangeSet is the changes of one SCM checkout.
type ChangeSet struct {
	Kind  string          `json:"kind"`
	Items []ChangeSetItem `json:"items"`
}

// ChangeSetItem is one commit of a change set.
type ChangeSetItem struct {
	CommitID string `json:"commitId"`
	// Msg is the first line of the message; Comment the whole of it.
	Msg     string `json:"msg"`
	Comment string `json:"comment"`
	Author  struct {
		FullName string `json:"fullName"`
	} `json:"author"`
	AuthorEmail string `json:"authorEmail"`
	// Timestamp is the commit time in Unix milliseconds (-1 when unknown);
	// Date the same as text, "2024-01-05 10:11:12 +0100".
	Timestamp     int64    `json:"timestamp"`
	Date          string   `json:"date"`
	AffectedPaths []string `json:"affectedPaths"`
}

// BuildData is a git checkout of a build: the repositories it fetched and the
// revision it built.
type BuildData struct {
	RemoteURLs []string
	SHA1       string
	// Branches are the branch names of the built revision, as git reports
	// them ("refs/remotes/origin/main").
	Branches []string
}

// Build reads build number of the job with the given full name ("a/b").
func (c *Client) Build(ctx context.Context, jobFullName string, number int64) (*BuildDetails, error) {
	u, err := c.url(jobPath(jobFullName)+"/"+strconv.FormatInt(number, 10)+"/api/json", nil)
	if err != nil {
		return nil, err
	}
	var b BuildDetails
	if err := hook.GetJSON(ctx, c.HTTP, u, c.User, c.Token, &b); err != nil {
		return nil, fmt.Errorf("reading jenkins build %s #%d: %w", jobFullName, number, err)
	}
	return &b, nil
}

// BuildURL is the build's page under BaseURL, "{BaseURL}/job/a/job/b/12/":
// where the agent downloads its artifacts ("{BuildURL}artifact/<path>").
func (c *Client) BuildURL(jobFullName string, number int64) (string, error) {
	return c.url(jobPath(jobFullName)+"/"+strconv.FormatInt(number, 10)+"/", nil)
}

// BuildSummary is a line of a job's build history.
type BuildSummary struct {
	Number      int64  `json:"number"`
	URL         string `json:"url"`
	Result      Status `json:"result"` // empty while building
	Timestamp   int64  `json:"timestamp"`
	DisplayName string `json:"displayName"`
	// Actions hold the git BuildData of the build (see GitBuildData).
	Actions []Action `json:"actions,omitempty"`
}

// GitBuildData returns the git checkouts of the build, as
// BuildDetails.GitBuildData does.
func (b *BuildSummary) GitBuildData() []BuildData {
	return (&BuildDetails{Actions: b.Actions}).GitBuildData()
}

// recentBuildsTree is the "tree" of RecentBuilds: each build's summary and
// its git BuildData (remote URLs, built revision and its branches), so that
// a branch filter can be applied without one request per build. Jenkins
// adds each object's _class by itself.
const recentBuildsTree = "builds[number,url,result,timestamp,displayName,actions[remoteUrls,lastBuiltRevision[SHA1,branch[SHA1,name]]]]"

// RecentBuilds reads the n latest builds of a job, newest first, with one
// request (a "tree" query with a range).
func (c *Client) RecentBuilds(ctx context.Context, jobFullName string, n int) ([]BuildSummary, error) {
	if n <= 0 {
		return nil, nil
	}
	q := url.Values{"tree": {fmt.Sprintf("%s{0,%d}", recentBuildsTree, n)}}
	u, err := c.url(jobPath(jobFullName)+"/api/json", q)
	if err != nil {
		return nil, err
	}
	var reply struct {
		Builds []BuildSummary `json:"builds"`
	}
	if err := hook.GetJSON(ctx, c.HTTP, u, c.User, c.Token, &reply); err != nil {
		return nil, fmt.Errorf("listing jenkins builds of %s: %w", jobFullName, err)
	}
	if len(reply.Builds) > n { // a Jenkins that ignores the range
		reply.Builds = reply.Builds[:n]
	}
	return reply.Builds, nil
}

func (c *Client) url(path string, q url.Values) (string, error) {
	base, err := url.Parse(strings.TrimRight(c.BaseURL, "/") + "/")
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") {
		return "", fmt.Errorf("jenkins base URL %q: not an http(s) URL", c.BaseURL)
	}
	ref, err := url.Parse(path)
	if err != nil {
		return "", fmt.Errorf("jenkins path %q: %w", path, err)
	}
	u := base.ResolveReference(ref)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Changes returns the commits of the build, Pipeline change sets first and
// then a freestyle change set, without duplicates (a commit that two
// checkouts both bring appears once).
func (b *BuildDetails) Changes() []hook.Change {
	sets := b.ChangeSets
	if b.ChangeSet != nil {
		sets = append(sets[:len(sets):len(sets)], *b.ChangeSet)
	}
	var out []hook.Change
	seen := map[string]bool{}
	for _, s := range sets {
		for _, it := range s.Items {
			if it.CommitID != "" {
				if seen[it.CommitID] {
					continue
				}
				seen[it.CommitID] = true
			}
			msg := strings.TrimRight(it.Comment, "\n")
			if msg == "" {
				msg = it.Msg
			}
			out = append(out, hook.Change{
				ID:      it.CommitID,
				Message: msg,
				Author:  it.Author.FullName,
				Time:    it.time(),
			})
		}
	}
	return out
}

// time is the commit time from the timestamp, or else from the date text.
func (it *ChangeSetItem) time() time.Time {
	if it.Timestamp > 0 {
		return time.UnixMilli(it.Timestamp).UTC()
	}
	for _, layout := range []string{"2006-01-02 15:04:05 -0700", time.RFC3339} {
		if t, err := time.Parse(layout, it.Date); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// ArtifactURLs returns the download URL of each archived artifact, resolved
// against the build URL.
func (b *BuildDetails) ArtifactURLs() []hook.Artifact {
	var out []hook.Artifact
	for _, a := range b.Artifacts {
		u := strings.TrimRight(b.URL, "/") + "/artifact/" + escapePath(a.RelativePath)
		out = append(out, hook.Artifact{Name: a.RelativePath, URL: u})
	}
	return out
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// GitBuildData returns the git checkouts of the build, in the order of its
// actions: a Pipeline build has one per checkout, shared libraries included.
func (b *BuildDetails) GitBuildData() []BuildData {
	var out []BuildData
	for _, a := range b.Actions {
		if a.Class != buildDataClass {
			continue
		}
		d := BuildData{RemoteURLs: a.RemoteURLs}
		if r := a.LastBuiltRevision; r != nil {
			d.SHA1 = r.SHA1
			for _, br := range r.Branch {
				d.Branches = append(d.Branches, br.Name)
			}
		}
		out = append(out, d)
	}
	return out
}

// SelectBuildData picks the checkout of the repository an artifact source
// follows: the first BuildData with a remote URL that matches repoURL after
// normalisation (see SameRepository). The checkouts of Pipeline shared
// libraries have the library's remote URL, so they are passed over. With
// repoURL empty, a build with exactly one distinct repository gives that
// one, and a build with several (a Pipeline with a library) gives none: which
// checkout is the application cannot be told from BuildData, so the source
// must name its repository.
func SelectBuildData(data []BuildData, repoURL string) (BuildData, bool) {
	if repoURL == "" {
		var first BuildData
		repos := map[string]bool{}
		for i, d := range data {
			if i == 0 {
				first = d
			}
			for _, u := range d.RemoteURLs {
				repos[NormalizeRepoURL(u)] = true
			}
		}
		if len(data) > 0 && len(repos) <= 1 {
			return first, true
		}
		return BuildData{}, false
	}
	for _, d := range data {
		for _, u := range d.RemoteURLs {
			if SameRepository(u, repoURL) {
				return d, true
			}
		}
	}
	return BuildData{}, false
}

// SameRepository reports whether two git remote URLs name the same
// repository (see NormalizeRepoURL).
func SameRepository(a, b string) bool {
	na, nb := NormalizeRepoURL(a), NormalizeRepoURL(b)
	return na != "" && na == nb
}

// NormalizeRepoURL reduces a git remote URL to "host/path" in lower case, so
// that "https://github.com/Acme/App.git", "git@github.com:acme/app",
// "ssh://git@github.com:22/acme/app/" and "http://user@github.com/acme/app"
// compare equal. Scheme, user info, port and a trailing ".git" or "/" are
// dropped. Lower-casing the path assumes a case-insensitive host (GitHub,
// GitLab, Azure Repos, Bitbucket are); two repositories that differ only by
// case on one server would be confused.
func NormalizeRepoURL(raw string) string {
	s := strings.TrimSpace(raw)
	if s == "" {
		return ""
	}
	var host, path string
	if i := strings.Index(s, "://"); i >= 0 {
		u, err := url.Parse(s)
		if err != nil {
			return strings.ToLower(s)
		}
		host, path = u.Hostname(), u.Path
	} else if at, colon := strings.Index(s, "@"), strings.Index(s, ":"); colon > 0 && (at < 0 || at < colon) {
		// scp-like "git@host:path"; the "@" part is optional.
		host, path = s[at+1:colon], s[colon+1:]
	} else {
		return strings.ToLower(strings.TrimSuffix(strings.TrimRight(s, "/"), ".git"))
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	path = strings.TrimRight(path, "/")
	return strings.ToLower(host + "/" + path)
}
