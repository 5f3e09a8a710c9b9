package server

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// bodyDeadline gives the body of r (a copy of the request net/http holds: see below) a read
// deadline of timeout from now, the end of its headers (http.Server's ReadHeaderTimeout covers
// those), so that a body sent slowly, byte by byte, ends in a read error the handler answers
// (408 from the webhooks, the agent registration and GraphQL) instead of holding the
// connection and a handler forever.
//
// It applies only to requests with a body: websocket upgrades and GETs have none, so agent
// sockets, subscriptions and log streams are untouched. The deadline is lifted once the body
// has been read to its end: net/http's background read, which watches for the client going
// away while a handler runs, would otherwise hit it and cancel a long-lived response such as
// an SSE stream. It is kept after any other outcome (a timeout, a handler that stops reading
// early), so that net/http's discarding of the unread rest fails fast and the connection is
// closed rather than waiting on the slow client. ReadTimeout on the http.Server is no
// substitute: it would cut websockets and SSE too.
//
// r must not be the request net/http passed in: the server inspects that one's Body (its
// concrete type) after the handler to decide how to discard the rest.
func bodyDeadline(w http.ResponseWriter, r *http.Request, timeout time.Duration) {
	if timeout <= 0 || r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return
	}
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return // not a net/http connection (an in-memory test writer): nothing to bound
	}
	r.Body = &deadlineBody{ReadCloser: r.Body, lift: sync.OnceFunc(func() { _ = rc.SetReadDeadline(time.Time{}) })}
}

// deadlineBody lifts its connection's read deadline when the body has been read to its end.
type deadlineBody struct {
	io.ReadCloser
	lift func()
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.lift()
	}
	return n, err
}
