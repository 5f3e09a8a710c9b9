package server_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/cairnhq/cairn/delivery"
)

// setValue sets the value of the input, select or textarea sel as a person does (React hears
// the input and change events).
func setValue(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		ok, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const el = document.querySelector(%q); if (!el) return false;
		  Object.getOwnPropertyDescriptor(Object.getPrototypeOf(el), 'value').set.call(el, %q);
		  el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); return true })()`, sel, value))(ctx, t)
		if err == nil && !ok {
			err = fmt.Errorf("no element %s", sel)
		}
		return err
	})
}

// TestDashboardDialogsInBrowser: a release manager creates a release from the overview's
// dialog: the builds come from the (fake) Jenkins, the newest admitted one is picked; a build
// the CI server does not confirm is refused with the error beside its field; then a release
// with build 42, dev left to a person, a settable variable and a description. Screenshots at
// 1280 and 390 px; axe-core and no console error on each.
func TestDashboardDialogsInBrowser(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the browser is Debian's")
	}
	ctx, h := browserServer(t)
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
	jenkins := fakeJenkins(t)
	h.ok(h.admin, `mutation($u: String!) { createServiceConnection(input: {name: "ci", kind: JENKINS, url: $u,
		username: "cairn", secret: "api-token", webhookSecret: "hook-secret"}) { id } }`, map[string]any{"u": jenkins.URL + "/jenkins"})
	h.createDefinition(t, `{name: "shop",
	    artifactSources: [{alias: "app", type: "JENKINS", connection: "ci", job: "acme/app", primary: true,
	      repositoryUrl: "https://github.com/acme/app", branchFilters: ["main"]}],
	    variables: [{name: "greeting", value: "hello", settableAtReleaseTime: true}, {name: "fixed", value: "x"}],
	    environments: [
	      {name: "dev", trigger: {kind: AFTER_RELEASE}, job: {skipArtifactDownload: true, tasks: [{name: "hi", script: "echo $GREETING"}]}},
	      {name: "prod", trigger: {kind: MANUAL}, job: {skipArtifactDownload: true, tasks: [{name: "hi", script: "echo prod"}]}}]}`)
	shot := newShots(t)
	url := h.http.URL
	both := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(shot.take(name),
			chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
			shot.take(name+"-phone"),
			chromedp.EmulateViewport(1280, 900))
	}

	var options []string
	run(t, ctx, "open the create release dialog",
		chromedp.Navigate(url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		until("the overview", textIn(`main table`, "shop")),
		chromedp.Click(chromedp.CSS(`button[data-action=create-release]`)),
		until("the dialog", `!!document.querySelector('dialog[open] select#cr-art-app')`),
		until("the newest admitted build", `document.querySelector('#cr-art-app').value === '42'`),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) (err error) {
			options, err = chromedp.Evaluate[[]string](`[...document.querySelectorAll('#cr-art-app option')].map(o => o.innerText)`)(ctx, t)
			return err
		}),
		both("40-create-release"),
	)
	if len(options) != 5 || !strings.Contains(options[1], "#43") || !strings.Contains(options[1], "not admitted") ||
		!strings.Contains(options[2], "#42") || strings.Contains(options[2], "not admitted") {
		t.Errorf("the build options are %q, want the latest release's, #43 (running, not admitted), #42, #41, #40", options)
	}

	run(t, ctx, "a build the CI server does not confirm",
		setValue(`#cr-art-app`, "43"),
		chromedp.Click(chromedp.Search(`//dialog//button[text()="Create release"]`)),
		until("the error beside the artifact", textIn(`#cr-art-app-error`, "43")),
		until("the select marked", `document.querySelector('#cr-art-app').getAttribute('aria-invalid') === 'true'`),
		shot.take("41-create-release-error"),
	)

	run(t, ctx, "create the release",
		setValue(`#cr-art-app`, "42"),
		chromedp.Click(chromedp.CSS(`#cr-env-dev`)),
		setValue(`#cr-var-greeting`, "bonjour"),
		setValue(`#cr-description`, "hotfix for the basket"),
		chromedp.Click(chromedp.Search(`//dialog//button[text()="Create release"]`)),
		until("the release page", `location.pathname.startsWith('/releases/') && !document.querySelector('dialog[open]')`),
		until("its description", textIn(`main`, "hotfix for the basket")),
	)
	rels := h.ok(h.admin, `{ releases(first: 5) { totalCount edges { node { description
	    artifacts { buildNumber branch } variableOverrides { name value } environments { name status } } } } }`, nil)
	got := toJSON(rels)
	for _, want := range []string{`"totalCount":1`, `"description":"hotfix for the basket"`, `"buildNumber":"42"`, `"branch":"main"`,
		`"name":"greeting","value":"bonjour"`, `"name":"dev","status":"NOT_STARTED"`} {
		if !strings.Contains(got, want) {
			t.Errorf("the release lacks %s: %s", want, got)
		}
	}
}
