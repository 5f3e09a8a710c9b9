//go:build unix

package storage

import (
	"fmt"
	"syscall"
)

// freeBytes returns the bytes an unprivileged writer may still use on the filesystem of dir.
func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("reading the free space of %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), nil //nolint:unconvert // Bsize is int64 on Linux, uint32 on Darwin
}
