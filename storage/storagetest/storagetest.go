// Package storagetest gives tests fresh, isolated databases: a temporary SQLite
// file, and, when CAIRN_TEST_DATABASE_URL names a PostgreSQL server, a schema
// of its own in that database, dropped after the test.
package storagetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairnhq/cairn/storage"
)

// EnvPostgres names the environment variable with the PostgreSQL DSN for tests.
const EnvPostgres = "CAIRN_TEST_DATABASE_URL"

// Dialects lists the databases every storage test runs on. The postgres case
// skips, with a message, when EnvPostgres is unset.
func Dialects() []string { return []string{"sqlite", "postgres"} }

// Each runs fn as a subtest on every database, each with a fresh migrated
// database.
func Each(t *testing.T, fn func(t *testing.T, db *storage.DB)) {
	t.Helper()
	for _, d := range Dialects() {
		t.Run(d, func(t *testing.T) {
			// The two databases' cases of a test run side by side: each has its own
			// database, and CI's wall time is mostly waiting on them.
			t.Parallel()
			fn(t, Open(t, d))
		})
	}
}

// Open returns a fresh migrated database of the given dialect ("sqlite" or
// "postgres"); a postgres test skips when EnvPostgres is unset.
func Open(t testing.TB, dialect string) *storage.DB {
	t.Helper()
	ctx := context.Background()
	var db *storage.DB
	var err error
	switch dialect {
	case "sqlite":
		db, err = storage.OpenSQLite(ctx, filepath.Join(t.TempDir(), "cairn.db"))
	case "postgres":
		db, err = openPostgresSchema(t)
	default:
		t.Fatalf("unknown dialect %q", dialect)
	}
	if err != nil {
		t.Fatalf("opening %s: %v", dialect, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrating %s: %v", dialect, err)
	}
	return db
}

func openPostgresSchema(t testing.TB) (*storage.DB, error) {
	u, err := postgresSchema(t)
	if err != nil {
		return nil, err
	}
	return storage.OpenPostgres(context.Background(), u, 0)
}

// PostgresURL returns the DSN of a fresh, empty PostgreSQL schema (not migrated: for a server
// under test, which migrates at its start), dropped after the test; the test skips when
// EnvPostgres is unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u, err := postgresSchema(t)
	if err != nil {
		t.Fatalf("creating a postgres schema: %v", err)
	}
	return u
}

// postgresSchema creates a schema of its own in EnvPostgres's database, dropped after the
// test, and returns a DSN whose search_path is that schema.
func postgresSchema(t testing.TB) (string, error) {
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skipf("PostgreSQL case skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvPostgres)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", err
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		return "", err
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("search_path", schema)
	// A test database need not survive a crash of the server: commits that do not wait for
	// the WAL flush spare each write a disk flush and change nothing a test observes.
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	return u.String(), nil
}
