package hook

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/cairnhq/cairn/delivery"
)

// The error kinds of the integrations. The parsers return typed errors that
// wrap one of these, and StatusCode maps them to HTTP statuses in one place.
var (
	// ErrMalformed: the body is not the JSON it should be (truncated, wrong
	// types).
	ErrMalformed = errors.New("malformed payload")
	// ErrInvalid: the JSON is well formed but breaks the payload's contract
	// (a required field missing, an unknown phase, a field too long).
	ErrInvalid = errors.New("invalid payload")
	// ErrIgnored: a valid payload that is not for us (another event type, a
	// build that has not completed). The sender must not retry it.
	ErrIgnored = errors.New("ignored")
	// ErrTooLarge: the body exceeds the cap.
	ErrTooLarge = errors.New("payload too large")
	// ErrSlowBody: the body did not arrive within the server's body read
	// deadline.
	ErrSlowBody = errors.New("request body not received in time")
	// ErrUnauthorized: the request's credentials do not match.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrUnknownConnection: the webhook names a service connection that does not
	// exist (or is of another kind).
	ErrUnknownConnection = errors.New("unknown connection")
	// ErrUnavailable: a call back to the CI server that the delivery needs
	// failed; the sender should retry.
	ErrUnavailable = errors.New("ci server unavailable")
	// ErrUnconfirmed: the CI server, asked with the connection's own URL and
	// credentials, does not confirm the build the payload describes (no such
	// build, still running). Nothing is released from it.
	ErrUnconfirmed = errors.New("build not confirmed by the ci server")
)

// Unconfirmed returns an error matching ErrUnconfirmed with a reason.
func Unconfirmed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnconfirmed, fmt.Sprintf(format, args...))
}

// IgnoredError says why a valid payload is ignored. It matches ErrIgnored.
type IgnoredError struct {
	Reason string
}

func (e *IgnoredError) Error() string { return "ignored: " + e.Reason }

// Is makes errors.Is(err, ErrIgnored) hold.
func (e *IgnoredError) Is(target error) bool { return target == ErrIgnored }

// Ignored returns an *IgnoredError with a formatted reason.
func Ignored(format string, args ...any) error {
	return &IgnoredError{Reason: fmt.Sprintf(format, args...)}
}

// StatusCode maps an error of the integrations to the HTTP status a webhook
// answers with. Ignored payloads get 202 so that CI servers do not retry
// them; storage failures (delivery.CodeUnavailable) are 503, with Retry-After;
// errors of no known kind are 500.
func StatusCode(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrIgnored):
		return http.StatusAccepted
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrSlowBody):
		return http.StatusRequestTimeout
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrUnknownConnection):
		return http.StatusNotFound
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrUnconfirmed):
		return http.StatusUnprocessableEntity
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case delivery.CodeOf(err) == delivery.CodeUnavailable:
		return http.StatusServiceUnavailable // the database failed: the sender should retry
	default:
		return http.StatusInternalServerError
	}
}

// ResultStatus maps the result of a delivery the engine decided
// (ReceiveBuild) to the HTTP status the webhook answers: 201 when releases
// were created, 202 when the build is valid but nothing was to be done (or
// it is a duplicate), so that the CI server does not retry it. The engine
// records the status with the result. A rejection's status comes from its
// error's kind (StatusCode); REJECTED alone is 400.
func ResultStatus(result string) int {
	switch result {
	case delivery.DeliveryAccepted:
		return http.StatusCreated
	case delivery.DeliveryIgnored:
		return http.StatusAccepted
	case delivery.DeliveryRejected:
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}

// EqualSecret compares a received secret with the expected one in constant
// time. Both are hashed first, so neither the content nor the length of the
// expected secret leaks through timing. An empty expected secret never
// matches: an unconfigured secret must not admit an empty credential.
func EqualSecret(got, want string) bool {
	return want != "" && Equal(got, want)
}

// Equal compares two strings in constant time (of their SHA-256 digests), for
// credentials that may legitimately be empty, such as a user name.
func Equal(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// BodyKey is a delivery key for payloads that carry no build identity (a
// rejected or ignored delivery): the SHA-256 of the body, in hex.
func BodyKey(body []byte) string {
	s := sha256.Sum256(body)
	return hex.EncodeToString(s[:])
}
