package dispatch

import (
	"context"
	"encoding/base64"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/jobstep"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/internal/sshdtest"
	"github.com/cairnhq/cairn/internal/tasklib"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestLoggingCommandsReachTheEngine: a real agent runs scripts that talk back; over the
// websocket the server stores what they said as typed data: issues and counts on the step,
// the attachment, the output variable (secret sealed), line kinds, and the conditions' effect.
func TestLoggingCommandsReachTheEngine(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		h := newHarness(t, db, harnessOpts{})
		seeded := h.queue(t, deliverytest.JobOptions{Tasks: []spec.Task{
			{Name: "talk", Shell: "bash", Script: `echo "##[section]Deploying"
echo "##vso[task.logissue type=warning]disk almost full"
echo "##vso[task.setvariable variable=url;isOutput=true]https://web.example/"
echo "##vso[task.setvariable variable=key;isOutput=true;isSecret=true]k3y-value"
echo report > r.txt
echo "##vso[task.uploadfile]r.txt"
echo "##vso[task.setprogress value=50]half"
echo "##vso[task.bogus]x"
exit 2`},
			{Name: "skipped", Shell: "bash", Script: "echo never"},
			{Name: "cleanup", Shell: "bash", Condition: "ALWAYS", Script: "echo cleaning"},
		}})
		h.startAgent(t, "talker", nil)
		j := h.waitJob(t, seeded.Job.ID, job.StatusSUCCEEDED, job.StatusFAILED)
		if j.Status != job.StatusFAILED {
			t.Fatalf("job %s (%s)", j.Status, j.ResultReason)
		}
		steps := j.QuerySteps().Order(ent.Asc(jobstep.FieldPosition)).WithAttachments().AllX(ctx)
		if len(steps) != 4 {
			t.Fatalf("steps %+v", steps)
		}
		talk := steps[1]
		if talk.Status != jobstep.StatusFAILED || talk.WarningCount != 2 || len(talk.Issues) != 2 ||
			talk.Issues[0].Message != "disk almost full" || talk.Progress == nil || *talk.Progress != 50 || talk.Reason != "exit code 2" {
			t.Errorf("talk step %+v issues %+v", talk, talk.Issues)
		}
		if len(talk.Edges.Attachments) != 1 || string(talk.Edges.Attachments[0].Content) != "report\n" {
			t.Errorf("attachments %+v", talk.Edges.Attachments)
		}
		if steps[2].Status != jobstep.StatusSKIPPED || steps[3].Status != jobstep.StatusSUCCEEDED {
			t.Errorf("conditions: skipped %s, cleanup %s", steps[2].Status, steps[3].Status)
		}
		outs := h.c.Job.GetX(ctx, j.ID).OutputVariables
		if len(outs) != 2 || outs[0].Name != "talk.url" || outs[0].Value != "https://web.example/" || !outs[1].Secret || outs[1].Value == "k3y-value" {
			t.Errorf("output variables %+v", outs)
		}
		lines, err := h.e.ReadLogs(ctx, j.ID, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, l := range lines {
			if l.Kind != "" {
				kinds = append(kinds, l.Kind+":"+l.Text)
			}
		}
		for _, want := range []string{"section:##[section]Deploying", "warning:##[warning]disk almost full", "command:##[command]Set output secret variable key"} {
			if !slices.Contains(kinds, want) {
				t.Errorf("no line %q in %q", want, kinds)
			}
		}
		for _, l := range lines {
			if l.Text == "k3y-value" || slices.Contains([]string{"##vso[task.setvariable variable=key;isOutput=true;isSecret=true]k3y-value"}, l.Text) {
				t.Errorf("secret in the log: %q", l.Text)
			}
		}
	})
}

// builtin returns the built-in template name, as a release freezes it.
func builtin(t *testing.T, name string) *tasklib.Template {
	t.Helper()
	for _, tpl := range tasklib.Builtins() {
		if tpl.Name == name {
			return &tpl
		}
	}
	t.Fatalf("no built-in %s", name)
	return nil
}

// sealed seals a secret variable's value with the harness's key.
func sealed(t *testing.T, v string) string {
	t.Helper()
	box, err := delivery.NewSecretBox([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return "sealed:" + base64.StdEncoding.EncodeToString(box.Seal([]byte(v)))
}

// TestSSHDeploymentOnARealAgent: a deployment whose job copies the release's files to a host
// and runs commands there over SSH (a real sshd on loopback), on a real agent connected over
// the websocket; the private key and a password come from secret variables and are masked in
// the stored log.
func TestSSHDeploymentOnARealAgent(t *testing.T) {
	sshd := sshdtest.Start(t)
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		h := newHarness(t, db, harnessOpts{})
		remote := t.TempDir()
		conn := map[string]string{"host": "127.0.0.1", "port": strconv.Itoa(sshd.Port), "username": sshd.User,
			"privateKey": "$(deploy.key)", "hostKey": sshd.HostKeyLine()}
		with := func(extra map[string]string) map[string]string {
			m := maps.Clone(conn)
			maps.Copy(m, extra)
			return m
		}
		seeded := h.queue(t, deliverytest.JobOptions{
			Variables: []spec.Variable{
				{Name: "deploy.key", Value: sealed(t, sshd.ClientKey), Secret: true},
				{Name: "db.password", Value: sealed(t, "pa55-W0rd"), Secret: true},
				{Name: "remote.dir", Value: remote + "/app"},
			},
			Tasks: []spec.Task{
				{Name: "build", Shell: "bash", Script: "mkdir -p out/conf && echo v1 > out/version.txt && echo 'db=x' > out/conf/app.conf"},
				{Name: "copy", Uses: "CopyFilesOverSSH@0", Template: builtin(t, "CopyFilesOverSSH"),
					Inputs: with(map[string]string{"sourceFolder": "out", "targetFolder": "$(remote.dir)", "cleanTargetFolder": "true"})},
				{Name: "restart", Uses: "SSH@0", Template: builtin(t, "SSH"),
					Inputs: with(map[string]string{"commands": "cat $(remote.dir)/version.txt\necho \"using password $(db.password)\"\ntouch $(remote.dir)/restarted"})},
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
		if j.Status != job.StatusSUCCEEDED {
			t.Fatalf("job %s (%s), log:\n%s", j.Status, j.ResultReason, strings.Join(text, "\n"))
		}
		for _, f := range []string{"version.txt", "conf/app.conf", "restarted"} {
			if _, err := os.Stat(filepath.Join(remote, "app", f)); err != nil {
				t.Errorf("%s on the host: %v", f, err)
			}
		}
		all := strings.Join(text, "\n")
		if !strings.Contains(all, "using password ***") || !strings.Contains(all, "Copied 2 file(s)") || !slices.Contains(text, "v1") {
			t.Errorf("log:\n%s", all)
		}
		if strings.Contains(all, "pa55-W0rd") || strings.Contains(all, "PRIVATE KEY") {
			t.Errorf("a secret reached the log:\n%s", all)
		}
	})
}
