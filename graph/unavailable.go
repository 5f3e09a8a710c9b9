package graph

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/cairnhq/cairn/auth"
)

// unavailableKey holds, in a plain HTTP request's context, the flag the error presenter sets
// when it presents an UNAVAILABLE error.
type unavailableKey struct{}

// markUnavailable tells the HTTP edge (retryLaterStatus) that the response holds an UNAVAILABLE
// error; a no-op on websockets and SSE, which have no status to change.
func markUnavailable(ctx context.Context) {
	if f, ok := ctx.Value(unavailableKey{}).(*atomic.Bool); ok {
		f.Store(true)
	}
}

// retryLaterStatus answers 503 with Retry-After, instead of 200, a GraphQL request (POST or GET)
// whose response holds an UNAVAILABLE error (the database failed: the client should retry the
// same request later), so that HTTP clients, proxies and load balancers see what GraphQL
// clients read in extensions.code. The body is the same GraphQL response. Websocket upgrades
// and SSE streams pass through untouched.
func retryLaterStatus(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
			next.ServeHTTP(w, r)
			return
		}
		flag := new(atomic.Bool)
		sw := &statusWriter{ResponseWriter: w, unavailable: flag}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), unavailableKey{}, flag)))
	})
}

// statusWriter turns the 200 of a response that holds an UNAVAILABLE error into a 503.
type statusWriter struct {
	http.ResponseWriter
	unavailable *atomic.Bool
	wrote       bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if code == http.StatusOK && w.unavailable.Load() {
			w.Header().Set("Retry-After", strconv.Itoa(auth.RetryAfterSeconds))
			code = http.StatusServiceUnavailable
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer (flush, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// resolverError marks an error a resolver returned, so that the error presenter never mistakes
// it for an argument that failed to coerce: gqlgen wraps both in a *gqlerror.Error with a path
// (resolver errors since it adds their locations), so their shape alone cannot tell them apart.
type resolverError struct{ err error }

func (e *resolverError) Error() string { return e.err.Error() }
func (e *resolverError) Unwrap() error { return e.err }

// markResolverError wraps a resolver's error in resolverError (fieldMiddleware).
func markResolverError(err error) error {
	if err != nil {
		return &resolverError{err: err}
	}
	return nil
}
