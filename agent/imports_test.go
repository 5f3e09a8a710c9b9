package agent

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestImports enforces STYLE.md: agent imports agentproto, coder/websocket and the standard
// library only; agentproto imports the standard library only.
func TestImports(t *testing.T) {
	t.Parallel()
	check := func(dir string, allowed ...string) {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s: %v", dir, err)
		}
		for _, f := range files {
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				p := strings.Trim(imp.Path.Value, `"`)
				first, _, _ := strings.Cut(p, "/")
				ok := !strings.Contains(first, ".") // standard library
				for _, a := range allowed {
					ok = ok || p == a || strings.HasPrefix(p, a+"/")
				}
				if !ok {
					t.Errorf("%s imports %s", f, p)
				}
			}
		}
	}
	check(".", "github.com/cairnhq/cairn/agentproto", "github.com/coder/websocket", "github.com/cairnhq/cairn/agent")
	check("../agentproto")
}
