package hook

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
)

// MaxBodyBytes is the cap on webhook bodies: 1 MiB. A Jenkins notification
// carries at most a log tail and an artifact list, a service hook a build
// resource; anything larger is a mistake or an attack.
const MaxBodyBytes = 1 << 20

// TooLargeError is returned by ReadBody when the body exceeds its limit. It
// matches ErrTooLarge (HTTP 413).
type TooLargeError struct {
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("payload too large: more than %d bytes", e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) hold.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// ReadBody reads a request body of at most limit bytes. A declared
// Content-Length above the limit is refused before reading; an undeclared or
// understated one is caught by reading one byte past the limit. The body is
// not closed (the HTTP server does that).
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, fmt.Errorf("%w: reading webhook body: %v", ErrSlowBody, err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading webhook body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	return b, nil
}
