package dispatch

import (
	"archive/zip"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/agentproto"
	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
)

// Mount registers the agent endpoints (they authenticate themselves: registration token, agent
// credential) on mux. The log download (LogsHandler) needs API authentication and is mounted by
// the server behind its auth middleware.
func (h *Hub) Mount(mux *http.ServeMux) {
	mux.Handle("POST "+agentproto.RegisterPath, h.RegisterHandler())
	mux.Handle("GET "+agentproto.ConnectPath, h.ConnectHandler())
}

// writeAgentError writes the JSON error body agents understand (agentproto.RegisterError).
func writeAgentError(w http.ResponseWriter, status int, code agentproto.ErrorCode, msg string) {
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cairn-agent"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(agentproto.RegisterError{Code: code, Message: msg})
}

// httpStatus maps an engine error to an HTTP status and agent error code.
func httpStatus(err error) (int, agentproto.ErrorCode) {
	switch delivery.CodeOf(err) {
	case delivery.CodeUnauthenticated:
		return http.StatusUnauthorized, agentproto.ErrUnauthorized
	case delivery.CodeForbidden:
		return http.StatusForbidden, agentproto.ErrUnauthorized
	case delivery.CodeConflict:
		return http.StatusConflict, agentproto.ErrConflict
	case delivery.CodeInvalidInput:
		return http.StatusBadRequest, agentproto.ErrBadMessage
	case delivery.CodeNotFound:
		return http.StatusNotFound, agentproto.ErrBadMessage
	case delivery.CodeUnavailable:
		return http.StatusServiceUnavailable, agentproto.ErrInternal
	}
	return http.StatusInternalServerError, agentproto.ErrInternal
}

// retryLater prepares a 503 answer (Retry-After) to a storage failure and returns its message
// for people (delivery.Unavailable).
func retryLater(w http.ResponseWriter, err error) string {
	w.Header().Set("Retry-After", strconv.Itoa(auth.RetryAfterSeconds))
	return delivery.Unavailable(err).Message
}

// RegisterHandler serves POST /agent/register: a registration token for a credential.
func (h *Hub) RegisterHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, agentproto.MaxRegisterBodyBytes)
		var req agentproto.RegisterRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeAgentError(w, http.StatusRequestEntityTooLarge, agentproto.ErrBadMessage,
					fmt.Sprintf("request body exceeds %d bytes", agentproto.MaxRegisterBodyBytes))
				return
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				writeAgentError(w, http.StatusRequestTimeout, agentproto.ErrBadMessage, "the request body was not received in time")
				return
			}
			writeAgentError(w, http.StatusBadRequest, agentproto.ErrBadMessage, "request body is not a JSON registration request: "+err.Error())
			return
		}
		a, jti, err := h.e.RegisterAgent(r.Context(), req.Token, delivery.RegisterAgentInput{
			Name: req.Name, Pool: req.Pool, Version: req.Version, OS: req.OS, Arch: req.Arch, Capabilities: req.Capabilities,
			DeploymentGroup: req.DeploymentGroup, Tags: req.Tags,
		})
		if err != nil {
			status, code := httpStatus(err)
			msg := err.Error()
			if status == http.StatusServiceUnavailable {
				msg = retryLater(w, err)
			}
			if status == http.StatusInternalServerError {
				h.log.ErrorContext(r.Context(), "registering an agent", "err", err)
				msg = "internal error"
			}
			writeAgentError(w, status, code, msg)
			return
		}
		cred, err := h.opts.Keys.IssueAgentToken(strconv.Itoa(a.ID), jti, time.Now().Add(h.opts.CredentialTTL))
		if err != nil {
			h.log.ErrorContext(r.Context(), "issuing an agent credential", "agent", a.ID, "err", err)
			writeAgentError(w, http.StatusInternalServerError, agentproto.ErrInternal, "internal error")
			return
		}
		h.log.InfoContext(r.Context(), "agent registered", "agent", a.ID, "name", a.Name)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(agentproto.RegisterResponse{AgentID: strconv.Itoa(a.ID), Credential: cred})
	})
}

// bearer extracts the token of an "Authorization: Bearer …" header.
func bearer(r *http.Request) (string, bool) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	tok := strings.TrimSpace(h[7:])
	return tok, tok != ""
}

// offersSubprotocol reports whether the client offered the protocol's subprotocol.
func offersSubprotocol(r *http.Request) bool {
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if strings.TrimSpace(p) == agentproto.Subprotocol {
				return true
			}
		}
	}
	return false
}

// ConnectHandler serves GET /agent/connect: it verifies the credential before upgrading (401 or
// 403 otherwise, which stop the agent), then runs the session.
func (h *Hub) ConnectHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r)
		if !ok {
			writeAgentError(w, http.StatusUnauthorized, agentproto.ErrUnauthorized, "missing credential: send Authorization: Bearer <agent credential>")
			return
		}
		claims, err := h.opts.Keys.Verify(tok, auth.AudienceAgent)
		if err != nil {
			writeAgentError(w, http.StatusUnauthorized, agentproto.ErrUnauthorized, err.Error())
			return
		}
		agentID, err := strconv.Atoi(claims.Subject)
		if err != nil {
			writeAgentError(w, http.StatusUnauthorized, agentproto.ErrUnauthorized, "credential subject is not an agent")
			return
		}
		if _, err := h.e.AgentForCredential(r.Context(), agentID, claims.ID); err != nil {
			status, code := httpStatus(err)
			msg := err.Error()
			if status == http.StatusServiceUnavailable {
				msg = retryLater(w, err)
			}
			if status == http.StatusInternalServerError {
				h.log.ErrorContext(r.Context(), "checking an agent credential", "err", err)
				msg = "internal error"
			}
			writeAgentError(w, status, code, msg)
			return
		}
		if !offersSubprotocol(r) {
			writeAgentError(w, http.StatusBadRequest, agentproto.ErrBadMessage, "websocket subprotocol "+agentproto.Subprotocol+" required")
			return
		}
		if h.ctx.Err() != nil {
			writeAgentError(w, http.StatusServiceUnavailable, agentproto.ErrInternal, "server shutting down")
			return
		}
		// Agents are not browsers: the credential authenticates, Origin does not apply.
		heard := agentproto.NewHeard(h.clock)
		conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			Subprotocols: []string{agentproto.Subprotocol}, InsecureSkipVerify: true,
			OnPingReceived: heard.OnPing, OnPongReceived: heard.OnPong,
		})
		if err != nil {
			return // Accept has answered
		}
		conn.SetReadLimit(agentproto.MaxMessageBytes)
		h.conns.Add(1)
		defer h.conns.Done()
		h.serve(conn, agentID, heard)
	})
}

// serve reads the hello and runs the session.
func (h *Hub) serve(conn *websocket.Conn, agentID int, heard *agentproto.Heard) {
	defer conn.CloseNow()
	ctx, cancel := context.WithCancelCause(h.ctx)
	defer cancel(nil)
	s := &session{
		hub: h, agentID: agentID, conn: conn, ctx: ctx, cancel: cancel, heard: heard,
		out: make(chan []byte, outboxSize), log: h.log.With("agent", agentID), closed: make(chan struct{}),
	}
	// A shutdown during the hello closes the connection with going-away (as Close does for
	// sessions), not by cancelling the read, which would drop the connection without a close
	// frame.
	helloCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), h.opts.HelloTimeout)
	shutdown := make(chan struct{})
	stopShutdown := context.AfterFunc(h.ctx, func() {
		defer close(shutdown)
		_ = conn.Close(websocket.StatusGoingAway, "server shutting down")
	})
	_, data, err := conn.Read(helloCtx)
	stop()
	if !stopShutdown() {
		<-shutdown // the close handshake is over
		return
	}
	if err != nil {
		s.log.Info("agent sent no hello", "err", err)
		conn.Close(agentproto.CloseProtocolError, "no hello")
		return
	}
	heard.Mark()
	var hello agentproto.Hello
	if err := json.Unmarshal(data, &hello); err != nil || hello.Type != agentproto.TypeHello {
		s.sendNow(agentproto.Error{Type: agentproto.TypeError, Code: agentproto.ErrBadMessage, Message: "the first message must be hello"})
		conn.Close(agentproto.CloseProtocolError, "the first message must be hello")
		return
	}
	s.run(hello)
	if s.closeStarted.Load() {
		<-s.closed // Close bounds its handshake itself
	}
}

// LogsHandler serves GET /logs/deployments/{id}: a deployment's stored log as plain text (gzip
// when the client accepts it), or as a zip with ?format=zip. ?fromSeq=N and ?toSeq=M select
// lines by sequence number (inclusive), ?step=K the lines of one step (0 is "Download
// artifacts", i+1 the task i), ?headers=1 puts a header line before each task's lines
// (delivery.StepHeader). The log is streamed as it is read (delivery.WriteDeploymentLog):
// memory does not grow with it, and a failure after the first byte aborts the response instead
// of ending it as if the log were complete. It requires an authenticated viewer (mount it behind
// auth middleware); a deployment the viewer may not read is a 404, as for a missing one.
func LogsHandler(e *delivery.Engine, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := auth.ActorFrom(r.Context())
		if !ok {
			auth.WriteError(w, http.StatusUnauthorized, string(delivery.CodeUnauthenticated), "authentication required")
			return
		}
		if err := a.Require(delivery.RoleViewer, "reading logs"); err != nil {
			auth.WriteError(w, http.StatusForbidden, string(delivery.CodeForbidden), err.Error())
			return
		}
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil || id <= 0 {
			auth.WriteError(w, http.StatusBadRequest, string(delivery.CodeInvalidInput), "deployment id must be a positive number")
			return
		}
		rng, format, err := logQuery(r.URL.Query())
		if err != nil {
			auth.WriteError(w, http.StatusBadRequest, string(delivery.CodeInvalidInput), err.Error())
			return
		}
		var zw *zip.Writer
		var gz *gzip.Writer
		opened := false
		open := func() (io.Writer, error) {
			opened = true
			name := fmt.Sprintf("deployment-%d.log", id)
			h := w.Header()
			h.Set("X-Content-Type-Options", "nosniff")
			if format == "zip" {
				h.Set("Content-Type", "application/zip")
				h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="deployment-%d.zip"`, id))
				zw = zip.NewWriter(w)
				return zw.Create(name)
			}
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("Content-Disposition", fmt.Sprintf(`inline; filename=%q`, name))
			h.Set("Vary", "Accept-Encoding")
			if acceptsGzip(r.Header.Values("Accept-Encoding")) {
				h.Set("Content-Encoding", "gzip")
				gz, _ = gzip.NewWriterLevel(w, gzip.BestSpeed) // BestSpeed is a valid level
				return gz, nil
			}
			return w, nil
		}
		err = e.WriteDeploymentLog(r.Context(), a, id, rng, open)
		if err == nil && gz != nil {
			err = gz.Close()
		}
		if err == nil && zw != nil {
			err = zw.Close()
		}
		if err == nil {
			return
		}
		if !opened {
			status, _ := httpStatus(err)
			msg := err.Error()
			if status == http.StatusServiceUnavailable {
				msg = retryLater(w, err)
			}
			if status == http.StatusInternalServerError {
				log.ErrorContext(r.Context(), "reading deployment log", "deployment", id, "err", err)
				msg = "reading the log failed"
			}
			auth.WriteError(w, status, string(delivery.CodeOf(err)), msg)
			return
		}
		if r.Context().Err() == nil {
			log.ErrorContext(r.Context(), "streaming deployment log", "deployment", id, "err", err)
		}
		// Headers and part of the log are sent: abort the response so that the client sees a
		// broken transfer, not a shorter log.
		panic(http.ErrAbortHandler)
	})
}

// logQuery reads the download's query parameters: format (text or zip), fromSeq, toSeq and step
// (whole numbers; delivery checks their ranges), target (one deployment-group target's log),
// headers (1 or 0: task headers). A parameter given twice is refused.
func logQuery(q url.Values) (delivery.LogRange, string, error) {
	var rng delivery.LogRange
	for k, v := range q {
		if len(v) > 1 {
			switch k {
			case "format", "fromSeq", "toSeq", "step", "target", "headers":
				return rng, "", fmt.Errorf("%s is given %d times", k, len(v))
			}
		}
	}
	format := q.Get("format")
	if format != "" && format != "text" && format != "zip" {
		return rng, "", errors.New("format must be text or zip")
	}
	num := func(name string) (int64, bool, error) {
		s := q.Get(name)
		if s == "" {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("%s must be a whole number, not %q", name, truncate(s, 40))
		}
		return n, true, nil
	}
	var err error
	if rng.FromSeq, _, err = num("fromSeq"); err != nil {
		return rng, "", err
	}
	if rng.ToSeq, _, err = num("toSeq"); err != nil {
		return rng, "", err
	}
	step, set, err := num("step")
	if err != nil {
		return rng, "", err
	}
	if set {
		if step < 0 || step > 1<<31-1 {
			return rng, "", fmt.Errorf("step must be a step number (0 or more), not %d", step)
		}
		s := int(step)
		rng.Step = &s
	}
	rng.Target = q.Get("target")
	switch h := q.Get("headers"); h {
	case "", "0", "false":
	case "1", "true":
		rng.Headers = true
	default:
		return rng, "", fmt.Errorf("headers must be 1 or 0, not %q", truncate(h, 40))
	}
	return rng, format, nil
}

// truncate cuts s to at most n bytes (for echoing hostile input in messages).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// acceptsGzip reports whether Accept-Encoding header values admit gzip: named (or x-gzip) with a
// weight above zero, or, when not named, "*" with a weight above zero.
func acceptsGzip(values []string) bool {
	named, star := -1.0, -1.0
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
					if err != nil || f != f {
						f = 0 // a weight that is not a number admits nothing
					}
					q = f
				}
			}
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "gzip", "x-gzip":
				named = max(named, q)
			case "*":
				star = max(star, q)
			}
		}
	}
	if named >= 0 {
		return named > 0
	}
	return star > 0
}
