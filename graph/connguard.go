package graph

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
)

// Long-lived connections (websocket subscriptions, SSE streams) are
// authenticated once, when they open. The guard re-checks their credential
// while they stay open: every RecheckInterval (default 30 s, which bounds how
// long an expired token keeps streaming) and at once when the engine
// announces a revoked token or a disabled user (EventCredentialRevoked; the
// PostgreSQL bus carries it to every replica). A websocket whose credential
// fails is closed with CloseForbidden; an SSE stream simply ends.

// CloseForbidden is the websocket close code of a connection whose
// credential was refused (at connection_init) or stopped being valid
// (revoked, expired, user disabled): graphql-transport-ws's 4403 Forbidden.
// The legacy graphql-ws protocol defines no code; it gets the same.
const CloseForbidden = 4403

// Defaults of the guard and of the per-connection limit.
const (
	DefaultRecheckInterval  = 30 * time.Second
	DefaultMaxSubscriptions = 20
)

// matchingSubscriber is a bus that filters before buffering
// (eventbus.Bus.SubscribeMatching), so that a guard's subscription sees only
// credential notices.
type matchingSubscriber interface {
	SubscribeMatching(keep func(delivery.Event) bool) (<-chan delivery.Event, func())
}

// connState is the state of one websocket connection, put into the upgrade
// request's context before gqlgen accepts it: the websocket (to close it
// with CloseForbidden), the Authorization header of the upgrade request and
// the number of open subscriptions.
type connState struct {
	creds string

	mu   sync.Mutex
	conn *wsConn
	subs int
}

type connStateKey struct{}

func connStateFrom(ctx context.Context) *connState {
	st, _ := ctx.Value(connStateKey{}).(*connState)
	return st
}

// acquire takes a subscription slot; false when max are open.
func (s *connState) acquire(max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs >= max {
		return false
	}
	s.subs++
	return true
}

func (s *connState) release() {
	s.mu.Lock()
	s.subs--
	s.mu.Unlock()
}

// closeForbidden closes the websocket with CloseForbidden. The transport's
// own close that follows finds the close handshake started and does nothing.
func (s *connState) closeForbidden(reason string) {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c == nil {
		return
	}
	if len(reason) > 120 { // a close reason must fit in a control frame
		reason = reason[:120]
	}
	_ = c.WriteClose(CloseForbidden, reason)
}

// guard re-checks the credentials of open connections. One loop serves every
// connection: one ticker, one bus subscription filtered to credential
// notices, and each distinct credential checked once per pass, so that an
// idle connection costs an entry in a map, not a goroutine, a timer and a
// bus subscription of its own. The loop runs while a connection is watched.
type guard struct {
	authn    *auth.Authenticator
	events   delivery.Subscriber
	interval time.Duration

	mu      sync.Mutex
	watched map[*watched]struct{}
	running bool
	idle    chan struct{} // signalled when the last watched connection goes
}

// watched is one connection under the guard.
type watched struct {
	ctx    context.Context
	creds  string
	refuse func(reason string)
}

// checkTimeout bounds one credential check of the guard's loop.
const checkTimeout = 10 * time.Second

func isCredentialNotice(ev delivery.Event) bool { return ev.Type == delivery.EventCredentialRevoked }

// subscribe returns the credential notices (all events when the bus cannot
// filter; nil when there is no bus).
func (g *guard) subscribe() (<-chan delivery.Event, func()) {
	switch b := g.events.(type) {
	case nil:
		return nil, func() {}
	case matchingSubscriber:
		return b.SubscribeMatching(isCredentialNotice)
	default:
		return b.Subscribe()
	}
}

// watch re-checks creds until ctx ends, and calls refuse once with the
// reason when the credential is no longer valid. A database failure keeps
// the connection (the next check decides). It returns at once.
func (g *guard) watch(ctx context.Context, creds string, refuse func(reason string)) {
	w := &watched{ctx: ctx, creds: creds, refuse: refuse}
	g.mu.Lock()
	if g.watched == nil {
		g.watched, g.idle = map[*watched]struct{}{}, make(chan struct{}, 1)
	}
	g.watched[w] = struct{}{}
	start := !g.running
	g.running = true
	g.mu.Unlock()
	context.AfterFunc(ctx, func() { g.forget(w) })
	if start {
		go g.loop()
	}
}

func (g *guard) forget(w *watched) {
	g.mu.Lock()
	delete(g.watched, w)
	if len(g.watched) == 0 {
		select {
		case g.idle <- struct{}{}:
		default:
		}
	}
	g.mu.Unlock()
}

// stopIfIdle ends the loop (true) when nothing is watched.
func (g *guard) stopIfIdle() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.watched) == 0 {
		g.running = false
		return true
	}
	return false
}

// loop checks the watched credentials every interval and at each credential
// notice, until nothing is watched.
func (g *guard) loop() {
	tick := time.NewTicker(g.interval)
	defer tick.Stop()
	notices, unsubscribe := g.subscribe()
	defer func() { unsubscribe() }()
	for {
		select {
		case <-g.idle:
			if g.stopIfIdle() {
				return
			}
			continue
		case <-tick.C:
		case ev, ok := <-notices:
			if !ok { // lagged: a notice may be lost, so check now
				unsubscribe()
				notices, unsubscribe = g.subscribe()
			} else if !isCredentialNotice(ev) {
				continue
			}
		}
		if !g.check() {
			return
		}
	}
}

// check re-checks every watched credential once and refuses the connections
// of those no longer valid. false when nothing is watched (the loop ends; a
// new watch starts another).
func (g *guard) check() bool {
	if g.stopIfIdle() {
		return false
	}
	g.mu.Lock()
	byCreds := map[string][]*watched{}
	for w := range g.watched {
		if w.ctx.Err() == nil {
			byCreds[w.creds] = append(byCreds[w.creds], w)
		}
	}
	g.mu.Unlock()
	for creds, ws := range byCreds {
		ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
		_, err := g.authn.Authenticate(ctx, creds)
		cancel()
		if err == nil || delivery.CodeOf(err) != delivery.CodeUnauthenticated {
			continue
		}
		for _, w := range ws {
			g.mu.Lock()
			_, still := g.watched[w]
			g.mu.Unlock()
			g.forget(w)
			if still && w.ctx.Err() == nil {
				w.refuse(err.Error())
			}
		}
	}
	return true
}

// middleware prepares long-lived requests for the guard: a connState in
// the context of websocket upgrades (the InitFunc starts the watch once the
// connection is authenticated), and a watch over SSE streams that ends the
// stream when its credential fails.
func (g *guard) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
			st := &connState{creds: credentials(r)}
			r = r.WithContext(context.WithValue(r.Context(), connStateKey{}, st))
		case g.authn != nil && r.Method == http.MethodPost &&
			strings.Contains(r.Header.Get("Accept"), "text/event-stream"):
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			g.watch(ctx, credentials(r), func(string) { cancel() })
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

// credentials returns the credential r was authenticated with by the auth
// middleware (a token or a session cookie), else its Authorization header.
func credentials(r *http.Request) string {
	if c := auth.CredentialFrom(r.Context()); c != "" {
		return c
	}
	return r.Header.Get("Authorization")
}

// websocketInit authenticates a websocket connection: an actor already put in
// the context by the HTTP middleware (Authorization header on the upgrade), or
// the connection_init payload's "authorization" ("Bearer …"). A refused
// credential closes the connection with CloseForbidden. An accepted one is
// watched for as long as the connection lives.
func (g *guard) websocketInit(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	st := connStateFrom(ctx)
	creds := payload.Authorization()
	if _, ok := auth.ActorFrom(ctx); ok {
		if st != nil {
			creds = st.creds
		}
	} else {
		if g.authn == nil {
			return refused(ctx, delivery.ErrUnauthenticated)
		}
		actor, err := g.authn.Authenticate(ctx, creds)
		if err != nil {
			if delivery.ServerFault(err) {
				// The credential could not be checked (the database failed): not a
				// refusal, which clients take as final; they reconnect after this.
				return unavailable(ctx, err)
			}
			return refused(ctx, err)
		}
		ctx = auth.WithActor(ctx, actor)
	}
	if g.authn != nil && st != nil && creds != "" {
		g.watch(ctx, creds, st.closeForbidden)
	}
	return ctx, nil, nil
}

// initRefusal is the error of a refused connection_init: the transport
// closes the connection with code and reason.
type initRefusal struct {
	code   int
	reason string
	err    error
}

func (e *initRefusal) Error() string { return e.err.Error() }
func (e *initRefusal) Unwrap() error { return e.err }

// refused closes a connection whose connection_init was refused with
// CloseForbidden.
func refused(ctx context.Context, err error) (context.Context, *transport.InitPayload, error) {
	return ctx, nil, &initRefusal{code: CloseForbidden, reason: "Forbidden", err: err}
}

// CloseUnavailable is the websocket close code of a connection whose
// credential could not be checked at connection_init (a database failure):
// RFC 6455's 1011, "internal error", after which a client reconnects.
const CloseUnavailable = 1011

// unavailable closes a connection whose credential could not be checked with
// CloseUnavailable; the error sent to the client says nothing of the cause.
func unavailable(ctx context.Context, err error) (context.Context, *transport.InitPayload, error) {
	return ctx, nil, &initRefusal{code: CloseUnavailable, reason: "credential check failed; reconnect",
		err: fmt.Errorf("the credential could not be checked now; reconnect")}
}

// limitSubscriptions refuses a websocket connection's subscription beyond
// max open ones; the slot frees when the subscription ends.
func limitSubscriptions(max int) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		st := connStateFrom(ctx)
		if st == nil || oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
			return next(ctx)
		}
		if !st.acquire(max) {
			err := gqlerror.Errorf("this connection already has %d open subscriptions, the limit: stop one first or open another connection", max)
			err.Extensions = map[string]any{"code": string(delivery.CodeForbidden)}
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{err}})
		}
		// The slot frees when the stream ends (the handler returns nil, before
		// the transport sends complete) or its context does.
		var once sync.Once
		release := func() { once.Do(st.release) }
		context.AfterFunc(ctx, release)
		responses := next(ctx)
		return func(ctx context.Context) *graphql.Response {
			r := responses(ctx)
			if r == nil {
				release()
			}
			return r
		}
	}
}
