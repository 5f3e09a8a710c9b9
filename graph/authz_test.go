package graph

import (
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestEveryRootFieldDeclaresARole fails when a Query, Mutation or
// Subscription field has neither an @auth directive nor an entry for
// generated fields: such a field would be refused at run time.
func TestEveryRootFieldDeclaresARole(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	for _, root := range []*ast.Definition{schema.Query, schema.Mutation, schema.Subscription} {
		if root == nil {
			continue
		}
		for _, f := range root.Fields {
			if len(f.Name) > 1 && f.Name[:2] == "__" {
				continue
			}
			fc := &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Name: f.Name, Definition: f}}}
			if _, ok := rootRole(root.Name, fc); !ok {
				t.Errorf("%s.%s declares no role: add @auth(role: …)", root.Name, f.Name)
			}
		}
	}
}

func TestSelectionDepth(t *testing.T) {
	inner := ast.SelectionSet{&ast.Field{Name: "c"}}
	mid := ast.SelectionSet{&ast.Field{Name: "b", SelectionSet: inner}}
	frags := ast.FragmentDefinitionList{{Name: "F", SelectionSet: mid}}
	top := ast.SelectionSet{&ast.Field{Name: "a", SelectionSet: ast.SelectionSet{&ast.FragmentSpread{Name: "F"}}}}
	if d := selectionDepth(top, frags, 0); d != 3 {
		t.Fatalf("depth = %d, want 3", d)
	}
}
