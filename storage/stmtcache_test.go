package storage

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/cairnhq/cairn/ent"
)

func openCached(t *testing.T) (*ent.Client, *cachingDriver) {
	t.Helper()
	ctx := context.Background()
	db, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d := newCachingDriver(dialect.SQLite, db.SQL, nil)
	return ent.NewClient(ent.Driver(d)), d
}

func (c *stmtCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.stmts)
}

// TestStatementCacheNoDeadlock: more write transactions than pooled connections, each running
// statements the cache has never seen, all finish (a miss inside a transaction must not wait
// for a second connection: they all wait for the write lock one of them holds).
func TestStatementCacheNoDeadlock(t *testing.T) {
	client, d := openCached(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tx, err := client.Tx(ctx)
			if err != nil {
				errs <- err
				return
			}
			if _, err := tx.Group.Create().SetName(fmt.Sprintf("g%d", i)).Save(ctx); err != nil {
				tx.Rollback()
				errs <- err
				return
			}
			rows, err := tx.QueryContext(ctx, fmt.Sprintf("SELECT %d", i)) // a new statement each
			if err != nil {
				tx.Rollback()
				errs <- err
				return
			}
			rows.Close()
			errs <- tx.Commit()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := client.Group.Query().CountX(ctx); n != 24 {
		t.Fatalf("%d groups, want 24", n)
	}
	// The misses inside transactions are prepared in the background and cached.
	deadline := time.Now().Add(10 * time.Second)
	for d.cache.size() < 24 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := d.cache.size(); n < 24 {
		t.Fatalf("%d statements cached, want at least 24", n)
	}
}

// TestStatementCacheReuseAndBound: the same query is prepared once and gives the same results
// inside and outside transactions, rollbacks still roll back, and the cache stops growing at
// its bound while uncached queries still run.
func TestStatementCacheReuseAndBound(t *testing.T) {
	client, d := openCached(t)
	ctx := context.Background()
	client.Group.Create().SetName("ops").SaveX(ctx)
	before := d.cache.size()
	for range 3 {
		if n := client.Group.Query().CountX(ctx); n != 1 {
			t.Fatalf("count %d", n)
		}
	}
	if grown := d.cache.size() - before; grown != 1 {
		t.Fatalf("three runs of one query cached %d statements, want 1", grown)
	}
	tx, err := client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx.Group.Create().SetName("dev").SaveX(ctx)
	if n := tx.Group.Query().CountX(ctx); n != 2 {
		t.Fatalf("inside the transaction: count %d, want 2", n)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if n := client.Group.Query().CountX(ctx); n != 1 {
		t.Fatalf("after the rollback: count %d, want 1", n)
	}
	for i := range maxCachedStatements + 20 {
		var v int
		rows, err := client.QueryContext(ctx, fmt.Sprintf("SELECT %d", i))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			rows.Scan(&v)
		}
		rows.Close()
		if v != i {
			t.Fatalf("SELECT %d gave %d", i, v)
		}
	}
	if n := d.cache.size(); n > maxCachedStatements {
		t.Fatalf("%d statements cached, bound %d", n, maxCachedStatements)
	}
}
