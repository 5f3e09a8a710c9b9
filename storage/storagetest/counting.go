package storagetest

import (
	"context"
	"sync/atomic"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/storage"
)

// countingDriver counts the queries sent to the database outside transactions.
type countingDriver struct {
	dialect.Driver
	n *atomic.Int64
}

func (d countingDriver) Query(ctx context.Context, q string, args, v any) error {
	d.n.Add(1)
	return d.Driver.Query(ctx, q, args, v)
}

// Counting returns a second client of db (without storage's interceptors or statement cache)
// that counts the queries it sends outside transactions, for tests that bound the queries of
// an operation (no N+1, no cost per unrelated row).
func Counting(db *storage.DB) (*ent.Client, *atomic.Int64) {
	n := new(atomic.Int64)
	return ent.NewClient(ent.Driver(countingDriver{Driver: entsql.OpenDB(string(db.Dialect), db.SQL), n: n})), n
}
