package graph

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// kaClient is one websocket client of the keep-alive tests.
type kaClient struct {
	conn  *websocket.Conn
	pings atomic.Int64 // keep-alives received (ping or ka)
	pongs atomic.Int64 // pongs received (answers to the client's pings)
	types chan string  // the other messages' types
	ended chan error   // the error that ended the reads
}

// dialKA opens a websocket with proto, sends connection_init, waits for the
// acknowledgement and subscribes to releaseEvents. answer: reply to pings;
// read: read at all (a client that does not read answers nothing either).
func dialKA(t *testing.T, url, proto string, answer, read bool) *kaClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), &websocket.DialOptions{Subprotocols: []string{proto}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	c := &kaClient{conn: conn, types: make(chan string, 64), ended: make(chan error, 1)}
	send := func(v any) {
		b, _ := json.Marshal(v)
		if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	send(map[string]any{"type": "connection_init", "payload": map[string]any{}})
	for {
		// A keep-alive may come first (a slow handshake on a loaded machine).
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("connection_init: %v", err)
		}
		if strings.Contains(string(b), "connection_ack") {
			break
		}
		if m := string(b); !strings.Contains(m, `"ping"`) && !strings.Contains(m, `"ka"`) {
			t.Fatalf("connection_init: %s", m)
		}
		c.pings.Add(1)
		if answer && strings.Contains(string(b), `"ping"`) {
			send(map[string]any{"type": "pong"})
		}
	}
	start := "subscribe"
	if proto == "graphql-ws" {
		start = "start"
	}
	send(map[string]any{"type": start, "id": "1", "payload": map[string]any{"query": `subscription { releaseEvents { __typename } }`}})
	if !read {
		return c
	}
	go func() {
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				c.ended <- err
				return
			}
			var m struct{ Type string }
			_ = json.Unmarshal(b, &m)
			switch m.Type {
			case "ping", "ka":
				c.pings.Add(1)
				if answer && m.Type == "ping" {
					_ = conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"pong"}`))
				}
			case "pong":
				c.pongs.Add(1)
			default:
				select {
				case c.types <- m.Type:
				default:
				}
			}
		}
	}()
	return c
}

// eventually polls cond until it holds, failing after a bound far above
// what it needs.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("still not so after 30 s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// goroutinesIn counts the goroutines whose stack names fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 64<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}

// kaServer is a GraphQL handler with a real engine and bus on db, its
// websockets kept alive every interval; every request is a viewer's.
func kaServer(t *testing.T, dialect string, interval time.Duration) (*httptest.Server, *keepAlive) {
	db := storagetest.Open(t, dialect)
	bus := &fanout{subs: map[chan delivery.Event]bool{}}
	e := delivery.New(db.Client, delivery.Options{Dialect: delivery.Dialect(db.Dialect), Bus: bus})
	var ka *keepAlive
	h := newHandler(&Resolver{Engine: e, Events: bus}, Options{KeepAlive: interval}, func(k *keepAlive) { ka = k })
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), delivery.Actor{Username: "u", Role: delivery.RoleViewer})))
	}))
	t.Cleanup(ts.Close)
	return ts, ka
}

// TestKeepAliveFromOneLoop: over real websockets, idle subscriptions are kept
// alive by the server's one loop (graphql-transport-ws clients are pinged and
// answer, graphql-ws clients get "ka") and stay open; a client that never
// answers, or stops reading, is closed; each idle subscription holds no
// keep-alive goroutine of its own and not the HTTP server's goroutine.
func TestKeepAliveFromOneLoop(t *testing.T) {
	for _, d := range storagetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			// Short, but not so short that a loaded machine's scheduling makes a
			// live client look dead (3 intervals without a word).
			const interval = 250 * time.Millisecond
			ts, ka := kaServer(t, d, interval)
			before := runtime.NumGoroutine()
			const n = 20
			var live []*kaClient
			for range n {
				live = append(live, dialKA(t, ts.URL, "graphql-transport-ws", true, true))
			}
			legacy := dialKA(t, ts.URL, "graphql-ws", false, true)
			deaf := dialKA(t, ts.URL, "graphql-transport-ws", false, true)  // reads, never answers
			mute := dialKA(t, ts.URL, "graphql-transport-ws", false, false) // never reads at all

			// Every idle client is kept alive many times over, and stays open.
			for i, c := range live {
				eventually(t, fmt.Sprintf("client %d pinged 4 times", i), func() bool { return c.pings.Load() >= 4 })
			}
			eventually(t, "the graphql-ws client sent ka 4 times", func() bool { return legacy.pings.Load() >= 4 })
			// Those that never answer are closed; the others are not.
			select {
			case <-deaf.ended:
			case <-time.After(30 * time.Second):
				t.Fatal("a client that never answers pings is still open")
			}
			eventually(t, "the client that does not read is closed", func() bool { return ka.open() == n+1 })
			for {
				// What the server sent before closing, then the close.
				if _, _, err := mute.conn.Read(context.Background()); err != nil {
					break
				}
			}
			for i, c := range append(live, legacy) {
				select {
				case err := <-c.ended:
					t.Fatalf("idle client %d was closed: %v", i, err)
				default:
				}
			}
			for i, c := range live {
				if err := c.conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"ping"}`)); err != nil {
					t.Fatalf("client %d: %v", i, err)
				}
			}
			for i, c := range live {
				eventually(t, fmt.Sprintf("client %d answered", i), func() bool { return c.pongs.Load() >= 1 })
			}

			// What each idle subscription costs in goroutines: no keep-alive or
			// ping loop, not the HTTP server's goroutine, no close watcher or
			// subscription loop. Per connection here: the connection's reader,
			// the engine's follower, and this test's client reader.
			if g := goroutinesIn("transport.(*wsConnection).ping"); g != 0 {
				t.Errorf("%d goroutines in gqlgen's ping loop, want 0", g)
			}
			if g := goroutinesIn("transport.(*wsConnection).keepAlive"); g != 0 {
				t.Errorf("%d goroutines in gqlgen's keep-alive loop, want 0", g)
			}
			if g := goroutinesIn("net/http.(*conn).serve"); g > 2 {
				t.Errorf("%d HTTP server goroutines held by %d websockets, want none", g, n+1)
			}
			eventually(t, "3 goroutines per subscription, the client's included", func() bool {
				return runtime.NumGoroutine()-before <= 3*(n+1)+2
			})
		})
	}
}

// TestKeepAliveHostileClients: a client sending garbage, binary, oversized or
// unknown frames, or pongs nobody asked for, is closed (or ignored) without
// harm to the others; one that sends connection_init in the same packet as
// its upgrade request is served.
func TestKeepAliveHostileClients(t *testing.T) {
	ts, ka := kaServer(t, "sqlite", time.Hour)
	good := dialKA(t, ts.URL, "graphql-transport-ws", true, true)
	for _, c := range []struct {
		name   string
		typ    websocket.MessageType
		data   []byte
		closed bool
	}{
		{"not JSON", websocket.MessageText, []byte("{{{ not json"), true},
		{"binary", websocket.MessageBinary, []byte{0, 1, 2, 0xff}, true},
		{"unknown type", websocket.MessageText, []byte(`{"type":"launch"}`), true},
		{"over the read limit", websocket.MessageText, []byte(`{"type":"ping","payload":"` + strings.Repeat("x", 2<<20) + `"}`), true},
		{"unasked pong", websocket.MessageText, []byte(`{"type":"pong"}`), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := dialKA(t, ts.URL, "graphql-transport-ws", true, true)
			open := ka.open()
			_ = h.conn.Write(context.Background(), c.typ, c.data)
			if !c.closed {
				_ = h.conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"ping"}`))
				eventually(t, "answered after it", func() bool { return h.pongs.Load() == 1 })
				return
			}
			select {
			case <-h.ended:
			case <-time.After(30 * time.Second):
				t.Fatal("still open")
			}
			eventually(t, "forgotten by the keep-alive loop", func() bool { return ka.open() == open-1 })
		})
	}

	t.Run("init in the upgrade's packet", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		req := "GET / HTTP/1.1\r\nHost: " + conn.RemoteAddr().String() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
		frame := maskedText([]byte(`{"type":"connection_init","payload":{}}`))
		if _, err := conn.Write(append([]byte(req), frame...)); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		var hdr [2]byte
		if _, err := br.Read(hdr[:1]); err != nil {
			t.Fatal(err)
		}
		if _, err := br.Read(hdr[1:]); err != nil {
			t.Fatal(err)
		}
		payload := make([]byte, hdr[1]&0x7f)
		if _, err := io.ReadFull(br, payload); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(payload), "connection_ack") {
			t.Fatalf("got %q, want connection_ack", payload)
		}
	})

	// Several messages in one packet: the reader reads what its buffer
	// already holds before it waits on the socket again (waitReadable).
	t.Run("messages in one packet", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		req := "GET / HTTP/1.1\r\nHost: " + conn.RemoteAddr().String() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		var packet []byte
		packet = append(packet, maskedText([]byte(`{"type":"connection_init","payload":{}}`))...)
		packet = append(packet, maskedText([]byte(`{"type":"ping","payload":{"n":1}}`))...)
		packet = append(packet, maskedText([]byte(`{"type":"ping","payload":{"n":2}}`))...)
		if _, err := conn.Write(packet); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"connection_ack", `"n":1`, `"n":2`} {
			var hdr [2]byte
			if _, err := io.ReadFull(br, hdr[:]); err != nil {
				t.Fatalf("waiting for %s: %v", want, err)
			}
			payload := make([]byte, hdr[1]&0x7f)
			if _, err := io.ReadFull(br, payload); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(payload), want) {
				t.Fatalf("got %q, want %s", payload, want)
			}
		}
	})

	// The well-behaved client is untouched.
	_ = good.conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"ping"}`))
	eventually(t, "the good client answered", func() bool { return good.pongs.Load() == 1 })
}

// maskedText is a client's text frame (masked, as RFC 6455 requires) of p,
// shorter than 126 bytes.
func maskedText(p []byte) []byte {
	key := [4]byte{1, 2, 3, 4}
	f := []byte{0x81, 0x80 | byte(len(p))}
	f = append(f, key[:]...)
	for i, b := range p {
		f = append(f, b^key[i%4])
	}
	return f
}

// BenchmarkKeepAliveSweep is one sweep of the keep-alive loop over 10,000
// connections of which none is due (the common case: a sweep every
// interval/5 finds a fifth of them due, whose keep-alives go out from the
// batch goroutines).
func BenchmarkKeepAliveSweep(b *testing.B) {
	ka := newKeepAlive(time.Hour)
	ka.running = true // no loop: the benchmark sweeps
	for range 10000 {
		c := &wsConn{ka: ka}
		now := ka.now()
		c.lastRead.Store(now)
		c.lastWrite.Store(now)
		ka.conns[c] = struct{}{}
	}
	b.ReportAllocs()
	for b.Loop() {
		ka.sweep()
	}
}

// TestKeepAliveDue: what the loop does with a connection, by its clock
// (iv is the interval): nothing while it is not quiet, a keep-alive once it
// is (one at a time), close a graphql-transport-ws client silent for 3
// intervals since before a ping, never a graphql-ws client for silence
// (its protocol has no answer), and close any whose write is stuck for 2.
func TestKeepAliveDue(t *testing.T) {
	const iv = 100
	for _, c := range []struct {
		name                          string
		legacy                        bool
		read, write, ka, writing, kaw int64
		now                           int64
		want                          keepAliveAction
	}{
		{name: "just active", read: 1000, write: 1000, now: 1050, want: nothingDue},
		{name: "quiet for an interval", read: 1000, write: 1000, now: 1100, want: keepAliveDue},
		{name: "pinged, not yet an interval ago", read: 1000, write: 1100, ka: 1100, now: 1150, want: nothingDue},
		{name: "pinged, still silent: ping again", read: 1000, write: 1100, ka: 1100, now: 1200, want: keepAliveDue},
		{name: "pinged, silent 3 intervals", read: 1000, write: 1200, ka: 1200, now: 1300, want: closeDue},
		{name: "answered the ping", read: 1210, write: 1200, ka: 1200, now: 1300, want: nothingDue},
		{name: "keep-alive write in progress", read: 1000, write: 1000, kaw: 1150, now: 1200, want: nothingDue},
		{name: "keep-alive write stuck", read: 1000, write: 1000, kaw: 1100, now: 1300, want: closeDue},
		{name: "write stuck", read: 1250, write: 1000, writing: 1100, now: 1300, want: closeDue},
		{name: "write slow", read: 1250, write: 1000, writing: 1150, now: 1300, want: nothingDue},
		{name: "graphql-ws: quiet writes get ka", legacy: true, read: 1, write: 1000, now: 1100, want: keepAliveDue},
		{name: "graphql-ws: never closed for silence", legacy: true, read: 1, write: 1200, ka: 1200, now: 1300, want: keepAliveDue},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := &wsConn{legacy: c.legacy}
			w.lastRead.Store(c.read)
			w.lastWrite.Store(c.write)
			w.lastKA.Store(c.ka)
			w.writing.Store(c.writing)
			w.kaWriting.Store(c.kaw)
			if got := w.due(c.now, iv); got != c.want {
				t.Fatalf("due = %d, want %d", got, c.want)
			}
			if c.want == keepAliveDue && (w.lastKA.Load() != c.now || w.kaWriting.Load() != c.now) {
				t.Fatal("a keep-alive due is not marked sent and in progress")
			}
			if c.want == keepAliveDue && w.due(c.now, iv) != nothingDue {
				t.Fatal("a second keep-alive while the first is in progress")
			}
		})
	}
}
