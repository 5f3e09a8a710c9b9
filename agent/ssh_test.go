package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/agentproto"
	"github.com/cairnhq/cairn/internal/sshdtest"
	"golang.org/x/crypto/ssh"
)

// testSSHD is a real sshd with the SSH tasks' inputs and variables to reach it.
type testSSHD struct{ *sshdtest.Server }

func startSSHD(t *testing.T) testSSHD { return testSSHD{sshdtest.Start(t)} }

// inputs returns the connection inputs of s, the key from the secret variable deploy.key.
func (s testSSHD) inputs(extra map[string]string) map[string]string {
	in := map[string]string{"host": "127.0.0.1", "port": strconv.Itoa(s.Port), "username": s.User,
		"privateKey": "$(deploy.key)", "hostKey": s.HostKeyLine()}
	for k, v := range extra {
		in[k] = v
	}
	return in
}

func (s testSSHD) variables() []agentproto.Variable {
	return []agentproto.Variable{
		{Name: "deploy.key", EnvName: "DEPLOY_KEY", Value: s.ClientKey, Secret: true},
		{Name: "db.password", EnvName: "DB_PASSWORD", Value: "s3cr3t-Pa55", Secret: true},
	}
}

// TestBuiltinSSH runs the SSH task against a real sshd: commands (each in turn, the secret in
// a command masked in the output), an inline script with arguments, a script file from the
// agent, a failing command, stderr with and without failOnStdErr.
func TestBuiltinSSH(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	x := newTestExecutor(t)
	local := t.TempDir()
	write(t, filepath.Join(local, "remote.sh"), "echo \"script on $(hostname) args=$1,$2\"\n")
	o := runJob(t, x, agentproto.JobAssignment{JobID: "ssh", SkipArtifactDownload: true, Variables: s.variables(),
		Tasks: []agentproto.Task{
			builtinTask(t, "SSH", s.inputs(map[string]string{"commands": "echo first\necho \"pw is $(db.password)\"\nwhoami"})),
			builtinTask(t, "SSH", s.inputs(map[string]string{"runOptions": "inline", "inline": "set -e\necho \"inline $1 $2\"\ntest \"$1\" = a", "args": "a b"})),
			builtinTask(t, "SSH", s.inputs(map[string]string{"runOptions": "script", "scriptPath": filepath.Join(local, "remote.sh"), "args": "x y"})),
			builtinTask(t, "SSH", s.inputs(map[string]string{"commands": "echo before\nexit 7\necho never"})),
			builtinTask(t, "SSH", s.inputs(map[string]string{"commands": "echo oops >&2"})),
		}})
	all := strings.Join(o.text(1), "\n")
	if !strings.Contains(all, "first") || !strings.Contains(all, "pw is ***") || !strings.Contains(all, s.User) {
		t.Errorf("step 1 log %q (%+v)", all, o.steps[1])
	}
	for step := 1; step <= 6; step++ {
		for _, line := range o.text(step) {
			if strings.Contains(line, "s3cr3t-Pa55") || strings.Contains(line, "PRIVATE KEY") {
				t.Errorf("step %d printed a secret: %q", step, line)
			}
		}
	}
	if o.steps[1].Status != agentproto.StepSucceeded || o.steps[2].Status != agentproto.StepSucceeded || o.steps[3].Status != agentproto.StepSucceeded {
		t.Fatalf("steps %+v %+v %+v, logs %q %q %q", o.steps[1], o.steps[2], o.steps[3], o.text(1), o.text(2), o.text(3))
	}
	if !slices.Contains(o.text(2), "inline a b") {
		t.Errorf("inline log %q", o.text(2))
	}
	host, _ := os.Hostname()
	if !slices.Contains(o.text(3), "script on "+host+" args=x,y") {
		t.Errorf("script log %q", o.text(3))
	}
	if st := o.steps[4]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "command 2 exited with code 7") || slices.Contains(o.text(4), "never") {
		t.Errorf("failing command: %+v %q", st, o.text(4))
	}
	if st := o.steps[5]; st.Status != agentproto.StepSkipped {
		t.Errorf("after a failure the next SSH task is skipped: %+v", st)
	}
}

// TestBuiltinSSHStdErr: failOnStdErr (default true) fails a command that writes to stderr.
func TestBuiltinSSHStdErr(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	x := newTestExecutor(t)
	tasks := []agentproto.Task{
		builtinTask(t, "SSH", s.inputs(map[string]string{"commands": "echo tolerated >&2", "failOnStdErr": "false"})),
		builtinTask(t, "SSH", s.inputs(map[string]string{"commands": "echo oops >&2"})),
	}
	o := runJob(t, x, agentproto.JobAssignment{JobID: "ssh-stderr", SkipArtifactDownload: true, Variables: s.variables(), Tasks: tasks})
	if st := o.steps[1]; st.Status != agentproto.StepSucceeded || !slices.Contains(o.text(1), "tolerated") {
		t.Errorf("tolerated stderr: %+v %q", st, o.text(1))
	}
	if st := o.steps[2]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "wrote to stderr") {
		t.Errorf("stderr: %+v %q", st, o.text(2))
	}
}

// TestBuiltinSSHHostKeys: an unpinned key is refused with its fingerprint, a wrong pin is
// refused, a fingerprint pin works, trust on first use records the key and refuses a changed
// one later; a key from a file (a secure file's path) works too.
func TestBuiltinSSHHostKeys(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	x := newTestExecutor(t)
	fp := ssh.FingerprintSHA256(s.HostKey)

	run := func(id string, in map[string]string) jobOutcome {
		return runJob(t, x, agentproto.JobAssignment{JobID: id, SkipArtifactDownload: true, Variables: s.variables(),
			Tasks: []agentproto.Task{builtinTask(t, "SSH", in)}})
	}
	o := run("unpinned", s.inputs(map[string]string{"hostKey": "", "commands": "echo hi"}))
	if st := o.steps[1]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "is not pinned") || !strings.Contains(st.Reason, fp) {
		t.Errorf("unpinned: %+v", st)
	}
	o = run("wrong-pin", s.inputs(map[string]string{"hostKey": "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "commands": "echo hi"}))
	if st := o.steps[1]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "not one of the pinned keys") {
		t.Errorf("wrong pin: %+v", st)
	}
	o = run("bad-pin", s.inputs(map[string]string{"hostKey": "not a key", "commands": "echo hi"}))
	if st := o.steps[1]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "input hostKey") {
		t.Errorf("malformed pin: %+v", st)
	}
	o = run("fingerprint", s.inputs(map[string]string{"hostKey": fp, "privateKey": "", "privateKeyFile": s.ClientFile, "commands": "echo by fingerprint"}))
	if st := o.steps[1]; st.Status != agentproto.StepSucceeded || !slices.Contains(o.text(1), "by fingerprint") {
		t.Errorf("fingerprint pin with a key file: %+v %q", st, o.text(1))
	}
	o = run("tofu-1", s.inputs(map[string]string{"hostKey": "", "trustOnFirstUse": "true", "commands": "echo first contact"}))
	if st := o.steps[1]; st.Status != agentproto.StepSucceeded || st.WarningCount != 1 {
		t.Fatalf("first use: %+v %q", st, o.text(1))
	}
	known, err := os.ReadFile(x.knownHostsPath())
	if err != nil || !strings.Contains(string(known), "[127.0.0.1]:"+strconv.Itoa(s.Port)+" "+s.HostKeyLine()) {
		t.Fatalf("known_hosts %q (%v)", known, err)
	}
	o = run("tofu-2", s.inputs(map[string]string{"hostKey": "", "trustOnFirstUse": "true", "commands": "echo again"}))
	if st := o.steps[1]; st.Status != agentproto.StepSucceeded || st.WarningCount != 0 {
		t.Errorf("second use: %+v", st)
	}
	// The host "was rebuilt": the recorded key is another one.
	changed := strings.Replace(string(known), strings.Fields(s.HostKeyLine())[1], "AAAAC3NzaC1lZDI1NTE5AAAAIGVpO7pKzV5v3bYqVwhzZ5KQW7eFQv3l3kH1oJ4Bq7y7", 1)
	if err := os.WriteFile(x.knownHostsPath(), []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	o = run("tofu-changed", s.inputs(map[string]string{"hostKey": "", "trustOnFirstUse": "true", "commands": "echo must not run"}))
	if st := o.steps[1]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "differs from the one recorded") {
		t.Errorf("changed key: %+v", st)
	}
	o = run("bad-key", s.inputs(map[string]string{"privateKey": "$(db.password)", "commands": "echo hi"}))
	if st := o.steps[1]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "private key cannot be read") || strings.Contains(st.Reason, "s3cr3t") {
		t.Errorf("unreadable key: %+v", st)
	}
	o = run("bad-port", s.inputs(map[string]string{"port": "70000", "commands": "echo hi"}))
	if st := o.steps[1]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "input port") {
		t.Errorf("bad port: %+v", st)
	}
}

// TestBuiltinCopyFilesOverSSH copies files to a folder on the host through a real sshd: globs
// with an exclusion, clean, overwrite off, flatten; file modes kept.
func TestBuiltinCopyFilesOverSSH(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	x := newTestExecutor(t)
	src, remote := t.TempDir(), t.TempDir()
	write(t, filepath.Join(src, "app/bin/run.sh"), "#!/bin/sh\necho run\n")
	os.Chmod(filepath.Join(src, "app/bin/run.sh"), 0o755)
	write(t, filepath.Join(src, "app/conf/app.json"), `{"a":1}`)
	write(t, filepath.Join(src, "app/conf/secret.key"), "nope")
	write(t, filepath.Join(src, "it's here.txt"), "quoted name")
	write(t, filepath.Join(remote, "site/old.txt"), "old")
	write(t, filepath.Join(remote, "keep/app/conf/app.json"), "kept")
	o := runJob(t, x, agentproto.JobAssignment{JobID: "scp", SkipArtifactDownload: true, Variables: s.variables(),
		Tasks: []agentproto.Task{
			builtinTask(t, "CopyFilesOverSSH", s.inputs(map[string]string{"sourceFolder": src, "contents": "**\n!**/*.key", "targetFolder": remote + "/site", "cleanTargetFolder": "true"})),
			builtinTask(t, "CopyFilesOverSSH", s.inputs(map[string]string{"sourceFolder": src, "contents": "app/conf/*.json", "targetFolder": remote + "/keep", "overwrite": "false"})),
			builtinTask(t, "CopyFilesOverSSH", s.inputs(map[string]string{"sourceFolder": src, "contents": "app/**", "targetFolder": remote + "/flat", "flattenFolders": "true"})),
			builtinTask(t, "CopyFilesOverSSH", s.inputs(map[string]string{"sourceFolder": src, "contents": "*.none", "targetFolder": remote + "/none", "failOnEmptySource": "true"})),
		}})
	got := tree(t, remote)
	want := map[string]string{
		"site/app/bin/run.sh": "#!/bin/sh\necho run\n", "site/app/conf/app.json": `{"a":1}`, "site/it's here.txt": "quoted name",
		"keep/app/conf/app.json": "kept",
		"flat/run.sh":            "#!/bin/sh\necho run\n", "flat/app.json": `{"a":1}`, "flat/secret.key": "nope",
	}
	if strings.Join(keys(got), ",") != strings.Join(keys(want), ",") {
		t.Fatalf("remote files %v, want %v (logs %q %q %q)", keys(got), keys(want), o.text(1), o.text(2), o.text(3))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if fi, err := os.Stat(filepath.Join(remote, "site/app/bin/run.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("mode of run.sh: %v %v", fi.Mode(), err)
	}
	if !slices.ContainsFunc(o.text(2), func(l string) bool { return strings.HasPrefix(l, "Skipped app/conf/app.json") }) {
		t.Errorf("overwrite false: %q", o.text(2))
	}
	if st := o.steps[4]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "no file under") {
		t.Errorf("empty source: %+v", st)
	}
}

// TestSSHInputsRefused: hostile or malformed inputs fail the task before any connection, with
// the input named.
func TestSSHInputsRefused(t *testing.T) {
	t.Parallel()
	x := newTestExecutor(t)
	base := map[string]string{"host": "127.0.0.1", "port": "1", "username": "u", "password": "$(pw)", "hostKey": "SHA256:x"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for i, tt := range []struct {
		task string
		in   map[string]string
		want string
	}{
		{"SSH", with(map[string]string{"runOptions": "inline", "inline": "echo", "interpreter": "sh; touch /tmp/x"}), "input interpreter"},
		{"SSH", with(map[string]string{"runOptions": "teleport"}), "input runOptions"},
		{"SSH", with(map[string]string{"commands": " \n "}), "input commands is empty"},
		{"SSH", with(map[string]string{"commands": "true", "readyTimeout": "-3"}), "input readyTimeout"},
		{"SSH", with(map[string]string{"commands": "true", "host": ""}), "input host is required"},
		{"SSH", with(map[string]string{"commands": "true", "password": ""}), "give privateKey, privateKeyFile or password"},
		{"SSH", with(map[string]string{"runOptions": "script", "scriptPath": "/nonexistent/x.sh"}), "input scriptPath"},
		{"CopyFilesOverSSH", with(map[string]string{"sourceFolder": "/nonexistent", "targetFolder": "/tmp"}), "does not exist"},
		{"CopyFilesOverSSH", with(map[string]string{"sourceFolder": t.TempDir(), "targetFolder": "/tmp", "contents": "[abc"}), "input contents"},
	} {
		id := fmt.Sprintf("ssh-refused-%d", i)
		o := runJob(t, x, agentproto.JobAssignment{JobID: id, SkipArtifactDownload: true, Tasks: []agentproto.Task{builtinTask(t, tt.task, tt.in)},
			Variables: []agentproto.Variable{{Name: "pw", EnvName: "PW", Value: "pw-s3cret", Secret: true}}})
		if st := o.steps[1]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, tt.want) || strings.Contains(st.Reason, "pw-s3cret") {
			t.Errorf("%s %v: %+v", tt.task, tt.in, st)
		}
	}
}
