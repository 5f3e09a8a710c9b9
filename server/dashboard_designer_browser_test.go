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

// TestDashboardDesignerInBrowser: an admin creates a definition from scratch in the designer (an
// artifact with its CI's builds listed, two environments joined by a trigger arrow, an
// approval, a catalogue task whose inputs are a generated form), saves it, edits it (the diff
// and a comment), meets an INVALID_INPUT problem beside its field, and after another tab saved
// first re-applies the edit on the new revision. Shot at 1280 and 390 px with axe-core; the
// page logs no error.
func TestDashboardDesignerInBrowser(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the browser is Debian's")
	}
	ctx, h := browserServer(t)
	e := h.srv.Engine
	const password = "correct horse battery"
	root, err := e.EnsureAdmin(context.Background(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetPassword(context.Background(), delivery.SystemActor("test"), root.ID, password); err != nil {
		t.Fatal(err)
	}
	vic, err := e.CreateUser(context.Background(), delivery.SystemActor("test"), delivery.UserInput{Username: "vic", Role: delivery.RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetPassword(context.Background(), delivery.SystemActor("test"), vic.ID, password); err != nil {
		t.Fatal(err)
	}
	jenkins := fakeJenkins(t)
	h.ok(h.admin, `mutation($u: String!) { createServiceConnection(input: {name: "ci", kind: JENKINS, url: $u,
		username: "cairn", secret: "api-token", webhookSecret: "hook-secret"}) { id } }`, map[string]any{"u": jenkins.URL + "/jenkins"})
	shot := newShots(t)
	url := h.http.URL
	both := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			return chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), shot.take(name),
				chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
				shot.take(name+"-phone"), fitsWidth(name+"-phone"),
				chromedp.EmulateViewport(1280, 900)) // ResetViewport leaves the page 390 px wide
		})
	}
	saved := func(what string) chromedp.Action[chromedp.Void] {
		return until(what, `/^\/definitions\/[^/]+$/.test(location.pathname) && document.querySelector('main h1')?.innerText === 'shop'`)
	}

	run(t, ctx, "sign in",
		chromedp.Navigate(url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		until("the overview", textIn(`main h1`, "Overview")),
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
		press(`//fieldset[legend[text()="Pre-deployment approval"]]//button[text()="Add"]`),
		setField(`#f-environments-1-preApproval-approvers-0-name`, "admin"),
		both("40-designer-new"),
		// The JSON view is the same document.
		press(`//button[@role="tab"][text()="JSON"]`),
		until("the document", `['"name": "shop"', '"uses": "CopyFiles@2"', '"TargetFolder": "/srv/shop"', '"kind": "AFTER_ENVIRONMENTS"'].every(s => document.querySelector('#designer-json')?.value.includes(s))`),
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
		setField(`#f-environments-1-preApproval-requiredCount`, "2"),
		press(`//button[text()="Save…"]`),
		until("the change", `!!document.querySelector('[data-review] tr[data-path="environments[prod].preApproval.requiredCount"]')`),
		press(`//button[text()="Save revision"]`),
		until("the problem beside its field", textIn(`#f-environments-1-preApproval-requiredCount-error`, "only 1 approver")),
		until("the field marked", `document.querySelector('#f-environments-1-preApproval-requiredCount').getAttribute('aria-invalid') === 'true'`),
		both("41-designer-problem"),
		setField(`#f-environments-1-preApproval-requiredCount`, "1"),
		setField(`#f-description`, "the shop"),
		press(`//button[text()="Save…"]`),
		until("the diff", `!!document.querySelector('[data-review] tr[data-path="description"]') && document.querySelector('[data-review] h2').innerText.includes('revision 1')`),
		// Only what was edited: the revision read back and saved again differs in nothing else
		// (the required count is back at its stored value, 1).
		until("nothing else in the diff", `document.querySelectorAll('[data-review] tbody tr').length === 1`),
		both("42-designer-review"),
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
		both("43-designer-conflict"),
		press(`//button[normalize-space(.)="Re-apply my changes on revision 3"]`),
		until("only my change left to save", `!!document.querySelector('[data-review] tr[data-path="environments[prod].queue.maxParallel"]') && !document.querySelector('[data-review] tr[data-path="description"]')`),
		press(`//button[text()="Save revision"]`),
		saved("the re-applied save"),
	)

	// A viewer is offered neither entry point, and the designer's address tells them why.
	run(t, ctx, "a viewer",
		press(`//button[text()="Sign out"]`),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
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
		  job { tasks { uses inputs } } } } } } } } }`, map[string]any{"id": id})
	s := toJSON(got)
	for _, want := range []string{`"revision":4`, `"comment":"one at a time"`, `"description":"set by someone else"`,
		`{"alias":"app","connection":"ci","job":"acme/app","primary":true}`, `"trigger":{"environments":["dev"],"kind":"AFTER_ENVIRONMENTS"}`,
		`"preApproval":{"approvers":[{"name":"admin"}],"requiredCount":1}`, `"queue":{"maxParallel":1}`, `"uses":"CopyFiles@2"`, `"TargetFolder":"/srv/shop"`, `"OverWrite":"true"`} {
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
