package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/server"
)

// devServer is server.Run in --dev mode on a real listener, as `cairn --dev` runs it.
type devServer struct {
	url    string
	token  string
	cancel context.CancelFunc
	done   chan error
}

func startDevServer(t *testing.T, dataDir, addr string, devAgent bool) *devServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &devServer{url: "http://" + addr, cancel: cancel, done: make(chan error, 1)}
	go func() {
		d.done <- server.Run(ctx, server.Config{Addr: addr, DataDir: dataDir, Dev: true, DevAgent: devAgent,
			Logger: testLogger(t), ShutdownTimeout: 10 * time.Second})
	}()
	t.Cleanup(func() { d.stop(t) })
	poll(t, "the dev server to be ready", func() bool {
		resp, err := http.Get(d.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	tok, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	d.token = strings.TrimSpace(string(tok))
	return d
}

// stop cancels Run (as SIGTERM does) and checks that it shuts down cleanly and promptly.
func (d *devServer) stop(t *testing.T) {
	t.Helper()
	if d.cancel == nil {
		return
	}
	d.cancel()
	d.cancel = nil
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("server.Run: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("server.Run did not return after cancel")
	}
}

func (d *devServer) gql(t *testing.T, query string, vars map[string]any) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", d.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+d.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Errors) > 0 {
		t.Fatalf("%s: %s", query, raw)
	}
	return out.Data
}

// poll waits for cond, checking every 20 ms: server.Run exposes no event bus to wait on.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestDevServerDeploysWithItsOwnAgent is a newcomer's first run: `cairn --dev` and a release,
// nothing else. The server's in-process agent registers itself, deploys, stops with the server,
// and after a restart comes back with its saved credential (no second agent).
func TestDevServerDeploysWithItsOwnAgent(t *testing.T) {
	dataDir := t.TempDir()
	addr := freeAddr(t)
	agents := func(d *devServer) string {
		return toJSON(dig(d.gql(t, `{ agents(first: 10) { edges { node { id name online capabilities } } } }`, nil), "agents", "edges"))
	}
	deploy := func(d *devServer, defID string) []string {
		t.Helper()
		rel := dig(d.gql(t, `mutation($d: ID!) { createRelease(input: {definitionId: $d}) { id } }`, map[string]any{"d": defID}),
			"createRelease", "id")
		var env map[string]any
		poll(t, "dev to deploy", func() bool {
			envs := dig(d.gql(t, `query($r: ID!) { release(id: $r) { environments { name status deployments { job { id status agent { name } } } } } }`,
				map[string]any{"r": rel}), "release", "environments").([]any)
			env = envs[0].(map[string]any)
			return env["status"] == "SUCCEEDED" || env["status"] == "FAILED"
		})
		job := env["deployments"].([]any)[0].(map[string]any)["job"].(map[string]any)
		if env["status"] != "SUCCEEDED" || dig(job, "agent", "name") != server.DevAgentName {
			t.Fatalf("dev deployment: %v", env)
		}
		var lines []string
		for _, l := range dig(d.gql(t, `query($j: ID!) { jobLogs(jobId: $j) { text } }`, map[string]any{"j": job["id"]}), "jobLogs").([]any) {
			lines = append(lines, l.(map[string]any)["text"].(string))
		}
		return lines
	}

	first := startDevServer(t, dataDir, addr, true)
	poll(t, "the dev agent online", func() bool { return strings.Contains(agents(first), `"online":true`) })
	listed := agents(first)
	if !strings.Contains(listed, `"name":"local"`) || !strings.Contains(listed, `"local":"true"`) {
		t.Fatalf("agents: %s", listed)
	}
	defID := dig(first.gql(t, `mutation { createDefinition(input: {name: "first", environments: [{name: "dev", trigger: {kind: AFTER_RELEASE},
	    job: {tasks: [{name: "hello", script: "echo hello from $RELEASE_RELEASENAME"}]}}]}) { id } }`, nil), "createDefinition", "id").(string)
	if got := deploy(first, defID); len(got) != 1 || got[0] != "hello from Release-1" {
		t.Fatalf("first log: %q", got)
	}
	first.stop(t)
	if _, err := os.Stat(filepath.Join(dataDir, "agent", "credential.json")); err != nil {
		t.Fatalf("the dev agent saved no credential: %v", err)
	}

	second := startDevServer(t, dataDir, addr, true)
	poll(t, "the dev agent online again", func() bool { return strings.Contains(agents(second), `"online":true`) })
	// The same agent (same id), no second registration.
	if again := agents(second); strings.Count(again, `"name":`) != 1 || !strings.Contains(again, `{"node":{"capabilities"`) ||
		strings.ReplaceAll(again, `"online":true`, "") != strings.ReplaceAll(listed, `"online":true`, "") {
		t.Fatalf("agents after restart: %s, before: %s", again, listed)
	}
	if got := deploy(second, defID); len(got) != 1 || got[0] != "hello from Release-2" {
		t.Fatalf("second log: %q", got)
	}
}
