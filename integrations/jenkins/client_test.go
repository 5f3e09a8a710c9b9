package jenkins

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/integrations/hook"
)

// fakeJenkins serves the api/json fixtures under a "/jenkins" context path,
// behind Basic auth, as Jenkins does.
func fakeJenkins(t *testing.T) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "bot" || p != "api-token" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		var body []byte
		switch r.URL.EscapedPath() {
		case "/jenkins/job/acme/job/app/42/api/json":
			body = fixture(t, "build_pipeline.json")
		case "/jenkins/job/legacy-api/88/api/json":
			body = fixture(t, "build_freestyle.json")
		case "/jenkins/job/shop/job/feature%252Flogin/3/api/json":
			body = []byte(`{"_class":"org.jenkinsci.plugins.workflow.job.WorkflowRun","number":3,"result":null,"building":true,"changeSets":[],"actions":[{}]}`)
		case "/jenkins/job/acme/job/app/api/json":
			tree := r.URL.Query().Get("tree")
			prefix := recentBuildsTree + "{0,"
			if !strings.HasPrefix(tree, prefix) || !strings.HasSuffix(tree, "}") {
				http.Error(w, "bad tree "+tree, http.StatusBadRequest)
				return
			}
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(tree, prefix), "}"))
			if err != nil {
				http.Error(w, "bad range", http.StatusBadRequest)
				return
			}
			body = fixture(t, "job_builds.json")
			if n < 4 {
				// Jenkins applies the range; emulate it crudely by
				// cutting the fixture's array.
				body = []byte(`{"builds":[` + strings.Join(splitBuilds(t, body)[:n], ",") + `]}`)
			}
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return &Client{BaseURL: srv.URL + "/jenkins/", User: "bot", Token: "api-token", HTTP: srv.Client()}
}

// splitBuilds returns the JSON objects of the fixture's builds array.
func splitBuilds(t *testing.T, body []byte) []string {
	t.Helper()
	var reply struct {
		Builds []json.RawMessage `json:"builds"`
	}
	if err := json.Unmarshal(body, &reply); err != nil {
		t.Fatal(err)
	}
	parts := make([]string, len(reply.Builds))
	for i, b := range reply.Builds {
		parts[i] = string(b)
	}
	return parts
}

func TestClientPipelineBuild(t *testing.T) {
	t.Parallel()
	c := fakeJenkins(t)
	b, err := c.Build(context.Background(), "acme/app", 42)
	if err != nil {
		t.Fatal(err)
	}
	if b.Number != 42 || b.Result != StatusSuccess || b.Building || b.URL != "https://ci.example.com/jenkins/job/acme/job/app/42/" {
		t.Errorf("build = %+v", b)
	}
	wantChanges := []hook.Change{
		{ID: "5d3a1f0c9b8e7d6c5b4a39281706f5e4d3c2b1a0", Message: "Add health endpoint AB#1234\n\nThe load balancer needs /healthz.", Author: "Alice Martin", Time: time.UnixMilli(1736072000000).UTC()},
		// timestamp -1: the date text is used.
		{ID: "9fceb02d0ae598e95dc970b74767f19372d61af8", Message: "Fix timeout (SHOP-77)", Author: "Bob Stone", Time: time.Date(2025, 1, 5, 10, 40, 0, 0, time.UTC)},
		{ID: "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c", Message: "Library: cache go modules", Author: "Ops Bot", Time: time.UnixMilli(1736000000000).UTC()},
	}
	if got := b.Changes(); !reflect.DeepEqual(got, wantChanges) {
		t.Errorf("Changes() =\n%+v\nwant\n%+v", got, wantChanges)
	}
	wantArtifacts := []hook.Artifact{
		{Name: "dist/app-linux-amd64.tar.gz", URL: "https://ci.example.com/jenkins/job/acme/job/app/42/artifact/dist/app-linux-amd64.tar.gz"},
		{Name: "dist/app.sbom.json", URL: "https://ci.example.com/jenkins/job/acme/job/app/42/artifact/dist/app.sbom.json"},
	}
	if got := b.ArtifactURLs(); !reflect.DeepEqual(got, wantArtifacts) {
		t.Errorf("ArtifactURLs() = %+v", got)
	}

	data := b.GitBuildData()
	if len(data) != 2 {
		t.Fatalf("GitBuildData() = %+v, want the library's and the app's", data)
	}
	app := BuildData{
		RemoteURLs: []string{"git@github.com:acme/app.git"},
		SHA1:       "9fceb02d0ae598e95dc970b74767f19372d61af8",
		Branches:   []string{"refs/remotes/origin/main"},
	}
	for _, repo := range []string{
		"https://github.com/acme/app.git",
		"https://github.com/acme/app",
		"https://github.com/Acme/App/",
		"git@github.com:acme/app.git",
		"ssh://git@github.com:22/acme/app.git",
	} {
		got, ok := SelectBuildData(data, repo)
		if !ok || !reflect.DeepEqual(got, app) {
			t.Errorf("SelectBuildData(%q) = %+v, %v; want the app's, not the library's", repo, got, ok)
		}
	}
	if got, ok := SelectBuildData(data, "https://github.com/acme/other"); ok {
		t.Errorf("SelectBuildData(other repo) = %+v", got)
	}
	if got, ok := SelectBuildData(data, ""); ok {
		t.Errorf("SelectBuildData with no repository and two checkouts = %+v, want none (ambiguous)", got)
	}
}

func TestClientFreestyleBuild(t *testing.T) {
	t.Parallel()
	c := fakeJenkins(t)
	b, err := c.Build(context.Background(), "legacy-api", 88)
	if err != nil {
		t.Fatal(err)
	}
	if b.Result != StatusUnstable {
		t.Errorf("result = %s", b.Result)
	}
	ch := b.Changes()
	if len(ch) != 1 || ch[0].ID != "aa11bb22cc33dd44ee55ff6677889900aabbccdd" || ch[0].Message != "Bump to 2.7, fixes #88 and LEG-12" || ch[0].Author != "Dave Kim" {
		t.Errorf("Changes() = %+v", ch)
	}
	if a := b.ArtifactURLs(); len(a) != 1 || a[0].URL != "https://ci.example.com/jenkins/job/legacy-api/88/artifact/target/api%202.7.war" {
		t.Errorf("ArtifactURLs() = %+v", a)
	}
	d, ok := SelectBuildData(b.GitBuildData(), "")
	if !ok || d.SHA1 != "aa11bb22cc33dd44ee55ff6677889900aabbccdd" || !reflect.DeepEqual(d.Branches, []string{"origin/release/2.x"}) {
		t.Errorf("SelectBuildData(freestyle, \"\") = %+v, %v", d, ok)
	}
}

func TestClientMultibranchPathAndRunning(t *testing.T) {
	t.Parallel()
	c := fakeJenkins(t)
	b, err := c.Build(context.Background(), "shop/feature%2Flogin", 3)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if !b.Building || b.Result != "" || len(b.Changes()) != 0 || len(b.GitBuildData()) != 0 {
		t.Errorf("running build = %+v", b)
	}
}

func TestClientRecentBuilds(t *testing.T) {
	t.Parallel()
	c := fakeJenkins(t)
	got, err := c.RecentBuilds(context.Background(), "acme/app", 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []BuildSummary{
		{Number: 43, URL: "https://ci.example.com/jenkins/job/acme/job/app/43/", Result: "", Timestamp: 1736080000000, DisplayName: "#43"},
		{Number: 42, URL: "https://ci.example.com/jenkins/job/acme/job/app/42/", Result: StatusSuccess, Timestamp: 1736073001234, DisplayName: "#42"},
	}
	// Build 42's git BuildData come with it (the tree asks for them): the
	// app's checkout is told from the shared library's by repository.
	bd, ok := SelectBuildData(got[1].GitBuildData(), "https://github.com/acme/app")
	if !ok || bd.SHA1 != "9fceb02d0ae598e95dc970b74767f19372d61af8" || !reflect.DeepEqual(bd.Branches, []string{"refs/remotes/origin/main"}) {
		t.Errorf("build 42's app checkout = %+v, %v", bd, ok)
	}
	if len(got[0].GitBuildData()) != 0 {
		t.Errorf("build 43 has git data %+v", got[0].GitBuildData())
	}
	got[1].Actions = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RecentBuilds(2) = %+v", got)
	}
	all, err := c.RecentBuilds(context.Background(), "acme/app", 10)
	if err != nil || len(all) != 4 || all[3].DisplayName != "v1.4.0" {
		t.Errorf("RecentBuilds(10) = %+v, %v", all, err)
	}
	if none, err := c.RecentBuilds(context.Background(), "acme/app", 0); err != nil || none != nil {
		t.Errorf("RecentBuilds(0) = %+v, %v", none, err)
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	c := fakeJenkins(t)
	ctx := context.Background()

	_, err := c.Build(ctx, "acme/missing", 1)
	var se *hook.StatusError
	if !errors.Is(err, hook.ErrNotFound) || !errors.As(err, &se) || se.StatusCode != 404 {
		t.Errorf("missing job: %v", err)
	}
	bad := *c
	bad.Token = "wrong"
	if _, err := bad.Build(ctx, "acme/app", 42); !errors.As(err, &se) || se.StatusCode != 403 || errors.Is(err, hook.ErrNotFound) {
		t.Errorf("bad token: %v", err)
	}
	if strings.Contains(err.Error(), "api-token") {
		t.Errorf("error leaks the token: %v", err)
	}
	nobase := *c
	nobase.BaseURL = "ci.example.com"
	if _, err := nobase.Build(ctx, "a", 1); err == nil || !strings.Contains(err.Error(), "base URL") {
		t.Errorf("relative base URL: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Build(cancelled, "acme/app", 42); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestNormalizeRepoURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://github.com/acme/app.git":           "github.com/acme/app",
		"https://github.com/acme/app/":              "github.com/acme/app",
		"http://user:pw@GitHub.com:443/Acme/App":    "github.com/acme/app",
		"git@github.com:acme/app.git":               "github.com/acme/app",
		"github.com:acme/app":                       "github.com/acme/app",
		"ssh://git@git.example.com:7999/proj/r.git": "git.example.com/proj/r",
		"git://git.example.com/r":                   "git.example.com/r",
		"/srv/git/app.git":                          "/srv/git/app",
		"file:///srv/git/app.git":                   "/srv/git/app",
		"":                                          "",
	} {
		if got := NormalizeRepoURL(in); got != want {
			t.Errorf("NormalizeRepoURL(%q) = %q, want %q", in, got, want)
		}
	}
	if SameRepository("", "") {
		t.Error("two empty URLs are the same repository")
	}
}

// TestClientPreemptiveAuthAndRedirects: the first request carries Basic auth
// (Jenkins answers an anonymous API call with 403, not a challenge), and a
// redirect out of the connection's origin is not followed with it.
func TestClientPreemptiveAuthAndRedirects(t *testing.T) {
	t.Parallel()
	var otherAuth []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherAuth = append(otherAuth, r.Header.Get("Authorization"))
		_, _ = w.Write([]byte(`{"number":42,"result":"SUCCESS"}`))
	}))
	t.Cleanup(other.Close)
	var first string
	n := 0
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n++; n == 1 {
			first = r.Header.Get("Authorization")
		}
		if r.URL.Path == "/jenkins/job/moved/42/api/json" {
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
			return
		}
		_, _ = w.Write([]byte(`{"number":42,"result":"SUCCESS"}`))
	}))
	t.Cleanup(home.Close)
	c := &Client{BaseURL: home.URL + "/jenkins", User: "bot", Token: "api-token", HTTP: home.Client()}
	if _, err := c.Build(t.Context(), "app", 42); err != nil {
		t.Fatal(err)
	}
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("bot:api-token")); first != want {
		t.Fatalf("first request Authorization %q, want %q", first, want)
	}
	if _, err := c.Build(t.Context(), "moved", 42); err == nil || !strings.Contains(err.Error(), "origin") {
		t.Fatalf("redirect to another origin: %v", err)
	}
	if len(otherAuth) != 0 {
		t.Fatalf("the other origin was called: %q", otherAuth)
	}
	if u, err := c.BuildURL("a/b", 12); err != nil || u != home.URL+"/jenkins/job/a/job/b/12/" {
		t.Fatalf("BuildURL = %q, %v", u, err)
	}
}
