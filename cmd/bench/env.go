package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/cairnhq/cairn/agent"
	"github.com/cairnhq/cairn/delivery"
	entagent "github.com/cairnhq/cairn/ent/agent"
	"github.com/cairnhq/cairn/server"
)

// env is a server on an httptest listener with one real agent, in this process.
type env struct {
	srv   *server.Server
	http  *httptest.Server
	token string
	dir   string
	// databaseURL is empty for SQLite.
	databaseURL string
	stopAg      context.CancelFunc
	agentRun    chan error
	closed      bool
}

func startEnv(ctx context.Context, databaseURL string) (*env, error) {
	return startEnvWith(ctx, databaseURL, nil)
}

// startEnvWith is startEnv with configure (when not nil) applied to the server's configuration.
func startEnvWith(ctx context.Context, databaseURL string, configure func(*server.Config)) (*env, error) {
	dir, err := os.MkdirTemp("", "cairn-bench-")
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	cfg := server.Config{DataDir: dir, DatabaseURL: databaseURL, Logger: quiet}
	if configure != nil {
		configure(&cfg)
	}
	s, err := server.New(ctx, cfg)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.Start()
	e := &env{srv: s, http: httptest.NewServer(s.Handler()), dir: dir, databaseURL: databaseURL}
	sys := delivery.SystemActor("bench")
	admin, err := s.Engine.EnsureAdmin(ctx, "admin")
	if err != nil {
		e.close()
		return nil, err
	}
	row, err := s.Engine.CreateAPIToken(ctx, sys, "bench", admin.ID, 24*time.Hour, nil)
	if err != nil {
		e.close()
		return nil, err
	}
	if e.token, err = s.Keys.IssueAPIToken(admin.Username, row.Jti, row.ExpiresAt, nil); err != nil {
		e.close()
		return nil, err
	}
	reg, _, err := s.Engine.CreateAgentRegistration(ctx, sys, "", 1, 0)
	if err != nil {
		e.close()
		return nil, err
	}
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.stopAg, e.agentRun = cancel, make(chan error, 1)
	go func() {
		e.agentRun <- agent.Run(actx, agent.Config{Server: e.http.URL, Token: reg, Name: "bench",
			WorkDir: filepath.Join(dir, "agent"), Logger: quiet,
			Capabilities: map[string]string{"bench": "runner"}}) // the dispatch jobs demand it
	}()
	err = e.waitFor(ctx, func() bool {
		a, err := s.Engine.Client().Agent.Query().Where(entagent.Name("bench")).Only(ctx)
		return err == nil && a.Online
	})
	if err != nil {
		e.close()
		return nil, fmt.Errorf("waiting for the agent: %w", err)
	}
	return e, nil
}

func (e *env) close() {
	if e.closed {
		return
	}
	e.closed = true
	if e.stopAg != nil {
		e.stopAg()
		<-e.agentRun
	}
	e.http.Close()
	e.srv.Close()
	os.RemoveAll(e.dir)
}

// waitFor returns once check holds, re-checking on every event of the bus and every 50 ms (for
// changes that publish nothing), or fails after a minute.
func (e *env) waitFor(ctx context.Context, check func() bool) error {
	events, unsubscribe := e.srv.Events().Subscribe()
	defer func() { unsubscribe() }()
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !check() {
		select {
		case _, ok := <-events:
			if !ok {
				unsubscribe()
				events, unsubscribe = e.srv.Events().Subscribe()
			}
		case <-tick.C:
		case <-deadline.C:
			return errors.New("timed out")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// gql runs a GraphQL request as admin and decodes its data into out (when not nil).
func (e *env) gql(query string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", e.http.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("decoding %q: %w", raw, err)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("graphql: %s", r.Errors[0].Message)
	}
	if out != nil {
		return json.Unmarshal(r.Data, out)
	}
	return nil
}

// createDefinition creates a definition from a DefinitionInput literal and returns its id.
func (e *env) createDefinition(input string) (string, error) {
	var out struct {
		CreateDefinition struct{ ID string } `json:"createDefinition"`
	}
	err := e.gql(`mutation { createDefinition(input: `+input+`) { id } }`, nil, &out)
	return out.CreateDefinition.ID, err
}

// createRelease creates a release and returns its id.
func (e *env) createRelease(defID string) (string, error) {
	var out struct {
		CreateRelease struct{ ID string } `json:"createRelease"`
	}
	err := e.gql(`mutation($d: ID!) { createRelease(input: {definitionId: $d}) { id } }`, map[string]any{"d": defID}, &out)
	return out.CreateRelease.ID, err
}
