package server_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
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
// with build 42, dev left to a person, a settable variable of the definition and one of its linked variable group, and a description. Deploying it asks
// for a comment and says what dev gains; a second release deployed after it, rolling dev back
// to the first says what it takes out (the second's commit and work item); abandoning the second
// asks too. On a phone, the overview names the environment out of sight that waits for the
// viewer and scrolls it into view, keeping the definition column. Screenshots at 1280 and 390 px; axe-core and no console error on each.
func TestDashboardDialogsInBrowser(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the browser is Debian's")
	}
	ctx, h := browserServer(t)
	const password = "correct horse battery"
	personWithPassword(t, h, "admin", delivery.RoleAdmin, password)
	jenkins := fakeJenkins(t)
	h.ok(h.admin, `mutation($u: String!) { createServiceConnection(input: {name: "ci", kind: JENKINS, url: $u,
		username: "cairn", secret: "api-token", webhookSecret: "hook-secret"}) { id } }`, map[string]any{"u": jenkins.URL + "/jenkins"})
	// A linked variable group's settable variables are offered too (the server's
	// releaseTimeVariables); its fixed one is not, nor a secret's value.
	h.ok(h.admin, `mutation { createVariableGroup(input: {name: "shop-settings", variables: [
	    {name: "REGION", value: "eu", settableAtReleaseTime: true}, {name: "API_KEY", value: "group-secret-marker", secret: true, settableAtReleaseTime: true},
	    {name: "FIXED_IN_GROUP", value: "y"}]}) { id } }`, nil)
	def := h.createDefinition(t, `{name: "shop", variableGroups: ["shop-settings"],
	    artifactSources: [{alias: "app", type: "JENKINS", connection: "ci", job: "acme/app", primary: true,
	      repositoryUrl: "https://github.com/acme/app", branchFilters: ["main"]}],
	    variables: [{name: "greeting", value: "hello", settableAtReleaseTime: true}, {name: "fixed", value: "x"}],
	    environments: [
	      {name: "dev", trigger: {kind: AFTER_RELEASE}, job: {skipArtifactDownload: true, tasks: [{name: "hi", script: "echo $GREETING"}]}},
	      {name: "prod", trigger: {kind: MANUAL}, job: {skipArtifactDownload: true, tasks: [{name: "hi", script: "echo prod"}]}}]}`)
	// A wide definition whose last environment waits for the admin's approval: on a phone it is
	// out of sight, and the overview says so.
	job := `job: {skipArtifactDownload: true, tasks: [{name: "hi", script: "echo hi"}]}`
	wide := h.createDefinition(t, `{name: "wide", environments: [
	    {name: "qa", trigger: {kind: MANUAL}, `+job+`}, {name: "staging", trigger: {kind: MANUAL}, `+job+`},
	    {name: "live", trigger: {kind: AFTER_RELEASE}, preApproval: {approvers: [{kind: USER, name: "admin"}]}, `+job+`}]}`)
	h.createRelease(t, wide, nil)
	shot := newShots(t)
	url := h.http.URL

	var options []string
	run(t, ctx, "open the create release dialog",
		chromedp.Navigate(url+"/"),
		until("the sign-in form", `!!document.querySelector('#username')`),
		chromedp.SendKeys(chromedp.CSS(`#username`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		until("the overview", textIn(`main table`, "shop")),
		until("live waits for the admin", textIn(`td[data-env="live"][data-waits-viewer]`, "waiting on approval by admin")),
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		until("the hidden environment signalled", textIn(`[data-hidden-waiting]`, "live of wide waits for you")),
		shot.take("45-overview-phone-hidden"),
		chromedp.Click(chromedp.CSS(`[data-hidden-waiting] button`)),
		until("live in sight", `!document.querySelector('[data-hidden-waiting]')`),
		until("the definition column kept", `(() => { const th = document.querySelector('th[scope=row]'), box = document.querySelector('.scroll-x');
		  return box.scrollLeft > 0 && Math.abs(th.getBoundingClientRect().left - box.getBoundingClientRect().left) < 2 })()`),
		shot.take("46-overview-phone-scrolled"),
		chromedp.EmulateViewport(1280, 900),
		until("nothing hidden at 1280 px", `!document.querySelector('[data-hidden-waiting]')`),
		chromedp.Click(chromedp.CSS(`button[data-action=create-release]`)),
		until("the dialog", `!!document.querySelector('dialog[open] select#cr-art-app')`),
		until("the newest admitted build", `document.querySelector('#cr-art-app').value === '42'`),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) (err error) {
			options, err = chromedp.Evaluate[[]string](`[...document.querySelectorAll('#cr-art-app option')].map(o => o.innerText)`)(ctx, t)
			return err
		}),
		until("the group's settable variable, with its value and where it is declared", `document.querySelector('#cr-var-REGION')?.value === 'eu' && document.querySelector('label[for="cr-var-REGION"]').innerText.includes('variable group shop-settings')`),
		until("the group's secret, without its value", `document.querySelector('#cr-var-API_KEY')?.type === 'password' && document.querySelector('#cr-var-API_KEY').value === ''`),
		until("no fixed variable offered", `!document.querySelector('#cr-var-FIXED_IN_GROUP') && !document.querySelector('#cr-var-fixed') && !document.querySelector('dialog[open]').innerHTML.includes('group-secret-marker')`),
		shot.both("40-create-release"),
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
		setValue(`#cr-var-REGION`, "us"),
		setValue(`#cr-description`, "hotfix for the basket"),
		chromedp.Click(chromedp.Search(`//dialog//button[text()="Create release"]`)),
		until("the release page", `location.pathname.startsWith('/releases/') && !document.querySelector('dialog[open]')`),
		until("its description", textIn(`main`, "hotfix for the basket")),
	)
	rels := h.ok(h.admin, `{ releases(first: 5) { totalCount edges { node { description
	    artifacts { buildNumber branch } variableOverrides { name value } environments { name status } } } } }`, nil)
	got := toJSON(rels)
	for _, want := range []string{`"totalCount":2`, `"description":"hotfix for the basket"`, `"buildNumber":"42"`, `"branch":"main"`,
		`"name":"greeting","value":"bonjour"`, `"name":"REGION","value":"us"`, `"name":"dev","status":"NOT_STARTED"`} {
		if !strings.Contains(got, want) {
			t.Errorf("the release lacks %s: %s", want, got)
		}
	}

	// Deploy asks for a comment and says what dev gains.
	h.startAgent(t, "runner", nil)
	var rel1 string
	run(t, ctx, "deploy with a comment",
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) (err error) {
			rel1, err = chromedp.Evaluate[string](`location.pathname.split('/')[2]`)(ctx, t)
			return err
		}),
		until("the deploy button", textIn(`li[data-env="dev"] [data-actions=environment]`, "Deploy dev")),
		// The card offers deploy; the blockers panel above says so instead of a second button.
		until("one deploy button", `[...document.querySelectorAll('li[data-env="dev"] button')].filter(b => /^Deploy/.test(b.innerText)).length === 1`),
		chromedp.Click(chromedp.Search(`//li[@data-env="dev"]//*[@data-actions="environment"]/button[text()="Deploy dev"]`)),
		until("what changes", textIn(`dialog[open] [aria-label="What will change"]`, "dev runs nothing yet")),
		until("what is added", `!!document.querySelector('dialog[open] [data-changes=added]')`),
		shot.both("42-confirm-deploy"),
		setValue(`#confirm-comment`, "first to dev"),
		chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)),
		until("the dialog closed", `!document.querySelector('dialog[open]')`),
		until("dev deployed", textIn(`li[data-env="dev"] header`, "Succeeded")),
	)
	rel2 := h.createRelease(t, def, []map[string]any{{"alias": "app", "buildNumber": "42"}})
	rel2ID, _ := strconv.Atoi(rel2)
	db := h.srv.DB().Client
	db.SourceCommit.Create().SetReleaseID(rel2ID).SetAlias("app").SetSha("abc1234def").SetMessage("second change").SaveX(context.Background())
	db.WorkItem.Create().SetSystem("JIRA").SetExternalID("SHOP-9").SetTitle("second item").AddReleaseIDs(rel2ID).SaveX(context.Background())
	h.waitEnv(t, rel2, "dev", "SUCCEEDED") // its trigger: after the release

	run(t, ctx, "roll back with what it takes out",
		chromedp.Navigate(url+"/releases/"+rel1),
		until("the rollback button", textIn(`li[data-env="dev"] [data-actions=environment]`, "Roll back dev to this release")),
		chromedp.Click(chromedp.Search(`//li[@data-env="dev"]//*[@data-actions="environment"]/button[text()="Roll back dev to this release"]`)),
		until("what is taken out", textIn(`dialog[open] [data-changes=removed]`, "second change")),
		until("the work item taken out", textIn(`dialog[open] [data-changes=removed]`, "SHOP-9")),
		shot.both("43-confirm-rollback"),
		setValue(`#confirm-comment`, "basket broken"),
		chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)),
		until("attempt 2", textIn(`li[data-env="dev"]`, "Attempt 2 (rollback)")),
		until("dev rolled back", textIn(`li[data-env="dev"] header`, "Succeeded")),
	)
	deps := h.ok(h.admin, `query($r: ID!) { release(id: $r) { environments { deployments { attempt operation reason } } } }`, map[string]any{"r": rel1})
	if got := toJSON(deps); !strings.Contains(got, "first to dev") || !strings.Contains(got, `"operation":"ROLLBACK"`) || !strings.Contains(got, "basket broken") {
		t.Errorf("the deployments do not keep the comments: %s", got)
	}

	run(t, ctx, "abandon with a comment",
		chromedp.Navigate(url+"/releases/"+rel2),
		until("the abandon button", `!!document.querySelector('main header button[data-confirm=abandon]')`),
		chromedp.Click(chromedp.CSS(`main header button[data-confirm=abandon]`)),
		until("what abandoning does", textIn(`dialog[open]`, "It never reached prod")),
		shot.take("44-confirm-abandon"),
		setValue(`#confirm-comment`, "superseded"),
		chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)),
		until("abandoned", textIn(`main header`, "Abandoned")),
	)
}
