package server_test

import (
	"archive/zip"
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/internal/proc"
)

// These tests run the real server (httptest, over SQLite and PostgreSQL) with real agents
// (agent.Run in the test process, each with its own work directory) executing real shell tasks.
// What server/dispatch already proves with real agents is not repeated here: reconnect mid-job
// with a complete log (TestReconnectMidJobKeepsLogComplete), LOST after the grace period
// (TestSilentAgentJobLost), two replicas racing for one job, timeouts enforced by the server.

// TestAgentsDeployThreeEnvironments deploys dev (after the release), qa (after dev) and prod
// (after qa, once approved) on a real agent: every task runs in bash with the release variables
// and the definition's variables, and every environment succeeds.
func TestAgentsDeployThreeEnvironments(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		if runtime.GOOS == "windows" {
			t.Skip("tasks are POSIX shell scripts")
		}
		pam := h.tokenFor("pam", delivery.RoleViewer)
		h.ok(h.admin, `mutation($u: String!) { createServiceConnection(input: {name: "jenkins", kind: JENKINS, url: $u}) { id } }`, map[string]any{"u": anyBuildJenkins(t)})
		job := `{skipArtifactDownload: true, tasks: [
		    {name: "greet", script: "echo \"$GREETING from $RELEASE_ENVIRONMENTNAME\""},
		    {name: "check", script: "test -n \"$RELEASE_RELEASENAME\"\ntest \"$RELEASE_DEFINITIONNAME\" = shop\necho \"$RELEASE_RELEASENAME of $RELEASE_DEFINITIONNAME, build $RELEASE_ARTIFACTS_WEB_BUILDNUMBER\""},
		    {name: "where", script: "test -d \"$SYSTEM_DEFAULTWORKINGDIRECTORY\" && test \"$(pwd -P)\" = \"$(cd \"$SYSTEM_DEFAULTWORKINGDIRECTORY\" && pwd -P)\" && echo in the working directory"}]}`
		def := h.createDefinition(t, `{name: "shop",
		  variables: [{name: "GREETING", value: "hello"}],
		  artifactSources: [{alias: "web", type: "JENKINS", connection: "jenkins", job: "shop/web", primary: true}],
		  environments: [
		    {name: "dev", trigger: {kind: AFTER_RELEASE}, job: `+job+`},
		    {name: "qa", trigger: {kind: AFTER_ENVIRONMENTS, environments: ["dev"]}, job: `+job+`},
		    {name: "prod", trigger: {kind: AFTER_ENVIRONMENTS, environments: ["qa"]},
		     preApproval: {approvers: [{kind: USER, name: "pam"}]}, job: `+job+`}]}`)
		h.startAgent(t, "deployer", nil)
		rel := h.createRelease(t, def, []map[string]any{{"alias": "web", "buildNumber": "42", "buildId": "42"}})

		h.waitEnv(t, rel, "dev", "SUCCEEDED")
		h.waitEnv(t, rel, "qa", "SUCCEEDED")
		h.waitEnv(t, rel, "prod", "PENDING_APPROVAL")
		d := h.ok(pam, `{ pendingApprovals { id } }`, nil)
		ids := dig(d, "pendingApprovals").([]any)
		if len(ids) != 1 {
			t.Fatalf("pam's pending approvals: %v", ids)
		}
		h.ok(pam, `mutation($a: ID!) { approve(input: {approvalId: $a}) { status } }`,
			map[string]any{"a": ids[0].(map[string]any)["id"]})
		h.waitEnv(t, rel, "prod", "SUCCEEDED")

		for name, env := range h.releaseEnvs(t, rel) {
			if env.Status != "SUCCEEDED" || env.Job != "SUCCEEDED" || env.Agent != "deployer" {
				t.Errorf("%s: %+v", name, env)
			}
			want := []string{"hello from " + name, "Release-1 of shop, build 42", "in the working directory"}
			if got := h.jobLog(t, env.JobID); !slices.Equal(got, want) {
				t.Errorf("%s log = %q, want %q", name, got, want)
			}
			steps := h.ok(h.admin, `query($j: ID!) { node(id: $j) { ... on Job { steps { position name status exitCode } } } }`,
				map[string]any{"j": env.JobID})
			if got := toJSON(dig(steps, "node", "steps")); got != `[{"exitCode":null,"name":"Download artifacts","position":0,"status":"SKIPPED"},`+
				`{"exitCode":0,"name":"greet","position":1,"status":"SUCCEEDED"},{"exitCode":0,"name":"check","position":2,"status":"SUCCEEDED"},`+
				`{"exitCode":0,"name":"where","position":3,"status":"SUCCEEDED"}]` {
				t.Errorf("%s steps: %s", name, got)
			}
		}
	})
}

// TestAgentsDemandsRoute runs three environments of one release at once on two agents: a demand
// every Linux agent meets, a capability only one agent has, and a demand nobody meets (that job
// waits and says why).
func TestAgentsDemandsRoute(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		if runtime.GOOS != "linux" {
			t.Skip("the demand is os -equals linux")
		}
		tasks := `[{name: "where", script: "echo \"$RELEASE_ENVIRONMENTNAME on $(uname -s)\""}]`
		def := h.createDefinition(t, `{name: "routing", environments: [
		    {name: "anywhere", trigger: {kind: AFTER_RELEASE}, job: {demands: ["os -equals linux"], tasks: `+tasks+`}},
		    {name: "gpu", trigger: {kind: AFTER_RELEASE}, job: {demands: ["gpu -equals nvidia", "os -equals linux"], tasks: `+tasks+`}},
		    {name: "nowhere", trigger: {kind: AFTER_RELEASE}, job: {demands: ["os -equals plan9"], tasks: `+tasks+`}}]}`)
		h.startAgent(t, "plain", map[string]string{"zone": "a"})
		h.startAgent(t, "gpu-box", map[string]string{"gpu": "nvidia"})
		rel := h.createRelease(t, def, nil)

		gpu := h.waitEnv(t, rel, "gpu", "SUCCEEDED")
		if gpu.Agent != "gpu-box" {
			t.Errorf("gpu job ran on %q, want gpu-box", gpu.Agent)
		}
		anywhere := h.waitEnv(t, rel, "anywhere", "SUCCEEDED")
		if anywhere.Agent != "plain" && anywhere.Agent != "gpu-box" {
			t.Errorf("anywhere job ran on %q", anywhere.Agent)
		}
		if got := h.jobLog(t, anywhere.JobID); !slices.Equal(got, []string{"anywhere on Linux"}) {
			t.Errorf("anywhere log %q", got)
		}
		var nowhere envState
		h.waitFor(t, "the unmatched job's waiting reason", func() bool {
			nowhere = h.releaseEnvs(t, rel)["nowhere"]
			return nowhere.Waiting != ""
		})
		if nowhere.Job != "QUEUED" || nowhere.Agent != "" || nowhere.Waiting != `no online agent meets demand "os -equals plan9"` {
			t.Errorf("nowhere: %+v", nowhere)
		}
	})
}

// TestAgentsMaskSecrets prints secret definition variables every way a script might (inside a
// longer line, base64-encoded, a multi-line secret, a secret written in two pieces) and checks
// that the stored log, through GraphQL and the download, holds "***" and never the secret.
func TestAgentsMaskSecrets(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		const token = "s3cr3t-Tok3n-0f-the-api"
		const multi = "mline-one-9f8e7d\nmline-two-6c5b4a"
		script := strings.Join([]string{
			`echo "calling https://api.example.com/v1?token=$API_TOKEN&page=1 now"`,
			`printf %s "$API_TOKEN" | base64`,
			`echo "cert: $CERT"`,
			`printf 'split:%s' "${API_TOKEN:0:7}"; sleep 0.3; printf '%s:end\n' "${API_TOKEN:7}"`,
			`echo "plain $NOT_SECRET"`,
		}, "\n")
		def := h.createDefinition(t, `{name: "masking",
		  variables: [{name: "API_TOKEN", value: `+strconv.Quote(token)+`, secret: true},
		              {name: "CERT", value: `+strconv.Quote(multi)+`, secret: true},
		              {name: "NOT_SECRET", value: "visible"}],
		  environments: [{name: "dev", trigger: {kind: AFTER_RELEASE}, job: {tasks: [{name: "leak", shell: "bash", script: `+strconv.Quote(script)+`}]}}]}`)
		h.startAgent(t, "masker", nil)
		rel := h.createRelease(t, def, nil)
		dev := h.waitEnv(t, rel, "dev", "SUCCEEDED")

		want := []string{
			"calling https://api.example.com/v1?token=***&page=1 now",
			"***=", // the unpadded encoding is masked, so that it is also caught inside longer base64
			"cert: ***",
			"***",
			"split:***:end",
			"plain visible",
		}
		if got := h.jobLog(t, dev.JobID); !slices.Equal(got, want) {
			t.Errorf("log = %q\nwant  %q", got, want)
		}
		req, _ := http.NewRequest("GET", h.http.URL+"/logs/deployments/"+dev.DeploymentID, nil)
		req.Header.Set("Authorization", "Bearer "+h.admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "token=***&page=1") {
			t.Fatalf("download %d: %s", resp.StatusCode, body)
		}
		for _, secret := range []string{token, base64.StdEncoding.EncodeToString([]byte(token)), "mline-one", "mline-two", token[:7] + token[7:]} {
			if strings.Contains(string(body), secret) {
				t.Errorf("download shows %q:\n%s", secret, body)
			}
		}
	})
}

// TestAgentsCancelKillsProcessTree cancels, through the cancelDeployment mutation, a deployment
// whose task sleeps with children and grandchildren: every process is gone promptly and the
// deployment ends CANCELED.
func TestAgentsCancelKillsProcessTree(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		if runtime.GOOS == "windows" {
			t.Skip("process groups")
		}
		pids := t.TempDir()
		script := strings.Join([]string{
			`echo $$ > "$PID_DIR/shell"`,
			`sleep 600 &`,
			`echo $! > "$PID_DIR/child"`,
			`( sleep 600 & echo $! > "$PID_DIR/grandchild"; wait ) &`,
			`echo $! > "$PID_DIR/subshell"`,
			`while [ ! -s "$PID_DIR/grandchild" ]; do sleep 0.01; done`,
			`echo started`,
			`sleep 600`,
		}, "\n")
		def := h.createDefinition(t, `{name: "long", variables: [{name: "PID_DIR", value: `+strconv.Quote(pids)+`}],
		  environments: [{name: "dev", trigger: {kind: AFTER_RELEASE}, job: {tasks: [
		    {name: "sleep", shell: "bash", script: `+strconv.Quote(script)+`}, {name: "after", script: "echo must not run"}]}}]}`)
		h.startAgent(t, "sleeper", nil)
		rel := h.createRelease(t, def, nil)
		var dev envState
		h.waitFor(t, "the task to start its children", func() bool {
			dev = h.releaseEnvs(t, rel)["dev"]
			return slices.Contains(h.jobLog(t, dev.JobID), "started")
		})
		procs := map[string]int{}
		for _, name := range []string{"shell", "child", "subshell", "grandchild"} {
			b, err := os.ReadFile(filepath.Join(pids, name))
			if err != nil {
				t.Fatal(err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || !proc.Alive(pid) {
				t.Fatalf("%s pid %q alive=%v", name, b, err == nil && proc.Alive(pid))
			}
			procs[name] = pid
		}

		start := time.Now()
		h.ok(h.admin, `mutation($d: ID!) { cancelDeployment(deploymentId: $d, comment: "enough") { id } }`,
			map[string]any{"d": dev.DeploymentID})
		dev = h.waitEnv(t, rel, "dev", "CANCELED")
		h.waitFor(t, "every process of the task to exit", func() bool {
			for _, pid := range procs {
				if proc.Alive(pid) {
					return false
				}
			}
			return true
		})
		t.Logf("cancel → CANCELED and every process gone in %s", time.Since(start))
		if dev.Job != "CANCELED" {
			t.Errorf("job %s", dev.Job)
		}
		steps := h.ok(h.admin, `query($j: ID!) { node(id: $j) { ... on Job { steps { name status } } } }`, map[string]any{"j": dev.JobID})
		if got := toJSON(dig(steps, "node", "steps")); !strings.Contains(got, `{"name":"sleep","status":"CANCELED"}`) ||
			!strings.Contains(got, `{"name":"after","status":"SKIPPED"}`) {
			t.Errorf("steps: %s", got)
		}
		if log := h.jobLog(t, dev.JobID); slices.Contains(log, "must not run") {
			t.Errorf("the task after the canceled one ran: %q", log)
		}
	})
}

// TestAgentsDownloadArtifacts deploys a release whose artifacts come from a fake Jenkins (one
// listed file; the whole archive) and a fake Azure DevOps (a build artifact zip), both checking
// the service connections' credentials: the files land in the job's a/<alias>/ directory,
// where the tasks read them.
func TestAgentsDownloadArtifacts(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		// The OK counters count every authenticated request (the engine also reads the builds to
		// check and enrich them); the download counters only the agent's downloads.
		var jenkinsOK, jenkinsRefused, azureOK, jenkinsDownloads, azureDownloads atomic.Int32
		jenkins := httptest.NewServer(basicAuth("ci", "jenkins-api-token", &jenkinsOK, &jenkinsRefused, jenkinsBuild12(t, &jenkinsDownloads)))
		t.Cleanup(jenkins.Close)
		var azureRefused atomic.Int32
		azure := httptest.NewServer(basicAuth("", "azure-pat", &azureOK, &azureRefused, azureBuild55(t, &azureDownloads)))
		t.Cleanup(azure.Close)

		h.ok(h.admin, `mutation($u: String!) { createServiceConnection(input: {name: "jenkins", kind: JENKINS, url: $u, username: "ci", secret: "jenkins-api-token"}) { id } }`,
			map[string]any{"u": jenkins.URL})
		h.ok(h.admin, `mutation($u: String!) { createServiceConnection(input: {name: "azure", kind: AZURE_DEVOPS, url: $u, secret: "azure-pat"}) { id } }`,
			map[string]any{"u": azure.URL + "/org"})
		script := strings.Join([]string{
			`cat ../a/web/dist/app.txt; echo`,
			`cat "$RELEASE_ARTIFACTS_WEB_PATH/dist/app.txt"; echo`,
			`cat "$SYSTEM_ARTIFACTSDIRECTORY/drop/drop/bin/app.txt"; echo`,
			`echo "builds $RELEASE_ARTIFACTS_WEB_BUILDNUMBER and $RELEASE_ARTIFACTS_DROP_BUILDNUMBER"`,
		}, "\n")
		def := h.createDefinition(t, `{name: "artifacts",
		  artifactSources: [{alias: "web", type: "JENKINS", connection: "jenkins", job: "x", primary: true},
		                    {alias: "drop", type: "TEAMBUILD", connection: "azure", job: "55", project: "proj"}],
		  environments: [{name: "dev", trigger: {kind: AFTER_RELEASE}, job: {tasks: [{name: "read", script: `+strconv.Quote(script)+`}]}}]}`)
		h.startAgent(t, "downloader", nil)
		drop := map[string]any{"alias": "drop", "buildNumber": "20240101.1", "buildId": "55",
			"files": []string{azure.URL + "/org/proj/_apis/build/builds/55/artifacts?artifactName=drop&api-version=7.1&%24format=zip"}}
		// Release 1: Jenkins listed the build's one artifact file.
		rel := h.createRelease(t, def, []map[string]any{
			{"alias": "web", "buildNumber": "12", "buildId": "12", "buildUrl": jenkins.URL + "/job/x/12/", "files": []string{"dist/app.txt"}}, drop})
		dev := h.waitEnv(t, rel, "dev", "SUCCEEDED")
		want := []string{"app v12", "app v12", "dll v55", "builds 12 and 20240101.1"}
		if got := h.taskLog(t, dev.JobID); !slices.Equal(got, want) {
			t.Errorf("release 1 log = %q, want %q", got, want)
		}
		// Release 2: no file list, so the agent fetches Jenkins' whole-archive zip.
		rel = h.createRelease(t, def, []map[string]any{
			{"alias": "web", "buildNumber": "12", "buildId": "12", "buildUrl": jenkins.URL + "/job/x/12/"}, drop})
		dev = h.waitEnv(t, rel, "dev", "SUCCEEDED")
		if got := h.taskLog(t, dev.JobID); !slices.Equal(got, want) {
			t.Errorf("release 2 log = %q, want %q", got, want)
		}
		if jenkinsDownloads.Load() != 2 || azureDownloads.Load() != 2 || jenkinsOK.Load() < 2 || azureOK.Load() < 2 ||
			jenkinsRefused.Load() != 0 || azureRefused.Load() != 0 {
			t.Errorf("authenticated downloads: jenkins %d of %d (refused %d), azure %d of %d (refused %d)",
				jenkinsDownloads.Load(), jenkinsOK.Load(), jenkinsRefused.Load(), azureDownloads.Load(), azureOK.Load(), azureRefused.Load())
		}
	})
}

// basicAuth serves next only to requests with the given basic-auth credentials, counting both.
func basicAuth(user, pass string, ok, refused *atomic.Int32, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, has := r.BasicAuth()
		if !has || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(pass)) != 1 {
			refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="ci"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		ok.Add(1)
		next.ServeHTTP(w, r)
	})
}

// jenkinsBuild12 serves build 12 of job x the way Jenkins does: its api/json (a succeeded
// build; no artifact listed, so that release 2 keeps fetching the archive), each artifact
// under {build}/artifact/{relativePath} and all of them as {build}/artifact/*zip*/archive.zip.
func jenkinsBuild12(t *testing.T, downloads *atomic.Int32) http.Handler {
	archive := zipOf(t, map[string]string{"archive/dist/app.txt": "app v12", "archive/README": "readme"})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /job/x/12/api/json", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"_class":"hudson.model.FreeStyleBuild","number":12,"url":"http://%s/job/x/12/","result":"SUCCESS","building":false,"actions":[{}],"artifacts":[]}`, r.Host)
	})
	mux.HandleFunc("GET /job/x/12/artifact/dist/app.txt", func(w http.ResponseWriter, r *http.Request) {
		downloads.Add(1)
		w.Write([]byte("app v12"))
	})
	mux.HandleFunc("GET /job/x/12/artifact/{zip}/archive.zip", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("zip") != "*zip*" {
			http.NotFound(w, r)
			return
		}
		downloads.Add(1)
		w.Write(archive)
	})
	return mux
}

// azureBuild55 serves the artifact "drop" of build 55 as Azure DevOps does: a zip whose entries
// sit under the artifact's name.
func azureBuild55(t *testing.T, downloads *atomic.Int32) http.Handler {
	body := zipOf(t, map[string]string{"drop/bin/app.txt": "dll v55"})
	mux := http.NewServeMux()
	// The build itself, as GET _apis/build/builds/{id} answers (of build definition 55).
	mux.HandleFunc("GET /org/proj/_apis/build/builds/55", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"id":55,"buildNumber":"20240101.1","status":"completed","result":"succeeded","sourceBranch":"refs/heads/main",`+
			`"sourceVersion":"2f6a8e0c4b1d3f5a7c9e0b2d4f6a8c0e1b3d5f7a","definition":{"id":55,"name":"drop-ci"},`+
			`"_links":{"web":{"href":"http://%s/org/proj/_build/results?buildId=55"}}}`, r.Host)
	})
	mux.HandleFunc("GET /org/proj/_apis/build/builds/55/artifacts", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("artifactName") != "drop" || r.URL.Query().Get("$format") != "zip" {
			http.NotFound(w, r)
			return
		}
		downloads.Add(1)
		w.Header().Set("Content-Type", "application/zip")
		w.Write(body)
	})
	return mux
}

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(content))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
