// Package workitems finds work item mentions in commit messages: Azure
// Boards "AB#123", GitHub-style "#123" and Jira "PROJ-123" for the project
// keys an installation configures. It is pure: no I/O, no configuration
// beyond its arguments.
package workitems

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// System is the tracker a mention refers to.
type System string

// The trackers.
const (
	// AzureBoards is an "AB#123" mention: the Azure Boards work item 123
	// (the syntax Azure Boards uses for commits in GitHub repositories).
	AzureBoards System = "AZURE_BOARDS"
	// GitHub is a bare "#123" mention: issue or pull request 123 of the
	// repository the commit belongs to, as GitHub links it. It is not taken
	// for an Azure Boards id even in Azure Repos, where "#123" does link a
	// work item: Team Build reports those links itself (the build's
	// /workitems), so the REST enrichment, not the message, is the source of
	// truth there; a consumer that knows the commit is in Azure Repos may map
	// GitHub refs to Azure Boards ids.
	GitHub System = "GITHUB"
	// Jira is a "PROJ-123" mention of a configured project key.
	Jira System = "JIRA"
)

// Ref is one mention.
type Ref struct {
	System System
	// ID is the tracker's id: "123" for Azure Boards and GitHub, the issue
	// key "PROJ-123" for Jira.
	ID string
	// Text is the mention as normalised for display: "AB#123", "#123",
	// "PROJ-123".
	Text string
}

// maxDigits bounds an id: Azure Boards and GitHub ids are 32-bit, Jira's
// issue numbers smaller still.
const maxDigits = 10

// Extract returns the work item mentions of a commit message, each once, in
// the order of their first appearance. A mention stands alone: it is not
// preceded by a letter, digit, "_" (so "AB#1" is not also "#1", "UTF-8"
// needs a configured key "UTF" and "x#1" is nothing) nor by "&" or "/" (HTML
// entities "&#123;", URL fragments "/#123"), and not followed by a letter,
// digit or "_". Ids are decimal without a leading zero. "AB#" is matched in
// any case; Jira keys are matched in upper case only, as Jira links them,
// and jiraKeys that are not valid keys (a letter, then letters, digits or
// "_") are skipped.
func Extract(message string, jiraKeys []string) []Ref {
	keys := map[string]bool{}
	for _, k := range jiraKeys {
		k = strings.ToUpper(strings.TrimSpace(k))
		if validJiraKey(k) {
			keys[k] = true
		}
	}
	var refs []Ref
	seen := map[Ref]bool{}
	add := func(r Ref) {
		if !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	for i := 0; i < len(message); i++ {
		c := message[i]
		if c != '#' && c != 'A' && c != 'a' && (c < 'A' || c > 'Z') {
			continue
		}
		if !boundaryBefore(message, i) {
			continue
		}
		switch {
		case c == '#':
			if id, n := digits(message, i+1); n > 0 {
				add(Ref{System: GitHub, ID: id, Text: "#" + id})
				i += n
			}
			continue
		case len(message) >= i+3 && strings.EqualFold(message[i:i+3], "AB#"):
			if id, n := digits(message, i+3); n > 0 {
				add(Ref{System: AzureBoards, ID: id, Text: "AB#" + id})
				i += 2 + n
				continue
			}
		}
		if len(keys) > 0 && c >= 'A' && c <= 'Z' {
			j := i + 1
			for j < len(message) && isKeyByte(message[j]) {
				j++
			}
			if j < len(message) && message[j] == '-' && keys[message[i:j]] {
				if id, n := digits(message, j+1); n > 0 {
					key := message[i:j] + "-" + id
					add(Ref{System: Jira, ID: key, Text: key})
					i = j + n
					continue
				}
			}
			// Skip the rest of the word: a key cannot start inside it.
			i = j - 1
		}
	}
	return refs
}

// digits reads an id at s[i:]: 1 to maxDigits decimal digits, no leading
// zero, followed by a boundary. It returns the id and its length, or 0.
func digits(s string, i int) (string, int) {
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	n := j - i
	if n == 0 || n > maxDigits || s[i] == '0' || !boundaryAfter(s, j) {
		return "", 0
	}
	return s[i:j], n
}

func boundaryBefore(s string, i int) bool {
	if i == 0 {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return !isWord(r) && r != '&' && r != '/' && r != '#' && r != '-'
}

func boundaryAfter(s string, j int) bool {
	if j >= len(s) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(s[j:])
	return !isWord(r)
}

func isWord(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

func isKeyByte(c byte) bool {
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func validJiraKey(k string) bool {
	if k == "" || k[0] < 'A' || k[0] > 'Z' {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isKeyByte(k[i]) {
			return false
		}
	}
	return true
}
