package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The GraphQL websocket transport: graphql-transport-ws (the graphql-ws
// library's protocol, which the dashboard, cmd/cairn and the examples speak)
// and the legacy graphql-ws (subscriptions-transport-ws) protocol. It replaces
// gqlgen's transport so that an idle subscription holds two goroutines, not
// four:
//
//   - the connection's reader (one per websocket) reads and answers the
//     client's messages; it never runs an operation itself, so its stack stays
//     shallow;
//   - an event subscription's stream (the engine's follower, started by
//     followEvents) executes each event it admits and writes the `next` frame
//     to the connection itself (wsSub.deliver): no subscription loop
//     goroutine waits on a channel for it, and no close watcher waits on the
//     connection's context (the reader ends the connection and cancels what
//     runs on it).
//
// Operations that are not event streams (queries and mutations sent over the
// websocket, the deployment log subscriptions) run on a goroutine of their
// own that pulls their responses as gqlgen's transport does.

// Close codes of graphql-transport-ws (the legacy protocol gets them too;
// it defines none).
const (
	closeBadMessage    = 4400 // invalid message
	closeUnauthorized  = 4401 // subscribe before connection_ack
	closeInitTimeout   = 4408 // no connection_init in time
	closeDuplicateID   = 4409 // "Subscriber for <id> already exists"
	closeTooManyInits  = 4429 // a second connection_init
	wsInitTimeout      = 10 * time.Second
	maxOperationIDSize = 128
)

// wsTransport is the websocket transport of the GraphQL handler.
type wsTransport struct {
	kept      keptWebsocket
	log       *slog.Logger
	init      func(context.Context, transport.InitPayload) (context.Context, *transport.InitPayload, error)
	readLimit int64
	// initTimeout: wsInitTimeout when zero.
	initTimeout time.Duration
}

var _ graphql.Transport = wsTransport{}

func (wsTransport) Supports(r *http.Request) bool { return r.Header.Get("Upgrade") != "" }

// Do accepts the websocket on the HTTP server's goroutine, starts the
// connection's reader and returns, so that net/http releases its goroutine
// and buffers. The connection's context keeps the request's values, not its
// cancellation (net/http cancels it when Do returns); it ends with the
// connection.
func (t wsTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	c, err := t.kept.acceptConn(w, r, transport.WebsocketAcceptOptions{
		ResponseHeader: http.Header{}, Subprotocols: gqlgenSubprotocols,
	})
	if err != nil {
		// coder/websocket has answered (400, 403 for a foreign Origin, …).
		t.log.DebugContext(r.Context(), "websocket upgrade refused", "err", err)
		return
	}
	switch p := c.conn.Subprotocol(); p {
	case "", "graphql-ws", "graphql-transport-ws":
	default:
		_ = c.WriteClose(int(websocket.StatusProtocolError), "unsupported subprotocol "+p)
		return
	}
	if t.readLimit > 0 {
		c.SetReadLimit(t.readLimit)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	s := &wsSession{t: &t, conn: c, ctx: ctx, cancel: cancel, exec: exec}
	go s.run()
}

// wsMessage is a message of either protocol.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsSession is one websocket connection.
type wsSession struct {
	t      *wsTransport
	conn   *wsConn
	ctx    context.Context // the connection's; after connection_init, with its actor
	cancel context.CancelFunc
	exec   graphql.GraphExecutor
	// The upgrade request's headers are not kept (nothing reads an
	// operation's Headers): 1 KiB less per connection.

	inited    atomic.Bool
	initTimer *time.Timer // until connection_init (the reader's)

	mu     sync.Mutex
	subs   map[string]*wsSub // operations in progress, by id
	closed bool
}

// run reads the client's messages until the connection ends.
func (s *wsSession) run() {
	defer func() {
		if p := recover(); p != nil {
			s.t.log.ErrorContext(s.ctx, "websocket connection panicked", "panic", p)
		}
		s.end()
	}()
	timeout := s.t.initTimeout
	if timeout == 0 {
		timeout = wsInitTimeout
	}
	s.initTimer = time.AfterFunc(timeout, func() {
		if !s.inited.Load() {
			s.closeWith(closeInitTimeout, "connection initialisation timeout")
		}
	})
	for {
		typ, data, err := s.conn.read()
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			s.closeWith(closeBadMessage, "binary messages are not GraphQL messages")
			return
		}
		var m wsMessage
		if err := json.Unmarshal(data, &m); err != nil {
			s.closeWith(closeBadMessage, "invalid message: not a JSON object with a type")
			return
		}
		if !s.handle(m, graphql.Now()) {
			return
		}
	}
}

// handle answers one message; false ends the connection.
func (s *wsSession) handle(m wsMessage, read time.Time) bool {
	legacy := s.conn.legacy
	switch m.Type {
	case "connection_init":
		if s.inited.Load() {
			s.closeWith(closeTooManyInits, "too many initialisation requests")
			return false
		}
		return s.initialise(m.Payload)
	case "ping":
		if legacy {
			break
		}
		_ = s.write(wsFrame("", "pong", m.Payload))
		return true
	case "pong":
		if legacy {
			break
		}
		return true // the read itself is what the keep-alive loop notes
	case "connection_terminate":
		if !legacy {
			break
		}
		s.closeWith(int(websocket.StatusNormalClosure), "terminated")
		return false
	case "subscribe", "start":
		if (m.Type == "start") != legacy {
			break
		}
		if !s.inited.Load() {
			s.closeWith(closeUnauthorized, "unauthorized: connection_init first")
			return false
		}
		return s.subscribe(m.ID, m.Payload, read)
	case "complete", "stop":
		if (m.Type == "stop") != legacy {
			break
		}
		s.stop(m.ID)
		return true
	}
	if len(m.Type) > 64 {
		m.Type = m.Type[:64]
	}
	s.closeWith(closeBadMessage, "unexpected message type "+strconv.Quote(m.Type))
	return false
}

// initialise authenticates the connection (connection_init).
func (s *wsSession) initialise(raw json.RawMessage) bool {
	var payload transport.InitPayload
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &payload); err != nil {
			s.closeWith(closeBadMessage, "invalid connection_init payload: not a JSON object")
			return false
		}
	}
	ctx, ack, err := s.t.init(s.ctx, payload)
	if err != nil {
		code, reason := int(websocket.StatusNormalClosure), "terminated"
		var ir *initRefusal
		if errors.As(err, &ir) {
			code, reason = ir.code, ir.reason
		}
		if s.conn.legacy {
			_ = s.write(wsFrame("", "connection_error", errorJSON(err.Error())))
		}
		s.closeWith(code, reason)
		return false
	}
	s.ctx = ctx // only the reader reads it; operations get it from subscribe
	var ackPayload json.RawMessage
	if ack != nil {
		if ackPayload, err = json.Marshal(*ack); err != nil {
			s.closeWith(int(websocket.StatusInternalError), "connection_ack payload")
			return false
		}
	}
	s.inited.Store(true)
	s.initTimer.Stop()
	s.initTimer = nil // an idle connection keeps no timer
	_ = s.write(wsFrame("", "connection_ack", ackPayload))
	if s.conn.legacy {
		_ = s.write(kaFrame)
	}
	return true
}

// subscribe starts operation id: an event stream is then driven by its
// follower (push), anything else by a goroutine of its own (pull).
func (s *wsSession) subscribe(id string, raw json.RawMessage, read time.Time) bool {
	if id == "" || len(id) > maxOperationIDSize {
		s.closeWith(closeBadMessage, "an operation needs an id of 1 to "+strconv.Itoa(maxOperationIDSize)+" bytes")
		return false
	}
	s.mu.Lock()
	if _, dup := s.subs[id]; dup {
		s.mu.Unlock()
		s.closeWith(closeDuplicateID, "subscriber for "+strconv.Quote(id)+" already exists")
		return false
	}
	ctx, cancel := context.WithCancel(s.ctx)
	sub := &wsSub{s: s, id: id, cancel: cancel}
	if s.subs == nil {
		s.subs = map[string]*wsSub{}
	}
	s.subs[id] = sub
	s.mu.Unlock()
	// Parsing, validation and the resolver (which reads the database) run off
	// the reader, so that its stack stays that of a read.
	go sub.start(ctx, raw, read)
	return true
}

// stop ends operation id (the client's complete/stop). Its id is free for a
// new operation at once; the operation still sends its complete.
func (s *wsSession) stop(id string) {
	s.mu.Lock()
	sub := s.subs[id]
	if sub != nil {
		delete(s.subs, id)
	}
	s.mu.Unlock()
	if sub != nil {
		sub.cancel()
	}
}

// forget removes sub from the operations in progress.
func (s *wsSession) forget(sub *wsSub) {
	s.mu.Lock()
	if s.subs[sub.id] == sub {
		delete(s.subs, sub.id)
	}
	s.mu.Unlock()
	sub.cancel()
}

// end ends the connection: every operation's context, the connection's.
func (s *wsSession) end() {
	if s.initTimer != nil {
		s.initTimer.Stop()
	}
	s.mu.Lock()
	s.closed = true
	s.subs = nil
	s.mu.Unlock()
	s.cancel()
	_ = s.conn.Close()
}

// closeWith starts the close handshake with code and reason; the reader's
// next read then fails and ends the connection.
func (s *wsSession) closeWith(code int, reason string) {
	if len(reason) > 120 { // a close reason must fit in a control frame
		reason = reason[:120]
	}
	_ = s.conn.WriteClose(code, reason)
}

// write sends one frame.
func (s *wsSession) write(frame []byte) error { return s.conn.writeFrame(frame) }

// sendResponse sends one result of operation id.
func (s *wsSession) sendResponse(id string, resp *graphql.Response) error {
	typ := "next"
	if s.conn.legacy {
		typ = "data"
	}
	var payload []byte
	if len(resp.Errors) == 0 && len(resp.Extensions) == 0 && resp.Label == "" && resp.Path == nil && resp.HasNext == nil && len(resp.Data) > 0 {
		// The usual event: its data as made (and perhaps shared by the
		// fan-out cache), not compacted again by json.Marshal.
		payload = make([]byte, 0, len(resp.Data)+9)
		payload = append(payload, `{"data":`...)
		payload = append(payload, resp.Data...)
		payload = append(payload, '}')
	} else {
		var err error
		if payload, err = json.Marshal(resp); err != nil {
			return err
		}
	}
	return s.write(wsFrame(id, typ, payload))
}

// sendError sends an operation's errors (it ends the operation).
func (s *wsSession) sendError(id string, errs ...*gqlerror.Error) {
	b, err := json.Marshal(errs)
	if err != nil {
		b = errorJSONList("the error could not be encoded")
	}
	_ = s.write(wsFrame(id, "error", b))
}

func (s *wsSession) complete(id string) { _ = s.write(wsFrame(id, "complete", nil)) }

// wsFrame encodes one message (payload: JSON or nil).
func wsFrame(id, typ string, payload []byte) []byte {
	b := make([]byte, 0, len(id)+len(typ)+len(payload)+32)
	b = append(b, '{')
	if id != "" {
		b = append(b, `"id":`...)
		b = strconv.AppendQuote(b, id) // ids are at most maxOperationIDSize bytes of anything
		b = append(b, ',')
	}
	b = append(b, `"type":"`...)
	b = append(b, typ...)
	b = append(b, '"')
	if len(payload) > 0 {
		b = append(b, `,"payload":`...)
		b = append(b, payload...)
	}
	return append(b, '}')
}

func errorJSON(msg string) []byte {
	b, _ := json.Marshal(&gqlerror.Error{Message: msg})
	return b
}

func errorJSONList(msg string) []byte {
	b, _ := json.Marshal([]*gqlerror.Error{{Message: msg}})
	return b
}

// wsSub is one operation of a websocket connection.
type wsSub struct {
	s      *wsSession
	id     string
	cancel context.CancelFunc

	// mu is held while the operation is dispatched: the first event of a
	// stream waits for its response handler.
	mu        sync.Mutex
	pushed    bool // an event stream drives it (claimPush)
	responses graphql.ResponseHandler
	ctx       context.Context
	rc        *graphql.OperationContext
	done      bool
}

type wsSubKey struct{}

// pushSubFrom returns the websocket operation ctx is dispatched for, nil
// outside one (SSE, HTTP).
func pushSubFrom(ctx context.Context) *wsSub {
	s, _ := ctx.Value(wsSubKey{}).(*wsSub)
	return s
}

// claimPush makes the event stream being started drive the operation: the
// transport starts no goroutine for it. Called while it is dispatched.
func (sub *wsSub) claimPush(on bool) { sub.pushed = on }

// start parses and dispatches the operation (on a goroutine of its own, which
// ends once an event stream has taken the operation over).
func (sub *wsSub) start(ctx context.Context, raw json.RawMessage, read time.Time) {
	s := sub.s
	ctx = graphql.StartOperationTrace(ctx)
	params := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // variables keep their numbers' text, as gqlgen's transports do (Int64)
	if err := dec.Decode(params); err != nil || params.Query == "" && params.Extensions == nil {
		msg := "invalid subscribe payload: a JSON object with a query"
		s.sendError(sub.id, &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": "INVALID_INPUT"}})
		s.forget(sub)
		return
	}
	params.ReadTime = graphql.TraceTiming{Start: read, End: graphql.Now()}
	rc, gerr := s.exec.CreateOperationContext(ctx, params)
	if gerr != nil {
		resp := s.exec.DispatchError(graphql.WithOperationContext(ctx, rc), gerr)
		if errcode.GetErrorKind(gerr) == errcode.KindProtocol {
			s.sendError(sub.id, resp.Errors...)
		} else {
			_ = s.sendResponse(sub.id, &graphql.Response{Errors: gerr})
		}
		s.complete(sub.id)
		s.forget(sub)
		return
	}
	ctx = graphql.WithOperationContext(ctx, rc)
	ctx = context.WithValue(ctx, wsSubKey{}, sub)
	sub.rc = rc
	sub.mu.Lock()
	responses, octx, panicked := dispatch(s.exec, ctx, rc)
	if panicked != nil {
		sub.done = true
		sub.mu.Unlock()
		sub.fail(ctx, panicked)
		return
	}
	sub.responses, sub.ctx = responses, octx
	pushed := sub.pushed
	sub.mu.Unlock()
	if pushed {
		return // the stream's follower delivers and ends it
	}
	sub.pull()
}

// dispatch is exec.DispatchOperation, its panic returned.
func dispatch(exec graphql.GraphExecutor, ctx context.Context, rc *graphql.OperationContext) (h graphql.ResponseHandler, octx context.Context, panicked any) {
	defer func() {
		if p := recover(); p != nil {
			panicked = p
		}
	}()
	h, octx = exec.DispatchOperation(ctx, rc)
	return h, octx, nil
}

// pull runs an operation that no event stream drives: its responses until
// the end.
func (sub *wsSub) pull() {
	s := sub.s
	defer func() {
		if p := recover(); p != nil {
			sub.fail(sub.ctx, p)
		}
	}()
	for {
		resp := sub.responses(sub.ctx)
		if resp == nil {
			break
		}
		if err := s.sendResponse(sub.id, resp); err != nil {
			break
		}
	}
	s.complete(sub.id)
	s.forget(sub)
}

// fail reports a panic of the operation as its error and ends it.
func (sub *wsSub) fail(ctx context.Context, p any) {
	var gqlerr *gqlerror.Error
	err := sub.rc.Recover(ctx, p)
	if !errors.As(err, &gqlerr) {
		gqlerr = &gqlerror.Error{Message: fmt.Sprint(err)}
	}
	sub.s.sendError(sub.id, gqlerr)
	sub.s.forget(sub)
}

// errSubscriptionEnded: the operation's context ended (the client stopped it
// or left).
var errSubscriptionEnded = errors.New("subscription ended")

// deliver executes the event the stream's slot holds and sends the result,
// on the stream's goroutine. An error ends the stream.
func (sub *wsSub) deliver() (err error) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.done || sub.responses == nil {
		return errSubscriptionEnded
	}
	defer func() {
		if p := recover(); p != nil {
			sub.done = true
			sub.fail(sub.ctx, p)
			err = errSubscriptionEnded
		}
	}()
	resp := sub.responses(sub.ctx)
	if resp == nil {
		return errSubscriptionEnded
	}
	return sub.s.sendResponse(sub.id, resp)
}

// end is the end of an event stream (its follower's last act): the response
// handler sees the end (freeing the connection's subscription slot), and the
// client gets complete.
func (sub *wsSub) end() {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.done {
		return
	}
	sub.done = true
	if sub.responses != nil {
		func() {
			defer func() { _ = recover() }()
			sub.responses(sub.ctx) // the stream's channel is closed: nil at once
		}()
	}
	sub.s.complete(sub.id)
	sub.s.forget(sub)
}
