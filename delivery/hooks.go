package delivery

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/event"
	"github.com/cairnhq/cairn/ent/hookdelivery"
	"github.com/cairnhq/cairn/ent/outgoinghook"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releasedefinition"
	"github.com/cairnhq/cairn/ent/streamcursor"
	"github.com/cairnhq/cairn/internal/backoff"
)

// Outgoing hooks: an ADMIN registers HTTP endpoints; every persisted event
// (see Event) that matches a hook's filters becomes a HookDelivery row (the
// outbox), and a loop POSTs due rows outside any transaction, retrying with
// backoff. Emitting an event never waits for a receiver: the state change
// commits first, hooks read the stored stream afterwards.

// Hook delivery tuning.
const (
	// HookMaxAttempts is how many POSTs a delivery gets before it is FAILED.
	HookMaxAttempts = 10
	// HookLease is how long a claimed delivery belongs to the replica that
	// claimed it; the poster's own timeout must be well below it. A replica
	// that dies mid-POST leaves the row claimable again after the lease.
	HookLease = 5 * time.Minute
	// hookCursorName keys the outbox's position in the event stream.
	hookCursorName = "hooks"
	// hookEnqueueBatch bounds the events read per enqueue transaction.
	hookEnqueueBatch = 500
	// hookPostConcurrency bounds simultaneous POSTs of one DeliverHooks call,
	// so one slow receiver does not hold up the others for long.
	hookPostConcurrency = 8
	// hookDeliverLimit is the batch size of the hook loop.
	hookDeliverLimit = 50
	// hookErrorDelay is how long the loop waits after a database error.
	hookErrorDelay = 30 * time.Second
	// hookRoundSpacing is the least time between the starts of two hook rounds that events
	// woke: a steady flow of commits (every replica's wake on every event) is taken in rounds
	// of at most this lag instead of a round (two reads at least) per event per replica.
	hookRoundSpacing = 50 * time.Millisecond
	// minHookSecretLen keeps HMAC secrets out of brute-force range.
	minHookSecretLen = 16
	// maxHookErrorLen bounds a recorded error message.
	maxHookErrorLen = 500
)

// hookBackoff is the wait after each failed attempt: 10 s doubling up to an hour.
var hookBackoff = backoff.Policy{Base: 10 * time.Second, Max: time.Hour}

// HookRetryDelay returns how long a delivery waits after its attempt-th
// failed attempt (1-based): 10 s, 20 s, 40 s, … doubling, at most 1 h.
func HookRetryDelay(attempt int) time.Duration { return hookBackoff.Delay(attempt) }

// HookEventTypes lists the event types a hook can subscribe to: every
// persisted event. log.appended is transient (no sequence) and never reaches
// hooks; follow logs with the deploymentLog subscription.
var HookEventTypes = []string{
	EventDefinitionChanged, EventReleaseCreated, EventReleaseAbandoned,
	EventEnvironmentStatusChanged, EventDeploymentStarted, EventDeploymentStatusChanged,
	EventDeploymentFinished, EventApprovalPending, EventApprovalDecided, EventApprovalTimedOut,
	EventApprovalReassigned, EventJobQueued, EventJobCancelRequested, EventJobFinished,
	EventJobLost, EventAgentChanged,
}

// HookMessage is one attempt of an outgoing hook delivery, as the engine
// decides it: where to, which event, and for a chat hook the one-line
// summary to post instead of the event. How it travels (JSON bodies,
// headers, the HMAC signature) is the sender's business: delivery knows no
// HTTP (server/hooks implements HookSender with net/http).
type HookMessage struct {
	URL string
	// DeliveryID stays the same across retries, so receivers deduplicate.
	DeliveryID string
	// RedeliveryOf, on a redelivery (RedeliverHookDelivery), is the DeliveryID of the delivery
	// the outbox enqueued for the event (sent as X-Cairn-Redelivery-Of).
	RedeliveryOf string
	Event        Event
	// Chat marks a chat hook (Slack): it gets Summary, not the event.
	Chat    bool
	Summary string
	// Secret, when set, signs the message.
	Secret string
}

// HookSender delivers one hook message. delivered reports that the
// receiver accepted it; code is what it answered (an HTTP status), recorded
// for people; err is set when no answer came (connection refused, timeout).
type HookSender interface {
	Send(ctx context.Context, m HookMessage) (delivered bool, code int, err error)
}

// HookInput describes a new outgoing hook.
type HookInput struct {
	Name string
	// URL is the absolute http(s) endpoint that receives POSTs.
	URL string
	// Secret signs each body (X-Cairn-Signature-256). Required unless Slack.
	Secret *string
	// EventTypes filters by type (see HookEventTypes); empty: all of them.
	EventTypes []string
	// DefinitionID, if set, limits the hook to that definition's events.
	DefinitionID *int
	// Slack sends {"text": "<summary>"} instead of the event JSON.
	Slack bool
	// Enabled defaults to true.
	Enabled *bool
}

// HookPatch changes some fields of a hook; nil fields are kept. An empty
// Secret clears it; an empty EventTypes list means all types;
// ClearDefinition removes the definition filter.
type HookPatch struct {
	Name            *string
	URL             *string
	Secret          *string
	EventTypes      *[]string
	DefinitionID    *int
	ClearDefinition bool
	Slack           *bool
	Enabled         *bool
}

// hookAudit is the audited view of a hook: whether it has a secret, never
// the secret, and no URL path for Slack (a Slack webhook URL is a secret).
type hookAudit struct {
	Name         string   `json:"name"`
	URL          string   `json:"url"`
	HasSecret    bool     `json:"hasSecret"`
	EventTypes   []string `json:"eventTypes,omitempty"`
	DefinitionID *int     `json:"definitionId,omitempty"`
	Slack        bool     `json:"slack"`
	Enabled      bool     `json:"enabled"`
}

func auditHook(h *ent.OutgoingHook) hookAudit {
	return hookAudit{
		Name: h.Name, URL: redactHookURL(h.URL, h.Slack), HasSecret: len(h.SecretEncrypted) > 0,
		EventTypes: h.EventTypes, DefinitionID: h.DefinitionID, Slack: h.Slack, Enabled: h.Enabled,
	}
}

// redactHookURL drops the query always and the path of Slack URLs, which
// carry the credential.
func redactHookURL(s string, slack bool) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	u.RawQuery, u.Fragment = "", ""
	if slack && u.Path != "" && u.Path != "/" {
		u.Path, u.RawPath = "/…", ""
	}
	return u.String()
}

// CreateOutgoingHook registers an outgoing hook. Only an ADMIN may. The hook
// receives the events persisted after its creation, never older ones.
func (e *Engine) CreateOutgoingHook(ctx context.Context, actor Actor, in HookInput) (*ent.OutgoingHook, error) {
	if err := actor.Require(RoleAdmin, "creating an outgoing hook"); err != nil {
		return nil, err
	}
	name, err := validateHookName(in.Name)
	if err != nil {
		return nil, err
	}
	u, err := validateHookURL(in.URL)
	if err != nil {
		return nil, err
	}
	types, err := validateHookEventTypes(in.EventTypes)
	if err != nil {
		return nil, err
	}
	secret, err := e.sealHookSecret(in.Secret)
	if err != nil {
		return nil, err
	}
	enabled := in.Enabled == nil || *in.Enabled
	var h *ent.OutgoingHook
	err = e.inTx(ctx, func(t *txn) error {
		if err := t.requireHookNameFree(name, 0); err != nil {
			return err
		}
		if in.DefinitionID != nil {
			if err := t.requireHookDefinition(*in.DefinitionID); err != nil {
				return err
			}
		}
		if err := requireHookSecret(in.Slack, secret != nil); err != nil {
			return err
		}
		from, err := t.lastEventSequence()
		if err != nil {
			return err
		}
		c := t.OutgoingHook.Create().SetName(name).SetURL(u).SetEventTypes(types).SetSlack(in.Slack).
			SetEnabled(enabled).SetNillableDefinitionID(in.DefinitionID).SetFromSequence(from).
			SetCreatedAt(t.now).SetUpdatedAt(t.now)
		if secret != nil {
			c.SetSecretEncrypted(secret)
		}
		if h, err = c.Save(ctx); err != nil {
			return err
		}
		t.notify(Event{Type: EventHooksChanged})
		return t.audit(actor, "hook.create", auditTargetHook, h.ID, nil, auditHook(h))
	})
	if err != nil {
		return nil, fmt.Errorf("creating outgoing hook %q: %w", in.Name, err)
	}
	return h, nil
}

// UpdateOutgoingHook changes an outgoing hook. Only an ADMIN may. Pending
// deliveries keep their place and go to the hook's new URL and secret.
func (e *Engine) UpdateOutgoingHook(ctx context.Context, actor Actor, id int, p HookPatch) (*ent.OutgoingHook, error) {
	if err := actor.Require(RoleAdmin, "updating an outgoing hook"); err != nil {
		return nil, err
	}
	var (
		name, u string
		types   []string
		secret  []byte
		err     error
	)
	if p.Name != nil {
		if name, err = validateHookName(*p.Name); err != nil {
			return nil, err
		}
	}
	if p.URL != nil {
		if u, err = validateHookURL(*p.URL); err != nil {
			return nil, err
		}
	}
	if p.EventTypes != nil {
		if types, err = validateHookEventTypes(*p.EventTypes); err != nil {
			return nil, err
		}
	}
	if p.ClearDefinition && p.DefinitionID != nil {
		return nil, Invalid("definitionId", "cannot be set and cleared at once")
	}
	if secret, err = e.sealHookSecret(p.Secret); err != nil {
		return nil, err
	}
	var h *ent.OutgoingHook
	err = e.inTx(ctx, func(t *txn) error {
		old, err := t.OutgoingHook.Get(ctx, id)
		if ent.IsNotFound(err) {
			return NotFound("outgoing hook", id)
		}
		if err != nil {
			return err
		}
		upd := old.Update().SetUpdatedAt(t.now)
		if p.Name != nil {
			if err := t.requireHookNameFree(name, id); err != nil {
				return err
			}
			upd.SetName(name)
		}
		if p.URL != nil {
			upd.SetURL(u)
		}
		if p.EventTypes != nil {
			upd.SetEventTypes(types)
		}
		switch {
		case p.ClearDefinition:
			upd.ClearDefinitionID()
		case p.DefinitionID != nil:
			if err := t.requireHookDefinition(*p.DefinitionID); err != nil {
				return err
			}
			upd.SetDefinitionID(*p.DefinitionID)
		}
		slack := old.Slack
		if p.Slack != nil {
			slack = *p.Slack
			upd.SetSlack(slack)
		}
		if p.Enabled != nil {
			upd.SetEnabled(*p.Enabled)
			if *p.Enabled && !old.Enabled {
				// Enabled again: it gets the events from now on, not those of while it was
				// disabled (the enqueuer skips its work entirely while no hook is enabled).
				from, err := t.lastEventSequence()
				if err != nil {
					return err
				}
				upd.SetFromSequence(from)
			}
		}
		hasSecret := len(old.SecretEncrypted) > 0
		switch {
		case p.Secret == nil:
		case secret == nil:
			upd.ClearSecretEncrypted()
			hasSecret = false
		default:
			upd.SetSecretEncrypted(secret)
			hasSecret = true
		}
		if err := requireHookSecret(slack, hasSecret); err != nil {
			return err
		}
		if h, err = upd.Save(ctx); err != nil {
			return err
		}
		t.notify(Event{Type: EventHooksChanged})
		return t.audit(actor, "hook.update", auditTargetHook, id, auditHook(old), auditHook(h))
	})
	if err != nil {
		return nil, fmt.Errorf("updating outgoing hook %d: %w", id, err)
	}
	return h, nil
}

// DeleteOutgoingHook removes an outgoing hook and its delivery log. Only an
// ADMIN may. A POST in flight finishes, but its outcome is not recorded.
func (e *Engine) DeleteOutgoingHook(ctx context.Context, actor Actor, id int) error {
	if err := actor.Require(RoleAdmin, "deleting an outgoing hook"); err != nil {
		return err
	}
	err := e.inTx(ctx, func(t *txn) error {
		old, err := t.OutgoingHook.Get(ctx, id)
		if ent.IsNotFound(err) {
			return NotFound("outgoing hook", id)
		}
		if err != nil {
			return err
		}
		if _, err := t.HookDelivery.Delete().Where(hookdelivery.HookID(id)).Exec(ctx); err != nil {
			return err
		}
		if err := t.OutgoingHook.DeleteOne(old).Exec(ctx); err != nil {
			return err
		}
		t.notify(Event{Type: EventHooksChanged})
		return t.audit(actor, "hook.delete", auditTargetHook, id, auditHook(old), nil)
	})
	if err != nil {
		return fmt.Errorf("deleting outgoing hook %d: %w", id, err)
	}
	return nil
}

func validateHookName(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", Invalid("name", "is required: say where the events go, e.g. \"ops chat\"")
	case len(s) > 100:
		return "", Invalid("name", "is %d bytes long; the limit is 100", len(s))
	case hasControl(s):
		return "", Invalid("name", "must not contain control characters")
	}
	return s, nil
}

// validateHookURL accepts absolute http(s) URLs without credentials or a
// fragment. A query is allowed: some receivers authenticate with one.
func validateHookURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		return "", Invalid("url", "is %d bytes long; the limit is 2000", len(s))
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" ||
		u.Hostname() == "" || hasControl(s) {
		return "", Invalid("url", "%q is not an absolute http:// or https:// URL", s)
	}
	if u.User != nil {
		return "", Invalid("url", "must not contain credentials: use the secret, which signs every request")
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return "", Invalid("url", "must not have a fragment (#…): it is never sent to the receiver")
	}
	return s, nil
}

// validateHookEventTypes checks each type against HookEventTypes and removes
// duplicates, keeping the order given.
func validateHookEventTypes(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for i, s := range in {
		if !slices.Contains(HookEventTypes, s) {
			if s == EventLogAppended {
				return nil, Invalid(fmt.Sprintf("eventTypes[%d]", i), "%s is a transient event and is not delivered to hooks: follow logs with the deploymentLog subscription", s)
			}
			return nil, Invalid(fmt.Sprintf("eventTypes[%d]", i), "%q is not an event type (known: %s)", s, strings.Join(HookEventTypes, ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (e *Engine) sealHookSecret(s *string) ([]byte, error) {
	if s != nil && *s != "" && len(*s) < minHookSecretLen {
		return nil, Invalid("secret", "is %d bytes long; use at least %d random characters", len(*s), minHookSecretLen)
	}
	return e.sealSecret("secret", s)
}

// requireHookSecret refuses a non-Slack hook without a secret: its receivers
// could not tell Cairn's requests from forged ones.
func requireHookSecret(slack, hasSecret bool) error {
	if !slack && !hasSecret {
		return Invalid("secret", "is required for a hook that receives event JSON: receivers verify X-Cairn-Signature-256 with it")
	}
	return nil
}

func (t *txn) requireHookNameFree(name string, self int) error {
	taken, err := t.OutgoingHook.Query().
		Where(outgoinghook.Name(name), outgoinghook.IDNEQ(self)).Exist(t.ctx)
	if err != nil {
		return fmt.Errorf("checking hook name: %w", err)
	}
	if taken {
		return Conflict("outgoing hook name %q is taken", name)
	}
	return nil
}

func (t *txn) requireHookDefinition(id int) error {
	ok, err := t.ReleaseDefinition.Query().
		Where(releasedefinition.ID(id), releasedefinition.DeletedAtIsNil()).Exist(t.ctx)
	if err != nil {
		return fmt.Errorf("checking definition %d: %w", id, err)
	}
	if !ok {
		return Invalid("definitionId", "definition %d does not exist", id)
	}
	return nil
}

// lastEventSequence returns the sequence of the newest persisted event, 0 if
// there is none.
func (t *txn) lastEventSequence() (int64, error) {
	last, err := t.Event.Query().Where(event.SequenceGT(0)).Order(ent.Desc(event.FieldSequence)).First(t.ctx)
	switch {
	case ent.IsNotFound(err):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("reading event sequence: %w", err)
	}
	return last.Sequence, nil
}

// hookMatches reports whether ev goes to h.
func hookMatches(h *ent.OutgoingHook, ev *ent.Event) bool {
	if ev.Sequence <= h.FromSequence || !h.Enabled {
		return false
	}
	if len(h.EventTypes) > 0 && !slices.Contains(h.EventTypes, ev.Type) {
		return false
	}
	if h.DefinitionID != nil && (ev.DefinitionID == nil || *ev.DefinitionID != *h.DefinitionID) {
		return false
	}
	return true
}

// errCursorMoved means another replica advanced the outbox cursor first.
var errCursorMoved = errors.New("hook cursor moved")

// EnqueueHookDeliveries reads the events after the outbox cursor and creates
// one PENDING delivery per event and enabled hook that matches it, moving the
// cursor past them in the same transaction. It returns how many deliveries
// it created. It is safe to run on several replicas at once: the cursor moves
// only by a conditional update from the value read, so a replica that lost
// the race rolls back and rereads; a unique (hook, event) index backs this.
// It takes no engine lock, so it never holds up a state change. A hook that
// is disabled when its events are enqueued does not receive them later.
//
// While no hook is enabled it does nothing, not even move its cursor (every commit wakes it, and a
// write transaction each time would compete with the deployments' own for the database): a hook
// created or enabled later starts at the event sequence of that moment (its from_sequence).
func (e *Engine) EnqueueHookDeliveries(ctx context.Context) (int, error) {
	n, _, err := e.enqueueHookDeliveries(ctx)
	return n, err
}

// enqueueHookDeliveries is EnqueueHookDeliveries that also says whether a hook is enabled.
func (e *Engine) enqueueHookDeliveries(ctx context.Context) (created int, enabled bool, err error) {
	if enabled, err := e.client.OutgoingHook.Query().Where(outgoinghook.Enabled(true)).Exist(ctx); err != nil || !enabled {
		return 0, false, err
	}
	if err := e.ensureHookCursor(ctx); err != nil {
		return 0, true, err
	}
	total := 0
	for {
		n, more, err := e.enqueueHookBatch(ctx)
		total += n
		if err != nil {
			return total, true, fmt.Errorf("enqueueing hook deliveries: %w", err)
		}
		if !more {
			return total, true, nil
		}
	}
}

// HooksIdle reports whether the last hook round found no hook enabled and no delivery pending:
// until a hook changes (EventHooksChanged) or a delivery is asked again (EventHookRedelivery),
// the events that follow give it nothing to do, and the server wakes the loop only on those
// two. Without that, every replica ran two reads for every event of every replica.
func (e *Engine) HooksIdle() bool { return e.hooksIdle.Load() }

func (e *Engine) ensureHookCursor(ctx context.Context) error {
	ok, err := e.client.StreamCursor.Query().Where(streamcursor.Name(hookCursorName)).Exist(ctx)
	if err != nil || ok {
		return err
	}
	// Two replicas may start together: the loser's insert does nothing (on
	// PostgreSQL it then reports no returned row, which is fine).
	err = e.client.StreamCursor.Create().SetName(hookCursorName).SetSequence(0).
		SetUpdatedAt(e.clock.Now()).OnConflictColumns(streamcursor.FieldName).DoNothing().Exec(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("creating hook cursor: %w", err)
	}
	return nil
}

// enqueueHookBatch handles up to hookEnqueueBatch events; more is true when
// there may be further events (or the batch lost a race and must be reread).
func (e *Engine) enqueueHookBatch(ctx context.Context) (created int, more bool, err error) {
	err = e.inTxConcurrent(ctx, func(t *txn) error {
		cur, err := t.StreamCursor.Query().Where(streamcursor.Name(hookCursorName)).Only(ctx)
		if err != nil {
			return fmt.Errorf("reading hook cursor: %w", err)
		}
		evs, err := t.Event.Query().Where(event.SequenceGT(cur.Sequence)).
			Order(ent.Asc(event.FieldSequence)).Limit(hookEnqueueBatch).All(ctx)
		if err != nil {
			return fmt.Errorf("reading events: %w", err)
		}
		if len(evs) == 0 {
			return nil
		}
		more = len(evs) == hookEnqueueBatch
		// Move the cursor first: on PostgreSQL a concurrent enqueuer blocks
		// here until this transaction ends and then matches no row.
		n, err := t.StreamCursor.Update().
			Where(streamcursor.Name(hookCursorName), streamcursor.Sequence(cur.Sequence)).
			SetSequence(evs[len(evs)-1].Sequence).SetUpdatedAt(t.now).Save(ctx)
		if err != nil {
			return fmt.Errorf("moving hook cursor: %w", err)
		}
		if n == 0 {
			return errCursorMoved
		}
		hooks, err := t.OutgoingHook.Query().Where(outgoinghook.Enabled(true)).All(ctx)
		if err != nil {
			return fmt.Errorf("reading hooks: %w", err)
		}
		var rows []*ent.HookDeliveryCreate
		for _, ev := range evs {
			for _, h := range hooks {
				if !hookMatches(h, ev) {
					continue
				}
				id, err := newDeliveryID()
				if err != nil {
					return err
				}
				rows = append(rows, t.HookDelivery.Create().SetHookID(h.ID).SetEventSequence(ev.Sequence).
					SetEventType(ev.Type).SetDeliveryID(id).SetNextAttemptAt(t.now).
					SetCreatedAt(t.now).SetUpdatedAt(t.now))
			}
		}
		for chunk := range slices.Chunk(rows, 200) {
			if err := t.HookDelivery.CreateBulk(chunk...).Exec(ctx); err != nil {
				return fmt.Errorf("creating deliveries: %w", err)
			}
		}
		created = len(rows)
		return nil
	})
	if errors.Is(err, errCursorMoved) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, err
	}
	return created, more, nil
}

// newDeliveryID returns a random (version 4) UUID.
func newDeliveryID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating delivery id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
}

// hookRequest is one claimed delivery, ready to send.
type hookRequest struct {
	id      int
	attempt int
	msg     HookMessage
	// skip, when set, ends the delivery as FAILED without POSTing (hook
	// disabled or deleted, secret unreadable).
	skip string
	// prepErr is a failure to build the request; the attempt is retried.
	prepErr error
}

// DeliverHooks claims up to limit due deliveries (PENDING, due, not leased
// to another replica), POSTs them with client outside any transaction, and
// records each outcome: 2xx is SUCCEEDED; anything else is retried after
// HookRetryDelay, and FAILED after HookMaxAttempts. sent and failed count
// this call's attempts. A claim is a conditional update that also counts the
// attempt, so two callers never POST one attempt twice, and an outcome is
// recorded only while the attempt count is the one claimed (a replica whose
// lease ran out cannot overwrite a newer attempt). limit <= 0 means 50.
func (e *Engine) DeliverHooks(ctx context.Context, client HookSender, limit int) (sent, failed int, err error) {
	if client == nil {
		return 0, 0, errors.New("delivering hooks: no hook sender")
	}
	if limit <= 0 {
		limit = hookDeliverLimit
	}
	now := e.clock.Now()
	if err := e.failAbandonedHookDeliveries(ctx, now); err != nil {
		return 0, 0, err
	}
	claimed, err := e.claimHookDeliveries(ctx, now, limit)
	if err != nil {
		return 0, 0, err
	}
	reqs := make([]hookRequest, 0, len(claimed))
	for _, d := range claimed {
		r, err := e.prepareHookRequest(ctx, d)
		if err != nil {
			// Counted as a failed attempt and retried like one, so a
			// passing database error does not strand the claimed rows.
			r.prepErr = err
		}
		reqs = append(reqs, r)
	}
	type outcome struct {
		delivered bool
		code      int
		err       error
	}
	outcomes := make([]outcome, len(reqs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, hookPostConcurrency)
	for i, r := range reqs {
		switch {
		case r.skip != "":
			outcomes[i].err = errors.New(r.skip)
			continue
		case r.prepErr != nil:
			outcomes[i].err = r.prepErr
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			delivered, code, err := client.Send(ctx, r.msg)
			outcomes[i] = outcome{delivered, code, err}
		}()
	}
	wg.Wait()
	// The POSTs happened: record their outcomes even if ctx ended meanwhile.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var errs []error
	for i, r := range reqs {
		ok, err := e.recordHookOutcome(rctx, r, outcomes[i].delivered, outcomes[i].code, outcomes[i].err)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			sent++
		} else {
			failed++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return sent, failed, fmt.Errorf("delivering hooks: %w", err)
	}
	return sent, failed, nil
}

// claimHookDeliveries leases up to limit due deliveries to this caller. Each
// claim is one conditional UPDATE (autocommit, no transaction holding row
// locks): it succeeds only if the row is still PENDING, unleased and at the
// attempt count read.
func (e *Engine) claimHookDeliveries(ctx context.Context, now time.Time, limit int) ([]*ent.HookDelivery, error) {
	cands, err := e.client.HookDelivery.Query().Where(
		hookdelivery.StatusEQ(hookdelivery.StatusPENDING),
		hookdelivery.NextAttemptAtLTE(now),
		hookdelivery.AttemptsLT(HookMaxAttempts),
		hookdelivery.Or(hookdelivery.ClaimedUntilIsNil(), hookdelivery.ClaimedUntilLTE(now)),
	).Order(ent.Asc(hookdelivery.FieldNextAttemptAt), ent.Asc(hookdelivery.FieldID)).Limit(limit).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading due hook deliveries: %w", err)
	}
	var out []*ent.HookDelivery
	for _, d := range cands {
		n, err := e.client.HookDelivery.Update().Where(
			hookdelivery.ID(d.ID),
			hookdelivery.StatusEQ(hookdelivery.StatusPENDING),
			hookdelivery.Attempts(d.Attempts),
			hookdelivery.Or(hookdelivery.ClaimedUntilIsNil(), hookdelivery.ClaimedUntilLTE(now)),
		).SetClaimedUntil(now.Add(HookLease)).SetAttempts(d.Attempts + 1).SetUpdatedAt(now).Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("claiming hook delivery %d: %w", d.ID, err)
		}
		if n == 1 {
			d.Attempts++
			out = append(out, d)
		}
	}
	return out, nil
}

// failAbandonedHookDeliveries ends deliveries whose last allowed attempt was
// claimed by a replica that never recorded the outcome (it died mid-POST).
func (e *Engine) failAbandonedHookDeliveries(ctx context.Context, now time.Time) error {
	_, err := e.client.HookDelivery.Update().Where(
		hookdelivery.StatusEQ(hookdelivery.StatusPENDING),
		hookdelivery.AttemptsGTE(HookMaxAttempts),
		hookdelivery.ClaimedUntilLTE(now),
	).SetStatus(hookdelivery.StatusFAILED).ClearClaimedUntil().SetUpdatedAt(now).
		SetLastError("the last attempt was interrupted before its outcome was recorded").Save(ctx)
	if err != nil {
		return fmt.Errorf("failing abandoned hook deliveries: %w", err)
	}
	return nil
}

// prepareHookRequest builds the request of a claimed delivery. A delivery
// whose hook is gone or disabled is marked to fail without a POST.
func (e *Engine) prepareHookRequest(ctx context.Context, d *ent.HookDelivery) (hookRequest, error) {
	r := hookRequest{id: d.ID, attempt: d.Attempts}
	h, err := e.client.OutgoingHook.Get(ctx, d.HookID)
	if ent.IsNotFound(err) {
		r.skip = "the hook was deleted"
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("reading hook %d: %w", d.HookID, err)
	}
	if !h.Enabled {
		r.skip = "the hook was disabled before delivery"
		return r, nil
	}
	ev, err := e.client.Event.Query().Where(event.Sequence(d.EventSequence)).Only(ctx)
	if err != nil {
		return r, fmt.Errorf("reading event %d: %w", d.EventSequence, err)
	}
	payload, err := eventOf(ev)
	if err != nil {
		return r, err
	}
	secret, err := e.openSecret(h.SecretEncrypted)
	if err != nil {
		r.skip = "cannot open the hook's secret: " + err.Error()
		return r, nil
	}
	r.msg = HookMessage{URL: h.URL, DeliveryID: d.DeliveryID, Event: payload, Chat: h.Slack, Secret: secret}
	if d.RedeliveryOfID != nil {
		first, err := e.client.HookDelivery.Query().Where(hookdelivery.ID(*d.RedeliveryOfID)).
			Select(hookdelivery.FieldDeliveryID).Only(ctx)
		switch {
		case ent.IsNotFound(err): // pruned: the redelivery goes without the link
		case err != nil:
			return r, fmt.Errorf("reading hook delivery %d: %w", *d.RedeliveryOfID, err)
		default:
			r.msg.RedeliveryOf = first.DeliveryID
		}
	}
	if h.Slack {
		r.msg.Summary = e.hookSummary(ctx, payload)
	}
	return r, nil
}

// eventOf rebuilds the Event of a stored row: its payload when present, the
// indexed columns otherwise.
func eventOf(row *ent.Event) (Event, error) {
	ev := Event{Sequence: row.Sequence, Type: row.Type, Time: row.Time, Environment: row.Environment}
	if row.DefinitionID != nil {
		ev.DefinitionID = *row.DefinitionID
	}
	if row.ReleaseID != nil {
		ev.ReleaseID = *row.ReleaseID
	}
	if row.Payload != "" {
		if err := json.Unmarshal([]byte(row.Payload), &ev); err != nil {
			return ev, fmt.Errorf("decoding event %d: %w", row.Sequence, err)
		}
		// The payload was encoded before the sealer numbered the row.
		ev.Sequence = row.Sequence
	}
	return ev, nil
}

// hookEventPhrases says in words what each event type means.
var hookEventPhrases = map[string]string{
	EventDefinitionChanged:        "definition changed",
	EventReleaseCreated:           "release created",
	EventReleaseAbandoned:         "release abandoned",
	EventEnvironmentStatusChanged: "environment status changed",
	EventDeploymentStarted:        "deployment started",
	EventDeploymentStatusChanged:  "deployment status changed",
	EventDeploymentFinished:       "deployment finished",
	EventApprovalPending:          "approval pending",
	EventApprovalDecided:          "approval decided",
	EventApprovalTimedOut:         "approval timed out",
	EventApprovalReassigned:       "approval reassigned",
	EventJobQueued:                "job queued",
	EventJobCancelRequested:       "job cancel requested",
	EventJobFinished:              "job finished",
	EventJobLost:                  "job lost",
	EventAgentChanged:             "agent changed",
}

// hookSummary is the one-line Slack text of an event, e.g.
// "web / Release-12 → production: deployment finished: SUCCEEDED (by alice)".
// Names are looked up best effort (ids otherwise) and escaped for Slack.
func (e *Engine) hookSummary(ctx context.Context, ev Event) string {
	var subject []string
	if ev.DefinitionID != 0 {
		name := fmt.Sprintf("definition %d", ev.DefinitionID)
		if d, err := e.client.ReleaseDefinition.Query().Where(releasedefinition.ID(ev.DefinitionID)).
			Select(releasedefinition.FieldName).Only(ctx); err == nil {
			name = d.Name
		}
		subject = append(subject, name)
	}
	if ev.ReleaseID != 0 {
		name := fmt.Sprintf("release %d", ev.ReleaseID)
		if r, err := e.client.Release.Query().Where(release.ID(ev.ReleaseID)).
			Select(release.FieldName).Only(ctx); err == nil {
			name = r.Name
		}
		subject = append(subject, name)
	}
	s := strings.Join(subject, " / ")
	if ev.Environment != "" {
		s = strings.TrimSpace(s + " → " + ev.Environment)
	}
	phrase, ok := hookEventPhrases[ev.Type]
	if !ok {
		phrase = ev.Type
	}
	var b strings.Builder
	b.WriteString("Cairn: ")
	if s != "" {
		b.WriteString(s + ": ")
	}
	b.WriteString(phrase)
	if ev.Status != "" {
		b.WriteString(": " + ev.Status)
	}
	if ev.Actor != "" {
		b.WriteString(" (by " + ev.Actor + ")")
	}
	return slackEscape(hookOneLine(b.String()))
}

// hookOneLine replaces control characters (newlines included) with spaces.
func hookOneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// slackEscape escapes the three characters Slack's mrkdwn gives meaning to,
// so that a release named "<!channel>" pings nobody.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// recordHookOutcome stores the result of one attempt; ok reports success.
// Nothing is written if the claim was lost (the lease ran out and another
// replica took the row) or the hook was deleted meanwhile.
func (e *Engine) recordHookOutcome(ctx context.Context, r hookRequest, delivered bool, status int, postErr error) (ok bool, err error) {
	now := e.clock.Now()
	upd := e.client.HookDelivery.Update().Where(
		hookdelivery.ID(r.id), hookdelivery.Attempts(r.attempt),
		hookdelivery.StatusEQ(hookdelivery.StatusPENDING),
	).ClearClaimedUntil().SetResponseCode(status).SetUpdatedAt(now)
	ok = postErr == nil && delivered
	switch {
	case ok:
		upd.SetStatus(hookdelivery.StatusSUCCEEDED).SetDeliveredAt(now).SetLastError("")
	default:
		msg := fmt.Sprintf("HTTP %d", status)
		if postErr != nil {
			msg = postErr.Error()
			if status != 0 {
				msg = fmt.Sprintf("HTTP %d: %s", status, msg)
			}
		}
		if len(msg) > maxHookErrorLen {
			msg = msg[:maxHookErrorLen] + "…"
		}
		upd.SetLastError(msg)
		if r.attempt >= HookMaxAttempts || r.skip != "" {
			upd.SetStatus(hookdelivery.StatusFAILED)
		} else {
			upd.SetNextAttemptAt(now.Add(HookRetryDelay(r.attempt)))
		}
	}
	if _, err := upd.Save(ctx); err != nil {
		return ok, fmt.Errorf("recording hook delivery %d: %w", r.id, err)
	}
	return ok, nil
}

// nextHookDue returns when the hook loop has work next: the earliest due
// time of an unleased PENDING delivery, or the end of the earliest lease (its
// holder may have died); zero when nothing is pending.
func (e *Engine) nextHookDue(ctx context.Context) (time.Time, error) {
	now := e.clock.Now()
	var next time.Time
	d, err := e.client.HookDelivery.Query().Where(
		hookdelivery.StatusEQ(hookdelivery.StatusPENDING),
		hookdelivery.Or(hookdelivery.ClaimedUntilIsNil(), hookdelivery.ClaimedUntilLTE(now)),
	).Order(ent.Asc(hookdelivery.FieldNextAttemptAt)).First(ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		return time.Time{}, fmt.Errorf("reading next hook delivery: %w", err)
	default:
		next = d.NextAttemptAt
	}
	l, err := e.client.HookDelivery.Query().Where(
		hookdelivery.StatusEQ(hookdelivery.StatusPENDING), hookdelivery.ClaimedUntilGT(now),
	).Order(ent.Asc(hookdelivery.FieldClaimedUntil)).First(ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		return time.Time{}, fmt.Errorf("reading leased hook deliveries: %w", err)
	case next.IsZero() || l.ClaimedUntil.Before(next):
		next = *l.ClaimedUntil
	}
	return next, nil
}

// RunHookLoop delivers outgoing hooks until ctx ends: it enqueues new events
// and POSTs due deliveries whenever wake receives (the server signals it when
// events are published) and at the next due time of a retry, waiting on the
// engine's clock in between; it never polls on a fixed period. Rounds that events wake start
// at least hookRoundSpacing apart, so a busy stream is taken in batches. Errors are
// logged here, the loop's boundary, and retried after a pause. It returns
// ctx's error.
func (e *Engine) RunHookLoop(ctx context.Context, poster HookSender, wake <-chan struct{}) error {
	log := e.log.With("loop", "hooks")
	for {
		started := time.Now()
		next, err := e.hookRound(ctx, poster)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			log.ErrorContext(ctx, "delivering outgoing hooks", "err", err)
			next = e.clock.Now().Add(hookErrorDelay)
		}
		var timer <-chan time.Time
		stop := func() {}
		if !next.IsZero() {
			timer, stop = e.hookTimer(next.Sub(e.clock.Now()))
		}
		select {
		case <-ctx.Done():
			stop()
			return ctx.Err()
		case <-wake:
			// Woken by events: let those that follow within the spacing join this round.
			// Real time, not the engine's clock: a lag bound, not a due time.
			if d := hookRoundSpacing - time.Since(started); d > 0 {
				spaced := time.NewTimer(d)
				select {
				case <-ctx.Done():
				case <-spaced.C:
				}
				spaced.Stop()
			}
		case <-timer:
		}
		stop()
	}
}

// hookRound enqueues new events and delivers every due delivery, then says
// when the next one is due.
//
// Every commit wakes it; with no hook enabled and nothing pending it costs two reads, no write.
func (e *Engine) hookRound(ctx context.Context, poster HookSender) (time.Time, error) {
	e.hooksIdle.Store(false) // while it runs: a hook changed meanwhile is seen by the next round
	created, enabled, err := e.enqueueHookDeliveries(ctx)
	if err != nil {
		return time.Time{}, err
	}
	if created == 0 {
		pending, err := e.client.HookDelivery.Query().Where(hookdelivery.StatusEQ(hookdelivery.StatusPENDING)).Exist(ctx)
		if err != nil {
			return time.Time{}, fmt.Errorf("looking for pending hook deliveries: %w", err)
		}
		if !pending {
			e.hooksIdle.Store(!enabled)
			return time.Time{}, nil
		}
	}
	for {
		sent, failed, err := e.DeliverHooks(ctx, poster, hookDeliverLimit)
		if err != nil {
			return time.Time{}, err
		}
		if sent+failed < hookDeliverLimit || ctx.Err() != nil {
			break
		}
	}
	return e.nextHookDue(ctx)
}

// hookTimer waits d on the engine's clock when it has timers, else on a real
// timer.
func (e *Engine) hookTimer(d time.Duration) (<-chan time.Time, func()) {
	if tc, ok := e.clock.(TimerClock); ok {
		return tc.After(d)
	}
	return realAfter(d)
}
