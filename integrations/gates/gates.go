// Package gates makes the HTTP calls of deployment gates for the release
// engine (delivery.GateCaller): delivery decides what to call and judges the
// answer; this package only speaks HTTP, outside every database transaction.
package gates

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/internal/netguard"
)

// Caller is a delivery.GateCaller over an http.Client. It does not follow
// redirects (a gate judges the status it gets: a 302 to a login page is not
// a green health check) and reads at most delivery.MaxGateResponseBytes of
// a response body.
type Caller struct {
	client *http.Client
	// UserAgent is sent on every call.
	UserAgent string
}

// ErrDeniedAddress is what a call to a refused address fails with.
var ErrDeniedAddress = netguard.ErrDenied

// Guarded returns a transport that dials through g (see netguard.Guard):
// the address actually dialled is checked, after DNS, so a name that
// resolves into a denied network is refused whatever it resolved to when
// the gate was saved. A nil g refuses nothing.
func Guarded(g *netguard.Guard) http.RoundTripper {
	return g.Transport(30 * time.Second)
}

// New returns a Caller over transport (nil: http.DefaultTransport).
func New(transport http.RoundTripper) *Caller {
	if transport == nil {
		transport = http.DefaultTransport
	}
	return &Caller{
		client: &http.Client{
			Transport: transport,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		UserAgent: "cairn-gates/1",
	}
}

// errTooLarge reports a body over the cap.
var errTooLarge = fmt.Errorf("the response body is larger than %d bytes", delivery.MaxGateResponseBytes)

// CallGate makes one call within req.Timeout.
func (c *Caller) CallGate(ctx context.Context, req delivery.GateRequest) (delivery.GateResponse, error) {
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = delivery.DefaultGateCallSeconds * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if req.Body != "" && req.Method != http.MethodGet && req.Method != http.MethodHead {
		body = strings.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	if err != nil {
		return delivery.GateResponse{}, fmt.Errorf("building the request: %w", err)
	}
	if hr.URL.Scheme != "http" && hr.URL.Scheme != "https" {
		return delivery.GateResponse{}, fmt.Errorf("scheme %q is not http or https", hr.URL.Scheme)
	}
	hr.Header.Set("User-Agent", c.UserAgent)
	for k, v := range req.Headers {
		hr.Header.Set(k, v)
	}
	resp, err := c.client.Do(hr)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return delivery.GateResponse{}, fmt.Errorf("no answer within %s", timeout)
		}
		return delivery.GateResponse{}, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(resp.Body, delivery.MaxGateResponseBytes+1))
	if err != nil {
		return delivery.GateResponse{}, fmt.Errorf("reading the response (status %d): %w", resp.StatusCode, err)
	}
	if n > delivery.MaxGateResponseBytes {
		return delivery.GateResponse{}, errTooLarge
	}
	headers := make(map[string]string, len(resp.Header))
	for k, vs := range resp.Header {
		if len(vs) > 0 {
			headers[strings.ToLower(k)] = vs[0]
		}
	}
	return delivery.GateResponse{Status: resp.StatusCode, Headers: headers, Body: buf.Bytes()}, nil
}
