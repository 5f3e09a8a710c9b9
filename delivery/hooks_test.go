package delivery_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/ent/hookdelivery"
	"github.com/cairnhq/cairn/server/hooks"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

const hookSecret = "0123456789abcdef-hook-secret"

// received is one request a test receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is a real HTTP endpoint that records requests and answers with
// the statuses of respond in turn (200 once they run out).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	respond []int
}

func newReceiver(t *testing.T, respond ...int) *receiver {
	t.Helper()
	r := &receiver{respond: respond}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			t.Errorf("receiver reading body: %v", err)
		}
		rec := received{header: req.Header.Clone(), body: body}
		r.mu.Lock()
		r.got = append(r.got, rec)
		status := http.StatusOK
		if len(r.respond) > 0 {
			status, r.respond = r.respond[0], r.respond[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write([]byte("thanks"))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// emitEvent appends an event row the way the engine's emit does (nothing in
// the engine emits persisted events yet outside the release engine).
func emitEvent(t *testing.T, db *storage.DB, seq int64, ev delivery.Event) {
	t.Helper()
	ev.Sequence = seq
	if ev.Time.IsZero() {
		ev.Time = idT0
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	c := db.Client.Event.Create().SetSequence(seq).SetType(ev.Type).SetTime(ev.Time).
		SetEnvironment(ev.Environment).SetPayload(string(payload))
	if ev.DefinitionID != 0 {
		c.SetDefinitionID(ev.DefinitionID)
	}
	if ev.ReleaseID != 0 {
		c.SetReleaseID(ev.ReleaseID)
	}
	if err := c.Exec(context.Background()); err != nil {
		t.Fatalf("inserting event %d: %v", seq, err)
	}
}

func (f *idFixture) mustHook(t *testing.T, in delivery.HookInput) *ent.OutgoingHook {
	t.Helper()
	h, err := f.e.CreateOutgoingHook(context.Background(), f.admin, in)
	if err != nil {
		t.Fatalf("CreateOutgoingHook(%s): %v", in.Name, err)
	}
	return h
}

func (f *idFixture) deliveries(t *testing.T, hookID int) []*ent.HookDelivery {
	t.Helper()
	ds, err := f.db.Client.HookDelivery.Query().Where(hookdelivery.HookID(hookID)).
		Order(ent.Asc(hookdelivery.FieldEventSequence)).All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func (f *idFixture) mustEnqueue(t *testing.T, want int) {
	t.Helper()
	n, err := f.e.EnqueueHookDeliveries(context.Background())
	if err != nil {
		t.Fatalf("EnqueueHookDeliveries: %v", err)
	}
	if n != want {
		t.Fatalf("EnqueueHookDeliveries created %d deliveries, want %d", n, want)
	}
}

func (f *idFixture) mustDeliver(t *testing.T, p delivery.HookSender, wantSent, wantFailed int) {
	t.Helper()
	sent, failed, err := f.e.DeliverHooks(context.Background(), p, 0)
	if err != nil {
		t.Fatalf("DeliverHooks: %v", err)
	}
	if sent != wantSent || failed != wantFailed {
		t.Fatalf("DeliverHooks: sent %d failed %d, want %d and %d", sent, failed, wantSent, wantFailed)
	}
}

func (f *idFixture) mustDefinition(t *testing.T, name string) *ent.ReleaseDefinition {
	t.Helper()
	d, err := f.db.Client.ReleaseDefinition.Create().SetName(name).Save(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type hookCounts struct{ hooks, deliveries, audit int }

func (f *idFixture) hookCounts(t *testing.T) hookCounts {
	t.Helper()
	ctx := context.Background()
	h, err1 := f.db.Client.OutgoingHook.Query().Count(ctx)
	d, err2 := f.db.Client.HookDelivery.Query().Count(ctx)
	a, err3 := f.db.Client.AuditEvent.Query().Count(ctx)
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return hookCounts{h, d, a}
}

func TestOutgoingHookCRUD(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newIDFixture(t, db)
		def := f.mustDefinition(t, "web")
		emitEvent(t, db, 1, delivery.Event{Type: delivery.EventReleaseCreated})

		h, err := f.e.CreateOutgoingHook(ctx, f.admin, delivery.HookInput{
			Name: " ops ", URL: "https://hooks.example.com/cairn?team=ops", Secret: ptr(hookSecret),
			EventTypes:   []string{delivery.EventDeploymentFinished, delivery.EventDeploymentFinished, delivery.EventApprovalPending},
			DefinitionID: &def.ID,
		})
		if err != nil {
			t.Fatalf("CreateOutgoingHook: %v", err)
		}
		if h.Name != "ops" || !h.Enabled || h.Slack || len(h.EventTypes) != 2 || *h.DefinitionID != def.ID {
			t.Errorf("created hook %+v", h)
		}
		if h.FromSequence != 1 {
			t.Errorf("from_sequence %d, want 1 (the last event at creation)", h.FromSequence)
		}
		if string(h.SecretEncrypted) == hookSecret || len(h.SecretEncrypted) == 0 {
			t.Error("secret not sealed")
		}

		h, err = f.e.UpdateOutgoingHook(ctx, f.admin, h.ID, delivery.HookPatch{
			URL: ptr("http://receiver.internal:8080/x"), EventTypes: &[]string{}, ClearDefinition: true,
			Enabled: ptr(false),
		})
		if err != nil {
			t.Fatalf("UpdateOutgoingHook: %v", err)
		}
		if h.URL != "http://receiver.internal:8080/x" || len(h.EventTypes) != 0 || h.DefinitionID != nil || h.Enabled {
			t.Errorf("updated hook %+v", h)
		}
		// A Slack hook needs no secret; clearing it on a JSON hook is refused.
		if _, err := f.e.UpdateOutgoingHook(ctx, f.admin, h.ID, delivery.HookPatch{Secret: ptr("")}); delivery.CodeOf(err) != delivery.CodeInvalidInput {
			t.Errorf("clearing the secret of a JSON hook: %v, want INVALID_INPUT", err)
		}
		if _, err := f.e.UpdateOutgoingHook(ctx, f.admin, h.ID, delivery.HookPatch{Secret: ptr(""), Slack: ptr(true)}); err != nil {
			t.Errorf("turning into a Slack hook without secret: %v", err)
		}

		audits, err := db.Client.AuditEvent.Query().Where(auditevent.TargetType("outgoingHook")).
			Order(ent.Asc(auditevent.FieldSequence)).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, a := range audits {
			actions = append(actions, a.Action)
			if strings.Contains(a.Before+a.After, hookSecret) || strings.Contains(a.Before+a.After, "team=ops") {
				t.Errorf("audit %s leaks the secret or the query: %s %s", a.Action, a.Before, a.After)
			}
		}
		if strings.Join(actions, ",") != "hook.create,hook.update,hook.update" {
			t.Errorf("audit actions %v", actions)
		}
		// The Slack URL path is a credential: the audit keeps only its host.
		if last := audits[len(audits)-1]; strings.Contains(last.After, "/x") || !strings.Contains(last.After, "receiver.internal") {
			t.Errorf("slack hook audited as %s", last.After)
		}

		emitEvent(t, db, 2, delivery.Event{Type: delivery.EventReleaseCreated})
		f.mustEnqueue(t, 0) // the hook is disabled
		if _, err := f.e.UpdateOutgoingHook(ctx, f.admin, h.ID, delivery.HookPatch{Enabled: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		emitEvent(t, db, 3, delivery.Event{Type: delivery.EventReleaseCreated})
		f.mustEnqueue(t, 1) // event 3 only: event 2 was enqueued while the hook was disabled
		if err := f.e.DeleteOutgoingHook(ctx, f.admin, h.ID); err != nil {
			t.Fatalf("DeleteOutgoingHook: %v", err)
		}
		if n := f.hookCounts(t); n.hooks != 0 || n.deliveries != 0 {
			t.Errorf("after delete: %+v", n)
		}
		if err := f.e.DeleteOutgoingHook(ctx, f.admin, h.ID); delivery.CodeOf(err) != delivery.CodeNotFound {
			t.Errorf("deleting twice: %v", err)
		}
		rep, err := f.e.VerifyAuditChain(ctx, f.admin)
		if err != nil || !rep.OK {
			t.Errorf("audit chain: %+v %v", rep, err)
		}
	})
}

func TestOutgoingHookRefusals(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newIDFixture(t, db)
		existing := f.mustHook(t, delivery.HookInput{Name: "taken", URL: "https://a.example/", Secret: ptr(hookSecret)})
		valid := func(mod func(*delivery.HookInput)) delivery.HookInput {
			in := delivery.HookInput{Name: "n", URL: "https://example.com/hook", Secret: ptr(hookSecret)}
			mod(&in)
			return in
		}
		cases := []struct {
			name  string
			actor delivery.Actor
			in    delivery.HookInput
			code  delivery.Code
			want  string
		}{
			{"editor", f.editor, valid(func(*delivery.HookInput) {}), delivery.CodeForbidden, "requires role ADMIN"},
			{"viewer", f.viewer, valid(func(*delivery.HookInput) {}), delivery.CodeForbidden, "requires role ADMIN"},
			{"no name", f.admin, valid(func(in *delivery.HookInput) { in.Name = "  " }), delivery.CodeInvalidInput, "name"},
			{"control in name", f.admin, valid(func(in *delivery.HookInput) { in.Name = "a\nb" }), delivery.CodeInvalidInput, "control"},
			{"long name", f.admin, valid(func(in *delivery.HookInput) { in.Name = strings.Repeat("n", 101) }), delivery.CodeInvalidInput, "limit is 100"},
			{"taken name", f.admin, valid(func(in *delivery.HookInput) { in.Name = "taken" }), delivery.CodeConflict, "taken"},
			{"relative url", f.admin, valid(func(in *delivery.HookInput) { in.URL = "/hook" }), delivery.CodeInvalidInput, "absolute"},
			{"ftp url", f.admin, valid(func(in *delivery.HookInput) { in.URL = "ftp://example.com/" }), delivery.CodeInvalidInput, "absolute"},
			{"javascript url", f.admin, valid(func(in *delivery.HookInput) { in.URL = "javascript:alert(1)" }), delivery.CodeInvalidInput, "absolute"},
			{"no host", f.admin, valid(func(in *delivery.HookInput) { in.URL = "https:///x" }), delivery.CodeInvalidInput, "absolute"},
			{"port only", f.admin, valid(func(in *delivery.HookInput) { in.URL = "http://:80/x" }), delivery.CodeInvalidInput, "absolute"},
			{"credentials", f.admin, valid(func(in *delivery.HookInput) { in.URL = "https://u:p@example.com/" }), delivery.CodeInvalidInput, "credentials"},
			{"fragment", f.admin, valid(func(in *delivery.HookInput) { in.URL = "https://example.com/#x" }), delivery.CodeInvalidInput, "fragment"},
			{"newline in url", f.admin, valid(func(in *delivery.HookInput) { in.URL = "https://example.com/\r\nX-Evil: 1" }), delivery.CodeInvalidInput, "url"},
			{"huge url", f.admin, valid(func(in *delivery.HookInput) { in.URL = "https://example.com/" + strings.Repeat("a", 2000) }), delivery.CodeInvalidInput, "limit is 2000"},
			{"unknown event", f.admin, valid(func(in *delivery.HookInput) { in.EventTypes = []string{"release.created", "release.exploded"} }), delivery.CodeInvalidInput, "eventTypes[1]"},
			{"transient event", f.admin, valid(func(in *delivery.HookInput) { in.EventTypes = []string{delivery.EventLogAppended} }), delivery.CodeInvalidInput, "transient"},
			{"no secret", f.admin, valid(func(in *delivery.HookInput) { in.Secret = nil }), delivery.CodeInvalidInput, "secret"},
			{"short secret", f.admin, valid(func(in *delivery.HookInput) { in.Secret = ptr("short") }), delivery.CodeInvalidInput, "at least 16"},
			{"huge secret", f.admin, valid(func(in *delivery.HookInput) { in.Secret = ptr(strings.Repeat("s", 5000)) }), delivery.CodeInvalidInput, "limit"},
			{"unknown definition", f.admin, valid(func(in *delivery.HookInput) { in.DefinitionID = ptr(987654) }), delivery.CodeInvalidInput, "definition 987654 does not exist"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := f.hookCounts(t)
				_, err := f.e.CreateOutgoingHook(ctx, c.actor, c.in)
				if delivery.CodeOf(err) != c.code {
					t.Fatalf("code %s (%v), want %s", delivery.CodeOf(err), err, c.code)
				}
				if !strings.Contains(err.Error(), c.want) {
					t.Errorf("error %q does not mention %q", err, c.want)
				}
				if after := f.hookCounts(t); after != before {
					t.Errorf("rows changed: %+v → %+v", before, after)
				}
			})
		}
		// Updates are refused the same way and change nothing.
		before := f.hookCounts(t)
		for _, p := range []delivery.HookPatch{
			{URL: ptr("gopher://x")},
			{EventTypes: &[]string{"nope"}},
			{DefinitionID: ptr(1), ClearDefinition: true},
			{DefinitionID: ptr(424242)},
			{Name: ptr("")},
		} {
			if _, err := f.e.UpdateOutgoingHook(ctx, f.admin, existing.ID, p); delivery.CodeOf(err) != delivery.CodeInvalidInput {
				t.Errorf("update %+v: %v, want INVALID_INPUT", p, err)
			}
		}
		if _, err := f.e.UpdateOutgoingHook(ctx, f.editor, existing.ID, delivery.HookPatch{Enabled: ptr(false)}); delivery.CodeOf(err) != delivery.CodeForbidden {
			t.Errorf("editor update: %v", err)
		}
		if err := f.e.DeleteOutgoingHook(ctx, f.viewer, existing.ID); delivery.CodeOf(err) != delivery.CodeForbidden {
			t.Errorf("viewer delete: %v", err)
		}
		if _, err := f.e.UpdateOutgoingHook(ctx, f.admin, 999999, delivery.HookPatch{Enabled: ptr(false)}); delivery.CodeOf(err) != delivery.CodeNotFound {
			t.Errorf("update unknown: %v", err)
		}
		if after := f.hookCounts(t); after != before {
			t.Errorf("rows changed by refused updates: %+v → %+v", before, after)
		}
		got, _ := db.Client.OutgoingHook.Get(ctx, existing.ID)
		if got.URL != existing.URL || !got.Enabled {
			t.Errorf("refused updates changed the hook: %+v", got)
		}
	})
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestHookDeliverySignedJSON(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newIDFixture(t, db)
		def := f.mustDefinition(t, "web")
		rcv := newReceiver(t)
		h := f.mustHook(t, delivery.HookInput{Name: "ci", URL: rcv.URL + "/hook", Secret: ptr(hookSecret)})
		emitEvent(t, db, 1, delivery.Event{
			Type: delivery.EventDeploymentFinished, DefinitionID: def.ID, ReleaseID: 77, Environment: "prod",
			DeploymentID: 5, Status: "SUCCEEDED", Actor: "alice", Data: map[string]any{"attempt": 2},
		})
		f.mustEnqueue(t, 1)
		f.mustEnqueue(t, 0) // the cursor moved: nothing twice
		f.mustDeliver(t, hooks.NewPoster(0), 1, 0)

		reqs := rcv.requests()
		if len(reqs) != 1 {
			t.Fatalf("receiver got %d requests", len(reqs))
		}
		got := reqs[0]
		mac := hmac.New(sha256.New, []byte(hookSecret))
		mac.Write(got.body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		if sig := got.header.Get("X-Cairn-Signature-256"); !hmac.Equal([]byte(sig), []byte(want)) {
			t.Errorf("signature %q, want %q", sig, want)
		}
		if got.header.Get("X-Cairn-Event") != delivery.EventDeploymentFinished {
			t.Errorf("X-Cairn-Event %q", got.header.Get("X-Cairn-Event"))
		}
		if ct := got.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		id := got.header.Get("X-Cairn-Delivery")
		if !uuidPattern.MatchString(id) {
			t.Errorf("X-Cairn-Delivery %q is not a v4 UUID", id)
		}
		var body struct {
			DeliveryID   string         `json:"deliveryId"`
			Sequence     int64          `json:"sequence"`
			Type         string         `json:"type"`
			Time         time.Time      `json:"time"`
			DefinitionID int            `json:"definitionId"`
			ReleaseID    int            `json:"releaseId"`
			Environment  string         `json:"environment"`
			Status       string         `json:"status"`
			Data         map[string]any `json:"data"`
		}
		if err := json.Unmarshal(got.body, &body); err != nil {
			t.Fatalf("body %s: %v", got.body, err)
		}
		if body.DeliveryID != id || body.Sequence != 1 || body.Type != delivery.EventDeploymentFinished ||
			!body.Time.Equal(idT0) || body.DefinitionID != def.ID || body.ReleaseID != 77 ||
			body.Environment != "prod" || body.Status != "SUCCEEDED" || body.Data["attempt"] != float64(2) {
			t.Errorf("body %s", got.body)
		}
		ds := f.deliveries(t, h.ID)
		if len(ds) != 1 || ds[0].Status != hookdelivery.StatusSUCCEEDED || ds[0].Attempts != 1 ||
			ds[0].ResponseCode != 200 || ds[0].DeliveryID != id || ds[0].DeliveredAt == nil || ds[0].ClaimedUntil != nil {
			t.Errorf("delivery log %+v", ds[0])
		}
		f.mustDeliver(t, hooks.NewPoster(0), 0, 0) // nothing left
	})
}

func TestHookDeliveryRetriesWithBackoff(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newIDFixture(t, db)
		rcv := newReceiver(t, http.StatusInternalServerError)
		h := f.mustHook(t, delivery.HookInput{Name: "flaky", URL: rcv.URL, Secret: ptr(hookSecret)})
		emitEvent(t, db, 1, delivery.Event{Type: delivery.EventReleaseCreated, ReleaseID: 3})
		f.mustEnqueue(t, 1)
		p := hooks.NewPoster(0)

		f.mustDeliver(t, p, 0, 1)
		d := f.deliveries(t, h.ID)[0]
		if d.Status != hookdelivery.StatusPENDING || d.Attempts != 1 || d.ResponseCode != 500 ||
			d.LastError != "HTTP 500" || !d.NextAttemptAt.Equal(idT0.Add(10*time.Second)) {
			t.Fatalf("after the failed attempt: %+v", d)
		}
		f.mustDeliver(t, p, 0, 0) // not due yet
		f.clk.Advance(9 * time.Second)
		f.mustDeliver(t, p, 0, 0)
		f.clk.Advance(time.Second)
		f.mustDeliver(t, p, 1, 0)
		d = f.deliveries(t, h.ID)[0]
		if d.Status != hookdelivery.StatusSUCCEEDED || d.Attempts != 2 || d.ResponseCode != 200 || d.LastError != "" {
			t.Fatalf("after the retry: %+v", d)
		}
		reqs := rcv.requests()
		if len(reqs) != 2 || reqs[0].header.Get("X-Cairn-Delivery") != reqs[1].header.Get("X-Cairn-Delivery") {
			t.Errorf("the retry must carry the same delivery id: %d requests", len(reqs))
		}
	})
}

func TestHookDeliveryGivesUpAfterMaxAttempts(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newIDFixture(t, db)
		fails := make([]int, delivery.HookMaxAttempts+2)
		for i := range fails {
			fails[i] = http.StatusServiceUnavailable
		}
		rcv := newReceiver(t, fails...)
		h := f.mustHook(t, delivery.HookInput{Name: "down", URL: rcv.URL, Secret: ptr(hookSecret)})
		emitEvent(t, db, 1, delivery.Event{Type: delivery.EventReleaseCreated})
		f.mustEnqueue(t, 1)
		p := hooks.NewPoster(0)
		want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second,
			320 * time.Second, 640 * time.Second, 1280 * time.Second, 2560 * time.Second, time.Hour}
		for attempt := 1; attempt <= delivery.HookMaxAttempts; attempt++ {
			f.mustDeliver(t, p, 0, 1)
			d := f.deliveries(t, h.ID)[0]
			if attempt == delivery.HookMaxAttempts {
				if d.Status != hookdelivery.StatusFAILED || d.Attempts != attempt || d.ResponseCode != 503 {
					t.Fatalf("after the last attempt: %+v", d)
				}
				break
			}
			if got := d.NextAttemptAt.Sub(f.clk.Now()); got != want[attempt-1] || got != delivery.HookRetryDelay(attempt) {
				t.Fatalf("after attempt %d the wait is %s, want %s", attempt, got, want[attempt-1])
			}
			f.clk.Advance(d.NextAttemptAt.Sub(f.clk.Now()))
		}
		f.clk.Advance(2 * time.Hour)
		f.mustDeliver(t, p, 0, 0)
		if n := len(rcv.requests()); n != delivery.HookMaxAttempts {
			t.Errorf("receiver got %d requests, want %d", n, delivery.HookMaxAttempts)
		}
		if delivery.HookRetryDelay(50) != time.Hour {
			t.Error("the backoff is not capped at an hour")
		}
	})
}

func TestHookFilters(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newIDFixture(t, db)
		web, api := f.mustDefinition(t, "web"), f.mustDefinition(t, "api")
		all := f.mustHook(t, delivery.HookInput{Name: "all", URL: "http://127.0.0.1:1/", Secret: ptr(hookSecret)})
		deploys := f.mustHook(t, delivery.HookInput{Name: "deploys", URL: "http://127.0.0.1:1/", Secret: ptr(hookSecret),
			EventTypes: []string{delivery.EventDeploymentFinished, delivery.EventApprovalPending}})
		webOnly := f.mustHook(t, delivery.HookInput{Name: "web", URL: "http://127.0.0.1:1/", Secret: ptr(hookSecret),
			DefinitionID: &web.ID})
		webDeploys := f.mustHook(t, delivery.HookInput{Name: "web-deploys", URL: "http://127.0.0.1:1/", Secret: ptr(hookSecret),
			DefinitionID: &web.ID, EventTypes: []string{delivery.EventDeploymentFinished}})
		off := f.mustHook(t, delivery.HookInput{Name: "off", URL: "http://127.0.0.1:1/", Secret: ptr(hookSecret),
			Enabled: ptr(false)})

		emitEvent(t, db, 1, delivery.Event{Type: delivery.EventReleaseCreated, DefinitionID: web.ID})
		emitEvent(t, db, 2, delivery.Event{Type: delivery.EventDeploymentFinished, DefinitionID: web.ID})
		emitEvent(t, db, 3, delivery.Event{Type: delivery.EventDeploymentFinished, DefinitionID: api.ID})
		emitEvent(t, db, 4, delivery.Event{Type: delivery.EventApprovalPending})
		emitEvent(t, db, 5, delivery.Event{Type: delivery.EventAgentChanged})
		f.mustEnqueue(t, 5+3+2+1)
		late := f.mustHook(t, delivery.HookInput{Name: "late", URL: "http://127.0.0.1:1/", Secret: ptr(hookSecret)})
		emitEvent(t, db, 6, delivery.Event{Type: delivery.EventJobQueued, DefinitionID: api.ID})
		f.mustEnqueue(t, 2) // all and late

		seqs := func(h *ent.OutgoingHook) []int64 {
			var out []int64
			for _, d := range f.deliveries(t, h.ID) {
				out = append(out, d.EventSequence)
			}
			return out
		}
		for _, c := range []struct {
			h    *ent.OutgoingHook
			want []int64
		}{
			{all, []int64{1, 2, 3, 4, 5, 6}},
			{deploys, []int64{2, 3, 4}},
			{webOnly, []int64{1, 2}},
			{webDeploys, []int64{2}},
			{off, nil},
			{late, []int64{6}},
		} {
			if got := seqs(c.h); !equalInts(got, c.want) {
				t.Errorf("hook %s got events %v, want %v", c.h.Name, got, c.want)
			}
		}
	})
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestHookSlackBody(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newIDFixture(t, db)
		def := f.mustDefinition(t, "web <!channel>")
		rcv := newReceiver(t)
		f.mustHook(t, delivery.HookInput{Name: "chat", URL: rcv.URL + "/services/T0/B0/XYZ", Slack: true})
		emitEvent(t, db, 1, delivery.Event{
			Type: delivery.EventDeploymentFinished, DefinitionID: def.ID, ReleaseID: 404, Environment: "prod\nnext",
			Status: "SUCCEEDED", Actor: "alice",
		})
		f.mustEnqueue(t, 1)
		f.mustDeliver(t, hooks.NewPoster(0), 1, 0)
		got := rcv.requests()[0]
		var body map[string]any
		if err := json.Unmarshal(got.body, &body); err != nil {
			t.Fatalf("body %s: %v", got.body, err)
		}
		text, _ := body["text"].(string)
		want := "Cairn: web &lt;!channel&gt; / release 404 → prod next: deployment finished: SUCCEEDED (by alice)"
		if len(body) != 1 || text != want {
			t.Errorf("slack body %s\nwant text %q", got.body, want)
		}
		if got.header.Get("X-Cairn-Signature-256") != "" {
			t.Error("a hook without secret must not send a signature")
		}
		if got.header.Get("X-Cairn-Event") != delivery.EventDeploymentFinished {
			t.Error("missing X-Cairn-Event")
		}
	})
}

// countingPoster wraps the real sender and counts sends per delivery id.
type countingPoster struct {
	inner delivery.HookSender
	mu    sync.Mutex
	seen  map[string]int
}

func (c *countingPoster) Send(ctx context.Context, m delivery.HookMessage) (bool, int, error) {
	c.mu.Lock()
	c.seen[m.DeliveryID]++
	c.mu.Unlock()
	return c.inner.Send(ctx, m)
}

func TestHookConcurrentDeliveryPostsOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newIDFixture(t, db)
		// A second engine on the same database plays a second replica.
		e2 := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: f.clk, Secrets: f.e.Secrets()})
		rcv := newReceiver(t)
		f.mustHook(t, delivery.HookInput{Name: "a", URL: rcv.URL, Secret: ptr(hookSecret)})
		f.mustHook(t, delivery.HookInput{Name: "b", URL: rcv.URL, Secret: ptr(hookSecret)})
		const events = 30
		for i := int64(1); i <= events; i++ {
			emitEvent(t, db, i, delivery.Event{Type: delivery.EventJobQueued})
		}
		f.mustEnqueue(t, 2*events)
		p := &countingPoster{inner: hooks.NewPoster(0), seen: map[string]int{}}
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for _, e := range []*delivery.Engine{f.e, e2, f.e, e2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					sent, failed, err := e.DeliverHooks(context.Background(), p, 7)
					if err != nil {
						t.Errorf("DeliverHooks: %v", err)
						return
					}
					mu.Lock()
					total += sent + failed
					mu.Unlock()
					if sent+failed == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		if total != 2*events || len(p.seen) != 2*events {
			t.Errorf("delivered %d, distinct ids %d, want %d", total, len(p.seen), 2*events)
		}
		for id, n := range p.seen {
			if n != 1 {
				t.Errorf("delivery %s POSTed %d times", id, n)
			}
		}
		n, err := db.Client.HookDelivery.Query().Where(hookdelivery.StatusEQ(hookdelivery.StatusSUCCEEDED), hookdelivery.Attempts(1)).Count(context.Background())
		if err != nil || n != 2*events {
			t.Errorf("%d deliveries succeeded on their first attempt (%v), want %d", n, err, 2*events)
		}
	})
}

func TestHookConcurrentEnqueueOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newIDFixture(t, db)
		e2 := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: f.clk, Secrets: f.e.Secrets()})
		f.mustHook(t, delivery.HookInput{Name: "a", URL: "http://127.0.0.1:1/", Secret: ptr(hookSecret)})
		f.mustHook(t, delivery.HookInput{Name: "b", URL: "http://127.0.0.1:1/", Secret: ptr(hookSecret)})
		var seq int64
		var mu sync.Mutex
		total := 0
		// Rounds of new events, each enqueued by four callers at once.
		for round := 0; round < 5; round++ {
			for i := 0; i < 40; i++ {
				seq++
				emitEvent(t, db, seq, delivery.Event{Type: delivery.EventJobFinished})
			}
			var wg sync.WaitGroup
			for _, e := range []*delivery.Engine{f.e, e2, f.e, e2} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n, err := e.EnqueueHookDeliveries(ctx)
					if err != nil {
						t.Errorf("EnqueueHookDeliveries: %v", err)
					}
					mu.Lock()
					total += n
					mu.Unlock()
				}()
			}
			wg.Wait()
		}
		want := int(2 * seq)
		n, err := db.Client.HookDelivery.Query().Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if total != want || n != want {
			t.Errorf("enqueue calls report %d, table holds %d, want %d", total, n, want)
		}
	})
}

// notifyingPoster reports each POST's outcome once the real poster returned.
type notifyingPoster struct {
	inner delivery.HookSender
	done  chan int
}

func (n notifyingPoster) Send(ctx context.Context, m delivery.HookMessage) (bool, int, error) {
	ok, status, err := n.inner.Send(ctx, m)
	n.done <- status
	return ok, status, err
}

func (n notifyingPoster) wait(t *testing.T) int {
	t.Helper()
	select {
	case s := <-n.done:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no POST finished within 10 s")
		return 0
	}
}

func TestRunHookLoop(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newIDFixture(t, db)
		rcv := newReceiver(t, http.StatusBadGateway)
		h := f.mustHook(t, delivery.HookInput{Name: "loop", URL: rcv.URL, Secret: ptr(hookSecret)})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		wake := make(chan struct{}, 1)
		done := make(chan error, 1)
		p := notifyingPoster{inner: hooks.NewPoster(0), done: make(chan int, 10)}
		go func() { done <- f.e.RunHookLoop(ctx, p, wake) }()

		emitEvent(t, db, 1, delivery.Event{Type: delivery.EventReleaseCreated})
		wake <- struct{}{}
		if s := p.wait(t); s != http.StatusBadGateway {
			t.Fatalf("first attempt answered %d", s)
		}
		// The loop parks on the retry's due time; moving the clock wakes it.
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		if err := f.clk.WaitForTimers(wctx, 1); err != nil {
			t.Fatalf("the loop never waited for the retry: %v", err)
		}
		f.clk.Advance(delivery.HookRetryDelay(1))
		if s := p.wait(t); s != http.StatusOK {
			t.Fatalf("second attempt answered %d", s)
		}
		cancel()
		select {
		case err := <-done:
			if err != context.Canceled {
				t.Errorf("RunHookLoop returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("RunHookLoop did not stop")
		}
		reqs := rcv.requests()
		if len(reqs) != 2 || reqs[0].header.Get("X-Cairn-Delivery") != reqs[1].header.Get("X-Cairn-Delivery") {
			t.Errorf("receiver got %d requests; the retry must carry the same delivery id", len(reqs))
		}
		d := f.deliveries(t, h.ID)[0]
		if d.Status != hookdelivery.StatusSUCCEEDED || d.Attempts != 2 {
			t.Errorf("delivery after the loop: %+v", d)
		}
	})
}

func TestHookDeliveryLeasesAndDisabledHooks(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newIDFixture(t, db)
		rcv := newReceiver(t)
		h := f.mustHook(t, delivery.HookInput{Name: "r", URL: rcv.URL, Secret: ptr(hookSecret)})
		off := f.mustHook(t, delivery.HookInput{Name: "soon-off", URL: rcv.URL, Secret: ptr(hookSecret)})
		emitEvent(t, db, 1, delivery.Event{Type: delivery.EventJobLost})
		f.mustEnqueue(t, 2)
		if _, err := f.e.UpdateOutgoingHook(ctx, f.admin, off.ID, delivery.HookPatch{Enabled: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		// A replica claimed h's delivery and died mid-POST: the lease holds
		// it until it runs out, then another replica retries it.
		d := f.deliveries(t, h.ID)[0]
		if err := d.Update().SetAttempts(1).SetClaimedUntil(f.clk.Now().Add(delivery.HookLease)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		p := hooks.NewPoster(0)
		f.mustDeliver(t, p, 0, 1) // only the disabled hook's row: failed without a POST
		if got := f.deliveries(t, off.ID)[0]; got.Status != hookdelivery.StatusFAILED || !strings.Contains(got.LastError, "disabled") {
			t.Errorf("delivery of the disabled hook: %+v", got)
		}
		if n := len(rcv.requests()); n != 0 {
			t.Fatalf("%d POSTs while the lease held / to a disabled hook", n)
		}
		f.clk.Advance(delivery.HookLease)
		f.mustDeliver(t, p, 1, 0)
		if got := f.deliveries(t, h.ID)[0]; got.Status != hookdelivery.StatusSUCCEEDED || got.Attempts != 2 {
			t.Errorf("after the lease ran out: %+v", got)
		}

		// A replica died during the last allowed attempt: once its lease
		// runs out the delivery is FAILED, not retried forever.
		emitEvent(t, db, 2, delivery.Event{Type: delivery.EventJobLost})
		f.mustEnqueue(t, 1)
		d = f.deliveries(t, h.ID)[1]
		if err := d.Update().SetAttempts(delivery.HookMaxAttempts).SetClaimedUntil(f.clk.Now().Add(time.Minute)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		f.mustDeliver(t, p, 0, 0)
		if got := f.deliveries(t, h.ID)[1]; got.Status != hookdelivery.StatusPENDING {
			t.Errorf("failed while leased: %+v", got)
		}
		f.clk.Advance(time.Minute)
		f.mustDeliver(t, p, 0, 0)
		if got := f.deliveries(t, h.ID)[1]; got.Status != hookdelivery.StatusFAILED || !strings.Contains(got.LastError, "interrupted") {
			t.Errorf("abandoned last attempt: %+v", got)
		}
		if n := len(rcv.requests()); n != 1 {
			t.Errorf("receiver got %d requests, want 1", n)
		}
	})
}

// TestHookEnqueueIdleWithoutHooks: while no hook is enabled the enqueuer writes nothing (its
// cursor stays); a hook enabled again receives only the events after it was enabled, even
// when the cursor is behind.
func TestHookEnqueueIdleWithoutHooks(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newIDFixture(t, db)
		h := f.mustHook(t, delivery.HookInput{Name: "r", URL: "http://127.0.0.1:1/", Secret: ptr(hookSecret)})
		emitEvent(t, db, 1, delivery.Event{Type: delivery.EventJobLost})
		f.mustEnqueue(t, 1)
		if _, err := f.e.UpdateOutgoingHook(ctx, f.admin, h.ID, delivery.HookPatch{Enabled: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		cursor := func() int64 {
			c, err := db.Client.StreamCursor.Query().Only(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return c.Sequence
		}
		before := cursor()
		emitEvent(t, db, 2, delivery.Event{Type: delivery.EventJobLost})
		emitEvent(t, db, 3, delivery.Event{Type: delivery.EventJobLost})
		f.mustEnqueue(t, 0)
		if after := cursor(); after != before {
			t.Fatalf("with no hook enabled the cursor moved from %d to %d", before, after)
		}
		if _, err := f.e.UpdateOutgoingHook(ctx, f.admin, h.ID, delivery.HookPatch{Enabled: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		emitEvent(t, db, 4, delivery.Event{Type: delivery.EventJobLost})
		f.mustEnqueue(t, 1)
		var got []int64
		for _, d := range f.deliveries(t, h.ID) {
			got = append(got, d.EventSequence)
		}
		if !equalInts(got, []int64{1, 4}) {
			t.Fatalf("deliveries of events %v, want [1 4] (nothing from while it was disabled)", got)
		}
	})
}

// TestHooksIdleUntilAHookChanges: a hook round that finds no hook enabled and nothing pending
// leaves the loop idle (HooksIdle, on which the server stops waking it for every event); a
// hook's creation and deletion publish EventHooksChanged, which does wake it, and the round
// after a creation is not idle.
func TestHooksIdleUntilAHookChanges(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rec := newRecorder()
		box, err := delivery.NewSecretBox(make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Bus: rec, Clock: delivery.NewManualClock(idT0), Secrets: box})
		root, err := e.EnsureAdmin(ctx, "root")
		if err != nil {
			t.Fatal(err)
		}
		wake := make(chan struct{}, 1)
		go func() { _ = e.RunHookLoop(ctx, hooks.NewPoster(0), wake) }()
		until := func(idle bool) {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for e.HooksIdle() != idle {
				if time.Now().After(deadline) {
					t.Fatalf("HooksIdle stayed %v", !idle)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		until(true) // the first round: no hook
		rcv := newReceiver(t, http.StatusOK)
		h, err := e.CreateOutgoingHook(ctx, actorOf(root), delivery.HookInput{Name: "idle", URL: rcv.URL, Secret: ptr(hookSecret)})
		if err != nil {
			t.Fatal(err)
		}
		if rec.count(delivery.EventHooksChanged) != 1 {
			t.Fatalf("creating a hook published %d %s events, want 1", rec.count(delivery.EventHooksChanged), delivery.EventHooksChanged)
		}
		wake <- struct{}{}
		until(false)
		if err := e.DeleteOutgoingHook(ctx, actorOf(root), h.ID); err != nil {
			t.Fatal(err)
		}
		if rec.count(delivery.EventHooksChanged) != 2 {
			t.Fatalf("deleting a hook published no %s event", delivery.EventHooksChanged)
		}
		wake <- struct{}{}
		until(true)
	})
}
