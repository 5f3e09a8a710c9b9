package server

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
)

// Sign-in routes of the dashboard: POST /auth/login opens a session from a
// username and password and sets its cookies; POST /auth/logout ends it.
// The engine checks passwords and keeps sessions (delivery/sessions.go), the
// auth package owns cookies, CSRF tokens and the failure limiter; this file
// only speaks HTTP.

// maxLoginBody bounds a sign-in request's body.
const maxLoginBody = 8 << 10

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	Username  string    `json:"username"`
	Role      string    `json:"role"`
	CSRFToken string    `json:"csrfToken"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// secureCookies reports whether cookies must be Secure: the server is
// reached over HTTPS (TLS here, or a BaseURL with https behind a proxy).
func (s *Server) secureCookies(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.cfg.BaseURL, "https://")
}

// sameOrigin reports whether a browser request comes from a page of this
// server: its Origin header (sent with every cross-origin and every POST
// request by browsers) names r's host, the BaseURL's host or an allowed
// origin. Requests without Origin (curl, scripts) pass: they cannot carry a
// victim's cookies.
func (s *Server) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	if b, err := url.Parse(s.cfg.BaseURL); err == nil && strings.EqualFold(u.Host, b.Host) {
		return true
	}
	for _, p := range s.cfg.AllowedOrigins {
		if strings.EqualFold(p, u.Host) {
			return true
		}
	}
	return false
}

// clientAddr is the address failures are counted against and sessions
// record: the peer's IP, or, when the peer is a trusted proxy
// (Config.TrustedProxies), the client its forwarding header names.
func (s *Server) clientAddr(r *http.Request) string {
	return ClientAddr(r, s.cfg.TrustedProxies)
}

// ClientAddr returns the client address of r. The peer address is taken
// unless it lies in trusted; then X-Forwarded-For is read from the right
// (each proxy appends the address it received from), skipping trusted
// proxies, and the first other address is the client; without that header,
// the last for= of Forwarded (RFC 7239) is read the same way. A header from
// an untrusted peer is ignored: anyone can send one.
func ClientAddr(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(peer, trusted) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for _, h := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	if len(hops) == 0 {
		for _, v := range r.Header.Values("Forwarded") {
			for _, elem := range strings.Split(v, ",") {
				for _, pair := range strings.Split(elem, ";") {
					k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
					if ok && strings.EqualFold(k, "for") {
						val = strings.Trim(val, `"`)
						if h, _, err := net.SplitHostPort(val); err == nil {
							val = h
						}
						hops = append(hops, strings.Trim(val, "[]"))
					}
				}
			}
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			return host // garbage from a trusted proxy's client: count it against the proxy
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a.String()
		}
	}
	return host
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	// A JSON body cannot be sent by a cross-site form, and a cross-site
	// script would need a CORS preflight the server never grants; the
	// Origin check refuses the rest (login CSRF).
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/json") {
		auth.WriteError(w, http.StatusUnsupportedMediaType, string(delivery.CodeInvalidInput),
			"send the credentials as JSON: Content-Type: application/json")
		return
	}
	if !s.sameOrigin(r) {
		auth.WriteError(w, http.StatusForbidden, string(delivery.CodeForbidden), "sign-in from another site refused")
		return
	}
	var req loginRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxLoginBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		auth.WriteError(w, http.StatusBadRequest, string(delivery.CodeInvalidInput),
			`the body must be {"username": "...", "password": "..."}`)
		return
	}
	if req.Username == "" || req.Password == "" {
		auth.WriteError(w, http.StatusBadRequest, string(delivery.CodeInvalidInput), "username and password are required")
		return
	}
	key := strings.ToLower(strings.TrimSpace(req.Username))
	if len(key) > 100 {
		key = key[:100]
	}
	addr := s.clientAddr(r)
	if ok, wait := s.logins.Allow(key, addr); !ok {
		secs := int(wait.Seconds()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		auth.WriteError(w, http.StatusTooManyRequests, "RATE_LIMITED",
			"too many failed sign-ins: try again in "+(time.Duration(secs)*time.Second).String())
		return
	}
	sess, secret, err := s.Engine.Login(r.Context(), req.Username, req.Password, delivery.SessionMeta{
		Lifetime: s.cfg.SessionLifetime, UserAgent: r.UserAgent(), RemoteAddr: addr,
	})
	if err != nil {
		if delivery.CodeOf(err) == delivery.CodeUnauthenticated {
			s.logins.Fail(key, addr)
			s.log.InfoContext(r.Context(), "sign-in failed", "username", key, "addr", addr)
			auth.WriteError(w, http.StatusUnauthorized, string(delivery.CodeUnauthenticated), err.Error())
			return
		}
		s.log.ErrorContext(r.Context(), "signing in", "err", err)
		auth.WriteError(w, http.StatusInternalServerError, string(delivery.CodeInternal), "internal error")
		return
	}
	s.logins.Succeed(key, addr)
	auth.SetSessionCookies(w, secret, sess.ExpiresAt, s.secureCookies(r))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(loginResponse{
		Username: sess.Edges.User.Username, Role: string(sess.Edges.User.Role),
		CSRFToken: auth.CSRFToken(secret), ExpiresAt: sess.ExpiresAt,
	})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	secret := auth.SessionSecret(r)
	if secret != "" && !auth.ValidCSRF(r, secret) {
		auth.WriteError(w, http.StatusForbidden, string(delivery.CodeForbidden),
			"missing or wrong "+auth.CSRFHeader+" header")
		return
	}
	if err := s.Engine.Logout(r.Context(), secret); err != nil && !errors.Is(err, r.Context().Err()) {
		s.log.ErrorContext(r.Context(), "signing out", "err", err)
		auth.WriteError(w, http.StatusInternalServerError, string(delivery.CodeInternal), "internal error")
		return
	}
	auth.ClearSessionCookies(w, s.secureCookies(r))
	w.WriteHeader(http.StatusNoContent)
}
