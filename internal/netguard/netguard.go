// Package netguard is the one address guard of the server's outgoing calls
// to addresses that users choose (HTTP gates, outgoing hooks): a dialer that
// refuses, on the address actually dialled (after DNS), the networks an
// operator denies and the server's own listen addresses. Checking the
// dialled address rather than the URL means a name that resolves (or is
// re-pointed) into a denied network is refused too.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultDenied are the networks refused unless the server is configured
// otherwise: loopback (the database port, the server's own endpoints, local
// admin interfaces), link-local (the cloud metadata services at
// 169.254.169.254 and fd00:ec2::254 hand out credentials), "this network"
// and multicast. Private networks stay allowed: a gate's usual target is an
// internal health or monitoring endpoint.
var DefaultDenied = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("fd00:ec2::254/128"), netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("224.0.0.0/4"), netip.MustParsePrefix("ff00::/8"),
}

// ErrDenied is what a call to a refused address fails with.
var ErrDenied = errors.New("outgoing calls may not reach this address (see --outbound-denied-networks and --outbound-allowed-networks)")

// Guard decides which addresses outgoing calls may reach. An address is
// refused when it is one of the server's own listen addresses (always), or
// when it is in a denied network and in no allowed one. The zero value and
// a nil *Guard refuse nothing. It is safe for concurrent use.
type Guard struct {
	denied, allowed []netip.Prefix

	mu sync.RWMutex
	// self are the server's listen addresses; an unspecified address
	// (0.0.0.0, ::) stands for every local address at that port.
	self []netip.AddrPort
	// local are this host's interface addresses, read when a listener on an
	// unspecified address is added.
	local map[netip.Addr]bool
}

// New returns a Guard refusing denied except allowed.
func New(denied, allowed []netip.Prefix) *Guard {
	return &Guard{denied: denied, allowed: allowed}
}

// AddSelf records addr (a listener's address) as one of the server's own:
// no outgoing call may reach it, whatever the allowed networks say, so a
// gate or hook cannot call the server's own API or metrics from inside.
func (g *Guard) AddSelf(addr net.Addr) {
	if g == nil || addr == nil {
		return
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	g.mu.Lock()
	defer g.mu.Unlock()
	g.self = append(g.self, ap)
	if ap.Addr().IsUnspecified() && g.local == nil {
		g.local = map[netip.Addr]bool{}
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if p, err := netip.ParsePrefix(a.String()); err == nil {
					g.local[p.Addr().Unmap()] = true
				}
			}
		}
	}
}

// Check returns nil if address ("ip:port", as dialled) may be reached, or
// an error wrapping ErrDenied that says why not.
func (g *Guard) Check(address string) error {
	if g == nil {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrDenied, address)
	}
	ip := ap.Addr().Unmap()
	g.mu.RLock()
	for _, s := range g.self {
		if s.Port() != ap.Port() {
			continue
		}
		if s.Addr() == ip || (s.Addr().IsUnspecified() && (ip.IsLoopback() || ip.IsUnspecified() || g.local[ip])) {
			g.mu.RUnlock()
			return fmt.Errorf("%w: %s is this server's own listen address", ErrDenied, netip.AddrPortFrom(ip, ap.Port()))
		}
	}
	g.mu.RUnlock()
	for _, p := range g.allowed {
		if p.Contains(ip) {
			return nil
		}
	}
	for _, p := range g.denied {
		if p.Contains(ip) {
			return fmt.Errorf("%w: %s is in %s", ErrDenied, ip, p)
		}
	}
	return nil
}

// Dialer returns a dialer that runs Check on every address it connects to.
func (g *Guard) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error { return g.Check(address) }}
}

// Transport returns an HTTP transport that dials through the guard.
// Proxies from the environment are not used: they would hide the target's
// address from the guard.
func (g *Guard) Transport(dialTimeout time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = g.Dialer(dialTimeout).DialContext
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
