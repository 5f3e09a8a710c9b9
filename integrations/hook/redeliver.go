package hook

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairnhq/cairn/delivery"
)

// Parsers reads stored webhook bodies again with the adapter of their source: it implements
// delivery.WebhookParser for redeliveries, so that a redelivered body is judged exactly as the
// endpoint judged it, by the same code.
type Parsers map[Source]Adapter

// ParseWebhook returns the receipt of body, or the result and reason the endpoint records for a
// body that names no build to release (IGNORED: another phase or event; REJECTED: malformed or
// invalid). A CI server that could not be asked is an error: nothing is recorded.
func (p Parsers) ParseWebhook(ctx context.Context, e *delivery.Engine, source string, body []byte, conn delivery.ConnectionInfo, secret string) (*delivery.BuildReceipt, string, string, error) {
	a, ok := p[Source(source)]
	if !ok {
		return nil, "", "", fmt.Errorf("no webhook parser for source %q", source)
	}
	r, err := a.Receipt(ctx, body, Conn{ConnectionInfo: conn, Secret: secret}, e)
	var ign *IgnoredError
	switch {
	case err == nil:
		return r, "", "", nil
	case errors.As(err, &ign):
		return nil, delivery.DeliveryIgnored, ign.Reason, nil
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrInvalid):
		return nil, delivery.DeliveryRejected, err.Error(), nil
	}
	return nil, "", "", err
}
