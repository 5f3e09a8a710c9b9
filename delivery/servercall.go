package delivery

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/schema/spec"
)

// The HTTP call of a SERVER phase (an INVOKE_REST_API task, Azure's InvokeRESTAPI in an
// agentless phase). Its step starts a timer due at once; the timer makes the call outside any
// transaction, through the engine's GateCaller (so the outbound networks' rules of gates hold),
// judges the answer with the task's success criteria as an HTTP gate's sample is judged, and
// then, in one transaction, goes on with the next step or fails the step with the reason. The
// timer's lease makes the call at most once per claim: a server that stops mid-call calls
// again after the lease, as a gate samples again.

// timerServerCall makes a SERVER phase's HTTP call (target: deployment; payload:
// serverCallPayload).
const timerServerCall = "deployment.serverCall"

// serverCallPayload names the step whose call the timer makes.
type serverCallPayload struct {
	Step int `json:"step"`
}

// startServerCall starts step k, an INVOKE_REST_API task: the deployment starts if it had not
// (the call is its first step), and the call's timer is due now.
func (t *txn) startServerCall(dc *deployCtx, k int) error {
	if dc.d.Status == deployment.StatusQUEUED {
		if err := t.startWithoutAgent(dc); err != nil {
			return err
		}
	}
	payload, err := json.Marshal(serverCallPayload{Step: k})
	if err != nil {
		return fmt.Errorf("encoding a server call: %w", err)
	}
	return t.createTimer(timerServerCall, dc.d.ID, t.now, string(payload))
}

// runServerCallTimer makes the call of the step the timer names, then records its result: the
// next step starts, or the step fails with the call's detail. A deployment no longer in
// progress (canceled meanwhile) is left as it is.
func (e *Engine) runServerCallTimer(ctx context.Context, tm *ent.Timer) error {
	var p serverCallPayload
	if err := json.Unmarshal([]byte(tm.Payload), &p); err != nil {
		return Invalid("payload", "timer %d has a malformed server call payload: %v", tm.ID, err)
	}
	task, result, err := e.serverCall(ctx, tm.TargetID, p.Step)
	if err != nil {
		return err
	}
	return e.inTx(ctx, func(t *txn) error {
		if err := t.claimTimerRun(tm.ID); err != nil {
			return err
		}
		if task == nil {
			return nil
		}
		dc, err := t.loadDeployment(tm.TargetID)
		if err != nil {
			return err
		}
		if dc.d.Status != deployment.StatusIN_PROGRESS {
			return nil
		}
		if err := t.audit(timerActor, "deployment.serverCall", auditTargetDeployment, dc.d.ID, nil, map[string]any{
			"step": p.Step, "task": task.Name, "passed": result.Passed, "detail": result.Detail}); err != nil {
			return err
		}
		if result.Passed {
			return t.startPhase(timerActor, dc, p.Step+1)
		}
		return t.phaseFailed(timerActor, dc, p.Step, fmt.Sprintf("%s: %s", task.Name, result.Detail))
	})
}

// serverCall makes the HTTP call of step k of a deployment in progress; a nil task when there
// is none to make (the deployment is no longer in progress, or the step is not a call).
func (e *Engine) serverCall(ctx context.Context, deploymentID, k int) (*spec.Task, spec.GateResult, error) {
	d, err := e.client.Deployment.Get(ctx, deploymentID)
	if ent.IsNotFound(err) {
		return nil, spec.GateResult{}, nil
	}
	if err != nil {
		return nil, spec.GateResult{}, fmt.Errorf("reading deployment %d: %w", deploymentID, err)
	}
	if d.Status != deployment.StatusIN_PROGRESS {
		return nil, spec.GateResult{}, nil
	}
	rel, err := e.client.Release.Get(ctx, d.ReleaseID)
	if err != nil {
		return nil, spec.GateResult{}, fmt.Errorf("reading release %d: %w", d.ReleaseID, err)
	}
	env, ok := rel.Snapshot.Environment(d.EnvironmentName)
	if !ok {
		return nil, spec.GateResult{}, fmt.Errorf("release %d has no environment %q in its snapshot", rel.ID, d.EnvironmentName)
	}
	ps := phasesOfEnv(env)
	if k < 0 || k >= len(ps) || ps[k].call == nil {
		return nil, spec.GateResult{}, fmt.Errorf("step %d of deployment %d is not an INVOKE_REST_API task", k, d.ID)
	}
	task := ps[k].call
	vars, secrets, verr := e.textVariables(rel, d)
	var r spec.GateResult
	if verr != nil {
		r = spec.GateResult{Detail: verr.Error()}
	} else {
		r = e.checkHTTPGate(ctx, *task.HTTP, vars, secrets)
	}
	if ctx.Err() != nil {
		return nil, spec.GateResult{}, ctx.Err() // stopping: the timer runs again after its lease
	}
	r.Detail = truncateText(maskSecrets(r.Detail, secrets), maxGateDetail)
	return task, r, nil
}
