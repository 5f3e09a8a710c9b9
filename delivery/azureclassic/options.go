package azureclassic

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cairnhq/cairn/ent/schema/spec"
)

// The options are mapped or reported here, in one function: an environment's retention
// policy becomes Cairn's (same field names); email, badge and the rest are reported.

// Azure's limits on a retention policy (its UI and REST API refuse more); Cairn's defaults
// for the server's maximums are the same.
const (
	azureMaxRetentionDays     = 365
	azureMaxRetentionReleases = 25
)

// options maps or reports the options of the definition (p "", with its retention policy
// raw) or of an environment (p its path, with its retention policy and environmentOptions),
// and returns the environment's retention policy (nil for the definition, or when it has
// none).
func (c *mapper) options(p string, defRetention json.RawMessage, envRetention *azRetention, o map[string]any) *spec.RetentionPolicy {
	at := func(k string) string {
		if p == "" {
			return k
		}
		return p + "." + k
	}
	if len(defRetention) > 0 && string(defRetention) != "null" {
		var r azRetention
		if err := json.Unmarshal(defRetention, &r); err != nil {
			c.note(at("retentionPolicy"), Dropped, "retention policy (unreadable)")
		} else {
			c.note(at("retentionPolicy"), Dropped, fmt.Sprintf("definition-level retention of %d days: Cairn's retention is per environment (each environment's own policy is mapped; the server's default applies to one without)", int(r.DaysToKeep)))
		}
	}
	var retention *spec.RetentionPolicy
	if r := envRetention; r != nil {
		days, releases := int(r.DaysToKeep), int(r.ReleasesToKeep)
		cd, cr := min(max(days, 0), azureMaxRetentionDays), min(max(releases, 0), azureMaxRetentionReleases)
		retention = &spec.RetentionPolicy{DaysToKeep: cd, ReleasesToKeep: cr, RetainBuild: bool(r.RetainBuild)}
		msg := fmt.Sprintf("keep releases deployed here %d days and at least the %d newest", cd, cr)
		if r.RetainBuild {
			msg += "; retainBuild is informational (Cairn deletes nothing on the CI server)"
		}
		if cd != days || cr != releases {
			c.note(at("retentionPolicy"), Approximated, fmt.Sprintf("%s (Azure said %d days and %d releases; held to 0..%d and 0..%d)", msg, days, releases, azureMaxRetentionDays, azureMaxRetentionReleases))
		} else {
			c.note(at("retentionPolicy"), Mapped, msg)
		}
	}
	if len(o) == 0 {
		return retention
	}
	str := func(k string) string { s, _ := o[k].(string); return strings.TrimSpace(s) }
	flag := func(k string) bool { b, _ := o[k].(bool); return b }
	op := at("environmentOptions")
	if t := str("emailNotificationType"); t != "" && !strings.EqualFold(t, "Never") {
		c.note(op+".emailNotificationType", Approximated, fmt.Sprintf("email %s to %s: Cairn emails approvers and intervention deciders, and announces every deployment as an event (subscriptions, outgoing hooks); per-environment deployment emails are not sent", t, firstNonEmpty(str("emailRecipients"), "nobody")))
	}
	if flag("badgeEnabled") {
		c.note(op+".badgeEnabled", Dropped, "deployment status badge: Cairn has no badge URL; its API and events give the status")
	}
	if flag("publishDeploymentStatus") {
		c.note(op+".publishDeploymentStatus", Dropped, "publishing the deployment status to the repository: Cairn does not")
	}
	if flag("pullRequestDeploymentEnabled") {
		c.note(op+".pullRequestDeploymentEnabled", Dropped, "pull request deployments: Cairn has none")
	}
	if flag("enableAccessToken") {
		c.note(op+".enableAccessToken", Dropped, "the Azure OAuth token ($(System.AccessToken)) does not exist in Cairn")
	}
	if flag("autoLinkWorkItems") {
		c.note(op+".autoLinkWorkItems", Mapped, "work items of the release's builds are linked (Cairn always does)")
	}
	return retention
}
