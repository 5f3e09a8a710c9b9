package server_test

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/cairnhq/cairn/server"
)

// TestClientAddr: forwarding headers count only from trusted proxies, and
// are read from the right, skipping trusted hops; a spoofed left-most entry
// is not believed.
func TestClientAddr(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tt := range []struct {
		name, peer, xff, fwd string
		trusted              []netip.Prefix
		want                 string
	}{
		{"no proxies configured", "10.1.1.1:5000", "203.0.113.7", "", nil, "10.1.1.1"},
		{"untrusted peer sends a header", "198.51.100.9:5000", "203.0.113.7", "", trusted, "198.51.100.9"},
		{"trusted proxy", "10.1.1.1:5000", "203.0.113.7", "", trusted, "203.0.113.7"},
		{"spoofed left-most entry", "10.1.1.1:5000", "1.2.3.4, 203.0.113.7", "", trusted, "203.0.113.7"},
		{"two trusted hops", "10.1.1.1:5000", "203.0.113.7, 10.2.2.2", "", trusted, "203.0.113.7"},
		{"Forwarded", "10.1.1.1:5000", "", `for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"`, trusted, "2001:db8::1"},
		{"garbage", "10.1.1.1:5000", "not-an-ip", "", trusted, "10.1.1.1"},
		{"only proxies", "[fd00::1]:443", "10.3.3.3", "", trusted, "fd00::1"},
	} {
		r := httptest.NewRequest("POST", "/auth/login", nil)
		r.RemoteAddr = tt.peer
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if tt.fwd != "" {
			r.Header.Set("Forwarded", tt.fwd)
		}
		if got := server.ClientAddr(r, tt.trusted); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
