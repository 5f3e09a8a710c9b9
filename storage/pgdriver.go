package storage

import (
	"context"
	"database/sql"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"

	"github.com/cairnhq/cairn/internal/pgexec"
)

// pgDriver is the ent driver for PostgreSQL: ent's own, whose statements pgx prepares and caches
// per connection, except those whose context pgexec.Unnamed marked, which run as unnamed
// statements.
type pgDriver struct {
	*entsql.Driver
	db *sql.DB
}

func newPGDriver(db *sql.DB) *pgDriver {
	return &pgDriver{Driver: entsql.NewDriver(dialect.Postgres, entsql.Conn{ExecQuerier: pgStatements{db}}), db: db}
}

// DB returns the underlying database.
func (d *pgDriver) DB() *sql.DB { return d.db }

// Tx starts a transaction.
func (d *pgDriver) Tx(ctx context.Context) (dialect.Tx, error) { return d.BeginTx(ctx, nil) }

// BeginTx starts a transaction with options.
func (d *pgDriver) BeginTx(ctx context.Context, opts *entsql.TxOptions) (dialect.Tx, error) {
	tx, err := d.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &entsql.Tx{Conn: entsql.Conn{ExecQuerier: pgStatements{tx}}, Tx: tx}, nil
}

// pgStatements runs statements on a database or transaction, as unnamed statements when their
// context says so (pgx reads a leading QueryExecMode argument as an option, not a parameter).
type pgStatements struct{ entsql.ExecQuerier }

func (s pgStatements) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.ExecQuerier.ExecContext(ctx, query, unnamedArgs(ctx, args)...)
}

func (s pgStatements) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.ExecQuerier.QueryContext(ctx, query, unnamedArgs(ctx, args)...)
}

func unnamedArgs(ctx context.Context, args []any) []any {
	if len(args) == 0 || !pgexec.IsUnnamed(ctx) {
		return args // without arguments pgx sends the simple protocol's unnamed statement anyway
	}
	return append([]any{pgx.QueryExecModeCacheDescribe}, args...)
}

// Close closes the database.
func (d *pgDriver) Close() error { return d.db.Close() }
