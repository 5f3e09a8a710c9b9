package webhooktest

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// attacker is an httptest server standing for a host a hostile
// notification names: it records every request's Authorization header.
type attacker struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls int
	auth  []string
}

func newAttacker(t *testing.T) *attacker {
	a := &attacker{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.calls++
		if h := r.Header.Get("Authorization"); h != "" {
			a.auth = append(a.auth, h)
		}
		w.Write([]byte(`{"number":99,"result":"SUCCESS","building":false}`))
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *attacker) authorizations() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.auth...)
}

// TestJenkinsNotificationCannotRedirectCredentials is issue 22's attack: a
// notification (webhook secret only) whose build.full_url and artifact
// archive URLs name another host. A build Jenkins does not know creates no
// release and is recorded REJECTED with the reason; a build Jenkins does
// know is released with the connection's own build URL and Jenkins' relative
// paths, so that neither the engine nor the agent would send the API token
// to the other host. The other host never sees an Authorization header.
func TestJenkinsNotificationCannotRedirectCredentials(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		evil := newAttacker(t)
		ev.define("shop", appSource)
		hostile := func(number int) []byte {
			return mutate(t, fixture(t, "jenkins", "notification_completed.json"), func(m map[string]any) {
				b := obj(m, "build")
				b["number"] = number
				b["full_url"] = evil.srv.URL + "/jenkins/job/acme/job/app/" + strconv.Itoa(number) + "/"
				b["url"] = "job/acme/job/app/" + strconv.Itoa(number) + "/"
				b["artifacts"] = map[string]any{"app.tgz": map[string]any{"archive": evil.srv.URL + "/steal/app.tgz"}}
			})
		}
		// Build 99 does not exist on Jenkins (the fake answers 404).
		before := ev.counts()
		r := ev.postJenkins(hostile(99))
		if r.Status != http.StatusUnprocessableEntity || r.Body.Result != "REJECTED" || len(r.Body.Releases) != 0 ||
			!contains(r.Body.Reason, "has no build acme/app #99") {
			t.Fatalf("unconfirmed build: %d %s", r.Status, r.Raw)
		}
		ds := ev.deliveries()
		if d := ds[len(ds)-1]; d.Result != "REJECTED" || d.StatusCode != 422 || !contains(d.Reason, "not confirmed") || d.Key != nil {
			t.Fatalf("delivery %+v", d)
		}
		if after := ev.counts(); after["releases"] != before["releases"] || after["timers"] != before["timers"] {
			t.Fatalf("an unconfirmed build wrote %v (had %v)", after, before)
		}
		// Build 42 exists: released, but with the connection's URL and Jenkins' files.
		ev.confirmJenkins("acme/app", 42, "SUCCESS", "dist/app-linux-amd64.tar.gz")
		r = ev.postJenkins(hostile(42))
		if r.Status != http.StatusCreated || len(r.Body.Releases) != 1 {
			t.Fatalf("confirmed build: %d %s", r.Status, r.Raw)
		}
		a := ev.c.ReleaseArtifact.Query().OnlyX(ev.ctx)
		if a.BuildURL != ev.ci.srv.URL+"/jenkins/job/acme/job/app/42/" || strings.Join(a.Files, ",") != "dist/app-linux-amd64.tar.gz" {
			t.Fatalf("artifact build URL %q files %q: not from the connection and Jenkins' answer", a.BuildURL, a.Files)
		}
		// What the agent is sent: the connection's origin, its build URL.
		j := ev.c.Job.Query().FirstX(ev.ctx)
		as, err := ev.e.BuildAssignment(ev.ctx, j.ID)
		if err != nil || len(as.Artifacts) != 1 || as.Artifacts[0].Origin != ev.ci.srv.URL+"/jenkins" ||
			!strings.HasPrefix(as.Artifacts[0].BuildURL, ev.ci.srv.URL+"/") || !as.Artifacts[0].HasCredentials {
			t.Fatalf("assignment %+v %v", as.Artifacts, err)
		}
		if got := evil.authorizations(); len(got) != 0 {
			t.Fatalf("the other host received credentials: %q", got)
		}
		if evil.calls != 0 {
			t.Fatalf("the other host was called %d times", evil.calls)
		}
	})
}

// TestTeamBuildEventUnconfirmed: a build.complete event for a build Azure
// DevOps does not know (or of another definition) creates no release; the
// build page of a confirmed one comes from the API and only when http(s).
func TestTeamBuildEventUnconfirmed(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		ev.define("api", apiSource)
		body := mutate(t, fixture(t, "teambuild", "build_complete_v2_succeeded.json"), func(m map[string]any) {
			obj(obj(obj(m, "resource"), "_links"), "web")["href"] = "javascript:alert(document.cookie)"
		})
		r := ev.postTeamBuild(body)
		if r.Status != http.StatusUnprocessableEntity || r.Body.Result != "REJECTED" || !contains(r.Body.Reason, "has no build 1021") {
			t.Fatalf("unknown build: %d %s", r.Status, r.Raw)
		}
		ev.confirmTeamBuild("Shop", 1021, 99, "someone-else", "succeeded", "refs/heads/main")
		if r := ev.postTeamBuild(body); r.Status != http.StatusUnprocessableEntity || !contains(r.Body.Reason, "belongs to build definition 99") {
			t.Fatalf("other definition: %d %s", r.Status, r.Raw)
		}
		ev.ci.serve("/fabrikam/Shop/_apis/build/builds/1021", mutate(t, fixture(t, "teambuild", "api_build.json"), func(m map[string]any) {
			obj(obj(m, "_links"), "web")["href"] = "javascript:alert(1)"
		}))
		r = ev.postTeamBuild(body)
		if r.Status != http.StatusCreated {
			t.Fatalf("confirmed: %d %s", r.Status, r.Raw)
		}
		if a := ev.c.ReleaseArtifact.Query().OnlyX(ev.ctx); a.BuildURL != "" {
			t.Fatalf("stored build URL %q, want none", a.BuildURL)
		}
		if len(ev.releases()) != 1 {
			t.Fatal("want one release")
		}
	})
}
