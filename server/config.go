// Package server is Cairn's composition root: it opens the database, builds
// the engine and its adapters (GraphQL, webhooks, agent dispatch), serves HTTP
// and shuts down gracefully. Nothing here reads the environment: cmd/server
// turns flags and environment variables into a Config.
package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/storage"
)

// Config is everything the server needs. Zero values get the defaults noted.
type Config struct {
	// Addr is the listen address (default 127.0.0.1:8080).
	Addr string
	// DataDir holds the SQLite database and generated keys (default ./cairn-data).
	DataDir string
	// DatabaseURL selects PostgreSQL when it is a postgres:// DSN.
	DatabaseURL string
	// DBMaxConns caps this replica's PostgreSQL connections (default 20, at least 4); the
	// event bus's LISTEN connection comes on top. Replicas × DBMaxConns must stay below the
	// server's max_connections. SQLite ignores it.
	DBMaxConns int
	// Dev bootstraps an admin user and writes its token to DataDir/admin-token.
	Dev bool
	// DevAgent, with Dev, also runs one agent inside the server process (name "local",
	// capability local=true, work directory DataDir/agent), so that a first release deploys
	// without more set-up. cmd/server turns it on by default (--dev-agent).
	DevAgent bool
	// SigningKey is a hex Ed25519 seed for tokens; default: DataDir/signing.key
	// (generated on first start). Replicas must share it.
	SigningKey string
	// SecretKey is the hex AES-256 key for secrets at rest; default:
	// DataDir/secret.key (generated on first start). Replicas must share it.
	SecretKey string
	// AuditKey is the hex key of the audit chain's HMACs and signed checkpoint; default:
	// derived from the secret key, so replicas that share it share this. It never enters
	// the database: whoever can write the database but lacks it cannot re-chain edited rows.
	AuditKey string
	// BaseURL is the external URL used in links (default http://Addr).
	BaseURL string
	// MaxBodyBytes caps request bodies (default 1 MiB).
	MaxBodyBytes int64
	// BodyReadTimeout bounds how long a request's body may take to arrive, counted from the
	// end of its headers (default 30 s, at least 1 ms): a client that sends a body slowly
	// cannot hold a connection and a handler. Requests without a body (websocket upgrades,
	// GET) are not limited, and once a body is read the limit is lifted, so SSE streams stay
	// open as long as they like.
	BodyReadTimeout time.Duration
	// AllowedOrigins are extra websocket Origin patterns.
	AllowedOrigins []string
	// WebhookMaxInFlight bounds the CI webhook requests (Jenkins, Azure DevOps) worked on at
	// once whatever WebhookBudget says (default 32); one beyond it waits WebhookWait for a
	// slot, then is answered 503 with Retry-After and nothing recorded (the CI servers retry).
	WebhookMaxInFlight int
	// WebhookWait is how long a webhook request waits for a slot (default and negative: not
	// at all).
	WebhookWait time.Duration
	// WebhookBudget is the time a CI webhook request should be answered in (default 250 ms;
	// negative: no estimate, only WebhookMaxInFlight): one that the measured rate of
	// completions says would not be is answered 503 with Retry-After at once (hook.Limiter).
	WebhookBudget time.Duration
	// TrustedProxies are the reverse proxies (CIDRs) whose forwarding header
	// names the client: for a request whose peer is one of them, the client
	// address (sign-in limiting, session records) is the right-most address
	// of X-Forwarded-For (else Forwarded's for=) that is not itself a
	// trusted proxy. Empty: the peer address, and the headers are ignored.
	TrustedProxies []netip.Prefix
	// ShutdownTimeout bounds graceful shutdown (default 20 s).
	ShutdownTimeout time.Duration
	// SMTP settings for approval notifications; no SMTPAddr disables email.
	SMTPAddr, SMTPFrom, SMTPUsername, SMTPPassword, SMTPTLS string
	// AgentGrace is how long a silent agent keeps its jobs (default 2m).
	AgentGrace time.Duration
	// JiraKeys are the Jira project keys ("SHOP", "OPS") whose mentions in
	// commit messages ("SHOP-123") become work items. Without them no Jira
	// mention is recognised, so "UTF-8" is never taken for one.
	JiraKeys []string
	// MetricsAddr, when set, serves Prometheus metrics at /metrics on a listener of its own,
	// without authentication: bind it to an address only Prometheus reaches.
	MetricsAddr string
	// MetricsToken, when set, serves /metrics on the main listener to requests with
	// "Authorization: Bearer <MetricsToken>". Without it (and without MetricsAddr) no metrics
	// are served.
	MetricsToken string
	// OutboundDeniedNetworks are the comma-separated CIDR prefixes that HTTP
	// gates and outgoing hooks may not call (checked on the dialled address,
	// after DNS, by one guard: internal/netguard); "" is netguard.DefaultDenied
	// (loopback, link-local and metadata services, multicast), "none" denies
	// no network. The server's own listen addresses are refused whatever this
	// and OutboundAllowedNetworks say.
	OutboundDeniedNetworks string
	// OutboundAllowedNetworks are prefixes reached even though they are in a
	// denied network, e.g. "127.0.0.0/8,::1" for a gate or hook on the same
	// host in development and tests.
	OutboundAllowedNetworks string
	// GateDeniedNetworks is the former name of OutboundDeniedNetworks, used
	// when that is empty.
	//
	// Deprecated: use OutboundDeniedNetworks.
	GateDeniedNetworks string
	// CIHTTPClient calls Jenkins and Azure DevOps back (enrichment, build
	// lists); nil means a client with a 60 s timeout.
	CIHTTPClient *http.Client
	// SessionLifetime is how long a dashboard sign-in lasts (default 12 h, at most 30 days).
	SessionLifetime time.Duration
	// Passwords hashes people's passwords; nil means argon2id with OWASP's
	// parameters (tests pass cheaper ones).
	Passwords delivery.PasswordHasher
	// OIDCIssuer enables OpenID Connect sign-in with that provider (Entra ID,
	// Keycloak, Dex); OIDCClientID and OIDCClientSecret are this server's
	// client, registered with the redirect URL BaseURL + /auth/oidc/callback.
	OIDCIssuer, OIDCClientID, OIDCClientSecret string
	// OIDCName labels the sign-in button (default "single sign-on").
	OIDCName string
	// OIDCUsernameClaim names the ID token claim that becomes the username
	// of a created user (default preferred_username).
	OIDCUsernameClaim string
	// OIDCCreateUsers creates a VIEWER at a person's first OIDC sign-in;
	// otherwise an ADMIN links people by adding "oidc:<sub>" to a user's
	// external identities.
	OIDCCreateUsers bool
	// OIDCHTTPClient calls the provider (nil: http.DefaultClient).
	OIDCHTTPClient *http.Client
	// LoginLimiter counts failed sign-ins; nil means 10 per username and 50
	// per client address every 15 minutes.
	LoginLimiter *auth.LoginLimiter
	Logger       *slog.Logger
	// LogFormat is the format of Logger's output, "text" (default) or "json". In json, the --dev
	// banner is one log record (without the token: its file is named) instead of prose.
	LogFormat string
	// Retention configures release, log and record retention and the pruning loop (zero
	// fields: delivery.DefaultRetention).
	Retention delivery.RetentionConfig
	// DevOut receives the --dev banner in text format (nil: standard error). The banner names the
	// admin token's file, never the token.
	DevOut io.Writer
}

// DefaultWebhookBudget is the time a CI webhook request should be answered in
// unless configured (Config.WebhookBudget).
const DefaultWebhookBudget = 250 * time.Millisecond

func (c *Config) setDefaults() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		c.DataDir = "./cairn-data"
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://" + c.Addr
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.BodyReadTimeout == 0 {
		c.BodyReadTimeout = 30 * time.Second
	}
	if c.WebhookMaxInFlight == 0 {
		c.WebhookMaxInFlight = 32
	}
	if c.WebhookBudget == 0 {
		c.WebhookBudget = DefaultWebhookBudget
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 20 * time.Second
	}
	if c.AgentGrace == 0 {
		c.AgentGrace = 2 * time.Minute
	}
	if c.SMTPTLS == "" {
		c.SMTPTLS = "starttls"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.SessionLifetime == 0 {
		c.SessionLifetime = delivery.DefaultSessionLifetime
	}
	if c.Passwords == nil {
		c.Passwords = auth.Argon2id{}
	}
	if c.LoginLimiter == nil {
		c.LoginLimiter = &auth.LoginLimiter{}
	}
}

// Validate reports configuration errors a person can fix.
func (c *Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.BaseURL); err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, fmt.Errorf("--base-url %q is not an absolute URL", c.BaseURL))
	}
	if c.WebhookMaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("--webhook-max-inflight %d: at least 1", c.WebhookMaxInFlight))
	}
	if c.WebhookBudget > 0 && c.WebhookBudget < time.Millisecond {
		errs = append(errs, fmt.Errorf("--webhook-budget %s: at least 1ms (or negative: no estimate)", c.WebhookBudget))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("--max-body %d is too small (at least 1024)", c.MaxBodyBytes))
	}
	if c.BodyReadTimeout < time.Millisecond {
		errs = append(errs, fmt.Errorf("--body-read-timeout %v is too small", c.BodyReadTimeout))
	}
	switch c.SMTPTLS {
	case "none", "starttls", "tls":
	default:
		errs = append(errs, fmt.Errorf("--smtp-tls %q: want none, starttls or tls", c.SMTPTLS))
	}
	if c.DBMaxConns != 0 && c.DBMaxConns < storage.MinPostgresConns {
		errs = append(errs, fmt.Errorf("--db-max-conns %d is too small (at least %d)", c.DBMaxConns, storage.MinPostgresConns))
	}
	if c.SessionLifetime < time.Minute || c.SessionLifetime > delivery.MaxSessionLifetime {
		errs = append(errs, fmt.Errorf("--session-lifetime %s: want between 1m and %s", c.SessionLifetime, delivery.MaxSessionLifetime))
	}
	if c.OIDCIssuer != "" && c.OIDCClientID == "" {
		errs = append(errs, errors.New("--oidc-client-id is required with --oidc-issuer"))
	}
	if c.SMTPAddr != "" && c.SMTPFrom == "" {
		errs = append(errs, errors.New("--smtp-from is required with --smtp-addr"))
	}
	return errors.Join(errs...)
}
