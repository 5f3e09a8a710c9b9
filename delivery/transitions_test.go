package delivery

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/manualintervention"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
)

// checkMachine walks every (state, event) pair of a machine against want,
// written out independently below: allowed pairs lead to their state, every
// other pair fails with a *TransitionError that is a CONFLICT.
func checkMachine[S ~string, E ~string](t *testing.T, m transitions[S, E], states []S, events []E, want map[string]S) {
	t.Helper()
	for k := range want {
		parts := strings.SplitN(k, " ", 2)
		if len(parts) != 2 {
			t.Fatalf("bad key %q", k)
		}
	}
	seen := 0
	for _, s := range states {
		for _, ev := range events {
			key := string(s) + " " + string(ev)
			to, err := m.apply(7, s, ev)
			exp, ok := want[key]
			if ok {
				seen++
				if err != nil || to != exp {
					t.Errorf("%s %s: %s --%s--> %s, %v; want %s", m.entity, key, s, ev, to, err, exp)
				}
				if !m.allows(s, ev) {
					t.Errorf("%s %s: allows false", m.entity, key)
				}
				continue
			}
			var te *TransitionError
			if !errors.As(err, &te) || CodeOf(err) != CodeConflict || !errors.Is(err, ErrConflict) {
				t.Errorf("%s %s: got %s, %v; want a TransitionError", m.entity, key, to, err)
				continue
			}
			if te.From != string(s) || te.Event != string(ev) || te.Entity != m.entity+" 7" {
				t.Errorf("%s %s: error %+v", m.entity, key, te)
			}
			if to != s {
				t.Errorf("%s %s: refused transition moved to %s", m.entity, key, to)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("%s: %d of %d expected transitions use a known state and event", m.entity, seen, len(want))
	}
	// The table has no edge that is not expected.
	for s, evs := range m.next {
		for ev := range evs {
			if _, ok := want[string(s)+" "+string(ev)]; !ok {
				t.Errorf("%s: unexpected edge %s --%s-->", m.entity, s, ev)
			}
		}
	}
}

func TestDeploymentTransitions(t *testing.T) {
	states := []deployment.Status{
		deployment.StatusPENDING_APPROVAL, deployment.StatusEVALUATING_GATES, deployment.StatusSCHEDULED, deployment.StatusQUEUED,
		deployment.StatusIN_PROGRESS, deployment.StatusPENDING_POST_APPROVAL, deployment.StatusEVALUATING_POST_GATES, deployment.StatusSUCCEEDED,
		deployment.StatusPARTIALLY_SUCCEEDED, deployment.StatusFAILED, deployment.StatusREJECTED, deployment.StatusCANCELED,
	}
	events := []DeploymentEvent{
		DeploymentDefer, DeploymentQueue, DeploymentStart, DeploymentCompleteJob, DeploymentSucceed,
		DeploymentSucceedPartially, DeploymentFail, DeploymentReject, DeploymentTimeOut, DeploymentCancel,
		DeploymentRequestCancel, DeploymentSupersede, DeploymentEvaluateGates, DeploymentPassGates,
	}
	for _, s := range states {
		if err := deployment.StatusValidator(s); err != nil {
			t.Fatal(err)
		}
	}
	checkMachine(t, deploymentMachine, states, events, map[string]deployment.Status{
		"PENDING_APPROVAL defer":                 deployment.StatusSCHEDULED,
		"PENDING_APPROVAL queue":                 deployment.StatusQUEUED,
		"PENDING_APPROVAL reject":                deployment.StatusREJECTED,
		"PENDING_APPROVAL timeOut":               deployment.StatusREJECTED,
		"PENDING_APPROVAL cancel":                deployment.StatusCANCELED,
		"PENDING_APPROVAL supersede":             deployment.StatusCANCELED,
		"PENDING_APPROVAL evaluateGates":         deployment.StatusEVALUATING_GATES,
		"EVALUATING_GATES passGates":             deployment.StatusPENDING_APPROVAL,
		"EVALUATING_GATES timeOut":               deployment.StatusREJECTED,
		"EVALUATING_GATES cancel":                deployment.StatusCANCELED,
		"EVALUATING_GATES supersede":             deployment.StatusCANCELED,
		"SCHEDULED queue":                        deployment.StatusQUEUED,
		"SCHEDULED cancel":                       deployment.StatusCANCELED,
		"SCHEDULED supersede":                    deployment.StatusCANCELED,
		"QUEUED start":                           deployment.StatusIN_PROGRESS,
		"QUEUED fail":                            deployment.StatusFAILED,
		"QUEUED cancel":                          deployment.StatusCANCELED,
		"QUEUED requestCancel":                   deployment.StatusQUEUED,
		"QUEUED supersede":                       deployment.StatusCANCELED,
		"IN_PROGRESS completeJob":                deployment.StatusPENDING_POST_APPROVAL,
		"IN_PROGRESS fail":                       deployment.StatusFAILED,
		"IN_PROGRESS reject":                     deployment.StatusREJECTED,
		"IN_PROGRESS timeOut":                    deployment.StatusREJECTED,
		"IN_PROGRESS cancel":                     deployment.StatusCANCELED,
		"IN_PROGRESS requestCancel":              deployment.StatusIN_PROGRESS,
		"PENDING_POST_APPROVAL succeed":          deployment.StatusSUCCEEDED,
		"PENDING_POST_APPROVAL succeedPartially": deployment.StatusPARTIALLY_SUCCEEDED,
		"PENDING_POST_APPROVAL reject":           deployment.StatusREJECTED,
		"PENDING_POST_APPROVAL timeOut":          deployment.StatusREJECTED,
		"PENDING_POST_APPROVAL cancel":           deployment.StatusCANCELED,
		"PENDING_POST_APPROVAL evaluateGates":    deployment.StatusEVALUATING_POST_GATES,
		"EVALUATING_POST_GATES passGates":        deployment.StatusPENDING_POST_APPROVAL,
		"EVALUATING_POST_GATES timeOut":          deployment.StatusREJECTED,
		"EVALUATING_POST_GATES cancel":           deployment.StatusCANCELED,
	})
	for _, s := range states {
		final := s == deployment.StatusSUCCEEDED || s == deployment.StatusPARTIALLY_SUCCEEDED ||
			s == deployment.StatusFAILED || s == deployment.StatusREJECTED || s == deployment.StatusCANCELED
		if deploymentFinal(s) != final {
			t.Errorf("deploymentFinal(%s) = %v", s, !final)
		}
	}
}

func TestEnvironmentTransitions(t *testing.T) {
	states := []releaseenvironment.Status{
		releaseenvironment.StatusNOT_STARTED, releaseenvironment.StatusPENDING_APPROVAL, releaseenvironment.StatusEVALUATING_GATES,
		releaseenvironment.StatusSCHEDULED, releaseenvironment.StatusQUEUED, releaseenvironment.StatusIN_PROGRESS,
		releaseenvironment.StatusWAITING_FOR_INTERVENTION,
		releaseenvironment.StatusPENDING_POST_APPROVAL, releaseenvironment.StatusEVALUATING_POST_GATES,
		releaseenvironment.StatusSUCCEEDED, releaseenvironment.StatusPARTIALLY_SUCCEEDED,
		releaseenvironment.StatusREJECTED, releaseenvironment.StatusCANCELED, releaseenvironment.StatusFAILED,
	}
	events := []EnvironmentEvent{
		EnvironmentDeploy, EnvironmentSchedule, EnvironmentQueue, EnvironmentStart, EnvironmentCompleteJob, EnvironmentSucceed,
		EnvironmentAwaitIntervention, EnvironmentResumeIntervention,
		EnvironmentSucceedPartially, EnvironmentFail, EnvironmentReject, EnvironmentCancel,
		EnvironmentEvaluateGates, EnvironmentPassGates, EnvironmentPassPostGates,
	}
	checkMachine(t, environmentMachine, states, events, map[string]releaseenvironment.Status{
		"NOT_STARTED deploy":                          releaseenvironment.StatusPENDING_APPROVAL,
		"SUCCEEDED deploy":                            releaseenvironment.StatusPENDING_APPROVAL,
		"PARTIALLY_SUCCEEDED deploy":                  releaseenvironment.StatusPENDING_APPROVAL,
		"REJECTED deploy":                             releaseenvironment.StatusPENDING_APPROVAL,
		"CANCELED deploy":                             releaseenvironment.StatusPENDING_APPROVAL,
		"FAILED deploy":                               releaseenvironment.StatusPENDING_APPROVAL,
		"PENDING_APPROVAL evaluateGates":              releaseenvironment.StatusEVALUATING_GATES,
		"PENDING_APPROVAL schedule":                   releaseenvironment.StatusSCHEDULED,
		"PENDING_APPROVAL queue":                      releaseenvironment.StatusQUEUED,
		"PENDING_APPROVAL reject":                     releaseenvironment.StatusREJECTED,
		"PENDING_APPROVAL cancel":                     releaseenvironment.StatusCANCELED,
		"EVALUATING_GATES passGates":                  releaseenvironment.StatusPENDING_APPROVAL,
		"EVALUATING_GATES passPostGates":              releaseenvironment.StatusPENDING_POST_APPROVAL,
		"EVALUATING_GATES reject":                     releaseenvironment.StatusREJECTED,
		"EVALUATING_GATES cancel":                     releaseenvironment.StatusCANCELED,
		"SCHEDULED queue":                             releaseenvironment.StatusQUEUED,
		"SCHEDULED cancel":                            releaseenvironment.StatusCANCELED,
		"QUEUED start":                                releaseenvironment.StatusIN_PROGRESS,
		"QUEUED fail":                                 releaseenvironment.StatusFAILED,
		"QUEUED cancel":                               releaseenvironment.StatusCANCELED,
		"QUEUED queue":                                releaseenvironment.StatusQUEUED,
		"QUEUED evaluateGates":                        releaseenvironment.StatusEVALUATING_GATES,
		"QUEUED schedule":                             releaseenvironment.StatusSCHEDULED,
		"QUEUED reject":                               releaseenvironment.StatusREJECTED,
		"IN_PROGRESS completeJob":                     releaseenvironment.StatusPENDING_POST_APPROVAL,
		"IN_PROGRESS awaitIntervention":               releaseenvironment.StatusWAITING_FOR_INTERVENTION,
		"WAITING_FOR_INTERVENTION resumeIntervention": releaseenvironment.StatusIN_PROGRESS,
		"WAITING_FOR_INTERVENTION reject":             releaseenvironment.StatusREJECTED,
		"WAITING_FOR_INTERVENTION fail":               releaseenvironment.StatusFAILED,
		"WAITING_FOR_INTERVENTION cancel":             releaseenvironment.StatusCANCELED,
		"IN_PROGRESS fail":                            releaseenvironment.StatusFAILED,
		"IN_PROGRESS reject":                          releaseenvironment.StatusREJECTED,
		"IN_PROGRESS cancel":                          releaseenvironment.StatusCANCELED,
		"IN_PROGRESS evaluateGates":                   releaseenvironment.StatusEVALUATING_POST_GATES,
		"IN_PROGRESS succeed":                         releaseenvironment.StatusSUCCEEDED,
		"IN_PROGRESS succeedPartially":                releaseenvironment.StatusPARTIALLY_SUCCEEDED,
		"PENDING_POST_APPROVAL evaluateGates":         releaseenvironment.StatusEVALUATING_POST_GATES,
		"PENDING_POST_APPROVAL succeed":               releaseenvironment.StatusSUCCEEDED,
		"PENDING_POST_APPROVAL succeedPartially":      releaseenvironment.StatusPARTIALLY_SUCCEEDED,
		"PENDING_POST_APPROVAL reject":                releaseenvironment.StatusREJECTED,
		"PENDING_POST_APPROVAL cancel":                releaseenvironment.StatusCANCELED,
		"EVALUATING_POST_GATES passPostGates":         releaseenvironment.StatusPENDING_POST_APPROVAL,
		"EVALUATING_POST_GATES reject":                releaseenvironment.StatusREJECTED,
		"EVALUATING_POST_GATES cancel":                releaseenvironment.StatusCANCELED,
	})
}

// TestEnvironmentSpeaksItsDeploymentsWords: for every deployment edge, the
// environment event the engine applies with it leads the environment to the
// deployment's new status, by name: one status vocabulary.
func TestEnvironmentSpeaksItsDeploymentsWords(t *testing.T) {
	mirror := map[DeploymentEvent]EnvironmentEvent{
		DeploymentDefer: EnvironmentSchedule, DeploymentQueue: EnvironmentQueue, DeploymentStart: EnvironmentStart,
		DeploymentCompleteJob: EnvironmentCompleteJob, DeploymentSucceed: EnvironmentSucceed,
		DeploymentSucceedPartially: EnvironmentSucceedPartially, DeploymentFail: EnvironmentFail,
		DeploymentReject: EnvironmentReject, DeploymentTimeOut: EnvironmentReject, DeploymentCancel: EnvironmentCancel,
		DeploymentSupersede: EnvironmentCancel, DeploymentEvaluateGates: EnvironmentEvaluateGates,
		DeploymentPassGates: EnvironmentPassGates,
	}
	for from, edges := range deploymentMachine.next {
		for ev, to := range edges {
			if ev == DeploymentRequestCancel {
				continue // the state stays until the agent reports
			}
			envEv, ok := mirror[ev]
			if !ok {
				t.Errorf("deployment event %s has no environment event", ev)
				continue
			}
			if ev == DeploymentPassGates && from == deployment.StatusEVALUATING_POST_GATES {
				envEv = EnvironmentPassPostGates
			}
			envFrom := []releaseenvironment.Status{releaseenvironment.Status(from)}
			if from == deployment.StatusIN_PROGRESS && ev != DeploymentStart && ev != DeploymentCompleteJob {
				// Held at a manual intervention, the deployment is IN_PROGRESS
				// and may end from there too.
				envFrom = append(envFrom, releaseenvironment.StatusWAITING_FOR_INTERVENTION)
			}
			for _, ef := range envFrom {
				got, err := environmentMachine.apply(1, ef, envEv)
				if err != nil || string(got) != string(to) {
					t.Errorf("deployment %s --%s--> %s, environment %s --%s--> %s (%v)", from, ev, to, ef, envEv, got, err)
				}
			}
		}
	}
}

func TestApprovalTransitions(t *testing.T) {
	states := []approval.Status{
		approval.StatusPENDING, approval.StatusAPPROVED, approval.StatusREJECTED, approval.StatusREASSIGNED,
		approval.StatusSKIPPED, approval.StatusCANCELED, approval.StatusTIMED_OUT,
	}
	events := []ApprovalEvent{ApprovalApprove, ApprovalReject, ApprovalReassign, ApprovalSkip, ApprovalCancel, ApprovalTimeOut}
	checkMachine(t, approvalMachine, states, events, map[string]approval.Status{
		"PENDING approve":  approval.StatusAPPROVED,
		"PENDING reject":   approval.StatusREJECTED,
		"PENDING reassign": approval.StatusREASSIGNED,
		"PENDING skip":     approval.StatusSKIPPED,
		"PENDING cancel":   approval.StatusCANCELED,
		"PENDING timeOut":  approval.StatusTIMED_OUT,
	})
}

func TestInterventionTransitions(t *testing.T) {
	states := []manualintervention.Status{
		manualintervention.StatusPENDING, manualintervention.StatusRESUMED, manualintervention.StatusREJECTED,
		manualintervention.StatusCANCELED,
	}
	events := []InterventionEvent{InterventionResume, InterventionReject, InterventionCancel}
	checkMachine(t, interventionMachine, states, events, map[string]manualintervention.Status{
		"PENDING resume": manualintervention.StatusRESUMED,
		"PENDING reject": manualintervention.StatusREJECTED,
		"PENDING cancel": manualintervention.StatusCANCELED,
	})
}

func TestJobTransitions(t *testing.T) {
	states := []job.Status{
		job.StatusQUEUED, job.StatusASSIGNED, job.StatusRUNNING, job.StatusSUCCEEDED,
		job.StatusPARTIALLY_SUCCEEDED, job.StatusFAILED, job.StatusCANCELED, job.StatusLOST, job.StatusSKIPPED,
	}
	events := []JobEvent{JobAssign, JobStart, JobSucceed, JobSucceedPartially, JobFail, JobCancel, JobLose, JobRequeue, JobSkip}
	checkMachine(t, jobMachine, states, events, map[string]job.Status{
		"QUEUED assign":            job.StatusASSIGNED,
		"QUEUED skip":              job.StatusSKIPPED,
		"QUEUED start":             job.StatusRUNNING,
		"QUEUED cancel":            job.StatusCANCELED,
		"ASSIGNED start":           job.StatusRUNNING,
		"ASSIGNED fail":            job.StatusFAILED,
		"ASSIGNED cancel":          job.StatusCANCELED,
		"ASSIGNED lose":            job.StatusLOST,
		"ASSIGNED requeue":         job.StatusQUEUED,
		"RUNNING succeed":          job.StatusSUCCEEDED,
		"RUNNING succeedPartially": job.StatusPARTIALLY_SUCCEEDED,
		"RUNNING fail":             job.StatusFAILED,
		"RUNNING cancel":           job.StatusCANCELED,
		"RUNNING lose":             job.StatusLOST,
	})
	for _, s := range states {
		active := s == job.StatusQUEUED || s == job.StatusASSIGNED || s == job.StatusRUNNING
		if jobActive(s) != active {
			t.Errorf("jobActive(%s) = %v", s, !active)
		}
	}
}

func TestReleaseTransitions(t *testing.T) {
	checkMachine(t, releaseMachine, []release.Status{release.StatusDRAFT, release.StatusACTIVE, release.StatusABANDONED},
		[]ReleaseEvent{ReleaseAbandon, ReleaseStart}, map[string]release.Status{
			"ACTIVE abandon": release.StatusABANDONED, "DRAFT start": release.StatusACTIVE})
}

func TestTransitionErrorMessage(t *testing.T) {
	_, err := approvalMachine.apply(12, approval.StatusAPPROVED, ApprovalApprove)
	if got, want := err.Error(), "approval 12: cannot approve while APPROVED"; got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
}

func TestFormatReleaseName(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	long := strings.Repeat("x", 400)
	for _, tc := range []struct{ format, want string }{
		{"Release-$(rev:r)", "Release-7"},
		{"", "Release-7"},
		{"R$(rev:rrr)", "R007"},
		{"$(Build.BuildNumber)-$(rev:r)", "1.2.3-7"},
		{"nightly-$(Date:yyyyMMdd)", "nightly-20250102"},
		{"$(Date:yyyy-MM-dd HH:mm:ss)", "2025-01-02 03:04:05"},
		{"$(Date:yy.M)", "25.M"},
		{"$(Date)", "20250102"},
		{"$(Release.DefinitionName) $(rev:r)", "web 7"},
		{"$(Unknown.Token)-$(rev:r)", "$(Unknown.Token)-7"},
		{"broken $(rev:r", "broken $(rev:r"},
		{"   ", "Release-7"},
		{long, long[:290]},
	} {
		if got := formatReleaseName(tc.format, 7, "1.2.3", "web", now); got != tc.want {
			t.Errorf("formatReleaseName(%q) = %q, want %q", tc.format, got, tc.want)
		}
	}
}
