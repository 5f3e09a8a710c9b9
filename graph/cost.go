package graph

import (
	"context"
	"errors"
	"fmt"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/cairnhq/cairn/delivery"
)

// Limits of an operation's size and cost, besides the complexity limit
// (Options.ComplexityLimit) and the depth limit.
const (
	// DefaultMaxFields caps the fields an operation document selects, counted
	// with every fragment spread expanded, aliases and introspection included.
	DefaultMaxFields = 1000
	// maxSameResponseName caps how often one response name (a field or its
	// alias) is selected in one selection set, fragments included. gqlgen's
	// validation compares the fields of one response name pairwise
	// (OverlappingFieldsCanBeMerged), so this cap keeps that cost linear in
	// the document; real queries repeat a name a handful of times at most.
	maxSameResponseName = 64
	// parserTokenLimit caps the tokens of a query document.
	parserTokenLimit = 50000
	// schemaIntrospectionCost is the complexity of one __schema selection:
	// it answers with every type of the schema, so it costs like a large
	// page: a client's usual introspection query fits the default limit of
	// 5000, a fourth alias of __schema does not.
	schemaIntrospectionCost = 1500
	// typeIntrospectionCost is the complexity of one __type(name:) selection.
	typeIntrospectionCost = 20
)

// fieldBudget refuses a document that selects too many fields, or one
// response name too often, before gqlgen parses and validates it: it runs as
// an OperationParameterMutator, on the raw query, so the cost of refusing is
// one linear parse and one walk bounded by the limits (never the quadratic
// field merging of validation).
type fieldBudget struct{ maxFields int }

var _ interface {
	graphql.OperationParameterMutator
	graphql.HandlerExtension
} = fieldBudget{}

func (fieldBudget) ExtensionName() string { return "FieldBudget" }

func (fieldBudget) Validate(graphql.ExecutableSchema) error { return nil }

func (b fieldBudget) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Query == "" {
		return nil // a persisted query not known yet: gqlgen answers
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, parserTokenLimit)
	if err != nil {
		return nil // gqlgen's own parse reports it
	}
	w := budgetWalker{frags: doc.Fragments, max: b.maxFields, visiting: map[string]bool{}}
	for _, op := range doc.Operations {
		if err := w.walk(op.SelectionSet, map[string]int{}); err != nil {
			e := gqlerror.Errorf("%v", err)
			e.Extensions = map[string]any{"code": string(delivery.CodeInvalidInput), "reason": "COMPLEXITY_LIMIT_EXCEEDED"}
			return e
		}
	}
	return nil
}

// errTooManyFields ends a budget walk.
var errTooManyFields = errors.New("too many fields")

type budgetWalker struct {
	frags    ast.FragmentDefinitionList
	max      int
	fields   int
	visiting map[string]bool
}

// walk counts set's fields into w.fields and its response names into names
// (shared by the inline fragments and spreads of one selection set). Each
// step counts a field or enters a fragment, and every fragment ends in
// fields or a cycle, so the walk stops soon after the budget is spent.
func (w *budgetWalker) walk(set ast.SelectionSet, names map[string]int) error {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			w.fields++
			if w.fields > w.max {
				return fmt.Errorf("operation exceeds the complexity budget: it selects more than %d fields (aliases, fragments and introspection included)", w.max)
			}
			name := s.Alias
			if name == "" {
				name = s.Name
			}
			names[name]++
			if names[name] > maxSameResponseName {
				return fmt.Errorf("operation exceeds the complexity budget: %q is selected more than %d times in one selection set", name, maxSameResponseName)
			}
			if len(s.SelectionSet) > 0 {
				if err := w.walk(s.SelectionSet, map[string]int{}); err != nil {
					return err
				}
			}
		case *ast.InlineFragment:
			if err := w.walk(s.SelectionSet, names); err != nil {
				return err
			}
		case *ast.FragmentSpread:
			f := w.frags.ForName(s.Name)
			if f == nil || w.visiting[s.Name] {
				continue // unknown or cyclic: validation refuses it
			}
			w.visiting[s.Name] = true
			err := w.walk(f.SelectionSet, names)
			delete(w.visiting, s.Name)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// complexityLimit is gqlgen's FixedComplexityLimit with introspection
// counted: gqlgen's calculation skips every __schema selection, so 300
// aliases of it cost nothing there; here each costs schemaIntrospectionCost
// and each __type typeIntrospectionCost, added to the same budget.
type complexityLimit struct {
	limit int
	es    graphql.ExecutableSchema
}

var _ interface {
	graphql.OperationContextMutator
	graphql.HandlerExtension
} = &complexityLimit{}

func (*complexityLimit) ExtensionName() string { return "ComplexityLimit" }

func (c *complexityLimit) Validate(es graphql.ExecutableSchema) error {
	c.es = es
	return nil
}

func (c *complexityLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	cost := complexity.Calculate(ctx, c.es, oc.Operation, oc.Variables) +
		introspectionCost(oc.Operation.SelectionSet, oc.Doc.Fragments, 0)
	if cost > c.limit {
		err := gqlerror.Errorf("operation has complexity %d, which exceeds the limit of %d", cost, c.limit)
		err.Extensions = map[string]any{"code": string(delivery.CodeInvalidInput), "reason": "COMPLEXITY_LIMIT_EXCEEDED"}
		return err
	}
	return nil
}

// introspectionCost is the cost of set's __schema and __type selections,
// wherever they are (validated document: fragments are acyclic; depth
// bounds the walk anyway).
func introspectionCost(set ast.SelectionSet, frags ast.FragmentDefinitionList, depth int) int {
	if depth > 100 {
		return 0
	}
	cost := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			switch s.Name {
			case "__schema":
				cost += schemaIntrospectionCost
			case "__type":
				cost += typeIntrospectionCost
			default:
				cost += introspectionCost(s.SelectionSet, frags, depth+1)
			}
		case *ast.InlineFragment:
			cost += introspectionCost(s.SelectionSet, frags, depth+1)
		case *ast.FragmentSpread:
			if f := frags.ForName(s.Name); f != nil {
				cost += introspectionCost(f.SelectionSet, frags, depth+1)
			}
		}
	}
	return cost
}

// errClientGone is what a field resolves to once its request's context is
// done: the client disconnected (or the server is stopping).
var errClientGone = errors.New("the request was canceled")

// fieldMiddleware is the server's one field middleware, run around every field: it applies the
// read scope to a "where" argument (scopeWhere), resolves nothing more once the request's
// context is done, so an expensive answer stops being built when its client disconnects (gqlgen
// itself checks no context between fields), and marks the resolver's errors
// (markResolverError). One function rather than three middlewares: gqlgen allocates a closure
// per field and middleware.
func fieldMiddleware(ctx context.Context, next graphql.Resolver) (any, error) {
	if ctx.Err() != nil {
		return nil, errClientGone // not a resolver's error: the presenter names it
	}
	scopeWhere(ctx)
	res, err := next(ctx)
	return res, markResolverError(err)
}
