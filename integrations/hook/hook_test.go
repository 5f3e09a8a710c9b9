package hook

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
)

func TestStatusCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want int
	}{
		{nil, http.StatusOK},
		{Ignored("phase %s", "QUEUED"), http.StatusAccepted},
		{fmt.Errorf("wrapped: %w", Ignored("x")), http.StatusAccepted},
		{&TooLargeError{Limit: 1}, http.StatusRequestEntityTooLarge},
		{ErrUnauthorized, http.StatusUnauthorized},
		{&ParseError{Payload: "p", Kind: ErrMalformed, Reason: "r"}, http.StatusBadRequest},
		{&ParseError{Payload: "p", Kind: ErrInvalid, Reason: "r"}, http.StatusBadRequest},
		{errors.New("database is down"), http.StatusInternalServerError},
	} {
		if got := StatusCode(tt.err); got != tt.want {
			t.Errorf("StatusCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// TestResultStatus pins the statuses of the results the engine decides:
// CI servers retry anything but 2xx, so ignored builds must be 2xx too.
func TestResultStatus(t *testing.T) {
	t.Parallel()
	for result, want := range map[string]int{"ACCEPTED": 201, "IGNORED": 202, "REJECTED": 400, "": 500} {
		if got := ResultStatus(result); got != want {
			t.Errorf("ResultStatus(%q) = %d, want %d", result, got, want)
		}
	}
}

func TestReadBody(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("POST", "/", strings.NewReader("12345"))
	if b, err := ReadBody(r, 5); err != nil || string(b) != "12345" {
		t.Errorf("at the limit: %q, %v", b, err)
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader("123456"))
	if _, err := ReadBody(r, 5); !errors.Is(err, ErrTooLarge) {
		t.Errorf("declared over the limit: %v", err)
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader("123456"))
	r.ContentLength = 2 // understated
	if _, err := ReadBody(r, 5); !errors.Is(err, ErrTooLarge) {
		t.Errorf("understated length: %v", err)
	}
	r = httptest.NewRequest("POST", "/", iotest.ErrReader(errors.New("reset")))
	r.ContentLength = -1
	if _, err := ReadBody(r, 5); err == nil || errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "reset") {
		t.Errorf("read error: %v", err)
	}
}

func TestEqualSecret(t *testing.T) {
	t.Parallel()
	if !EqualSecret("s", "s") || EqualSecret("s", "t") || EqualSecret("", "") || EqualSecret("s", "") || EqualSecret("ss", "s") {
		t.Error("EqualSecret")
	}
	if !Equal("", "") || Equal("a", "") {
		t.Error("Equal")
	}
}

func TestBuildKey(t *testing.T) {
	t.Parallel()
	j := Build{Source: SourceJenkins, Connection: "ci", Job: "a/b", BuildID: "12"}
	if got := j.Key(); got != "JENKINS/ci/a%2Fb/12" {
		t.Errorf("Key = %q", got)
	}
	// "a/b" #12 and "a" with job "b/12" cannot collide.
	k := Build{Source: SourceJenkins, Connection: "ci", Job: "a", BuildID: "b/12"}
	if k.Key() == j.Key() {
		t.Error("keys collide")
	}
	tb := Build{Source: SourceTeamBuild, Connection: "ado", Job: "renamed", BuildID: "1021"}
	tb2 := tb
	tb2.Job = "old name"
	if tb.Key() != "TEAMBUILD/ado/1021" || tb.Key() != tb2.Key() {
		t.Errorf("team build keys %q %q", tb.Key(), tb2.Key())
	}
}

func TestDecodeError(t *testing.T) {
	t.Parallel()
	var v struct {
		N int `json:"n"`
	}
	for _, tt := range []struct {
		in, field, reason string
	}{
		{`{"n":`, "", "truncated JSON"},
		{`{"n":x}`, "", "not JSON at byte"},
		{`{"n":"1"}`, "n", "JSON string where a number was expected"},
		{`[1]`, "", "JSON array where an object was expected"},
	} {
		err := json.Unmarshal([]byte(tt.in), &v)
		pe := DecodeError("thing", err)
		if pe.Field != tt.field || !strings.Contains(pe.Reason, tt.reason) || !errors.Is(pe, ErrMalformed) || !errors.Is(pe, err) {
			t.Errorf("DecodeError(%s) = %+v", tt.in, pe)
		}
		if !strings.HasPrefix(pe.Error(), "thing: malformed payload") {
			t.Errorf("message %q", pe.Error())
		}
	}
}
