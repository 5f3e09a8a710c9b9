package graph

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// fanout is a minimal in-test event bus (graph may not import server/dispatch's).
type fanout struct {
	mu   sync.Mutex
	subs map[chan delivery.Event]bool
}

func (f *fanout) Publish(_ context.Context, evs []delivery.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		for _, ev := range evs {
			select {
			case ch <- ev:
			default:
				delete(f.subs, ch)
				close(ch)
				goto next
			}
		}
	next:
	}
}

func (f *fanout) Subscribe() (<-chan delivery.Event, func()) {
	ch := make(chan delivery.Event, 64)
	f.mu.Lock()
	f.subs[ch] = true
	f.mu.Unlock()
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.subs[ch] {
			delete(f.subs, ch)
			close(ch)
		}
	}
}

func TestAgentsAPI(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	ctx := context.Background()
	bus := &fanout{subs: map[chan delivery.Event]bool{}}
	e := delivery.New(db.Client, delivery.Options{Dialect: delivery.Dialect(db.Dialect), Bus: bus})
	srv := NewHandler(&Resolver{Engine: e, Events: bus}, Options{})
	role := delivery.RoleAdmin
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), delivery.Actor{Username: "u", Role: role})))
	}))
	defer ts.Close()
	do := func(query string, vars map[string]any) (map[string]any, []map[string]any) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		resp, err := http.Post(ts.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Data   map[string]any   `json:"data"`
			Errors []map[string]any `json:"errors"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out.Data, out.Errors
	}

	data, errs := do(`mutation { createAgentRegistration(maxUses: 2, expiresInHours: 1) { token registration { id maxUses uses } } }`, nil)
	if errs != nil {
		t.Fatal(errs)
	}
	created := data["createAgentRegistration"].(map[string]any)
	token := created["token"].(string)
	if token == "" || created["registration"].(map[string]any)["maxUses"].(float64) != 2 {
		t.Fatalf("created %v", created)
	}
	_, errs = do(`mutation { createAgentRegistration(maxUses: 0) { token } }`, nil)
	if len(errs) == 0 || !strings.Contains(fmt.Sprint(errs), "maxUses") {
		t.Fatalf("invalid maxUses: %v", errs)
	}
	a, _, err := e.RegisterAgent(ctx, token, delivery.RegisterAgentInput{Name: "gql", OS: "linux", Capabilities: map[string]string{"zone": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	data, errs = do(`mutation($id: ID!) { setAgentEnabled(id: $id, enabled: false) { id enabled capabilities userCapabilities } }`, map[string]any{"id": a.ID})
	if errs != nil {
		t.Fatal(errs)
	}
	got := data["setAgentEnabled"].(map[string]any)
	if got["enabled"] != false || got["capabilities"].(map[string]any)["os"] != "linux" || got["userCapabilities"].(map[string]any)["zone"] != "a" {
		t.Fatalf("setAgentEnabled %v", got)
	}

	// Logs.
	s := deliverytest.Job(t, db.Client, deliverytest.JobOptions{})
	if _, err := e.SetAgentEnabled(ctx, delivery.SystemActor("t"), a.ID, true); err != nil {
		t.Fatal(err)
	}
	if j, err := e.ClaimJobFor(ctx, a.ID); err != nil || j == nil || e.StartJob(ctx, j.ID, a.ID) != nil {
		t.Fatal(j, err)
	}
	var lines []delivery.LogLine
	for i := 1; i <= 3; i++ {
		lines = append(lines, delivery.LogLine{Seq: int64(i), Step: 1, Time: time.Now(), Text: fmt.Sprintf("l%d", i)})
	}
	if _, err := e.AppendLogs(ctx, s.Job.ID, a.ID, lines); err != nil {
		t.Fatal(err)
	}
	role = delivery.RoleViewer
	data, errs = do(`query($j: ID!) { jobLogs(jobId: $j, fromSeq: 2) { seq step text } }`, map[string]any{"j": s.Job.ID})
	if errs != nil || len(data["jobLogs"].([]any)) != 2 || data["jobLogs"].([]any)[0].(map[string]any)["text"] != "l2" {
		t.Fatalf("jobLogs %v %v", data, errs)
	}
	_, errs = do(`mutation($id: ID!) { deleteAgent(id: $id) }`, map[string]any{"id": a.ID})
	if len(errs) == 0 {
		t.Fatal("a viewer deleted an agent")
	}

	// The subscription over SSE: stored lines, a live one, then the end with the job.
	body, _ := json.Marshal(map[string]any{"query": `subscription($d: ID!) { deploymentLog(deploymentId: $d, fromSeq: 2) { seq text } }`,
		"variables": map[string]any{"d": s.Deployment.ID}})
	req, _ := http.NewRequest(http.MethodPost, ts.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var texts []string
	live := false
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || line == "" {
			continue
		}
		var msg struct {
			Data struct {
				DeploymentLog struct {
					Seq  int64  `json:"seq"`
					Text string `json:"text"`
				} `json:"deploymentLog"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(line), &msg); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		texts = append(texts, msg.Data.DeploymentLog.Text)
		if len(texts) == 2 && !live {
			live = true
			if _, err := e.AppendLogs(ctx, s.Job.ID, a.ID, []delivery.LogLine{{Seq: 4, Step: 1, Time: time.Now(), Text: "l4"}}); err != nil {
				t.Fatal(err)
			}
		}
		if len(texts) == 3 {
			if err := e.FinishJob(ctx, s.Job.ID, delivery.JobResult{Status: "SUCCEEDED"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if strings.Join(texts, ",") != "l2,l3,l4" {
		t.Fatalf("subscription got %v", texts)
	}

	// The batched subscription of the finished job's log: full batches, then the end.
	sse := func(query string) []string {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"d": s.Deployment.ID}})
		req, _ := http.NewRequest(http.MethodPost, ts.URL, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var msgs []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "data: "); ok && line != "" {
				msgs = append(msgs, line)
			}
		}
		return msgs
	}
	msgs := sse(`subscription($d: ID!) { deploymentLogBatches(deploymentId: $d, maxLines: 2) { fromSeq lastSeq text texts steps lines { seq text } } }`)
	want := []string{
		`{"data":{"deploymentLogBatches":{"fromSeq":1,"lastSeq":2,"text":"l1\nl2\n","texts":["l1","l2"],"steps":[1,1],"lines":[{"seq":1,"text":"l1"},{"seq":2,"text":"l2"}]}}}`,
		`{"data":{"deploymentLogBatches":{"fromSeq":3,"lastSeq":4,"text":"l3\nl4\n","texts":["l3","l4"],"steps":[1,1],"lines":[{"seq":3,"text":"l3"},{"seq":4,"text":"l4"}]}}}`,
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("batches:\n%s", strings.Join(msgs, "\n"))
	}
	if msgs := sse(`subscription($d: ID!) { deploymentLogBatches(deploymentId: $d, fromSeq: 4) { text } }`); len(msgs) != 1 || !strings.Contains(msgs[0], `"l4\n"`) {
		t.Fatalf("batches from 4: %v", msgs)
	}
	for _, bad := range []string{"maxLines: 0", "maxLines: -1", "maxLines: 10001", "fromSeq: -2"} {
		msgs := sse(`subscription($d: ID!) { deploymentLogBatches(deploymentId: $d, ` + bad + `) { text } }`)
		if len(msgs) != 1 || !strings.Contains(msgs[0], "INVALID_INPUT") || strings.Contains(msgs[0], "l1") {
			t.Fatalf("%s: %v", bad, msgs)
		}
	}
}
