package teambuild

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/go-playground/webhooks/v6/azuredevops"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/integrations/hook"
)

// NewHandler returns the service hook webhook, to be mounted at
// "POST /webhooks/teambuild/{connection}". The subscription authenticates
// with Basic auth: the connection's username and its webhook secret.
func NewHandler(engine hook.Engine, log *slog.Logger) http.Handler {
	return &hook.Endpoint{Adapter: adapter{}, Engine: engine, Log: log}
}

type adapter struct{}

func (adapter) Source() hook.Source    { return hook.SourceTeamBuild }
func (adapter) ConnectionKind() string { return "AZURE_DEVOPS" }

func (adapter) Authenticate(r *http.Request, username, webhookSecret string) bool {
	return Authenticate(r, username, webhookSecret)
}

// Receipt parses a build.complete event of either resource version.
func (adapter) Receipt(_ context.Context, body []byte, conn hook.Conn, _ hook.Engine) (*delivery.BuildReceipt, error) {
	ev, err := Parse(body)
	if err != nil {
		return nil, err
	}
	b, err := ev.ToBuild(conn.Name)
	if err != nil {
		return nil, err
	}
	return &delivery.BuildReceipt{
		Source: delivery.SourceTeamBuild, ConnectionID: conn.ID, Key: b.Key(),
		Event: string(azuredevops.BuildCompleteEventType), Job: ev.DefinitionName, JobID: b.JobID,
		Project: ev.ProjectName, ProjectID: ev.ProjectID, BuildID: b.BuildID, BuildNumber: b.Number,
		Branch: b.Branch, Commit: b.Commit, Result: string(b.Result), BuildURL: b.URL,
	}, nil
}

// NewAdapter returns the service hook's adapter, for redeliveries of stored bodies
// (hook.Parsers).
func NewAdapter() hook.Adapter { return adapter{} }
