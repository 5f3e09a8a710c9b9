package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/server"
)

// lockedBuffer is a bytes.Buffer safe for the server's concurrent loggers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDevBannerAsJSON: with --log-format json the dev banner is one JSON record naming the token
// file, and the token itself is not logged.
func TestDevBannerAsJSON(t *testing.T) {
	var out lockedBuffer
	dir := t.TempDir()
	s, err := server.New(context.Background(), server.Config{DataDir: dir, Dev: true, DevAgent: true, LogFormat: "json",
		Logger: slog.New(slog.NewJSONHandler(&out, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.BootstrapDev(context.Background()); err != nil {
		t.Fatal(err)
	}
	var banner map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if _, ok := rec["admin_token_file"]; ok {
			banner = rec
		}
	}
	if banner == nil || !strings.HasSuffix(banner["admin_token_file"].(string), "admin-token") || banner["dev_agent"] != "local" {
		t.Fatalf("no banner record: %s", out.String())
	}
	if strings.Contains(out.String(), "eyJ") {
		t.Errorf("the token was logged: %s", out.String())
	}
}

// TestNormalShutdownLogsNoError: a dev server with its agent connected, stopped as SIGTERM stops
// it, logs nothing at WARN or above and no error (it logged "failed to read frame header: EOF").
func TestNormalShutdownLogsNoError(t *testing.T) {
	var out lockedBuffer
	addr, dir := freeAddr(t), t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Config{Addr: addr, DataDir: dir, Dev: true, DevAgent: true, LogFormat: "json",
			Logger: slog.New(slog.NewJSONHandler(&out, nil))})
	}()
	poll(t, "the dev agent connected", func() bool { return strings.Contains(out.String(), `"msg":"connected"`) })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server.Run: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("server.Run did not return")
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if rec["level"] != "INFO" && rec["level"] != "DEBUG" || rec["err"] != nil {
			t.Errorf("shutdown logged: %s", line)
		}
	}
	// "agent disconnected" is logged when the session sees the agent's close before the hub
	// closes it, which depends on scheduling: not asserted.
}

// TestDevBannerNamesTheTokenFile: the text banner says where the dev admin token is and never
// prints the token (a year-long credential in every terminal and CI log).
func TestDevBannerNamesTheTokenFile(t *testing.T) {
	var banner lockedBuffer
	dir := t.TempDir()
	s, err := server.New(context.Background(), server.Config{DataDir: dir, Dev: true, DevOut: &banner,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 2 { // the first start writes the token, the second reuses it
		if err := s.BootstrapDev(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := os.ReadFile(filepath.Join(dir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	out := banner.String()
	if !strings.Contains(out, filepath.Join(dir, "admin-token")) || strings.Count(out, "Cairn dev mode") != 2 {
		t.Fatalf("the banner does not name the token file twice:\n%s", out)
	}
	if strings.Contains(out, strings.TrimSpace(string(tok))) || strings.Contains(out, "eyJ") {
		t.Fatalf("the banner prints the token:\n%s", out)
	}
}
