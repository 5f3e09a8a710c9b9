package delivery

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/artifactsource"
	"github.com/cairnhq/cairn/ent/definitionrevision"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/environment"
	"github.com/cairnhq/cairn/ent/event"
	"github.com/cairnhq/cairn/ent/freezewindow"
	"github.com/cairnhq/cairn/ent/gatesample"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/jobstep"
	"github.com/cairnhq/cairn/ent/logchunk"
	"github.com/cairnhq/cairn/ent/manualintervention"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releaseartifact"
	"github.com/cairnhq/cairn/ent/releasedefinition"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
	"github.com/cairnhq/cairn/ent/sourcecommit"
)

// hiddenKey carries, in a read scope, the definitions its actor may not read.
type hiddenKey struct{}

// WithReadScope returns ctx for reads on behalf of actor: every ent query made with it of a
// record that belongs to a definition (the definition itself, its revisions, sources and
// environments, its releases with their environments, artifacts and commits, deployments,
// approvals, manual interventions, jobs, steps and logs, events) leaves out the definitions actor may not read. Edges
// reached from anywhere (a work item's releases, an agent's jobs) are filtered as well as root
// queries, so that what a definition hides cannot be reached around it. The scope is for reads:
// the API applies it to query operations, never to mutations, whose engine code must see
// everything (queue policies count every running job).
func (e *Engine) WithReadScope(ctx context.Context, actor Actor) (context.Context, error) {
	hidden, err := e.HiddenDefinitions(ctx, actor)
	if err != nil || len(hidden) == 0 {
		return ctx, err
	}
	return context.WithValue(ctx, hiddenKey{}, hidden), nil
}

// LiveReadScope is a read scope that lives as long as a subscription: the
// definitions its actor may not read are re-read by Refresh (before each
// event a subscription delivers), so that readers changed while it runs
// apply to what the next event reaches, as they would to a new query.
type LiveReadScope struct {
	e      *Engine
	actor  Actor
	mu     sync.RWMutex
	hidden []int
}

// liveKey carries a *LiveReadScope in a context.
type liveKey struct{}

// WithLiveReadScope returns ctx for the reads of a subscription on behalf of
// actor (see WithReadScope), and the scope to Refresh before each event.
func (e *Engine) WithLiveReadScope(ctx context.Context, actor Actor) (context.Context, *LiveReadScope, error) {
	s := &LiveReadScope{e: e, actor: actor}
	if err := s.Refresh(ctx); err != nil {
		return ctx, nil, err
	}
	return context.WithValue(ctx, liveKey{}, s), s, nil
}

// WithoutReadScope returns ctx with no read scope, static or live: for the
// engine's own bookkeeping inside a scoped operation (an event stream that
// filters events itself must see every sequence number to find gaps).
func WithoutReadScope(ctx context.Context) context.Context {
	return context.WithValue(context.WithValue(ctx, liveKey{}, (*LiveReadScope)(nil)), hiddenKey{}, []int(nil))
}

// LiveReadScopeFrom returns the live read scope of ctx, nil outside one.
func LiveReadScopeFrom(ctx context.Context) *LiveReadScope {
	s, _ := ctx.Value(liveKey{}).(*LiveReadScope)
	return s
}

// Refresh re-reads the definitions the scope's actor may not read.
func (s *LiveReadScope) Refresh(ctx context.Context) error {
	// Read unscoped: a scoped read of definitions would not see the
	// hidden ones it is meant to list.
	hidden, err := s.e.HiddenDefinitions(WithoutReadScope(ctx), s.actor)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.hidden = hidden
	s.mu.Unlock()
	return nil
}

func (s *LiveReadScope) current() []int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.hidden
}

// hiddenIn returns the definitions hidden by ctx's read scope, static or live.
func hiddenIn(ctx context.Context) []int {
	if s := LiveReadScopeFrom(ctx); s != nil {
		return s.current()
	}
	hidden, _ := ctx.Value(hiddenKey{}).([]int)
	return hidden
}

// ReadScope is the ent interceptor behind WithReadScope. The client's opener registers it
// once, before any use (storage does, for every client it opens): registering it later would
// race with queries in flight. Outside a read scope it does nothing.
func ReadScope() ent.Interceptor {
	return ent.TraverseFunc(func(ctx context.Context, q ent.Query) error {
		hidden := hiddenIn(ctx)
		if len(hidden) == 0 {
			return nil
		}
		readableDeployment := deployment.DefinitionIDNotIn(hidden...)
		readableRelease := release.DefinitionIDNotIn(hidden...)
		readableJob := job.HasDeploymentWith(readableDeployment)
		switch q := q.(type) {
		case *ent.ReleaseDefinitionQuery:
			q.Where(releasedefinition.IDNotIn(hidden...))
		case *ent.DefinitionRevisionQuery:
			q.Where(definitionrevision.DefinitionIDNotIn(hidden...))
		case *ent.ArtifactSourceQuery:
			q.Where(artifactsource.DefinitionIDNotIn(hidden...))
		case *ent.EnvironmentQuery:
			q.Where(environment.DefinitionIDNotIn(hidden...))
		case *ent.ReleaseQuery:
			q.Where(readableRelease)
		case *ent.ReleaseEnvironmentQuery:
			q.Where(releaseenvironment.DefinitionIDNotIn(hidden...))
		case *ent.ReleaseArtifactQuery:
			q.Where(releaseartifact.HasReleaseWith(readableRelease))
		case *ent.SourceCommitQuery:
			q.Where(sourcecommit.HasReleaseWith(readableRelease))
		case *ent.DeploymentQuery:
			q.Where(readableDeployment)
		case *ent.ApprovalQuery:
			q.Where(approval.HasDeploymentWith(readableDeployment))
		case *ent.JobQuery:
			q.Where(readableJob)
		case *ent.JobStepQuery:
			q.Where(jobstep.HasJobWith(readableJob))
		case *ent.LogChunkQuery:
			q.Where(logchunk.HasJobWith(readableJob))
		case *ent.EventQuery:
			q.Where(event.Or(event.DefinitionIDIsNil(), event.DefinitionIDNotIn(hidden...)))
		case *ent.GateSampleQuery:
			q.Where(gatesample.HasDeploymentWith(readableDeployment))
		case *ent.ManualInterventionQuery:
			q.Where(manualintervention.HasDeploymentWith(readableDeployment))
		case *ent.FreezeWindowQuery:
			q.Where(freezewindow.Or(freezewindow.DefinitionIDIsNil(), freezewindow.DefinitionIDNotIn(hidden...)))
		}
		return nil
	})
}

// ErrWriteOutsideEngine is what a write through the adapters' read-only
// client (Options.Reads) fails with: every change goes through the engine.
var ErrWriteOutsideEngine = errors.New("refused: the adapters' database client is read-only; every change goes through the delivery engine")

// RefuseWrites is the ent hook of the adapters' client (Options.Reads): it
// refuses every mutation, so that a resolver, webhook handler or dispatcher
// cannot write a domain table around the engine's transactions, audit and
// events. Storage registers it, with ReadScope, on the second client it
// opens on the same database.
func RefuseWrites() ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			return nil, fmt.Errorf("%s %s: %w", m.Op(), m.Type(), ErrWriteOutsideEngine)
		})
	}
}

// RequireReadableNode returns FORBIDDEN unless actor holds the least role
// that reads records of n's type (node(id)): people, groups, tokens, audit,
// deliveries, notifications, hooks and agent registrations are for ADMINs,
// service connections (never their secrets) for EDITORs, everything else
// for VIEWERs; everyone reads their own user. Whether actor may read what a
// definition owns is the read scope's business (WithReadScope), which the
// query that loaded n applied.
func RequireReadableNode(actor Actor, n any) error {
	min := RoleViewer
	switch v := n.(type) {
	case *ent.User:
		if v.ID == actor.UserID {
			return nil
		}
		min = RoleAdmin
	case *ent.Group, *ent.ApiToken, *ent.AuditEvent, *ent.WebhookDelivery,
		*ent.Notification, *ent.OutgoingHook, *ent.HookDelivery, *ent.AgentRegistration:
		min = RoleAdmin
	case *ent.ServiceConnection:
		min = RoleEditor
	}
	return actor.Require(min, "reading this node")
}
