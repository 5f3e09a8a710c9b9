package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// helloDefinition is an Azure classic release definition (the shape of GET
// _apis/release/definitions/{id}, api-version 7.1) whose one environment runs an inline
// Bash task: what the end-to-end test imports and deploys.
const helloDefinition = `{
  "source": "userInterface", "revision": 3, "id": 42, "name": "Hello import",
  "description": "imported from Azure",
  "releaseNameFormat": "Hello-$(rev:r)",
  "url": "%[1]s/_apis/Release/definitions/42",
  "variables": {"Greeting": {"value": "hi there"}, "DbPassword": {"value": null, "isSecret": true}},
  "variableGroups": [],
  "artifacts": [], "triggers": [],
  "environments": [{
    "id": 1, "name": "Dev", "rank": 1, "variables": {}, "variableGroups": [],
    "preDeployApprovals": {"approvals": [{"rank": 1, "isAutomated": true, "isNotificationOn": false, "id": 1}], "approvalOptions": {"executionOrder": "beforeGates"}},
    "postDeployApprovals": {"approvals": [{"rank": 1, "isAutomated": true, "isNotificationOn": false, "id": 2}]},
    "deployPhases": [{"deploymentInput": {"queueId": 1, "demands": [], "timeoutInMinutes": 10, "skipArtifactsDownload": false},
      "rank": 1, "phaseType": "agentBasedDeployment", "name": "Agent job",
      "workflowTasks": [{"taskId": "6c731c3c-3c68-459a-a5c9-bde6e6595b5b", "version": "3.*", "name": "Greet", "enabled": true,
        "alwaysRun": false, "continueOnError": false, "timeoutInMinutes": 0, "definitionType": "task", "condition": "succeeded()",
        "inputs": {"targetType": "inline", "script": "echo \"hello from $RELEASE_ENVIRONMENTNAME: $GREETING, secret $DBPASSWORD\"", "failOnStderr": "false"}}]}],
    "conditions": [{"name": "ReleaseStarted", "conditionType": "event", "value": ""}],
    "executionPolicy": {"concurrencyCount": 1, "queueDepthCount": 0},
    "environmentOptions": {"emailNotificationType": "OnlyOnFailure", "emailRecipients": "release.environment.owner"},
    "retentionPolicy": {"daysToKeep": 30, "releasesToKeep": 3, "retainBuild": true}
  }]
}`

// toolsDefinition uses a task group and a variable group, whose exports the command reads
// from the distributedtask API.
const toolsDefinition = `{
  "id": 43, "revision": 1, "name": "Shop tools", "url": "%[1]s/_apis/Release/definitions/43",
  "variables": {}, "variableGroups": [11],
  "environments": [{"id": 2, "name": "Tools", "rank": 1, "conditions": [],
    "deployPhases": [{"phaseType": "agentBasedDeployment", "name": "Agent job", "deploymentInput": {},
      "workflowTasks": [{"taskId": "1ed9aa9e-1c03-4525-a1a5-e5b6e2bd65b7", "version": "1.*", "name": "Clean up", "enabled": true,
        "definitionType": "metaTask", "inputs": {"Folder": "/tmp/shop"}}]}]}]
}`

const taskGroupExport = `{"count": 1, "value": [{"id": "1ed9aa9e-1c03-4525-a1a5-e5b6e2bd65b7", "name": "Clean", "version": {"major": 1, "minor": 0, "patch": 0},
  "tasks": [{"displayName": "Remove $(Folder)", "enabled": true, "inputs": {"targetType": "inline", "script": "rm -rf $(Folder)"},
             "task": {"id": "6c731c3c-3c68-459a-a5c9-bde6e6595b5b", "versionSpec": "3.*", "definitionType": "task"}}]}]}`

const variableGroupExport = `{"count": 1, "value": [{"id": 11, "type": "Vsts", "name": "shared-config", "variables": {"LogLevel": {"value": "info"}}}]}`

// fakeAzure serves the documented shapes of Azure DevOps' release and distributedtask
// APIs for one project, behind basic auth with a PAT, and records what was asked.
type fakeAzure struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newFakeAzure(t *testing.T, pat string) *fakeAzure {
	f := &fakeAzure{}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+pat))
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.paths = append(f.paths, r.URL.RequestURI())
		f.mu.Unlock()
		if r.Header.Get("Authorization") != want {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("api-version") != "7.1" {
			http.Error(w, `{"message": "api-version missing"}`, http.StatusBadRequest)
			return
		}
		proj := f.URL + "/contoso/Shop"
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		switch r.URL.Path {
		case "/contoso/Shop/_apis/release/definitions":
			// Two pages, joined by a continuation token.
			if r.URL.Query().Get("continuationToken") == "" {
				w.Header().Set("x-ms-continuationtoken", "43")
				fmt.Fprint(w, `{"count": 1, "value": [{"id": 42, "name": "Hello import", "revision": 3}]}`)
			} else {
				fmt.Fprint(w, `{"count": 1, "value": [{"id": 43, "name": "Shop tools", "revision": 1}]}`)
			}
		case "/contoso/Shop/_apis/release/definitions/42":
			fmt.Fprintf(w, helloDefinition, proj)
		case "/contoso/Shop/_apis/release/definitions/43":
			fmt.Fprintf(w, toolsDefinition, proj)
		case "/contoso/Shop/_apis/distributedtask/taskgroups/1ed9aa9e-1c03-4525-a1a5-e5b6e2bd65b7":
			fmt.Fprint(w, taskGroupExport)
		case "/contoso/Shop/_apis/distributedtask/variablegroups":
			if r.URL.Query().Get("groupIds") != "11" {
				http.NotFound(w, r)
				return
			}
			fmt.Fprint(w, variableGroupExport)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCLIImportAzureEndToEnd: definitions read from a (fake) Azure DevOps organization
// with a PAT are reported, then imported with --apply through the server; the imported
// definition's Bash task runs on a real agent to SUCCEEDED; importing the same definition
// from a file again makes a new revision.
func TestCLIImportAzureEndToEnd(t *testing.T) {
	ts := startServer(t)
	az := newFakeAzure(t, "pat-123")
	c := newCLI(t)
	if _, err := c.run(ts.admin+"\n", "login", "--server", ts.url, "--token", "-"); err != nil {
		t.Fatal(err)
	}
	c.ok("groups", "set", "shared-config", "LogLevel=info")
	tokenFile := writeTemp(t, "pat", "pat-123\n")
	mapping := writeTemp(t, "mapping.json", `{"secretValues": [{"variable": "DbPassword", "value": "hunter2-secret"}]}`)
	org := az.URL + "/contoso"
	args := []string{"definitions", "import", "azure", "--org", org, "--project", "Shop", "--token-file", tokenFile, "--mapping", mapping}

	// A dry run: the report, nothing written.
	out := c.ok(args...)
	for _, want := range []string{"Hello import", "Shop tools", "CREATE", "dry run: nothing was written",
		"APPROXIMATED  environments[0].environmentOptions.emailNotificationType", "copied into the phase"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if n := ts.srv.Engine.Client().ReleaseDefinition.Query().CountX(t.Context()); n != 0 {
		t.Fatalf("a dry run created %d definitions", n)
	}
	for _, p := range []string{"/contoso/Shop/_apis/release/definitions?api-version=7.1&continuationToken=43&queryOrder=idAscending",
		"/contoso/Shop/_apis/distributedtask/variablegroups?api-version=7.1&groupIds=11"} {
		found := false
		for _, got := range az.paths {
			found = found || got == p
		}
		if !found {
			t.Errorf("the command did not ask for %s (asked: %v)", p, az.paths)
		}
	}

	// One definition by id: no list is read.
	out = c.ok(append(args, "--definition", "43", "--all")...)
	if !strings.Contains(out, "Shop tools") || strings.Contains(out, "Hello import") || !strings.Contains(out, "MAPPED") {
		t.Errorf("--definition 43:\n%s", out)
	}

	// A bad PAT is refused by Azure DevOps; the command says so.
	bad := writeTemp(t, "bad", "nope")
	if _, err := c.run("", "definitions", "import", "azure", "--org", org, "--project", "Shop", "--token-file", bad); err == nil ||
		!strings.Contains(err.Error(), "refused the token") {
		t.Errorf("bad PAT: %v", err)
	}

	// Without the secret's value the import is refused, nothing written.
	if _, err := c.run("", "definitions", "import", "azure", "--org", org, "--project", "Shop", "--token-file", tokenFile, "--apply"); err == nil ||
		!strings.Contains(err.Error(), "nothing was imported") {
		t.Errorf("apply without the secret: %v", err)
	}
	if n := ts.srv.Engine.Client().ReleaseDefinition.Query().CountX(t.Context()); n != 0 {
		t.Fatalf("a refused import created %d definitions", n)
	}

	// Apply.
	out = c.ok(append(args, "--apply")...)
	if !strings.Contains(out, "imported 2 definition(s)") {
		t.Fatalf("apply:\n%s", out)
	}

	// Release and deploy the imported definition on the real agent.
	var rel release
	c.json(&rel, "release", "create", "Hello import")
	ts.waitFor(t, "Dev SUCCEEDED", func() bool { return ts.envStatus(t, rel.ID, "Dev") == "SUCCEEDED" })
	log := c.ok("logs", ts.deploymentOf(t, rel.ID, "Dev"))
	if !strings.Contains(log, "hello from Dev: hi there, secret ***") || strings.Contains(log, "hunter2-secret") {
		t.Errorf("deployment log:\n%s", log)
	}

	// The same definition from a file (as exported), changed: a new revision.
	changed := strings.Replace(fmt.Sprintf(helloDefinition, az.URL+"/contoso/Shop"), "hi there", "hello again", 1)
	file := writeTemp(t, "hello.json", changed)
	var p importPayload
	raw := c.ok("definitions", "import", "azure", file, "--mapping", mapping, "--apply", "--json")
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		t.Fatalf("--json output: %v\n%s", err, raw)
	}
	if !p.Applied || len(p.Definitions) != 1 || p.Definitions[0].Action != "UPDATE" || p.Definitions[0].Definition == nil ||
		p.Definitions[0].Definition.Revision != 2 {
		raw, _ := json.Marshal(p)
		t.Errorf("re-import from a file: %s", raw)
	}

	// Usage errors.
	if _, err := c.run("", "definitions", "import", "azure"); err == nil {
		t.Error("no files and no --org accepted")
	}
	if _, err := c.run("", "definitions", "import", "azure", "--org", org, "--token-file", tokenFile); err == nil {
		t.Error("--org without --project accepted")
	}
}

func TestAzureReleaseBase(t *testing.T) {
	for in, want := range map[string]string{
		"https://dev.azure.com/contoso":                 "https://vsrm.dev.azure.com/contoso",
		"https://contoso.visualstudio.com":              "https://contoso.vsrm.visualstudio.com",
		"https://tfs.example.org/tfs/DefaultCollection": "https://tfs.example.org/tfs/DefaultCollection",
	} {
		if got := (&azureClient{org: in}).releaseBase(); got != want {
			t.Errorf("releaseBase(%s) = %s, want %s", in, got, want)
		}
	}
}
