package graph

import (
	"context"
	"errors"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/graph/model"
)

// followEvents is the body of every event subscription: the engine's stream
// for the viewer (FollowEvents), each event turned into its GraphQL type T
// (events of other kinds are dropped). afterSequence nil follows live
// events only.
func followEvents[T any](ctx context.Context, r *Resolver, f delivery.EventFilter, afterSequence *int64) (<-chan T, error) {
	if r.Events == nil {
		return nil, errors.New("subscriptions are not configured on this server (no event bus)")
	}
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	loader := eventLoader{r.Engine}
	scope := delivery.LiveReadScopeFrom(ctx)
	// slot: the subscription's response handler looks each event up in the
	// fan-out cache before gqlgen executes it (fanout.go); out then holds
	// the one event handed over.
	slot := fanoutSlotFrom(ctx)
	// push: the websocket operation this stream drives itself (wstransport.go):
	// each event is executed and written on this stream's goroutine.
	var push *wsSub
	if slot != nil && slot.push != nil {
		push = slot.push
		push.claimPush(true)
	}
	out := make(chan T, 1)
	var class classMemo
	// The engine's goroutine turns each event into T and sends it: one
	// goroutine per subscription, not a second one relaying a channel.
	emit := func(fctx context.Context, ev delivery.Event) error {
		v, ok := typedEvent(ev, loader).(T)
		if !ok {
			return nil
		}
		// What the event's fields reach is read in the viewer's read scope
		// as it is now (see scopeReads).
		if scope != nil {
			if err := scope.Refresh(ctx); err != nil {
				return err // the client resubscribes; nothing unscoped goes out
			}
		}
		if push != nil {
			it := fanoutItem{seq: ev.Sequence, class: class.of(a, delivery.HiddenInScope(ctx)),
				push: func() { out <- v }}
			slot.current = &it
			err := push.deliver()
			slot.current = nil
			select { // an event pushed but not read (the operation ended)
			case <-out:
			default:
			}
			return err
		}
		if slot != nil {
			// The next event's Refresh waits until this one's payload is
			// made: the payload is made in the scope its class names.
			it := fanoutItem{seq: ev.Sequence, class: class.of(a, delivery.HiddenInScope(ctx)),
				push: func() { out <- v }, handled: make(chan struct{})}
			select {
			case slot.items <- it:
			case <-fctx.Done():
				return fctx.Err()
			}
			// Taken: the handler always finishes it (and only then may done
			// close out, which push sends on).
			<-it.handled
			return nil
		}
		select {
		case out <- v:
			return nil
		case <-fctx.Done():
			return fctx.Err()
		}
	}
	// The stream filters events by readers itself and must see every
	// sequence number; the fields of what it sends are read scoped.
	err = r.Engine.FollowEventsEach(delivery.WithoutReadScope(ctx), r.Events, a, f, derefOr(afterSequence, delivery.FromNow),
		emit, func() {
			close(out)
			switch {
			case push != nil:
				push.end()
			case slot != nil:
				close(slot.items)
			}
		})
	if err != nil {
		if slot != nil {
			slot.claimed = false
		}
		if push != nil {
			push.claimPush(false)
		}
		return nil, err
	}
	return out, nil
}

// typedEvent returns the GraphQL object of an engine event, nil for a type
// no subscription offers.
func typedEvent(ev delivery.Event, l model.EventLoader) any {
	b := model.EventBase{Event: ev, Loader: l}
	switch ev.Type {
	case delivery.EventReleaseCreated:
		return &model.ReleaseCreatedEvent{EventBase: b}
	case delivery.EventReleaseAbandoned:
		return &model.ReleaseAbandonedEvent{EventBase: b}
	case delivery.EventEnvironmentStatusChanged:
		return &model.EnvironmentStatusChangedEvent{EventBase: b}
	case delivery.EventDeploymentStarted:
		return &model.DeploymentStartedEvent{EventBase: b}
	case delivery.EventDeploymentFinished:
		return &model.DeploymentFinishedEvent{EventBase: b}
	case delivery.EventApprovalPending:
		return &model.ApprovalPendingEvent{EventBase: b}
	case delivery.EventApprovalDecided:
		return &model.ApprovalDecidedEvent{EventBase: b}
	case delivery.EventApprovalTimedOut:
		return &model.ApprovalTimedOutEvent{EventBase: b}
	case delivery.EventApprovalReassigned:
		return &model.ApprovalReassignedEvent{EventBase: b}
	case delivery.EventJobLost:
		return &model.JobLostEvent{EventBase: b}
	case delivery.EventStepProgress:
		return &model.StepProgressEvent{EventBase: b}
	case delivery.EventGateSampleFailed:
		return &model.GateSampleFailedEvent{EventBase: b}
	case delivery.EventInterventionPending:
		return &model.ManualInterventionPendingEvent{EventBase: b}
	case delivery.EventInterventionDecided:
		return &model.ManualInterventionDecidedEvent{EventBase: b}
	case delivery.EventFreezeStarted:
		return &model.FreezeStartedEvent{EventBase: b}
	case delivery.EventFreezeEnded:
		return &model.FreezeEndedEvent{EventBase: b}
	case delivery.EventAgentChanged:
		return &model.AgentStatusEvent{EventBase: b}
	}
	return nil
}

// eventLoader reads what events name. The stream already admitted the event
// for the viewer (its definition is readable), and the reads run in the
// subscription's live read scope: something deleted or hidden since
// resolves to null.
type eventLoader struct{ e *delivery.Engine }

var _ model.EventLoader = eventLoader{}

func nilIfNotFound[T any](v *T, err error) (*T, error) {
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return v, err
}

func (l eventLoader) Release(ctx context.Context, id int) (*ent.Release, error) {
	return nilIfNotFound(l.e.Client().Release.Get(ctx, id))
}

func (l eventLoader) Deployment(ctx context.Context, id int) (*ent.Deployment, error) {
	return nilIfNotFound(l.e.Client().Deployment.Get(ctx, id))
}

func (l eventLoader) Approval(ctx context.Context, id int) (*ent.Approval, error) {
	return nilIfNotFound(l.e.Client().Approval.Get(ctx, id))
}

func (l eventLoader) Intervention(ctx context.Context, id int) (*ent.ManualIntervention, error) {
	return nilIfNotFound(l.e.Client().ManualIntervention.Get(ctx, id))
}

func (l eventLoader) Agent(ctx context.Context, id int) (*ent.Agent, error) {
	return nilIfNotFound(l.e.Client().Agent.Get(ctx, id))
}

// StageApprovers lists the approvers (not automated) of one stage of a
// deployment, in rank order, each once.
func (l eventLoader) StageApprovers(ctx context.Context, deploymentID int, stage string) ([]*spec.Approver, error) {
	rows, err := l.e.Client().Approval.Query().
		Where(approval.DeploymentID(deploymentID), approval.StageEQ(approval.Stage(stage)), approval.Automated(false)).
		Order(ent.Asc(approval.FieldRank), ent.Asc(approval.FieldID)).All(ctx)
	if err != nil {
		return nil, err
	}
	out := []*spec.Approver{}
	seen := map[spec.Approver]bool{}
	for _, a := range rows {
		if a.ApproverKind == nil {
			continue
		}
		ap := spec.Approver{Kind: spec.ApproverKind(*a.ApproverKind), Name: a.Approver}
		if !seen[ap] {
			seen[ap] = true
			out = append(out, &ap)
		}
	}
	return out, nil
}

func (l eventLoader) Changes(ctx context.Context, releaseID int, environment string) (*delivery.ReleaseChanges, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	return l.e.ChangesSince(ctx, a, releaseID, environment)
}
