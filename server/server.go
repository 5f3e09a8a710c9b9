package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/graph"
	"github.com/cairnhq/cairn/integrations/enrich"
	"github.com/cairnhq/cairn/integrations/gates"
	"github.com/cairnhq/cairn/integrations/hook"
	"github.com/cairnhq/cairn/integrations/jenkins"
	"github.com/cairnhq/cairn/integrations/teambuild"
	"github.com/cairnhq/cairn/internal/netguard"
	"github.com/cairnhq/cairn/server/dispatch"
	"github.com/cairnhq/cairn/server/eventbus"
	"github.com/cairnhq/cairn/server/hooks"
	"github.com/cairnhq/cairn/server/metrics"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/web"
)

// Server is a running Cairn: database, engine and HTTP routes. Background
// loops start with Start and stop with Close.
type Server struct {
	cfg    Config
	log    *slog.Logger
	db     *storage.DB
	Engine *delivery.Engine
	Keys   *auth.Keys
	authn  *auth.Authenticator
	mux    *http.ServeMux
	bus    *eventbus.Bus
	// pgBus carries events between replicas (PostgreSQL only).
	pgBus  *eventbus.PG
	mailer delivery.Mailer
	hub    *dispatch.Hub
	// metrics is the Prometheus registry (/metrics; see Config.MetricsAddr).
	metrics *metrics.Metrics
	// fanout counts the GraphQL fan-out cache's hits and misses (reported by metrics).
	fanout *graph.FanoutStats
	// ci reads builds from Jenkins and Azure DevOps: enrichment and the
	// build lists of manual releases.
	ci *enrich.Fetcher
	// outbound guards the addresses gates and hooks may call.
	outbound *netguard.Guard
	// logins counts failed sign-ins.
	logins *auth.LoginLimiter
	// oidc is the OpenID Connect provider, if configured.
	oidc *auth.OIDC
	// devPass is the dev admin's dashboard password (--dev only).
	devPass string

	// base is the parent context of every request; Close cancels it so that
	// hijacked (websocket) connections end too.
	base       context.Context
	cancelBase context.CancelFunc
	wg         sync.WaitGroup
}

// New opens the database, migrates it, loads or creates the keys and builds
// the routes. It starts nothing in the background; call Start.
func New(ctx context.Context, cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	db, err := storage.Open(ctx, cfg.DatabaseURL, cfg.DataDir, cfg.DBMaxConns)
	if err != nil {
		return nil, err
	}
	for _, p := range db.Tightened {
		log.Info("data directory was readable by others: restricted to its owner", "path", p)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	seed, err := keyFrom(cfg.SigningKey, filepath.Join(cfg.DataDir, "signing.key"))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("loading signing key: %w", err)
	}
	keys, err := auth.NewKeys(seed, auth.DefaultIssuer, nil)
	if err != nil {
		db.Close()
		return nil, err
	}
	secretKey, err := keyFrom(cfg.SecretKey, filepath.Join(cfg.DataDir, "secret.key"))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("loading secret key: %w", err)
	}
	box, err := delivery.NewSecretBox(secretKey)
	if err != nil {
		db.Close()
		return nil, err
	}
	auditKey := delivery.DeriveAuditKey(secretKey)
	if cfg.AuditKey != "" {
		if auditKey, err = auth.ParseKey(cfg.AuditKey); err != nil {
			db.Close()
			return nil, fmt.Errorf("loading audit key: %w", err)
		}
	}
	mailer, err := newMailer(cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	// Events fan out in process; with PostgreSQL they also reach the other
	// replicas through LISTEN/NOTIFY.
	bus := eventbus.New(0)
	var publisher delivery.Publisher = bus
	var pgBus *eventbus.PG
	if db.Dialect == delivery.Postgres {
		pgBus = eventbus.NewPG(bus, db.SQL, db.URL, eventbus.PGOptions{Logger: log})
		publisher = pgBus
	}
	if err := cfg.Retention.Validate(); err != nil {
		db.Close()
		return nil, err
	}
	ci := &enrich.Fetcher{HTTP: cfg.CIHTTPClient, JiraKeys: cfg.JiraKeys}
	outbound, err := outboundGuard(cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	engine := delivery.New(db.Client, delivery.Options{
		Dialect: db.Dialect, Logger: log, Secrets: box, BaseURL: cfg.BaseURL, Bus: publisher, Reads: db.ReadOnly, CI: ci,
		Passwords: cfg.Passwords,
		Gates:     gates.New(gates.Guarded(outbound)),
		AuditKey:  auditKey,
		Webhooks:  hook.Parsers{hook.SourceJenkins: jenkins.NewAdapter(nil), hook.SourceTeamBuild: teambuild.NewAdapter()},
		Retention: cfg.Retention,
	})
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var hub *dispatch.Hub
	fanout := &graph.FanoutStats{}
	m := metrics.New(metrics.Sources{
		FanoutHits:        fanout.Hits,
		FanoutMisses:      fanout.Misses,
		Gauges:            engine.ReadGauges,
		Subscribers:       bus.Subscribers,
		LaggedSubscribers: bus.Lagged,
		AgentConnections:  func() int { return hub.Connected() },
		Retention:         engine.RetentionStats,
		Logger:            log.With("component", "metrics"),
	})
	hub = dispatch.NewHub(dispatch.Options{
		Engine: engine, Keys: keys, Events: bus, Logger: log, Grace: cfg.AgentGrace, Observer: m,
	})
	s := &Server{
		cfg: cfg, log: log, db: db, Engine: engine, Keys: keys,
		authn:      &auth.Authenticator{Keys: keys, Principals: principals{engine}, Sessions: principals{engine}, Log: log},
		logins:     cfg.LoginLimiter,
		base:       base,
		cancelBase: cancel,
		bus:        bus,
		fanout:     fanout,
		pgBus:      pgBus,
		mailer:     mailer,
		hub:        hub,
		metrics:    m,
		ci:         ci,
		outbound:   outbound,
	}
	if cfg.OIDCIssuer != "" {
		s.oidc, err = auth.NewOIDC(ctx, auth.OIDCConfig{
			Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCClientSecret,
			RedirectURL:   strings.TrimRight(cfg.BaseURL, "/") + "/auth/oidc/callback",
			UsernameClaim: cfg.OIDCUsernameClaim, HTTPClient: cfg.OIDCHTTPClient,
		})
		if err != nil {
			db.Close()
			return nil, err
		}
	}
	s.routes()
	return s, nil
}

// outboundGuard is the one address guard of gates and hooks, from cfg.
func outboundGuard(cfg Config) (*netguard.Guard, error) {
	denied, flag := netguard.DefaultDenied, "outbound-denied-networks"
	spec := cfg.OutboundDeniedNetworks
	if spec == "" && cfg.GateDeniedNetworks != "" {
		spec, flag = cfg.GateDeniedNetworks, "gate-denied-networks"
	}
	if spec != "" {
		var err error
		if denied, err = netguard.ParseNetworks(spec); err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
	}
	allowed, err := netguard.ParseNetworks(cfg.OutboundAllowedNetworks)
	if err != nil {
		return nil, fmt.Errorf("outbound-allowed-networks: %w", err)
	}
	return netguard.New(denied, allowed), nil
}

// RefuseOutbound records addr as one of this server's own listen addresses:
// no HTTP gate or outgoing hook may call it, whatever networks are allowed.
// Run does it for its listeners; a caller that serves Handler on a listener
// of its own calls it with that listener's address.
func (s *Server) RefuseOutbound(addr net.Addr) { s.outbound.AddSelf(addr) }

// principals resolves token ids with the engine, at the engine's time.
type principals struct{ e *delivery.Engine }

func (p principals) PrincipalForToken(ctx context.Context, jti string) (delivery.Actor, error) {
	return p.e.PrincipalForToken(ctx, jti, p.e.Clock().Now())
}

func (p principals) PrincipalForSession(ctx context.Context, secret string) (delivery.Actor, error) {
	return p.e.PrincipalForSession(ctx, secret, p.e.Clock().Now())
}

// keyFrom returns the hex key given, or the one in file (created if missing).
func keyFrom(given, file string) ([]byte, error) {
	if given != "" {
		return auth.ParseKey(given)
	}
	return auth.LoadOrCreateKeyFile(file)
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok\n"))
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.db.Ping(ctx); err != nil {
			s.log.WarnContext(ctx, "readiness check failed", "err", err)
			w.Header().Set("Retry-After", strconv.Itoa(auth.RetryAfterSeconds))
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		// A database that answers may still refuse every write (a full disk, a read-only
		// standby): a replica that cannot write is not ready.
		if err := s.db.ProbeWrite(ctx); err != nil {
			s.log.WarnContext(ctx, "readiness check failed", "err", err)
			msg := "database cannot write"
			if u := delivery.Unavailable(err); u != nil {
				msg += ": " + strings.TrimPrefix(u.Message, "storage unavailable: ")
			}
			w.Header().Set("Retry-After", strconv.Itoa(auth.RetryAfterSeconds))
			http.Error(w, msg, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ready\n"))
	})
	// Agents authenticate with their registration token or credential, not an API token.
	s.hub.Mount(s.mux)
	s.mux.Handle("GET /logs/deployments/{id}", s.authn.Middleware(dispatch.LogsHandler(s.Engine, s.log.With("component", "logs"))))
	s.mux.Handle("POST /api/securefiles", s.authn.Middleware(secureFileUploadHandler(s.Engine, s.log.With("component", "securefiles"))))
	// CI webhooks authenticate with their connection's webhook secret, not
	// with API tokens, so they sit outside the API middleware.
	// One admission control for both: a request that would not be answered
	// within the budget, or beyond the bound in flight, is shed with 503 +
	// Retry-After at once (hook.Limiter).
	shed := hook.NewLimiter(hook.LimiterConfig{MaxInFlight: s.cfg.WebhookMaxInFlight,
		Wait: s.cfg.WebhookWait, Budget: s.cfg.WebhookBudget})
	s.mux.Handle("POST /webhooks/jenkins/{connection}",
		s.metrics.Webhook("jenkins", shed.Wrap(jenkins.NewHandler(s.Engine, s.log.With("component", "webhook.jenkins"), nil))))
	s.mux.Handle("POST /webhooks/teambuild/{connection}",
		s.metrics.Webhook("teambuild", shed.Wrap(teambuild.NewHandler(s.Engine, s.log.With("component", "webhook.teambuild"), nil))))
	if s.cfg.MetricsToken != "" {
		s.mux.Handle("GET /metrics", s.metrics.TokenHandler(s.cfg.MetricsToken))
	}
	gql := graph.NewHandler(&graph.Resolver{Engine: s.Engine, Tokens: s.Keys, Log: s.log, Events: s.bus, Builds: s.ci}, graph.Options{
		Authenticator:  s.authn,
		OriginPatterns: s.cfg.AllowedOrigins,
		Fanout:         s.fanout,
	})
	api := s.authn.Middleware(graph.MaxBody(s.cfg.MaxBodyBytes, gql))
	assets := web.Handler()
	s.mux.Handle("/graphql", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The GraphiQL page holds no data; its requests carry the session
		// cookie or a token (headers editor), so a browser may load the page
		// itself. Its scripts and styles are served from the bundle below.
		if r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html") &&
			r.Header.Get("Upgrade") == "" {
			web.ServePage(w, r, "graphiql.html")
			return
		}
		api.ServeHTTP(w, r)
	}))
	s.mux.HandleFunc("POST /auth/login", s.handleLogin)
	s.mux.HandleFunc("POST /auth/logout", s.handleLogout)
	s.mux.HandleFunc("GET /auth/providers", s.handleProviders)
	s.mux.HandleFunc("GET /auth/oidc/login", s.handleOIDCLogin)
	s.mux.HandleFunc("GET /auth/oidc/callback", s.handleOIDCCallback)
	// The dashboard: static files, no data; every view reads through /graphql.
	s.mux.Handle("/", assets)
}

// Events returns the server's in-process event bus (every engine event of this replica, and of
// the others with PostgreSQL), for programs that embed the server and wait on what it does:
// tests and benchmarks.
func (s *Server) Events() *eventbus.Bus { return s.bus }

// DB returns the server's database, for tests and benchmarks that seed rows
// directly; the server itself writes only through its Engine.
func (s *Server) DB() *storage.DB { return s.db }

// MetricsHandler serves the Prometheus metrics without authentication (what Run serves on
// Config.MetricsAddr).
func (s *Server) MetricsHandler() http.Handler { return s.metrics.Handler() }

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(mergeCancel(r.Context(), s.base)) // a copy: net/http keeps the original
		bodyDeadline(w, r, s.cfg.BodyReadTimeout)
		s.mux.ServeHTTP(w, r)
	})
}

// mergeCancel returns ctx that is also canceled when base is.
func mergeCancel(ctx, base context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(base, cancel)
	context.AfterFunc(ctx, func() { stop() })
	return ctx
}

// Start runs the background work until Close: agent dispatch, the
// PostgreSQL event bus, timed work (approval timeouts, deferred deployments,
// cron triggers), approval email, outgoing hooks, the enrichment of
// CI-triggered releases from their CI servers, and event-stream pruning.
func (s *Server) Start() {
	s.hub.Start()
	if s.pgBus != nil {
		s.goLoop(func(ctx context.Context) {
			if err := s.pgBus.Run(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("event bus stopped", "err", err)
			}
		})
	}
	// The timer and enrichment loops wake on their own engine's commits; the
	// work other replicas commit wakes them through the PostgreSQL bus, so that
	// it runs even if the replica that committed it stops first.
	s.goLoop(func(ctx context.Context) {
		s.Engine.RunTimerLoop(ctx, eventbus.Wake(ctx, s.bus, remoteOf(delivery.EventTimersChanged)))
	})
	s.goLoop(func(ctx context.Context) {
		wake := eventbus.Wake(ctx, s.bus, func(ev delivery.Event) bool { return ev.Type == delivery.EventApprovalPending })
		s.Engine.RunNotificationLoop(ctx, s.mailer, wake)
	})
	s.goLoop(func(ctx context.Context) {
		// Every persisted event may match a hook, unless the last round found no hook enabled
		// and nothing pending (HooksIdle): then only a hook's change or a redelivery can give
		// it work. RunHookLoop logs its own errors and returns when ctx ends.
		wake := eventbus.Wake(ctx, s.bus, func(ev delivery.Event) bool {
			return ev.Type == delivery.EventHookRedelivery || ev.Type == delivery.EventHooksChanged ||
				ev.Sequence > 0 && !s.Engine.HooksIdle()
		})
		_ = s.Engine.RunHookLoop(ctx, hooks.NewGuardedPoster(0, s.outbound), wake)
	})
	s.goLoop(func(ctx context.Context) {
		s.Engine.RunEnrichmentLoop(ctx, s.ci, eventbus.Wake(ctx, s.bus, remoteOf(delivery.EventEnrichmentQueued)))
	})
	// The event stream keeps 24 h or 10,000 events for subscribers that
	// resume (afterSequence); older ones are pruned hourly.
	s.goLoop(func(ctx context.Context) { s.Engine.RunEventPruneLoop(ctx, 0) })
	// Writers seal their own audit rows and events after commit; the loop seals what a
	// replica that stopped in between left.
	s.goLoop(func(ctx context.Context) { s.Engine.RunSealLoop(ctx, 0) })
	// Release, log and record retention on its persisted schedule (one replica per run).
	s.goLoop(func(ctx context.Context) { s.Engine.RunRetentionLoop(ctx) })
}

// remoteOf selects the events of type typ that another replica committed.
func remoteOf(typ string) func(delivery.Event) bool {
	return func(ev delivery.Event) bool { return ev.Remote && ev.Type == typ }
}

// goLoop runs fn until Close cancels the base context.
func (s *Server) goLoop(fn func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn(s.base)
	}()
}

// Close stops background loops, ends open streams (agent sockets with StatusGoingAway) and
// closes the database.
func (s *Server) Close() error {
	s.cancelBase()
	s.hub.Close()
	s.bus.Close()
	s.wg.Wait()
	return s.db.Close()
}

// Run serves until ctx is canceled, then shuts down gracefully: it stops
// accepting, ends websocket streams (which http.Server.Shutdown leaves open),
// waits for requests in flight up to the shutdown timeout, and closes the
// database.
func Run(ctx context.Context, cfg Config) error {
	s, err := New(ctx, cfg)
	if err != nil {
		return err
	}
	if cfg.Dev {
		err = s.BootstrapDev(ctx)
	} else {
		_, err = s.BootstrapFirstAdmin(ctx)
	}
	if err != nil {
		s.Close()
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		s.Close()
		return fmt.Errorf("listening on %s: %w", s.cfg.Addr, err)
	}
	s.RefuseOutbound(ln.Addr())
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return s.base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	var ms *http.Server
	if s.cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", s.cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			s.Close()
			return fmt.Errorf("listening on %s (--metrics-addr): %w", s.cfg.MetricsAddr, err)
		}
		s.RefuseOutbound(mln.Addr())
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.MetricsHandler())
		ms = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
		s.log.Info("metrics listening", "addr", mln.Addr().String())
		go func() { errc <- ms.Serve(mln) }()
	}
	s.Start()
	s.log.Info("cairn listening", "addr", ln.Addr().String(), "database", string(s.db.Dialect), "data_dir", s.cfg.DataDir)
	go func() { errc <- hs.Serve(ln) }()
	var local *devAgent
	if cfg.Dev && cfg.DevAgent {
		local = s.startDevAgent(ctx, ln.Addr())
	}
	select {
	case err := <-errc:
		local.stop()
		s.Close()
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "timeout", s.cfg.ShutdownTimeout)
	// The dev agent goes first, while the server can still take its jobs' results.
	local.stop()
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	s.cancelBase() // ends subscriptions and agent sockets (hijacked connections)
	shutdownErr := hs.Shutdown(sctx)
	if ms != nil {
		ms.Shutdown(sctx)
	}
	if err := s.Close(); err != nil && shutdownErr == nil {
		shutdownErr = err
	}
	if errors.Is(shutdownErr, context.DeadlineExceeded) {
		return errors.New("shutdown timed out; some requests were cut off")
	}
	return shutdownErr
}

// BootstrapDev creates (once) the admin user and writes a valid admin API
// token to DataDir/admin-token, printing where it is and a ready-to-paste curl example.
func (s *Server) BootstrapDev(ctx context.Context) error {
	admin, err := s.Engine.EnsureAdmin(ctx, "admin")
	if err != nil {
		return fmt.Errorf("creating dev admin: %w", err)
	}
	if s.devPass, err = s.devPassword(ctx, admin); err != nil {
		return err
	}
	path := filepath.Join(s.cfg.DataDir, "admin-token")
	if b, err := os.ReadFile(path); err == nil {
		if _, err := s.authn.Authenticate(ctx, "Bearer "+strings.TrimSpace(string(b))); err == nil {
			s.printDevHelp(path)
			return nil
		}
		s.log.Warn("admin-token is no longer valid; issuing a new one", "path", path)
	}
	sys := delivery.SystemActor("dev-bootstrap")
	row, err := s.Engine.CreateAPIToken(ctx, sys, "dev admin token", admin.ID, 365*24*time.Hour, nil)
	if err != nil {
		return fmt.Errorf("creating dev admin token: %w", err)
	}
	tok, err := s.Keys.IssueAPIToken(admin.Username, row.Jti, row.ExpiresAt, nil)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	s.printDevHelp(path)
	return nil
}

// devPassword gives the dev admin a password for the dashboard (once,
// random, written to DataDir/admin-password) and returns it.
func (s *Server) devPassword(ctx context.Context, admin *ent.User) (string, error) {
	path := filepath.Join(s.cfg.DataDir, "admin-password")
	if b, err := os.ReadFile(path); err == nil && admin.PasswordHash != "" {
		if pw := strings.TrimSpace(string(b)); pw != "" {
			return pw, nil
		}
	}
	var raw [12]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(raw[:])
	if _, err := s.Engine.SetPassword(ctx, delivery.SystemActor("dev-bootstrap"), admin.ID, pw); err != nil {
		return "", fmt.Errorf("setting the dev admin's password: %w", err)
	}
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return pw, nil
}

// printDevHelp tells where the dev admin's token is; it never prints the token itself (it is
// valid for a year, and terminals, CI logs and screen shares keep what is printed).
func (s *Server) printDevHelp(path string) {
	if s.cfg.LogFormat == "json" {
		attrs := []any{"admin_token_file", path, "graphql", s.cfg.BaseURL + "/graphql"}
		if s.cfg.DevAgent {
			attrs = append(attrs, "dev_agent", DevAgentName, "dev_agent_work_dir", filepath.Join(s.cfg.DataDir, "agent"))
		}
		s.log.Info("dev mode: admin token written; send it as Authorization: Bearer <token>", attrs...)
		return
	}
	agentNote := ""
	if s.cfg.DevAgent {
		agentNote = fmt.Sprintf("\nAn agent named %q runs inside this process (work directory %s):\nreleases deploy without more set-up. --dev-agent=false turns it off.\n",
			DevAgentName, filepath.Join(s.cfg.DataDir, "agent"))
	}
	out := s.cfg.DevOut
	if out == nil {
		out = os.Stderr
	}
	fmt.Fprintf(out, `
Cairn dev mode. Admin token written to %s

  export CAIRN_TOKEN=$(cat %s)
  curl -s %s/graphql -H "Authorization: Bearer $CAIRN_TOKEN" \
       -H 'Content-Type: application/json' -d '{"query":"{ viewer { user { username } role } }"}'

Dashboard: open %s/ and sign in as admin with the password in %s:
  %s
GraphiQL: %s/graphql (signed in to the dashboard, or with the header
  {"Authorization": "Bearer <the token in %s>"})
%s
`, path, path, s.cfg.BaseURL, s.cfg.BaseURL, filepath.Join(s.cfg.DataDir, "admin-password"), s.devPass, s.cfg.BaseURL, path, agentNote)
}
