package spec

import (
	"errors"
	"fmt"
	"strings"
)

// branchPrefixes are stripped by NormalizeBranch, longest first, so that
// "refs/remotes/origin/x" does not leave "origin/x" behind.
var branchPrefixes = []string{"refs/remotes/origin/", "remotes/origin/", "refs/heads/", "origin/"}

// NormalizeBranch returns the short name of a branch as CI servers report it:
// Jenkins' git plugin says "origin/main" or "refs/remotes/origin/main", Team
// Build says "refs/heads/main". One prefix is stripped, surrounding spaces are
// trimmed, and anything else ("refs/tags/v1", "refs/pull/3/merge") is kept as
// it is.
func NormalizeBranch(s string) string {
	s = strings.TrimSpace(s)
	for _, p := range branchPrefixes {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return rest
		}
	}
	return s
}

// ErrInvalidBranchFilter is wrapped by every error of ValidateBranchFilters.
var ErrInvalidBranchFilter = errors.New("invalid branch filter")

// BranchFilterError says which filter of a list is invalid and why.
type BranchFilterError struct {
	Index   int    // position in the list, from 0
	Pattern string // the filter as written
	Reason  string
}

func (e *BranchFilterError) Error() string {
	return fmt.Sprintf("branch filter %d %q: %s", e.Index+1, e.Pattern, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidBranchFilter) hold.
func (e *BranchFilterError) Unwrap() error { return ErrInvalidBranchFilter }

// maxBranchFilterLen bounds a pattern; git itself has no limit, but a filter
// longer than this is a mistake, not a branch name.
const maxBranchFilterLen = 255

// ValidateBranchFilters checks filters as a definition editor saves them and
// returns the first problem as a *BranchFilterError. It applies git's ref name
// rules (git check-ref-format) to the pattern with "*" allowed as a wildcard.
func ValidateBranchFilters(filters []string) error {
	for i, f := range filters {
		if reason := branchFilterProblem(f); reason != "" {
			return &BranchFilterError{Index: i, Pattern: f, Reason: reason}
		}
	}
	return nil
}

func branchFilterProblem(f string) string {
	if strings.TrimSpace(f) == "" {
		return "empty pattern"
	}
	if f != strings.TrimSpace(f) {
		return "leading or trailing spaces"
	}
	if len(f) > maxBranchFilterLen {
		return fmt.Sprintf("longer than %d characters", maxBranchFilterLen)
	}
	body := f
	if body[0] == '-' || body[0] == '+' {
		body = body[1:]
		if strings.TrimSpace(body) == "" {
			return fmt.Sprintf("%q alone: give a branch pattern after it", f[:1])
		}
		if body[0] == '-' || body[0] == '+' {
			return "more than one + or - prefix"
		}
	}
	body = NormalizeBranch(body)
	if body == "" {
		return "no branch name after the refs/heads/ or origin/ prefix"
	}
	for _, r := range body {
		switch {
		case r < 0x20 || r == 0x7f:
			return "control character"
		case r == ' ':
			return "space (git branch names cannot contain spaces)"
		case strings.ContainsRune(`~^:?[\`, r):
			return fmt.Sprintf("character %q is not allowed in a git branch name", r)
		}
	}
	switch {
	case strings.Contains(body, "**"):
		return `"**": a single "*" already matches any characters, "/" included`
	case strings.Contains(body, ".."):
		return `".." is not allowed in a git branch name`
	case strings.Contains(body, "@{"):
		return `"@{" is not allowed in a git branch name`
	case body == "@":
		return `"@" alone is not a branch name`
	case strings.Contains(body, "//"):
		return "empty path component (//)"
	case strings.HasPrefix(body, "/") || strings.HasSuffix(body, "/"):
		return `starts or ends with "/"`
	case strings.HasSuffix(body, "."):
		return `ends with "."`
	case strings.HasSuffix(body, ".lock"):
		return `ends with ".lock"`
	}
	for _, comp := range strings.Split(body, "/") {
		if strings.HasPrefix(comp, ".") {
			return fmt.Sprintf("path component %q starts with \".\"", comp)
		}
	}
	return ""
}

// BranchAdmitted says whether branch passes filters, the continuous-deployment filters of an artifact source
// (ArtifactSourceSpec.BranchFilters). Each filter is a pattern, optionally
// prefixed:
//
//	main            include branch "main"
//	release/*       include every branch that starts with "release/"
//	+release/*      the same; "+" marks an include explicitly
//	-release/old*   exclude the branches that start with "release/old"
//
// A "*" matches any run of characters, "/" included, so "release/*" admits
// "release/1.0/hotfix" as Azure Pipelines' branch filters do; "**" is
// therefore rejected as meaningless. Matching is case-sensitive, like git
// refs. Patterns and branches are both normalised with NormalizeBranch, so
// "refs/heads/main" and "main" are the same filter.
//
// The rules: no filter admits every branch; include patterns admit the
// branches that match at least one of them; a matching exclude pattern
// rejects a branch whatever the includes say (exclusions win); a list of
// exclusions only admits every branch that none of them matches.
//
// Filters are expected to have passed ValidateBranchFilters; an invalid one
// is matched literally, and an empty one is skipped.
func BranchAdmitted(filters []string, branch string) bool {
	branch = NormalizeBranch(branch)
	hasInclude, included := false, false
	for _, f := range filters {
		f = strings.TrimSpace(f)
		exclude := false
		switch {
		case strings.HasPrefix(f, "-"):
			exclude, f = true, f[1:]
		case strings.HasPrefix(f, "+"):
			f = f[1:]
		}
		pattern := NormalizeBranch(f)
		if pattern == "" {
			continue
		}
		if exclude {
			if matchWildcard(pattern, branch) {
				return false
			}
			continue
		}
		hasInclude = true
		if !included && matchWildcard(pattern, branch) {
			included = true
		}
	}
	return included || !hasInclude
}

// matchWildcard matches s against pattern, where "*" stands for any run of
// characters. It backtracks only to the last star, so it runs in
// O(len(pattern)·len(s)) at worst.
func matchWildcard(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
