package delivery_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/gatesample"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/integrations/gates"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// health is an in-process HTTP endpoint for gates: it answers with the
// status and JSON state it is set to, and records the token it was sent.
type health struct {
	srv    *httptest.Server
	status atomic.Int64
	state  atomic.Value // string
	calls  atomic.Int64
	mu     sync.Mutex
	tokens []string
}

func newHealth(t *testing.T) *health {
	h := &health{}
	h.status.Store(200)
	h.state.Store("red")
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.calls.Add(1)
		h.mu.Lock()
		h.tokens = append(h.tokens, r.Header.Get("Authorization"))
		h.mu.Unlock()
		switch r.URL.Path {
		case "/big":
			w.Write([]byte(strings.Repeat("x", delivery.MaxGateResponseBytes+10)))
			return
		case "/text":
			w.Write([]byte("not json"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(h.status.Load()))
		fmt.Fprintf(w, `{"state":%q,"release":%q}`, h.state.Load().(string), r.URL.Query().Get("release"))
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// gateFixture is a fixture whose engine calls gates through a real HTTP
// caller; definitions go through CreateDefinition (so secrets are sealed).
func gateFixture(t *testing.T, db *storage.DB) *fixture {
	f := newFixture(t, db)
	f.e = gateEngine(f)
	if _, err := f.c.ServiceConnection.Create().SetName("jenkins").SetKind("JENKINS").SetURL("https://ci.example.com").Save(f.ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

func gateEngine(f *fixture) *delivery.Engine {
	box, err := delivery.NewSecretBox(make([]byte, 32))
	if err != nil {
		f.t.Fatal(err)
	}
	return delivery.New(f.db.Client, delivery.Options{Dialect: f.db.Dialect, Clock: f.clk, Secrets: box, Bus: f.bus, Gates: gates.New(nil)})
}

func (f *fixture) gateDefinition(envs ...spec.EnvironmentSpec) int {
	f.t.Helper()
	snap := snapshot("svc", envs...)
	snap.Variables = []spec.Variable{{Name: "HEALTH_TOKEN", Value: "s3cr3t-token", Secret: true}}
	def, err := f.e.CreateDefinition(f.ctx, f.admin, snap, "")
	if err != nil {
		f.t.Fatalf("creating definition: %v", err)
	}
	return def.ID
}

func httpGate(name, url string) spec.Gate {
	return spec.Gate{Name: name, Kind: spec.GateHTTP, HTTP: &spec.HTTPGate{
		URL:             url,
		Headers:         []spec.Header{{Name: "Authorization", Value: "Bearer $(HEALTH_TOKEN)"}},
		SuccessCriteria: `status == 200 && body.state == "green"`,
	}}
}

func preGates(p spec.GatePolicy) func(*spec.EnvironmentSpec) {
	return func(e *spec.EnvironmentSpec) { e.PreGates = p }
}

func postGates(p spec.GatePolicy) func(*spec.EnvironmentSpec) {
	return func(e *spec.EnvironmentSpec) { e.PostGates = p }
}

func (f *fixture) samples(dep int) []*ent.GateSample {
	f.t.Helper()
	s, err := f.c.GateSample.Query().Where(gatesample.DeploymentID(dep)).Order(ent.Asc(gatesample.FieldID)).All(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// TestGatesPassAfterMinimumSuccess: the pre-deployment gate is sampled after
// its delay, fails while the endpoint is red (a gate.sampleFailed event),
// passes once green, and lets the deployment into the queue only after
// passing for the minimum success duration; the secret header reaches the
// endpoint and no sample shows it.
func TestGatesPassAfterMinimumSuccess(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := gateFixture(t, db)
		h := newHealth(t)
		alice := f.user("alice", "EDITOR")
		def := f.gateDefinition(environment("prod", afterRelease, preGates(spec.GatePolicy{
			Gates:        []spec.Gate{httpGate("health", h.srv.URL+"/health?release=$(Release.ReleaseName)")},
			DelayMinutes: 1, IntervalMinutes: 5, TimeoutMinutes: 30, MinimumSuccessMinutes: 5,
		})))
		rel := f.release(alice, def, "1")
		d := f.deployment(rel.ID, "prod")
		f.wantState(rel.ID, "prod", "EVALUATING_GATES/EVALUATING_GATES")
		if n := f.runTimers(); n != 0 || h.calls.Load() != 0 {
			t.Fatalf("%d timers ran, %d calls before the delay", n, h.calls.Load())
		}
		f.clk.Advance(time.Minute)
		f.runTimers()
		if s := f.samples(d.ID); len(s) != 1 || s[0].Passed || s[0].Number != 1 || s[0].Stage != gatesample.StagePRE {
			t.Fatalf("samples after the delay: %+v", s)
		}
		if f.bus.count(delivery.EventGateSampleFailed) != 1 {
			t.Fatal("no gate.sampleFailed event")
		}
		h.state.Store("green")
		f.clk.Advance(5 * time.Minute)
		f.runTimers()
		f.wantState(rel.ID, "prod", "EVALUATING_GATES/EVALUATING_GATES") // passing, not yet for 5 minutes
		f.clk.Advance(5 * time.Minute)
		f.runTimers()
		f.wantState(rel.ID, "prod", "QUEUED/QUEUED")
		if f.job(d.ID) == nil {
			t.Fatal("no job after the gates passed")
		}
		s := f.samples(d.ID)
		if len(s) != 3 || !s[1].Passed || !s[2].Passed {
			t.Fatalf("samples: %+v", s)
		}
		h.mu.Lock()
		for _, tok := range h.tokens {
			if tok != "Bearer s3cr3t-token" {
				t.Errorf("the endpoint got Authorization %q", tok)
			}
		}
		h.mu.Unlock()
		for _, x := range s {
			b, _ := json.Marshal(x.Results)
			if strings.Contains(string(b), "s3cr3t") {
				t.Fatalf("a sample shows the secret: %s", b)
			}
		}
		if _, ok, _ := f.e.NextTimerDue(f.ctx); ok {
			t.Fatal("a gates timer is left")
		}
		f.verifyChain()
	})
}

// TestGatesTimeoutRejects: gates that never pass reject the deployment at
// their timeout with a reason naming the gate; a restart mid-evaluation
// (a new engine over the same database) resumes the samples.
func TestGatesTimeoutRejects(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := gateFixture(t, db)
		h := newHealth(t)
		h.status.Store(503)
		alice := f.user("alice", "EDITOR")
		def := f.gateDefinition(environment("prod", afterRelease, preGates(spec.GatePolicy{
			Gates:           []spec.Gate{httpGate("health", h.srv.URL+"/health")},
			IntervalMinutes: 5, TimeoutMinutes: 12,
		})))
		rel := f.release(alice, def, "1")
		d := f.deployment(rel.ID, "prod")
		f.runTimers() // sample 1 at once (no delay)
		f.e = gateEngine(f)
		f.clk.Advance(5 * time.Minute)
		f.runTimers() // sample 2, by the restarted engine
		f.wantState(rel.ID, "prod", "EVALUATING_GATES/EVALUATING_GATES")
		f.clk.Advance(5 * time.Minute)
		f.runTimers() // sample 3
		f.clk.Advance(time.Minute)
		if n := f.runTimers(); n != 0 {
			t.Fatalf("%d timers ran before the timeout", n)
		}
		f.clk.Advance(time.Minute)
		f.runTimers() // the last sample, at the timeout
		f.wantState(rel.ID, "prod", "REJECTED/REJECTED")
		got := f.deployment(rel.ID, "prod")
		if want := "the pre-deployment gates did not pass within 12 minutes (sample 4: health: status 503"; !strings.Contains(got.StatusReason, want) {
			t.Fatalf("reason %q, want it to contain %q", got.StatusReason, want)
		}
		if s := f.samples(d.ID); len(s) != 4 {
			t.Fatalf("%d samples, want 4", len(s))
		}
		if f.job(d.ID) != nil {
			t.Fatal("a rejected deployment got a job")
		}
		if _, ok, _ := f.e.NextTimerDue(f.ctx); ok {
			t.Fatal("a timer is left")
		}
	})
}

// TestPostGatesWorkItemsBeforeApprovals: post-deployment work-item gates
// placed before the approvals hold the deployment (busy for maxParallel)
// until no active bug is left, then the approvers are asked.
func TestPostGatesWorkItemsBeforeApprovals(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := gateFixture(t, db)
		alice := f.user("alice", "EDITOR")
		bob := f.user("bob", "VIEWER")
		def := f.gateDefinition(environment("prod", afterRelease,
			queue(spec.QueuePolicy{MaxParallel: 1}),
			post(spec.ApprovalPolicy{Approvers: users("bob")}),
			postGates(spec.GatePolicy{Order: spec.GatesBeforeApprovals, IntervalMinutes: 5, TimeoutMinutes: 60,
				Gates: []spec.Gate{{Name: "no active bugs", Kind: spec.GateWorkItems,
					WorkItems: &spec.WorkItemGate{Types: []string{"Bug"}, States: []string{"Active", "New"}}}}})))
		rel := f.release(alice, def, "1")
		bug := f.c.WorkItem.Create().SetSystem("AZURE_BOARDS").SetExternalID("12").SetType("Bug").SetState("Active").SaveX(f.ctx)
		f.c.WorkItem.Create().SetSystem("AZURE_BOARDS").SetExternalID("13").SetType("Task").SetState("Active").AddReleaseIDs(rel.ID).SaveX(f.ctx)
		f.c.Release.UpdateOneID(rel.ID).AddWorkItemIDs(bug.ID).ExecX(f.ctx)
		f.run(rel.ID, "prod", "SUCCEEDED")
		d := f.deployment(rel.ID, "prod")
		f.wantState(rel.ID, "prod", "EVALUATING_POST_GATES/EVALUATING_POST_GATES")
		rel2 := f.release(alice, def, "2")
		f.runTimers()
		s := f.samples(d.ID)
		if len(s) != 1 || s[0].Passed || !strings.Contains(s[0].Results[0].Detail, "1 of 2 work items match (at most 0 allowed): 12") {
			t.Fatalf("samples %+v", s)
		}
		if f.job(f.deployment(rel2.ID, "prod").ID) != nil {
			t.Fatal("the next release got the slot while post-deployment gates hold it")
		}
		if len(f.approvals(d.ID, approval.StagePOST)) != 0 {
			t.Fatal("approvals opened before the gates passed")
		}
		f.c.WorkItem.UpdateOne(bug).SetState("Closed").ExecX(f.ctx)
		f.clk.Advance(5 * time.Minute)
		f.runTimers()
		f.wantState(rel.ID, "prod", "PENDING_POST_APPROVAL/PENDING_POST_APPROVAL")
		f.approve(bob, f.pendingFor(d.ID, approval.StagePOST, "bob"))
		f.wantState(rel.ID, "prod", "SUCCEEDED/SUCCEEDED")
		if f.job(f.deployment(rel2.ID, "prod").ID) == nil {
			t.Fatal("the next release did not get the freed slot")
		}
		f.verifyChain()
	})
}

// TestGatesAfterApprovals: by default the approvals come first; the gates
// are evaluated once they are approved.
func TestGatesAfterApprovals(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := gateFixture(t, db)
		h := newHealth(t)
		h.state.Store("green")
		alice := f.user("alice", "EDITOR")
		bob := f.user("bob", "VIEWER")
		def := f.gateDefinition(environment("prod", afterRelease, pre(spec.ApprovalPolicy{Approvers: users("bob")}),
			preGates(spec.GatePolicy{Gates: []spec.Gate{httpGate("health", h.srv.URL)}})))
		rel := f.release(alice, def, "1")
		d := f.deployment(rel.ID, "prod")
		f.wantState(rel.ID, "prod", "PENDING_APPROVAL/PENDING_APPROVAL")
		f.runTimers()
		if h.calls.Load() != 0 {
			t.Fatal("gates evaluated before the approvals")
		}
		f.approve(bob, f.pendingFor(d.ID, approval.StagePRE, "bob"))
		f.wantState(rel.ID, "prod", "EVALUATING_GATES/EVALUATING_GATES")
		f.runTimers()
		f.wantState(rel.ID, "prod", "QUEUED/QUEUED")
	})
}

// TestIgnoreGates: only those with manageDeployments on the environment may
// ignore the gates; the action is audited and the deployment moves on; a
// deployment not evaluating gates is a CONFLICT.
func TestIgnoreGates(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := gateFixture(t, db)
		h := newHealth(t)
		alice := f.user("alice", "EDITOR")
		bob := f.user("bob", "EDITOR")
		vera := f.user("vera", "VIEWER")
		env := environment("prod", afterRelease, preGates(spec.GatePolicy{Gates: []spec.Gate{httpGate("health", h.srv.URL)}}))
		env.Permissions.ManageDeployments = users("alice")
		def := f.gateDefinition(env)
		rel := f.release(alice, def, "1")
		d := f.deployment(rel.ID, "prod")
		_, err := f.e.IgnoreGates(f.ctx, vera, d.ID, "")
		wantCode(t, err, delivery.CodeForbidden)
		_, err = f.e.IgnoreGates(f.ctx, bob, d.ID, "")
		wantCode(t, err, delivery.CodeForbidden)
		_, err = f.e.IgnoreGates(f.ctx, alice, d.ID, strings.Repeat("x", 4001))
		wantCode(t, err, delivery.CodeInvalidInput)
		got, err := f.e.IgnoreGates(f.ctx, alice, d.ID, "the health page is down, not the service")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != "QUEUED" || f.audits("gate.ignore") != 1 {
			t.Fatalf("status %s, %d gate.ignore audits", got.Status, f.audits("gate.ignore"))
		}
		_, err = f.e.IgnoreGates(f.ctx, alice, d.ID, "")
		wantCode(t, err, delivery.CodeConflict)
		if n := f.runTimers(); n != 0 || h.calls.Load() != 0 {
			t.Fatalf("the retired gates timer ran (%d) or called (%d)", n, h.calls.Load())
		}
		// An ADMIN may, audited as an override.
		rel2 := f.release(alice, def, "2")
		if _, err := f.e.IgnoreGates(f.ctx, f.admin, f.deployment(rel2.ID, "prod").ID, ""); err != nil {
			t.Fatal(err)
		}
		if f.audits("permission.override") == 0 {
			t.Fatal("the ADMIN's override is not audited")
		}
		f.verifyChain()
	})
}

// TestGatesRaceOneOutcome: a due sample (that would pass), ignoreGates and
// cancel race; exactly one of them decides the deployment.
func TestGatesRaceOneOutcome(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := gateFixture(t, db)
		h := newHealth(t)
		h.state.Store("green")
		alice := f.user("alice", "EDITOR")
		def := f.gateDefinition(environment("prod", afterRelease, preGates(spec.GatePolicy{Gates: []spec.Gate{httpGate("health", h.srv.URL)}})))
		for i := range 4 {
			rel := f.release(alice, def, fmt.Sprint(i+1))
			d := f.deployment(rel.ID, "prod")
			var wg sync.WaitGroup
			var ignored, canceled atomic.Bool
			wg.Add(3)
			go func() { defer wg.Done(); f.e.RunDueTimers(f.ctx) }()
			go func() {
				defer wg.Done()
				if _, err := f.e.IgnoreGates(f.ctx, alice, d.ID, "race"); err == nil {
					ignored.Store(true)
				} else if delivery.CodeOf(err) != delivery.CodeConflict {
					t.Errorf("ignore: %v", err)
				}
			}()
			go func() {
				defer wg.Done()
				if _, err := f.e.CancelDeployment(f.ctx, alice, d.ID, "race"); err == nil {
					canceled.Store(true)
				} else if delivery.CodeOf(err) != delivery.CodeConflict {
					t.Errorf("cancel: %v", err)
				}
			}()
			wg.Wait()
			got := f.deployment(rel.ID, "prod")
			passes := 0
			for _, s := range f.samples(d.ID) {
				if s.Passed {
					passes++
				}
			}
			switch {
			case ignored.Load() && !canceled.Load() && got.Status == "QUEUED":
			case canceled.Load() && got.Status == "CANCELED":
				// cancel won, or came after the sample or the ignore let it into the queue
			case !ignored.Load() && !canceled.Load():
				t.Fatalf("round %d: neither ignore nor cancel succeeded (status %s)", i, got.Status)
			case !ignored.Load() && passes == 1 && got.Status == "QUEUED":
			default:
				t.Fatalf("round %d: ignored %v canceled %v status %s passes %d", i, ignored.Load(), canceled.Load(), got.Status, passes)
			}
			if ignored.Load() && passes > 0 && got.Status != "CANCELED" {
				// both the sample and the ignore claim to have passed the stage
				if f.audits("deployment.passGates") != i+1 {
					t.Fatalf("round %d: the gates passed twice", i)
				}
			}
			if n := f.audits("deployment.passGates"); n > i+1 {
				t.Fatalf("round %d: %d passGates audits", i, n)
			}
			if got.Status != "CANCELED" {
				if _, err := f.e.CancelDeployment(f.ctx, alice, d.ID, "next round"); err != nil {
					t.Fatal(err)
				}
			}
		}
		f.verifyChain()
	})
}

// TestGateSampleHostileAnswers: an oversized body, a body that is not JSON
// and an unknown variable fail the sample with a reason; nothing panics.
func TestGateSampleHostileAnswers(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := gateFixture(t, db)
		h := newHealth(t)
		alice := f.user("alice", "EDITOR")
		unknown := httpGate("unknown", h.srv.URL+"/health")
		unknown.HTTP.Headers = []spec.Header{{Name: "X-Token", Value: "$(NOPE)"}}
		def := f.gateDefinition(environment("prod", afterRelease, preGates(spec.GatePolicy{Gates: []spec.Gate{
			httpGate("big", h.srv.URL+"/big"), httpGate("text", h.srv.URL+"/text"), unknown,
			httpGate("closed", "http://127.0.0.1:1/"),
		}})))
		rel := f.release(alice, def, "1")
		f.runTimers()
		s := f.samples(f.deployment(rel.ID, "prod").ID)
		if len(s) != 1 || s[0].Passed {
			t.Fatalf("samples %+v", s)
		}
		want := map[string]string{"big": "larger than", "text": "successCriteria", "unknown": "unknown variable $(NOPE)", "closed": "calling GET"}
		for _, r := range s[0].Results {
			if r.Passed || !strings.Contains(r.Detail, want[r.Gate]) {
				t.Errorf("gate %s: passed %v, detail %q; want it to contain %q", r.Gate, r.Passed, r.Detail, want[r.Gate])
			}
		}
	})
}

// TestGateValidation: malformed gate policies are refused with field paths
// and write nothing.
func TestGateValidation(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := gateFixture(t, db)
		ok := httpGate("health", "https://status.example.com/")
		cases := []struct {
			name  string
			pol   spec.GatePolicy
			field string
		}{
			{"scheme", spec.GatePolicy{Gates: []spec.Gate{httpGate("h", "file:///etc/passwd")}}, "preGates.gates[0].http.url"},
			{"expression", spec.GatePolicy{Gates: []spec.Gate{{Name: "h", Kind: spec.GateHTTP, HTTP: &spec.HTTPGate{URL: "https://x", SuccessCriteria: "status =="}}}}, "successCriteria"},
			{"not bool", spec.GatePolicy{Gates: []spec.Gate{{Name: "h", Kind: spec.GateHTTP, HTTP: &spec.HTTPGate{URL: "https://x", SuccessCriteria: "status + 1"}}}}, "successCriteria"},
			{"header", spec.GatePolicy{Gates: []spec.Gate{{Name: "h", Kind: spec.GateHTTP, HTTP: &spec.HTTPGate{URL: "https://x", Headers: []spec.Header{{Name: "Bad Header", Value: "v"}}}}}}, "headers[0].name"},
			{"header value", spec.GatePolicy{Gates: []spec.Gate{{Name: "h", Kind: spec.GateHTTP, HTTP: &spec.HTTPGate{URL: "https://x", Headers: []spec.Header{{Name: "X", Value: "a\r\nInjected: 1"}}}}}}, "headers[0].value"},
			{"method", spec.GatePolicy{Gates: []spec.Gate{{Name: "h", Kind: spec.GateHTTP, HTTP: &spec.HTTPGate{URL: "https://x", Method: "TRACE"}}}}, "method"},
			{"kind", spec.GatePolicy{Gates: []spec.Gate{{Name: "h", Kind: "SQL"}}}, "kind"},
			{"both", spec.GatePolicy{Gates: []spec.Gate{{Name: "h", Kind: spec.GateHTTP, HTTP: &spec.HTTPGate{URL: "https://x"}, WorkItems: &spec.WorkItemGate{}}}}, "preGates.gates[0]"},
			{"twice", spec.GatePolicy{Gates: []spec.Gate{ok, ok}}, "gates[1].name"},
			{"delay", spec.GatePolicy{Gates: []spec.Gate{ok}, DelayMinutes: 20, TimeoutMinutes: 10}, "delayMinutes"},
			{"negative", spec.GatePolicy{Gates: []spec.Gate{ok}, IntervalMinutes: -1}, "intervalMinutes"},
			{"order", spec.GatePolicy{Gates: []spec.Gate{ok}, Order: "SOMETIMES"}, "order"},
			{"call timeout", spec.GatePolicy{Gates: []spec.Gate{{Name: "h", Kind: spec.GateHTTP, HTTP: &spec.HTTPGate{URL: "https://x", TimeoutSeconds: 600}}}}, "timeoutSeconds"},
			{"max count", spec.GatePolicy{Gates: []spec.Gate{{Name: "w", Kind: spec.GateWorkItems, WorkItems: &spec.WorkItemGate{MaxCount: -1}}}}, "maxCount"},
		}
		before := f.c.DefinitionRevision.Query().CountX(f.ctx)
		for _, c := range cases {
			snap := snapshot("svc-"+strings.ReplaceAll(c.name, " ", "-"), environment("prod", afterRelease, preGates(c.pol)))
			_, err := f.e.CreateDefinition(f.ctx, f.admin, snap, "")
			wantCode(t, err, delivery.CodeInvalidInput)
			if !strings.Contains(err.Error(), c.field) {
				t.Errorf("%s: %v; want it to name %s", c.name, err, c.field)
			}
		}
		if n := f.c.DefinitionRevision.Query().CountX(f.ctx); n != before {
			t.Fatalf("refused definitions wrote %d revisions", n-before)
		}
		// A valid one is stored normalized and its gates show in the diff.
		def, err := f.e.CreateDefinition(f.ctx, f.admin, snapshot("svc", environment("prod", afterRelease, preGates(spec.GatePolicy{Gates: []spec.Gate{ok}}))), "")
		if err != nil {
			t.Fatal(err)
		}
		snap := f.c.DefinitionRevision.Query().OnlyX(f.ctx).Snapshot
		g := snap.Environments[0].PreGates
		if g.Order != spec.GatesAfterApprovals || g.TimeoutMinutes != delivery.DefaultGateTimeoutMinutes || g.Gates[0].HTTP.Method != "GET" {
			t.Fatalf("not normalized: %+v", g)
		}
		next := snap
		next.Environments = append([]spec.EnvironmentSpec(nil), snap.Environments...)
		next.Environments[0].PreGates.TimeoutMinutes = 45
		if _, err := f.e.UpdateDefinition(f.ctx, f.admin, def.ID, 1, next, ""); err != nil {
			t.Fatal(err)
		}
		diff, err := f.e.DiffRevisions(f.ctx, f.admin, def.ID, 1, 2)
		if err != nil || len(diff) != 1 || diff[0].Path != "environments[prod].preGates.timeoutMinutes" {
			t.Fatalf("diff %+v, %v", diff, err)
		}
	})
}

// TestWorkItemGateTags: "no active bug tagged blocker" counts only the bugs
// that carry the tag (compared without case) and passes once it is removed.
func TestWorkItemGateTags(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := gateFixture(t, db)
		alice := f.user("alice", "EDITOR")
		def := f.gateDefinition(environment("prod", afterRelease,
			postGates(spec.GatePolicy{IntervalMinutes: 5, TimeoutMinutes: 60,
				Gates: []spec.Gate{{Name: "no blockers", Kind: spec.GateWorkItems,
					WorkItems: &spec.WorkItemGate{Types: []string{"Bug"}, Tags: []string{"blocker"}}}}})))
		rel := f.release(alice, def, "1")
		f.c.WorkItem.Create().SetSystem("AZURE_BOARDS").SetExternalID("12").SetType("Bug").SetState("Active").
			SetTags([]string{"ui"}).AddReleaseIDs(rel.ID).SaveX(f.ctx)
		blocker := f.c.WorkItem.Create().SetSystem("AZURE_BOARDS").SetExternalID("14").SetType("Bug").SetState("Active").
			SetTags([]string{"Blocker", "ui"}).AddReleaseIDs(rel.ID).SaveX(f.ctx)
		f.run(rel.ID, "prod", "SUCCEEDED")
		d := f.deployment(rel.ID, "prod")
		f.runTimers()
		s := f.samples(d.ID)
		if len(s) != 1 || s[0].Passed || !strings.Contains(s[0].Results[0].Detail, "1 of 2 work items match (at most 0 allowed): 14") {
			t.Fatalf("samples %+v", s)
		}
		f.c.WorkItem.UpdateOne(blocker).SetTags([]string{"ui"}).ExecX(f.ctx)
		f.clk.Advance(5 * time.Minute)
		f.runTimers()
		f.wantState(rel.ID, "prod", "SUCCEEDED/SUCCEEDED")
	})
}

// TestGateDetailIsBounded: a gate's detail, which everyone who may read the
// definition reads, carries the status, a fixed verdict and at most a short
// prefix of the answer with the definition's secrets masked, also when the
// success criteria fail on the body (an evaluation error would quote it
// whole).
func TestGateDetailIsBounded(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := gateFixture(t, db)
		body := "internal s3cr3t-token " + strings.Repeat("y", 250) + " TAILMARK"
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		gate := func(name, criteria string) spec.Gate {
			g := httpGate(name, srv.URL)
			g.HTTP.SuccessCriteria = criteria
			return g
		}
		alice := f.user("alice", "EDITOR")
		def := f.gateDefinition(environment("prod", afterRelease, preGates(spec.GatePolicy{
			Gates:           []spec.Gate{gate("parse", "int(text) > 0"), gate("status", "status == 201")},
			IntervalMinutes: 5, TimeoutMinutes: 30,
		})))
		rel := f.release(alice, def, "1")
		d := f.deployment(rel.ID, "prod")
		f.runTimers()
		s := f.samples(d.ID)
		if len(s) != 1 || len(s[0].Results) != 2 {
			t.Fatalf("samples: %+v", s)
		}
		for i, want := range []string{"status 200; successCriteria could not be evaluated on this answer", "status 200; successCriteria not met"} {
			r := s[0].Results[i]
			if r.Passed || !strings.HasPrefix(r.Detail, want) || !strings.Contains(r.Detail, `the answer begins "internal *** yyy`) {
				t.Errorf("%s: detail %q", r.Gate, r.Detail)
			}
			if strings.Contains(r.Detail, "TAILMARK") || strings.Contains(r.Detail, "s3cr3t") || len(r.Detail) > len(want)+240 {
				t.Errorf("%s: the detail shows more than a masked prefix: %q", r.Gate, r.Detail)
			}
		}
	})
}
