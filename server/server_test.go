package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/server"
)

func TestHealthAndAuthentication(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		for _, path := range []string{"/healthz", "/readyz"} {
			resp, err := http.Get(h.http.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%s = %d without a token, want 200", path, resp.StatusCode)
			}
		}
		// No token → 401 with a JSON reason; nothing reaches GraphQL.
		r := h.do("", `{ viewer { role } }`, nil)
		if r.Status != 401 || !contains(r.Raw, "UNAUTHENTICATED") {
			t.Fatalf("no token: %d %s", r.Status, r.Raw)
		}
		if r := h.do("not-a-jwt", `{ viewer { role } }`, nil); r.Status != 401 || !contains(r.Raw, "malformed") {
			t.Fatalf("garbage token: %d %s", r.Status, r.Raw)
		}
		data := h.ok(h.admin, `{ viewer { user { username } role } }`, nil)
		if !contains(toJSON(data), `"role":"ADMIN"`) {
			t.Fatalf("viewer = %v", data)
		}
		// A revoked token is refused at once.
		created := h.ok(h.admin, `mutation { createApiToken(input: {name: "ci"}) { token apiToken { id } } }`, nil)
		tok := dig(created, "createApiToken", "token").(string)
		id := dig(created, "createApiToken", "apiToken", "id").(string)
		h.ok(tok, `{ viewer { role } }`, nil)
		h.ok(h.admin, `mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }`, map[string]any{"id": id})
		if r := h.do(tok, `{ viewer { role } }`, nil); r.Status != 401 || !contains(r.Raw, "revoked") {
			t.Fatalf("revoked token: %d %s", r.Status, r.Raw)
		}
	})
}

// TestRoleMatrix checks each role against a read and a write of each level:
// a wrong role gets FORBIDDEN and nothing changes.
func TestRoleMatrix(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		viewer := h.tokenFor("vera", delivery.RoleViewer)
		editor := h.tokenFor("eddie", delivery.RoleEditor)
		type call struct {
			name, query string
			min         delivery.Role
		}
		calls := []call{
			{"viewer query", `{ viewer { role } }`, delivery.RoleViewer},
			{"list definitions", `{ definitions(first: 5) { totalCount } }`, delivery.RoleViewer},
			{"list connections", `{ serviceConnections(first: 5) { totalCount } }`, delivery.RoleEditor},
			{"list users", `{ users(first: 5) { totalCount } }`, delivery.RoleAdmin},
			{"audit events", `{ auditEvents(first: 5) { totalCount } }`, delivery.RoleAdmin},
			{"create user", `mutation { createUser(input: {username: "new-USERNAME"}) { id } }`, delivery.RoleAdmin},
			{"create connection", `mutation { createServiceConnection(input: {name: "j-ROLE", kind: JENKINS, url: "https://j.example.com"}) { id } }`, delivery.RoleAdmin},
		}
		tokens := map[delivery.Role]string{delivery.RoleViewer: viewer, delivery.RoleEditor: editor, delivery.RoleAdmin: h.admin}
		for _, role := range []delivery.Role{delivery.RoleViewer, delivery.RoleEditor, delivery.RoleAdmin} {
			for _, c := range calls {
				auditBefore := h.auditCount()
				q := strings.ReplaceAll(c.query, "USERNAME", strings.ToLower(string(role)))
				q = strings.ReplaceAll(q, "ROLE", strings.ToLower(string(role)))
				r := h.do(tokens[role], q, nil)
				allowed := role.AtLeast(c.min)
				switch {
				case allowed && len(r.Errors) > 0:
					t.Errorf("%s as %s: unexpected error %s", c.name, role, r.Raw)
				case !allowed && r.code() != "FORBIDDEN":
					t.Errorf("%s as %s: want FORBIDDEN, got %s", c.name, role, r.Raw)
				case !allowed && h.auditCount() != auditBefore:
					t.Errorf("%s as %s: refused but the audit log grew", c.name, role)
				}
			}
		}
	})
}

func (h *harness) auditCount() int {
	n, err := h.srv.Engine.Client().AuditEvent.Query().Count(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func TestErrorsAndLimits(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		// Schema validation errors are INVALID_INPUT.
		if r := h.do(h.admin, `{ nope }`, nil); r.code() != "INVALID_INPUT" {
			t.Fatalf("unknown field: %s", r.Raw)
		}
		// Engine validation: INVALID_INPUT with the field, nothing written.
		before := h.auditCount()
		r := h.do(h.admin, `mutation { createUser(input: {username: "Bad Name!"}) { id } }`, nil)
		if r.code() != "INVALID_INPUT" || h.auditCount() != before {
			t.Fatalf("bad username: %s", r.Raw)
		}
		// Not found.
		if r := h.do(h.admin, `{ node(id: 999999999) { id } }`, nil); r.code() != "NOT_FOUND" {
			t.Fatalf("unknown node: %s", r.Raw)
		}
		// Depth limit.
		deep := "{ viewer { user { groups { members { groups { members { groups { members { groups { members { groups { members { groups { members { groups { members { username } } } } } } } } } } } } } } } } }"
		if r := h.do(h.admin, deep, nil); r.code() != "INVALID_INPUT" || !contains(r.Raw, "depth") {
			t.Fatalf("deep query: %s", r.Raw)
		}
		// Complexity: a page of 10 000 nested pages of 10 000.
		wide := `{ definitions(first: 10000) { edges { node { releases(first: 10000) { edges { node { id } } } } } } }`
		if r := h.do(h.admin, wide, nil); len(r.Errors) == 0 || !contains(r.Raw, "complexity") {
			t.Fatalf("complex query accepted: %s", r.Raw)
		}
		// Body cap: 413 with a message.
		big := `{"query":"{ viewer { role } }","variables":{"pad":"` + strings.Repeat("x", 2<<20) + `"}}`
		req, _ := http.NewRequest("POST", h.http.URL+"/graphql", strings.NewReader(big))
		req.Header.Set("Authorization", "Bearer "+h.admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !contains(string(b), "exceeds") {
			t.Fatalf("big body: %d %s", resp.StatusCode, b)
		}
	})
}

func TestGraphiQLPage(t *testing.T) {
	h := newHarness(t, "sqlite")
	req, _ := http.NewRequest("GET", h.http.URL+"/graphql", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !contains(string(b), "<html") {
		t.Fatalf("GraphiQL: %d", resp.StatusCode)
	}
	// Offline: every script and stylesheet comes from this server, and is there.
	assertOwnAssets(t, h, string(b), resp.Header)
}

var assetRef = regexp.MustCompile(`(?:src|href)="([^"]+)"`)

// assertOwnAssets checks that a page loads nothing from elsewhere (and that its CSP says so), and
// that every file it names is served.
func assertOwnAssets(t *testing.T, h *harness, page string, hdr http.Header) {
	t.Helper()
	if csp := hdr.Get("Content-Security-Policy"); !contains(csp, "script-src 'self'") || !contains(csp, "connect-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	refs := assetRef.FindAllStringSubmatch(page, -1)
	if len(refs) == 0 {
		t.Fatalf("the page names no assets:\n%s", page)
	}
	for _, m := range refs {
		ref := m[1]
		if !strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "//") {
			t.Errorf("the page loads %s from elsewhere", ref)
			continue
		}
		resp, err := http.Get(h.http.URL + ref)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", ref, resp.StatusCode)
		}
		if strings.HasPrefix(ref, "/assets/") && !contains(resp.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s is not cached: %q", ref, resp.Header.Get("Cache-Control"))
		}
	}
}

// TestDashboardPages: the dashboard answers at / and at its own routes (the page picks the
// view), with assets from this server only; an unknown asset is a 404, not the page.
func TestDashboardPages(t *testing.T) {
	h := newHarness(t, "sqlite")
	for _, p := range []string{"/", "/releases/12", "/deployments/3?x=1", "/releases", "/releases/", "/webhook-deliveries?result=IGNORED", "/profile"} {
		resp, err := http.Get(h.http.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !contains(string(b), `<div id="root">`) || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("GET %s: %d %q", p, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
		assertOwnAssets(t, h, string(b), resp.Header)
	}
	for _, p := range []string{"/assets/nope.js", "/assets/", "/assets", "/metrics", "/definitions/", "/nope"} {
		resp, err := http.Get(h.http.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	// A browser on an unknown page gets the dashboard (it shows "Not found") with a 404; under
	// the server's own paths it gets a plain 404 like programs do.
	for p, page := range map[string]bool{"/nope": true, "/release": true, "/metrics": false, "/logs/x": false, "/graphql/x": false, "/assets/x.js": false} {
		req, _ := http.NewRequest(http.MethodGet, h.http.URL+p, nil)
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 || contains(string(b), `<div id="root">`) != page {
			t.Errorf("browser GET %s: %d, dashboard page %v, want 404 and %v", p, resp.StatusCode, contains(string(b), `<div id="root">`), page)
		}
	}
	resp, err := http.Get(h.http.URL + "/assets/../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if contains(string(b), "module ") {
		t.Error("a path outside the bundle is served")
	}
}

func TestConfigValidation(t *testing.T) {
	_, err := server.New(context.Background(), server.Config{DataDir: t.TempDir(), BaseURL: "not a url"})
	if err == nil || !contains(err.Error(), "base-url") {
		t.Fatalf("bad base URL accepted: %v", err)
	}
	_, err = server.New(context.Background(), server.Config{DataDir: t.TempDir(), DatabaseURL: "mysql://x"})
	if err == nil || !contains(err.Error(), "unsupported database URL") {
		t.Fatalf("bad database URL accepted: %v", err)
	}
	_, err = server.New(context.Background(), server.Config{DataDir: t.TempDir(), DBMaxConns: 2})
	if err == nil || !contains(err.Error(), "--db-max-conns 2 is too small (at least 4)") {
		t.Fatalf("a pool of 2 accepted: %v", err)
	}
	_, err = server.New(context.Background(), server.Config{DataDir: t.TempDir(), WebhookBudget: time.Microsecond})
	if err == nil || !contains(err.Error(), "--webhook-budget 1µs: at least 1ms") {
		t.Fatalf("a webhook budget of 1µs accepted: %v", err)
	}
}

func TestDevBootstrapIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		s, err := server.New(ctx, server.Config{DataDir: dir, Dev: true, Logger: newTestLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.BootstrapDev(ctx); err != nil {
			t.Fatalf("bootstrap %d: %v", i, err)
		}
		n, _ := s.Engine.Client().User.Query().Count(ctx)
		tokens, _ := s.Engine.Client().ApiToken.Query().Count(ctx)
		s.Close()
		if n != 1 || tokens != 1 {
			t.Fatalf("after dev start %d: %d users, %d tokens; want 1 and 1", i+1, n, tokens)
		}
	}
	tok, err := os.ReadFile(filepath.Join(dir, "admin-token"))
	if err != nil || len(tok) < 20 {
		t.Fatalf("admin-token: %v", err)
	}
	// The dashboard password printed (and kept in admin-password) signs the admin in.
	pw, err := os.ReadFile(filepath.Join(dir, "admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(ctx, server.Config{DataDir: dir, Logger: newTestLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Engine.Login(ctx, "admin", strings.TrimSpace(string(pw)), delivery.SessionMeta{}); err != nil {
		t.Fatalf("signing in with admin-password: %v", err)
	}
}

// TestAdaptersCannotWrite: the client the engine hands to the adapters
// (GraphQL, webhooks, dispatcher) refuses every write, so nothing changes a
// domain table around the engine's transactions; the engine itself writes.
func TestAdaptersCannotWrite(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		c := h.srv.Engine.Client()
		_, err := c.Agent.Create().SetName("sneaky").Save(ctx)
		if !errors.Is(err, delivery.ErrWriteOutsideEngine) {
			t.Fatalf("create through the adapters' client: %v", err)
		}
		if _, err := c.User.Update().SetRole("ADMIN").Save(ctx); !errors.Is(err, delivery.ErrWriteOutsideEngine) {
			t.Fatalf("update through the adapters' client: %v", err)
		}
		if _, err := c.AuditEvent.Delete().Exec(ctx); !errors.Is(err, delivery.ErrWriteOutsideEngine) {
			t.Fatalf("delete through the adapters' client: %v", err)
		}
		if n := c.Agent.Query().CountX(ctx); n != 0 {
			t.Fatalf("%d agents after refused writes", n)
		}
		// Reads work, and the engine writes.
		a := registerAgent(t, h.srv.Engine, "real")
		if got := c.Agent.GetX(ctx, a.ID).Name; got != "real" {
			t.Fatalf("read back %q", got)
		}
	})
}
