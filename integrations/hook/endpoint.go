package hook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/cairnhq/cairn/delivery"
)

// Engine is what a webhook endpoint needs of the release engine.
// *delivery.Engine implements it.
type Engine interface {
	ConnectionByName(ctx context.Context, name string) (delivery.ConnectionInfo, error)
	ConnectionSecrets(ctx context.Context, id int) (username, secret, webhookSecret string, err error)
	FollowingSources(ctx context.Context, r delivery.BuildReceipt) ([]delivery.FollowingSource, error)
	ReceiveBuild(ctx context.Context, r delivery.BuildReceipt, answer delivery.AnswerFunc) (delivery.ReceiptResult, error)
	RecordDelivery(ctx context.Context, d delivery.DeliveryRecord) (int, error)
}

// Conn is the service connection a webhook authenticated as, with its API
// secret for calls back to the CI server.
type Conn struct {
	delivery.ConnectionInfo
	Secret string
}

// Adapter is what differs between the CI servers: how a request
// authenticates and how a body becomes a build.
type Adapter interface {
	// Source is SourceJenkins or SourceTeamBuild.
	Source() Source
	// ConnectionKind is the kind of service connection the webhook accepts
	// (JENKINS, AZURE_DEVOPS).
	ConnectionKind() string
	// Authenticate checks the request against the connection's user name
	// and webhook secret, in constant time.
	Authenticate(r *http.Request, username, webhookSecret string) bool
	// Receipt parses an authenticated body into a build receipt. Errors
	// match ErrMalformed or ErrInvalid (400), ErrIgnored (202),
	// ErrUnavailable (503) or
	// ErrUnconfirmed (422: the CI server does not confirm the build).
	// A receipt that can release must be confirmed with the CI server at
	// conn.URL: its BuildURL and Files come from that answer, never from
	// the payload.
	Receipt(ctx context.Context, body []byte, conn Conn, engine Engine) (*delivery.BuildReceipt, error)
}

// Endpoint serves one CI server's webhook at a path with a {connection}
// wildcard: POST /webhooks/jenkins/{connection}. It authenticates with the
// connection's webhook secret, not with API tokens.
type Endpoint struct {
	Adapter Adapter
	Engine  Engine
	Log     *slog.Logger
}

// Response is the JSON body of every webhook answer.
type Response struct {
	Result   string `json:"result"`
	Reason   string `json:"reason,omitempty"`
	Delivery int    `json:"delivery,omitempty"`
	Releases []int  `json:"releases"`
}

// ServeHTTP runs the webhook flow (see the package doc). A request that does not authenticate
// as a service connection (unknown connection, wrong or missing credentials) is answered and
// logged but writes nothing: anyone can send those, and a row per request would let them fill
// the database. Every authenticated delivery is recorded whatever its outcome.
func (ep *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	src := string(ep.Adapter.Source())
	name := r.PathValue("connection")
	rec := delivery.DeliveryRecord{Source: src, Result: delivery.DeliveryRejected}

	conn, err := ep.Engine.ConnectionByName(ctx, name)
	switch {
	case delivery.CodeOf(err) == delivery.CodeNotFound,
		err == nil && conn.Kind != ep.Adapter.ConnectionKind():
		// The same answer as wrong credentials: an unauthenticated caller
		// must not learn which connection names exist.
		ep.log().WarnContext(ctx, "webhook refused: "+fmt.Sprintf("no %s service connection named %q", ep.Adapter.ConnectionKind(), truncate(name)),
			"source", src, "remote", r.RemoteAddr)
		ep.unauthorized(w)
		return
	case err != nil:
		ep.log().ErrorContext(ctx, "webhook failed before authentication", "source", src, "err", err)
		ep.refuse(w, err, failureReason(err))
		return
	}
	_, secret, webhookSecret, err := ep.Engine.ConnectionSecrets(ctx, conn.ID)
	if err != nil {
		ep.log().ErrorContext(ctx, "webhook failed before authentication", "source", src, "connection", conn.ID, "err", err)
		ep.refuse(w, err, failureReason(err))
		return
	}
	if !ep.Adapter.Authenticate(r, conn.Username, webhookSecret) {
		reason := "wrong or missing credentials"
		if webhookSecret == "" {
			reason = "the connection has no webhook secret: set one to accept webhooks"
		}
		// Warn: a CI server with a stale secret shows up here (and nowhere
		// else). The caller gets the answer of an unknown connection.
		ep.log().WarnContext(ctx, "webhook refused: "+reason, "source", src, "connection", conn.Name, "remote", r.RemoteAddr)
		ep.unauthorized(w)
		return
	}
	rec.ConnectionID = conn.ID
	body, err := ReadBody(r, MaxBodyBytes)
	if err != nil {
		if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrSlowBody) {
			err = &ParseError{Payload: "webhook", Kind: ErrMalformed, Reason: "reading the body: " + err.Error(), Err: err}
		}
		ep.reject(ctx, w, rec, err, err.Error())
		return
	}
	rec.BuildKey, rec.Payload = BodyKey(body), body
	receipt, err := ep.Adapter.Receipt(ctx, body, Conn{ConnectionInfo: conn, Secret: secret}, ep.Engine)
	var ign *IgnoredError
	switch {
	case errors.As(err, &ign):
		rec.Result = delivery.DeliveryIgnored
		ep.reject(ctx, w, rec, err, ign.Reason)
		return
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrInvalid), errors.Is(err, ErrUnavailable), errors.Is(err, ErrUnconfirmed):
		ep.reject(ctx, w, rec, err, err.Error())
		return
	case err != nil:
		ep.fail(ctx, w, rec, err)
		return
	}
	receipt.Payload = body
	res, err := ep.Engine.ReceiveBuild(ctx, *receipt, ResultStatus)
	if err != nil {
		rec.BuildKey, rec.Event = receipt.Key, receipt.Event
		if delivery.CodeOf(err) == delivery.CodeInvalidInput {
			ep.reject(ctx, w, rec, &ParseError{Payload: "build", Kind: ErrInvalid, Reason: err.Error(), Err: err}, err.Error())
			return
		}
		ep.fail(ctx, w, rec, err)
		return
	}
	writeJSON(w, ResultStatus(res.Result), Response{Result: res.Result, Reason: res.Reason, Delivery: res.DeliveryID, Releases: nonNil(res.ReleaseIDs)})
}

// unauthorizedReason is the one answer to every request that does not
// authenticate as a connection of the endpoint's kind, whether the name
// exists or not.
const unauthorizedReason = "unknown connection or wrong or missing credentials"

// unauthorized answers 401 with the one reason, recording nothing.
func (ep *Endpoint) unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="cairn webhooks"`)
	ep.refuse(w, ErrUnauthorized, unauthorizedReason)
}

// refuse answers a request that did not authenticate, recording nothing.
func (ep *Endpoint) refuse(w http.ResponseWriter, err error, reason string) {
	writeJSON(w, StatusCode(err), Response{Result: delivery.DeliveryRejected, Reason: reason, Releases: []int{}})
}

// reject records a delivery that creates nothing and answers with the
// status of err's kind.
func (ep *Endpoint) reject(ctx context.Context, w http.ResponseWriter, rec delivery.DeliveryRecord, err error, reason string) {
	status := StatusCode(err)
	rec.Reason, rec.StatusCode = reason, status
	id, rerr := ep.Engine.RecordDelivery(context.WithoutCancel(ctx), rec)
	if rerr != nil {
		ep.log().ErrorContext(ctx, "recording webhook delivery", "source", rec.Source, "err", rerr)
	}
	writeJSON(w, status, Response{Result: rec.Result, Reason: reason, Delivery: id, Releases: []int{}})
}

// fail answers 500 for an error of no known kind, logs it once, and records
// the delivery as REJECTED without its key, so that the sender's retry is
// not taken for a duplicate.
func (ep *Endpoint) fail(ctx context.Context, w http.ResponseWriter, rec delivery.DeliveryRecord, err error) {
	ep.log().ErrorContext(ctx, "webhook failed", "source", rec.Source, "connection", rec.ConnectionID, "err", err)
	status := http.StatusInternalServerError
	if delivery.CodeOf(err) == delivery.CodeUnavailable {
		status = http.StatusServiceUnavailable
	}
	rec.Result, rec.Reason, rec.StatusCode = delivery.DeliveryRejected, failureReason(err), status
	id, rerr := ep.Engine.RecordDelivery(context.WithoutCancel(ctx), rec)
	if rerr != nil {
		ep.log().ErrorContext(ctx, "recording webhook delivery", "source", rec.Source, "err", rerr)
	}
	writeJSON(w, status, Response{Result: rec.Result, Reason: rec.Reason, Delivery: id, Releases: []int{}})
}

// failureReason is what the sender is told of a failure that is not its payload's: the storage
// failure in words (delivery.Unavailable), or "internal error" without detail.
func failureReason(err error) string {
	if u := delivery.Unavailable(err); u != nil {
		return u.Message + "; the build can be delivered again"
	}
	return "internal error; the build can be delivered again"
}

func (ep *Endpoint) log() *slog.Logger {
	if ep.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return ep.Log
}

// retryAfterSeconds is the Retry-After of a 503: when the sender may deliver again.
const retryAfterSeconds = "5"

func writeJSON(w http.ResponseWriter, status int, v any) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func nonNil(ids []int) []int {
	if ids == nil {
		return []int{}
	}
	return ids
}

// truncate shortens a value quoted in a reason.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
