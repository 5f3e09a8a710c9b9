package storage

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestProbeWriteOnAFullDisk: SQLite's data directory on a small real filesystem (tmpfs), filled.
// A transaction larger than what is left fails, and leaves what it wrote of the WAL file behind;
// the probe's one row then fits in that space without the filesystem giving any more, so a probe
// by writing alone passed while every release failed (/readyz said ready on a full disk, one run
// in three of the server's full-disk test). The probe must fail while the disk is full, with an
// error that says so (ENOSPC, which the engine reports as UNAVAILABLE: the disk is full), and
// pass once space is freed.
func TestProbeWriteOnAFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("filling a real filesystem needs root (mount -t tmpfs)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	ctx := context.Background()
	db, err := Open(ctx, "", dir, 0)
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

	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{64 << 10, 4 << 10, 512, 1} {
		buf := make([]byte, size)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("filling %s: %v", dir, err)
				}
				break
			}
		}
	}
	f.Close()
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
