package delivery_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/serviceconnection"
	"github.com/cairnhq/cairn/ent/user"
	"github.com/cairnhq/cairn/internal/tasklib"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestEndpointTasksInARelease: a task group whose SSH step takes its connection from the
// group's own SERVICE_CONNECTION input (of kind SSH, checked when a definition gives it), and a
// Kubernetes task: the release's job demands an agent that takes endpoints, and its assignment
// carries each step's connection with its secrets opened. Releases keep the template versions
// they froze.
func TestEndpointTasksInARelease(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newDefFixture(t, db)
		root := f.db.Client.User.Create().SetUsername("root").SetRole(user.RoleADMIN).SaveX(f.ctx)
		admin := delivery.Actor{UserID: root.ID, Username: "root", Role: delivery.RoleAdmin}
		pw, kube := "ssh-Pa55", "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://k8s.example'}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\nusers: [{name: u, user: {password: kube-Pa55}}]\n"
		if _, err := f.eng.CreateConnection(f.ctx, admin, delivery.ConnectionInput{Name: "web-hosts", Kind: "SSH", Host: "web01", Username: "deploy", Secret: &pw, TrustOnFirstUse: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.eng.CreateConnection(f.ctx, admin, delivery.ConnectionInput{Name: "prod", Kind: "KUBERNETES", Kubeconfig: &kube}); err != nil {
			t.Fatal(err)
		}
		group := tasklib.Template{Name: "RestartOnHost", Version: "1.0",
			Inputs: []tasklib.Input{{Name: "target", Type: tasklib.InputServiceConnection, ConnectionKind: tasklib.ConnectionSSH, Required: true}},
			Steps:  []tasklib.Step{{Name: "restart", Uses: "SSH@0", Inputs: map[string]string{"sshEndpoint": "$(target)", "commands": "systemctl restart web"}}}}
		if _, err := f.eng.SaveTaskTemplate(f.ctx, admin, group, true); err != nil {
			t.Fatal(err)
		}
		doc := validDoc()
		doc.Environments[0].Job.Tasks = []spec.Task{{Name: "restart", Uses: "RestartOnHost@1", Inputs: map[string]string{"target": "prod"}}}
		if _, err := f.eng.CreateDefinition(f.ctx, f.editor, doc, ""); err == nil || !strings.Contains(err.Error(), `input target of RestartOnHost@1 takes a service connection of kind SSH; "prod" is of kind KUBERNETES`) {
			t.Errorf("group input of the wrong kind: %v", err)
		}
		doc.Environments[0].Job.Tasks = []spec.Task{
			{Name: "restart", Uses: "RestartOnHost@1", Inputs: map[string]string{"target": "web-hosts"}},
			{Name: "apply", Uses: "Kubernetes@1", Inputs: map[string]string{"kubernetesServiceConnection": "prod"}},
		}
		def := f.create(doc)
		rel, err := f.eng.CreateRelease(f.ctx, f.editor, delivery.CreateReleaseInput{DefinitionID: def.ID,
			Artifacts: []delivery.ArtifactVersion{{Alias: "web", BuildID: "1", BuildNumber: "1"}, {Alias: "infra", BuildID: "2", BuildNumber: "2"}}})
		if err != nil {
			t.Fatal(err)
		}
		dev := f.db.Client.Deployment.Query().Where(deployment.ReleaseID(rel.ID), deployment.EnvironmentName("dev")).OnlyX(f.ctx)
		j := f.db.Client.Job.Query().Where(job.DeploymentID(dev.ID)).OnlyX(f.ctx)
		for _, d := range []string{"agent.endpoints", "agent.runner.ssh", "kubectl"} {
			if !slices.Contains(j.Demands, d) {
				t.Errorf("demands %v lack %s", j.Demands, d)
			}
		}
		for _, task := range j.Spec.Tasks {
			if v := task.Template.Version; task.Name == "apply" && v != "1.1" {
				t.Errorf("apply froze Kubernetes %s", v)
			}
		}
		a, err := f.eng.BuildAssignment(f.ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		ssh, k := a.Tasks[0].Endpoint, a.Tasks[1].Endpoint
		if a.Tasks[0].Name != "restart / restart" || ssh == nil || ssh.Host != "web01" || ssh.Port != 22 || ssh.Password != pw || !ssh.TrustOnFirstUse || ssh.Input != "sshEndpoint" {
			t.Errorf("ssh step %+v endpoint %+v", a.Tasks[0].Name, ssh)
		}
		if k == nil || k.Kubeconfig != kube || !slices.Contains(k.Secrets, "kube-Pa55") || k.URL != "https://k8s.example" {
			t.Errorf("kubernetes endpoint %+v", k)
		}
	})
}

// TestConnectionKindsAgree: the task library's list of connection kinds is the schema's.
func TestConnectionKindsAgree(t *testing.T) {
	for _, k := range tasklib.ConnectionKinds {
		if err := serviceconnection.KindValidator(serviceconnection.Kind(k)); err != nil {
			t.Errorf("task library kind %s: %v", k, err)
		}
	}
	for _, k := range []serviceconnection.Kind{serviceconnection.KindJENKINS, serviceconnection.KindAZURE_DEVOPS,
		serviceconnection.KindSSH, serviceconnection.KindDOCKER_REGISTRY, serviceconnection.KindKUBERNETES} {
		if !slices.Contains(tasklib.ConnectionKinds, string(k)) {
			t.Errorf("schema kind %s is not in the task library's list", k)
		}
	}
}
