package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cairnhq/cairn/agentproto"
	"github.com/cairnhq/cairn/internal/netguard"
)

// authLog records the Authorization header of every request a test server gets.
type authLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *authLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, r.Host+r.URL.Path+" auth="+r.Header.Get("Authorization"))
}

func (l *authLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen)
}

// TestBuiltinDownloadFile: a real HTTP server serves a file, anonymously and with Basic auth
// from a service connection's credentials; the path lands in downloadedFilePath for the later
// tasks; a wrong sha256 fails the step and leaves nothing; the password is masked; the URL
// must be on the connection's origin; a redirect to another origin is followed without the
// credentials; an oversized file, a target outside the job's directory and an existing file
// without overwrite are refused; the default guard refuses loopback.
func TestBuiltinDownloadFile(t *testing.T) {
	t.Parallel()
	content := "package contents\n"
	sum := sha256.Sum256([]byte(content))
	good := hex.EncodeToString(sum[:])
	var other, home authLog
	otherSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.add(r)
		w.Write([]byte("elsewhere"))
	}))
	defer otherSrv.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		home.add(r)
		switch r.URL.Path {
		case "/pkg/app.tgz":
			w.Write([]byte(content))
		case "/private/app.tgz":
			if u, p, ok := r.BasicAuth(); !ok || u != "bot" || p != "s3cr3t-pw" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Write([]byte(content))
		case "/redirect":
			http.Redirect(w, r, otherSrv.URL+"/moved", http.StatusFound)
		case "/huge":
			w.Header().Set("Content-Length", "3221225472")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("x"))
		}
	}))
	defer srv.Close()
	x := newTestExecutor(t)
	x.guard = netguard.New(netguard.DefaultDenied, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	cred := &agentproto.Credentials{Username: "bot", Password: "s3cr3t-pw"}
	withConn := func(task agentproto.Task) agentproto.Task {
		task.Credentials, task.Origin = cred, srv.URL
		return task
	}
	named := func(name string, task agentproto.Task) agentproto.Task { task.Name = name; return task }
	o := runJob(t, x, agentproto.JobAssignment{JobID: "dl", SkipArtifactDownload: true, Tasks: []agentproto.Task{
		named("anon", builtinTask(t, "DownloadFile", map[string]string{"url": srv.URL + "/pkg/app.tgz", "targetPath": "drop/app.tgz", "sha256": strings.ToUpper(good)})),
		{Name: "use", Shell: "bash", Script: `cat "$DOWNLOADEDFILEPATH"; test "$DOWNLOADEDFILEPATH" = "$ANON_DOWNLOADEDFILEPATH" && echo same`},
		named("private", withConn(builtinTask(t, "DownloadFile", map[string]string{"url": srv.URL + "/private/app.tgz", "targetPath": "private.tgz", "serviceConnection": "repo"}))),
		{Name: "leak", Shell: "bash", Script: `echo "pw is s3cr3t-pw"`},
	}})
	for i := 1; i <= 4; i++ {
		if o.steps[i].Status != agentproto.StepSucceeded {
			t.Fatalf("step %d: %+v %q", i, o.steps[i], o.text(i))
		}
	}
	if !slices.Contains(o.text(2), strings.TrimSpace(content)) || !slices.Contains(o.text(2), "same") {
		t.Errorf("later task: %q", o.text(2))
	}
	if !slices.Contains(o.text(4), "pw is ***") {
		t.Errorf("the connection's password is not masked: %q", o.text(4))
	}
	want := []string{srv.Listener.Addr().String() + "/pkg/app.tgz auth=", srv.Listener.Addr().String() + "/private/app.tgz auth=Basic Ym90OnMzY3IzdC1wdw=="}
	if got := home.all(); !slices.Equal(got, want) {
		t.Errorf("server saw %q, want %q", got, want)
	}

	// Each refusal in a job of its own; the target of each would be dl.out.
	fails := []struct {
		name   string
		task   agentproto.Task
		reason string
	}{
		{"wrong sha256", builtinTask(t, "DownloadFile", map[string]string{"url": srv.URL + "/pkg/app.tgz", "targetPath": "dl.out", "sha256": strings.Repeat("0", 64)}), "sha256 is " + good},
		{"bad sha256", builtinTask(t, "DownloadFile", map[string]string{"url": srv.URL + "/pkg/app.tgz", "targetPath": "dl.out", "sha256": "abc"}), "input sha256"},
		{"other host with a connection", withConn(builtinTask(t, "DownloadFile", map[string]string{"url": otherSrv.URL + "/x", "targetPath": "dl.out", "serviceConnection": "repo"})), "not on the service connection's origin"},
		{"other scheme with a connection", withConn(builtinTask(t, "DownloadFile", map[string]string{"url": strings.Replace(srv.URL, "http:", "https:", 1) + "/x", "targetPath": "dl.out", "serviceConnection": "repo"})), "not on the service connection's origin"},
		{"no credentials", builtinTask(t, "DownloadFile", map[string]string{"url": srv.URL + "/private/app.tgz", "targetPath": "dl.out"}), "401"},
		{"too large", builtinTask(t, "DownloadFile", map[string]string{"url": srv.URL + "/huge", "targetPath": "dl.out"}), "more than the 2 GiB"},
		{"outside the job", builtinTask(t, "DownloadFile", map[string]string{"url": srv.URL + "/pkg/app.tgz", "targetPath": "../../escape"}), "not a file inside the job's directory"},
		{"absolute elsewhere", builtinTask(t, "DownloadFile", map[string]string{"url": srv.URL + "/pkg/app.tgz", "targetPath": "/etc/cairn-escape"}), "not a file inside the job's directory"},
		{"file url", builtinTask(t, "DownloadFile", map[string]string{"url": "file:///etc/passwd", "targetPath": "dl.out"}), "input url"},
		{"user info", builtinTask(t, "DownloadFile", map[string]string{"url": "http://a:b@" + srv.Listener.Addr().String() + "/pkg/app.tgz", "targetPath": "dl.out"}), "input url"},
		{"bad timeout", builtinTask(t, "DownloadFile", map[string]string{"url": srv.URL + "/pkg/app.tgz", "targetPath": "dl.out", "timeout": "-1"}), "input timeout"},
	}
	for i, tt := range fails {
		id := fmt.Sprintf("dl-fail-%d", i)
		o := runJob(t, x, agentproto.JobAssignment{JobID: id, SkipArtifactDownload: true, Tasks: []agentproto.Task{tt.task,
			{Name: "look", Shell: "bash", Script: `ls -A "$SYSTEM_DEFAULTWORKINGDIRECTORY"; echo "end"`, Condition: "ALWAYS"}}})
		if st := o.steps[1]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, tt.reason) {
			t.Errorf("%s: %+v, want a failure saying %q", tt.name, st, tt.reason)
		}
		if got := o.text(2); !slices.Equal(got, []string{"end"}) {
			t.Errorf("%s: left in the working directory: %q", tt.name, got)
		}
		for _, l := range o.text(1) {
			if strings.Contains(l, "s3cr3t-pw") {
				t.Errorf("%s: password in the log: %q", tt.name, l)
			}
		}
	}
	if _, err := os.Stat("/etc/cairn-escape"); err == nil {
		t.Error("a file was written outside the job")
	}

	// A redirect to another origin is followed without the credentials.
	o = runJob(t, x, agentproto.JobAssignment{JobID: "dl-redirect", SkipArtifactDownload: true, Tasks: []agentproto.Task{
		withConn(builtinTask(t, "DownloadFile", map[string]string{"url": srv.URL + "/redirect", "targetPath": "moved", "serviceConnection": "repo"})),
		{Name: "cat", Shell: "bash", Script: `cat "$DOWNLOADEDFILEPATH"; echo`},
	}})
	if st := o.steps[1]; st.Status != agentproto.StepSucceeded || !slices.Contains(o.text(2), "elsewhere") {
		t.Errorf("redirect: %+v %q %q", st, o.text(1), o.text(2))
	}
	if got := other.all(); len(got) != 1 || !strings.HasSuffix(got[0], "/moved auth=") {
		t.Errorf("the other origin saw %q, want no credentials", got)
	}
	if got := home.all(); !strings.HasSuffix(got[len(got)-1], "/redirect auth=Basic Ym90OnMzY3IzdC1wdw==") {
		t.Errorf("home saw %q", got)
	}

	// An existing file is kept unless overwrite.
	dir := t.TempDir()
	y := newTestExecutor(t)
	y.workDir = dir
	y.guard = x.guard
	o = runJob(t, y, agentproto.JobAssignment{JobID: "dl-exists", SkipArtifactDownload: true, Tasks: []agentproto.Task{
		{Name: "make", Shell: "bash", Script: `echo old > kept; echo old > replaced`},
		func() agentproto.Task {
			task := builtinTask(t, "DownloadFile", map[string]string{"url": srv.URL + "/pkg/app.tgz", "targetPath": "kept"})
			task.ContinueOnError = true
			return task
		}(),
		builtinTask(t, "DownloadFile", map[string]string{"url": srv.URL + "/pkg/app.tgz", "targetPath": "replaced", "overwrite": "true"}),
		{Name: "show", Shell: "bash", Script: `cat kept replaced`, Condition: "ALWAYS"},
	}})
	if st := o.steps[2]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "exists (set overwrite") {
		t.Errorf("existing file: %+v", st)
	}
	if got := o.text(4); !slices.Equal(got, []string{"old", strings.TrimSpace(content)}) {
		t.Errorf("files: %q (step 3 %+v %q)", got, o.steps[3], o.text(3))
	}

	// The default guard refuses loopback.
	z := newTestExecutor(t)
	n := len(home.all())
	o = runJob(t, z, agentproto.JobAssignment{JobID: "dl-guard", SkipArtifactDownload: true, Tasks: []agentproto.Task{
		builtinTask(t, "DownloadFile", map[string]string{"url": srv.URL + "/pkg/app.tgz", "targetPath": "x"})}})
	if st := o.steps[1]; st.Status != agentproto.StepFailed || !strings.Contains(st.Reason, "outgoing calls may not reach") || len(home.all()) != n {
		t.Errorf("guard: %+v", st)
	}
}
