package graph_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/graph"
	"github.com/cairnhq/cairn/integrations/gates"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestGatesAPI writes gates in a definition through createDefinition, reads
// them back, sees the deployment EVALUATING_GATES with its samples, and
// ignores the gates; a malformed gate is INVALID_INPUT.
func TestGatesAPI(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		red := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		t.Cleanup(red.Close)
		clk := delivery.NewManualClock(time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC))
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: clk, Gates: gates.New(nil)})
		u := db.Client.User.Create().SetUsername("alice").SetRole("EDITOR").SaveX(ctx)
		alice := delivery.Actor{UserID: u.ID, Username: "alice", Role: delivery.RoleEditor}
		db.Client.ServiceConnection.Create().SetName("jenkins").SetKind("JENKINS").SetURL("https://ci").SaveX(ctx)
		srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Engine: e}}))
		srv.AddTransport(transport.POST{})
		c := client.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			srv.ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), alice)))
		}))
		const create = `mutation($url: String!, $crit: String) { createDefinition(input: {name: "web",
			artifactSources: [{alias: "app", type: "JENKINS", connection: "jenkins", job: "app"}],
			environments: [{name: "prod", trigger: {kind: AFTER_RELEASE},
				preGates: {order: BEFORE_APPROVALS, timeoutMinutes: 30, gates: [
					{name: "health", kind: HTTP, http: {url: $url, successCriteria: $crit,
						headers: [{name: "X-Release", value: "$(Release.ReleaseName)"}]}},
					{name: "bugs", kind: WORK_ITEMS, workItems: {types: ["Bug"], maxCount: 0}}]}}]}) {
			id revisions(first: 1) { edges { node { snapshot { environments { preGates { order intervalMinutes timeoutMinutes
				gates { name kind http { method url successCriteria timeoutSeconds headers { name value } } workItems { types maxCount } } } } } } } } } }`
		var bad struct{ CreateDefinition struct{ ID string } }
		err := c.Post(create, &bad, client.Var("url", red.URL), client.Var("crit", "status =="))
		if err == nil || !strings.Contains(err.Error(), "successCriteria") {
			t.Fatalf("a malformed criteria: %v", err)
		}
		type gatePolicy struct {
			Order           string
			IntervalMinutes int
			TimeoutMinutes  int
			Gates           []struct {
				Name, Kind string
				HTTP       *struct {
					Method, URL, SuccessCriteria string
					TimeoutSeconds               int
					Headers                      []struct{ Name, Value string }
				}
				WorkItems *struct {
					Types    []string
					MaxCount int
				}
			}
		}
		var created struct {
			CreateDefinition struct {
				ID        string
				Revisions struct {
					Edges []struct {
						Node struct {
							Snapshot struct {
								Environments []struct{ PreGates gatePolicy }
							}
						}
					}
				}
			}
		}
		c.MustPost(create, &created, client.Var("url", red.URL), client.Var("crit", "status == 200"))
		pg := created.CreateDefinition.Revisions.Edges[0].Node.Snapshot.Environments[0].PreGates
		if pg.Order != "BEFORE_APPROVALS" || pg.IntervalMinutes != 5 || len(pg.Gates) != 2 || pg.Gates[0].Kind != "HTTP" ||
			pg.Gates[0].HTTP.Method != "GET" || pg.Gates[0].HTTP.TimeoutSeconds != 10 || pg.Gates[1].Kind != "WORK_ITEMS" {
			t.Fatalf("gates read back %+v", pg)
		}
		var rel struct{ CreateRelease struct{ ID string } }
		c.MustPost(`mutation($def: ID!) { createRelease(input: {definitionId: $def, artifacts: [{alias: "app", buildNumber: "1"}]}) { id } }`,
			&rel, client.Var("def", created.CreateDefinition.ID))
		if _, err := e.RunDueTimers(ctx); err != nil {
			t.Fatal(err)
		}
		var read struct {
			Release struct {
				Environments []struct{ Status string }
				Deployments  struct {
					Edges []struct {
						Node struct {
							ID, Status  string
							GateSamples []struct {
								Number  int
								Passed  bool
								Stage   string
								Results []struct {
									Gate   string
									Passed bool
									Detail string
								}
							}
						}
					}
				}
			}
		}
		c.MustPost(`query($id: ID!) { release(id: $id) { environments { status } deployments { edges { node { id status
			gateSamples { number passed stage results { gate passed detail } } } } } } }`, &read, client.Var("id", rel.CreateRelease.ID))
		d := read.Release.Deployments.Edges[0].Node
		if d.Status != "EVALUATING_GATES" || read.Release.Environments[0].Status != "EVALUATING_GATES" || len(d.GateSamples) != 1 {
			t.Fatalf("read %+v", read)
		}
		s := d.GateSamples[0]
		if s.Passed || s.Stage != "PRE" || len(s.Results) != 2 || s.Results[0].Passed || !strings.Contains(s.Results[0].Detail, "status 503") || !s.Results[1].Passed {
			t.Fatalf("sample %+v", s)
		}
		var ign struct{ IgnoreGates struct{ Status string } }
		c.MustPost(`mutation($id: ID!) { ignoreGates(deploymentId: $id, comment: "known flake") { status } }`, &ign, client.Var("id", d.ID))
		if ign.IgnoreGates.Status != "QUEUED" {
			t.Fatalf("after ignoreGates: %+v", ign)
		}
		if err := c.Post(`mutation($id: ID!) { ignoreGates(deploymentId: $id) { status } }`, &ign, client.Var("id", d.ID)); err == nil {
			t.Fatal("ignoring gates twice succeeded")
		}
	})
}
