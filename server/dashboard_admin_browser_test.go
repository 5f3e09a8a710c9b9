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

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/server"
)

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
	ctx := browser(t)
	cfg := server.Config{DataDir: t.TempDir(), Logger: testLogger(t),
		Passwords: auth.Argon2id{MemoryKiB: 1024, Iterations: 1}}
	h := serve(t, cfg, "")
	h.admin = h.tokenFor("admin", delivery.RoleAdmin)
	e := h.srv.Engine
	sys := delivery.SystemActor("test")
	const password = "correct horse battery"
	root, err := e.EnsureAdmin(context.Background(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetPassword(context.Background(), sys, root.ID, password); err != nil {
		t.Fatal(err)
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
	both := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			return chromedp.Do(ctx, shot.take(name),
				chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
				shot.take(name+"-phone"),
				chromedp.ResetViewport())
		})
	}

	run(t, ctx, "sign in",
		chromedp.Navigate(url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		until("the overview", textIn(`main h1`, "Overview")),
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
		both("20-webhook-deliveries"),
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
	run(t, ctx, "audit log",
		chromedp.Navigate(url+"/audit?action=webhook.redeliver"),
		until("the audit log", textIn(`main h1`, "Audit log")),
		until("the redelivery audited", `[...document.querySelectorAll('table[data-testid=audit] tbody tr')].every(r => r.dataset.action === 'webhook.redeliver') && !!document.querySelector('tr[data-action="webhook.redeliver"]')`),
		chromedp.Reload(),
		until("the filter kept", `document.querySelector('#audit-action')?.value === 'webhook.redeliver' && !!document.querySelector('tr[data-action="webhook.redeliver"]')`),
		both("21-audit"),
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
		both("22-releases"),
		chromedp.Navigate(url+"/releases?branch=develop"),
		until("nothing on develop", textIn(`main`, "No releases match.")),
		chromedp.Navigate(url+"/releases?creator=nobody"),
		until("nothing by nobody", textIn(`main`, "No releases match.")),
	)
}
