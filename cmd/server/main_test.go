package main

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

// TestHelpShowsVariables: --help names the rule and every flag's CAIRN_* variable, and exits
// as help (not as an error).
func TestHelpShowsVariables(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"--help"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"CAIRN_ + the flag name", "--data-dir string   (CAIRN_DATA_DIR)",
		"--metrics-addr string   (CAIRN_METRICS_ADDR)", "--metrics-token string   (CAIRN_METRICS_TOKEN)",
		"--log-format string   (CAIRN_LOG_FORMAT)", "--dev   (CAIRN_DEV)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

// TestBadVariable: a variable the flag refuses stops the server before it opens anything.
func TestBadVariable(t *testing.T) {
	t.Setenv("CAIRN_MAX_BODY", "lots")
	err := run([]string{"--data-dir", t.TempDir()}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "CAIRN_MAX_BODY") {
		t.Fatalf("got %v", err)
	}
	t.Setenv("CAIRN_MAX_BODY", "")
	t.Setenv("CAIRN_LOG_FORMAT", "xml")
	if err := run([]string{"--data-dir", t.TempDir()}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Fatalf("got %v", err)
	}
}
