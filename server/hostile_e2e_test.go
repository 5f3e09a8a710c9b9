package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/server"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// logRecorder is a slog handler that keeps the messages at or above WARN, for tests that
// check what a bad request logs.
type logRecorder struct {
	mu   *sync.Mutex
	recs *[]slog.Record
}

func newLogRecorder() logRecorder { return logRecorder{mu: &sync.Mutex{}, recs: &[]slog.Record{}} }

func (l logRecorder) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }
func (l logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	*l.recs = append(*l.recs, r)
	l.mu.Unlock()
	return nil
}
func (l logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logRecorder) WithGroup(string) slog.Handler      { return l }

// errors returns the messages logged at ERROR.
func (l logRecorder) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range *l.recs {
		if r.Level >= slog.LevelError {
			out = append(out, r.Message)
		}
	}
	return out
}

// eachWith is each with a changed configuration and a log recorder.
func eachWith(t *testing.T, mutate func(*server.Config), fn func(t *testing.T, h *harness, logs logRecorder)) {
	for _, d := range storagetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			if d == "postgres" && os.Getenv(storagetest.EnvPostgres) == "" {
				t.Skipf("PostgreSQL case skipped: set %s", storagetest.EnvPostgres)
			}
			logs := newLogRecorder()
			cfg := server.Config{DataDir: t.TempDir(), Logger: slog.New(logs)}
			if d == "postgres" {
				cfg.DatabaseURL = storagetest.PostgresURL(t)
			}
			if mutate != nil {
				mutate(&cfg)
			}
			h := serve(t, cfg, "")
			h.admin = h.tokenFor("admin", "ADMIN")
			fn(t, h, logs)
		})
	}
}

// rawRequest sends head (request line and headers, without the blank line) and body over a
// new TCP connection and returns the status code of the answer (0 when the server closed the
// connection without one) and the body.
func rawRequest(t *testing.T, h *harness, head string, body io.Reader) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", h.http.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, head+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if body != nil {
		// A server that answers before reading everything may close the connection.
		_, _ = io.Copy(c, body)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// chunked encodes parts as HTTP/1.1 chunks, with the last chunk.
func chunked(parts ...string) io.Reader {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(p), p)
	}
	b.WriteString("0\r\n\r\n")
	return strings.NewReader(b.String())
}

// TestNodeIDThatIsNotAnID: node(id:) with text that is no id is INVALID_INPUT (field "id"),
// whether inline or in a variable, and logs no error; nodes(ids:), other ID arguments and
// other scalars (cursors, times, Int64) that do not parse too.
func TestNodeIDThatIsNotAnID(t *testing.T) {
	eachWith(t, nil, func(t *testing.T, h *harness, logs logRecorder) {
		for _, tt := range []struct {
			name, query string
			vars        map[string]any
		}{
			{"inline", `{ node(id: "1 OR 1=1") { id } }`, nil},
			{"variable", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": "1 OR 1=1"}},
			{"float", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": 1.5}},
			{"past the integer range", `{ node(id: "99999999999999999999999") { id } }`, nil},
			{"list", `{ nodes(ids: ["1", "x'; DROP TABLE users; --"]) { id } }`, nil},
			{"release", `{ release(id: "abc") { id } }`, nil},
			{"where id", `{ releases(where: {idGT: "x"}) { totalCount } }`, nil},
			// Other scalars that do not parse are the client's mistake too.
			{"cursor", `{ releases(after: "garbage") { totalCount } }`, nil},
			{"time", `{ releases(where: {createdAtGT: "yesterday"}) { totalCount } }`, nil},
			{"int64", `query($j: ID!) { jobLogs(jobId: $j, fromSeq: "many") { seq } }`, map[string]any{"j": "1"}},
		} {
			r := h.do(h.admin, tt.query, tt.vars)
			isID := !contains(tt.query, "after:") && !contains(tt.query, "createdAtGT") && !contains(tt.query, "fromSeq")
			if r.code() != "INVALID_INPUT" || contains(r.Raw, "internal error") || isID && !contains(r.Raw, `"field":"id"`) {
				t.Errorf("%s: %d %s", tt.name, r.Status, r.Raw)
			}
		}
		if errs := logs.errors(); len(errs) > 0 {
			t.Fatalf("logged errors: %q", errs)
		}
		// A real id still works.
		if r := h.ok(h.admin, `{ viewer { user { id } } }`, nil); dig(r, "viewer", "user", "id") == nil {
			t.Fatalf("viewer: %s", toJSON(r))
		}
	})
}

// TestChunkedGraphQLBodyOverLimit: a GraphQL body sent chunked (no Content-Length) past
// --max-body is 413, not a 200 with an error, and runs nothing; one under it runs.
func TestChunkedGraphQLBodyOverLimit(t *testing.T) {
	eachWith(t, func(c *server.Config) { c.MaxBodyBytes = 4096 }, func(t *testing.T, h *harness, logs logRecorder) {
		head := "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nAuthorization: Bearer " + h.admin
		mutation := func(pad int) []string {
			return []string{`{"query":"mutation { createGroup(input: {name: \"g`, fmt.Sprint(pad), `\"}) { id } }", "pad":"`,
				strings.Repeat("x", pad), `"}`}
		}
		status, body := rawRequest(t, h, head, chunked(mutation(8000)...))
		if status != http.StatusRequestEntityTooLarge || !contains(body, "INVALID_INPUT") || !contains(body, "4096") {
			t.Fatalf("chunked body over the limit: %d %s", status, body)
		}
		if n := h.srv.Engine.Client().Group.Query().CountX(context.Background()); n != 0 {
			t.Fatalf("%d groups created by a refused request", n)
		}
		status, body = rawRequest(t, h, head, chunked(mutation(100)...))
		if status != http.StatusOK || !contains(body, `"createGroup":{"id"`) {
			t.Fatalf("chunked body under the limit: %d %s", status, body)
		}
		if errs := logs.errors(); len(errs) > 0 {
			t.Fatalf("logged errors: %q", errs)
		}
	})
}

// TestUnauthenticatedWebhooksWriteNothing: 60 POSTs to unknown connections and 60 with a
// wrong secret add no row (and are answered 404 and 401); an authenticated one is recorded.
func TestUnauthenticatedWebhooksWriteNothing(t *testing.T) {
	eachWith(t, nil, func(t *testing.T, h *harness, logs logRecorder) {
		ctx := context.Background()
		h.ok(h.admin, `mutation { createServiceConnection(input: {name: "ci", kind: JENKINS, url: "http://127.0.0.1:1/jenkins",
			username: "cairn", secret: "api-token", webhookSecret: "hook-secret"}) { id } }`, nil)
		c := h.srv.Engine.Client()
		before := [...]int{c.WebhookDelivery.Query().CountX(ctx), c.AuditEvent.Query().CountX(ctx), c.Event.Query().CountX(ctx)}
		postBody := func(path, user, pass string) (int, string) {
			req, _ := http.NewRequest("POST", h.http.URL+path, strings.NewReader(`{"name":"app","build":{"number":1,"phase":"COMPLETED","status":"SUCCESS"}}`))
			if user != "" {
				req.SetBasicAuth(user, pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, resp.Header.Get("WWW-Authenticate") + " " + string(b)
		}
		post := func(path, user, pass string) int {
			s, _ := postBody(path, user, pass)
			return s
		}
		// An unknown connection name is answered as a known one with a
		// wrong secret: the caller cannot tell which names exist.
		unknownStatus, unknownBody := postBody("/webhooks/jenkins/nope", "cairn", "hook-secret")
		knownStatus, knownBody := postBody("/webhooks/jenkins/ci", "cairn", "wrong")
		if unknownStatus != http.StatusUnauthorized || unknownStatus != knownStatus || unknownBody != knownBody {
			t.Fatalf("unknown connection %d %q, known with a wrong secret %d %q: want the same 401", unknownStatus, unknownBody, knownStatus, knownBody)
		}
		for i := range 60 {
			if s := post(fmt.Sprintf("/webhooks/jenkins/nope-%d", i), "cairn", "hook-secret"); s != http.StatusUnauthorized {
				t.Fatalf("unknown connection: %d", s)
			}
			if s := post("/webhooks/teambuild/"+url.PathEscape(fmt.Sprintf("x %d", i)), "", ""); s != http.StatusUnauthorized {
				t.Fatalf("unknown teambuild connection: %d", s)
			}
			if s := post("/webhooks/jenkins/ci", "cairn", fmt.Sprintf("guess-%d", i)); s != http.StatusUnauthorized {
				t.Fatalf("wrong secret: %d", s)
			}
		}
		after := [...]int{c.WebhookDelivery.Query().CountX(ctx), c.AuditEvent.Query().CountX(ctx), c.Event.Query().CountX(ctx)}
		if after != before {
			t.Fatalf("unauthenticated webhooks wrote rows: deliveries, audit, events %v, had %v", after, before)
		}
		// Authenticated, the same (ignored: no source follows the job) body is recorded.
		if s := post("/webhooks/jenkins/ci", "cairn", "hook-secret"); s != http.StatusAccepted {
			t.Fatalf("authenticated: %d", s)
		}
		if n := c.WebhookDelivery.Query().CountX(ctx); n != before[0]+1 {
			t.Fatalf("%d deliveries after an authenticated one, want %d", n, before[0]+1)
		}
		if errs := logs.errors(); len(errs) > 0 {
			t.Fatalf("logged errors: %q", errs)
		}
	})
}

// slowRequest sends head and the first part of a body whose Content-Length promises more,
// then trickles one byte every 20 ms, as a slow (or hostile) client does, until the server
// answers or closes. It returns the status (0: closed without an answer) and how long the
// server took.
func slowRequest(t *testing.T, h *harness, head, start string, promised int) (int, string, time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", h.http.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	begin := time.Now()
	fmt.Fprintf(c, "%s\r\nContent-Length: %d\r\n\r\n%s", head, promised, start)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for range promised - len(start) - 1 { // never the last byte
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err.Error(), time.Since(begin)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), time.Since(begin)
}

// TestSlowBodiesTimeOut: a body sent byte by byte to /agent/register, a webhook or /graphql
// is cut off at the body read timeout with 408 (or, before authentication, an answer and a
// closed connection) and creates nothing; meanwhile websocket and SSE subscriptions outlive
// the timeout many times over.
func TestSlowBodiesTimeOut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	eachWith(t, func(c *server.Config) { c.BodyReadTimeout = timeout }, func(t *testing.T, h *harness, logs logRecorder) {
		ctx := context.Background()
		c := h.srv.Engine.Client()
		h.ok(h.admin, `mutation { createServiceConnection(input: {name: "ci", kind: JENKINS, url: "http://127.0.0.1:1/jenkins",
			username: "cairn", secret: "api-token", webhookSecret: "hook-secret"}) { id } }`, nil)
		h.tokenFor("pam", "VIEWER")
		h.tokenFor("pat", "VIEWER")
		defID := dig(h.ok(h.admin, threeEnvDefinition, map[string]any{"c": "ci"}), "createDefinition", "id").(string)

		// Long-lived streams opened before the slow clients.
		vars := map[string]any{"d": defID, "after": 0}
		ws := h.dialWS(h.admin, false)
		ws.ack()
		ws.subscribe("1", releaseEventsSub, vars)
		sse := h.subscribeSSE(h.admin, releaseEventsSub, vars, "releaseEvents")

		basic := "Basic Y2Fpcm46aG9vay1zZWNyZXQ=" // cairn:hook-secret
		for _, tt := range []struct {
			name, head, start string
			status            int
		}{
			{"agent registration", "POST /agent/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json", `{"token":"`, http.StatusRequestTimeout},
			{"webhook", "POST /webhooks/jenkins/ci HTTP/1.1\r\nHost: x\r\nAuthorization: " + basic, `{"name":"app","build":{`, http.StatusRequestTimeout},
			{"graphql", "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer " + h.admin, `{"query":"mutation { createGroup(input: {name: \"slow\"}) { id } }", "pad":"`, http.StatusRequestTimeout},
			// Refused before the body is read: answered at once, and the connection is not kept.
			{"webhook, wrong secret", "POST /webhooks/jenkins/ci HTTP/1.1\r\nHost: x\r\nAuthorization: Basic eDp5", `{"name":`, http.StatusUnauthorized},
		} {
			// The last byte is never sent, so any answer before the connection's 20 s deadline
			// is the server cutting the body off; 408 and "in time" say it was the timeout.
			status, body, took := slowRequest(t, h, tt.head, tt.start, 4000)
			if status != tt.status {
				t.Errorf("%s: %d after %v: %s", tt.name, status, took, body)
			}
			if tt.status == http.StatusRequestTimeout && !contains(body, "in time") {
				t.Errorf("%s: answer %s", tt.name, body)
			}
		}
		if n := c.Agent.Query().CountX(ctx); n != 0 {
			t.Errorf("%d agents registered", n)
		}
		if n := c.Group.Query().CountX(ctx); n != 0 {
			t.Errorf("%d groups created", n)
		}
		// The authenticated webhook is recorded as rejected with 408, like any bad body.
		if ds := c.WebhookDelivery.Query().AllX(ctx); len(ds) != 1 || ds[0].StatusCode != http.StatusRequestTimeout {
			t.Errorf("deliveries: %+v", ds)
		}

		// The streams opened before are still open several timeouts later: let that time pass
		// (the condition under test is the passage of time), then an event reaches both.
		<-time.After(4 * timeout)
		h.ok(h.admin, `mutation($d: ID!) { createRelease(input: {definitionId: $d, artifacts: [{alias: "web", buildNumber: "42", buildId: "42"}], overrideArtifactChecks: true}) { id } }`,
			map[string]any{"d": defID})
		if ev := ws.event("1", "releaseEvents", 10*time.Second); ev["__typename"] != "ReleaseCreatedEvent" {
			t.Errorf("websocket: %v", ev)
		}
		if ev, ok := sse.next(10 * time.Second); !ok || ev["__typename"] != "ReleaseCreatedEvent" {
			t.Errorf("SSE: %v %v", ev, ok)
		}
		// A body that arrives in time is unaffected.
		if r := h.ok(h.admin, `mutation { createGroup(input: {name: "fast"}) { id } }`, nil); dig(r, "createGroup", "id") == nil {
			t.Fatalf("create group: %v", r)
		}
		if errs := logs.errors(); len(errs) > 0 {
			t.Fatalf("logged errors: %q", errs)
		}
	})
}

// countingJenkins is a fake Jenkins that lists builds of any job and counts the calls per job
// (api/json paths).
type countingJenkins struct {
	*httptest.Server
	mu    sync.Mutex
	calls map[string]int
	trees []string
}

func newCountingJenkins(t *testing.T) *countingJenkins {
	t.Helper()
	j := &countingJenkins{calls: map[string]int{}}
	j.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.mu.Lock()
		j.calls[r.URL.Path]++
		j.trees = append(j.trees, r.URL.Query().Get("tree"))
		j.mu.Unlock()
		var b strings.Builder
		b.WriteString(`{"builds":[`)
		for i := 150; i > 0; i-- { // a Jenkins that ignores the range
			if i < 150 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"number":%d,"result":"SUCCESS","url":"http://jenkins/job/x/%d/"}`, i, i)
		}
		b.WriteString("]}")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, b.String())
	}))
	t.Cleanup(j.Close)
	return j
}

func (j *countingJenkins) total() (int, map[string]int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := 0
	out := map[string]int{}
	for k, v := range j.calls {
		n += v
		out[k] = v
	}
	return n, out
}

// TestArtifactVersionsCallsCIOncePerSource: a query with many aliases of artifactVersions
// makes one Jenkins call per source, whatever each alias's first, and every alias gets its own
// number of builds; a thousand aliases are refused by the complexity limit before any call.
func TestArtifactVersionsCallsCIOncePerSource(t *testing.T) {
	eachWith(t, nil, func(t *testing.T, h *harness, logs logRecorder) {
		j := newCountingJenkins(t)
		h.ok(h.admin, `mutation($u: String!) { createServiceConnection(input: {name: "ci", kind: JENKINS, url: $u,
			username: "cairn", secret: "api-token"}) { id } }`, map[string]any{"u": j.URL})
		defID := dig(h.ok(h.admin, `mutation { createDefinition(input: {
		    name: "shop",
		    artifactSources: [{alias: "web", type: "JENKINS", connection: "ci", job: "shop/web", primary: true},
		                      {alias: "api", type: "JENKINS", connection: "ci", job: "shop/api"}],
		    environments: [{name: "dev", trigger: {kind: MANUAL}, job: {tasks: [{name: "t", script: "true"}]}}]}) { id } }`, nil),
			"createDefinition", "id")

		var q strings.Builder
		q.WriteString("query($d: ID!) {")
		for i := range 12 {
			fmt.Fprintf(&q, ` w%d: artifactVersions(definitionId: $d, alias: "web", first: %d) { buildNumber }`, i, i+1)
		}
		q.WriteString(` a: artifactVersions(definitionId: $d, alias: "api") { buildNumber }`)
		q.WriteString(` b: artifactVersions(definitionId: $d, alias: "api", first: 100) { buildNumber } }`)
		d := h.ok(h.admin, q.String(), map[string]any{"d": defID})
		for i := range 12 {
			if got := len(dig(d, fmt.Sprintf("w%d", i)).([]any)); got != i+1 {
				t.Errorf("w%d: %d builds, want %d", i, got, i+1)
			}
		}
		if a, b := len(dig(d, "a").([]any)), len(dig(d, "b").([]any)); a != 20 || b != 100 {
			t.Errorf("api: %d and %d builds, want 20 and 100", a, b)
		}
		if n, calls := j.total(); n != 2 || calls["/job/shop/job/web/api/json"] != 1 || calls["/job/shop/job/api/api/json"] != 1 {
			t.Fatalf("Jenkins calls: %d %v", n, calls)
		}
		// Each request asks again (nothing is cached across requests).
		h.ok(h.admin, `query($d: ID!) { artifactVersions(definitionId: $d, alias: "web") { buildNumber } }`, map[string]any{"d": defID})
		if n, _ := j.total(); n != 3 {
			t.Fatalf("Jenkins calls after a second request: %d, want 3", n)
		}

		// A thousand aliases cost far beyond the limit: refused, no call.
		q.Reset()
		q.WriteString("query($d: ID!) {")
		for i := range 1000 {
			fmt.Fprintf(&q, ` v%d: artifactVersions(definitionId: $d, alias: "web") { buildNumber }`, i)
		}
		q.WriteString("}")
		r := h.do(h.admin, q.String(), map[string]any{"d": defID})
		if r.code() != "INVALID_INPUT" || !contains(r.Raw, "complexity") {
			t.Fatalf("1000 aliases: %d %.300s", r.Status, r.Raw)
		}
		if n, _ := j.total(); n != 3 {
			t.Fatalf("Jenkins calls after a refused query: %d, want 3", n)
		}
		if errs := logs.errors(); len(errs) > 0 {
			t.Fatalf("logged errors: %q", errs)
		}
	})
}
