package hook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// ErrNotFound matches a REST reply of 404.
var ErrNotFound = errors.New("not found")

// MaxResponseBytes caps the REST replies the clients read: a Jenkins build
// with thousands of changes stays well under it.
const MaxResponseBytes = 32 << 20

// StatusError is a REST reply with a status other than 200. It matches
// ErrNotFound when the status is 404.
type StatusError struct {
	Method     string
	URL        string
	StatusCode int
	// Body is the start of the reply, for the log.
	Body string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.URL, e.StatusCode, e.Body)
}

// Is makes errors.Is(err, ErrNotFound) hold for a 404.
func (e *StatusError) Is(target error) bool {
	return target == ErrNotFound && e.StatusCode == http.StatusNotFound
}

// GetJSON sends a GET with basic auth (skipped when user and password are
// both empty) and decodes a 200 JSON reply of at most MaxResponseBytes into v.
// A nil client means http.DefaultClient.
func GetJSON(ctx context.Context, hc *http.Client, rawURL, user, password string, v any) error {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if user != "" || password != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err // already "GET url: cause"
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return &StatusError{Method: req.Method, URL: req.URL.Redacted(), StatusCode: resp.StatusCode, Body: string(snippet)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", req.URL.Redacted(), err)
	}
	if len(body) > MaxResponseBytes {
		return fmt.Errorf("reading %s: reply larger than %d bytes", req.URL.Redacted(), MaxResponseBytes)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decoding %s: %w", req.URL.Redacted(), err)
	}
	return nil
}
