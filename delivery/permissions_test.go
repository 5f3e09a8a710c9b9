package delivery_test

import (
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// rowCounts counts what a write would add or change: audit events, events,
// revisions, releases, deployments, approvals and jobs.
func (f *fixture) rowCounts() map[string]int {
	f.t.Helper()
	return map[string]int{
		"audit":       f.c.AuditEvent.Query().CountX(f.ctx),
		"events":      f.c.Event.Query().CountX(f.ctx),
		"revisions":   f.c.DefinitionRevision.Query().CountX(f.ctx),
		"releases":    f.c.Release.Query().CountX(f.ctx),
		"deployments": f.c.Deployment.Query().CountX(f.ctx),
		"approvals":   f.c.Approval.Query().CountX(f.ctx),
		"jobs":        f.c.Job.Query().CountX(f.ctx),
	}
}

func (f *fixture) wantUnchanged(before map[string]int, what string) {
	f.t.Helper()
	for k, n := range f.rowCounts() {
		if n != before[k] {
			f.t.Errorf("%s: %s went from %d to %d rows", what, k, before[k], n)
		}
	}
}

// connection creates the Jenkins connection that snapshot's source names.
func (f *fixture) connection() {
	f.t.Helper()
	if _, err := f.c.ServiceConnection.Create().SetName("jenkins").SetKind("JENKINS").SetURL("https://ci.example.com").Save(f.ctx); err != nil {
		f.t.Fatal(err)
	}
}

func group(names ...string) []spec.Approver {
	out := make([]spec.Approver, len(names))
	for i, n := range names {
		out[i] = spec.Approver{Kind: spec.ApproverGroup, Name: n}
	}
	return out
}

// TestWritesCheckReadScopeFirst: an EDITOR outside a definition's readers
// gets NOT_FOUND from every write that names something the definition owns,
// as from reads, and nothing is written: not the rewritten task that would
// print a secret, not the removal of the readers, no release, deployment,
// decision, audit event or event.
func TestWritesCheckReadScopeFirst(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		f.connection()
		member := f.user("mia", "EDITOR")
		outsider := f.user("otto", "EDITOR")
		f.group("ops", member)
		doc := snapshot("secret",
			environment("dev", manualOnly),
			environment("prod", manualOnly, pre(spec.ApprovalPolicy{Approvers: users("otto", "mia")})))
		doc.Readers = []string{"ops"}
		doc.Variables = []spec.Variable{{Name: "API_KEY", Value: "s3cr3t", Secret: true}}
		def, err := f.e.CreateDefinition(f.ctx, member, doc, "")
		if err != nil {
			t.Fatal(err)
		}
		rel := f.release(member, def.ID, "1")
		if _, err := f.e.DeployEnvironment(f.ctx, member, delivery.DeployInput{ReleaseID: rel.ID, Environment: "prod"}); err != nil {
			t.Fatal(err)
		}
		dep := f.deployment(rel.ID, "prod")
		pending := f.approvals(dep.ID, approval.StagePRE)
		var ottos int
		for _, a := range pending {
			if a.Approver == "otto" {
				ottos = a.ID
			}
		}
		leak := doc
		leak.Readers = nil
		leak.Environments = []spec.EnvironmentSpec{environment("dev", manualOnly, func(e *spec.EnvironmentSpec) {
			e.Job.Tasks = []spec.Task{{Name: "leak", Script: "echo $API_KEY | base64"}}
		})}
		before := f.rowCounts()
		writes := map[string]func() error{
			"UpdateDefinition": func() error {
				_, err := f.e.UpdateDefinition(f.ctx, outsider, def.ID, def.Revision, leak, "")
				return err
			},
			"UpdateDefinition(stale)": func() error {
				_, err := f.e.UpdateDefinition(f.ctx, outsider, def.ID, def.Revision+5, leak, "")
				return err
			},
			"DeleteDefinition": func() error { return f.e.DeleteDefinition(f.ctx, outsider, def.ID, def.Revision, "") },
			"CreateRelease": func() error {
				_, err := f.e.CreateRelease(f.ctx, outsider, delivery.CreateReleaseInput{DefinitionID: def.ID,
					Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: "2"}}})
				return err
			},
			"DeployEnvironment": func() error {
				_, err := f.e.DeployEnvironment(f.ctx, outsider, delivery.DeployInput{ReleaseID: rel.ID, Environment: "dev"})
				return err
			},
			"DeployEnvironment(unknown environment)": func() error {
				_, err := f.e.DeployEnvironment(f.ctx, outsider, delivery.DeployInput{ReleaseID: rel.ID, Environment: "nope"})
				return err
			},
			"CancelDeployment": func() error {
				_, err := f.e.CancelDeployment(f.ctx, outsider, dep.ID, "")
				return err
			},
			"AbandonRelease": func() error {
				_, err := f.e.AbandonRelease(f.ctx, outsider, rel.ID, "")
				return err
			},
			"Approve": func() error {
				_, err := f.e.Approve(f.ctx, outsider, delivery.ApprovalDecision{ApprovalID: ottos})
				return err
			},
			"Reject": func() error {
				_, err := f.e.Reject(f.ctx, outsider, delivery.ApprovalDecision{ApprovalID: ottos})
				return err
			},
			"Reassign": func() error {
				_, err := f.e.Reassign(f.ctx, outsider, ottos, "otto", "")
				return err
			},
		}
		for name, write := range writes {
			err := write()
			wantCode(t, err, delivery.CodeNotFound)
			if err != nil && (strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "prod")) {
				t.Errorf("%s: the refusal names what it hides: %v", name, err)
			}
			f.wantUnchanged(before, name)
		}
		// The same writes by a reader go through (the fixture is sound).
		if _, err := f.e.Approve(f.ctx, member, delivery.ApprovalDecision{ApprovalID: pending[1].ID}); err != nil {
			t.Fatalf("a reader approving: %v", err)
		}
		f.verifyChain()
	})
}

// TestScopedPermissions: the lists of a definition and of its environments
// narrow who may create releases, deploy, cancel, abandon, reassign and
// edit; an environment's own list replaces the definition's; the role stays
// the ceiling; an ADMIN not listed overrides, audited as such.
func TestScopedPermissions(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		f.connection()
		lead := f.user("lead", "EDITOR")
		rm := f.user("rm", "EDITOR")
		dev1 := f.user("dev1", "EDITOR")
		pd := f.user("pd", "EDITOR")
		pe := f.user("pe", "EDITOR")
		someone := f.user("someone", "EDITOR")
		watcher := f.user("watcher", "VIEWER")
		approver := f.user("ann", "VIEWER")
		mgr := f.user("mgr", "EDITOR")
		f.group("release-managers", rm, watcher)
		f.group("prod-deployers", pd)
		doc := snapshot("web",
			environment("dev", manualOnly),
			environment("prod", manualOnly, pre(spec.ApprovalPolicy{Approvers: users("ann")}), func(e *spec.EnvironmentSpec) {
				e.Permissions = spec.EnvironmentPermissions{
					EditEnvironment:   users("pe"),
					ManageDeployments: group("prod-deployers"),
					ManageApprovals:   users("mgr"),
				}
			}))
		doc.Permissions = spec.DefinitionPermissions{
			EditDefinition:    users("lead"),
			CreateReleases:    group("release-managers"),
			ManageDeployments: users("dev1", "rm"),
		}
		def, err := f.e.CreateDefinition(f.ctx, someone, doc, "")
		if err != nil {
			t.Fatal(err)
		}
		forbidden := func(what string, err error, mention string) {
			t.Helper()
			if delivery.CodeOf(err) != delivery.CodeForbidden || !strings.Contains(err.Error(), mention) {
				t.Errorf("%s: %v; want FORBIDDEN mentioning %q", what, err, mention)
			}
		}
		release := func(who delivery.Actor) error {
			_, err := f.e.CreateRelease(f.ctx, who, delivery.CreateReleaseInput{DefinitionID: def.ID,
				Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: "7"}}})
			return err
		}
		deploy := func(who delivery.Actor, rel int, env string) error {
			_, err := f.e.DeployEnvironment(f.ctx, who, delivery.DeployInput{ReleaseID: rel, Environment: env})
			return err
		}

		before := f.rowCounts()
		forbidden("someone creates a release", release(someone), "createReleases")
		forbidden("a listed VIEWER creates a release", release(watcher), "EDITOR")
		f.wantUnchanged(before, "refused releases")
		rel := f.release(rm, def.ID, "1")

		before = f.rowCounts()
		forbidden("someone deploys dev", deploy(someone, rel.ID, "dev"), "manageDeployments on definition web")
		forbidden("dev1 deploys prod", deploy(dev1, rel.ID, "prod"), "manageDeployments on environment prod")
		forbidden("rm deploys prod", deploy(rm, rel.ID, "prod"), "group prod-deployers")
		f.wantUnchanged(before, "refused deployments")
		if err := deploy(dev1, rel.ID, "dev"); err != nil {
			t.Fatalf("dev1 deploys dev: %v", err)
		}
		if err := deploy(pd, rel.ID, "prod"); err != nil {
			t.Fatalf("pd deploys prod: %v", err)
		}
		prodDep := f.deployment(rel.ID, "prod")
		_, err = f.e.CancelDeployment(f.ctx, dev1, prodDep.ID, "")
		forbidden("dev1 cancels prod", err, "manageDeployments on environment prod")

		// Reassigning ann's approval: not someone's business; mgr manages
		// prod's approvals.
		annsApproval := f.approvals(prodDep.ID, approval.StagePRE)[0]
		_, err = f.e.Reassign(f.ctx, someone, annsApproval.ID, "someone", "")
		forbidden("someone reassigns", err, "not an approver")
		reassigned, err := f.e.Reassign(f.ctx, mgr, annsApproval.ID, "lead", "ann is away")
		if err != nil {
			t.Fatalf("mgr reassigns: %v", err)
		}
		if reassigned.Approver != "lead" {
			t.Fatalf("reassigned to %s", reassigned.Approver)
		}
		_ = approver

		// An ADMIN not listed deploys prod again: allowed, audited as an override.
		if _, err := f.e.CancelDeployment(f.ctx, f.admin, prodDep.ID, "override"); err != nil {
			t.Fatalf("admin cancels prod: %v", err)
		}
		overrides := f.c.AuditEvent.Query().Where(auditevent.Action("permission.override")).AllX(f.ctx)
		if len(overrides) != 1 || !strings.Contains(overrides[0].After, `"environment":"prod"`) ||
			!strings.Contains(overrides[0].After, "MANAGE_DEPLOYMENTS") || overrides[0].Actor != "root" {
			t.Fatalf("override audit: %+v", overrides)
		}
		// pd (listed) is no override.
		if err := deploy(pd, rel.ID, "prod"); err != nil {
			t.Fatal(err)
		}
		if n := f.audits("permission.override"); n != 1 {
			t.Fatalf("%d override events after a listed deployer's deploy", n)
		}

		// A bot acting for a person has the person's permissions, not its own.
		bot := f.user("chatbot", "EDITOR")
		bot.Scopes = []string{delivery.ScopeActAs}
		forPD, err := f.e.ActAs(f.ctx, bot, "pd")
		if err != nil {
			t.Fatal(err)
		}
		forSomeone, err := f.e.ActAs(f.ctx, bot, "someone")
		if err != nil {
			t.Fatal(err)
		}
		prodDep = f.deployment(rel.ID, "prod")
		_, err = f.e.CancelDeployment(f.ctx, forSomeone, prodDep.ID, "")
		forbidden("the bot for someone cancels prod", err, "someone is not among them")
		if _, err := f.e.CancelDeployment(f.ctx, forPD, prodDep.ID, "for pd"); err != nil {
			t.Fatalf("the bot for pd cancels prod: %v", err)
		}

		// Abandon is a definition-wide deployment right.
		_, err = f.e.AbandonRelease(f.ctx, pd, rel.ID, "")
		forbidden("pd abandons", err, "manageDeployments on definition web")

		// Edits are judged by what they change.
		cur := func() (int, spec.DefinitionSnapshot) {
			d := f.c.ReleaseDefinition.GetX(f.ctx, def.ID)
			rev, err := f.e.DefinitionRevisions(f.ctx, f.admin, def.ID)
			if err != nil {
				t.Fatal(err)
			}
			r := rev.AllX(f.ctx)
			for _, x := range r {
				if x.Revision == d.Revision {
					return d.Revision, x.Snapshot
				}
			}
			t.Fatalf("no revision %d", d.Revision)
			return 0, spec.DefinitionSnapshot{}
		}
		edit := func(who delivery.Actor, change func(*spec.DefinitionSnapshot)) error {
			rev, snap := cur()
			change(&snap)
			_, err := f.e.UpdateDefinition(f.ctx, who, def.ID, rev, snap, "")
			return err
		}
		prodTask := func(s *spec.DefinitionSnapshot) { s.Environments[1].Job.Tasks[0].Script = "./deploy.sh --prod" }
		devTask := func(s *spec.DefinitionSnapshot) { s.Environments[0].Job.Tasks[0].Script = "./deploy.sh --dev" }
		prodApprovers := func(s *spec.DefinitionSnapshot) { s.Environments[1].PreApproval.Approvers = users("someone") }
		rename := func(s *spec.DefinitionSnapshot) { s.Description = "the web site" }
		openProd := func(s *spec.DefinitionSnapshot) { s.Environments[1].Permissions = spec.EnvironmentPermissions{} }
		reorder := func(s *spec.DefinitionSnapshot) {
			s.Environments[0], s.Environments[1] = s.Environments[1], s.Environments[0]
		}
		before = f.rowCounts()
		forbidden("someone edits prod", edit(someone, prodTask), "editEnvironment on environment prod")
		forbidden("lead edits prod", edit(lead, prodTask), "user pe")
		forbidden("lead removes prod's approvers", edit(lead, prodApprovers), "editEnvironment on environment prod")
		forbidden("pe edits dev", edit(pe, devTask), "editDefinition on definition web")
		forbidden("pe edits the description", edit(pe, rename), "editDefinition on definition web")
		forbidden("lead lifts prod's permissions", edit(lead, openProd), "editEnvironment on environment prod")
		forbidden("pe reorders environments", edit(pe, reorder), "editDefinition on definition web")
		forbidden("pe edits prod and dev at once", edit(pe, func(s *spec.DefinitionSnapshot) { prodTask(s); devTask(s) }), "editDefinition")
		err = f.e.DeleteDefinition(f.ctx, pe, def.ID, f.c.ReleaseDefinition.GetX(f.ctx, def.ID).Revision, "")
		forbidden("pe deletes", err, "editDefinition on definition web")
		f.wantUnchanged(before, "refused edits")
		for what, tc := range map[string]struct {
			who    delivery.Actor
			change func(*spec.DefinitionSnapshot)
		}{
			"pe edits prod":              {pe, prodTask},
			"pe removes prod's approver": {pe, prodApprovers},
			"lead edits dev":             {lead, devTask},
			"lead edits the description": {lead, rename},
			"pe saves an unchanged copy": {pe, func(*spec.DefinitionSnapshot) {}},
		} {
			if err := edit(tc.who, tc.change); err != nil {
				t.Errorf("%s: %v", what, err)
			}
		}
		if n := f.audits("permission.override"); n != 1 {
			t.Fatalf("%d override events after listed editors' edits", n)
		}
		// Permissions are part of the revision and its diff.
		rev, _ := cur()
		if err := edit(pe, openProd); err != nil {
			t.Fatalf("pe opens prod: %v", err)
		}
		changes, err := f.e.DiffRevisions(f.ctx, lead, def.ID, rev, rev+1)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, c := range changes {
			paths = append(paths, c.Path)
		}
		want := "environments[prod].permissions.editEnvironment,environments[prod].permissions.manageDeployments,environments[prod].permissions.manageApprovals"
		if strings.Join(paths, ",") != want {
			t.Fatalf("diff paths %v, want %s", paths, want)
		}
		// Now prod inherits: lead edits it, the admin edits with an audited override.
		if err := edit(lead, prodTask); err != nil {
			t.Fatalf("lead edits an inheriting prod: %v", err)
		}
		if err := edit(f.admin, func(s *spec.DefinitionSnapshot) { s.Description = "by root" }); err != nil {
			t.Fatal(err)
		}
		if n := f.audits("permission.override"); n != 2 {
			t.Fatalf("%d override events after an admin's edit, want 2", n)
		}
		f.verifyChain()
	})
}

// TestPermissionListsValidated: a permission list must name existing users
// and groups, once each; nothing is stored otherwise.
func TestPermissionListsValidated(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		f.connection()
		editor := f.user("eddie", "EDITOR")
		many := make([]spec.Approver, 101)
		for i := range many {
			many[i] = spec.Approver{Kind: spec.ApproverUser, Name: "eddie"}
		}
		for _, tc := range []struct {
			set  func(*spec.DefinitionSnapshot)
			want string
		}{
			{func(s *spec.DefinitionSnapshot) { s.Permissions.CreateReleases = users("ghost") }, `permissions.createReleases[0].name: no user "ghost" exists`},
			{func(s *spec.DefinitionSnapshot) { s.Permissions.EditDefinition = group("nobody") }, `no group "nobody" exists`},
			{func(s *spec.DefinitionSnapshot) {
				s.Permissions.ManageDeployments = []spec.Approver{{Kind: "ROBOT", Name: "x"}}
			}, `permissions.manageDeployments[0].kind: unknown kind "ROBOT"`},
			{func(s *spec.DefinitionSnapshot) {
				s.Environments[0].Permissions.ManageApprovals = users("eddie", " eddie ")
			}, `environments[0].permissions.manageApprovals[1]: user "eddie" is listed twice`},
			{func(s *spec.DefinitionSnapshot) { s.Environments[0].Permissions.EditEnvironment = many }, "at most 100"},
			{func(s *spec.DefinitionSnapshot) {
				s.Permissions.OverrideArtifactChecks = []spec.Approver{{Kind: spec.ApproverUser, Name: "'; DROP TABLE users;--"}}
			}, "no user"},
		} {
			doc := snapshot("bad", environment("dev", manualOnly))
			tc.set(&doc)
			_, err := f.e.CreateDefinition(f.ctx, editor, doc, "")
			if delivery.CodeOf(err) != delivery.CodeInvalidInput || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v; want %q", err, tc.want)
			}
		}
		if n := f.c.ReleaseDefinition.Query().CountX(f.ctx); n != 0 {
			t.Fatalf("%d definitions stored from invalid documents", n)
		}
	})
}
