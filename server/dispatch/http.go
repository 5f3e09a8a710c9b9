package dispatch

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
	}
	return http.StatusInternalServerError, agentproto.ErrInternal
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
			writeAgentError(w, http.StatusBadRequest, agentproto.ErrBadMessage, "request body is not a JSON registration request: "+err.Error())
			return
		}
		a, jti, err := h.e.RegisterAgent(r.Context(), req.Token, delivery.RegisterAgentInput{
			Name: req.Name, Pool: req.Pool, Version: req.Version, OS: req.OS, Arch: req.Arch, Capabilities: req.Capabilities,
		})
		if err != nil {
			status, code := httpStatus(err)
			msg := err.Error()
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
		heard := new(agentproto.Heard)
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

// LogsHandler serves GET /logs/deployments/{id}: a deployment's log as plain text, or as a zip
// with ?format=zip. It requires an authenticated viewer (mount it behind auth middleware).
// Lines that reached the server after the job was declared LOST follow a marker line (afterLossMarker).
func LogsHandler(e *delivery.Engine) http.Handler {
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
		if err != nil {
			auth.WriteError(w, http.StatusBadRequest, string(delivery.CodeInvalidInput), "deployment id must be a number")
			return
		}
		format := r.URL.Query().Get("format")
		if format != "" && format != "text" && format != "zip" {
			auth.WriteError(w, http.StatusBadRequest, string(delivery.CodeInvalidInput), "format must be text or zip")
			return
		}
		// Read the first page before answering, so that an unknown (or
		// unreadable: restricted definition) deployment is a 404.
		first, err := e.DeploymentLogs(r.Context(), id, 1, 0)
		if err == nil {
			err = e.RequireReadableDeployment(r.Context(), a, id)
		}
		if err != nil {
			status := http.StatusInternalServerError
			if delivery.CodeOf(err) == delivery.CodeNotFound {
				status = http.StatusNotFound
			}
			auth.WriteError(w, status, string(delivery.CodeOf(err)), err.Error())
			return
		}
		name := fmt.Sprintf("deployment-%d.log", id)
		var out io.Writer = w
		var zw *zip.Writer
		if format == "zip" {
			w.Header().Set("Content-Type", "application/zip")
			w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="deployment-%d.zip"`, id))
			zw = zip.NewWriter(w)
			f, err := zw.Create(name)
			if err != nil {
				return
			}
			out = f
		} else {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Content-Disposition", fmt.Sprintf(`inline; filename=%q`, name))
		}
		if err := writeLines(r.Context(), e, id, first, out); err != nil {
			return // the client went away or the database failed mid-stream: nothing more to say
		}
		if zw != nil {
			_ = zw.Close()
		}
	})
}

// afterLossMarker precedes, in a downloaded log, the first line that reached the server after the
// job was declared LOST (delivery.LogLine.AfterLoss).
const afterLossMarker = "----- cairn: the job was declared LOST before the lines below reached the server (its agent was cut off for longer than the grace period and sent them when it came back) -----"

func writeLines(ctx context.Context, e *delivery.Engine, id int, page []delivery.LogLine, out io.Writer) error {
	marked := false
	for len(page) > 0 {
		var b strings.Builder
		for _, l := range page {
			if l.AfterLoss && !marked {
				b.WriteString(afterLossMarker + "\n")
				marked = true
			}
			b.WriteString(l.Text)
			b.WriteByte('\n')
		}
		if _, err := io.WriteString(out, b.String()); err != nil {
			return err
		}
		next := page[len(page)-1].Seq + 1
		var err error
		if page, err = e.DeploymentLogs(ctx, id, next, 0); err != nil {
			return err
		}
	}
	return nil
}
