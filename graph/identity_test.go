package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/graph"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

const (
	secretValue  = "s3cr3t-value"
	webhookValue = "w3bh00k-value"
)

// fakeIssuer signs nothing: it returns a recognisable string so the test can
// check that the token is returned once and stored nowhere.
type fakeIssuer struct{}

func (fakeIssuer) IssueAPIToken(subject, jti string, expires time.Time, scopes []string) (string, error) {
	return fmt.Sprintf("signed-token.%s.%s.%d.%s", subject, jti, expires.Unix(), strings.Join(scopes, ",")), nil
}

// apiClient posts GraphQL requests to an in-process server as one actor.
type apiClient struct {
	t   *testing.T
	url string
	// bodies collects every response, to search for leaked secrets.
	bodies *[]string
}

func newAPI(t *testing.T, db *storage.DB) (*delivery.Engine, func(delivery.Actor) apiClient) {
	t.Helper()
	box, err := delivery.NewSecretBox(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Secrets: box})
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Engine: e, Tokens: fakeIssuer{}}}))
	srv.AddTransport(transport.POST{})
	var bodies []string
	return e, func(a delivery.Actor) apiClient {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			srv.ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), a)))
		}))
		t.Cleanup(ts.Close)
		return apiClient{t: t, url: ts.URL, bodies: &bodies}
	}
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

// do runs query and decodes data into out; it fails on GraphQL errors.
func (c apiClient) do(query string, vars map[string]any, out any) {
	c.t.Helper()
	resp := c.raw(query, vars)
	if len(resp.Errors) > 0 {
		c.t.Fatalf("GraphQL errors: %+v", resp.Errors)
	}
	if err := json.Unmarshal(resp.Data, out); err != nil {
		c.t.Fatalf("decoding %s: %v", resp.Data, err)
	}
}

func (c apiClient) raw(query string, vars map[string]any) gqlResponse {
	c.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	res, err := http.Post(c.url, "application/json", bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	*c.bodies = append(*c.bodies, string(b))
	var out gqlResponse
	if err := json.Unmarshal(b, &out); err != nil {
		c.t.Fatalf("decoding response %s: %v", b, err)
	}
	return out
}

const connectionFields = `id createdAt updatedAt name kind url username hasSecret hasWebhookSecret`

func TestGraphQLIdentityNeverReturnsSecrets(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e, as := newAPI(t, db)
		root, err := e.EnsureAdmin(ctx, "root")
		if err != nil {
			t.Fatal(err)
		}
		admin := as(delivery.Actor{UserID: root.ID, Username: "root", Role: delivery.RoleAdmin})

		var created struct {
			CreateServiceConnection map[string]any `json:"createServiceConnection"`
		}
		admin.do(`mutation($in: NewServiceConnectionInput!) { createServiceConnection(input: $in) { `+connectionFields+` } }`,
			map[string]any{"in": map[string]any{
				"name": "jenkins", "kind": "JENKINS", "url": "https://ci.example.com", "username": "deploy",
				"secret": secretValue, "webhookSecret": webhookValue,
			}}, &created)
		c := created.CreateServiceConnection
		if c["hasSecret"] != true || c["hasWebhookSecret"] != true || c["username"] != "deploy" {
			t.Fatalf("created %+v", c)
		}
		id := c["id"]

		var upd struct {
			UpdateServiceConnection map[string]any `json:"updateServiceConnection"`
		}
		admin.do(`mutation($id: ID!) { updateServiceConnection(id: $id, input: {webhookSecret: "", name: "jenkins-prod"}) { `+connectionFields+` } }`,
			map[string]any{"id": id}, &upd)
		if upd.UpdateServiceConnection["hasSecret"] != true || upd.UpdateServiceConnection["hasWebhookSecret"] != false {
			t.Errorf("updated %+v", upd.UpdateServiceConnection)
		}

		// An EDITOR may list connections; the list shows whether secrets
		// exist, also when hasSecret is the only field asked for.
		editor := as(delivery.Actor{UserID: root.ID, Username: "ed", Role: delivery.RoleEditor})
		var list struct {
			ServiceConnections struct {
				TotalCount int
				Edges      []struct{ Node map[string]any }
			} `json:"serviceConnections"`
		}
		editor.do(`{ serviceConnections(first: 10) { totalCount edges { node { `+connectionFields+` } } } }`, nil, &list)
		if list.ServiceConnections.TotalCount != 1 || list.ServiceConnections.Edges[0].Node["hasSecret"] != true {
			t.Errorf("list %+v", list)
		}
		editor.do(`{ serviceConnections { edges { node { hasSecret } } } }`, nil, &list)
		if list.ServiceConnections.Edges[0].Node["hasSecret"] != true {
			t.Errorf("hasSecret alone: %+v", list)
		}

		var tok struct {
			CreateAPIToken struct {
				Token    string
				APIToken struct {
					ID        string
					Jti       string
					Name      string
					ExpiresAt time.Time
					Owner     struct{ Username string }
				} `json:"apiToken"`
			} `json:"createApiToken"`
		}
		admin.do(`mutation { createApiToken(input: {name: "ci", expiresInDays: 7, scopes: ["act-as"]}) {
			token apiToken { id jti name expiresAt owner { username } } } }`, nil, &tok)
		ct := tok.CreateAPIToken
		if !strings.HasPrefix(ct.Token, "signed-token.root."+ct.APIToken.Jti+".") || !strings.HasSuffix(ct.Token, ".act-as") ||
			ct.APIToken.Owner.Username != "root" || time.Until(ct.APIToken.ExpiresAt) < 6*24*time.Hour {
			t.Errorf("created token %+v", ct)
		}
		var mine struct {
			MyAPITokens []struct{ ID, Name string } `json:"myApiTokens"`
		}
		admin.do(`{ myApiTokens { id name } }`, nil, &mine)
		if len(mine.MyAPITokens) != 1 || mine.MyAPITokens[0].ID != ct.APIToken.ID {
			t.Errorf("myApiTokens %+v", mine)
		}
		var rev struct {
			RevokeAPIToken struct{ RevokedAt *time.Time } `json:"revokeApiToken"`
		}
		admin.do(`mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }`, map[string]any{"id": ct.APIToken.ID}, &rev)
		if rev.RevokeAPIToken.RevokedAt == nil {
			t.Error("not revoked")
		}

		// Validation errors reach the client with their message.
		bad := admin.raw(`mutation { createUser(input: {username: "Bad Name"}) { id } }`, nil)
		if len(bad.Errors) != 1 || !strings.Contains(bad.Errors[0].Message, "not a valid username") {
			t.Errorf("bad username: %+v", bad.Errors)
		}
		bad = admin.raw(`mutation { createApiToken(input: {name: "x", expiresInDays: 0}) { token } }`, nil)
		if len(bad.Errors) != 1 || !strings.Contains(bad.Errors[0].Message, "must be positive") {
			t.Errorf("zero days: %+v", bad.Errors)
		}
		for _, n := range []int{2000000000, -2147483648, 366} {
			bad = admin.raw(`mutation($n: Int!) { createApiToken(input: {name: "x", expiresInDays: $n}) { token } }`, map[string]any{"n": n})
			if len(bad.Errors) != 1 || !strings.Contains(bad.Errors[0].Message, "expiresIn: ") {
				t.Errorf("%d days: %+v", n, bad.Errors)
			}
		}
		viewer := as(delivery.Actor{UserID: root.ID, Username: "vee", Role: delivery.RoleViewer})
		bad = viewer.raw(`mutation { createServiceConnection(input: {name: "x", kind: JENKINS, url: "https://x.example.com", secret: "s3cr3t-value"}) { id } }`, nil)
		if len(bad.Errors) != 1 || !strings.Contains(bad.Errors[0].Message, "requires role ADMIN") {
			t.Errorf("viewer creating a connection: %+v", bad.Errors)
		}

		var audit struct {
			AuditEvents struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						Sequence                                  int
						Action, Actor, TargetType, TargetID       string
						Before, After, PrevHash, Hash, OnBehalfOf string
					}
				}
			} `json:"auditEvents"`
		}
		admin.do(`{ auditEvents(first: 50) { totalCount edges { node {
			id sequence time actor onBehalfOf action targetType targetID before after prevHash hash } } } }`, nil, &audit)
		if audit.AuditEvents.TotalCount != 5 || audit.AuditEvents.Edges[0].Node.Action != "token.revoke" ||
			audit.AuditEvents.Edges[0].Node.Sequence != 5 {
			t.Errorf("audit events (newest first): %+v", audit)
		}
		admin.do(`{ auditEvents(where: {targetType: "serviceConnection", actor: "root"}) { totalCount edges { node { action } } } }`, nil, &audit)
		if audit.AuditEvents.TotalCount != 2 {
			t.Errorf("filtered audit events: %+v", audit)
		}
		var chain struct {
			VerifyAuditChain struct {
				Checked  int
				OK       bool `json:"ok"`
				BrokenAt *int64
				Problem  *string
			} `json:"verifyAuditChain"`
		}
		admin.do(`{ verifyAuditChain { checked ok brokenAt problem } }`, nil, &chain)
		if !chain.VerifyAuditChain.OK || chain.VerifyAuditChain.Checked != 5 || chain.VerifyAuditChain.BrokenAt != nil {
			t.Errorf("chain %+v", chain)
		}

		for i, body := range *admin.bodies {
			for _, s := range []string{secretValue, webhookValue} {
				if strings.Contains(body, s) {
					t.Errorf("response %d contains secret %q: %s", i, s, body)
				}
			}
		}
		// The signed token appears in exactly one response and nowhere in the database.
		seen := 0
		for _, body := range *admin.bodies {
			if strings.Contains(body, ct.Token) {
				seen++
			}
		}
		if seen != 1 {
			t.Errorf("token returned %d times, want once", seen)
		}
		for _, q := range []string{
			"SELECT COUNT(*) FROM audit_events WHERE before LIKE '%signed-token%' OR after LIKE '%signed-token%'",
			"SELECT COUNT(*) FROM api_tokens WHERE name LIKE '%signed-token%' OR jti LIKE '%signed-token%'",
		} {
			var n int
			if err := db.SQL.QueryRow(q).Scan(&n); err != nil || n != 0 {
				t.Errorf("%s = %d, %v", q, n, err)
			}
		}
	})
}
