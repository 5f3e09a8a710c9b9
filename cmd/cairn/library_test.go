package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLILibraryEndToEnd: groups and files managed with the command line on a real server;
// a real agent runs a job that sees the group's secret (masked in its log) and the secure file,
// which is gone once the job ended, also when its task failed.
func TestCLILibraryEndToEnd(t *testing.T) {
	ts := startServer(t)
	c := newCLI(t)
	if _, err := c.run(ts.admin+"\n", "login", "--server", ts.url, "--token", "-"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.run("s3cret-value\n", "groups", "set", "shared", "DB_PASSWORD", "-", "--secret", "--comment", "first"); err != nil {
		t.Fatal(err)
	}
	c.ok("groups", "set", "shared", "REGION=eu")
	if out := c.ok("groups", "show", "shared"); !strings.Contains(out, "DB_PASSWORD  ***") || !strings.Contains(out, "REGION       eu") ||
		strings.Contains(out, "s3cret-value") {
		t.Fatalf("groups show:\n%s", out)
	}
	if out := c.ok("groups", "list"); !strings.Contains(out, "shared") || !strings.Contains(out, "2") {
		t.Fatalf("groups list:\n%s", out)
	}
	cert := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(cert, []byte("certificate-body"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := c.ok("files", "upload", "cert.pem", cert, "--description", "signing"); !strings.Contains(out, "16 bytes") {
		t.Fatalf("files upload: %s", out)
	}
	if _, err := c.run("", "files", "upload", "cert.pem", cert); err == nil || !strings.Contains(err.Error(), "CONFLICT") {
		t.Fatalf("a second upload without --replace: %v", err)
	}
	if out := c.ok("files", "list"); !strings.Contains(out, "cert.pem") || strings.Contains(out, "certificate-body") {
		t.Fatalf("files list:\n%s", out)
	}

	witness := t.TempDir()
	check := `test "$(cat "$SECUREFILE_CERT_PEM_PATH")" = certificate-body
test "$DB_PASSWORD" = s3cret-value
echo "password $DB_PASSWORD region $REGION"
echo "$SECUREFILE_CERT_PEM_PATH" > ` + witness + `/$RELEASE_ENVIRONMENTNAME
`
	cl := &client{server: ts.url, token: ts.admin, http: &httpClient}
	job := func(last string) map[string]any {
		return map[string]any{"secureFiles": []string{"cert.pem"}, "tasks": []map[string]any{{"name": "check", "script": check + last}}}
	}
	if err := cl.do(context.Background(), `mutation($ok: JobSpecInput, $bad: JobSpecInput) { createDefinition(input: {name: "lib", variableGroups: ["shared"],
	    environments: [{name: "dev", trigger: {kind: AFTER_RELEASE}, job: $ok}, {name: "qa", trigger: {kind: AFTER_RELEASE}, job: $bad}]}) { id } }`,
		map[string]any{"ok": job("true"), "bad": job("exit 4")}, nil); err != nil {
		t.Fatal(err)
	}
	var rel release
	c.json(&rel, "release", "create", "lib")
	for env, want := range map[string]string{"dev": "SUCCEEDED", "qa": "FAILED"} {
		ts.waitFor(t, env+" "+want, func() bool { return ts.envStatus(t, rel.ID, env) == want })
		path, err := os.ReadFile(filepath.Join(witness, env))
		if err != nil {
			t.Fatalf("%s: the task did not see the secure file: %v", env, err)
		}
		if _, err := os.Stat(strings.TrimSpace(string(path))); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: the secure file is still on the agent: %v", env, err)
		}
		log := c.ok("logs", ts.deploymentOf(t, rel.ID, env))
		if !strings.Contains(log, "password *** region eu") || strings.Contains(log, "s3cret-value") {
			t.Fatalf("%s log (the group's secret must be masked):\n%s", env, log)
		}
	}
	// Used: neither can be deleted; the refusal names the definition.
	if _, err := c.run("", "groups", "delete", "shared"); err == nil || !strings.Contains(err.Error(), "definition lib") {
		t.Fatalf("deleting a used group: %v", err)
	}
	if _, err := c.run("", "files", "delete", "cert.pem"); err == nil || !strings.Contains(err.Error(), "definition lib") {
		t.Fatalf("deleting a used file: %v", err)
	}
	c.ok("groups", "unset", "shared", "REGION")
	if out := c.ok("groups", "show", "shared"); strings.Contains(out, "REGION") {
		t.Fatalf("after unset:\n%s", out)
	}
}
