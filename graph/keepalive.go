package graph

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
)

// GraphQL websockets cost what they hold. gqlgen's websocket transport gives
// every connection a ping goroutine and ticker (and a read-deadline timer
// re-armed at each ping), and runs the connection on the HTTP server's
// goroutine, whose stack and 8 KiB of bufio buffers stay for the life of the
// connection. Here:
//
//   - one keep-alive loop serves every websocket of the server: every
//     interval/sweepsPerInterval it looks at each connection's last read and
//     write (two atomics) and sends the keep-alive to the quiet ones (a
//     graphql-transport-ws ping, which the client must answer with a pong; a
//     graphql-ws "ka"), closes those that did not answer, and those whose
//     write has been stuck, from a handful of short-lived goroutines;
//   - the connection is accepted on the HTTP server's goroutine with small
//     buffers of its own, and the transport (wstransport.go) then reads it on
//     a fresh goroutine, so that the HTTP server's goroutine, its stack and
//     its buffers are released at once.

const (
	// sweepsPerInterval: how many times per keep-alive interval the loop looks
	// at every connection (a keep-alive goes out between one interval and
	// 1+1/sweepsPerInterval intervals of quiet).
	sweepsPerInterval = 5
	// deadAfter intervals of silence with a ping unanswered close a
	// graphql-transport-ws connection (gqlgen's own: two intervals after a
	// ping); stuckAfter intervals of one write in progress close any.
	deadAfter  = 3
	stuckAfter = 2
	// keepAliveBatch connections are sent their keep-alive by one goroutine:
	// a write that blocks (a client that stopped reading) delays its batch,
	// not the loop.
	keepAliveBatch = 512
	// The buffers of an accepted websocket (net/http's are 4 KiB each): a
	// read buffer holds frame headers and small messages, larger ones are
	// read straight through; a write buffer holds one typical event frame.
	wsReadBuffer  = 512
	wsWriteBuffer = 1024
)

var (
	pingFrame = []byte(`{"type":"ping"}`) // graphql-transport-ws
	kaFrame   = []byte(`{"type":"ka"}`)   // graphql-ws (legacy)
)

// keepAlive is the keep-alive loop of one server's websockets. The loop runs
// while a connection is open.
type keepAlive struct {
	interval time.Duration
	epoch    time.Time

	mu      sync.Mutex
	conns   map[*wsConn]struct{}
	running bool
}

func newKeepAlive(interval time.Duration) *keepAlive {
	return &keepAlive{interval: interval, epoch: time.Now(), conns: map[*wsConn]struct{}{}}
}

// now is the monotonic time since the loop's epoch, never 0 (0 means "none"
// in a connection's fields).
func (k *keepAlive) now() int64 { return int64(time.Since(k.epoch)) + 1 }

func (k *keepAlive) add(c *wsConn) {
	k.mu.Lock()
	k.conns[c] = struct{}{}
	start := !k.running
	k.running = true
	k.mu.Unlock()
	if start {
		go k.loop()
	}
}

func (k *keepAlive) remove(c *wsConn) {
	k.mu.Lock()
	delete(k.conns, c)
	k.mu.Unlock()
}

// open is the number of connections kept alive.
func (k *keepAlive) open() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.conns)
}

func (k *keepAlive) loop() {
	tick := time.NewTicker(max(k.interval/sweepsPerInterval, time.Millisecond))
	defer tick.Stop()
	for range tick.C {
		if !k.sweep() {
			return
		}
	}
}

// sweep looks at every connection once; false (and the loop ends) when none
// is left.
func (k *keepAlive) sweep() bool {
	now, iv := k.now(), int64(k.interval)
	var send, kill []*wsConn
	k.mu.Lock()
	if len(k.conns) == 0 {
		k.running = false
		k.mu.Unlock()
		return false
	}
	for c := range k.conns {
		switch c.due(now, iv) {
		case keepAliveDue:
			send = append(send, c)
		case closeDue:
			kill = append(kill, c)
		}
	}
	k.mu.Unlock()
	for _, c := range kill {
		k.remove(c)
		go c.conn.CloseNow() // unblocks its reader and writers; the reader then ends the connection
	}
	for batch := range slices.Chunk(send, keepAliveBatch) {
		go func() {
			for _, c := range batch {
				c.sendKeepAlive()
			}
		}()
	}
	return true
}

type keepAliveAction int

const (
	nothingDue keepAliveAction = iota
	keepAliveDue
	closeDue
)

// wsConn is one accepted websocket (coder/websocket), with what the
// keep-alive loop reads.
type wsConn struct {
	conn   *websocket.Conn
	legacy bool // graphql-ws: keep-alive "ka", which clients do not answer
	ka     *keepAlive

	lastRead  atomic.Int64 // ka.now() of the last message read (or of the accept)
	lastWrite atomic.Int64 // of the last message written
	lastKA    atomic.Int64 // of the last keep-alive scheduled
	writing   atomic.Int64 // since when the transport's write in progress started; 0: none
	kaWriting atomic.Int64 // since when the keep-alive write in progress started; 0: none

	mu          sync.Mutex
	closeHandsh chan struct{} // the close handshake started (WriteClose)

	// The reader waits for the client's next message on raw (nil: the
	// connection is not a socket, e.g. TLS served by Cairn itself, and the
	// reader waits inside coder/websocket's read). brMu orders the reader's
	// look at br (coder/websocket's read buffer) with the close handshake,
	// the one other reader of br.
	raw  syscall.RawConn
	br   *bufio.Reader
	brMu sync.Mutex
}

// due says what the loop does with c at now.
func (c *wsConn) due(now, iv int64) keepAliveAction {
	if s := c.writing.Load(); s != 0 && now-s >= stuckAfter*iv {
		return closeDue
	}
	if s := c.kaWriting.Load(); s != 0 {
		if now-s >= stuckAfter*iv {
			return closeDue
		}
		return nothingDue
	}
	read, ka := c.lastRead.Load(), c.lastKA.Load()
	quiet := max(read, ka)
	if c.legacy {
		quiet = max(c.lastWrite.Load(), ka)
	} else if ka > read && now-read >= deadAfter*iv {
		return closeDue // pinged, and not a word since
	}
	if now-quiet < iv {
		return nothingDue
	}
	c.lastKA.Store(now)
	c.kaWriting.Store(now)
	return keepAliveDue
}

func (c *wsConn) sendKeepAlive() {
	frame := pingFrame
	if c.legacy {
		frame = kaFrame
	}
	err := c.conn.Write(context.Background(), websocket.MessageText, frame)
	c.lastWrite.Store(c.ka.now())
	c.kaWriting.Store(0)
	if err != nil {
		c.ka.remove(c)
		c.conn.CloseNow()
	}
}

// read reads the next message.
func (c *wsConn) read() (websocket.MessageType, []byte, error) {
	c.waitReadable()
	typ, data, err := c.conn.Read(context.Background())
	if err != nil {
		c.ka.remove(c)
		return typ, nil, err
	}
	c.lastRead.Store(c.ka.now())
	return typ, data, nil
}

// waitReadable returns when the client has sent something (or the
// connection ended): an idle reader waits here, a few calls deep, instead
// of inside coder/websocket's read (some 2 KiB of frames), so that the
// runtime shrinks its stack to 4 KiB at the next GC instead of keeping 8.
// What coder/websocket has buffered is read at once; what the socket has
// is looked at (MSG_PEEK), not taken. Errors are left to the read that
// follows.
func (c *wsConn) waitReadable() {
	if c.raw == nil {
		return
	}
	c.brMu.Lock()
	buffered := c.br.Buffered()
	c.brMu.Unlock()
	if buffered > 0 {
		return
	}
	_ = c.raw.Read(peekReadable)
}

// writeFrame writes one message. A write that blocks (a client that stopped
// reading) is ended by the keep-alive loop, which closes the connection.
func (c *wsConn) writeFrame(data []byte) error {
	c.writing.Store(c.ka.now())
	err := c.conn.Write(context.Background(), websocket.MessageText, data)
	c.writing.Store(0)
	c.lastWrite.Store(c.ka.now())
	return err
}

// WriteClose starts the close handshake in the background (coder/websocket
// waits up to 5 s for the peer's close frame) and returns at once.
func (c *wsConn) WriteClose(code int, reason string) error {
	c.mu.Lock()
	if c.closeHandsh != nil {
		c.mu.Unlock()
		return nil
	}
	done := make(chan struct{})
	c.closeHandsh = done
	c.mu.Unlock()
	c.ka.remove(c)
	go func() {
		defer close(done)
		c.brMu.Lock() // the handshake reads br (the peer's close frame)
		defer c.brMu.Unlock()
		_ = c.conn.Close(websocket.StatusCode(code), reason)
	}()
	return nil
}

// Close closes the connection now, unless the close handshake (which closes
// it when done) has started.
func (c *wsConn) Close() error {
	c.ka.remove(c)
	c.mu.Lock()
	handshake := c.closeHandsh != nil
	c.mu.Unlock()
	if handshake {
		return nil
	}
	return c.conn.CloseNow()
}

func (c *wsConn) Subprotocol() string { return c.conn.Subprotocol() }

func (c *wsConn) SetReadLimit(n int64) { c.conn.SetReadLimit(n) }

// keptWebsocket accepts websockets for wsTransport: the keep-alive loop's
// wsConn, recorded in the request's connState for the guard.
type keptWebsocket struct {
	accept websocket.AcceptOptions
	ka     *keepAlive
}

func (k keptWebsocket) acceptConn(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (*wsConn, error) {
	for key, values := range opts.ResponseHeader {
		for _, v := range values {
			w.Header().Add(key, v)
		}
	}
	ao := k.accept
	ao.Subprotocols = slices.Clone(ao.Subprotocols)
	for _, p := range opts.Subprotocols {
		if !slices.Contains(ao.Subprotocols, p) {
			ao.Subprotocols = append(ao.Subprotocols, p)
		}
	}
	sb := &smallBuffers{ResponseWriter: w}
	conn, err := websocket.Accept(sb, r, &ao)
	if err != nil {
		return nil, err
	}
	c := &wsConn{conn: conn, ka: k.ka, legacy: conn.Subprotocol() != "graphql-transport-ws", br: sb.br}
	if sc, ok := sb.conn.(syscall.Conn); ok && canPeek {
		c.raw, _ = sc.SyscallConn()
		// coder/websocket put the bytes buffered at the upgrade in front of
		// br's source: back into br, where waitReadable sees them.
		if sb.pending > 0 {
			if _, err := sb.br.Peek(sb.pending); err != nil {
				conn.CloseNow()
				return nil, err
			}
		}
	}
	now := k.ka.now()
	c.lastRead.Store(now)
	c.lastWrite.Store(now)
	k.ka.add(c)
	if st := connStateFrom(r.Context()); st != nil {
		st.mu.Lock()
		st.conn = c
		st.mu.Unlock()
	}
	return c, nil
}

// The subprotocols of wsTransport, in order of preference (gqlgen's order).
var gqlgenSubprotocols = []string{"graphql-ws", "graphql-transport-ws"}

// smallBuffers hijacks with buffers of wsReadBuffer and wsWriteBuffer
// bytes instead of net/http's 4 KiB ones, which are released with the
// HTTP server's goroutine. What the client sent after the upgrade request
// (already in net/http's buffer) stays buffered, where coder/websocket
// looks for it. It records the connection and the read buffer, which the
// transport's reader waits on (wsConn.waitReadable).
type smallBuffers struct {
	http.ResponseWriter
	conn    net.Conn
	br      *bufio.Reader
	pending int
}

func (s *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	pending, _ := brw.Reader.Peek(brw.Reader.Buffered())
	pending = bytes.Clone(pending)
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(pending), conn), max(wsReadBuffer, len(pending)))
	if len(pending) > 0 {
		if _, err := br.Peek(len(pending)); err != nil {
			conn.Close()
			return nil, nil, errors.New("websocket: re-buffering what the client sent: " + err.Error())
		}
	}
	s.pending = len(pending)
	s.conn, s.br = conn, br
	return conn, bufio.NewReadWriter(br, bufio.NewWriterSize(conn, wsWriteBuffer)), nil
}
