package delivery_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

func ptrTime(t time.Time) *time.Time { return &t }

// TestFreezeWait: a global WAIT window holds new deployments in the queue
// (no job), shows when it ends, and lets them go on when it ends, by a
// timer that a restarted engine runs; freeze.started and freeze.ended are
// emitted once each.
func TestFreezeWait(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		def := f.definition(snapshot("svc", environment("prod", afterRelease)))
		in := delivery.FreezeWindowInput{Name: "year end", Mode: "WAIT", StartsAt: ptrTime(t0.Add(time.Hour)), EndsAt: ptrTime(t0.Add(3 * time.Hour))}
		_, err := f.e.CreateFreezeWindow(f.ctx, alice, in)
		wantCode(t, err, delivery.CodeForbidden) // global windows are an ADMIN's
		w, err := f.e.CreateFreezeWindow(f.ctx, f.admin, in)
		if err != nil {
			t.Fatal(err)
		}
		if st := f.e.FreezeWindowState(w); st.Active || !st.NextStartsAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("state before it starts: %+v", st)
		}
		f.clk.Advance(time.Hour)
		f.runTimers()
		if f.bus.count(delivery.EventFreezeStarted) != 1 {
			t.Fatal("no freeze.started")
		}
		until, err := f.e.FrozenUntil(f.ctx, def, "prod")
		if err != nil || until == nil || !until.Equal(t0.Add(3*time.Hour)) {
			t.Fatalf("frozenUntil %v, %v", until, err)
		}
		rel := f.release(alice, def, "1")
		d := f.deployment(rel.ID, "prod")
		f.wantState(rel.ID, "prod", "QUEUED/QUEUED")
		if f.job(d.ID) != nil {
			t.Fatal("a job was created during the freeze")
		}
		f.e = delivery.New(f.db.Client, delivery.Options{Dialect: f.db.Dialect, Clock: f.clk, Bus: f.bus})
		f.clk.Advance(2 * time.Hour)
		f.runTimers()
		if f.job(d.ID) == nil {
			t.Fatal("no job once the freeze ended")
		}
		if f.bus.count(delivery.EventFreezeEnded) != 1 || f.bus.count(delivery.EventFreezeStarted) != 1 {
			t.Fatal("freeze events not emitted once each")
		}
		if until, _ := f.e.FrozenUntil(f.ctx, def, "prod"); until != nil {
			t.Fatalf("still frozen until %v", until)
		}
		if _, ok, _ := f.e.NextTimerDue(f.ctx); ok {
			t.Fatal("a timer is left for a window that is over")
		}
		f.verifyChain()
	})
}

// TestFreezeRefuse: a definition's REFUSE window on prod refuses a person's
// deployment with ErrFrozen (writing nothing), cancels a trigger's with the
// reason, and lets an ADMIN through with an explicit, audited override; an
// EDITOR's override is FORBIDDEN. Other environments are not frozen.
func TestFreezeRefuse(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		def := f.definition(snapshot("svc", environment("dev", manualOnly), environment("prod", afterRelease)))
		if _, err := f.e.CreateFreezeWindow(f.ctx, alice, delivery.FreezeWindowInput{Name: "launch", Reason: "launch week",
			DefinitionID: &def, Environment: "prod", Mode: "REFUSE", StartsAt: ptrTime(t0), EndsAt: ptrTime(t0.Add(24 * time.Hour))}); err != nil {
			t.Fatal(err)
		}
		rel := f.release(alice, def, "1")
		got := f.deployment(rel.ID, "prod")
		if got.Status != "CANCELED" || !strings.Contains(got.StatusReason, `frozen by window "launch" until 2025-03-15T09:30:00Z`) {
			t.Fatalf("triggered deployment %s %q", got.Status, got.StatusReason)
		}
		before := f.c.Deployment.Query().CountX(f.ctx)
		_, err := f.e.DeployEnvironment(f.ctx, alice, delivery.DeployInput{ReleaseID: rel.ID, Environment: "prod"})
		if !errors.Is(err, delivery.ErrFrozen) || delivery.CodeOf(err) != delivery.CodeConflict || !strings.Contains(err.Error(), "launch week") {
			t.Fatalf("refused deploy: %v", err)
		}
		if n := f.c.Deployment.Query().CountX(f.ctx); n != before {
			t.Fatal("a refused deployment was written")
		}
		_, err = f.e.DeployEnvironment(f.ctx, alice, delivery.DeployInput{ReleaseID: rel.ID, Environment: "prod", OverrideFreeze: true})
		wantCode(t, err, delivery.CodeForbidden)
		if _, err := f.e.DeployEnvironment(f.ctx, alice, delivery.DeployInput{ReleaseID: rel.ID, Environment: "dev"}); err != nil {
			t.Fatalf("dev is not frozen: %v", err)
		}
		d, err := f.e.DeployEnvironment(f.ctx, f.admin, delivery.DeployInput{ReleaseID: rel.ID, Environment: "prod", OverrideFreeze: true})
		if err != nil {
			t.Fatal(err)
		}
		if f.job(d.ID) == nil || !d.FreezeOverride || f.audits("freeze.override") != 1 {
			t.Fatalf("override: job %v, flag %v, %d audits", f.job(d.ID), d.FreezeOverride, f.audits("freeze.override"))
		}
		f.verifyChain()
	})
}

// TestFreezeRecurring: a weekend window (Friday 22:00 to Monday 06:00,
// Europe/Berlin) starts and ends by its timers, in the window's time zone.
func TestFreezeRecurring(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db) // t0 is Friday 2025-03-14 09:30 UTC
		def := f.definition(snapshot("svc", environment("prod", manualOnly)))
		w, err := f.e.CreateFreezeWindow(f.ctx, f.admin, delivery.FreezeWindowInput{Name: "weekend", DefinitionID: &def,
			Cron: "0 22 * * 5", DurationMinutes: 56 * 60, TimeZone: "Europe/Berlin"})
		if err != nil {
			t.Fatal(err)
		}
		friday := time.Date(2025, 3, 14, 21, 0, 0, 0, time.UTC) // 22:00 CET
		if st := f.e.FreezeWindowState(w); st.Active || !st.NextStartsAt.Equal(friday) {
			t.Fatalf("state %+v, want next start %s", st, friday)
		}
		f.clk.Set(friday.Add(30 * time.Minute))
		f.runTimers()
		until, _ := f.e.FrozenUntil(f.ctx, def, "prod")
		monday := time.Date(2025, 3, 17, 5, 0, 0, 0, time.UTC)
		if until == nil || !until.Equal(monday) || f.bus.count(delivery.EventFreezeStarted) != 1 {
			t.Fatalf("frozen until %v (want %s), %d started", until, monday, f.bus.count(delivery.EventFreezeStarted))
		}
		f.clk.Set(monday)
		f.runTimers()
		if f.bus.count(delivery.EventFreezeEnded) != 1 {
			t.Fatal("no freeze.ended on Monday")
		}
		next, ok, _ := f.e.NextTimerDue(f.ctx)
		if !ok || !next.Equal(time.Date(2025, 3, 21, 21, 0, 0, 0, time.UTC)) {
			t.Fatalf("next boundary %s %v, want next Friday", next, ok)
		}
		if err := f.e.DeleteFreezeWindow(f.ctx, f.admin, w.ID); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := f.e.NextTimerDue(f.ctx); ok {
			t.Fatal("a deleted window keeps its timer")
		}
	})
}

// TestFreezeValidation: malformed windows are INVALID_INPUT and write nothing.
func TestFreezeValidation(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		def := f.definition(snapshot("svc", environment("prod", manualOnly)))
		s, e := ptrTime(t0), ptrTime(t0.Add(time.Hour))
		cases := map[string]delivery.FreezeWindowInput{
			"name":            {Mode: "WAIT", StartsAt: s, EndsAt: e},
			"mode":            {Name: "x", Mode: "SOMETIMES", StartsAt: s, EndsAt: e},
			"endsAt":          {Name: "x", StartsAt: e, EndsAt: s},
			"startsAt":        {Name: "x"},
			"cron":            {Name: "x", Cron: "every day", DurationMinutes: 10},
			"durationMinutes": {Name: "x", Cron: "0 1 * * *"},
			"time zone":       {Name: "x", Cron: "0 1 * * *", DurationMinutes: 10, TimeZone: "Mars/Olympus"},
			"both":            {Name: "x", Cron: "0 1 * * *", DurationMinutes: 10, StartsAt: s, EndsAt: e},
			"environment":     {Name: "x", Environment: "prod", StartsAt: s, EndsAt: e},
			"unknown env":     {Name: "x", DefinitionID: &def, Environment: "nope", StartsAt: s, EndsAt: e},
			"control":         {Name: "x\x00", StartsAt: s, EndsAt: e},
		}
		for name, in := range cases {
			_, err := f.e.CreateFreezeWindow(f.ctx, f.admin, in)
			if delivery.CodeOf(err) != delivery.CodeInvalidInput {
				t.Errorf("%s: %v, want INVALID_INPUT", name, err)
			}
		}
		if n := f.c.FreezeWindow.Query().CountX(f.ctx); n != 0 {
			t.Fatalf("%d windows written", n)
		}
		if err := f.e.DeleteFreezeWindow(f.ctx, f.admin, 999); delivery.CodeOf(err) != delivery.CodeNotFound {
			t.Fatalf("deleting a missing window: %v", err)
		}
	})
}

// TestFreezeOfEachDefinitionInOneWebhook: a build that two definitions follow releases both in
// one transaction; a REFUSE window of the first definition's prod cancels its deployment only,
// and one of the second's cancels only the second's (each release reads its own definition's
// windows).
func TestFreezeOfEachDefinitionInOneWebhook(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		f.definition(snapshot("seed", environment("dev", manualOnly))) // the jenkins connection
		var defs []int
		for _, name := range []string{"first", "second"} {
			doc := snapshot(name, environment("dev", afterRelease), environment("prod", afterRelease))
			doc.ArtifactSources[0].ContinuousDeployment = true
			doc.ArtifactSources[0].Job = "shared/main"
			d, err := f.e.CreateDefinition(f.ctx, alice, doc, "")
			if err != nil {
				t.Fatal(err)
			}
			defs = append(defs, d.ID)
		}
		for i, env := range []string{"prod", "dev"} {
			if _, err := f.e.CreateFreezeWindow(f.ctx, alice, delivery.FreezeWindowInput{Name: fmt.Sprintf("freeze-%d", i),
				DefinitionID: &defs[i], Environment: env, Mode: "REFUSE", StartsAt: ptrTime(t0), EndsAt: ptrTime(t0.Add(24 * time.Hour))}); err != nil {
				t.Fatal(err)
			}
		}
		res, err := f.e.ReceiveBuild(f.ctx, delivery.BuildReceipt{Source: "JENKINS", ConnectionID: f.conn,
			Key: "JENKINS/jenkins/shared/main/7", Job: "shared/main", BuildID: "7", BuildNumber: "7", Result: "SUCCEEDED"}, nil)
		if err != nil || len(res.ReleaseIDs) != 2 {
			t.Fatalf("webhook: %+v %v", res, err)
		}
		frozen := map[int]string{defs[0]: "prod", defs[1]: "dev"}
		for _, id := range res.ReleaseIDs {
			rel := f.c.Release.GetX(f.ctx, id)
			for _, env := range []string{"dev", "prod"} {
				d := f.deployment(id, env)
				if want := env == frozen[rel.DefinitionID]; want != (d.Status == "CANCELED") {
					t.Errorf("definition %d, %s: %s %q (frozen: %v)", rel.DefinitionID, env, d.Status, d.StatusReason, want)
				}
			}
		}
		f.verifyChain()
	})
}
