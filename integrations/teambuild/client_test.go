package teambuild

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/integrations/hook"
)

// fakeAzureDevOps serves the REST fixtures for project "Shop Project" (a
// name with a space, as real ones have) under a collection path, checking
// the PAT and the api-version as Azure DevOps does.
func fakeAzureDevOps(t *testing.T) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, p, ok := r.BasicAuth(); !ok || p != "pat-123" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		q := r.URL.Query()
		if q.Get("api-version") == "" {
			http.Error(w, `{"message":"No api-version was supplied"}`, http.StatusBadRequest)
			return
		}
		const prefix = "/fabrikam/Shop%20Project/_apis/build/builds"
		var body []byte
		switch p := r.URL.EscapedPath(); p {
		case prefix + "/1021":
			body = fixture(t, "api_build.json")
		case prefix + "/1021/changes":
			body = fixture(t, "api_changes.json")
			if q.Get("$top") == "1" {
				body = []byte(`{"count":1,"value":[` + strings.SplitN(strings.SplitN(string(body), "[", 2)[1], "},\n    {", 2)[0] + `}]}`)
			}
		case prefix + "/1021/workitems":
			body = fixture(t, "api_workitems.json")
		case prefix + "/1021/artifacts":
			body = fixture(t, "api_artifacts.json")
		case prefix:
			if q.Get("definitions") != "12" || q.Get("statusFilter") != "completed" || q.Get("queryOrder") != "finishTimeDescending" || q.Get("$top") != "3" {
				http.Error(w, "unexpected query "+r.URL.RawQuery, http.StatusBadRequest)
				return
			}
			body = fixture(t, "api_builds.json")
		case "/fabrikam/_apis/wit/workitems/1234":
			if q.Get("fields") != "System.Title,System.WorkItemType,System.State,System.Tags" {
				http.Error(w, "unexpected fields", http.StatusBadRequest)
				return
			}
			body = fixture(t, "api_workitem_1234.json")
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"TF401232: not found"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8; api-version="+q.Get("api-version"))
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return &Client{BaseURL: srv.URL + "/fabrikam", Token: "pat-123", HTTP: srv.Client()}
}

func TestClientBuild(t *testing.T) {
	t.Parallel()
	c := fakeAzureDevOps(t)
	b, err := c.Build(context.Background(), "Shop Project", 1021)
	if err != nil {
		t.Fatal(err)
	}
	if b.ID != 1021 || b.BuildNumber != "20250105.3" || b.Result != "succeeded" || b.Definition.ID != 12 || b.Definition.Name != "shop-api-CI" ||
		b.Project.Name != "Shop" || b.SourceBranch != "refs/heads/main" || b.SourceVersion != "2f6a8e0c4b1d3f5a7c9e0b2d4f6a8c0e1b3d5f7a" ||
		b.RequestedFor.DisplayName != "Alice Martin" || b.Repository.Name != "shop-api" ||
		b.WebURL() != "https://dev.azure.com/fabrikam/4a2b6c1d-8e9f-4a0b-b1c2-d3e4f5a6b7c8/_build/results?buildId=1021" {
		t.Errorf("Build = %+v", b)
	}
	if !b.Finished().Equal(time.Date(2025, 1, 5, 10, 24, 47, 890123400, time.UTC)) {
		t.Errorf("Finished = %v", b.Finished())
	}
}

func TestClientChanges(t *testing.T) {
	t.Parallel()
	c := fakeAzureDevOps(t)
	ch, err := c.Changes(context.Background(), "Shop Project", 1021, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 2 || ch[0].MessageTruncated || !ch[1].MessageTruncated {
		t.Fatalf("Changes = %+v", ch)
	}
	want := hook.Change{
		ID: "2f6a8e0c4b1d3f5a7c9e0b2d4f6a8c0e1b3d5f7a", Message: "Add health endpoint AB#1234", Author: "Alice Martin",
		Time: time.Date(2025, 1, 5, 10, 13, 20, 0, time.UTC),
		URL:  "https://dev.azure.com/fabrikam/Shop/_git/shop-api/commit/2f6a8e0c4b1d3f5a7c9e0b2d4f6a8c0e1b3d5f7a",
	}
	if got := ch[0].HookChange(); !reflect.DeepEqual(got, want) {
		t.Errorf("HookChange = %+v", got)
	}
	one, err := c.Changes(context.Background(), "Shop Project", 1021, 1)
	if err != nil || len(one) != 1 || one[0].ID != want.ID {
		t.Errorf("Changes($top=1) = %+v, %v", one, err)
	}
}

func TestClientWorkItemsAndArtifacts(t *testing.T) {
	t.Parallel()
	c := fakeAzureDevOps(t)
	ctx := context.Background()
	refs, err := c.WorkItems(ctx, "Shop Project", 1021, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []WorkItemRef{
		{ID: "1234", URL: "https://dev.azure.com/fabrikam/_apis/wit/workItems/1234"},
		{ID: "1233", URL: "https://dev.azure.com/fabrikam/_apis/wit/workItems/1233"},
	}; !reflect.DeepEqual(refs, want) {
		t.Errorf("WorkItems = %+v", refs)
	}
	wi, err := c.WorkItem(ctx, refs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if wi.ID != 1234 || wi.Fields.Title != "Expose a health endpoint for the load balancer" || wi.Fields.WorkItemType != "User Story" ||
		wi.Fields.State != "Resolved" || wi.Links.HTML.Href == "" || !reflect.DeepEqual(wi.TagList(), []string{"api", "Release Blocker"}) {
		t.Errorf("WorkItem = %+v", wi)
	}
	if _, err := c.WorkItem(ctx, "1233"); !errors.Is(err, hook.ErrNotFound) {
		t.Errorf("missing work item: %v", err)
	}
	if _, err := c.WorkItem(ctx, "../1234"); err == nil {
		t.Error("WorkItem accepted a non-numeric id")
	}

	arts, err := c.Artifacts(ctx, "Shop Project", 1021)
	if err != nil {
		t.Fatal(err)
	}
	if len(arts) != 2 || arts[0].Name != "drop" || arts[0].Resource.Type != "Container" ||
		!strings.HasSuffix(arts[0].Resource.DownloadURL, "/content?format=zip") || arts[1].Resource.Type != "PipelineArtifact" {
		t.Errorf("Artifacts = %+v", arts)
	}
}

func TestClientDefinitionBuilds(t *testing.T) {
	t.Parallel()
	c := fakeAzureDevOps(t)
	builds, err := c.DefinitionBuilds(context.Background(), "Shop Project", 12, 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range builds {
		got = append(got, b.BuildNumber+" "+b.Result+" "+b.SourceBranch)
	}
	want := []string{
		"20250105.3 succeeded refs/heads/main",
		"20250105.2 failed refs/heads/feature/cart",
		"20250104.1 partiallySucceeded refs/heads/main",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DefinitionBuilds = %q", got)
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	c := fakeAzureDevOps(t)
	ctx := context.Background()
	_, err := c.Build(ctx, "Shop Project", 9)
	var se *hook.StatusError
	if !errors.Is(err, hook.ErrNotFound) || !errors.As(err, &se) || !strings.Contains(se.Body, "TF401232") {
		t.Errorf("missing build: %v", err)
	}
	bad := *c
	bad.Token = "wrong"
	if _, err := bad.Build(ctx, "Shop Project", 1021); !errors.As(err, &se) || se.StatusCode != 401 {
		t.Errorf("bad PAT: %v", err)
	}
	// api-version is always sent; a custom one is passed through.
	old := *c
	old.APIVersion = "4.1"
	if _, err := old.Build(ctx, "Shop Project", 1021); err != nil {
		t.Errorf("api-version 4.1: %v", err)
	}
	nobase := *c
	nobase.BaseURL = "dev.azure.com/fabrikam"
	if _, err := nobase.Build(ctx, "p", 1); err == nil || !strings.Contains(err.Error(), "base URL") {
		t.Errorf("relative base URL: %v", err)
	}
}

// TestClientAPIVersionAndPreemptiveAuth: every call names api-version 7.1
// and carries Basic auth on the first request, with no challenge first.
func TestClientAPIVersionAndPreemptiveAuth(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var versions, auths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		versions = append(versions, r.URL.Query().Get("api-version"))
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":1021,"buildNumber":"20250105.3","status":"completed","result":"succeeded"}`))
	}))
	t.Cleanup(srv.Close)
	c := &Client{BaseURL: srv.URL + "/fabrikam", Token: "pat-123", HTTP: srv.Client()}
	if _, err := c.Build(t.Context(), "Shop", 1021); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(":pat-123"))
	if len(versions) != 1 || versions[0] != "7.1" || auths[0] != want {
		t.Fatalf("api-versions %q, Authorization %q; want one request with 7.1 and %q", versions, auths, want)
	}
}
