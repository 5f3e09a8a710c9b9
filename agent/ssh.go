package agent

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairnhq/cairn/agentproto"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// The SSH runners (SSH@0 and CopyFilesOverSSH@0, Azure's SSHV0 and CopyFilesOverSSHV0) connect
// with golang.org/x/crypto/ssh. A host key must be pinned (input hostKey: known_hosts lines,
// "type base64" public keys, or SHA256 fingerprints), or trustOnFirstUse must be set, in which
// case the agent records the key in its own known_hosts file on first contact and refuses a
// changed key afterwards. An unknown key is refused with its fingerprint, so that a person can
// pin it.

// knownHostsMu serialises the agent's known_hosts file between jobs.
var knownHostsMu sync.Mutex

// knownHostsPath is the agent's known_hosts file: beside the job directories, which are
// removed at start, so that keys trusted on first use stay trusted.
func (x *executor) knownHostsPath() string {
	if x.knownHosts != "" {
		return x.knownHosts
	}
	return filepath.Join(filepath.Dir(x.workDir), "known_hosts")
}

// sshTarget is a connection the task's inputs describe.
type sshTarget struct {
	addr, user string
	config     *ssh.ClientConfig
}

// sshParams are where and how an SSH task connects: its endpoint (an SSH service connection)
// or its inline inputs.
type sshParams struct {
	host, port, user          string
	key, passphrase, password string
	hostKey                   string
	trustOnFirstUse           bool
	hostKeyFrom, keyFrom      string // for messages: "input hostKey", "service connection x"
	connection                string // the service connection's name, "" for inline inputs
}

// sshParamsOf reads the task's endpoint, or its connection inputs (host, port, username,
// password, privateKey, privateKeyFile, passphrase, hostKey, trustOnFirstUse).
func sshParamsOf(rc *runContext) (sshParams, error) {
	if ep := rc.task.Endpoint; ep != nil {
		if ep.Kind != agentproto.EndpointSSH {
			return sshParams{}, fmt.Errorf("service connection %s is %s, not SSH", ep.Name, ep.Kind)
		}
		if ep.Host == "" || ep.Username == "" {
			return sshParams{}, fmt.Errorf("service connection %s has no host or user", ep.Name)
		}
		from := "service connection " + ep.Name
		return sshParams{host: ep.Host, port: strconv.Itoa(cmp.Or(ep.Port, 22)), user: ep.Username,
			key: ep.PrivateKey, password: ep.Password, hostKey: ep.HostKey, trustOnFirstUse: ep.TrustOnFirstUse,
			hostKeyFrom: "the host keys of " + from, keyFrom: "the private key of " + from, connection: ep.Name}, nil
	}
	p := sshParams{host: rc.in("host"), port: rc.in("port"), user: rc.in("username"),
		key: rc.raw("privateKey"), passphrase: rc.raw("passphrase"), password: rc.raw("password"),
		hostKey: rc.raw("hostKey"), trustOnFirstUse: rc.bool("trustOnFirstUse", false),
		hostKeyFrom: "input hostKey", keyFrom: "the private key"}
	if p.host == "" {
		return p, errors.New("input host is required (or give sshEndpoint, an SSH service connection)")
	}
	if p.port == "" {
		p.port = "22"
	}
	if p.user == "" {
		return p, errors.New("input username is required")
	}
	if f := rc.path("privateKeyFile"); f != "" && strings.TrimSpace(p.key) == "" {
		data, err := os.ReadFile(f)
		if err != nil {
			return p, fmt.Errorf("input privateKeyFile: %w", err)
		}
		p.key = string(data)
	}
	return p, nil
}

// sshConnect connects with the task's endpoint or connection inputs (sshParamsOf) and its
// readyTimeout.
func sshConnect(ctx context.Context, rc *runContext) (*ssh.Client, error) {
	p, err := sshParamsOf(rc)
	if err != nil {
		return nil, err
	}
	host, port, user := p.host, p.port, p.user
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("input port: %q is not a port number", port)
	}
	timeout := 20 * time.Second
	if v := rc.in("readyTimeout"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 3600 {
			return nil, fmt.Errorf("input readyTimeout: %q is not a number of seconds (1-3600)", v)
		}
		timeout = time.Duration(n) * time.Second
	}
	var auth []ssh.AuthMethod
	if key := p.key; strings.TrimSpace(key) != "" {
		var signer ssh.Signer
		var err error
		if pp := p.passphrase; pp != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(key), []byte(pp))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(key))
		}
		if err != nil {
			// The parser's message never holds key material.
			return nil, fmt.Errorf("%s cannot be read: %w", p.keyFrom, err)
		}
		auth = append(auth, ssh.PublicKeys(signer))
	}
	if pw := p.password; pw != "" {
		auth = append(auth, ssh.Password(pw), ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
			answers := make([]string, len(qs))
			for i := range answers {
				answers[i] = pw
			}
			return answers, nil
		}))
	}
	if len(auth) == 0 {
		if p.connection != "" {
			return nil, fmt.Errorf("service connection %s has no private key or password", p.connection)
		}
		return nil, errors.New("give privateKey, privateKeyFile or password")
	}
	hostKeys, err := sshHostKeyCallback(rc, p)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(host, port)
	cfg := &ssh.ClientConfig{User: user, Auth: auth, HostKeyCallback: hostKeys, Timeout: timeout}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	conn.SetDeadline(time.Now().Add(timeout))
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ssh to %s@%s: %w", user, addr, err)
	}
	conn.SetDeadline(time.Time{})
	client := ssh.NewClient(c, chans, reqs)
	if p.connection != "" {
		rc.logf("Connected to %s@%s (service connection %s)", user, addr, p.connection)
	} else {
		rc.logf("Connected to %s@%s", user, addr)
	}
	return client, nil
}

// sshHostKeyCallback checks the server's host key: against the pinned keys when given, else
// against the agent's known_hosts with trust on first use, else it refuses.
func sshHostKeyCallback(rc *runContext, p sshParams) (ssh.HostKeyCallback, error) {
	pins := p.hostKey
	if strings.TrimSpace(pins) != "" {
		var keys []ssh.PublicKey
		var fingerprints []string
		for line := range strings.SplitSeq(pins, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if strings.HasPrefix(line, "SHA256:") {
				fingerprints = append(fingerprints, line)
				continue
			}
			if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err == nil {
				keys = append(keys, k)
				continue
			}
			if _, _, k, _, _, err := ssh.ParseKnownHosts([]byte(line)); err == nil {
				keys = append(keys, k)
				continue
			}
			return nil, fmt.Errorf("%s: %q is not a known_hosts line, a public key or a SHA256: fingerprint", p.hostKeyFrom, truncate(line, 60))
		}
		return func(hostname string, _ net.Addr, key ssh.PublicKey) error {
			for _, k := range keys {
				if bytes.Equal(k.Marshal(), key.Marshal()) {
					return nil
				}
			}
			fp := ssh.FingerprintSHA256(key)
			for _, f := range fingerprints {
				if f == fp {
					return nil
				}
			}
			return fmt.Errorf("host key of %s (%s %s) is not one of the pinned keys (%s): refusing to connect", hostname, key.Type(), fp, p.hostKeyFrom)
		}, nil
	}
	if !p.trustOnFirstUse {
		return func(hostname string, _ net.Addr, key ssh.PublicKey) error {
			if p.connection != "" {
				return fmt.Errorf("host key of %s (%s %s) is not pinned: add %q to the host keys of service connection %s, or set its trustOnFirstUse", hostname, key.Type(), ssh.FingerprintSHA256(key), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))), p.connection)
			}
			return fmt.Errorf("host key of %s (%s %s) is not pinned: set the input hostKey to it (or %q), or set trustOnFirstUse", hostname, key.Type(), ssh.FingerprintSHA256(key), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))))
		}, nil
	}
	file := rc.j.x.knownHostsPath()
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		knownHostsMu.Lock()
		defer knownHostsMu.Unlock()
		f, err := os.OpenFile(file, os.O_CREATE|os.O_RDONLY, 0o600)
		if err != nil {
			return fmt.Errorf("opening the agent's known_hosts: %w", err)
		}
		f.Close()
		check, err := knownhosts.New(file)
		if err != nil {
			return fmt.Errorf("reading the agent's known_hosts %s: %w", file, err)
		}
		err = check(hostname, remote, key)
		var ke *knownhosts.KeyError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ke) && len(ke.Want) == 0:
			line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key) + "\n"
			f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0o600)
			if err != nil {
				return fmt.Errorf("recording the host key: %w", err)
			}
			defer f.Close()
			if _, err := f.WriteString(line); err != nil {
				return fmt.Errorf("recording the host key: %w", err)
			}
			rc.warn("trusting the host key of %s on first use: %s %s (recorded in %s)", hostname, key.Type(), ssh.FingerprintSHA256(key), file)
			return nil
		case errors.As(err, &ke):
			return fmt.Errorf("host key of %s (%s %s) differs from the one recorded in %s when it was first trusted: refusing to connect (remove the line if the host was rebuilt)", hostname, key.Type(), ssh.FingerprintSHA256(key), file)
		default:
			return err
		}
	}, nil
}

// lineWriter passes whole lines to dst under a shared lock, so that two streams (a remote
// command's stdout and stderr) do not mix within a line.
type lineWriter struct {
	mu    *sync.Mutex
	dst   io.Writer
	buf   []byte
	wrote bool
}

func (l *lineWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		l.wrote = true
	}
	l.buf = append(l.buf, p...)
	if i := bytes.LastIndexByte(l.buf, '\n'); i >= 0 {
		l.mu.Lock()
		l.dst.Write(l.buf[:i+1])
		l.mu.Unlock()
		l.buf = append(l.buf[:0], l.buf[i+1:]...)
	}
	return len(p), nil
}

func (l *lineWriter) flush() {
	if len(l.buf) > 0 {
		l.mu.Lock()
		l.dst.Write(append(l.buf, '\n'))
		l.mu.Unlock()
		l.buf = nil
	}
}

// sshRun runs one remote command with stdin, its output to the step's log. It returns the
// remote exit code and whether it wrote to stderr.
func sshRun(ctx context.Context, c *ssh.Client, rc *runContext, command string, stdin io.Reader) (int, bool, error) {
	s, err := c.NewSession()
	if err != nil {
		return -1, false, fmt.Errorf("opening an ssh session: %w", err)
	}
	defer s.Close()
	var mu sync.Mutex
	out := &lineWriter{mu: &mu, dst: rc.w}
	errw := &lineWriter{mu: &mu, dst: rc.w}
	s.Stdout, s.Stderr, s.Stdin = out, errw, stdin
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			s.Signal(ssh.SIGTERM)
			c.Close()
		case <-done:
		}
	}()
	err = s.Run(command)
	out.flush()
	errw.flush()
	var ee *ssh.ExitError
	switch {
	case err == nil:
		return 0, errw.wrote, nil
	case errors.As(err, &ee):
		return ee.ExitStatus(), errw.wrote, nil
	case ctx.Err() != nil:
		return -1, errw.wrote, context.Cause(ctx)
	default:
		return -1, errw.wrote, fmt.Errorf("running the remote command: %w", err)
	}
}

// runSSH is SSH@0: run commands, a script file from the agent, or an inline script on a host.
func runSSH(ctx context.Context, rc *runContext) error {
	mode := rc.in("runOptions")
	if mode == "" {
		mode = "commands"
	}
	interpreter := rc.in("interpreter")
	if interpreter == "" {
		interpreter = "sh"
	}
	if strings.ContainsAny(interpreter, " \t\n;&|`$<>'\"\\") {
		return fmt.Errorf("input interpreter: %q is not a program name", interpreter)
	}
	var commands []string
	var script []byte
	switch mode {
	case "commands":
		for line := range strings.SplitSeq(rc.raw("commands"), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				commands = append(commands, line)
			}
		}
		if len(commands) == 0 {
			return errors.New("input commands is empty")
		}
	case "script":
		p := rc.path("scriptPath")
		if p == "" {
			return errors.New("input scriptPath is required when runOptions is script")
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("input scriptPath: %w", err)
		}
		script = data
	case "inline":
		script = []byte(rc.raw("inline"))
		if len(bytes.TrimSpace(script)) == 0 {
			return errors.New("input inline is empty")
		}
	default:
		return fmt.Errorf("input runOptions: %q is not commands, script or inline", mode)
	}
	c, err := sshConnect(ctx, rc)
	if err != nil {
		return err
	}
	defer c.Close()
	failOnStdErr := rc.bool("failOnStdErr", true)
	check := func(what string, code int, stderr bool, err error) error {
		switch {
		case err != nil:
			return err
		case code != 0:
			return fmt.Errorf("%s exited with code %d", what, code)
		case stderr && failOnStdErr:
			return fmt.Errorf("%s wrote to stderr (failOnStdErr is true)", what)
		}
		return nil
	}
	if script != nil {
		command := interpreter + " -s"
		if args := rc.in("args"); args != "" {
			command += " -- " + args
		}
		rc.w.emitOwn("##[command]"+command+" < script", "command")
		code, stderr, err := sshRun(ctx, c, rc, command, bytes.NewReader(script))
		return check("the script", code, stderr, err)
	}
	for i, cmd := range commands {
		rc.w.emitOwn("##[command]"+rc.w.mask([]byte(cmd)), "command")
		code, stderr, err := sshRun(ctx, c, rc, cmd, nil)
		if err := check(fmt.Sprintf("command %d", i+1), code, stderr, err); err != nil {
			return err
		}
	}
	return nil
}

// remotePath quotes a remote path for the shell, keeping a leading ~/ as the home directory.
func remotePath(p string) string {
	if p == "~" {
		return `"$HOME"`
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return `"$HOME"/` + shellQuote(rest)
	}
	return shellQuote(p)
}

// runCopyFilesOverSSH is CopyFilesOverSSH@0: copy the files that match contents under
// sourceFolder to targetFolder on a host (through the remote shell: mkdir, then cat into a
// temporary name and mv, so that a reader never sees half a file).
func runCopyFilesOverSSH(ctx context.Context, rc *runContext) error {
	src := rc.path("sourceFolder")
	if src == "" {
		src = rc.dir
	}
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return fmt.Errorf("source folder %s does not exist", src)
	}
	target := rc.in("targetFolder")
	if target == "" {
		return errors.New("input targetFolder is required")
	}
	contents := rc.raw("contents")
	if strings.TrimSpace(contents) == "" {
		contents = "**"
	}
	patterns, err := compileGlobs(contents)
	if err != nil {
		return fmt.Errorf("input contents: %w", err)
	}
	files, err := matchFiles(src, patterns)
	if err != nil {
		return fmt.Errorf("listing %s: %w", src, err)
	}
	if len(files) == 0 {
		if rc.bool("failOnEmptySource", false) {
			return fmt.Errorf("no file under %s matches the contents patterns", src)
		}
		rc.warn("no file under %s matches the contents patterns; nothing copied", src)
	}
	c, err := sshConnect(ctx, rc)
	if err != nil {
		return err
	}
	defer c.Close()
	run := func(what, command string, stdin io.Reader) (int, error) {
		code, _, err := sshRun(ctx, c, rc, command, stdin)
		if err != nil {
			return code, fmt.Errorf("%s: %w", what, err)
		}
		return code, nil
	}
	t := remotePath(target)
	if rc.bool("cleanTargetFolder", false) {
		rc.logf("Cleaning %s", target)
		if code, err := run("cleaning the target folder", "if [ -d "+t+" ]; then find "+t+" -mindepth 1 -delete; fi", nil); err != nil || code != 0 {
			return cmpErr(err, fmt.Errorf("cleaning %s exited with code %d", target, code))
		}
	}
	overwrite, flatten := rc.bool("overwrite", true), rc.bool("flattenFolders", false)
	copied, skipped := 0, 0
	seen := map[string]bool{}
	for _, rel := range files {
		dest := rel
		if flatten {
			dest = path.Base(rel)
		}
		if seen[dest] {
			continue
		}
		seen[dest] = true
		f, err := os.Open(filepath.Join(src, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		full := strings.TrimSuffix(target, "/") + "/" + dest
		q, dir, tmp := remotePath(full), remotePath(path.Dir(full)), remotePath(full+".cairn-tmp")
		cmd := fmt.Sprintf("mkdir -p %s && ", dir)
		if !overwrite {
			cmd += fmt.Sprintf("if [ -e %s ]; then exit 3; fi && ", q)
		}
		cmd += fmt.Sprintf("cat > %s && chmod %o %s && mv -f %s %s", tmp, fi.Mode().Perm(), tmp, tmp, q)
		code, err := run("copying "+rel, cmd, f)
		f.Close()
		switch {
		case err != nil:
			return err
		case code == 3 && !overwrite:
			rc.logf("Skipped %s: %s exists on the host (overwrite is false)", rel, full)
			skipped++
		case code != 0:
			return fmt.Errorf("copying %s to %s exited with code %d", rel, full, code)
		default:
			rc.logf("Copied %s to %s", rel, full)
			copied++
		}
	}
	rc.logf("Copied %d file(s), skipped %d", copied, skipped)
	return nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
