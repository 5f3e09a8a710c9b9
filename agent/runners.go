package agent

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cairnhq/cairn/agentproto"
	"github.com/cairnhq/cairn/internal/tasklib"
)

// Runners: task implementations built into the agent (agentproto.Task.Runner), for the built-in
// tasks that need more than a shell script can do safely: an SSH client with host key pinning,
// JSON and XML rewriting, HTTP calls through the outbound address guard, and placing a secure
// file. Each reads the task's inputs (already $(VAR)-expanded), writes its account to the
// step's masking writer, and returns an error that fails the step (its text is the reason).

// runContext is what a runner gets.
type runContext struct {
	j      *jobRun
	step   int
	task   agentproto.Task
	inputs map[string]string // INPUT_<NAME> → expanded value
	dir    string            // the task's working directory
	env    []string          // the task's environment (job variables, variables set so far)
	w      *maskWriter
	rep    *stepReport
}

// in returns an input's value by its template name, trimmed.
func (rc *runContext) in(name string) string {
	return strings.TrimSpace(rc.inputs["INPUT_"+tasklib.EnvName(name)])
}

// raw returns an input's value untrimmed (scripts, bodies).
func (rc *runContext) raw(name string) string { return rc.inputs["INPUT_"+tasklib.EnvName(name)] }

// bool reads a BOOLEAN input, def when empty.
func (rc *runContext) bool(name string, def bool) bool {
	v := rc.in(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(strings.ToLower(v))
	if err != nil {
		return def
	}
	return b
}

// path resolves a FILE_PATH input against the task's working directory.
func (rc *runContext) path(name string) string {
	p := rc.in(name)
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(rc.dir, p)
}

func (rc *runContext) logf(format string, args ...any) { fmt.Fprintf(rc.w, format+"\n", args...) }

func (rc *runContext) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	rc.w.emitOwn("##[warning]"+rc.w.mask([]byte(msg)), agentproto.LineWarning)
	rc.rep.issue(agentproto.IssueWarning, rc.w.mask([]byte(msg)), "", 0)
}

// runners are the agent's runners by name (tasklib.Runners).
var runners = map[string]func(context.Context, *runContext) error{
	tasklib.RunnerSSH:                runSSH,
	tasklib.RunnerCopyFilesOverSSH:   runCopyFilesOverSSH,
	tasklib.RunnerFileTransform:      runFileTransform,
	tasklib.RunnerInvokeHTTP:         runInvokeHTTP,
	tasklib.RunnerDownloadSecureFile: runDownloadSecureFile,
	tasklib.RunnerDownloadFile:       runDownloadFile,
}

// globPatterns compiles the lines of a MULTILINE glob input: "**" any depth, "*" and "?"
// within a path segment, "[…]" a class; a line starting with "!" excludes what it matches.
type globPatterns struct {
	include, exclude []*regexp.Regexp
}

func compileGlobs(lines string) (globPatterns, error) {
	var g globPatterns
	for line := range strings.SplitSeq(lines, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		neg := strings.HasPrefix(line, "!")
		if neg {
			line = strings.TrimSpace(line[1:])
		}
		re, err := globRegexp(strings.TrimPrefix(filepath.ToSlash(line), "./"))
		if err != nil {
			return g, fmt.Errorf("pattern %q: %w", line, err)
		}
		if neg {
			g.exclude = append(g.exclude, re)
		} else {
			g.include = append(g.include, re)
		}
	}
	return g, nil
}

func (g globPatterns) match(rel string) bool {
	rel = filepath.ToSlash(rel)
	in := slices.ContainsFunc(g.include, func(r *regexp.Regexp) bool { return r.MatchString(rel) })
	return in && !slices.ContainsFunc(g.exclude, func(r *regexp.Regexp) bool { return r.MatchString(rel) })
}

// globRegexp turns one glob into an anchored regular expression.
func globRegexp(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case strings.HasPrefix(p[i:], "**/"):
			b.WriteString("(?:.*/)?")
			i += 2
		case strings.HasPrefix(p[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '[':
			j := strings.IndexByte(p[i+1:], ']')
			if j < 0 {
				return nil, fmt.Errorf("no closing ]")
			}
			class := p[i+1 : i+1+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j + 1
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// matchFiles returns the regular files under root (relative, slash-separated, sorted) that
// patterns match.
func matchFiles(root string, patterns globPatterns) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if patterns.match(rel) {
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out, err
}

// shellQuote quotes s for a POSIX shell: one single-quoted word.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// runDownloadSecureFile places a secure file the job received for the task (the server sends
// the files a DownloadSecureFile task names with the job, as for job.secureFiles) and sets the
// variable secureFilePath, and <task name>.secureFilePath, for the job's later tasks. The file
// is removed with the job's other secure files when the job ends.
func runDownloadSecureFile(_ context.Context, rc *runContext) error {
	name := rc.in("secureFile")
	for _, f := range rc.j.asg.SecureFiles {
		if f.Name != name {
			continue
		}
		path := filepath.Join(rc.j.dir, "securefiles", f.Name)
		rc.j.setJobVariable("secureFilePath", path)
		rc.j.setJobVariable(rc.task.Name+".secureFilePath", path)
		rc.logf("Secure file %s is at %s (variable secureFilePath, %s.secureFilePath); it is removed when the job ends", f.Name, path, rc.task.Name)
		return nil
	}
	return fmt.Errorf("secure file %q was not sent with this job (is it in the library, and may this definition use it?)", name)
}

// setJobVariable sets a variable for the job's later tasks, as task.setvariable does.
func (j *jobRun) setJobVariable(name, value string) {
	env := legacyEnvName(name)
	if protectedVariable(env) != "" {
		return
	}
	j.setVars[env] = jobVariable{envName: env, name: name, value: value}
	j.setOrder = append(slices.DeleteFunc(j.setOrder, func(s string) bool { return s == env }), env)
}
