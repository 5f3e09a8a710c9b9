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
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/cairnhq/cairn/agent"
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
		fmt.Fprintln(os.Stderr, "cairn-agent:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
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

// parseConfig turns flags and environment variables into an agent.Config. Flags win over the
// environment.
func parseConfig(args []string, getenv func(string) string) (agent.Config, error) {
	fs := flag.NewFlagSet("cairn-agent", flag.ContinueOnError)
	host, _ := os.Hostname()
	caps := capabilityFlags{}
	maxJobs := 1
	if v := getenv("CAIRN_MAX_JOBS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return agent.Config{}, fmt.Errorf("CAIRN_MAX_JOBS: %w", err)
		}
		maxJobs = n
	}
	cfg := agent.Config{}
	fs.StringVar(&cfg.Server, "server", getenv("CAIRN_SERVER"), "Cairn server URL (env CAIRN_SERVER)")
	fs.StringVar(&cfg.Token, "token", getenv("CAIRN_AGENT_TOKEN"), "registration token, used once (env CAIRN_AGENT_TOKEN)")
	fs.StringVar(&cfg.Name, "name", envOr(getenv, "CAIRN_AGENT_NAME", host), "agent name (env CAIRN_AGENT_NAME; default host name)")
	fs.StringVar(&cfg.WorkDir, "work-dir", envOr(getenv, "CAIRN_WORK_DIR", "./cairn-agent"), "work directory: credential, results, job directories (env CAIRN_WORK_DIR)")
	fs.StringVar(&cfg.Pool, "pool", getenv("CAIRN_POOL"), "agent pool (env CAIRN_POOL; default: the server's default pool)")
	fs.Var(caps, "capability", "user capability key=value (repeatable)")
	fs.IntVar(&maxJobs, "max-jobs", maxJobs, "jobs run at once (env CAIRN_MAX_JOBS)")
	if err := fs.Parse(args); err != nil {
		return agent.Config{}, err
	}
	if fs.NArg() > 0 {
		return agent.Config{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if maxJobs < 1 {
		return agent.Config{}, errors.New("--max-jobs must be at least 1")
	}
	cfg.MaxJobs = maxJobs
	cfg.Capabilities = caps
	return cfg, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
