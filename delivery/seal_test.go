package delivery_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// plainHash is the legacy (and an attacker's) link: SHA-256 over the length-prefixed fields,
// which anyone with the database can compute.
func plainHash(ev *ent.AuditEvent, seq int64, prev string) string {
	h := sha256.New()
	for _, f := range []string{
		strconv.FormatInt(seq, 10), ev.Time.UTC().Format(time.RFC3339Nano), ev.Actor, ev.OnBehalfOf,
		ev.Action, ev.TargetType, ev.TargetID, ev.Before, ev.After, prev,
	} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// placeholders returns the dialect's n-th bind parameter.
func placeholder(db *storage.DB, n int) string {
	if db.Dialect == delivery.Postgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// rechain recomputes, as an attacker with write access but no key would, prev_hash and a plain
// SHA-256 hash of every audit row from sequence from on.
func rechain(t *testing.T, db *storage.DB, from int64) {
	t.Helper()
	ctx := context.Background()
	rows, err := db.Client.AuditEvent.Query().Where(auditevent.SequenceGT(0)).
		Order(ent.Asc(auditevent.FieldSequence)).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	prev := strings.Repeat("0", 64)
	for _, r := range rows {
		if r.Sequence >= from {
			h := plainHash(r, r.Sequence, prev)
			q := fmt.Sprintf("UPDATE audit_events SET prev_hash = %s, hash = %s WHERE id = %s",
				placeholder(db, 1), placeholder(db, 2), placeholder(db, 3))
			if _, err := db.SQL.ExecContext(ctx, q, prev, h, r.ID); err != nil {
				t.Fatal(err)
			}
			r.Hash = h
		}
		prev = r.Hash
	}
}

// TestAuditChainKeyed: the chain's links are HMACs with a key outside the database, and its
// head is anchored in a signed checkpoint: an edited row whose later links were recomputed
// (as anyone with the database can), newest rows deleted, and a checkpoint moved back are all
// detected; verifyAuditChain says which head it checked against.
func TestAuditChainKeyed(t *testing.T) {
	cases := []struct {
		name    string
		tamper  func(t *testing.T, db *storage.DB, f *idFixture, head int64)
		at      func(head int64) int64
		problem string
	}{
		{"edited and re-chained", func(t *testing.T, db *storage.DB, _ *idFixture, _ int64) {
			if _, err := db.SQL.Exec(`UPDATE audit_events SET "after" = '{"role":"ADMIN"}' WHERE sequence = 3`); err != nil {
				t.Fatal(err)
			}
			rechain(t, db, 3)
		}, func(int64) int64 { return 3 }, "edited"},
		{"newest rows deleted", func(t *testing.T, db *storage.DB, _ *idFixture, head int64) {
			if _, err := db.SQL.Exec(fmt.Sprintf(`DELETE FROM audit_events WHERE sequence > %d`, head-2)); err != nil {
				t.Fatal(err)
			}
		}, func(head int64) int64 { return head - 1 }, "newest rows were deleted"},
		{"newest row deleted and its predecessor re-signed", func(t *testing.T, db *storage.DB, _ *idFixture, head int64) {
			if _, err := db.SQL.Exec(fmt.Sprintf(`DELETE FROM audit_events WHERE sequence = %d`, head)); err != nil {
				t.Fatal(err)
			}
			if _, err := db.SQL.Exec(`DELETE FROM audit_checkpoints`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.SQL.Exec(fmt.Sprintf(`INSERT INTO audit_checkpoints (sequence, hash, legacy_until, mac, updated_at)
				SELECT sequence, hash, 0, 'forged', time FROM audit_events WHERE sequence = %d`, head-1)); err != nil {
				t.Fatal(err)
			}
		}, func(head int64) int64 { return head - 1 }, "does not match its MAC"},
		{"checkpoint moved back", func(t *testing.T, db *storage.DB, f *idFixture, head int64) {
			// The attacker kept an earlier, genuine checkpoint and restores it with the rows it covered.
			old, err := db.Client.AuditCheckpoint.Query().Only(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.e.CreateGroup(context.Background(), f.admin, delivery.GroupInput{Name: "later"}); err != nil {
				t.Fatal(err)
			}
			if _, err := db.SQL.Exec(fmt.Sprintf(`DELETE FROM audit_events WHERE sequence > %d`, old.Sequence)); err != nil {
				t.Fatal(err)
			}
			if err := db.Client.AuditCheckpoint.Update().SetSequence(old.Sequence).SetHash(old.Hash).SetMAC(old.MAC).Exec(context.Background()); err != nil {
				t.Fatal(err)
			}
		}, func(head int64) int64 { return head + 1 }, "moved back"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				ctx := context.Background()
				f := newIDFixture(t, db)
				auditSeries(t, f)
				rep, err := f.e.VerifyAuditChain(ctx, f.admin)
				if err != nil || !rep.OK || rep.HeadSequence != int64(rep.Checked) || rep.LegacyUntil != 0 {
					t.Fatalf("before tampering: %+v, %v", rep, err)
				}
				head := rep.HeadSequence
				tc.tamper(t, db, f, head)
				rep, err = f.e.VerifyAuditChain(ctx, f.admin)
				if err != nil {
					t.Fatal(err)
				}
				if rep.OK || rep.BrokenAt != tc.at(head) || !strings.Contains(rep.Problem, tc.problem) {
					t.Errorf("report %+v, want broken at %d with %q", rep, tc.at(head), tc.problem)
				}
			})
		})
	}
}

// TestAuditChainLegacyPrefix: a database whose chain was plain SHA-256 keeps it as a verified
// legacy prefix; the first keyed event links to it, so an edit of the prefix with every later
// plain hash recomputed still breaks the chain.
func TestAuditChainLegacyPrefix(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newIDFixture(t, db)
		// Rows as the unkeyed chain wrote them (EnsureAdmin's, then three more).
		if _, err := db.Client.AuditCheckpoint.Delete().Exec(ctx); err != nil {
			t.Fatal(err)
		}
		last, err := db.Client.AuditEvent.Query().Order(ent.Desc(auditevent.FieldSequence)).First(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := db.Client.AuditEvent.Create().SetSequence(last.Sequence + int64(i) + 1).SetTime(idT0).
				SetActor("root").SetAction("legacy.action").SetTargetType("user").SetTargetID("1").
				SetPrevHash("").SetHash("").Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		rechain(t, db, 1)
		legacy := last.Sequence + 3
		rep, err := f.e.VerifyAuditChain(ctx, f.admin)
		if err != nil || !rep.OK || rep.LegacyUntil != legacy || rep.HeadSequence != legacy {
			t.Fatalf("legacy chain: %+v, %v; want ok up to %d", rep, err, legacy)
		}
		auditSeries(t, f)
		rep, err = f.e.VerifyAuditChain(ctx, f.admin)
		if err != nil || !rep.OK || rep.LegacyUntil != legacy || rep.HeadSequence <= legacy || rep.Checked != int(rep.HeadSequence) {
			t.Fatalf("after keyed events: %+v, %v", rep, err)
		}
		if _, err := db.SQL.Exec(`UPDATE audit_events SET actor = 'nobody' WHERE sequence = 2`); err != nil {
			t.Fatal(err)
		}
		rechain(t, db, 2)
		rep, err = f.e.VerifyAuditChain(ctx, f.admin)
		if err != nil || rep.OK || rep.BrokenAt != legacy+1 {
			t.Fatalf("edited legacy prefix: %+v, %v; want broken at %d", rep, err, legacy+1)
		}
	})
}

// TestSealLeftovers: rows a writer committed but did not seal (it stopped in between) are
// sealed by the next Seal, after the sealed ones, numbered on, published once; until then no
// reader sees them.
func TestSealLeftovers(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		def := f.definition(snapshot("app", environment("dev", afterRelease)))
		f.release(f.admin, def, "1")
		stored, err := f.e.StoredEvents(ctx, 0, 500)
		if err != nil || len(stored) == 0 {
			t.Fatalf("stored %v, %v", stored, err)
		}
		last := stored[len(stored)-1].Sequence
		if int(last) != len(stored) {
			t.Fatalf("sequences %v are not 1..n", stored)
		}
		// A writer that stopped after commit: two unsealed events and an unsealed audit row.
		for i, seq := range []int64{-7, -3} {
			if err := db.Client.Event.Create().SetSequence(seq).SetType(delivery.EventReleaseAbandoned).
				SetTime(t0).SetPayload(fmt.Sprintf(`{"type":%q,"releaseId":%d}`, delivery.EventReleaseAbandoned, i+100)).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Client.AuditEvent.Create().SetSequence(-5).SetTime(t0).SetActor("root").
			SetAction("left.over").SetTargetType("user").SetTargetID("1").SetPrevHash("").SetHash("").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.e.StoredEvents(ctx, last, 500); len(got) != 0 {
			t.Fatalf("unsealed events visible: %+v", got)
		}
		before := f.bus.count(delivery.EventReleaseAbandoned)
		if err := f.e.Seal(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := f.e.StoredEvents(ctx, last, 500)
		if err != nil || len(got) != 2 || got[0].Sequence != last+1 || got[1].Sequence != last+2 ||
			got[0].ReleaseID != 100 || got[1].ReleaseID != 101 {
			t.Fatalf("sealed leftovers %+v, %v; want releases 100, 101 at %d, %d (insertion order)", got, err, last+1, last+2)
		}
		if n := f.bus.count(delivery.EventReleaseAbandoned) - before; n != 2 {
			t.Fatalf("%d leftovers published, want 2", n)
		}
		if err := f.e.Seal(ctx); err != nil {
			t.Fatal(err)
		}
		if n := f.bus.count(delivery.EventReleaseAbandoned) - before; n != 2 {
			t.Fatalf("a second seal published again (%d)", n)
		}
		rep, err := f.e.VerifyAuditChain(ctx, f.admin)
		if err != nil || !rep.OK || rep.Checked != int(rep.HeadSequence) {
			t.Fatalf("chain with the sealed leftover: %+v, %v", rep, err)
		}
		n, err := db.Client.AuditEvent.Query().Where(auditevent.SequenceLT(0)).Count(ctx)
		if err != nil || n != 0 {
			t.Fatalf("%d audit rows left unsealed (%v)", n, err)
		}
	})
}

// TestAutomaticDeploymentAuditsThePerson: a release whose environment deploys by itself, with
// automated approvals, is one audit row (the person's release.create); the deployment's own
// steps are its rows and events, not audit rows. A person's approval and cancel stay audited.
func TestAutomaticDeploymentAuditsThePerson(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		def := f.definition(snapshot("app", environment("dev", afterRelease), environment("qa", after("dev"))))
		before, err := db.Client.AuditEvent.Query().Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rel := f.release(alice, def, "1")
		rows, err := db.Client.AuditEvent.Query().Order(ent.Asc(auditevent.FieldSequence)).Offset(before).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, r := range rows {
			actions = append(actions, r.Action+" by "+r.Actor)
		}
		if strings.Join(actions, ", ") != "release.create by alice" {
			t.Fatalf("audit rows of an automatic release: %v; want only release.create by alice", actions)
		}
		f.wantState(rel.ID, "dev", "QUEUED/QUEUED")
		if f.bus.count(delivery.EventDeploymentStarted) != 1 || f.bus.count(delivery.EventJobQueued) != 1 {
			t.Fatalf("the deployment's history is in its events: %d started, %d jobs queued",
				f.bus.count(delivery.EventDeploymentStarted), f.bus.count(delivery.EventJobQueued))
		}
		d := f.deployment(rel.ID, "dev")
		if _, err := f.e.CancelDeployment(ctx, alice, d.ID, "not today"); err != nil {
			t.Fatal(err)
		}
		if n := f.audits("deployment.cancel"); n != 1 {
			t.Fatalf("a person's cancel: %d audit rows, want 1", n)
		}
		f.verifyChain()
	})
}

// TestWritersJoinASealWaitingForItsLock: on PostgreSQL a writer seals after its commit, under
// the seal lock that every replica's sealer takes. While another replica's pass holds it, this
// replica's pass waits before reading anything, and a writer that commits meanwhile is served
// by that pass (its read comes after the commit) rather than by one more after it. Another
// transaction holds the seal lock; two releases commit and wait for their seal; once the lock
// is free, one seal transaction seals both.
func TestWritersJoinASealWaitingForItsLock(t *testing.T) {
	db := openPostgresDB(t)
	f := newFixture(t, db)
	alice := f.user("alice", "EDITOR")
	def := f.definition(snapshot("web", environment("dev", manualOnly)))
	ctx := context.Background()

	holder, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback() //nolint:errcheck
	if _, err := holder.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", delivery.SealLockKey); err != nil {
		t.Fatal(err)
	}
	txs0, _ := f.e.SealPasses()

	created := make(chan error, 2)
	create := func(build string) {
		_, err := f.e.CreateRelease(ctx, alice, delivery.CreateReleaseInput{
			DefinitionID: def, Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: build, BuildID: build}},
		})
		created <- err
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	go create("1")
	// The first writer's pass waits for the seal lock.
	waitFor("the first writer's seal to wait for the lock", func() bool {
		var n int
		if err := db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%pg_advisory_xact_lock%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1 && f.e.SealWaiters() == 1
	})
	go create("2")
	waitFor("the second writer to wait for its seal", func() bool { return f.e.SealWaiters() == 2 })
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-created; err != nil {
			t.Fatal(err)
		}
	}
	if txs, _ := f.e.SealPasses(); txs-txs0 != 1 {
		t.Fatalf("%d seal transactions for two writers that committed while the first waited for the lock, want 1", txs-txs0)
	}
	n, err := db.Client.AuditEvent.Query().Where(auditevent.SequenceLT(0)).Count(ctx)
	if err != nil || n != 0 {
		t.Fatalf("%d audit rows left unsealed (%v)", n, err)
	}
	rep, err := f.e.VerifyAuditChain(ctx, f.admin)
	if err != nil || !rep.OK {
		t.Fatalf("chain: %+v, %v", rep, err)
	}
}
