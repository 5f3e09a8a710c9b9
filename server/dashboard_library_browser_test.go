package server_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/ssh"

	"github.com/cairnhq/cairn/delivery"
)

// script runs the JavaScript expression in the page.
func script(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](expr)(ctx, t)
		return err
	})
}

// click waits for the button whose text is text inside the element sel (a form, a row), and
// clicks it.
func click(sel, text string) chromedp.Action[chromedp.Void] {
	find := fmt.Sprintf(`[...document.querySelectorAll(%q + ' button')].find(b => b.innerText.trim() === %q && !b.disabled)`, sel, text)
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		return chromedp.Do(ctx, until(fmt.Sprintf("the button %q in %s", text, sel), `!!`+find), script(`(`+find+`).click() || true`))
	})
}

// importDoc is a small Azure DevOps classic release definition, as its REST API exports it.
const importDoc = `{"id": 41, "revision": 3, "name": "Imported shop",
 "url": "https://dev.azure.com/contoso/shop/_apis/Release/definitions/41",
 "variables": {"Region": {"value": "north"}},
 "environments": [{"id": 1, "name": "dev", "rank": 1,
   "preDeployApprovals": {"approvals": [{"rank": 1, "isAutomated": true}]},
   "postDeployApprovals": {"approvals": [{"rank": 1, "isAutomated": true}]},
   "deployPhases": [{"rank": 1, "phaseType": 1, "name": "Agent job", "deploymentInput": {"queueId": 1},
     "workflowTasks": [{"taskId": "6c731c3c-3c68-459a-a5c9-bde6e6595b5b", "version": "3.*", "name": "Say hi", "enabled": true,
       "inputs": {"targetType": "inline", "script": "echo hi"}}]}],
   "conditions": [{"name": "ReleaseStarted", "conditionType": 1, "value": ""}]}]}`

// TestDashboardLibraryInBrowser: an admin goes through the library pages: creates an SSH
// connection (its key is never shown back, not even in the edit form), an outgoing hook (a
// short secret refused beside its field), a variable group with a secret, uploads a secure
// file, sees both used by a definition and their deletion refused, creates, edits and deletes a
// freeze window, redelivers a hook delivery, adds and deletes a task template, and imports an Azure classic definition after a dry
// run. A viewer then sees the read-only pages only. Each page is shot at 1280 and 390 px.
func TestDashboardLibraryInBrowser(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the browser is Debian's")
	}
	ctx, h := browserServer(t)
	const password = "correct horse battery"
	personWithPassword(t, h, "admin", delivery.RoleAdmin, password)
	personWithPassword(t, h, "vera", delivery.RoleViewer, password)
	job := `{skipArtifactDownload: true, tasks: [{name: "hi", script: "echo hi"}]}`
	def := h.createDefinition(t, `{name: "shop", environments: [{name: "dev", trigger: {kind: MANUAL}, job: `+job+`}, {name: "prod", trigger: {kind: MANUAL}, job: `+job+`}]}`)

	// The import document is valid as it is (so the page's Import button can be pressed).
	dry := h.ok(h.admin, `mutation($d: [String!]!) { importDefinitions(format: AZURE_CLASSIC, documents: $d) { definitions { valid findings { path status message } } } }`,
		map[string]any{"d": []string{importDoc}})
	if v := dig(dry, "importDefinitions", "definitions").([]any)[0].(map[string]any); v["valid"] != true {
		t.Fatalf("the import document is not valid: %v", v["findings"])
	}

	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key := string(pem.EncodeToMemory(blk))
	keyPart := strings.Split(key, "\n")[2][:40] // a line of the key's body
	const secretValue = "s3cr3t-group-value"
	// notShown: neither the page's HTML nor any field's value holds s.
	notShown := func(what, s string) chromedp.Action[chromedp.Void] {
		return until(what, fmt.Sprintf(`!document.documentElement.outerHTML.includes(%[1]q) && ![...document.querySelectorAll('input, textarea')].some(el => el.value.includes(%[1]q))`, s))
	}

	shot := newShots(t)
	url := h.http.URL
	run(t, ctx, "the library's sections",
		signIn(url, "admin", password),
		until("the library in the navigation", `[...document.querySelectorAll('nav a')].some(a => a.innerText === 'Library')`),
		chromedp.Click(chromedp.Search(`//nav//a[text()="Library"]`)),
		until("seven sections", `document.querySelectorAll('[data-section]').length === 7`),
		shot.both("40-library"),
	)

	run(t, ctx, "an SSH connection",
		chromedp.Click(chromedp.Search(`//a[text()="Service connections"]`)),
		until("the page", textIn(`main h1`, "Service connections")),
		click(`main`, "New connection"),
		until("the form", `!!document.querySelector('form[data-form=connection]')`),
		setField(`#conn-new-kind`, "SSH"),
		until("the SSH fields", `!!document.querySelector('#conn-new-host') && !!document.querySelector('#conn-new-privateKey')`),
		setField(`#conn-new-name`, "deploy-host"),
		setField(`#conn-new-host`, "10.0.0.5"),
		setField(`#conn-new-username`, "deploy"),
		chromedp.Click(chromedp.CSS(`#conn-new-tofu`)),
		click(`form[data-form=connection]`, "Create connection"),
		until("the missing key named beside its field", textIn(`#conn-new-privateKey-error`, "private key or a password")),
		until("the field marked", `document.querySelector('#conn-new-privateKey').getAttribute('aria-invalid') === 'true'`),
		shot.both("41-connection-form"),
		setField(`#conn-new-privateKey`, key),
		click(`form[data-form=connection]`, "Create connection"),
		until("the connection listed", `!!document.querySelector('tr[data-connection="deploy-host"] [data-has=privateKey][data-stored=set]')`),
		until("its address", textIn(`tr[data-connection="deploy-host"]`, "deploy@10.0.0.5:22")),
		notShown("the key not shown back", keyPart),
		shot.both("41-service-connections"),
		chromedp.Click(chromedp.CSS(`button[aria-label="Edit deploy-host"]`)),
		until("the edit form", `!!document.querySelector('form[data-form=connection] [data-secret=privateKey] [data-stored=set]')`),
		notShown("the key not in the edit form", keyPart),
		setField(`form[data-form=connection] input[id$="-port"]`, "2222"),
		click(`form[data-form=connection]`, "Save"),
		until("the new port", textIn(`tr[data-connection="deploy-host"]`, "deploy@10.0.0.5:2222")),
		until("the key still stored", `!!document.querySelector('tr[data-connection="deploy-host"] [data-has=privateKey][data-stored=set]')`),
		chromedp.Click(chromedp.CSS(`button[aria-label="Delete deploy-host"]`)),
		until("the question", textIn(`[role=group][aria-label="Confirm: Delete deploy-host"]`, "Delete connection")),
		click(`[role=group][aria-label="Confirm: Delete deploy-host"]`, "Yes, delete"),
		until("the connection gone", `!document.querySelector('tr[data-connection="deploy-host"]') && `+textIn(`[data-note]`, "deleted")),
	)

	run(t, ctx, "an outgoing hook",
		chromedp.Navigate(url+"/admin/hooks"),
		until("the page", textIn(`main h1`, "Outgoing hooks")),
		click(`main`, "New hook"),
		setField(`#hook-new-name`, "ops"),
		setField(`#hook-new-url`, "https://hooks.example.com/cairn"),
		setField(`#hook-new-secret`, "short"),
		click(`form[data-form=hook]`, "Create hook"),
		until("the short secret named beside its field", `!!document.querySelector('#hook-new-secret-error')`),
		setField(`#hook-new-secret`, "a-signing-secret-0123456789"),
		click(`form[data-form=hook]`, "Create hook"),
		until("the hook listed", textIn(`tr[data-hook="ops"]`, "secret: set")),
		notShown("the hook secret not shown", "a-signing-secret-0123456789"),
		chromedp.Click(chromedp.CSS(`a[aria-label="Deliveries of ops"]`)),
		until("its delivery log", textIn(`#deliveries-title`, "Deliveries of ops")),
		until("the hook in the URL", `location.search.startsWith('?hook=')`),
		shot.both("42-hooks"),
	)

	run(t, ctx, "a variable group with a secret",
		chromedp.Navigate(url+"/admin/variable-groups"),
		until("the page", textIn(`main h1`, "Variable groups")),
		click(`main`, "New variable group"),
		setField(`#group-new-name`, "shared"),
		click(`form[data-form=variable-group]`, "Add variable"),
		click(`form[data-form=variable-group]`, "Add variable"),
		setField(`form[data-form=variable-group] tbody tr:nth-child(1) input[id$="-name"]`, "REGION"),
		setField(`form[data-form=variable-group] tbody tr:nth-child(1) input[id$="-value"]`, "north"),
		setField(`form[data-form=variable-group] tbody tr:nth-child(2) input[id$="-name"]`, "API_KEY"),
		chromedp.Click(chromedp.CSS(`form[data-form=variable-group] tbody tr:nth-child(2) input[aria-label$="is secret"]`)),
		setField(`form[data-form=variable-group] tbody tr:nth-child(2) input[id$="-value"]`, secretValue),
		click(`form[data-form=variable-group]`, "Create variable group"),
		until("the group", `!!document.querySelector('[data-group="shared"] tr[data-variable="API_KEY"] [data-secret-value]')`),
		until("its plain value", textIn(`[data-group="shared"] tr[data-variable="REGION"]`, "north")),
		notShown("the secret value not shown", secretValue),
		chromedp.Click(chromedp.CSS(`button[aria-label="Edit shared"]`)),
		until("the secret kept, not shown", `!!document.querySelector('form[data-form=variable-group] tr[data-row="API_KEY"] [data-stored=set]')`),
		notShown("the secret value not in the form", secretValue),
		shot.both("44-variable-group-form"),
		setField(`form[data-form=variable-group] tr[data-row="REGION"] input[id$="-value"]`, "south"),
		click(`form[data-form=variable-group]`, "Save"),
		until("revision 2", textIn(`[data-note]`, "revision 2")),
		until("the new value", textIn(`[data-group="shared"] tr[data-variable="REGION"]`, "south")),
	)

	// The edit kept the secret: revision 2 changed REGION only.
	groups := dig(h.ok(h.admin, `{ variableGroups { id name } }`, nil), "variableGroups").([]any)
	revs := dig(h.ok(h.admin, `query($id: ID!) { variableGroupRevisions(id: $id) { revision changes { path after } } }`,
		map[string]any{"id": groups[0].(map[string]any)["id"]}), "variableGroupRevisions").([]any)
	if got := fmt.Sprint(revs[0].(map[string]any)["changes"]); len(revs) != 2 || !strings.Contains(got, "variables[REGION].value") || strings.Contains(got, "API_KEY") {
		t.Fatalf("the edit's changes: %s", got)
	}

	run(t, ctx, "a secure file",
		chromedp.Navigate(url+"/admin/secure-files"),
		until("the page", textIn(`main h1`, "Secure files")),
		until("the upload form", `!!document.querySelector('#sf-file')`),
		script(`(() => { const dt = new DataTransfer(); dt.items.add(new File(['not really a certificate\n'], 'signing.pfx'));
		  const el = document.querySelector('#sf-file'); el.files = dt.files; el.dispatchEvent(new Event('change', {bubbles: true})); return true })()`),
		until("its name proposed", `document.querySelector('#sf-name').value === 'signing.pfx'`),
		// A name of digits is refused, beside the name.
		setField(`#sf-name`, "12345"),
		click(`form[data-form=secure-file]`, "Upload"),
		until("the name refused beside it", textIn(`#sf-name-error`, "would read as an id")),
		setField(`#sf-name`, "signing.pfx"),
		setField(`#sf-description`, "the code-signing certificate"),
		click(`form[data-form=secure-file]`, "Upload"),
		until("the file listed", textIn(`tr[data-file="signing.pfx"]`, "25 B")),
	)

	// The definition links the group and names the file: both say so, and refuse deletion.
	rev := dig(h.ok(h.admin, `query($id: ID!) { definition(id: $id) { revision } }`, map[string]any{"id": def}), "definition", "revision")
	h.ok(h.admin, `mutation($id: ID!, $r: Int!) { updateDefinition(id: $id, expectedRevision: $r, input: {name: "shop", variableGroups: ["shared"], environments: [
	  {name: "dev", trigger: {kind: MANUAL}, job: `+job+`},
	  {name: "prod", trigger: {kind: MANUAL}, job: {skipArtifactDownload: true, secureFiles: ["signing.pfx"], tasks: [{name: "hi", script: "echo hi"}]}}]}) { id } }`,
		map[string]any{"id": def, "r": rev})
	run(t, ctx, "used by the definition",
		chromedp.Reload(),
		until("the file used by prod", textIn(`tr[data-file="signing.pfx"] [data-used-by]`, "shop (prod)")),
		shot.both("43-secure-files"),
		chromedp.Click(chromedp.CSS(`button[aria-label="Delete signing.pfx"]`)),
		click(`[role=group][aria-label="Confirm: Delete signing.pfx"]`, "Yes, delete"),
		until("the refusal names the definition", textIn(`tr[data-file="signing.pfx"] [role=alert]`, "shop")),
		chromedp.Navigate(url+"/admin/variable-groups"),
		until("the group used by shop", textIn(`[data-group="shared"] [data-used-by]`, "shop")),
		shot.both("44-variable-groups"),
		chromedp.Click(chromedp.CSS(`button[aria-label="Delete shared"]`)),
		click(`[role=group][aria-label="Confirm: Delete shared"]`, "Yes, delete"),
		until("the refusal names the definition", textIn(`[data-group="shared"] [role=alert]`, "definition shop")),
	)

	run(t, ctx, "a freeze window",
		chromedp.Navigate(url+"/admin/freeze-windows"),
		until("the page", textIn(`main h1`, "Freeze windows")),
		click(`main`, "New freeze window"),
		setField(`#freeze-name`, "release freeze"),
		setField(`#freeze-reason`, "the quarterly close"),
		until("the definitions offered", `[...document.querySelectorAll('#freeze-def option')].some(o => o.innerText === 'shop')`),
		setField(`#freeze-def`, def),
		until("its environments offered", `[...document.querySelectorAll('#freeze-env option')].some(o => o.value === 'prod')`),
		setField(`#freeze-env`, "prod"),
		setField(`#freeze-mode`, "REFUSE"),
		// Ends before it starts: refused beside the end.
		script(`(() => { const local = (ms) => { const d = new Date(Date.now() + ms); const p = (n) => String(n).padStart(2, '0');
		    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes()); };
		  window.__span = [local(-3600e3), local(3600e3)]; return true })()`),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			span, err := chromedp.Evaluate[[]string](`window.__span`)(ctx, t)
			if err != nil {
				return err
			}
			return chromedp.Do(ctx, setField(`#freeze-starts`, span[1]), setField(`#freeze-ends`, span[0]),
				click(`form[data-form=freeze]`, "Create freeze window"),
				until("the end named beside its field", textIn(`#freeze-ends-error`, "after startsAt")),
				setField(`#freeze-starts`, span[0]), setField(`#freeze-ends`, span[1]))
		}),
		click(`form[data-form=freeze]`, "Create freeze window"),
		until("the window listed", `!!document.querySelector('tr[data-window="release freeze"][data-active="true"]')`),
		until("what it holds", textIn(`tr[data-window="release freeze"]`, "shop · prod")),
		until("until when", textIn(`tr[data-window="release freeze"]`, "Frozen until")),
		shot.both("45-freeze-windows"),
	)
	fw := dig(h.ok(h.admin, `{ freezeWindows { name environment mode active } }`, nil), "freezeWindows").([]any)
	if len(fw) != 1 || fmt.Sprint(fw[0].(map[string]any)["environment"]) != "prod" || fw[0].(map[string]any)["mode"] != "REFUSE" {
		t.Fatalf("freeze windows after the form: %v", fw)
	}
	// Edited: a bad span refused beside its field, then renamed, made a WAIT window of the whole
	// definition (audited freeze.update).
	run(t, ctx, "the freeze window edited",
		chromedp.Click(chromedp.CSS(`button[aria-label="Edit release freeze"]`)),
		until("the edit form, filled in", `document.querySelector('form[data-form=freeze] input[id$="-name"]')?.value === 'release freeze' && document.querySelector('form[data-form=freeze] select[id$="-env"]')?.value === 'prod'`),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			span, err := chromedp.Evaluate[[]string](`window.__span`)(ctx, t)
			if err != nil {
				return err
			}
			return chromedp.Do(ctx, setField(`form[data-form=freeze] input[id$="-ends"]`, span[0]), setField(`form[data-form=freeze] input[id$="-starts"]`, span[1]),
				click(`form[data-form=freeze]`, "Save"),
				until("the end named beside its field", `(document.querySelector('form[data-form=freeze] [id$="-ends-error"]')?.innerText ?? '').includes('after startsAt')`),
				shot.both("45-freeze-window-edit"),
				setField(`form[data-form=freeze] input[id$="-starts"]`, span[0]), setField(`form[data-form=freeze] input[id$="-ends"]`, span[1]))
		}),
		setField(`form[data-form=freeze] input[id$="-name"]`, "quarter close"),
		setField(`form[data-form=freeze] select[id$="-env"]`, ""),
		setField(`form[data-form=freeze] select[id$="-mode"]`, "WAIT"),
		click(`form[data-form=freeze]`, "Save"),
		until("saved", textIn(`[data-note]`, "quarter close saved")),
		until("the window renamed, holding the whole definition", textIn(`tr[data-window="quarter close"]`, "shop (every environment)")+` && `+textIn(`tr[data-window="quarter close"]`, "Wait")),
	)
	fw = dig(h.ok(h.admin, `{ freezeWindows { name environment mode } }`, nil), "freezeWindows").([]any)
	if len(fw) != 1 || fw[0].(map[string]any)["name"] != "quarter close" || fw[0].(map[string]any)["environment"] != "" || fw[0].(map[string]any)["mode"] != "WAIT" {
		t.Fatalf("freeze windows after the edit: %v", fw)
	}
	if n := dig(h.ok(h.admin, `{ auditEvents(where: {action: "freeze.update"}) { totalCount } }`, nil), "auditEvents", "totalCount"); fmt.Sprint(n) != "1" {
		t.Fatalf("%v freeze.update audit events, want 1", n)
	}
	run(t, ctx, "the freeze window deleted",
		chromedp.Click(chromedp.CSS(`button[aria-label="Delete quarter close"]`)),
		click(`[role=group][aria-label="Confirm: Delete quarter close"]`, "Yes, delete"),
		until("the window gone", `!document.querySelector('tr[data-window="quarter close"]')`),
		// The definition change (linking the group and file) went to the hook: its log shows the attempt.
		chromedp.Navigate(url+"/admin/hooks"),
		until("the hook", `!!document.querySelector('a[aria-label="Deliveries of ops"]')`),
		chromedp.Click(chromedp.CSS(`a[aria-label="Deliveries of ops"]`)),
		until("a delivery", `!!document.querySelector('table[data-testid=hook-deliveries] tbody tr[data-status]')`),
		// Once its attempts are spent (here: marked failed), it can be sent again: a new
		// delivery, linked to the first, listed above it.
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			return h.srv.DB().Client.HookDelivery.Update().SetStatus("FAILED").Exec(ctx)
		}),
		chromedp.Reload(),
		until("the redeliver button", `!!document.querySelector('table[data-testid=hook-deliveries] tbody tr[data-status=FAILED] button[aria-label^="Redeliver"]')`),
		script(`document.querySelector('table[data-testid=hook-deliveries] tbody tr[data-status=FAILED] button[aria-label^="Redeliver"]').click() || true`),
		until("sent again", `!!document.querySelector('[data-redelivered]')`),
		until("the redelivery listed, linked to the first", `!!document.querySelector('table[data-testid=hook-deliveries] tbody tr [data-redelivery-of]')`),
		shot.both("42-hook-redelivered"),
		// Disabled (the secret kept), then deleted with its log.
		chromedp.Click(chromedp.CSS(`button[aria-label="Edit ops"]`)),
		until("the hook's form", `!!document.querySelector('form[data-form=hook] [data-secret=secret] [data-stored=set]')`),
		chromedp.Click(chromedp.CSS(`form[data-form=hook] input[id$="-enabled"]`)),
		click(`form[data-form=hook]`, "Save"),
		until("the hook disabled, its secret kept", textIn(`tr[data-hook="ops"]`, "Disabled")+` && `+textIn(`tr[data-hook="ops"]`, "secret: set")),
		chromedp.Click(chromedp.CSS(`button[aria-label="Delete ops"]`)),
		click(`[role=group][aria-label="Confirm: Delete ops"]`, "Yes, delete"),
		until("the hook gone, and its log", `!document.querySelector('tr[data-hook="ops"]') && !document.querySelector('#deliveries-title') && location.search === ''`),
	)

	run(t, ctx, "the task library",
		chromedp.Navigate(url+"/admin/task-library"),
		until("the page", textIn(`main h1`, "Task library")),
		until("a built-in", `!!document.querySelector('tr[data-template^="Bash@3"]')`),
		chromedp.Click(chromedp.CSS(`tr[data-template^="Bash@3"] th a`)),
		until("its inputs", `!!document.querySelector('[data-details^="Bash@3"] tr[data-input]')`),
		shot.both("46-task-library"),
		click(`main .page-head`, "New template"),
		until("the editor", `document.querySelector('#template-doc').value.includes('MyTask')`),
		setField(`#template-doc`, `{"name": "MyTask", "version": "1.0", "inputs": [{"name": "message", "type": "NOPE"}], "shell": "bash", "script": "echo hi"}`),
		click(`form[data-form=template]`, "Add"),
		until("the bad input type beside the document", `!!document.querySelector('#template-doc-error')`),
		setField(`#template-doc`, `{"name": "MyTask", "version": "1.0", "description": "says hi", "inputs": [{"name": "message", "type": "STRING", "required": true}], "shell": "bash", "script": "echo \"$INPUT_MESSAGE\""}`),
		click(`form[data-form=template]`, "Add"),
		until("the template listed", textIn(`tr[data-template="MyTask@1.0"]`, "custom")),
		chromedp.Click(chromedp.CSS(`button[aria-label="Delete MyTask@1.0"]`)),
		click(`[role=group][aria-label="Confirm: Delete MyTask@1.0"]`, "Yes, delete"),
		until("the template gone", `!document.querySelector('tr[data-template="MyTask@1.0"]')`),
	)

	run(t, ctx, "an import",
		chromedp.Navigate(url+"/admin/import"),
		until("the page", textIn(`main h1`, "Import from Azure DevOps")),
		click(`form[data-form=import]`, "Dry run"),
		until("nothing to import named beside the field", `!!document.querySelector('#import-paste-error')`),
		setField(`#import-paste`, importDoc),
		click(`form[data-form=import]`, "Dry run"),
		until("the report", `!!document.querySelector('[data-report=dry-run] [data-imported="Imported shop"][data-valid=true]')`),
		until("findings by source path", `[...document.querySelectorAll('[data-imported="Imported shop"] tr[data-finding]')].some(r => r.dataset.path.startsWith('environments[0]'))`),
		shot.both("47-import"),
		click(`form[data-form=import]`, "Import the definition"),
		until("imported", `!!document.querySelector('[data-report=import][data-applied=true] [data-imported="Imported shop"] a[href^="/definitions/"]')`),
	)
	defs := dig(h.ok(h.admin, `{ definitions(where: {name: "Imported shop"}) { totalCount } }`, nil), "definitions", "totalCount")
	if fmt.Sprint(defs) != "1" {
		t.Fatalf("%v imported definitions, want 1", defs)
	}

	// A viewer: the read-only pages, without their actions; the admin pages are not offered.
	run(t, ctx, "a viewer",
		chromedp.Click(chromedp.Search(`//button[text()="Sign out"]`)),
		signedOut, // before navigating: a navigation would abort the sign-out request
		signIn(url, "vera", password),
		chromedp.Click(chromedp.Search(`//nav//a[text()="Library"]`)),
		until("the sections a viewer may read", `[...document.querySelectorAll('[data-section]')].map(s => s.dataset.section).join() === '/admin/freeze-windows,/admin/task-library,/admin/variable-groups,/admin/secure-files'`),
		shot.both("48-library-viewer"),
		chromedp.Navigate(url+"/admin/variable-groups"),
		until("the group", `!!document.querySelector('[data-group="shared"] tr[data-variable="API_KEY"]')`),
		until("no actions", `!document.querySelector('button[aria-label="Edit shared"]') && ![...document.querySelectorAll('main button')].some(b => b.innerText === 'New variable group')`),
		notShown("the secret value not shown", secretValue),
		chromedp.Navigate(url+"/admin/secure-files"),
		until("the file", `!!document.querySelector('tr[data-file="signing.pfx"]')`),
		until("no upload", `!document.querySelector('form[data-form=secure-file]') && !document.querySelector('button[aria-label="Delete signing.pfx"]')`),
		chromedp.Navigate(url+"/admin/freeze-windows"),
		until("the page", textIn(`main h1`, "Freeze windows")),
		until("no new window", `![...document.querySelectorAll('main button')].some(b => b.innerText === 'New freeze window')`),
		chromedp.Navigate(url+"/admin/service-connections"),
		until("connections not found", textIn(`main h1`, "Not found")),
		chromedp.Navigate(url+"/admin/hooks"),
		until("hooks not found", textIn(`main h1`, "Not found")),
		chromedp.Navigate(url+"/admin/import"),
		until("import not found", textIn(`main h1`, "Not found")),
	)
}
