package teambuild

import (
	"embed"
	"testing"
)

// fixtures are real-shaped Azure DevOps / TFS payloads: build.complete
// service hooks of both resource versions and every outcome, another event
// type, and REST replies.
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
