// Package envflag is the one place of the rule that turns a command-line flag into its
// environment-variable fallback, for every Cairn command: CAIRN_ + the flag name in upper case
// with dashes as underscores (--data-dir → CAIRN_DATA_DIR). A flag given on the command line
// wins over its variable. Commands call Apply after parsing and SetUsage before, so that --help
// shows each flag's variable.
package envflag

import (
	"flag"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Prefix starts every variable name.
const Prefix = "CAIRN_"

// Rule is the rule in words, for help texts.
const Rule = "A flag shown with a variable in parentheses may be given as that environment variable instead:\n" +
	"CAIRN_ + the flag name in upper case with dashes as underscores (--data-dir → CAIRN_DATA_DIR).\n" +
	"A flag on the command line wins."

// Names overrides the rule for some flags of a command (flag name → variable name); a flag
// mapped to "" has no variable (repeatable flags, say).
type Names map[string]string

// Var returns the variable of the flag named name.
func (n Names) Var(name string) string {
	if v, ok := n[name]; ok {
		return v
	}
	return Prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Apply sets every flag of fs that the command line did not give from its variable, as lookup
// (os.LookupEnv) finds it. An empty variable counts as unset (env files often list every
// setting, some blank). A value the flag refuses is an error naming the variable.
func Apply(fs *flag.FlagSet, lookup func(string) (string, bool), names Names) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := names.Var(f.Name)
		if given[f.Name] || err != nil || env == "" {
			return
		}
		if v, ok := lookup(env); ok && v != "" {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
		}
	})
	return err
}

// SetUsage makes fs's help show synopsis, the rule, and every flag with its variable.
func SetUsage(fs *flag.FlagSet, synopsis string, names Names) {
	fs.Usage = func() { PrintUsage(fs.Output(), fs, synopsis, names) }
}

// PrintUsage writes the help text of SetUsage to w.
func PrintUsage(w io.Writer, fs *flag.FlagSet, synopsis string, names Names) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags:\n", synopsis, Rule)
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if len(f.Name) == 1 {
			line = "  -" + f.Name
		}
		if kind != "" {
			line += " " + kind
		}
		if env := names.Var(f.Name); env != "" {
			line += "   (" + env + ")"
		}
		fmt.Fprintln(w, line)
		switch {
		case f.DefValue == "" || f.DefValue == "false" || f.DefValue == "0":
		case reflect.TypeOf(f.Value).String() == "*flag.stringValue":
			usage += fmt.Sprintf(" (default %q)", f.DefValue)
		default:
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "        %s\n", strings.ReplaceAll(usage, "\n", "\n        "))
	})
}
