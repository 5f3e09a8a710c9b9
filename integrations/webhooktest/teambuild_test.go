package webhooktest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// The Team Build sources: the 2.0 fixtures' definition 12 "shop-api-CI" in
// project Shop (by id), and the 1.0 fixtures' "ConsumerAddressModule" (by
// name; 1.0 payloads give the project only by id, matched without regard
// to case).
var (
	apiSource = spec.ArtifactSourceSpec{Alias: "api", Type: "TEAMBUILD", Connection: adoConnStr, Job: "12",
		Project: "Shop", ContinuousDeployment: true, BranchFilters: []string{"main"}}
	legacySource = spec.ArtifactSourceSpec{Alias: "legacy", Type: "TEAMBUILD", Connection: adoConnStr, Job: "consumeraddressmodule", Project: "71777FBC-1cf2-4bd1-9540-128c1c71f766",
		ContinuousDeployment: true, BranchFilters: []string{"refs/heads/master"}}
)

// TestTeamBuildEvents replays every build.complete fixture of both resource
// versions, and another event type, each on a fresh database.
func TestTeamBuildEvents(t *testing.T) {
	for _, tt := range []struct {
		file   string
		status int
		result string
		reason string // in the reply
	}{
		{"build_complete_v2_succeeded.json", 201, "ACCEPTED", "created 1 release"},
		{"build_complete_v2_partially_succeeded.json", 202, "IGNORED", "does not allow partial"},
		{"build_complete_v2_failed.json", 202, "IGNORED", "FAILED"},
		{"build_complete_v2_canceled.json", 202, "IGNORED", "CANCELED"},
		{"build_complete_v1_succeeded.json", 201, "ACCEPTED", "created 1 release"},
		{"build_complete_v1_partially_succeeded.json", 202, "IGNORED", "does not allow partial"},
		{"build_complete_v1_failed.json", 202, "IGNORED", "FAILED"},
		{"build_complete_v1_stopped.json", 202, "IGNORED", "CANCELED"},
		{"git_push.json", 202, "IGNORED", "is not build.complete"},
	} {
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				ev := newEnv(t, db)
				ev.define("api", apiSource)
				ev.define("legacy", legacySource)
				result := "succeeded"
				if strings.Contains(tt.file, "partially") {
					result = "partiallySucceeded"
				}
				ev.confirmTeamBuild("Shop", 1021, 12, "shop-api-CI", result, "refs/heads/main")
				ev.confirmTeamBuild("71777fbc-1cf2-4bd1-9540-128c1c71f766", 3, 2, "ConsumerAddressModule", result, "refs/heads/master")
				r := ev.postTeamBuild(fixture(t, "teambuild", tt.file))
				if r.Status != tt.status || r.Body.Result != tt.result || !contains(r.Body.Reason, tt.reason) {
					t.Fatalf("%d %s", r.Status, r.Raw)
				}
				want := 0
				if tt.result == "ACCEPTED" {
					want = 1
				}
				rels := ev.releases()
				if len(rels) != want {
					t.Fatalf("%d releases, want %d", len(rels), want)
				}
				if want == 1 {
					a := rels[0].Edges.Artifacts[0]
					if rels[0].CreatedBy != "ci:ado" || rels[0].Reason != "CONTINUOUS_INTEGRATION" || a.BuildID == "" || a.Commit == "" {
						t.Fatalf("release %+v artifact %+v", rels[0], a)
					}
				}
				if ds := ev.deliveries(); len(ds) != 1 || ds[0].Result.String() != tt.result {
					t.Fatalf("deliveries %+v", ds)
				}
			})
		})
	}
}

// TestTeamBuildPartialAndDuplicates: a source that allows partial builds
// releases a partiallySucceeded build as partial; ten concurrent deliveries
// of one build (two subscriptions, retries) create one release.
func TestTeamBuildPartialAndDuplicates(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		partial := apiSource
		partial.AllowPartial = true
		ev.define("api", partial)
		ev.confirmTeamBuild("Shop", 1021, 12, "shop-api-CI", "partiallySucceeded", "refs/heads/main")
		ev.confirmTeamBuild("71777fbc-1cf2-4bd1-9540-128c1c71f766", 3, 2, "ConsumerAddressModule", "succeeded", "refs/heads/master")
		r := ev.postTeamBuild(fixture(t, "teambuild", "build_complete_v2_partially_succeeded.json"))
		if r.Status != 201 {
			t.Fatalf("partial: %d %s", r.Status, r.Raw)
		}
		if rel := ev.c.Release.GetX(ev.ctx, r.Body.Releases[0]); !rel.Partial {
			t.Fatal("release of a partially succeeded build is not marked partial")
		}
		body := fixture(t, "teambuild", "build_complete_v1_succeeded.json")
		ev.define("legacy", legacySource)
		var wg sync.WaitGroup
		replies := make([]reply, 10)
		for i := range replies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				replies[i] = ev.postTeamBuild(body)
			}()
		}
		wg.Wait()
		created := 0
		for _, r := range replies {
			if r.Status == 201 {
				created++
			} else if r.Status != 202 || !strings.HasPrefix(r.Body.Reason, "duplicate of delivery") {
				t.Errorf("reply %d %s", r.Status, r.Raw)
			}
		}
		if created != 1 || len(ev.releases()) != 2 {
			t.Fatalf("created %d, releases %d; want 1 and 2", created, len(ev.releases()))
		}
	})
}

// TestTeamBuildHostile: broken bodies are rejected with a record and nothing
// else; wrong credentials with nothing at all.
func TestTeamBuildHostile(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ev := newEnv(t, db)
		ev.define("api", apiSource)
		good := fixture(t, "teambuild", "build_complete_v2_succeeded.json")
		for _, tt := range []struct {
			name, user, pass string
			body             []byte
			status           int
			reason           string
		}{
			{"wrong password", adoUser, "nope", good, 401, "wrong or missing credentials"},
			{"empty user name", "", adoHook, good, 401, "wrong or missing credentials"},
			{"no credentials", "", "", good, 401, "wrong or missing credentials"},
			{"truncated", adoUser, adoHook, good[:200], 400, "truncated JSON"},
			{"wrong types", adoUser, adoHook, []byte(`{"eventType":"build.complete","resource":{"id":"1021"}}`), 400, "resource.id"},
			{"no event type", adoUser, adoHook, []byte(`{"resource":{"id":1}}`), 400, "eventType"},
			{"no resource", adoUser, adoHook, []byte(`{"eventType":"build.complete"}`), 400, "resource"},
			{"empty body", adoUser, adoHook, []byte("  "), 400, "empty body"},
			{"huge field", adoUser, adoHook, []byte(`{"eventType":"build.complete","resource":{"id":1,"definition":{"id":12},"buildNumber":"` +
				strings.Repeat("9", 9000) + `"}}`), 400, "resource.buildNumber"},
		} {
			before, n := ev.counts(), len(ev.deliveries())
			r := ev.post("/webhooks/teambuild/ado", tt.body, tt.user, tt.pass)
			if r.Status != tt.status || r.Body.Result != "REJECTED" || !contains(r.Body.Reason, tt.reason) {
				t.Errorf("%s: %d %s", tt.name, r.Status, r.Raw)
			}
			ds := ev.deliveries()
			if tt.status == 401 {
				if len(ds) != n || fmt.Sprint(ev.counts()) != fmt.Sprint(before) {
					t.Errorf("%s: unauthenticated request wrote %d deliveries, counts %v (had %v)", tt.name, len(ds)-n, ev.counts(), before)
				}
				continue
			}
			if d := ds[len(ds)-1]; d.Result != "REJECTED" || d.StatusCode != tt.status || d.Key != nil {
				t.Errorf("%s: delivery %+v", tt.name, d)
			}
			if after := ev.counts(); after["releases"] != before["releases"] || after["audit"] != before["audit"] || after["timers"] != before["timers"] {
				t.Errorf("%s: wrote %v, had %v", tt.name, after, before)
			}
		}
		if n := len(ev.deliveries()); n != 6 {
			t.Fatalf("%d deliveries, want 6 (the authenticated ones)", n)
		}
	})
}
