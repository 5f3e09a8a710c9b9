package graph

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
)

// tokenOwners answers PrincipalForToken with err, or alice.
type tokenOwners struct{ err error }

func (p tokenOwners) PrincipalForToken(context.Context, string) (delivery.Actor, error) {
	if p.err != nil {
		return delivery.Actor{}, p.err
	}
	return delivery.Actor{Username: "alice", Role: delivery.RoleViewer}, nil
}

// TestWebsocketInitTellsRefusalFromFailure: over a real websocket, a refused
// credential closes the connection with 4403 (clients stop), one that could
// not be checked (the database failed) with 1011 (clients reconnect), and a
// good one is acknowledged.
func TestWebsocketInitTellsRefusalFromFailure(t *testing.T) {
	keys, err := auth.NewKeys(make([]byte, 32), "test", time.Now)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := keys.IssueAPIToken("alice", "jti-1", time.Now().Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		owners tokenOwners
		creds  string
		code   websocket.StatusCode // 0: accepted
	}{
		{"accepted", tokenOwners{}, "Bearer " + tok, 0},
		{"bad token", tokenOwners{}, "Bearer nope", CloseForbidden},
		{"revoked", tokenOwners{err: &delivery.Error{Code: delivery.CodeUnauthenticated, Message: "token revoked"}}, "Bearer " + tok, CloseForbidden},
		{"database down", tokenOwners{err: errors.New("sql: database is closed")}, "Bearer " + tok, CloseUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := NewHandler(&Resolver{}, Options{Authenticator: &auth.Authenticator{Keys: keys, Principals: c.owners}})
			srv := httptest.NewServer(h)
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.CloseNow()
			init, _ := json.Marshal(map[string]any{"type": "connection_init", "payload": map[string]string{"authorization": c.creds}})
			if err := conn.Write(ctx, websocket.MessageText, init); err != nil {
				t.Fatal(err)
			}
			for {
				_, data, err := conn.Read(ctx)
				if err != nil {
					if got := websocket.CloseStatus(err); got != c.code || c.code == 0 {
						t.Fatalf("closed with %d (%v), want %d", got, err, c.code)
					}
					return
				}
				var m struct{ Type string }
				_ = json.Unmarshal(data, &m)
				if m.Type == "connection_ack" {
					if c.code != 0 {
						t.Fatalf("acknowledged, want close %d", c.code)
					}
					return
				}
			}
		})
	}
}
