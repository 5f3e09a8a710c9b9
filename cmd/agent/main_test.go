package main

import (
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
