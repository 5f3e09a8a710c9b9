package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// This file is the harness of the process tests: the server binary built once per test run,
// started as a real child process, killed with SIGKILL; a TCP proxy standing for the agents'
// network; a small GraphQL client.

// binDir holds the server binary built for this test run (TestMain removes it).
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cairn-server-bin-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var built struct {
	once sync.Once
	path string
	err  error
}

// serverBinary builds this command once, with the race detector when the test has it (so that
// the build reuses the packages the test already compiled), and returns its path.
func serverBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			goTool = "go"
		}
		built.path = filepath.Join(binDir, "cairn-server")
		args := []string{"build", "-o", built.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command(goTool, append(args, ".")...).CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("building the server: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// procWait bounds every wait on a child process or on what it stores; generous, for a loaded
// 2-core CI machine running with -race.
const procWait = 45 * time.Second

// serverProc is one run of the server binary.
type serverProc struct {
	cmd    *exec.Cmd
	URL    string // http://127.0.0.1:port
	exited chan struct{}
	log    string // path of its stderr
}

// serverOpts are the flags of a server process.
type serverOpts struct {
	dataDir, databaseURL string
	grace                time.Duration
}

var procCount struct {
	sync.Mutex
	n int
}

// startServer runs the server binary on a free port and waits until it listens. A port taken
// by someone else between choosing and binding it is retried with another.
func startServer(t *testing.T, o serverOpts) *serverProc {
	t.Helper()
	for attempt := 0; ; attempt++ {
		p, listening := tryStartServer(t, o)
		if listening {
			return p
		}
		logText, _ := os.ReadFile(p.log)
		if attempt < 2 && bytes.Contains(logText, []byte("address already in use")) {
			continue
		}
		t.Fatalf("the server exited before listening; its log:\n%s", logText)
	}
}

func tryStartServer(t *testing.T, o serverOpts) (*serverProc, bool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	procCount.Lock()
	procCount.n++
	n := procCount.n
	procCount.Unlock()
	logPath := filepath.Join(o.dataDir, fmt.Sprintf("server-%d.log", n))
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--addr", addr, "--data-dir", o.dataDir, "--dev", "--dev-agent=false",
		"--agent-grace", o.grace.String(), "--shutdown-timeout", "2s", "--log-level", "info"}
	if o.databaseURL != "" {
		args = append(args, "--database-url", o.databaseURL)
	}
	cmd := exec.Command(serverBinary(t), args...)
	for _, kv := range os.Environ() { // nothing of the test's environment configures the server
		if !strings.HasPrefix(kv, "CAIRN_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{cmd: cmd, URL: "http://" + addr, exited: make(chan struct{}), log: logPath}
	listening := make(chan struct{})
	go func() {
		defer close(p.exited)
		defer logFile.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		said := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if !said && strings.Contains(line, "cairn listening") {
				said = true
				close(listening)
			}
		}
		_, _ = io.Copy(logFile, stderr)
		_ = cmd.Wait() // after every read of the pipe, as os/exec requires
	}()
	t.Cleanup(p.stop)
	select {
	case <-listening:
		return p, true
	case <-p.exited:
		return p, false
	case <-time.After(procWait):
		p.kill()
		t.Fatalf("the server did not listen within %s", procWait)
		return nil, false
	}
}

// kill ends the process with SIGKILL, as a crash or an operator's kill -9 would, and waits
// until it is gone.
func (p *serverProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop ends the process with SIGTERM (SIGKILL if it does not stop in time).
func (p *serverProc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

// adminToken returns the admin API token the dev bootstrap wrote into the data directory.
func adminToken(t *testing.T, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// netProxy is the agents' network: it forwards TCP connections to the server it points at, or,
// pointed at nothing, cuts the connections it carries and closes new ones at once (the network
// is down, or the server is unreachable).
type netProxy struct {
	ln net.Listener

	mu       sync.Mutex
	upstream string
	conns    map[net.Conn]bool
}

func startProxy(t *testing.T) *netProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &netProxy{ln: ln, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.point("")
	})
	return p
}

// URL is the address agents are given.
func (p *netProxy) URL() string { return "http://" + p.ln.Addr().String() }

// point sends new connections to the server at url ("" cuts every connection and refuses new
// ones).
func (p *netProxy) point(url string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.upstream = strings.TrimPrefix(url, "http://")
	if p.upstream == "" {
		for c := range p.conns {
			c.Close()
		}
	}
}

func (p *netProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.carry(c)
	}
}

func (p *netProxy) carry(c net.Conn) {
	p.mu.Lock()
	up := p.upstream
	p.mu.Unlock()
	if up == "" {
		c.Close()
		return
	}
	u, err := net.DialTimeout("tcp", up, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.upstream != up { // cut while dialing
		p.mu.Unlock()
		c.Close()
		u.Close()
		return
	}
	p.conns[c], p.conns[u] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(u, c)
	go pipe(c, u)
	<-done // either side ended: end both
	c.Close()
	u.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

// gqlClient talks to one server process.
type gqlClient struct {
	url, token string
}

var httpClient = &http.Client{Timeout: 20 * time.Second}

// do runs a GraphQL request that must succeed and returns its data.
func (c gqlClient) do(t *testing.T, query string, vars map[string]any) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", c.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GraphQL request: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Data   map[string]any `json:"data"`
		Errors []any          `json:"errors"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != 200 || len(out.Errors) > 0 {
		t.Fatalf("GraphQL request failed (%d): %s", resp.StatusCode, raw)
	}
	return out.Data
}

// get fetches a path with the token and returns the body.
func (c gqlClient) get(t *testing.T, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", c.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
	}
	return string(raw)
}

// waitUntil re-checks cond every 25 ms (the server is another process: its bus is not ours to
// subscribe to) and fails the test after procWait.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(procWait)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", procWait, what)
		}
		<-tick.C
	}
}

// dig walks nested maps.
func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}
