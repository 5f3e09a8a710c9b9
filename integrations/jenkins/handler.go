package jenkins

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/integrations/hook"
)

// branchLookupTimeout bounds the api/json call that finds a Pipeline build's
// branch while the Notification plugin waits for the answer.
const branchLookupTimeout = 5 * time.Second

// NewHandler returns the Notification plugin webhook, to be mounted at
// "POST /webhooks/jenkins/{connection}". The plugin authenticates as the
// connection: Basic auth (the endpoint URL's user-info) with the
// connection's username and webhook secret, or "?token=" with the webhook
// secret. hc calls Jenkins back for the branch of Pipeline builds whose
// notification carries none; nil means a client with a short timeout.
func NewHandler(engine hook.Engine, log *slog.Logger, hc *http.Client) http.Handler {
	if hc == nil {
		hc = &http.Client{Timeout: branchLookupTimeout}
	}
	return &hook.Endpoint{Adapter: adapter{http: hc}, Engine: engine, Log: log}
}

type adapter struct{ http *http.Client }

func (adapter) Source() hook.Source    { return hook.SourceJenkins }
func (adapter) ConnectionKind() string { return "JENKINS" }

func (adapter) Authenticate(r *http.Request, username, webhookSecret string) bool {
	return Authenticate(r, username, webhookSecret, webhookSecret)
}

// Receipt parses a notification. A finished build without scm.branch (a
// Pipeline job) whose followers filter branches gets its branch from the
// build's api/json: the git BuildData of each source's repository, never a
// shared library's.
func (a adapter) Receipt(ctx context.Context, body []byte, conn hook.Conn, engine hook.Engine) (*delivery.BuildReceipt, error) {
	n, err := Parse(body)
	if err != nil {
		return nil, err
	}
	b, err := n.ToBuild(conn.Name)
	if err != nil {
		return nil, err
	}
	if b.URL == "" && n.Build.URL != "" {
		b.URL = strings.TrimRight(conn.URL, "/") + "/" + strings.TrimLeft(n.Build.URL, "/")
	}
	r := &delivery.BuildReceipt{
		Source: delivery.SourceJenkins, ConnectionID: conn.ID, Key: b.Key(), Event: string(n.Build.Phase),
		Job: b.Job, BuildID: b.BuildID, BuildNumber: b.Number, Branch: b.Branch, Commit: b.Commit,
		Result: string(b.Result), BuildURL: b.URL,
	}
	for _, art := range b.Artifacts {
		if art.URL != "" {
			r.Files = append(r.Files, art.URL)
		} else {
			r.Files = append(r.Files, art.Name)
		}
	}
	if r.Branch != "" || b.Result != hook.ResultSucceeded && b.Result != hook.ResultPartiallySucceeded {
		return r, nil
	}
	sources, err := engine.FollowingSources(ctx, *r)
	if err != nil {
		return nil, fmt.Errorf("finding the followers of %s: %w", r.Job, err)
	}
	filtered := false
	for _, s := range sources {
		filtered = filtered || len(s.BranchFilters) > 0
	}
	if !filtered {
		return r, nil
	}
	r.Revisions, err = a.revisions(ctx, conn, b.Job, n.Build.Number, sources)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the branch of %s #%d from %s: %v", hook.ErrUnavailable, b.Job, n.Build.Number, conn.Name, err)
	}
	return r, nil
}

// revisions reads the build's git checkouts and picks, for each source's
// repository URL, the branch and commit it built.
func (a adapter) revisions(ctx context.Context, conn hook.Conn, job string, number int64, sources []delivery.FollowingSource) (map[string]delivery.Revision, error) {
	ctx, cancel := context.WithTimeout(ctx, branchLookupTimeout)
	defer cancel()
	c := &Client{BaseURL: conn.URL, User: conn.Username, Token: conn.Secret, HTTP: a.http}
	details, err := c.Build(ctx, job, number)
	if err != nil {
		return nil, err
	}
	data := details.GitBuildData()
	out := map[string]delivery.Revision{}
	for _, s := range sources {
		if bd, ok := SelectBuildData(data, s.RepositoryURL); ok && len(bd.Branches) > 0 {
			out[s.RepositoryURL] = delivery.Revision{Branch: bd.Branches[0], Commit: bd.SHA1}
		}
	}
	return out, nil
}

// NewAdapter returns the Notification plugin's adapter (hc as for NewHandler), for
// redeliveries of stored bodies (hook.Parsers).
func NewAdapter(hc *http.Client) hook.Adapter {
	if hc == nil {
		hc = &http.Client{Timeout: branchLookupTimeout}
	}
	return adapter{http: hc}
}
