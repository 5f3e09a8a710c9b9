package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// config is what cairn login keeps: the server and the token.
type config struct {
	Server string `json:"server"`
	Token  string `json:"token"`
}

// configPath is --config, CAIRN_CONFIG or <user config dir>/cairn/config.json.
func (c *cmd) configPath() (string, error) {
	if c.g.config != "" {
		return c.g.config, nil
	}
	dir, err := c.env.home()
	if err != nil {
		return "", fmt.Errorf("finding the config directory (set --config or CAIRN_CONFIG): %w", err)
	}
	return filepath.Join(dir, "cairn", "config.json"), nil
}

// readConfig reads the config file; a missing one is empty. A file that others may read is
// refused: it holds a token.
func readConfig(path string) (config, error) {
	var cfg config
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return cfg, fmt.Errorf("%s is readable by others (mode %v) and holds a token: chmod 600 it", path, info.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, fmt.Errorf("reading %s: %w", path, err)
	}
	return cfg, nil
}

// writeConfig writes the config file with mode 0600 (its directory 0700), replacing it
// atomically.
func writeConfig(path string, cfg config) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// normalizeServer checks a server URL (http or https, a host, no query) and drops a trailing
// slash.
func normalizeServer(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", usagef("server %q: want http(s)://host[:port][/path]", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}
