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

func TestParseConfig(t *testing.T) {
	t.Parallel()
	env := map[string]string{"CAIRN_SERVER": "https://env.example", "CAIRN_AGENT_TOKEN": "envtok", "CAIRN_POOL": "envpool"}
	getenv := func(k string) string { return env[k] }

	cfg, err := parseConfig([]string{"--server", "https://flag.example", "--name", "a1", "--capability", "env=prod", "--capability", "zone=eu=1", "--max-jobs", "3"}, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server != "https://flag.example" || cfg.Token != "envtok" || cfg.Pool != "envpool" || cfg.Name != "a1" || cfg.MaxJobs != 3 {
		t.Errorf("cfg = %+v", cfg)
	}
	if cfg.WorkDir != "./cairn-agent" {
		t.Errorf("default work dir %q", cfg.WorkDir)
	}
	if cfg.Capabilities["env"] != "prod" || cfg.Capabilities["zone"] != "eu=1" {
		t.Errorf("capabilities %v", cfg.Capabilities)
	}
	if cfg, _ := parseConfig(nil, getenv); cfg.MaxJobs != 1 || cfg.Name == "" {
		t.Errorf("defaults: %+v", cfg)
	}
	for _, args := range [][]string{{"--capability", "novalue"}, {"--max-jobs", "0"}, {"extra"}} {
		if _, err := parseConfig(args, getenv); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// TestAgentEnvFollowsTheRule: --token and --name fall back to CAIRN_TOKEN and CAIRN_NAME (the
// rule --help states), then to the older CAIRN_AGENT_TOKEN and CAIRN_AGENT_NAME; the help shows
// each flag's default once.
func TestAgentEnvFollowsTheRule(t *testing.T) {
	t.Parallel()
	env := map[string]string{"CAIRN_TOKEN": "rule", "CAIRN_AGENT_TOKEN": "legacy", "CAIRN_AGENT_NAME": "old-name"}
	cfg, err := parseConfig(nil, func(k string) string { return env[k] })
	if err != nil || cfg.Token != "rule" || cfg.Name != "old-name" {
		t.Fatalf("cfg %+v, err %v", cfg, err)
	}
	env = map[string]string{"CAIRN_NAME": "web-01"}
	if cfg, _ := parseConfig(nil, func(k string) string { return env[k] }); cfg.Name != "web-01" {
		t.Fatalf("CAIRN_NAME: %+v", cfg)
	}
	var help bytes.Buffer
	fs := flag.NewFlagSet("cairn-agent", flag.ContinueOnError)
	fs.SetOutput(&help)
	if _, err := parseConfigFS(fs, []string{"--help"}, func(string) string { return "" }); !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}
	out := help.String()
	for _, want := range []string{"--token string   (CAIRN_TOKEN)", "--name string   (CAIRN_NAME)", "agent name (default: the host name)\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "CAIRN_AGENT_") {
		t.Errorf("help names the old variables:\n%s", out)
	}
}

// TestConfigurationReferenceAgentTable: the agent flag table of docs/reference/configuration.md
// lists exactly the flags that --help lists, each with the variable --help shows for it (none for
// a flag that has none), so that neither drifts from the other.
func TestConfigurationReferenceAgentTable(t *testing.T) {
	t.Parallel()
	var help bytes.Buffer
	fs := flag.NewFlagSet("cairn-agent", flag.ContinueOnError)
	fs.SetOutput(&help)
	if _, err := parseConfigFS(fs, []string{"--help"}, func(string) string { return "" }); !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}
	flags := map[string]string{} // flag name → its variable ("" when it has none)
	for _, m := range regexp.MustCompile(`(?m)^  --([a-z0-9-]+)[^\n(]*(?:\((CAIRN_[A-Z0-9_]+)\))?`).FindAllStringSubmatch(help.String(), -1) {
		flags[m[1]] = m[2]
	}
	if len(flags) == 0 {
		t.Fatalf("no flags in the help:\n%s", help.String())
	}
	const doc = "docs/reference/configuration.md"
	b, err := os.ReadFile("../../" + doc)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "\n## Agent flags\n")
	if start < 0 {
		t.Fatalf("%s has no section \"Agent flags\"", doc)
	}
	section := text[start+len("\n## Agent flags\n"):]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	table := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`--") {
			continue
		}
		name := regexp.MustCompile("`--([a-z0-9-]+)").FindStringSubmatch(cells[1])[1]
		table[name] = true
		env := ""
		if m := regexp.MustCompile("`(CAIRN_[A-Z0-9_]+)`").FindStringSubmatch(cells[2]); m != nil {
			env = m[1]
		}
		want, ok := flags[name]
		if !ok {
			t.Errorf("%s lists --%s, which the agent does not have", doc, name)
		} else if env != want {
			t.Errorf("%s: --%s has variable %q, --help says %q", doc, name, env, want)
		}
	}
	for f := range flags {
		if !table[f] {
			t.Errorf("--%s is an agent flag (--help) but not in the agent flag table of %s", f, doc)
		}
	}
}
