package hook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/cairnhq/cairn/internal/origin"
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
		// Pre-emptive: Jenkins and Azure DevOps answer an anonymous
		// request with 403 or a sign-in page rather than a challenge.
		req.SetBasicAuth(user, password)
		hc = homeOnly(hc, rawURL)
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

// homeOnly returns a copy of hc that follows no redirect out of home's
// origin (scheme, host and port): a request that carries a connection's
// credentials never takes them elsewhere, whatever the server answers.
func homeOnly(hc *http.Client, home string) *http.Client {
	c := *hc
	next := hc.CheckRedirect
	c.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if !origin.Same(r.URL.String(), home) {
			return fmt.Errorf("redirect to %s refused: not the service connection's origin", r.URL.Redacted())
		}
		if next != nil {
			return next(r, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &c
}
