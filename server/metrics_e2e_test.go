package server_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/server"
)

// scrape GETs url with token (none when empty) and returns the status and, for 200, the samples
// by series ("name{label="value",…}" as Prometheus' text format prints it).
func scrape(t *testing.T, url, token string) (int, map[string]float64) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return 200, out
}

// TestMetricsEndpoint scrapes a real server on the main listener (token) while a real agent
// deploys, a job waits for a capability no agent has, and webhooks are refused.
func TestMetricsEndpoint(t *testing.T) {
	const token = "metrics-secret-0123456789"
	h := serve(t, server.Config{DataDir: t.TempDir(), Logger: testLogger(t), MetricsToken: token}, "")
	h.admin = h.tokenFor("admin", delivery.RoleAdmin)
	url := h.http.URL + "/metrics"

	for name, tok := range map[string]string{"none": "", "wrong": "metrics-secret-012345678", "api token": h.admin, "longer": token + "x"} {
		if code, _ := scrape(t, url, tok); code != http.StatusUnauthorized {
			t.Errorf("token %s: status %d, want 401", name, code)
		}
	}
	code, m := scrape(t, url, token)
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	for _, s := range []string{"go_goroutines", "cairn_state_read_success", "cairn_queue_depth", "cairn_manual_interventions_pending", `cairn_agents{state="online"}`,
		"cairn_event_subscribers", `cairn_outbox_messages{outbox="hook",status="FAILED"}`, "cairn_log_lines_ingested_total",
		"cairn_dispatch_latency_seconds_count", "cairn_event_subscribers_lagged_total",
		"cairn_retention_runs_total", "cairn_retention_releases_deleted_total", "cairn_retention_last_run_seconds"} {
		if _, ok := m[s]; !ok {
			t.Errorf("no series %s", s)
		}
	}
	if m["cairn_state_read_success"] != 1 || m["cairn_event_subscribers"] < 1 {
		t.Errorf("state read %v, subscribers %v", m["cairn_state_read_success"], m["cairn_event_subscribers"])
	}

	h.startAgent(t, "metrics-agent", nil)
	def := h.createDefinition(t, `{name: "metered", environments: [
	    {name: "dev", trigger: {kind: AFTER_RELEASE}, job: {tasks: [{name: "t", script: "echo one; echo two; echo three"}]}},
	    {name: "gpu", trigger: {kind: AFTER_RELEASE}, job: {demands: ["gpu -equals nvidia"], tasks: [{name: "t", script: "true"}]}},
	    {name: "hold", trigger: {kind: AFTER_RELEASE}, job: {tasks: [{name: "wait for ops", kind: MANUAL_INTERVENTION}]}}]}`)
	rel := h.createRelease(t, def, nil)
	h.waitEnv(t, rel, "dev", "SUCCEEDED")
	h.waitFor(t, "the gpu job's waiting reason", func() bool { return h.releaseEnvs(t, rel)["gpu"].Waiting != "" })
	waiting := h.releaseEnvs(t, rel)["gpu"].Waiting

	// Two refused webhooks: an unknown connection (401, as a wrong secret) and a hostile body to the other source.
	for _, u := range []string{"/webhooks/jenkins/nope", "/webhooks/teambuild/nope"} {
		resp, err := http.Post(h.http.URL+u, "application/json", strings.NewReader(`{"name":`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	_, m = scrape(t, url, token)
	want := map[string]float64{
		`cairn_deployments{environment="dev",status="SUCCEEDED"}`: 1,
		`cairn_deployments{environment="gpu",status="QUEUED"}`:    1,
		`cairn_queue_depth`:                                                               1,
		`cairn_manual_interventions_pending`:                                              1,
		`cairn_deployments{environment="hold",status="IN_PROGRESS"}`:                      1,
		`cairn_queued_jobs{reason="` + strings.ReplaceAll(waiting, `"`, `\"`) + `"}`:      1,
		`cairn_agents{state="online"}`:                                                    1,
		`cairn_agent_connections`:                                                         1,
		`cairn_dispatch_latency_seconds_count`:                                            1,
		`cairn_webhook_deliveries_total{code="401",result="rejected",source="jenkins"}`:   1,
		`cairn_webhook_deliveries_total{code="401",result="rejected",source="teambuild"}`: 1,
	}
	for s, v := range want {
		if got, ok := m[s]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", s, got, ok, v)
		}
	}
	// The agent's log holds the task's three lines plus its own notices.
	if got := m["cairn_log_lines_ingested_total"]; got < 3 {
		t.Errorf("log lines ingested %v, want at least 3", got)
	}
	// Every series the Grafana dashboard queries exists.
	dash, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for s := range m {
		names[strings.SplitN(s, "{", 2)[0]] = true
	}
	for _, name := range regexp.MustCompile(`\b(?:cairn|go|process)_[a-z_]+\b`).FindAllString(string(dash), -1) {
		if !names[name] {
			t.Errorf("the dashboard queries %s, which the server does not export", name)
		}
	}
	if m["cairn_dispatch_latency_seconds_sum"] <= 0 || m["cairn_dispatch_latency_seconds_sum"] > 60 {
		t.Errorf("dispatch latency sum %v s", m["cairn_dispatch_latency_seconds_sum"])
	}
}

// TestMetricsOffByDefault: without a metrics token the main listener serves no metrics, even to
// an admin.
func TestMetricsOffByDefault(t *testing.T) {
	h := newHarness(t, "sqlite")
	if code, _ := scrape(t, h.http.URL+"/metrics", h.admin); code != http.StatusNotFound {
		t.Errorf("status %d, want 404", code)
	}
}

// TestMetricsOnTheirOwnAddress runs server.Run with --metrics-addr: metrics there without a
// token, none on the main address.
func TestMetricsOnTheirOwnAddress(t *testing.T) {
	addr, maddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Config{Addr: addr, MetricsAddr: maddr, DataDir: t.TempDir(),
			Logger: testLogger(t), ShutdownTimeout: 10 * time.Second})
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server.Run: %v", err)
			}
		case <-time.After(waitLimit):
			t.Error("server.Run did not return")
		}
	}()
	poll(t, "the server to be ready", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	code, m := scrape(t, "http://"+maddr+"/metrics", "")
	if code != 200 || m["cairn_state_read_success"] != 1 {
		t.Fatalf("metrics address: status %d, state read %v", code, m["cairn_state_read_success"])
	}
	if code, _ := scrape(t, "http://"+addr+"/metrics", ""); code != http.StatusNotFound {
		t.Errorf("main address: status %d, want 404", code)
	}
	resp, err := http.Post("http://"+maddr+"/graphql", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("metrics address serves /graphql: %d", resp.StatusCode)
	}
}
