package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/artifactsource"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/ent/definitionrevision"
	entenv "github.com/cairnhq/cairn/ent/environment"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/serviceconnection"
	"github.com/cairnhq/cairn/ent/timer"
	"github.com/cairnhq/cairn/ent/user"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// defFixture is an engine over a fresh database seeded with the users,
// groups and service connections that definitions refer to.
type defFixture struct {
	t      *testing.T
	ctx    context.Context
	db     *storage.DB
	eng    *delivery.Engine
	clk    *delivery.ManualClock
	editor delivery.Actor
	other  delivery.Actor
	viewer delivery.Actor
}

func newDefFixture(t *testing.T, db *storage.DB) *defFixture {
	t.Helper()
	ctx := context.Background()
	box, err := delivery.NewSecretBox([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	clk := delivery.NewManualClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	f := &defFixture{t: t, ctx: ctx, db: db, clk: clk,
		eng: delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: clk, Secrets: box})}
	c := db.Client
	alice := c.User.Create().SetUsername("alice").SetRole(user.RoleEDITOR).SaveX(ctx)
	bob := c.User.Create().SetUsername("bob").SetRole(user.RoleEDITOR).SaveX(ctx)
	vera := c.User.Create().SetUsername("vera").SetRole(user.RoleVIEWER).SaveX(ctx)
	c.User.Create().SetUsername("olga").SetRole(user.RoleVIEWER).SaveX(ctx)
	c.Group.Create().SetName("ops").AddMembers(alice, bob).SaveX(ctx)
	c.ServiceConnection.Create().SetName("jenkins").SetKind(serviceconnection.KindJENKINS).SetURL("https://ci.example.com").SaveX(ctx)
	c.ServiceConnection.Create().SetName("ado").SetKind(serviceconnection.KindAZURE_DEVOPS).SetURL("https://dev.azure.com/acme").SaveX(ctx)
	f.editor = delivery.Actor{UserID: alice.ID, Username: "alice", Role: delivery.RoleEditor}
	f.other = delivery.Actor{UserID: bob.ID, Username: "bob", Role: delivery.RoleEditor}
	f.viewer = delivery.Actor{UserID: vera.ID, Username: "vera", Role: delivery.RoleViewer}
	return f
}

// validDoc is a definition with three environments dev → qa → prod, two
// sources and a secret.
func validDoc() spec.DefinitionSnapshot {
	return spec.DefinitionSnapshot{
		Name:        "shop",
		Description: "the web shop",
		Variables: []spec.Variable{
			{Name: "API_URL", Value: "https://api.example.com"},
			{Name: "DB_PASSWORD", Value: "hunter2-plaintext", Secret: true},
		},
		ArtifactSources: []spec.ArtifactSourceSpec{
			{Alias: "web", Type: "JENKINS", Connection: "jenkins", Job: "shop/web", BranchFilters: []string{"main", "release/*", "-release/old*"}, ContinuousDeployment: true},
			{Alias: "infra", Type: "TEAMBUILD", Connection: "ado", Job: "42", Project: "Shop"},
		},
		Environments: []spec.EnvironmentSpec{
			{Name: "dev", Trigger: spec.Trigger{Kind: spec.TriggerAfterRelease},
				Job: spec.JobSpec{Demands: []string{"docker", "os -equals linux"}, Tasks: []spec.Task{{Name: "deploy", Script: "./deploy.sh dev"}}}},
			{Name: "qa", Trigger: spec.Trigger{Kind: spec.TriggerAfterEnvironments, Environments: []string{"dev"}},
				PreApproval: spec.ApprovalPolicy{Approvers: []spec.Approver{{Kind: spec.ApproverUser, Name: "olga"}}},
				Job:         spec.JobSpec{Tasks: []spec.Task{{Name: "deploy", Script: "./deploy.sh qa"}}},
				Variables:   []spec.Variable{{Name: "QA_TOKEN", Value: "qa-secret-plaintext", Secret: true}}},
			{Name: "prod", Trigger: spec.Trigger{Kind: spec.TriggerAfterEnvironments, Environments: []string{"qa"}},
				PreApproval: spec.ApprovalPolicy{Approvers: []spec.Approver{{Kind: spec.ApproverGroup, Name: "ops"}, {Kind: spec.ApproverUser, Name: "olga"}}, Mode: spec.ApprovalAll},
				Job:         spec.JobSpec{TimeoutMinutes: 30, Tasks: []spec.Task{{Name: "deploy", Shell: "sh", Script: "./deploy.sh prod", TimeoutMinutes: 10}}},
				Queue:       spec.QueuePolicy{MaxParallel: 1, Mode: spec.QueueLatestOnly}},
		},
		Schedules: []spec.Schedule{{Cron: "0 3 * * 1-5", TimeZone: "Europe/Paris"}},
	}
}

// rowCounts counts everything a definition change writes.
type rowCounts struct{ defs, sources, envs, revisions, audit, events int }

func (f *defFixture) counts() rowCounts {
	f.t.Helper()
	c := f.db.Client
	return rowCounts{
		defs:      c.ReleaseDefinition.Query().CountX(f.ctx),
		sources:   c.ArtifactSource.Query().CountX(f.ctx),
		envs:      c.Environment.Query().CountX(f.ctx),
		revisions: c.DefinitionRevision.Query().CountX(f.ctx),
		audit:     c.AuditEvent.Query().CountX(f.ctx),
		events:    c.Event.Query().CountX(f.ctx),
	}
}

func (f *defFixture) create(doc spec.DefinitionSnapshot) *ent.ReleaseDefinition {
	f.t.Helper()
	def, err := f.eng.CreateDefinition(f.ctx, f.editor, doc, "first")
	if err != nil {
		f.t.Fatalf("creating definition: %v", err)
	}
	return def
}

func TestCreateDefinition(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newDefFixture(t, db)
		def := f.create(validDoc())
		if def.Name != "shop" || def.Revision != 1 || def.ReleaseNameFormat != delivery.DefaultReleaseNameFormat {
			t.Fatalf("definition = %+v", def)
		}
		c := db.Client
		envs := c.Environment.Query().Where(entenv.DefinitionID(def.ID)).Order(ent.Asc(entenv.FieldRank)).AllX(f.ctx)
		if len(envs) != 3 || envs[0].Name != "dev" || envs[1].Name != "qa" || envs[2].Name != "prod" || envs[2].Rank != 2 {
			t.Fatalf("environments = %v", envs)
		}
		if envs[0].Trigger.Kind != spec.TriggerAfterRelease || envs[0].Queue.Mode != spec.QueueAllInOrder ||
			envs[0].Job.Tasks[0].Shell != "bash" || envs[0].PreApproval.Mode != spec.ApprovalAnyOne {
			t.Fatalf("defaults not applied to dev: %+v", envs[0])
		}
		if envs[1].PreApproval.RequiredCount != 1 {
			t.Fatalf("qa requiredCount = %d, want the default 1", envs[1].PreApproval.RequiredCount)
		}
		if envs[2].Job.Tasks[0].Shell != "sh" || envs[2].Queue.Mode != spec.QueueLatestOnly {
			t.Fatalf("prod settings lost: %+v", envs[2])
		}
		srcs := c.ArtifactSource.Query().Where(artifactsource.DefinitionID(def.ID)).Order(ent.Asc(artifactsource.FieldAlias)).WithConnection().AllX(f.ctx)
		if len(srcs) != 2 || srcs[0].Alias != "infra" || srcs[0].Primary || srcs[0].Edges.Connection.Name != "ado" ||
			srcs[1].Alias != "web" || !srcs[1].Primary || srcs[1].Edges.Connection.Name != "jenkins" || len(srcs[1].BranchFilters) != 3 {
			t.Fatalf("sources = %+v", srcs)
		}
		rev := c.DefinitionRevision.Query().Where(definitionrevision.DefinitionID(def.ID)).OnlyX(f.ctx)
		if rev.Revision != 1 || rev.ChangeType != definitionrevision.ChangeTypeCREATE || rev.Author != "alice" ||
			rev.Comment != "first" || rev.Snapshot.Name != "shop" || len(rev.Snapshot.Environments) != 3 ||
			!rev.Snapshot.ArtifactSources[0].Primary || rev.Snapshot.Schedules[0].TimeZone != "Europe/Paris" {
			t.Fatalf("revision = %+v", rev)
		}
		ev := c.AuditEvent.Query().Where(auditevent.Action("definition.create")).OnlyX(f.ctx)
		if ev.Actor != "alice" || ev.TargetID != fmt.Sprint(def.ID) || !strings.Contains(ev.After, `"name":"shop"`) || ev.Before != "" {
			t.Fatalf("audit = %+v", ev)
		}
		if n := c.Event.Query().CountX(f.ctx); n != 1 {
			t.Fatalf("%d events, want 1", n)
		}
		got, err := f.eng.Definition(f.ctx, f.viewer, def.ID)
		if err != nil || got.ID != def.ID {
			t.Fatalf("reading definition: %v %v", got, err)
		}
		if rep, err := f.eng.VerifyAuditChain(f.ctx, delivery.SystemActor("test")); err != nil || !rep.OK {
			t.Fatalf("audit chain: %+v %v", rep, err)
		}

		// A second live definition of the same name is a conflict.
		before := f.counts()
		_, err = f.eng.CreateDefinition(f.ctx, f.editor, validDoc(), "")
		wantCode(t, err, delivery.CodeConflict)
		if after := f.counts(); after != before {
			t.Fatalf("rows changed on a name conflict: %+v → %+v", before, after)
		}
	})
}

func TestUpdateDefinition(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newDefFixture(t, db)
		def := f.create(validDoc())
		c := db.Client
		idOf := func(name string) int {
			return c.Environment.Query().Where(entenv.DefinitionID(def.ID), entenv.Name(name)).OnlyX(f.ctx).ID
		}
		devID, prodID := idOf("dev"), idOf("prod")

		doc := validDoc()
		doc.Description = "the new web shop"
		// qa becomes staging; prod now waits for staging.
		doc.Environments[1].Name = "staging"
		doc.Environments[2].Trigger.Environments = []string{"staging"}
		doc.ArtifactSources = doc.ArtifactSources[:1]
		f.clk.Advance(time.Hour)
		upd, err := f.eng.UpdateDefinition(f.ctx, f.other, def.ID, 1, doc, "rename qa")
		if err != nil {
			t.Fatalf("updating: %v", err)
		}
		if upd.Revision != 2 || upd.Description != "the new web shop" || !upd.UpdatedAt.Equal(f.clk.Now()) {
			t.Fatalf("updated definition = %+v", upd)
		}
		names := c.Environment.Query().Where(entenv.DefinitionID(def.ID)).Order(ent.Asc(entenv.FieldRank)).Select(entenv.FieldName).StringsX(f.ctx)
		if strings.Join(names, ",") != "dev,staging,prod" {
			t.Fatalf("environments = %v", names)
		}
		if idOf("dev") != devID || idOf("prod") != prodID {
			t.Fatal("environments with unchanged names lost their ids")
		}
		if n := c.ArtifactSource.Query().Where(artifactsource.DefinitionID(def.ID)).CountX(f.ctx); n != 1 {
			t.Fatalf("%d sources, want 1", n)
		}
		rev := c.DefinitionRevision.Query().Where(definitionrevision.DefinitionID(def.ID), definitionrevision.Revision(2)).OnlyX(f.ctx)
		if rev.ChangeType != definitionrevision.ChangeTypeUPDATE || rev.Author != "bob" || rev.Comment != "rename qa" {
			t.Fatalf("revision 2 = %+v", rev)
		}
		ev := c.AuditEvent.Query().Where(auditevent.Action("definition.update")).OnlyX(f.ctx)
		if !strings.Contains(ev.Before, `"name":"qa"`) || !strings.Contains(ev.After, `"name":"staging"`) {
			t.Fatalf("audit before/after = %s / %s", ev.Before, ev.After)
		}

		// Stale revision: CONFLICT naming who changed it, nothing written.
		before := f.counts()
		doc.Description = "lost update"
		_, err = f.eng.UpdateDefinition(f.ctx, f.editor, def.ID, 1, doc, "")
		wantCode(t, err, delivery.CodeConflict)
		if want := `definition "shop" was changed by bob at revision 2; reload and reapply your change`; !strings.Contains(err.Error(), want) {
			t.Fatalf("message %q does not say %q", err, want)
		}
		if after := f.counts(); after != before {
			t.Fatalf("rows changed on conflict: %+v → %+v", before, after)
		}
		if d := c.ReleaseDefinition.GetX(f.ctx, def.ID); d.Description != "the new web shop" {
			t.Fatalf("description = %q after a rejected update", d.Description)
		}
		_, err = f.eng.UpdateDefinition(f.ctx, f.editor, def.ID+1000, 1, doc, "")
		wantCode(t, err, delivery.CodeNotFound)
	})
}

func TestConcurrentUpdatesOneWins(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newDefFixture(t, db)
		def := f.create(validDoc())
		const writers = 4
		start := make(chan struct{})
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				doc := validDoc()
				doc.Description = fmt.Sprintf("writer %d", i)
				<-start
				_, errs[i] = f.eng.UpdateDefinition(f.ctx, f.editor, def.ID, 1, doc, "")
			}()
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case delivery.CodeOf(err) != delivery.CodeConflict:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d writers won, want exactly 1", wins)
		}
		if n := db.Client.DefinitionRevision.Query().CountX(f.ctx); n != 2 {
			t.Fatalf("%d revisions, want 2", n)
		}
		if d := db.Client.ReleaseDefinition.GetX(f.ctx, def.ID); d.Revision != 2 {
			t.Fatalf("revision = %d, want 2", d.Revision)
		}
	})
}

func TestRevisionsAndDiff(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newDefFixture(t, db)
		def := f.create(validDoc())

		doc2 := validDoc()
		doc2.Variables[0].Value = "https://api2.example.com"
		doc2.Variables[1].Value = "" // keep the secret
		doc2.Environments[1].Variables[0].Value = ""
		if _, err := f.eng.UpdateDefinition(f.ctx, f.other, def.ID, 1, doc2, "new api"); err != nil {
			t.Fatal(err)
		}
		doc3 := validDoc()
		doc3.Variables[0].Value = "https://api2.example.com"
		doc3.Variables[1].Value = "another-password"                    // secret changes
		doc3.Environments[1].Variables[0].Value = "qa-secret-plaintext" // same plaintext: no change
		doc3.Variables = append(doc3.Variables, spec.Variable{Name: "REGION", Value: "eu"})
		// Reorder qa and prod in the list (prod still waits for qa), and edit qa.
		doc3.Environments[1], doc3.Environments[2] = doc3.Environments[2], doc3.Environments[1]
		doc3.Environments[2].Job.Tasks[0].Script = "./deploy.sh qa --fast"
		doc3.Environments[2].PreApproval.Approvers = append(doc3.Environments[2].PreApproval.Approvers, spec.Approver{Kind: spec.ApproverGroup, Name: "ops"})
		doc3.Environments[1].Job.Tasks = append(doc3.Environments[1].Job.Tasks, spec.Task{Name: "smoke", Script: "./smoke.sh"})
		doc3.ArtifactSources = doc3.ArtifactSources[:1]
		if _, err := f.eng.UpdateDefinition(f.ctx, f.editor, def.ID, 2, doc3, "reorder"); err != nil {
			t.Fatal(err)
		}

		revs := db.Client.DefinitionRevision.Query().Where(definitionrevision.DefinitionID(def.ID)).
			Order(ent.Asc(definitionrevision.FieldRevision)).AllX(f.ctx)
		if len(revs) != 3 {
			t.Fatalf("%d revisions, want 3", len(revs))
		}
		for i, want := range []struct{ author, comment string }{{"alice", "first"}, {"bob", "new api"}, {"alice", "reorder"}} {
			if revs[i].Revision != i+1 || revs[i].Author != want.author || revs[i].Comment != want.comment {
				t.Fatalf("revision %d = %+v", i+1, revs[i])
			}
		}
		if revs[1].Snapshot.Variables[0].Value != "https://api2.example.com" || revs[2].Snapshot.Environments[1].Name != "prod" {
			t.Fatalf("snapshots do not hold the documents: %+v", revs[1].Snapshot)
		}
		// The kept secret is the same ciphertext as before.
		if revs[1].Snapshot.Variables[1].Value != revs[0].Snapshot.Variables[1].Value {
			t.Fatal("a secret given without a value did not keep its stored value")
		}

		changes, err := f.eng.DiffRevisions(f.ctx, f.viewer, def.ID, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]delivery.FieldChange{}
		var paths []string
		for _, c := range changes {
			got[c.Path] = c
			paths = append(paths, string(c.Kind)+" "+c.Path)
		}
		want := []struct {
			path          string
			kind          delivery.ChangeKind
			before, after string
		}{
			{"variables[API_URL].value", delivery.ChangeChanged, "https://api.example.com", "https://api2.example.com"},
			{"variables[DB_PASSWORD].value", delivery.ChangeChanged, "***", "***"},
			{"variables[REGION]", delivery.ChangeAdded, "", `{"name":"REGION","value":"eu"}`},
			{"artifactSources[infra]", delivery.ChangeRemoved, "*", ""},
			{"environments[qa].rank", delivery.ChangeChanged, "1", "2"},
			{"environments[prod].rank", delivery.ChangeChanged, "2", "1"},
			{"environments[qa].job.tasks[0].script", delivery.ChangeChanged, "./deploy.sh qa", "./deploy.sh qa --fast"},
			{"environments[qa].preApproval.approvers", delivery.ChangeChanged, "USER:olga", "USER:olga, GROUP:ops"},
			{"environments[prod].job.tasks[1]", delivery.ChangeAdded, "", "*"},
		}
		for _, w := range want {
			c, ok := got[w.path]
			if !ok {
				t.Errorf("no change at %s; changes: %v", w.path, paths)
				continue
			}
			if c.Kind != w.kind {
				t.Errorf("%s: kind %s, want %s", w.path, c.Kind, w.kind)
			}
			check := func(name string, v *string, want string) {
				switch {
				case want == "" && v != nil:
					t.Errorf("%s: %s = %q, want none", w.path, name, *v)
				case want == "*" && v == nil:
					t.Errorf("%s: %s missing", w.path, name)
				case want != "" && want != "*" && (v == nil || *v != want):
					t.Errorf("%s: %s = %v, want %q", w.path, name, v, want)
				}
			}
			check("before", c.Before, w.before)
			check("after", c.After, w.after)
		}
		for _, unexpected := range []string{"environments[qa].variables[QA_TOKEN].value", "environments[dev].rank",
			"artifactSources[infra].job", "environments[prod].job.tasks[1].script", "name"} {
			if _, ok := got[unexpected]; ok {
				t.Errorf("unexpected change at %s", unexpected)
			}
		}
		if len(changes) != len(want) {
			t.Errorf("%d changes, want %d: %v", len(changes), len(want), paths)
		}
		for _, c := range changes {
			for _, s := range []*string{c.Before, c.After} {
				if s != nil && (strings.Contains(*s, "hunter2") || strings.Contains(*s, "another-password") || strings.Contains(*s, "sealed:")) {
					t.Fatalf("diff shows a secret: %+v", c)
				}
			}
		}

		if _, err := f.eng.DiffRevisions(f.ctx, f.viewer, def.ID, 1, 9); delivery.CodeOf(err) != delivery.CodeNotFound {
			t.Fatalf("diff with a missing revision: %v", err)
		}
	})
}

func TestDefinitionValidation(t *testing.T) {
	type tc struct {
		name   string
		mutate func(d *spec.DefinitionSnapshot)
		field  string
		msg    string
	}
	env := func(d *spec.DefinitionSnapshot, i int) *spec.EnvironmentSpec { return &d.Environments[i] }
	cases := []tc{
		{"name required", func(d *spec.DefinitionSnapshot) { d.Name = "  " }, "name", "needs a name"},
		{"name too long", func(d *spec.DefinitionSnapshot) { d.Name = strings.Repeat("n", 201) }, "name", "at most 200"},
		{"no environments", func(d *spec.DefinitionSnapshot) { d.Environments = nil }, "environments", "at least one environment"},
		{"duplicate environment", func(d *spec.DefinitionSnapshot) { env(d, 2).Name = "QA" }, "environments[2].name", `environment "QA" is defined twice (also as "qa")`},
		{"duplicate alias", func(d *spec.DefinitionSnapshot) { d.ArtifactSources[1].Alias = "Web" }, "artifactSources[1].alias", `alias "Web" is already used by artifactSources[0]`},
		{"hostile alias", func(d *spec.DefinitionSnapshot) { d.ArtifactSources[1].Alias = "../../etc" }, "artifactSources[1].alias", "may only contain"},
		{"unknown trigger environment", func(d *spec.DefinitionSnapshot) { env(d, 2).Trigger.Environments = []string{"staging"} },
			"environments[2].trigger.environments[0]", `unknown environment "staging"`},
		{"trigger after itself", func(d *spec.DefinitionSnapshot) { env(d, 1).Trigger.Environments = []string{"dev", "qa"} },
			"environments[1].trigger.environments[1]", `environment "qa" cannot trigger after itself`},
		{"trigger cycle", func(d *spec.DefinitionSnapshot) { env(d, 1).Trigger.Environments = []string{"prod"} },
			"environments[1].trigger", "cycle: qa → prod → qa"},
		{"after environments without any", func(d *spec.DefinitionSnapshot) { env(d, 1).Trigger.Environments = nil },
			"environments[1].trigger.environments", "AFTER_ENVIRONMENTS needs at least one environment"},
		{"unknown trigger kind", func(d *spec.DefinitionSnapshot) { env(d, 0).Trigger.Kind = "NIGHTLY" }, "environments[0].trigger.kind", `unknown trigger kind "NIGHTLY"`},
		{"branch filter dash", func(d *spec.DefinitionSnapshot) { d.ArtifactSources[0].BranchFilters = []string{"main", "-"} },
			"artifactSources[0].branchFilters[1]", `"-" alone excludes nothing`},
		{"branch filter whitespace", func(d *spec.DefinitionSnapshot) { d.ArtifactSources[0].BranchFilters = []string{"feature/a b"} },
			"artifactSources[0].branchFilters[0]", "whitespace or a control character"},
		{"branch filter control", func(d *spec.DefinitionSnapshot) { d.ArtifactSources[0].BranchFilters = []string{"main\x00"} },
			"artifactSources[0].branchFilters[0]", "whitespace or a control character"},
		{"branch filter empty", func(d *spec.DefinitionSnapshot) { d.ArtifactSources[0].BranchFilters = []string{""} },
			"artifactSources[0].branchFilters[0]", "may not be empty"},
		{"branch filter bad pattern", func(d *spec.DefinitionSnapshot) { d.ArtifactSources[0].BranchFilters = []string{"release/[1-"} },
			"artifactSources[0].branchFilters[0]", "not a valid pattern"},
		{"empty script", func(d *spec.DefinitionSnapshot) { env(d, 0).Job.Tasks[0].Script = " \n " }, "environments[0].job.tasks[0].script", "needs a script"},
		{"unknown shell", func(d *spec.DefinitionSnapshot) { env(d, 0).Job.Tasks[0].Shell = "zsh" }, "environments[0].job.tasks[0].shell", `unknown shell "zsh"`},
		{"negative task timeout", func(d *spec.DefinitionSnapshot) { env(d, 0).Job.Tasks[0].TimeoutMinutes = -1 }, "environments[0].job.tasks[0].timeoutMinutes", "negative"},
		{"negative job timeout", func(d *spec.DefinitionSnapshot) { env(d, 0).Job.TimeoutMinutes = -5 }, "environments[0].job.timeoutMinutes", "negative"},
		{"negative approval timeout", func(d *spec.DefinitionSnapshot) { env(d, 1).PreApproval.TimeoutMinutes = -1 }, "environments[1].preApproval.timeoutMinutes", "negative"},
		{"required count above approvers", func(d *spec.DefinitionSnapshot) { env(d, 1).PreApproval.RequiredCount = 2 },
			"environments[1].preApproval.requiredCount", "is 2 but only 1 approver(s) are listed"},
		{"unknown approver user", func(d *spec.DefinitionSnapshot) {
			env(d, 2).PostApproval.Approvers = []spec.Approver{{Kind: spec.ApproverUser, Name: "mallory"}}
		}, "environments[2].postApproval.approvers[0].name", `no user "mallory" exists`},
		{"unknown approver group", func(d *spec.DefinitionSnapshot) {
			env(d, 2).PreApproval.Approvers[0].Name = "dba"
		}, "environments[2].preApproval.approvers[0].name", `no group "dba" exists`},
		{"bad demand", func(d *spec.DefinitionSnapshot) { env(d, 0).Job.Demands = []string{"java -eq 8"} }, "environments[0].job.demands[0]", `"java -eq 8" is not a demand`},
		{"bad demand dash", func(d *spec.DefinitionSnapshot) { env(d, 0).Job.Demands = []string{"-equals x"} }, "environments[0].job.demands[0]", "is not a demand"},
		{"bad name format token", func(d *spec.DefinitionSnapshot) { d.ReleaseNameFormat = "R-$(Build.Foo)" }, "releaseNameFormat", "unknown token $(Build.Foo)"},
		{"bad date format", func(d *spec.DefinitionSnapshot) { d.ReleaseNameFormat = "R-$(Date:yyyy/MM)" }, "releaseNameFormat", "unknown token $(Date:yyyy/MM)"},
		{"unclosed name format token", func(d *spec.DefinitionSnapshot) { d.ReleaseNameFormat = "R-$(rev:r" }, "releaseNameFormat", "is not closed"},
		{"two primaries", func(d *spec.DefinitionSnapshot) {
			d.ArtifactSources[0].Primary, d.ArtifactSources[1].Primary = true, true
		}, "artifactSources[1].primary", "artifactSources[0] is already the primary artifact"},
		{"bad variable name", func(d *spec.DefinitionSnapshot) { d.Variables[0].Name = "API-URL" }, "variables[0].name", `"API-URL" may only contain`},
		{"duplicate variable", func(d *spec.DefinitionSnapshot) { d.Variables[1].Name = "api_url" }, "variables[1].name", `variable "api_url" is defined twice`},
		{"duplicate environment variable", func(d *spec.DefinitionSnapshot) {
			env(d, 1).Variables = append(env(d, 1).Variables, spec.Variable{Name: "QA_TOKEN", Value: "x"})
		}, "environments[1].variables[1].name", "defined twice"},
		{"cron field count", func(d *spec.DefinitionSnapshot) { d.Schedules[0].Cron = "0 3 * *" }, "schedules[0].cron", "has 4 fields; write 5"},
		{"cron descriptor", func(d *spec.DefinitionSnapshot) { d.Schedules[0].Cron = "@daily" }, "schedules[0].cron", "has 1 fields"},
		{"cron range", func(d *spec.DefinitionSnapshot) { d.Schedules[0].Cron = "61 3 * * *" }, "schedules[0].cron", "not a valid cron expression"},
		{"time zone", func(d *spec.DefinitionSnapshot) { d.Schedules[0].TimeZone = "Mars/Olympus" }, "schedules[0].timeZone", `unknown time zone "Mars/Olympus"`},
		{"unknown artifact type", func(d *spec.DefinitionSnapshot) { d.ArtifactSources[0].Type = "GITHUB" }, "artifactSources[0].type", `unknown artifact type "GITHUB"`},
		{"unknown connection", func(d *spec.DefinitionSnapshot) { d.ArtifactSources[0].Connection = "gitlab" }, "artifactSources[0].connection", `unknown connection "gitlab"`},
		{"jenkins source on azure connection", func(d *spec.DefinitionSnapshot) { d.ArtifactSources[0].Connection = "ado" },
			"artifactSources[0].connection", `connection "ado" is a AZURE_DEVOPS connection; a JENKINS source needs a JENKINS connection`},
		{"teambuild source on jenkins connection", func(d *spec.DefinitionSnapshot) { d.ArtifactSources[1].Connection = "jenkins" },
			"artifactSources[1].connection", "a TEAMBUILD source needs a AZURE_DEVOPS connection"},
		{"new secret without value", func(d *spec.DefinitionSnapshot) { d.Variables[1].Value = "" }, "variables[1].value", `secret variable "DB_PASSWORD" needs a value`},
		{"intervention with a script", func(d *spec.DefinitionSnapshot) {
			env(d, 0).Job.Tasks = append(env(d, 0).Job.Tasks, spec.Task{Name: "mi", Kind: spec.TaskManualIntervention, Script: "rm -rf /"})
		}, "environments[0].job.tasks[1].script", "takes no script"},
		{"intervention approver unknown", func(d *spec.DefinitionSnapshot) {
			env(d, 0).Job.Tasks = append(env(d, 0).Job.Tasks, spec.Task{Name: "mi", Kind: spec.TaskManualIntervention,
				Approvers: []spec.Approver{{Kind: spec.ApproverUser, Name: "mallory"}}})
		}, "environments[0].job.tasks[1].approvers[0].name", `no user "mallory" exists`},
		{"intervention timeout", func(d *spec.DefinitionSnapshot) {
			env(d, 0).Job.Tasks = append(env(d, 0).Job.Tasks, spec.Task{Name: "mi", Kind: spec.TaskManualIntervention, TimeoutMinutes: 50000})
		}, "environments[0].job.tasks[1].timeoutMinutes", "between 0"},
		{"intervention timeout action", func(d *spec.DefinitionSnapshot) {
			env(d, 0).Job.Tasks = append(env(d, 0).Job.Tasks, spec.Task{Name: "mi", Kind: spec.TaskManualIntervention, OnTimeout: "IGNORE"})
		}, "environments[0].job.tasks[1].onTimeout", `unknown timeout action "IGNORE"`},
		{"intervention instructions", func(d *spec.DefinitionSnapshot) {
			env(d, 0).Job.Tasks = append(env(d, 0).Job.Tasks, spec.Task{Name: "mi", Kind: spec.TaskManualIntervention, Instructions: strings.Repeat("i", 4001)})
		}, "environments[0].job.tasks[1].instructions", "at most 4000"},
		{"unknown task kind", func(d *spec.DefinitionSnapshot) { env(d, 0).Job.Tasks[0].Kind = "DOCKER" },
			"environments[0].job.tasks[0].kind", `unknown task kind "DOCKER"`},
		{"script with intervention fields", func(d *spec.DefinitionSnapshot) { env(d, 0).Job.Tasks[0].Instructions = "look" },
			"environments[0].job.tasks[0].kind", "belong to a MANUAL_INTERVENTION task"},
		{"task env key", func(d *spec.DefinitionSnapshot) {
			env(d, 0).Job.Tasks[0].Env = map[string]string{"OK": "1", "BAD KEY": "2"}
		},
			"environments[0].job.tasks[0].env", `"BAD KEY" is not an environment variable name`},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newDefFixture(t, db)
		existing := f.create(spec.DefinitionSnapshot{Name: "existing", Environments: []spec.EnvironmentSpec{{Name: "only"}}})
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				for _, op := range []string{"create", "update"} {
					doc := validDoc()
					c.mutate(&doc)
					before := f.counts()
					var err error
					if op == "create" {
						_, err = f.eng.CreateDefinition(f.ctx, f.editor, doc, "")
					} else {
						_, err = f.eng.UpdateDefinition(f.ctx, f.editor, existing.ID, 1, doc, "")
					}
					wantCode(t, err, delivery.CodeInvalidInput)
					var ve *delivery.ValidationError
					if !errors.As(err, &ve) {
						t.Fatalf("%s: %T is not a *ValidationError", op, err)
					}
					var de *delivery.Error
					if !errors.As(err, &de) || de.Code != delivery.CodeInvalidInput {
						t.Fatalf("%s: errors.As(*Error) = %v", op, de)
					}
					found := false
					for _, p := range ve.Problems {
						if p.Field == c.field && strings.Contains(p.Message, c.msg) {
							found = true
						}
					}
					if !found {
						t.Fatalf("%s: want %s: …%s…; got %v", op, c.field, c.msg, err)
					}
					if after := f.counts(); after != before {
						t.Fatalf("%s wrote rows despite invalid input: %+v → %+v", op, before, after)
					}
				}
			})
		}
		if d := db.Client.ReleaseDefinition.GetX(f.ctx, existing.ID); d.Revision != 1 {
			t.Fatalf("existing definition moved to revision %d", d.Revision)
		}

		// Problems are collected, not just the first.
		doc := validDoc()
		doc.Name = ""
		doc.Environments[0].Job.Tasks[0].Shell = "zsh"
		doc.Schedules[0].TimeZone = "Nowhere/Else"
		_, err := f.eng.CreateDefinition(f.ctx, f.editor, doc, strings.Repeat("c", 2001))
		var ve *delivery.ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) != 4 {
			t.Fatalf("want 4 problems, got %v", err)
		}
	})
}

func TestSecretsSealedAtRest(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newDefFixture(t, db)
		def := f.create(validDoc())
		doc := validDoc()
		doc.Variables[1].Value = "" // keep
		doc.Environments[1].Variables[0].Value = "rotated-qa-plaintext"
		// A client that sends a value looking sealed gets it stored as plaintext
		// to seal, never adopted as ciphertext.
		stored := db.Client.ReleaseDefinition.GetX(f.ctx, def.ID).Variables[1].Value
		doc.Variables = append(doc.Variables, spec.Variable{Name: "COPIED", Value: stored, Secret: true})
		if _, err := f.eng.UpdateDefinition(f.ctx, f.editor, def.ID, 1, doc, ""); err != nil {
			t.Fatal(err)
		}

		for _, plain := range []string{"hunter2-plaintext", "qa-secret-plaintext", "rotated-qa-plaintext"} {
			for _, table := range []string{"release_definitions", "environments", "definition_revisions", "audit_events", "events"} {
				if dump := dumpTable(t, db, table); strings.Contains(dump, plain) {
					t.Errorf("table %s holds the plaintext %q", table, plain)
				}
			}
		}
		cur := db.Client.ReleaseDefinition.GetX(f.ctx, def.ID)
		if !strings.HasPrefix(cur.Variables[1].Value, "sealed:") || cur.Variables[1].Value != stored {
			t.Fatalf("kept secret = %q, want the stored %q", cur.Variables[1].Value, stored)
		}
		for i, want := range map[int]string{1: "hunter2-plaintext", 2: stored} {
			got, err := f.eng.SecretValue(cur.Variables[i])
			if err != nil || got != want {
				t.Fatalf("secret %s = %q, %v; want %q", cur.Variables[i].Name, got, err, want)
			}
		}
		qa := db.Client.Environment.Query().Where(entenv.DefinitionID(def.ID), entenv.Name("qa")).OnlyX(f.ctx)
		if got, err := f.eng.SecretValue(qa.Variables[0]); err != nil || got != "rotated-qa-plaintext" {
			t.Fatalf("qa secret = %q, %v", got, err)
		}
		if got, _ := f.eng.SecretValue(cur.Variables[0]); got != "https://api.example.com" {
			t.Fatalf("plain variable = %q", got)
		}
		for _, ev := range db.Client.AuditEvent.Query().AllX(f.ctx) {
			if strings.Contains(ev.Before+ev.After, "sealed:") {
				t.Fatalf("audit %s holds ciphertext: %s", ev.Action, ev.After)
			}
			if ev.Action == "definition.update" && !strings.Contains(ev.After, `"name":"DB_PASSWORD","value":"***","secret":true`) {
				t.Fatalf("audit does not mask secrets: %s", ev.After)
			}
		}
	})
}

// dumpTable returns every column of every row of table as text.
func dumpTable(t *testing.T, db *storage.DB, table string) string {
	t.Helper()
	rows, err := db.SQL.Query("SELECT * FROM " + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if bs, ok := v.([]byte); ok {
				b.Write(bs)
			} else {
				fmt.Fprint(&b, v)
			}
			b.WriteByte('|')
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestDeleteDefinitionFreesName(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newDefFixture(t, db)
		def := f.create(validDoc())
		c := db.Client

		// The partial unique index holds on its own: two live definitions of
		// one name cannot exist even when written around the engine.
		_, err := c.ReleaseDefinition.Create().SetName("shop").Save(f.ctx)
		if !ent.IsConstraintError(err) {
			t.Fatalf("second live %q: %v, want a constraint error", "shop", err)
		}

		err = f.eng.DeleteDefinition(f.ctx, f.editor, def.ID, 2, "")
		wantCode(t, err, delivery.CodeConflict)
		if err := f.eng.DeleteDefinition(f.ctx, f.other, def.ID, 1, "retired"); err != nil {
			t.Fatal(err)
		}
		d := c.ReleaseDefinition.GetX(f.ctx, def.ID)
		if d.DeletedAt == nil || !d.DeletedAt.Equal(f.clk.Now()) || d.Revision != 2 {
			t.Fatalf("deleted definition = %+v", d)
		}
		if n := c.ArtifactSource.Query().Where(artifactsource.DefinitionID(def.ID)).CountX(f.ctx); n != 0 {
			t.Fatalf("%d artifact sources left: webhooks would still match", n)
		}
		rev := c.DefinitionRevision.Query().Where(definitionrevision.DefinitionID(def.ID), definitionrevision.Revision(2)).OnlyX(f.ctx)
		if rev.ChangeType != definitionrevision.ChangeTypeDELETE || rev.Author != "bob" || rev.Comment != "retired" || rev.Snapshot.Name != "shop" {
			t.Fatalf("delete revision = %+v", rev)
		}
		if n := c.AuditEvent.Query().Where(auditevent.Action("definition.delete")).CountX(f.ctx); n != 1 {
			t.Fatalf("%d delete audit events", n)
		}

		_, err = f.eng.Definition(f.ctx, f.viewer, def.ID)
		wantCode(t, err, delivery.CodeNotFound)
		_, err = f.eng.UpdateDefinition(f.ctx, f.editor, def.ID, 2, validDoc(), "")
		wantCode(t, err, delivery.CodeNotFound)
		wantCode(t, f.eng.DeleteDefinition(f.ctx, f.editor, def.ID, 2, ""), delivery.CodeNotFound)
		// History stays readable.
		if _, err := f.eng.DiffRevisions(f.ctx, f.viewer, def.ID, 1, 2); err != nil {
			t.Fatalf("diff of a deleted definition: %v", err)
		}

		again := f.create(validDoc())
		if again.ID == def.ID || again.Name != "shop" {
			t.Fatalf("recreated = %+v", again)
		}
	})
}

func TestDefinitionRoles(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newDefFixture(t, db)
		def := f.create(validDoc())
		before := f.counts()
		_, err := f.eng.CreateDefinition(f.ctx, f.viewer, spec.DefinitionSnapshot{Name: "other", Environments: []spec.EnvironmentSpec{{Name: "dev"}}}, "")
		wantCode(t, err, delivery.CodeForbidden)
		_, err = f.eng.UpdateDefinition(f.ctx, f.viewer, def.ID, 1, validDoc(), "")
		wantCode(t, err, delivery.CodeForbidden)
		wantCode(t, f.eng.DeleteDefinition(f.ctx, f.viewer, def.ID, 1, ""), delivery.CodeForbidden)
		_, err = f.eng.Definition(f.ctx, delivery.Actor{Username: "anon"}, def.ID)
		wantCode(t, err, delivery.CodeForbidden)
		_, err = f.eng.DiffRevisions(f.ctx, delivery.Actor{Username: "anon"}, def.ID, 1, 1)
		wantCode(t, err, delivery.CodeForbidden)
		if after := f.counts(); after != before {
			t.Fatalf("rows changed on forbidden calls: %+v → %+v", before, after)
		}
		if _, err := f.eng.Definition(f.ctx, f.viewer, def.ID); err != nil {
			t.Fatalf("a viewer cannot read: %v", err)
		}
	})
}

// TestDefinitionSchedulesFollowChanges checks that the cron timers of a
// definition are created with it, replaced on update and retired on delete.
func TestDefinitionSchedulesFollowChanges(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newDefFixture(t, db)
		pending := func() int {
			return db.Client.Timer.Query().Where(timer.Kind("definition.schedule"), timer.DoneAtIsNil()).CountX(f.ctx)
		}
		doc := validDoc()
		def := f.create(doc)
		if n := pending(); n != 1 {
			t.Fatalf("after create: %d pending schedule timers, want 1", n)
		}
		doc.Schedules = append(doc.Schedules, spec.Schedule{Cron: "30 12 * * *"})
		def, err := f.eng.UpdateDefinition(f.ctx, f.editor, def.ID, def.Revision, doc, "twice a day")
		if err != nil {
			t.Fatal(err)
		}
		if n := pending(); n != 2 {
			t.Fatalf("after update: %d pending schedule timers, want 2", n)
		}
		if err := f.eng.DeleteDefinition(f.ctx, f.editor, def.ID, def.Revision, "gone"); err != nil {
			t.Fatal(err)
		}
		if n := pending(); n != 0 {
			t.Fatalf("after delete: %d pending schedule timers, want 0", n)
		}
	})
}
