package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/cairnhq/cairn/delivery"
)

type sqlStateErr string

func (e sqlStateErr) Error() string    { return "pg: " + string(e) }
func (e sqlStateErr) SQLState() string { return string(e) }

type sqliteErr int

func (e sqliteErr) Error() string { return fmt.Sprintf("sqlite: %d", int(e)) }
func (e sqliteErr) Code() int     { return int(e) }

// TestStorageFailuresAreUnavailable checks whose fault the codes say: the database's failures
// (by SQLSTATE, SQLite result code, lost connections, a full disk) are UNAVAILABLE with a
// message for people; anything else keeps its code.
func TestStorageFailuresAreUnavailable(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code delivery.Code
		says string
	}{
		{fmt.Errorf("committing: %w", sqliteErr(13)), delivery.CodeUnavailable, "disk is full"},
		{fmt.Errorf("x: %w", sqliteErr(5|2<<8)), delivery.CodeUnavailable, "busy"}, // SQLITE_BUSY_SNAPSHOT
		{sqliteErr(19), delivery.CodeInternal, ""},                                 // CONSTRAINT
		{fmt.Errorf("x: %w", sqlStateErr("57P01")), delivery.CodeUnavailable, "restarting or unreachable"},
		{sqlStateErr("53100"), delivery.CodeUnavailable, "disk is full"},
		{sqlStateErr("55P03"), delivery.CodeUnavailable, "busy"},
		{sqlStateErr("23505"), delivery.CodeInternal, ""},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), delivery.CodeUnavailable, "unreachable"},
		{&url.Error{Op: "Get", URL: "http://ci", Err: syscall.ECONNREFUSED}, delivery.CodeInternal, ""},
		{fmt.Errorf("x: %w", context.Canceled), delivery.CodeInternal, ""},
		{errors.New("boom"), delivery.CodeInternal, ""},
		{delivery.Invalid("name", "is required"), delivery.CodeInvalidInput, ""},
	} {
		if got := delivery.CodeOf(tt.err); got != tt.code {
			t.Errorf("CodeOf(%v) = %s, want %s", tt.err, got, tt.code)
			continue
		}
		u := delivery.Unavailable(tt.err)
		if (u != nil) != (tt.code == delivery.CodeUnavailable) {
			t.Errorf("Unavailable(%v) = %v", tt.err, u)
			continue
		}
		if u != nil && (!strings.Contains(u.Message, tt.says) || !strings.Contains(u.Message, "retry later")) {
			t.Errorf("Unavailable(%v) says %q, want %q and retry later", tt.err, u.Message, tt.says)
		}
		if delivery.ServerFault(tt.err) != (tt.code == delivery.CodeUnavailable || tt.code == delivery.CodeInternal) {
			t.Errorf("ServerFault(%v) wrong", tt.err)
		}
	}
}
