package server_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
)

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// dig walks nested JSON objects by key.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// registerAgent creates an agent the way a real one is created: a
// registration token, exchanged once (the adapters' client is read-only).
func registerAgent(t *testing.T, e *delivery.Engine, name string) *ent.Agent {
	t.Helper()
	ctx := t.Context()
	tok, _, err := e.CreateAgentRegistration(ctx, delivery.SystemActor("test"), "", 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := e.RegisterAgent(ctx, tok, delivery.RegisterAgentInput{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return a
}
