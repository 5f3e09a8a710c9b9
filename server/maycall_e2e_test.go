package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cairnhq/cairn/delivery"
)

// TestViewerMayCall: viewer.mayCall answers, per person, which of the named root fields the
// API would run for them (the dashboard offers pages and actions from it), in the order asked,
// leaving out unknown names; and what it says agrees with calling the field. More than 100
// names is INVALID_INPUT naming the argument.
func TestViewerMayCall(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		asked := []string{"Query.webhookDeliveries", "Mutation.redeliverWebhookDelivery", "Query.auditEvents",
			"Query.releases", "Mutation.createDefinition", "Query.nope", "Nope.releases", "auditEvents", "Query.__schema", ""}
		q := `query($f: [String!]!) { viewer { mayCall(fields: $f) } }`
		tokens := map[string]string{"admin": h.admin, "editor": h.tokenFor("eve", delivery.RoleEditor), "viewer": h.tokenFor("vic", delivery.RoleViewer)}
		want := map[string]string{
			"admin":  "Query.webhookDeliveries Mutation.redeliverWebhookDelivery Query.auditEvents Query.releases Mutation.createDefinition",
			"editor": "Query.releases Mutation.createDefinition",
			"viewer": "Query.releases",
		}
		for who, tok := range tokens {
			d := h.ok(tok, q, map[string]any{"f": asked})
			got := strings.TrimSpace(strings.Trim(fmt.Sprint(dig(d, "viewer", "mayCall")), "[]"))
			if got != want[who] {
				t.Errorf("%s may call %q, want %q", who, got, want[who])
			}
			// What it says agrees with the API: the audit log answers exactly those it names.
			r := h.do(tok, `{ auditEvents(first: 1) { totalCount } }`, nil)
			if allowed := strings.Contains(got, "Query.auditEvents"); allowed != (len(r.Errors) == 0) {
				t.Errorf("%s: mayCall says auditEvents %v, the API answered %s", who, allowed, r.Raw)
			}
		}
		many := make([]string, 101)
		for i := range many {
			many[i] = "Query.releases"
		}
		r := h.do(h.admin, q, map[string]any{"f": many})
		if r.code() != "INVALID_INPUT" || r.Errors[0].Extensions["field"] != "fields" || !strings.Contains(r.Errors[0].Message, "at most 100") {
			t.Errorf("101 names: %s", r.Raw)
		}
	})
}
