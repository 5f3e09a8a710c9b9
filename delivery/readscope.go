package delivery

import (
	"context"
	"errors"
	"fmt"

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

// ReadScope is the ent interceptor behind WithReadScope. The client's opener registers it
// once, before any use (storage does, for every client it opens): registering it later would
// race with queries in flight. Outside a read scope it does nothing.
func ReadScope() ent.Interceptor {
	return ent.TraverseFunc(func(ctx context.Context, q ent.Query) error {
		hidden, _ := ctx.Value(hiddenKey{}).([]int)
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
