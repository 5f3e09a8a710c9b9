package agent

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cairnhq/cairn/agentproto"
)

// zipOf returns a zip holding the given name → content entries (a name ending in "/" is a directory).
func zipOf(t *testing.T, entries ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e[0])
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e[1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// requireBasicAuth wraps h so that it answers 401 without the given credentials.
func requireBasicAuth(user, pass string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(pass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="ci"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// fakeJenkins serves build 12 of job x: one artifact file and the whole-archive zip.
func fakeJenkins(t *testing.T) *httptest.Server {
	t.Helper()
	archive := zipOf(t, [2]string{"archive/", ""}, [2]string{"archive/dist/", ""},
		[2]string{"archive/dist/app.txt", "app v12"}, [2]string{"archive/README", "readme"})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /job/x/12/artifact/dist/app.txt", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("app v12"))
	})
	mux.HandleFunc("GET /job/x/12/artifact/{zip}/archive.zip", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("zip") != "*zip*" {
			http.NotFound(w, r)
			return
		}
		w.Write(archive)
	})
	srv := httptest.NewServer(requireBasicAuth("jenkins", "api-token-123", mux))
	t.Cleanup(srv.Close)
	return srv
}

// fakeAzureDevOps serves a build artifact zip at its download URL.
func fakeAzureDevOps(t *testing.T, body []byte) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /org/proj/_apis/build/builds/55/artifacts", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("artifactName") != "drop" || r.URL.Query().Get("$format") != "zip" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	})
	srv := httptest.NewServer(requireBasicAuth("", "pat-xyz", mux))
	t.Cleanup(srv.Close)
	return srv
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func newDownloader(t *testing.T, max int64) *downloader {
	return &downloader{client: http.DefaultClient, limits: artifactLimits{maxBytes: max, maxEntries: 100}, logf: func(f string, a ...any) { t.Logf(f, a...) }}
}

func TestJenkinsArtifacts(t *testing.T) {
	t.Parallel()
	srv := fakeJenkins(t)
	cred := &agentproto.Credentials{Username: "jenkins", Password: "api-token-123"}
	t.Run("relative paths", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "a", "app")
		err := newDownloader(t, 1<<20).download(t.Context(), agentproto.Artifact{Alias: "app", Type: agentproto.ArtifactJenkins,
			Jenkins: &agentproto.JenkinsDownload{BuildURL: srv.URL + "/job/x/12/", RelativePaths: []string{"dist/app.txt"}}, Credentials: cred, Origin: srv.URL}, dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, filepath.Join(dir, "dist", "app.txt")); got != "app v12" {
			t.Errorf("app.txt = %q", got)
		}
	})
	t.Run("whole archive", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "a", "app")
		err := newDownloader(t, 1<<20).download(t.Context(), agentproto.Artifact{Alias: "app", Type: agentproto.ArtifactJenkins,
			Jenkins: &agentproto.JenkinsDownload{BuildURL: srv.URL + "/job/x/12", WholeArchive: true}, Credentials: cred, Origin: srv.URL}, dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, filepath.Join(dir, "dist", "app.txt")); got != "app v12" {
			t.Errorf("dist/app.txt = %q", got)
		}
		if got := readFile(t, filepath.Join(dir, "README")); got != "readme" {
			t.Errorf("README = %q", got)
		}
	})
	t.Run("wrong credentials", func(t *testing.T) {
		t.Parallel()
		err := newDownloader(t, 1<<20).download(t.Context(), agentproto.Artifact{Alias: "app", Type: agentproto.ArtifactJenkins,
			Jenkins:     &agentproto.JenkinsDownload{BuildURL: srv.URL + "/job/x/12", RelativePaths: []string{"dist/app.txt"}},
			Credentials: &agentproto.Credentials{Username: "jenkins", Password: "wrong"}, Origin: srv.URL}, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("err = %v, want a 401", err)
		}
	})
	t.Run("relative path escaping", func(t *testing.T) {
		t.Parallel()
		err := newDownloader(t, 1<<20).download(t.Context(), agentproto.Artifact{Alias: "app", Type: agentproto.ArtifactJenkins,
			Jenkins: &agentproto.JenkinsDownload{BuildURL: srv.URL + "/job/x/12", RelativePaths: []string{"../../etc/passwd"}}, Credentials: cred, Origin: srv.URL}, t.TempDir())
		if !errors.Is(err, errUnsafePath) {
			t.Errorf("err = %v, want errUnsafePath", err)
		}
	})
	t.Run("size limit", func(t *testing.T) {
		t.Parallel()
		err := newDownloader(t, 3).download(t.Context(), agentproto.Artifact{Alias: "app", Type: agentproto.ArtifactJenkins,
			Jenkins: &agentproto.JenkinsDownload{BuildURL: srv.URL + "/job/x/12", RelativePaths: []string{"dist/app.txt"}}, Credentials: cred, Origin: srv.URL}, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "limit") {
			t.Errorf("err = %v, want a size limit error", err)
		}
	})
}

func TestTeamBuildArtifact(t *testing.T) {
	t.Parallel()
	srv := fakeAzureDevOps(t, zipOf(t, [2]string{"drop/", ""}, [2]string{"drop/bin/app.dll", "MZ"}))
	dir := filepath.Join(t.TempDir(), "a", "web")
	err := newDownloader(t, 1<<20).download(t.Context(), agentproto.Artifact{Alias: "web", Type: agentproto.ArtifactTeamBuild,
		TeamBuild:   &agentproto.TeamBuildDownload{DownloadURL: srv.URL + "/org/proj/_apis/build/builds/55/artifacts?artifactName=drop&api-version=4.1&$format=zip"},
		Credentials: &agentproto.Credentials{Password: "pat-xyz"}, Origin: srv.URL + "/org"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "drop", "bin", "app.dll")); got != "MZ" {
		t.Errorf("app.dll = %q", got)
	}
}

func TestUnzipRejectsUnsafeEntries(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"../evil.txt", "a/../../evil.txt", "/abs/evil.txt", `..\evil.txt`} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			dir := filepath.Join(parent, "a", "x")
			os.MkdirAll(dir, 0o755)
			z := zipOf(t, [2]string{"ok.txt", "fine"}, [2]string{name, "pwned"})
			_, err := newDownloader(t, 1<<20).unzip(bytes.NewReader(z), int64(len(z)), dir, "")
			if !errors.Is(err, errUnsafePath) {
				t.Fatalf("err = %v, want errUnsafePath", err)
			}
			// Nothing is written when any entry is unsafe.
			filepath.WalkDir(parent, func(p string, d os.DirEntry, err error) error {
				if d != nil && !d.IsDir() {
					t.Errorf("file written: %s", p)
				}
				return nil
			})
		})
	}
}

func TestDownloadStepInJobLog(t *testing.T) {
	t.Parallel()
	srv := fakeJenkins(t)
	x := newTestExecutor(t)
	o := runJob(t, x, agentproto.JobAssignment{JobID: "dl",
		Artifacts: []agentproto.Artifact{{Alias: "app", Type: agentproto.ArtifactJenkins, BuildNumber: "12",
			Jenkins:     &agentproto.JenkinsDownload{BuildURL: srv.URL + "/job/x/12", RelativePaths: []string{"dist/app.txt"}},
			Credentials: &agentproto.Credentials{Username: "jenkins", Password: "api-token-123"}, Origin: srv.URL}},
		Tasks: []agentproto.Task{{Script: `cat "$RELEASE_ARTIFACTS_APP_PATH/dist/app.txt"; echo; cat "$SYSTEM_ARTIFACTSDIRECTORY/app/dist/app.txt"`}},
	})
	if o.finished.Status != agentproto.JobSucceeded || o.steps[0].Status != agentproto.StepSucceeded || !o.started[0] {
		t.Fatalf("job %s (%s), step 0 %+v, log %q", o.finished.Status, o.finished.Reason, o.steps[0], o.text(0))
	}
	if len(o.text(0)) == 0 || !strings.Contains(strings.Join(o.text(0), "\n"), "Downloading artifact app") {
		t.Errorf("step 0 log = %q", o.text(0))
	}
	if got := o.text(1); len(got) != 2 || got[0] != "app v12" || got[1] != "app v12" {
		t.Errorf("task log = %q", got)
	}

	// A failed download fails the job and skips the tasks.
	o = runJob(t, x, agentproto.JobAssignment{JobID: "dl-fail",
		Artifacts: []agentproto.Artifact{{Alias: "app", Type: agentproto.ArtifactJenkins,
			Jenkins:     &agentproto.JenkinsDownload{BuildURL: srv.URL + "/job/x/12", RelativePaths: []string{"dist/app.txt"}},
			Credentials: &agentproto.Credentials{Username: "jenkins", Password: "wrong-password"}, Origin: srv.URL}},
		Tasks: []agentproto.Task{{Script: "echo never"}},
	})
	if o.finished.Status != agentproto.JobFailed || o.steps[0].Status != agentproto.StepFailed || o.steps[1].Status != agentproto.StepSkipped {
		t.Errorf("job %s, steps %+v", o.finished.Status, o.steps)
	}
	for _, l := range o.lines {
		if strings.Contains(l.Text, "wrong-password") {
			t.Errorf("credential leaked: %q", l.Text)
		}
	}
}

// TestDownloadJenkinsWithoutURL: a Jenkins artifact whose build URL is unknown fails with a reason
// a person can act on, not "unsupported protocol scheme".
func TestDownloadJenkinsWithoutURL(t *testing.T) {
	d := newDownloader(t, 1<<20)
	err := d.download(context.Background(), agentproto.Artifact{Alias: "app", Type: agentproto.ArtifactJenkins, BuildNumber: "42",
		Jenkins: &agentproto.JenkinsDownload{WholeArchive: true}}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no URL is known for Jenkins build 42 of artifact app") || strings.Contains(err.Error(), "protocol") {
		t.Fatalf("download: %v", err)
	}
}

// TestCredentialsOnlyGoHome: the agent sends a connection's credentials only to URLs of the
// connection's origin. A build URL, download URL or redirect naming another host fails the
// download, and that host sees no Authorization header.
func TestCredentialsOnlyGoHome(t *testing.T) {
	t.Parallel()
	home := fakeJenkins(t)
	var mu sync.Mutex
	var seen []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Write([]byte("zzz"))
	}))
	t.Cleanup(other.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	}))
	t.Cleanup(redirector.Close)
	cred := &agentproto.Credentials{Username: "jenkins", Password: "api-token-123"}
	for _, tt := range []struct {
		name string
		a    agentproto.Artifact
	}{
		{"jenkins build URL on another host", agentproto.Artifact{Type: agentproto.ArtifactJenkins,
			Jenkins: &agentproto.JenkinsDownload{BuildURL: other.URL + "/job/x/12", RelativePaths: []string{"dist/app.txt"}}, Credentials: cred, Origin: home.URL}},
		{"whole archive on another host", agentproto.Artifact{Type: agentproto.ArtifactJenkins,
			Jenkins: &agentproto.JenkinsDownload{BuildURL: other.URL + "/job/x/12", WholeArchive: true}, Credentials: cred, Origin: home.URL}},
		{"team build download URL on another host", agentproto.Artifact{Type: agentproto.ArtifactTeamBuild,
			TeamBuild: &agentproto.TeamBuildDownload{DownloadURL: other.URL + "/org/_apis/x?$format=zip"}, Credentials: cred, Origin: home.URL + "/org"}},
		{"no origin sent", agentproto.Artifact{Type: agentproto.ArtifactJenkins,
			Jenkins: &agentproto.JenkinsDownload{BuildURL: home.URL + "/job/x/12", RelativePaths: []string{"dist/app.txt"}}, Credentials: cred}},
		{"redirect to another host", agentproto.Artifact{Type: agentproto.ArtifactJenkins,
			Jenkins: &agentproto.JenkinsDownload{BuildURL: redirector.URL + "/job/x/12", RelativePaths: []string{"dist/app.txt"}}, Credentials: cred, Origin: redirector.URL}},
	} {
		err := newDownloader(t, 1<<20).download(t.Context(), tt.a, filepath.Join(t.TempDir(), "a", "x"))
		if !errors.Is(err, errForeignURL) {
			t.Errorf("%s: err = %v, want errForeignURL", tt.name, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, h := range seen {
		if h != "" {
			t.Errorf("the other host received Authorization %q", h)
		}
	}
}
