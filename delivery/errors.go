package delivery

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
)

// Code classifies an error for the edges (GraphQL extensions.code, HTTP
// status, agent error frames).
type Code string

// The error codes.
const (
	CodeUnauthenticated Code = "UNAUTHENTICATED"
	CodeForbidden       Code = "FORBIDDEN"
	CodeNotFound        Code = "NOT_FOUND"
	CodeConflict        Code = "CONFLICT"
	CodeInvalidInput    Code = "INVALID_INPUT"
	// CodeUnavailable is a failure of the storage or of something else the server needs
	// (database restarting or unreachable, disk full, lock timeout): nobody's input is at
	// fault and the same request may succeed later (HTTP 503 with Retry-After at the edges).
	CodeUnavailable Code = "UNAVAILABLE"
	CodeInternal    Code = "INTERNAL"
)

// Sentinel errors; wrap them with %w or use the constructors below for a
// message a person can act on.
var (
	ErrUnauthenticated = &Error{Code: CodeUnauthenticated, Message: "authentication required"}
	ErrForbidden       = &Error{Code: CodeForbidden, Message: "forbidden"}
	ErrNotFound        = &Error{Code: CodeNotFound, Message: "not found"}
	ErrConflict        = &Error{Code: CodeConflict, Message: "conflict"}
	ErrInvalidInput    = &Error{Code: CodeInvalidInput, Message: "invalid input"}
)

// Error is a domain error with a code and a message meant for the person or
// bot that made the request. Errors with the same Code match with errors.Is.
type Error struct {
	Code    Code
	Message string
	// Field optionally names the input field at fault (e.g. "environments[2].trigger").
	Field string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Is makes every *Error with the same code match the sentinels.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Invalid returns an INVALID_INPUT error about field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns a NOT_FOUND error for a kind of thing and its key.
func NotFound(kind string, key any) *Error {
	return &Error{Code: CodeNotFound, Message: fmt.Sprintf("%s %v not found", kind, key)}
}

// Forbidden returns a FORBIDDEN error explaining what is missing.
func Forbidden(format string, args ...any) *Error {
	return &Error{Code: CodeForbidden, Message: fmt.Sprintf(format, args...)}
}

// Conflict returns a CONFLICT error.
func Conflict(format string, args ...any) *Error {
	return &Error{Code: CodeConflict, Message: fmt.Sprintf(format, args...)}
}

// TransitionError reports a state change that the state machine does not
// allow from the current state. It is a CONFLICT.
type TransitionError struct {
	Entity string // "deployment 12"
	From   string
	Event  string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("%s: cannot %s while %s", e.Entity, e.Event, e.From)
}

// Is makes a TransitionError match ErrConflict.
func (e *TransitionError) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == CodeConflict
}

// CodeOf returns the code of err: its domain code if it has one, UNAVAILABLE for a storage or
// availability failure (see Unavailable), else INTERNAL.
func CodeOf(err error) Code {
	var de *Error
	if errors.As(err, &de) {
		return de.Code
	}
	var te *TransitionError
	if errors.As(err, &te) {
		return CodeConflict
	}
	if unavailableReason(err) != "" {
		return CodeUnavailable
	}
	return CodeInternal
}

// ServerFault reports whether err is the server's failure rather than a refusal of the request
// (INTERNAL or UNAVAILABLE): the caller may retry, and the error is not shown as the caller's.
func ServerFault(err error) bool {
	c := CodeOf(err)
	return c == CodeInternal || c == CodeUnavailable
}

// Unavailable returns the UNAVAILABLE error that err amounts to, with a message for people that
// says what failed and to retry (never the driver's text, which is for logs), or nil when err is
// not a storage or availability failure.
func Unavailable(err error) *Error {
	var de *Error
	if errors.As(err, &de) {
		if de.Code == CodeUnavailable {
			return de
		}
		return nil
	}
	reason := unavailableReason(err)
	if reason == "" {
		return nil
	}
	return &Error{Code: CodeUnavailable, Message: "storage unavailable: " + reason + "; retry later"}
}

// unavailableReason classifies err as a failure of the database that a retry may cure and says
// which, or returns "". It knows the drivers by their error methods (delivery imports no
// driver): PostgreSQL errors carry an SQLSTATE (pgconn.PgError.SQLState), SQLite errors a
// result code (modernc.org/sqlite Error.Code), and pgx's connection-level errors say whether
// they are SafeToRetry; network errors and lost connections count too. A canceled request is
// not a failure of the database.
func unavailableReason(err error) string {
	var call *url.Error
	if err == nil || errors.Is(err, context.Canceled) || errors.As(err, &call) {
		return "" // a canceled request, or an HTTP call (CI server, gate): not the database
	}
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		switch state := pg.SQLState(); {
		case state == "53100":
			return "the database's disk is full"
		case strings.HasPrefix(state, "53"), state == "58030": // insufficient resources, I/O error
			return "the database is out of resources"
		case strings.HasPrefix(state, "08"), state == "57P01", state == "57P02", state == "57P03", state == "25006":
			// connection exception, admin/crash shutdown, cannot connect now, read-only (standby)
			return "the database is restarting or unreachable"
		case state == "55P03", state == "40001", state == "40P01", state == "57014":
			// lock not available, serialization failure, deadlock, statement timeout
			return "the database is busy (lock or statement timeout)"
		}
		return ""
	}
	var lite interface{ Code() int }
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff { // the primary result code
		case 13: // SQLITE_FULL
			return "the database's disk is full"
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return "the database is busy (lock timeout)"
		case 7, 8, 10, 14, 15: // NOMEM, READONLY, IOERR, CANTOPEN, PROTOCOL
			return "the database cannot write or read its files"
		}
		return ""
	}
	var retry interface{ SafeToRetry() bool }
	var netErr net.Error
	switch {
	case errors.As(err, &retry), errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "the database is restarting or unreachable"
	case errors.Is(err, syscall.ENOSPC):
		return "the disk is full"
	}
	return ""
}
