package storage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"
)

// TestCheckpointOffTheWritersPath: SQLite's own checkpoint is only a backstop (wal_autocheckpoint
// is walBackstopPages on every connection), and what writers commit is copied into the database
// file by the checkpointer, with no further write, though the WAL stays far below the backstop
// and below SQLite's default of 1,000 pages.
func TestCheckpointOffTheWritersPath(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var pages int
	if err := db.SQL.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if pages != walBackstopPages {
		t.Fatalf("wal_autocheckpoint = %d, want %d", pages, walBackstopPages)
	}
	d := newCachingDriver(dialect.SQLite, db.SQL, newCheckpointer(db.SQL))
	t.Cleanup(func() { d.cp.close() })
	if err := d.Exec(ctx, "CREATE TABLE blobs (id INTEGER PRIMARY KEY, b TEXT)", []any{}, nil); err != nil {
		t.Fatal(err)
	}
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("still not %s", what)
			}
		}
	}
	waitFor("checkpointed after CREATE TABLE", func() bool { return size(path) > 0 })
	before := size(path)
	tx, err := d.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	row := strings.Repeat("x", 3000)
	for i := range 100 { // about 100 pages: no automatic checkpoint of SQLite's would copy them
		if err := tx.Exec(ctx, "INSERT INTO blobs (id, b) VALUES (?, ?)", []any{i + 1, row}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	waitFor("checkpointed after the commit", func() bool { return size(path) >= before+100*3000 })
}
