package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/server"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestBotApprovesOnBehalfOfChatUser runs the bot in-process against a real
// server: it announces a pending production approval in a Slack-compatible
// webhook, and a chat user's slash command approves it on behalf of the
// user mapped to that chat identity; the audit names the bot and the
// person. A bot token without act-as gets FORBIDDEN.
func TestBotApprovesOnBehalfOfChatUser(t *testing.T) {
	for _, d := range storagetest.Dialects() {
		t.Run(d, func(t *testing.T) {
			if d == "postgres" && os.Getenv(storagetest.EnvPostgres) == "" {
				t.Skipf("PostgreSQL case skipped: set %s", storagetest.EnvPostgres)
			}
			testBot(t, d)
		})
	}
}

func testBot(t *testing.T, dialect string) {
	ctx := context.Background()
	cfg := server.Config{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)}
	if dialect == "postgres" {
		cfg.DatabaseURL = storagetest.Open(t, "postgres").URL
	}
	s, err := server.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	hs := httptest.NewServer(s.Handler())
	defer func() { hs.Close(); s.Close() }()

	e, sys := s.Engine, delivery.SystemActor("test")
	mkUser := func(name string, role delivery.Role, ids ...string) *ent.User {
		u, err := e.CreateUser(ctx, sys, delivery.UserInput{Username: name, Role: role, ExternalIdentities: ids})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	token := func(u *ent.User, scopes []string) string {
		row, err := e.CreateAPIToken(ctx, sys, "bot", u.ID, time.Hour, scopes)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.Keys.IssueAPIToken(u.Username, row.Jti, row.ExpiresAt, scopes)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	mkUser("pam", delivery.RoleViewer, "slack:U123")
	eddie := mkUser("eddie", delivery.RoleEditor)
	botUser := mkUser("chatbot", delivery.RoleViewer)
	botToken := token(botUser, []string{delivery.ScopeActAs})
	plainToken := token(botUser, nil)
	editor := delivery.Actor{UserID: eddie.ID, Username: "eddie", Role: delivery.RoleEditor}
	def, err := e.CreateDefinition(ctx, editor, spec.DefinitionSnapshot{Name: "shop", Environments: []spec.EnvironmentSpec{{
		Name: "prod", Trigger: spec.Trigger{Kind: spec.TriggerAfterRelease},
		PreApproval: spec.ApprovalPolicy{Approvers: []spec.Approver{{Kind: spec.ApproverUser, Name: "pam"}}},
		Job: spec.JobSpec{Tasks: []spec.Task{
			{Name: "verify", Kind: spec.TaskManualIntervention, Instructions: "Check $(Release.ReleaseName)",
				Approvers: []spec.Approver{{Kind: spec.ApproverUser, Name: "pam"}}},
			{Name: "deploy", Script: "true"}}},
	}}}, "")
	if err != nil {
		t.Fatal(err)
	}

	chat := make(chan string, 100)
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct{ Text string }
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("slack body: %v", err)
		}
		chat <- m.Text
	}))
	defer slack.Close()
	addr := make(chan string, 1)
	botCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- run(botCtx, config{
			Server: hs.URL, Token: botToken, SlackURL: slack.URL, Listen: "127.0.0.1:0", Provider: "slack",
			After: 0, Log: io.Discard, onListen: func(a string) { addr <- a },
		})
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	endpoint := "http://" + <-addr
	say := func(user, text string) string {
		t.Helper()
		resp, err := http.PostForm(endpoint, url.Values{"user": {user}, "text": {text}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b))
	}
	// waitChat returns the first message matching re, among those not yet
	// matched: the approval and release streams are two subscriptions, so
	// their messages may arrive in either order.
	var unmatched []string
	waitChat := func(re *regexp.Regexp) []string {
		t.Helper()
		for i, msg := range unmatched {
			if m := re.FindStringSubmatch(msg); m != nil {
				unmatched = append(unmatched[:i], unmatched[i+1:]...)
				return m
			}
		}
		timeout := time.After(30 * time.Second) // generous: CI runs it with -race beside other packages
		for {
			select {
			case msg := <-chat:
				if m := re.FindStringSubmatch(msg); m != nil {
					return m
				}
				unmatched = append(unmatched, msg)
			case <-timeout:
				t.Fatalf("no chat message matching %s", re)
			}
		}
	}

	if _, err := e.CreateRelease(ctx, editor, delivery.CreateReleaseInput{DefinitionID: def.ID}); err != nil {
		t.Fatal(err)
	}
	m := waitChat(regexp.MustCompile(`^Approval (\d+) pending: shop / Release-1 → prod \(pre-deployment\), approvers: pam\..*approve \d+`))
	id := m[1]
	var approvalID int
	fmt.Sscan(id, &approvalID)

	// Without act-as the bot may not speak for pam.
	plain := &bot{cfg: config{Server: hs.URL, Token: plainToken, Provider: "slack"}, http: http.DefaultClient}
	if reply := plain.command(ctx, "U123", "approve "+id); !strings.Contains(reply, "FORBIDDEN") {
		t.Fatalf("bot without act-as: %q", reply)
	}
	if reply := say("U999", "approve "+id); !strings.Contains(reply, "NOT_FOUND") {
		t.Fatalf("unmapped chat user: %q", reply)
	}
	if reply := say("U123", "help"); !strings.Contains(reply, "approve <approval id>") {
		t.Fatalf("help: %q", reply)
	}
	if a := e.Client().Approval.GetX(ctx, approvalID); a.Status != approval.StatusPENDING {
		t.Fatalf("approval is %s before pam's command", a.Status)
	}

	if reply := say("U123", "approve "+id+" ship it"); reply != "Approval "+id+" is now APPROVED." {
		t.Fatalf("approve: %q", reply)
	}
	waitChat(regexp.MustCompile(`^Approval ` + id + ` approved by pam \(via chatbot\): shop / Release-1 → prod\.`))
	a := e.Client().Approval.GetX(ctx, approvalID)
	if a.DecidedBy == nil || *a.DecidedBy != "pam" || a.DecidedVia == nil || *a.DecidedVia != "chatbot" || a.Comment != "ship it" {
		t.Fatalf("approval decided by %v via %v (%q)", a.DecidedBy, a.DecidedVia, a.Comment)
	}
	ev, err := e.Client().AuditEvent.Query().
		Where(auditevent.Action("approval.approve"), auditevent.TargetID(id)).Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Actor != "chatbot" || ev.OnBehalfOf != "pam" {
		t.Fatalf("audit: actor %q on behalf of %q", ev.Actor, ev.OnBehalfOf)
	}

	// The approved deployment waits at its manual intervention first; pam
	// resumes it from the chat, someone else may not.
	m = waitChat(regexp.MustCompile(`^Manual intervention (\d+) \(verify\) waits: shop / Release-1 → prod\. Check Release-1\. For: user pam\..*resume \d+`))
	mi := m[1]
	if reply := say("U999", "resume "+mi); !strings.Contains(reply, "NOT_FOUND") {
		t.Fatalf("unmapped chat user resuming: %q", reply)
	}
	if reply := say("U123", "resume "+mi+" looks good"); reply != "Manual intervention "+mi+" is now RESUMED." {
		t.Fatalf("resume: %q", reply)
	}
	waitChat(regexp.MustCompile(`^Manual intervention ` + mi + ` \(verify\) resumed by pam \(via chatbot\): shop / Release-1 → prod\. looks good`))
	if reply := say("U123", "stop "+mi); !strings.Contains(reply, "CONFLICT") {
		t.Fatalf("stop after resume: %q", reply)
	}
	if reply := say("U123", "status shop"); !strings.Contains(reply, "prod") {
		t.Fatalf("status: %q", reply)
	}
}
