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
// net/http, go-playground/webhooks, each other and delivery (the engine's
// commands and types), never ent, graph or server. Tests may also open a
// database (storage) and read ent to assert what was written.
func TestImportRules(t *testing.T) {
	t.Parallel()
	const module = "github.com/cairnhq/cairn/"
	allowed := func(file, path string) bool {
		test := strings.HasSuffix(file, "_test.go")
		switch {
		case strings.HasPrefix(path, module+"integrations/"), path == module+"delivery":
			return true
		case test && (strings.HasPrefix(path, module+"storage") || path == module+"ent" ||
			strings.HasPrefix(path, module+"ent/")):
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
			if !allowed(file, path) {
				t.Errorf("%s imports %s", file, path)
			}
		}
	}
}
