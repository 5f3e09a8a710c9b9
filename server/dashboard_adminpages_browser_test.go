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

// confirm presses a destructive action's button (its aria-label) and then its confirmation.
func confirm(label string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		return chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-label=%q]`, label))),
			chromedp.Click(chromedp.Search(fmt.Sprintf(`//*[@aria-label=%q]//button[starts-with(text(), "Yes")]`, "Confirm: "+label))))
	})
}

// pageText returns the text of the element sel (empty when there is none).
func pageText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q)?.innerText ?? ''`, sel)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDashboardAdministrationInBrowser: an admin goes through every Administration page and
// action: agents (filters, capabilities, disable/enable, move, a registration token that
// registers an agent seen live, revoke, delete), pools and deployment groups (create, edit,
// permissions, target tags, target registration, delete), users (paging, create, role, password,
// disable/enable, another admin's new user shown live), groups (create, members, rename, delete,
// one created elsewhere shown live) and API tokens (own with a scope,
// another user's, revoke). Server errors appear beside their field; destructive actions ask
// first. A viewer is offered none of it, and its URLs are not found for them. Each page is shot
// at 1280 and 390 px and checked with axe-core.
func TestDashboardAdministrationInBrowser(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the browser is Debian's; agents run POSIX shells")
	}
	ctx, h := browserServer(t)
	e := h.srv.Engine
	bg := context.Background()
	sys := delivery.SystemActor("test")
	const password = "correct horse battery"
	personWithPassword(t, h, "admin", delivery.RoleAdmin, password)
	personWithPassword(t, h, "vic", delivery.RoleViewer, password)
	// More users than a page holds.
	for i := range 26 {
		if _, err := e.CreateUser(bg, sys, delivery.UserInput{Username: fmt.Sprintf("user-%02d", i), Role: delivery.RoleViewer}); err != nil {
			t.Fatal(err)
		}
	}
	h.startAgent(t, "build-1", map[string]string{"docker": "yes"})
	h.ok(h.admin, `mutation { saveDeploymentGroup(input: {name: "web"}) { id } }`, nil)

	shot := newShots(t)
	url := h.http.URL
	run(t, ctx, "the Administration index",
		signIn(url, "admin", password),
		until("Administration in the navigation", `[...document.querySelectorAll('nav[aria-label=Main] a')].some(a => a.innerText === 'Administration')`),
		chromedp.Click(chromedp.Search(`//nav[@aria-label="Main"]//a[text()="Administration"]`)),
		until("the index", textIn(`main h1`, "Administration")),
		until("every section", `['Agents', 'Agent pools', 'Deployment groups', 'Users', 'Groups', 'API tokens'].every(l => [...document.querySelectorAll('main a')].some(a => a.innerText === l))`),
		shot.both("40-admin"),
	)

	// Agents: filters in the URL, capabilities, disable and enable, a registration token (a
	// bad count refused beside its field) that registers an agent seen live, revoked, deleted.
	run(t, ctx, "agents",
		chromedp.Click(chromedp.Search(`//main//a[text()="Agents"]`)),
		until("the agents", textIn(`tr[data-agent="build-1"]`, "Online")),
		until("the sub-navigation", `document.querySelector('nav[aria-label=Administration] a[aria-current=page]')?.innerText === 'Agents'`),
		chromedp.Click(chromedp.CSS(`tr[data-agent="build-1"] summary`)),
		until("its capabilities", textIn(`tr[data-agent="build-1"] .caps`, "docker")),
		shot.both("41-admin-agents"),
		chromedp.Click(chromedp.CSS(`button[aria-label="Disable build-1"]`)),
		until("disabled", textIn(`tr[data-agent="build-1"]`, "Disabled")),
		chromedp.Navigate(url+"/admin/agents?state=disabled"),
		until("the filter kept", `document.querySelector('#agents-state')?.value === 'disabled' && !!document.querySelector('tr[data-agent="build-1"]')`),
		chromedp.Navigate(url+"/admin/agents?state=online"),
		until("no online agent", textIn(`main`, "No agents match.")),
		chromedp.Navigate(url+"/admin/agents"),
		chromedp.Click(chromedp.CSS(`button[aria-label="Enable build-1"]`)),
		until("enabled again", textIn(`tr[data-agent="build-1"]`, "Online")),
		typeInto("#move-"+agentID(t, h, "build-1"), "linux"),
		chromedp.Click(chromedp.Search(`//tr[@data-agent="build-1"]//button[text()="Move"]`)),
		until("moved", `document.querySelector('tr[data-agent="build-1"] td:nth-child(3)')?.innerText === 'linux'`),
		typeInto("#reg-pool", "linux"),
		typeInto("#reg-uses", "0"),
		chromedp.Click(chromedp.Search(`//button[text()="Create registration token"]`)),
		until("the error beside the count", `!!document.querySelector('#reg-uses-error') && document.querySelector('#reg-uses').getAttribute('aria-invalid') === 'true'`),
		typeInto("#reg-uses", "2"),
		chromedp.Click(chromedp.Search(`//button[text()="Create registration token"]`)),
		until("the token shown once", textIn(`[data-shown-once]`, "linux")),
		until("listed", `!!document.querySelector('table[data-testid=registrations-pool] tr[data-state=Active]')`),
	)
	token := strings.TrimSpace(pageText(t, ctx, `[data-shown-once] code.token`))
	if !strings.HasPrefix(token, "cairnreg_") {
		t.Fatalf("the token shown: %q", token)
	}
	if _, _, err := e.RegisterAgent(bg, token, delivery.RegisterAgentInput{Name: "build-2", Version: "1"}); err != nil {
		t.Fatalf("registering with the token from the page: %v", err)
	}
	run(t, ctx, "the new agent, revoke and delete",
		until("the new agent, live", textIn(`tr[data-agent="build-2"]`, "linux")),
		until("one use counted", textIn(`table[data-testid=registrations-pool] tr[data-state=Active]`, "1 of 2")),
		chromedp.Click(chromedp.Search(`//button[text()="Done"]`)),
		until("the token hidden", `!document.querySelector('[data-shown-once]')`),
		confirm("Revoke registration token "+pageText(t, ctx, `table[data-testid=registrations-pool] tr[data-state=Active] td`)),
		until("revoked", `!!document.querySelector('table[data-testid=registrations-pool] tr[data-state=Revoked]')`),
		// Cancel first: nothing happens.
		chromedp.Click(chromedp.CSS(`button[aria-label="Delete build-2"]`)),
		chromedp.Click(chromedp.Search(`//*[@aria-label="Confirm: Delete build-2"]//button[text()="Cancel"]`)),
		until("still there", `!!document.querySelector('tr[data-agent="build-2"]') && !!document.querySelector('button[aria-label="Delete build-2"]')`),
		confirm("Delete build-2"),
		until("deleted", `!document.querySelector('tr[data-agent="build-2"]')`),
	)
	if _, _, err := e.RegisterAgent(bg, token, delivery.RegisterAgentInput{Name: "build-3"}); delivery.CodeOf(err) != delivery.CodeUnauthenticated {
		t.Fatalf("the revoked token registers an agent: %v", err)
	}

	// Pools: an unknown principal is refused beside the field; the pool is created and edited.
	run(t, ctx, "pools",
		chromedp.Click(chromedp.Search(`//nav[@aria-label="Administration"]//a[text()="Agent pools"]`)),
		until("the pools", textIn(`tr[data-pool="linux"]`, "build-1")),
		typeInto("#new-pool-name", "gpu"),
		typeInto("#new-pool-mayuse", "user:nobody"),
		chromedp.Click(chromedp.Search(`//button[text()="Create pool"]`)),
		until("the error beside may use", `!!document.querySelector('#new-pool-mayuse-error')`),
		typeInto("#new-pool-mayuse", "user:vic"),
		chromedp.Click(chromedp.Search(`//button[text()="Create pool"]`)),
		until("the pool", textIn(`tr[data-pool="gpu"]`, "user:vic")),
		chromedp.Click(chromedp.CSS(`button[aria-label="Edit linux"]`)),
		typeInto(`tr[data-pool="linux"] input[name=description]`, "the Linux builders"),
		chromedp.Click(chromedp.Search(`//tr[@data-pool="linux"]//button[text()="Save"]`)),
		until("edited", textIn(`tr[data-pool="linux"]`, "the Linux builders")),
		shot.both("42-admin-pools"),
	)

	// Deployment groups: a target registered with the page's token, its tags (a bad one
	// refused beside the field), a group created and deleted, one with targets refused.
	run(t, ctx, "deployment groups",
		chromedp.Click(chromedp.Search(`//nav[@aria-label="Administration"]//a[text()="Deployment groups"]`)),
		until("the group", textIn(`section[data-group="web"]`, "No targets")),
		chromedp.Click(chromedp.Search(`//section[@data-group="web"]//button[text()="Create registration token"]`)),
		until("the token shown once", textIn(`section[data-group="web"] [data-shown-once]`, "web")),
	)
	token = strings.TrimSpace(pageText(t, ctx, `section[data-group="web"] [data-shown-once] code.token`))
	if _, _, err := e.RegisterAgent(bg, token, delivery.RegisterAgentInput{Name: "web-1", Tags: []string{"eu"}}); err != nil {
		t.Fatalf("registering a target with the token from the page (%q): %v; registrations %v", token, err,
			h.ok(h.admin, `{ agentRegistrations { id pool deploymentGroup uses maxUses expiresAt revokedAt } }`, nil))
	}
	run(t, ctx, "targets",
		until("the target, live", textIn(`tr[data-target="web-1"]`, "Offline")),
		until("its tags", `document.querySelector('tr[data-target="web-1"] input')?.value === 'eu'`),
		typeInto(`tr[data-target="web-1"] input`, "eu, blue green"),
		chromedp.Click(chromedp.CSS(`button[aria-label="Save tags of web-1"]`)),
		until("the error beside the tags", `!!document.querySelector('tr[data-target="web-1"] [data-field-error=tags]')`),
		typeInto(`tr[data-target="web-1"] input`, "eu, blue"),
		chromedp.Click(chromedp.CSS(`button[aria-label="Save tags of web-1"]`)),
		until("saved", `!document.querySelector('tr[data-target="web-1"] [data-field-error]')`),
		confirm("Delete web"),
		until("refused: it has targets", `!!document.querySelector('section[data-group="web"] .error')`),
		typeInto("#new-group-name", "staging"),
		typeInto("#new-group-description", "the staging machines"),
		chromedp.Click(chromedp.Search(`//button[text()="Create deployment group"]`)),
		until("created", textIn(`section[data-group="staging"]`, "the staging machines")),
		shot.both("43-admin-deployment-groups"),
		confirm("Delete staging"),
		until("deleted", `!document.querySelector('section[data-group="staging"]')`),
	)
	if tags := dig(h.ok(h.admin, `{ deploymentGroups { targets { tags } } }`, nil), "deploymentGroups"); fmt.Sprint(tags) != "[map[targets:[map[tags:[blue eu]]]]]" {
		t.Fatalf("targets after the page: %v", tags)
	}

	// Users: paging, create (a bad name refused beside it), role, password, disable, enable.
	run(t, ctx, "users",
		chromedp.Click(chromedp.Search(`//nav[@aria-label="Administration"]//a[text()="Users"]`)),
		until("the first page", textIn(`.pager`, "25 shown of 28")),
		chromedp.Click(chromedp.Search(`//nav[@aria-label="Users pages"]//a[contains(., "Next")]`)),
		until("the next page", textIn(`.pager`, "3 shown of 28")),
		chromedp.Navigate(url+"/admin/users?role=ADMIN"),
		until("the admins", textIn(`.pager`, "1 shown of 1")),
		chromedp.Navigate(url+"/admin/users?name=vic"),
		until("vic", `!!document.querySelector('tr[data-user="vic"]')`),
		typeInto("#user-username", "Bad Name"),
		chromedp.Click(chromedp.Search(`//button[text()="Create user"]`)),
		until("the error beside the username", textIn(`#user-username-error`, "not a valid username")),
		typeInto("#user-username", "newbie"),
		typeInto("#user-email", "newbie@example.com"),
		chromedp.Click(chromedp.Search(`//button[text()="Create user"]`)),
		until("created", textIn(`[data-form=new-user] [role=status]`, "newbie")),
		chromedp.Navigate(url+"/admin/users?name=newbie"),
		until("the new user", textIn(`tr[data-user="newbie"]`, "newbie@example.com")),
		chromedp.SetValue(chromedp.CSS(`tr[data-user="newbie"] select`), "EDITOR"),
		chromedp.Click(chromedp.CSS(`button[aria-label="Change the role of newbie"]`)),
		until("the role changed", `!document.querySelector('button[aria-label="Change the role of newbie"]')`),
		chromedp.Click(chromedp.CSS(`button[aria-label="Set the password of newbie"]`)),
		typeInto(`tr[data-user="newbie"] input[type=password]`, "short"),
		chromedp.Click(chromedp.Search(`//tr[@data-user="newbie"]//button[text()="Save"]`)),
		until("the error beside the password", textIn(`tr[data-user="newbie"] [data-field-error=password]`, "12")),
		typeInto(`tr[data-user="newbie"] input[type=password]`, "a long enough password"),
		chromedp.Click(chromedp.Search(`//tr[@data-user="newbie"]//button[text()="Save"]`)),
		until("the password set", `!!document.querySelector('button[aria-label="Reset the password of newbie"]')`),
		shot.both("44-admin-users"),
		confirm("Disable newbie"),
		until("disabled", textIn(`tr[data-user="newbie"]`, "Disabled")),
		chromedp.Click(chromedp.CSS(`button[aria-label="Enable newbie"]`)),
		until("enabled", textIn(`tr[data-user="newbie"]`, "Active")),
		// Another admin's change shows without a reload.
		chromedp.Navigate(url+"/admin/users?name=live-"),
		until("no such user yet", textIn(`main`, "No users match.")),
		appearsLive("a user created elsewhere", `tr[data-user^="live-"]`, func(ctx context.Context, i int) error {
			_, err := e.CreateUser(ctx, sys, delivery.UserInput{Username: fmt.Sprintf("live-%d", i), Role: delivery.RoleViewer})
			return err
		}),
	)
	u := dig(h.ok(h.admin, `{ users(where: {username: "newbie"}) { edges { node { role disabled hasPassword email } } } }`, nil), "users", "edges")
	if fmt.Sprint(u) != "[map[node:map[disabled:false email:newbie@example.com hasPassword:true role:EDITOR]]]" {
		t.Fatalf("newbie after the page: %v", u)
	}

	// Groups: create (a bad name refused beside it), add and remove a member, rename, delete.
	run(t, ctx, "groups",
		chromedp.Click(chromedp.Search(`//nav[@aria-label="Administration"]//a[text()="Groups"]`)),
		until("no groups", textIn(`main`, "No groups match.")),
		typeInto("#new-group-name", "Ops Team"),
		chromedp.Click(chromedp.Search(`//button[text()="Create group"]`)),
		until("the error beside the name", `!!document.querySelector('#new-group-name-error')`),
		typeInto("#new-group-name", "ops"),
		typeInto("#new-group-description", "operations"),
		chromedp.Click(chromedp.Search(`//button[text()="Create group"]`)),
		until("the group", textIn(`section[data-group="ops"]`, "No members.")),
		chromedp.SetValue(chromedp.CSS(`section[data-group="ops"] select`), userID(t, h, "newbie")),
		chromedp.Click(chromedp.Search(`//section[@data-group="ops"]//button[text()="Add"]`)),
		until("the member", `!!document.querySelector('section[data-group="ops"] li[data-member="newbie"]')`),
		chromedp.SetValue(chromedp.CSS(`section[data-group="ops"] select`), userID(t, h, "vic")),
		chromedp.Click(chromedp.Search(`//section[@data-group="ops"]//button[text()="Add"]`)),
		until("two members", `document.querySelectorAll('section[data-group="ops"] li[data-member]').length === 2`),
		shot.both("45-admin-groups"),
		confirm("Remove newbie from ops"),
		until("removed", `!document.querySelector('section[data-group="ops"] li[data-member="newbie"]') && !!document.querySelector('section[data-group="ops"] li[data-member="vic"]')`),
		chromedp.Click(chromedp.CSS(`button[aria-label="Edit ops"]`)),
		typeInto(`section[data-group="ops"] input[name=name]`, "operations"),
		chromedp.Click(chromedp.Search(`//section[@data-group="ops"]//button[text()="Save"]`)),
		until("renamed", `!!document.querySelector('section[data-group="operations"]')`),
		confirm("Delete operations"),
		until("deleted", textIn(`main`, "No groups match.")),
		appearsLive("a group created elsewhere", `section[data-group^="live-"]`, func(ctx context.Context, i int) error {
			_, err := e.CreateGroup(ctx, sys, delivery.GroupInput{Name: fmt.Sprintf("live-%d", i)})
			return err
		}),
	)

	// API tokens: own with the act-as scope (an unknown scope refused beside the field), vic's
	// created and revoked.
	run(t, ctx, "tokens",
		chromedp.Click(chromedp.Search(`//nav[@aria-label="Administration"]//a[text()="API tokens"]`)),
		until("the page", textIn(`main`, "Your tokens")),
		typeInto("#own-token-name", "chat bot"),
		typeInto("#own-token-scopes", "act-as, nope"),
		chromedp.Click(chromedp.Search(`//button[text()="Create token"]`)),
		until("the error beside the scopes", textIn(`#own-token-scopes-error`, "nope")),
		typeInto("#own-token-scopes", "act-as"),
		typeInto("#own-token-days", "30"),
		chromedp.Click(chromedp.Search(`//button[text()="Create token"]`)),
		until("the token shown once", textIn(`[data-shown-once]`, "chat bot")),
		until("listed with its scope", textIn(`table[data-testid=tokens-own] tr[data-token="chat bot"]`, "act-as")),
		chromedp.SetValue(chromedp.CSS(`#tokens-user`), userID(t, h, "vic")),
		until("the user in the URL", `location.search === '?user=`+userID(t, h, "vic")+`'`),
		until("vic has none", textIn(`section[aria-labelledby=user-tokens]`, "No API tokens.")),
		typeInto("#user-"+userID(t, h, "vic")+"-token-name", "vic's laptop"),
		chromedp.Click(chromedp.Search(`//button[text()="Create token for vic"]`)),
		until("vic's token", textIn(`tr[data-token="vic's laptop"]`, "Active")),
		shot.both("46-admin-tokens"),
		confirm("Revoke vic's laptop"),
		until("revoked", textIn(`tr[data-token="vic's laptop"]`, "Revoked")),
	)

	// A viewer is offered no Administration, and its pages are not found for them.
	run(t, ctx, "a viewer",
		chromedp.Click(chromedp.Search(`//button[text()="Sign out"]`)),
		signedOut, // before navigating: a navigation would abort the sign-out request
		signIn(url, "vic", password),
		until("the navigation", `[...document.querySelectorAll('nav[aria-label=Main] a')].some(a => a.innerText === 'Releases')`),
		chromedp.Navigate(url+"/admin/users"),
		until("not found", textIn(`main h1`, "Not found")),
		until("no Administration link", `![...document.querySelectorAll('nav a')].some(a => a.innerText === 'Administration')`),
		chromedp.Navigate(url+"/admin"),
		until("not found", textIn(`main h1`, "Not found")),
	)
}

// agentID and userID return the id of the agent or user named.
func agentID(t *testing.T, h *harness, name string) string {
	t.Helper()
	d := h.ok(h.admin, `query($n: String!) { agents(where: {name: $n}) { edges { node { id } } } }`, map[string]any{"n": name})
	return fmt.Sprint(dig(d, "agents", "edges").([]any)[0].(map[string]any)["node"].(map[string]any)["id"])
}

func userID(t *testing.T, h *harness, name string) string {
	t.Helper()
	d := h.ok(h.admin, `query($n: String!) { users(where: {username: $n}) { edges { node { id } } } }`, map[string]any{"n": name})
	return fmt.Sprint(dig(d, "users", "edges").([]any)[0].(map[string]any)["node"].(map[string]any)["id"])
}

// TestAgentRegistrationsAPI: agentRegistrations and revokeAgentRegistration over GraphQL are
// for ADMINs; an id that is no id, or no registration's, is refused with nothing written.
func TestAgentRegistrationsAPI(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		viewer := h.tokenFor("vera", delivery.RoleViewer)
		created := h.ok(h.admin, `mutation { createAgentRegistration(pool: "linux", maxUses: 2) { registration { id } } }`, nil)
		id := dig(created, "createAgentRegistration", "registration", "id")
		audits := h.auditCount()
		for _, tt := range []struct {
			name, token, query, code string
			vars                     map[string]any
		}{
			{"a viewer lists", viewer, `{ agentRegistrations { id } }`, "FORBIDDEN", nil},
			{"a viewer revokes", viewer, `mutation($id: ID!) { revokeAgentRegistration(id: $id) { id } }`, "FORBIDDEN", map[string]any{"id": id}},
			{"no id", h.admin, `mutation { revokeAgentRegistration(id: "1 OR 1=1") { id } }`, "INVALID_INPUT", nil},
			{"another kind's id", h.admin, `mutation($id: ID!) { revokeAgentRegistration(id: $id) { id } }`, "NOT_FOUND", map[string]any{"id": userID(t, h, "vera")}},
			{"unknown", h.admin, `mutation { revokeAgentRegistration(id: "987654321") { id } }`, "NOT_FOUND", nil},
		} {
			if r := h.do(tt.token, tt.query, tt.vars); r.code() != tt.code {
				t.Errorf("%s: %s, want %s", tt.name, r.Raw, tt.code)
			}
		}
		if n := h.auditCount(); n != audits {
			t.Fatalf("%d audit events after refused requests, want %d", n, audits)
		}
		list := h.ok(h.admin, `{ agentRegistrations { id pool maxUses uses revokedAt } }`, nil)
		if fmt.Sprint(list) != fmt.Sprintf("map[agentRegistrations:[map[id:%v maxUses:2 pool:linux revokedAt:<nil> uses:0]]]", id) {
			t.Fatalf("registrations: %v", list)
		}
		r := h.ok(h.admin, `mutation($id: ID!) { revokeAgentRegistration(id: $id) { revokedAt } }`, map[string]any{"id": id})
		if dig(r, "revokeAgentRegistration", "revokedAt") == nil {
			t.Fatalf("revoked: %v", r)
		}
		if n := h.auditCount(); n != audits+1 {
			t.Fatalf("%d audit events after the revocation, want %d", n, audits+1)
		}
	})
}

// TestIdentityMutationsAnswerEdges: the users and groups the identity mutations return can be
// read further (their groups, members) after the mutation's transaction has ended, as the
// dashboard's group page reads them.
func TestIdentityMutationsAnswerEdges(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		u := h.ok(h.admin, `mutation { createUser(input: {username: "gina"}) { id groups { name } } }`, nil)
		uid := dig(u, "createUser", "id")
		g := h.ok(h.admin, `mutation { createGroup(input: {name: "ops"}) { id members { username } } }`, nil)
		gid := dig(g, "createGroup", "id")
		vars := map[string]any{"g": gid, "u": uid}
		if r := h.ok(h.admin, `mutation($g: ID!, $u: ID!) { addGroupMember(groupId: $g, userId: $u) { members { username } } }`, vars); fmt.Sprint(r) != "map[addGroupMember:map[members:[map[username:gina]]]]" {
			t.Fatalf("addGroupMember: %v", r)
		}
		if r := h.ok(h.admin, `mutation($u: ID!) { updateUser(id: $u, input: {role: EDITOR}) { role groups { name } } }`, vars); fmt.Sprint(r) != "map[updateUser:map[groups:[map[name:ops]] role:EDITOR]]" {
			t.Fatalf("updateUser: %v", r)
		}
		if r := h.ok(h.admin, `mutation($g: ID!) { updateGroup(id: $g, input: {name: "operations"}) { name members { username } } }`, vars); fmt.Sprint(r) != "map[updateGroup:map[members:[map[username:gina]] name:operations]]" {
			t.Fatalf("updateGroup: %v", r)
		}
		if r := h.ok(h.admin, `mutation($g: ID!, $u: ID!) { removeGroupMember(groupId: $g, userId: $u) { members { username } } }`, vars); fmt.Sprint(r) != "map[removeGroupMember:map[members:[]]]" {
			t.Fatalf("removeGroupMember: %v", r)
		}
	})
}
