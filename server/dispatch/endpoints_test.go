package dispatch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/internal/sshdtest"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestSSHConnectionOnARealAgent: a job whose CopyFilesOverSSH and SSH tasks name an SSH service
// connection (no inline host, user or key) runs on a real agent over the websocket against a
// real sshd: the server opens the connection's sealed key and sends it with the tasks; the key
// never reaches the stored log, even when a command echoes a line of it.
func TestSSHConnectionOnARealAgent(t *testing.T) {
	sshd := sshdtest.Start(t)
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		h := newHarness(t, db, harnessOpts{})
		key := sshd.ClientKey
		if _, err := h.e.CreateConnection(ctx, admin, delivery.ConnectionInput{Name: "web-hosts", Kind: "SSH",
			Host: "127.0.0.1", Port: sshd.Port, Username: sshd.User, PrivateKey: &key, HostKey: sshd.HostKeyLine()}); err != nil {
			t.Fatal(err)
		}
		remote := t.TempDir()
		keyLine := strings.Split(strings.TrimSpace(key), "\n")[1]
		seeded := h.queue(t, deliverytest.JobOptions{Tasks: []spec.Task{
			{Name: "build", Shell: "bash", Script: "mkdir -p out && echo v3 > out/version.txt"},
			{Name: "copy", Uses: "CopyFilesOverSSH@0", Template: builtin(t, "CopyFilesOverSSH"),
				Inputs: map[string]string{"sshEndpoint": "web-hosts", "sourceFolder": "out", "targetFolder": remote + "/app"}},
			{Name: "check", Uses: "SSH@0", Template: builtin(t, "SSH"),
				Inputs: map[string]string{"sshEndpoint": "web-hosts", "commands": "cat " + remote + "/app/version.txt\necho '" + keyLine + "'"}},
		}})
		h.startAgent(t, "deployer", nil)
		j := h.waitJob(t, seeded.Job.ID, job.StatusSUCCEEDED, job.StatusFAILED)
		lines, err := h.e.ReadLogs(ctx, j.ID, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		var text []string
		for _, l := range lines {
			text = append(text, l.Text)
		}
		all := strings.Join(text, "\n")
		if j.Status != job.StatusSUCCEEDED {
			t.Fatalf("job %s (%s), log:\n%s", j.Status, j.ResultReason, all)
		}
		if got, _ := os.ReadFile(filepath.Join(remote, "app/version.txt")); string(got) != "v3\n" {
			t.Errorf("copied %q", got)
		}
		if !strings.Contains(all, "(service connection web-hosts)") || !strings.Contains(all, "\nv3") {
			t.Errorf("log:\n%s", all)
		}
		if strings.Contains(all, keyLine) || strings.Contains(all, "PRIVATE KEY") {
			t.Errorf("the key reached the log:\n%s", all)
		}
	})
}

// TestEndpointAssignment: the server resolves a task's endpoint connection when it builds the
// assignment (secrets opened, the kubeconfig's token listed for masking, the registry's host),
// and refuses, naming the task's input, a connection that was deleted or replaced by one of
// another kind since the definition was saved.
func TestEndpointAssignment(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		h := newHarness(t, db, harnessOpts{})
		kube := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://k8s.example:6443'}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\nusers:\n- name: u\n  user: {token: kube-T0ken-1234}\n"
		pw := "reg-Pa55"
		if _, err := h.e.CreateConnection(ctx, admin, delivery.ConnectionInput{Name: "prod", Kind: "KUBERNETES", Kubeconfig: &kube, Namespace: "web"}); err != nil {
			t.Fatal(err)
		}
		reg, err := h.e.CreateConnection(ctx, admin, delivery.ConnectionInput{Name: "acr", Kind: "DOCKER_REGISTRY", URL: "reg.example:5000", Username: "pusher", Secret: &pw})
		if err != nil {
			t.Fatal(err)
		}
		seeded := h.queue(t, deliverytest.JobOptions{Tasks: []spec.Task{
			{Name: "apply", Uses: "Kubernetes@1", Template: builtin(t, "Kubernetes"), Inputs: map[string]string{"kubernetesServiceConnection": "prod"}},
			{Name: "push", Uses: "Docker@2", Template: builtin(t, "Docker"), Inputs: map[string]string{"containerRegistry": "acr", "repository": "team/web"}},
		}})
		a, err := h.e.BuildAssignment(ctx, seeded.Job.ID)
		if err != nil {
			t.Fatal(err)
		}
		k, d := a.Tasks[0].Endpoint, a.Tasks[1].Endpoint
		if k == nil || k.Kubeconfig != kube || k.Namespace != "web" || k.URL != "https://k8s.example:6443" || len(k.Secrets) != 1 || k.Secrets[0] != "kube-T0ken-1234" {
			t.Errorf("kubernetes endpoint %+v", k)
		}
		if d == nil || d.Registry != "reg.example:5000" || d.Username != "pusher" || d.Password != pw || d.URL != "https://reg.example:5000" {
			t.Errorf("registry endpoint %+v", d)
		}
		wire := toWire(a)
		if w := wire.Tasks[1].Endpoint; w == nil || w.Password != pw || w.Kind != "DOCKER_REGISTRY" || w.Input != "containerRegistry" {
			t.Errorf("wire endpoint %+v", w)
		}
		// The registry connection is replaced by an SSH connection of the same name.
		if err := h.e.DeleteConnection(ctx, admin, reg.ID); err != nil {
			t.Fatal(err)
		}
		_, err = h.e.BuildAssignment(ctx, seeded.Job.ID)
		var de *delivery.Error
		if !errors.As(err, &de) || de.Code != delivery.CodeInvalidInput || de.Field != "inputs.containerRegistry" || !strings.Contains(de.Message, `service connection "acr" no longer exists`) {
			t.Errorf("deleted connection: %v", err)
		}
		if _, err := h.e.CreateConnection(ctx, admin, delivery.ConnectionInput{Name: "acr", Kind: "SSH", Host: "h", Username: "u", Secret: &pw, TrustOnFirstUse: true}); err != nil {
			t.Fatal(err)
		}
		_, err = h.e.BuildAssignment(ctx, seeded.Job.ID)
		if !errors.As(err, &de) || de.Field != "inputs.containerRegistry" || !strings.Contains(de.Message, `"acr" is an SSH connection; the input takes a DOCKER_REGISTRY connection`) {
			t.Errorf("connection of another kind: %v", err)
		}
	})
}
