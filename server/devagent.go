package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cairnhq/cairn/agent"
	"github.com/cairnhq/cairn/delivery"
	entagent "github.com/cairnhq/cairn/ent/agent"
)

// DevAgentName is the name of the agent that --dev runs inside the server process.
const DevAgentName = "local"

// devAgentCapability is the user capability of the dev agent, so that a definition can demand it
// ("local -equals true") or keep away from it.
const devAgentCapability = "local"

// devAgent is the agent a --dev server runs in its own process, so that a first release deploys
// without installing anything else.
type devAgent struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// stop cancels the agent (its running jobs end CANCELED) and waits until it delivered their
// results or gave up (agent.Config.ShutdownTimeout).
func (d *devAgent) stop() {
	if d == nil {
		return
	}
	d.cancel()
	<-d.done
}

// startDevAgent runs agent.Run in this process against the server listening at addr, with work
// directory <data-dir>/agent. It registers the agent the first time with a registration token the
// server creates for itself (as a system actor); later starts reuse the credential saved in the
// work directory. Failures are logged, never fatal: the server is useful without its agent.
func (s *Server) startDevAgent(ctx context.Context, addr net.Addr) *devAgent {
	log := s.log.With("component", "dev-agent")
	workDir := filepath.Join(s.cfg.DataDir, "agent")
	token, err := s.devAgentToken(ctx, workDir)
	if err != nil {
		log.Error("not starting the dev agent", "err", err)
		return nil
	}
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d := &devAgent{cancel: cancel, done: make(chan struct{})}
	cfg := agent.Config{
		Server:          "http://" + loopback(addr),
		Token:           token,
		Name:            DevAgentName,
		WorkDir:         workDir,
		Capabilities:    map[string]string{devAgentCapability: "true"},
		Logger:          s.log.With("dev_agent", DevAgentName),
		Version:         "dev (in server)",
		ReconnectMin:    100 * time.Millisecond,
		ReconnectMax:    5 * time.Second,
		KillGrace:       2 * time.Second,
		ShutdownTimeout: 5 * time.Second,
	}
	go func() {
		defer close(d.done)
		if err := agent.Run(actx, cfg); err != nil {
			log.Error("dev agent stopped", "err", err,
				"hint", "it stays off until the next start; --dev-agent=false turns it off for good")
		}
	}()
	log.Info("dev agent started", "name", DevAgentName, "work_dir", workDir)
	return d
}

// devAgentToken returns a registration token for the dev agent, or "" when its saved credential
// is still good. A credential whose agent no longer exists (the database was reset, or the agent
// deleted) is removed so that the agent registers again.
func (s *Server) devAgentToken(ctx context.Context, workDir string) (string, error) {
	id, ok, err := agent.SavedAgentID(workDir)
	if err != nil {
		return "", fmt.Errorf("%w (or start with --dev-agent=false)", err)
	}
	if ok {
		n, convErr := strconv.Atoi(id)
		exists, err := s.Engine.Client().Agent.Query().Where(entagent.ID(n)).Exist(ctx)
		if err != nil {
			return "", fmt.Errorf("checking the dev agent's saved credential: %w", err)
		}
		if convErr == nil && exists {
			return "", nil
		}
		s.log.Warn("the dev agent's saved credential names an agent this database does not have; registering again",
			"agent", id)
		if err := os.Remove(filepath.Join(workDir, "credential.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("removing the stale dev agent credential: %w", err)
		}
	}
	taken, err := s.Engine.Client().Agent.Query().Where(entagent.Name(DevAgentName)).Exist(ctx)
	if err != nil {
		return "", fmt.Errorf("checking the dev agent's name: %w", err)
	}
	if taken {
		return "", fmt.Errorf("an agent named %q exists but %s holds no credential for it; delete that agent (mutation deleteAgent) to let the dev agent register again",
			DevAgentName, workDir)
	}
	token, _, err := s.Engine.CreateAgentRegistration(ctx, delivery.SystemActor("dev-agent"), "", 1, time.Hour)
	if err != nil {
		return "", fmt.Errorf("creating the dev agent's registration token: %w", err)
	}
	return token, nil
}

// loopback returns addr with an unspecified IP (0.0.0.0, ::) replaced by the loopback address,
// the address an agent in this process dials.
func loopback(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		// Go listens dual-stack on an unspecified address: IPv4 loopback reaches it.
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port))
}
