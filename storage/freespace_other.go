//go:build !unix

package storage

import "errors"

// freeBytes is not known on this system: the write probe alone decides.
func freeBytes(string) (uint64, error) { return 0, errors.ErrUnsupported }
