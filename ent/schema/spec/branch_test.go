package spec

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestNormalizeBranch(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"main":                           "main",
		"refs/heads/main":                "main",
		"origin/main":                    "main",
		"refs/remotes/origin/main":       "main",
		"remotes/origin/feature/x":       "feature/x",
		"refs/heads/release/1.0":         "release/1.0",
		"  refs/heads/main ":             "main",
		"refs/tags/v1.0":                 "refs/tags/v1.0",
		"refs/pull/3/merge":              "refs/pull/3/merge",
		"refs/heads/origin/x":            "origin/x", // one prefix only
		"upstream/main":                  "upstream/main",
		"":                               "",
		"refs/heads/":                    "",
		"refs/remotes/origin/refs/heads": "refs/heads",
	} {
		if got := NormalizeBranch(in); got != want {
			t.Errorf("NormalizeBranch(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidateBranchFilters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		filters []string
		index   int    // -1: valid
		reason  string // substring of the reason
	}{
		{"none", nil, -1, ""},
		{"plain", []string{"main", "release/*", "-release/old*", "+hotfix/*", "refs/heads/dev", "feature/*-wip"}, -1, ""},
		{"star alone", []string{"*"}, -1, ""},
		{"empty", []string{"main", ""}, 1, "empty pattern"},
		{"blank", []string{"   "}, 0, "empty pattern"},
		{"padded", []string{" main"}, 0, "spaces"},
		{"dash alone", []string{"-"}, 0, `"-" alone`},
		{"plus alone", []string{"+"}, 0, `"+" alone`},
		{"double prefix", []string{"--main"}, 0, "more than one"},
		{"prefix only", []string{"refs/heads/"}, 0, "no branch name"},
		{"double star", []string{"release/**"}, 0, `"**"`},
		{"space", []string{"my branch"}, 0, "space"},
		{"tilde", []string{"a~1"}, 0, `'~'`},
		{"caret", []string{"a^"}, 0, `'^'`},
		{"colon", []string{"a:b"}, 0, `':'`},
		{"question", []string{"rel?"}, 0, `'?'`},
		{"bracket", []string{"rel[12]"}, 0, `'['`},
		{"backslash", []string{`a\b`}, 0, `'\\'`},
		{"control", []string{"a\tb"}, 0, "control"},
		{"dotdot", []string{"a..b"}, 0, `".."`},
		{"at brace", []string{"a@{1}"}, 0, `"@{"`},
		{"at alone", []string{"@"}, 0, `"@"`},
		{"double slash", []string{"a//b"}, 0, "//"},
		{"leading slash", []string{"/a"}, 0, `"/"`},
		{"trailing slash", []string{"a/"}, 0, `"/"`},
		{"trailing dot", []string{"a."}, 0, `"."`},
		{"lock", []string{"a.lock"}, 0, ".lock"},
		{"dot component", []string{"a/.b"}, 0, `".b"`},
		{"too long", []string{strings.Repeat("a", 256)}, 0, "longer than"},
		{"exclude checked too", []string{"main", "-a b"}, 1, "space"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateBranchFilters(tt.filters)
			if tt.index < 0 {
				if err != nil {
					t.Fatalf("ValidateBranchFilters(%q) = %v, want nil", tt.filters, err)
				}
				return
			}
			var fe *BranchFilterError
			if !errors.As(err, &fe) {
				t.Fatalf("ValidateBranchFilters(%q) = %v, want a *BranchFilterError", tt.filters, err)
			}
			if !errors.Is(err, ErrInvalidBranchFilter) {
				t.Errorf("error %v does not wrap ErrInvalidBranchFilter", err)
			}
			if fe.Index != tt.index || !strings.Contains(fe.Reason, tt.reason) {
				t.Errorf("got index %d reason %q, want index %d reason containing %q", fe.Index, fe.Reason, tt.index, tt.reason)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.filters[tt.index])) {
				t.Errorf("message %q does not quote the pattern", err)
			}
		})
	}
}

func TestBranchAdmitted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filters []string
		branch  string
		want    bool
	}{
		{nil, "anything", true},
		{[]string{}, "refs/heads/main", true},
		{[]string{"main"}, "main", true},
		{[]string{"main"}, "refs/heads/main", true},
		{[]string{"main"}, "origin/main", true},
		{[]string{"refs/heads/main"}, "origin/main", true},
		{[]string{"main"}, "main2", false},
		{[]string{"main"}, "Main", false}, // case-sensitive
		{[]string{"main"}, "feature/main", false},
		{[]string{"release/*"}, "release/1.0", true},
		{[]string{"release/*"}, "release/1.0/hotfix", true}, // * crosses "/"
		{[]string{"release/*"}, "release/", true},           // * matches nothing
		{[]string{"release/*"}, "release", false},
		{[]string{"release/*"}, "prerelease/1", false},
		{[]string{"*"}, "whatever/x", true},
		{[]string{"*-wip"}, "feature/a-wip", true},
		{[]string{"*-wip"}, "feature/a-wipe", false},
		{[]string{"f*a*b"}, "fxxaxxb", true},
		{[]string{"f*a*b"}, "fxxaxxbc", false},
		{[]string{"f*a*b"}, "fab", true},
		{[]string{"main", "release/*"}, "release/2", true},
		{[]string{"main", "release/*"}, "dev", false},
		{[]string{"+release/*"}, "release/2", true},
		{[]string{"+release/*"}, "dev", false},
		// Exclusions win.
		{[]string{"release/*", "-release/old*"}, "release/old-1", false},
		{[]string{"release/*", "-release/old*"}, "release/new", true},
		{[]string{"-release/old*", "release/*"}, "release/old-1", false}, // order does not matter
		{[]string{"main", "-main"}, "main", false},
		// Exclusions only: everything else is admitted.
		{[]string{"-dependabot/*"}, "main", true},
		{[]string{"-dependabot/*"}, "dependabot/npm/x", false},
		{[]string{"-refs/heads/tmp"}, "origin/tmp", false},
		// Empty filters are skipped, not "match nothing".
		{[]string{"", "-"}, "main", true},
		{[]string{"", "main"}, "dev", false},
	}
	for _, tt := range tests {
		if got := BranchAdmitted(tt.filters, tt.branch); got != tt.want {
			t.Errorf("BranchAdmitted(%q, %q) = %v, want %v", tt.filters, tt.branch, got, tt.want)
		}
	}
}

func FuzzMatchWildcard(f *testing.F) {
	f.Add("release/*", "release/1")
	f.Add("*a*b*", "xaxbx")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(s) > 24 || strings.Count(pattern, "*") > 6 {
			t.Skip("too large for the exponential reference matcher")
		}
		got := matchWildcard(pattern, s)
		if want := matchNaive(pattern, s); got != want {
			t.Fatalf("matchWildcard(%q, %q) = %v, naive says %v", pattern, s, got, want)
		}
	})
}

// matchNaive is the obviously correct exponential matcher the fast one is
// checked against.
func matchNaive(p, s string) bool {
	if p == "" {
		return s == ""
	}
	if p[0] == '*' {
		for i := 0; i <= len(s); i++ {
			if matchNaive(p[1:], s[i:]) {
				return true
			}
		}
		return false
	}
	return s != "" && p[0] == s[0] && matchNaive(p[1:], s[1:])
}
