package delivery

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/webhookdelivery"
)

// WebhookParser reads a stored webhook body again, as the webhook endpoint of its source would.
// It is declared here, where it is used, and implemented by integrations/hook over the Jenkins
// and Team Build adapters, so that delivery imports no integration.
type WebhookParser interface {
	// ParseWebhook returns the build receipt of body, received from connection conn (whose API
	// secret is secret); or, for a body that names no build to release, the result (IGNORED or
	// REJECTED) and reason the endpoint would have recorded. err is for failures that a later
	// attempt may not have (the CI server could not be asked).
	ParseWebhook(ctx context.Context, e *Engine, source string, body []byte, conn ConnectionInfo, secret string) (r *BuildReceipt, result, reason string, err error)
}

// redelivery is the delivery whose payload a redelivery processes again, and who asked.
type redelivery struct {
	of    int
	actor Actor
}

// RedeliverWebhookDelivery processes the stored body of delivery id again under the current
// definitions (ADMIN only; the webhook deliveries are an ADMIN's to read): after a definition
// that ignored a build is fixed, say. It is recorded as a new delivery linked to the first
// (redelivery_of) and audited as webhook.redeliver. The build's idempotency key moves to the new
// delivery, so that the build sent again later is its duplicate; a definition that released the
// build already does not release it again. An unknown id is NOT_FOUND, a delivery without a
// stored body (an unauthenticated one, or one from before bodies were kept) INVALID_INPUT; a
// refusal writes nothing.
func (e *Engine) RedeliverWebhookDelivery(ctx context.Context, actor Actor, id int) (*ent.WebhookDelivery, error) {
	fail := func(err error) (*ent.WebhookDelivery, error) {
		return nil, fmt.Errorf("redelivering webhook delivery %d: %w", id, err)
	}
	if err := actor.Require(RoleAdmin, "redelivering a webhook"); err != nil {
		return fail(err)
	}
	d, err := e.client.WebhookDelivery.Get(ctx, id)
	if ent.IsNotFound(err) {
		return fail(NotFound("webhook delivery", id))
	}
	if err != nil {
		return fail(err)
	}
	if len(d.Payload) == 0 || d.ConnectionID == nil {
		return fail(Invalid("id", "delivery %d has no stored body to deliver again", id))
	}
	if e.webhooks == nil {
		return fail(errors.New("this engine has no webhook parser (Options.Webhooks)"))
	}
	c, err := e.client.ServiceConnection.Get(ctx, *d.ConnectionID)
	if ent.IsNotFound(err) {
		return fail(NotFound("service connection", *d.ConnectionID))
	}
	if err != nil {
		return fail(err)
	}
	conn := ConnectionInfo{ID: c.ID, Name: c.Name, Kind: string(c.Kind), URL: c.URL, Username: c.Username}
	_, secret, _, err := e.ConnectionSecrets(ctx, conn.ID)
	if err != nil {
		return fail(err)
	}
	r, result, reason, err := e.webhooks.ParseWebhook(ctx, e, string(d.Source), d.Payload, conn, secret)
	if err != nil {
		return fail(err)
	}
	re := &redelivery{of: id, actor: actor}
	var newID int
	err = e.inTx(ctx, func(t *txn) error {
		if r == nil {
			row, err := t.WebhookDelivery.Create().SetSource(d.Source).SetConnectionID(conn.ID).
				SetBuildKey(d.BuildKey).SetEvent(d.Event).SetResult(webhookdelivery.Result(result)).
				SetReason(truncateText(reason, 4000)).SetPayload(d.Payload).SetRedeliveryOfID(id).
				SetCreatedAt(t.now).Save(t.ctx)
			if err != nil {
				return fmt.Errorf("recording the redelivery: %w", err)
			}
			newID = row.ID
			return t.auditRedelivery(re, row.ID, ReceiptResult{Result: result, Reason: row.Reason})
		}
		r.Payload = d.Payload
		if err := r.validate(); err != nil {
			return err
		}
		res, err := t.receiveBuild(*r, func(string) int { return 0 }, re) // no sender to answer
		newID = res.DeliveryID
		return err
	})
	if err != nil {
		return fail(err)
	}
	return e.client.WebhookDelivery.Get(ctx, newID)
}

// releasedDefinitions returns the definitions that a delivery of the build with key released.
func (t *txn) releasedDefinitions(key string) (map[int]bool, error) {
	rels, err := t.WebhookDelivery.Query().Where(webhookdelivery.BuildKey(key)).QueryReleases().All(t.ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the releases of build %s: %w", key, err)
	}
	out := map[int]bool{}
	for _, r := range rels {
		out[r.DefinitionID] = true
	}
	return out, nil
}

// auditRedelivery audits redelivery newID of re.of as webhook.redeliver by the person who asked.
func (t *txn) auditRedelivery(re *redelivery, newID int, res ReceiptResult) error {
	return t.audit(re.actor, "webhook.redeliver", auditTargetWebhookDelivery, newID,
		map[string]any{"redeliveryOf": re.of},
		map[string]any{"result": res.Result, "reason": truncateText(res.Reason, 500), "releases": res.ReleaseIDs})
}
