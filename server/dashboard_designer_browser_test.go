package server_test

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/cairnhq/cairn/delivery"
)

// setField waits for the form control sel and sets its value as a person does (React hears the
// input event, or change for a select).
func setField(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := until("control "+sel, fmt.Sprintf(`!!document.querySelector(%s)`, strconv.Quote(sel)))(ctx, t); err != nil {
			return err
		}
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const el = document.querySelector(%s);
		  const proto = el instanceof HTMLSelectElement ? HTMLSelectElement.prototype : el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
		  Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, %s);
		  el.dispatchEvent(new Event(el instanceof HTMLSelectElement ? 'change' : 'input', {bubbles: true})); return true })()`, strconv.Quote(sel), strconv.Quote(value)))(ctx, t)
		return err
	})
}

// press waits for the element the XPath expression finds and clicks it.
func press(xpath string) chromedp.Action[chromedp.Void] {
	find := fmt.Sprintf(`document.evaluate(%s, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue`, strconv.Quote(xpath))
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := until(xpath, `!!`+find+` && !`+find+`.disabled`)(ctx, t); err != nil {
			return err
		}
		_, err := chromedp.Evaluate[bool](`(`+find+`).click() ?? true`)(ctx, t)
		return err
	})
}

// pick types search into the user-and-group picker of the list at path and picks the
// candidate "KIND:name" the server offers; the list then shows it.
func pick(path, search, candidate string) chromedp.Action[chromedp.Void] {
	box := fmt.Sprintf(`[data-approvers=%q]`, path)
	option := strconv.Quote(box + fmt.Sprintf(` [data-candidate=%q]`, candidate))
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		return chromedp.Do(ctx,
			setField(box+` input[role=combobox]`, search),
			until("the candidate "+candidate, `!!document.querySelector(`+option+`)`),
			script(`document.querySelector(`+option+`).click() ?? true`),
			until(candidate+" listed", fmt.Sprintf(`!!document.querySelector(%s)`, strconv.Quote(box+fmt.Sprintf(` [data-approver=%q]`, candidate)))))
	})
}

// TestDashboardDesignerInBrowser: an admin creates a definition from scratch in the designer (an
// artifact with its CI's builds listed, two environments joined by a trigger arrow, an
// approval whose user and group are picked from those the server knows, a catalogue task whose
// inputs are a generated form with environment variables, an HTTP gate with a header and a body,
// a retention policy, a server phase with a REST call and a manual intervention), saves it,
// edits it (the diff and a comment), meets INVALID_INPUT problems beside their fields (a count,
// an unknown approver, a malformed header), and after another tab saved
// first re-applies the edit on the new revision. Shot at 1280 and 390 px with axe-core; the
// page logs no error.
func TestDashboardDesignerInBrowser(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the browser is Debian's")
	}
	ctx, h := browserServer(t)
	const password = "correct horse battery"
	personWithPassword(t, h, "admin", delivery.RoleAdmin, password)
	personWithPassword(t, h, "vic", delivery.RoleViewer, password)
	jenkins := fakeJenkins(t)
	h.ok(h.admin, `mutation($u: String!) { createServiceConnection(input: {name: "ci", kind: JENKINS, url: $u,
		username: "cairn", secret: "api-token", webhookSecret: "hook-secret"}) { id } }`, map[string]any{"u": jenkins.URL + "/jenkins"})
	h.ok(h.admin, `mutation { createGroup(input: {name: "release-managers", description: "who ships"}) { id } }`, nil)
	shot := newShots(t)
	url := h.http.URL
	saved := func(what string) chromedp.Action[chromedp.Void] {
		return until(what, `/^\/definitions\/[^/]+$/.test(location.pathname) && document.querySelector('main h1')?.innerText === 'shop'`)
	}

	run(t, ctx, "sign in",
		signIn(url, "admin", password),
		until("no GraphiQL hint", `!document.querySelector('main').innerText.includes('createDefinition mutation')`),
	)

	run(t, ctx, "a new definition",
		press(`//main//header//a[text()="New definition"]`),
		until("the designer", textIn(`main h1`, "New definition")),
		setField(`#f-name`, "shop"),
		press(`//button[text()="Add artifact"]`),
		until("the connection offered", `!!document.querySelector('#f-artifactSources-0-connection option[value="ci"]')`),
		setField(`#f-artifactSources-0-connection`, "ci"),
		setField(`#f-artifactSources-0-job`, "acme/app"),
		press(`//button[text()="List builds"]`),
		until("the CI's builds", `!!document.querySelector('table[data-builds="app"] tr[data-build="42"]') && !!document.querySelector('table[data-builds="app"] tr[data-build="43"]')`),
		// A task of the catalogue: its inputs are a form made from the template's typed inputs.
		until("the catalogue", `!!document.querySelector('#f-environments-0-job-tasks-add option[value="CopyFiles@2"]')`),
		setField(`#f-environments-0-job-tasks-add`, "CopyFiles@2"),
		press(`//button[text()="Add task"]`),
		until("the template's form", `!!document.querySelector('[data-template="CopyFiles@2"]')`),
		until("a boolean input as a checkbox", `document.querySelector('#f-environments-0-job-tasks-0-inputs-OverWrite')?.type === 'checkbox'`),
		until("a multiline input as a text area, with its default", `document.querySelector('#f-environments-0-job-tasks-0-inputs-Contents')?.tagName === 'TEXTAREA' && document.querySelector('#f-environments-0-job-tasks-0-inputs-Contents').value === '**'`),
		setField(`#f-environments-0-job-tasks-0-inputs-TargetFolder`, "/srv/shop"),
		press(`//input[@id="f-environments-0-job-tasks-0-inputs-OverWrite"]`),
		// A second environment after the first: an arrow from dev to it.
		press(`//button[text()="Add environment"]`),
		until("the new environment", `!!document.querySelector('button.node[data-env="environment-2"]')`),
		setField(`#f-environments-1-name`, "prod"),
		until("the trigger arrow", `!!document.querySelector('svg path[data-from="dev"][data-to="prod"]') && !!document.querySelector('svg path[data-from="(release)"][data-to="dev"]')`),
		// Approvers are picked from the users and groups the server knows.
		pick(`environments[1].preApproval.approvers`, "adm", "USER:admin"),
		// The picker open: the server's suggestions as a list box under the box.
		setField(`[data-approvers="environments[1].preApproval.approvers"] input[role=combobox]`, "a"),
		until("the suggestions", `!!document.querySelector('[data-approvers="environments[1].preApproval.approvers"] [role=listbox]:not([hidden]) [data-candidate="GROUP:release-managers"]')`),
		until("no listed one offered again", `!document.querySelector('[data-approvers="environments[1].preApproval.approvers"] [data-candidate="USER:admin"]')`),
		shot.both("46-designer-picker", true),
		pick(`environments[1].preApproval.approvers`, "rel", "GROUP:release-managers"),
		shot.both("40-designer-new", true),
		// A task's environment variables.
		press(`//button[contains(@class, "node")][@data-env="dev"]`),
		press(`//button[@aria-label="Add variable to environment variables"]`),
		setField(`#f-environments-0-job-tasks-0-env-0-name`, "SHOP_MODE"),
		setField(`#f-environments-0-job-tasks-0-env-0-value`, "blue"),
		// prod: an HTTP gate with a header and a body, its own retention, and a server phase
		// that calls a REST API and waits for a person.
		press(`//button[contains(@class, "node")][@data-env="prod"]`),
		press(`//button[@aria-label="Add gate to pre-deployment gates"]`),
		setField(`#f-environments-1-preGates-gates-0-http-method`, "POST"),
		setField(`#f-environments-1-preGates-gates-0-http-url`, "https://status.example.com/check"),
		press(`//div[@data-editing="prod"]//button[@aria-label="Add header to headers"]`),
		setField(`#f-environments-1-preGates-gates-0-http-headers-0-name`, "X-Check"),
		setField(`#f-environments-1-preGates-gates-0-http-headers-0-value`, "$(Release.ReleaseName)"),
		setField(`#f-environments-1-preGates-gates-0-http-body`, `{"release": "$(Release.ReleaseName)"}`),
		setField(`#f-environments-1-preGates-gates-0-http-successCriteria`, `status == 200`),
		press(`//div[@data-editing="prod"]//fieldset[contains(@class, "retention")]//input[@type="checkbox"]`),
		setField(`#f-environments-1-retention-daysToKeep`, "10"),
		setField(`#f-environments-1-retention-releasesToKeep`, "2"),
		press(`//div[@data-editing="prod"]//button[text()="Deploy in phases"]`),
		setField(`#f-environments-1-phases-0-kind`, "SERVER"),
		setField(`#f-environments-1-phases-0-tasks-add`, ":rest"),
		press(`//div[@data-editing="prod"]//button[text()="Add task"]`),
		setField(`#f-environments-1-phases-0-tasks-0-http-url`, "https://deploy.example.com/hooks/prod"),
		setField(`#f-environments-1-phases-0-tasks-0-http-method`, "POST"),
		setField(`#f-environments-1-phases-0-tasks-add`, ":manual"),
		press(`//div[@data-editing="prod"]//button[text()="Add task"]`),
		pick(`environments[1].phases[0].tasks[1].approvers`, "admin", "USER:admin"),
		shot.both("44-designer-rest-gate-retention", true),
		// The JSON view is the same document.
		press(`//button[@role="tab"][text()="JSON"]`),
		until("the document", `['"name": "shop"', '"uses": "CopyFiles@2"', '"TargetFolder": "/srv/shop"', '"kind": "AFTER_ENVIRONMENTS"', '"SHOP_MODE": "blue"', '"X-Check"', '"daysToKeep": 10', '"kind": "INVOKE_REST_API"'].every(s => document.querySelector('#designer-json')?.value.includes(s))`),
		press(`//button[@role="tab"][text()="Form"]`),
		press(`//button[text()="Save…"]`),
		until("what will be saved", `!!document.querySelector('[data-review] tr[data-path="environments[prod].trigger.environments"]') && !!document.querySelector('[data-review] tr[data-path="artifactSources[app].job"]')`),
		setField(`#save-comment`, "first version"),
		press(`//button[text()="Save revision"]`),
		saved("the definition page"),
	)
	id := regexp.MustCompile(`[^/]+$`).FindString(evalString(t, ctx, `location.pathname`))

	run(t, ctx, "edit: a problem beside its field, then the diff and a comment",
		press(`//main//a[text()="Edit"]`),
		until("the designer", textIn(`main h1`, "Edit shop")),
		until("the document loaded", `document.querySelector('#f-name')?.value === 'shop'`),
		press(`//button[contains(@class, "node")][@data-env="prod"]`),
		setField(`#f-environments-1-preApproval-requiredCount`, "3"),
		press(`//button[text()="Save…"]`),
		until("the change", `!!document.querySelector('[data-review] tr[data-path="environments[prod].preApproval.requiredCount"]')`),
		press(`//button[text()="Save revision"]`),
		until("the problem beside its field", textIn(`#f-environments-1-preApproval-requiredCount-error`, "only 2 approver")),
		until("the field marked", `document.querySelector('#f-environments-1-preApproval-requiredCount').getAttribute('aria-invalid') === 'true'`),
		shot.both("41-designer-problem", true),
		setField(`#f-environments-1-preApproval-requiredCount`, "1"),
		// A name the server does not know (the JSON view takes any) and a header name that is
		// not one: each problem beside its field.
		press(`//button[@role="tab"][text()="JSON"]`),
		until("the document", `!!document.querySelector('#designer-json')`),
		script(`(() => { const el = document.querySelector('#designer-json'); const d = JSON.parse(el.value);
		  d.environments[1].preApproval.approvers.push({kind: 'USER', name: 'nobody'});
		  d.environments[1].preGates.gates[0].http.headers[0].name = 'bad header';
		  Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set.call(el, JSON.stringify(d, null, 2));
		  el.dispatchEvent(new Event('input', {bubbles: true})); return true })()`),
		press(`//button[text()="Apply JSON"]`),
		until("the form again", `!!document.querySelector('#f-name')`),
		press(`//button[contains(@class, "node")][@data-env="prod"]`),
		press(`//button[text()="Save…"]`),
		press(`//button[text()="Save revision"]`),
		until("the unknown approver's problem beside it", textIn(`#f-environments-1-preApproval-approvers-2-name-error`, `no user "nobody" exists`)),
		until("the header's problem beside it", textIn(`#f-environments-1-preGates-gates-0-http-headers-0-name-error`, "not an HTTP header name")),
		shot.both("45-designer-approver-problem", true),
		press(`//button[@aria-label="Remove user nobody from Approvers"]`),
		setField(`#f-environments-1-preGates-gates-0-http-headers-0-name`, "X-Check"),
		setField(`#f-description`, "the shop"),
		press(`//button[text()="Save…"]`),
		until("the diff", `!!document.querySelector('[data-review] tr[data-path="description"]') && document.querySelector('[data-review] h2').innerText.includes('revision 1')`),
		// Only what was edited: the revision read back and saved again differs in nothing else
		// (the required count is back at its stored value, 1).
		until("nothing else in the diff", `document.querySelectorAll('[data-review] tbody tr').length === 1`),
		shot.both("42-designer-review", true),
		setField(`#save-comment`, "describe the shop"),
		press(`//button[text()="Save revision"]`),
		saved("the definition page again"),
	)

	// Another person (a second tab) saves first; the first tab's save conflicts, shows both
	// changes, and re-applies its own on the new revision.
	run(t, ctx, "open the editor",
		chromedp.Navigate(url+"/definitions/"+id+"/edit"),
		until("the document loaded", `document.querySelector('#f-description')?.value === 'the shop'`),
		press(`//button[contains(@class, "node")][@data-env="prod"]`),
		setField(`#f-environments-1-queue-maxParallel`, "1"),
	)
	other, closeOther := chromedp.NewContext(ctx)
	run(t, other, "the other person's save",
		chromedp.Navigate(url+"/definitions/"+id+"/edit"),
		until("the document loaded", `document.querySelector('#f-description')?.value === 'the shop'`),
		setField(`#f-description`, "set by someone else"),
		press(`//button[text()="Save…"]`),
		setField(`#save-comment`, "someone else"),
		press(`//button[text()="Save revision"]`),
		saved("their save"),
	)
	closeOther()
	run(t, ctx, "the conflicting save",
		press(`//button[text()="Save…"]`),
		setField(`#save-comment`, "one at a time"),
		press(`//button[text()="Save revision"]`),
		until("the conflict", `!!document.querySelector('[data-conflict="3"]')`),
		until("their change and mine", `!!document.querySelector('[data-conflict] tr[data-path="description"]') && !!document.querySelector('[data-conflict] tr[data-path="environments[prod].queue.maxParallel"]')`),
		shot.both("43-designer-conflict", true),
		press(`//button[normalize-space(.)="Re-apply my changes on revision 3"]`),
		until("only my change left to save", `!!document.querySelector('[data-review] tr[data-path="environments[prod].queue.maxParallel"]') && !document.querySelector('[data-review] tr[data-path="description"]')`),
		press(`//button[text()="Save revision"]`),
		saved("the re-applied save"),
	)

	// A viewer is offered neither entry point, and the designer's address tells them why.
	run(t, ctx, "a viewer",
		press(`//button[text()="Sign out"]`),
		until("the sign-in form", `!!document.querySelector('#username')`),
		chromedp.SendKeys(chromedp.CSS(`#username`), "vic"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		until("signed in", textIn(`.me`, "vic")),
		chromedp.Navigate(url+"/"),
		until("the overview", textIn(`main h1`, "Overview")),
		until("the definition listed", `!!document.querySelector('main a[href="/definitions/`+id+`"]')`),
		until("no New definition", `!document.querySelector('a[href="/definitions/new"]')`),
		press(`//main//a[text()="shop"]`),
		until("the definition page", textIn(`main h1`, "shop")),
		until("no Edit", `!document.querySelector('a[href$="/edit"]')`),
		chromedp.Navigate(url+"/definitions/"+id+"/edit"),
		until("the refusal", textIn(`main`, "You may not edit this definition.")),
	)

	got := h.ok(h.admin, `query($id: ID!) { definition(id: $id) { revision revisions(first: 1, orderBy: {field: REVISION, direction: DESC}) { edges { node { comment snapshot {
		description artifactSources { alias connection job primary }
		environments { name trigger { kind environments } preApproval { approvers { name } requiredCount } queue { maxParallel }
		  job { tasks { uses inputs env } } retention { daysToKeep releasesToKeep }
		  preGates { gates { http { method url headers { name value } body successCriteria } } }
		  phases { kind tasks { kind http { method url } approvers { kind name } } } } } } } } } }`, map[string]any{"id": id})
	s := toJSON(got)
	for _, want := range []string{`"revision":4`, `"comment":"one at a time"`, `"description":"set by someone else"`,
		`{"alias":"app","connection":"ci","job":"acme/app","primary":true}`, `"trigger":{"environments":["dev"],"kind":"AFTER_ENVIRONMENTS"}`,
		`"preApproval":{"approvers":[{"name":"admin"},{"name":"release-managers"}],"requiredCount":1}`, `"queue":{"maxParallel":1}`, `"uses":"CopyFiles@2"`, `"TargetFolder":"/srv/shop"`, `"OverWrite":"true"`,
		`"env":{"SHOP_MODE":"blue"}`, `"retention":{"daysToKeep":10,"releasesToKeep":2}`,
		`"headers":[{"name":"X-Check","value":"$(Release.ReleaseName)"}]`, `"method":"POST"`, `"successCriteria":"status == 200"`, `"url":"https://status.example.com/check"`,
		`"kind":"SERVER"`, `"http":{"method":"POST","url":"https://deploy.example.com/hooks/prod"},"kind":"INVOKE_REST_API"`,
		`"approvers":[{"kind":"USER","name":"admin"}],"http":null,"kind":"MANUAL_INTERVENTION"`} {
		if !strings.Contains(s, want) {
			t.Errorf("the saved definition lacks %s: %s", want, s)
		}
	}
}

// fitsWidth fails when the page is wider than the screen (outside the regions that scroll on
// their own), naming what sticks out.
func fitsWidth(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		wide, err := chromedp.Evaluate[[]string](`document.documentElement.scrollWidth <= screen.width ? [] :
		  [...document.querySelectorAll('main *')].filter(el => el.getBoundingClientRect().right > screen.width + 1 && !el.closest('.scroll-x'))
		  .slice(-3).map(el => el.outerHTML.slice(0, 160))`)(ctx, t)
		if err != nil {
			return err
		}
		if len(wide) > 0 {
			return fmt.Errorf("%s: the page is wider than the screen: %q", name, wide)
		}
		return nil
	})
}

func evalString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
