package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/cairnhq/cairn/delivery"
)

// typeInto replaces the value of the input sel as typing does (React hears the input event).
func typeInto(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const el = document.querySelector(%q);
		  Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(el, %q);
		  el.dispatchEvent(new Event('input', {bubbles: true})); return true })()`, sel, value))(ctx, t)
		return err
	})
}

// shopDefinition is a definition following Jenkins job job through connection ci.
func shopDefinition(job string) string {
	return `{name: "shop", artifactSources: [{alias: "app", type: "JENKINS", connection: "ci", job: "` + job + `", primary: true, continuousDeployment: true}],
	  environments: [{name: "dev", trigger: {kind: MANUAL}, job: {skipArtifactDownload: true, tasks: [{name: "hi", script: "echo hi"}]}}]}`
}

// TestDashboardAdminInBrowser: an admin opens the webhook deliveries, finds the Jenkins build
// that no definition followed (the definition named the job wrongly), redelivers it after the
// definition is fixed, and gets a release; the audit log and the releases list are filtered
// from the URL, and a filter survives a reload. Each view is shot at 1280 and 390 px, with no
// console error (browser fails the test on one).
func TestDashboardAdminInBrowser(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the browser is Debian's")
	}
	ctx, h := browserServer(t)
	e := h.srv.Engine
	sys := delivery.SystemActor("test")
	const password = "correct horse battery"
	personWithPassword(t, h, "admin", delivery.RoleAdmin, password)
	// More audit events than a page holds: 30 users created.
	for i := range 30 {
		if _, err := e.CreateUser(context.Background(), sys, delivery.UserInput{Username: fmt.Sprintf("user-%02d", i), Role: delivery.RoleViewer}); err != nil {
			t.Fatal(err)
		}
	}
	h.ok(h.admin, `mutation($u: String!) { createServiceConnection(input: {name: "ci", kind: JENKINS, url: $u, username: "cairn", secret: "api-token", webhookSecret: "hook-secret"}) { id } }`,
		map[string]any{"u": anyBuildJenkins(t)})
	// The mistake: the definition follows "web/mian".
	def := h.createDefinition(t, shopDefinition("web/mian"))
	req, _ := http.NewRequest("POST", h.http.URL+"/webhooks/jenkins/ci", strings.NewReader(
		`{"name":"main","url":"job/web/job/main/","build":{"number":43,"phase":"COMPLETED","status":"SUCCESS","url":"job/web/job/main/43/","scm":{"branch":"origin/main"}}}`))
	req.SetBasicAuth("cairn", "hook-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(body), "no definition follows") {
		t.Fatalf("the webhook: %d %s", resp.StatusCode, body)
	}
	shot := newShots(t)
	url := h.http.URL

	run(t, ctx, "sign in",
		signIn(url, "admin", password),
		// The server says an admin may read deliveries and the audit log: the navigation offers them.
		until("the admin pages in the navigation", `['Webhooks', 'Audit log', 'Releases'].every(l => [...document.querySelectorAll('nav a')].some(a => a.innerText === l))`),
	)

	// The ignored delivery, filtered from the navigation's page with the form.
	run(t, ctx, "the ignored delivery",
		chromedp.Click(chromedp.Search(`//nav//a[text()="Webhooks"]`)),
		until("the deliveries", textIn(`main h1`, "Webhook deliveries")),
		until("the delivery", `!!document.querySelector('tr[data-result="IGNORED"]')`),
		until("its reason", textIn(`tr[data-result="IGNORED"]`, "no definition follows")),
		chromedp.SetValue(chromedp.CSS(`#deliveries-result`), "IGNORED"),
		chromedp.Click(chromedp.Search(`//form[@data-filters="deliveries"]//button[text()="Apply"]`)),
		until("the filter in the URL", `location.search === '?result=IGNORED'`),
		until("the filtered list", textIn(`.pager`, "1 shown of 1")),
	)

	// The fix, then redeliver: a release is created.
	var d map[string]any = h.ok(h.admin, `query($id: ID!) { node(id: $id) { ... on ReleaseDefinition { revision } } }`, map[string]any{"id": def})
	h.ok(h.admin, `mutation($id: ID!, $r: Int!) { updateDefinition(id: $id, expectedRevision: $r, comment: "follow the right job", input: `+shopDefinition("web/main")+`) { id } }`,
		map[string]any{"id": def, "r": dig(d, "node", "revision")})
	run(t, ctx, "redeliver",
		shot.both("30-webhook-deliveries"),
		chromedp.Click(chromedp.Search(`//tr[@data-result="IGNORED"]//button[text()="Redeliver"]`)),
		until("the redelivery", textIn(`[data-redelivered]`, "accepted")),
		until("its release", `!!document.querySelector('[data-redelivered] a[href^="/releases/"]')`),
	)
	rels := h.ok(h.admin, `{ releases(first: 5) { totalCount edges { node { name createdBy definition { name } } } } }`, nil)
	if n := dig(rels, "releases", "totalCount"); fmt.Sprint(n) != "1" {
		t.Fatalf("%v releases after the redelivery, want 1", n)
	}

	// The filter survives a reload: only the ignored delivery is listed, not its accepted redelivery.
	run(t, ctx, "reload keeps the filter",
		chromedp.Reload(),
		until("the deliveries", textIn(`main h1`, "Webhook deliveries")),
		until("the filter kept", `document.querySelector('#deliveries-result')?.value === 'IGNORED'`),
		until("only the ignored one", `document.querySelectorAll('table[data-testid=deliveries] tbody tr').length === 1 && !!document.querySelector('tr[data-result="IGNORED"]')`),
		until("its redelivery named", textIn(`tr[data-result="IGNORED"]`, "(accepted)")),
		chromedp.Navigate(url+"/webhook-deliveries?result=ACCEPTED"),
		until("the accepted redelivery", textIn(`tr[data-result="ACCEPTED"]`, "redelivery of")),
		until("its release link", `!!document.querySelector('tr[data-result="ACCEPTED"] a[href^="/releases/"]')`),
	)

	// The audit log, filtered by action from a link, then by actor with the form.
	created := int(dig(h.ok(h.admin, `{ auditEvents(where: {action: "user.create"}) { totalCount } }`, nil), "auditEvents", "totalCount").(float64))
	if created < 30 || created > 50 {
		t.Fatalf("%d user.create events", created)
	}
	run(t, ctx, "audit log",
		chromedp.Navigate(url+"/audit?action=webhook.redeliver"),
		until("the audit log", textIn(`main h1`, "Audit log")),
		until("the redelivery audited", `[...document.querySelectorAll('table[data-testid=audit] tbody tr')].every(r => r.dataset.action === 'webhook.redeliver') && !!document.querySelector('tr[data-action="webhook.redeliver"]')`),
		chromedp.Reload(),
		until("the filter kept", `document.querySelector('#audit-action')?.value === 'webhook.redeliver' && !!document.querySelector('tr[data-action="webhook.redeliver"]')`),
		shot.both("31-audit"),
		// Paging: 25 of the user.create events, then the older ones, then back.
		chromedp.Navigate(url+"/audit?action=user.create"),
		until("the first page", textIn(`.pager`, fmt.Sprintf("25 shown of %d", created))),
		chromedp.Click(chromedp.Search(`//nav[@aria-label="Audit log pages"]//a[contains(., "Older")]`)),
		until("the older page", textIn(`.pager`, fmt.Sprintf("%d shown of %d", created-25, created))),
		until("the cursor in the URL", `location.search.startsWith('?action=user.create&after=')`),
		until("no older page", `![...document.querySelectorAll('.pager a')].some(a => a.innerText.includes('Older'))`),
		chromedp.Reload(),
		until("the older page after a reload", textIn(`.pager`, fmt.Sprintf("%d shown of %d", created-25, created))),
		chromedp.Click(chromedp.Search(`//nav[@aria-label="Audit log pages"]//a[contains(., "Newer")]`)),
		until("the newer page", textIn(`.pager`, fmt.Sprintf("25 shown of %d", created))),
		until("the newest event first", `document.querySelector('table[data-testid=audit] tbody tr td').innerText === String(Math.max(...[...document.querySelectorAll('table[data-testid=audit] tbody tr td:first-child')].map(td => +td.innerText)))`),
		chromedp.Navigate(url+"/audit"),
		until("all events", `!!document.querySelector('tr[data-action="definition.update"]')`),
		chromedp.SendKeys(chromedp.CSS(`#audit-actor`), "nobody"),
		chromedp.Click(chromedp.Search(`//form[@data-filters="audit"]//button[text()="Apply"]`)),
		until("the actor filter", `location.search === '?actor=nobody'`),
		until("nothing matches", textIn(`main`, "No audit events match.")),
	)

	// The releases list, by branch and creator.
	run(t, ctx, "releases",
		chromedp.Click(chromedp.Search(`//nav//a[text()="Releases"]`)),
		until("the release", textIn(`tr[data-release="Release-1"]`, "shop")),
		chromedp.Navigate(url+"/releases?branch=main&status=ACTIVE"),
		until("the release on main", `!!document.querySelector('tr[data-release="Release-1"]')`),
		until("the filters shown", `document.querySelector('#releases-branch')?.value === 'main' && document.querySelector('#releases-status')?.value === 'ACTIVE'`),
		shot.both("32-releases"),
		chromedp.Navigate(url+"/releases?branch=develop"),
		until("nothing on develop", textIn(`main`, "No releases match.")),
		chromedp.Navigate(url+"/releases?creator=nobody"),
		until("nothing by nobody", textIn(`main`, "No releases match.")),
	)

	// The profile: a wrong current password is named beside its field; a token is created
	// (shown once), refused beyond 365 days beside the days field, and revoked.
	run(t, ctx, "profile",
		chromedp.Click(chromedp.CSS(`.me a[href="/profile"]`)),
		until("the profile", textIn(`main h1`, "Your profile")),
		until("the facts", textIn(`dl.facts`, "Admin")),
		chromedp.SendKeys(chromedp.CSS(`#pw-current`), "not my password"),
		chromedp.SendKeys(chromedp.CSS(`#pw-new`), "a brand new password"),
		chromedp.SendKeys(chromedp.CSS(`#pw-confirm`), "a brand new password"),
		chromedp.Click(chromedp.Search(`//button[text()="Change password"]`)),
		until("the error beside the current password", textIn(`#pw-current-error`, "is not your current password")),
		until("the field marked", `document.querySelector('#pw-current').getAttribute('aria-invalid') === 'true'`),
		chromedp.SendKeys(chromedp.CSS(`#token-name`), "laptop"),
		typeInto("#token-days", "400"),
		chromedp.Click(chromedp.Search(`//button[text()="Create token"]`)),
		until("the error beside the days", textIn(`#token-days-error`, "365")),
		typeInto("#token-days", "30"),
		chromedp.Click(chromedp.Search(`//button[text()="Create token"]`)),
		until("the new token shown once", textIn(`[data-created-token]`, "laptop")),
		until("the token listed", textIn(`tr[data-token="laptop"]`, "Active")),
		shot.both("33-profile"),
		chromedp.Click(chromedp.CSS(`button[aria-label="Revoke laptop"]`)),
		until("the token revoked", textIn(`tr[data-token="laptop"]`, "Revoked")),
	)
}
