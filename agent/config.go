package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/cairnhq/cairn/agentproto"
)

// Config is everything Run needs. Nothing in this package reads the environment or flags:
// cmd/agent fills Config.
type Config struct {
	// Server is the Cairn server's base URL (http or https), e.g. https://cairn.example.com,
	// or several separated by commas: the replicas of one installation (one database, one
	// signing key). The agent uses the first; whenever a connection attempt fails or a
	// connection drops it moves to the next one (round robin), with the reconnect backoff
	// between attempts. The websocket URL is derived from each (ws or wss).
	Server string
	// Token is the registration token. It is used only when WorkDir holds no credential.json.
	Token string
	// Name is the agent's name, unique in its pool (cmd/agent defaults it to the host name).
	Name string
	// WorkDir holds credential.json, unacknowledged results (results/) and one directory per job.
	// It is created if needed.
	WorkDir string
	// Pool is the agent pool to register in; empty means the server's default pool.
	Pool string
	// DeploymentGroup registers the agent as a target of that deployment group (instead of
	// a pool), with Tags (e.g. web, eu).
	DeploymentGroup string
	Tags            []string
	// Capabilities are user-defined capabilities (--capability key=value), reported apart from the
	// detected system capabilities.
	Capabilities map[string]string
	// MaxJobs is how many jobs may run at once; 0 means 1.
	MaxJobs int
	// Logger receives the agent's own log (not jobs' output); nil discards it.
	Logger *slog.Logger
	// HTTPClient is used for registration, the websocket handshake and artifact downloads;
	// nil means a client with sane timeouts.
	HTTPClient *http.Client
	// Version is reported to the server; empty means "dev".
	Version string
	// Environ is the base environment of task processes (cmd/agent passes os.Environ()); nil
	// means the agent process's environment, as with os/exec.
	Environ []string

	// ReconnectMin and ReconnectMax bound the jittered exponential backoff between connection
	// attempts; 0 means 1 s and 30 s. Once the server has told its grace period (Welcome), both
	// are capped at a fifth of it (agentproto.ReconnectsPerGrace), so that the agent's jobs are
	// not lost while it waits to retry.
	ReconnectMin, ReconnectMax time.Duration
	// PingAfter is how long the server may be silent before the agent pings it, and how long the
	// agent then waits for the pong; 0 means agentproto.AgentPingAfter (the protocol's value:
	// change it only in tests).
	PingAfter time.Duration
	// HeartbeatClock is the clock the heartbeat runs on; nil means agentproto.SystemClock (tests
	// pass one that moves when told).
	HeartbeatClock agentproto.Clock
	// KillGrace is how long a canceled task's process group has between SIGTERM and SIGKILL;
	// 0 means 5 s.
	KillGrace time.Duration
	// ShutdownTimeout is how long Run tries to deliver results after its context ends; 0 means 10 s.
	ShutdownTimeout time.Duration
	// MaxArtifactBytes caps what one job downloads and unpacks; 0 means 4 GiB.
	MaxArtifactBytes int64
	// MaxSpoolBytes caps each job's unacknowledged log text held in memory; when full, the job's
	// output is not read until the server acknowledges. 0 means 32 MiB.
	MaxSpoolBytes int
	// OutboundDeniedNetworks are the networks the InvokeHttp task may not call; nil means
	// netguard.DefaultDenied (loopback, link-local, "this network", multicast), empty non-nil
	// means none. OutboundAllowedNetworks are let through even if denied.
	OutboundDeniedNetworks, OutboundAllowedNetworks []netip.Prefix
}

// servers returns the server URLs of a validated Config (withDefaults), in order.
func (c Config) servers() []string { return strings.Split(c.Server, ",") }

// withDefaults validates c and returns it with defaults filled in.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	servers := strings.Split(c.Server, ",")
	for i, s := range servers {
		s = strings.TrimRight(strings.TrimSpace(s), "/")
		u, err := url.Parse(s)
		if s == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("server URL %q must be an http or https URL", s))
		}
		servers[i] = s
	}
	if strings.TrimSpace(c.Name) == "" {
		errs = append(errs, errors.New("name is required"))
	}
	if c.WorkDir == "" {
		errs = append(errs, errors.New("work directory is required"))
	}
	if c.MaxJobs < 0 {
		errs = append(errs, errors.New("max jobs must not be negative"))
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	c.Server = strings.Join(servers, ",")
	if c.MaxJobs == 0 {
		c.MaxJobs = 1
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Transport: http.DefaultTransport}
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.ReconnectMin <= 0 {
		c.ReconnectMin = time.Second
	}
	if c.ReconnectMax <= 0 {
		c.ReconnectMax = 30 * time.Second
	}
	c.ReconnectMax = max(c.ReconnectMax, c.ReconnectMin)
	if c.PingAfter <= 0 {
		c.PingAfter = agentproto.AgentPingAfter
	}
	if c.HeartbeatClock == nil {
		c.HeartbeatClock = agentproto.SystemClock{}
	}
	if c.KillGrace <= 0 {
		c.KillGrace = 5 * time.Second
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.MaxArtifactBytes <= 0 {
		c.MaxArtifactBytes = 4 << 30
	}
	if c.MaxSpoolBytes <= 0 {
		c.MaxSpoolBytes = 32 << 20
	}
	return c, nil
}
