package delivery_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// newSessionFixture is an identity fixture whose engine hashes passwords with
// (cheap) argon2id.
func newSessionFixture(t *testing.T, db *storage.DB) *idFixture {
	t.Helper()
	box, err := delivery.NewSecretBox([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	f := newIDFixture(t, db)
	f.e = delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: f.clk, Secrets: box,
		Passwords: auth.Argon2id{MemoryKiB: 64, Iterations: 1}})
	return f
}

const goodPassword = "correct horse battery"

func TestPasswordsAndSessions(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newSessionFixture(t, db)

		// Only an ADMIN sets passwords; bad passwords are refused and write nothing.
		if _, err := f.e.SetPassword(ctx, f.editor, f.viewer.UserID, goodPassword); delivery.CodeOf(err) != delivery.CodeForbidden {
			t.Fatalf("an EDITOR set a password: %v", err)
		}
		for name, pw := range map[string]string{
			"short": "elevenchars", "control": "twelve chars\x00!", "huge": strings.Repeat("x", 2000), "not utf-8": "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4",
		} {
			if _, err := f.e.SetPassword(ctx, f.admin, f.viewer.UserID, pw); delivery.CodeOf(err) != delivery.CodeInvalidInput {
				t.Errorf("%s password: %v, want INVALID_INPUT", name, err)
			}
		}
		if _, err := f.e.SetPassword(ctx, f.admin, 999999, goodPassword); delivery.CodeOf(err) != delivery.CodeNotFound {
			t.Errorf("unknown user: %v", err)
		}
		u, err := f.e.SetPassword(ctx, f.admin, f.viewer.UserID, goodPassword)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$") || strings.Contains(u.PasswordHash, goodPassword) {
			t.Fatalf("stored hash %q", u.PasswordHash)
		}
		audit, err := db.Client.AuditEvent.Query().Where(auditevent.Action("user.setPassword")).Only(ctx)
		if err != nil || strings.Contains(audit.After, "argon2") || strings.Contains(audit.After, goodPassword) {
			t.Fatalf("audit of setPassword: %+v, %v", audit, err)
		}

		// Every failure is the same answer; a session's secret is not stored.
		for name, c := range map[string][2]string{
			"wrong password": {"vera", "wrong password!"}, "unknown user": {"nobody", goodPassword},
			"no password": {"eddie", goodPassword}, "hostile name": {"vera' OR 1=1 --", goodPassword},
			"huge password": {"vera", strings.Repeat("y", 5000)},
		} {
			_, _, err := f.e.Login(ctx, c[0], c[1], delivery.SessionMeta{})
			if delivery.CodeOf(err) != delivery.CodeUnauthenticated || err.Error() != "invalid username or password" {
				t.Errorf("%s: %v", name, err)
			}
		}
		s, secret, err := f.e.Login(ctx, " Vera ", goodPassword, delivery.SessionMeta{UserAgent: "test", RemoteAddr: "10.0.0.1", Lifetime: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if s.SecretHash == secret || len(secret) < 40 || !s.ExpiresAt.Equal(idT0.Add(time.Hour)) {
			t.Fatalf("session %+v, secret %q", s, secret)
		}
		a, err := f.e.PrincipalForSession(ctx, secret, time.Time{})
		if err != nil || a.Username != "vera" || a.SessionID != s.ID || a.Role != delivery.RoleViewer {
			t.Fatalf("PrincipalForSession = %+v, %v", a, err)
		}
		for name, sec := range map[string]string{"unknown": "nope", "empty": "", "huge": strings.Repeat("a", 5000)} {
			if _, err := f.e.PrincipalForSession(ctx, sec, time.Time{}); delivery.CodeOf(err) != delivery.CodeUnauthenticated {
				t.Errorf("%s secret: %v", name, err)
			}
		}
		if _, err := f.e.PrincipalForSession(ctx, secret, idT0.Add(time.Hour)); delivery.CodeOf(err) != delivery.CodeUnauthenticated {
			t.Errorf("an expired session authenticates: %v", err)
		}

		// Changing the password checks the current one and ends the other sessions only.
		_, other, err := f.e.Login(ctx, "vera", goodPassword, delivery.SessionMeta{})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.e.ChangePassword(ctx, a, "wrong password!", "another good password"); delivery.CodeOf(err) != delivery.CodeInvalidInput {
			t.Errorf("change with a wrong current password: %v", err)
		}
		if err := f.e.ChangePassword(ctx, a, goodPassword, "short"); delivery.CodeOf(err) != delivery.CodeInvalidInput {
			t.Errorf("change to a short password: %v", err)
		}
		if err := f.e.ChangePassword(ctx, a, goodPassword, "another good password"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.PrincipalForSession(ctx, secret, time.Time{}); err != nil {
			t.Errorf("the session that changed the password ended: %v", err)
		}
		if _, err := f.e.PrincipalForSession(ctx, other, time.Time{}); delivery.CodeOf(err) != delivery.CodeUnauthenticated {
			t.Errorf("another session survived the password change: %v", err)
		}
		if _, _, err := f.e.Login(ctx, "vera", goodPassword, delivery.SessionMeta{}); delivery.CodeOf(err) != delivery.CodeUnauthenticated {
			t.Errorf("the old password still signs in: %v", err)
		}

		// Sign-out ends the session; twice is harmless. Disabling the user ends all sessions.
		if err := f.e.Logout(ctx, secret); err != nil {
			t.Fatal(err)
		}
		if err := f.e.Logout(ctx, secret); err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.PrincipalForSession(ctx, secret, time.Time{}); delivery.CodeOf(err) != delivery.CodeUnauthenticated {
			t.Errorf("a signed-out session authenticates: %v", err)
		}
		_, third, err := f.e.Login(ctx, "vera", "another good password", delivery.SessionMeta{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.DisableUser(ctx, f.admin, f.viewer.UserID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.PrincipalForSession(ctx, third, time.Time{}); delivery.CodeOf(err) != delivery.CodeUnauthenticated {
			t.Errorf("a disabled user's session authenticates: %v", err)
		}
		if _, _, err := f.e.Login(ctx, "vera", "another good password", delivery.SessionMeta{}); delivery.CodeOf(err) != delivery.CodeUnauthenticated {
			t.Errorf("a disabled user signs in: %v", err)
		}
		n, err := db.Client.AuditEvent.Query().Where(auditevent.Action("user.login")).Count(ctx)
		if err != nil || n != 3 {
			t.Errorf("%d sign-ins audited, want 3 (%v)", n, err)
		}

		// Ended sessions stay a week for the record, then go; live ones stay.
		if _, err := f.e.SetPassword(ctx, f.admin, f.editor.UserID, goodPassword); err != nil {
			t.Fatal(err)
		}
		_, live, err := f.e.Login(ctx, "eddie", goodPassword, delivery.SessionMeta{Lifetime: delivery.MaxSessionLifetime})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := f.e.PruneSessions(ctx); err != nil || n != 0 {
			t.Fatalf("pruned %d fresh sessions (%v)", n, err)
		}
		f.clk.Advance(8 * 24 * time.Hour)
		if n, err := f.e.PruneSessions(ctx); err != nil || n != 3 {
			t.Errorf("pruned %d sessions after a week, want 3 (%v)", n, err)
		}
		if _, err := f.e.PrincipalForSession(ctx, live, time.Time{}); err != nil {
			t.Errorf("a live session was pruned: %v", err)
		}
	})
}

// TestLoginTakesAsLongForUnknownUsers: an unknown username, a user without a password and a
// disabled user each cost one full hash verification, as a wrong password does, so timing does
// not tell which usernames exist. The real argon2id hasher is wrapped to count what it
// verifies (a wall-clock comparison was flaky on a shared machine).
func TestLoginTakesAsLongForUnknownUsers(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	ctx := context.Background()
	box, _ := delivery.NewSecretBox([]byte("0123456789abcdef0123456789abcdef"))
	h := &countingHasher{real: auth.Argon2id{MemoryKiB: 8 * 1024, Iterations: 2}}
	e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Secrets: box, Passwords: h})
	admin, err := e.EnsureAdmin(ctx, "root")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetPassword(ctx, delivery.SystemActor("test"), admin.ID, goodPassword); err != nil {
		t.Fatal(err)
	}
	if err := db.Client.User.Create().SetUsername("nopass").SetRole("VIEWER").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	gone, err := db.Client.User.Create().SetUsername("gone").SetRole("VIEWER").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetPassword(ctx, delivery.SystemActor("test"), gone.ID, goodPassword); err != nil {
		t.Fatal(err)
	}
	if err := db.Client.User.UpdateOneID(gone.ID).SetDisabled(true).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"root", "nobody", "nopass", "gone"} {
		h.reset()
		if _, _, err := e.Login(ctx, user, "wrong password!", delivery.SessionMeta{}); err == nil {
			t.Fatalf("%s signed in with a wrong password", user)
		}
		verified, bad := h.counts()
		if verified != 1 || bad != 0 {
			t.Errorf("%s: %d full verifications (%d of malformed hashes), want 1 of a real hash", user, verified, bad)
		}
	}
}

// countingHasher is a real PasswordHasher that counts the verifications it runs, and those
// of hashes it could not read (which would return early, faster than a real check).
type countingHasher struct {
	real          delivery.PasswordHasher
	mu            sync.Mutex
	verified, bad int
}

func (c *countingHasher) HashPassword(p string) (string, error) { return c.real.HashPassword(p) }

func (c *countingHasher) VerifyPassword(hash, p string) (bool, error) {
	ok, err := c.real.VerifyPassword(hash, p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.verified++
	if err != nil {
		c.bad++
	}
	return ok, err
}

func (c *countingHasher) reset() { c.mu.Lock(); c.verified, c.bad = 0, 0; c.mu.Unlock() }

func (c *countingHasher) counts() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.verified, c.bad
}
