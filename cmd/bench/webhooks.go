package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairnhq/cairn/server"
)

// benchWebhooks sends Jenkins notifications of new builds at rate per second for dur to the
// server's webhook (a definition with three automatic environments whose jobs no agent meets, so
// that releases queue), with a fake Jenkins confirming each build, and the same payloads to a
// bare handler in the same process (the floor). It reports p50/p99, status codes and releases/s,
// on SQLite also for the limiter without its estimate (a server of its own, same run).
func benchWebhooks(ctx context.Context, e *env, rate int, dur time.Duration, r *report) error {
	read := func(name string) string {
		b, err := os.ReadFile("integrations/jenkins/testdata/" + name)
		if err != nil {
			return ""
		}
		return string(b)
	}
	build, jobBuilds, note := read("build_pipeline.json"), read("job_builds.json"), read("notification_completed.json")
	if build == "" || note == "" {
		return fmt.Errorf("run from the repository root: the Jenkins fixtures are read from integrations/jenkins/testdata")
	}
	withNumber := func(s string, n int) string {
		ns := strconv.Itoa(n)
		s = strings.ReplaceAll(s, `"id": "42"`, `"id": "`+ns+`"`)
		s = strings.ReplaceAll(s, `"number": 42`, `"number": `+ns)
		return strings.ReplaceAll(s, "/app/42/", "/app/"+ns+"/")
	}
	jenkins := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p := strings.TrimPrefix(req.URL.Path, "/jenkins/job/acme/job/app/")
		if p == "api/json" {
			io.WriteString(w, jobBuilds)
			return
		}
		if n, err := strconv.Atoi(strings.TrimSuffix(p, "/api/json")); err == nil {
			io.WriteString(w, withNumber(build, n))
			return
		}
		http.NotFound(w, req)
	}))
	defer jenkins.Close()
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"result":"ACCEPTED","releases":[]}`)
	}))
	defer echo.Close()
	client := &http.Client{Timeout: 60 * time.Second}
	// setup creates the Jenkins connection and the definition on e.
	setup := func(e *env) error {
		if err := e.gql(`mutation($u: String!) { createServiceConnection(input: {name: "ci", kind: JENKINS, url: $u,
			username: "cairn", secret: "api-token", webhookSecret: "hook-secret"}) { id } }`, map[string]any{"u": jenkins.URL + "/jenkins"}, nil); err != nil {
			return err
		}
		job := `{skipArtifactDownload: true, demands: ["gpu -equals nowhere"], tasks: [{name: "never", shell: "bash", script: "true"}]}`
		_, err := e.createDefinition(`{name: "burst", artifactSources: [{alias: "app", type: "JENKINS", connection: "ci", job: "acme/app",
		    primary: true, continuousDeployment: true, branchFilters: ["main"]}], environments: [
		  {name: "dev", trigger: {kind: AFTER_RELEASE}, job: ` + job + `},
		  {name: "qa", trigger: {kind: AFTER_RELEASE}, job: ` + job + `},
		  {name: "prod", trigger: {kind: AFTER_RELEASE}, job: ` + job + `}]}`)
		return err
	}
	// burst sends rate/s for dur to url, build numbers from first, and returns latencies, codes
	// and latencies by code.
	burst := func(url string, first int) (dist, map[string]int, map[string]dist) {
		var mu sync.Mutex
		var lat dist
		codes := map[string]int{}
		byCode := map[string]dist{}
		var wg sync.WaitGroup
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		end := time.Now().Add(dur)
		for i := first; time.Now().Before(end) && ctx.Err() == nil; i++ {
			<-tick.C
			body := withNumber(note, i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", url, bytes.NewReader([]byte(body)))
				req.SetBasicAuth("cairn", "hook-secret")
				t0 := time.Now()
				resp, err := client.Do(req)
				d := time.Since(t0)
				code := "timeout/error"
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = strconv.Itoa(resp.StatusCode)
					if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
						code = "503 without Retry-After"
					}
				}
				mu.Lock()
				lat, codes[code], byCode[code] = append(lat, d), codes[code]+1, append(byCode[code], d)
				mu.Unlock()
			}()
		}
		wg.Wait()
		return lat, codes, byCode
	}
	progress("webhook floor: bare handler")
	floor, _, _ := burst(echo.URL+"/webhooks/jenkins/ci", 1000)
	r.floors = append(r.floors, row{metric: fmt.Sprintf("bare handler, same payloads, %d/s for %s", rate, dur),
		value: fmt.Sprintf("p50 %s, p99 %s", ms(floor.pct(0.5)), ms(floor.pct(0.99)))})
	type series struct {
		name string
		e    *env
	}
	runs := []series{{"admission by estimate (default: budget 250 ms, at most 32 in flight)", e}}
	if e.databaseURL == "" {
		// The limiter before the estimate, on a server of its own (a fresh SQLite database), in
		// the same run: 32 in flight, a request beyond them waits up to 1 s for a slot.
		old, err := startEnvWith(ctx, "", func(c *server.Config) {
			c.WebhookBudget, c.WebhookWait = -1, time.Second
		})
		if err != nil {
			return err
		}
		defer old.close()
		runs = append([]series{{"before: at most 32 in flight, wait up to 1 s for a slot, no estimate", old}}, runs...)
	}
	for _, s := range runs {
		if err := setup(s.e); err != nil {
			return err
		}
		progress("webhook burst: " + s.name)
		before, err := s.e.srv.Engine.Client().Release.Query().Count(ctx)
		if err != nil {
			return err
		}
		t0 := time.Now()
		lat, codes, byCode := burst(s.e.http.URL+"/webhooks/jenkins/ci", 100000)
		took := time.Since(t0)
		// Releases created after the burst's last answer are not counted: the rate is of the
		// burst's own window.
		after, err := s.e.srv.Engine.Client().Release.Query().Count(ctx)
		if err != nil {
			return err
		}
		var cs []string
		for _, c := range slices.Sorted(maps.Keys(codes)) {
			cs = append(cs, fmt.Sprintf("%s × %d (p50 %s, p99 %s)", c, codes[c], ms(byCode[c].pct(0.5)), ms(byCode[c].pct(0.99))))
		}
		p99 := lat.pct(0.99)
		r.add(row{metric: fmt.Sprintf("%s: Jenkins notifications of new builds, %d/s for %s, three automatic environments queueing: latency p50 / p99 of every answer", s.name, rate, dur),
			value: fmt.Sprintf("p50 %s, p99 %s; %s; %.1f releases/s", ms(lat.pct(0.5)), ms(p99), strings.Join(cs, ", "), float64(after-before)/took.Seconds()),
			floor: fmt.Sprintf("bare handler p99 %s", ms(floor.pct(0.99))), ratio: ratio(float64(p99), float64(floor.pct(0.99))),
			target: "p99 < 500 ms, no timeout", verdict: verdict(p99 < 500*time.Millisecond && codes["timeout/error"] == 0 && codes["503 without Retry-After"] == 0)})
	}
	return nil
}
