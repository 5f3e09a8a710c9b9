package teambuild

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-playground/webhooks/v6/azuredevops"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/integrations/hook"
	"github.com/cairnhq/cairn/internal/origin"
)

// confirmTimeout bounds the REST call that confirms a build while the
// service hook waits for the answer.
const confirmTimeout = 5 * time.Second

// NewHandler returns the service hook webhook, to be mounted at
// "POST /webhooks/teambuild/{connection}". The subscription authenticates
// with Basic auth: the connection's username and its webhook secret. hc
// calls Azure DevOps back to confirm a build before it is released; nil
// means a client with a short timeout.
func NewHandler(engine hook.Engine, log *slog.Logger, hc *http.Client) http.Handler {
	a := adapter{http: hc}
	if hc == nil {
		a.http = &http.Client{Timeout: confirmTimeout}
	}
	return &hook.Endpoint{Adapter: a, Engine: engine, Log: log}
}

type adapter struct{ http *http.Client }

func (adapter) Source() hook.Source    { return hook.SourceTeamBuild }
func (adapter) ConnectionKind() string { return "AZURE_DEVOPS" }

func (adapter) Authenticate(r *http.Request, username, webhookSecret string) bool {
	return Authenticate(r, username, webhookSecret)
}

// Receipt parses a build.complete event of either resource version. A
// successful build that a definition follows is then confirmed with Azure
// DevOps itself (the build by id, at the connection's URL with its
// credentials): its answer, not the event, gives the result, the
// definition and the build page. A build it does not know (404), that
// belongs to another definition, or that has not completed is rejected
// (hook.ErrUnconfirmed). The artifacts' download URLs come later from the
// same API (enrichment), never from the event.
func (a adapter) Receipt(ctx context.Context, body []byte, conn hook.Conn, engine hook.Engine) (*delivery.BuildReceipt, error) {
	ev, err := Parse(body)
	if err != nil {
		return nil, err
	}
	b, err := ev.ToBuild(conn.Name)
	if err != nil {
		return nil, err
	}
	r := &delivery.BuildReceipt{
		Source: delivery.SourceTeamBuild, ConnectionID: conn.ID, Key: b.Key(),
		Event: string(azuredevops.BuildCompleteEventType), Job: ev.DefinitionName, JobID: b.JobID,
		Project: ev.ProjectName, ProjectID: ev.ProjectID, BuildID: b.BuildID, BuildNumber: b.Number,
		Branch: b.Branch, Commit: b.Commit, Result: string(b.Result),
	}
	if b.Result != hook.ResultSucceeded && b.Result != hook.ResultPartiallySucceeded {
		return r, nil
	}
	sources, err := engine.FollowingSources(ctx, *r)
	if err != nil {
		return nil, fmt.Errorf("finding the followers of %s: %w", r.Job, err)
	}
	if len(sources) == 0 {
		return r, nil
	}
	ctx, cancel := context.WithTimeout(ctx, confirmTimeout)
	defer cancel()
	c := &Client{BaseURL: conn.URL, User: conn.Username, Token: conn.Secret, HTTP: a.http}
	got, err := c.Build(ctx, b.Project, ev.BuildID)
	switch {
	case errors.Is(err, hook.ErrNotFound):
		return nil, hook.Unconfirmed("azure devops at %s has no build %d in project %s", conn.Name, ev.BuildID, b.Project)
	case err != nil:
		return nil, fmt.Errorf("%w: confirming build %d with %s: %v", hook.ErrUnavailable, ev.BuildID, conn.Name, err)
	case got.ID != ev.BuildID:
		return nil, hook.Unconfirmed("azure devops at %s answered build %d for build %d", conn.Name, got.ID, ev.BuildID)
	case ev.DefinitionID > 0 && got.Definition.ID != ev.DefinitionID:
		return nil, hook.Unconfirmed("azure devops at %s says build %d belongs to build definition %d, not %d", conn.Name, ev.BuildID, got.Definition.ID, ev.DefinitionID)
	case !strings.EqualFold(got.Status, "completed"):
		return nil, hook.Unconfirmed("azure devops at %s reports build %d as %s, not completed", conn.Name, ev.BuildID, got.Status)
	}
	result, ok := apiResult(got.Result)
	if !ok {
		return nil, hook.Unconfirmed("azure devops at %s reports build %d with result %q", conn.Name, ev.BuildID, got.Result)
	}
	r.Result = string(result)
	if got.Definition.Name != "" {
		r.Job = got.Definition.Name
	}
	if got.BuildNumber != "" {
		r.BuildNumber = got.BuildNumber
	}
	if got.SourceBranch != "" {
		r.Branch, r.Commit = got.SourceBranch, got.SourceVersion
	}
	if u := got.WebURL(); origin.HTTP(u) {
		r.BuildURL = u
	}
	return r, nil
}

// apiResult maps a REST build result onto the neutral one.
func apiResult(s string) (hook.Result, bool) {
	switch strings.ToLower(s) {
	case "succeeded":
		return hook.ResultSucceeded, true
	case "partiallysucceeded":
		return hook.ResultPartiallySucceeded, true
	case "failed":
		return hook.ResultFailed, true
	case "canceled":
		return hook.ResultCanceled, true
	}
	return "", false
}

// NewAdapter returns the service hook's adapter, for redeliveries of stored bodies
// (hook.Parsers).
func NewAdapter() hook.Adapter { return adapter{} }
