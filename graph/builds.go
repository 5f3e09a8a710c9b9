package graph

import (
	"context"
	"sync"

	"github.com/cairnhq/cairn/delivery"
)

// buildMemo lists the builds of each artifact source from its CI server at most once per
// operation. gqlgen resolves a query's root fields concurrently, so without it a query with
// many aliases of artifactVersions (or several definitions that follow the same job) would
// make as many concurrent calls to Jenkins or Azure DevOps. Concurrent callers of one source
// wait for the first call and share its result, error included (a failing CI server is not
// asked again in the same request).
//
// To keep to one call whatever each field's first, the memo always asks for the most builds
// a field may list (delivery.MaxArtifactVersions); the engine cuts each answer to its field's
// first.
type buildMemo struct {
	next delivery.BuildLister

	mu    sync.Mutex
	calls map[buildKey]*buildCall
}

// buildKey names a source on its CI server: the connection and the source's job.
type buildKey struct {
	conn, url string
	ref       delivery.ArtifactRef
}

type buildCall struct {
	done   chan struct{}
	builds []delivery.BuildVersion
	err    error
}

func newBuildMemo(next delivery.BuildLister) *buildMemo {
	if next == nil {
		return nil
	}
	return &buildMemo{next: next, calls: map[buildKey]*buildCall{}}
}

// RecentBuilds returns the source's builds, calling the CI server only for the first caller.
func (m *buildMemo) RecentBuilds(ctx context.Context, s delivery.ArtifactRef, c delivery.ConnectionCreds, n int) ([]delivery.BuildVersion, error) {
	key := buildKey{conn: c.Name, url: c.URL, ref: s}
	m.mu.Lock()
	call, ok := m.calls[key]
	if !ok {
		call = &buildCall{done: make(chan struct{})}
		m.calls[key] = call
	}
	m.mu.Unlock()
	if !ok {
		func() {
			defer close(call.done)
			call.builds, call.err = m.next.RecentBuilds(ctx, s, c, max(n, delivery.MaxArtifactVersions))
		}()
	}
	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if call.err != nil {
		return nil, call.err
	}
	return append([]delivery.BuildVersion(nil), call.builds...), nil
}

// buildLister returns the operation's build memo, or the CI client itself outside an
// operation with loaders.
func (r *Resolver) buildLister(ctx context.Context) delivery.BuildLister {
	if l := loadersFrom(ctx); l != nil && l.builds != nil {
		return l.builds
	}
	if r.Builds == nil {
		return nil // the engine says no CI client is configured
	}
	return r.Builds
}
