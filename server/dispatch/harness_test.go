package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairnhq/cairn/agent"
	"github.com/cairnhq/cairn/agentproto"
	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/ent"
	entagent "github.com/cairnhq/cairn/ent/agent"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/server/eventbus"
	"github.com/cairnhq/cairn/storage"
)

var admin = delivery.Actor{UserID: 1, Username: "root", Role: delivery.RoleAdmin}

const waitLimit = 30 * time.Second

// testLogger logs to the test when CAIRN_TEST_VERBOSE is set.
func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("CAIRN_TEST_VERBOSE") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// harness is a server in a test: engine, bus, hub and an httptest server with the agent routes.
type harness struct {
	db   *storage.DB
	c    *ent.Client
	e    *delivery.Engine
	bus  *eventbus.Bus
	hub  *Hub
	keys *auth.Keys
	srv  *httptest.Server
	// gateClosed makes /agent/connect answer 503 (a server the agent cannot reach).
	gateClosed atomic.Bool
}

type harnessOpts struct {
	clock delivery.Clock
	// hubClock runs the hub's liveness work (heartbeat, flushes, pauses) on clock as well, which
	// must then be a *delivery.ManualClock; otherwise the hub runs on the system clock.
	hubClock bool
	ping     time.Duration // Options.PingInterval
	bus      *eventbus.Bus
	keys     *auth.Keys
}

func newHarness(t *testing.T, db *storage.DB, o harnessOpts) *harness {
	t.Helper()
	if o.keys == nil {
		var err error
		o.keys, err = auth.NewKeys([]byte(strings.Repeat("s", 32)), "", nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	if o.bus == nil {
		o.bus = eventbus.New(0)
		t.Cleanup(o.bus.Close)
	}
	box, err := delivery.NewSecretBox([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{db: db, c: db.Client, bus: o.bus, keys: o.keys}
	h.e = delivery.New(db.Client, delivery.Options{Dialect: delivery.Dialect(db.Dialect), Clock: o.clock, Secrets: box, Bus: o.bus})
	var hubClock agentproto.Clock
	if o.hubClock {
		hubClock = o.clock.(*delivery.ManualClock)
	}
	h.hub = NewHub(Options{Engine: h.e, Keys: o.keys, Events: o.bus, SweepInterval: -1, PingInterval: o.ping, Logger: testLogger(t), Clock: hubClock})
	h.hub.Start()
	mux := http.NewServeMux()
	h.hub.Mount(mux)
	mux.Handle("GET /logs/deployments/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		role := delivery.Role(r.Header.Get("X-Test-Role"))
		if role == "" {
			LogsHandler(h.e, testLogger(t)).ServeHTTP(w, r)
			return
		}
		LogsHandler(h.e, testLogger(t)).ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), delivery.Actor{Username: "v", Role: role})))
	}))
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.gateClosed.Load() && r.URL.Path == "/agent/connect" {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		h.hub.Close()
		h.srv.Close()
	})
	return h
}

// waitFor waits until cond holds, re-checking on every bus event (and every 50 ms, for changes
// that publish nothing), failing the test after waitLimit.
func (h *harness) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	events, unsubscribe := h.bus.Subscribe()
	defer unsubscribe()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case _, ok := <-events:
			if !ok {
				events, unsubscribe = h.bus.Subscribe()
			}
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (h *harness) job(t *testing.T, id int) *ent.Job {
	t.Helper()
	j, err := h.c.Job.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// waitJob waits for the job to reach one of the statuses.
func (h *harness) waitJob(t *testing.T, id int, statuses ...job.Status) *ent.Job {
	t.Helper()
	var j *ent.Job
	h.waitFor(t, "job status "+string(statuses[0]), func() bool {
		j = h.job(t, id)
		for _, s := range statuses {
			if j.Status == s {
				return true
			}
		}
		return false
	})
	return j
}

// queue seeds a queued job and announces it as the engine does.
func (h *harness) queue(t *testing.T, o deliverytest.JobOptions) deliverytest.Seeded {
	t.Helper()
	s := deliverytest.Job(t, h.c, o)
	h.bus.Publish(context.Background(), []delivery.Event{{Type: delivery.EventJobQueued, JobID: s.Job.ID, DeploymentID: s.Deployment.ID}})
	return s
}

type runningAgent struct {
	name   string
	dir    string
	cancel context.CancelFunc
	exited chan struct{}
	err    error // set when exited is closed
	id     func() int
}

// stop ends the agent (as SIGTERM would) and returns Run's result.
func (ra *runningAgent) stop() error {
	ra.cancel()
	select {
	case <-ra.exited:
	case <-time.After(waitLimit):
		return errors.New("agent did not stop")
	}
	return ra.err
}

// waitExit waits for the agent to stop by itself and returns Run's result.
func (ra *runningAgent) waitExit(t *testing.T) error {
	t.Helper()
	select {
	case <-ra.exited:
		return ra.err
	case <-time.After(waitLimit):
		t.Fatalf("agent %s did not exit", ra.name)
		return nil
	}
}

// startAgent runs agent.Run in-process against the harness with a fresh registration token.
func (h *harness) startAgent(t *testing.T, name string, caps map[string]string) *runningAgent {
	t.Helper()
	tok, _, err := h.e.CreateAgentRegistration(context.Background(), admin, "", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	return h.runAgent(t, agent.Config{Server: h.srv.URL, Token: tok, Name: name, WorkDir: t.TempDir(), Capabilities: caps})
}

func (h *harness) runAgent(t *testing.T, cfg agent.Config) *runningAgent {
	t.Helper()
	cfg.ReconnectMin, cfg.ReconnectMax = 20*time.Millisecond, 200*time.Millisecond
	cfg.KillGrace, cfg.ShutdownTimeout = 300*time.Millisecond, 2*time.Second
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t).With("agent", cfg.Name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ra := &runningAgent{name: cfg.Name, dir: cfg.WorkDir, cancel: cancel, exited: make(chan struct{})}
	go func() {
		ra.err = agent.Run(ctx, cfg)
		close(ra.exited)
	}()
	ra.id = func() int {
		a, err := h.c.Agent.Query().Where(entagent.Name(cfg.Name)).Only(context.Background())
		if err != nil {
			return 0
		}
		return a.ID
	}
	t.Cleanup(func() { _ = ra.stop() })
	return ra
}

func readDirNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, err
}

// waitOnline waits until the agent is registered and has a welcomed session.
func (h *harness) waitOnline(t *testing.T, ra *runningAgent) int {
	t.Helper()
	h.waitFor(t, "agent "+ra.name+" online", func() bool {
		id := ra.id()
		s := h.hub.session(id)
		return id != 0 && s != nil && s.welcomed.Load()
	})
	return ra.id()
}

func echoTasks(lines int) []spec.Task {
	return []spec.Task{{Name: "hello", Script: "for i in $(seq 1 " + strconv.Itoa(lines) + "); do echo \"line $i\"; done"}}
}
