// Package hooks sends Cairn's outgoing hook requests over HTTP. It
// implements delivery.HTTPPoster, so the delivery package (which knows no
// HTTP) decides what to send and when, and this package only how.
package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Defaults of a Poster.
const (
	// DefaultTimeout bounds one request, connection to last response byte;
	// it is far below delivery.HookLease, so a claim never outlives its POST.
	DefaultTimeout = 15 * time.Second
	// maxRedirects bounds same-host redirects.
	maxRedirects = 3
	// maxResponseBytes is how much of a response body is read (and
	// discarded) so the connection can be reused; the rest is not read.
	maxResponseBytes = 64 << 10
	userAgent        = "Cairn-Hooks/1"
)

// Poster POSTs hook bodies with net/http. Redirects are followed only to the
// same host (at most 3); a redirect elsewhere is returned as the 3xx status,
// which the engine records as a failed attempt. Response bodies are
// discarded. The zero value is not usable; call NewPoster.
type Poster struct {
	client *http.Client
}

// NewPoster returns a Poster whose requests time out after timeout
// (DefaultTimeout if zero or negative).
func NewPoster(timeout time.Duration) *Poster {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          32,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &Poster{client: &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: sameHostRedirects,
	}}
}

// sameHostRedirects follows a redirect only to the original scheme and host,
// so a receiver cannot bounce signed event data to a third party or downgrade
// https to http.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	if req.URL.Host != first.Host || req.URL.Scheme != first.Scheme {
		return http.ErrUseLastResponse
	}
	if len(via) > maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return nil
}

// Post sends body to rawURL with headers and returns the response status.
// err is set when no usable response came (refused, timeout, too many
// redirects); it never repeats the URL, which may hold a credential (Slack).
func (p *Poster) Post(ctx context.Context, rawURL string, headers map[string]string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("invalid hook URL")
	}
	req.Header.Set("User-Agent", userAgent)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	return resp.StatusCode, nil
}
