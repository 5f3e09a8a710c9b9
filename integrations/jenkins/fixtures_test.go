package jenkins

import (
	"embed"
	"testing"
)

// fixtures are real-shaped Jenkins payloads: Notification plugin documents
// of every phase, and build/job api/json replies.
//
//go:embed testdata/*.json
var fixtures embed.FS

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return b
}
