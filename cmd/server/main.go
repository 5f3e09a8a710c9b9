// Command server runs the Cairn release management server.
//
// Every flag has an environment-variable fallback by the rule of package envflag
// (--data-dir → CAIRN_DATA_DIR); a flag given on the command line wins.
//
// "server admin token --username NAME" prints a new API token for a user, creating it as ADMIN
// if no user has that name: the way back in when no admin can log in (see admin.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/internal/envflag"
	"github.com/cairnhq/cairn/server"
	"github.com/cairnhq/cairn/storage"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "cairn-server:", err)
		os.Exit(1)
	}
}

// run runs the server, or the admin command; out gets help texts and the
// admin command's output.
func run(args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "admin" {
		return runAdmin(args[1:], out)
	}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(out)
	var cfg server.Config
	var origins, jiraKeys, logLevel, logFormat, trustedProxies string
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&cfg.DataDir, "data-dir", "./cairn-data", "data directory (SQLite database, keys)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "postgres:// DSN; empty selects SQLite in the data dir")
	fs.IntVar(&cfg.DBMaxConns, "db-max-conns", storage.DefaultPostgresConns, "PostgreSQL connections of this replica (at least 4; replicas × this must fit the server's max_connections)")
	fs.BoolVar(&cfg.Dev, "dev", false, "development mode: bootstrap an admin user and token")
	fs.BoolVar(&cfg.DevAgent, "dev-agent", true, "with --dev, also run a local agent in the server process")
	fs.StringVar(&cfg.SigningKey, "signing-key", "", "hex Ed25519 seed for tokens (default: <data-dir>/signing.key)")
	fs.StringVar(&cfg.SecretKey, "secret-key", "", "hex AES-256 key for secrets at rest (default: <data-dir>/secret.key)")
	fs.StringVar(&cfg.AuditKey, "audit-key", "", "hex key of the audit chain's HMACs (default: derived from the secret key; replicas must share it)")
	fs.StringVar(&cfg.BaseURL, "base-url", "", "external URL for links (default http://<addr>)")
	fs.Int64Var(&cfg.MaxBodyBytes, "max-body", 1<<20, "request body limit in bytes")
	fs.IntVar(&cfg.WebhookMaxInFlight, "webhook-max-inflight", 32, "CI webhook requests worked on at once; more get 503 with Retry-After")
	fs.DurationVar(&cfg.WebhookBudget, "webhook-budget", server.DefaultWebhookBudget, "a CI webhook request that the measured rate says would not be answered within this gets 503 with Retry-After at once (negative: no estimate)")
	fs.StringVar(&origins, "allowed-origins", "", "comma-separated extra websocket Origin patterns")
	fs.StringVar(&trustedProxies, "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For / Forwarded header gives the client address (sign-in limiting, sessions); empty: the peer address")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "graceful shutdown limit")
	fs.DurationVar(&cfg.BodyReadTimeout, "body-read-timeout", 30*time.Second, "how long a request body may take to arrive (websockets and SSE streams are not limited)")
	fs.StringVar(&cfg.SMTPAddr, "smtp-addr", "", "SMTP server host:port for approval email (empty: no email)")
	fs.StringVar(&cfg.SMTPFrom, "smtp-from", "", "sender address of notification email")
	fs.StringVar(&cfg.SMTPUsername, "smtp-username", "", "SMTP user")
	fs.StringVar(&cfg.SMTPPassword, "smtp-password", "", "SMTP password")
	fs.StringVar(&cfg.SMTPTLS, "smtp-tls", "starttls", "SMTP TLS mode: none, starttls or tls")
	fs.DurationVar(&cfg.AgentGrace, "agent-grace", 2*time.Minute, "how long a silent agent keeps its jobs")
	fs.StringVar(&cfg.OIDCIssuer, "oidc-issuer", "", "OpenID Connect issuer URL for single sign-on (empty: passwords only)")
	fs.StringVar(&cfg.OIDCClientID, "oidc-client-id", "", "OIDC client id (redirect URL: <base-url>/auth/oidc/callback)")
	fs.StringVar(&cfg.OIDCClientSecret, "oidc-client-secret", "", "OIDC client secret")
	fs.StringVar(&cfg.OIDCName, "oidc-name", "", "label of the single sign-on button, e.g. Keycloak")
	fs.StringVar(&cfg.OIDCUsernameClaim, "oidc-username-claim", "preferred_username", "ID token claim that names users created at first sign-in")
	fs.BoolVar(&cfg.OIDCCreateUsers, "oidc-create-users", false, "create a VIEWER at a person's first single sign-on (else an admin links oidc:<sub>)")
	fs.DurationVar(&cfg.SessionLifetime, "session-lifetime", 12*time.Hour, "how long a dashboard sign-in lasts (1m to 720h)")
	fs.StringVar(&cfg.OutboundDeniedNetworks, "outbound-denied-networks", "", "comma-separated CIDR prefixes HTTP gates and outgoing hooks may not call (default: loopback, link-local, cloud metadata and multicast addresses; none: no network)")
	fs.StringVar(&cfg.OutboundAllowedNetworks, "outbound-allowed-networks", "", "comma-separated CIDR prefixes gates and hooks may call even though denied, e.g. 127.0.0.0/8,::1 in development (the server's own listen addresses stay refused)")
	fs.StringVar(&cfg.GateDeniedNetworks, "gate-denied-networks", "", "deprecated: the former name of --outbound-denied-networks")
	fs.StringVar(&jiraKeys, "jira-keys", "", "comma-separated Jira project keys whose mentions (KEY-123) in commit messages are work items")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at /metrics on this address, without a token (bind it where only Prometheus reaches)")
	fs.StringVar(&cfg.MetricsToken, "metrics-token", "", "serve /metrics on --addr to requests with Authorization: Bearer <this token>")
	r := &cfg.Retention
	d := delivery.DefaultRetention
	fs.IntVar(&r.DefaultDays, "retention-default-days", d.DefaultDays, "release retention of an environment without a policy: days since its last deployment there")
	fs.IntVar(&r.DefaultReleases, "retention-default-releases", d.DefaultReleases, "release retention of an environment without a policy: newest releases deployed there that are kept")
	fs.IntVar(&r.MaxDays, "retention-max-days", d.MaxDays, "the most daysToKeep a definition may ask for")
	fs.IntVar(&r.MaxReleases, "retention-max-releases", d.MaxReleases, "the most releasesToKeep a definition may ask for")
	fs.IntVar(&r.LogDays, "retention-log-days", d.LogDays, "prune a kept release's job logs and gate samples after this many quiet days (-1: logs go with their release)")
	fs.IntVar(&r.DeletedDefinitionDays, "retention-deleted-definition-days", d.DeletedDefinitionDays, "days a deleted definition can be undeleted before it and its releases are purged")
	fs.IntVar(&r.WebhookDeliveryDays, "retention-webhook-delivery-days", d.WebhookDeliveryDays, "days received CI webhook deliveries (and finished timers) are kept")
	fs.IntVar(&r.HookDeliveryDays, "retention-hook-delivery-days", d.HookDeliveryDays, "days finished outgoing hook deliveries are kept")
	fs.IntVar(&r.NotificationDays, "retention-notification-days", d.NotificationDays, "days sent or failed notifications are kept")
	fs.IntVar(&r.SessionDays, "retention-session-days", d.SessionDays, "days expired or revoked sign-in sessions are kept")
	fs.DurationVar(&r.Interval, "retention-interval", d.Interval, "how often retention runs (one replica per run)")
	fs.IntVar(&r.BatchSize, "retention-batch-size", d.BatchSize, "releases deleted between pauses of a retention run")
	fs.DurationVar(&r.BatchPause, "retention-batch-pause", d.BatchPause, "pause between batches of a retention run (at least as long as the batch took), so deployments keep the database")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&logFormat, "log-format", "text", "text or json")
	envflag.SetUsage(fs, "server [flags]\n       server admin token --username NAME [--name TEXT] [--expires 24h]\n"+
		"           prints a new API token for NAME (an ADMIN if new), on the database directly:\n"+
		"           the way back in when no admin can sign in (server admin token --help)", nil)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := envflag.Apply(fs, os.LookupEnv, nil); err != nil {
		return err
	}
	if origins != "" {
		cfg.AllowedOrigins = strings.Split(origins, ",")
	}
	for _, p := range strings.Split(trustedProxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			if a, aerr := netip.ParseAddr(p); aerr == nil {
				prefix, err = a.Prefix(a.BitLen())
			}
		}
		if err != nil {
			return fmt.Errorf("--trusted-proxies: %q is not a CIDR (10.0.0.0/8) or an address", p)
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, prefix.Masked())
	}
	for _, k := range strings.Split(jiraKeys, ",") {
		if k = strings.TrimSpace(k); k != "" {
			cfg.JiraKeys = append(cfg.JiraKeys, k)
		}
	}
	log, err := newLogger(logLevel, logFormat)
	if err != nil {
		return err
	}
	cfg.Logger = log
	cfg.LogFormat = logFormat
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal now kills the process
	}()
	return server.Run(ctx, cfg)
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
