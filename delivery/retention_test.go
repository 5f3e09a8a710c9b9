package delivery_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/hookdelivery"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/logchunk"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// withRetention replaces the fixture's engine by one with retention configuration cfg.
func (f *fixture) withRetention(cfg delivery.RetentionConfig) {
	box, _ := delivery.NewSecretBox(make([]byte, 32))
	f.e = delivery.New(f.db.Client, delivery.Options{Dialect: f.db.Dialect, Clock: f.clk, Secrets: box, Bus: f.bus, Retention: cfg})
}

func keep(days, releases int) func(*spec.EnvironmentSpec) {
	return func(e *spec.EnvironmentSpec) {
		e.Retention = &spec.RetentionPolicy{DaysToKeep: days, ReleasesToKeep: releases}
	}
}

// preview returns the verdicts of a definition's releases by release id.
func (f *fixture) preview(def int) map[int]delivery.ReleaseRetention {
	f.t.Helper()
	p, err := f.e.RetentionPreview(f.ctx, f.admin, def)
	if err != nil {
		f.t.Fatalf("retention preview: %v", err)
	}
	out := map[int]delivery.ReleaseRetention{}
	for _, r := range p.Releases {
		out[r.ReleaseID] = r
	}
	return out
}

func wantVerdict(t *testing.T, v map[int]delivery.ReleaseRetention, rel int, verdict delivery.RetentionVerdict, reason string) {
	t.Helper()
	r, ok := v[rel]
	if !ok {
		t.Fatalf("release %d not in the preview", rel)
	}
	if r.Verdict != verdict {
		t.Fatalf("release %s: %s %q, want %s", r.Name, r.Verdict, r.Reasons, verdict)
	}
	if reason != "" && !slices.ContainsFunc(r.Reasons, func(s string) bool { return strings.Contains(s, reason) }) {
		t.Fatalf("release %s: reasons %q lack %q", r.Name, r.Reasons, reason)
	}
}

func (f *fixture) releaseExists(id int) bool {
	f.t.Helper()
	ok, err := f.c.Release.Query().Where(release.ID(id)).Exist(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return ok
}

func (f *fixture) deploy(actor delivery.Actor, rel int, env string) {
	f.t.Helper()
	if _, err := f.e.DeployEnvironment(f.ctx, actor, delivery.DeployInput{ReleaseID: rel, Environment: env}); err != nil {
		f.t.Fatalf("deploying release %d to %s: %v", rel, env, err)
	}
}

// TestRetentionKeepsNewestCurrentAndRollback: dev keeps its 2 newest, prod its newest; the
// current and previous release of each environment and the definition's newest stay; the
// others are deleted with every row of theirs, in one audited run; a release due for
// deletion that becomes current again by a rollback stays.
func TestRetentionKeepsNewestCurrentAndRollback(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		def := f.definition(snapshot("web",
			environment("dev", afterRelease, keep(0, 2)),
			environment("prod", manualOnly, keep(0, 1)),
		))
		var rels []int
		for i := range 7 {
			r := f.release(alice, def, fmt.Sprint(100+i))
			rels = append(rels, r.ID)
			f.run(r.ID, "dev", "SUCCEEDED")
			f.clk.Advance(time.Hour)
		}
		// prod: release 1, then 2, then 3 (current), 2 previous.
		for _, i := range []int{0, 1, 2} {
			f.deploy(alice, rels[i], "prod")
			f.run(rels[i], "prod", "SUCCEEDED")
			f.clk.Advance(time.Hour)
		}
		f.clk.Advance(48 * time.Hour)
		v := f.preview(def)
		wantVerdict(t, v, rels[6], delivery.RetentionKept, "current in dev")
		wantVerdict(t, v, rels[6], delivery.RetentionKept, "the definition's newest release")
		wantVerdict(t, v, rels[5], delivery.RetentionKept, "previous in dev")
		wantVerdict(t, v, rels[5], delivery.RetentionKept, "within the 2 newest of dev")
		wantVerdict(t, v, rels[2], delivery.RetentionKept, "current in prod")
		wantVerdict(t, v, rels[1], delivery.RetentionKept, "previous in prod")
		wantVerdict(t, v, rels[0], delivery.RetentionDue, "3rd newest of prod, which keeps 1")
		wantVerdict(t, v, rels[3], delivery.RetentionDue, "")
		wantVerdict(t, v, rels[4], delivery.RetentionDue, "")
		if v[rels[0]].DueAt == nil {
			t.Fatalf("a due release says since when: %+v", v[rels[0]])
		}

		// Release 1, due, becomes current in prod again by a rollback: it stays.
		f.deploy(alice, rels[0], "prod")
		f.run(rels[0], "prod", "SUCCEEDED")
		f.clk.Advance(time.Hour)
		wantVerdict(t, f.preview(def), rels[0], delivery.RetentionKept, "current in prod")

		jobsBefore, _ := f.c.Job.Query().Count(f.ctx)
		run, err := f.e.RunRetention(f.ctx, f.admin)
		if err != nil {
			t.Fatal(err)
		}
		// Release 2 was previous in prod until the rollback made release 3 previous.
		if len(run.ReleasesDeleted) != 3 || !slices.Contains(run.ReleasesDeleted, "web/Release-2") ||
			!slices.Contains(run.ReleasesDeleted, "web/Release-4") || !slices.Contains(run.ReleasesDeleted, "web/Release-5") {
			t.Fatalf("deleted %q, want web/Release-2, 4 and 5", run.ReleasesDeleted)
		}
		for i, want := range []bool{true, false, true, false, false, true, true} {
			if got := f.releaseExists(rels[i]); got != want {
				t.Fatalf("release %d exists: %v, want %v", i+1, got, want)
			}
		}
		for _, id := range rels[3:5] {
			if n, _ := f.c.Deployment.Query().Where(deployment.ReleaseID(id)).Count(f.ctx); n != 0 {
				t.Fatalf("release %d left %d deployments", id, n)
			}
		}
		if jobsAfter, _ := f.c.Job.Query().Count(f.ctx); jobsAfter != jobsBefore-4 {
			t.Fatalf("jobs %d → %d, want four fewer (dev of 2, 4, 5; prod of 2)", jobsBefore, jobsAfter)
		}
		if n := f.audits("retention.prune"); n != 1 {
			t.Fatalf("%d retention.prune audit events, want 1", n)
		}
		f.verifyChain()
		// A second run finds nothing and audits nothing.
		run, err = f.e.RunRetention(f.ctx, f.admin)
		if err != nil || len(run.ReleasesDeleted) != 0 {
			t.Fatalf("second run: %+v %v", run, err)
		}
		if n := f.audits("retention.prune"); n != 1 {
			t.Fatalf("%d retention.prune audit events after an empty run, want 1", n)
		}
		f.verifyChain()
		// Only ADMINs run retention by hand.
		if _, err := f.e.RunRetention(f.ctx, alice); err == nil {
			t.Fatal("an EDITOR ran retention")
		}
	})
}

// TestRetentionKeepsForeverPendingAndDays: keep forever (who set it is named), a pending
// approval and a days window keep releases the count would delete; the days window names its
// end, and the release is deleted once it has passed.
func TestRetentionKeepsForeverPendingAndDays(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		pam := f.user("pam", "EDITOR")
		f.user("bob", "VIEWER")
		def := f.definition(snapshot("api",
			environment("dev", afterRelease, keep(0, 1)),
			environment("qa", manualOnly, keep(10, 0), pre(spec.ApprovalPolicy{Approvers: users("bob")})),
		))
		r1 := f.release(pam, def, "1")
		f.run(r1.ID, "dev", "SUCCEEDED")
		r2 := f.release(pam, def, "2")
		f.run(r2.ID, "dev", "SUCCEEDED")
		r3 := f.release(pam, def, "3")
		f.run(r3.ID, "dev", "SUCCEEDED")
		r4 := f.release(pam, def, "4")
		f.run(r4.ID, "dev", "SUCCEEDED")
		r5 := f.release(pam, def, "5")
		f.run(r5.ID, "dev", "SUCCEEDED")
		// r1 kept forever; r2 waits for bob's approval in qa; r3 deployed to qa (10 days).
		if _, err := f.e.UpdateRelease(f.ctx, pam, r1.ID, delivery.UpdateReleaseInput{KeepForever: new(true)}); err != nil {
			t.Fatal(err)
		}
		f.deploy(pam, r2.ID, "qa")
		f.wantState(r2.ID, "qa", "PENDING_APPROVAL/PENDING_APPROVAL")
		f.deploy(pam, r3.ID, "qa")
		f.approve(f.actor("bob"), f.pendingFor(f.deployment(r3.ID, "qa").ID, approval.StagePRE, "bob"))
		f.run(r3.ID, "qa", "FAILED")
		f.clk.Advance(72 * time.Hour)

		v := f.preview(def)
		wantVerdict(t, v, r1.ID, delivery.RetentionKept, "keep forever by pam")
		wantVerdict(t, v, r2.ID, delivery.RetentionKept, "pending approval in qa")
		wantVerdict(t, v, r3.ID, delivery.RetentionKept, "within its 10 days")
		wantVerdict(t, v, r3.ID, delivery.RetentionKept, "deleted on 2025-03-24 unless")
		if d := v[r3.ID].DueAt; d == nil || d.Format("2006-01-02") != "2025-03-24" {
			t.Fatalf("r3 due at %v", d)
		}
		wantVerdict(t, v, r4.ID, delivery.RetentionKept, "previous in dev")
		wantVerdict(t, v, r5.ID, delivery.RetentionKept, "current in dev")

		if _, err := f.e.RunRetention(f.ctx, f.admin); err != nil {
			t.Fatal(err)
		}
		for _, r := range []*ent.Release{r1, r2, r3, r4, r5} {
			if !f.releaseExists(r.ID) {
				t.Fatalf("%s was deleted", r.Name)
			}
		}
		// Ten days later r3 is due and goes; keep forever and the pending approval still hold.
		f.clk.Advance(10 * 24 * time.Hour)
		wantVerdict(t, f.preview(def), r3.ID, delivery.RetentionDue, "its 10 days ended on 2025-03-24")
		run, err := f.e.RunRetention(f.ctx, f.admin)
		if err != nil {
			t.Fatal(err)
		}
		if len(run.ReleasesDeleted) != 1 || f.releaseExists(r3.ID) || !f.releaseExists(r1.ID) || !f.releaseExists(r2.ID) {
			t.Fatalf("deleted %q", run.ReleasesDeleted)
		}
		// Keep forever off (audited): r1 is due and goes at the next run.
		if _, err := f.e.UpdateRelease(f.ctx, pam, r1.ID, delivery.UpdateReleaseInput{KeepForever: new(false)}); err != nil {
			t.Fatal(err)
		}
		if n := f.audits("release.keepForever"); n != 2 {
			t.Fatalf("%d release.keepForever audit events, want 2", n)
		}
		f.clk.Advance(24 * time.Hour)
		if _, err := f.e.RunRetention(f.ctx, f.admin); err != nil {
			t.Fatal(err)
		}
		if f.releaseExists(r1.ID) {
			t.Fatal("r1 stayed after keep forever was turned off")
		}
		f.verifyChain()
	})
}

// actor returns an actor for an existing user.
func (f *fixture) actor(name string) delivery.Actor {
	f.t.Helper()
	u, err := f.c.User.Query().All(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, x := range u {
		if x.Username == name {
			return delivery.Actor{UserID: x.ID, Username: name, Role: delivery.Role(x.Role)}
		}
	}
	f.t.Fatalf("no user %s", name)
	return delivery.Actor{}
}

// TestRetentionPrunesLogsSooner: with log retention, the logs of a kept release that nothing
// happened to for LogDays go (the release stays and says when); current releases keep theirs.
func TestRetentionPrunesLogsSooner(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		f.withRetention(delivery.RetentionConfig{LogDays: 2})
		alice := f.user("alice", "EDITOR")
		def := f.definition(snapshot("logs", environment("dev", afterRelease, keep(0, 10))))
		var rels []*ent.Release
		for i := range 4 {
			r := f.release(alice, def, fmt.Sprint(i))
			j := f.job(f.deployment(r.ID, "dev").ID)
			if err := f.c.LogChunk.Create().SetJobID(j.ID).SetFirstSeq(1).SetLastSeq(1).SetLines([]byte(`[]`)).Exec(f.ctx); err != nil {
				t.Fatal(err)
			}
			f.run(r.ID, "dev", "SUCCEEDED")
			rels = append(rels, r)
		}
		f.clk.Advance(3 * 24 * time.Hour)
		run, err := f.e.RunRetention(f.ctx, f.admin)
		if err != nil {
			t.Fatal(err)
		}
		if run.LogsPruned != 2 || len(run.ReleasesDeleted) != 0 {
			t.Fatalf("run %+v, want the logs of two releases pruned and no release deleted", run)
		}
		for i, r := range rels {
			n, _ := f.c.LogChunk.Query().Where(logchunk.HasJobWith(job.HasDeploymentWith(deployment.ReleaseID(r.ID)))).Count(f.ctx)
			if want := map[bool]int{true: 0, false: 1}[i < 2]; n != want {
				t.Fatalf("release %d has %d log chunks, want %d", i+1, n, want)
			}
		}
		wantVerdict(t, f.preview(def), rels[0].ID, delivery.RetentionKept, "logs pruned on 2025-03-17")
		f.verifyChain()
	})
}

// TestRetentionPrunesRecordsAndDeletedDefinitions: old webhook deliveries go; a deleted
// definition can be undeleted within its retention and is purged (with its releases) after.
func TestRetentionPrunesRecordsAndDeletedDefinitions(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		f.definition(snapshot("seed", environment("dev", manualOnly))) // the jenkins connection
		d, err := f.e.CreateDefinition(f.ctx, alice, snapshot("gone", environment("dev", afterRelease)), "")
		if err != nil {
			t.Fatal(err)
		}
		f.release(alice, d.ID, "1")
		f.run(f.lastRelease(d.ID), "dev", "SUCCEEDED")
		old := f.clk.Now().Add(-40 * 24 * time.Hour)
		if err := f.c.WebhookDelivery.Create().SetSource("JENKINS").SetResult("IGNORED").SetCreatedAt(old).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
		if err := f.c.Notification.Create().SetChannel("EMAIL").SetRecipient("a@example.com").SetStatus("SENT").
			SetCreatedAt(old).SetUpdatedAt(old).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
		if err := f.c.Notification.Create().SetChannel("EMAIL").SetRecipient("b@example.com").SetStatus("PENDING").
			SetCreatedAt(old).SetUpdatedAt(old).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
		if err := f.c.Session.Create().SetSecretHash("h1").SetUserID(alice.UserID).SetExpiresAt(old).SetCreatedAt(old).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
		if err := f.c.Session.Create().SetSecretHash("h2").SetUserID(alice.UserID).SetExpiresAt(f.clk.Now().Add(time.Hour)).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
		hook, err := f.c.OutgoingHook.Create().SetName("chat").SetURL("https://chat.example.com/hook").Save(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, status := range []string{"SUCCEEDED", "PENDING"} {
			if err := f.c.HookDelivery.Create().SetHookID(hook.ID).SetEventSequence(int64(i + 1)).SetEventType("release.created").
				SetDeliveryID(fmt.Sprint("d", i)).SetStatus(hookdelivery.Status(status)).SetCreatedAt(old).SetUpdatedAt(old).Exec(f.ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.e.DeleteDefinition(f.ctx, alice, d.ID, 1, "bye"); err != nil {
			t.Fatal(err)
		}
		run, err := f.e.RunRetention(f.ctx, f.admin)
		if err != nil {
			t.Fatal(err)
		}
		if run.WebhookDeliveriesPruned != 1 || run.NotificationsPruned != 1 || run.SessionsPruned != 1 ||
			run.HookDeliveriesPruned != 1 || run.DefinitionsPurged != 0 {
			t.Fatalf("run %+v", run)
		}
		if _, err := f.e.UndeleteDefinition(f.ctx, alice, d.ID, ""); err != nil {
			t.Fatalf("undelete within retention: %v", err)
		}
		if _, err := f.e.Definition(f.ctx, alice, d.ID); err != nil {
			t.Fatalf("undeleted definition: %v", err)
		}
		cur, _ := f.c.ReleaseDefinition.Get(f.ctx, d.ID)
		if err := f.e.DeleteDefinition(f.ctx, alice, d.ID, cur.Revision, "bye again"); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(31 * 24 * time.Hour)
		_, err = f.e.UndeleteDefinition(f.ctx, alice, d.ID, "")
		wantCode(t, err, delivery.CodeConflict)
		run, err = f.e.RunRetention(f.ctx, f.admin)
		if err != nil {
			t.Fatal(err)
		}
		if run.DefinitionsPurged != 1 || len(run.ReleasesDeleted) != 1 {
			t.Fatalf("run %+v, want the definition purged with its release", run)
		}
		if ok, _ := f.c.ReleaseDefinition.Query().Where().Exist(f.ctx); !ok {
			t.Fatal("the seed definition went too")
		}
		f.verifyChain()
	})
}

func (f *fixture) lastRelease(def int) int {
	f.t.Helper()
	r, err := f.c.Release.Query().Where(release.DefinitionID(def)).Order(ent.Desc(release.FieldID)).First(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return r.ID
}

// TestRetentionTwoReplicasDoNotDoubleDelete: two engines on one PostgreSQL database run
// retention at once: each due release is deleted once, by one of them; and of two replicas
// whose schedule is due, one runs it.
func TestRetentionTwoReplicasDoNotDoubleDelete(t *testing.T) {
	db := openPostgresDB(t)
	f := newFixture(t, db)
	alice := f.user("alice", "EDITOR")
	def := f.definition(snapshot("many", environment("dev", afterRelease, keep(0, 1))))
	const n = 24
	for i := range n {
		r := f.release(alice, def, fmt.Sprint(i))
		f.run(r.ID, "dev", "SUCCEEDED")
	}
	f.clk.Advance(24 * time.Hour)
	cfg := delivery.RetentionConfig{BatchSize: 1, BatchPause: time.Millisecond}
	engines := []*delivery.Engine{
		delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: f.clk, Retention: cfg}),
		delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: f.clk, Retention: cfg}),
	}
	var mu sync.Mutex
	var all []string
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, e := range engines {
		wg.Go(func() {
			<-start
			run, err := e.RunRetention(f.ctx, f.admin)
			if err != nil {
				t.Errorf("run: %v", err)
				return
			}
			mu.Lock()
			all = append(all, run.ReleasesDeleted...)
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	slices.Sort(all)
	if len(all) != n-2 || len(slices.Compact(slices.Clone(all))) != len(all) {
		t.Fatalf("deleted %d (%q), want %d, each once", len(all), all, n-2)
	}
	if left, _ := f.c.Release.Query().Count(f.ctx); left != 2 {
		t.Fatalf("%d releases left, want 2 (current and previous)", left)
	}
	f.verifyChain()

	// The persisted schedule: both replicas try at once; one runs.
	ran := make(chan bool, 2)
	for _, e := range engines {
		wg.Go(func() {
			ok, _, err := e.RunRetentionIfDue(f.ctx)
			if err != nil {
				t.Errorf("run if due: %v", err)
			}
			ran <- ok
		})
	}
	wg.Wait()
	close(ran)
	runs := 0
	for ok := range ran {
		if ok {
			runs++
		}
	}
	if runs != 1 {
		t.Fatalf("%d replicas ran the due retention, want 1", runs)
	}
	// Not due again until the interval has passed.
	if ok, next, err := engines[0].RunRetentionIfDue(f.ctx); ok || err != nil || !next.After(f.clk.Now()) {
		t.Fatalf("ran again at once: %v %v %v", ok, next, err)
	}
}

// TestRetentionHostileInput: out-of-range policies, too many or too long tags and bad folders
// are INVALID_INPUT naming the field, and nothing is written.
func TestRetentionHostileInput(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		f.definition(snapshot("seed", environment("dev", manualOnly)))
		cases := []struct {
			name  string
			edit  func(*spec.DefinitionSnapshot)
			field string
		}{
			{"negative days", func(d *spec.DefinitionSnapshot) {
				d.Environments[0].Retention = &spec.RetentionPolicy{DaysToKeep: -1, ReleasesToKeep: 3}
			}, "environments[0].retention.daysToKeep"},
			{"huge count", func(d *spec.DefinitionSnapshot) {
				d.Environments[0].Retention = &spec.RetentionPolicy{DaysToKeep: 3, ReleasesToKeep: 1 << 40}
			}, "environments[0].retention.releasesToKeep"},
			{"days past the maximum", func(d *spec.DefinitionSnapshot) {
				d.Environments[0].Retention = &spec.RetentionPolicy{DaysToKeep: 366, ReleasesToKeep: 3}
			}, "environments[0].retention.daysToKeep"},
			{"too many tags", func(d *spec.DefinitionSnapshot) {
				for i := range 21 {
					d.Tags = append(d.Tags, fmt.Sprint("t", i))
				}
			}, "tags"},
			{"tag too long", func(d *spec.DefinitionSnapshot) { d.Tags = []string{strings.Repeat("x", 51)} }, "tags[0]"},
			{"tag with a separator", func(d *spec.DefinitionSnapshot) { d.Tags = []string{"a|b"} }, "tags[0]"},
			{"folder ..", func(d *spec.DefinitionSnapshot) { d.Path = "/a/../b" }, "path"},
			{"folder too long", func(d *spec.DefinitionSnapshot) { d.Path = strings.Repeat("/abc", 200) }, "path"},
		}
		for _, c := range cases {
			doc := snapshot("hostile", environment("dev", manualOnly))
			c.edit(&doc)
			_, err := f.e.CreateDefinition(f.ctx, alice, doc, "")
			wantCode(t, err, delivery.CodeInvalidInput)
			if !strings.Contains(err.Error(), c.field) {
				t.Fatalf("%s: error %q does not name %s", c.name, err, c.field)
			}
		}
		if n, _ := f.c.ReleaseDefinition.Query().Count(f.ctx); n != 1 {
			t.Fatalf("%d definitions after refused documents, want 1", n)
		}
		// Releases: tags and names.
		def := f.definition(snapshot("web", environment("dev", manualOnly)))
		r := f.release(alice, def, "1")
		for name, in := range map[string]delivery.UpdateReleaseInput{
			"tags[0]": {Tags: []string{strings.Repeat("é", 51)}},
			"tags":    {Tags: slices.Repeat([]string{"a", "b", "c", "d", "e", "f", "g"}, 1)[:0:0]},
			"name":    {Name: new("  ")},
		} {
			if name == "tags" {
				for i := range 25 {
					in.Tags = append(in.Tags, fmt.Sprint("tag", i))
				}
			}
			_, err := f.e.UpdateRelease(f.ctx, alice, r.ID, in)
			wantCode(t, err, delivery.CodeInvalidInput)
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("error %q does not name %s", err, name)
			}
		}
		// Server flags out of range.
		for _, cfg := range []delivery.RetentionConfig{{DefaultDays: -5}, {MaxReleases: 1 << 30}, {LogDays: -2}, {DefaultDays: 400}} {
			if err := cfg.Validate(); err == nil {
				t.Fatalf("config %+v accepted", cfg)
			}
		}
	})
}

// TestReleaseHousekeeping: update (name, description, tags), drafts (deploy nothing, edit,
// start, delete), a disabled definition refuses releases with its reason and lets existing
// ones go on, definitions have folders and tags, and revert writes a new revision.
func TestReleaseHousekeeping(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		viewer := f.user("vic", "VIEWER")
		f.definition(snapshot("seed", environment("dev", manualOnly)))
		doc := snapshot("web", environment("dev", afterRelease), environment("qa", afterRelease))
		doc.Path, doc.Tags = `\team\web\`, []string{"Team-A", "team-a", " api "}
		d, err := f.e.CreateDefinition(f.ctx, alice, doc, "")
		if err != nil {
			t.Fatal(err)
		}
		if d.Path != "/team/web" || !slices.Equal(d.Tags, []string{"Team-A", "api"}) {
			t.Fatalf("path %q tags %q", d.Path, d.Tags)
		}
		// Update.
		r := f.release(alice, d.ID, "1")
		r, err = f.e.UpdateRelease(f.ctx, alice, r.ID, delivery.UpdateReleaseInput{
			Name: new("hotfix"), Description: new("the fix"), Tags: []string{"urgent"}})
		if err != nil || r.Name != "hotfix" || r.Description != "the fix" || !slices.Equal(r.Tags, []string{"urgent"}) {
			t.Fatalf("update: %+v %v", r, err)
		}
		_, err = f.e.UpdateRelease(f.ctx, viewer, r.ID, delivery.UpdateReleaseInput{KeepForever: new(true)})
		wantCode(t, err, delivery.CodeForbidden)
		// Drafts.
		draft, err := f.e.CreateRelease(f.ctx, alice, delivery.CreateReleaseInput{DefinitionID: d.ID, Draft: true,
			Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: "2", BuildID: "2"}}})
		if err != nil || draft.Status != release.StatusDRAFT {
			t.Fatalf("draft: %+v %v", draft, err)
		}
		if f.hasDeployment(draft.ID, "dev") {
			t.Fatal("a draft deployed")
		}
		_, err = f.e.DeployEnvironment(f.ctx, alice, delivery.DeployInput{ReleaseID: draft.ID, Environment: "dev"})
		wantCode(t, err, delivery.CodeConflict)
		if _, err := f.e.UpdateRelease(f.ctx, alice, draft.ID, delivery.UpdateReleaseInput{ManualEnvironments: []string{"qa"}}); err != nil {
			t.Fatal(err)
		}
		_, err = f.e.UpdateRelease(f.ctx, alice, r.ID, delivery.UpdateReleaseInput{ManualEnvironments: []string{"qa"}})
		wantCode(t, err, delivery.CodeConflict)
		if _, err := f.e.StartRelease(f.ctx, alice, draft.ID); err != nil {
			t.Fatal(err)
		}
		f.wantState(draft.ID, "dev", "QUEUED/QUEUED")
		f.wantState(draft.ID, "qa", "-/NOT_STARTED")
		_, err = f.e.StartRelease(f.ctx, alice, draft.ID)
		wantCode(t, err, delivery.CodeConflict)
		err = f.e.DeleteDraftRelease(f.ctx, alice, draft.ID)
		wantCode(t, err, delivery.CodeConflict)
		draft2, err := f.e.CreateRelease(f.ctx, alice, delivery.CreateReleaseInput{DefinitionID: d.ID, Draft: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.e.DeleteDraftRelease(f.ctx, alice, draft2.ID); err != nil || f.releaseExists(draft2.ID) {
			t.Fatalf("deleting a draft: %v", err)
		}
		// Disabled.
		doc.Disabled = true
		d, err = f.e.UpdateDefinition(f.ctx, alice, d.ID, d.Revision, doc, "freeze the line")
		if err != nil || !d.Disabled {
			t.Fatalf("disable: %+v %v", d, err)
		}
		_, err = f.e.CreateRelease(f.ctx, alice, delivery.CreateReleaseInput{DefinitionID: d.ID})
		wantCode(t, err, delivery.CodeConflict)
		if !strings.Contains(err.Error(), "is disabled") {
			t.Fatalf("refusal %q does not say why", err)
		}
		f.run(draft.ID, "dev", "SUCCEEDED") // existing releases go on
		f.wantState(draft.ID, "qa", "-/NOT_STARTED")
		// Revert to revision 1 (enabled, same folder): a new revision.
		d, err = f.e.RevertDefinition(f.ctx, alice, d.ID, 1, "", true)
		if err != nil || d.Disabled || d.Revision != 3 {
			t.Fatalf("revert: %+v %v", d, err)
		}
		changes, err := f.e.DiffRevisions(f.ctx, alice, d.ID, 2, 3)
		if err != nil || len(changes) == 0 {
			t.Fatalf("diff of the revert: %v %v", changes, err)
		}
		_, err = f.e.RevertDefinition(f.ctx, alice, d.ID, 3, "", true)
		wantCode(t, err, delivery.CodeInvalidInput)
		if f.audits("definition.revert") != 1 || f.audits("release.update") != 2 || f.audits("release.start") != 1 || f.audits("release.delete") != 1 {
			t.Fatal("housekeeping is not audited")
		}
		f.verifyChain()
	})
}

// TestDisabledDefinitionRefusesCDAndSchedules: a disabled definition's continuous deployment
// webhook and cron schedule create no release, and both say why.
func TestDisabledDefinitionRefusesCDAndSchedules(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		f.definition(snapshot("seed", environment("dev", manualOnly))) // the jenkins connection
		doc := snapshot("cd", environment("dev", afterRelease))
		doc.ArtifactSources[0].ContinuousDeployment = true
		doc.ArtifactSources[0].Job = "cd/main"
		doc.Schedules = []spec.Schedule{{Cron: "0 3 * * *", TimeZone: "UTC"}}
		doc.Disabled = true
		d, err := f.e.CreateDefinition(f.ctx, alice, doc, "")
		if err != nil {
			t.Fatal(err)
		}
		res, err := f.e.ReceiveBuild(f.ctx, delivery.BuildReceipt{Source: "JENKINS", ConnectionID: f.conn,
			Key: "JENKINS/jenkins/cd/main/7", Job: "cd/main", BuildID: "7", BuildNumber: "7", Result: "SUCCEEDED"}, nil)
		if err != nil || res.Result == "ACCEPTED" || !strings.Contains(res.Reason, "is disabled") {
			t.Fatalf("webhook for a disabled definition: %+v %v", res, err)
		}
		f.clk.Advance(25 * time.Hour)
		f.runTimers()
		if n, _ := f.c.Release.Query().Where(release.DefinitionID(d.ID)).Count(f.ctx); n != 0 {
			t.Fatalf("%d releases of a disabled definition", n)
		}
		tms, err := f.c.Timer.Query().All(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(tms, func(tm *ent.Timer) bool { return strings.Contains(tm.LastError, "is disabled") }) {
			t.Fatal("the schedule's timer does not say the definition is disabled")
		}
	})
}

// TestRetentionScheduleIsPersisted: the loop's schedule is a row: a run makes the next one due
// an interval later, a restarted engine keeps it, and it runs again once due.
func TestRetentionScheduleIsPersisted(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		f.withRetention(delivery.RetentionConfig{Interval: time.Hour})
		ran, next, err := f.e.RunRetentionIfDue(f.ctx)
		if err != nil || !ran || !next.Equal(f.clk.Now().Add(time.Hour)) {
			t.Fatalf("first run: %v %v %v", ran, next, err)
		}
		f.withRetention(delivery.RetentionConfig{Interval: time.Hour}) // a restart
		if ran, _, err := f.e.RunRetentionIfDue(f.ctx); ran || err != nil {
			t.Fatalf("ran before due after a restart: %v %v", ran, err)
		}
		f.clk.Advance(61 * time.Minute)
		if ran, _, err := f.e.RunRetentionIfDue(f.ctx); !ran || err != nil {
			t.Fatalf("not run once due: %v %v", ran, err)
		}
		if n := f.runTimers(); n != 0 {
			t.Fatalf("the timer loop ran %d timers; the retention schedule is the retention loop's", n)
		}
	})
}

// TestRevertDefinitionSecrets: a revert keeps the current value of a secret by default, and
// brings back the old revision's value when told to; secrets are never sealed twice.
func TestRevertDefinitionSecrets(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		f.definition(snapshot("seed", environment("dev", manualOnly)))
		doc := snapshot("sec", environment("dev", manualOnly))
		doc.Description = "one"
		doc.Variables = []spec.Variable{{Name: "TOKEN", Value: "old-secret", Secret: true}}
		d, err := f.e.CreateDefinition(f.ctx, alice, doc, "")
		if err != nil {
			t.Fatal(err)
		}
		doc.Description = "two"
		doc.Variables = []spec.Variable{{Name: "TOKEN", Value: "new-secret", Secret: true}}
		if d, err = f.e.UpdateDefinition(f.ctx, alice, d.ID, 1, doc, ""); err != nil {
			t.Fatal(err)
		}
		token := func(d *ent.ReleaseDefinition) string {
			t.Helper()
			for _, v := range d.Variables {
				if v.Name == "TOKEN" {
					pt, err := f.e.SecretValue(v)
					if err != nil {
						t.Fatal(err)
					}
					return pt
				}
			}
			t.Fatal("no TOKEN")
			return ""
		}
		d, err = f.e.RevertDefinition(f.ctx, alice, d.ID, 1, "", true)
		if err != nil || d.Description != "one" || token(d) != "new-secret" {
			t.Fatalf("revert keeping secrets: %+v %v", d, err)
		}
		d, err = f.e.RevertDefinition(f.ctx, alice, d.ID, 1, "", false)
		if err != nil || token(d) != "old-secret" {
			t.Fatalf("revert with the old secrets: %v", err)
		}
		_, err = f.e.RevertDefinition(f.ctx, alice, d.ID, 0, "", true)
		wantCode(t, err, delivery.CodeInvalidInput)
	})
}
