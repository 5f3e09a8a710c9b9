package storage_test

import (
	"context"
	"testing"

	"github.com/cairnhq/cairn/ent/user"
	"github.com/cairnhq/cairn/internal/pgexec"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestUnnamedStatements: on PostgreSQL a statement runs through pgx's cache of named prepared
// statements, unless its context is marked pgexec.Unnamed: then it runs as an unnamed statement
// and leaves nothing prepared on the connection; its answer is the same.
func TestUnnamedStatements(t *testing.T) {
	db := storagetest.Open(t, "postgres")
	ctx := context.Background()
	if _, err := db.Client.User.Create().SetUsername("alice").Save(ctx); err != nil {
		t.Fatal(err)
	}
	// The statements of one transaction run on one connection, whose prepared statements the
	// view lists. The same read is run marked first, then plain: marked, it prepares nothing;
	// plain, it is prepared (so the first could have been).
	prepared := func(ctx context.Context) int {
		t.Helper()
		tx, err := db.Client.Tx(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		count := func() int {
			t.Helper()
			var n int
			rows, err := tx.QueryContext(context.Background(), "SELECT count(*) FROM pg_prepared_statements")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			if !rows.Next() || rows.Scan(&n) != nil {
				t.Fatal("counting prepared statements")
			}
			return n
		}
		before := count()
		u, err := tx.User.Query().Where(user.UsernameHasPrefix("ali")).Only(ctx)
		if err != nil || u.Username != "alice" {
			t.Fatalf("reading alice: %v, %v", u, err)
		}
		return count() - before
	}
	if n := prepared(pgexec.Unnamed(context.Background())); n != 0 {
		t.Fatalf("a read marked unnamed prepared %d statements on its connection, want 0", n)
	}
	if n := prepared(context.Background()); n != 1 {
		t.Fatalf("the same read unmarked prepared %d statements on its connection, want 1 (pgx's cache)", n)
	}
}
