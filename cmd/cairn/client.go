package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// client talks to a Cairn server's GraphQL API with an API token: queries and mutations over
// HTTP POST, subscriptions over graphql-transport-ws.
type client struct {
	server string // base URL, no trailing slash
	token  string
	http   *http.Client
}

// maxResponse caps what the client reads of one answer.
const maxResponse = 16 << 20

// apiError is a GraphQL error as the server presents it.
type apiError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

func (e apiError) Error() string {
	if code, ok := e.Extensions["code"].(string); ok {
		return fmt.Sprintf("%s (%s)", e.Message, code)
	}
	return e.Message
}

// do runs one query or mutation and decodes its data into out.
func (c *client) do(ctx context.Context, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.server+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("calling %s: %w", c.server, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("reading the answer of %s: %w", c.server, err)
	}
	var res struct {
		Data   json.RawMessage `json:"data"`
		Errors []apiError      `json:"errors"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		if resp.StatusCode == http.StatusUnauthorized {
			return errors.New("the server refused the token (401): run cairn login again")
		}
		return fmt.Errorf("%s answered HTTP %d, not GraphQL: %.200s", c.server, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if len(res.Errors) > 0 {
		msgs := make([]error, len(res.Errors))
		for i, e := range res.Errors {
			msgs[i] = e
		}
		return errors.Join(msgs...)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(res.Data, out)
}

// wsMessage is a graphql-transport-ws message.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// subscribe runs one subscription until the server completes it (nil), ctx ends (ctx's error)
// or the connection fails. handle gets each event's data (the subscription field's value).
func (c *client) subscribe(ctx context.Context, query string, vars map[string]any, field string, handle func(json.RawMessage) error) error {
	url := "ws" + strings.TrimPrefix(c.server, "http") + "/graphql"
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, url, &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"}, HTTPClient: c.http,
	})
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", url, err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(maxResponse)
	write := func(m wsMessage) error {
		data, _ := json.Marshal(m)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return conn.Write(wctx, websocket.MessageText, data)
	}
	init, _ := json.Marshal(map[string]string{"authorization": "Bearer " + c.token})
	if err := write(wsMessage{Type: "connection_init", Payload: init}); err != nil {
		return err
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			switch websocket.CloseStatus(err) {
			case 4403:
				return errors.New("the server refused the token: run cairn login again")
			case websocket.StatusGoingAway:
				return errors.New("the server is shutting down; run the command again")
			}
			return fmt.Errorf("reading the subscription: %w", err)
		}
		var m wsMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("decoding a message: %w", err)
		}
		switch m.Type {
		case "connection_ack":
			sub, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
			if err := write(wsMessage{ID: "1", Type: "subscribe", Payload: sub}); err != nil {
				return err
			}
		case "ping":
			if err := write(wsMessage{Type: "pong"}); err != nil {
				return err
			}
		case "next":
			var p struct {
				Data   map[string]json.RawMessage `json:"data"`
				Errors []apiError                 `json:"errors"`
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				return fmt.Errorf("decoding an event: %w", err)
			}
			if len(p.Errors) > 0 {
				return p.Errors[0]
			}
			if ev, ok := p.Data[field]; ok {
				if err := handle(ev); err != nil {
					return err
				}
			}
		case "error":
			var errs []apiError
			if json.Unmarshal(m.Payload, &errs) == nil && len(errs) > 0 {
				return errs[0]
			}
			return fmt.Errorf("subscription refused: %s", m.Payload)
		case "complete":
			conn.Close(websocket.StatusNormalClosure, "")
			return nil
		}
	}
}
