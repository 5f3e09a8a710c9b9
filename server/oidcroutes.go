package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
)

// OpenID Connect sign-in: GET /auth/oidc/login redirects to the provider,
// GET /auth/oidc/callback verifies its answer (auth.OIDC) and opens a session
// for the user linked to the person's subject (delivery.LoginExternal).
// GET /auth/providers tells the sign-in page which buttons to show.

// oidcIdentityPrefix is the provider part of linked identities: "oidc:<sub>".
const oidcIdentityPrefix = "oidc:"

func (s *Server) handleProviders(w http.ResponseWriter, _ *http.Request) {
	out := map[string]any{"password": true}
	if s.oidc != nil {
		name := s.cfg.OIDCName
		if name == "" {
			name = "single sign-on"
		}
		out["oidc"] = map[string]string{"name": name, "login": "/auth/oidc/login"}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) handleOIDCLogin(w http.ResponseWriter, r *http.Request) {
	if s.oidc == nil {
		http.NotFound(w, r)
		return
	}
	target, st, err := s.oidc.Start()
	if err != nil {
		s.log.ErrorContext(r.Context(), "starting OIDC sign-in", "err", err)
		auth.WriteError(w, http.StatusInternalServerError, string(delivery.CodeInternal), "internal error")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: auth.OIDCStateCookie, Value: auth.EncodeOIDCState(st), Path: "/auth/oidc", MaxAge: 600,
		HttpOnly: true, Secure: s.secureCookies(r), SameSite: http.SameSiteLaxMode,
	})
	http.Redirect(w, r, target, http.StatusFound)
}

// signinFailed sends the browser back to the sign-in page with a reason.
func signinFailed(w http.ResponseWriter, r *http.Request, msg string) {
	http.Redirect(w, r, "/?signin_error="+url.QueryEscape(msg), http.StatusFound)
}

func (s *Server) handleOIDCCallback(w http.ResponseWriter, r *http.Request) {
	if s.oidc == nil {
		http.NotFound(w, r)
		return
	}
	// The state cookie is single-use.
	http.SetCookie(w, &http.Cookie{Name: auth.OIDCStateCookie, Value: "", Path: "/auth/oidc", MaxAge: -1, HttpOnly: true})
	var st auth.OIDCState
	if c, err := r.Cookie(auth.OIDCStateCookie); err == nil {
		st, _ = auth.DecodeOIDCState(c.Value)
	}
	id, err := s.oidc.Finish(r.Context(), st, r.URL.Query())
	if err != nil {
		s.log.InfoContext(r.Context(), "OIDC sign-in refused", "err", err, "addr", s.clientAddr(r))
		signinFailed(w, r, "single sign-on failed: "+err.Error())
		return
	}
	sess, secret, err := s.Engine.LoginExternal(r.Context(), delivery.ExternalLogin{
		Identity: oidcIdentityPrefix + id.Subject, Method: "oidc " + s.oidc.Issuer(),
		Username: id.Username, DisplayName: id.Name, Email: id.Email, Create: s.cfg.OIDCCreateUsers,
	}, delivery.SessionMeta{Lifetime: s.cfg.SessionLifetime, UserAgent: r.UserAgent(), RemoteAddr: s.clientAddr(r)})
	if err != nil {
		switch delivery.CodeOf(err) {
		case delivery.CodeUnauthenticated, delivery.CodeInvalidInput:
			signinFailed(w, r, strings.TrimPrefix(err.Error(), "signing in "+oidcIdentityPrefix+id.Subject+": "))
		default:
			s.log.ErrorContext(r.Context(), "OIDC sign-in", "err", err)
			signinFailed(w, r, "internal error")
		}
		return
	}
	auth.SetSessionCookies(w, secret, sess.ExpiresAt, s.secureCookies(r))
	http.Redirect(w, r, "/", http.StatusFound)
}
