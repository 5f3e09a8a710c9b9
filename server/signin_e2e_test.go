package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/server"
)

// signinHarness is a server with cheap password hashes and a strict failure limit.
func signinHarness(t *testing.T) *harness {
	t.Helper()
	cfg := server.Config{DataDir: t.TempDir(), Logger: testLogger(t),
		Passwords:    auth.Argon2id{MemoryKiB: 64, Iterations: 1},
		LoginLimiter: &auth.LoginLimiter{PerUser: 3, PerAddr: 20}}
	h := serve(t, cfg, "")
	h.admin = h.tokenFor("admin", delivery.RoleAdmin)
	return h
}

type httpResult struct {
	status int
	header http.Header
	body   string
}

func (h *harness) raw(method, path string, header map[string]string, body string) httpResult {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.http.URL+path, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpResult{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func login(h *harness, user, password string) httpResult {
	b, _ := json.Marshal(map[string]string{"username": user, "password": password})
	return h.raw("POST", "/auth/login", map[string]string{"Content-Type": "application/json"}, string(b))
}

// cookies returns the session secret and CSRF token a sign-in set, checking their attributes.
func cookies(t *testing.T, r httpResult) (secret, csrf string) {
	t.Helper()
	resp := http.Response{Header: r.header}
	for _, c := range resp.Cookies() {
		switch c.Name {
		case auth.SessionCookie:
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
				t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/", c)
			}
			secret = c.Value
		case auth.CSRFCookie:
			if c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
				t.Errorf("CSRF cookie %+v: want readable by scripts, SameSite=Lax", c)
			}
			csrf = c.Value
		}
	}
	if secret == "" || csrf == "" || csrf != auth.CSRFToken(secret) {
		t.Fatalf("sign-in cookies: session %q, csrf %q", secret, csrf)
	}
	return secret, csrf
}

// cookieGQL posts a GraphQL query with the session cookie and, if not empty, the CSRF header.
func cookieGQL(h *harness, secret, csrf, query string) httpResult {
	body, _ := json.Marshal(map[string]any{"query": query})
	hdr := map[string]string{"Content-Type": "application/json", "Cookie": auth.SessionCookie + "=" + secret}
	if csrf != "" {
		hdr[auth.CSRFHeader] = csrf
	}
	return h.raw("POST", "/graphql", hdr, string(body))
}

func TestSignIn(t *testing.T) {
	h := signinHarness(t)
	pamID := dig(h.ok(h.admin, `mutation { createUser(input: {username: "pam"}) { id hasPassword } }`, nil), "createUser", "id").(string)

	// Passwords: ADMIN only, validated, never returned.
	viewer := h.tokenFor("vic", delivery.RoleViewer)
	if r := h.do(viewer, `mutation($id: ID!) { setUserPassword(id: $id, password: "correct horse battery") { id } }`, map[string]any{"id": pamID}); r.code() != "FORBIDDEN" {
		t.Fatalf("a VIEWER set a password: %s", r.Raw)
	}
	if r := h.do(h.admin, `mutation($id: ID!) { setUserPassword(id: $id, password: "short") { id } }`, map[string]any{"id": pamID}); r.code() != "INVALID_INPUT" {
		t.Fatalf("a short password: %s", r.Raw)
	}
	d := h.ok(h.admin, `mutation($id: ID!) { setUserPassword(id: $id, password: "correct horse battery") { hasPassword } }`, map[string]any{"id": pamID})
	if dig(d, "setUserPassword", "hasPassword") != true {
		t.Fatalf("hasPassword: %v", d)
	}

	// No enumeration: an unknown user and a wrong password get the same answer.
	unknown, wrong := login(h, "nobody", "correct horse battery"), login(h, "pam", "wrong password!")
	if unknown.status != 401 || wrong.status != 401 || unknown.body != wrong.body {
		t.Fatalf("unknown user: %d %s; wrong password: %d %s", unknown.status, unknown.body, wrong.status, wrong.body)
	}

	ok := login(h, "pam", "correct horse battery")
	if ok.status != 200 || ok.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("sign-in: %d %s", ok.status, ok.body)
	}
	secret, csrf := cookies(t, ok)
	if strings.Contains(ok.body, secret) {
		t.Error("the response body carries the session secret")
	}

	// Cookie-authenticated requests: the CSRF header is required on POST.
	if r := cookieGQL(h, secret, csrf, `{ viewer { user { username } } }`); r.status != 200 || !strings.Contains(r.body, `"pam"`) {
		t.Fatalf("query with cookie and CSRF token: %d %s", r.status, r.body)
	}
	for name, c := range map[string]string{"no token": "", "wrong token": wrongToken(csrf), "the secret itself": secret} {
		if r := cookieGQL(h, secret, c, `mutation { ping }`); r.status != 403 || !strings.Contains(r.body, auth.CSRFHeader) {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	// A CSRF token of another (planted) session does not pass for this one.
	if r := cookieGQL(h, secret, auth.CSRFToken("planted"), `mutation { ping }`); r.status != 403 {
		t.Errorf("a planted token: %d %s", r.status, r.body)
	}
	// Bearer tokens keep working beside cookies (the header wins).
	if r := h.do(viewer, `{ viewer { user { username } } }`, nil); r.Status != 200 || !strings.Contains(r.Raw, "vic") {
		t.Errorf("bearer token: %s", r.Raw)
	}
	// The log download (GET) works with the cookie alone.
	if r := h.raw("GET", "/logs/deployments/1", map[string]string{"Cookie": auth.SessionCookie + "=" + secret}, ""); r.status == 401 || r.status == 403 {
		t.Errorf("log download with the cookie: %d %s", r.status, r.body)
	}

	// Changing one's password keeps this session and checks the current password.
	if r := cookieGQL(h, secret, csrf, `mutation { changePassword(currentPassword: "nope nope nope", newPassword: "another good password") }`); !strings.Contains(r.body, "INVALID_INPUT") {
		t.Errorf("change with a wrong password: %s", r.body)
	}
	if r := cookieGQL(h, secret, csrf, `mutation { changePassword(currentPassword: "correct horse battery", newPassword: "another good password") }`); !strings.Contains(r.body, `"changePassword":true`) {
		t.Fatalf("change: %s", r.body)
	}

	// Sign-out needs the CSRF token, ends the session on the server and clears the cookies.
	if r := h.raw("POST", "/auth/logout", map[string]string{"Cookie": auth.SessionCookie + "=" + secret}, ""); r.status != 403 {
		t.Errorf("sign-out without the CSRF token: %d", r.status)
	}
	out := h.raw("POST", "/auth/logout", map[string]string{"Cookie": auth.SessionCookie + "=" + secret, auth.CSRFHeader: csrf}, "")
	if out.status != 204 || !strings.Contains(strings.Join(out.header.Values("Set-Cookie"), "\n"), auth.SessionCookie+"=;") {
		t.Fatalf("sign-out: %d %v", out.status, out.header)
	}
	if r := cookieGQL(h, secret, csrf, `{ viewer { role } }`); r.status != 401 {
		t.Errorf("the signed-out session still works: %d %s", r.status, r.body)
	}
	if r := login(h, "pam", "another good password"); r.status != 200 {
		t.Errorf("sign-in with the new password: %d %s", r.status, r.body)
	}
}

// TestSignInRefusesMalformedAndHostileRequests: wrong content types, bodies that are not the
// expected JSON, oversized bodies and requests from other sites get a 4xx and open nothing.
func TestSignInRefusesMalformedAndHostileRequests(t *testing.T) {
	h := signinHarness(t)
	j := map[string]string{"Content-Type": "application/json"}
	big := `{"username": "pam", "password": "` + strings.Repeat("x", 20000) + `"}`
	for name, c := range map[string]struct {
		header map[string]string
		body   string
		status int
	}{
		"form post":      {map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "username=pam&password=x", 415},
		"text/plain":     {map[string]string{"Content-Type": "text/plain"}, `{"username":"pam","password":"x"}`, 415},
		"no body":        {j, "", 400},
		"not JSON":       {j, "{username: pam", 400},
		"array":          {j, `["pam", "x"]`, 400},
		"unknown field":  {j, `{"username": "pam", "password": "x", "admin": true}`, 400},
		"wrong types":    {j, `{"username": 1, "password": true}`, 400},
		"empty password": {j, `{"username": "pam", "password": ""}`, 400},
		"oversized":      {j, big, 400},
		"other site":     {map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, `{"username":"pam","password":"x"}`, 403},
		"bad origin":     {map[string]string{"Content-Type": "application/json", "Origin": "::"}, `{"username":"pam","password":"x"}`, 403},
	} {
		r := h.raw("POST", "/auth/login", c.header, c.body)
		if r.status != c.status || len(r.header.Values("Set-Cookie")) > 0 {
			t.Errorf("%s: %d %s (cookies %v), want %d", name, r.status, r.body, r.header.Values("Set-Cookie"), c.status)
		}
	}
	if r := h.raw("GET", "/auth/login", nil, ""); r.status == 200 && strings.Contains(r.body, "csrfToken") {
		t.Errorf("GET /auth/login signs in: %d", r.status)
	}
	if r := h.raw("DELETE", "/", nil, ""); r.status != 405 {
		t.Errorf("DELETE /: %d", r.status)
	}
}

// TestSignInRateLimited: past the limit, further attempts are refused with 429 and Retry-After,
// for unknown usernames as for known ones, and even with the right password.
func TestSignInRateLimited(t *testing.T) {
	h := signinHarness(t)
	id := dig(h.ok(h.admin, `mutation { createUser(input: {username: "pam"}) { id } }`, nil), "createUser", "id").(string)
	h.ok(h.admin, `mutation($id: ID!) { setUserPassword(id: $id, password: "correct horse battery") { id } }`, map[string]any{"id": id})
	for _, user := range []string{"pam", "ghost"} {
		for i := range 3 {
			if r := login(h, user, "wrong password!"); r.status != 401 {
				t.Fatalf("%s attempt %d: %d %s", user, i+1, r.status, r.body)
			}
		}
		r := login(h, user, "wrong password!")
		if r.status != 429 || r.header.Get("Retry-After") == "" {
			t.Fatalf("%s past the limit: %d %s %v", user, r.status, r.body, r.header)
		}
	}
	if r := login(h, "pam", "correct horse battery"); r.status != 429 {
		t.Errorf("the right password past the limit: %d", r.status)
	}
	if r := login(h, "PAM ", "correct horse battery"); r.status != 429 {
		t.Errorf("the username's case and spaces evade the limit: %d", r.status)
	}
}

// TestSignInWebsocket: a websocket authenticates with the session cookie when it comes from
// the server's own pages (Origin), and is refused from another site; a revoked session closes
// the open connection.
func TestSignInWebsocket(t *testing.T) {
	h := signinHarness(t)
	id := dig(h.ok(h.admin, `mutation { createUser(input: {username: "pam"}) { id } }`, nil), "createUser", "id").(string)
	h.ok(h.admin, `mutation($id: ID!) { setUserPassword(id: $id, password: "correct horse battery") { id } }`, map[string]any{"id": id})
	secret, csrf := cookies(t, login(h, "pam", "correct horse battery"))
	url := "ws" + strings.TrimPrefix(h.http.URL, "http") + "/graphql"
	dial := func(origin string) (*websocket.Conn, *http.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hdr := http.Header{"Cookie": {auth.SessionCookie + "=" + secret}, "Origin": {origin}}
		return websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: hdr})
	}
	if c, resp, err := dial("https://evil.example"); err == nil {
		c.CloseNow()
		t.Fatal("a websocket from another site was accepted with the session cookie")
	} else if resp == nil || resp.StatusCode != 403 {
		t.Errorf("foreign origin: %v %v", resp, err)
	}
	c, _, err := dial(h.http.URL)
	if err != nil {
		t.Fatalf("same-origin websocket: %v", err)
	}
	defer c.CloseNow()
	ctx := context.Background()
	write := func(v any) {
		b, _ := json.Marshal(v)
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	read := func() map[string]any {
		rctx, cancel := context.WithTimeout(ctx, waitLimit)
		defer cancel()
		for {
			_, b, err := c.Read(rctx)
			if err != nil {
				return map[string]any{"closed": websocket.CloseStatus(err)}
			}
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			if m["type"] != "ping" && m["type"] != "pong" {
				return m
			}
		}
	}
	write(map[string]any{"type": "connection_init"})
	if m := read(); m["type"] != "connection_ack" {
		t.Fatalf("connection_init with the cookie: %v", m)
	}
	write(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": `subscription { agentEvents { __typename } }`}})
	// Signing out closes the open socket (the guard re-checks on the revocation notice).
	if r := h.raw("POST", "/auth/logout", map[string]string{"Cookie": auth.SessionCookie + "=" + secret, auth.CSRFHeader: csrf}, ""); r.status != 204 {
		t.Fatalf("sign-out: %d", r.status)
	}
	if m := read(); m["closed"] != websocket.StatusCode(4403) {
		t.Errorf("after sign-out the socket got %v, want close 4403", m)
	}
}

// wrongToken is token with its first character changed (never to itself).
func wrongToken(token string) string {
	if strings.HasPrefix(token, "x") {
		return "y" + token[1:]
	}
	return "x" + token[1:]
}
