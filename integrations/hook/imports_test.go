package hook

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportRules enforces STYLE.md's rule for integrations/*: stdlib,
// net/http, go-playground/webhooks and each other, never ent, graph or
// (for now) delivery.
func TestImportRules(t *testing.T) {
	t.Parallel()
	const module = "github.com/cairnhq/cairn/"
	allowed := func(path string) bool {
		switch {
		case strings.HasPrefix(path, module+"integrations/"):
			return true
		case strings.HasPrefix(path, module):
			return false
		case strings.HasPrefix(path, "github.com/go-playground/webhooks/v6/"):
			return true
		}
		return !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") // stdlib
	}
	files, err := filepath.Glob("../*/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no files: %v", err)
	}
	fset := token.NewFileSet()
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, file, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !allowed(path) {
				t.Errorf("%s imports %s", file, path)
			}
		}
	}
}
