package storage_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestProbeWriteOnAFullDisk: SQLite's data directory on a small real filesystem (tmpfs), filled.
// A transaction larger than what is left fails, and leaves what it wrote of the WAL file behind;
// the probe's one row then fits in that space without the filesystem giving any more, so a probe
// by writing alone passed while every release failed (/readyz said ready on a full disk, one run
// in three of the server's full-disk test). The probe must fail while the disk is full, with an
// error that says so (ENOSPC, which the engine reports as UNAVAILABLE: the disk is full), and
// pass once space is freed.
func TestProbeWriteOnAFullDisk(t *testing.T) {
	dir := storagetest.MountTmpfs(t, "8m")
	ctx := context.Background()
	db, err := storage.Open(ctx, "", dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.ProbeWrite(ctx); err != nil {
		t.Fatalf("probe with space left: %v", err)
	}
	if _, err := db.SQL.ExecContext(ctx, "CREATE TABLE big (body TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}

	filler := storagetest.Fill(t, dir)
	// Free a little (less than a large transaction needs), so that the failing transaction
	// writes part of itself into the WAL file first.
	if err := os.Truncate(filler, mustSize(t, filler)-256<<10); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL.ExecContext(ctx, "INSERT INTO big (body) SELECT hex(randomblob(4096)) FROM generate_series(1, 400)"); err == nil {
		t.Fatal("a 3 MB insert into a disk with 256 KiB free succeeded")
	}

	err = db.ProbeWrite(ctx)
	if err == nil || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "bytes free") {
		t.Fatalf("probe on a full disk: %v; want the disk reported full (ENOSPC)", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := db.ProbeWrite(ctx); err != nil {
		t.Fatalf("probe after space was freed: %v", err)
	}
}

func mustSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
