package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/hookdelivery"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/graph"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// dashFixture is a definition readable by everyone (shop: dev after release, prod manual), one
// readable by group ops only (vault), an EDITOR eddie in ops, a VIEWER otto outside it and an
// ADMIN root, and a way to post operations as each through the real handler.
type dashFixture struct {
	t                 *testing.T
	db                *storage.DB
	e                 *delivery.Engine
	clk               *delivery.ManualClock
	eddie, otto, root delivery.Actor
	shop, vault       int
}

func newDashFixture(t *testing.T, db *storage.DB) *dashFixture {
	ctx := t.Context()
	clk := delivery.NewManualClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	box, _ := delivery.NewSecretBox(bytes.Repeat([]byte{7}, 32))
	f := &dashFixture{t: t, db: db, clk: clk, e: delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: clk, Secrets: box})}
	mk := func(name, role string) delivery.Actor {
		u := db.Client.User.Create().SetUsername(name).SetRole("VIEWER").SaveX(ctx)
		return delivery.Actor{UserID: u.ID, Username: name, Role: delivery.Role(role)}
	}
	f.eddie, f.otto, f.root = mk("eddie", "EDITOR"), mk("otto", "VIEWER"), mk("root", "ADMIN")
	db.Client.Group.Create().SetName("ops").AddMemberIDs(f.eddie.UserID).ExecX(ctx)
	db.Client.ServiceConnection.Create().SetName("jenkins").SetKind("JENKINS").SetURL("https://ci").ExecX(ctx)
	envs := []spec.EnvironmentSpec{
		{Name: "dev", Trigger: spec.Trigger{Kind: spec.TriggerAfterRelease}, Job: spec.JobSpec{Tasks: []spec.Task{{Name: "t", Script: "true"}}}},
		{Name: "prod", Trigger: spec.Trigger{Kind: spec.TriggerManual}, Job: spec.JobSpec{Tasks: []spec.Task{{Name: "t", Script: "true"}}}},
	}
	for _, d := range []struct {
		name    string
		readers []string
		id      *int
	}{{"shop", nil, &f.shop}, {"vault", []string{"ops"}, &f.vault}} {
		def, err := f.e.CreateDefinition(ctx, f.eddie, spec.DefinitionSnapshot{Name: d.name, Readers: d.readers,
			ArtifactSources: []spec.ArtifactSourceSpec{{Alias: "app", Type: "JENKINS", Connection: "jenkins", Job: "app"}},
			Environments:    envs}, "")
		if err != nil {
			t.Fatal(err)
		}
		*d.id = def.ID
	}
	return f
}

func (f *dashFixture) release(def int) int {
	f.t.Helper()
	rel, err := f.e.CreateRelease(f.t.Context(), f.eddie, delivery.CreateReleaseInput{DefinitionID: def,
		Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: "1"}}})
	if err != nil {
		f.t.Fatal(err)
	}
	return rel.ID
}

func (f *dashFixture) post(who delivery.Actor, q string, vars map[string]any) walkResponse {
	f.t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		graph.NewHandler(&graph.Resolver{Engine: f.e, Log: slog.Default()}, graph.Options{}).ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), who)))
	}))
	defer ts.Close()
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	res, err := http.Post(ts.URL, "application/json", bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var out walkResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		f.t.Fatalf("%s", raw)
	}
	return out
}

// must posts and decodes data into v, failing on any error.
func (f *dashFixture) must(who delivery.Actor, q string, vars map[string]any, v any) {
	f.t.Helper()
	out := f.post(who, q, vars)
	if len(out.Errors) > 0 {
		f.t.Fatalf("%s: %+v", who.Username, out.Errors)
	}
	raw, _ := json.Marshal(out.Data)
	if err := json.Unmarshal(raw, v); err != nil {
		f.t.Fatal(err)
	}
}

// refused posts and checks one error with code and a message containing msg.
func (f *dashFixture) refused(who delivery.Actor, q string, vars map[string]any, code, msg string) {
	f.t.Helper()
	out := f.post(who, q, vars)
	if len(out.Errors) != 1 || (code != "" && out.Errors[0].Extensions["code"] != code) || !strings.Contains(out.Errors[0].Message, msg) {
		f.t.Errorf("%s %v: %+v; want %s saying %q", who.Username, vars, out.Errors, code, msg)
	}
}

func (f *dashFixture) audits(action string) int {
	f.t.Helper()
	n, err := f.db.Client.AuditEvent.Query().Count(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	if action == "" {
		return n
	}
	rows := f.db.Client.AuditEvent.Query().AllX(f.t.Context())
	c := 0
	for _, r := range rows {
		if r.Action == action {
			c++
		}
	}
	return c
}

const deploymentsQ = `query($first: Int, $after: Cursor, $last: Int, $before: Cursor, $filter: DeploymentsFilter) {
	deployments(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
		totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
		edges { node { id environmentName status requestedBy release { id name definition { name } } } } } }`

type deploymentsPage struct {
	Deployments struct {
		TotalCount int
		PageInfo   struct {
			HasNextPage, HasPreviousPage bool
			StartCursor, EndCursor       string
		}
		Edges []struct {
			Node struct {
				ID, EnvironmentName, Status, RequestedBy string
				Release                                  struct {
					ID, Name   string
					Definition struct{ Name string }
				}
			}
		}
	}
}

// TestDeploymentsListAPI pages the deployments the viewer may read, newest first, with each
// filter; a definition outside the viewer's readers matches nothing; malformed filters and
// page sizes are INVALID_INPUT.
func TestDeploymentsListAPI(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newDashFixture(t, db)
		var rels []int
		for range 3 {
			rels = append(rels, f.release(f.shop))
			f.clk.Advance(time.Hour)
		}
		f.release(f.vault)
		if _, err := f.e.DeployEnvironment(t.Context(), f.root, delivery.DeployInput{ReleaseID: rels[0], Environment: "prod"}); err != nil {
			t.Fatal(err)
		}
		page := func(who delivery.Actor, vars map[string]any) deploymentsPage {
			t.Helper()
			var p deploymentsPage
			f.must(who, deploymentsQ, vars, &p)
			return p
		}
		// otto reads shop only: 4 deployments (dev of 3 releases, prod of the first), newest first.
		p := page(f.otto, map[string]any{"first": 3})
		d := p.Deployments
		if d.TotalCount != 4 || len(d.Edges) != 3 || !d.PageInfo.HasNextPage || d.Edges[0].Node.EnvironmentName != "prod" ||
			d.Edges[1].Node.Release.ID != itoa(rels[2]) || d.Edges[0].Node.RequestedBy != "root" {
			t.Fatalf("first page: %+v", d)
		}
		p2 := page(f.otto, map[string]any{"first": 3, "after": d.PageInfo.EndCursor})
		if len(p2.Deployments.Edges) != 1 || p2.Deployments.PageInfo.HasNextPage || p2.Deployments.Edges[0].Node.Release.ID != itoa(rels[0]) {
			t.Fatalf("second page: %+v", p2.Deployments)
		}
		back := page(f.otto, map[string]any{"last": 3, "before": p2.Deployments.PageInfo.StartCursor})
		if len(back.Deployments.Edges) != 3 || back.Deployments.Edges[0].Node.ID != d.Edges[0].Node.ID {
			t.Fatalf("back: %+v", back.Deployments)
		}
		if n := page(f.eddie, map[string]any{}).Deployments.TotalCount; n != 5 {
			t.Fatalf("eddie (in ops) reads %d deployments, want 5", n)
		}
		for _, c := range []struct {
			who    delivery.Actor
			filter map[string]any
			want   int
		}{
			{f.otto, map[string]any{"definitionId": f.vault}, 0},
			{f.eddie, map[string]any{"definitionId": f.vault}, 1},
			{f.otto, map[string]any{"definitionId": f.shop, "environment": "prod"}, 1},
			{f.otto, map[string]any{"environment": " dev "}, 3},
			{f.otto, map[string]any{"status": []string{"SUCCEEDED", "FAILED"}}, 0},
			{f.otto, map[string]any{"releaseId": rels[0]}, 2},
			{f.otto, map[string]any{"requestedBy": "root"}, 1},
			// dev at 09:00, 10:00 and 11:00; prod at 12:00.
			{f.otto, map[string]any{"since": "2026-03-02T10:00:00Z"}, 3},
			{f.otto, map[string]any{"since": "2026-03-02T09:00:00Z", "until": "2026-03-02T10:00:00Z"}, 1},
		} {
			if n := page(c.who, map[string]any{"filter": c.filter}).Deployments.TotalCount; n != c.want {
				t.Errorf("%s %v: %d deployments, want %d", c.who.Username, c.filter, n, c.want)
			}
		}
		for _, c := range []struct {
			vars      map[string]any
			code, msg string
		}{
			{map[string]any{"first": -1}, "INVALID_INPUT", "between 0 and 100"},
			{map[string]any{"first": 101}, "INVALID_INPUT", "between 0 and 100"},
			{map[string]any{"filter": map[string]any{"environment": "dev\x00"}}, "INVALID_INPUT", "control characters"},
			{map[string]any{"filter": map[string]any{"requestedBy": strings.Repeat("é", 200)}}, "INVALID_INPUT", "at most 200 bytes"},
			{map[string]any{"filter": map[string]any{"since": "2026-03-02T10:00:00Z", "until": "2026-03-02T10:00:00Z"}}, "INVALID_INPUT", "after since"},
			{map[string]any{"filter": map[string]any{"definitionId": "1 OR 1=1"}}, "INVALID_INPUT", "ID"},
			{map[string]any{"filter": map[string]any{"status": []string{"BOGUS"}}}, "", "BOGUS"},
			{map[string]any{"filter": map[string]any{"since": "yesterday"}}, "INVALID_INPUT", "RFC3339"},
			{map[string]any{"after": "not-a-cursor"}, "", "cursor"},
		} {
			f.refused(f.otto, deploymentsQ, c.vars, c.code, c.msg)
		}
	})
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

const updateFreezeQ = `mutation($id: ID!, $input: FreezeWindowInput!) { updateFreezeWindow(id: $id, input: $input) {
	id name reason definitionID environment mode startsAt endsAt cron durationMinutes timeZone active } }`

// TestUpdateFreezeWindowAPI edits a window through the API (audited with before and after,
// freezing at once when moved over now), and refuses bad input, other scopes and hidden
// definitions with nothing written.
func TestUpdateFreezeWindowAPI(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newDashFixture(t, db)
		now := f.clk.Now()
		w, err := f.e.CreateFreezeWindow(t.Context(), f.eddie, delivery.FreezeWindowInput{Name: "launch", DefinitionID: &f.shop,
			Environment: "prod", StartsAt: ptr(now.Add(24 * time.Hour)), EndsAt: ptr(now.Add(48 * time.Hour))})
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			UpdateFreezeWindow struct {
				ID, Name, Reason, Environment, Mode string
				DefinitionID                        *int
				StartsAt, EndsAt                    *string
				Active                              bool
			}
		}
		f.must(f.eddie, updateFreezeQ, map[string]any{"id": w.ID, "input": map[string]any{"name": "launch week", "reason": "big day",
			"definitionId": f.shop, "environment": "prod", "mode": "REFUSE",
			"startsAt": now.Add(-time.Hour).Format(time.RFC3339), "endsAt": now.Add(time.Hour).Format(time.RFC3339)}}, &got)
		u := got.UpdateFreezeWindow
		if u.Name != "launch week" || u.Reason != "big day" || u.Mode != "REFUSE" || !u.Active || u.Environment != "prod" {
			t.Fatalf("updated: %+v", u)
		}
		if f.audits("freeze.update") != 1 {
			t.Fatal("no freeze.update audit")
		}
		started, err := db.Client.Event.Query().All(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !slicesContainsType(started, delivery.EventFreezeStarted) {
			t.Fatal("moving the window over now emitted no freeze.started")
		}
		// A refused deployment proves the new window holds.
		rel := f.release(f.shop)
		if _, err := f.e.DeployEnvironment(t.Context(), f.eddie, delivery.DeployInput{ReleaseID: rel, Environment: "prod"}); err == nil ||
			!strings.Contains(err.Error(), "launch week") {
			t.Fatalf("deploy in the edited window: %v", err)
		}

		before := f.audits("")
		stored, _ := db.Client.FreezeWindow.Get(t.Context(), w.ID)
		good := map[string]any{"name": "x", "definitionId": f.shop, "startsAt": "2026-04-01T00:00:00Z", "endsAt": "2026-04-02T00:00:00Z"}
		with := func(k string, v any) map[string]any {
			m := map[string]any{}
			for a, b := range good {
				m[a] = b
			}
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
			return m
		}
		for _, c := range []struct {
			who       delivery.Actor
			id        any
			input     map[string]any
			code, msg string
		}{
			{f.eddie, w.ID, with("name", "  "), "INVALID_INPUT", "needs a name"},
			{f.eddie, w.ID, with("name", strings.Repeat("n", 201)), "INVALID_INPUT", "at most 200 bytes"},
			{f.eddie, w.ID, with("name", "a\nb"), "INVALID_INPUT", "control characters"},
			{f.eddie, w.ID, with("endsAt", "2026-03-01T00:00:00Z"), "INVALID_INPUT", "after startsAt"},
			{f.eddie, w.ID, with("endsAt", nil), "INVALID_INPUT", "give startsAt and endsAt"},
			{f.eddie, w.ID, with("cron", "61 * * * *"), "INVALID_INPUT", "recurring window has no startsAt"},
			{f.eddie, w.ID, map[string]any{"name": "x", "definitionId": f.shop, "cron": "0 1 * * *", "durationMinutes": 0}, "INVALID_INPUT", "durationMinutes"},
			{f.eddie, w.ID, map[string]any{"name": "x", "definitionId": f.shop, "cron": "0 1 * * *", "durationMinutes": 60, "timeZone": "Mars/Olympus"}, "INVALID_INPUT", "Mars/Olympus"},
			{f.eddie, w.ID, with("environment", "staging"), "INVALID_INPUT", `no environment "staging"`},
			{f.eddie, w.ID, map[string]any{"name": "x", "environment": "prod", "startsAt": "2026-04-01T00:00:00Z", "endsAt": "2026-04-02T00:00:00Z"}, "INVALID_INPUT", "needs its definitionId"},
			{f.eddie, w.ID, with("mode", "NEVER"), "", "NEVER"},
			{f.eddie, "1 OR 1=1", good, "INVALID_INPUT", "ID"},
			{f.eddie, 987654321, good, "NOT_FOUND", "not found"},
			// Making it global needs an ADMIN; moving it to a definition the person may not read is NOT_FOUND.
			{f.eddie, w.ID, with("definitionId", nil), "FORBIDDEN", "global freeze window"},
			{f.otto, w.ID, good, "FORBIDDEN", ""},
		} {
			f.refused(c.who, updateFreezeQ, map[string]any{"id": c.id, "input": c.input}, c.code, c.msg)
		}
		// A window of a definition the person may not read is not found for them.
		hidden, err := f.e.CreateFreezeWindow(t.Context(), f.root, delivery.FreezeWindowInput{Name: "vault", DefinitionID: &f.vault,
			StartsAt: ptr(now.Add(24 * time.Hour)), EndsAt: ptr(now.Add(48 * time.Hour))})
		if err != nil {
			t.Fatal(err)
		}
		otter := f.otto
		otter.Role = delivery.RoleEditor
		f.refused(otter, updateFreezeQ, map[string]any{"id": hidden.ID, "input": good}, "NOT_FOUND", "not found")
		f.refused(otter, updateFreezeQ, map[string]any{"id": w.ID, "input": with("definitionId", f.vault)}, "", "")
		if f.audits("") != before+1 { // the hidden window's freeze.create
			t.Fatalf("refusals wrote %d audit events", f.audits("")-before-1)
		}
		if again, _ := db.Client.FreezeWindow.Get(t.Context(), w.ID); again.Name != stored.Name || !again.UpdatedAt.Equal(stored.UpdatedAt) {
			t.Fatalf("a refusal changed the window: %+v", again)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func slicesContainsType(evs []*ent.Event, typ string) bool {
	for _, e := range evs {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// recordingSender answers every hook message with code and keeps them.
type recordingSender struct {
	mu   sync.Mutex
	code int
	got  []delivery.HookMessage
}

func (s *recordingSender) Send(_ context.Context, m delivery.HookMessage) (bool, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, m)
	return s.code < 300, s.code, nil
}

const redeliverQ = `mutation($id: ID!) { redeliverHookDelivery(id: $id) { id status eventSequence deliveryID redelivery redeliveryOf { id } } }`

// TestRedeliverHookDeliveryAPI sends a failed delivery's event again: a new delivery linked to
// the first (also when a redelivery is redelivered), sent with the first's delivery id in
// X-Cairn-Redelivery-Of, audited; pending deliveries, disabled hooks, other roles and malformed
// ids are refused with nothing written.
func TestRedeliverHookDeliveryAPI(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		f := newDashFixture(t, db)
		secret := "0123456789abcdef0123"
		h, err := f.e.CreateOutgoingHook(ctx, f.root, delivery.HookInput{Name: "ci", URL: "https://hooks.example.com/in", Secret: &secret,
			EventTypes: []string{delivery.EventReleaseCreated}})
		if err != nil {
			t.Fatal(err)
		}
		f.release(f.shop)
		if _, err := f.e.EnqueueHookDeliveries(ctx); err != nil {
			t.Fatal(err)
		}
		first := db.Client.HookDelivery.Query().OnlyX(ctx)
		before := f.audits("")
		// Still pending: it is retried by itself.
		f.refused(f.root, redeliverQ, map[string]any{"id": first.ID}, "INVALID_INPUT", "still pending")
		db.Client.HookDelivery.UpdateOne(first).SetStatus(hookdelivery.StatusFAILED).SetAttempts(6).ExecX(ctx)
		for _, c := range []struct {
			who       delivery.Actor
			id        any
			code, msg string
		}{
			{f.eddie, first.ID, "FORBIDDEN", ""},
			{f.otto, first.ID, "FORBIDDEN", ""},
			{f.root, "x'; DROP TABLE hook_deliveries; --", "INVALID_INPUT", "ID"},
			{f.root, -3, "NOT_FOUND", "not found"},
			{f.root, 987654321, "NOT_FOUND", "not found"},
		} {
			f.refused(c.who, redeliverQ, map[string]any{"id": c.id}, c.code, c.msg)
		}
		if _, err := f.e.UpdateOutgoingHook(ctx, f.root, h.ID, delivery.HookPatch{Enabled: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		before++ // hook.update
		f.refused(f.root, redeliverQ, map[string]any{"id": first.ID}, "INVALID_INPUT", "disabled")
		if n := db.Client.HookDelivery.Query().CountX(ctx); n != 1 || f.audits("") != before {
			t.Fatalf("refusals wrote: %d deliveries, %d audit events", n, f.audits("")-before)
		}
		if _, err := f.e.UpdateOutgoingHook(ctx, f.root, h.ID, delivery.HookPatch{Enabled: ptr(true)}); err != nil {
			t.Fatal(err)
		}

		type redelivered struct {
			RedeliverHookDelivery struct {
				ID, Status, DeliveryID string
				EventSequence          int64
				Redelivery             int
				RedeliveryOf           *struct{ ID string }
			}
		}
		var r1 redelivered
		f.must(f.root, redeliverQ, map[string]any{"id": first.ID}, &r1)
		d1 := r1.RedeliverHookDelivery
		if d1.Status != "PENDING" || d1.EventSequence != first.EventSequence || d1.Redelivery != 1 || d1.RedeliveryOf == nil ||
			d1.RedeliveryOf.ID != itoa(first.ID) || d1.DeliveryID == first.DeliveryID {
			t.Fatalf("redelivery: %+v", d1)
		}
		if f.audits("hook.redeliver") != 1 {
			t.Fatal("no hook.redeliver audit")
		}
		s := &recordingSender{code: 500}
		if _, _, err := f.e.DeliverHooks(ctx, s, 0); err != nil {
			t.Fatal(err)
		}
		if len(s.got) != 1 || s.got[0].DeliveryID != d1.DeliveryID || s.got[0].RedeliveryOf != first.DeliveryID {
			t.Fatalf("sent %+v", s.got)
		}
		// Redelivering the redelivery (once it failed) links the first again.
		db.Client.HookDelivery.UpdateOneID(mustAtoi(t, d1.ID)).SetStatus(hookdelivery.StatusFAILED).ExecX(ctx)
		var r2 redelivered
		f.must(f.root, redeliverQ, map[string]any{"id": d1.ID}, &r2)
		if d2 := r2.RedeliverHookDelivery; d2.Redelivery != 2 || d2.RedeliveryOf == nil || d2.RedeliveryOf.ID != itoa(first.ID) {
			t.Fatalf("second redelivery: %+v", d2)
		}
		var log struct {
			HookDeliveries struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						Redelivery   int
						Redeliveries []struct{ ID string }
					}
				}
			}
		}
		f.must(f.root, `query($h: ID!) { hookDeliveries(hookId: $h) { totalCount edges { node { redelivery redeliveries { id } } } } }`,
			map[string]any{"h": h.ID}, &log)
		if log.HookDeliveries.TotalCount != 3 {
			t.Fatalf("log: %+v", log)
		}
	})
}

// TestLibraryUsedByAPI reads which definitions use a variable group, a secure file and a
// service connection, on the server, leaving out definitions the viewer may not read.
func TestLibraryUsedByAPI(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		f := newDashFixture(t, db)
		if _, err := f.e.CreateVariableGroup(ctx, f.root, delivery.VariableGroupInput{Name: "common",
			Variables: []spec.GroupVariable{{Name: "A", Value: "1"}}}, ""); err != nil {
			t.Fatal(err)
		}
		// web links common as a whole, secret in its prod environment (readable by ops only).
		env := func(name string, groups ...string) spec.EnvironmentSpec {
			return spec.EnvironmentSpec{Name: name, VariableGroups: groups, Trigger: spec.Trigger{Kind: spec.TriggerManual},
				Job: spec.JobSpec{Tasks: []spec.Task{{Name: "t", Script: "true"}}}}
		}
		for _, d := range []spec.DefinitionSnapshot{
			{Name: "web", VariableGroups: []string{"common"}, Environments: []spec.EnvironmentSpec{env("dev")}},
			{Name: "secret", Readers: []string{"ops"}, Environments: []spec.EnvironmentSpec{env("dev"), env("prod", "common")},
				ArtifactSources: []spec.ArtifactSourceSpec{{Alias: "lib", Type: "JENKINS", Connection: "jenkins", Job: "lib"}}},
		} {
			if _, err := f.e.CreateDefinition(ctx, f.eddie, d, ""); err != nil {
				t.Fatal(err)
			}
		}
		const q = `{ variableGroups { name usedBy } }`
		const qc = `{ serviceConnections(first: 10) { edges { node { name usedBy } } } }`
		var got struct {
			VariableGroups []struct {
				Name   string
				UsedBy []string
			}
			ServiceConnections struct {
				Edges []struct {
					Node struct {
						Name   string
						UsedBy []string
					}
				}
			}
		}
		f.must(f.root, q, nil, &got)
		f.must(f.root, qc, nil, &got)
		if len(got.VariableGroups) != 1 || strings.Join(got.VariableGroups[0].UsedBy, "; ") != "secret (prod); web" ||
			strings.Join(got.ServiceConnections.Edges[0].Node.UsedBy, "; ") != "secret (lib); shop (app); vault (app)" {
			t.Fatalf("admin: %+v", got)
		}
		f.must(f.otto, q, nil, &got)
		if strings.Join(got.VariableGroups[0].UsedBy, "; ") != "web" {
			t.Fatalf("otto (outside the readers of secret): %+v", got)
		}
		outsider := f.otto
		outsider.Role = delivery.RoleEditor
		f.must(outsider, qc, nil, &got)
		if strings.Join(got.ServiceConnections.Edges[0].Node.UsedBy, "; ") != "shop (app)" {
			t.Fatalf("an editor outside ops: %+v", got)
		}
	})
}
