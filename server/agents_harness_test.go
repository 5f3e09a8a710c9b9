package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/cairnhq/cairn/agent"
	"github.com/cairnhq/cairn/delivery"
	entagent "github.com/cairnhq/cairn/ent/agent"
)

// waitLimit bounds every wait of the agent tests; generous, for a loaded 2-core CI machine.
const waitLimit = 60 * time.Second

// liveAgent is a real agent (agent.Run) running in the test process against the harness.
type liveAgent struct {
	name   string
	dir    string
	cancel context.CancelFunc
	exited chan struct{}
	err    error // Run's result, set when exited is closed
}

// stop ends the agent as SIGTERM would and returns Run's result.
func (a *liveAgent) stop() error {
	a.cancel()
	select {
	case <-a.exited:
		return a.err
	case <-time.After(waitLimit):
		return errors.New("agent " + a.name + " did not stop")
	}
}

// startAgent registers and runs a real agent with a fresh registration token and work directory,
// and waits until the server has it online. It stops before the server does (cleanups run last
// in, first out).
func (h *harness) startAgent(t *testing.T, name string, caps map[string]string) *liveAgent {
	t.Helper()
	ctx := context.Background()
	tok, _, err := h.srv.Engine.CreateAgentRegistration(ctx, delivery.SystemActor("test"), "", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := agent.Config{
		Server: h.http.URL, Token: tok, Name: name, WorkDir: t.TempDir(), Capabilities: caps,
		Logger:       testLogger(t).With("agent", name),
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
	return a
}

// waitFor waits until cond holds, re-checking on every event of the server's bus (and every
// 50 ms, for changes that publish nothing), and fails the test after waitLimit.
func (h *harness) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	bus := h.srv.Events()
	events, unsubscribe := bus.Subscribe()
	defer func() { unsubscribe() }()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case _, ok := <-events:
			if !ok { // lagged: subscribe again
				unsubscribe()
				events, unsubscribe = bus.Subscribe()
			}
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s", waitLimit, what)
		}
	}
}

// envState is one environment of a release as the API shows it.
type envState struct {
	Status       string
	DeploymentID string
	Deployment   string // status of the latest deployment
	JobID        string
	Job          string // status of its job
	Agent        string // name of the agent that ran the job
	Waiting      string // why the job waits, if it does
}

// releaseEnvs returns the environments of a release by name, with their latest deployment.
func (h *harness) releaseEnvs(t *testing.T, relID string) map[string]envState {
	t.Helper()
	r := h.do(h.admin, `query($r: ID!) { release(id: $r) { environments { name status
	    deployments { id status job { id status waitingReason agent { name } } } } } }`, map[string]any{"r": relID})
	out := map[string]envState{}
	if r.Status == http.StatusServiceUnavailable {
		// UNAVAILABLE is retryable (a database restart leaves stale pooled connections that
		// fail once): a polling client reads again, as the waits here do.
		return out
	}
	if r.Status != 200 || len(r.Errors) > 0 {
		t.Fatalf("request failed (%d): %s", r.Status, r.Raw)
	}
	d := r.Data
	for _, e := range dig(d, "release", "environments").([]any) {
		m := e.(map[string]any)
		st := envState{Status: m["status"].(string)}
		deps, _ := m["deployments"].([]any)
		if len(deps) > 0 {
			last := deps[len(deps)-1].(map[string]any)
			st.DeploymentID, st.Deployment = last["id"].(string), last["status"].(string)
			if j, ok := last["job"].(map[string]any); ok {
				st.JobID, st.Job = j["id"].(string), j["status"].(string)
				st.Waiting, _ = j["waitingReason"].(string)
				if a, ok := j["agent"].(map[string]any); ok {
					st.Agent = a["name"].(string)
				}
			}
		}
		out[m["name"].(string)] = st
	}
	return out
}

// waitEnv waits until the environment's latest deployment is in one of the statuses (or any
// final status, which then fails the test if it is not wanted) and returns the environment.
func (h *harness) waitEnv(t *testing.T, relID, env string, want ...string) envState {
	t.Helper()
	final := map[string]bool{"SUCCEEDED": true, "PARTIALLY_SUCCEEDED": true, "FAILED": true, "CANCELED": true, "REJECTED": true}
	var st envState
	h.waitFor(t, fmt.Sprintf("environment %s in %v", env, want), func() bool {
		st = h.releaseEnvs(t, relID)[env]
		// The environment's status and its deployment's are read by two
		// queries: a final deployment counts once its environment agrees.
		for _, w := range want {
			if st.Deployment == w && (!final[w] || st.Status == w) {
				return true
			}
		}
		if final[st.Deployment] && st.Status != st.Deployment {
			return false
		}
		if final[st.Deployment] {
			t.Fatalf("environment %s ended %s, want %v (job %s); log:\n%s", env, st.Deployment, want, st.Job, h.jobLog(t, st.JobID))
		}
		return false
	})
	return st
}

// jobLog returns a job's stored log lines (text only), read through GraphQL.
func (h *harness) jobLog(t *testing.T, jobID string) []string {
	t.Helper()
	return h.readLog(t, jobID, 0)
}

// taskLog returns the lines the job's tasks printed (steps 1..N), without the artifact download's.
func (h *harness) taskLog(t *testing.T, jobID string) []string {
	t.Helper()
	return h.readLog(t, jobID, 1)
}

func (h *harness) readLog(t *testing.T, jobID string, fromStep int) []string {
	t.Helper()
	if jobID == "" {
		return nil
	}
	d := h.ok(h.admin, `query($j: ID!) { jobLogs(jobId: $j, limit: 10000) { seq step text } }`, map[string]any{"j": jobID})
	var out []string
	for i, l := range dig(d, "jobLogs").([]any) {
		m := l.(map[string]any)
		if seq := int(m["seq"].(float64)); seq != i+1 {
			t.Fatalf("job %s: line %d has seq %d", jobID, i+1, seq)
		}
		if int(m["step"].(float64)) >= fromStep {
			out = append(out, m["text"].(string))
		}
	}
	return out
}

// createDefinition creates a definition from a GraphQL DefinitionInput literal and returns its id.
func (h *harness) createDefinition(t *testing.T, input string) string {
	t.Helper()
	d := h.ok(h.admin, `mutation { createDefinition(comment: "test", input: `+input+`) { id } }`, nil)
	return dig(d, "createDefinition", "id").(string)
}

// createRelease creates a release of a definition with explicit artifact versions.
func (h *harness) createRelease(t *testing.T, defID string, artifacts []map[string]any) string {
	t.Helper()
	if artifacts == nil {
		artifacts = []map[string]any{}
	}
	d := h.ok(h.admin, `mutation($d: ID!, $a: [ArtifactVersionInput!]) { createRelease(input: {definitionId: $d, artifacts: $a}) { id } }`,
		map[string]any{"d": defID, "a": artifacts})
	return dig(d, "createRelease", "id").(string)
}

// jenkinsBuildPath is a Jenkins build's JSON API path: /job/{folder}/job/{name}/{number}/api/json.
var jenkinsBuildPath = regexp.MustCompile(`^((?:/job/[^/]+)+)/([0-9]+)/api/json$`)

// anyBuildJenkins is a Jenkins whose every job has every build, succeeded, as its JSON API answers
// (the engine checks the builds of manual releases with it). It returns the server's URL.
func anyBuildJenkins(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := jenkinsBuildPath.FindStringSubmatch(r.URL.EscapedPath())
		if r.Method != http.MethodGet || m == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		fmt.Fprintf(w, `{"_class":"org.jenkinsci.plugins.workflow.job.WorkflowRun","number":%s,"displayName":"#%s","url":"http://%s%s/%s/","result":"SUCCESS","building":false,"actions":[{}],"artifacts":[],"changeSets":[]}`,
			m[2], m[2], r.Host, m[1], m[2])
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
