// Package envnames is the one list of environment variable names that Cairn refuses to let a
// user set for a task's process: the server refuses them in definitions, release-time
// overrides and variable groups (package delivery), and the agent refuses to export them
// whatever a server sends and refuses them in ##vso[task.setvariable] (package agent).
// Names are compared in their environment form (upper case, every character but [A-Z0-9_]
// as "_"), so case and "." make no difference.
package envnames

import "strings"

// Kind says why a name is refused.
type Kind int

// The kinds of refused names.
const (
	// Allowed: not refused.
	Allowed Kind = iota
	// ChangesStart: the name changes how a task's process starts (a shell reads BASH_ENV or ENV
	// before the script, PATH picks the programs, LD_* and DYLD_* the libraries, IFS, PS4,
	// SHELLOPTS, BASHOPTS and PROMPT_COMMAND change what bash does, BASH_FUNC_* define
	// functions).
	ChangesStart
	// Own: the name is Cairn's own (RELEASE_*, AGENT_*, SYSTEM_*), set by the server and the
	// agent.
	Own
)

var (
	startNames = map[string]bool{
		"BASH_ENV": true, "ENV": true, "PATH": true, "IFS": true, "PS4": true,
		"SHELLOPTS": true, "BASHOPTS": true, "PROMPT_COMMAND": true,
	}
	startPrefixes = []string{"LD_", "DYLD_", "BASH_FUNC_"}
	ownPrefixes   = []string{"RELEASE_", "AGENT_", "SYSTEM_"}
)

// Check says whether env (an environment variable name, compared without case) is refused,
// and for a refused prefix which one ("" for a whole name).
func Check(env string) (Kind, string) {
	n := strings.ToUpper(env)
	if startNames[n] {
		return ChangesStart, ""
	}
	for _, p := range startPrefixes {
		if strings.HasPrefix(n, p) {
			return ChangesStart, p
		}
	}
	for _, p := range ownPrefixes {
		if strings.HasPrefix(n, p) {
			return Own, p
		}
	}
	return Allowed, ""
}

// ChangesStartOnly is Check for the names that only the start list refuses: the release
// variables the server computes are RELEASE_* by design and pass it.
func ChangesStartOnly(env string) (bool, string) {
	k, p := Check(env)
	return k == ChangesStart, p
}
