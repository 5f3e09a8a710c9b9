package delivery

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// governedStatus are the packages whose Status the tables of transitions.go
// govern, and the states a new row may be created in.
var governedStatus = map[string]map[string]bool{
	"deployment":         {"StatusPENDING_APPROVAL": true},
	"releaseenvironment": {},
	"approval":           {"StatusAPPROVED": true}, // an automated approval of a stage without approvers
	"job":                {"StatusQUEUED": true},
	"release":            {"StatusDRAFT": true}, // createRelease(draft: true)
	"manualintervention": {},                    // created PENDING by the schema's default
}

// recordedStatus are the tables whose status is not a state machine of the engine but a record
// of what happened elsewhere: job steps (reported by the agent), notifications and outgoing-hook
// deliveries (outboxes: PENDING until sent, or failed for good).
var recordedStatus = map[string]string{
	"jobstep":      "JobStep",
	"notification": "Notification",
	"hookdelivery": "HookDelivery",
}

// TestEveryStatusTableIsCovered: every table of ent/schema with a status field is either governed
// by a transition table (and so checked by TestStatusWritesGoThroughTables) or declared a record
// above. A new table with a status fails here until someone decides which it is.
func TestEveryStatusTableIsCovered(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join("..", "ent", "schema", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no ent schema files: %v", err)
	}
	found := map[string]bool{}
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Name.Name != "Fields" || fn.Recv == nil || len(fn.Recv.List) != 1 {
				continue
			}
			recv, ok := fn.Recv.List[0].Type.(*ast.Ident)
			if !ok {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) != 1 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if lit, isLit := call.Args[0].(*ast.BasicLit); ok && isLit && lit.Value == `"status"` &&
					(sel.Sel.Name == "Enum" || sel.Sel.Name == "String") {
					found[strings.ToLower(recv.Name)] = true
				}
				return true
			})
		}
	}
	if len(found) < 6 {
		t.Fatalf("only %d tables with a status found in ent/schema: the check is not reading it", len(found))
	}
	for table := range found {
		_, governed := governedStatus[table]
		_, recorded := recordedStatus[table]
		if governed == recorded {
			t.Errorf("table %s has a status: declare it in governedStatus (with a transition table) or recordedStatus", table)
		}
	}
	for table := range governedStatus {
		if !found[table] {
			t.Errorf("governedStatus names %s, which has no status field in ent/schema", table)
		}
	}
	for table := range recordedStatus {
		if !found[table] {
			t.Errorf("recordedStatus names %s, which has no status field in ent/schema", table)
		}
	}
}

// TestStatusWritesGoThroughTables: outside the tables there is no status
// write. Every SetStatus of a deployment, release environment, approval,
// job, manual intervention or release either creates a row in its initial state, or sets a state
// that the same function got from a table's apply. The pair-by-pair table
// tests then cover every change the engine can make.
func TestStatusWritesGoThroughTables(t *testing.T) {
	checked := 0
	eachEngineFile(t, func(fset *token.FileSet, f *ast.File) {
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			fromTable := assignedFromApply(fn.Body)
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) != 1 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "SetStatus" {
					return true
				}
				where := fset.Position(call.Pos()).String() + " in " + fn.Name.Name
				if ungovernedChain(sel.X) {
					return true
				}
				switch arg := call.Args[0].(type) {
				case *ast.Ident:
					checked++
					if !fromTable[arg.Name] {
						t.Errorf("%s: SetStatus(%s) with a state not taken from a transition table's apply", where, arg.Name)
					}
				case *ast.SelectorExpr:
					pkg, _ := arg.X.(*ast.Ident)
					if pkg == nil {
						return true
					}
					initial, governed := governedStatus[pkg.Name]
					if !governed {
						return true // outboxes (notifications, hook deliveries) and job steps
					}
					checked++
					if !initial[arg.Sel.Name] || !createsRow(sel.X) {
						t.Errorf("%s: SetStatus(%s.%s) outside the transition tables", where, pkg.Name, arg.Sel.Name)
					}
				default:
					t.Errorf("%s: SetStatus with an expression the check cannot read", where)
				}
				return true
			})
		}
	})
	if checked < 10 {
		t.Fatalf("only %d status writes found: the check is not looking at the engine", checked)
	}
}

// eachEngineFile parses every non-test Go file of the package and hands it to fn.
func eachEngineFile(t *testing.T, fn func(*token.FileSet, *ast.File)) *token.FileSet {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		fn(fset, f)
	}
	return fset
}

// assignedFromApply returns the variables assigned from a call of apply.
func assignedFromApply(body *ast.BlockStmt) map[string]bool {
	out := map[string]bool{}
	ast.Inspect(body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Rhs) != 1 {
			return true
		}
		call, ok := as.Rhs[0].(*ast.CallExpr)
		if !ok {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "apply" {
			if id, ok := as.Lhs[0].(*ast.Ident); ok {
				out[id.Name] = true
			}
		}
		return true
	})
	return out
}

// ungovernedChain reports whether a builder chain writes an entity whose
// status no table governs (job steps, notifications, hook deliveries).
func ungovernedChain(x ast.Expr) bool {
	for {
		switch v := x.(type) {
		case *ast.CallExpr:
			x = v.Fun
		case *ast.SelectorExpr:
			for _, entity := range recordedStatus {
				if v.Sel.Name == entity {
					return true
				}
			}
			x = v.X
		default:
			return false
		}
	}
}

// createsRow reports whether a builder chain starts with a Create() call
// (or is a variable, as in "c := t.Approval.Create()...; c.SetStatus").
func createsRow(x ast.Expr) bool {
	for {
		switch v := x.(type) {
		case *ast.CallExpr:
			if sel, ok := v.Fun.(*ast.SelectorExpr); ok {
				if sel.Sel.Name == "Create" {
					return true
				}
				x = sel.X
				continue
			}
			return false
		case *ast.SelectorExpr:
			x = v.X
		default:
			return false
		}
	}
}

// TestAuditTargetsAreNamedOnce: every audit call names its target type by
// one of audit.go's constants, so a kind of record has one name in the log.
func TestAuditTargetsAreNamedOnce(t *testing.T) {
	calls := 0
	eachEngineFile(t, func(fset *token.FileSet, f *ast.File) {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 6 {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "audit" {
				return true
			}
			calls++
			if id, ok := call.Args[2].(*ast.Ident); !ok || !strings.HasPrefix(id.Name, "auditTarget") {
				t.Errorf("%s: audit target type is not one of audit.go's auditTarget constants", fset.Position(call.Pos()))
			}
			return true
		})
	})
	if calls < 20 {
		t.Fatalf("only %d audit calls found", calls)
	}
}

// statusValues returns every value of every status enum in ent/schema.
func statusValues(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "ent", "schema", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no ent schema files: %v", err)
	}
	fset := token.NewFileSet()
	out := map[string]bool{}
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Values" {
				return true
			}
			enum, ok := sel.X.(*ast.CallExpr)
			if !ok || len(enum.Args) != 1 {
				return true
			}
			if lit, ok := enum.Args[0].(*ast.BasicLit); !ok || lit.Value != `"status"` {
				return true
			}
			for _, a := range call.Args {
				if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					out[strings.Trim(lit.Value, `"`)] = true
				}
			}
			return true
		})
	}
	return out
}

// TestNoStatusLiterals: the engine names states by their constants (ent's Status values,
// results.go, internal/condition), never by a bare string such as "FAILED", so a renamed or
// removed state is a compile error rather than a silent mismatch. A constant declaration may
// spell a value (that is where the name comes from).
func TestNoStatusLiterals(t *testing.T) {
	values := statusValues(t)
	if !values["PENDING_APPROVAL"] || !values["SUCCEEDED"] {
		t.Fatalf("status values not read from ent/schema: %v", values)
	}
	eachEngineFile(t, func(fset *token.FileSet, f *ast.File) {
		var consts []ast.Node
		for _, decl := range f.Decls {
			if g, ok := decl.(*ast.GenDecl); ok && g.Tok == token.CONST {
				consts = append(consts, g)
			}
		}
		inConst := func(p token.Pos) bool {
			for _, c := range consts {
				if c.Pos() <= p && p < c.End() {
					return true
				}
			}
			return false
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING || inConst(lit.Pos()) {
				return true
			}
			if v := strings.Trim(lit.Value, "`\""); values[v] {
				t.Errorf("%s: status literal %s: use the named constant", fset.Position(lit.Pos()), lit.Value)
			}
			return true
		})
	})
}
