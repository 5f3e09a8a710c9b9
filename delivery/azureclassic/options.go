package azureclassic

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The options Cairn does not have (yet) are reported here, in one place, so that the
// import maps them the day Cairn gets them (retention policies are being added).

// retention reports the definition-level retention policy.
func (c *mapper) retention(p string, raw json.RawMessage) {
	if len(raw) == 0 || string(raw) == "null" {
		return
	}
	var r azRetention
	if err := json.Unmarshal(raw, &r); err != nil {
		c.note(p, Dropped, "retention policy (unreadable)")
		return
	}
	c.note(p, Dropped, fmt.Sprintf("retention of %d days: Cairn keeps every release", int(r.DaysToKeep)))
}

// envRetention reports an environment's retention policy.
func (c *mapper) envRetention(p string, r *azRetention) {
	if r == nil {
		return
	}
	msg := fmt.Sprintf("keep %d days and at least %d releases: Cairn keeps every release and deployment", int(r.DaysToKeep), int(r.ReleasesToKeep))
	if r.RetainBuild {
		msg += "; retaining the build on the CI server is the CI server's business"
	}
	c.note(p, Dropped, msg)
}

// environmentOptions reports an environment's options: email, badge, and the settings
// Cairn has elsewhere or not at all.
func (c *mapper) environmentOptions(p string, o map[string]any) {
	if len(o) == 0 {
		return
	}
	str := func(k string) string { s, _ := o[k].(string); return strings.TrimSpace(s) }
	flag := func(k string) bool { b, _ := o[k].(bool); return b }
	if t := str("emailNotificationType"); t != "" && !strings.EqualFold(t, "Never") {
		c.note(p+".emailNotificationType", Approximated, fmt.Sprintf("email %s to %s: Cairn emails approvers and intervention deciders, and announces every deployment as an event (subscriptions, outgoing hooks); per-environment deployment emails are not sent", t, firstNonEmpty(str("emailRecipients"), "nobody")))
	}
	if flag("badgeEnabled") {
		c.note(p+".badgeEnabled", Dropped, "deployment status badge: Cairn has no badge URL; its API and events give the status")
	}
	if flag("publishDeploymentStatus") {
		c.note(p+".publishDeploymentStatus", Dropped, "publishing the deployment status to the repository: Cairn does not")
	}
	if flag("pullRequestDeploymentEnabled") {
		c.note(p+".pullRequestDeploymentEnabled", Dropped, "pull request deployments: Cairn has none")
	}
	if flag("enableAccessToken") {
		c.note(p+".enableAccessToken", Dropped, "the Azure OAuth token ($(System.AccessToken)) does not exist in Cairn")
	}
	if flag("autoLinkWorkItems") {
		c.note(p+".autoLinkWorkItems", Mapped, "work items of the release's builds are linked (Cairn always does)")
	}
}
