package agent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/agentproto"
	"golang.org/x/crypto/ssh"
)

// sshEndpoint is the SSH service connection of s as the server sends it.
func (s testSSHD) endpoint() *agentproto.Endpoint {
	return &agentproto.Endpoint{Input: "sshEndpoint", Name: "web-hosts", Kind: agentproto.EndpointSSH,
		Host: "127.0.0.1", Port: s.Port, Username: s.User, PrivateKey: s.ClientKey, HostKey: s.HostKeyLine()}
}

// withEndpoint returns task with its endpoint set.
func withEndpoint(task agentproto.Task, ep *agentproto.Endpoint) agentproto.Task {
	task.Endpoint = ep
	return task
}

// TestSSHThroughServiceConnection: SSH and CopyFilesOverSSH connect with the endpoint the
// server sends (no inline connection input at all) to a real sshd; the private key never
// reaches the log even when a command prints it; a host key the connection does not pin is
// refused, naming the connection.
func TestSSHThroughServiceConnection(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	x := newTestExecutor(t)
	src, remote := t.TempDir(), t.TempDir()
	write(t, filepath.Join(src, "app/version.txt"), "v2")
	keyLine := strings.Split(strings.TrimSpace(s.ClientKey), "\n")[1]
	ep := s.endpoint()
	wrong := s.endpoint()
	wrong.HostKey = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	o := runJob(t, x, agentproto.JobAssignment{JobID: "ssh-conn", SkipArtifactDownload: true, Tasks: []agentproto.Task{
		withEndpoint(builtinTask(t, "CopyFilesOverSSH", map[string]string{"sshEndpoint": "web-hosts", "sourceFolder": src, "targetFolder": remote + "/site"}), ep),
		withEndpoint(builtinTask(t, "SSH", map[string]string{"sshEndpoint": "web-hosts", "commands": "cat " + remote + "/site/app/version.txt\necho '" + keyLine + "'"}), ep),
		withEndpoint(builtinTask(t, "SSH", map[string]string{"sshEndpoint": "web-hosts", "commands": "echo must not run"}), wrong),
	}})
	if o.steps[1].Status != agentproto.StepSucceeded || o.steps[2].Status != agentproto.StepSucceeded {
		t.Fatalf("steps %+v %+v, logs %q %q", o.steps[1], o.steps[2], o.text(1), o.text(2))
	}
	if got, _ := os.ReadFile(filepath.Join(remote, "site/app/version.txt")); string(got) != "v2" {
		t.Errorf("copied file %q", got)
	}
	if !slices.Contains(o.text(2), "v2") || !slices.Contains(o.text(2), "***") {
		t.Errorf("log %q", o.text(2))
	}
	if !slices.ContainsFunc(o.text(1), func(l string) bool { return strings.Contains(l, "(service connection web-hosts)") }) {
		t.Errorf("the log does not say which connection: %q", o.text(1))
	}
	for step := 1; step <= 3; step++ {
		for _, l := range o.text(step) {
			if strings.Contains(l, keyLine) || strings.Contains(l, "PRIVATE KEY") {
				t.Errorf("step %d printed the key: %q", step, l)
			}
		}
	}
	if st := o.steps[3]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "not one of the pinned keys (the host keys of service connection web-hosts)") {
		t.Errorf("wrong pin: %+v", st)
	}
}

// TestSSHConnectionTrustOnFirstUse: a connection with trust on first use records the key and
// refuses a different one; one with neither pin nor trust is refused with the key to pin.
func TestSSHConnectionTrustOnFirstUse(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	x := newTestExecutor(t)
	tofu := s.endpoint()
	tofu.HostKey, tofu.TrustOnFirstUse = "", true
	unpinned := s.endpoint()
	unpinned.HostKey = ""
	o := runJob(t, x, agentproto.JobAssignment{JobID: "ssh-conn-tofu", SkipArtifactDownload: true, Tasks: []agentproto.Task{
		withEndpoint(builtinTask(t, "SSH", map[string]string{"sshEndpoint": "web-hosts", "commands": "echo first"}), tofu),
	}})
	if st := o.steps[1]; st.Status != agentproto.StepSucceeded || st.WarningCount != 1 {
		t.Fatalf("first use: %+v %q", st, o.text(1))
	}
	o = runJob(t, x, agentproto.JobAssignment{JobID: "ssh-conn-unpinned", SkipArtifactDownload: true, Tasks: []agentproto.Task{
		withEndpoint(builtinTask(t, "SSH", map[string]string{"sshEndpoint": "web-hosts", "commands": "echo never"}), unpinned),
	}})
	if st := o.steps[1]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "host keys of service connection web-hosts") || !strings.Contains(st.Reason, ssh.FingerprintSHA256(s.HostKey)) {
		t.Errorf("unpinned: %+v", st)
	}
}

// recordingCLI puts stand-ins for docker, kubectl and helm on a PATH of their own. Each records
// its argv into log (one argument a line, "--" after), the password it reads with
// --password-stdin, the mode of DOCKER_CONFIG, and for a --kubeconfig argument the file's mode;
// on standard output (the job's log) it prints the kubeconfig, as `kubectl config view --raw`
// would.
func recordingCLI(t *testing.T, log string) string {
	t.Helper()
	bin := t.TempDir()
	script := `#!/bin/bash
{
  echo "$(basename "$0")"
  prev=
  for a in "$@"; do
    if [ "$prev" = --kubeconfig ]; then echo "<kubeconfig mode $(stat -c %a "$a")>"; echo "$a" > "$(dirname "$0")/last-kubeconfig"; cat "$a" >&2; else printf '%s\n' "$a"; fi
    prev="$a"
  done
  case " $* " in *' --password-stdin '*) printf 'stdin=%s\n' "$(cat)";; esac
  if [ -n "${DOCKER_CONFIG:-}" ]; then echo "DOCKER_CONFIG mode $(stat -c %a "$DOCKER_CONFIG")"; echo "$DOCKER_CONFIG" > "$(dirname "$0")/last-docker-config"; fi
  echo --
} >> ` + log + "\n"
	for _, name := range []string{"docker", "kubectl", "helm"} {
		write(t, filepath.Join(bin, name), script)
		os.Chmod(filepath.Join(bin, name), 0o755)
	}
	return bin
}

const testKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://k8s.example:6443
contexts:
- name: deployer@prod
  context: {cluster: prod, user: deployer}
current-context: deployer@prod
users:
- name: deployer
  user:
    token: kube-T0ken-abcdef
`

// TestCLIWrappersWithConnections: Docker with a registry connection logs in first, the
// password on standard input, in a private DOCKER_CONFIG that is gone after the task;
// Kubernetes and HelmDeploy get the connection's kubeconfig as a 0600 file (removed after the
// task), its context and namespace (a namespace input wins); the kubeconfig's token is masked
// when a CLI prints it. A job variable named like an endpoint variable does not pass for one.
func TestCLIWrappersWithConnections(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "argv")
	bin := recordingCLI(t, log)
	x := newTestExecutor(t)
	x.environ = append(slices.DeleteFunc(slices.Clone(x.environ), func(s string) bool { return strings.HasPrefix(s, "PATH=") }),
		"PATH="+bin+":"+os.Getenv("PATH"))
	registry := &agentproto.Endpoint{Input: "containerRegistry", Name: "acr", Kind: agentproto.EndpointDockerRegistry,
		URL: "https://reg.example:5000", Registry: "reg.example:5000", Username: "pusher", Password: "reg-Pa55word"}
	cluster := &agentproto.Endpoint{Input: "kubernetesServiceConnection", Name: "prod", Kind: agentproto.EndpointKubernetes,
		URL: "https://k8s.example:6443", Kubeconfig: testKubeconfig, KubeContext: "deployer@prod", Namespace: "web", Secrets: []string{"kube-T0ken-abcdef"}}
	o := runJob(t, x, agentproto.JobAssignment{JobID: "cli-conn", SkipArtifactDownload: true,
		Variables: []agentproto.Variable{{Name: "endpoint.registry", EnvName: "ENDPOINT_REGISTRY", Value: "evil.example"}},
		Tasks: []agentproto.Task{
			withEndpoint(builtinTask(t, "Docker", map[string]string{"command": "buildAndPush", "containerRegistry": "acr", "repository": "team/web", "tags": "1.2"}), registry),
			withEndpoint(builtinTask(t, "Kubernetes", map[string]string{"command": "apply", "kubernetesServiceConnection": "prod", "useConfigurationFile": "true", "configuration": "manifests/"}), cluster),
			withEndpoint(builtinTask(t, "HelmDeploy", map[string]string{"kubernetesServiceEndpoint": "prod", "namespace": "canary", "releaseName": "web", "chart": "charts/web", "waitForExecution": "false"}), cluster),
			builtinTask(t, "Docker", map[string]string{"command": "build", "repository": "team/web"}),
		}})
	for i := 1; i <= 4; i++ {
		if o.steps[i].Status != agentproto.StepSucceeded {
			t.Fatalf("step %d: %+v %q", i, o.steps[i], o.text(i))
		}
	}
	data, _ := os.ReadFile(log)
	want := strings.Join([]string{
		"docker", "login", "--username", "pusher", "--password-stdin", "reg.example:5000", "stdin=reg-Pa55word", "DOCKER_CONFIG mode 700", "--",
		"docker", "build", "-f", "Dockerfile", "-t", "reg.example:5000/team/web:1.2", ".", "DOCKER_CONFIG mode 700", "--",
		"docker", "push", "reg.example:5000/team/web:1.2", "DOCKER_CONFIG mode 700", "--",
		"kubectl", "--kubeconfig", "<kubeconfig mode 600>", "--context", "deployer@prod", "--namespace", "web", "apply", "--filename", "manifests/", "--",
		"helm", "upgrade", "--kubeconfig", "<kubeconfig mode 600>", "--kube-context", "deployer@prod", "--namespace", "canary", "--install", "web", "charts/web", "--",
		"docker", "build", "-f", "Dockerfile", "-t", "team/web:latest", ".", "--",
	}, "\n") + "\n"
	if string(data) != want {
		t.Errorf("argv:\n%s\nwant\n%s", data, want)
	}
	for _, f := range []string{"last-kubeconfig", "last-docker-config"} {
		p, err := os.ReadFile(filepath.Join(bin, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := os.Stat(strings.TrimSpace(string(p))); !os.IsNotExist(err) {
			t.Errorf("%s %s is left after the task: %v", f, p, err)
		}
	}
	var sawCluster bool
	for i := 1; i <= 4; i++ {
		for _, l := range o.text(i) {
			if strings.Contains(l, "reg-Pa55word") || strings.Contains(l, "kube-T0ken-abcdef") {
				t.Errorf("step %d printed a secret: %q", i, l)
			}
			sawCluster = sawCluster || strings.Contains(l, "https://k8s.example:6443")
		}
	}
	if !sawCluster || !slices.ContainsFunc(o.text(2), func(l string) bool { return strings.Contains(l, "token: ***") }) {
		t.Errorf("kubectl's output was not logged with the token masked: %q", o.text(2))
	}
}

// TestEndpointOfUnknownKind: an endpoint of a kind this agent does not know fails the task
// before its script runs.
func TestEndpointOfUnknownKind(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "argv")
	bin := recordingCLI(t, log)
	x := newTestExecutor(t)
	x.environ = append(slices.DeleteFunc(slices.Clone(x.environ), func(s string) bool { return strings.HasPrefix(s, "PATH=") }),
		"PATH="+bin+":"+os.Getenv("PATH"))
	o := runJob(t, x, agentproto.JobAssignment{JobID: "ep-unknown", SkipArtifactDownload: true, Tasks: []agentproto.Task{
		withEndpoint(builtinTask(t, "Docker", map[string]string{"command": "build", "repository": "x"}), &agentproto.Endpoint{Name: "ftp", Kind: "FTP", Password: "ftp-Secret"}),
	}})
	if st := o.steps[1]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, `kind "FTP"`) {
		t.Errorf("%+v %q", st, o.text(1))
	}
	if data, _ := os.ReadFile(log); len(data) != 0 {
		t.Errorf("the CLI ran: %s", data)
	}
}
