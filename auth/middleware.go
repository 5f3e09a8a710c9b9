package auth

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/cairnhq/cairn/delivery"
)

// Principals resolves a verified API token's id to the acting user, checking
// revocation, expiry of the stored token and the owner's state.
type Principals interface {
	PrincipalForToken(ctx context.Context, jti string) (delivery.Actor, error)
}

// Authenticator authenticates requests with Bearer API tokens.
type Authenticator struct {
	Keys       *Keys
	Principals Principals
	Log        *slog.Logger
}

// Authenticate verifies a raw "Bearer …" header value (or a bare token) and
// returns the actor. Every failure is an UNAUTHENTICATED delivery error.
func (a *Authenticator) Authenticate(ctx context.Context, header string) (delivery.Actor, error) {
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
		if delivery.CodeOf(err) == delivery.CodeInternal {
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

// Middleware rejects requests without a valid API token with 401 and a JSON
// body that says what is wrong; it puts the actor into the request context.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Websocket upgrades may authenticate in connection_init instead; the
		// GraphQL websocket transport's InitFunc does that with Authenticate.
		if r.Header.Get("Authorization") == "" && isWebsocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		actor, err := a.Authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			status, msg := http.StatusUnauthorized, err.Error()
			if delivery.CodeOf(err) == delivery.CodeInternal {
				a.Log.ErrorContext(r.Context(), "authenticating request", "err", err)
				status, msg = http.StatusInternalServerError, "internal error"
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="cairn"`)
			WriteError(w, status, string(delivery.CodeOf(err)), msg)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithActor(r.Context(), actor)))
	})
}

func isWebsocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// WriteError writes a JSON error body {"error": {"code", "message"}}.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}
