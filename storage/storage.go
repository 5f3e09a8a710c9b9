// Package storage opens Cairn's database (embedded SQLite or PostgreSQL) with
// the settings the engine relies on, and migrates its schema.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/migrate"
)

// DB is an open database: the ent client, its dialect and the raw handle
// (health checks, LISTEN/NOTIFY need it).
type DB struct {
	Client *ent.Client
	// ReadOnly is a client of the same database that refuses every write
	// (delivery.RefuseWrites): the engine hands it to the adapters
	// (delivery.Options.Reads).
	ReadOnly *ent.Client
	Dialect  delivery.Dialect
	SQL      *sql.DB
	// URL is the PostgreSQL DSN, empty for SQLite.
	URL string
	// dir is SQLite's data directory (ProbeWrite reads its free space), empty for PostgreSQL.
	dir string
	// Tightened lists what Open found readable by others in the data
	// directory (the directory, cairn.db and its -wal and -shm files) and
	// restricted to its owner, with the old mode: for the caller to log.
	Tightened []string
}

// Close closes the database.
func (d *DB) Close() error { return d.Client.Close() }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.SQL.PingContext(ctx) }

// ProbeWrite writes one row (an upsert into writeProbeTable, which Migrate creates), so that a
// readiness check notices a database that answers but cannot write: a full disk, a read-only
// standby, a lock that never comes free.
//
// For SQLite it first reads the free space of the data directory: under probeMinFree the disk
// is full for the server's writes even when the probe's own row still fits (a transaction that
// failed on the full disk leaves its frames in the WAL file, space the next small commit reuses
// without asking the filesystem for more; the probe then passed while every release failed).
func (d *DB) ProbeWrite(ctx context.Context) error {
	if d.dir != "" {
		if free, err := freeBytes(d.dir); err == nil && free < probeMinFree {
			return fmt.Errorf("probing a write: %d bytes free in %s: %w", free, d.dir, syscall.ENOSPC)
		}
	}
	q := "INSERT INTO " + writeProbeTable + " (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at"
	if d.Dialect == delivery.Postgres {
		q = strings.Replace(q, "?", "$1", 1)
	}
	if _, err := d.SQL.ExecContext(ctx, q, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("probing a write: %w", err)
	}
	return nil
}

// probeMinFree is the free space under which ProbeWrite finds SQLite's disk full.
const probeMinFree = 1 << 20

// writeProbeTable is the one-row table ProbeWrite writes; it is not part of the ent schema
// (nothing reads it).
const writeProbeTable = "cairn_write_probe"

// IsPostgres reports whether url selects PostgreSQL.
func IsPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// Open opens PostgreSQL when databaseURL is a postgres:// DSN, else the
// SQLite file cairn.db inside dataDir (created if missing). maxConns caps the
// PostgreSQL pool (0: DefaultPostgresConns); SQLite's pool is fixed.
func Open(ctx context.Context, databaseURL, dataDir string, maxConns int) (*DB, error) {
	if IsPostgres(databaseURL) {
		return OpenPostgres(ctx, databaseURL, maxConns)
	}
	if databaseURL != "" {
		return nil, fmt.Errorf("unsupported database URL %q: use postgres://… or leave it empty for SQLite", redact(databaseURL))
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	path := filepath.Join(dataDir, "cairn.db")
	tightened, err := restrictDataDir(dataDir, path)
	if err != nil {
		return nil, err
	}
	db, err := OpenSQLite(ctx, path)
	if err != nil {
		return nil, err
	}
	// SQLite creates -wal and -shm with the database's mode; a file left
	// by an older version is tightened here.
	more, err := restrictDataDir(dataDir, path)
	if err != nil {
		db.Close()
		return nil, err
	}
	db.Tightened = append(tightened, more...)
	return db, nil
}

// restrictDataDir makes the data directory 0700 and the database files
// 0600, creating cairn.db empty (so that SQLite does not create it with the
// umask's mode). It returns what it changed, as "path (was 0644)".
func restrictDataDir(dir, db string) ([]string, error) {
	var changed []string
	restrict := func(p string, want os.FileMode) error {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&^want == 0 {
			return nil
		}
		if err := os.Chmod(p, want); err != nil {
			return fmt.Errorf("restricting %s to mode %#o: %w", p, want, err)
		}
		changed = append(changed, fmt.Sprintf("%s (was %#o)", p, fi.Mode().Perm()))
		return nil
	}
	if err := restrict(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(db, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", db, err)
	}
	f.Close()
	for _, p := range []string{db, db + "-wal", db + "-shm", db + "-journal"} {
		if err := restrict(p, 0o600); err != nil {
			return nil, err
		}
	}
	return changed, nil
}

// Pool sizes: SQLite has one writer whatever the pool (WAL readers run beside it); PostgreSQL
// connections are shared by every replica, so each replica keeps its own pool modest (20 fits
// PostgreSQL's default max_connections of 100 with four replicas and room for tools).
const (
	sqliteConns = 8
	// DefaultPostgresConns is a replica's PostgreSQL pool size unless configured.
	DefaultPostgresConns = 20
	// MinPostgresConns is the smallest pool allowed: the dispatcher, agents' reports, the
	// background loops and API requests each hold a connection at times.
	MinPostgresConns = 4
)

// OpenSQLite opens (creating) the SQLite database at path: WAL, a busy
// timeout, foreign keys on, and write transactions that BEGIN IMMEDIATE (a
// deferred transaction that upgrades to a write fails with SQLITE_BUSY at once,
// whatever the busy timeout).
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	dsn := "file:" + path + "?_txlock=immediate" +
		"&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(30000)" +
		"&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(" + strconv.Itoa(walBackstopPages) + ")"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(sqliteConns)
	// Keep every connection idle rather than database/sql's default of 2: a closed connection
	// loses its prepared statements (the statement cache is per connection), and the write
	// transactions of a busy moment take more than two.
	db.SetMaxIdleConns(sqliteConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening sqlite %s: %w", path, err)
	}
	c, ro := newClients(ent.Driver(newCachingDriver(dialect.SQLite, db, newCheckpointer(db))))
	return &DB{Client: c, ReadOnly: ro, Dialect: delivery.SQLite, SQL: db, dir: filepath.Dir(path)}, nil
}

// OpenPostgres opens the PostgreSQL database at url with a pool of at most maxConns
// connections (0: DefaultPostgresConns).
func OpenPostgres(ctx context.Context, url string, maxConns int) (*DB, error) {
	if maxConns == 0 {
		maxConns = DefaultPostgresConns
	}
	if maxConns < MinPostgresConns {
		return nil, fmt.Errorf("a PostgreSQL pool of %d connections is too small (at least %d)", maxConns, MinPostgresConns)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("opening postgres %s: %w", redact(url), err)
	}
	db.SetMaxOpenConns(maxConns)
	// Keep every connection idle rather than database/sql's default of 2: with more than two
	// concurrent transactions (dispatch, agents' reports, GraphQL) the pool otherwise closes
	// connections as soon as they are returned and opens new ones (a connection handshake, and
	// pgx's per-connection statement cache starts empty, so every statement is parsed again).
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to postgres %s: %w", redact(url), err)
	}
	c, ro := newClients(ent.Driver(entsql.OpenDB(dialect.Postgres, db)))
	return &DB{Client: c, ReadOnly: ro, Dialect: delivery.Postgres, SQL: db, URL: url}, nil
}

// newClients returns two ent clients of one driver, both with the engine's read-scope
// interceptor registered (see delivery.WithReadScope) before anyone can use them: the engine's,
// and the adapters' read-only one (delivery.RefuseWrites).
func newClients(drv ent.Option) (client, readOnly *ent.Client) {
	client = ent.NewClient(drv)
	client.Intercept(delivery.ReadScope())
	readOnly = ent.NewClient(drv)
	readOnly.Intercept(delivery.ReadScope())
	readOnly.Use(delivery.RefuseWrites())
	return client, readOnly
}

// migrateMu serialises migrations within the process.
var migrateMu sync.Mutex

// migrationLockKey serialises schema migrations of replicas starting at once.
const migrationLockKey = 0x6d69677261 // "migra"

// Migrate creates or upgrades the schema. On PostgreSQL it holds an advisory
// lock so that replicas starting together migrate one at a time.
func (d *DB) Migrate(ctx context.Context) error {
	// ent's migration writes package-level table descriptions (migrate.Tables): one
	// migration at a time per process (tests open many databases side by side).
	migrateMu.Lock()
	defer migrateMu.Unlock()
	if d.Dialect == delivery.Postgres {
		conn, err := d.SQL.Conn(ctx)
		if err != nil {
			return fmt.Errorf("migrating: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
			return fmt.Errorf("taking migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockKey) //nolint:errcheck
	}
	if err := d.Client.Schema.Create(ctx, migrate.WithGlobalUniqueID(true)); err != nil {
		return fmt.Errorf("migrating schema: %w", err)
	}
	// ent's migration adds indexes but never drops one (WithDropIndex would drop every index
	// the schema does not declare); the ones a wider index replaced are dropped by name here.
	if d.Dialect == delivery.Postgres {
		// PostgreSQL made the unique columns of earlier schemas constraints, which own their index.
		for _, c := range supersededConstraints {
			if _, err := d.SQL.ExecContext(ctx, "ALTER TABLE "+c.table+" DROP CONSTRAINT IF EXISTS "+c.name); err != nil {
				return fmt.Errorf("dropping superseded constraint %s: %w", c.name, err)
			}
		}
	}
	if d.Dialect == delivery.Postgres {
		for _, q := range delivery.PostgresFunctions() {
			if _, err := d.SQL.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("creating the engine's functions: %w", err)
			}
		}
	}
	// A join table's indexes are not ent's to declare: who is a member of which group is read
	// by user (every permission check), which the (group_id, user_id) key does not serve.
	if _, err := d.SQL.ExecContext(ctx, "CREATE INDEX IF NOT EXISTS group_members_user_id ON group_members (user_id)"); err != nil {
		return fmt.Errorf("creating index group_members_user_id: %w", err)
	}
	if _, err := d.SQL.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+writeProbeTable+" (id INTEGER PRIMARY KEY, at BIGINT NOT NULL)"); err != nil {
		return fmt.Errorf("creating %s: %w", writeProbeTable, err)
	}
	for _, name := range supersededIndexes {
		if _, err := d.SQL.ExecContext(ctx, "DROP INDEX IF EXISTS "+name); err != nil {
			return fmt.Errorf("dropping superseded index %s: %w", name, err)
		}
	}
	return nil
}

// supersededIndexes are indexes of earlier schemas that a later index serves (names as ent
// made them): each costs every insert and helps no query.
var supersededIndexes = []string{
	"auditevent_target_type_target_id", // by auditevent_target_id_target_type_sequence
	"auditevent_actor",                 // by auditevent_actor_sequence
	"jobs_deployment_id_key",           // one job per deployment, before phases: by job_deployment_id_phase
	// one delivery per event and hook, before redeliveries: by hookdelivery_hook_id_event_sequence_redelivery
	"hookdelivery_hook_id_event_sequence",
}

// supersededConstraints are unique constraints of earlier schemas on PostgreSQL (the column's
// unique index, as ent made it, is a constraint there; on SQLite ent's migration drops it).
var supersededConstraints = []struct{ table, name string }{
	{"jobs", "jobs_deployment_id_key"}, // one job per deployment, before phases
}

// redact hides a DSN's password.
func redact(url string) string {
	at := strings.LastIndex(url, "@")
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 {
		return url
	}
	userinfo := url[scheme+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		return url[:scheme+3] + userinfo[:i] + ":***" + url[at:]
	}
	return url
}
