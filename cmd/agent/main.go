// Command agent is the Cairn deployment agent: it registers with a Cairn server, keeps a websocket
// to it, and runs the deployment jobs it receives. See package agent for the runtime and package
// agentproto for the protocol.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/cairnhq/cairn/agent"
	"github.com/cairnhq/cairn/internal/envflag"
	"github.com/cairnhq/cairn/internal/netguard"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// capabilityFlags collects repeated --capability key=value flags.
type capabilityFlags map[string]string

func (c capabilityFlags) String() string {
	parts := make([]string, 0, len(c))
	for k, v := range c {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func (c capabilityFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return fmt.Errorf("capability %q: want key=value", s)
	}
	c[k] = v
	return nil
}

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "cairn-agent:", err)
		os.Exit(1)
	}
}

// run parses args (with environment fallbacks from getenv), then runs the agent until SIGINT or
// SIGTERM. A second signal exits at once.
func run(args []string, getenv func(string) string, stderr *os.File) error {
	cfg, err := parseConfig(args, getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg.Logger = logger
	cfg.Version = version
	cfg.Environ = os.Environ()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore default handling: a second signal kills the process
		forced := make(chan os.Signal, 1)
		signal.Notify(forced, os.Interrupt, syscall.SIGTERM)
		<-forced
		logger.Error("second signal: exiting without waiting for jobs")
		os.Exit(130)
	}()
	return agent.Run(ctx, cfg)
}

// envNames are the agent's exceptions to envflag's rule: --capability repeats and has no
// variable. Every other flag follows the rule (--token → CAIRN_TOKEN, --name → CAIRN_NAME).
var envNames = envflag.Names{"capability": ""}

// legacyEnv are the variables the token and name had before they followed the rule; they are
// still read, after the rule's, so that existing agent.env files keep working.
var legacyEnv = map[string]string{"token": "CAIRN_AGENT_TOKEN", "name": "CAIRN_AGENT_NAME"}

// parseConfig turns flags and environment variables into an agent.Config. Flags win over the
// environment.
func parseConfig(args []string, getenv func(string) string) (agent.Config, error) {
	return parseConfigFS(flag.NewFlagSet("cairn-agent", flag.ContinueOnError), args, getenv)
}

// parseConfigFS is parseConfig on a given flag set (tests read its help).
func parseConfigFS(fs *flag.FlagSet, args []string, getenv func(string) string) (agent.Config, error) {
	caps := capabilityFlags{}
	maxJobs := 1
	cfg := agent.Config{}
	fs.StringVar(&cfg.Server, "server", "", "Cairn server URL, or several comma-separated (replicas): the agent moves to the next when one fails")
	fs.StringVar(&cfg.Token, "token", "", "registration token, used once")
	fs.StringVar(&cfg.Name, "name", "", "agent name (default: the host name)")
	fs.StringVar(&cfg.WorkDir, "work-dir", "./cairn-agent", "work directory: credential, results, job directories")
	fs.StringVar(&cfg.Pool, "pool", "", "agent pool (default: the server's default pool)")
	fs.StringVar(&cfg.DeploymentGroup, "deployment-group", "", "register as a target of this deployment group (instead of a pool)")
	tags := ""
	fs.StringVar(&tags, "tags", "", "a target's tags, comma-separated (e.g. web,eu)")
	fs.Var(caps, "capability", "user capability key=value (repeatable)")
	fs.IntVar(&maxJobs, "max-jobs", maxJobs, "jobs run at once")
	denied, allowed := "default", ""
	fs.StringVar(&denied, "outbound-denied-networks", denied, "networks the InvokeHttp task may not call: comma-separated CIDR prefixes, \"none\", or \"default\" (loopback, link-local, 0.0.0.0/8, multicast)")
	fs.StringVar(&allowed, "outbound-allowed-networks", allowed, "networks the InvokeHttp task may call even if denied, e.g. 127.0.0.0/8,::1")
	envflag.SetUsage(fs, "agent --server URL [--token REGISTRATION-TOKEN] [flags]", envNames)
	if err := fs.Parse(args); err != nil {
		return agent.Config{}, err
	}
	lookup := func(k string) (string, bool) { v := getenv(k); return v, v != "" }
	if err := envflag.Apply(fs, lookup, envNames); err != nil {
		return agent.Config{}, err
	}
	for _, t := range strings.Split(tags, ",") {
		if t = strings.TrimSpace(t); t != "" {
			cfg.Tags = append(cfg.Tags, t)
		}
	}
	for name, env := range legacyEnv {
		if f := fs.Lookup(name); f.Value.String() == "" {
			if v := getenv(env); v != "" {
				_ = f.Value.Set(v) // string flags take any value
			}
		}
	}
	if cfg.Name == "" {
		cfg.Name, _ = os.Hostname()
	}
	if fs.NArg() > 0 {
		return agent.Config{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if maxJobs < 1 {
		return agent.Config{}, errors.New("--max-jobs must be at least 1")
	}
	cfg.MaxJobs = maxJobs
	cfg.Capabilities = caps
	if denied != "default" {
		d, err := netguard.ParseNetworks(denied)
		if err != nil {
			return agent.Config{}, fmt.Errorf("--outbound-denied-networks: %w", err)
		}
		cfg.OutboundDeniedNetworks = append([]netip.Prefix{}, d...)
	}
	a, err := netguard.ParseNetworks(allowed)
	if err != nil {
		return agent.Config{}, fmt.Errorf("--outbound-allowed-networks: %w", err)
	}
	cfg.OutboundAllowedNetworks = a
	return cfg, nil
}
