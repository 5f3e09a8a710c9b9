// Package storagetest gives tests fresh, isolated databases: a temporary SQLite
// file, and, when CAIRN_TEST_DATABASE_URL names a PostgreSQL server, a database
// of its own on that server, dropped after the test.
//
// A migrated database is a copy of one migrated once per test process (ent's
// migration costs a second or more per database, serialised within the process):
// SQLite copies the template's file, PostgreSQL creates the test's database with
// the template database as its TEMPLATE.
package storagetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
// "postgres"), a copy of the process's migrated template; a postgres test skips
// when EnvPostgres is unset.
func Open(t testing.TB, dialect string) *storage.DB {
	t.Helper()
	ctx := context.Background()
	var db *storage.DB
	var err error
	switch dialect {
	case "sqlite":
		path := filepath.Join(t.TempDir(), "cairn.db")
		if err = copySQLiteTemplate(path); err == nil {
			db, err = storage.OpenSQLite(ctx, path)
		}
	case "postgres":
		var u string
		if u, err = postgresClone(t); err == nil {
			db, err = storage.OpenPostgres(ctx, u, 0)
		}
	default:
		t.Fatalf("unknown dialect %q", dialect)
	}
	if err != nil {
		t.Fatalf("opening %s: %v", dialect, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var sqliteTemplate struct {
	once  sync.Once
	image []byte
	err   error
}

// copySQLiteTemplate writes the migrated template database to path (0600, as
// storage.Open makes a data directory's database).
func copySQLiteTemplate(path string) error {
	sqliteTemplate.once.Do(func() {
		sqliteTemplate.image, sqliteTemplate.err = migrateSQLiteTemplate()
	})
	if sqliteTemplate.err != nil {
		return sqliteTemplate.err
	}
	return os.WriteFile(path, sqliteTemplate.image, 0o600)
}

// migrateSQLiteTemplate migrates a database in a temporary directory and returns its
// file, its WAL folded in.
func migrateSQLiteTemplate() ([]byte, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "cairn-storagetest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "cairn.db")
	db, err := storage.OpenSQLite(ctx, path)
	if err != nil {
		return nil, err
	}
	err = db.Migrate(ctx)
	if err == nil {
		_, err = db.SQL.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("migrating the sqlite template: %w", err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		return nil, errors.New("the sqlite template's WAL was not folded into its file")
	}
	return os.ReadFile(path)
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

// MigratedPostgresURL returns the DSN of a fresh migrated PostgreSQL database (a copy of the
// process's template), dropped after the test; the test skips when EnvPostgres is unset.
func MigratedPostgresURL(t testing.TB) string {
	t.Helper()
	u, err := postgresClone(t)
	if err != nil {
		t.Fatalf("creating a postgres database: %v", err)
	}
	return u
}

// postgresBase returns EnvPostgres, skipping the test when it is unset.
func postgresBase(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skipf("PostgreSQL case skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvPostgres)
	}
	return base
}

// withTestOptions returns u with the options every test connection gets.
func withTestOptions(u *url.URL, schema string) string {
	q := u.Query()
	if schema != "" {
		q.Set("search_path", schema)
	}
	// A test database need not survive a crash of the server: commits that do not wait for
	// the WAL flush spare each write a disk flush and change nothing a test observes.
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	return u.String()
}

// postgresSchema creates a schema of its own in EnvPostgres's database, dropped after the
// test, and returns a DSN whose search_path is that schema.
func postgresSchema(t testing.TB) (string, error) {
	base := postgresBase(t)
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
	return withTestOptions(u, schema), nil
}

// The PostgreSQL template: one database per test process, migrated once, named
// cairn_tpl_<key>; its copies are cairn_tpl_<key>_<n>. The process holds the advisory
// lock (templateLockClass, key) on a connection that lives as long as it does, so a
// later process that finds the lock free knows the owner is gone and drops its
// leftovers (a killed test run cannot drop its own).
const templateLockClass = 0x636169 // "cai"

var pgTemplate pgTemplates

type pgTemplates struct {
	once   sync.Once
	err    error
	admin  *sql.DB // on EnvPostgres's database: creates and drops the copies
	lock   *sql.Conn
	name   string
	base   *url.URL
	copies atomic.Int64
	// dropping serialises the drops, which run after their test rather than in it: a DROP
	// DATABASE took 0.25 s on the loaded 2-core machine, once 51 s (it waits for a
	// checkpoint). A drop the process does not live to make is the next process's orphan.
	dropping sync.Mutex
}

// drop drops the copy name in the background.
func (pg *pgTemplates) drop(name string) {
	go func() {
		pg.dropping.Lock()
		defer pg.dropping.Unlock()
		// FORCE: a connection a test left behind (a server's pool closing) must not keep the
		// database.
		_, _ = pg.admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	}()
}

// postgresClone creates a copy of the process's migrated template database, dropped after
// the test, and returns its DSN.
func postgresClone(t testing.TB) (string, error) {
	base := postgresBase(t)
	pg := &pgTemplate
	pg.once.Do(func() { pg.err = makePostgresTemplate(base) })
	if pg.err != nil {
		return "", pg.err
	}
	name := fmt.Sprintf("%s_%d", pg.name, pg.copies.Add(1))
	if _, err := pg.admin.Exec("CREATE DATABASE " + name + " TEMPLATE " + pg.name); err != nil {
		return "", fmt.Errorf("copying the template database: %w", err)
	}
	t.Cleanup(func() { pg.drop(name) })
	u := *pg.base
	u.Path = "/" + name
	return withTestOptions(&u, ""), nil
}

func makePostgresTemplate(base string) error {
	ctx := context.Background()
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return err
	}
	lock, err := admin.Conn(ctx)
	if err != nil {
		admin.Close()
		return err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	key := int32(binary.BigEndian.Uint32(b[:]) & 0x7fffffff)
	if _, err := lock.ExecContext(ctx, "SELECT pg_advisory_lock($1, $2)", templateLockClass, key); err != nil {
		lock.Close()
		admin.Close()
		return err
	}
	dropOrphanTemplates(ctx, admin, lock)
	name := fmt.Sprintf("cairn_tpl_%d", key)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		lock.Close()
		admin.Close()
		return fmt.Errorf("creating the template database: %w", err)
	}
	tu := *u
	tu.Path = "/" + name
	db, err := storage.OpenPostgres(ctx, withTestOptions(&tu, ""), storage.MinPostgresConns)
	if err == nil {
		err = db.Migrate(ctx)
		db.Close()
	}
	if err != nil {
		return fmt.Errorf("migrating the template database: %w", err)
	}
	pgTemplate.admin, pgTemplate.lock, pgTemplate.name, pgTemplate.base = admin, lock, name, u
	return nil
}

// dropOrphanTemplates drops the template databases, and their copies, of test processes
// that are gone (their advisory lock is free).
func dropOrphanTemplates(ctx context.Context, admin *sql.DB, lock *sql.Conn) {
	rows, err := admin.QueryContext(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'cairn\_tpl\_%'`)
	if err != nil {
		return
	}
	byKey := map[int64][]string{}
	for rows.Next() {
		var name string
		if rows.Scan(&name) != nil {
			continue
		}
		k, _, _ := strings.Cut(strings.TrimPrefix(name, "cairn_tpl_"), "_")
		key, err := strconv.ParseInt(k, 10, 32)
		if err != nil {
			continue
		}
		byKey[key] = append(byKey[key], name)
	}
	rows.Close()
	for key, names := range byKey {
		var free bool
		if lock.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1, $2)", templateLockClass, key).Scan(&free) != nil || !free {
			continue
		}
		// Copies first (longer names): the template cannot go while a copy is made from it.
		sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
		for _, name := range names {
			_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		}
		_, _ = lock.ExecContext(ctx, "SELECT pg_advisory_unlock($1, $2)", templateLockClass, key)
	}
}

// SQLitePlan returns the steps (the detail column) of SQLite's EXPLAIN QUERY PLAN for q.
func SQLitePlan(t testing.TB, db *storage.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.SQL.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("explaining %s: %v", q, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
