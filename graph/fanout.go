package graph

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/cairnhq/cairn/delivery"
)

// Fan-out: an event delivered to many subscriptions of the same shape (same
// operation text, operation name and variables) whose viewers see the same
// thing (same user, role, token scopes and the same hidden definitions at
// that moment) is executed and marshalled once; the other subscriptions
// reuse the bytes. Which events a subscription receives is still decided
// per subscription by delivery.FollowEvents (read permission, filters), in
// its order: the cache only replaces the execution of an event that stream
// already admitted.

// fanoutCacheSize bounds the payloads kept (the newest events' shapes).
const fanoutCacheSize = 4096

// fanoutKey names one payload: an event, a subscription shape and a
// visibility class.
type fanoutKey struct {
	seq   int64
	shape [32]byte // sha256 of the operation and its variables
	class string   // the viewer's visibility (fanoutClass)
}

type fanoutEntry struct {
	done chan struct{} // closed when data is set (or the owner gave up)
	data []byte        // the response's data; nil: execute yourself
}

// fanoutCache holds the payloads of recent events, shared by every
// subscription of the server.
type fanoutCache struct {
	mu      sync.Mutex
	entries map[fanoutKey]*fanoutEntry
	order   []fanoutKey // insertion order, a ring of fanoutCacheSize
	next    int
	stats   *FanoutStats
}

func newFanoutCache() *fanoutCache {
	return &fanoutCache{entries: map[fanoutKey]*fanoutEntry{}, order: make([]fanoutKey, 0, fanoutCacheSize), stats: &FanoutStats{}}
}

// FanoutStats counts what the fan-out cache did for the events delivered
// to GraphQL event subscriptions: payloads reused from it (hits) and
// payloads executed by gqlgen (misses: the first subscription of a shape
// and class, and a waiter whose owner gave up).
type FanoutStats struct {
	hits, misses atomic.Uint64
}

// Hits returns the payloads reused from the cache.
func (s *FanoutStats) Hits() uint64 { return s.hits.Load() }

// Misses returns the payloads executed.
func (s *FanoutStats) Misses() uint64 { return s.misses.Load() }

// claim returns k's entry and whether the caller owns it (must execute and
// call fill).
func (c *fanoutCache) claim(k fanoutKey) (*fanoutEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok {
		return e, false
	}
	e := &fanoutEntry{done: make(chan struct{})}
	c.entries[k] = e
	if len(c.order) < fanoutCacheSize {
		c.order = append(c.order, k)
	} else {
		delete(c.entries, c.order[c.next])
		c.order[c.next] = k
		c.next = (c.next + 1) % fanoutCacheSize
	}
	return e, true
}

// fill publishes the owner's result (nil: waiters execute themselves, and
// the entry is dropped so that a later subscriber tries again).
func (c *fanoutCache) fill(k fanoutKey, e *fanoutEntry, data []byte) {
	if data == nil {
		c.mu.Lock()
		if c.entries[k] == e {
			delete(c.entries, k)
		}
		c.mu.Unlock()
	}
	e.data = data
	close(e.done)
}

// fanoutItem is one event a subscription's stream admitted, handed to the
// subscription's response handler before gqlgen executes it.
type fanoutItem struct {
	seq   int64
	class string
	push  func() // hands the typed event to gqlgen's resolver channel
	// handled is closed when the payload is made (or reused).
	handled chan struct{}
}

// fanoutSlot links an event subscription's stream (followEvents) with its
// response handler (fanoutOperations). Pulled (SSE: a transport's loop
// calls the handler), the stream hands each item over items; pushed (our
// websocket transport), the stream sets current and calls the handler
// itself (wsSub.deliver), on its own goroutine.
type fanoutSlot struct {
	claimed bool // a followEvents stream feeds items
	items   chan fanoutItem
	push    *wsSub      // the websocket operation, when pushed
	current *fanoutItem // pushed: the item of the handler's call in progress
}

// take returns the slot's next item; false when the stream ended (or ctx).
func (s *fanoutSlot) take(ctx context.Context) (fanoutItem, bool) {
	if s.push != nil {
		if s.current == nil {
			return fanoutItem{}, false
		}
		return *s.current, true
	}
	select {
	case v, ok := <-s.items:
		return v, ok
	case <-ctx.Done():
		return fanoutItem{}, false
	}
}

type fanoutSlotKey struct{}

// fanoutClass is the visibility class of a viewer: everything but the
// credential's identity that decides what a field may read or return.
func fanoutClass(a delivery.Actor, hidden []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\x00%s\x00%s\x00%s\x00%t\x00%s\x00%v",
		a.UserID, a.Username, a.Role, a.Via, a.System, strings.Join(a.Scopes, ","), hidden)
	return b.String()
}

// classMemo is a stream's last visibility class: its viewer is fixed and
// the hidden definitions seldom change, so most events reuse the string
// instead of formatting it again (it was ~4 % of a paced fan-out's CPU).
// One stream's emit uses it, one event at a time.
type classMemo struct {
	hidden []int
	class  string
	ok     bool
}

// of returns fanoutClass(a, hidden); a must be the same on every call.
func (m *classMemo) of(a delivery.Actor, hidden []int) string {
	if !m.ok || !slices.Equal(m.hidden, hidden) {
		m.hidden, m.class, m.ok = slices.Clone(hidden), fanoutClass(a, hidden), true
	}
	return m.class
}

// fanoutShape hashes what an operation's payload depends on besides the
// event and the viewer.
func fanoutShape(oc *graphql.OperationContext) ([32]byte, bool) {
	vars, err := json.Marshal(oc.Variables) // map keys sorted
	if err != nil {
		return [32]byte{}, false
	}
	h := sha256.New()
	h.Write([]byte(oc.RawQuery))
	h.Write([]byte{0})
	h.Write([]byte(oc.OperationName))
	h.Write([]byte{0})
	h.Write(vars)
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s, true
}

// fanoutOperations is the operation interceptor of event subscriptions: each
// event its stream admitted is looked up by (event, shape, class); the first
// subscription to need it executes it through gqlgen and publishes the
// bytes, the others (waiting meanwhile) reuse them.
func fanoutOperations(cache *fanoutCache) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		return cache.operation(ctx, next)
	}
}

func (cache *fanoutCache) operation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return next(ctx)
	}
	shape, ok := fanoutShape(oc)
	if !ok {
		return next(ctx)
	}
	slot := &fanoutSlot{push: pushSubFrom(ctx)}
	if slot.push == nil {
		slot.items = make(chan fanoutItem)
	}
	h := next(context.WithValue(ctx, fanoutSlotKey{}, slot))
	if !slot.claimed { // not an event stream (or it failed to start)
		return h
	}
	return func(ctx context.Context) *graphql.Response {
		it, ok := slot.take(ctx)
		if !ok {
			return h(ctx) // the stream ended (or ctx): gqlgen's end
		}
		if it.handled != nil {
			defer close(it.handled)
		}
		k := fanoutKey{seq: it.seq, shape: shape, class: it.class}
		e, owner := cache.claim(k)
		if !owner {
			select {
			case <-e.done:
			case <-ctx.Done():
				it.push()
				return h(ctx)
			}
			if e.data != nil {
				cache.stats.hits.Add(1)
				return &graphql.Response{Data: e.data}
			}
			cache.stats.misses.Add(1)
			it.push()
			return h(ctx)
		}
		cache.stats.misses.Add(1)
		var data []byte
		defer func() { cache.fill(k, e, data) }()
		it.push()
		resp := h(ctx)
		if resp != nil && len(resp.Errors) == 0 && len(resp.Extensions) == 0 && len(resp.Data) > 0 {
			data = append([]byte(nil), resp.Data...) // gqlgen reuses its buffer
		}
		return resp
	}
}

// fanoutSlotFrom returns the slot of an event subscription being started,
// marking it claimed; nil outside one.
func fanoutSlotFrom(ctx context.Context) *fanoutSlot {
	s, _ := ctx.Value(fanoutSlotKey{}).(*fanoutSlot)
	if s != nil {
		if s.claimed {
			return nil // one stream per operation
		}
		s.claimed = true
	}
	return s
}
