package delivery

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/group"
	"github.com/cairnhq/cairn/ent/manualintervention"
	"github.com/cairnhq/cairn/ent/notification"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/user"
	"github.com/cairnhq/cairn/internal/backoff"
)

// NotificationKindApprovalPending is the kind of the e-mail that asks an
// approver to decide a pending approval.
const NotificationKindApprovalPending = "approval.pending"

// Outbox delivery tuning. The backoff doubles from notificationBackoffBase up
// to notificationBackoffMax; after notificationMaxAttempts failed sends a row
// is FAILED and never tried again.
const (
	notificationBackoffBase = 30 * time.Second
	notificationBackoffMax  = time.Hour
	notificationMaxAttempts = 10
	// notificationLease is how long a claimed row is hidden from other
	// replicas while one sends it. It must exceed the mailer's own timeout, or
	// a slow send could be claimed (and sent) twice.
	notificationLease = 5 * time.Minute
	// notificationBatch is how many rows the loop claims per round.
	notificationBatch = 50
	// maxLastError bounds the stored error text of a failed send.
	maxLastError = 1000
)

// Mailer sends one plain-text e-mail. It is declared here, by its consumer;
// the SMTP implementation lives in package mail.
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// queueApprovalNotifications writes, inside the caller's transaction, one
// EMAIL outbox row per person who may decide each PENDING approval: the user
// approver, or every enabled member of the group approver. People without an
// e-mail address, disabled users and unknown approvers are skipped: a missing
// recipient never fails the state change that created the approval, only a
// database error does. An address that is not a plain e-mail address gets a
// row that is FAILED at once, so the problem shows in the API instead of
// retrying ten times.
func (t *txn) queueApprovalNotifications(approvals []*ent.Approval) error {
	releases := map[int]*ent.Release{}
	definitions := map[int]string{}
	deployments := map[int]*ent.Deployment{}
	var rows []*ent.NotificationCreate
	for _, a := range approvals {
		if a == nil || a.Status != approval.StatusPENDING || a.Automated || a.ApproverKind == nil {
			continue
		}
		recipients, err := t.approvalRecipients(*a.ApproverKind, a.Approver)
		if err != nil {
			return fmt.Errorf("resolving approvers of approval %d: %w", a.ID, err)
		}
		if len(recipients) == 0 {
			continue
		}
		d, ok := deployments[a.DeploymentID]
		if !ok {
			if d, err = t.Deployment.Get(t.ctx, a.DeploymentID); err != nil {
				return fmt.Errorf("reading deployment %d of approval %d: %w", a.DeploymentID, a.ID, err)
			}
			deployments[a.DeploymentID] = d
		}
		r, ok := releases[a.ReleaseID]
		if !ok {
			if r, err = t.Release.Get(t.ctx, a.ReleaseID); err != nil {
				return fmt.Errorf("reading release %d of approval %d: %w", a.ReleaseID, a.ID, err)
			}
			releases[a.ReleaseID] = r
		}
		defName, ok := definitions[r.DefinitionID]
		if !ok {
			def, err := t.ReleaseDefinition.Get(t.ctx, r.DefinitionID)
			if err != nil {
				return fmt.Errorf("reading definition %d of release %d: %w", r.DefinitionID, r.ID, err)
			}
			defName = def.Name
			definitions[r.DefinitionID] = defName
		}
		msg := approvalMessage(t.e.baseURL, a, d, r, defName)
		for _, to := range recipients {
			rows = append(rows, t.emailRow(NotificationKindApprovalPending, to, msg).SetApprovalID(a.ID))
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if err := t.Notification.CreateBulk(rows...).Exec(t.ctx); err != nil {
		return fmt.Errorf("queueing %d approval notifications: %w", len(rows), err)
	}
	return nil
}

// emailRow is an EMAIL outbox row of kind to a recipient, due now; one to an
// address that is not a plain e-mail address is FAILED at once, so that the
// problem shows in the API instead of retrying ten times.
func (t *txn) emailRow(kind, to string, msg message) *ent.NotificationCreate {
	c := t.Notification.Create().
		SetChannel(notification.ChannelEMAIL).
		SetKind(kind).
		SetRecipient(to).
		SetSubject(msg.subject).
		SetBody(msg.body).
		SetNextAttemptAt(t.now).
		SetCreatedAt(t.now).
		SetUpdatedAt(t.now)
	if !plainAddress(to) {
		c.SetStatus(notification.StatusFAILED).
			SetLastError(fmt.Sprintf("%q is not a valid e-mail address; correct the user's e-mail", truncate(to, 100)))
	}
	return c
}

// approvalRecipients returns the distinct e-mail addresses of the enabled
// users an approver names. An unknown user or group yields none.
func (t *txn) approvalRecipients(kind approval.ApproverKind, name string) ([]string, error) {
	var users []*ent.User
	var err error
	switch kind {
	case approval.ApproverKindUSER:
		users, err = t.User.Query().
			Where(user.Username(name), user.Disabled(false), user.EmailNEQ("")).
			All(t.ctx)
	case approval.ApproverKindGROUP:
		users, err = t.Group.Query().Where(group.Name(name)).QueryMembers().
			Where(user.Disabled(false), user.EmailNEQ("")).
			Order(ent.Asc(user.FieldUsername)).
			All(t.ctx)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, u := range users {
		addr := strings.TrimSpace(u.Email)
		key := strings.ToLower(addr)
		if addr == "" || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, addr)
	}
	return out, nil
}

// plainAddress reports whether s is a bare e-mail address (no display name,
// no line breaks), the only form the outbox sends to.
func plainAddress(s string) bool {
	if strings.ContainsAny(s, "\r\n<>") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

type message struct{ subject, body string }

// approvalMessage renders the e-mail that asks an approver to decide a.
func approvalMessage(baseURL string, a *ent.Approval, d *ent.Deployment, r *ent.Release, definition string) message {
	stage := "pre-deployment"
	if a.Stage == approval.StagePOST {
		stage = "post-deployment"
	}
	link := fmt.Sprintf("%s/releases/%d?approval=%d", strings.TrimRight(baseURL, "/"), r.ID, a.ID)
	subject := fmt.Sprintf("[Cairn] Approval needed: %s → %s (%s)",
		oneLine(r.Name), oneLine(d.EnvironmentName), stage)

	var b strings.Builder
	fmt.Fprintf(&b, "A deployment is waiting for your %s approval.\n\n", stage)
	fmt.Fprintf(&b, "Release:      %s\n", oneLine(r.Name))
	fmt.Fprintf(&b, "Definition:   %s\n", oneLine(definition))
	fmt.Fprintf(&b, "Environment:  %s\n", oneLine(d.EnvironmentName))
	fmt.Fprintf(&b, "Stage:        %s\n", stage)
	fmt.Fprintf(&b, "Requested by: %s\n", oneLine(d.RequestedBy))
	if a.ApproverKind != nil && *a.ApproverKind == approval.ApproverKindGROUP {
		fmt.Fprintf(&b, "Approvers:    group %s (one decision is enough for the group)\n", oneLine(a.Approver))
	}
	if a.DueAt != nil {
		fmt.Fprintf(&b, "Deadline:     %s (then the approval times out)\n", a.DueAt.UTC().Format("2006-01-02 15:04 MST"))
	}
	fmt.Fprintf(&b, "\nApprove or reject: %s\n", link)
	return message{subject: truncate(subject, 250), body: b.String()}
}

// oneLine replaces control characters (line breaks above all) with spaces, so
// that names chosen by users can never add a header or forge lines in a mail.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// notificationBackoff is the wait after the given number of failed attempts:
// 30 s, 1 min, 2 min, … capped at one hour.
func notificationBackoff(attempts int) time.Duration {
	return backoff.Policy{Base: notificationBackoffBase, Max: notificationBackoffMax}.Delay(attempts)
}

// DeliverNotifications sends up to limit due EMAIL outbox rows through m and
// records the outcome of each. Rows are claimed one by one with a conditional
// update (status PENDING, due, same attempt count), which moves their due time
// a lease ahead: two replicas never send the same row twice. Sending happens
// outside any transaction, so a slow or failing mail server never blocks or
// rolls back a state change. A failed send is retried with exponential backoff
// and the row is FAILED after ten attempts. sent and failed count this call's
// sends; err reports only database errors. A limit <= 0 means 50.
func (e *Engine) DeliverNotifications(ctx context.Context, m Mailer, limit int) (sent, failed int, err error) {
	if limit <= 0 {
		limit = notificationBatch
	}
	now := e.clock.Now()
	due, err := e.client.Notification.Query().
		Where(
			notification.StatusEQ(notification.StatusPENDING),
			notification.ChannelEQ(notification.ChannelEMAIL),
			notification.NextAttemptAtLTE(now),
		).
		Order(ent.Asc(notification.FieldNextAttemptAt), ent.Asc(notification.FieldID)).
		Limit(limit).
		All(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("listing due notifications: %w", err)
	}
	for _, n := range due {
		if ctx.Err() != nil {
			break
		}
		claimed, err := e.claimNotification(ctx, n, now)
		if err != nil {
			return sent, failed, err
		}
		if !claimed {
			continue
		}
		sendErr := m.Send(ctx, n.Recipient, n.Subject, n.Body)
		// The outcome is recorded even when ctx ended during the send: a
		// message that went out must not be sent again.
		rctx := context.WithoutCancel(ctx)
		switch {
		case sendErr == nil:
			if err := e.markNotificationSent(rctx, n); err != nil {
				return sent, failed, err
			}
			sent++
		case ctx.Err() != nil:
			// Shutting down: give the row back untouched, it was not a
			// failure of the mail server.
			if err := e.client.Notification.UpdateOneID(n.ID).
				SetNextAttemptAt(n.NextAttemptAt).Exec(rctx); err != nil {
				return sent, failed, fmt.Errorf("releasing notification %d: %w", n.ID, err)
			}
		default:
			if err := e.markNotificationFailed(rctx, n, sendErr); err != nil {
				return sent, failed, err
			}
			failed++
		}
	}
	return sent, failed, nil
}

// claimNotification leases n to this caller: it succeeds only if the row is
// still PENDING, still due and still at the attempt count read.
func (e *Engine) claimNotification(ctx context.Context, n *ent.Notification, now time.Time) (bool, error) {
	affected, err := e.client.Notification.Update().
		Where(
			notification.ID(n.ID),
			notification.StatusEQ(notification.StatusPENDING),
			notification.Attempts(n.Attempts),
			notification.NextAttemptAtLTE(now),
		).
		SetNextAttemptAt(now.Add(notificationLease)).
		Save(ctx)
	if err != nil {
		return false, fmt.Errorf("claiming notification %d: %w", n.ID, err)
	}
	return affected == 1, nil
}

func (e *Engine) markNotificationSent(ctx context.Context, n *ent.Notification) error {
	now := e.clock.Now()
	err := e.client.Notification.UpdateOneID(n.ID).
		SetStatus(notification.StatusSENT).
		SetSentAt(now).
		SetAttempts(n.Attempts + 1).
		SetLastError("").
		SetUpdatedAt(now).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("marking notification %d sent: %w", n.ID, err)
	}
	return nil
}

func (e *Engine) markNotificationFailed(ctx context.Context, n *ent.Notification, sendErr error) error {
	now := e.clock.Now()
	attempts := n.Attempts + 1
	u := e.client.Notification.UpdateOneID(n.ID).
		SetAttempts(attempts).
		SetLastError(truncate(oneLine(sendErr.Error()), maxLastError)).
		SetUpdatedAt(now)
	if attempts >= notificationMaxAttempts {
		u.SetStatus(notification.StatusFAILED).SetNextAttemptAt(now)
	} else {
		u.SetNextAttemptAt(now.Add(notificationBackoff(attempts)))
	}
	if err := u.Exec(ctx); err != nil {
		return fmt.Errorf("recording failed send of notification %d: %w", n.ID, err)
	}
	return nil
}

// nextNotificationDue returns when the earliest PENDING EMAIL row is due
// (claimed rows count at the end of their lease); ok is false when none is.
func (e *Engine) nextNotificationDue(ctx context.Context) (due time.Time, ok bool, err error) {
	n, err := e.client.Notification.Query().
		Where(
			notification.StatusEQ(notification.StatusPENDING),
			notification.ChannelEQ(notification.ChannelEMAIL),
		).
		Order(ent.Asc(notification.FieldNextAttemptAt)).
		First(ctx)
	switch {
	case ent.IsNotFound(err):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, fmt.Errorf("reading next notification due time: %w", err)
	}
	return n.NextAttemptAt, true, nil
}

// afterClock is a Clock that also makes timers on its own time line. A test
// clock implements it so that the notification loop's waits follow the
// manual time; with any other clock the loop uses real timers. Until waits for
// a time, not a duration: a wait computed from one reading of the clock and
// started at a later one would end that much late (a test that moves the clock
// in between would wait for ever).
type afterClock interface {
	After(d time.Duration) <-chan time.Time
	Until(t time.Time) <-chan time.Time
}

func (e *Engine) after(d time.Duration) <-chan time.Time {
	if c, ok := e.clock.(afterClock); ok {
		return c.After(d)
	}
	return time.After(d)
}

// until returns a channel that receives once the clock reaches t (at once if it has).
func (e *Engine) until(t time.Time) <-chan time.Time {
	if c, ok := e.clock.(afterClock); ok {
		return c.Until(t)
	}
	return time.After(max(t.Sub(e.clock.Now()), 0))
}

// notificationRetryOnError is the pause of the loop after a database error.
const notificationRetryOnError = 5 * time.Second

// RunNotificationLoop delivers e-mail notifications through m until ctx ends.
// It sends everything due, then sleeps until the next row is due or a value
// arrives on wake (send one when notifications are queued, e.g. on an
// approval.pending event; a closed wake channel is ignored), whichever comes
// first: it never polls at a fixed interval. Database errors are logged here,
// at the loop's boundary, and retried after a short pause.
func (e *Engine) RunNotificationLoop(ctx context.Context, m Mailer, wake <-chan struct{}) {
	log := e.log.With("loop", "notifications")
	for ctx.Err() == nil {
		var wait <-chan time.Time
		if err := e.deliverDue(ctx, m); err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Error("delivering notifications", "err", err)
			wait = e.after(notificationRetryOnError)
		} else {
			due, ok, err := e.nextNotificationDue(ctx)
			switch {
			case err != nil:
				if ctx.Err() != nil {
					return
				}
				log.Error("scheduling notifications", "err", err)
				wait = e.after(notificationRetryOnError)
			case ok:
				wait = e.until(due)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-wait:
		case _, open := <-wake:
			if !open {
				wake = nil
			}
		}
	}
}

// deliverDue sends due rows in batches until a batch comes back short.
func (e *Engine) deliverDue(ctx context.Context, m Mailer) error {
	for ctx.Err() == nil {
		sent, failed, err := e.DeliverNotifications(ctx, m, notificationBatch)
		if err != nil {
			return err
		}
		if sent+failed < notificationBatch {
			return nil
		}
	}
	return nil
}

// queueInterventionNotifications writes, inside the caller's transaction,
// one EMAIL outbox row per person an intervention's approvers name (every
// enabled member of a group), each address once; recipients are resolved as
// for approvals. An intervention that names nobody notifies nobody by mail:
// bots and dashboards see EventInterventionPending.
func (t *txn) queueInterventionNotifications(dc *deployCtx, mi *ent.ManualIntervention) error {
	seen := map[string]bool{}
	var rows []*ent.NotificationCreate
	var msg message
	for _, ap := range mi.Approvers {
		kind := approval.ApproverKindUSER
		if ap.Kind == spec.ApproverGroup {
			kind = approval.ApproverKindGROUP
		}
		recipients, err := t.approvalRecipients(kind, ap.Name)
		if err != nil {
			return fmt.Errorf("resolving approvers of manual intervention %d: %w", mi.ID, err)
		}
		for _, to := range recipients {
			if seen[to] {
				continue
			}
			seen[to] = true
			if len(rows) == 0 {
				msg = interventionMessage(t.e.baseURL, mi, dc)
			}
			rows = append(rows, t.emailRow(NotificationKindInterventionPending, to, msg).SetInterventionID(mi.ID))
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if err := t.Notification.CreateBulk(rows...).Exec(t.ctx); err != nil {
		return fmt.Errorf("queueing %d manual intervention notifications: %w", len(rows), err)
	}
	return nil
}

// interventionMessage renders the e-mail that asks an approver to act on a
// manual intervention.
func interventionMessage(baseURL string, mi *ent.ManualIntervention, dc *deployCtx) message {
	link := fmt.Sprintf("%s/releases/%d?intervention=%d", strings.TrimRight(baseURL, "/"), dc.rel.ID, mi.ID)
	subject := fmt.Sprintf("[Cairn] Manual intervention: %s → %s (%s)",
		oneLine(dc.rel.Name), oneLine(dc.d.EnvironmentName), oneLine(mi.TaskName))
	var b strings.Builder
	fmt.Fprintf(&b, "A deployment is waiting for you at a manual intervention.\n\n")
	fmt.Fprintf(&b, "Release:      %s\n", oneLine(dc.rel.Name))
	fmt.Fprintf(&b, "Definition:   %s\n", oneLine(dc.rel.Snapshot.Name))
	fmt.Fprintf(&b, "Environment:  %s\n", oneLine(dc.d.EnvironmentName))
	fmt.Fprintf(&b, "Step:         %s\n", oneLine(mi.TaskName))
	action := "rejected"
	if mi.OnTimeout == manualintervention.OnTimeoutRESUME {
		action = "resumed"
	}
	fmt.Fprintf(&b, "Deadline:     %s (then it is %s)\n", mi.TimeoutAt.UTC().Format("2006-01-02 15:04 MST"), action)
	if mi.Instructions != "" {
		fmt.Fprintf(&b, "\nInstructions:\n%s\n", truncate(mi.Instructions, 4000))
	}
	fmt.Fprintf(&b, "\nResume or reject: %s\n", link)
	return message{subject: truncate(subject, 250), body: b.String()}
}
