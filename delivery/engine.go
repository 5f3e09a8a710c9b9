package delivery

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairnhq/cairn/ent"
)

// Dialect names the database engine in use.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite3"
	Postgres Dialect = "postgres"
)

// Options configure an Engine. Zero values get sensible defaults.
type Options struct {
	Dialect Dialect
	Clock   Clock
	Bus     Publisher
	Logger  *slog.Logger
	Secrets *SecretBox
	// BaseURL is the server's external URL, for links in notifications.
	BaseURL string
	// MaxJobLogBytes caps the log text stored per job (default 64 MiB); past it one notice line
	// is stored and further text is dropped (the job goes on).
	MaxJobLogBytes int64
	// EventRetentionAge and EventRetentionCount override how long and how
	// many persisted events PruneEvents keeps (defaults EventRetentionAge
	// and EventRetentionCount).
	EventRetentionAge   time.Duration
	EventRetentionCount int
	// Passwords hashes and verifies people's passwords (auth.Argon2id);
	// without it, passwords cannot be set and nobody signs in with one.
	Passwords PasswordHasher
	// Reads, when set, is what Client returns to the adapters: a client of
	// the same database that refuses every write (RefuseWrites), so that
	// GraphQL, webhooks and the dispatcher can read but change nothing
	// except through the engine. Without it Client returns the engine's own
	// client (tests that seed rows directly).
	Reads *ent.Client
	// CI asks the CI servers about builds: it checks the artifact versions
	// of manual releases and finds the newest admitted builds for
	// scheduled ones. Nil leaves manual versions unchecked and makes
	// schedules reuse the latest release's versions; the server always
	// sets it.
	CI CIServer
	// Gates makes the HTTP calls of deployment gates. Nil fails every HTTP
	// gate's sample with a clear detail; the server always sets it.
	Gates GateCaller
	// AuditKey keys the audit chain's HMACs and its signed checkpoint. It lives outside the
	// database and replicas share it (the server derives it from its secret key unless
	// given one: DeriveAuditKey). Nil uses a fixed key, for tests and tools only.
	AuditKey []byte
	// Webhooks reads stored webhook bodies again for RedeliverWebhookDelivery;
	// nil refuses redeliveries. The server always sets it.
	Webhooks WebhookParser
	// Retention configures release, log and record retention (zero fields: DefaultRetention).
	Retention RetentionConfig
}

// Engine is the release engine. It is safe for concurrent use; several
// engines (server replicas) may share one PostgreSQL database.
type Engine struct {
	// hooksIdle is set while the hook loop has nothing to do (HooksIdle).
	hooksIdle atomic.Bool
	// waiting is what the last full refresh of the waiting reasons saw.
	waiting waitingMemo
	client  *ent.Client
	reads   *ent.Client
	dialect Dialect
	clock   Clock
	bus     Publisher
	log     *slog.Logger
	secrets *SecretBox
	baseURL string
	// timerWake wakes RunTimerLoop when this engine commits a new timer.
	timerWake chan struct{}
	maxLog    int64
	// keepAge and keepCount: the event stream's retention (PruneEvents).
	keepAge   time.Duration
	keepCount int
	// enrichWake wakes RunEnrichmentLoop when this engine commits
	// enrichment work; enrichPass is closed (and replaced) after each pass
	// of the loop, under enrichMu.
	enrichWake chan struct{}
	enrichMu   sync.Mutex
	enrichPass chan struct{}
	sessionState
	// ci asks CI servers about builds (Options.CI); may be nil.
	ci CIServer
	// gates makes HTTP gate calls (Options.Gates); may be nil.
	gates GateCaller
	// auditKey keys the audit chain (Options.AuditKey).
	auditKey []byte
	// sqliteWriter admits one write transaction of this engine at a time on SQLite.
	sqliteWriter chan struct{}
	// definitionLockHeld and definitionLockTxs add up the time transactions held a
	// definition's lock on PostgreSQL (DefinitionLockHeld).
	definitionLockHeld, definitionLockTxs atomic.Int64
	sealState
	// webhooks parses stored webhook bodies (Options.Webhooks); may be nil.
	webhooks WebhookParser
	// retention is Options.Retention with defaults; retStats count its runs.
	retention RetentionConfig
	retStats  retentionStats
}

// New returns an engine over client.
func New(client *ent.Client, opts Options) *Engine {
	e := &Engine{
		client:     client,
		reads:      opts.Reads,
		dialect:    opts.Dialect,
		clock:      opts.Clock,
		bus:        opts.Bus,
		log:        opts.Logger,
		secrets:    opts.Secrets,
		baseURL:    opts.BaseURL,
		timerWake:  make(chan struct{}, 1),
		enrichWake: make(chan struct{}, 1),
		enrichPass: make(chan struct{}),
		maxLog:     opts.MaxJobLogBytes,
		keepAge:    opts.EventRetentionAge,
		keepCount:  opts.EventRetentionCount,
		ci:         opts.CI,
		gates:      opts.Gates,
		webhooks:   opts.Webhooks,
		retention:  opts.Retention.withDefaults(),
	}
	e.passwords = opts.Passwords
	e.auditKey = opts.AuditKey
	if len(e.auditKey) == 0 {
		e.auditKey = defaultAuditKey[:]
	}
	e.sealCond = sync.NewCond(&e.sealMu)
	if e.dialect == Postgres && client != nil {
		heldHooks(client) // a transaction's held rows are stored before any other statement (held.go)
	}
	e.sqliteWriter = make(chan struct{}, 1)
	if e.keepAge <= 0 {
		e.keepAge = EventRetentionAge
	}
	if e.keepCount <= 0 {
		e.keepCount = EventRetentionCount
	}
	if e.maxLog <= 0 {
		e.maxLog = DefaultMaxJobLogBytes
	}
	if e.dialect == "" {
		e.dialect = SQLite
	}
	if e.clock == nil {
		e.clock = SystemClock{}
	}
	if e.bus == nil {
		e.bus = NopPublisher{}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.log = e.log.With("component", "delivery")
	return e
}

// Client returns the ent client for the adapters' read-only queries
// (GraphQL pagination, node(id)). When the engine was given Options.Reads,
// every write through it fails.
func (e *Engine) Client() *ent.Client {
	if e.reads != nil {
		return e.reads
	}
	return e.client
}

// Clock returns the engine's clock.
func (e *Engine) Clock() Clock { return e.clock }

// Secrets returns the engine's secret box.
func (e *Engine) Secrets() *SecretBox { return e.secrets }
