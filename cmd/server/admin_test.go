package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/server"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// viewer asks a running server who token is: username and role, or the HTTP status.
func viewer(t *testing.T, url, token string) (string, string, int) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/graphql", strings.NewReader(`{"query":"{ viewer { user { username } role } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			Viewer struct {
				User struct{ Username string }
				Role string
			}
		}
	}
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &out)
	return out.Data.Viewer.User.Username, out.Data.Viewer.Role, resp.StatusCode
}

// TestAdminTokenCommand: "server admin token" works on the server's database and key with
// the server's flags or environment, and its tokens work on the running server: a new name
// becomes an ADMIN, an existing user keeps their role, a disabled one is refused; it is
// audited with who ran it.
func TestAdminTokenCommand(t *testing.T) {
	for _, d := range storagetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			cfg := server.Config{DataDir: dir}
			if d == "postgres" {
				if os.Getenv(storagetest.EnvPostgres) == "" {
					t.Skipf("PostgreSQL case skipped: set %s", storagetest.EnvPostgres)
				}
				cfg.DatabaseURL = storagetest.Open(t, "postgres").URL
			}
			s, err := server.New(ctx, cfg) // creates the signing key in dir
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			hs := httptest.NewServer(s.Handler())
			defer hs.Close()
			flags := []string{"--data-dir", dir}
			if cfg.DatabaseURL != "" {
				flags = append(flags, "--database-url", cfg.DatabaseURL)
			}
			issue := func(args ...string) (string, error) {
				var out bytes.Buffer
				err := run(append([]string{"admin", "token"}, args...), &out)
				return strings.TrimSpace(out.String()), err
			}

			tok, err := issue(append([]string{"--username", "root"}, flags...)...)
			if err != nil {
				t.Fatal(err)
			}
			if u, role, _ := viewer(t, hs.URL, tok); u != "root" || role != "ADMIN" {
				t.Fatalf("new user: %q %q", u, role)
			}

			// The server's environment variables work too (and --username has none).
			vic, err := s.Engine.CreateUser(ctx, delivery.SystemActor("test"), delivery.UserInput{Username: "vic", Role: delivery.RoleViewer})
			if err != nil {
				t.Fatal(err)
			}
			t.Setenv("CAIRN_DATA_DIR", dir)
			t.Setenv("CAIRN_DATABASE_URL", cfg.DatabaseURL)
			t.Setenv("CAIRN_USERNAME", "root")
			tok, err = issue("--username", "vic", "--expires", "1h", "--name", "vic's way back")
			if err != nil {
				t.Fatal(err)
			}
			if u, role, _ := viewer(t, hs.URL, tok); u != "vic" || role != "VIEWER" {
				t.Fatalf("existing user: %q %q", u, role)
			}
			if _, err := issue(); err == nil || !strings.Contains(err.Error(), "--username is required") {
				t.Fatalf("no username: %v", err)
			}

			// Refusals write nothing.
			if _, err := s.Engine.UpdateUser(ctx, delivery.SystemActor("test"), vic.ID, delivery.UserPatch{Disabled: ptr(true)}); err != nil {
				t.Fatal(err)
			}
			c := s.Engine.Client()
			before := c.ApiToken.Query().CountX(ctx)
			for _, tt := range []struct {
				args []string
				want string
			}{
				{[]string{"--username", "vic"}, "disabled"},
				{[]string{"--username", "bad name!"}, "username"},
				{[]string{"--username", "x", "--expires", "9000h"}, "at most"},
				{[]string{"--username", "x", "--expires", "-1h"}, "positive"},
				{[]string{"--username", "x", "--data-dir", t.TempDir(), "--database-url", ""}, "no signing key"},
				{[]string{"--username", "x", "--signing-key", "zz"}, "signing key"},
				{[]string{"--username", "x", "extra"}, "unexpected arguments"},
			} {
				if _, err := issue(tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%v: %v, want an error about %q", tt.args, err, tt.want)
				}
			}
			if n := c.ApiToken.Query().CountX(ctx); n != before {
				t.Fatalf("refused commands created %d tokens", n-before)
			}
			if err := run([]string{"admin", "password"}, io.Discard); err == nil || !strings.Contains(err.Error(), "usage") {
				t.Fatalf("unknown admin command: %v", err)
			}

			// Audited as the command, with the operator.
			evs := c.AuditEvent.Query().Where(auditevent.ActorHasPrefix("server admin token (run by ")).AllX(ctx)
			if len(evs) != 3 { // root created, root's token, vic's token
				t.Fatalf("%d audit events by the command, want 3", len(evs))
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
