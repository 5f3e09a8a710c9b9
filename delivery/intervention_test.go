package delivery_test

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/manualintervention"
	"github.com/cairnhq/cairn/ent/notification"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/timer"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

func script(name string) spec.Task { return spec.Task{Name: name, Script: "./" + name + ".sh"} }

func intervention(name string, mod ...func(*spec.Task)) spec.Task {
	t := spec.Task{Name: name, Kind: spec.TaskManualIntervention, Instructions: "check " + name}
	for _, m := range mod {
		m(&t)
	}
	return t
}

func tasks(ts ...spec.Task) func(*spec.EnvironmentSpec) {
	return func(e *spec.EnvironmentSpec) { e.Job.Tasks = ts }
}

func TestPhasesOf(t *testing.T) {
	off := func(t spec.Task) spec.Task { t.Disabled = true; return t }
	cases := []struct {
		name  string
		tasks []spec.Task
		want  string
	}{
		{"no tasks: one job that downloads", nil, "job(0)"},
		{"scripts only", []spec.Task{script("a"), script("b")}, "job(2)"},
		{"between scripts", []spec.Task{script("a"), intervention("mi"), script("b")}, "job(1) mi(mi) job(1)"},
		{"first", []spec.Task{intervention("mi"), script("b")}, "mi(mi) job(1)"},
		{"last", []spec.Task{script("a"), intervention("mi")}, "job(1) mi(mi)"},
		{"alone", []spec.Task{intervention("mi")}, "mi(mi)"},
		{"two in a row", []spec.Task{intervention("x"), intervention("y")}, "mi(x) mi(y)"},
		{"disabled intervention", []spec.Task{script("a"), off(intervention("mi")), script("b")}, "job(2)"},
		{"only disabled scripts before", []spec.Task{off(script("a")), intervention("mi"), script("b")}, "mi(mi) job(1)"},
		{"all disabled", []spec.Task{off(script("a"))}, "job(1)"},
	}
	for _, c := range cases {
		got := strings.Join(delivery.PhaseKinds(spec.JobSpec{Tasks: c.tasks}), " ")
		if got != c.want {
			t.Errorf("%s: phases %s, want %s", c.name, got, c.want)
		}
	}
}

// miFixture is a definition whose env "prod" runs build, then waits at a
// manual intervention "verify" (approver alice, e-mail alice@example.com),
// then runs smoke.
type miFixture struct {
	*fixture
	alice, bob delivery.Actor
	def        int
}

func newMIFixture(t *testing.T, db *storage.DB, mods ...func(*spec.EnvironmentSpec)) *miFixture {
	f := &miFixture{fixture: newFixture(t, db)}
	f.alice = f.user("alice", "VIEWER")
	f.bob = f.user("bob", "EDITOR")
	if err := f.c.User.UpdateOneID(f.alice.UserID).SetEmail("alice@example.com").Exec(f.ctx); err != nil {
		t.Fatal(err)
	}
	opts := append([]func(*spec.EnvironmentSpec){tasks(script("build"), intervention("verify", func(t *spec.Task) {
		t.Approvers = users("alice")
		t.Instructions = "Check https://$(site)/health for $(Release.ReleaseName) with $(token); $(nope) stays"
		t.TimeoutMinutes = 60
	}), script("smoke"))}, mods...)
	snap := snapshot("shop", environment("prod", afterRelease, opts...))
	snap.Variables = []spec.Variable{{Name: "site", Value: "shop.example.com"}, {Name: "token", Value: "placeholder", SettableAtReleaseTime: true}}
	f.def = f.definition(snap)
	return f
}

// newRelease creates a release whose token is the secret s3cr3t.
func (f *miFixture) newRelease(build string) *ent.Release {
	f.t.Helper()
	rel, err := f.e.CreateRelease(f.ctx, f.admin, delivery.CreateReleaseInput{
		DefinitionID: f.def, Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: build, BuildID: build}},
		VariableOverrides: []spec.Variable{{Name: "token", Value: "s3cr3t", Secret: true}},
	})
	if err != nil {
		f.t.Fatalf("creating release: %v", err)
	}
	return rel
}

// runJob starts the deployment's current job on agent, appends n log lines
// (the agent's numbers 1..n) and finishes it with status.
func (f *miFixture) runJob(dep int, agentID, n int, status string) *ent.Job {
	f.t.Helper()
	j := f.job(dep)
	if j == nil || j.Status != job.StatusQUEUED {
		f.t.Fatalf("deployment %d has no queued job: %+v", dep, j)
	}
	if err := f.e.StartJob(f.ctx, j.ID, agentID); err != nil {
		f.t.Fatalf("starting job: %v", err)
	}
	var lines []delivery.LogLine
	for i := 1; i <= n; i++ {
		lines = append(lines, delivery.LogLine{Seq: int64(i), Step: 1, Text: j.Spec.Tasks[0].Name + " line"})
	}
	if n > 0 {
		acked, err := f.e.AppendLogs(f.ctx, j.ID, agentID, lines)
		if err != nil || acked != int64(n) {
			f.t.Fatalf("appending logs: acked %d, %v; want %d", acked, err, n)
		}
	}
	if err := f.e.FinishJob(f.ctx, j.ID, delivery.JobResult{Status: status}); err != nil {
		f.t.Fatalf("finishing job: %v", err)
	}
	return j
}

func (f *miFixture) pending(dep int) *ent.ManualIntervention {
	f.t.Helper()
	mi, err := f.c.ManualIntervention.Query().
		Where(manualintervention.DeploymentID(dep), manualintervention.StatusEQ(manualintervention.StatusPENDING)).Only(f.ctx)
	if err != nil {
		f.t.Fatalf("reading the pending intervention of deployment %d: %v", dep, err)
	}
	return mi
}

func (f *miFixture) intervention(id int) *ent.ManualIntervention {
	f.t.Helper()
	mi, err := f.c.ManualIntervention.Get(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return mi
}

// TestManualInterventionResume runs build, waits at the intervention (the
// approver is mailed, bots get the event, others may not act), resumes it
// and runs smoke as a second job whose log continues the first's.
func TestManualInterventionResume(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newMIFixture(t, db)
		rel := f.newRelease("41")
		dep := f.deployment(rel.ID, "prod")
		agentID := f.agent()
		first := f.runJob(dep.ID, agentID, 2, "SUCCEEDED")
		f.wantState(rel.ID, "prod", "IN_PROGRESS/WAITING_FOR_INTERVENTION")
		mi := f.pending(dep.ID)
		if want := "Check https://shop.example.com/health for " + rel.Name + " with ***; $(nope) stays"; mi.Instructions != want {
			t.Errorf("instructions %q, want %q", mi.Instructions, want)
		}
		if mi.Phase != 1 || mi.TaskName != "verify" || !mi.TimeoutAt.Equal(f.clk.Now().Add(time.Hour)) {
			t.Errorf("intervention %+v", mi)
		}
		if f.bus.count(delivery.EventInterventionPending) != 1 {
			t.Errorf("%d pending events, want 1", f.bus.count(delivery.EventInterventionPending))
		}
		mails, err := f.c.Notification.Query().Where(notification.InterventionID(mi.ID)).All(f.ctx)
		if err != nil || len(mails) != 1 || mails[0].Recipient != "alice@example.com" ||
			!strings.Contains(mails[0].Body, "shop.example.com/health") || strings.Contains(mails[0].Body, "s3cr3t") {
			t.Fatalf("notifications %+v, %v", mails, err)
		}
		// The queue slot is held and no second job exists while it waits.
		if j := f.job(dep.ID); j.ID != first.ID {
			t.Fatalf("a job %d exists while the intervention waits", j.ID)
		}
		// bob is an EDITOR but not the approver: FORBIDDEN.
		_, err = f.e.ResumeManualIntervention(f.ctx, f.bob, mi.ID, "")
		wantCode(t, err, delivery.CodeForbidden)
		if list, err := f.e.PendingInterventionsFor(f.ctx, f.bob); err != nil || len(list) != 0 {
			t.Fatalf("bob's pending interventions %v, %v", list, err)
		}
		if list, err := f.e.PendingInterventionsFor(f.ctx, f.alice); err != nil || len(list) != 1 || list[0].ID != mi.ID {
			t.Fatalf("alice's pending interventions %v, %v", list, err)
		}
		_, err = f.e.ResumeManualIntervention(f.ctx, f.alice, mi.ID, strings.Repeat("x", 5000))
		wantCode(t, err, delivery.CodeInvalidInput)

		got, err := f.e.ResumeManualIntervention(f.ctx, f.alice, mi.ID, "healthy")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != manualintervention.StatusRESUMED || got.DecidedBy == nil || *got.DecidedBy != "alice" || got.Comment != "healthy" {
			t.Fatalf("resumed intervention %+v", got)
		}
		_, err = f.e.ResumeManualIntervention(f.ctx, f.alice, mi.ID, "again")
		wantCode(t, err, delivery.CodeConflict)
		second := f.job(dep.ID)
		if second.ID == first.ID || second.Phase != 2 || second.LogBase != 2 || len(second.Spec.Tasks) != 1 || second.Spec.Tasks[0].Name != "smoke" {
			t.Fatalf("second job %+v", second)
		}
		f.wantState(rel.ID, "prod", "IN_PROGRESS/IN_PROGRESS")
		f.runJob(dep.ID, agentID, 3, "SUCCEEDED")
		f.wantState(rel.ID, "prod", "SUCCEEDED/SUCCEEDED")

		// One log: build's lines 1-2, then smoke's (its agent's 1-3) as 3-5.
		lines, err := f.e.DeploymentLogs(f.ctx, dep.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		for _, l := range lines {
			seqs = append(seqs, l.Seq)
		}
		if len(lines) != 5 || seqs[0] != 1 || seqs[4] != 5 || lines[1].Text != "build line" || lines[2].Text != "smoke line" {
			t.Fatalf("deployment log %v %+v", seqs, lines)
		}
		if tail, err := f.e.DeploymentLogs(f.ctx, dep.ID, 4, 1); err != nil || len(tail) != 1 || tail[0].Seq != 4 {
			t.Fatalf("log from 4: %+v, %v", tail, err)
		}
		if f.audits("intervention.open") != 1 || f.audits("intervention.resume") != 1 {
			t.Errorf("audits: open %d, resume %d", f.audits("intervention.open"), f.audits("intervention.resume"))
		}
		f.verifyChain()
	})
}

// TestManualInterventionReject: a rejection ends the deployment REJECTED
// with the approver's comment; no later phase runs.
func TestManualInterventionReject(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newMIFixture(t, db)
		rel := f.newRelease("41")
		dep := f.deployment(rel.ID, "prod")
		first := f.runJob(dep.ID, f.agent(), 1, "PARTIALLY_SUCCEEDED")
		mi := f.pending(dep.ID)
		if _, err := f.e.RejectManualIntervention(f.ctx, f.alice, mi.ID, "500 on /health"); err != nil {
			t.Fatal(err)
		}
		f.wantState(rel.ID, "prod", "REJECTED/REJECTED")
		d := f.deployment(rel.ID, "prod")
		if !strings.Contains(d.StatusReason, "500 on /health") || !strings.Contains(d.StatusReason, "verify") {
			t.Errorf("status reason %q", d.StatusReason)
		}
		if j := f.job(dep.ID); j.ID != first.ID {
			t.Errorf("a later job %d was created", j.ID)
		}
		if n := f.bus.count(delivery.EventInterventionDecided); n != 1 {
			t.Errorf("%d decided events", n)
		}
		f.verifyChain()
	})
}

// TestManualInterventionTimeout: nobody acts; the timeout rejects (or, with
// onTimeout RESUME, resumes), also after a restart of the engine.
func TestManualInterventionTimeout(t *testing.T) {
	for _, action := range []spec.InterventionTimeoutAction{spec.InterventionReject, spec.InterventionResume} {
		t.Run(string(action), func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				f := newMIFixture(t, db, func(e *spec.EnvironmentSpec) { e.Job.Tasks[1].OnTimeout = action })
				rel := f.newRelease("41")
				dep := f.deployment(rel.ID, "prod")
				f.runJob(dep.ID, f.agent(), 0, "SUCCEEDED")
				mi := f.pending(dep.ID)
				f.clk.Advance(59 * time.Minute)
				f.runTimers()
				f.pending(dep.ID) // not yet
				f.restart()       // the server restarts mid-intervention
				f.clk.Advance(2 * time.Minute)
				if n := f.runTimers(); n != 1 {
					t.Fatalf("ran %d timers, want 1", n)
				}
				got := f.intervention(mi.ID)
				if action == spec.InterventionReject {
					if got.Status != manualintervention.StatusREJECTED || got.DecidedBy != nil {
						t.Fatalf("intervention %+v", got)
					}
					f.wantState(rel.ID, "prod", "REJECTED/REJECTED")
					return
				}
				if got.Status != manualintervention.StatusRESUMED {
					t.Fatalf("intervention %+v", got)
				}
				f.runJob(dep.ID, f.agent(), 1, "SUCCEEDED")
				f.wantState(rel.ID, "prod", "SUCCEEDED/SUCCEEDED")
			})
		})
	}
}

// TestManualInterventionCancel: canceling the deployment cancels the
// waiting intervention, and its timeout does nothing afterwards.
func TestManualInterventionCancel(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newMIFixture(t, db)
		rel := f.newRelease("41")
		dep := f.deployment(rel.ID, "prod")
		f.runJob(dep.ID, f.agent(), 0, "SUCCEEDED")
		mi := f.pending(dep.ID)
		if _, err := f.e.CancelDeployment(f.ctx, f.bob, dep.ID, "wrong build"); err != nil {
			t.Fatal(err)
		}
		f.wantState(rel.ID, "prod", "CANCELED/CANCELED")
		if got := f.intervention(mi.ID); got.Status != manualintervention.StatusCANCELED {
			t.Fatalf("intervention %s after cancel", got.Status)
		}
		left, err := f.c.Timer.Query().Where(timer.TargetID(mi.ID), timer.DoneAtIsNil()).Count(f.ctx)
		if err != nil || left != 0 {
			t.Fatalf("%d live timers of the intervention, %v", left, err)
		}
		_, err = f.e.ResumeManualIntervention(f.ctx, f.alice, mi.ID, "")
		wantCode(t, err, delivery.CodeConflict)
	})
}

// TestManualInterventionRace races a resume, a reject, a cancel and the
// timeout on one waiting intervention: exactly one wins, the others fail
// cleanly, and the deployment ends consistent with the winner.
func TestManualInterventionRace(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newMIFixture(t, db)
		for round := range 3 {
			rel := f.newRelease(string(rune('a' + round)))
			dep := f.deployment(rel.ID, "prod")
			f.runJob(dep.ID, f.agent(), 0, "SUCCEEDED")
			mi := f.pending(dep.ID)
			f.clk.Advance(2 * time.Hour) // the timeout is due too
			var wg sync.WaitGroup
			errs := make([]error, 4)
			acts := []func() error{
				func() error { _, err := f.e.ResumeManualIntervention(f.ctx, f.alice, mi.ID, "go"); return err },
				func() error { _, err := f.e.RejectManualIntervention(f.ctx, f.alice, mi.ID, "stop"); return err },
				func() error { _, err := f.e.CancelDeployment(f.ctx, f.bob, dep.ID, "cancel"); return err },
				func() error { _, err := f.e.RunDueTimers(f.ctx); return err },
			}
			for i, act := range acts {
				wg.Add(1)
				go func() { defer wg.Done(); errs[i] = act() }()
			}
			wg.Wait()
			got := f.intervention(mi.ID)
			if got.Status == manualintervention.StatusPENDING {
				t.Fatalf("round %d: still pending; errors %v", round, errs)
			}
			decided := 0
			for _, a := range []string{"intervention.resume", "intervention.reject", "intervention.cancel"} {
				decided += f.auditsOf(a, mi.ID)
			}
			if decided != 1 {
				t.Fatalf("round %d: the intervention was decided %d times; errors %v", round, decided, errs)
			}
			state := f.state(rel.ID, "prod")
			want := map[manualintervention.Status]string{
				manualintervention.StatusRESUMED:  "IN_PROGRESS/IN_PROGRESS",
				manualintervention.StatusREJECTED: "REJECTED/REJECTED",
				manualintervention.StatusCANCELED: "CANCELED/CANCELED",
			}[got.Status]
			if got.Status == manualintervention.StatusRESUMED && errs[2] == nil {
				want = "CANCELED/CANCELED" // the cancel came after the resume, on the next job
			}
			if state != want {
				t.Fatalf("round %d: intervention %s but deployment %s, want %s", round, got.Status, state, want)
			}
			for i, err := range errs {
				if err != nil && delivery.CodeOf(err) != delivery.CodeConflict {
					t.Fatalf("round %d: action %d failed with %v", round, i, err)
				}
			}
			if state == "IN_PROGRESS/IN_PROGRESS" {
				if _, err := f.e.CancelDeployment(f.ctx, f.bob, dep.ID, "done racing"); err != nil {
					t.Fatal(err)
				}
			}
		}
		f.verifyChain()
	})
}

// auditsOf counts the audit events of an action on one intervention.
func (f *fixture) auditsOf(action string, target int) int {
	f.t.Helper()
	n, err := f.c.AuditEvent.Query().
		Where(auditevent.Action(action), auditevent.TargetType("manualIntervention"), auditevent.TargetID(strconv.Itoa(target))).Count(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// TestManualInterventionHoldsQueueSlot: with one slot, a later release waits
// while the earlier one's intervention waits, and runs once it is done.
func TestManualInterventionHoldsQueueSlot(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newMIFixture(t, db, queue(spec.QueuePolicy{MaxParallel: 1}))
		r1 := f.newRelease("1")
		d1 := f.deployment(r1.ID, "prod")
		f.runJob(d1.ID, f.agent(), 0, "SUCCEEDED")
		mi := f.pending(d1.ID)
		r2 := f.newRelease("2")
		d2 := f.deployment(r2.ID, "prod")
		if j := f.job(d2.ID); j != nil {
			t.Fatalf("release 2 got job %d while release 1 waits at its intervention", j.ID)
		}
		f.wantState(r2.ID, "prod", "QUEUED/QUEUED")
		if _, err := f.e.ResumeManualIntervention(f.ctx, f.alice, mi.ID, ""); err != nil {
			t.Fatal(err)
		}
		if j := f.job(d2.ID); j != nil {
			t.Fatalf("release 2 got job %d while release 1 runs its last phase", j.ID)
		}
		f.runJob(d1.ID, f.agent(), 0, "SUCCEEDED")
		f.wantState(r1.ID, "prod", "SUCCEEDED/SUCCEEDED")
		if j := f.job(d2.ID); j == nil || j.Status != job.StatusQUEUED {
			t.Fatalf("release 2's job after release 1 finished: %+v", j)
		}
	})
}

// TestManualInterventionFirstAndAlone: an intervention first in the tasks
// starts the deployment without an agent; one that is the only task ends it
// without any job; without approvers, whoever may manage deployments acts.
func TestManualInterventionFirstAndAlone(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newMIFixture(t, db)
		viewer := f.user("vera", "VIEWER")
		snap := snapshot("gate", environment("qa", afterRelease, tasks(intervention("go?"), script("deploy"))),
			environment("prod", after("qa"), tasks(intervention("sign-off"))))
		def := f.definition(snap)
		rel := f.release(f.admin, def, "7")
		qa := f.deployment(rel.ID, "qa")
		f.wantState(rel.ID, "qa", "IN_PROGRESS/WAITING_FOR_INTERVENTION")
		if j := f.job(qa.ID); j != nil {
			t.Fatalf("qa has job %d before its first intervention was resumed", j.ID)
		}
		mi := f.pending(qa.ID)
		// It names nobody: it is pending for those who may manage qa's deployments.
		for _, c := range []struct {
			who  delivery.Actor
			want int
		}{{f.bob, 1}, {viewer, 0}, {f.admin, 1}} {
			if list, err := f.e.PendingInterventionsFor(f.ctx, c.who); err != nil || len(list) != c.want {
				t.Fatalf("%s's pending interventions: %v, %v; want %d", c.who.Username, list, err, c.want)
			}
		}
		_, err := f.e.ResumeManualIntervention(f.ctx, viewer, mi.ID, "")
		wantCode(t, err, delivery.CodeForbidden) // a VIEWER may not manage deployments
		if _, err := f.e.ResumeManualIntervention(f.ctx, f.bob, mi.ID, ""); err != nil {
			t.Fatal(err)
		}
		if j := f.job(qa.ID); j == nil || j.Phase != 1 || j.LogBase != 0 {
			t.Fatalf("qa's job after the intervention: %+v", j)
		}
		f.runJob(qa.ID, f.agent(), 1, "SUCCEEDED")
		f.wantState(rel.ID, "qa", "SUCCEEDED/SUCCEEDED")
		prod := f.deployment(rel.ID, "prod")
		if _, err := f.e.ResumeManualIntervention(f.ctx, f.bob, f.pending(prod.ID).ID, "signed"); err != nil {
			t.Fatal(err)
		}
		f.wantState(rel.ID, "prod", "SUCCEEDED/SUCCEEDED")
		if j := f.job(prod.ID); j != nil {
			t.Fatalf("prod, whose only task is an intervention, has job %d", j.ID)
		}
	})
}

// TestManualInterventionHiddenDefinition: a person who may not read the
// definition gets NOT_FOUND, as for a missing intervention.
func TestManualInterventionHiddenDefinition(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newMIFixture(t, db)
		rel := f.newRelease("41")
		dep := f.deployment(rel.ID, "prod")
		f.runJob(dep.ID, f.agent(), 0, "SUCCEEDED")
		mi := f.pending(dep.ID)
		f.group("ops", f.bob)
		if err := f.c.ReleaseDefinition.UpdateOneID(f.def).SetReaders([]string{"ops"}).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
		_, err := f.e.ResumeManualIntervention(f.ctx, f.alice, mi.ID, "")
		wantCode(t, err, delivery.CodeNotFound)
		_, err = f.e.ResumeManualIntervention(f.ctx, f.alice, mi.ID+100000, "")
		wantCode(t, err, delivery.CodeNotFound)
		if list, err := f.e.PendingInterventionsFor(f.ctx, f.alice); err != nil || len(list) != 0 {
			t.Fatalf("alice sees %v, %v", list, err)
		}
		// Reads in alice's scope (node(id), edges) leave it out; bob's keep it.
		for _, c := range []struct {
			who  delivery.Actor
			want int
		}{{f.alice, 0}, {f.bob, 1}} {
			ctx, err := f.e.WithReadScope(f.ctx, c.who)
			if err != nil {
				t.Fatal(err)
			}
			if n := f.c.ManualIntervention.Query().Where(manualintervention.ID(mi.ID)).CountX(ctx); n != c.want {
				t.Errorf("%s reads %d interventions, want %d", c.who.Username, n, c.want)
			}
		}
	})
}

// pollBus is a Subscriber whose subscriptions close after a moment: the
// follower re-reads the database on each, as after a lagging subscription.
type pollBus struct{}

func (pollBus) Subscribe() (<-chan delivery.Event, func()) {
	ch := make(chan delivery.Event)
	go func() { time.Sleep(20 * time.Millisecond); close(ch) }()
	return ch, func() {}
}

// TestFollowLogAcrossPhases: a deployment's log stream stays open while it
// waits at a manual intervention and ends after the last phase's job.
func TestFollowLogAcrossPhases(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newMIFixture(t, db)
		rel := f.newRelease("41")
		dep := f.deployment(rel.ID, "prod")
		agentID := f.agent()
		f.runJob(dep.ID, agentID, 2, "SUCCEEDED")
		lines, err := f.e.FollowDeploymentLog(t.Context(), f.admin, pollBus{}, dep.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		next := func() (*delivery.LogLine, bool) {
			select {
			case l, ok := <-lines:
				return l, ok
			case <-time.After(10 * time.Second):
				t.Fatal("no log line")
				return nil, false
			}
		}
		for want := int64(1); want <= 2; want++ {
			if l, ok := next(); !ok || l.Seq != want {
				t.Fatalf("line %v (open %v), want seq %d", l, ok, want)
			}
		}
		select {
		case l, ok := <-lines:
			t.Fatalf("the stream sent %v (open %v) while the deployment waits at its intervention", l, ok)
		case <-time.After(300 * time.Millisecond):
		}
		if _, err := f.e.ResumeManualIntervention(f.ctx, f.alice, f.pending(dep.ID).ID, ""); err != nil {
			t.Fatal(err)
		}
		f.runJob(dep.ID, agentID, 3, "SUCCEEDED")
		for want := int64(3); want <= 5; want++ {
			if l, ok := next(); !ok || l.Seq != want || l.Text != "smoke line" {
				t.Fatalf("line %+v (open %v), want seq %d of smoke", l, ok, want)
			}
		}
		if l, ok := next(); ok {
			t.Fatalf("the stream goes on after the last phase: %+v", l)
		}
	})
}
