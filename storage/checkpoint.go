package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync"
	"time"
)

// SQLite's WAL is copied back into the database file by a checkpoint. SQLite runs one itself in
// the commit that takes the WAL past wal_autocheckpoint pages (1,000 by default), with its two
// fsyncs, inside whatever write crossed the line: a job's release or claim waited for it now and
// then, which was the longest stage of the dispatch tail (BENCHMARKS.md, "Dispatch tail
// explained"). Here a checkpointer copies the WAL back off the writers' path, a moment after
// writes (PASSIVE: it never waits for, nor blocks, readers and writers), and SQLite's own
// checkpoint stays only as a backstop for a WAL that grew beyond walBackstopPages.
const (
	// checkpointDelay is how long after a write the checkpointer runs: writes of the same
	// moment share one checkpoint, and an idle database wakes nothing.
	checkpointDelay = 200 * time.Millisecond
	// walBackstopPages is SQLite's own automatic checkpoint (wal_autocheckpoint), should the
	// checkpointer fall behind: 16,000 pages of 4 KiB, 64 MiB.
	walBackstopPages = 16000
)

// checkpointer runs PRAGMA wal_checkpoint(PASSIVE) checkpointDelay after writes.
type checkpointer struct {
	db   *sql.DB
	wake chan struct{}
	stop context.CancelFunc
	done chan struct{}
	once sync.Once
}

func newCheckpointer(db *sql.DB) *checkpointer {
	ctx, stop := context.WithCancel(context.Background())
	c := &checkpointer{db: db, wake: make(chan struct{}, 1), stop: stop, done: make(chan struct{})}
	go c.run(ctx)
	return c
}

// wrote tells the checkpointer the database was written.
func (c *checkpointer) wrote() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTimer(checkpointDelay)
	t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		t.Reset(checkpointDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		// An error (the database closing, a disk error) is left to the writers to meet; the
		// backstop checkpoints if this one keeps failing.
		_, _ = c.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
	}
}

// close stops the checkpointer and waits for a checkpoint in flight.
func (c *checkpointer) close() {
	c.once.Do(func() {
		c.stop()
		<-c.done
	})
}

// notifyingTx is a transaction that tells the checkpointer when it committed.
type notifyingTx struct {
	*sql.Tx
	cp *checkpointer
}

var _ driver.Tx = notifyingTx{}

func (t notifyingTx) Commit() error {
	err := t.Tx.Commit()
	if err == nil {
		t.cp.wrote()
	}
	return err
}
