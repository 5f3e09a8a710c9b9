package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// wsServer is a GraphQL handler on a real engine and bus (SQLite); every
// request is a viewer's. It returns the server, the engine and the
// keep-alive loop (which counts the open websockets).
func wsServer(t *testing.T, opts Options) (*httptest.Server, *delivery.Engine, *keepAlive) {
	t.Helper()
	db := storagetest.Open(t, "sqlite")
	bus := &fanout{subs: map[chan delivery.Event]bool{}}
	e := delivery.New(db.Client, delivery.Options{Dialect: delivery.Dialect(db.Dialect), Bus: bus})
	var ka *keepAlive
	if opts.KeepAlive == 0 {
		opts.KeepAlive = time.Hour
	}
	h := newHandler(&Resolver{Engine: e, Events: bus}, opts, func(k *keepAlive) { ka = k })
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), delivery.Actor{Username: "u", Role: delivery.RoleViewer})))
	}))
	t.Cleanup(ts.Close)
	return ts, e, ka
}

// wsTestConn is a raw websocket client of the transport tests.
type wsTestConn struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialWSTest(t *testing.T, url, proto string) *wsTestConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), &websocket.DialOptions{Subprotocols: []string{proto}})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(8 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	return &wsTestConn{t: t, conn: conn}
}

func (c *wsTestConn) sendRaw(typ websocket.MessageType, b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, typ, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *wsTestConn) send(m map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(m)
	c.sendRaw(websocket.MessageText, b)
}

// next returns the next message that is not a keep-alive; err when the
// connection ended.
func (c *wsTestConn) next() (wsMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		_, b, err := c.conn.Read(ctx)
		if err != nil {
			return wsMessage{}, err
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Fatalf("server sent %q: %v", b, err)
		}
		if m.Type != "ka" && m.Type != "ping" {
			return m, nil
		}
	}
}

// expect returns the next message, which must be of type typ (and id).
func (c *wsTestConn) expect(typ, id string) wsMessage {
	c.t.Helper()
	m, err := c.next()
	if err != nil {
		c.t.Fatalf("want %s %s, connection ended: %v", typ, id, err)
	}
	if m.Type != typ || m.ID != id {
		c.t.Fatalf("got %s %q %s, want %s %q", m.Type, m.ID, m.Payload, typ, id)
	}
	return m
}

// closed waits for the connection to end and returns its close status.
func (c *wsTestConn) closed() websocket.CloseError {
	c.t.Helper()
	for {
		_, err := c.next()
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) {
				c.t.Fatalf("connection ended without a close frame: %v", err)
			}
			return ce
		}
	}
}

func (c *wsTestConn) init() {
	c.t.Helper()
	c.send(map[string]any{"type": "connection_init", "payload": map[string]any{}})
	c.expect("connection_ack", "")
}

// baseline waits until the goroutines are back to at most n.
func goroutinesBackTo(t *testing.T, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("goroutines back to %d", n), func() bool { return runtime.NumGoroutine() <= n })
}

// TestWebsocketTransportRefusesHostileMessages: over real websockets, each
// malformed or out-of-order message closes its connection with the
// graphql-transport-ws code that names it (or, for a bad operation, answers
// that operation with an error and keeps the connection), and nothing is
// left behind: every websocket is forgotten and the goroutines come back to
// the baseline.
func TestWebsocketTransportRefusesHostileMessages(t *testing.T) {
	ts, _, ka := wsServer(t, Options{})
	quick, _, quickKA := wsServer(t, Options{wsInitTimeout: 100 * time.Millisecond})
	// A first connection starts the server's loops (keep-alive, guard) and
	// net/http's; the baseline is taken with it closed.
	warm := dialWSTest(t, ts.URL, "graphql-transport-ws")
	warm.init()
	warm.conn.Close(websocket.StatusNormalClosure, "")
	dialWSTest(t, quick.URL, "graphql-transport-ws").closed() // closed for want of connection_init
	eventually(t, "no websocket open", func() bool { return ka.open() == 0 && quickKA.open() == 0 })
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()

	sub := map[string]any{"query": `subscription { releaseEvents { __typename } }`}
	for _, c := range []struct {
		name   string
		proto  string
		quick  bool // on the server that waits 100 ms for connection_init
		anyEnd bool // the close frame may be lost to a reset connection
		init   bool
		send   func(c *wsTestConn)
		code   websocket.StatusCode
		reason string
	}{
		{name: "not JSON", init: true, send: func(c *wsTestConn) { c.sendRaw(websocket.MessageText, []byte(`{{{ not json`)) },
			code: closeBadMessage, reason: "invalid message"},
		{name: "JSON but not an object", init: true, send: func(c *wsTestConn) { c.sendRaw(websocket.MessageText, []byte(`[1,2,3]`)) },
			code: closeBadMessage, reason: "invalid message"},
		{name: "binary", init: true, send: func(c *wsTestConn) { c.sendRaw(websocket.MessageBinary, []byte{0, 1, 0xff}) },
			code: closeBadMessage, reason: "binary"},
		{name: "unknown type", init: true, send: func(c *wsTestConn) { c.send(map[string]any{"type": "launch"}) },
			code: closeBadMessage, reason: `unexpected message type "launch"`},
		{name: "no type", init: true, send: func(c *wsTestConn) { c.send(map[string]any{"id": "1"}) },
			code: closeBadMessage, reason: `unexpected message type ""`},
		{name: "a server's message from the client", init: true, send: func(c *wsTestConn) { c.send(map[string]any{"type": "next", "id": "1"}) },
			code: closeBadMessage, reason: `unexpected message type "next"`},
		{name: "legacy message on graphql-transport-ws", init: true, send: func(c *wsTestConn) { c.send(map[string]any{"type": "start", "id": "1", "payload": sub}) },
			code: closeBadMessage, reason: `unexpected message type "start"`},
		{name: "subscribe before connection_init", send: func(c *wsTestConn) { c.send(map[string]any{"type": "subscribe", "id": "1", "payload": sub}) },
			code: closeUnauthorized, reason: "connection_init first"},
		{name: "second connection_init", init: true, send: func(c *wsTestConn) { c.send(map[string]any{"type": "connection_init"}) },
			code: closeTooManyInits, reason: "too many initialisation requests"},
		{name: "connection_init payload not an object", send: func(c *wsTestConn) { c.send(map[string]any{"type": "connection_init", "payload": "token"}) },
			code: closeBadMessage, reason: "connection_init payload"},
		{name: "no connection_init in time", quick: true, send: func(*wsTestConn) {}, code: closeInitTimeout, reason: "initialisation timeout"},
		{name: "duplicate id", init: true, send: func(c *wsTestConn) {
			c.send(map[string]any{"type": "subscribe", "id": "a", "payload": sub})
			c.send(map[string]any{"type": "subscribe", "id": "a", "payload": sub})
		}, code: closeDuplicateID, reason: `subscriber for "a" already exists`},
		{name: "subscribe without an id", init: true, send: func(c *wsTestConn) { c.send(map[string]any{"type": "subscribe", "payload": sub}) },
			code: closeBadMessage, reason: "id of 1 to 128 bytes"},
		{name: "id too long", init: true, send: func(c *wsTestConn) {
			c.send(map[string]any{"type": "subscribe", "id": strings.Repeat("x", 129), "payload": sub})
		}, code: closeBadMessage, reason: "id of 1 to 128 bytes"},
		{name: "message over the read limit", init: true, send: func(c *wsTestConn) {
			// The server may close before the whole message is written.
			_ = c.conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"ping","payload":"`+strings.Repeat("x", 2<<20)+`"}`))
		}, code: websocket.StatusMessageTooBig, anyEnd: true},
		{name: "legacy: unknown type", proto: "graphql-ws", init: true, send: func(c *wsTestConn) { c.send(map[string]any{"type": "ping"}) },
			code: closeBadMessage, reason: `unexpected message type "ping"`},
		{name: "legacy: start before connection_init", proto: "graphql-ws", send: func(c *wsTestConn) { c.send(map[string]any{"type": "start", "id": "1", "payload": sub}) },
			code: closeUnauthorized, reason: "connection_init first"},
	} {
		t.Run(c.name, func(t *testing.T) {
			proto := c.proto
			if proto == "" {
				proto = "graphql-transport-ws"
			}
			url := ts.URL
			if c.quick {
				url = quick.URL
			}
			conn := dialWSTest(t, url, proto)
			if c.init {
				conn.init()
			}
			c.send(conn)
			if c.anyEnd {
				for {
					if _, err := conn.next(); err != nil {
						var ce websocket.CloseError
						if errors.As(err, &ce) && ce.Code != c.code {
							t.Fatalf("closed with %d %q, want %d", ce.Code, ce.Reason, c.code)
						}
						return
					}
				}
			}
			ce := conn.closed()
			if ce.Code != c.code || !strings.Contains(ce.Reason, c.reason) {
				t.Fatalf("closed with %d %q, want %d with %q", ce.Code, ce.Reason, c.code, c.reason)
			}
		})
	}

	// A bad operation is that operation's error; the connection stays.
	conn := dialWSTest(t, ts.URL, "graphql-transport-ws")
	conn.init()
	conn.send(map[string]any{"type": "subscribe", "id": "1", "payload": "not an object"})
	if m := conn.expect("error", "1"); !strings.Contains(string(m.Payload), "invalid subscribe payload") {
		t.Fatalf("error payload %s", m.Payload)
	}
	conn.send(map[string]any{"type": "subscribe", "id": "2", "payload": map[string]any{"query": "subscription { nope }"}})
	if m := conn.expect("next", "2"); !strings.Contains(string(m.Payload), `Cannot query field \"nope\"`) {
		t.Fatalf("error payload %s", m.Payload)
	}
	conn.expect("complete", "2")
	conn.send(map[string]any{"type": "subscribe", "id": "3", "payload": map[string]any{"query": "{ __typename }"}})
	if m := conn.expect("next", "3"); string(m.Payload) != `{"data":{"__typename":"Query"}}` {
		t.Fatalf("query over the websocket: %s", m.Payload)
	}
	conn.expect("complete", "3")
	// complete of an unknown id is ignored.
	conn.send(map[string]any{"type": "complete", "id": "never"})
	conn.send(map[string]any{"type": "ping", "payload": map[string]any{"n": 1}})
	if m := conn.expect("pong", ""); string(m.Payload) != `{"n":1}` {
		t.Fatalf("pong payload %s", m.Payload)
	}
	conn.conn.Close(websocket.StatusNormalClosure, "")

	eventually(t, "every websocket forgotten", func() bool { return ka.open() == 0 && quickKA.open() == 0 })
	goroutinesBackTo(t, before)
}

// TestWebsocketTransportPushesEvents: an event subscription is driven by its
// stream (no goroutine of the transport waits for it): stored events come as
// next, on both protocols; a stopped operation completes and frees its id
// and its slot; and when the connections close every goroutine they held
// ends.
func TestWebsocketTransportPushesEvents(t *testing.T) {
	ts, e, ka := wsServer(t, Options{MaxSubscriptions: 2})
	ctx := context.Background()
	agent := e.Client().Agent.Create().SetName("a1").SaveX(ctx)
	if _, err := e.SetAgentEnabled(ctx, delivery.SystemActor("t"), agent.ID, false); err != nil {
		t.Fatal(err)
	}
	warm := dialWSTest(t, ts.URL, "graphql-transport-ws")
	warm.init()
	warm.conn.Close(websocket.StatusNormalClosure, "")
	eventually(t, "no websocket open", func() bool { return ka.open() == 0 })
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()

	q := map[string]any{"query": `subscription { agentEvents(afterSequence: 0) { ... on AgentStatusEvent { status agentId } } }`}
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto, func(t *testing.T) {
			start, next, stop := "subscribe", "next", "complete"
			if proto == "graphql-ws" {
				start, next, stop = "start", "data", "stop"
			}
			c := dialWSTest(t, ts.URL, proto)
			c.init()
			c.send(map[string]any{"type": start, "id": "1", "payload": q})
			m := c.expect(next, "1")
			if want := fmt.Sprintf(`{"data":{"agentEvents":{"status":"DISABLED","agentId":"%d"}}}`, agent.ID); string(m.Payload) != want {
				t.Fatalf("payload %s, want %s", m.Payload, want)
			}
			c.send(map[string]any{"type": start, "id": "2", "payload": q})
			c.expect(next, "2")
			// The limit (2): a third is refused, and its refusal completes it.
			c.send(map[string]any{"type": start, "id": "3", "payload": q})
			if m := c.expect(next, "3"); !strings.Contains(string(m.Payload), "FORBIDDEN") {
				t.Fatalf("third subscription: %s", m.Payload)
			}
			c.expect("complete", "3")
			// Stopped, the operation completes; its id and slot are free again.
			c.send(map[string]any{"type": stop, "id": "1"})
			c.expect("complete", "1")
			c.send(map[string]any{"type": start, "id": "1", "payload": q})
			c.expect(next, "1")
			c.conn.Close(websocket.StatusNormalClosure, "")
		})
	}
	eventually(t, "every websocket forgotten", func() bool { return ka.open() == 0 })
	goroutinesBackTo(t, before)
}
