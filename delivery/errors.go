package delivery

import (
	"errors"
	"fmt"
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
	CodeInternal        Code = "INTERNAL"
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

// CodeOf returns the code of err: its domain code if it has one, else INTERNAL.
func CodeOf(err error) Code {
	var de *Error
	if errors.As(err, &de) {
		return de.Code
	}
	var te *TransitionError
	if errors.As(err, &te) {
		return CodeConflict
	}
	return CodeInternal
}
