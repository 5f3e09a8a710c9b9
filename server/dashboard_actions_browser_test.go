package server_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/cairnhq/cairn/delivery"
)

// buttonsIn is a JavaScript expression: the texts of the buttons in the element matching sel.
func buttonsIn(sel string) string {
	return `[...document.querySelectorAll(` + "`" + sel + " button`" + `)].map(b => b.innerText.trim())`
}

// TestDashboardReleaseActionsInBrowser: an editor opens a release whose production deployment
// waits for its gates (EVALUATING_GATES: the first sample fails, the next is an hour away), and
// whose card names the failing gate and the freeze window to come. The page offers
// "Cancel deployment" and no deploy button, as viewerCan says; after the cancel it offers
// "Redeploy prod", which starts a new attempt that waits for its gates again, and Cancel
// returns; the deployment's page cancels it too. A VIEWER sees the same page without any of these buttons. Screenshots at 1280 and
// 390 px wide; the page logs no error.
func TestDashboardReleaseActionsInBrowser(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the browser is Debian's")
	}
	ctx, h := browserServer(t)
	e := h.srv.Engine
	sys := delivery.SystemActor("test")
	const password = "correct horse battery"
	for _, u := range []struct {
		name string
		role delivery.Role
	}{{"ed", delivery.RoleEditor}, {"vic", delivery.RoleViewer}, {"root", delivery.RoleAdmin}} {
		usr, err := e.CreateUser(context.Background(), sys, delivery.UserInput{Username: u.name, Role: u.role})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.SetPassword(context.Background(), sys, usr.ID, password); err != nil {
			t.Fatal(err)
		}
	}
	def := h.createDefinition(t, `{name: "gated", environments: [
	    {name: "prod", trigger: {kind: AFTER_RELEASE},
	     preGates: {gates: [{name: "health", kind: HTTP, http: {url: "https://health.invalid/ok", successCriteria: "status == 200"}}],
	                delayMinutes: 0, intervalMinutes: 60, timeoutMinutes: 120},
	     job: {skipArtifactDownload: true, tasks: [{name: "hi", script: "echo deployed"}]}}]}`)
	// A freeze window of prod that starts tomorrow: the card names it.
	h.ok(h.admin, `mutation($d: ID!, $s: Time!, $e: Time!) { createFreezeWindow(input: {name: "year end", reason: "stock count",
	    definitionId: $d, environment: "prod", startsAt: $s, endsAt: $e}) { id } }`,
		map[string]any{"d": def, "s": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339), "e": time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)})
	rel := h.createRelease(t, def, nil)
	if st := h.releaseEnvs(t, rel)["prod"]; st.Status != "EVALUATING_GATES" {
		t.Fatalf("prod is %s, want EVALUATING_GATES", st.Status)
	}
	shot := newShots(t)
	url := h.http.URL
	signIn := func(user, prodStatus string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.Navigate(url+"/releases/"+rel),
			until("the sign-in form", `!!document.querySelector('#username')`),
			chromedp.SendKeys(chromedp.CSS(`#username`), user),
			chromedp.SendKeys(chromedp.CSS(`#password`), password+kb.Enter),
			until("the release page", textIn(`li[data-env="prod"] header`, prodStatus)),
		)
	}
	var before, after []string
	run(t, ctx, "cancel while the gates are evaluated",
		signIn("ed", "Evaluating gates"),
		until("the cancel button", textIn(`li[data-env="prod"] [data-actions=environment]`, "Cancel deployment")),
		// The gates' first sample (due at once) fails: the card shows it, and the freeze to come.
		until("the failing sample", textIn(`li[data-env="prod"] [data-gates=PRE]`, "Last failing sample: #1")),
		until("the failing gate", textIn(`li[data-env="prod"] [data-gates=PRE] .gate-fail`, "health: failed")),
		until("the freeze window", textIn(`li[data-env="prod"] [data-freeze=prod]`, "year end: next from")),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) (err error) {
			before, err = chromedp.Evaluate[[]string](buttonsIn(`li[data-env="prod"] [data-actions=environment]`))(ctx, t)
			return err
		}),
		shot.take("20-release-gates"),
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		shot.take("21-release-gates-phone"),
		chromedp.EmulateViewport(1280, 900), // ResetViewport leaves the page 390 px wide
		chromedp.Click(chromedp.Search(`//li[@data-env="prod"]//*[@data-actions="environment"]/button[text()="Cancel deployment"]`)),
		until("the confirmation", confirmReady),
		chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)),
		until("the cancel", textIn(`li[data-env="prod"] header`, "Canceled")),
		until("the redeploy button", textIn(`li[data-env="prod"] [data-actions=environment]`, "Redeploy prod")),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) (err error) {
			after, err = chromedp.Evaluate[[]string](buttonsIn(`li[data-env="prod"] [data-actions=environment]`))(ctx, t)
			return err
		}),
		shot.take("22-release-canceled"),
		chromedp.Click(chromedp.Search(`//li[@data-env="prod"]//*[@data-actions="environment"]/button[text()="Redeploy prod"]`)),
		until("the confirmation", confirmReady),
		chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)),
		until("attempt 2", textIn(`li[data-env="prod"]`, "Attempt 2")),
		until("its gates", textIn(`li[data-env="prod"] header`, "Evaluating gates")),
		until("cancel again", textIn(`li[data-env="prod"] [data-actions=environment]`, "Cancel deployment")),
	)
	if want := []string{"Cancel deployment"}; !equalStrings(before, want) {
		t.Errorf("while the gates are evaluated the buttons are %q, want %q", before, want)
	}
	if want := []string{"Redeploy prod"}; !equalStrings(after, want) {
		t.Errorf("after the cancel the buttons are %q, want %q", after, want)
	}
	st := h.releaseEnvs(t, rel)["prod"]
	if st.Status != "EVALUATING_GATES" {
		t.Fatalf("after the redeploy prod is %s, want EVALUATING_GATES", st.Status)
	}

	// The deployment's own page offers the same cancel (its viewerCan), and then no longer.
	run(t, ctx, "cancel from the deployment's page",
		chromedp.Navigate(url+"/deployments/"+st.DeploymentID),
		until("the cancel button", textIn(`main header`, "Cancel deployment")),
		shot.take("23-deployment-gates"),
		chromedp.Click(chromedp.Search(`//main//header//button[text()="Cancel deployment"]`)),
		until("the confirmation", confirmReady),
		chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)),
		until("the cancel", textIn(`main header`, "Canceled")),
		until("no cancel button", `!document.querySelector('main header button')`),
	)

	var viewerButtons []string
	run(t, ctx, "a viewer sees no action",
		chromedp.Click(chromedp.Search(`//button[text()="Sign out"]`)),
		signedOut, // before navigating: a navigation would abort the sign-out request
		signIn("vic", "Canceled"),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) (err error) {
			viewerButtons, err = chromedp.Evaluate[[]string](buttonsIn(`main`))(ctx, t)
			return err
		}),
		shot.take("24-release-viewer"),
	)
	if len(viewerButtons) != 0 {
		t.Errorf("a VIEWER sees the buttons %q", viewerButtons)
	}

	// The views the other browser test does not visit, for axe-core: the audit log (ADMINs), a
	// work item, the empty approvals inbox.
	relID, err := strconv.Atoi(rel)
	if err != nil {
		t.Fatal(err)
	}
	// Seeding: the engine's client (Engine.Client is read-only).
	h.srv.DB().Client.WorkItem.Create().SetSystem("JIRA").SetExternalID("SHOP-1").SetTitle("gate the release").SetType("Task").
		SetState("Done").SetURL("https://jira.example.com/browse/SHOP-1").AddReleaseIDs(relID).SaveX(context.Background())
	run(t, ctx, "an admin's views",
		chromedp.Click(chromedp.Search(`//button[text()="Sign out"]`)),
		signedOut, // before navigating: a navigation would abort the sign-out request
		signIn("root", "Canceled"),
		chromedp.Navigate(url+"/audit"),
		until("the audit log", textIn(`main table`, "deployment.create")),
		shot.take("25-audit"),
		chromedp.Navigate(url+"/workitems/JIRA/SHOP-1"),
		until("the work item", textIn(`main`, "gate the release")),
		shot.take("26-work-item"),
		chromedp.Navigate(url+"/approvals"),
		until("the empty inbox", textIn(`main`, "Nothing waits on you")),
		shot.take("27-my-approvals-empty"),
	)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// confirmReady: a confirmation dialog is open and has read what will change.
// Clicking its button before then can miss: the answer grows the dialog and
// moves the button between chromedp computing its position and clicking it.
const confirmReady = `!!document.querySelector('dialog[open] button[type=submit]') && !document.querySelector('dialog[open] [role=status]')`
