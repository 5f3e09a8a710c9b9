//go:build unix

package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/user"
	"github.com/cairnhq/cairn/graph"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// BenchmarkReleasesPage answers the releases page of cmd/bench's scale run (issue 30, point 5:
// `releases(first: 50)` with environments and deployments) through the server's handler, its
// middlewares included, with no network: CPU time and allocations per page, which the machine's
// load does not change. The page costs the same at 50 releases as at 5,000 (the scale run), so
// 50 are seeded. PostgreSQL when CAIRN_TEST_DATABASE_URL is set, else SQLite.
func BenchmarkReleasesPage(b *testing.B) {
	dialect := "sqlite"
	if os.Getenv("CAIRN_TEST_DATABASE_URL") != "" {
		dialect = "postgres"
	}
	db := storagetest.Open(b, dialect)
	ctx := context.Background()
	box, _ := delivery.NewSecretBox(bytes.Repeat([]byte{7}, 32))
	eng := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Secrets: box})
	ed := db.Client.User.Create().SetUsername("eddie").SetRole(user.RoleADMIN).SaveX(ctx)
	admin := delivery.Actor{UserID: ed.ID, Username: "eddie", Role: delivery.RoleAdmin}
	job := spec.JobSpec{Demands: []string{"nowhere"}, Tasks: []spec.Task{{Name: "t", Script: "true"}}}
	def, err := eng.CreateDefinition(ctx, admin, spec.DefinitionSnapshot{Name: "site", Environments: []spec.EnvironmentSpec{
		{Name: "dev", Trigger: spec.Trigger{Kind: spec.TriggerAfterRelease}, Job: job},
		{Name: "test", Trigger: spec.Trigger{Kind: spec.TriggerAfterRelease}, Job: job},
		{Name: "prod", Trigger: spec.Trigger{Kind: spec.TriggerAfterRelease}, Job: job},
	}}, "")
	if err != nil {
		b.Fatal(err)
	}
	for range 50 {
		if _, err := eng.CreateRelease(ctx, admin, delivery.CreateReleaseInput{DefinitionID: def.ID}); err != nil {
			b.Fatal(err)
		}
	}
	h := graph.NewHandler(&graph.Resolver{Engine: eng}, graph.Options{})
	body, _ := json.Marshal(map[string]any{"query": `{ releases(first: 50) { edges { node { id name status environments { id name status
	  deployments { id status attempt } } } } } }`})
	page := func() string {
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req = req.WithContext(auth.WithActor(req.Context(), admin))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Body.String()
	}
	if got := page(); strings.Count(got, `"attempt":1`) != 150 || strings.Contains(got, `"errors"`) {
		b.Fatalf("page: %.400s", got)
	}
	b.ReportAllocs()
	before := cpuTime()
	for b.Loop() {
		page()
	}
	// The process's CPU time (GC included), which waiting for a CPU on a loaded machine does
	// not add to, unlike ns/op.
	b.ReportMetric(float64((cpuTime()-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time the process used so far (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
