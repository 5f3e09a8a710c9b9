package netguard_test

import (
	"errors"
	"net"
	"testing"

	"github.com/cairnhq/cairn/internal/netguard"
)

// TestCheck: loopback, link-local and metadata addresses are refused by
// default; an allowed network lifts the denial; the server's own listen
// addresses stay refused whatever is allowed, including every local address
// at the port of a listener on an unspecified address.
func TestCheck(t *testing.T) {
	t.Parallel()
	g := netguard.New(netguard.DefaultDenied, nil)
	for _, a := range []string{"127.0.0.1:5432", "[::1]:80", "169.254.169.254:80", "[fd00:ec2::254]:80", "0.0.0.0:80", "[::ffff:127.0.0.1]:80"} {
		if err := g.Check(a); !errors.Is(err, netguard.ErrDenied) {
			t.Errorf("%s by default: %v", a, err)
		}
	}
	for _, a := range []string{"10.1.2.3:443", "192.168.0.10:8080", "93.184.216.34:443"} {
		if err := g.Check(a); err != nil {
			t.Errorf("%s by default: %v", a, err)
		}
	}
	loopback, err := netguard.ParseNetworks("127.0.0.0/8,::1")
	if err != nil {
		t.Fatal(err)
	}
	dev := netguard.New(netguard.DefaultDenied, loopback)
	if err := dev.Check("127.0.0.1:5432"); err != nil {
		t.Errorf("allowed loopback: %v", err)
	}
	dev.AddSelf(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080})
	if err := dev.Check("127.0.0.1:8080"); !errors.Is(err, netguard.ErrDenied) {
		t.Errorf("the server's own address with loopback allowed: %v", err)
	}
	if err := dev.Check("127.0.0.1:8081"); err != nil {
		t.Errorf("another loopback port: %v", err)
	}
	all := netguard.New(nil, nil)
	all.AddSelf(&net.TCPAddr{IP: net.IPv6unspecified, Port: 9090})
	for _, a := range []string{"127.0.0.1:9090", "[::1]:9090"} {
		if err := all.Check(a); !errors.Is(err, netguard.ErrDenied) {
			t.Errorf("%s with the server on [::]:9090: %v", a, err)
		}
	}
	if err := all.Check("127.0.0.1:9091"); err != nil {
		t.Errorf("nothing denied: %v", err)
	}
	var none *netguard.Guard
	if err := none.Check("127.0.0.1:1"); err != nil {
		t.Errorf("a nil guard: %v", err)
	}
}

func TestParseNetworks(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"10.0.0.0/33", "example.com", "1.2.3"} {
		if _, err := netguard.ParseNetworks(bad); err == nil {
			t.Errorf("ParseNetworks(%q) accepted it", bad)
		}
	}
	if p, err := netguard.ParseNetworks("none"); err != nil || len(p) != 0 {
		t.Errorf("none: %v %v", p, err)
	}
	if p, err := netguard.ParseNetworks("10.0.0.1, 10.1.0.0/16"); err != nil || len(p) != 2 || p[0].Bits() != 32 {
		t.Errorf("two: %v %v", p, err)
	}
}
