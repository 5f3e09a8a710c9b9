package graph

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/notification"
	"github.com/cairnhq/cairn/ent/releasedefinition"
)

// Batch loading. gqlgen resolves the fields of a list's elements concurrently, so a field that
// needs its own query (one per element: N+1) can instead join a batch: a batch runs once no
// new key has joined it for loadWindow (at most loadMaxWait after its first), and one query
// answers all its keys. ent's eager loading covers
// edges of paginated lists (gql_collection.go); loaders cover what it cannot: fields computed
// by resolvers, and lists the engine returns (pendingApprovals).

const (
	// loadWindow is how long a batch waits for another key before it runs.
	loadWindow = 2 * time.Millisecond
	// loadMaxWait bounds the wait of a batch's first key.
	loadMaxWait = 20 * time.Millisecond
	// loadBatchMax starts a batch at once when it has this many keys.
	loadBatchMax = 500
)

// loader batches and caches, for one operation, the loads of values by key.
type loader[K comparable, V any] struct {
	fetch           func(ctx context.Context, keys []K) (map[K]V, error)
	window, maxWait time.Duration

	mu    sync.Mutex
	cur   *loadBatch[K, V]
	known map[K]*loadBatch[K, V] // the batch that has (or will have) each key's value
}

type loadBatch[K comparable, V any] struct {
	keys    []K
	first   time.Time
	timer   *time.Timer
	started bool // run took it (the timer and the size limit may both fire)
	done    chan struct{}
	vals    map[K]V
	err     error
}

func newLoader[K comparable, V any](fetch func(ctx context.Context, keys []K) (map[K]V, error)) *loader[K, V] {
	return &loader[K, V]{fetch: fetch, window: loadWindow, maxWait: loadMaxWait, known: map[K]*loadBatch[K, V]{}}
}

// load returns the value of key (the zero value when fetch found none).
func (l *loader[K, V]) load(ctx context.Context, key K) (V, error) {
	l.mu.Lock()
	b, ok := l.known[key]
	if !ok {
		if l.cur == nil {
			nb := &loadBatch[K, V]{first: time.Now(), done: make(chan struct{})}
			l.cur = nb
			// The batch runs on the first caller's context (its actor and read scope), not
			// canceled with that caller alone.
			bctx := context.WithoutCancel(ctx)
			nb.timer = time.AfterFunc(l.window, func() { l.run(bctx, nb) })
		} else if wait := min(l.window, l.maxWait-time.Since(l.cur.first)); wait > 0 {
			l.cur.timer.Reset(wait) // another key joined: wait for more
		}
		b = l.cur
		b.keys = append(b.keys, key)
		l.known[key] = b
		if len(b.keys) >= loadBatchMax {
			l.cur = nil
			b.timer.Stop()
			go l.run(context.WithoutCancel(ctx), b)
		}
	}
	l.mu.Unlock()
	select {
	case <-b.done:
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
	return b.vals[key], b.err
}

// run fetches a batch once (the timer and the size limit may both fire).
func (l *loader[K, V]) run(ctx context.Context, b *loadBatch[K, V]) {
	l.mu.Lock()
	if l.cur == b {
		l.cur = nil
	}
	if b.started {
		l.mu.Unlock()
		return
	}
	b.started = true
	keys := b.keys
	l.mu.Unlock()
	vals, err := l.fetch(ctx, keys)
	l.mu.Lock()
	b.vals, b.err = vals, err
	close(b.done)
	l.mu.Unlock()
}

// loaders are the loaders of one operation.
type loaders struct {
	notifications *loader[int, []*ent.Notification]    // by approval id
	currentJobs   *loader[int, *ent.Job]               // by deployment id: its latest phase's job
	definitions   *loader[int, *ent.ReleaseDefinition] // by id (deleted too), for permissions
	targetJobs    *loader[int, []*ent.Job]             // by deployment id: its targets' jobs
	lastDeploys   *loader[int, *ent.Deployment]        // by agent id: its last deployment as a target
	// builds lists each artifact source's CI builds once (artifactVersions).
	builds *buildMemo
	// usage is where library items are used (usedBy), read once.
	usage usageMemo

	principalOnce sync.Once
	principal     *delivery.Principal // the viewer's groups, for viewerCan
	principalErr  error
}

type loadersKey struct{}

// Loaders (an operation middleware) gives each query and mutation operation its own loaders (so nothing is cached
// beyond one response). Subscriptions get none: their fields resolve one event at a time, and a
// cache would go stale over a long-lived stream.
func (r *Resolver) Loaders(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil || oc.Operation.Operation == ast.Subscription {
		return next(ctx)
	}
	return next(context.WithValue(ctx, loadersKey{}, r.newLoaders()))
}

func (r *Resolver) newLoaders() *loaders {
	return &loaders{
		builds: newBuildMemo(r.Builds),
		definitions: newLoader(func(ctx context.Context, ids []int) (map[int]*ent.ReleaseDefinition, error) {
			rows, err := r.Engine.Client().ReleaseDefinition.Query().Where(releasedefinition.IDIn(ids...)).
				Select(releasedefinition.FieldID, releasedefinition.FieldPermissions, releasedefinition.FieldDeletedAt).All(ctx)
			if err != nil {
				return nil, err
			}
			out := make(map[int]*ent.ReleaseDefinition, len(rows))
			for _, d := range rows {
				out[d.ID] = d
			}
			return out, nil
		}),
		currentJobs: newLoader(r.Engine.CurrentJobs),
		targetJobs:  newLoader(r.Engine.TargetJobsOf),
		lastDeploys: newLoader(r.Engine.LastTargetDeployments),
		notifications: newLoader(func(ctx context.Context, approvalIDs []int) (map[int][]*ent.Notification, error) {
			rows, err := r.Engine.Client().Notification.Query().
				Where(notification.ApprovalIDIn(approvalIDs...)).Order(ent.Asc(notification.FieldID)).All(ctx)
			if err != nil {
				return nil, err
			}
			out := make(map[int][]*ent.Notification, len(approvalIDs))
			for _, n := range rows {
				if n.ApprovalID != nil {
					out[*n.ApprovalID] = append(out[*n.ApprovalID], n)
				}
			}
			return out, nil
		}),
	}
}

func loadersFrom(ctx context.Context) *loaders {
	l, _ := ctx.Value(loadersKey{}).(*loaders)
	return l
}
