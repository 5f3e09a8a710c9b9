package delivery_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

const (
	plainSecret  = "s3cr3t-value"
	plainWebhook = "w3bh00k-value"
)

// rawSecrets reads the stored bytes of a connection's secret columns.
func rawSecrets(t *testing.T, db *storage.DB, id int) (secret, webhook []byte) {
	t.Helper()
	row := db.SQL.QueryRow(fmt.Sprintf(
		"SELECT secret_encrypted, webhook_secret_encrypted FROM service_connections WHERE id = %d", id))
	if err := row.Scan(&secret, &webhook); err != nil {
		t.Fatalf("reading raw secrets: %v", err)
	}
	return secret, webhook
}

// assertNoSecretInAudit fails if any audit row mentions a secret.
func assertNoSecretInAudit(t *testing.T, db *storage.DB, secrets ...string) {
	t.Helper()
	rows, err := db.SQL.Query("SELECT sequence, action, before, after FROM audit_events")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var seq int64
		var action, before, after string
		if err := rows.Scan(&seq, &action, &before, &after); err != nil {
			t.Fatal(err)
		}
		n++
		for _, s := range secrets {
			if strings.Contains(before+after, s) {
				t.Errorf("audit event %d (%s) contains a secret: %s → %s", seq, action, before, after)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no audit events to check")
	}
}

func TestConnections(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newIDFixture(t, db)
		c, err := f.e.CreateConnection(ctx, f.admin, delivery.ConnectionInput{
			Name: "Jenkins prod", Kind: "JENKINS", URL: "https://jenkins.example.com/",
			Username: "deployer", Secret: ptr(plainSecret), WebhookSecret: ptr(plainWebhook),
		})
		if err != nil {
			t.Fatalf("CreateConnection: %v", err)
		}
		secret, webhook := rawSecrets(t, db, c.ID)
		if len(secret) == 0 || len(webhook) == 0 {
			t.Fatal("secrets not stored")
		}
		if bytes.Contains(secret, []byte(plainSecret)) || bytes.Contains(webhook, []byte(plainWebhook)) {
			t.Error("a secret is stored in clear")
		}
		user, s, w, err := f.e.ConnectionSecrets(ctx, c.ID)
		if err != nil || user != "deployer" || s != plainSecret || w != plainWebhook {
			t.Fatalf("ConnectionSecrets = %q %q %q %v", user, s, w, err)
		}
		if last := lastAudit(t, f); last.Action != "connection.create" ||
			!strings.Contains(last.After, `"hasSecret":true`) || !strings.Contains(last.After, `"hasWebhookSecret":true`) {
			t.Errorf("audit %+v", last)
		}

		// nil keeps, a new value replaces, empty clears.
		c, err = f.e.UpdateConnection(ctx, f.admin, c.ID, delivery.ConnectionPatch{URL: ptr("http://jenkins.internal:8080/ci")})
		if err != nil || c.URL != "http://jenkins.internal:8080/ci" {
			t.Fatalf("UpdateConnection = %+v, %v", c, err)
		}
		if _, s, w, _ := f.e.ConnectionSecrets(ctx, c.ID); s != plainSecret || w != plainWebhook {
			t.Errorf("nil patch lost secrets: %q %q", s, w)
		}
		if _, err := f.e.UpdateConnection(ctx, f.admin, c.ID, delivery.ConnectionPatch{
			Secret: ptr(plainSecret + "-2"), WebhookSecret: ptr(""),
		}); err != nil {
			t.Fatal(err)
		}
		if _, s, w, _ := f.e.ConnectionSecrets(ctx, c.ID); s != plainSecret+"-2" || w != "" {
			t.Errorf("after rotate and clear: %q %q", s, w)
		}
		if _, webhook := rawSecrets(t, db, c.ID); len(webhook) != 0 {
			t.Errorf("cleared webhook secret still stored: %x", webhook)
		}
		if last := lastAudit(t, f); !strings.Contains(last.Before, `"hasWebhookSecret":true`) ||
			!strings.Contains(last.After, `"hasWebhookSecret":false`) {
			t.Errorf("audit %+v", last)
		}

		before := f.counts(t)
		_, err = f.e.CreateConnection(ctx, f.admin, delivery.ConnectionInput{Name: "Jenkins prod", Kind: "JENKINS", URL: "https://x.example.com"})
		f.expectRefused(t, before, err, delivery.CodeConflict, "taken")
		bad := []struct {
			name string
			in   delivery.ConnectionInput
			want string
		}{
			{"no name", delivery.ConnectionInput{Kind: "JENKINS", URL: "https://x.example.com"}, "name: is required"},
			{"control name", delivery.ConnectionInput{Name: "a\x00b", Kind: "JENKINS", URL: "https://x.example.com"}, "name: "},
			{"kind", delivery.ConnectionInput{Name: "x", Kind: "GITLAB", URL: "https://x.example.com"}, `kind: "GITLAB" is not a connection kind`},
			{"no url", delivery.ConnectionInput{Name: "x", Kind: "JENKINS"}, "url: "},
			{"relative url", delivery.ConnectionInput{Name: "x", Kind: "JENKINS", URL: "/jenkins"}, "url: "},
			{"ftp url", delivery.ConnectionInput{Name: "x", Kind: "JENKINS", URL: "ftp://x.example.com"}, "url: "},
			{"javascript url", delivery.ConnectionInput{Name: "x", Kind: "JENKINS", URL: "javascript:alert(1)"}, "url: "},
			{"no host", delivery.ConnectionInput{Name: "x", Kind: "JENKINS", URL: "https:///path"}, "url: "},
			{"credentials in url", delivery.ConnectionInput{Name: "x", Kind: "AZURE_DEVOPS", URL: "https://u:" + plainSecret + "@dev.azure.com/org"}, "url: must not contain credentials"},
			{"query", delivery.ConnectionInput{Name: "x", Kind: "JENKINS", URL: "https://x.example.com/?token=1"}, "url: "},
			{"huge secret", delivery.ConnectionInput{Name: "x", Kind: "JENKINS", URL: "https://x.example.com", Secret: ptr(strings.Repeat("s", 5000))}, "secret: "},
			{"username control", delivery.ConnectionInput{Name: "x", Kind: "JENKINS", URL: "https://x.example.com", Username: "a\nb"}, "username: "},
		}
		for _, b := range bad {
			t.Run(b.name, func(t *testing.T) {
				_, err := f.e.CreateConnection(ctx, f.admin, b.in)
				f.expectRefused(t, before, err, delivery.CodeInvalidInput, b.want)
			})
		}
		_, err = f.e.UpdateConnection(ctx, f.admin, c.ID, delivery.ConnectionPatch{URL: ptr("not a url")})
		f.expectRefused(t, before, err, delivery.CodeInvalidInput, "url: ")
		_, err = f.e.UpdateConnection(ctx, f.admin, 999999, delivery.ConnectionPatch{})
		f.expectRefused(t, before, err, delivery.CodeNotFound, "service connection 999999")

		// In use by an artifact source: cannot be deleted.
		def := db.Client.ReleaseDefinition.Create().SetName("web").SaveX(ctx)
		src := db.Client.ArtifactSource.Create().SetAlias("app").SetType("JENKINS").SetJob("app/main").
			SetDefinitionID(def.ID).SetConnectionID(c.ID).SaveX(ctx)
		err = f.e.DeleteConnection(ctx, f.admin, c.ID)
		f.expectRefused(t, before, err, delivery.CodeConflict, "used by 1 artifact sources")
		db.Client.ArtifactSource.DeleteOne(src).ExecX(ctx)
		if err := f.e.DeleteConnection(ctx, f.admin, c.ID); err != nil {
			t.Fatalf("DeleteConnection: %v", err)
		}
		if last := lastAudit(t, f); last.Action != "connection.delete" || !strings.Contains(last.Before, `"hasSecret":true`) {
			t.Errorf("audit %+v", last)
		}
		if _, _, _, err := f.e.ConnectionSecrets(ctx, c.ID); delivery.CodeOf(err) != delivery.CodeNotFound {
			t.Errorf("secrets of a deleted connection: %v", err)
		}
		assertNoSecretInAudit(t, db, plainSecret, plainWebhook)
	})
}

func TestConnectionWithoutSecretBox(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	ctx := context.Background()
	e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect})
	admin := delivery.SystemActor("test")
	if _, err := e.CreateConnection(ctx, admin, delivery.ConnectionInput{Name: "plain", Kind: "JENKINS", URL: "https://x.example.com"}); err != nil {
		t.Fatalf("a connection without secrets needs no key: %v", err)
	}
	_, err := e.CreateConnection(ctx, admin, delivery.ConnectionInput{Name: "s", Kind: "JENKINS", URL: "https://x.example.com", Secret: ptr("x")})
	if err == nil || delivery.CodeOf(err) != delivery.CodeInternal || !strings.Contains(err.Error(), "no secret key") {
		t.Fatalf("sealing without a key: %v", err)
	}
}

// auditSeries runs a series of audited mutations of every kind.
func auditSeries(t *testing.T, f *idFixture) {
	t.Helper()
	ctx := context.Background()
	u := f.mustUser(t, "alice", delivery.RoleViewer)
	g, err := f.e.CreateGroup(ctx, f.admin, delivery.GroupInput{Name: "qa"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.AddGroupMember(ctx, f.admin, g.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Minute)
	tok, err := f.e.CreateAPIToken(ctx, f.admin, "alice ci", u.ID, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.RevokeAPIToken(ctx, f.admin, tok.ID); err != nil {
		t.Fatal(err)
	}
	c, err := f.e.CreateConnection(ctx, f.admin, delivery.ConnectionInput{
		Name: "tfs", Kind: "AZURE_DEVOPS", URL: "https://tfs.example.com/tfs", Secret: ptr(plainSecret),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.UpdateConnection(ctx, f.admin, c.ID, delivery.ConnectionPatch{Username: ptr("svc")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.DisableUser(ctx, f.admin, u.ID); err != nil {
		t.Fatal(err)
	}
}

func TestAuditChain(t *testing.T) {
	tamper := []struct {
		name    string
		sql     string
		at      int64
		problem string
	}{
		{"edited after", `UPDATE audit_events SET "after" = '{"role":"ADMIN"}' WHERE sequence = 4`, 4, "edited"},
		{"edited actor", `UPDATE audit_events SET actor = 'nobody' WHERE sequence = 2`, 2, "edited"},
		{"deleted row", `DELETE FROM audit_events WHERE sequence = 5`, 5, "event 5 is missing"},
		{"prev_hash", `UPDATE audit_events SET prev_hash = 'abc' WHERE sequence = 3`, 3, "prev_hash"},
		{"rehashed edit", `UPDATE audit_events SET "after" = '{}', hash = prev_hash WHERE sequence = 6`, 6, "edited"},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newIDFixture(t, db)
		auditSeries(t, f)
		rep, err := f.e.VerifyAuditChain(ctx, f.admin)
		if err != nil || !rep.OK || rep.Checked != f.counts(t).audit || rep.Checked < 10 {
			t.Fatalf("VerifyAuditChain = %+v, %v; want OK over all %d events", rep, err, f.counts(t).audit)
		}
		assertNoSecretInAudit(t, db, plainSecret)
	})
	for _, tc := range tamper {
		t.Run(tc.name, func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				ctx := context.Background()
				f := newIDFixture(t, db)
				auditSeries(t, f)
				if _, err := db.SQL.Exec(tc.sql); err != nil {
					t.Fatalf("tampering: %v", err)
				}
				rep, err := f.e.VerifyAuditChain(ctx, f.admin)
				if err != nil {
					t.Fatal(err)
				}
				if rep.OK || rep.BrokenAt != tc.at || !strings.Contains(rep.Problem, tc.problem) {
					t.Errorf("report %+v, want broken at %d with %q", rep, tc.at, tc.problem)
				}
				if rep.Checked != int(tc.at-1) {
					t.Errorf("checked %d, want %d", rep.Checked, tc.at-1)
				}
			})
		})
	}
}
