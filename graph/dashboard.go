package graph

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"entgo.io/contrib/entgql"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/graph/model"
)

// maxDeploymentsPage bounds one page of the deployments list.
const maxDeploymentsPage = 100

// deploymentsFilter is the deployments list's filter as the resolver reads it.
type deploymentsFilter struct {
	DefinitionID *int
	Environment  *string
	Status       []deployment.Status
	ReleaseID    *int
	RequestedBy  *string
	Since, Until *time.Time
}

// plainName checks a name given as a filter: at most max bytes of valid UTF-8 without control
// characters.
func plainName(field, v string, max int) error {
	if len(v) > max || !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return delivery.Invalid(field, "must be at most %d bytes of text without control characters", max)
	}
	return nil
}

// deployments lists the deployments of the definitions the viewer may read, newest first.
func (r *Resolver) deployments(ctx context.Context, first *int, after *entgql.Cursor[int], last *int, before *entgql.Cursor[int], f deploymentsFilter) (*ent.DeploymentConnection, error) {
	for name, n := range map[string]*int{"first": first, "last": last} {
		if n != nil && (*n < 0 || *n > maxDeploymentsPage) {
			return nil, delivery.Invalid(name, "must be between 0 and %d", maxDeploymentsPage)
		}
	}
	if first == nil && last == nil {
		n := 25
		first = &n
	}
	q := r.Engine.Client().Deployment.Query()
	if f.DefinitionID != nil {
		q.Where(deployment.DefinitionID(*f.DefinitionID))
	}
	if f.Environment != nil {
		env := strings.TrimSpace(*f.Environment)
		if err := plainName("filter.environment", env, 100); err != nil {
			return nil, err
		}
		if env != "" {
			q.Where(deployment.EnvironmentName(env))
		}
	}
	if len(f.Status) > 0 {
		if len(f.Status) > 20 {
			return nil, delivery.Invalid("filter.status", "at most 20 statuses")
		}
		q.Where(deployment.StatusIn(f.Status...))
	}
	if f.ReleaseID != nil {
		q.Where(deployment.ReleaseID(*f.ReleaseID))
	}
	if f.RequestedBy != nil {
		by := strings.TrimSpace(*f.RequestedBy)
		if err := plainName("filter.requestedBy", by, 200); err != nil {
			return nil, err
		}
		if by != "" {
			q.Where(deployment.RequestedBy(by))
		}
	}
	if f.Since != nil && f.Until != nil && !f.Since.Before(*f.Until) {
		return nil, delivery.Invalid("filter.until", "must be after since")
	}
	if f.Since != nil {
		q.Where(deployment.CreatedAtGTE(*f.Since))
	}
	if f.Until != nil {
		q.Where(deployment.CreatedAtLT(*f.Until))
	}
	hidden, err := r.hiddenDefinitions(ctx)
	if err != nil {
		return nil, err
	}
	if len(hidden) > 0 {
		q.Where(deployment.DefinitionIDNotIn(hidden...))
	}
	return q.Paginate(ctx, after, first, before, last, ent.WithDeploymentOrder(
		&ent.DeploymentOrder{Direction: entgql.OrderDirectionDesc, Field: ent.DefaultDeploymentOrder.Field}))
}

// usageMemo reads where library items are used once per operation.
type usageMemo struct {
	once  sync.Once
	usage *delivery.LibraryUsage
	err   error
}

// libraryUsage is delivery.LibraryUsageFor the viewer, read once per operation (every item of
// a list shares it: two statements for the whole list).
func (r *Resolver) libraryUsage(ctx context.Context) (*delivery.LibraryUsage, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	l := loadersFrom(ctx)
	if l == nil {
		return r.Engine.LibraryUsageFor(ctx, a)
	}
	l.usage.once.Do(func() { l.usage.usage, l.usage.err = r.Engine.LibraryUsageFor(context.WithoutCancel(ctx), a) })
	return l.usage.usage, l.usage.err
}

// usedBy returns the users of name in one of the usage's indexes (never nil).
func (r *Resolver) usedBy(ctx context.Context, pick func(*delivery.LibraryUsage) map[string][]string, name string) ([]string, error) {
	u, err := r.libraryUsage(ctx)
	if err != nil {
		return nil, err
	}
	if out := pick(u)[name]; out != nil {
		return out, nil
	}
	return []string{}, nil
}

// identityEvents streams the changes of users and groups (transient EventIdentityChanged
// events from the bus) until ctx ends; a subscriber that falls behind loses events, not the
// stream (the page reads the list again on each).
func (r *Resolver) identityEvents(ctx context.Context) (<-chan *model.IdentityChangedEvent, error) {
	if r.Events == nil {
		return nil, errors.New("subscriptions are not configured on this server (no event bus)")
	}
	events, unsubscribe := r.Events.Subscribe()
	out := make(chan *model.IdentityChangedEvent, 16)
	go func() {
		defer unsubscribe()
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-events:
				if !ok {
					return
				}
				if ev.Type != delivery.EventIdentityChanged {
					continue
				}
				id, _ := strconv.Atoi(fmt.Sprint(ev.Data["targetId"]))
				v := &model.IdentityChangedEvent{TargetType: fmt.Sprint(ev.Data["targetType"]), TargetID: id, Action: fmt.Sprint(ev.Data["action"])}
				select {
				case out <- v:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
