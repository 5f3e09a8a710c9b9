package azureclassic

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The options Cairn does not have (yet) are reported here, in one function, so that the
// import maps them the day Cairn gets them (retention policies are being added).

// options reports, in this one function, the options of the definition (p "", with its
// retention policy raw) or of an environment (p its path, with its retention policy and
// environmentOptions) that Cairn does not have: retention, email, badge and the rest.
func (c *mapper) options(p string, defRetention json.RawMessage, envRetention *azRetention, o map[string]any) {
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
			c.note(at("retentionPolicy"), Dropped, fmt.Sprintf("retention of %d days: Cairn keeps every release", int(r.DaysToKeep)))
		}
	}
	if r := envRetention; r != nil {
		msg := fmt.Sprintf("keep %d days and at least %d releases: Cairn keeps every release and deployment", int(r.DaysToKeep), int(r.ReleasesToKeep))
		if r.RetainBuild {
			msg += "; retaining the build on the CI server is the CI server's business"
		}
		c.note(at("retentionPolicy"), Dropped, msg)
	}
	if len(o) == 0 {
		return
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
}
