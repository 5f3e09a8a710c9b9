package graph

import (
	"context"
	"log/slog"
	"time"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
)

// TokenIssuer signs API tokens; implemented by auth.Keys.
type TokenIssuer interface {
	IssueAPIToken(subject, jti string, expires time.Time, scopes []string) (string, error)
}

// Resolver holds the dependencies of every resolver. Resolvers are thin: one
// call to the engine (writes) or one paginated ent query (reads).
type Resolver struct {
	Engine *delivery.Engine
	Tokens TokenIssuer
	Log    *slog.Logger
	// Events is the event bus that subscriptions follow.
	Events delivery.Subscriber
	// Builds lists recent CI builds for manual releases (artifactVersions);
	// the server wires the Jenkins and Azure DevOps clients in.
	Builds delivery.BuildLister
}

// actor returns the authenticated actor of the request.
func actor(ctx context.Context) (delivery.Actor, error) {
	a, ok := auth.ActorFrom(ctx)
	if !ok {
		return delivery.Actor{}, delivery.ErrUnauthenticated
	}
	return a, nil
}

// Version is the server version reported by the API; set at build time with
// -ldflags "-X github.com/cairnhq/cairn/graph.Version=…".
var Version = "dev"
