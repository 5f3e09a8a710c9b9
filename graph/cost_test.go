package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// costHandler is the real GraphQL handler; the operations here are answered
// from the schema alone (introspection, __typename), so it needs no engine.
func costHandler() http.Handler { return NewHandler(&Resolver{}, Options{}) }

type gqlResult struct {
	Data   json.RawMessage
	Errors []struct {
		Message    string
		Extensions map[string]any
	}
}

func postQuery(tb testing.TB, h http.Handler, ctx context.Context, query string) gqlResult {
	tb.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out gqlResult
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		tb.Fatalf("answer %q: %v", rec.Body.String(), err)
	}
	return out
}

// hostileOperations are the costly documents of issue 22 and their neighbours.
var hostileOperations = map[string]string{
	// 300 aliases of __schema: ~50 s of CPU and 600 MiB before (gqlgen's
	// complexity skips __schema).
	"schema_aliases_300": aliases(300, "s%d: __schema { types { name } }"),
	// 4,000 copies of one field: ~9 s of validation before (pairwise merging).
	"same_field_4000": "{" + strings.Repeat(" __typename", 4000) + " }",
	// 1,001 distinct aliases: over the field cap.
	"fields_1001": aliases(1001, "a%d: __typename"),
	// fragments that double at each level: 2^20 fields once expanded.
	"fragment_doubling_20": fragmentDoubling(20),
}

func aliases(n int, format string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		b.WriteString(" ")
		fmt.Fprintf(&b, format, i)
	}
	b.WriteString(" }")
	return b.String()
}

func fragmentDoubling(levels int) string {
	var b strings.Builder
	b.WriteString("query { ...F0 }\n")
	for i := range levels {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ... on Query { ...F%d } }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { __typename }\n", levels)
	return b.String()
}

// introspectionQuery is a client's usual schema query (GraphiQL's, abridged).
const introspectionQuery = `query IntrospectionQuery { __schema {
	queryType { name } mutationType { name } subscriptionType { name }
	types { ...FullType }
	directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description
	fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
	inputFields { ...InputValue } interfaces { ...TypeRef }
	enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
	possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } }`

// TestHostileOperationsRefused: each costly document is refused as
// INVALID_INPUT naming the limit it broke, before anything runs, while a
// client's usual introspection query and a name repeated within the cap
// are answered.
func TestHostileOperationsRefused(t *testing.T) {
	t.Parallel()
	h := costHandler()
	want := map[string]string{
		"schema_aliases_300":   "complexity",
		"same_field_4000":      `"__typename" is selected more than 64 times`,
		"fields_1001":          "more than 1000 fields",
		"fragment_doubling_20": `"__typename" is selected more than 64 times`,
	}
	for name, q := range hostileOperations {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := postQuery(t, h, t.Context(), q)
			if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, want[name]) || r.Errors[0].Extensions["code"] != "INVALID_INPUT" {
				t.Fatalf("errors %+v", r.Errors)
			}
			if len(r.Data) != 0 && string(r.Data) != "null" {
				t.Fatalf("data %s", r.Data)
			}
		})
	}
	for name, q := range map[string]string{
		"introspection":    introspectionQuery,
		"same_field_64":    "{" + strings.Repeat(" __typename", 64) + " }",
		"schema_aliases_2": aliases(2, "s%d: __schema { types { name } }"),
	} {
		r := postQuery(t, h, t.Context(), q)
		if len(r.Errors) != 0 || len(r.Data) < 10 {
			t.Errorf("%s: errors %+v", name, r.Errors)
		}
	}
	r := postQuery(t, h, t.Context(), aliases(5, "s%d: __schema { types { name } }"))
	if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, "complexity") {
		t.Errorf("five aliases of __schema: %+v", r.Errors)
	}
}

// disconnecting is a request context whose client leaves after the
// operation has started: its Err reports nothing for the first n checks,
// then cancellation (and Done closes), as when net/http notices the
// connection closed mid-answer.
type disconnecting struct {
	context.Context
	n    atomic.Int64
	once sync.Once
	done chan struct{}
}

func (c *disconnecting) Done() <-chan struct{} { return c.done }

func (c *disconnecting) Err() error {
	if c.n.Add(-1) >= 0 {
		return nil
	}
	c.once.Do(func() { close(c.done) })
	return context.Canceled
}

// TestExecutionStopsWithTheRequest: once the client is gone mid-answer, no
// more fields are resolved: the answer ends in the cancellation instead of
// the whole schema being built for nobody.
func TestExecutionStopsWithTheRequest(t *testing.T) {
	t.Parallel()
	h := costHandler()
	full := postQuery(t, h, t.Context(), introspectionQuery)
	ctx := &disconnecting{Context: t.Context(), done: make(chan struct{})}
	ctx.n.Store(100)
	r := postQuery(t, h, ctx, introspectionQuery)
	if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "the request was canceled") {
		t.Fatalf("errors %+v", r.Errors)
	}
	if len(r.Data)*10 > len(full.Data) {
		t.Fatalf("%d of %d bytes were built after the client left", len(r.Data), len(full.Data))
	}
}

// BenchmarkHostileOperations measures what refusing each costly document
// costs (and, for scale, answering the usual introspection query); the
// figures are in BENCHMARKS.md.
func BenchmarkHostileOperations(b *testing.B) {
	h := costHandler()
	cases := map[string]string{"introspection_accepted": introspectionQuery}
	for k, v := range hostileOperations {
		cases[k] = v
	}
	for _, name := range []string{"introspection_accepted", "schema_aliases_300", "same_field_4000", "fields_1001", "fragment_doubling_20"} {
		q := cases[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				postQuery(b, h, context.Background(), q)
			}
		})
	}
}
