package server_test

import (
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/server"
)

// oidcHarness starts an in-process OpenID Connect provider (mockoidc) and a server that signs
// people in with it.
func oidcHarness(t *testing.T, create bool) (*harness, *mockoidc.MockOIDC) {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	// The redirect URL is BaseURL's: pick the address first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := m.Config()
	cfg := server.Config{DataDir: t.TempDir(), Logger: testLogger(t), BaseURL: "http://" + addr,
		Passwords:  auth.Argon2id{MemoryKiB: 64, Iterations: 1},
		OIDCIssuer: c.Issuer, OIDCClientID: c.ClientID, OIDCClientSecret: c.ClientSecret,
		OIDCName: "Mock", OIDCCreateUsers: create}
	h := serve(t, cfg, addr)
	h.admin = h.tokenFor("admin", delivery.RoleAdmin)
	return h, m
}

// ssoBrowser follows the whole redirect dance like a browser and returns where it ended and
// its cookie jar.
func ssoBrowser(t *testing.T, h *harness, start string) (*url.URL, http.CookieJar) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(h.http.URL + start)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Request.URL, jar
}

func sessionOf(jar http.CookieJar, h *harness) (secret, csrf string) {
	u, _ := url.Parse(h.http.URL)
	for _, c := range jar.Cookies(u) {
		switch c.Name {
		case auth.SessionCookie:
			secret = c.Value
		case auth.CSRFCookie:
			csrf = c.Value
		}
	}
	return secret, csrf
}

func TestOIDCSignIn(t *testing.T) {
	h, m := oidcHarness(t, false)
	if r := h.raw("GET", "/auth/providers", nil, ""); !strings.Contains(r.body, `"name":"Mock"`) {
		t.Fatalf("providers: %s", r.body)
	}
	pam := &mockoidc.MockUser{Subject: "248289761001", PreferredUsername: "pam", Email: "pam@example.com"}

	// Not linked to a user: refused, with the identity to link.
	m.QueueUser(pam)
	end, jar := ssoBrowser(t, h, "/auth/oidc/login")
	if msg := end.Query().Get("signin_error"); !strings.Contains(msg, "oidc:248289761001") {
		t.Fatalf("unlinked sign-in ended at %s", end)
	}
	if s, _ := sessionOf(jar, h); s != "" {
		t.Fatal("an unlinked sign-in got a session")
	}

	// Linked by an ADMIN (by subject, not by name: a user called pam exists but is not linked).
	id := dig(h.ok(h.admin, `mutation { createUser(input: {username: "pamela", externalIdentities: ["oidc:248289761001"]}) { id } }`, nil), "createUser", "id")
	h.ok(h.admin, `mutation { createUser(input: {username: "pam"}) { id } }`, nil)
	m.QueueUser(pam)
	end, jar = ssoBrowser(t, h, "/auth/oidc/login")
	if end.Path != "/" || end.Query().Get("signin_error") != "" {
		t.Fatalf("linked sign-in ended at %s", end)
	}
	secret, csrf := sessionOf(jar, h)
	if r := cookieGQL(h, secret, csrf, `{ viewer { user { id username } } }`); !strings.Contains(r.body, `"username":"pamela"`) || !strings.Contains(r.body, id.(string)) {
		t.Fatalf("viewer after SSO: %s", r.body)
	}

	// A callback without the state cookie, or with another state, is refused.
	for _, q := range []string{"?code=x&state=y", "?error=access_denied&error_description=no", ""} {
		end, jar := ssoBrowser(t, h, "/auth/oidc/callback"+q)
		if end.Query().Get("signin_error") == "" {
			t.Errorf("callback %q ended at %s", q, end)
		}
		if s, _ := sessionOf(jar, h); s != "" {
			t.Errorf("callback %q opened a session", q)
		}
	}
	// A disabled user is refused.
	h.ok(h.admin, `mutation($id: ID!) { disableUser(id: $id) { id } }`, map[string]any{"id": id})
	m.QueueUser(pam)
	if end, _ := ssoBrowser(t, h, "/auth/oidc/login"); !strings.Contains(end.Query().Get("signin_error"), "disabled") {
		t.Errorf("a disabled user's SSO ended at %s", end)
	}
}

func TestOIDCCreatesUsers(t *testing.T) {
	h, m := oidcHarness(t, true)
	m.QueueUser(&mockoidc.MockUser{Subject: "sub-7", PreferredUsername: "Quinn", Email: "quinn@example.com"})
	end, jar := ssoBrowser(t, h, "/auth/oidc/login")
	if end.Query().Get("signin_error") != "" {
		t.Fatalf("first sign-in ended at %s", end)
	}
	secret, csrf := sessionOf(jar, h)
	if r := cookieGQL(h, secret, csrf, `{ viewer { role user { username email externalIdentities } } }`); !strings.Contains(r.body, `"username":"quinn"`) ||
		!strings.Contains(r.body, `"role":"VIEWER"`) || !strings.Contains(r.body, "oidc:sub-7") {
		t.Fatalf("created user: %s", r.body)
	}
	// Another person claiming an existing username does not take that user over.
	m.QueueUser(&mockoidc.MockUser{Subject: "sub-8", PreferredUsername: "admin"})
	if end, _ := ssoBrowser(t, h, "/auth/oidc/login"); !strings.Contains(end.Query().Get("signin_error"), "not linked") {
		t.Errorf("a claimed username ended at %s", end)
	}
	// A username Cairn cannot take is refused, not mangled.
	m.QueueUser(&mockoidc.MockUser{Subject: "sub-9", PreferredUsername: "Robert'); DROP TABLE users;--"})
	if end, _ := ssoBrowser(t, h, "/auth/oidc/login"); end.Query().Get("signin_error") == "" {
		t.Errorf("a hostile username ended at %s", end)
	}
}
