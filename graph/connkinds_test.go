package graph_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
	"golang.org/x/crypto/ssh"
)

const (
	kubeToken   = "kube-T0ken-9f8e7d"
	registryPwd = "reg-Pa55-word"
)

// testKeys returns an unencrypted OpenSSH private key, the same key behind a passphrase, and a
// host key line.
func testKeys(t *testing.T) (key, encrypted, hostKey string) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	b, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	eb, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("pp"))
	if err != nil {
		t.Fatal(err)
	}
	hpub, _, _ := ed25519.GenerateKey(rand.Reader)
	pk, _ := ssh.NewPublicKey(hpub)
	return string(pem.EncodeToMemory(b)), string(pem.EncodeToMemory(eb)), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
}

func testKubeconfig(server string) string {
	return "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster:\n    server: " + server +
		"\ncontexts:\n- name: deployer@prod\n  context: {cluster: prod, user: deployer}\ncurrent-context: deployer@prod\nusers:\n- name: deployer\n  user:\n    token: " + kubeToken + "\n"
}

const endpointFields = `id name kind url username host port hostKey trustOnFirstUse kubeContext namespace hasSecret hasPrivateKey hasKubeconfig`

// TestEndpointConnectionsAPI creates SSH, DOCKER_REGISTRY and KUBERNETES connections through
// GraphQL, refuses malformed and hostile ones naming the field (nothing stored), refuses on
// definition save a connection of the wrong kind, a $(variable) for it and an inline input it
// replaces, and never returns a private key, password or kubeconfig in any answer.
func TestEndpointConnectionsAPI(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e, as := newAPI(t, db)
		root, err := e.EnsureAdmin(ctx, "root")
		if err != nil {
			t.Fatal(err)
		}
		admin := as(delivery.Actor{UserID: root.ID, Username: "root", Role: delivery.RoleAdmin})
		editor := as(delivery.Actor{UserID: root.ID, Username: "ed", Role: delivery.RoleEditor})
		key, encrypted, hostKey := testKeys(t)
		create := `mutation($in: NewServiceConnectionInput!) { createServiceConnection(input: $in) { ` + endpointFields + ` } }`
		var out struct {
			CreateServiceConnection map[string]any `json:"createServiceConnection"`
		}
		admin.do(create, map[string]any{"in": map[string]any{"name": "web-hosts", "kind": "SSH", "host": "web01.example.com", "port": 2222,
			"username": "deploy", "privateKey": key, "hostKey": "# web01\n" + hostKey + "\n"}}, &out)
		c := out.CreateServiceConnection
		out.CreateServiceConnection = nil
		if c["hasPrivateKey"] != true || c["hasSecret"] != false || c["hostKey"] != hostKey || c["port"] != float64(2222) || c["url"] != "" {
			t.Errorf("ssh %+v", c)
		}
		admin.do(create, map[string]any{"in": map[string]any{"name": "acr", "kind": "DOCKER_REGISTRY", "url": "reg.example:5000",
			"username": "pusher", "secret": registryPwd}}, &out)
		if c := out.CreateServiceConnection; c == nil || c["url"] != "https://reg.example:5000" || c["hasSecret"] != true {
			t.Errorf("registry %+v", c)
		}
		out.CreateServiceConnection = nil
		admin.do(create, map[string]any{"in": map[string]any{"name": "prod", "kind": "KUBERNETES", "kubeconfig": testKubeconfig("https://k8s.example:6443"), "namespace": "web"}}, &out)
		kube := out.CreateServiceConnection
		out.CreateServiceConnection = nil
		if kube["hasKubeconfig"] != true || kube["url"] != "https://k8s.example:6443" || kube["namespace"] != "web" {
			t.Errorf("kubernetes %+v", kube)
		}
		admin.do(create, map[string]any{"in": map[string]any{"name": "ci", "kind": "JENKINS", "url": "https://ci.example"}}, &out)

		// Refusals, each naming its field; none is stored.
		long := strings.Repeat("a", 300)
		for _, tc := range []struct {
			in    map[string]any
			field string
			want  string
		}{
			{map[string]any{"kind": "SSH", "username": "u", "privateKey": key, "hostKey": hostKey}, "host", "is required"},
			{map[string]any{"kind": "SSH", "host": "h", "privateKey": key, "hostKey": hostKey}, "username", "is required"},
			{map[string]any{"kind": "SSH", "host": "h", "username": "u", "hostKey": hostKey}, "privateKey", "needs a private key or a password"},
			{map[string]any{"kind": "SSH", "host": "h", "username": "u", "secret": "pw"}, "hostKey", "is required unless trustOnFirstUse"},
			{map[string]any{"kind": "SSH", "host": "h", "username": "u", "secret": "pw", "hostKey": "ssh-ed25519 not-base64!"}, "hostKey", "line 1"},
			{map[string]any{"kind": "SSH", "host": "h", "username": "u", "secret": "pw", "hostKey": "@revoked * " + hostKey}, "hostKey", "markers"},
			{map[string]any{"kind": "SSH", "host": "h", "username": "u", "secret": "pw", "hostKey": hostKey, "trustOnFirstUse": true}, "trustOnFirstUse", "clear one of them"},
			{map[string]any{"kind": "SSH", "host": "h", "username": "u", "privateKey": encrypted, "trustOnFirstUse": true}, "privateKey", "passphrase"},
			{map[string]any{"kind": "SSH", "host": "h", "username": "u", "privateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n-----END OPENSSH PRIVATE KEY-----", "trustOnFirstUse": true}, "privateKey", "not a private key"},
			{map[string]any{"kind": "SSH", "host": "h; rm -rf /", "username": "u", "secret": "pw", "trustOnFirstUse": true}, "host", "not a host name"},
			{map[string]any{"kind": "SSH", "host": "-oProxyCommand=x", "username": "u", "secret": "pw", "trustOnFirstUse": true}, "host", "not a host name"},
			{map[string]any{"kind": "SSH", "host": long, "username": "u", "secret": "pw", "trustOnFirstUse": true}, "host", "limit is 253"},
			{map[string]any{"kind": "SSH", "host": "h", "port": 70000, "username": "u", "secret": "pw", "trustOnFirstUse": true}, "port", "not a port"},
			{map[string]any{"kind": "SSH", "host": "h", "username": "u\nroot", "secret": "pw", "trustOnFirstUse": true}, "username", "control characters"},
			{map[string]any{"kind": "SSH", "url": "https://x", "host": "h", "username": "u", "secret": "pw", "trustOnFirstUse": true}, "url", "no url"},
			{map[string]any{"kind": "DOCKER_REGISTRY", "username": "u", "secret": "pw"}, "url", "is required"},
			{map[string]any{"kind": "DOCKER_REGISTRY", "url": "https://u:p@reg.example", "username": "u", "secret": "pw"}, "url", "credentials"},
			{map[string]any{"kind": "DOCKER_REGISTRY", "url": "reg.example", "username": "u"}, "secret", "is required"},
			{map[string]any{"kind": "DOCKER_REGISTRY", "url": "reg.example", "username": "u", "secret": "pw", "host": "x"}, "host", "is for SSH connections"},
			{map[string]any{"kind": "KUBERNETES"}, "kubeconfig", "is required"},
			{map[string]any{"kind": "KUBERNETES", "kubeconfig": "clusters: [unclosed"}, "kubeconfig", "not a kubeconfig"},
			{map[string]any{"kind": "KUBERNETES", "kubeconfig": "kind: Pod\nmetadata: {name: x}\n"}, "kubeconfig", "not a kubeconfig"},
			{map[string]any{"kind": "KUBERNETES", "kubeconfig": testKubeconfig("https://k8s.example"), "kubeContext": "nope"}, "kubeContext", `no context "nope"`},
			{map[string]any{"kind": "KUBERNETES", "kubeconfig": testKubeconfig("ftp://k8s.example")}, "kubeconfig", "not an http(s) URL"},
			{map[string]any{"kind": "KUBERNETES", "kubeconfig": testKubeconfig("https://k8s.example"), "namespace": "Bad_NS"}, "namespace", "not a namespace"},
			{map[string]any{"kind": "KUBERNETES", "kubeconfig": "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nclusters: *g\n"}, "kubeconfig", "not a kubeconfig"},
			{map[string]any{"kind": "KUBERNETES", "kubeconfig": testKubeconfig("https://k8s.example"), "username": "u"}, "username", "no username"},
			{map[string]any{"kind": "JENKINS", "url": "https://ci.example", "privateKey": key}, "privateKey", "is for SSH connections"},
			{map[string]any{"kind": "JENKINS"}, "url", "is required"},
		} {
			tc.in["name"] = "refused"
			r := admin.raw(create, map[string]any{"in": tc.in})
			if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, tc.field) || !strings.Contains(r.Errors[0].Message, tc.want) {
				t.Errorf("%v: %+v, want %s: …%s", tc.in, r.Errors, tc.field, tc.want)
			}
		}
		if n := db.Client.ServiceConnection.Query().CountX(ctx); n != 4 {
			t.Errorf("%d connections stored", n)
		}

		// Updates are checked on the whole: dropping the only credential, a context the stored
		// kubeconfig lacks.
		upd := `mutation($id: ID!, $in: ServiceConnectionPatchInput!) { updateServiceConnection(id: $id, input: $in) { ` + endpointFields + ` } }`
		r := admin.raw(upd, map[string]any{"id": c["id"], "in": map[string]any{"privateKey": ""}})
		if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, "private key or a password") {
			t.Errorf("clearing the key: %+v", r.Errors)
		}
		r = admin.raw(upd, map[string]any{"id": kube["id"], "in": map[string]any{"kubeContext": "other"}})
		if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, `no context "other"`) {
			t.Errorf("unknown context: %+v", r.Errors)
		}
		var updated struct {
			UpdateServiceConnection map[string]any `json:"updateServiceConnection"`
		}
		admin.do(upd, map[string]any{"id": c["id"], "in": map[string]any{"secret": "ssh-Pa55", "privateKey": "", "hostKey": "", "trustOnFirstUse": true}}, &updated)
		if u := updated.UpdateServiceConnection; u["hasPrivateKey"] != false || u["hasSecret"] != true || u["trustOnFirstUse"] != true || u["hostKey"] != "" {
			t.Errorf("updated %+v", u)
		}

		// Definition saves: the connection's kind, a literal name, no inline input it replaces.
		save := func(tasks string) gqlResponse {
			return editor.raw(`mutation { createDefinition(input: {name: "d", environments: [{name: "prod", job: {tasks: [`+tasks+`]}}]}) { id } }`, nil)
		}
		for _, tc := range []struct{ tasks, want string }{
			{`{name: "deploy", uses: "SSH@0", inputs: {sshEndpoint: "acr", commands: "uptime"}}`, `task deploy: input sshEndpoint of SSH@0 takes a service connection of kind SSH; "acr" is of kind DOCKER_REGISTRY`},
			{`{name: "push", uses: "Docker@2", inputs: {containerRegistry: "prod"}}`, `input containerRegistry of Docker@2 takes a service connection of kind DOCKER_REGISTRY`},
			{`{name: "apply", uses: "Kubernetes@1", inputs: {kubernetesServiceConnection: "ci"}}`, `is of kind JENKINS`},
			{`{name: "helm", uses: "HelmDeploy@0", inputs: {kubernetesServiceEndpoint: "nope"}}`, `no service connection named "nope"`},
			{`{name: "deploy", uses: "SSH@0", inputs: {sshEndpoint: "$(conn)", commands: "uptime"}}`, `not a $(variable) reference`},
			{`{name: "deploy", uses: "SSH@0", inputs: {sshEndpoint: "web-hosts", host: "other", commands: "uptime"}}`, `input host of SSH@0: the service connection in sshEndpoint gives it`},
			{`{name: "deploy", uses: "SSH@0", inputs: {commands: "uptime"}}`, `input host of SSH@0 is required (or give the service connection sshEndpoint)`},
		} {
			r := save(tc.tasks)
			if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, tc.want) {
				t.Errorf("%s: %+v, want %s", tc.tasks, r.Errors, tc.want)
			}
		}
		var ok struct{ CreateDefinition struct{ ID string } }
		editor.do(`mutation { createDefinition(input: {name: "d", environments: [{name: "prod", job: {tasks: [
			{name: "copy", uses: "CopyFilesOverSSH@0", inputs: {sshEndpoint: "web-hosts", targetFolder: "/srv/app"}},
			{name: "push", uses: "Docker@2", inputs: {containerRegistry: "acr", repository: "team/web"}},
			{name: "apply", uses: "Kubernetes@1", inputs: {kubernetesServiceConnection: "prod"}},
			{name: "helm", uses: "HelmDeploy@0", inputs: {kubernetesServiceEndpoint: "prod", releaseName: "web", chart: "c"}},
			{name: "legacy", uses: "SSH@0", inputs: {host: "h", username: "u", password: "$(pw)", trustOnFirstUse: "true", commands: "uptime"}}]}}]}) { id } }`, nil, &ok)

		var list struct {
			ServiceConnections struct {
				Edges []struct{ Node map[string]any }
			} `json:"serviceConnections"`
		}
		editor.do(`{ serviceConnections(first: 10) { edges { node { `+endpointFields+` } } } }`, nil, &list)
		if len(list.ServiceConnections.Edges) != 4 {
			t.Errorf("list %+v", list)
		}
		admin.do(`{ auditEvents(first: 50) { edges { node { before after } } } }`, nil, &struct{}{})
		keyBody := strings.Split(strings.TrimSpace(key), "\n")[1]
		for _, body := range *admin.bodies {
			for _, secret := range []string{keyBody, kubeToken, registryPwd, "ssh-Pa55"} {
				if strings.Contains(body, secret) {
					t.Errorf("an answer holds a secret %q: %.300s", secret, body)
				}
			}
		}
	})
}
