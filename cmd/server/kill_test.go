package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/agent"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// testGrace is the servers' agent grace period in these tests: small, so that they finish
// quickly, and large enough for an agent to reconnect on a loaded machine.
const testGrace = 3 * time.Second

// installation is one Cairn installation under test: a server process (replaced at each
// crash), the network its agent reaches it through, and an admin's API client.
type installation struct {
	t    *testing.T
	opts serverOpts
	srv  *serverProc
	net  *netProxy
	api  gqlClient
}

func newInstallation(t *testing.T, dialect string) *installation {
	t.Helper()
	o := serverOpts{dataDir: t.TempDir(), grace: testGrace}
	if dialect == "postgres" {
		o.databaseURL = storagetest.Open(t, "postgres").URL // a fresh, migrated schema
	}
	in := &installation{t: t, opts: o, net: startProxy(t)}
	in.srv = startServer(t, o)
	in.net.point(in.srv.URL)
	in.api = gqlClient{url: in.srv.URL, token: adminToken(t, o.dataDir)}
	t.Cleanup(func() {
		if t.Failed() {
			in.dumpLogs()
		}
	})
	return in
}

// dumpLogs prints the tails of the server and agent logs of a failed test.
func (in *installation) dumpLogs() {
	logs, _ := filepath.Glob(filepath.Join(in.opts.dataDir, "*.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		if len(b) > 6000 {
			b = b[len(b)-6000:]
		}
		in.t.Logf("----- %s -----\n%s", filepath.Base(l), b)
	}
}

// crash kills the server with SIGKILL, keeps it down for downtime, starts it again on the same
// database and data directory (on another port: the agent's network, netProxy, takes it there)
// and returns when it listens. The agent's network stays cut for cut after the start (negative:
// until the caller restores it). It returns when the new process started listening, with the
// instant before the new process started (nothing it does can come earlier) and the instant it
// answered.
func (in *installation) crash(downtime, cut time.Duration) (starting, up time.Time) {
	t := in.t
	t.Helper()
	in.net.point("")
	in.srv.kill()
	// The outage itself: the scenario's length, not a wait for something.
	<-time.After(downtime)
	starting = time.Now()
	in.srv = startServer(t, in.opts)
	up = time.Now()
	in.api.url = in.srv.URL
	switch {
	case cut == 0:
		in.net.point(in.srv.URL)
	case cut > 0:
		url := in.srv.URL
		time.AfterFunc(cut, func() { in.net.point(url) })
	}
	return starting, up
}

// startAgent runs a real agent (agent.Run) in the test process, registered through the API. It
// keeps the default reconnect backoff (1 s doubling to 30 s): the grace the server announces
// must cap it. stop ends it (SIGTERM's way) while the server still runs.
func (in *installation) startAgent(name string) (stop func()) {
	t := in.t
	t.Helper()
	d := in.api.do(t, `mutation { createAgentRegistration(maxUses: 1) { token } }`, nil)
	logFile, err := os.Create(filepath.Join(in.opts.dataDir, "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := agent.Config{
		Server: in.net.URL(), Token: dig(d, "createAgentRegistration", "token").(string), Name: name,
		WorkDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug})),
		KillGrace: 300 * time.Millisecond, ShutdownTimeout: 2 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan error, 1)
	go func() { exited <- agent.Run(ctx, cfg) }()
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("agent: %v", err)
			}
		case <-time.After(procWait):
			t.Errorf("agent did not stop")
		}
		logFile.Close()
	})
	t.Cleanup(stop)
	return stop
}

// counter is a job whose task prints "line 1", "line 2"… every 20 ms (and appends each number
// to a file once printed) until its gate file exists, then "done N" and exits 0.
type counter struct {
	gate, count string
	release     string
}

// startCounter creates a definition and a release of it, and waits until its job runs and has
// stored a few lines.
func (in *installation) startCounter(name string) *counter {
	t := in.t
	t.Helper()
	dir := t.TempDir()
	c := &counter{gate: filepath.Join(dir, "gate"), count: filepath.Join(dir, "count")}
	script := `i=0
while [ ! -e "$GATE" ]; do
  i=$((i+1))
  echo "line $i"
  echo "$i" >> "$COUNT"
  sleep 0.02
done
echo "done $i"`
	d := in.api.do(t, `mutation { createDefinition(comment: "test", input: {name: `+strconv.Quote(name)+`,
	  variables: [{name: "GATE", value: `+strconv.Quote(c.gate)+`}, {name: "COUNT", value: `+strconv.Quote(c.count)+`}],
	  environments: [{name: "dev", trigger: {kind: AFTER_RELEASE},
	    job: {tasks: [{name: "count", shell: "bash", script: `+strconv.Quote(script)+`}]}}]}) { id } }`, nil)
	r := in.api.do(t, `mutation($d: ID!) { createRelease(input: {definitionId: $d, artifacts: []}) { id } }`,
		map[string]any{"d": dig(d, "createDefinition", "id")})
	c.release = dig(r, "createRelease", "id").(string)
	in.waitJob(c, "the job running with output", func(s jobState) bool { return s.Job == "RUNNING" && s.LogSeq >= 5 })
	return c
}

// jobState is a counter's deployment and job as the API shows them.
type jobState struct {
	Deployment, DeploymentReason string
	JobID, Job, JobReason        string
	LogSeq                       int64
	Steps                        map[int]string // position → status
}

func (in *installation) state(c *counter) jobState {
	t := in.t
	t.Helper()
	d := in.api.do(t, `query($r: ID!) { release(id: $r) { environments { deployments { status statusReason
	    job { id status resultReason logSeq steps { position status } } } } } }`, map[string]any{"r": c.release})
	var s jobState
	envs, _ := dig(d, "release", "environments").([]any)
	if len(envs) != 1 {
		return s
	}
	deps, _ := dig(envs[0], "deployments").([]any)
	if len(deps) == 0 {
		return s
	}
	dep := deps[len(deps)-1]
	s.Deployment, _ = dig(dep, "status").(string)
	s.DeploymentReason, _ = dig(dep, "statusReason").(string)
	if j, ok := dig(dep, "job").(map[string]any); ok {
		s.JobID, _ = j["id"].(string)
		s.Job, _ = j["status"].(string)
		s.JobReason, _ = j["resultReason"].(string)
		seq, _ := j["logSeq"].(float64)
		s.LogSeq = int64(seq)
		s.Steps = map[int]string{}
		steps, _ := j["steps"].([]any)
		for _, st := range steps {
			pos, _ := dig(st, "position").(float64)
			s.Steps[int(pos)], _ = dig(st, "status").(string)
		}
	}
	return s
}

func (in *installation) waitJob(c *counter, what string, cond func(jobState) bool) jobState {
	in.t.Helper()
	var s jobState
	waitUntil(in.t, what, func() bool {
		s = in.state(c)
		return cond(s)
	})
	return s
}

// storedLine is a line as jobLogs returns it.
type storedLine struct {
	Seq       int64
	Step      int
	Text      string
	AfterLoss bool
}

// lines returns every stored line of the job, checking that sequence numbers run 1, 2, 3…
func (in *installation) lines(jobID string) []storedLine {
	t := in.t
	t.Helper()
	var out []storedLine
	for {
		d := in.api.do(t, `query($j: ID!, $from: Int64) { jobLogs(jobId: $j, fromSeq: $from, limit: 10000) { seq step text afterLoss } }`,
			map[string]any{"j": jobID, "from": len(out) + 1})
		page, _ := dig(d, "jobLogs").([]any)
		for _, l := range page {
			m := l.(map[string]any)
			sl := storedLine{Seq: int64(m["seq"].(float64)), Step: int(m["step"].(float64)), Text: m["text"].(string), AfterLoss: m["afterLoss"].(bool)}
			if sl.Seq != int64(len(out)+1) {
				t.Fatalf("job %s: stored line %d has seq %d", jobID, len(out)+1, sl.Seq)
			}
			out = append(out, sl)
		}
		if len(page) < 10000 {
			return out
		}
	}
}

// taskLines returns the task's lines (step 1), checking that they are "line 1", "line 2"… each
// once and in order, possibly followed by "done N" or by the agent's note that it canceled the
// task.
func (in *installation) taskLines(jobID string) (all []storedLine, numbered int, done bool) {
	t := in.t
	t.Helper()
	canceled := false
	for _, l := range in.lines(jobID) {
		if l.Step != 1 {
			continue
		}
		switch {
		case done || canceled:
			t.Fatalf("job %s: line %q after the last one", jobID, l.Text)
		case l.Text == fmt.Sprintf("line %d", numbered+1):
			numbered++
		case l.Text == fmt.Sprintf("done %d", numbered):
			done = true
		case strings.HasPrefix(l.Text, "##[error] canceled: job is already LOST"):
			canceled = true
		default:
			t.Fatalf("job %s: stored line %d is %q after %d numbered lines (a line lost or stored twice)", jobID, l.Seq, l.Text, numbered)
		}
		all = append(all, l)
	}
	return all, numbered, done
}

// printed returns how many numbered lines the counter's task recorded as printed.
func printed(t *testing.T, c *counter) int {
	t.Helper()
	b, err := os.ReadFile(c.count)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// TestKilledServerKeepsRunningJobs kills the server process (SIGKILL) in the middle of jobs, five
// times per database and once more a replica on PostgreSQL, with an agent that keeps the default
// reconnect backoff:
//   - downtimes shorter and longer than the grace period, with the agent back soon after the
//     restart, or only after the first sweeps of the new process: the job keeps running through
//     every crash, every line its task printed is stored exactly once, and its real result
//     (SUCCEEDED) is recorded;
//   - the agent cut off for longer than the grace period after the restart: the job is LOST, no
//     sooner than a grace period after the start, with a reason that says so, and when the
//     agent comes back the lines it held are stored, marked as received after the loss;
//   - a replica killed while another is up: the agent moves to the other one and the job is not
//     lost.
func TestKilledServerKeepsRunningJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills server processes")
	}
	serverBinary(t) // before the clock of any case starts
	for _, d := range storagetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel() // each case has its own processes, database and agent
			if d == "postgres" && os.Getenv(storagetest.EnvPostgres) == "" {
				t.Skipf("PostgreSQL case skipped: set %s", storagetest.EnvPostgres)
			}
			in := newInstallation(t, d)
			defer in.startAgent("survivor-" + d)()
			survivesCrashes(t, in)
			lostAfterGrace(t, in)
			if d == "postgres" {
				survivesReplicaCrash(t, in)
			}
		})
	}
}

// survivesCrashes: four crashes of one job's server; the job's log and result are whole.
func survivesCrashes(t *testing.T, in *installation) {
	c := in.startCounter("crashes")
	for i, cr := range []struct {
		downtime, cut time.Duration
	}{
		{300 * time.Millisecond, 0},
		// Longer than the grace, and the agent back only after the new process's first sweeps
		// (every grace/4): the grace counts from the start, not from the agent's last sign of
		// life before the crash (which the first sweep would have found older than the grace).
		{testGrace + 1500*time.Millisecond, testGrace / 3},
		{800 * time.Millisecond, 0},
		{100 * time.Millisecond, 0},
	} {
		before := in.state(c).LogSeq
		_, up := in.crash(cr.downtime, cr.cut)
		long := cr.downtime > testGrace
		in.waitJob(c, fmt.Sprintf("crash %d: the job streaming to the new process", i+1), func(s jobState) bool {
			if s.Job != "RUNNING" {
				t.Fatalf("crash %d (down %s): job %s: %s; deployment %s: %s", i+1, cr.downtime, s.Job, s.JobReason, s.Deployment, s.DeploymentReason)
			}
			// After the long outage, keep this process up past a whole grace period (and the
			// lag it allows) since its start, for its sweeps to have judged the agent.
			return s.LogSeq >= before+10 && (!long || time.Since(up) > 2*testGrace)
		})
	}
	if err := os.WriteFile(c.gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := in.waitJob(c, "the job's result", func(s jobState) bool { return final[s.Deployment] })
	if s.Deployment != "SUCCEEDED" || s.Job != "SUCCEEDED" || s.Steps[1] != "SUCCEEDED" {
		t.Fatalf("after four crashes: deployment %s (%s), job %s (%s), steps %v", s.Deployment, s.DeploymentReason, s.Job, s.JobReason, s.Steps)
	}
	lines, n, done := in.taskLines(s.JobID)
	if !done || n != printed(t, c) {
		t.Fatalf("stored %d numbered lines (done line: %v), the task printed %d", n, done, printed(t, c))
	}
	for _, l := range lines {
		if l.AfterLoss {
			t.Fatalf("line %d marked after a loss in a job never lost", l.Seq)
		}
	}
}

// lostAfterGrace: a crash after which the agent stays cut off: LOST a grace period after the
// start, then the agent's lines arrive, marked.
func lostAfterGrace(t *testing.T, in *installation) {
	c := in.startCounter("cut-off")
	// The grace counts from the new process's start, which is after starting: a loss seen
	// sooner than the grace after starting was declared early (a lower bound, which a slow
	// machine cannot break).
	starting, _ := in.crash(500*time.Millisecond, -1)
	s := in.waitJob(c, "the job lost", func(s jobState) bool { return s.Job != "RUNNING" && final[s.Deployment] })
	lostAfter := time.Since(starting)
	wantReason := fmt.Sprintf(`%s: agent %q did not reconnect within the grace period (%s) after the server started`,
		delivery.LostReason, "survivor-"+in.dialect(), testGrace)
	if s.Job != "LOST" || !strings.HasPrefix(s.JobReason, wantReason) || s.Deployment != "FAILED" || !strings.Contains(s.DeploymentReason, wantReason) {
		t.Fatalf("job %s (%q), deployment %s (%q); want LOST, FAILED: %q", s.Job, s.JobReason, s.Deployment, s.DeploymentReason, wantReason)
	}
	if lostAfter < testGrace {
		t.Fatalf("lost %s after the server started, before the grace period (%s)", lostAfter, testGrace)
	}
	atLoss := s.LogSeq
	// The agent comes back: it hears the job is over, stops its task and sends what it held.
	in.net.point(in.srv.URL)
	s = in.waitJob(c, "the agent's report of the canceled task", func(s jobState) bool { return s.Steps[1] == "CANCELED" })
	if s.Job != "LOST" || s.Deployment != "FAILED" || !strings.HasPrefix(s.JobReason, wantReason) {
		t.Fatalf("the agent's report changed the result: job %s (%q), deployment %s", s.Job, s.JobReason, s.Deployment)
	}
	lines, n, done := in.taskLines(s.JobID)
	if p := printed(t, c); done || n < p || n > p+1 { // killed between printing and counting: one more
		t.Fatalf("stored %d numbered lines (done line: %v), the task printed %d", n, done, p)
	}
	var after []int64
	for _, l := range lines {
		if l.AfterLoss != (l.Seq > atLoss) {
			t.Fatalf("line %d (%q): afterLoss %v, the job was lost with %d lines stored", l.Seq, l.Text, l.AfterLoss, atLoss)
		}
		if l.AfterLoss {
			after = append(after, l.Seq)
		}
	}
	if len(after) < 10 {
		t.Fatalf("%d lines stored after the loss (from %d on), want the ~%s of output the agent held", len(after), atLoss+1, testGrace)
	}
	// The downloaded log shows where the loss was.
	text := in.api.get(t, "/logs/deployments/"+in.deploymentID(c))
	rows := strings.Split(text, "\n")
	i := slices.IndexFunc(rows, func(r string) bool { return strings.Contains(r, "declared LOST") })
	if i < 0 || i+1 >= len(rows) || rows[i+1] != lines[len(lines)-len(after)].Text {
		t.Fatalf("no loss marker before %q in the downloaded log", lines[len(lines)-len(after)].Text)
	}
}

// survivesReplicaCrash: two replicas; the one the agent is connected to is killed, the agent
// reaches the other half a grace period later (its network's failover), and the job goes on.
func survivesReplicaCrash(t *testing.T, in *installation) {
	c := in.startCounter("replica-crash")
	other := startServer(t, in.opts)
	before := in.state(c).LogSeq
	in.net.point("")
	in.srv.kill()
	killed := time.Now()
	in.srv, in.api.url = other, other.URL
	time.AfterFunc(testGrace/2, func() { in.net.point(other.URL) })
	in.waitJob(c, "the job streaming to the other replica, a grace period after the crash", func(s jobState) bool {
		if s.Job != "RUNNING" {
			t.Fatalf("job %s: %s; deployment %s: %s", s.Job, s.JobReason, s.Deployment, s.DeploymentReason)
		}
		return s.LogSeq >= before+10 && time.Since(killed) > 2*testGrace
	})
	if err := os.WriteFile(c.gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := in.waitJob(c, "the job's result", func(s jobState) bool { return final[s.Deployment] })
	if s.Deployment != "SUCCEEDED" || s.Job != "SUCCEEDED" {
		t.Fatalf("deployment %s (%s), job %s (%s)", s.Deployment, s.DeploymentReason, s.Job, s.JobReason)
	}
	if _, n, done := in.taskLines(s.JobID); !done || n != printed(t, c) {
		t.Fatalf("stored %d numbered lines (done: %v), the task printed %d", n, done, printed(t, c))
	}
}

// final are the final deployment statuses.
var final = map[string]bool{"SUCCEEDED": true, "PARTIALLY_SUCCEEDED": true, "FAILED": true, "CANCELED": true, "REJECTED": true}

func (in *installation) dialect() string {
	if in.opts.databaseURL != "" {
		return "postgres"
	}
	return "sqlite"
}

func (in *installation) deploymentID(c *counter) string {
	d := in.api.do(in.t, `query($r: ID!) { release(id: $r) { environments { deployments { id } } } }`, map[string]any{"r": c.release})
	envs := dig(d, "release", "environments").([]any)
	deps := dig(envs[0], "deployments").([]any)
	return dig(deps[len(deps)-1], "id").(string)
}
