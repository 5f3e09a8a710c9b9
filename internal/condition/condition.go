// Package condition parses and evaluates task conditions: when a task of a deployment job runs,
// given how the job went so far. It takes the subset of Azure Pipelines' expression syntax that
// classic release tasks use, so that conditions copied from Azure work unchanged:
//
//   - the keywords SUCCEEDED, ALWAYS, FAILED, CANCELED (a whole condition; any case);
//   - status functions succeeded(), failed(), canceled(), always(), succeededOrFailed();
//   - and, or, xor, not; eq, ne, gt, ge, lt, le; contains, startsWith, endsWith, in, notIn;
//   - literals 'text' (a single quote inside is written twice), numbers, true, false;
//   - variables['Name'] and variables.Name (names case-insensitive; unknown: empty).
//
// As in Azure, an expression that calls no status function runs only when the job has succeeded
// so far: "eq(variables['target'], 'prod')" means "and(succeeded(), eq(…))". String comparisons
// ignore case. The server validates conditions when a definition is saved; the agent evaluates
// them before each task. The package uses nothing but the standard library.
package condition

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits that keep a hostile condition cheap.
const (
	MaxLength = 2000
	maxDepth  = 32
)

// State is how the job went so far, and its variables.
type State struct {
	// Failed: an earlier task failed (one that does not continue on error), or the job timed out.
	Failed bool
	// Canceled: the job was canceled (by a person, or the agent is shutting down).
	Canceled bool
	// Variable returns a variable's value by name (as the condition spells it); nil: none.
	Variable func(name string) (string, bool)
}

// Expr is a parsed condition.
type Expr struct {
	root node
}

type node interface{}

type (
	lit     struct{ v value }
	varRef  struct{ name string }
	funcall struct {
		name string // lower case
		args []node
	}
)

type value struct {
	kind byte // 's' string, 'n' number, 'b' bool
	s    string
	n    float64
	b    bool
}

// Keywords and the status functions they stand for.
// The keyword conditions, as a definition stores them (Succeeded is stored as "", the default).
const (
	Succeeded = "SUCCEEDED"
	Always    = "ALWAYS"
	Failed    = "FAILED"
	Canceled  = "CANCELED"
)

// IsKeyword reports whether k (upper case) is one of the keyword conditions.
func IsKeyword(k string) bool { return k == Succeeded || k == Always || k == Failed || k == Canceled }

var keywords = map[string]string{
	"succeeded": "succeeded()", "always": "always()", "failed": "failed()", "canceled": "canceled()",
	"cancelled": "canceled()",
}

type arity struct{ min, max int } // max -1: unbounded

var functions = map[string]arity{
	"always": {0, 0}, "succeeded": {0, 0}, "failed": {0, 0}, "canceled": {0, 0}, "succeededorfailed": {0, 0},
	"and": {2, -1}, "or": {2, -1}, "xor": {2, 2}, "not": {1, 1},
	"eq": {2, 2}, "ne": {2, 2}, "gt": {2, 2}, "ge": {2, 2}, "lt": {2, 2}, "le": {2, 2},
	"contains": {2, 2}, "startswith": {2, 2}, "endswith": {2, 2}, "in": {2, -1}, "notin": {2, -1},
}

var statusFunctions = map[string]bool{"always": true, "succeeded": true, "failed": true, "canceled": true, "succeededorfailed": true}

// Parse parses a condition; empty means SUCCEEDED. The error says what is wrong and where.
func Parse(s string) (*Expr, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxLength {
		return nil, fmt.Errorf("condition is longer than %d characters", MaxLength)
	}
	if s == "" {
		s = "succeeded()"
	}
	if k, ok := keywords[strings.ToLower(s)]; ok {
		s = k
	}
	p := &parser{src: s}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(p.src) {
		return nil, p.errorf("unexpected %q", p.rest())
	}
	if !usesStatus(n) {
		n = funcall{name: "and", args: []node{funcall{name: "succeeded"}, n}}
	}
	return &Expr{root: n}, nil
}

// Validate returns why s is not a valid condition, or nil.
func Validate(s string) error {
	_, err := Parse(s)
	return err
}

func usesStatus(n node) bool {
	f, ok := n.(funcall)
	if !ok {
		return false
	}
	if statusFunctions[f.name] {
		return true
	}
	for _, a := range f.args {
		if usesStatus(a) {
			return true
		}
	}
	return false
}

// Eval says whether the task runs in state st.
func (e *Expr) Eval(st State) bool {
	return truthy(eval(e.root, st))
}

func eval(n node, st State) value {
	switch n := n.(type) {
	case lit:
		return n.v
	case varRef:
		if st.Variable != nil {
			if v, ok := st.Variable(n.name); ok {
				return value{kind: 's', s: v}
			}
		}
		return value{kind: 's'}
	case funcall:
		arg := func(i int) value { return eval(n.args[i], st) }
		b := func(v bool) value { return value{kind: 'b', b: v} }
		switch n.name {
		case "always":
			return b(true)
		case "succeeded":
			return b(!st.Failed && !st.Canceled)
		case "failed":
			return b(st.Failed && !st.Canceled)
		case "canceled":
			return b(st.Canceled)
		case "succeededorfailed":
			return b(!st.Canceled)
		case "and":
			for i := range n.args {
				if !truthy(arg(i)) {
					return b(false)
				}
			}
			return b(true)
		case "or":
			for i := range n.args {
				if truthy(arg(i)) {
					return b(true)
				}
			}
			return b(false)
		case "xor":
			return b(truthy(arg(0)) != truthy(arg(1)))
		case "not":
			return b(!truthy(arg(0)))
		case "eq":
			return b(compare(arg(0), arg(1)) == 0)
		case "ne":
			return b(compare(arg(0), arg(1)) != 0)
		case "gt":
			return b(compare(arg(0), arg(1)) > 0)
		case "ge":
			return b(compare(arg(0), arg(1)) >= 0)
		case "lt":
			return b(compare(arg(0), arg(1)) < 0)
		case "le":
			return b(compare(arg(0), arg(1)) <= 0)
		case "contains":
			return b(strings.Contains(strings.ToLower(text(arg(0))), strings.ToLower(text(arg(1)))))
		case "startswith":
			return b(strings.HasPrefix(strings.ToLower(text(arg(0))), strings.ToLower(text(arg(1)))))
		case "endswith":
			return b(strings.HasSuffix(strings.ToLower(text(arg(0))), strings.ToLower(text(arg(1)))))
		case "in", "notin":
			x := arg(0)
			found := false
			for i := 1; i < len(n.args) && !found; i++ {
				found = compare(x, arg(i)) == 0
			}
			return b(found == (n.name == "in"))
		}
	}
	return value{kind: 'b'}
}

func truthy(v value) bool {
	switch v.kind {
	case 'b':
		return v.b
	case 'n':
		return v.n != 0
	default:
		return v.s != ""
	}
}

func text(v value) string {
	switch v.kind {
	case 'b':
		if v.b {
			return "True"
		}
		return "False"
	case 'n':
		return strconv.FormatFloat(v.n, 'f', -1, 64)
	default:
		return v.s
	}
}

// compare converts the right operand to the left one's type, as Azure does: numbers compare as
// numbers (a string that is not a number is unequal), booleans as booleans, strings ignoring case.
// Unlike Azure, two strings that both read as numbers ("3", "10.5") compare as numbers: a
// variable's value is always a string, and "3" < "10.5" is what a condition's author means.
func compare(a, b value) int {
	if a.kind == 's' && b.kind != 'b' {
		if an, ok := number(a); ok {
			if _, ok := number(b); ok {
				a = value{kind: 'n', n: an}
			}
		}
	}
	switch a.kind {
	case 'n':
		bn, ok := number(b)
		if !ok {
			return 1
		}
		switch {
		case a.n < bn:
			return -1
		case a.n > bn:
			return 1
		}
		return 0
	case 'b':
		bb := truthy(b)
		if b.kind == 's' {
			pb, err := strconv.ParseBool(strings.TrimSpace(b.s))
			bb = err == nil && pb
		}
		switch {
		case a.b == bb:
			return 0
		case bb:
			return -1
		}
		return 1
	}
	return strings.Compare(strings.ToLower(a.s), strings.ToLower(text(b)))
}

func number(v value) (float64, bool) {
	switch v.kind {
	case 'n':
		return v.n, true
	case 'b':
		if v.b {
			return 1, true
		}
		return 0, true
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(v.s), 64)
	return n, err == nil
}

type parser struct {
	src string
	i   int
}

var errSyntax = errors.New("condition syntax")

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at position %d", errSyntax, fmt.Sprintf(format, args...), p.i+1)
}

func (p *parser) rest() string {
	r := p.src[p.i:]
	if len(r) > 20 {
		r = r[:20] + "…"
	}
	return r
}

func (p *parser) space() {
	for p.i < len(p.src) && strings.ContainsRune(" \t\r\n", rune(p.src[p.i])) {
		p.i++
	}
}

func (p *parser) ident() string {
	start := p.i
	for p.i < len(p.src) {
		c := p.src[p.i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || p.i > start && (c >= '0' && c <= '9') {
			p.i++
			continue
		}
		break
	}
	return p.src[start:p.i]
}

func (p *parser) expr(depth int) (node, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested deeper than %d", maxDepth)
	}
	p.space()
	if p.i >= len(p.src) {
		return nil, p.errorf("expression expected")
	}
	c := p.src[p.i]
	switch {
	case c == '\'':
		s, err := p.quoted()
		if err != nil {
			return nil, err
		}
		return lit{value{kind: 's', s: s}}, nil
	case c >= '0' && c <= '9' || c == '-' || c == '.':
		start := p.i
		for p.i < len(p.src) && strings.IndexByte("0123456789.-+eE", p.src[p.i]) >= 0 {
			p.i++
		}
		n, err := strconv.ParseFloat(p.src[start:p.i], 64)
		if err != nil {
			p.i = start
			return nil, p.errorf("%q is not a number", p.rest())
		}
		return lit{value{kind: 'n', n: n}}, nil
	}
	start := p.i
	name := p.ident()
	if name == "" {
		return nil, p.errorf("unexpected %q", p.rest())
	}
	lower := strings.ToLower(name)
	switch lower {
	case "true", "false":
		return lit{value{kind: 'b', b: lower == "true"}}, nil
	case "variables":
		return p.variable()
	}
	p.space()
	if p.i >= len(p.src) || p.src[p.i] != '(' {
		p.i = start
		return nil, p.errorf("%q is not a function call, literal or variables['name']", name)
	}
	ar, ok := functions[lower]
	if !ok {
		p.i = start
		return nil, p.errorf("unknown function %s", name)
	}
	p.i++ // (
	var args []node
	p.space()
	if p.i < len(p.src) && p.src[p.i] == ')' {
		p.i++
	} else {
		for {
			a, err := p.expr(depth + 1)
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			p.space()
			if p.i >= len(p.src) {
				return nil, p.errorf("missing ')' of %s", name)
			}
			if p.src[p.i] == ',' {
				p.i++
				continue
			}
			if p.src[p.i] == ')' {
				p.i++
				break
			}
			return nil, p.errorf("expected ',' or ')' in %s, found %q", name, p.rest())
		}
	}
	if len(args) < ar.min || ar.max >= 0 && len(args) > ar.max {
		p.i = start
		want := strconv.Itoa(ar.min)
		switch {
		case ar.max < 0:
			want = "at least " + want
		case ar.max != ar.min:
			want += " to " + strconv.Itoa(ar.max)
		}
		return nil, p.errorf("%s takes %s arguments, not %d", name, want, len(args))
	}
	return funcall{name: lower, args: args}, nil
}

// variable parses the rest of variables['name'] or variables.name.
func (p *parser) variable() (node, error) {
	if p.i < len(p.src) && p.src[p.i] == '.' {
		p.i++
		start := p.i
		for p.i < len(p.src) && (p.src[p.i] == '.' || p.src[p.i] == '_' || p.src[p.i] == '-' ||
			p.src[p.i] >= 'a' && p.src[p.i] <= 'z' || p.src[p.i] >= 'A' && p.src[p.i] <= 'Z' || p.src[p.i] >= '0' && p.src[p.i] <= '9') {
			p.i++
		}
		if p.i == start {
			return nil, p.errorf("variable name expected after 'variables.'")
		}
		return varRef{name: p.src[start:p.i]}, nil
	}
	if p.i+1 >= len(p.src) || p.src[p.i] != '[' || p.src[p.i+1] != '\'' {
		return nil, p.errorf("expected variables['name'] or variables.name")
	}
	p.i++
	name, err := p.quoted()
	if err != nil {
		return nil, err
	}
	if p.i >= len(p.src) || p.src[p.i] != ']' {
		return nil, p.errorf("missing ']' after variables['%s'", name)
	}
	p.i++
	if strings.TrimSpace(name) == "" {
		return nil, p.errorf("empty variable name")
	}
	return varRef{name: name}, nil
}

// quoted parses a 'string' in which a doubled single quote stands for one.
func (p *parser) quoted() (string, error) {
	start := p.i
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.src) {
		c := p.src[p.i]
		p.i++
		if c == '\'' {
			if p.i < len(p.src) && p.src[p.i] == '\'' {
				b.WriteByte('\'')
				p.i++
				continue
			}
			return b.String(), nil
		}
		b.WriteByte(c)
	}
	p.i = start
	return "", p.errorf("unterminated string")
}
