package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/gatesample"
	"github.com/cairnhq/cairn/ent/schema/spec"
)

// This file holds deployment gates: server-side checks that an environment's
// pre- or post-deployment stage samples until they all pass (see doc.go,
// "Gates").

// timerGates takes the next sample of a deployment's gates (target:
// deployment; payload: gatesPayload).
const timerGates = "deployment.gates"

// EventGateSampleFailed: a sample of a deployment's gates did not pass
// (Data: stage, number, results); the gates are sampled again until their
// timeout.
const EventGateSampleFailed = "gate.sampleFailed"

// Gate policy defaults and limits.
const (
	DefaultGateIntervalMinutes = 5
	DefaultGateTimeoutMinutes  = 15
	DefaultGateCallSeconds     = 10
	maxGateCallSeconds         = 60
	maxGates                   = 10
	maxGateExpression          = 1000
	maxGateText                = 4000
	maxGateDetail              = 500
	// MaxGateResponseBytes caps the body of an HTTP gate's response that
	// the caller reads and the criteria see.
	MaxGateResponseBytes = 1 << 20
)

// GateRequest is one HTTP gate call, variables already expanded (it may
// hold secrets: never log or store it).
type GateRequest struct {
	Method  string
	URL     string
	Headers map[string]string
	Body    string
	Timeout time.Duration
}

// GateResponse is an HTTP gate's answer: status, headers (lower-case names,
// first value) and at most MaxGateResponseBytes of body.
type GateResponse struct {
	Status  int
	Headers map[string]string
	Body    []byte
}

// GateCaller makes the HTTP calls of gates. delivery declares it and never
// calls the network itself; the server wires an implementation
// (integrations/gates). Calls happen outside every database transaction.
type GateCaller interface {
	CallGate(ctx context.Context, req GateRequest) (GateResponse, error)
}

// gatesPayload is the state of a stage's evaluation, carried from timer to
// timer so that a restart (or another replica) resumes it.
type gatesPayload struct {
	Stage        approval.Stage `json:"stage"`
	StartedAt    time.Time      `json:"startedAt"`
	PassingSince *time.Time     `json:"passingSince,omitempty"`
}

// gatePolicy returns the gate policy of a stage.
func (dc *deployCtx) gatePolicy(stage approval.Stage) spec.GatePolicy {
	if stage == approval.StagePOST {
		return dc.env.PostGates
	}
	return dc.env.PreGates
}

// gatesAfter reports whether p has gates placed in order relative to the
// approvals.
func gatesAfter(p spec.GatePolicy, order spec.GateOrder) bool {
	if len(p.Gates) == 0 {
		return false
	}
	o := p.Order
	if o == "" {
		o = spec.GatesAfterApprovals
	}
	return o == order
}

func stageName(stage approval.Stage) string {
	if stage == approval.StagePOST {
		return "post-deployment"
	}
	return "pre-deployment"
}

// evaluatingStatus is the deployment status while a stage's gates are sampled.
func evaluatingStatus(stage approval.Stage) deployment.Status {
	if stage == approval.StagePOST {
		return deployment.StatusEVALUATING_POST_GATES
	}
	return deployment.StatusEVALUATING_GATES
}

// openApprovals creates a stage's approvals and moves on at once when they
// need nobody.
func (t *txn) openApprovals(actor Actor, dc *deployCtx, stage approval.Stage) error {
	done, err := t.openStage(actor, dc, stage)
	if err != nil || !done {
		return err
	}
	if stage == approval.StagePRE {
		return t.afterPreApproval(actor, dc)
	}
	return t.afterPostApproval(actor, dc)
}

// startGates moves the deployment and its environment to the evaluation of
// a stage's gates; the first sample is due after the policy's delay.
func (t *txn) startGates(actor Actor, dc *deployCtx, stage approval.Stage) error {
	pol := dc.gatePolicy(stage)
	if err := t.moveDeployment(actor, dc, DeploymentEvaluateGates, "", nil); err != nil {
		return err
	}
	if err := t.moveEnvironment(actor, dc, EnvironmentEvaluateGates); err != nil {
		return err
	}
	payload, err := json.Marshal(gatesPayload{Stage: stage, StartedAt: t.now})
	if err != nil {
		return fmt.Errorf("encoding gates payload: %w", err)
	}
	return t.createTimer(timerGates, dc.d.ID, t.now.Add(time.Duration(pol.DelayMinutes)*time.Minute), string(payload))
}

// passGates ends a stage's gate evaluation with success (or a person
// ignoring it): the deployment goes back to the stage, and on to its
// approvals (gates before approvals) or to what follows the stage.
func (t *txn) passGates(actor Actor, dc *deployCtx, stage approval.Stage) error {
	if err := t.moveDeployment(actor, dc, DeploymentPassGates, "", nil); err != nil {
		return err
	}
	envEv := EnvironmentPassGates
	if stage == approval.StagePOST {
		envEv = EnvironmentPassPostGates
	}
	if err := t.moveEnvironment(actor, dc, envEv); err != nil {
		return err
	}
	if err := t.retireTimers(timerGates, dc.d.ID); err != nil {
		return err
	}
	before := gatesAfter(dc.gatePolicy(stage), spec.GatesBeforeApprovals)
	switch {
	case before:
		return t.openApprovals(actor, dc, stage)
	case stage == approval.StagePRE:
		return t.preStageDone(actor, dc)
	default:
		return t.postStageDone(actor, dc)
	}
}

// IgnoreGates lets a deployment past the gates it is evaluating (Azure's
// "ignore gates"): the stage continues as if they had passed. It needs the
// manageDeployments permission on the environment (an ADMIN's override is
// audited); the action is audited as gate.ignore with the comment. A
// deployment that is not evaluating gates is a CONFLICT.
func (e *Engine) IgnoreGates(ctx context.Context, actor Actor, deploymentID int, comment string) (*ent.Deployment, error) {
	return e.deploymentAction(ctx, actor, deploymentID, comment, "ignoring the gates of", func(t *txn, dc *deployCtx) error {
		var stage approval.Stage
		switch dc.d.Status {
		case deployment.StatusEVALUATING_GATES:
			stage = approval.StagePRE
		case deployment.StatusEVALUATING_POST_GATES:
			stage = approval.StagePOST
		default:
			_, err := deploymentMachine.apply(dc.d.ID, dc.d.Status, DeploymentPassGates)
			return err
		}
		if err := t.audit(actor, "gate.ignore", auditTargetDeployment, dc.d.ID, map[string]any{"status": dc.d.Status},
			map[string]any{"stage": stage, "comment": comment}); err != nil {
			return err
		}
		return t.passGates(actor, dc, stage)
	})
}

// runGatesTimer takes one sample of a deployment's gates: the checks run
// before the transaction (HTTP calls never run inside one), which then
// records the sample and decides, if the deployment is still evaluating
// that stage.
func (e *Engine) runGatesTimer(ctx context.Context, tm *ent.Timer) error {
	var p gatesPayload
	if err := json.Unmarshal([]byte(tm.Payload), &p); err != nil {
		return Invalid("payload", "timer %d has a malformed gates payload: %v", tm.ID, err)
	}
	results, err := e.sampleGates(ctx, tm.TargetID, p.Stage)
	if err != nil {
		return err
	}
	return e.inTx(ctx, func(t *txn) error {
		if err := t.claimTimerRun(tm.ID); err != nil {
			return err
		}
		if results == nil {
			return nil
		}
		return t.recordGateSample(p, tm.TargetID, results)
	})
}

// sampleGates evaluates every gate of a deployment's stage concurrently; nil
// when the deployment no longer evaluates that stage.
func (e *Engine) sampleGates(ctx context.Context, deploymentID int, stage approval.Stage) ([]spec.GateResult, error) {
	d, err := e.client.Deployment.Get(ctx, deploymentID)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading deployment %d: %w", deploymentID, err)
	}
	if d.Status != evaluatingStatus(stage) {
		return nil, nil
	}
	rel, err := e.client.Release.Get(ctx, d.ReleaseID)
	if err != nil {
		return nil, fmt.Errorf("reading release %d: %w", d.ReleaseID, err)
	}
	env, ok := rel.Snapshot.Environment(d.EnvironmentName)
	if !ok {
		return nil, fmt.Errorf("release %d has no environment %q in its snapshot", rel.ID, d.EnvironmentName)
	}
	dc := &deployCtx{d: d, rel: rel, env: env}
	gates := dc.gatePolicy(stage).Gates
	vars, secrets, verr := e.textVariables(rel, d)
	results := make([]spec.GateResult, len(gates))
	var wg sync.WaitGroup
	for i, g := range gates {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r spec.GateResult
			switch {
			case g.Kind == spec.GateHTTP && verr != nil:
				r = spec.GateResult{Detail: verr.Error()}
			case g.Kind == spec.GateHTTP && g.HTTP != nil:
				r = e.checkHTTPGate(ctx, *g.HTTP, vars, secrets)
			case g.Kind == spec.GateWorkItems && g.WorkItems != nil:
				r = e.checkWorkItemGate(ctx, rel.ID, *g.WorkItems)
			default:
				r = spec.GateResult{Detail: fmt.Sprintf("gate kind %q cannot be evaluated", g.Kind)}
			}
			r.Gate = g.Name
			r.Detail = truncateText(maskSecrets(r.Detail, secrets), maxGateDetail)
			results[i] = r
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err() // stopping: the timer is retried after its lease
	}
	return results, nil
}

// recordGateSample stores one sample and decides: the stage passes when
// every gate passed and they have kept passing for the minimum success
// duration; the deployment is REJECTED (timeOut) when the timeout passed
// without that; else the next sample is due after the interval (or at the
// timeout, for a last one).
func (t *txn) recordGateSample(p gatesPayload, deploymentID int, results []spec.GateResult) error {
	dc, err := t.loadDeployment(deploymentID)
	if CodeOf(err) == CodeNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if dc.d.Status != evaluatingStatus(p.Stage) {
		return nil // ignored, canceled or superseded meanwhile
	}
	n, err := t.GateSample.Query().Where(gatesample.DeploymentID(dc.d.ID), gatesample.StageEQ(gatesample.Stage(p.Stage))).Count(t.ctx)
	if err != nil {
		return fmt.Errorf("counting gate samples: %w", err)
	}
	passed := len(results) > 0
	for _, r := range results {
		passed = passed && r.Passed
	}
	s, err := t.GateSample.Create().SetDeploymentID(dc.d.ID).SetStage(gatesample.Stage(p.Stage)).
		SetNumber(n + 1).SetTakenAt(t.now).SetPassed(passed).SetResults(results).Save(t.ctx)
	if err != nil {
		return fmt.Errorf("storing gate sample: %w", err)
	}
	if !passed {
		ev := dc.event(EventGateSampleFailed, timerActor)
		ev.Data = map[string]any{"stage": string(p.Stage), "number": s.Number, "sampleId": s.ID, "results": results}
		if err := t.emit(ev); err != nil {
			return err
		}
		p.PassingSince = nil
	} else if p.PassingSince == nil {
		now := t.now
		p.PassingSince = &now
	}
	pol := dc.gatePolicy(p.Stage)
	minSuccess := time.Duration(pol.MinimumSuccessMinutes) * time.Minute
	if passed && !t.now.Before(p.PassingSince.Add(minSuccess)) {
		return t.passGates(timerActor, dc, p.Stage)
	}
	deadline := p.StartedAt.Add(time.Duration(timeoutOf(pol)) * time.Minute)
	if !t.now.Before(deadline) {
		why := fmt.Sprintf("rejected: the %s gates did not pass within %d minutes", stageName(p.Stage), timeoutOf(pol))
		if passed {
			why += fmt.Sprintf(" (they passed, but not for the minimum of %d minutes)", pol.MinimumSuccessMinutes)
		} else {
			why += " (sample " + strconv.Itoa(s.Number) + ": " + failedGates(results) + ")"
		}
		return t.finishDeployment(timerActor, dc, DeploymentTimeOut, truncateText(why, maxActionComment))
	}
	next := t.now.Add(time.Duration(intervalOf(pol)) * time.Minute)
	if passed && p.PassingSince.Add(minSuccess).Before(next) {
		next = p.PassingSince.Add(minSuccess)
	}
	if next.After(deadline) {
		next = deadline
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encoding gates payload: %w", err)
	}
	return t.createTimer(timerGates, dc.d.ID, next, string(payload))
}

func failedGates(results []spec.GateResult) string {
	var parts []string
	for _, r := range results {
		if !r.Passed {
			parts = append(parts, r.Gate+": "+r.Detail)
		}
	}
	return strings.Join(parts, "; ")
}

func timeoutOf(p spec.GatePolicy) int {
	if p.TimeoutMinutes > 0 {
		return p.TimeoutMinutes
	}
	return DefaultGateTimeoutMinutes
}

func intervalOf(p spec.GatePolicy) int {
	if p.IntervalMinutes > 0 {
		return p.IntervalMinutes
	}
	return DefaultGateIntervalMinutes
}

// GateSamples lists a deployment's gate samples, oldest first (for the
// API; the actor must be able to read the deployment's definition).
func (e *Engine) GateSamples(ctx context.Context, actor Actor, deploymentID int) ([]*ent.GateSample, error) {
	d, err := e.client.Deployment.Get(ctx, deploymentID)
	if ent.IsNotFound(err) {
		return nil, NotFound("deployment", deploymentID)
	}
	if err != nil {
		return nil, fmt.Errorf("reading deployment %d: %w", deploymentID, err)
	}
	ok, err := canReadDefinition(ctx, e.client, actor, d.DefinitionID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, NotFound("deployment", deploymentID)
	}
	return e.client.GateSample.Query().Where(gatesample.DeploymentID(deploymentID)).
		Order(ent.Asc(gatesample.FieldID)).All(ctx)
}
