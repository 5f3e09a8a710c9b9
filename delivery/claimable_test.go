package delivery_test

import (
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestJobClaimableBeforeTheSeal: on PostgreSQL a queued job is announced to dispatchers by a
// transient job.claimable, published as its transaction commits and before the sealer publishes
// the job's sealed job.queued; on SQLite, whose writer seals before committing, only job.queued.
func TestJobClaimableBeforeTheSeal(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		def := f.definition(snapshot("web", environment("dev", afterRelease)))
		rel := f.release(alice, def, "100")
		j := f.job(f.deployment(rel.ID, "dev").ID)
		f.bus.mu.Lock()
		events := append([]delivery.Event(nil), f.bus.events...)
		f.bus.mu.Unlock()
		claimable, queued := -1, -1
		for i, ev := range events {
			switch {
			case ev.Type == delivery.EventJobClaimable && ev.JobID == j.ID:
				if claimable >= 0 {
					t.Fatalf("job.claimable published twice for job %d", j.ID)
				}
				claimable = i
				if ev.Sequence != 0 {
					t.Errorf("job.claimable has sequence %d, want 0 (transient)", ev.Sequence)
				}
			case ev.Type == delivery.EventJobQueued && ev.JobID == j.ID:
				queued = i
				if ev.Sequence <= 0 {
					t.Errorf("job.queued has sequence %d, want it sealed", ev.Sequence)
				}
			}
		}
		if queued < 0 {
			t.Fatalf("no job.queued for job %d in %d events", j.ID, len(events))
		}
		switch db.Dialect {
		case delivery.Postgres:
			if claimable < 0 || claimable > queued {
				t.Fatalf("job.claimable at %d, job.queued at %d: want job.claimable first", claimable, queued)
			}
		default:
			if claimable >= 0 {
				t.Fatalf("job.claimable published on SQLite")
			}
		}
	})
}
