package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/cairnhq/cairn/delivery"
)

// Dashboard sessions travel in two cookies. SessionCookie carries the
// session's secret: HttpOnly (scripts cannot read it), SameSite=Lax (not sent
// on cross-site subrequests, websocket handshakes or form posts; sent when a
// person follows a link, so links in approval emails open signed in).
// CSRFCookie carries the CSRF token, readable by the dashboard's script, which
// echoes it in the CSRFHeader of every request that changes something: a page
// of another site can make the browser send the cookies but can neither read
// the token nor set the header. The token is derived from the session secret
// (CSRFToken), so a cookie planted by a sibling domain does not pass.
const (
	SessionCookie = "cairn_session"
	CSRFCookie    = "cairn_csrf"
	CSRFHeader    = "X-CSRF-Token"
	// sessionScheme marks a session secret as a credential string, the
	// form the guard of long-lived connections re-checks.
	sessionScheme = "Session "
)

// Sessions resolves a dashboard session's secret to the signed-in user.
type Sessions interface {
	PrincipalForSession(ctx context.Context, secret string) (delivery.Actor, error)
}

// CSRFToken returns the CSRF token of the session whose secret is given.
func CSRFToken(secret string) string {
	sum := sha256.Sum256([]byte("cairn csrf\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// SessionCredential returns the credential string (as Authenticate takes it)
// of a session secret.
func SessionCredential(secret string) string { return sessionScheme + secret }

// ValidCSRF reports whether r carries the CSRF token of the session secret
// in its CSRFHeader (constant-time comparison).
func ValidCSRF(r *http.Request, secret string) bool {
	got := r.Header.Get(CSRFHeader)
	want := CSRFToken(secret)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// SessionSecret returns the session secret of r's cookie, if any.
func SessionSecret(r *http.Request) string {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// SetSessionCookies sets the session and CSRF cookies on w. secure marks
// them Secure (the server is reached over HTTPS).
func SetSessionCookies(w http.ResponseWriter, secret string, expires time.Time, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: secret, Path: "/", Expires: expires,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	})
	http.SetCookie(w, &http.Cookie{
		Name: CSRFCookie, Value: CSRFToken(secret), Path: "/", Expires: expires,
		Secure: secure, SameSite: http.SameSiteLaxMode,
	})
}

// ClearSessionCookies removes both cookies.
func ClearSessionCookies(w http.ResponseWriter, secure bool) {
	for _, name := range []string{SessionCookie, CSRFCookie} {
		http.SetCookie(w, &http.Cookie{
			Name: name, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0),
			HttpOnly: name == SessionCookie, Secure: secure, SameSite: http.SameSiteLaxMode,
		})
	}
}

// safeMethod reports whether a request with method m changes nothing by
// HTTP's rules (and by Cairn's: GET /graphql runs queries only).
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func sessionFromCredential(creds string) (string, bool) {
	if len(creds) > len(sessionScheme) && strings.EqualFold(creds[:len(sessionScheme)], sessionScheme) {
		return strings.TrimSpace(creds[len(sessionScheme):]), true
	}
	return "", false
}

type credentialKey struct{}

// withCredential records the credential string a request authenticated
// with, for the guard that re-checks long-lived connections.
func withCredential(ctx context.Context, creds string) context.Context {
	return context.WithValue(ctx, credentialKey{}, creds)
}

// CredentialFrom returns the credential string the request of ctx was
// authenticated with ("Bearer …" or a session credential), if any.
func CredentialFrom(ctx context.Context) string {
	s, _ := ctx.Value(credentialKey{}).(string)
	return s
}
