package main

import (
	"bytes"
	"errors"
	"flag"
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
