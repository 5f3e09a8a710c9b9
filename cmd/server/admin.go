package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"syscall"
	"time"

	"github.com/cairnhq/cairn/internal/envflag"
	"github.com/cairnhq/cairn/server"
)

const adminUsage = `usage: server admin token --username NAME [--name TEXT] [--expires 24h]
                          [--database-url URL] [--data-dir DIR] [--signing-key HEX]

Prints a new API token for user NAME, creating NAME as an ADMIN if no user has that name.
It works on the database directly, with the server's own settings (the same flags and
CAIRN_DATABASE_URL, CAIRN_DATA_DIR, CAIRN_SIGNING_KEY), so it needs no running server and no
other token: the way back in when no admin can log in. The token is audited as issued by
"server admin token (run by <os user>)".`

// runAdmin runs "server admin …": only "token" for now.
func runAdmin(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "token" {
		return errors.New(adminUsage)
	}
	fs := flag.NewFlagSet("server admin token", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), adminUsage) }
	var req server.AdminTokenRequest
	fs.StringVar(&req.Username, "username", "", "the user to issue the token for (created as ADMIN if missing)")
	fs.StringVar(&req.Name, "name", "recovery token", "the token's name, as listed and revoked")
	fs.DurationVar(&req.Lifetime, "expires", 24*time.Hour, "how long the token is valid (at most 8760h)")
	fs.StringVar(&req.DataDir, "data-dir", "./cairn-data", "the server's data directory (SQLite database, signing key)")
	fs.StringVar(&req.DatabaseURL, "database-url", "", "the server's postgres:// DSN; empty selects SQLite in the data dir")
	fs.StringVar(&req.SigningKey, "signing-key", "", "the server's hex Ed25519 seed (default: <data-dir>/signing.key)")
	fs.StringVar(&req.SecretKey, "secret-key", "", "the server's hex secret key, from which the audit key derives (default: <data-dir>/secret.key)")
	fs.StringVar(&req.AuditKey, "audit-key", "", "the server's hex audit key (default: derived from the secret key)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	// The server's settings come from the same environment; the command's own flags do not.
	if err := envflag.Apply(fs, os.LookupEnv, envflag.Names{"username": "", "name": "", "expires": ""}); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q\n%s", fs.Args(), adminUsage)
	}
	if req.Username == "" {
		return fmt.Errorf("--username is required\n%s", adminUsage)
	}
	req.Operator = operator()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := server.IssueAdminToken(ctx, req)
	if err != nil {
		return err
	}
	what := "existing user"
	if res.Created {
		what = "new user"
	}
	fmt.Fprintf(os.Stderr, "Token for %s %s (role %s), valid until %s:\n",
		what, res.Username, res.Role, res.ExpiresAt.Format(time.RFC3339))
	_, err = fmt.Fprintln(stdout, res.Token)
	return err
}

// operator names the operating-system user running the command, and the host.
func operator() string {
	name := "unknown user"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		name += "@" + h
	}
	return name
}
