package condition

import (
	"strings"
	"testing"
)

func TestEval(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"TARGET": "Prod", "COUNT": "3", "FLAG": "true", "RELEASE.ENVIRONMENTNAME": "QA"}
	lookup := func(n string) (string, bool) { v, ok := vars[strings.ToUpper(n)]; return v, ok }
	ok, failed, canceled := State{Variable: lookup}, State{Failed: true, Variable: lookup}, State{Canceled: true, Failed: true, Variable: lookup}
	for _, tt := range []struct {
		cond               string
		ok, failed, cancel bool
	}{
		{"", true, false, false},
		{"SUCCEEDED", true, false, false},
		{"always", true, true, true},
		{"FAILED", false, true, false},
		{"CANCELED", false, false, true},
		{"succeededOrFailed()", true, true, false},
		{"eq(variables['target'], 'prod')", true, false, false}, // implicit succeeded(), case-insensitive
		{"and(always(), eq(variables.Target, 'PROD'))", true, true, true},
		{"or(failed(), canceled())", false, true, true},
		{"and(succeeded(), ne(variables['missing'], ''))", false, false, false},
		{"and(always(), gt(variables['count'], 2), lt(variables['count'], 10.5))", true, true, true},
		{"and(always(), in(variables['Release.EnvironmentName'], 'Dev', 'qa'))", true, true, true},
		{"and(always(), notIn('x', 'a', 'b'), contains('Hello', 'ELL'), startsWith('abc','A'), endsWith('abc','C'))", true, true, true},
		{"and(always(), eq(true, variables['flag']), not(false), xor(true, false), eq('it''s', 'IT''S'))", true, true, true},
		{"and(always(), eq(variables['count'], 3))", true, true, true},
		{"not(succeeded())", false, true, true},
	} {
		e, err := Parse(tt.cond)
		if err != nil {
			t.Errorf("%q: %v", tt.cond, err)
			continue
		}
		if got := e.Eval(ok); got != tt.ok {
			t.Errorf("%q on success = %v", tt.cond, got)
		}
		if got := e.Eval(failed); got != tt.failed {
			t.Errorf("%q on failure = %v", tt.cond, got)
		}
		if got := e.Eval(canceled); got != tt.cancel {
			t.Errorf("%q on cancel = %v", tt.cond, got)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for cond, want := range map[string]string{
		"eq(variables['x'], 'y'":  "missing ')' of eq",
		"eq('a')":                 "eq takes 2 arguments, not 1",
		"and(true)":               "and takes at least 2 arguments",
		"sometimes()":             "unknown function sometimes",
		"variables['x":            "unterminated string",
		"variables[x]":            "expected variables['name']",
		"eq('a','b') extra":       "unexpected",
		"'a":                      "unterminated string",
		"prod":                    "is not a function call",
		"eq(1.2.3, 1)":            "is not a number",
		strings.Repeat("x", 2001): "longer than 2000",
		strings.Repeat("not(", 40) + "true" + strings.Repeat(")", 40): "nested deeper",
	} {
		err := Validate(cond)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.40q: error %v, want %q", cond, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"and(succeeded(), eq(variables['a'], 'b'))", "in(1, 2, '3')", "not(not(x", "variables.a.b", "'it''s'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			return
		}
		e.Eval(State{Failed: true, Variable: func(string) (string, bool) { return "1", true }})
	})
}
