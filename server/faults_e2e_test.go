package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/agent"
	"github.com/cairnhq/cairn/delivery"
	entagent "github.com/cairnhq/cairn/ent/agent"
	"github.com/cairnhq/cairn/server"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// The fault tests break a real database under a running job (issue 23): a PostgreSQL cluster
// of the test's own, restarted; a SQLite data directory on a small tmpfs, filled. Each asserts
// that the job ends SUCCEEDED with every line, once and in order, and that the next job runs.

// faultScript prints numbered lines until the file $GATE exists, then "done N".
const faultScript = `i=0
while [ ! -e "$GATE" ]; do i=$((i+1)); echo "line $i"; sleep 0.02; done
echo "done $i"`

// faultDefinition creates a definition whose one environment runs faultScript after release.
func faultDefinition(t *testing.T, h *harness, gate string) string {
	t.Helper()
	return h.createDefinition(t, `{name: "faults", variables: [{name: "GATE", value: `+strconv.Quote(gate)+`}],
	  environments: [{name: "dev", trigger: {kind: AFTER_RELEASE}, job: {tasks: [{name: "count", shell: "bash", script: `+strconv.Quote(faultScript)+`}]}}]}`)
}

// checkCountLog checks that a job's task log is "line 1" … "line N", "done N" (readLog also
// checks that sequence numbers have no gap).
func checkCountLog(t *testing.T, h *harness, jobID string) int {
	t.Helper()
	got := h.taskLog(t, jobID)
	if len(got) == 0 {
		t.Fatalf("job %s has no log", jobID)
	}
	n := len(got) - 1
	for i, l := range got[:n] {
		if want := fmt.Sprintf("line %d", i+1); l != want {
			t.Fatalf("job %s: line %d is %q, want %q", jobID, i+1, l, want)
		}
	}
	if want := fmt.Sprintf("done %d", n); got[n] != want {
		t.Fatalf("job %s: last line is %q, want %q (%d lines)", jobID, got[n], want, len(got))
	}
	return n
}

// logWatch is a slog handler that lets a test wait for a message to be logged.
type logWatch struct {
	next  slog.Handler
	state *watchState
}

type watchState struct {
	mu      sync.Mutex
	watches map[string]chan struct{}
}

func newLogWatch() *logWatch {
	var h slog.Handler = slog.DiscardHandler
	if os.Getenv("CAIRN_TEST_LOG") != "" {
		h = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	return &logWatch{next: h, state: &watchState{watches: map[string]chan struct{}{}}}
}

// seen returns a channel closed once a record with message msg is logged after this call.
func (w *logWatch) seen(msg string) <-chan struct{} {
	w.state.mu.Lock()
	defer w.state.mu.Unlock()
	c := make(chan struct{})
	w.state.watches[msg] = c
	return c
}

func (w *logWatch) Enabled(context.Context, slog.Level) bool { return true }

func (w *logWatch) Handle(ctx context.Context, r slog.Record) error {
	w.state.mu.Lock()
	if c, ok := w.state.watches[r.Message]; ok {
		close(c)
		delete(w.state.watches, r.Message)
	}
	w.state.mu.Unlock()
	if w.next.Enabled(ctx, r.Level) {
		return w.next.Handle(ctx, r)
	}
	return nil
}

func (w *logWatch) WithAttrs(as []slog.Attr) slog.Handler {
	return &logWatch{next: w.next.WithAttrs(as), state: w.state}
}

func (w *logWatch) WithGroup(g string) slog.Handler {
	return &logWatch{next: w.next.WithGroup(g), state: w.state}
}

// startWatchedAgent runs a real agent (fast reconnects) whose log the test can wait on.
func startWatchedAgent(t *testing.T, h *harness, name string, servers string) *logWatch {
	t.Helper()
	ctx := context.Background()
	tok, _, err := h.srv.Engine.CreateAgentRegistration(ctx, delivery.SystemActor("test"), "", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	watch := newLogWatch()
	cfg := agent.Config{
		Server: servers, Token: tok, Name: name, WorkDir: t.TempDir(),
		Logger:       slog.New(watch),
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
		KillGrace: 300 * time.Millisecond, ShutdownTimeout: 2 * time.Second,
	}
	actx, cancel := context.WithCancel(ctx)
	a := &liveAgent{name: name, dir: cfg.WorkDir, cancel: cancel, exited: make(chan struct{})}
	go func() {
		a.err = agent.Run(actx, cfg)
		close(a.exited)
	}()
	t.Cleanup(func() {
		if err := a.stop(); err != nil {
			t.Errorf("agent %s: %v", name, err)
		}
	})
	h.waitFor(t, "agent "+name+" online", func() bool {
		row, err := h.srv.Engine.Client().Agent.Query().Where(entagent.Name(name)).Only(ctx)
		return err == nil && row.Online
	})
	return watch
}

// waitChan waits for c or fails after waitLimit.
func waitChan(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(waitLimit):
		t.Fatalf("timed out after %s waiting for %s", waitLimit, what)
	}
}

// runFaultJob starts a release of def and waits until its job has stored some lines; it
// returns the release id and the job id.
func runFaultJob(t *testing.T, h *harness, def string) (rel, jobID string) {
	t.Helper()
	rel = h.createRelease(t, def, nil)
	h.waitFor(t, "the task to print", func() bool {
		dev := h.releaseEnvs(t, rel)["dev"]
		jobID = dev.JobID
		return jobID != "" && len(h.jobLog(t, jobID)) >= 3
	})
	return rel, jobID
}

// finishFaultJob opens the gate, waits for the job to end SUCCEEDED with every line, then runs
// a second job (gate still open: it ends at once) and waits for it too.
func finishFaultJob(t *testing.T, h *harness, def, rel, gate string) {
	t.Helper()
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dev := h.waitEnv(t, rel, "dev", "SUCCEEDED")
	if dev.Job != "SUCCEEDED" {
		t.Fatalf("job %s ended %s", dev.JobID, dev.Job)
	}
	n := checkCountLog(t, h, dev.JobID)
	t.Logf("job %s: %d lines through the fault", dev.JobID, n)
	next := h.createRelease(t, def, nil)
	nextDev := h.waitEnv(t, next, "dev", "SUCCEEDED")
	checkCountLog(t, h, nextDev.JobID)
}

// pgCluster is a PostgreSQL cluster the test owns (initdb into a temporary directory), so that
// it can stop and start it; run as the postgres user when the test runs as root.
type pgCluster struct {
	bin, dir string
	port     int
	asUser   []string // runuser prefix when root
}

// startPGCluster creates and starts a cluster, or skips the test when PostgreSQL's binaries (or,
// as root, the postgres user) are missing. Its cleanup stops it and removes its files.
func startPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Skip("PostgreSQL binaries not found under /usr/lib/postgresql/*/bin: cannot run a cluster of the test's own")
	}
	slices.Sort(bins)
	c := &pgCluster{bin: filepath.Dir(bins[len(bins)-1])}
	dir, err := os.MkdirTemp("", "cairn-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 { // postgres refuses to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root without a postgres user: cannot run a PostgreSQL cluster")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c.run(t, "initdb", "-D", c.data(), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
	c.start(t)
	t.Cleanup(func() { c.pgctl("stop", "-m", "immediate") })
	return c
}

func (c *pgCluster) data() string { return filepath.Join(c.dir, "data") }

// URL is the DSN of the cluster's postgres database.
func (c *pgCluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

func (c *pgCluster) command(name string, args ...string) *exec.Cmd {
	argv := append(slices.Clone(c.asUser), filepath.Join(c.bin, name))
	argv = append(argv, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.dir
	return cmd
}

func (c *pgCluster) run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := c.command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func (c *pgCluster) pgctl(args ...string) error {
	args = append([]string{"-D", c.data(), "-w", "-t", "60"}, args...)
	out, err := c.command("pg_ctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %v: %w\n%s", args, err, out)
	}
	return nil
}

func (c *pgCluster) start(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off", c.port, c.dir)
	if err := c.pgctl("-l", filepath.Join(c.dir, "log"), "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		t.Fatalf("%v\n%s", err, log)
	}
}

func (c *pgCluster) stop(t *testing.T) {
	t.Helper()
	if err := c.pgctl("-m", "fast", "stop"); err != nil {
		t.Fatal(err)
	}
}

// TestJobSurvivesPostgresRestart restarts the database under a running job: the server cannot
// store the agent's lines for a while, closes the agent's connection, the agent reconnects and
// resends once the database is back, and the job ends SUCCEEDED with every line; the next job
// runs.
func TestJobSurvivesPostgresRestart(t *testing.T) {
	pg := startPGCluster(t)
	h := serve(t, server.Config{DataDir: t.TempDir(), Logger: testLogger(t), DatabaseURL: pg.URL()}, "")
	h.admin = h.tokenFor("admin", delivery.RoleAdmin)
	gate := filepath.Join(t.TempDir(), "gate")
	def := faultDefinition(t, h, gate)
	watch := startWatchedAgent(t, h, "through-restart", h.http.URL)
	rel, _ := runFaultJob(t, h, def)

	dropped := watch.seen("disconnected from server")
	pg.stop(t)
	// The task prints on: the next batch fails to be stored and the server closes the connection.
	waitChan(t, dropped, "the server to drop the agent's connection while the database is down")
	pg.start(t)
	finishFaultJob(t, h, def, rel, gate)
}

// TestJobSurvivesFullDisk fills the filesystem of a SQLite data directory under a running job:
// the server cannot store the agent's lines, a release cannot be created (UNAVAILABLE, 503 with
// Retry-After), /readyz says the database cannot write; once space is freed the job ends
// SUCCEEDED with every line and the next job runs.
func TestJobSurvivesFullDisk(t *testing.T) {
	dataDir := storagetest.MountTmpfs(t, "16m")
	h := serve(t, server.Config{DataDir: dataDir, Logger: testLogger(t)}, "")
	h.admin = h.tokenFor("admin", delivery.RoleAdmin)
	gate := filepath.Join(t.TempDir(), "gate")
	def := faultDefinition(t, h, gate)
	watch := startWatchedAgent(t, h, "through-full-disk", h.http.URL)
	rel, _ := runFaultJob(t, h, def)

	// Move the WAL's frames into the database file and empty it, so that the next commits need
	// new space (a WAL that was reset after a checkpoint reuses its file and would not notice).
	if _, err := h.srv.DB().SQL.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	dropped := watch.seen("disconnected from server")
	filler := storagetest.Fill(t, dataDir)
	waitChan(t, dropped, "the server to drop the agent's connection while the disk is full")

	// Whose fault: nobody's input. UNAVAILABLE, 503, Retry-After, a message that says why.
	r := h.do(h.admin, `mutation($d: ID!) { createRelease(input: {definitionId: $d}) { id } }`, map[string]any{"d": def})
	if r.code() != string(delivery.CodeUnavailable) || r.Status != http.StatusServiceUnavailable ||
		!strings.Contains(r.Errors[0].Message, "disk is full") || !strings.Contains(r.Errors[0].Message, "retry later") {
		t.Fatalf("createRelease on a full disk: %d %s", r.Status, r.Raw)
	}
	if ra := retryAfter(t, h, def); ra == "" {
		t.Fatal("503 without Retry-After")
	}
	resp, body := get(t, h.http.URL+"/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "cannot write") {
		t.Fatalf("/readyz on a full disk: %d %q", resp.StatusCode, body)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	finishFaultJob(t, h, def, rel, gate)
	if resp, body := get(t, h.http.URL+"/readyz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz after space was freed: %d %q", resp.StatusCode, body)
	}
}

// retryAfter posts a createRelease and returns the Retry-After header of the answer.
func retryAfter(t *testing.T, h *harness, def string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": `mutation($d: ID!) { createRelease(input: {definitionId: $d}) { id } }`,
		"variables": map[string]any{"d": def}})
	req, _ := http.NewRequest(http.MethodPost, h.http.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+h.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Retry-After")
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestAgentMovesToTheNextServer gives an agent several server URLs (--server a,b): it
// registers and connects through the second when the first does not answer, and moves to
// another replica when its own stops.
func TestAgentMovesToTheNextServer(t *testing.T) {
	openGate := func(t *testing.T) string {
		gate := filepath.Join(t.TempDir(), "gate")
		if err := os.WriteFile(gate, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		return gate
	}
	t.Run("first does not answer", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, "sqlite")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := "http://" + ln.Addr().String()
		ln.Close()
		startWatchedAgent(t, h, "second-url", dead+" , "+h.http.URL+"/")
		def := faultDefinition(t, h, openGate(t))
		dev := h.waitEnv(t, h.createRelease(t, def, nil), "dev", "SUCCEEDED")
		if dev.Agent != "second-url" {
			t.Fatalf("job ran on %q", dev.Agent)
		}
	})
	t.Run("replica stops", func(t *testing.T) {
		t.Parallel()
		if os.Getenv(storagetest.EnvPostgres) == "" {
			t.Skipf("replicas need PostgreSQL: set %s", storagetest.EnvPostgres)
		}
		h := newHarness(t, "postgres")
		r := h.replica(t)
		watch := startWatchedAgent(t, h, "moves", h.http.URL+","+r.http.URL)
		moved := watch.seen("connected")
		h.stop()
		waitChan(t, moved, "the agent to connect to the other replica")
		def := faultDefinition(t, r, openGate(t))
		dev := r.waitEnv(t, r.createRelease(t, def, nil), "dev", "SUCCEEDED")
		if dev.Agent != "moves" {
			t.Fatalf("job ran on %q", dev.Agent)
		}
	})
}
