package delivery_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
)

// whereInputs are every where-input type of the schema; the test checks the
// list against ent/gql_where_input.go, so a new type cannot be left out.
var whereInputs = []reflect.Type{
	reflect.TypeFor[ent.AgentWhereInput](), reflect.TypeFor[ent.AgentPoolWhereInput](), reflect.TypeFor[ent.AgentRegistrationWhereInput](),
	reflect.TypeFor[ent.ApiTokenWhereInput](), reflect.TypeFor[ent.ApprovalWhereInput](), reflect.TypeFor[ent.ArtifactSourceWhereInput](),
	reflect.TypeFor[ent.AuditEventWhereInput](), reflect.TypeFor[ent.DefinitionRevisionWhereInput](), reflect.TypeFor[ent.DeploymentWhereInput](),
	reflect.TypeFor[ent.EnvironmentWhereInput](), reflect.TypeFor[ent.FreezeWindowWhereInput](), reflect.TypeFor[ent.GateSampleWhereInput](),
	reflect.TypeFor[ent.GroupWhereInput](), reflect.TypeFor[ent.HookDeliveryWhereInput](), reflect.TypeFor[ent.JobWhereInput](),
	reflect.TypeFor[ent.JobStepWhereInput](), reflect.TypeFor[ent.ManualInterventionWhereInput](), reflect.TypeFor[ent.NotificationWhereInput](),
	reflect.TypeFor[ent.OutgoingHookWhereInput](), reflect.TypeFor[ent.ReleaseWhereInput](), reflect.TypeFor[ent.ReleaseArtifactWhereInput](),
	reflect.TypeFor[ent.ReleaseDefinitionWhereInput](), reflect.TypeFor[ent.ReleaseEnvironmentWhereInput](), reflect.TypeFor[ent.ServiceConnectionWhereInput](),
	reflect.TypeFor[ent.CommitWhereInput](), reflect.TypeFor[ent.UserWhereInput](), reflect.TypeFor[ent.WebhookDeliveryWhereInput](),
	reflect.TypeFor[ent.WorkItemWhereInput](), reflect.TypeFor[ent.StepAttachmentWhereInput](), reflect.TypeFor[ent.VariableGroupWhereInput](),
	reflect.TypeFor[ent.VariableGroupRevisionWhereInput](), reflect.TypeFor[ent.SecureFileWhereInput](),
	reflect.TypeFor[ent.DeploymentGroupWhereInput](),
}

// notDefinitionOwned are the where-input types whose records no definition
// owns (they are read by role, not by readers).
var notDefinitionOwned = map[string]bool{
	"AgentWhereInput": true, "AgentPoolWhereInput": true, "AgentRegistrationWhereInput": true, "ApiTokenWhereInput": true,
	"AuditEventWhereInput": true, "GroupWhereInput": true, "HookDeliveryWhereInput": true, "NotificationWhereInput": true,
	"OutgoingHookWhereInput": true, "ServiceConnectionWhereInput": true, "UserWhereInput": true, "WebhookDeliveryWhereInput": true,
	"WorkItemWhereInput": true, "DeploymentGroupWhereInput": true,
	// The library belongs to no definition: its own permissions guard it (library.go).
	"VariableGroupWhereInput": true, "VariableGroupRevisionWhereInput": true, "SecureFileWhereInput": true,
}

// TestWhereScopeCoversEveryWhereInput walks the where-input types of the
// schema (parsed from the generated file, then by reflection along every
// not/and/or/hasXWith field) and, for every path from any root to every
// definition-owned input (at most three edges deep), checks that ScopeWhere
// gives the input at the end of the path a read-scope predicate. A new edge
// or a new definition-owned type that the scope misses fails here.
func TestWhereScopeCoversEveryWhereInput(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "../ent/gql_where_input.go", nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{}
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok {
			for _, s := range g.Specs {
				if ts, ok := s.(*ast.TypeSpec); ok && strings.HasSuffix(ts.Name.Name, "WhereInput") {
					declared[ts.Name.Name] = true
				}
			}
		}
	}
	listed := map[string]bool{}
	for _, typ := range whereInputs {
		listed[typ.Name()] = true
	}
	for name := range declared {
		if !listed[name] {
			t.Errorf("%s is not in whereInputs: classify it (definition-owned or not)", name)
		}
	}
	paths := 0
	for _, root := range whereInputs {
		var walk func(path []string, depth int)
		walk = func(path []string, depth int) {
			// Build the nested input along path from a fresh root.
			rv := reflect.New(root)
			leaf := rv
			for _, field := range path {
				f := leaf.Elem().FieldByName(field)
				var next reflect.Value
				if f.Kind() == reflect.Slice {
					next = reflect.New(f.Type().Elem().Elem())
					f.Set(reflect.Append(f, next))
				} else {
					next = reflect.New(f.Type().Elem())
					f.Set(next)
				}
				leaf = next
			}
			name := leaf.Elem().Type().Name()
			if len(path) > 0 {
				delivery.ScopeWhere(rv.Interface(), []int{42})
				got := leaf.Elem().FieldByName("Predicates").Len()
				if notDefinitionOwned[name] && got != 0 {
					t.Errorf("%s.%s: %s is not definition-owned but was scoped", root.Name(), strings.Join(path, "."), name)
				}
				if !notDefinitionOwned[name] && got != 1 {
					t.Errorf("%s.%s: %s has %d scope predicates, want 1", root.Name(), strings.Join(path, "."), name, got)
				}
				paths++
			}
			if depth == 3 {
				return
			}
			typ := leaf.Elem().Type()
			for i := range typ.NumField() {
				sf := typ.Field(i)
				if sf.Name != "Not" && sf.Name != "And" && sf.Name != "Or" && !strings.HasPrefix(sf.Name, "Has") {
					continue
				}
				if (sf.Type.Kind() == reflect.Slice || sf.Type.Kind() == reflect.Pointer) && sf.Type.Elem().Kind() == reflect.Pointer &&
					strings.HasSuffix(sf.Type.Elem().Elem().Name(), "WhereInput") {
					walk(append(append([]string(nil), path...), sf.Name), depth+1)
				} else if sf.Type.Kind() == reflect.Pointer && strings.HasSuffix(sf.Type.Elem().Name(), "WhereInput") {
					walk(append(append([]string(nil), path...), sf.Name), depth+1)
				}
			}
		}
		walk(nil, 0)
	}
	if paths < 100 {
		t.Fatalf("only %d paths walked: the walk is broken", paths)
	}
	t.Logf("%d where paths checked", paths)
}
