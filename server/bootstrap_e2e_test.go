package server_test

import (
	"context"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/apitoken"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/server"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// bareConfig is a configuration over a fresh database with no user at all.
func bareConfig(t *testing.T, dialect string, logs logRecorder) server.Config {
	t.Helper()
	cfg := server.Config{DataDir: t.TempDir(), Logger: slog.New(logs), SigningKey: hex.EncodeToString(make([]byte, 32))}
	if dialect == "postgres" {
		if os.Getenv(storagetest.EnvPostgres) == "" {
			t.Skipf("PostgreSQL case skipped: set %s", storagetest.EnvPostgres)
		}
		cfg.DatabaseURL = storagetest.PostgresURL(t)
	}
	return cfg
}

// TestFirstAdminWithoutDev: the first start of an installation without --dev creates the user
// admin and writes a 24-hour token to <data-dir>/initial-admin-token (0600) that works; later
// starts create nothing more and remind that the file is still there.
func TestFirstAdminWithoutDev(t *testing.T) {
	for _, d := range storagetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			logs := newLogRecorder()
			h := serve(t, bareConfig(t, d, logs), "")
			path, err := h.srv.BootstrapFirstAdmin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(h.cfg.DataDir, "initial-admin-token"); path != want {
				t.Fatalf("path %q, want %q", path, want)
			}
			st, err := os.Stat(path)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("token file: %v %v", st, err)
			}
			raw, _ := os.ReadFile(path)
			tok := strings.TrimSpace(string(raw))
			v := h.ok(tok, `{ viewer { user { username } role } }`, nil)
			if dig(v, "viewer", "role") != "ADMIN" || dig(v, "viewer", "user", "username") != "admin" {
				t.Fatalf("viewer: %s", toJSON(v))
			}
			c := h.srv.Engine.Client()
			row := c.ApiToken.Query().OnlyX(ctx)
			if row.Name != delivery.InitialAdminTokenName || time.Until(row.ExpiresAt) > 24*time.Hour || time.Until(row.ExpiresAt) < 23*time.Hour {
				t.Fatalf("token row: %q expires %v", row.Name, row.ExpiresAt)
			}
			if n := c.AuditEvent.Query().Where(auditevent.Actor("first-start")).CountX(ctx); n != 2 {
				t.Fatalf("%d audit events by first-start, want 2 (user and token)", n)
			}
			found := false
			for _, r := range *logs.recs {
				found = found || strings.Contains(r.Message, "created the first admin")
			}
			if !found {
				t.Fatal("the token file's path was not logged")
			}

			// The admin makes a token of their own and revokes the initial one.
			mine := h.ok(tok, `mutation { createApiToken(input: {name: "alice laptop"}) { token } }`, nil)
			own := dig(mine, "createApiToken", "token").(string)
			h.ok(own, `mutation($id: ID!) { revokeApiToken(id: $id) { id } }`, map[string]any{"id": row.ID})
			if r := h.do(tok, `{ viewer { role } }`, nil); r.Status != 401 {
				t.Fatalf("revoked initial token: %d %s", r.Status, r.Raw)
			}

			// A restart (or another replica) creates nothing and warns about the file.
			again := h.restart(t)
			if p, err := again.srv.BootstrapFirstAdmin(ctx); err != nil || p != "" {
				t.Fatalf("second start: %q %v", p, err)
			}
			c = again.srv.Engine.Client()
			if n := c.User.Query().CountX(ctx); n != 1 {
				t.Fatalf("%d users", n)
			}
			if n := c.ApiToken.Query().Where(apitoken.Name(delivery.InitialAdminTokenName)).CountX(ctx); n != 1 {
				t.Fatalf("%d initial tokens", n)
			}
			warned := false
			for _, r := range *logs.recs {
				warned = warned || strings.Contains(r.Message, "still there")
			}
			if !warned {
				t.Fatal("no reminder that the token file is still there")
			}
		})
	}
}

// TestFirstAdminOnceAcrossReplicas: replicas that start at once on one database (their own
// data directories, the shared signing key) create exactly one admin and one token file.
func TestFirstAdminOnceAcrossReplicas(t *testing.T) {
	for _, d := range storagetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			logs := newLogRecorder()
			cfg := bareConfig(t, d, logs)
			const n = 4
			var replicas []*harness
			for i := range n {
				c := cfg
				if d == "postgres" {
					c.DataDir = t.TempDir() // each replica its own disk
				} else if i > 0 {
					// SQLite replicas can only share the database file's directory.
					c.DataDir = cfg.DataDir
				}
				replicas = append(replicas, serve(t, c, ""))
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			paths := make([]string, n)
			errs := make([]error, n)
			for i, r := range replicas {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					paths[i], errs[i] = r.srv.BootstrapFirstAdmin(ctx)
				}()
			}
			close(start)
			wg.Wait()
			var written []string
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("replica %d: %v", i, errs[i])
				}
				if paths[i] != "" {
					written = append(written, paths[i])
				}
			}
			if len(written) != 1 {
				t.Fatalf("token files written: %q, want exactly one", written)
			}
			c := replicas[0].srv.Engine.Client()
			if u, tk := c.User.Query().CountX(ctx), c.ApiToken.Query().CountX(ctx); u != 1 || tk != 1 {
				t.Fatalf("%d users and %d tokens, want 1 and 1", u, tk)
			}
			raw, _ := os.ReadFile(written[0])
			for i, r := range replicas { // the token works on every replica
				if v := r.ok(strings.TrimSpace(string(raw)), `{ viewer { role } }`, nil); dig(v, "viewer", "role") != "ADMIN" {
					t.Fatalf("replica %d: %s", i, toJSON(v))
				}
			}
		})
	}
}
