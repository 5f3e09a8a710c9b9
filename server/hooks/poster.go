// Package hooks sends Cairn's outgoing hook messages over HTTP. It
// implements delivery.HookSender: the delivery package (which knows no
// HTTP) decides what to send and when, and this package how: the JSON body
// (the event with its delivery id, or {"text": …} for chat hooks), the
// X-Cairn-* headers and the HMAC signature.
package hooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/internal/netguard"
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
// (DefaultTimeout if zero or negative), with no address guard: the server
// uses NewGuardedPoster.
func NewPoster(timeout time.Duration) *Poster {
	return NewGuardedPoster(timeout, nil)
}

// NewGuardedPoster is NewPoster whose connections go through g (the same
// guard as HTTP gates): a hook may not reach the networks g refuses nor the
// server's own listen addresses. With a guard, proxies from the environment
// are not used, since they would hide the target's address from it.
func NewGuardedPoster(timeout time.Duration, g *netguard.Guard) *Poster {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	proxy := http.ProxyFromEnvironment
	if g != nil {
		dialer = g.Dialer(5 * time.Second)
		proxy = nil
	}
	tr := &http.Transport{
		Proxy:                 proxy,
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

// body is the JSON a (non-chat) hook receives: the event with the delivery
// id, which stays the same across retries.
type body struct {
	DeliveryID string `json:"deliveryId"`
	delivery.Event
}

// Send delivers one hook message: a POST of its JSON body with the
// X-Cairn-Event and X-Cairn-Delivery headers, signed in
// X-Cairn-Signature-256 when the hook has a secret. Any 2xx answer is
// delivered.
func (p *Poster) Send(ctx context.Context, m delivery.HookMessage) (bool, int, error) {
	var b []byte
	var err error
	if m.Chat {
		b, err = json.Marshal(map[string]string{"text": m.Summary})
	} else {
		b, err = json.Marshal(body{DeliveryID: m.DeliveryID, Event: m.Event})
	}
	if err != nil {
		return false, 0, fmt.Errorf("encoding hook body: %w", err)
	}
	headers := map[string]string{
		"Content-Type":     "application/json",
		"X-Cairn-Event":    m.Event.Type,
		"X-Cairn-Delivery": m.DeliveryID,
	}
	if m.RedeliveryOf != "" {
		headers["X-Cairn-Redelivery-Of"] = m.RedeliveryOf
	}
	if m.Secret != "" {
		headers["X-Cairn-Signature-256"] = Sign(m.Secret, b)
	}
	code, err := p.Post(ctx, m.URL, headers, b)
	return err == nil && code >= 200 && code < 300, code, err
}

// Sign returns the X-Cairn-Signature-256 value of a body: "sha256=" and the
// hex HMAC-SHA256 of the body keyed with the hook secret. Receivers
// recompute it and compare in constant time.
func Sign(secret string, b []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(b)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
