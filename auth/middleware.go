package auth

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/cairnhq/cairn/delivery"
)

// Principals resolves a verified API token's id to the acting user, checking
// revocation, expiry of the stored token and the owner's state.
type Principals interface {
	PrincipalForToken(ctx context.Context, jti string) (delivery.Actor, error)
}

// Authenticator authenticates requests with Bearer API tokens, or with a
// dashboard session cookie (when Sessions is set).
type Authenticator struct {
	Keys       *Keys
	Principals Principals
	// Sessions resolves session cookies; nil: cookies are ignored.
	Sessions Sessions
	Log      *slog.Logger
}

// Authenticate verifies a raw "Bearer …" header value (or a bare token), or
// a session credential (SessionCredential), and returns the actor. Every
// failure is an UNAUTHENTICATED delivery error.
func (a *Authenticator) Authenticate(ctx context.Context, header string) (delivery.Actor, error) {
	if secret, ok := sessionFromCredential(header); ok && a.Sessions != nil {
		actor, err := a.Sessions.PrincipalForSession(ctx, secret)
		if err != nil && !delivery.ServerFault(err) {
			err = &delivery.Error{Code: delivery.CodeUnauthenticated, Message: err.Error()}
		}
		return actor, err
	}
	token, ok := bearer(header)
	if !ok {
		return delivery.Actor{}, &delivery.Error{Code: delivery.CodeUnauthenticated,
			Message: "missing credential: send Authorization: Bearer <token>"}
	}
	claims, err := a.Keys.Verify(token, AudienceAPI)
	if err != nil {
		return delivery.Actor{}, &delivery.Error{Code: delivery.CodeUnauthenticated, Message: err.Error()}
	}
	actor, err := a.Principals.PrincipalForToken(ctx, claims.ID)
	if err != nil {
		if delivery.ServerFault(err) {
			return delivery.Actor{}, err
		}
		return delivery.Actor{}, &delivery.Error{Code: delivery.CodeUnauthenticated, Message: err.Error()}
	}
	if actor.Username != claims.Subject {
		return delivery.Actor{}, &delivery.Error{Code: delivery.CodeUnauthenticated,
			Message: "token subject does not match its owner"}
	}
	return actor, nil
}

func bearer(h string) (string, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return "", false
	}
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		h = strings.TrimSpace(h[7:])
	} else if strings.ContainsAny(h, " \t") {
		return "", false
	}
	return h, h != ""
}

// Middleware rejects requests without a valid credential with 401 and a
// JSON body that says what is wrong; it puts the actor into the request
// context. The credential is the Authorization header, else the session
// cookie. A cookie-authenticated request that may change something (any
// method but GET, HEAD and OPTIONS) must carry the session's CSRF token in
// CSRFHeader (403 otherwise); websocket upgrades are exempt because the
// websocket transport checks their Origin.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		creds := r.Header.Get("Authorization")
		if creds == "" && a.Sessions != nil {
			if secret := SessionSecret(r); secret != "" {
				if !isWebsocketUpgrade(r) && !safeMethod(r.Method) && !ValidCSRF(r, secret) {
					WriteError(w, http.StatusForbidden, string(delivery.CodeForbidden),
						"missing or wrong "+CSRFHeader+" header: a signed-in request must echo the "+CSRFCookie+" cookie")
					return
				}
				creds = SessionCredential(secret)
			}
		}
		// Websocket upgrades may authenticate in connection_init instead; the
		// GraphQL websocket transport's InitFunc does that with Authenticate.
		if creds == "" && isWebsocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		actor, err := a.Authenticate(r.Context(), creds)
		if err != nil {
			status, msg := http.StatusUnauthorized, err.Error()
			switch delivery.CodeOf(err) {
			case delivery.CodeInternal:
				a.Log.ErrorContext(r.Context(), "authenticating request", "err", err)
				status, msg = http.StatusInternalServerError, "internal error"
			case delivery.CodeUnavailable:
				// The credential could not be checked: not the caller's fault, and worth a retry.
				a.Log.WarnContext(r.Context(), "authenticating request", "err", err)
				WriteUnavailable(w, delivery.Unavailable(err).Message)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="cairn"`)
			WriteError(w, status, string(delivery.CodeOf(err)), msg)
			return
		}
		next.ServeHTTP(w, r.WithContext(withCredential(WithActor(r.Context(), actor), creds)))
	})
}

func isWebsocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// RetryAfterSeconds is the Retry-After of every 503 answer: how long a client should wait before
// retrying a request the server could not serve for want of its database.
const RetryAfterSeconds = 5

// WriteUnavailable answers 503 with Retry-After and an UNAVAILABLE error body: the edges' one
// answer to a storage or availability failure (delivery.CodeUnavailable).
func WriteUnavailable(w http.ResponseWriter, message string) {
	w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	WriteError(w, http.StatusServiceUnavailable, string(delivery.CodeUnavailable), message)
}

// WriteError writes a JSON error body {"error": {"code", "message"}}.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}
