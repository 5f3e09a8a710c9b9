package delivery_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/user"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

var idT0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// idFixture is an engine over a fresh database with an ADMIN, an EDITOR and a
// VIEWER.
type idFixture struct {
	db                    *storage.DB
	e                     *delivery.Engine
	clk                   *delivery.ManualClock
	admin, editor, viewer delivery.Actor
}

func newIDFixture(t *testing.T, db *storage.DB) *idFixture {
	t.Helper()
	ctx := context.Background()
	box, err := delivery.NewSecretBox([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	clk := delivery.NewManualClock(idT0)
	e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: clk, Secrets: box})
	root, err := e.EnsureAdmin(ctx, "root")
	if err != nil {
		t.Fatalf("EnsureAdmin: %v", err)
	}
	f := &idFixture{db: db, e: e, clk: clk, admin: actorOf(root)}
	f.editor = actorOf(f.mustUser(t, "eddie", delivery.RoleEditor))
	f.viewer = actorOf(f.mustUser(t, "vera", delivery.RoleViewer))
	return f
}

func actorOf(u *ent.User) delivery.Actor {
	return delivery.Actor{UserID: u.ID, Username: u.Username, Role: delivery.Role(u.Role)}
}

func (f *idFixture) mustUser(t *testing.T, name string, role delivery.Role) *ent.User {
	t.Helper()
	u, err := f.e.CreateUser(context.Background(), f.admin, delivery.UserInput{Username: name, Role: role})
	if err != nil {
		t.Fatalf("creating user %s: %v", name, err)
	}
	return u
}

// counts is a snapshot of the row counts a failed call must leave alone.
type counts struct{ users, groups, members, tokens, connections, audit int }

func (f *idFixture) counts(t *testing.T) counts {
	t.Helper()
	ctx := context.Background()
	c := f.db.Client
	var n counts
	var err error
	must := func(v int, e error) int {
		if e != nil {
			err = e
		}
		return v
	}
	n.users = must(c.User.Query().Count(ctx))
	n.groups = must(c.Group.Query().Count(ctx))
	n.members = must(c.User.Query().QueryGroups().Count(ctx))
	n.tokens = must(c.ApiToken.Query().Count(ctx))
	n.connections = must(c.ServiceConnection.Query().Count(ctx))
	n.audit = must(c.AuditEvent.Query().Count(ctx))
	if err != nil {
		t.Fatalf("counting rows: %v", err)
	}
	return n
}

// expectRefused asserts that err has the code, mentions want, and that
// nothing was written.
func (f *idFixture) expectRefused(t *testing.T, before counts, err error, code delivery.Code, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded, want %s", code)
	}
	if got := delivery.CodeOf(err); got != code {
		t.Fatalf("code %s (%v), want %s", got, err, code)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not mention %q", err, want)
	}
	if after := f.counts(t); after != before {
		t.Errorf("rows changed by a refused call: before %+v, after %+v", before, after)
	}
}

func ptr[T any](v T) *T { return &v }

func TestUsers(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newIDFixture(t, db)

		u, err := f.e.CreateUser(ctx, f.admin, delivery.UserInput{
			Username: "alice", DisplayName: " Alice Liddell ", Email: "alice@example.com",
			Role: delivery.RoleEditor, ExternalIdentities: []string{"slack:U123", "slack:U123", "teams:abc-def"},
		})
		if err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		if u.DisplayName != "Alice Liddell" || u.Role != "EDITOR" || len(u.ExternalIdentities) != 2 {
			t.Errorf("created %+v", u)
		}
		got, err := f.e.UserByExternalIdentity(ctx, "slack:U123")
		if err != nil || got.ID != u.ID {
			t.Fatalf("UserByExternalIdentity = %v, %v; want alice", got, err)
		}
		if _, err := f.e.UserByExternalIdentity(ctx, "slack:U12"); delivery.CodeOf(err) != delivery.CodeNotFound {
			t.Errorf("prefix of an identity matched: %v", err)
		}

		before := f.counts(t)
		_, err = f.e.CreateUser(ctx, f.admin, delivery.UserInput{Username: "alice"})
		f.expectRefused(t, before, err, delivery.CodeConflict, "taken")
		_, err = f.e.CreateUser(ctx, f.admin, delivery.UserInput{Username: "bob", ExternalIdentities: []string{"slack:U123"}})
		f.expectRefused(t, before, err, delivery.CodeConflict, "already belongs to user alice")

		bob := f.mustUser(t, "bob", delivery.RoleViewer)
		before = f.counts(t)
		_, err = f.e.UpdateUser(ctx, f.admin, bob.ID, delivery.UserPatch{ExternalIdentities: &[]string{"teams:abc-def"}})
		f.expectRefused(t, before, err, delivery.CodeConflict, "already belongs")
		// Alice may keep her own identities.
		u, err = f.e.UpdateUser(ctx, f.admin, u.ID, delivery.UserPatch{
			ExternalIdentities: &[]string{"slack:U123"}, Email: ptr(""), Role: ptr(delivery.RoleViewer),
		})
		if err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
		if u.Email != "" || u.Role != "VIEWER" || len(u.ExternalIdentities) != 1 {
			t.Errorf("updated %+v", u)
		}
		if _, err := f.e.UserByExternalIdentity(ctx, "teams:abc-def"); delivery.CodeOf(err) != delivery.CodeNotFound {
			t.Errorf("removed identity still resolves: %v", err)
		}

		u, err = f.e.DisableUser(ctx, f.admin, u.ID)
		if err != nil || !u.Disabled {
			t.Fatalf("DisableUser = %+v, %v", u, err)
		}
		last := lastAudit(t, f)
		if last.Action != "user.disable" || last.Actor != "root" || !strings.Contains(last.Before, `"disabled":false`) ||
			!strings.Contains(last.After, `"disabled":true`) {
			t.Errorf("audit %+v", last)
		}
		if _, err := f.e.UpdateUser(ctx, f.admin, 999999, delivery.UserPatch{}); delivery.CodeOf(err) != delivery.CodeNotFound {
			t.Errorf("unknown user: %v", err)
		}
	})
}

// EnsureAdmin's user, created or found, is not bound to the transaction
// that read it: its edges can be queried afterwards (as the identity
// mutations' answers do).
func TestEnsureAdminUserOutlivesItsTransaction(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: delivery.NewManualClock(idT0)})
		for _, round := range []string{"created", "found"} {
			u, err := e.EnsureAdmin(ctx, "root")
			if err != nil {
				t.Fatalf("EnsureAdmin (%s): %v", round, err)
			}
			groups, err := u.QueryGroups().All(ctx)
			if err != nil {
				t.Fatalf("querying the %s admin's groups: %v", round, err)
			}
			if len(groups) != 0 {
				t.Errorf("%s admin has groups %v; want none", round, groups)
			}
		}
	})
}

func TestLastAdmin(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newIDFixture(t, db)
		before := f.counts(t)
		_, err := f.e.UpdateUser(ctx, f.admin, f.admin.UserID, delivery.UserPatch{Role: ptr(delivery.RoleEditor)})
		f.expectRefused(t, before, err, delivery.CodeConflict, "last enabled ADMIN")
		_, err = f.e.DisableUser(ctx, f.admin, f.admin.UserID)
		f.expectRefused(t, before, err, delivery.CodeConflict, "last enabled ADMIN")

		// A disabled admin does not count.
		other := f.mustUser(t, "other", delivery.RoleAdmin)
		if _, err := f.e.DisableUser(ctx, f.admin, other.ID); err != nil {
			t.Fatalf("disabling a second admin: %v", err)
		}
		before = f.counts(t)
		_, err = f.e.DisableUser(ctx, f.admin, f.admin.UserID)
		f.expectRefused(t, before, err, delivery.CodeConflict, "last enabled ADMIN")

		if _, err := f.e.UpdateUser(ctx, f.admin, other.ID, delivery.UserPatch{Disabled: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.UpdateUser(ctx, f.admin, f.admin.UserID, delivery.UserPatch{Role: ptr(delivery.RoleViewer)}); err != nil {
			t.Fatalf("demoting with another admin present: %v", err)
		}
		// EnsureAdmin is idempotent and leaves a deliberate demotion alone.
		n := f.counts(t)
		u, err := f.e.EnsureAdmin(ctx, "root")
		if err != nil || u.ID != f.admin.UserID || u.Role != "VIEWER" {
			t.Fatalf("EnsureAdmin again = %+v, %v", u, err)
		}
		if f.counts(t) != n {
			t.Error("EnsureAdmin wrote on an existing user")
		}
		first, err := db.Client.AuditEvent.Query().Order(ent.Asc("sequence")).First(ctx)
		if err != nil || first.Action != "user.create" || first.Actor != "system" || !strings.Contains(first.After, `"role":"ADMIN"`) {
			t.Errorf("bootstrap audit %+v, %v", first, err)
		}
	})
}

// TestLastAdminConcurrent demotes two admins at once: the engine serialises
// the decisions, so exactly one demotion wins and one ADMIN remains.
func TestLastAdminConcurrent(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newIDFixture(t, db)
		other := f.mustUser(t, "other", delivery.RoleAdmin)
		errs := make(chan error, 2)
		for _, id := range []int{f.admin.UserID, other.ID} {
			go func() {
				_, err := f.e.UpdateUser(ctx, f.admin, id, delivery.UserPatch{Role: ptr(delivery.RoleEditor)})
				errs <- err
			}()
		}
		var failed []error
		for range 2 {
			if err := <-errs; err != nil {
				failed = append(failed, err)
			}
		}
		if len(failed) != 1 || delivery.CodeOf(failed[0]) != delivery.CodeConflict {
			t.Fatalf("errors %v, want exactly one CONFLICT", failed)
		}
		n, err := db.Client.User.Query().Where(user.RoleEQ(user.RoleADMIN)).Count(ctx)
		if err != nil || n != 1 {
			t.Errorf("%d admins remain (%v), want 1", n, err)
		}
	})
}

func TestUserValidation(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newIDFixture(t, db)
		cases := []struct {
			name  string
			in    delivery.UserInput
			field string
		}{
			{"empty username", delivery.UserInput{}, "username"},
			{"uppercase", delivery.UserInput{Username: "Alice"}, "username"},
			{"leading dash", delivery.UserInput{Username: "-alice"}, "username"},
			{"space", delivery.UserInput{Username: "al ice"}, "username"},
			{"path", delivery.UserInput{Username: "a/../b"}, "username"},
			{"markup", delivery.UserInput{Username: "<script>"}, "username"},
			{"too long", delivery.UserInput{Username: strings.Repeat("a", 64)}, "username"},
			{"newline", delivery.UserInput{Username: "alice\n"}, "username"},
			{"cyrillic lookalike", delivery.UserInput{Username: "\u0430lice"}, "username"},
			{"email no at", delivery.UserInput{Username: "a", Email: "alice"}, "email"},
			{"email with name", delivery.UserInput{Username: "a", Email: "Alice <a@example.com>"}, "email"},
			{"email header injection", delivery.UserInput{Username: "a", Email: "a@example.com\r\nBcc: x@evil.com"}, "email"},
			{"email no domain dot", delivery.UserInput{Username: "a", Email: "a@localhost"}, "email"},
			{"role", delivery.UserInput{Username: "a", Role: "ROOT"}, "role"},
			{"role lowercase", delivery.UserInput{Username: "a", Role: "admin"}, "role"},
			{"display control", delivery.UserInput{Username: "a", DisplayName: "x\x1b[31m"}, "displayName"},
			{"display long", delivery.UserInput{Username: "a", DisplayName: strings.Repeat("x", 201)}, "displayName"},
			{"identity no provider", delivery.UserInput{Username: "a", ExternalIdentities: []string{"U123"}}, "externalIdentities[0]"},
			{"identity empty id", delivery.UserInput{Username: "a", ExternalIdentities: []string{"slack:ok", "slack:"}}, "externalIdentities[1]"},
			{"identity space", delivery.UserInput{Username: "a", ExternalIdentities: []string{"slack:U1 U2"}}, "externalIdentities[0]"},
			{"identity provider case", delivery.UserInput{Username: "a", ExternalIdentities: []string{"Slack:U1"}}, "externalIdentities[0]"},
			{"too many identities", delivery.UserInput{Username: "a", ExternalIdentities: make([]string, 21)}, "externalIdentities"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := f.counts(t)
				_, err := f.e.CreateUser(ctx, f.admin, c.in)
				f.expectRefused(t, before, err, delivery.CodeInvalidInput, c.field+": ")
				var de *delivery.Error
				if !errors.As(err, &de) || de.Field != c.field {
					t.Errorf("field %q, want %q", de.Field, c.field)
				}
			})
		}
		before := f.counts(t)
		_, err := f.e.UpdateUser(ctx, f.admin, f.editor.UserID, delivery.UserPatch{Role: ptr(delivery.Role("GOD"))})
		f.expectRefused(t, before, err, delivery.CodeInvalidInput, "role")
		_, err = f.e.UpdateUser(ctx, f.admin, f.editor.UserID, delivery.UserPatch{Email: ptr("nope")})
		f.expectRefused(t, before, err, delivery.CodeInvalidInput, "email")
		_, err = f.e.UserByExternalIdentity(ctx, "' OR 1=1 --")
		if delivery.CodeOf(err) != delivery.CodeInvalidInput {
			t.Errorf("hostile identity lookup: %v", err)
		}
	})
}

func TestRoleMatrix(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newIDFixture(t, db)
		g, err := f.e.CreateGroup(ctx, f.admin, delivery.GroupInput{Name: "ops"})
		if err != nil {
			t.Fatal(err)
		}
		conn, err := f.e.CreateConnection(ctx, f.admin, delivery.ConnectionInput{
			Name: "jenkins", Kind: "JENKINS", URL: "https://ci.example.com",
		})
		if err != nil {
			t.Fatal(err)
		}
		adminTok, err := f.e.CreateAPIToken(ctx, f.admin, "admin", 0, time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		calls := map[string]func(a delivery.Actor) error{
			"CreateUser": func(a delivery.Actor) error {
				_, err := f.e.CreateUser(ctx, a, delivery.UserInput{Username: "mallory", Role: delivery.RoleAdmin})
				return err
			},
			"UpdateUser self promotion": func(a delivery.Actor) error {
				_, err := f.e.UpdateUser(ctx, a, a.UserID, delivery.UserPatch{Role: ptr(delivery.RoleAdmin)})
				return err
			},
			"DisableUser": func(a delivery.Actor) error {
				_, err := f.e.DisableUser(ctx, a, f.admin.UserID)
				return err
			},
			"CreateGroup": func(a delivery.Actor) error {
				_, err := f.e.CreateGroup(ctx, a, delivery.GroupInput{Name: "x"})
				return err
			},
			"AddGroupMember": func(a delivery.Actor) error {
				_, err := f.e.AddGroupMember(ctx, a, g.ID, a.UserID)
				return err
			},
			"DeleteGroup": func(a delivery.Actor) error { return f.e.DeleteGroup(ctx, a, g.ID) },
			"CreateConnection": func(a delivery.Actor) error {
				_, err := f.e.CreateConnection(ctx, a, delivery.ConnectionInput{Name: "x", Kind: "JENKINS", URL: "https://x.example.com"})
				return err
			},
			"UpdateConnection": func(a delivery.Actor) error {
				_, err := f.e.UpdateConnection(ctx, a, conn.ID, delivery.ConnectionPatch{Secret: ptr("mine")})
				return err
			},
			"DeleteConnection": func(a delivery.Actor) error { return f.e.DeleteConnection(ctx, a, conn.ID) },
			"CreateAPIToken for another": func(a delivery.Actor) error {
				_, err := f.e.CreateAPIToken(ctx, a, "steal", f.admin.UserID, time.Hour, nil)
				return err
			},
			"CreateAPIToken act-as": func(a delivery.Actor) error {
				_, err := f.e.CreateAPIToken(ctx, a, "bot", 0, time.Hour, []string{delivery.ScopeActAs})
				return err
			},
			"RevokeAPIToken of another": func(a delivery.Actor) error {
				_, err := f.e.RevokeAPIToken(ctx, a, adminTok.ID)
				return err
			},
			"VerifyAuditChain": func(a delivery.Actor) error {
				_, err := f.e.VerifyAuditChain(ctx, a)
				return err
			},
		}
		for _, a := range []delivery.Actor{f.editor, f.viewer} {
			for name, call := range calls {
				t.Run(string(a.Role)+"/"+name, func(t *testing.T) {
					before := f.counts(t)
					f.expectRefused(t, before, call(a), delivery.CodeForbidden, "requires role ADMIN")
				})
			}
		}
		// A VIEWER may create and revoke their own plain token.
		tok, err := f.e.CreateAPIToken(ctx, f.viewer, "laptop", 0, time.Hour, nil)
		if err != nil {
			t.Fatalf("viewer creating own token: %v", err)
		}
		if _, err := f.e.RevokeAPIToken(ctx, f.viewer, tok.ID); err != nil {
			t.Fatalf("viewer revoking own token: %v", err)
		}
	})
}

func TestGroups(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newIDFixture(t, db)
		g, err := f.e.CreateGroup(ctx, f.admin, delivery.GroupInput{Name: "release-managers", Description: "They ship."})
		if err != nil {
			t.Fatalf("CreateGroup: %v", err)
		}
		before := f.counts(t)
		_, err = f.e.CreateGroup(ctx, f.admin, delivery.GroupInput{Name: "release-managers"})
		f.expectRefused(t, before, err, delivery.CodeConflict, "taken")
		for _, bad := range []string{"", "Release Managers", "-x", strings.Repeat("a", 101), "x\x00"} {
			_, err = f.e.CreateGroup(ctx, f.admin, delivery.GroupInput{Name: bad})
			f.expectRefused(t, before, err, delivery.CodeInvalidInput, "name: ")
		}
		_, err = f.e.CreateGroup(ctx, f.admin, delivery.GroupInput{Name: "ok", Description: strings.Repeat("d", 1001)})
		f.expectRefused(t, before, err, delivery.CodeInvalidInput, "description: ")

		if _, err := f.e.AddGroupMember(ctx, f.admin, g.ID, f.editor.UserID); err != nil {
			t.Fatalf("AddGroupMember: %v", err)
		}
		n := f.counts(t)
		if _, err := f.e.AddGroupMember(ctx, f.admin, g.ID, f.editor.UserID); err != nil {
			t.Fatalf("adding again: %v", err)
		}
		if f.counts(t) != n || n.members != 1 {
			t.Errorf("adding a member twice wrote: %+v → %+v", n, f.counts(t))
		}
		_, err = f.e.AddGroupMember(ctx, f.admin, g.ID, 999999)
		f.expectRefused(t, n, err, delivery.CodeNotFound, "user 999999")
		if _, err := f.e.RemoveGroupMember(ctx, f.admin, g.ID, f.editor.UserID); err != nil {
			t.Fatalf("RemoveGroupMember: %v", err)
		}
		if c := f.counts(t); c.members != 0 || c.audit != n.audit+1 {
			t.Errorf("after removal %+v", c)
		}

		g, err = f.e.UpdateGroup(ctx, f.admin, g.ID, delivery.GroupPatch{Name: ptr("shippers"), Description: ptr("")})
		if err != nil || g.Name != "shippers" || g.Description != "" {
			t.Fatalf("UpdateGroup = %+v, %v", g, err)
		}

		// A group named by a live definition's approval policy can be neither
		// renamed nor deleted.
		def := db.Client.ReleaseDefinition.Create().SetName("web").SaveX(ctx)
		db.Client.Environment.Create().SetName("prod").SetRank(1).SetDefinitionID(def.ID).
			SetTrigger(spec.Trigger{}).SetJob(spec.JobSpec{}).SetQueue(spec.QueuePolicy{}).
			SetPreApproval(spec.ApprovalPolicy{}).
			SetPostApproval(spec.ApprovalPolicy{Approvers: []spec.Approver{{Kind: spec.ApproverGroup, Name: "shippers"}}}).
			SaveX(ctx)
		before = f.counts(t)
		err = f.e.DeleteGroup(ctx, f.admin, g.ID)
		f.expectRefused(t, before, err, delivery.CodeConflict, `definition "web" environment "prod"`)
		_, err = f.e.UpdateGroup(ctx, f.admin, g.ID, delivery.GroupPatch{Name: ptr("other")})
		f.expectRefused(t, before, err, delivery.CodeConflict, "cannot be renamed")

		db.Client.ReleaseDefinition.UpdateOneID(def.ID).SetDeletedAt(idT0).ExecX(ctx)
		if _, err := f.e.AddGroupMember(ctx, f.admin, g.ID, f.viewer.UserID); err != nil {
			t.Fatal(err)
		}
		if err := f.e.DeleteGroup(ctx, f.admin, g.ID); err != nil {
			t.Fatalf("DeleteGroup: %v", err)
		}
		if last := lastAudit(t, f); last.Action != "group.delete" || !strings.Contains(last.Before, "shippers") {
			t.Errorf("audit %+v", last)
		}
		if err := f.e.DeleteGroup(ctx, f.admin, g.ID); delivery.CodeOf(err) != delivery.CodeNotFound {
			t.Errorf("deleting twice: %v", err)
		}
		if c := f.counts(t); c.members != 0 || c.groups != 0 {
			t.Errorf("after deleting a group with a member: %+v", c)
		}
	})
}

func TestAPITokens(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newIDFixture(t, db)

		tok, err := f.e.CreateAPIToken(ctx, f.editor, "  laptop ", 0, delivery.DefaultTokenLifetime, nil)
		if err != nil {
			t.Fatalf("CreateAPIToken: %v", err)
		}
		if tok.OwnerID != f.editor.UserID || tok.Name != "laptop" || len(tok.Jti) != 32 ||
			!tok.ExpiresAt.Equal(idT0.Add(90*24*time.Hour)) {
			t.Errorf("token %+v", tok)
		}
		tok2, err := f.e.CreateAPIToken(ctx, f.editor, "laptop", 0, time.Hour, nil)
		if err != nil || tok2.Jti == tok.Jti {
			t.Fatalf("second token %+v, %v: jti must be fresh", tok2, err)
		}
		bot, err := f.e.CreateAPIToken(ctx, f.admin, "chatops", f.viewer.UserID, 24*time.Hour,
			[]string{delivery.ScopeActAs, delivery.ScopeActAs})
		if err != nil {
			t.Fatalf("admin creating act-as token for another user: %v", err)
		}
		if bot.OwnerID != f.viewer.UserID || len(bot.Scopes) != 1 {
			t.Errorf("bot token %+v", bot)
		}
		last := lastAudit(t, f)
		if last.Action != "token.create" || !strings.Contains(last.After, `"owner":"vera"`) ||
			strings.Contains(last.After, bot.Jti) {
			t.Errorf("audit %+v", last)
		}

		before := f.counts(t)
		cases := []struct {
			name      string
			tokName   string
			expiresIn time.Duration
			scopes    []string
			want      string
		}{
			{"no name", " ", time.Hour, nil, "name: is required"},
			{"long name", strings.Repeat("n", 201), time.Hour, nil, "name: "},
			{"control name", "a\x07", time.Hour, nil, "name: "},
			{"zero lifetime", "x", 0, nil, "expiresIn: must be positive"},
			{"negative lifetime", "x", -time.Hour, nil, "expiresIn: must be positive"},
			{"over a year", "x", 366 * 24 * time.Hour, nil, "expiresIn: is longer than the maximum of 365 days"},
			{"unknown scope", "x", time.Hour, []string{"admin"}, `scopes[0]: "admin" is not a known scope`},
			{"empty scope", "x", time.Hour, []string{delivery.ScopeActAs, ""}, "scopes[1]: "},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := f.e.CreateAPIToken(ctx, f.admin, c.tokName, 0, c.expiresIn, c.scopes)
				f.expectRefused(t, before, err, delivery.CodeInvalidInput, c.want)
			})
		}
		_, err = f.e.CreateAPIToken(ctx, f.admin, "x", 999999, time.Hour, nil)
		f.expectRefused(t, before, err, delivery.CodeNotFound, "user 999999")
		_, err = f.e.CreateAPIToken(ctx, delivery.SystemActor("timer"), "x", 0, time.Hour, nil)
		f.expectRefused(t, before, err, delivery.CodeInvalidInput, "ownerId")

		// Revocation: the owner may, twice without a second audit record;
		// another non-admin may not; an admin may.
		_, err = f.e.RevokeAPIToken(ctx, f.viewer, tok.ID)
		f.expectRefused(t, before, err, delivery.CodeForbidden, "another user's token")
		r, err := f.e.RevokeAPIToken(ctx, f.editor, tok.ID)
		if err != nil || r.RevokedAt == nil || !r.RevokedAt.Equal(idT0) {
			t.Fatalf("RevokeAPIToken = %+v, %v", r, err)
		}
		n := f.counts(t)
		f.clk.Advance(time.Hour)
		r2, err := f.e.RevokeAPIToken(ctx, f.editor, tok.ID)
		if err != nil || !r2.RevokedAt.Equal(idT0) {
			t.Fatalf("revoking again = %+v, %v", r2, err)
		}
		if f.counts(t) != n {
			t.Error("revoking twice wrote an audit record")
		}
		if _, err := f.e.RevokeAPIToken(ctx, f.admin, tok2.ID); err != nil {
			t.Fatalf("admin revoking: %v", err)
		}
		if last := lastAudit(t, f); last.Action != "token.revoke" || !strings.Contains(last.After, `"revoked":true`) {
			t.Errorf("audit %+v", last)
		}
		if _, err := f.e.RevokeAPIToken(ctx, f.admin, 999999); delivery.CodeOf(err) != delivery.CodeNotFound {
			t.Errorf("unknown token: %v", err)
		}
		// Disabled users get no new tokens.
		if _, err := f.e.DisableUser(ctx, f.admin, f.viewer.UserID); err != nil {
			t.Fatal(err)
		}
		before = f.counts(t)
		_, err = f.e.CreateAPIToken(ctx, f.admin, "x", f.viewer.UserID, time.Hour, nil)
		f.expectRefused(t, before, err, delivery.CodeConflict, "disabled")
	})
}

func TestPrincipalForToken(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newIDFixture(t, db)
		tok, err := f.e.CreateAPIToken(ctx, f.admin, "bot", f.editor.UserID, 2*time.Hour, []string{delivery.ScopeActAs})
		if err != nil {
			t.Fatal(err)
		}
		a, err := f.e.PrincipalForToken(ctx, tok.Jti, time.Time{})
		if err != nil {
			t.Fatalf("PrincipalForToken: %v", err)
		}
		if a.UserID != f.editor.UserID || a.Username != "eddie" || a.Role != delivery.RoleEditor ||
			a.TokenID != tok.Jti || !a.HasScope(delivery.ScopeActAs) || a.System {
			t.Errorf("actor %+v", a)
		}
		lastUsed := func() time.Time {
			t.Helper()
			got := db.Client.ApiToken.GetX(ctx, tok.ID)
			if got.LastUsedAt == nil {
				t.Fatal("last_used_at not recorded")
			}
			return got.LastUsedAt.UTC()
		}
		if got := lastUsed(); !got.Equal(idT0) {
			t.Errorf("last used %v, want %v", got, idT0)
		}
		if _, err := f.e.PrincipalForToken(ctx, tok.Jti, idT0.Add(30*time.Second)); err != nil {
			t.Fatal(err)
		}
		if got := lastUsed(); !got.Equal(idT0) {
			t.Errorf("last used updated within a minute: %v", got)
		}
		if _, err := f.e.PrincipalForToken(ctx, tok.Jti, idT0.Add(90*time.Second)); err != nil {
			t.Fatal(err)
		}
		if got := lastUsed(); !got.Equal(idT0.Add(90 * time.Second)) {
			t.Errorf("last used %v after a minute and a half", got)
		}

		// The owner's current role counts, not the one at issue time.
		if _, err := f.e.UpdateUser(ctx, f.admin, f.editor.UserID, delivery.UserPatch{Role: ptr(delivery.RoleViewer)}); err != nil {
			t.Fatal(err)
		}
		if a, err := f.e.PrincipalForToken(ctx, tok.Jti, time.Time{}); err != nil || a.Role != delivery.RoleViewer {
			t.Errorf("after demotion: %+v, %v", a, err)
		}

		refused := func(jti string, now time.Time, want string) {
			t.Helper()
			_, err := f.e.PrincipalForToken(ctx, jti, now)
			if delivery.CodeOf(err) != delivery.CodeUnauthenticated || !errors.Is(err, delivery.ErrUnauthenticated) {
				t.Fatalf("PrincipalForToken(%q) = %v, want UNAUTHENTICATED", jti, err)
			}
			if err.Error() != want {
				t.Errorf("message %q, want %q", err, want)
			}
		}
		refused("", time.Time{}, "unknown token")
		refused("00000000000000000000000000000000", time.Time{}, "unknown token")
		refused("' OR '1'='1", time.Time{}, "unknown token")
		refused(tok.Jti, idT0.Add(2*time.Hour), "token expired")
		f.clk.Advance(3 * time.Hour)
		refused(tok.Jti, time.Time{}, "token expired")

		tok2, err := f.e.CreateAPIToken(ctx, f.viewer, "cli", 0, time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.PrincipalForToken(ctx, tok2.Jti, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.DisableUser(ctx, f.admin, f.viewer.UserID); err != nil {
			t.Fatal(err)
		}
		refused(tok2.Jti, time.Time{}, "user disabled")
		if _, err := f.e.UpdateUser(ctx, f.admin, f.viewer.UserID, delivery.UserPatch{Disabled: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.RevokeAPIToken(ctx, f.viewer, tok2.ID); err != nil {
			t.Fatal(err)
		}
		refused(tok2.Jti, time.Time{}, "token revoked")
	})
}

func lastAudit(t *testing.T, f *idFixture) *ent.AuditEvent {
	t.Helper()
	ev, err := f.db.Client.AuditEvent.Query().Order(ent.Desc("sequence")).First(context.Background())
	if err != nil {
		t.Fatalf("reading last audit event: %v", err)
	}
	return ev
}
