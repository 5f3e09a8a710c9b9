package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The README's commands are tests: TestReadme reads README.md, takes the server command of its
// set-up, the shell blocks of "First steps with curl", "CI set-up" and "External agents", runs
// them with bash against the server binary started as the set-up says, and checks what the text
// promises. An edit to the README is what is tested. The blocks run verbatim but for the server's
// address (a free port instead of 127.0.0.1:8080) and the directory of /tmp/cairn-answer.json.

// readmeSection returns the text of the README section with the heading "## "+title, up to the
// next "## " heading.
func readmeSection(t *testing.T, readme, title string) string {
	t.Helper()
	return markdownSection(t, "README.md", readme, title)
}

// markdownSection returns the text of the section of the Markdown file name (its content text)
// with the heading "## "+title, up to the next "## " heading.
func markdownSection(t *testing.T, name, text, title string) string {
	t.Helper()
	start := strings.Index(text, "\n## "+title+"\n")
	if start < 0 {
		t.Fatalf("%s has no section %q", name, title)
	}
	rest := text[start+len(title)+5:]
	if end := strings.Index(rest, "\n## "); end >= 0 {
		rest = rest[:end]
	}
	return rest
}

var fencedSh = regexp.MustCompile("(?ms)^[ \t]*```sh\n(.*?)^[ \t]*```")

// shBlocks returns the ```sh blocks of a section, in order (indented blocks unindented).
func shBlocks(section string) []string {
	var out []string
	for _, m := range fencedSh.FindAllStringSubmatch(section, -1) {
		lines := strings.Split(m[1], "\n")
		indent := len(lines[0]) - len(strings.TrimLeft(lines[0], " \t"))
		for i, l := range lines {
			if len(l) >= indent {
				lines[i] = l[indent:]
			}
		}
		out = append(out, strings.Join(lines, "\n"))
	}
	return out
}

// readmeServer is the server binary run as the README's set-up says, in its own directory.
type readmeServer struct {
	dir, url string
}

// startReadmeServer runs the server binary with args (the set-up's) in a fresh directory, on a
// free port, and waits until it listens.
func startReadmeServer(t *testing.T, args []string) *readmeServer {
	t.Helper()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(serverBinary(t), append(append([]string{}, args...), "--addr", addr, "--shutdown-timeout", "2s")...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CAIRN_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		defer logFile.Close()
		sc := bufio.NewScanner(stderr)
		said := false
		for sc.Scan() {
			fmt.Fprintln(logFile, sc.Text())
			if !said && strings.Contains(sc.Text(), "cairn listening") {
				said = true
				close(listening)
			}
		}
		_, _ = io.Copy(logFile, stderr)
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Logf("server log:\n%s", b)
		}
	})
	select {
	case <-listening:
	case <-exited:
		t.Fatal("the server exited before listening")
	case <-time.After(procWait):
		t.Fatalf("the server did not listen within %s", procWait)
	}
	return &readmeServer{dir: dir, url: "http://" + addr}
}

// run runs script with bash -e -o pipefail in the server's directory, the README's address and
// answer file replaced, and returns its output.
func (s *readmeServer) run(t *testing.T, script string) string {
	t.Helper()
	script = strings.ReplaceAll(script, "http://127.0.0.1:8080", s.url)
	script = strings.ReplaceAll(script, "/tmp/cairn-answer.json", filepath.Join(s.dir, "cairn-answer.json"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*procWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", script)
	cmd.Dir = s.dir
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's commands failed: %v\n%s", err, out)
	}
	return string(out)
}

// expect fails the test for each text the output lacks.
func expect(t *testing.T, what, out string, texts ...string) {
	t.Helper()
	for _, x := range texts {
		if !strings.Contains(out, x) {
			t.Errorf("%s: the output lacks %q:\n%s", what, x, out)
		}
	}
}

func TestReadme(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl")
	}
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)

	// The set-up's server command, whose flags the tests start the binary with.
	var args []string
	for _, block := range shBlocks(readmeSection(t, readme, "Set-up")) {
		for _, line := range strings.Split(block, "\n") {
			if cmd, ok := strings.CutPrefix(line, "go run ./cmd/server"); ok {
				cmd, _, _ = strings.Cut(cmd, "#")
				args = strings.Fields(cmd)
			}
		}
	}
	if len(args) == 0 || args[0] != "--dev" {
		t.Fatalf("the set-up does not run the server with --dev: %q", args)
	}

	walk := shBlocks(readmeSection(t, readme, "First steps with curl"))
	if len(walk) != 1 {
		t.Fatalf("First steps has %d shell blocks, want 1", len(walk))
	}
	// The helpers (token, gql, pick, wait_for) are the walk-through's first paragraph; the
	// other sections use them.
	helpers, _, _ := strings.Cut(walk[0], "\n\n")
	if !strings.Contains(helpers, "gql()") || !strings.Contains(helpers, "pick()") {
		t.Fatalf("the walk-through's first lines do not define gql and pick:\n%s", helpers)
	}

	t.Run("first steps", func(t *testing.T) {
		t.Parallel()
		s := startReadmeServer(t, args)
		out := s.run(t, walk[0])
		expect(t, "walk-through", out,
			`"username":"admin"`, `"online":true`, `"hasSecret":true`,
			`"name":"web","revision":1`,
			`"name":"Release-1"`,
			`"name":"dev","status":"SUCCEEDED"`, `"status":"PENDING_APPROVAL"`, // dev done, prod waits
			"hello from Release-1", // the job's log lines and the text download
			`"environmentName":"prod"`, `"status":"APPROVED"`,
			`"name":"prod","status":"SUCCEEDED"`,
			`"changeType":"CREATE"`, `"comment":"first"`)
		if n := strings.Count(out, "hello from Release-1"); n < 2 {
			t.Errorf("the log was shown %d times, want 2 (lines and download):\n%s", n, out)
		}
	})

	t.Run("CI set-up and external agents", func(t *testing.T) {
		t.Parallel()
		s := startReadmeServer(t, args)
		ci := shBlocks(readmeSection(t, readme, "CI set-up: Jenkins and Azure DevOps"))
		if len(ci) != 3 {
			t.Fatalf("CI set-up has %d shell blocks, want 3 (connections, definition, webhooks)", len(ci))
		}
		// Cairn confirms each webhook's build with the CI server before it releases it: the
		// README's example servers are replaced by fakes that answer as Jenkins and Azure DevOps
		// document (the only other change to the commands, besides the port).
		fake := fakeCIServers(t)
		script := strings.NewReplacer("https://jenkins.example.com", fake, "https://dev.azure.com", fake).
			Replace(helpers + "\n" + strings.Join(ci, "\n"))
		out := s.run(t, script)
		expect(t, "CI set-up", out, `"createDefinition":{"id":`)
		// Each webhook created a release (201), and both deliveries are listed as ACCEPTED.
		if n := strings.Count(out, "\n 201\n"); n != 2 {
			t.Errorf("%d webhooks answered 201, want 2:\n%s", n, out)
		}
		expect(t, "CI set-up", out, `"source":"JENKINS","result":"ACCEPTED"`, `"source":"TEAMBUILD","result":"ACCEPTED"`)
		if strings.Contains(out, `"errors"`) {
			t.Errorf("a GraphQL call failed:\n%s", out)
		}

		agents := shBlocks(readmeSection(t, readme, "External agents"))
		if len(agents) != 2 {
			t.Fatalf("External agents has %d shell blocks, want 2 (registration, agent)", len(agents))
		}
		out = s.run(t, helpers+"\n"+agents[0])
		expect(t, "agent registration", out, `"token":"cairnreg_`)
		// The agent's command line (on another machine) uses flags the agent has.
		src, err := os.ReadFile("../agent/main.go")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`--([a-z-]+)`).FindAllStringSubmatch(agents[1], -1) {
			if !strings.Contains(string(src), `"`+m[1]+`"`) {
				t.Errorf("the README runs the agent with --%s, which cmd/agent does not define", m[1])
			}
		}
	})
}

// TestTestShSaysPostgresSkips: ./test.sh tells, without -v, that the PostgreSQL cases skip when
// CAIRN_TEST_DATABASE_URL is unset, and says nothing when it is set. A stand-in `go` on PATH
// records the call instead of running the tests.
func TestTestShSaysPostgresSkips(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte("#!/bin/sh\necho \"go $*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dsn := range []string{"", "postgres://postgres@127.0.0.1:5432/test"} {
		cmd := exec.Command("bash", "../../test.sh", "-race")
		cmd.Env = []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "CAIRN_TEST_DATABASE_URL=" + dsn}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("test.sh: %v\n%s", err, out)
		}
		said := strings.Contains(string(out), "CAIRN_TEST_DATABASE_URL is not set: the storage tests run on SQLite only")
		if said != (dsn == "") || !strings.Contains(string(out), "go test -count=1 -timeout 20m -race ./...") {
			t.Errorf("with CAIRN_TEST_DATABASE_URL=%q test.sh said:\n%s", dsn, out)
		}
	}
}

// fakeCIServers serves, in Jenkins' and Azure DevOps' documented shapes, the two builds the
// README's CI set-up sends webhooks for (Jenkins web/main #43; Azure DevOps build 1021 of
// shop-api-CI in project Shop of organization myorg), and returns its base URL.
func fakeCIServers(t *testing.T) string {
	t.Helper()
	azure, err := os.ReadFile("../../integrations/teambuild/testdata/api_build.json")
	if err != nil {
		t.Fatal(err)
	}
	var build map[string]any
	if err := json.Unmarshal(azure, &build); err != nil {
		t.Fatal(err)
	}
	build["id"], build["buildNumber"], build["result"], build["status"] = 1021, "20250105.3", "succeeded", "completed"
	build["sourceBranch"], build["sourceVersion"] = "refs/heads/main", "4a5b6c7d8e9f"
	if d, ok := build["definition"].(map[string]any); ok {
		d["id"], d["name"] = 12, "shop-api-CI"
	}
	azure, err = json.Marshal(build)
	if err != nil {
		t.Fatal(err)
	}
	jenkins, err := json.Marshal(map[string]any{
		"_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun", "number": 43, "displayName": "#43",
		"url": "https://jenkins.example.com/job/web/job/main/43/", "result": "SUCCESS", "building": false,
		"timestamp": 1736073001234, "duration": 61000, "artifacts": []any{}, "changeSets": []any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/job/web/job/main/43/api/json":
			w.Write(jenkins)
		case "/myorg/Shop/_apis/build/builds/1021":
			w.Write(azure)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
