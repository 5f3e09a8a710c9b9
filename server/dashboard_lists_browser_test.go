package server_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cairnhq/cairn/delivery"
)

// TestDashboardDeploymentsInBrowser: a viewer opens the deployments list (every deployment of
// the releases they may read, newest first), pages to the older ones and back, filters by
// environment and status through the form (the filter lands in the URL), opens the filtered
// link afresh (the filter survives, as a shared link would), and clears it. Each state is shot
// at 1280 and 390 px and checked with axe-core.
func TestDashboardDeploymentsInBrowser(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the browser is Debian's")
	}
	ctx, h := browserServer(t)
	e := h.srv.Engine
	bg := context.Background()
	sys := delivery.SystemActor("test")
	const password = "correct horse battery"
	vera, err := e.CreateUser(bg, sys, delivery.UserInput{Username: "vera", Role: delivery.RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetPassword(bg, sys, vera.ID, password); err != nil {
		t.Fatal(err)
	}
	job := `{skipArtifactDownload: true, tasks: [{name: "hi", script: "echo hi"}]}`
	def := h.createDefinition(t, `{name: "shop", environments: [{name: "dev", trigger: {kind: AFTER_RELEASE}, job: `+job+`}, {name: "prod", trigger: {kind: MANUAL}, job: `+job+`}]}`)
	// 26 releases deploy to dev (no agent: they queue), one goes on to prod: 27 deployments, a
	// page and two.
	var first string
	for i := range 26 {
		rel := h.createRelease(t, def, nil)
		if i == 0 {
			first = rel
		}
	}
	h.ok(h.admin, `mutation($r: ID!) { deployEnvironment(input: {releaseId: $r, environment: "prod"}) { id } }`, map[string]any{"r": first})

	shot := newShots(t)
	url := h.http.URL
	rows := `document.querySelectorAll('table[data-testid=deployments] tbody tr[data-deployment]').length`
	run(t, ctx, "the deployments list",
		signIn(url, "vera", password),
		chromedp.Click(chromedp.Search(`//nav[@aria-label="Main"]//a[text()="Deployments"]`)),
		until("the page", textIn(`main h1`, "Deployments")),
		until("a page of 25 of 27", rows+` === 25 && `+textIn(`nav.pager [role=status]`, "25 shown of 27")),
		until("the newest first: prod", textIn(`table[data-testid=deployments] tbody tr:first-child`, "prod")),
		shot.both("60-deployments"),
		chromedp.Click(chromedp.CSS(`nav.pager a[rel=next]`)),
		until("the older two", rows+` === 2 && location.search.startsWith('?after=')`),
		chromedp.Click(chromedp.CSS(`nav.pager a[rel=prev]`)),
		until("back to 25", rows+` === 25`),
		setField(`#deployments-environment`, "prod"),
		chromedp.Click(chromedp.Search(`//form[@data-filters="deployments"]//button[text()="Apply"]`)),
		until("the filter in the URL", `new URLSearchParams(location.search).get('environment') === 'prod'`),
		until("one deployment", rows+` === 1 && `+textIn(`table[data-testid=deployments] tbody`, "Release-1")),
		shot.both("61-deployments-filtered"),
		// The link, opened afresh, keeps the filter (status Queued: the same deployment).
		chromedp.Navigate(url+"/deployments?environment=prod&status=QUEUED"),
		until("the filter kept", `document.querySelector('#deployments-environment')?.value === 'prod' && document.querySelector('#deployments-status')?.value === 'QUEUED'`),
		until("the same deployment", rows+` === 1`),
		chromedp.Navigate(url+"/deployments?status=SUCCEEDED"),
		until("none succeeded", textIn(`main`, "No deployments match.")),
		chromedp.Click(chromedp.Search(`//form[@data-filters="deployments"]//a[text()="Clear"]`)),
		until("cleared", `location.search === '' && `+rows+` === 25`),
		// A deployment's link opens its log.
		chromedp.Click(chromedp.CSS(`table[data-testid=deployments] tbody tr:first-child th a`)),
		until("the deployment page", `location.pathname.startsWith('/deployments/')`),
	)
}

// appearsLive makes change i (0, 1, …) on the server until the element sel shows without a
// reload: the page follows the server's events. A page subscribes after it renders, so the
// first changes may commit before it listens; each round waits for sel for a while before the
// next change.
func appearsLive(what, sel string, change func(ctx context.Context, i int) error) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for i := range 30 {
			if err := change(ctx, i); err != nil {
				return err
			}
			for range 10 {
				ok, err := chromedp.Evaluate[bool](fmt.Sprintf(`!!document.querySelector(%q)`, sel))(ctx, t)
				if err != nil {
					return err
				}
				if ok {
					return nil
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
		return fmt.Errorf("%s: %s did not appear after 30 changes", what, sel)
	})
}
