package graph_test

import (
	"context"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/notification"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/graph"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// seedApprovalWithNotifications creates an approval and three outbox rows:
// two for it (one SENT, one FAILED) and one for another approval.
func seedApprovalWithNotifications(t *testing.T, c *ent.Client) (*ent.Approval, *ent.Approval) {
	t.Helper()
	ctx := context.Background()
	def := c.ReleaseDefinition.Create().SetName("web").SaveX(ctx)
	rel := c.Release.Create().SetName("R-1").SetNumber(1).SetDefinitionRevision(1).
		SetSnapshot(spec.DefinitionSnapshot{}).SetReason(release.ReasonMANUAL).SetCreatedBy("alice").
		SetDefinitionID(def.ID).SaveX(ctx)
	re := c.ReleaseEnvironment.Create().SetName("prod").SetRank(1).SetReleaseID(rel.ID).SetDefinitionID(def.ID).SaveX(ctx)
	dep := c.Deployment.Create().SetAttempt(1).SetOperation("DEPLOY").SetRequestedBy("alice").
		SetEnvironmentName("prod").SetReleaseID(rel.ID).SetReleaseEnvironmentID(re.ID).SetDefinitionID(def.ID).SaveX(ctx)
	a := c.Approval.Create().SetStage("PRE").SetApproverKind("GROUP").SetApprover("ops").
		SetDeploymentID(dep.ID).SetReleaseID(rel.ID).SaveX(ctx)
	other := c.Approval.Create().SetStage("POST").SetApproverKind("USER").SetApprover("bob").
		SetDeploymentID(dep.ID).SetReleaseID(rel.ID).SaveX(ctx)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	c.Notification.Create().SetChannel(notification.ChannelEMAIL).SetRecipient("bob@example.com").
		SetStatus(notification.StatusSENT).SetAttempts(1).SetSentAt(t0).SetApprovalID(a.ID).
		SetCreatedAt(t0).ExecX(ctx)
	c.Notification.Create().SetChannel(notification.ChannelEMAIL).SetRecipient("carol@example.com").
		SetStatus(notification.StatusFAILED).SetAttempts(10).SetLastError("451 mailbox busy").
		SetApprovalID(a.ID).SetCreatedAt(t0.Add(time.Minute)).ExecX(ctx)
	c.Notification.Create().SetChannel(notification.ChannelEMAIL).SetRecipient("bob@example.com").
		SetApprovalID(other.ID).SetCreatedAt(t0.Add(2 * time.Minute)).ExecX(ctx)
	return a, other
}

func TestNotificationsQuery(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		seedApprovalWithNotifications(t, db.Client)
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect})
		srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Engine: e}}))
		srv.AddTransport(transport.POST{})
		gql := client.New(srv)

		type node struct {
			Recipient string
			Status    string
			Attempts  int
			LastError string
		}
		var resp struct {
			Notifications struct {
				TotalCount int
				Edges      []struct{ Node node }
			}
		}
		gql.MustPost(`query { notifications(first: 10) { totalCount edges { node { recipient status attempts lastError } } } }`, &resp)
		if n := resp.Notifications.TotalCount; n != 3 {
			t.Fatalf("totalCount = %d, want 3", n)
		}
		// Newest first by default.
		if got := resp.Notifications.Edges[0].Node; got.Status != "PENDING" {
			t.Fatalf("first row %+v, want the newest (PENDING)", got)
		}

		gql.MustPost(`query($w: NotificationWhereInput) { notifications(first: 10, where: $w) { totalCount edges { node { recipient status attempts lastError } } } }`,
			&resp, client.Var("w", map[string]any{"status": "FAILED"}))
		if resp.Notifications.TotalCount != 1 {
			t.Fatalf("FAILED rows = %d, want 1", resp.Notifications.TotalCount)
		}
		if got := resp.Notifications.Edges[0].Node; got != (node{"carol@example.com", "FAILED", 10, "451 mailbox busy"}) {
			t.Fatalf("failed row = %+v", got)
		}
	})
}

func TestApprovalNotificationsField(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		a, other := seedApprovalWithNotifications(t, db.Client)
		r := &graph.Resolver{Engine: delivery.New(db.Client, delivery.Options{Dialect: db.Dialect})}
		ns, err := r.Approval().Notifications(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		if len(ns) != 2 || ns[0].Recipient != "bob@example.com" || ns[1].Status != notification.StatusFAILED {
			t.Fatalf("approval %d notifications = %v", a.ID, ns)
		}
		ns, err = r.Approval().Notifications(context.Background(), other)
		if err != nil || len(ns) != 1 {
			t.Fatalf("approval %d notifications = %v, %v", other.ID, ns, err)
		}
	})
}
