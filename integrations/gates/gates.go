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
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/cairnhq/cairn/delivery"
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

// DefaultDeniedNetworks are the addresses a gate may not call unless the
// server is configured otherwise: link-local (the cloud metadata services
// at 169.254.169.254 and fd00:ec2::254 hand out credentials), "this
// network" and multicast. Loopback and private networks stay allowed: a
// gate's usual target is an internal health or monitoring endpoint.
var DefaultDeniedNetworks = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("fd00:ec2::254/128"), netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("224.0.0.0/4"), netip.MustParsePrefix("ff00::/8"),
}

// ErrDeniedAddress is what a call to a denied network fails with.
var ErrDeniedAddress = errors.New("gates may not call this address (see --gate-denied-networks)")

// Guarded returns a transport that refuses to connect to an address in
// denied, checked on the address actually dialled (after DNS, so a name
// that resolves into a denied network is refused too, whatever it resolved
// to when the gate was saved). Proxies from the environment are not used:
// they would hide the target's address.
func Guarded(denied []netip.Prefix) http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrDeniedAddress, address)
			}
			ip := ap.Addr().Unmap()
			for _, p := range denied {
				if p.Contains(ip) {
					return fmt.Errorf("%w: %s is in %s", ErrDeniedAddress, ip, p)
				}
			}
			return nil
		}}
	t.DialContext = d.DialContext
	return t
}

// ParseNetworks parses a comma-separated list of CIDR prefixes (or single
// addresses); "none" or "" is no prefix.
func ParseNetworks(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" || f == "none" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or CIDR prefix", f)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR prefix", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
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
