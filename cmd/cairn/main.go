// Command cairn is Cairn's command line for people: it logs in once (the token is kept in a
// config file readable only by its owner) and then lists releases, creates and deploys them,
// decides approvals, follows deployment logs live and shows a definition's environments, all
// through the server's GraphQL API. Every command takes -o json for scripts.
//
//	cairn login --server https://cairn.example.com --token <API token>
//	cairn releases list --definition web
//	cairn release create web --artifact app=42
//	cairn deploy 12 prod --comment "hotfix"
//	cairn approvals list
//	cairn approve 7 --comment "ship it"
//	cairn interventions list
//	cairn resume 9 --comment "smoke checked"
//	cairn logs -f 31
//	cairn status web
//	cairn why 12 prod
//	cairn agents list -o json
//	cairn webhooks redeliver 133143986177
//	cairn definitions import azure shop.json --mapping mapping.json --apply
//
// Flags fall back to environment variables by the rule of every Cairn command (internal/envflag):
// --server → CAIRN_SERVER, --token → CAIRN_TOKEN, --config → CAIRN_CONFIG. A flag or variable
// wins over the config file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/cairnhq/cairn/internal/envflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := environ{lookup: os.LookupEnv, home: os.UserConfigDir}
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, env)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "cairn:", err)
		os.Exit(2)
	case errors.Is(err, context.Canceled):
		os.Exit(130)
	default:
		fmt.Fprintln(os.Stderr, "cairn:", err)
		os.Exit(1)
	}
}

// environ is what the command reads from its process: variables and the user's config
// directory (tests pass their own).
type environ struct {
	lookup func(string) (string, bool)
	home   func() (string, error)
}

// usageError is a command line the command cannot run (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// globals are the flags every command takes.
type globals struct {
	server, token, config, output string
}

// cmd is one command's context: its parsed flags, arguments and output.
type cmd struct {
	ctx    context.Context
	g      globals
	fs     *flag.FlagSet
	args   []string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	env    environ
}

type command struct {
	name, synopsis, help string
	flags                func(fs *flag.FlagSet) // the command's own flags
	run                  func(c *cmd) error
}

var commands []*command

func init() {
	commands = []*command{
		loginCommand, logoutCommand, whoamiCommand,
		releasesListCommand, releaseCreateCommand, deployCommand,
		approvalsListCommand, approveCommand, rejectCommand,
		interventionsListCommand, resumeCommand, stopCommand,
		logsCommand, statusCommand, whyCommand, agentsListCommand, targetsCommand, deploymentGroupsCommand, webhooksRedeliverCommand,
		groupsListCommand, groupsShowCommand, groupsSetCommand, groupsUnsetCommand, groupsDeleteCommand,
		filesListCommand, filesUploadCommand, filesDeleteCommand,
		tasksListCommand, tasksShowCommand,
		importAzureCommand,

		retentionPreviewCommand,
	}
}

const intro = `cairn is the command line of a Cairn release server.

Usage: cairn COMMAND [flags] [arguments]

Commands:
`

func printUsage(w io.Writer) {
	fmt.Fprint(w, intro)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-22s %s\n", c.name, c.help)
	}
	fmt.Fprintf(w, "\nFlags of every command:\n"+
		"  --server URL       the server (CAIRN_SERVER; default: from cairn login)\n"+
		"  --token TOKEN      an API token (CAIRN_TOKEN; default: from cairn login)\n"+
		"  --config FILE      the config file (CAIRN_CONFIG; default: %s)\n"+
		"  -o, --output FMT   table (default) or json\n\n%s\n\nRun cairn COMMAND --help for a command's flags.\n",
		"<user config dir>/cairn/config.json", envflag.Rule)
}

// globalFlags are the flags with a variable (envflag's rule): a command's own flags have none,
// so that CAIRN_COMMENT or CAIRN_F cannot change what a command does.
var globalFlags = map[string]bool{"server": true, "token": true, "config": true, "output": true}

// run runs one command line.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env environ) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stdout)
		if len(args) == 0 {
			return usagef("no command given")
		}
		return nil
	}
	// Commands are one or two words: "deploy", "releases list".
	var found *command
	rest := args
	for _, c := range commands {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			found, rest = c, args[len(words):]
			break
		}
	}
	if found == nil {
		return usagef("unknown command %q (cairn help lists them)", strings.Join(args[:min(2, len(args))], " "))
	}
	fs := flag.NewFlagSet("cairn "+found.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &cmd{ctx: ctx, fs: fs, stdin: stdin, stdout: stdout, stderr: stderr, env: env}
	fs.StringVar(&c.g.server, "server", "", "server URL (default: from cairn login)")
	fs.StringVar(&c.g.token, "token", "", "API token (default: from cairn login)")
	fs.StringVar(&c.g.config, "config", "", "config file (default: <user config dir>/cairn/config.json)")
	fs.StringVar(&c.g.output, "output", "table", "output format: table or json")
	fs.StringVar(&c.g.output, "o", "table", "short for --output")
	if found.flags != nil {
		found.flags(fs)
	}
	envNames := envflag.Names{}
	fs.VisitAll(func(f *flag.Flag) {
		if !globalFlags[f.Name] {
			envNames[f.Name] = ""
		}
	})
	envflag.SetUsage(fs, "cairn "+found.name+" "+found.synopsis, envNames)
	// Flags may come before, between or after the arguments.
	for {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		c.args = append(c.args, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if err := envflag.Apply(fs, env.lookup, envNames); err != nil {
		return usagef("%v", err)
	}
	if c.g.output != "table" && c.g.output != "json" {
		return usagef("-o %q: want table or json", c.g.output)
	}
	return found.run(c)
}

// wantArgs checks the number of arguments.
func (c *cmd) wantArgs(n int, names string) error {
	if len(c.args) != n {
		return usagef("want %s, got %d argument(s)", names, len(c.args))
	}
	return nil
}

// open is the opening of most commands: it checks the number of arguments, then returns a
// client for the server and token (see client).
func (c *cmd) open(n int, names string) (*client, error) {
	if err := c.wantArgs(n, names); err != nil {
		return nil, err
	}
	return c.client()
}

// client returns a client for the server and token of the flags, the environment or the
// config file, in that order.
func (c *cmd) client() (*client, error) {
	server, token := c.g.server, c.g.token
	if server == "" || token == "" {
		path, err := c.configPath()
		if err != nil {
			return nil, err
		}
		cfg, err := readConfig(path)
		if err != nil {
			return nil, err
		}
		if server == "" {
			server = cfg.Server
		}
		if token == "" {
			token = cfg.Token
		}
	}
	if server == "" || token == "" {
		return nil, errors.New("not logged in: run cairn login --server URL --token TOKEN (or set CAIRN_SERVER and CAIRN_TOKEN)")
	}
	server, err := normalizeServer(server)
	if err != nil {
		return nil, err
	}
	return &client{server: server, token: token, http: &httpClient}, nil
}

// httpClient has no overall timeout (logs -f streams); each request has its context.
var httpClient = http.Client{}

func flagValue(c *cmd, name string) any        { return c.fs.Lookup(name).Value.(flag.Getter).Get() }
func flagString(c *cmd, name string) string    { return flagValue(c, name).(string) }
func flagInt(c *cmd, name string) int          { return flagValue(c, name).(int) }
func flagInt64(c *cmd, name string) int64      { return flagValue(c, name).(int64) }
func flagBool(c *cmd, name string) bool        { return flagValue(c, name).(bool) }
func flagList(c *cmd, name string) *stringList { return c.fs.Lookup(name).Value.(*stringList) }

// timeout bounds one request of a command that is not a stream.
const timeout = 60 * time.Second

func (c *cmd) call(cl *client, query string, vars map[string]any, out any) error {
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	return cl.do(ctx, query, vars, out)
}

// table writes rows (the first is the header) aligned in columns.
func (c *cmd) table(rows [][]string) {
	widths := map[int]int{}
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], len([]rune(cell)))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, cell := range r {
			if i == len(r)-1 {
				b.WriteString(cell)
				break
			}
			b.WriteString(cell)
			b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(cell))+2))
		}
		fmt.Fprintln(c.stdout, strings.TrimRight(b.String(), " "))
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
