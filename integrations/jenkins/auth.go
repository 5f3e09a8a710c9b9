package jenkins

import (
	"net/http"
	"net/url"

	"github.com/cairnhq/cairn/integrations/hook"
)

// Authenticate checks a Notification plugin request against a service
// connection's webhook credentials: Basic auth with username and password,
// or a "token" query parameter equal to token. An empty password disables
// Basic auth and an empty token disables the query secret; with both empty
// nothing is accepted.
//
// The plugin sends the user-info of its endpoint URL
// ("https://cairn:p%40ss@host/webhooks/jenkins") as Basic auth without
// percent-decoding it, so the received user name and password are compared
// both as received and percent-decoded: "p%40ss" and "p@ss" are both accepted
// for the password "p@ss". Every comparison runs in constant time
// (hook.Equal), and all of them run whatever the outcome of the others.
func Authenticate(r *http.Request, username, password, token string) bool {
	tokenOK := false
	if token != "" {
		tokenOK = hook.EqualSecret(r.URL.Query().Get("token"), token)
	}
	basicOK := false
	if password != "" {
		if u, p, ok := r.BasicAuth(); ok {
			userOK := matchesMaybeEncoded(u, username, hook.Equal)
			passOK := matchesMaybeEncoded(p, password, hook.EqualSecret)
			basicOK = userOK && passOK
		}
	}
	return tokenOK || basicOK
}

// matchesMaybeEncoded compares got, and got percent-decoded, with want.
func matchesMaybeEncoded(got, want string, equal func(got, want string) bool) bool {
	raw := equal(got, want)
	decoded := false
	if d, err := url.PathUnescape(got); err == nil {
		decoded = equal(d, want)
	}
	return raw || decoded
}
