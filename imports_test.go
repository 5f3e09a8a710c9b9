package cairn

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/cairnhq/cairn"

// importRule is one row of STYLE.md's table of who may import whom, for
// the non-test files of the packages under dir (dir itself, and with
// subpackages its subdirectories). may lists module packages (relative
// paths, a trailing "/..." for a tree) and third-party prefixes; the
// standard library is allowed unless listed in never. never is checked
// first and reads the same way.
type importRule struct {
	dir         string
	subpackages bool
	may, never  []string
	// noThirdParty refuses every third-party import not in may.
	noThirdParty bool
}

// importRules are STYLE.md's table, plus the packages it does not name.
var importRules = []importRule{
	{dir: "delivery", noThirdParty: true,
		may: []string{"ent/...", "delivery/azureclassic", "internal/backoff", "internal/origin", "internal/condition", "internal/tasklib", "internal/envnames", "internal/jobstages", "entgo.io/ent", "github.com/robfig/cron/v3",
			"github.com/expr-lang/expr", "github.com/expr-lang/expr/vm",
			// Service connections' save-time checks: SSH keys and host keys, kubeconfigs (connkinds.go).
			"golang.org/x/crypto/ssh", "go.yaml.in/yaml/v3"},
		never: []string{"graph/...", "integrations/...", "agentproto", "server/...", "auth", "storage/...",
			"net/http", "github.com/99designs/gqlgen", "github.com/go-playground/webhooks", "github.com/coder/websocket",
			"github.com/golang-jwt/jwt"}},
	{dir: "graph", subpackages: true,
		may:   []string{"delivery", "delivery/azureclassic", "ent/...", "auth", "graph/...", "internal/tasklib"},
		never: []string{"integrations/...", "agentproto", "server/...", "storage/..."}},
	{dir: "integrations", subpackages: true,
		may:   []string{"delivery", "integrations/...", "internal/origin", "internal/netguard", "github.com/go-playground/webhooks/v6"},
		never: []string{"graph/...", "ent/...", "server/...", "agentproto", "storage/..."}, noThirdParty: true},
	// delivery/azureclassic: the pure Azure import mapper; value types only, no ent client.
	{dir: "delivery/azureclassic", noThirdParty: true,
		may:   []string{"ent/schema/spec", "internal/tasklib", "internal/condition"},
		never: []string{"delivery", "ent", "graph/...", "integrations/...", "server/...", "storage/...", "net/http"}},
	{dir: "agentproto", noThirdParty: true, never: []string{"..."}},
	{dir: "agent", noThirdParty: true,
		may: []string{"agentproto", "internal/origin", "internal/condition", "internal/tasklib", "internal/netguard", "internal/envnames", "internal/jobstages", "github.com/coder/websocket",
			"golang.org/x/crypto/ssh"},
		never: []string{"delivery", "ent/...", "graph/...", "server/...", "auth", "integrations/..."}},
	{dir: "server/dispatch",
		may:   []string{"agentproto", "delivery", "auth", "internal/jobstages", "github.com/coder/websocket"},
		never: []string{"graph/...", "integrations/...", "ent/...", "storage/..."}, noThirdParty: true},
	{dir: "auth", may: []string{"delivery", "github.com/golang-jwt/jwt/v5", "golang.org/x/crypto/argon2",
		"github.com/coreos/go-oidc/v3/oidc", "golang.org/x/oauth2"},
		never: []string{"graph/...", "server/...", "integrations/...", "ent/..."}, noThirdParty: true},
	{dir: "server/eventbus", may: []string{"delivery", "internal/backoff", "github.com/jackc/pgx/v5"},
		never: []string{"graph/...", "integrations/...", "ent/..."}, noThirdParty: true},
	{dir: "mail", never: []string{"..."}},
	// web: the embedded dashboard bundle; stdlib only.
	{dir: "web", never: []string{"..."}, noThirdParty: true},
	// internal/*: small helpers any layer may use, so they use nothing of the module.
	// internal/sshdtest (a test helper) speaks SSH.
	{dir: "internal", subpackages: true, never: []string{"..."}, noThirdParty: true, may: []string{"golang.org/x/crypto/ssh"}},
	{dir: "examples/chatops-bot", may: []string{"github.com/coder/websocket"}, never: []string{"..."}, noThirdParty: true},
}

// TestImportRules enforces importRules on every non-test Go file, and that
// every rule's directory exists (a rule about nothing checks nothing).
func TestImportRules(t *testing.T) {
	t.Parallel()
	for _, rule := range importRules {
		files := rule.files(t)
		if len(files) == 0 {
			t.Errorf("rule for %s matches no Go files", rule.dir)
		}
		for _, file := range files {
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if why := rule.refuses(path); why != "" {
					t.Errorf("%s imports %s: %s", file, path, why)
				}
			}
		}
	}
}

func (r importRule) files(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(r.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != r.dir && (!r.subpackages || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", r.dir, err)
	}
	sort.Strings(out)
	return out
}

// matches reports whether import path p is named by pattern: a module
// package ("delivery", "ent/..."; "..." alone is the whole module) or a
// third-party or standard-library prefix.
func matches(pattern, p string) bool {
	if pattern == "..." {
		return p == module || strings.HasPrefix(p, module+"/")
	}
	if strings.Contains(strings.SplitN(pattern, "/", 2)[0], ".") || isStdlib(pattern) && !isModulePattern(pattern) {
		return p == pattern || strings.HasPrefix(p, pattern+"/")
	}
	full := module + "/" + strings.TrimSuffix(pattern, "/...")
	if strings.HasSuffix(pattern, "/...") {
		return p == full || strings.HasPrefix(p, full+"/")
	}
	return p == full
}

// isModulePattern reports whether a pattern without a dot names a package
// of this module rather than of the standard library.
func isModulePattern(pattern string) bool {
	first := strings.SplitN(strings.TrimSuffix(pattern, "/..."), "/", 2)[0]
	_, err := os.Stat(first)
	return err == nil
}

func isStdlib(p string) bool { return !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") }

func (r importRule) refuses(p string) string {
	for _, n := range r.never {
		if matches(n, p) {
			return "never allowed (STYLE.md)"
		}
	}
	for _, m := range r.may {
		if matches(m, p) {
			return ""
		}
	}
	switch {
	case p == module || strings.HasPrefix(p, module+"/"):
		return "not among the module packages it may import"
	case isStdlib(p):
		return ""
	case r.noThirdParty:
		return "a third-party import the rule does not list"
	}
	return ""
}

// TestImportRulePatterns pins what the patterns mean.
func TestImportRulePatterns(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"delivery", module + "/delivery", true},
		{"delivery", module + "/delivery/deliverytest", false},
		{"ent/...", module + "/ent/release", true},
		{"ent/...", module + "/ent", true},
		{"...", module + "/agentproto", true},
		{"...", "github.com/coder/websocket", false},
		{"net/http", "net/http", true},
		{"net/http", "net/http/httptest", true},
		{"net/http", "net/url", false},
		{"github.com/coder/websocket", "github.com/coder/websocket/wsjson", true},
		{"server/...", module + "/server/dispatch", true},
	} {
		if got := matches(tc.pattern, tc.path); got != tc.want {
			t.Errorf("matches(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}

// TestDeliveryWebhooksSpeakNoHTTP: the engine decides what became of a
// webhook delivery (ACCEPTED, IGNORED, REJECTED) and the webhook edge
// (integrations/hook) chooses the HTTP status. TestImportRules keeps
// net/http out of delivery; this keeps its webhook files from naming
// net/http or holding an HTTP status number (200 is left out: it is a
// common length bound and no status a webhook answers).
func TestDeliveryWebhooksSpeakNoHTTP(t *testing.T) {
	t.Parallel()
	files := importRule{dir: "delivery"}.files(t)
	webhookFiles := 0
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(filepath.Base(file), "webhook") {
			continue
		}
		webhookFiles++
		if strings.Contains(string(src), "net/http") {
			t.Errorf("%s mentions net/http", file)
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, file, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.INT {
				return true
			}
			v, err := strconv.ParseInt(lit.Value, 0, 64)
			if err == nil && v > 200 && v < 600 && http.StatusText(int(v)) != "" {
				t.Errorf("%s: %s is an HTTP status (%s): the webhook edge chooses statuses",
					fset.Position(lit.Pos()), lit.Value, http.StatusText(int(v)))
			}
			return true
		})
	}
	if webhookFiles == 0 {
		t.Error("no webhook file in delivery: the check checks nothing")
	}
}

// TestArchitectureListsEveryPackage: docs/architecture.md's table names every
// directory of the module that holds Go files (as `dir`, or under a `dir/*`
// entry such as `ent/*`), so that the page stays the map of the module.
func TestArchitectureListsEveryPackage(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	var trees []string
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.SplitN(line, "|", 3)[1]
		for _, f := range strings.Split(first, "`") {
			f = strings.TrimSpace(f)
			if strings.HasSuffix(f, "/*") {
				trees = append(trees, strings.TrimSuffix(f, "*"))
			} else if f != "" && f != "," {
				listed[f] = true
			}
		}
	}
	dirs := map[string]bool{}
	err = filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") {
			dirs[filepath.ToSlash(filepath.Dir(p))] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir := range dirs {
		if listed[dir] {
			continue
		}
		if slices.ContainsFunc(trees, func(tree string) bool { return strings.HasPrefix(dir, tree) }) {
			continue
		}
		t.Errorf("docs/architecture.md does not list package %s", dir)
	}
}
