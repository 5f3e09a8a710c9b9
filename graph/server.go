package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
)

// Options configure the GraphQL handler. Zero values get the defaults noted.
type Options struct {
	// Authenticator authenticates websocket connections from connection_init
	// (HTTP requests are authenticated by the auth middleware in front).
	Authenticator *auth.Authenticator
	// ComplexityLimit caps a query's cost (default 5000): every field costs
	// 1 and connection fields multiply their selection by first/last.
	ComplexityLimit int
	// DepthLimit caps selection nesting (default 15).
	DepthLimit int
	// MaxFields caps the fields one operation selects, fragments expanded
	// (default DefaultMaxFields).
	MaxFields int
	// OriginPatterns are the websocket Origins accepted besides the server's
	// own host (coder/websocket patterns, e.g. "dashboard.example.com").
	OriginPatterns []string
	// KeepAlive is the websocket keep-alive interval (default 15 s): a
	// connection quiet for that long is sent a keep-alive message (graphql-ws)
	// or a ping (graphql-transport-ws); one that leaves pings unanswered for
	// three intervals, or whose write is stuck for two, is closed.
	KeepAlive time.Duration
	// RecheckInterval is how often an open websocket or SSE stream re-checks
	// its credential (DefaultRecheckInterval when zero); revocations are
	// noticed at once on this replica.
	RecheckInterval time.Duration
	// MaxSubscriptions caps the open subscriptions of one websocket
	// connection (DefaultMaxSubscriptions when zero).
	MaxSubscriptions int
	// Fanout counts the event payloads made and reused by the fan-out cache
	// (fanout.go); nil: counted but not reported.
	Fanout *FanoutStats

	// wsInitTimeout (tests): how long a websocket may wait before its
	// connection_init (wsInitTimeout when zero).
	wsInitTimeout time.Duration
}

// NewHandler builds the GraphQL server explicitly: transports one by one,
// limits, the error presenter and the role check of every root field; and
// in front of it the guard of long-lived connections (connguard.go).
func NewHandler(r *Resolver, opts Options) http.Handler {
	return newHandler(r, opts, nil)
}

// newHandler is NewHandler; onKeepAlive (tests) is given its keep-alive loop.
func newHandler(r *Resolver, opts Options, onKeepAlive func(*keepAlive)) http.Handler {
	if opts.ComplexityLimit == 0 {
		opts.ComplexityLimit = 5000
	}
	if opts.DepthLimit == 0 {
		opts.DepthLimit = 15
	}
	if opts.MaxFields == 0 {
		opts.MaxFields = DefaultMaxFields
	}
	if opts.KeepAlive == 0 {
		opts.KeepAlive = 15 * time.Second
	}
	if opts.RecheckInterval == 0 {
		opts.RecheckInterval = DefaultRecheckInterval
	}
	if opts.MaxSubscriptions == 0 {
		opts.MaxSubscriptions = DefaultMaxSubscriptions
	}
	g := &guard{authn: opts.Authenticator, events: r.Events, interval: opts.RecheckInterval}
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := Config{Resolvers: r}
	setComplexity(&cfg.Complexity)
	srv := handler.New(NewExecutableSchema(cfg))

	readLimit := int64(1 << 20)
	// One loop keeps every websocket of the server alive (keepalive.go).
	ka := newKeepAlive(opts.KeepAlive)
	if onKeepAlive != nil {
		onKeepAlive(ka)
	}
	kept := keptWebsocket{ka: ka, accept: websocket.AcceptOptions{
		// Origin is checked on upgrade: the server's own host and OriginPatterns.
		OriginPatterns: opts.OriginPatterns,
	}}
	// Our own websocket transport (wstransport.go): an idle event
	// subscription holds the connection's reader and its stream's follower.
	srv.AddTransport(wsTransport{kept: kept, log: log, init: g.websocketInit, readLimit: readLimit, initTimeout: opts.wsInitTimeout})
	srv.AddTransport(transport.SSE{})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})

	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(parserTokenLimit)
	srv.Use(extension.Introspection{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	srv.Use(fieldBudget{maxFields: opts.MaxFields}) // after APQ, which fills in the query
	srv.Use(&complexityLimit{limit: opts.ComplexityLimit})
	srv.Use(depthLimit(opts.DepthLimit))
	srv.AroundOperations(authorizeSubscriptionFields) // before a refused stream takes a slot
	srv.AroundOperations(limitSubscriptions(opts.MaxSubscriptions))
	srv.AroundOperations(r.scopeReads)
	fanout := newFanoutCache()
	if opts.Fanout != nil {
		fanout.stats = opts.Fanout
	}
	srv.AroundOperations(fanoutOperations(fanout))
	srv.AroundOperations(r.Loaders)
	srv.AroundRootFields(authorizeRootFields)
	// One field middleware, not one per concern: gqlgen wraps every field, scalars too, in a
	// closure per interceptor (a page of 50 releases resolves some 1,500 fields).
	srv.AroundFields(fieldMiddleware)
	srv.SetErrorPresenter(presentError(log))
	srv.SetRecoverFunc(recoverPanic(log))
	return retryLaterStatus(g.middleware(srv))
}

// depthLimiter refuses operations nested deeper than a limit.
type depthLimiter struct{ limit int }

func depthLimit(n int) graphql.HandlerExtension { return depthLimiter{limit: n} }

func (depthLimiter) ExtensionName() string { return "DepthLimit" }

func (depthLimiter) Validate(graphql.ExecutableSchema) error { return nil }

func (d depthLimiter) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if depth := selectionDepth(oc.Operation.SelectionSet, oc.Doc.Fragments, 0); depth > d.limit {
		err := gqlerror.Errorf("query depth %d exceeds the limit of %d", depth, d.limit)
		err.Extensions = map[string]any{"code": string(delivery.CodeInvalidInput)}
		return err
	}
	return nil
}

func selectionDepth(set ast.SelectionSet, frags ast.FragmentDefinitionList, seen int) int {
	if seen > 100 {
		return seen // fragment cycles are rejected by validation; stay bounded anyway
	}
	max := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			d = 1 + selectionDepth(s.SelectionSet, frags, seen+1)
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, frags, seen+1)
		case *ast.FragmentSpread:
			if f := frags.ForName(s.Name); f != nil {
				d = selectionDepth(f.SelectionSet, frags, seen+1)
			}
		}
		if d > max {
			max = d
		}
	}
	return max
}

// pageCost is the multiplier of a connection field's selection.
func pageCost(first, last *int) int {
	n := 20
	if first != nil {
		n = *first
	} else if last != nil {
		n = *last
	}
	if n < 1 {
		n = 1
	}
	return n
}

// MaxBody caps request bodies: 413 with a message past the limit, whether the body declares
// its length or is sent chunked. It reads the whole body before the GraphQL transports see it
// (they read all of it anyway), because gqlgen answers a failed read with 200 and an error;
// a body that stops arriving (the server's body read deadline) gets 408, a broken one 400.
// Websocket upgrades and other requests without a body pass through.
func MaxBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			auth.WriteError(w, http.StatusRequestEntityTooLarge, string(delivery.CodeInvalidInput),
				fmt.Sprintf("request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, limit))
			return
		}
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			auth.WriteError(w, http.StatusRequestEntityTooLarge, string(delivery.CodeInvalidInput),
				fmt.Sprintf("request body exceeds the limit of %d bytes", limit))
			return
		case errors.Is(err, os.ErrDeadlineExceeded):
			auth.WriteError(w, http.StatusRequestTimeout, string(delivery.CodeInvalidInput),
				"the request body was not received in time")
			return
		case err != nil:
			auth.WriteError(w, http.StatusBadRequest, string(delivery.CodeInvalidInput),
				"reading the request body: "+err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}
