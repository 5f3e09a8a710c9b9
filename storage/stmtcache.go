package storage

import (
	"context"
	"database/sql"
	"sync"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// maxCachedStatements bounds the statement cache: ent's statements are a small, fixed set, except
// those with IN lists of varying length, which stop being cached once the cache is full.
const maxCachedStatements = 512

// cachingDriver is the ent driver for SQLite: it prepares each distinct statement once per pooled
// connection and reuses it, inside transactions too. SQLite (modernc.org/sqlite, a translation
// of the C library to Go) otherwise parses and plans every statement on every call, which was
// about a fifth of the server's CPU on the dispatch path (BENCHMARKS.md). PostgreSQL needs no
// such cache: pgx caches prepared statements per connection itself.
type cachingDriver struct {
	*entsql.Driver
	cache *stmtCache
	// cp, when set, is told of commits and writes outside transactions (checkpoint.go).
	cp *checkpointer
}

func newCachingDriver(name string, db *sql.DB, cp *checkpointer) *cachingDriver {
	c := &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}, cp: cp}
	return &cachingDriver{Driver: entsql.NewDriver(name, entsql.Conn{ExecQuerier: c}), cache: c, cp: cp}
}

// DB returns the underlying database (ent's migrations and entsql.Driver users ask for it).
func (d *cachingDriver) DB() *sql.DB { return d.cache.db }

// Tx starts a transaction whose statements use the cache.
func (d *cachingDriver) Tx(ctx context.Context) (dialect.Tx, error) { return d.BeginTx(ctx, nil) }

// BeginTx starts a transaction with options whose statements use the cache.
func (d *cachingDriver) BeginTx(ctx context.Context, opts *entsql.TxOptions) (dialect.Tx, error) {
	tx, err := d.cache.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	if d.cp != nil {
		return &entsql.Tx{Conn: entsql.Conn{ExecQuerier: &txStmts{tx: tx, cache: d.cache}}, Tx: notifyingTx{Tx: tx, cp: d.cp}}, nil
	}
	return &entsql.Tx{Conn: entsql.Conn{ExecQuerier: &txStmts{tx: tx, cache: d.cache}}, Tx: tx}, nil
}

// Close closes the cached statements and the database.
func (d *cachingDriver) Close() error {
	if d.cp != nil {
		d.cp.close()
	}
	d.cache.close()
	return d.cache.db.Close()
}

// stmtCache holds prepared statements by query text; database/sql prepares each on a pooled
// connection the first time it runs there and keeps it for that connection.
type stmtCache struct {
	db      *sql.DB
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool // being prepared in the background
	closed  bool
	cp      *checkpointer // told of writes outside transactions, when set
	// preparing counts background prepares: close waits for them, because one still running
	// after the database closes may open a connection (and SQLite's -wal and -shm files) after
	// whoever closed it removed the database's directory.
	preparing sync.WaitGroup
}

// stmt returns the cached statement for query, or nil: run the query unprepared. A miss outside a
// transaction prepares the statement at once; a miss inside one prepares it in the background,
// because db.PrepareContext takes a second pooled connection, which could wait forever for the
// write lock this transaction holds (every SQLite connection waiting in BEGIN IMMEDIATE).
func (c *stmtCache) stmt(ctx context.Context, query string, inTx bool) *sql.Stmt {
	c.mu.Lock()
	s, ok := c.stmts[query]
	skip := ok || c.closed || c.pending[query] || len(c.stmts)+len(c.pending) >= maxCachedStatements
	if !skip && inTx {
		c.pending[query] = true
		c.preparing.Add(1)
	}
	c.mu.Unlock()
	if skip {
		return s
	}
	if inTx {
		go func() {
			defer c.preparing.Done()
			c.prepare(context.WithoutCancel(ctx), query)
		}()
		return nil
	}
	return c.prepare(ctx, query)
}

// prepare prepares query and caches it; nil when it cannot (the unprepared call then reports
// the error).
func (c *stmtCache) prepare(ctx context.Context, query string) *sql.Stmt {
	s, err := c.db.PrepareContext(ctx, query)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, query)
	if err != nil {
		return nil
	}
	if prev, ok := c.stmts[query]; ok || c.closed {
		s.Close() // prepared concurrently, or closing
		return prev
	}
	c.stmts[query] = s
	return s
}

func (c *stmtCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.preparing.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.stmts {
		s.Close()
		delete(c.stmts, q)
	}
}

// ExecContext runs a statement outside a transaction.
func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if c.cp != nil {
		defer c.cp.wrote()
	}
	if s := c.stmt(ctx, query, false); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return c.db.ExecContext(ctx, query, args...)
}

// QueryContext runs a query outside a transaction.
func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := c.stmt(ctx, query, false); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, query, args...)
}

// txStmts runs a transaction's statements through the cache: Tx.StmtContext reuses the
// statement already prepared on the transaction's connection.
type txStmts struct {
	tx    *sql.Tx
	cache *stmtCache
}

func (t *txStmts) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := t.cache.stmt(ctx, query, true); s != nil {
		return t.tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

func (t *txStmts) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := t.cache.stmt(ctx, query, true); s != nil {
		return t.tx.StmtContext(ctx, s).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}
