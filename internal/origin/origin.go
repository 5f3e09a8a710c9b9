// Package origin decides where a service connection's credentials may go: only to URLs of the
// connection's own origin (scheme, host and port). The server uses it before it hands an agent
// credentials with a download URL, and before its CI clients send them; the agent uses it again
// before every request that carries them, so that neither side alone has to be right. It
// imports only the standard library, so that the engine and the agent may both use it.
package origin

import (
	"net"
	"net/url"
	"strings"
)

// Of returns the origin of an absolute http(s) URL as "scheme://host:port", with the scheme
// and host in lower case and the default port (80, 443) made explicit. ok is false for
// anything else: another scheme, no host, user-info, or a URL that does not parse.
func Of(raw string) (o string, ok bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	switch scheme {
	case "http":
		if port == "" {
			port = "80"
		}
	case "https":
		if port == "" {
			port = "443"
		}
	default:
		return "", false
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "" {
		return "", false
	}
	return scheme + "://" + net.JoinHostPort(host, port), true
}

// Same reports whether target is an http(s) URL of base's origin: the same scheme, host and
// port. A target or base that is not an absolute http(s) URL is never the same.
func Same(target, base string) bool {
	t, ok := Of(target)
	if !ok {
		return false
	}
	b, ok := Of(base)
	return ok && t == b
}

// HTTP reports whether raw is an absolute http or https URL with a host: the only links Cairn
// stores from outside (build pages, artifacts, commits, work items).
func HTTP(raw string) bool {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.Opaque != "" {
		return false
	}
	s := strings.ToLower(u.Scheme)
	return s == "http" || s == "https"
}
