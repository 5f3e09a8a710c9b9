package agent

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/agentproto"
	"github.com/cairnhq/cairn/internal/netguard"
)

// TestBuiltinFileTransform: JSON nested keys by dotted names (types kept, order kept, arrays by
// index, a key holding dots), XML appSettings and connectionStrings by key with the rest of the
// file byte for byte; a variable set by an earlier task counts; bad files fail clearly.
func TestBuiltinFileTransform(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "app/appsettings.json"), `{
  "ConnectionStrings": {"Default": "Server=dev", "Other": "keep"},
  "Logging": {"LogLevel": {"Default": "Debug", "Microsoft.Hosting": "Info"}},
  "Port": 80, "Enabled": false, "Servers": [{"host": "a"}, {"host": "b"}],
  "Untouched": {"x": [1, 2]}
}`)
	write(t, filepath.Join(dir, "app/web.config"), `<?xml version="1.0" encoding="utf-8"?>
<!-- keep me -->
<configuration>
  <appSettings>
    <add key="ApiUrl" value="http://dev" />
    <add key='Mode'   value='debug'/>
    <add key="Other" value="same"/>
  </appSettings>
  <connectionStrings>
    <add name="Db" connectionString="Server=dev;" providerName="System.Data.SqlClient" />
  </connectionStrings>
  <system.web><add key="ApiUrl" value="not in appSettings"/></system.web>
</configuration>
`)
	write(t, filepath.Join(dir, "bad/broken.json"), `{"a": `)
	x := newTestExecutor(t)
	o := runJob(t, x, agentproto.JobAssignment{JobID: "transform", SkipArtifactDownload: true,
		Variables: []agentproto.Variable{
			{Name: "ConnectionStrings.Default", EnvName: "CONNECTIONSTRINGS_DEFAULT", Value: "Server=prod;Password=pw", Secret: true},
			{Name: "logging.loglevel.microsoft.hosting", EnvName: "X1", Value: "Warning"},
			{Name: "Port", EnvName: "PORT", Value: "8080"},
			{Name: "Servers.1.host", EnvName: "X2", Value: "b-prod"},
			{Name: "ApiUrl", EnvName: "APIURL", Value: `https://prod?a=1&b="2"`},
			{Name: "Db", EnvName: "DB", Value: "Server=prod;"},
		},
		Tasks: []agentproto.Task{
			{Name: "set", Shell: "bash", Script: `echo "##vso[task.setvariable variable=Enabled]true"; echo "##vso[task.setvariable variable=Mode]release"`},
			builtinTask(t, "FileTransform", map[string]string{"folderPath": dir + "/app", "fileType": "json"}),
			builtinTask(t, "FileTransform", map[string]string{"folderPath": dir + "/app", "fileType": "xml", "targetFiles": "*.config"}),
			builtinTask(t, "FileTransform", map[string]string{"folderPath": dir + "/bad", "fileType": "json"}),
		}})
	got := tree(t, dir)
	wantJSON := `{
  "ConnectionStrings": {
    "Default": "Server=prod;Password=pw",
    "Other": "keep"
  },
  "Logging": {
    "LogLevel": {
      "Default": "Debug",
      "Microsoft.Hosting": "Warning"
    }
  },
  "Port": 8080,
  "Enabled": true,
  "Servers": [
    {
      "host": "a"
    },
    {
      "host": "b-prod"
    }
  ],
  "Untouched": {
    "x": [
      1,
      2
    ]
  }
}
`
	if got["app/appsettings.json"] != wantJSON {
		t.Errorf("json:\n%s\nwant\n%s\nlog %q", got["app/appsettings.json"], wantJSON, o.text(2))
	}
	wantXML := `<?xml version="1.0" encoding="utf-8"?>
<!-- keep me -->
<configuration>
  <appSettings>
    <add key="ApiUrl" value="https://prod?a=1&amp;b=&#34;2&#34;" />
    <add key='Mode'   value="release"/>
    <add key="Other" value="same"/>
  </appSettings>
  <connectionStrings>
    <add name="Db" connectionString="Server=prod;" providerName="System.Data.SqlClient" />
  </connectionStrings>
  <system.web><add key="ApiUrl" value="not in appSettings"/></system.web>
</configuration>
`
	if got["app/web.config"] != wantXML {
		t.Errorf("xml:\n%s\nwant\n%s\nlog %q", got["app/web.config"], wantXML, o.text(3))
	}
	for _, l := range o.text(2) {
		if strings.Contains(l, "Password=pw") {
			t.Errorf("secret in the log: %q", l)
		}
	}
	if st := o.steps[4]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "broken.json: not valid JSON") {
		t.Errorf("broken json: %+v", st)
	}
}

// TestFileTransformHostile: deep nesting and huge inputs fail with an error, never a crash.
func TestFileTransformHostile(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	if _, _, err := transformJSON([]byte(deep), nil); err == nil {
		t.Error("deep JSON accepted")
	}
	if _, _, err := transformJSON([]byte(`{"a":1} {"b":2}`), nil); err == nil {
		t.Error("two JSON values accepted")
	}
	deepXML := strings.Repeat("<a>", 10000) + strings.Repeat("</a>", 10000)
	if _, _, err := transformXML([]byte(deepXML), nil); err == nil {
		t.Error("deep XML accepted")
	}
	if _, _, err := transformXML([]byte(`<configuration><appSettings><add key="a" value="1"></appSettings>`), []transformVariable{{"a", "2"}}); err == nil {
		t.Error("malformed XML accepted")
	}
}

// TestBuiltinInvokeHttp: a call to a real HTTP server (loopback allowed explicitly), headers
// and body sent, success criteria on the JSON answer (Azure's root[...] form too), a failing
// status and criteria, and the guard refusing loopback by default.
func TestBuiltinInvokeHttp(t *testing.T) {
	t.Parallel()
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen = append(seen, fmt.Sprintf("%s %s auth=%s ct=%s body=%s", r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body))
		switch r.URL.Path {
		case "/health":
			w.Write([]byte(`{"status":"healthy","checks":{"db":"up"}}`))
		case "/broken":
			w.WriteHeader(503)
			w.Write([]byte("down"))
		}
	}))
	defer srv.Close()
	x := newTestExecutor(t)
	x.guard = netguard.New(netguard.DefaultDenied, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	vars := []agentproto.Variable{{Name: "api.token", EnvName: "API_TOKEN", Value: "tok-123", Secret: true}}
	o := runJob(t, x, agentproto.JobAssignment{JobID: "http", SkipArtifactDownload: true, Variables: vars, Tasks: []agentproto.Task{
		builtinTask(t, "InvokeHttp", map[string]string{"url": srv.URL + "/health", "method": "POST", "headers": "Authorization: Bearer $(api.token)", "body": `{"ping":1}`,
			"successCriteria": "and(eq(variables['json.status'], 'healthy'), eq(root['checks']['db'], 'up'), eq(variables['status'], 200))"}),
		builtinTask(t, "InvokeHttp", map[string]string{"url": srv.URL + "/health", "successCriteria": "eq(root['status'], 'degraded')"}),
	}})
	if st := o.steps[1]; st.Status != agentproto.StepSucceeded {
		t.Fatalf("call: %+v %q", st, o.text(1))
	}
	if len(seen) != 2 || seen[0] != `POST /health auth=Bearer tok-123 ct=application/json body={"ping":1}` {
		t.Errorf("server saw %q", seen)
	}
	if st := o.steps[2]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "success criteria did not hold") {
		t.Errorf("criteria: %+v", st)
	}
	o = runJob(t, x, agentproto.JobAssignment{JobID: "http-503", SkipArtifactDownload: true, Tasks: []agentproto.Task{
		builtinTask(t, "InvokeHttp", map[string]string{"url": srv.URL + "/broken"})}})
	if st := o.steps[1]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "status is 503") || !slices.Contains(o.text(1), "down") {
		t.Errorf("503: %+v %q", st, o.text(1))
	}
	for _, tt := range []struct{ in map[string]string }{
		{map[string]string{"url": "file:///etc/passwd"}},
		{map[string]string{"url": srv.URL, "method": "TRACE"}},
		{map[string]string{"url": srv.URL, "headers": "Bad Header: x"}},
		{map[string]string{"url": srv.URL, "headers": `{"X-Inject": "a\r\nHost: evil"}`}},
		{map[string]string{"url": srv.URL, "successCriteria": "eq(("}},
	} {
		o = runJob(t, x, agentproto.JobAssignment{JobID: "http-bad", SkipArtifactDownload: true, Tasks: []agentproto.Task{builtinTask(t, "InvokeHttp", tt.in)}})
		if st := o.steps[1]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "input") {
			t.Errorf("%v: %+v", tt.in, st)
		}
		x.spool.mu.Lock()
		delete(x.spool.jobs, "http-bad")
		x.spool.mu.Unlock()
	}
	// The default guard refuses loopback.
	y := newTestExecutor(t)
	o = runJob(t, y, agentproto.JobAssignment{JobID: "http-guard", SkipArtifactDownload: true, Tasks: []agentproto.Task{
		builtinTask(t, "InvokeHttp", map[string]string{"url": srv.URL + "/health"})}})
	if st := o.steps[1]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "outgoing calls may not reach") {
		t.Errorf("guard: %+v", st)
	}
	if len(seen) != 3 {
		t.Errorf("the guarded call reached the server: %q", seen)
	}
}

// TestBuiltinDownloadSecureFile: the task exposes the job's secure file as secureFilePath for
// the later tasks; a file the job did not receive fails the task.
func TestBuiltinDownloadSecureFile(t *testing.T) {
	t.Parallel()
	x := newTestExecutor(t)
	o := runJob(t, x, agentproto.JobAssignment{JobID: "dsf", SkipArtifactDownload: true,
		SecureFiles: []agentproto.SecureFile{{Name: "kube.conf", PathVariable: "SECUREFILE_KUBE_CONF_PATH", Content: []byte("apiVersion: v1\n")}},
		Tasks: []agentproto.Task{
			func() agentproto.Task {
				task := builtinTask(t, "DownloadSecureFile", map[string]string{"secureFile": "kube.conf"})
				task.Name = "kubeconfig"
				return task
			}(),
			{Name: "use", Shell: "bash", Script: `cat "$SECUREFILEPATH"; test "$SECUREFILEPATH" = "$KUBECONFIG_SECUREFILEPATH" && echo same`},
			builtinTask(t, "DownloadSecureFile", map[string]string{"secureFile": "missing.pem"}),
		}})
	if !slices.Contains(o.text(2), "apiVersion: v1") || !slices.Contains(o.text(2), "same") {
		t.Errorf("later task: %+v %q", o.steps[2], o.text(2))
	}
	if st := o.steps[3]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "was not sent with this job") {
		t.Errorf("missing: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(x.workDir, "dsf")); !os.IsNotExist(err) {
		t.Errorf("job directory left: %v", err)
	}
}

// standIn puts an executable named name on a PATH of its own that records its argv (one
// argument a line, then "--") and its standard input into log, and returns that PATH.
func standIn(t *testing.T, log string, names ...string) string {
	t.Helper()
	bin := t.TempDir()
	for _, name := range names {
		write(t, filepath.Join(bin, name), "#!/bin/sh\n{ echo \"$(basename \"$0\")\"; for a in \"$@\"; do printf '%s\\n' \"$a\"; done; case \" $* \" in *' --password-stdin '*) printf 'stdin=%s\\n' \"$(cat)\";; esac; echo --; } >> "+log+"\n")
		os.Chmod(filepath.Join(bin, name), 0o755)
	}
	return bin + ":" + os.Getenv("PATH")
}

// TestBuiltinCLIWrappers runs Docker, Kubernetes and HelmDeploy against stand-in executables
// (the real CLIs cannot run here) and checks the exact argv each gets.
func TestBuiltinCLIWrappers(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "argv")
	x := newTestExecutor(t)
	x.environ = append(slices.DeleteFunc(slices.Clone(x.environ), func(s string) bool { return strings.HasPrefix(s, "PATH=") }),
		"PATH="+standIn(t, log, "docker", "kubectl", "helm"))
	vars := []agentproto.Variable{{Name: "reg.password", EnvName: "REG_PASSWORD", Value: "hunter2", Secret: true}}
	o := runJob(t, x, agentproto.JobAssignment{JobID: "cli", SkipArtifactDownload: true, Variables: vars, Tasks: []agentproto.Task{
		builtinTask(t, "Docker", map[string]string{"command": "buildAndPush", "registry": "reg.example", "username": "ci", "password": "$(reg.password)",
			"repository": "team/web", "tags": "1.2\nlatest", "Dockerfile": "app/Dockerfile", "arguments": `--build-arg "NOTE=a b" --pull`}),
		builtinTask(t, "Kubernetes", map[string]string{"command": "apply", "kubeconfig": "/k/conf", "namespace": "prod", "useConfigurationFile": "true", "configuration": "manifests/", "arguments": "--prune -l app=web"}),
		builtinTask(t, "HelmDeploy", map[string]string{"namespace": "prod", "releaseName": "web", "chart": "charts/web", "chartVersion": "1.0.0", "overrideValues": "image.tag=1.2\n replicas=3 ", "arguments": "--atomic"}),
	}})
	for i := 1; i <= 3; i++ {
		if o.steps[i].Status != agentproto.StepSucceeded {
			t.Fatalf("step %d: %+v %q", i, o.steps[i], o.text(i))
		}
	}
	data, _ := os.ReadFile(log)
	want := strings.Join([]string{
		"docker", "build", "-f", "app/Dockerfile", "-t", "reg.example/team/web:1.2", "-t", "reg.example/team/web:latest", "--build-arg", "NOTE=a b", "--pull", "app", "--",
		"docker", "login", "--username", "ci", "--password-stdin", "reg.example", "stdin=hunter2", "--",
		"docker", "push", "reg.example/team/web:1.2", "--",
		"docker", "push", "reg.example/team/web:latest", "--",
		"kubectl", "--kubeconfig", "/k/conf", "--namespace", "prod", "apply", "--filename", "manifests/", "--prune", "-l", "app=web", "--",
		"helm", "upgrade", "--namespace", "prod", "--install", "--wait", "--version", "1.0.0", "--set", "image.tag=1.2", "--set", "replicas=3", "web", "charts/web", "--atomic", "--",
	}, "\n") + "\n"
	if string(data) != want {
		t.Errorf("argv:\n%s\nwant\n%s", data, want)
	}
	for i := 1; i <= 3; i++ {
		for _, l := range o.text(i) {
			if strings.Contains(l, "hunter2") {
				t.Errorf("step %d printed the password: %q", i, l)
			}
		}
	}
}

// TestBuiltinCLIWrapperRefusals: a command word with shell syntax and unbalanced quotes in
// arguments fail the task before the CLI runs.
func TestBuiltinCLIWrapperRefusals(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "argv")
	x := newTestExecutor(t)
	x.environ = append(slices.DeleteFunc(slices.Clone(x.environ), func(s string) bool { return strings.HasPrefix(s, "PATH=") }),
		"PATH="+standIn(t, log, "docker", "kubectl", "helm"))
	for i, task := range []agentproto.Task{
		builtinTask(t, "Kubernetes", map[string]string{"command": "apply; touch /tmp/pwned"}),
		builtinTask(t, "Docker", map[string]string{"command": "build", "repository": "x", "arguments": `"unbalanced`}),
		builtinTask(t, "HelmDeploy", map[string]string{"command": "upgrade"}),
		builtinTask(t, "Docker", map[string]string{"command": "push"}),
	} {
		id := fmt.Sprintf("cli-refused-%d", i)
		o := runJob(t, x, agentproto.JobAssignment{JobID: id, SkipArtifactDownload: true, Tasks: []agentproto.Task{task}})
		if st := o.steps[1]; st.Status != agentproto.StepFailed || st.ErrorCount == 0 {
			t.Errorf("%s: %+v %q", id, st, o.text(1))
		}
	}
	if data, _ := os.ReadFile(log); len(data) != 0 {
		t.Errorf("a CLI ran: %s", data)
	}
}

// TestCmdShellOnLinux: the cmd shell is refused on an agent that is not Windows, before the
// job runs, with a reason that says what to do.
func TestCmdShellOnLinux(t *testing.T) {
	t.Parallel()
	x := newTestExecutor(t)
	x.osName = "linux"
	err := x.validateAssignment(agentproto.JobAssignment{JobID: "cmd", Tasks: []agentproto.Task{{Name: "win", Shell: "cmd", Script: "echo hi"}}})
	if err == nil || !strings.Contains(err.Error(), "shell cmd runs only on Windows agents") {
		t.Fatalf("cmd on linux: %v", err)
	}
	x.osName = "windows"
	if _, args, err := x.shellCommand("cmd"); err == nil {
		if !slices.Equal(args, []string{"/D", "/E:ON", "/V:OFF", "/S", "/C"}) {
			t.Errorf("cmd args %v", args)
		}
	} else if !strings.Contains(err.Error(), "not found") {
		t.Errorf("cmd on windows: %v", err)
	}
	if err := x.validateAssignment(agentproto.JobAssignment{JobID: "r", Tasks: []agentproto.Task{{Name: "r", Runner: "teleport"}}}); err == nil || !strings.Contains(err.Error(), "no runner") {
		t.Errorf("unknown runner: %v", err)
	}
}

// FuzzTransformJSON: any input either fails with an error or yields valid JSON; never a panic.
func FuzzTransformJSON(f *testing.F) {
	f.Add([]byte(`{"a":{"b":1,"c.d":[true,null,"x"]}}`), "a.b", "2")
	f.Add([]byte(`[1,2,{"x":"y"}]`), "2.x", `{"z":1}`)
	f.Fuzz(func(t *testing.T, data []byte, name, value string) {
		out, _, err := transformJSON(data, []transformVariable{{name, value}})
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON out of %q: %q", data, out)
		}
	})
}

// FuzzTransformXML: any input either fails with an error or changes only attribute values.
func FuzzTransformXML(f *testing.F) {
	f.Add([]byte(`<configuration><appSettings><add key="a" value="1"/></appSettings></configuration>`), "a", `x"<&'y`)
	f.Add([]byte(`<c><connectionStrings><add name='n'/></connectionStrings></c>`), "n", "s")
	f.Fuzz(func(t *testing.T, data []byte, name, value string) {
		out, changed, err := transformXML(data, []transformVariable{{name, value}})
		if err != nil || len(changed) == 0 {
			return
		}
		dec := xml.NewDecoder(bytes.NewReader(out))
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("output does not parse: %v\nin  %q\nout %q", err, data, out)
			}
		}
	})
}
