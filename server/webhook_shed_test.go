package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/server"
)

// blockingJenkins is fakeJenkins whose build API answers only once release is
// closed; entered gets a value when a request is waiting there.
func blockingJenkins(t *testing.T, entered chan<- struct{}, release <-chan struct{}) *httptest.Server {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile("../integrations/jenkins/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	build, jobBuilds := read("build_pipeline.json"), read("job_builds.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "cairn" || p != "api-token" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/jenkins/job/acme/job/app/42/api/json":
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
			w.Write(build)
		case "/jenkins/job/acme/job/app/api/json":
			w.Write(jobBuilds)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestWebhookBurstIsShed: with one webhook request allowed in flight and one
// held there (its build confirmation waits on the fake Jenkins), others, of
// either CI kind and whether they authenticate or not, are answered 503
// with Retry-After, and no delivery is recorded for them; once the first
// finishes, the next is served. A shed request frees nothing it did not
// take.
func TestWebhookBurstIsShed(t *testing.T) {
	eachWith(t, func(c *server.Config) { c.WebhookMaxInFlight, c.WebhookWait = 1, time.Millisecond }, func(t *testing.T, h *harness, _ logRecorder) {
		ctx := context.Background()
		entered, release := make(chan struct{}, 1), make(chan struct{})
		var once sync.Once
		open := func() { once.Do(func() { close(release) }) }
		defer open()
		jenkins := blockingJenkins(t, entered, release)
		h.ok(h.admin, `mutation($u: String!) { createServiceConnection(input: {name: "ci", kind: JENKINS, url: $u,
			username: "cairn", secret: "api-token", webhookSecret: "hook-secret"}) { id } }`, map[string]any{"u": jenkins.URL + "/jenkins"})
		h.ok(h.admin, `mutation { createDefinition(input: {
		    name: "shop",
		    artifactSources: [{alias: "app", type: "JENKINS", connection: "ci", job: "acme/app", primary: true,
		      continuousDeployment: true, branchFilters: ["main"]}],
		    environments: [{name: "dev", trigger: {kind: MANUAL}, job: {tasks: [{name: "deploy", script: "echo dev"}]}}]}) { id } }`, nil)
		body, err := os.ReadFile("../integrations/jenkins/testdata/notification_completed.json")
		if err != nil {
			t.Fatal(err)
		}
		post := func(path, user, pass string, payload []byte) (*http.Response, map[string]any) {
			req, _ := http.NewRequest("POST", h.http.URL+path, bytes.NewReader(payload))
			if user != "" {
				req.SetBasicAuth(user, pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var m map[string]any
			json.NewDecoder(resp.Body).Decode(&m)
			return resp, m
		}
		deliveries := func() int { return h.srv.Engine.Client().WebhookDelivery.Query().CountX(ctx) }

		first := make(chan int, 1)
		go func() {
			resp, _ := post("/webhooks/jenkins/ci", "cairn", "hook-secret", body)
			first <- resp.StatusCode
		}()
		select {
		case <-entered: // the first request holds the only slot
		case <-time.After(eventWait):
			t.Fatal("the first webhook never reached Jenkins")
		}
		before := deliveries()
		for _, c := range []struct{ name, path, user, pass string }{
			{"the same build again", "/webhooks/jenkins/ci", "cairn", "hook-secret"},
			{"wrong credentials", "/webhooks/jenkins/ci", "cairn", "wrong"},
			{"no credentials", "/webhooks/jenkins/ci", "", ""},
			{"unknown connection", "/webhooks/jenkins/nope", "cairn", "hook-secret"},
			{"Azure DevOps endpoint", "/webhooks/teambuild/ci", "cairn", "hook-secret"},
		} {
			resp, m := post(c.path, c.user, c.pass, body)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("%s while the slot is taken: %d, Retry-After %q, %v", c.name, resp.StatusCode, resp.Header.Get("Retry-After"), m)
			}
			if r, _ := m["reason"].(string); !strings.Contains(r, "too many webhook requests") {
				t.Fatalf("%s: reason %v", c.name, m)
			}
		}
		if n := deliveries(); n != before {
			t.Fatalf("%d deliveries recorded for shed requests", n-before)
		}
		open()
		if code := <-first; code != http.StatusCreated {
			t.Fatalf("the held request answered %d, want 201", code)
		}
		// The slot is free again: the next delivery is served (a duplicate of the first).
		resp, m := post("/webhooks/jenkins/ci", "cairn", "hook-secret", body)
		if resp.StatusCode == http.StatusServiceUnavailable {
			t.Fatalf("after the first finished: still shed: %v", m)
		}
		if n := deliveries(); n != before+2 {
			t.Fatalf("%d deliveries recorded after the first and the next, want 2", n-before)
		}
	})
}
