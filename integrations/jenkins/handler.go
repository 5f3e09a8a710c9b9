package jenkins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/integrations/hook"
)

// branchLookupTimeout bounds the api/json call that confirms a build (and
// finds a Pipeline build's branch) while the Notification plugin waits for
// the answer.
const branchLookupTimeout = 5 * time.Second

// NewHandler returns the Notification plugin webhook, to be mounted at
// "POST /webhooks/jenkins/{connection}". The plugin authenticates as the
// connection: Basic auth (the endpoint URL's user-info) with the
// connection's username and webhook secret, or "?token=" with the webhook
// secret. hc calls Jenkins back to confirm a build before it is released
// (see adapter.Receipt); nil means a client with a short timeout.
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

// Receipt parses a notification. A finished, successful build that a
// definition follows is then confirmed with Jenkins itself: the build's
// api/json at the connection's URL, with its credentials. Jenkins' answer,
// not the notification, gives the result, the archived files (relative
// paths) and, for a Pipeline build whose notification carries no
// scm.branch, the branch of each source's repository (from its git
// BuildData, never a shared library's). The build URL the agent downloads
// from is the connection's URL and the job's path: a notification's
// full_url never reaches a release. A build Jenkins does not know (404), or
// reports still running, is rejected (hook.ErrUnconfirmed).
func (a adapter) Receipt(ctx context.Context, body []byte, conn hook.Conn, engine hook.Engine) (*delivery.BuildReceipt, error) {
	n, err := Parse(body)
	if err != nil {
		return nil, err
	}
	b, err := n.ToBuild(conn.Name)
	if err != nil {
		return nil, err
	}
	r := &delivery.BuildReceipt{
		Source: delivery.SourceJenkins, ConnectionID: conn.ID, Key: b.Key(), Event: string(n.Build.Phase),
		Job: b.Job, BuildID: b.BuildID, BuildNumber: b.Number, Branch: b.Branch, Commit: b.Commit,
		Result: string(b.Result),
	}
	if b.Result != hook.ResultSucceeded && b.Result != hook.ResultPartiallySucceeded {
		return r, nil // releases nothing: the engine records why
	}
	sources, err := engine.FollowingSources(ctx, *r)
	if err != nil {
		return nil, fmt.Errorf("finding the followers of %s: %w", r.Job, err)
	}
	if len(sources) == 0 {
		return r, nil // followed by no definition: nothing to confirm
	}
	ctx, cancel := context.WithTimeout(ctx, branchLookupTimeout)
	defer cancel()
	c := &Client{BaseURL: conn.URL, User: conn.Username, Token: conn.Secret, HTTP: a.http}
	details, err := c.Build(ctx, b.Job, n.Build.Number)
	switch {
	case errors.Is(err, hook.ErrNotFound):
		return nil, hook.Unconfirmed("jenkins at %s has no build %s #%d", conn.Name, b.Job, n.Build.Number)
	case err != nil:
		return nil, fmt.Errorf("%w: confirming %s #%d with %s: %v", hook.ErrUnavailable, b.Job, n.Build.Number, conn.Name, err)
	case details.Number != n.Build.Number:
		return nil, hook.Unconfirmed("jenkins at %s answered build #%d for %s #%d", conn.Name, details.Number, b.Job, n.Build.Number)
	case details.Building || details.Result == "":
		return nil, hook.Unconfirmed("jenkins at %s reports %s #%d still running", conn.Name, b.Job, n.Build.Number)
	}
	result, ok := mapStatus(details.Result)
	if !ok {
		return nil, hook.Unconfirmed("jenkins at %s reports %s #%d as %s", conn.Name, b.Job, n.Build.Number, details.Result)
	}
	r.Result = string(result)
	if r.BuildURL, err = c.BuildURL(b.Job, n.Build.Number); err != nil {
		return nil, hook.Unconfirmed("%v", err)
	}
	r.Files = nil
	for _, art := range details.Artifacts {
		if art.RelativePath != "" {
			r.Files = append(r.Files, art.RelativePath)
		}
	}
	filtered := false
	for _, s := range sources {
		filtered = filtered || len(s.BranchFilters) > 0
	}
	if !filtered {
		return r, nil
	}
	// Branch filters decide whether a release is made, so the branch must be
	// Jenkins' answer too: the payload's scm.branch counts only when the
	// build's git data names it; otherwise Jenkins' own revisions decide
	// (and a build whose branch Jenkins does not report is left unreleased
	// by the filters, with the reason recorded).
	if r.Branch != "" && !branchConfirmed(details.GitBuildData(), r.Branch) {
		r.Branch, r.Commit = "", ""
	}
	if r.Branch == "" {
		r.Revisions = revisions(details, sources)
	}
	return r, nil
}

// branchConfirmed reports whether the git data of a build names branch
// (compared by short name: "origin/main" and "refs/heads/main" are "main").
func branchConfirmed(data []BuildData, branch string) bool {
	want := delivery.NormalizeBranch(branch)
	for _, d := range data {
		for _, b := range d.Branches {
			if delivery.NormalizeBranch(b) == want {
				return true
			}
		}
	}
	return false
}

// revisions picks, for each source's repository URL, the branch and commit
// the build checked out, from its git BuildData.
func revisions(details *BuildDetails, sources []delivery.FollowingSource) map[string]delivery.Revision {
	data := details.GitBuildData()
	out := map[string]delivery.Revision{}
	for _, s := range sources {
		if bd, ok := SelectBuildData(data, s.RepositoryURL); ok && len(bd.Branches) > 0 {
			out[s.RepositoryURL] = delivery.Revision{Branch: bd.Branches[0], Commit: bd.SHA1}
		}
	}
	return out
}

// NewAdapter returns the Notification plugin's adapter (hc as for NewHandler), for
// redeliveries of stored bodies (hook.Parsers).
func NewAdapter(hc *http.Client) hook.Adapter {
	if hc == nil {
		hc = &http.Client{Timeout: branchLookupTimeout}
	}
	return adapter{http: hc}
}
