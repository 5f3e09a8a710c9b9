package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/manualintervention"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/graph"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// notDefinitionOwned are the mutations that take no id of anything a
// definition owns, with why; every other mutation must be walked by
// TestEveryDefinitionWriteChecksReadScope. A new mutation fails the test
// until it is put in one list or the other.
var notDefinitionOwned = map[string]string{
	"ping":                     "no arguments",
	"createTaskTemplate":       "the task library (ADMIN only)",
	"updateTaskTemplate":       "the task library (ADMIN only)",
	"deleteTaskTemplate":       "the task library (ADMIN only)",
	"createDefinition":         "creates a new definition",
	"createOutgoingHook":       "ADMIN only (ADMINs read every definition)",
	"updateOutgoingHook":       "ADMIN only",
	"deleteOutgoingHook":       "ADMIN only",
	"createUser":               "identity (ADMIN only)",
	"updateUser":               "identity (ADMIN only)",
	"disableUser":              "identity (ADMIN only)",
	"createGroup":              "identity (ADMIN only)",
	"updateGroup":              "identity (ADMIN only)",
	"deleteGroup":              "identity (ADMIN only)",
	"addGroupMember":           "identity (ADMIN only)",
	"removeGroupMember":        "identity (ADMIN only)",
	"setUserPassword":          "identity (ADMIN only)",
	"changePassword":           "the viewer's own password",
	"createApiToken":           "the viewer's own tokens",
	"revokeApiToken":           "the viewer's own tokens",
	"createServiceConnection":  "connections (ADMIN only)",
	"updateServiceConnection":  "connections (ADMIN only)",
	"deleteServiceConnection":  "connections (ADMIN only)",
	"createAgentRegistration":  "agents (ADMIN only)",
	"createTargetRegistration": "agents (ADMIN only)",
	"moveAgent":                "agents (ADMIN only)",
	"setTargetTags":            "agents (ADMIN only)",
	"saveAgentPool":            "agent pools (ADMIN only)",
	"saveDeploymentGroup":      "deployment groups (ADMIN only)",
	"deleteDeploymentGroup":    "deployment groups (ADMIN only)",
	"setAgentEnabled":          "agents (ADMIN only)",
	"deleteAgent":              "agents (ADMIN only)",
	"revokeAgentRegistration":  "agents (ADMIN only)",
	"createVariableGroup":      "library: the group's own permissions (TestLibraryMutationsAsOutsider)",
	"updateVariableGroup":      "library: the group's own permissions (TestLibraryMutationsAsOutsider)",
	"deleteVariableGroup":      "library: the group's own permissions (TestLibraryMutationsAsOutsider)",
	"updateSecureFile":         "library: the file's own permissions (TestLibraryMutationsAsOutsider)",
	"deleteSecureFile":         "library: the file's own permissions (TestLibraryMutationsAsOutsider)",
	"redeliverWebhookDelivery": "webhook deliveries (ADMIN only; the releases it creates are the CI path's)",
	"redeliverHookDelivery":    "outgoing hook deliveries (ADMIN only; a hook is not a definition's)",
	"runRetention":             "retention of the whole server (ADMIN only)",
}

type walkResponse struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// TestEveryDefinitionWriteChecksReadScope walks, through the real GraphQL
// handler, every mutation that takes an id of something a definition owns,
// as an EDITOR outside the definition's readers (with a bot acting for them
// where the mutation allows): each answers NOT_FOUND, returns no data, and
// writes nothing.
func ptrTo[T any](v T) *T { return &v }

func TestEveryDefinitionWriteChecksReadScope(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect})
		mk := func(name, role string) delivery.Actor {
			u := db.Client.User.Create().SetUsername(name).SetRole("VIEWER").SaveX(ctx)
			return delivery.Actor{UserID: u.ID, Username: name, Role: delivery.Role(role)}
		}
		member, outsider := mk("mia", "EDITOR"), mk("otto", "EDITOR")
		db.Client.Group.Create().SetName("ops").AddMemberIDs(member.UserID).ExecX(ctx)
		db.Client.ServiceConnection.Create().SetName("jenkins").SetKind("JENKINS").SetURL("https://ci").ExecX(ctx)
		doc := spec.DefinitionSnapshot{Name: "secret", Readers: []string{"ops"},
			ArtifactSources: []spec.ArtifactSourceSpec{{Alias: "app", Type: "JENKINS", Connection: "jenkins", Job: "app"}},
			Environments: []spec.EnvironmentSpec{
				{Name: "dev"},
				{Name: "qa", Job: spec.JobSpec{Tasks: []spec.Task{{Name: "go?", Kind: spec.TaskManualIntervention}}}},
				{Name: "prod", PreApproval: spec.ApprovalPolicy{Approvers: []spec.Approver{{Kind: spec.ApproverUser, Name: "otto"}}}},
			}}
		def, err := e.CreateDefinition(ctx, member, doc, "")
		if err != nil {
			t.Fatal(err)
		}
		rel, err := e.CreateRelease(ctx, member, delivery.CreateReleaseInput{DefinitionID: def.ID,
			Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: "1"}}})
		if err != nil {
			t.Fatal(err)
		}
		dep, err := e.DeployEnvironment(ctx, member, delivery.DeployInput{ReleaseID: rel.ID, Environment: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		ap := db.Client.Approval.Query().Where(approval.DeploymentID(dep.ID)).OnlyX(ctx)
		qa, err := e.DeployEnvironment(ctx, member, delivery.DeployInput{ReleaseID: rel.ID, Environment: "qa"})
		if err != nil {
			t.Fatal(err)
		}
		mi := db.Client.ManualIntervention.Query().Where(manualintervention.DeploymentID(qa.ID)).OnlyX(ctx)
		start := time.Now().Add(time.Hour)
		fw, err := e.CreateFreezeWindow(ctx, member, delivery.FreezeWindowInput{Name: "hidden", DefinitionID: &def.ID,
			StartsAt: &start, EndsAt: ptrTo(start.Add(time.Hour))})
		if err != nil {
			t.Fatal(err)
		}

		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			graph.NewHandler(&graph.Resolver{Engine: e}, graph.Options{}).
				ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), outsider)))
		}))
		t.Cleanup(ts.Close)
		db.Client.ReleaseDefinition.UpdateOneID(def.ID).SetImportSource("azure-classic https://azure.example/_apis/Release/definitions/1").ExecX(ctx)
		imp := `{"id": 1, "name": "secret", "url": "https://azure.example/_apis/Release/definitions/1", "environments": [{"name": "dev", "rank": 1}]}`
		vars := map[string]any{"def": def.ID, "rev": def.Revision, "rel": rel.ID, "dep": dep.ID, "ap": ap.ID, "fw": fw.ID, "mi": mi.ID, "imp": imp}
		walked := map[string]string{
			"updateDefinition":  `mutation($def: ID!, $rev: Int!) { updateDefinition(id: $def, expectedRevision: $rev, input: {name: "secret", environments: [{name: "dev", job: {tasks: [{name: "x", script: "echo $API_KEY | base64"}]}}]}) { id name readers } }`,
			"deleteDefinition":  `mutation($def: ID!, $rev: Int!) { deleteDefinition(id: $def, expectedRevision: $rev) }`,
			"createRelease":     `mutation($def: ID!) { createRelease(input: {definitionId: $def, artifacts: [{alias: "app", buildNumber: "2"}]}) { id name } }`,
			"deployEnvironment": `mutation($rel: ID!) { deployEnvironment(input: {releaseId: $rel, environment: "dev"}) { id } }`,
			"approve":           `mutation($ap: ID!) { approve(input: {approvalId: $ap}) { id status } }`,
			"reject":            `mutation($ap: ID!) { reject(input: {approvalId: $ap}) { id status } }`,
			"reassignApproval":  `mutation($ap: ID!) { reassignApproval(approvalId: $ap, toUsername: "mia") { id } }`,
			"cancelDeployment":  `mutation($dep: ID!) { cancelDeployment(deploymentId: $dep) { id status } }`,
			"abandonRelease":    `mutation($rel: ID!) { abandonRelease(releaseId: $rel) { id status } }`,
			"ignoreGates":       `mutation($dep: ID!) { ignoreGates(deploymentId: $dep) { id status } }`,
			"createFreezeWindow": `mutation($def: ID!) { createFreezeWindow(input: {name: "x", definitionId: $def, environment: "dev",
				cron: "0 1 * * *", durationMinutes: 60}) { id } }`,
			"deleteFreezeWindow": `mutation($fw: ID!) { deleteFreezeWindow(id: $fw) }`,
			"updateFreezeWindow": `mutation($fw: ID!, $def: ID!) { updateFreezeWindow(id: $fw, input: {name: "x", definitionId: $def, environment: "dev",
				cron: "0 1 * * *", durationMinutes: 60}) { id } }`,
			"resumeManualIntervention": `mutation($mi: ID!) { resumeManualIntervention(id: $mi) { id status } }`,
			"rejectManualIntervention": `mutation($mi: ID!) { rejectManualIntervention(id: $mi, comment: "no") { id status } }`,
			"refreshVariables":         `mutation($rel: ID!) { refreshVariables(releaseId: $rel, comment: "x") { id name } }`,
			// A re-import of the definition's Azure source is an update of it.
			"importDefinitions": `mutation($imp: String!) { importDefinitions(format: AZURE_CLASSIC, documents: [$imp], dryRun: false) { applied definitions { name } } }`,

			"updateRelease":      `mutation($rel: ID!) { updateRelease(id: $rel, input: {name: "x", keepForever: true}) { id name } }`,
			"startRelease":       `mutation($rel: ID!) { startRelease(id: $rel) { id status } }`,
			"deleteDraftRelease": `mutation($rel: ID!) { deleteDraftRelease(id: $rel) }`,
			"undeleteDefinition": `mutation($def: ID!) { undeleteDefinition(id: $def) { id name } }`,
			"revertDefinition":   `mutation($def: ID!) { revertDefinition(id: $def, toRevision: 1) { id name } }`,
		}
		mutations := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema().Mutation.Fields
		var unclassified []string
		for _, f := range mutations {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			_, w := walked[f.Name]
			_, n := notDefinitionOwned[f.Name]
			if w == n {
				unclassified = append(unclassified, f.Name)
			}
		}
		if len(unclassified) > 0 {
			sort.Strings(unclassified)
			t.Fatalf("mutations neither walked nor listed as not definition-owned: %v", unclassified)
		}
		counts := func() [5]int {
			return [5]int{db.Client.AuditEvent.Query().CountX(ctx), db.Client.Event.Query().CountX(ctx),
				db.Client.DefinitionRevision.Query().CountX(ctx), db.Client.Release.Query().CountX(ctx),
				db.Client.Deployment.Query().CountX(ctx)}
		}
		before := counts()
		for name, q := range walked {
			body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
			res, err := http.Post(ts.URL, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var out walkResponse
			if err := json.Unmarshal(raw, &out); err != nil {
				t.Fatalf("%s: %s", name, raw)
			}
			if len(out.Errors) != 1 || out.Errors[0].Extensions["code"] != "NOT_FOUND" {
				t.Errorf("%s as an outsider: %s; want one NOT_FOUND", name, raw)
			}
			if d := out.Data[name]; len(d) > 0 && string(d) != "null" {
				t.Errorf("%s returned data to an outsider: %s", name, d)
			}
			if strings.Contains(string(raw), "secret") || strings.Contains(string(raw), "prod") {
				t.Errorf("%s: the answer names what it hides: %s", name, raw)
			}
		}
		for _, q := range []string{`{ freezeWindows { name } }`, fmt.Sprintf(`{ node(id: %d) { id ... on FreezeWindow { name } } }`, fw.ID)} {
			body, _ := json.Marshal(map[string]any{"query": q})
			res, err := http.Post(ts.URL, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if strings.Contains(string(raw), "hidden") {
				t.Errorf("%s shows an outsider the definition's freeze window: %s", q, raw)
			}
		}
		if after := counts(); after != before {
			t.Fatalf("outsider writes changed rows (audit, events, revisions, releases, deployments): %v → %v", before, after)
		}
	})
}

// TestViewerCan: clients read from viewerCan which actions will work, for a
// definition and for each of its environments.
func TestViewerCan(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect})
		mk := func(name, role string) delivery.Actor {
			u := db.Client.User.Create().SetUsername(name).SetRole("VIEWER").SaveX(ctx)
			return delivery.Actor{UserID: u.ID, Username: name, Role: delivery.Role(role)}
		}
		admin, pd, other, viewer := mk("root", "ADMIN"), mk("pd", "EDITOR"), mk("eddie", "EDITOR"), mk("vic", "VIEWER")
		db.Client.Group.Create().SetName("prod-deployers").AddMemberIDs(pd.UserID).ExecX(ctx)
		prodPerms := spec.EnvironmentPermissions{ManageDeployments: []spec.Approver{{Kind: spec.ApproverGroup, Name: "prod-deployers"}}}
		doc := spec.DefinitionSnapshot{Name: "web",
			Permissions:  spec.DefinitionPermissions{EditDefinition: []spec.Approver{{Kind: spec.ApproverUser, Name: "root"}}},
			Environments: []spec.EnvironmentSpec{{Name: "dev"}, {Name: "prod", Permissions: prodPerms}}}
		if _, err := e.CreateDefinition(ctx, other, doc, ""); err != nil {
			t.Fatal(err)
		}
		const q = `{ definitions(first: 5) { edges { node { name
			viewerCan { editDefinition deleteDefinition createReleases manageDeployments manageApprovals overrideArtifactChecks }
			environments { name viewerCan { editEnvironment manageDeployments manageApprovals } } } } } }`
		type can struct {
			EditDefinition, DeleteDefinition, CreateReleases, ManageDeployments, ManageApprovals, OverrideArtifactChecks, EditEnvironment bool
		}
		var out struct {
			Definitions struct {
				Edges []struct {
					Node struct {
						ViewerCan    can
						Environments []struct {
							Name      string
							ViewerCan can
						}
					}
				}
			}
		}
		ask := func(a delivery.Actor) (def can, dev, prod can) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				graph.NewHandler(&graph.Resolver{Engine: e}, graph.Options{}).ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), a)))
			}))
			defer ts.Close()
			body, _ := json.Marshal(map[string]any{"query": q})
			res, err := http.Post(ts.URL, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			if err := json.Unmarshal(raw, &struct{ Data any }{&out}); err != nil || len(out.Definitions.Edges) != 1 {
				t.Fatalf("%s: %s", a.Username, raw)
			}
			n := out.Definitions.Edges[0].Node
			return n.ViewerCan, n.Environments[0].ViewerCan, n.Environments[1].ViewerCan
		}
		for _, tc := range []struct {
			who            delivery.Actor
			def, dev, prod can
		}{
			// root is listed as editor; may override everything else.
			{admin, can{true, true, true, true, true, true, false}, can{EditEnvironment: true, ManageDeployments: true, ManageApprovals: true},
				can{EditEnvironment: true, ManageDeployments: true, ManageApprovals: true}},
			{pd, can{CreateReleases: true, ManageDeployments: true}, can{ManageDeployments: true}, can{ManageDeployments: true}},
			{other, can{CreateReleases: true, ManageDeployments: true}, can{ManageDeployments: true}, can{}},
			{viewer, can{}, can{}, can{}},
		} {
			def, dev, prod := ask(tc.who)
			if def != tc.def || dev != tc.dev || prod != tc.prod {
				t.Errorf("%s: definition %+v dev %+v prod %+v; want %+v %+v %+v", tc.who.Username, def, dev, prod, tc.def, tc.dev, tc.prod)
			}
		}
	})
}

// TestReleaseViewerCan: a release, its environments, deployments and
// approvals say through GraphQL what the viewer may do now: an approver may
// approve (not deploy), an EDITOR the production list leaves out may cancel
// the waiting deployment in dev but not deploy production, a production
// deployer may deploy it; abandon follows the definition's list. (Every state
// against every mutation: delivery's TestViewerCanMatchesMutations.)
func TestReleaseViewerCan(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect})
		mk := func(name, role string) delivery.Actor {
			u := db.Client.User.Create().SetUsername(name).SetRole("VIEWER").SaveX(ctx)
			return delivery.Actor{UserID: u.ID, Username: name, Role: delivery.Role(role)}
		}
		pd, other, viewer := mk("pd", "EDITOR"), mk("eddie", "EDITOR"), mk("vic", "VIEWER")
		db.Client.Group.Create().SetName("prod-deployers").AddMemberIDs(pd.UserID).ExecX(ctx)
		job := spec.JobSpec{Tasks: []spec.Task{{Name: "t", Script: "true"}}}
		def, err := e.CreateDefinition(ctx, other, spec.DefinitionSnapshot{Name: "web", Environments: []spec.EnvironmentSpec{
			{Name: "dev", Trigger: spec.Trigger{Kind: spec.TriggerAfterRelease}, Job: job,
				PreApproval: spec.ApprovalPolicy{Approvers: []spec.Approver{{Kind: spec.ApproverUser, Name: "vic"}}}},
			{Name: "prod", Trigger: spec.Trigger{Kind: spec.TriggerManual}, Job: job, Permissions: spec.EnvironmentPermissions{
				ManageDeployments: []spec.Approver{{Kind: spec.ApproverGroup, Name: "prod-deployers"}}}},
		}}, "")
		if err != nil {
			t.Fatal(err)
		}
		rel, err := e.CreateRelease(ctx, other, delivery.CreateReleaseInput{DefinitionID: def.ID})
		if err != nil {
			t.Fatal(err)
		}
		q := fmt.Sprintf(`{ release(id: %d) { viewerCan { abandon } environments { name
			viewerCan { deploy redeploy rollback cancel approve }
			deployments { viewerCan { cancel approve } approvals { viewerCan { approve reject reassign } } } } } }`, rel.ID)
		type can struct{ Abandon, Deploy, Redeploy, Rollback, Cancel, Approve, Reject, Reassign bool }
		ask := func(a delivery.Actor) map[string]can {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				graph.NewHandler(&graph.Resolver{Engine: e}, graph.Options{}).ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), a)))
			}))
			defer ts.Close()
			body, _ := json.Marshal(map[string]any{"query": q})
			res, err := http.Post(ts.URL, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			var out struct {
				Release struct {
					ViewerCan    can
					Environments []struct {
						Name        string
						ViewerCan   can
						Deployments []struct {
							ViewerCan can
							Approvals []struct{ ViewerCan can }
						}
					}
				}
			}
			if err := json.Unmarshal(raw, &struct{ Data any }{&out}); err != nil || len(out.Release.Environments) != 2 {
				t.Fatalf("%s: %s", a.Username, raw)
			}
			got := map[string]can{"release": out.Release.ViewerCan}
			for _, env := range out.Release.Environments {
				got[env.Name] = env.ViewerCan
				for _, d := range env.Deployments {
					got[env.Name+" deployment"] = d.ViewerCan
					for _, ap := range d.Approvals {
						got[env.Name+" approval"] = ap.ViewerCan
					}
				}
			}
			return got
		}
		for _, tc := range []struct {
			who  delivery.Actor
			want map[string]can
		}{
			{viewer, map[string]can{"release": {}, "dev": {Approve: true}, "dev deployment": {Approve: true},
				"dev approval": {Approve: true, Reject: true, Reassign: true}, "prod": {}}},
			{other, map[string]can{"release": {Abandon: true}, "dev": {Cancel: true}, "dev deployment": {Cancel: true},
				"dev approval": {}, "prod": {}}},
			{pd, map[string]can{"release": {Abandon: true}, "dev": {Cancel: true}, "dev deployment": {Cancel: true},
				"dev approval": {}, "prod": {Deploy: true}}},
		} {
			got := ask(tc.who)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s: %+v\nwant %+v", tc.who.Username, got, tc.want)
			}
		}
	})
}
