package gates_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/integrations/gates"
	"github.com/cairnhq/cairn/internal/netguard"
)

func TestCallGate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/big":
			w.Write([]byte(strings.Repeat("x", delivery.MaxGateResponseBytes+1)))
		case "/slow":
			<-r.Context().Done() // only the call's own timeout ends this request
		case "/echo":
			w.Header().Set("X-Seen", r.Header.Get("X-Token")+"|"+r.Method)
			b := make([]byte, 100)
			n, _ := r.Body.Read(b)
			w.Write(b[:n])
		default:
			w.Write([]byte(`{"ok":true}`))
		}
	}))
	defer srv.Close()
	c := gates.New(nil)
	ctx := t.Context()

	resp, err := c.CallGate(ctx, delivery.GateRequest{Method: "POST", URL: srv.URL + "/echo", Body: "hello", Headers: map[string]string{"X-Token": "t"}})
	if err != nil || resp.Status != 200 || string(resp.Body) != "hello" || resp.Headers["x-seen"] != "t|POST" {
		t.Fatalf("echo: %+v %v", resp, err)
	}
	resp, err = c.CallGate(ctx, delivery.GateRequest{Method: "GET", URL: srv.URL + "/redirect"})
	if err != nil || resp.Status != http.StatusFound {
		t.Fatalf("a redirect was followed or failed: %+v %v", resp, err)
	}
	if _, err := c.CallGate(ctx, delivery.GateRequest{Method: "GET", URL: srv.URL + "/big"}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversized body: %v", err)
	}
	// /slow never answers: the call returns only if its timeout is applied (a missing one hangs
	// the test instead of passing late).
	if _, err := c.CallGate(ctx, delivery.GateRequest{Method: "GET", URL: srv.URL + "/slow", Timeout: 100 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("slow endpoint: %v", err)
	}
	for _, u := range []string{"file:///etc/passwd", "gopher://x", "http://[::1", "://nothing"} {
		if _, err := c.CallGate(ctx, delivery.GateRequest{Method: "GET", URL: u}); err == nil {
			t.Errorf("%q: no error", u)
		}
	}
	if _, err := c.CallGate(ctx, delivery.GateRequest{Method: "GET", URL: srv.URL, Headers: map[string]string{"X": "a\r\nB: c"}}); err == nil {
		t.Error("a header with a line break was sent")
	}
}

// TestGuardedRefusesDeniedNetworks: the guarded transport checks the address
// it dials, so a name resolving into a denied network is refused as well;
// loopback and the cloud metadata address are refused by default, and
// loopback is reached only when allowed explicitly (as tests and --dev do).
func TestGuardedRefusesDeniedNetworks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	ctx := t.Context()
	call := func(c *gates.Caller, url string) error {
		_, err := c.CallGate(ctx, delivery.GateRequest{Method: "GET", URL: url, Timeout: 2 * time.Second})
		return err
	}
	byDefault := gates.New(gates.Guarded(netguard.New(netguard.DefaultDenied, nil)))
	for _, url := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), "http://169.254.169.254/latest/meta-data/"} {
		if err := call(byDefault, url); !errors.Is(err, gates.ErrDeniedAddress) {
			t.Errorf("%s by default: %v", url, err)
		}
	}
	loopback, err := netguard.ParseNetworks("127.0.0.0/8, ::1")
	if err != nil {
		t.Fatal(err)
	}
	if err := call(gates.New(gates.Guarded(netguard.New(netguard.DefaultDenied, loopback))), srv.URL); err != nil {
		t.Fatalf("loopback allowed explicitly: %v", err)
	}
}
