package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/agentproto"
)

// TestBuiltinChef runs Chef@1 against a stand-in chef-client (Chef is not installed here) and
// checks the exact argv: every input mapped, arguments split with quotes honoured and nothing
// expanded or run; hostile inputs fail the step before chef-client runs.
func TestBuiltinChef(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "argv")
	pwned := filepath.Join(t.TempDir(), "pwned")
	x := newTestExecutor(t)
	x.environ = append(slices.DeleteFunc(slices.Clone(x.environ), func(s string) bool { return strings.HasPrefix(s, "PATH=") }),
		"PATH="+standIn(t, log, "chef-client"))
	wd := t.TempDir()
	vars := []agentproto.Variable{{Name: "chef.env", EnvName: "CHEF_ENV", Value: "production"}}
	o := runJob(t, x, agentproto.JobAssignment{JobID: "chef", SkipArtifactDownload: true, Variables: vars, Tasks: []agentproto.Task{
		builtinTask(t, "Chef", map[string]string{"runList": "recipe[web::deploy],role[base]", "environment": "$(chef.env)", "configFile": "/etc/chef/client.rb",
			"localMode": "true", "arguments": `--log_level info --json-attributes "/tmp/a b.json" '$(touch ` + pwned + `)'`, "workingDirectory": wd}),
		builtinTask(t, "Chef", map[string]string{}),
	}})
	for i := 1; i <= 2; i++ {
		if o.steps[i].Status != agentproto.StepSucceeded {
			t.Fatalf("step %d: %+v %q", i, o.steps[i], o.text(i))
		}
	}
	data, _ := os.ReadFile(log)
	want := strings.Join([]string{
		"chef-client", "--local-mode", "--config", "/etc/chef/client.rb", "--environment", "production", "--runlist", "recipe[web::deploy],role[base]",
		"--log_level", "info", "--json-attributes", "/tmp/a b.json", "$(touch " + pwned + ")", "--",
		"chef-client", "--",
	}, "\n") + "\n"
	if string(data) != want {
		t.Errorf("argv:\n%s\nwant\n%s", data, want)
	}
	if _, err := os.Stat(pwned); !os.IsNotExist(err) {
		t.Errorf("an argument was executed: %v", err)
	}

	// Hostile inputs: refused with an error issue, chef-client never runs.
	os.Remove(log)
	for i, in := range []map[string]string{
		{"environment": "prod; touch " + pwned},
		{"environment": "$(x)"},
		{"runList": "recipe[a] --config /tmp/evil.rb"},
		{"runList": "--config=/tmp/evil.rb"},
		{"arguments": `"unbalanced`},
	} {
		id := fmt.Sprintf("chef-refused-%d", i)
		o := runJob(t, x, agentproto.JobAssignment{JobID: id, SkipArtifactDownload: true, Tasks: []agentproto.Task{builtinTask(t, "Chef", in)}})
		if st := o.steps[1]; st.Status != agentproto.StepFailed || st.ErrorCount == 0 {
			t.Errorf("%v: %+v %q", in, st, o.text(1))
		}
	}
	if data, _ := os.ReadFile(log); len(data) != 0 {
		t.Errorf("chef-client ran: %s", data)
	}
	if _, err := os.Stat(pwned); !os.IsNotExist(err) {
		t.Errorf("an input was executed: %v", err)
	}
}
