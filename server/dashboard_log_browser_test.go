package server_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/cairnhq/cairn/delivery"
)

// TestDashboardBigLog opens a finished log of 200,000 lines (CAIRN_BROWSER_LOG_LINES to change
// it) in the browser: the first lines show while the rest streams, the page holds a screenful
// of rows (not a node per line), End shows the last line, the error line is highlighted and
// reached with "First error", a task collapses, and search counts its matches. The time to the
// first screen and the download's time (its floor) are logged, not asserted (BENCHMARKS.md).
func TestDashboardBigLog(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("tasks are POSIX shell scripts; the browser is Debian's")
	}
	lines := 200000
	if s := os.Getenv("CAIRN_BROWSER_LOG_LINES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 {
			t.Fatalf("CAIRN_BROWSER_LOG_LINES=%q: want a number of lines, at least 100", s)
		}
		lines = n
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
	half := lines / 2
	// seq 1 N/2, a warning and an error, seq N/2+1 N, then a second task: N + 4 lines.
	script := fmt.Sprintf("echo \"##[section]big log starts\"\nseq 1 %d\necho \"##[warning]disk 91%% full\"\necho \"##[error]deploy failed on web-3\"\nseq %d %d", half, half+1, lines)
	def := h.createDefinition(t, `{name: "big", environments: [
	    {name: "prod", trigger: {kind: AFTER_RELEASE}, job: {skipArtifactDownload: true, tasks: [
	      {name: "print", script: `+strconv.Quote(script)+`, continueOnError: true},
	      {name: "wrap up", script: "echo last line of the big log"}]}}]}`)
	h.startAgent(t, "deployer", nil)
	rel := h.createRelease(t, def, nil)
	var dep string
	h.waitFor(t, "the big log's job to end", func() bool {
		st := h.releaseEnvs(t, rel)["prod"]
		dep = st.DeploymentID
		return st.Job == "SUCCEEDED" || st.Job == "FAILED"
	})
	shot := newShots(t)
	url := h.http.URL

	// The log's rows change as it streams: elements are clicked from the page's script rather
	// than through chromedp's DOM queries, which track every mutation.
	click := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			ok, err := chromedp.Evaluate[bool](`(() => { const el = `+expr+`; if (!el) return false; el.focus(); el.click(); return true })()`)(ctx, tg)
			if err == nil && !ok {
				err = fmt.Errorf("nothing to click: %s", expr)
			}
			return err
		})
	}
	run(t, ctx, "sign in",
		chromedp.Navigate(url+"/"),
		until("the sign-in form", `!!document.querySelector('#username')`),
		chromedp.SendKeys(chromedp.CSS(`#username`), "pam"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password+kb.Enter),
		until("the overview", textIn(`main h1`, "Overview")),
	)
	total := lines + 4
	var nodes, firstRows int
	run(t, ctx, "open the big log",
		chromedp.Navigate(url+"/deployments/"+dep),
		// A finished log opens at its first line; the task header comes first.
		until("the first lines", `(() => { const l = document.querySelector('[data-testid=log]');
		  return !!l && !!l.querySelector('[data-seq="1"].k-section') && l.querySelector('[data-seq="3"]')?.innerText.endsWith('2') &&
		    (l.querySelector('.log-head.task')?.innerText ?? '').includes('print') })()`),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			firstRows, err = chromedp.Evaluate[int](`+document.querySelector('[data-testid=log]').dataset.rows`)(ctx, tg)
			return err
		}),
		until("the whole log", textIn(`.log-tools`, strconv.Itoa(total)+" lines · complete")),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			nodes, err = chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=log] *').length`)(ctx, tg)
			return err
		}),
		until("the task headers", `(() => { const hs = [...document.querySelectorAll('[data-testid=log] .log-head.task')].map(h => h.innerText);
		  return hs.length === 1 && hs[0].includes('print') && hs[0].includes('1 error') && hs[0].includes('1 warning') &&
		    document.querySelector('[data-testid=log] .log-head.phase')?.innerText.includes('Phase 1') })()`),
		shot.take("13-big-log"),
	)
	// The page holds a screenful of rows, not a node per line.
	if nodes == 0 || nodes > 2000 {
		t.Errorf("the log view holds %d DOM nodes for %d lines, want a screenful (at most 2,000)", nodes, total)
	}
	t.Logf("rows when the first lines showed: %d of %d", firstRows, total+3)

	run(t, ctx, "jump to the end and to the error",
		click(`[...document.querySelectorAll('.log-tools button')].find(b => b.innerText === 'End')`),
		until("the last line", `(() => { const r = document.querySelector('[data-testid=log] [data-seq="`+strconv.Itoa(total)+`"]');
		  const box = document.querySelector('[data-testid=log]').getBoundingClientRect();
		  if (!r || !r.innerText.includes('last line of the big log')) return false;
		  const b = r.getBoundingClientRect(); return b.top >= box.top && b.bottom <= box.bottom + 1 })()`),
		until("the second task's header", textIn(`[data-testid=log]`, "wrap up")),
		click(`document.querySelector('[data-testid=next-error]')`),
		until("the error line, highlighted and in view", `(() => { const r = document.querySelector('[data-testid=log] .line.k-error.current');
		  const box = document.querySelector('[data-testid=log]').getBoundingClientRect();
		  if (!r || !r.innerText.includes('Error: deploy failed on web-3') || r.dataset.seq !== '`+strconv.Itoa(half+3)+`') return false;
		  const b = r.getBoundingClientRect();
		  return b.top >= box.top && b.bottom <= box.bottom + 1 && getComputedStyle(r).backgroundColor !== getComputedStyle(document.querySelector('[data-testid=log] [data-seq="2"], [data-testid=log] .line:not(.k-error)')).backgroundColor })()`),
		until("the warning line", `!!document.querySelector('[data-testid=log] .line.k-warning')`),
		shot.take("14-big-log-error"),
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		shot.take("14-big-log-error-phone"),
		chromedp.EmulateViewport(1280, 900), // ResetViewport leaves the page 390 px wide
	)

	// A task collapses to its header; search lists the matching lines.
	run(t, ctx, "collapse and search",
		click(`[...document.querySelectorAll('.log-tools button')].find(b => b.innerText === 'Top')`),
		until("the top", `!!document.querySelector('[data-testid=log] .log-head.phase')`),
		click(`document.querySelector('[data-testid=log] .log-head.task[data-step="1"] button')`),
		until("the collapsed task", `(() => { const l = document.querySelector('[data-testid=log]');
		  return l.dataset.rows === '4' && l.querySelector('.log-head.task[data-step="1"] button').getAttribute('aria-expanded') === 'false' })()`),
		click(`document.querySelector('[data-testid=log] .log-head.task[data-step="1"] button')`),
		until("the expanded task", `document.querySelector('[data-testid=log]').dataset.rows === '`+strconv.Itoa(total+3)+`'`),
		click(`document.querySelector('#log-search')`),
		chromedp.KeyEvent("web-3"),
		until("the search", textIn(`.log-tools`, "1 of "+strconv.Itoa(total)+" lines")),
		until("the match", textIn(`[data-testid=log]`, "deploy failed on web-3")),
	)

	// Figures for BENCHMARKS.md: the view's first screen and complete log (performance marks
	// the view sets), and the plain download of the same log in the same page (the floor).
	var marks map[string]float64
	run(t, ctx, "measure",
		chromedp.Navigate(url+"/deployments/"+dep),
		until("the whole log again", textIn(`.log-tools`, "· complete")),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			marks, err = chromedp.Evaluate[map[string]float64](`(async () => {
			  const m = (n) => performance.getEntriesByName(n)[0]?.startTime ?? -1;
			  const t0 = performance.now();
			  const text = await (await fetch('/logs/deployments/`+dep+`')).text();
			  const download = performance.now() - t0;
			  return { first: m('cairn-log-first-screen'), complete: m('cairn-log-complete'), download, bytes: text.length,
			    heap: (performance.memory?.usedJSHeapSize ?? 0) / 1048576, nodes: document.querySelectorAll('[data-testid=log] *').length };
			})()`, chromedp.EvalAwaitPromise)(ctx, tg)
			return err
		}),
	)
	t.Logf("log view of %d lines: first screen %.0f ms after navigation, whole log %.0f ms (JS heap %.0f MiB, %.0f DOM nodes in the log); download of the same log (%.0f bytes) %.0f ms",
		total, marks["first"], marks["complete"], marks["heap"], marks["nodes"], marks["bytes"], marks["download"])
}
