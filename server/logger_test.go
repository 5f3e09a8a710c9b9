package server_test

import (
	"log/slog"
	"os"
	"testing"
)

type slogLogger = slog.Logger

// newTestLogger discards logs unless CAIRN_TEST_LOG is set (background loops
// may log after a test ends, when t.Log would panic).
func newTestLogger(*testing.T) *slog.Logger {
	if os.Getenv("CAIRN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
