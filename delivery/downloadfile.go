package delivery

import (
	"context"
	"fmt"
	"strings"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/serviceconnection"
	"github.com/cairnhq/cairn/internal/origin"
	"github.com/cairnhq/cairn/internal/tasklib"
)

// DownloadFile@1 with a service connection: the server sends the connection's credentials with
// the task, and only when the task's URL is on the connection's origin (scheme, host and port:
// internal/origin, the rule of artifact downloads). The URL's scheme and authority must then be
// literal: a $(variable) there could move the request elsewhere at run time; the path may hold
// references (the agent checks the expanded URL again, and every redirect).

// downloadFileInputs returns the url and serviceConnection inputs (their keys as written, and
// values, trimmed) of a task that runs the DownloadFile runner.
func downloadFileInputs(tpl *tasklib.Template, inputs map[string]string) (urlKey, rawURL, connKey, conn string, ok bool) {
	if tpl == nil || tpl.Runner != tasklib.RunnerDownloadFile {
		return "", "", "", "", false
	}
	urlKey, connKey = "url", "serviceConnection"
	for k, v := range inputs {
		switch {
		case strings.EqualFold(k, "url"):
			urlKey, rawURL = k, strings.TrimSpace(v)
		case strings.EqualFold(k, "serviceConnection"):
			connKey, conn = k, strings.TrimSpace(v)
		}
	}
	return urlKey, rawURL, connKey, conn, true
}

// connectionURLProblem says why rawURL may not carry the credentials of the connection at
// connURL, or "" when it may.
func connectionURLProblem(rawURL, connName, connURL string) string {
	authority := rawURL
	if i := strings.Index(authority, "://"); i >= 0 {
		rest := authority[i+3:]
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			rest = rest[:j]
		}
		authority = authority[:i+3] + rest
	}
	if strings.Contains(authority, "$(") {
		return fmt.Sprintf("%q names its scheme, host or port with a $(variable) reference; with service connection %q they must be written out (the credentials only go to %s)", rawURL, connName, connURL)
	}
	if !origin.Same(rawURL, connURL) {
		return fmt.Sprintf("%q is not on service connection %q (%s): its credentials are only sent to that scheme, host and port", rawURL, connName, connURL)
	}
	return ""
}

// validateDownloadFile checks, on save, the service connection input of a DownloadFile task:
// a literal name (the server has to send its credentials), and a URL on its origin.
func validateDownloadFile(p *problems, f string, task spec.Task, tpl *tasklib.Template, refs *references) {
	urlKey, rawURL, connKey, conn, ok := downloadFileInputs(tpl, task.Inputs)
	if !ok || conn == "" {
		return
	}
	if hasVariableReference(conn) {
		p.add(f+".inputs."+connKey, "task %s: input serviceConnection names a service connection, not a $(variable) reference: the server sends its credentials with the job", task.Name)
		return
	}
	connURL, known := refs.connURLs[conn]
	if !known || rawURL == "" {
		return // ValidateInputs says so
	}
	if why := connectionURLProblem(rawURL, conn, connURL); why != "" {
		p.add(f+".inputs."+urlKey, "task %s: input url: %s", task.Name, why)
	}
}

// taskCredentials puts into task the credentials of the service connection that a
// DownloadFile step names, after checking its URL against the connection's origin again (the
// connection may have moved since the definition was saved). A refusal is INVALID_INPUT naming
// the step's input.
func (e *Engine) taskCredentials(ctx context.Context, f flatTask, task *AssignmentTask) error {
	urlKey, rawURL, connKey, conn, ok := downloadFileInputs(f.template, f.inputs)
	if !ok || conn == "" {
		return nil
	}
	invalid := func(field, format string, args ...any) error {
		return &Error{Code: CodeInvalidInput, Field: "inputs." + field, Message: fmt.Sprintf("task %s: ", f.Name) + fmt.Sprintf(format, args...)}
	}
	if hasVariableReference(conn) {
		return invalid(connKey, "input serviceConnection %q is a $(variable) reference; name the service connection", conn)
	}
	c, err := e.client.ServiceConnection.Query().Where(serviceconnection.Name(conn)).Only(ctx)
	if ent.IsNotFound(err) {
		return invalid(connKey, "service connection %q no longer exists", conn)
	}
	if err != nil {
		return fmt.Errorf("reading service connection %q: %w", conn, err)
	}
	if why := connectionURLProblem(rawURL, c.Name, c.URL); why != "" {
		return invalid(urlKey, "input url: %s", why)
	}
	if len(c.SecretEncrypted) == 0 && c.Username == "" {
		return nil
	}
	task.HasCredentials, task.Username, task.Origin = true, c.Username, c.URL
	if len(c.SecretEncrypted) > 0 {
		if e.secrets == nil {
			return invalid(connKey, "credentials of service connection %q cannot be decrypted: the server has no secret key", c.Name)
		}
		pw, err := e.secrets.Open(c.SecretEncrypted)
		if err != nil {
			return invalid(connKey, "credentials of service connection %q cannot be decrypted (was the secret key changed?): %v", c.Name, err)
		}
		task.Password = string(pw)
	}
	return nil
}
