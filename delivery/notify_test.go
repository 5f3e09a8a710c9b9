package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/notification"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/mail"
	"github.com/cairnhq/cairn/mail/mailtest"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

var notifyEpoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

const testBaseURL = "https://cairn.example.com/"

// notifyFixture is a fresh database with an engine on a manual clock, a real
// SMTP server and a mailer pointed at it.
type notifyFixture struct {
	db     *storage.DB
	client *ent.Client
	clk    *timerClock
	e      *delivery.Engine
	smtp   *mailtest.Server
	mailer *mail.SMTP
}

func newNotifyFixture(t *testing.T, db *storage.DB) *notifyFixture {
	t.Helper()
	clk := newTimerClock(notifyEpoch)
	srv := mailtest.Start(t, mailtest.Options{})
	return &notifyFixture{
		db:     db,
		client: db.Client,
		clk:    clk,
		e: delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: clk, BaseURL: testBaseURL,
			Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}),
		smtp:   srv,
		mailer: &mail.SMTP{Addr: srv.Addr, From: "Cairn <cairn@example.com>", TLS: mail.TLSNone, HelloName: "cairn.test", Timeout: 10 * time.Second},
	}
}

// testWriter sends log output to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// timerClock is a ManualClock with timers on its own time line: After's
// channel fires when Advance or Set reach its deadline. Every After call is
// also reported on reqs, so a test sees what the notification loop waits for.
type timerClock struct {
	*delivery.ManualClock
	reqs chan time.Duration

	mu      sync.Mutex
	pending []fakeTimer
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func newTimerClock(t time.Time) *timerClock {
	return &timerClock{ManualClock: delivery.NewManualClock(t), reqs: make(chan time.Duration, 1000)}
}

func (c *timerClock) After(d time.Duration) <-chan time.Time {
	return c.Until(c.Now().Add(d))
}

// Until is After for a deadline; reqs reports how far ahead of the clock it is.
func (c *timerClock) Until(at time.Time) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	d := max(at.Sub(c.Now()), 0)
	c.pending = append(c.pending, fakeTimer{at: at, c: ch})
	c.fire()
	c.mu.Unlock()
	select {
	case c.reqs <- d:
	default:
	}
	return ch
}

func (c *timerClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ManualClock.Advance(d)
	c.fire()
}

func (c *timerClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ManualClock.Set(t)
	c.fire()
}

// fire sends on every timer whose deadline has come; c.mu must be held.
func (c *timerClock) fire() {
	now := c.Now()
	kept := c.pending[:0]
	for _, tm := range c.pending {
		if tm.at.After(now) {
			kept = append(kept, tm)
			continue
		}
		tm.c <- now
	}
	c.pending = kept
}

func (f *notifyFixture) user(t *testing.T, name, email string, disabled bool) *ent.User {
	t.Helper()
	u, err := f.client.User.Create().SetUsername(name).SetEmail(email).SetDisabled(disabled).Save(context.Background())
	if err != nil {
		t.Fatalf("creating user %s: %v", name, err)
	}
	return u
}

func (f *notifyFixture) group(t *testing.T, name string, members ...*ent.User) {
	t.Helper()
	if err := f.client.Group.Create().SetName(name).AddMembers(members...).Exec(context.Background()); err != nil {
		t.Fatalf("creating group %s: %v", name, err)
	}
}

// deployment seeds a definition, a release and a deployment of it to env.
func (f *notifyFixture) deployment(t *testing.T, definition, releaseName, env string) (*ent.Release, *ent.Deployment) {
	t.Helper()
	ctx := context.Background()
	def, err := f.client.ReleaseDefinition.Create().SetName(definition).Save(ctx)
	if err != nil {
		t.Fatalf("creating definition: %v", err)
	}
	rel, err := f.client.Release.Create().SetName(releaseName).SetNumber(1).SetDefinitionRevision(1).
		SetSnapshot(spec.DefinitionSnapshot{}).SetReason(release.ReasonMANUAL).SetCreatedBy("alice").
		SetDefinitionID(def.ID).Save(ctx)
	if err != nil {
		t.Fatalf("creating release: %v", err)
	}
	re, err := f.client.ReleaseEnvironment.Create().SetName(env).SetRank(1).SetReleaseID(rel.ID).
		SetDefinitionID(def.ID).Save(ctx)
	if err != nil {
		t.Fatalf("creating release environment: %v", err)
	}
	dep, err := f.client.Deployment.Create().SetAttempt(1).SetOperation("DEPLOY").SetRequestedBy("alice").
		SetEnvironmentName(env).SetReleaseID(rel.ID).SetReleaseEnvironmentID(re.ID).SetDefinitionID(def.ID).Save(ctx)
	if err != nil {
		t.Fatalf("creating deployment: %v", err)
	}
	return rel, dep
}

func (f *notifyFixture) approval(t *testing.T, dep *ent.Deployment, stage approval.Stage, kind approval.ApproverKind, approver string, status approval.Status, due *time.Time) *ent.Approval {
	t.Helper()
	a, err := f.client.Approval.Create().SetStage(stage).SetApproverKind(kind).SetApprover(approver).
		SetStatus(status).SetNillableDueAt(due).SetDeploymentID(dep.ID).SetReleaseID(dep.ReleaseID).
		Save(context.Background())
	if err != nil {
		t.Fatalf("creating approval: %v", err)
	}
	return a
}

// queue runs queueApprovalNotifications in an engine transaction, as the
// approval state machine does.
func (f *notifyFixture) queue(t *testing.T, approvals ...*ent.Approval) {
	t.Helper()
	if err := f.e.QueueApprovalNotifications(context.Background(), approvals); err != nil {
		t.Fatalf("queueing notifications: %v", err)
	}
}

func (f *notifyFixture) notifications(t *testing.T) []*ent.Notification {
	t.Helper()
	ns, err := f.client.Notification.Query().Order(ent.Asc(notification.FieldID)).All(context.Background())
	if err != nil {
		t.Fatalf("listing notifications: %v", err)
	}
	return ns
}

func (f *notifyFixture) deliver(t *testing.T, limit int) (sent, failed int) {
	t.Helper()
	sent, failed, err := f.e.DeliverNotifications(context.Background(), f.mailer, limit)
	if err != nil {
		t.Fatalf("delivering: %v", err)
	}
	return sent, failed
}

func TestApprovalNotificationsReachUserAndGroupApprovers(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newNotifyFixture(t, db)
		f.user(t, "alice", "alice@example.com", false)
		bob := f.user(t, "bob", "bob@example.com", false)
		carol := f.user(t, "carol", "", false) // no e-mail: skipped
		dave := f.user(t, "dave", "dave@example.com", true)
		f.group(t, "ops", bob, carol, dave)
		f.user(t, "erin", "", false)
		rel, dep := f.deployment(t, "web-app", "Release-7", "production")
		due := notifyEpoch.Add(24 * time.Hour)
		toAlice := f.approval(t, dep, approval.StagePRE, approval.ApproverKindUSER, "alice", approval.StatusPENDING, &due)
		toOps := f.approval(t, dep, approval.StagePOST, approval.ApproverKindGROUP, "ops", approval.StatusPENDING, nil)
		decided := f.approval(t, dep, approval.StagePRE, approval.ApproverKindUSER, "alice", approval.StatusAPPROVED, nil)
		ghost := f.approval(t, dep, approval.StagePRE, approval.ApproverKindUSER, "ghost", approval.StatusPENDING, nil)
		noMail := f.approval(t, dep, approval.StagePRE, approval.ApproverKindUSER, "erin", approval.StatusPENDING, nil)
		noGroup := f.approval(t, dep, approval.StagePRE, approval.ApproverKindGROUP, "nobody", approval.StatusPENDING, nil)

		f.queue(t, toAlice, toOps, decided, ghost, noMail, noGroup)

		ns := f.notifications(t)
		if len(ns) != 2 {
			t.Fatalf("queued %d notifications, want 2 (alice, bob): %+v", len(ns), ns)
		}
		want := map[string]int{"alice@example.com": toAlice.ID, "bob@example.com": toOps.ID}
		for _, n := range ns {
			if want[n.Recipient] == 0 || *n.ApprovalID != want[n.Recipient] {
				t.Errorf("notification %d to %s for approval %v, want %v", n.ID, n.Recipient, n.ApprovalID, want)
			}
			if n.Channel != notification.ChannelEMAIL || n.Kind != delivery.NotificationKindApprovalPending ||
				n.Status != notification.StatusPENDING || n.Attempts != 0 || !n.NextAttemptAt.Equal(notifyEpoch) {
				t.Errorf("notification %d: %+v", n.ID, n)
			}
		}

		sent, failed := f.deliver(t, 10)
		if sent != 2 || failed != 0 {
			t.Fatalf("deliver = %d sent, %d failed; want 2, 0", sent, failed)
		}
		got := map[string]mailtest.Message{}
		for range 2 {
			m := f.smtp.Next(t, 5*time.Second)
			if len(m.To) != 1 {
				t.Fatalf("message to %v, want one recipient", m.To)
			}
			got[m.To[0]] = m
		}
		if len(f.smtp.Pending()) != 0 {
			t.Fatal("more messages than recipients")
		}

		a := got["alice@example.com"]
		if a.Subject != "[Cairn] Approval needed: Release-7 → production (pre-deployment)" {
			t.Errorf("alice's subject = %q", a.Subject)
		}
		link := fmt.Sprintf("https://cairn.example.com/releases/%d?approval=%d", rel.ID, toAlice.ID)
		for _, s := range []string{link, "Release:      Release-7", "Definition:   web-app", "Environment:  production",
			"Stage:        pre-deployment", "Requested by: alice", "Deadline:     2026-03-03 09:00 UTC"} {
			if !strings.Contains(a.Body, s) {
				t.Errorf("alice's body lacks %q:\n%s", s, a.Body)
			}
		}
		if a.Header.Get("Message-Id") == "" || a.Header.Get("Date") == "" || !strings.HasSuffix(a.Header.Get("Message-Id"), "@example.com>") {
			t.Errorf("headers: Message-ID %q, Date %q", a.Header.Get("Message-Id"), a.Header.Get("Date"))
		}
		if !strings.Contains(a.Header.Get("Subject"), "=?UTF-8?") {
			t.Errorf("non-ASCII subject not RFC 2047 encoded: %q", a.Header.Get("Subject"))
		}

		b := got["bob@example.com"]
		if b.Subject != "[Cairn] Approval needed: Release-7 → production (post-deployment)" {
			t.Errorf("bob's subject = %q", b.Subject)
		}
		if !strings.Contains(b.Body, fmt.Sprintf("/releases/%d?approval=%d", rel.ID, toOps.ID)) ||
			!strings.Contains(b.Body, "group ops") || strings.Contains(b.Body, "Deadline") {
			t.Errorf("bob's body:\n%s", b.Body)
		}

		for _, n := range f.notifications(t) {
			if n.Status != notification.StatusSENT || n.SentAt == nil || !n.SentAt.Equal(notifyEpoch) || n.Attempts != 1 {
				t.Errorf("after delivery: %+v", n)
			}
		}
		// Nothing is sent twice.
		if sent, failed := f.deliver(t, 10); sent+failed != 0 {
			t.Fatalf("second deliver sent %d, failed %d", sent, failed)
		}
	})
}

func TestApprovalNotificationHostileNamesAndAddresses(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newNotifyFixture(t, db)
		f.user(t, "mallory", "mallory@example.com\r\nBcc: victim@example.com", false)
		f.user(t, "named", "Named Person <named@example.com>", false)
		f.user(t, "trent", "trent@example.com", false)
		_, dep := f.deployment(t, "def", "R-1\r\nBcc: victim@example.com", "prod\nX-Evil: 1")
		a1 := f.approval(t, dep, approval.StagePRE, approval.ApproverKindUSER, "mallory", approval.StatusPENDING, nil)
		a2 := f.approval(t, dep, approval.StagePRE, approval.ApproverKindUSER, "named", approval.StatusPENDING, nil)
		a3 := f.approval(t, dep, approval.StagePRE, approval.ApproverKindUSER, "trent", approval.StatusPENDING, nil)
		f.queue(t, a1, a2, a3)

		ns := f.notifications(t)
		if len(ns) != 3 {
			t.Fatalf("queued %d, want 3", len(ns))
		}
		for _, n := range ns[:2] {
			if n.Status != notification.StatusFAILED || !strings.Contains(n.LastError, "not a valid e-mail address") {
				t.Errorf("bad address %q: status %s, error %q", n.Recipient, n.Status, n.LastError)
			}
		}
		if strings.ContainsAny(ns[2].Subject, "\r\n") {
			t.Fatalf("subject has a line break: %q", ns[2].Subject)
		}
		if sent, failed := f.deliver(t, 10); sent != 1 || failed != 0 {
			t.Fatalf("deliver = %d, %d; want 1, 0", sent, failed)
		}
		m := f.smtp.Next(t, 5*time.Second)
		if len(m.To) != 1 || m.To[0] != "trent@example.com" || m.Header.Get("Bcc") != "" || m.Header.Get("X-Evil") != "" {
			t.Fatalf("injected header or recipient: to %v, headers %v", m.To, m.Header)
		}
		if !strings.Contains(m.Subject, "R-1  Bcc: victim@example.com → prod X-Evil: 1") {
			t.Errorf("subject = %q", m.Subject)
		}
	})
}

func TestNotificationRetryBacksOffThenDelivers(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newNotifyFixture(t, db)
		f.user(t, "alice", "alice@example.com", false)
		_, dep := f.deployment(t, "def", "R-1", "prod")
		f.queue(t, f.approval(t, dep, approval.StagePRE, approval.ApproverKindUSER, "alice", approval.StatusPENDING, nil))

		f.smtp.FailNext(1)
		if sent, failed := f.deliver(t, 10); sent != 0 || failed != 1 {
			t.Fatalf("first deliver = %d sent, %d failed; want 0, 1", sent, failed)
		}
		n := f.notifications(t)[0]
		if n.Status != notification.StatusPENDING || n.Attempts != 1 || !strings.Contains(n.LastError, "451") ||
			!n.NextAttemptAt.Equal(notifyEpoch.Add(30*time.Second)) || n.SentAt != nil {
			t.Fatalf("after a failed send: status %s attempts %d error %q next %v", n.Status, n.Attempts, n.LastError, n.NextAttemptAt)
		}

		f.clk.Advance(29 * time.Second)
		if sent, failed := f.deliver(t, 10); sent+failed != 0 {
			t.Fatalf("deliver before the backoff ended = %d, %d", sent, failed)
		}
		f.clk.Advance(time.Second)
		if sent, failed := f.deliver(t, 10); sent != 1 || failed != 0 {
			t.Fatalf("deliver after backoff = %d, %d; want 1, 0", sent, failed)
		}
		f.smtp.Next(t, 5*time.Second)
		n = f.notifications(t)[0]
		if n.Status != notification.StatusSENT || n.Attempts != 2 || n.LastError != "" {
			t.Fatalf("after retry: %+v", n)
		}
	})
}

func TestNotificationFailsAfterTenAttempts(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newNotifyFixture(t, db)
		f.user(t, "alice", "alice@example.com", false)
		_, dep := f.deployment(t, "def", "R-1", "prod")
		f.queue(t, f.approval(t, dep, approval.StagePRE, approval.ApproverKindUSER, "alice", approval.StatusPENDING, nil))
		f.smtp.FailNext(1000)

		wantBackoff := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute,
			8 * time.Minute, 16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
		for attempt := 1; attempt <= 10; attempt++ {
			if sent, failed := f.deliver(t, 10); sent != 0 || failed != 1 {
				t.Fatalf("attempt %d: deliver = %d, %d; want 0, 1", attempt, sent, failed)
			}
			n := f.notifications(t)[0]
			if n.Attempts != attempt {
				t.Fatalf("attempt %d recorded as %d", attempt, n.Attempts)
			}
			if attempt < 10 {
				if n.Status != notification.StatusPENDING {
					t.Fatalf("attempt %d: status %s", attempt, n.Status)
				}
				if got := n.NextAttemptAt.Sub(f.clk.Now()); got != wantBackoff[attempt-1] {
					t.Fatalf("backoff after attempt %d = %v, want %v", attempt, got, wantBackoff[attempt-1])
				}
				f.clk.Set(n.NextAttemptAt)
			} else if n.Status != notification.StatusFAILED || n.LastError == "" {
				t.Fatalf("after 10 attempts: status %s, error %q", n.Status, n.LastError)
			}
		}
		f.clk.Advance(24 * time.Hour)
		if sent, failed := f.deliver(t, 10); sent+failed != 0 {
			t.Fatalf("a FAILED row was tried again: %d, %d", sent, failed)
		}
		if data, _, _ := f.smtp.Counts(); data != 10 {
			t.Fatalf("server saw %d DATA commands, want 10", data)
		}
	})
}

func TestConcurrentDeliveriesSendEachMessageOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newNotifyFixture(t, db)
		const people = 12
		var members []*ent.User
		for i := range people {
			members = append(members, f.user(t, fmt.Sprintf("u%02d", i), fmt.Sprintf("u%02d@example.com", i), false))
		}
		f.group(t, "everyone", members...)
		_, dep := f.deployment(t, "def", "R-1", "prod")
		f.queue(t,
			f.approval(t, dep, approval.StagePRE, approval.ApproverKindGROUP, "everyone", approval.StatusPENDING, nil),
			f.approval(t, dep, approval.StagePOST, approval.ApproverKindGROUP, "everyone", approval.StatusPENDING, nil))

		// Two replicas: two engines on the same database and clock.
		other := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: f.clk, BaseURL: testBaseURL})
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for _, e := range []*delivery.Engine{f.e, other} {
			wg.Go(func() {
				sent, failed, err := e.DeliverNotifications(context.Background(), f.mailer, 100)
				if err != nil || failed != 0 {
					t.Errorf("deliver: sent %d failed %d err %v", sent, failed, err)
				}
				mu.Lock()
				total += sent
				mu.Unlock()
			})
		}
		wg.Wait()
		if total != 2*people {
			t.Fatalf("sent %d in total, want %d", total, 2*people)
		}
		seen := map[string]int{}
		for range 2 * people {
			m := f.smtp.Next(t, 5*time.Second)
			seen[m.To[0]+" "+m.Subject]++
		}
		if extra := f.smtp.Pending(); len(extra) != 0 {
			t.Fatalf("%d duplicate messages", len(extra))
		}
		for k, n := range seen {
			if n != 1 {
				t.Errorf("%s received %d times", k, n)
			}
		}
		if len(seen) != 2*people {
			t.Fatalf("%d distinct messages, want %d", len(seen), 2*people)
		}
	})
}

func TestClaimedNotificationWaitsForItsLease(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newNotifyFixture(t, db)
		f.user(t, "alice", "alice@example.com", false)
		_, dep := f.deployment(t, "def", "R-1", "prod")
		f.queue(t, f.approval(t, dep, approval.StagePRE, approval.ApproverKindUSER, "alice", approval.StatusPENDING, nil))
		n := f.notifications(t)[0]
		// A replica claims the row and dies before sending.
		ok, err := f.e.ClaimNotification(context.Background(), n, f.clk.Now())
		if err != nil || !ok {
			t.Fatalf("claim = %v, %v", ok, err)
		}
		if ok, err := f.e.ClaimNotification(context.Background(), n, f.clk.Now()); err != nil || ok {
			t.Fatalf("second claim = %v, %v; want false", ok, err)
		}
		if sent, _ := f.deliver(t, 10); sent != 0 {
			t.Fatal("a leased row was sent")
		}
		f.clk.Advance(delivery.NotificationLease)
		if sent, _ := f.deliver(t, 10); sent != 1 {
			t.Fatal("the row was not sent after its lease ended")
		}
	})
}

// cancelingMailer cancels the delivery's context while sending, as a
// shutdown would.
type cancelingMailer struct{ cancel context.CancelFunc }

func (m cancelingMailer) Send(ctx context.Context, _, _, _ string) error {
	m.cancel()
	<-ctx.Done()
	return fmt.Errorf("dialing: %w", ctx.Err())
}

func TestShutdownDuringSendIsNoFailedAttempt(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newNotifyFixture(t, db)
		f.user(t, "alice", "alice@example.com", false)
		_, dep := f.deployment(t, "def", "R-1", "prod")
		f.queue(t, f.approval(t, dep, approval.StagePRE, approval.ApproverKindUSER, "alice", approval.StatusPENDING, nil))
		ctx, cancel := context.WithCancel(context.Background())
		sent, failed, err := f.e.DeliverNotifications(ctx, cancelingMailer{cancel}, 10)
		if err != nil || sent != 0 || failed != 0 {
			t.Fatalf("deliver = %d, %d, %v", sent, failed, err)
		}
		n := f.notifications(t)[0]
		if n.Status != notification.StatusPENDING || n.Attempts != 0 || !n.NextAttemptAt.Equal(notifyEpoch) {
			t.Fatalf("row not released: %+v", n)
		}
	})
}

func TestNotificationLoopWaitsForWakeAndDueTime(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newNotifyFixture(t, db)
		f.user(t, "alice", "alice@example.com", false)
		_, dep := f.deployment(t, "def", "R-1", "prod")

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Unbuffered: a send completes only when the loop is idle in its select.
		wake := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			f.e.RunNotificationLoop(ctx, f.mailer, wake)
		}()
		poke := func() {
			t.Helper()
			select {
			case wake <- struct{}{}:
			case <-time.After(10 * time.Second):
				t.Fatal("the loop is not waiting for a wake-up")
			}
		}
		// waitFor waits until the loop sets a timer of d (a loop round that
		// raced with the test may set others first, e.g. 0 s for a row that
		// was already due).
		waitFor := func(d time.Duration) {
			t.Helper()
			deadline := time.After(10 * time.Second)
			for {
				select {
				case got := <-f.clk.reqs:
					if got == d {
						return
					}
				case <-deadline:
					t.Fatalf("the loop did not start waiting %v", d)
				}
			}
		}

		// Two wake-ups: after the second is taken, the loop has finished the
		// round of the first and is idle again, with no timer (nothing due).
		poke()
		poke()
		select {
		case d := <-f.clk.reqs:
			t.Fatalf("idle loop set a timer of %v: that is polling", d)
		default:
		}

		f.smtp.FailNext(1)
		f.queue(t, f.approval(t, dep, approval.StagePRE, approval.ApproverKindUSER, "alice", approval.StatusPENDING, nil))
		poke()
		// The first attempt fails; the loop waits for the 30 s backoff.
		waitFor(30 * time.Second)
		if data, accepted, _ := f.smtp.Counts(); data != 1 || accepted != 0 {
			t.Fatalf("server saw %d DATA, accepted %d", data, accepted)
		}
		f.clk.Advance(29 * time.Second)
		if len(f.smtp.Pending()) != 0 {
			t.Fatal("sent before the backoff ended")
		}
		f.clk.Advance(time.Second)
		m := f.smtp.Next(t, 10*time.Second)
		if m.To[0] != "alice@example.com" {
			t.Fatalf("delivered to %v", m.To)
		}

		// Once everything is sent the loop sets no timer: after two more
		// wake-ups, the round of the first has finished without one.
		for len(f.clk.reqs) > 0 {
			<-f.clk.reqs
		}
		poke()
		poke()
		select {
		case d := <-f.clk.reqs:
			t.Fatalf("the loop waited for %v with nothing due", d)
		default:
		}

		// A closed wake channel must not stop the loop from ending with ctx.
		close(wake)
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the loop did not end with its context")
		}
	})
}

func TestNotificationBackoffSchedule(t *testing.T) {
	for attempts, want := range map[int]time.Duration{
		1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 7: 32 * time.Minute, 8: time.Hour, 9: time.Hour, 50: time.Hour,
	} {
		if got := delivery.NotificationBackoff(attempts); got != want {
			t.Errorf("delivery.NotificationBackoff(%d) = %v, want %v", attempts, got, want)
		}
	}
}

func TestDeliverReportsDatabaseErrors(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	f := newNotifyFixture(t, db)
	db.Close()
	_, _, err := f.e.DeliverNotifications(context.Background(), f.mailer, 10)
	if err == nil || !strings.Contains(err.Error(), "listing due notifications") {
		t.Fatalf("err = %v", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Fatal("unexpected cancellation")
	}
}
