package main

import (
	"fmt"
	"strings"
)

// blocker is one answer of whyNotDeployed as the command reads it.
type blocker struct {
	Kind          string   `json:"kind"`
	Message       string   `json:"message"`
	Since         *string  `json:"since"`
	Until         *string  `json:"until"`
	Stage         *string  `json:"stage"`
	WhoCanAct     []string `json:"whoCanAct"`
	ViewerActions []string `json:"viewerActions"`
	Deployment    *struct {
		ID string `json:"id"`
	} `json:"deployment"`
	Approvals []struct {
		Approval struct {
			ID       string `json:"id"`
			Approver string `json:"approver"`
		} `json:"approval"`
		ViewerCanDecide   bool `json:"viewerCanDecide"`
		ViewerCanReassign bool `json:"viewerCanReassign"`
	} `json:"approvals"`
	Intervention *struct {
		ID string `json:"id"`
	} `json:"intervention"`
}

const whyQuery = `query($r: ID!, $e: String!) { whyNotDeployed(releaseId: $r, environment: $e) {
    releaseId releaseName environment status deployed
    blockers { kind message since until stage whoCanAct viewerActions deployment { id }
      approvals { approval { id approver } viewerCanDecide viewerCanReassign } intervention { id } } } }`

var whyCommand = &command{
	name: "why", synopsis: "RELEASE-ID ENVIRONMENT",
	help: "why a release is not in an environment yet: the blockers in order, who can act, and what you may do",
	run: func(c *cmd) error {
		if err := c.wantArgs(2, "RELEASE-ID ENVIRONMENT"); err != nil {
			return err
		}
		if !isDigits(c.args[0]) {
			return usagef("RELEASE-ID %q: want the release's number id (cairn releases list shows it)", c.args[0])
		}
		cl, err := c.client()
		if err != nil {
			return err
		}
		var res struct {
			WhyNotDeployed struct {
				ReleaseID   string    `json:"releaseId"`
				ReleaseName string    `json:"releaseName"`
				Environment string    `json:"environment"`
				Status      string    `json:"status"`
				Deployed    bool      `json:"deployed"`
				Blockers    []blocker `json:"blockers"`
			} `json:"whyNotDeployed"`
		}
		if err := c.call(cl, whyQuery, map[string]any{"r": c.args[0], "e": c.args[1]}, &res); err != nil {
			return err
		}
		w := res.WhyNotDeployed
		if c.g.output == "json" {
			return c.printJSON(w)
		}
		if w.Deployed || len(w.Blockers) == 0 {
			fmt.Fprintf(c.stdout, "%s is in %s (%s): nothing blocks it.\n", w.ReleaseName, w.Environment, w.Status)
			return nil
		}
		fmt.Fprintf(c.stdout, "%s is not in %s yet (%s):\n", w.ReleaseName, w.Environment, w.Status)
		for i, b := range w.Blockers {
			kind := b.Kind
			if b.Stage != nil {
				kind += " (" + strings.ToLower(*b.Stage) + ")"
			}
			fmt.Fprintf(c.stdout, "%d. %s: %s\n", i+1, kind, b.Message)
			var when []string
			if b.Since != nil {
				when = append(when, "since "+*b.Since)
			}
			if b.Until != nil {
				when = append(when, "until "+*b.Until)
			}
			if len(when) > 0 {
				fmt.Fprintf(c.stdout, "   %s\n", strings.Join(when, ", "))
			}
			if len(b.WhoCanAct) > 0 {
				fmt.Fprintf(c.stdout, "   who can act: %s\n", strings.Join(b.WhoCanAct, ", "))
			}
			if hints := whyHints(w.ReleaseID, w.Environment, b); len(hints) > 0 {
				fmt.Fprintf(c.stdout, "   you may: %s\n", strings.Join(hints, "; "))
			}
		}
		return nil
	},
}

// whyHints turns a blocker's viewer actions into the commands (or API
// fields) that take them.
func whyHints(releaseID, env string, b blocker) []string {
	var out []string
	for _, a := range b.ViewerActions {
		switch a {
		case "DEPLOY":
			out = append(out, fmt.Sprintf("deploy (cairn deploy %s %s)", releaseID, env))
		case "DEPLOY_THROUGH_FREEZE":
			out = append(out, "deploy through the freeze (deployEnvironment with overrideFreeze, ADMIN)")
		case "APPROVE", "REJECT":
			verb := strings.ToLower(a)
			for _, ap := range b.Approvals {
				if ap.ViewerCanDecide {
					out = append(out, fmt.Sprintf("%s (cairn %s %s)", verb, verb, ap.Approval.ID))
				}
			}
		case "RESUME_INTERVENTION", "REJECT_INTERVENTION":
			verb := map[string]string{"RESUME_INTERVENTION": "resume", "REJECT_INTERVENTION": "stop"}[a]
			if b.Intervention != nil {
				out = append(out, fmt.Sprintf("%s the intervention (cairn %s %s)", strings.ToLower(strings.TrimSuffix(a, "_INTERVENTION")), verb, b.Intervention.ID))
			}
		case "CANCEL_DEPLOYMENT":
			if b.Deployment != nil {
				out = append(out, fmt.Sprintf("cancel deployment %s (cancelDeployment)", b.Deployment.ID))
			}
		default:
			out = append(out, strings.ToLower(strings.ReplaceAll(a, "_", " ")))
		}
	}
	return out
}

func isDigits(s string) bool {
	if s == "" || len(s) > 19 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
