package server_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/server"
)

// The dashboard in a real browser: headless Chromium (Debian's /usr/bin/chromium, or
// CAIRN_CHROMIUM) driven over the DevTools protocol by chromedp, against a real server with a
// real agent. Screenshots of every view are written to artifacts/browser/ at the repository
// root (gitignored), or to CAIRN_SCREENSHOTS. Without a browser the test is skipped, except in CI
// (CI set), where .ci/run installs chromium and a missing browser fails the test.

// chromium returns the browser to drive.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CAIRN_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium: install it (apt-get install -y chromium) or set CAIRN_CHROMIUM")
	}
	t.Skip("no chromium (apt-get install -y chromium, or set CAIRN_CHROMIUM)")
	return ""
}

// browser starts a headless Chromium and returns a tab's context, at 1280 × 900. An error the
// page logs (console.error) or throws fails the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	var mu sync.Mutex
	var pageErrors []string
	pageError := func(msg string) {
		mu.Lock()
		pageErrors = append(pageErrors, msg)
		mu.Unlock()
	}
	// The page's console and uncaught exceptions go to the test log.
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf), chromedp.WithListener(func(ev any) {
		switch ev := ev.(type) {
		case *cdpruntime.EventConsoleAPICalled:
			var args []string
			for _, a := range ev.Args {
				if a.Description != "" {
					args = append(args, a.Description)
				} else {
					args = append(args, fmt.Sprint(a.Value))
				}
			}
			t.Logf("console.%s: %s", ev.Type, strings.Join(args, " "))
			if ev.Type == cdpruntime.ConsoleAPICalledTypeError {
				pageError("console.error: " + strings.Join(args, " "))
			}
		case *cdpruntime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			t.Logf("page exception: %s (%s:%d)", msg, d.URL, d.LineNumber)
			pageError(fmt.Sprintf("exception: %s (%s:%d)", msg, d.URL, d.LineNumber))
		}
	}))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		mu.Lock()
		defer mu.Unlock()
		for _, e := range pageErrors {
			t.Errorf("the page logged an error: %s", e)
		}
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// shots saves screenshots under the artifacts directory, and checks each page it shoots with
// axe-core.
type shots struct {
	t   *testing.T
	dir string
	axe string // axe-core's axe.min.js
}

// axePath is axe-core's script, installed by npm ci in web/ (a devDependency, pinned).
var axePath = filepath.Join("..", "web", "node_modules", "axe-core", "axe.min.js")

func newShots(t *testing.T) *shots {
	dir := os.Getenv("CAIRN_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "artifacts", "browser")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	axe, err := os.ReadFile(axePath)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("axe-core: %v (run npm ci in web/)", err)
		}
		t.Logf("no axe-core (%v): run npm ci in web/ to check the pages' accessibility", err)
	}
	return &shots{t: t, dir: dir, axe: string(axe)}
}

// axeRun runs axe-core on the page (WCAG 2.1 A and AA and best practices) and answers the
// serious and critical violations, as JSON.
const axeRun = `axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(r.violations
  .filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' + n.html.slice(0, 100))}))))`

// unlabeled lists the dashboard's form controls and buttons that have no accessible name
// (GraphiQL's own page is not checked).
const unlabeled = `location.pathname === '/graphql' ? [] : [...document.querySelectorAll('input, select, textarea, button, a[href]')]
  .filter(el => el.type !== 'hidden' && el.getClientRects().length > 0 && !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.closest('label') && !el.textContent.trim())
  .map(el => el.outerHTML.slice(0, 120))`

// take saves a screenshot of the page and fails when a control has no accessible name.
func (s *shots) take(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		bad, err := chromedp.Evaluate[[]string](unlabeled)(ctx, t)
		if err != nil {
			return err
		}
		if len(bad) > 0 {
			return fmt.Errorf("%s: controls without an accessible name: %q", name, bad)
		}
		if err := s.checkAxe(ctx, t, name); err != nil {
			return err
		}
		buf, err := chromedp.FullScreenshot(100)(ctx, t)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(s.dir, name+".png"), buf, 0o644)
	})
}

// both shoots the page at 1280 px (name) and as a phone at 390 px (name-phone), each checked
// like take, and lays it out at 1280 px again (ResetViewport alone leaves it at 390 px). fit
// also fails when the phone page is wider than the screen (fitsWidth).
func (s *shots) both(name string, fit ...bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		steps := []chromedp.Action[chromedp.Void]{chromedp.EmulateViewport(1280, 900), s.take(name),
			chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile), s.take(name + "-phone")}
		if len(fit) > 0 && fit[0] {
			steps = append(steps, fitsWidth(name+"-phone"))
		}
		return chromedp.Do(ctx, append(steps, chromedp.EmulateViewport(1280, 900))...)
	})
}

// signIn signs user in with password on the sign-in page of the server at url and waits
// for the overview.
func signIn(url, user, password string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		return chromedp.Do(ctx,
			chromedp.Navigate(url+"/"),
			until("the sign-in form", `!!document.querySelector('#username')`),
			chromedp.SendKeys(chromedp.CSS(`#username`), user),
			chromedp.SendKeys(chromedp.CSS(`#password`), password),
			chromedp.Click(chromedp.CSS(`button[type=submit]`)),
			until("the overview", textIn(`main h1`, "Overview")))
	})
}

// personWithPassword makes a user who signs in with password: the admin "admin" for role
// ADMIN (EnsureAdmin), else a new user of the role.
func personWithPassword(t *testing.T, h *harness, name string, role delivery.Role, password string) *ent.User {
	t.Helper()
	bg, sys := context.Background(), delivery.SystemActor("test")
	var u *ent.User
	var err error
	if name == "admin" {
		u, err = h.srv.Engine.EnsureAdmin(bg, name)
	} else {
		u, err = h.srv.Engine.CreateUser(bg, sys, delivery.UserInput{Username: name, Role: role})
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.srv.Engine.SetPassword(bg, sys, u.ID, password); err != nil {
		t.Fatal(err)
	}
	return u
}

// checkAxe fails on axe-core's serious and critical violations on the dashboard's pages
// (GraphiQL's own page is not checked).
func (s *shots) checkAxe(ctx context.Context, t *chromedp.Target, name string) error {
	if s.axe == "" {
		return nil
	}
	graphiql, err := chromedp.Evaluate[bool](`location.pathname === '/graphql'`)(ctx, t)
	if err != nil || graphiql {
		return err
	}
	if _, err := chromedp.Evaluate[bool](`typeof axe !== 'undefined' || (() => { `+s.axe+`; return true })()`)(ctx, t); err != nil {
		return fmt.Errorf("%s: loading axe-core: %w", name, err)
	}
	out, err := chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise)(ctx, t)
	if err != nil {
		return fmt.Errorf("%s: running axe-core: %w", name, err)
	}
	if out != "[]" {
		return fmt.Errorf("%s: axe-core finds serious or critical accessibility violations: %s", name, out)
	}
	return nil
}

// until waits (in the page, with a deadline) until the JavaScript expression is true.
func until(what, expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(waitLimit), chromedp.WithPollingInterval(50*time.Millisecond))(ctx, t)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		return nil
	})
}

// signedOut waits for the sign-in form that follows "Sign out". A test that navigates right
// after the click can abort the sign-out request and find itself still signed in.
var signedOut = until("the sign-in form after signing out", `!!document.querySelector('#username')`)

// textIn is a JavaScript expression: the element matching sel contains text.
func textIn(sel, text string) string {
	return fmt.Sprintf(`(document.querySelector(%s)?.innerText ?? '').includes(%s)`, strconv.Quote(sel), strconv.Quote(text))
}

// browserServer starts the browser and a real server for a dashboard test, with an admin token
// (h.admin) and cheap password hashes: the tests measure the dashboard, not argon2.
func browserServer(t *testing.T) (context.Context, *harness) {
	t.Helper()
	ctx := browser(t)
	cfg := server.Config{DataDir: t.TempDir(), Logger: testLogger(t),
		Passwords: auth.Argon2id{MemoryKiB: 1024, Iterations: 1}}
	h := serve(t, cfg, "")
	h.admin = h.tokenFor("admin", delivery.RoleAdmin)
	return ctx, h
}

// TestDashboardInBrowser signs in as an approver, watches a release deploy live on the
// overview, approves production from the release page, follows the production log while the
// task still runs, visits the other views and signs out.
func TestDashboardInBrowser(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("tasks are POSIX shell scripts; the browser is Debian's")
	}
	ctx, h := browserServer(t)
	e := h.srv.Engine
	sys := delivery.SystemActor("test")
	pam, err := e.CreateUser(context.Background(), sys, delivery.UserInput{Username: "pam", Role: delivery.RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	const password = "correct horse battery"
	if _, err := e.SetPassword(context.Background(), sys, pam.ID, password); err != nil {
		t.Fatal(err)
	}
	gate := filepath.Join(t.TempDir(), "gate")
	def := h.createDefinition(t, `{name: "shop", variables: [{name: "GATE", value: `+strconv.Quote(gate)+`}], environments: [
	    {name: "dev", trigger: {kind: AFTER_RELEASE}, job: {skipArtifactDownload: true, tasks: [{name: "hi", script: "echo dev deployed"}]}},
	    {name: "prod", trigger: {kind: AFTER_ENVIRONMENTS, environments: ["dev"]},
	     preApproval: {approvers: [{kind: USER, name: "pam"}]},
	     job: {skipArtifactDownload: true, tasks: [{name: "roll", script: "echo prod starting\nwhile [ ! -e \"$GATE\" ]; do sleep 0.05; done\necho prod finished"},
       {name: "verify", kind: MANUAL_INTERVENTION, instructions: "Check the shop's front page", approvers: [{kind: USER, name: "pam"}]},
       {name: "smoke", script: "echo smoke passed"}]}}]}`)
	h.startAgent(t, "deployer", nil)
	shot := newShots(t)
	url := h.http.URL
	start := time.Now()

	// Sign in.
	run(t, ctx, "sign in",
		chromedp.Navigate(url+"/"),
		until("the sign-in form", `!!document.querySelector('#username')`),
		shot.take("01-sign-in"),
		chromedp.SendKeys(chromedp.CSS(`#username`), "pam"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "wrong password!"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		until("the refusal", textIn(`[role=alert]`, "invalid username or password")),
		chromedp.Reload(),
		until("the sign-in form", `!!document.querySelector('#username')`),
		chromedp.SendKeys(chromedp.CSS(`#username`), "pam"),
		// By keyboard: Enter in the password field submits.
		chromedp.SendKeys(chromedp.CSS(`#password`), password+kb.Enter),
		until("the overview", textIn(`main h1`, "Overview")),
		until("the shop row", textIn(`table.matrix`, "shop")),
	)

	// A release created now shows up and deploys live: dev succeeds, prod waits on pam.
	rel := h.createRelease(t, def, nil)
	run(t, ctx, "the overview follows the release",
		until("dev succeeded", textIn(`td[data-env="dev"]`, "Succeeded")),
		until("prod waits on pam", textIn(`td[data-env="prod"]`, "waiting on approval by pam")),
		until("the approvals count", textIn(`nav`, "My approvals (1)")),
		shot.take("02-overview"),
	)

	// Pending approvals, then the release: pam may approve, not deploy.
	var deployButtons int
	var download string
	run(t, ctx, "approve production",
		chromedp.Click(chromedp.Search(`//nav//a[contains(., "My approvals")]`)),
		until("the approval card", textIn(`main`, "Release-1 → prod")),
		shot.take("03-my-approvals"),
		chromedp.Click(chromedp.Search(`//main//a[text()="Release-1"]`)),
		until("the release page", textIn(`li[data-env="prod"]`, "Pending approval")),
		// First on prod's card: why it is not there yet, and pam's quick actions.
		until("prod's blockers", textIn(`li[data-env="prod"] [data-blockers="prod"]`, "Why Release-1 is not in prod yet")),
		until("the approval blocker", `(() => { const b = document.querySelector('li[data-env="prod"] [data-blockers] li[data-kind="PENDING_APPROVAL"]');
		  return !!b && b.innerText.includes('Who can act: user pam') && b.innerText.includes('waits for user pam') &&
		    [...b.querySelectorAll('button')].map(x => x.innerText).join() === 'Approve now,Reject now' &&
		    b.closest('li.card').querySelector('header').nextElementSibling === b.closest('[data-blockers]') })()`),
		until("no blockers on a deployed environment", `!!document.querySelector('li[data-env="dev"]') && !document.querySelector('li[data-env="dev"] [data-blockers]')`),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) (err error) {
			deployButtons, err = chromedp.Evaluate[int](`[...document.querySelectorAll('main button')].filter(b => /Deploy|Redeploy/.test(b.innerText)).length`)(ctx, t)
			return err
		}),
		shot.take("04-release"),
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		shot.take("04-release-phone"),
		chromedp.EmulateViewport(1280, 900), // ResetViewport leaves the page 390 px wide
		chromedp.SendKeys(chromedp.CSS(`li[data-env="prod"] input[id$="-comment"]`), "ship it"),
		chromedp.Click(chromedp.Search(`//li[@data-env="prod"]//button[text()="Approve"]`)),
		until("the approval recorded", textIn(`li[data-env="prod"]`, "by pam")),
		until("the log link", `!!document.querySelector('li[data-env="prod"] a[href^="/deployments/"]')`),
	)
	if deployButtons != 0 {
		t.Errorf("a VIEWER sees %d deploy buttons", deployButtons)
	}

	// The log streams while the task runs: the first line arrives before the task ends.
	run(t, ctx, "follow the log",
		chromedp.Click(chromedp.CSS(`li[data-env="prod"] a[href^="/deployments/"]`)),
		until("the first line", textIn(`[data-testid=log]`, "prod starting")),
		// Marks the first line's node: following live must keep it, not draw it again.
		until("the first line marked", `(() => { const l = document.querySelector('[data-testid=log] [data-seq="1"]'); if (l) l.dataset.kept = 'yes'; return !!l })()`),
		shot.take("05-log-live"),
	)
	if st := h.releaseEnvs(t, rel)["prod"]; st.Job != "RUNNING" {
		t.Errorf("prod's job is %s while its log streams, want RUNNING", st.Job)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The job's last line arrives; then prod waits at its manual intervention, which pam resumes
	// from the release page; the smoke job's lines continue the same log.
	run(t, ctx, "resume the manual intervention",
		until("the job's last line", textIn(`[data-testid=log]`, "prod finished")),
		until("the first line's node kept while following", `document.querySelector('[data-testid=log] [data-seq="1"]')?.dataset.kept === 'yes'`),
		chromedp.Navigate(url+"/"),
		until("the overview names the intervention", textIn(`td[data-env="prod"]`, "waiting on manual intervention verify by pam")),
		// The inbox holds it too, and the badge counts it.
		chromedp.Navigate(url+"/approvals"),
		until("the intervention in the inbox", textIn(`[data-inbox=interventions]`, "Release-1 → prod: verify")),
		until("the badge", `[...document.querySelectorAll('nav a')].some(a => a.innerText === 'My approvals (1)')`),
		shot.take("06-inbox-intervention"),
		chromedp.Navigate(url+"/releases/"+rel),
		until("the intervention", textIn(`li[data-env="prod"]`, "Check the shop's front page")),
		until("the intervention blocker", `(() => { const b = document.querySelector('li[data-env="prod"] [data-blockers] li[data-kind="MANUAL_INTERVENTION"]');
		  return !!b && b.innerText.includes('manual intervention verify for user pam') &&
		    [...b.querySelectorAll('button')].map(x => x.innerText).join() === 'Resume now,Reject intervention' })()`),
		shot.take("06-intervention"),
		chromedp.SendKeys(chromedp.CSS(`li[data-env="prod"] input[id^="mi-"]`), "front page fine"),
		chromedp.Click(chromedp.Search(`//li[@data-env="prod"]//button[text()="Resume"]`)),
		until("the resume recorded", textIn(`li[data-env="prod"]`, "by pam: “front page fine”")),
		until("prod's blockers follow", `!document.querySelector('li[data-env="prod"] [data-blockers] li[data-kind="MANUAL_INTERVENTION"]')`),
		chromedp.Click(chromedp.CSS(`li[data-env="prod"] a[href^="/deployments/"]`)),
	)
	run(t, ctx, "the log completes",
		until("the last line", textIn(`[data-testid=log]`, "smoke passed")),
		until("the end of the log", textIn(`.log-tools`, "complete")),
		until("the status", textIn(`main header`, "Succeeded")),
		// Grouped by phase and task (the manual intervention is phase 2, on the server).
		until("the phase and task headers", `(() => { const hs = [...document.querySelectorAll('[data-testid=log] .log-head')].map(h => h.innerText.replace(/\s+/g, ' '));
		  return hs.length === 4 && hs[0].startsWith('▾ Phase 1 · agent deployer') && hs[1].startsWith('▾ roll Succeeded started') && hs[1].endsWith('2 lines') &&
		    hs[2].startsWith('▾ Phase 3') && hs[3].startsWith('▾ smoke Succeeded') })()`),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			download, err = chromedp.Evaluate[string](`fetch(document.querySelector('.log-tools a[download]').href).then(r => r.text())`, chromedp.EvalAwaitPromise)(ctx, tg)
			return err
		}),
		chromedp.SendKeys(chromedp.CSS(`#log-search`), "finished"),
		until("the search", textIn(`.log-tools`, "1 of 3 lines")),
		shot.take("07-log-done"),
	)

	// The dashboard's download has the same grouping: a header before each task's lines.
	if ok, _ := regexp.MatchString(`^===== Phase 1 · Task 1: roll · SUCCEEDED · started \S+ · \S+ =====\nprod starting\nprod finished\n===== Phase 3 · Task 1: smoke · SUCCEEDED · started \S+ · \S+ =====\nsmoke passed\n$`, download); !ok {
		t.Errorf("the dashboard's download:\n%s", download)
	}

	// The other views.
	run(t, ctx, "other views",
		chromedp.Navigate(url+"/releases/"+rel),
		until("prod deployed", textIn(`li[data-env="prod"] header`, "Succeeded")),
		until("no blockers left", `!document.querySelector('[data-blockers]')`),
		chromedp.Navigate(url+"/definitions/"+def),
		until("the definition's releases", textIn(`main`, "Release-1")),
		shot.take("08-definition"),
		chromedp.Navigate(url+"/definitions/"+def+"/revisions"),
		until("the revisions", textIn(`main table`, "create")),
		shot.take("09-revisions"),
		chromedp.Navigate(url+"/agents"),
		until("the agent", textIn(`tr[data-agent="deployer"]`, "Online")),
		shot.take("10-agents"),
		chromedp.Navigate(url+"/graphql"),
		until("GraphiQL", `!!document.querySelector('.graphiql-container')`),
		shot.take("11-graphiql"),
		chromedp.Navigate(url+"/"),
		until("the overview", textIn(`td[data-env="prod"]`, "Succeeded")),
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		shot.take("12-overview-phone"),
		chromedp.EmulateViewport(1280, 900), // ResetViewport leaves the page 390 px wide
	)

	// Sign out: the session ends on the server, not only in the page.
	var status int
	run(t, ctx, "sign out",
		chromedp.Click(chromedp.Search(`//button[text()="Sign out"]`)),
		until("the sign-in form", `!!document.querySelector('#username')`),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) (err error) {
			status, err = chromedp.Evaluate[int](`fetch('/graphql', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"query":"{viewer{role}}"}'}).then(r => r.status)`,
				chromedp.EvalAwaitPromise)(ctx, t)
			return err
		}),
	)
	if status != 401 {
		t.Errorf("after sign-out the API answered %d, want 401", status)
	}
	t.Logf("browser scenario took %s; screenshots in %s", time.Since(start).Round(time.Millisecond), shot.dir)
}

func run(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("%s: %v\npage text:\n%s", step, err, strings.TrimSpace(body))
	}
}
