package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"regexp"
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
		"--log-format string   (CAIRN_LOG_FORMAT)", "--dev   (CAIRN_DEV)", "server admin token --username NAME"} {
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

// TestReadmeConfigurationTable: the server flag table of docs/reference/configuration.md lists
// exactly the flags that --help lists, each with the variable of the rule, so that neither drifts
// from the other.
func TestReadmeConfigurationTable(t *testing.T) {
	var help bytes.Buffer
	if err := run([]string{"--help"}, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  --([a-z0-9-]+)`).FindAllStringSubmatch(help.String(), -1) {
		flags[m[1]] = true
	}
	const doc = "docs/reference/configuration.md"
	reference, err := os.ReadFile("../../" + doc)
	if err != nil {
		t.Fatal(err)
	}
	section := markdownSection(t, doc, string(reference), "Server flags")
	table := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`--") {
			continue
		}
		names := regexp.MustCompile("`--([a-z0-9-]+)`").FindAllStringSubmatch(cells[1], -1)
		envs := regexp.MustCompile("`(CAIRN_[A-Z0-9_]+)`").FindAllStringSubmatch(cells[2], -1)
		if len(names) != len(envs) {
			t.Errorf(doc+" row %q: %d flags, %d variables", line, len(names), len(envs))
			continue
		}
		for i, n := range names {
			table[n[1]] = true
			if want := "CAIRN_" + strings.ToUpper(strings.ReplaceAll(n[1], "-", "_")); envs[i][1] != want {
				t.Errorf(doc+": --%s has variable %s, want %s", n[1], envs[i][1], want)
			}
		}
	}
	for f := range flags {
		if !table[f] {
			t.Errorf("--%s is a flag (server --help) but not in the server flag table of %s", f, doc)
		}
	}
	for f := range table {
		if !flags[f] {
			t.Errorf("%s lists --%s, which the server does not have", doc, f)
		}
	}
}
