package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/gatesample"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/workitem"
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

// openPreStage opens a new deployment's pre-deployment stage: its gates
// first when they come before the approvals, else its approvals.
func (t *txn) openPreStage(actor Actor, dc *deployCtx) error {
	if gatesAfter(dc.env.PreGates, spec.GatesBeforeApprovals) {
		return t.startGates(actor, dc, approval.StagePRE)
	}
	return t.openApprovals(actor, dc, approval.StagePRE)
}

// openPostStage opens the post-deployment stage of a deployment whose job
// succeeded, in the same way.
func (t *txn) openPostStage(actor Actor, dc *deployCtx) error {
	if gatesAfter(dc.env.PostGates, spec.GatesBeforeApprovals) {
		return t.startGates(actor, dc, approval.StagePOST)
	}
	return t.openApprovals(actor, dc, approval.StagePOST)
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

// textVariables are the variables gates and manual interventions' instructions may name as
// $(NAME), keyed by
// upper-case name: the release's (definition, environment, release
// overrides; secrets opened) and a few of its facts (Release.ReleaseName,
// Release.ReleaseId, Release.EnvironmentName, Release.DefinitionName,
// Release.DeploymentId, Release.AttemptNumber). secrets lists the opened
// secret values, masked in every sample's detail.
func (e *Engine) textVariables(rel *ent.Release, d *ent.Deployment) (map[string]string, []string, error) {
	vars := map[string]string{
		"RELEASE.RELEASENAME":     rel.Name,
		"RELEASE.RELEASEID":       strconv.Itoa(rel.ID),
		"RELEASE.ENVIRONMENTNAME": d.EnvironmentName,
		"RELEASE.DEFINITIONNAME":  rel.Snapshot.Name,
		"RELEASE.DEFINITIONID":    strconv.Itoa(rel.DefinitionID),
		"RELEASE.DEPLOYMENTID":    strconv.Itoa(d.ID),
		"RELEASE.ATTEMPTNUMBER":   strconv.Itoa(d.Attempt),
	}
	var secrets []string
	add := func(vs []spec.Variable) error {
		for _, v := range vs {
			val, err := e.SecretValue(v)
			if err != nil {
				return err
			}
			if v.Secret && val != "" {
				secrets = append(secrets, val)
			}
			vars[strings.ToUpper(v.Name)] = val
		}
		return nil
	}
	var errs []error
	errs = append(errs, add(rel.Snapshot.Variables))
	if env, ok := rel.Snapshot.Environment(d.EnvironmentName); ok {
		errs = append(errs, add(env.Variables))
	}
	errs = append(errs, add(rel.VariableOverrides))
	return vars, secrets, errors.Join(errs...)
}

// gateVarRe matches a variable reference $(NAME).
var gateVarRe = regexp.MustCompile(`\$\(([^()$]*)\)`)

// expandVariables replaces each $(NAME) of s by the variable's value and
// returns the names it does not know, left as written.
func expandVariables(s string, vars map[string]string) (string, []string) {
	var missing []string
	out := gateVarRe.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.TrimSpace(m[2 : len(m)-1])
		v, ok := vars[strings.ToUpper(name)]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return v
	})
	return out, missing
}

// expandGateText is expandVariables where an unknown name is an error (a
// gate that cannot be built fails its sample).
func expandGateText(s string, vars map[string]string) (string, error) {
	out, missing := expandVariables(s, vars)
	if len(missing) > 0 {
		return "", fmt.Errorf("unknown variable $(%s)", strings.Join(missing, "), $("))
	}
	return out, nil
}

func maskSecrets(s string, secrets []string) string {
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, "***")
	}
	return s
}

// gateEnv is what a success criteria expression sees.
type gateEnv struct {
	Status  int               `expr:"status"`
	Body    any               `expr:"body"`
	Text    string            `expr:"text"`
	Headers map[string]string `expr:"headers"`
}

// compileCriteria compiles a success criteria expression; it must be a
// boolean expression over the gateEnv names.
func compileCriteria(src string) (*vm.Program, error) {
	return expr.Compile(src, expr.Env(gateEnv{}), expr.AsBool(), expr.MaxNodes(500))
}

// maxGateBodyPrefix is how much of a failing gate's answer its detail shows.
const maxGateBodyPrefix = 200

// gateBodyPrefix is the start of a gate's answer as its detail shows it: the
// definition's secrets masked first (so a secret cut at the end cannot show
// its beginning), then at most maxGateBodyPrefix bytes, quoted so that
// control characters stay inert. Everyone who may read the definition reads
// the detail, so it never carries more of an internal answer than this.
func gateBodyPrefix(body []byte, secrets []string) string {
	if len(body) == 0 {
		return ""
	}
	masked := maskSecrets(string(body), secrets)
	return fmt.Sprintf("; the answer begins %q", truncateText(masked, maxGateBodyPrefix))
}

// checkHTTPGate calls an HTTP gate and judges its answer. Its detail is the
// status, a fixed verdict and at most a short masked prefix of the body:
// never an evaluation error's text, which may quote the whole body.
func (e *Engine) checkHTTPGate(ctx context.Context, g spec.HTTPGate, vars map[string]string, secrets []string) spec.GateResult {
	fail := func(format string, args ...any) spec.GateResult {
		return spec.GateResult{Detail: fmt.Sprintf(format, args...)}
	}
	if e.gates == nil {
		return fail("this server makes no HTTP gate calls (no gate caller configured)")
	}
	req := GateRequest{Method: g.Method, Headers: map[string]string{}, Timeout: time.Duration(g.TimeoutSeconds) * time.Second}
	if req.Method == "" {
		req.Method = "GET"
	}
	if req.Timeout <= 0 {
		req.Timeout = DefaultGateCallSeconds * time.Second
	}
	var err error
	if req.URL, err = expandGateText(g.URL, vars); err != nil {
		return fail("url: %v", err)
	}
	if req.Body, err = expandGateText(g.Body, vars); err != nil {
		return fail("body: %v", err)
	}
	for _, h := range g.Headers {
		v, err := expandGateText(h.Value, vars)
		if err != nil {
			return fail("header %s: %v", h.Name, err)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return fail("header %s: its value holds a line break once its variables are expanded", h.Name)
		}
		req.Headers[h.Name] = v
	}
	prog, err := compileCriteria(criteriaOf(g))
	if err != nil {
		return fail("successCriteria: %v", err)
	}
	resp, err := e.gates.CallGate(ctx, req)
	if err != nil {
		return fail("calling %s %s: %v", req.Method, req.URL, err)
	}
	env := gateEnv{Status: resp.Status, Text: string(resp.Body), Headers: resp.Headers}
	if env.Headers == nil {
		env.Headers = map[string]string{}
	}
	if len(resp.Body) > 0 {
		var body any
		if json.Unmarshal(resp.Body, &body) == nil {
			env.Body = body
		}
	}
	out, err := expr.Run(prog, env)
	if err != nil {
		return fail("status %d; successCriteria could not be evaluated on this answer%s", resp.Status, gateBodyPrefix(resp.Body, secrets))
	}
	met, isBool := out.(bool)
	if !isBool {
		return fail("status %d; successCriteria gave %T, not true or false", resp.Status, out)
	}
	if met {
		return spec.GateResult{Passed: true, Detail: fmt.Sprintf("status %d; successCriteria met", resp.Status)}
	}
	return fail("status %d; successCriteria not met%s", resp.Status, gateBodyPrefix(resp.Body, secrets))
}

// criteriaOf is a gate's success criteria: any 2xx status by default.
func criteriaOf(g spec.HTTPGate) string {
	if strings.TrimSpace(g.SuccessCriteria) == "" {
		return "status >= 200 && status < 300"
	}
	return g.SuccessCriteria
}

// checkWorkItemGate counts the release's work items that match.
func (e *Engine) checkWorkItemGate(ctx context.Context, releaseID int, g spec.WorkItemGate) spec.GateResult {
	items, err := e.client.WorkItem.Query().Where(workitem.HasReleasesWith(release.ID(releaseID))).
		Order(ent.Asc(workitem.FieldID)).All(ctx)
	if err != nil {
		return spec.GateResult{Detail: "reading the release's work items failed"}
	}
	in := func(list []string, v string) bool {
		return len(list) == 0 || slices.ContainsFunc(list, func(s string) bool { return strings.EqualFold(s, v) })
	}
	tagged := func(w *ent.WorkItem) bool {
		for _, want := range g.Tags {
			if !slices.ContainsFunc(w.Tags, func(s string) bool { return strings.EqualFold(s, want) }) {
				return false
			}
		}
		return true
	}
	var hits []string
	for _, w := range items {
		if in(g.Types, w.Type) && in(g.States, w.State) && tagged(w) {
			hits = append(hits, w.ExternalID)
		}
	}
	detail := fmt.Sprintf("%d of %d work items match (at most %d allowed)", len(hits), len(items), g.MaxCount)
	if len(hits) > 0 {
		shown := hits[:min(len(hits), 5)]
		detail += ": " + strings.Join(shown, ", ")
		if len(hits) > len(shown) {
			detail += ", …"
		}
	}
	return spec.GateResult{Passed: len(hits) <= g.MaxCount, Detail: detail}
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

// normalizeGates applies a gate policy's defaults; a policy without gates
// is the zero policy, so that it stays out of the document.
func normalizeGates(p spec.GatePolicy) spec.GatePolicy {
	if len(p.Gates) == 0 {
		return spec.GatePolicy{}
	}
	if p.Order == "" {
		p.Order = spec.GatesAfterApprovals
	}
	if p.IntervalMinutes == 0 {
		p.IntervalMinutes = DefaultGateIntervalMinutes
	}
	if p.TimeoutMinutes == 0 {
		p.TimeoutMinutes = DefaultGateTimeoutMinutes
	}
	gates := make([]spec.Gate, len(p.Gates))
	for i, g := range p.Gates {
		g.Name = strings.TrimSpace(g.Name)
		g.Kind = spec.GateKind(strings.ToUpper(strings.TrimSpace(string(g.Kind))))
		if g.HTTP != nil {
			h := *g.HTTP
			h.Method = strings.ToUpper(strings.TrimSpace(h.Method))
			if h.Method == "" {
				h.Method = "GET"
			}
			h.URL = strings.TrimSpace(h.URL)
			if h.TimeoutSeconds == 0 {
				h.TimeoutSeconds = DefaultGateCallSeconds
			}
			h.Headers = slices.Clone(h.Headers)
			for j := range h.Headers {
				h.Headers[j].Name = strings.TrimSpace(h.Headers[j].Name)
			}
			g.HTTP = &h
		}
		if g.WorkItems != nil {
			w := *g.WorkItems
			w.Types, w.States, w.Tags = trimAll(w.Types), trimAll(w.States), trimAll(w.Tags)
			g.WorkItems = &w
		}
		gates[i] = g
	}
	p.Gates = gates
	return p
}

var (
	headerNameRe = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_` + "`" + `|~-]{1,100}$`)
	gateMethods  = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}
)

// validateGates checks a normalized gate policy.
func validateGates(p *problems, f string, pol spec.GatePolicy) {
	if len(pol.Gates) == 0 {
		return
	}
	switch pol.Order {
	case spec.GatesAfterApprovals, spec.GatesBeforeApprovals:
	default:
		p.add(f+".order", "unknown gate order %q; use AFTER_APPROVALS or BEFORE_APPROVALS", pol.Order)
	}
	if len(pol.Gates) > maxGates {
		p.add(f+".gates", "has %d gates; at most %d are allowed", len(pol.Gates), maxGates)
	}
	const maxMinutes = 30 * 24 * 60
	for _, m := range []struct {
		name string
		v    int
	}{{"delayMinutes", pol.DelayMinutes}, {"intervalMinutes", pol.IntervalMinutes}, {"timeoutMinutes", pol.TimeoutMinutes}, {"minimumSuccessMinutes", pol.MinimumSuccessMinutes}} {
		if m.v < 0 || m.v > maxMinutes {
			p.add(f+"."+m.name, "is %d; it must be between 0 and %d (30 days)", m.v, maxMinutes)
		}
	}
	if pol.DelayMinutes >= pol.TimeoutMinutes {
		p.add(f+".delayMinutes", "is %d but the timeout is %d minutes: the gates would time out before their first sample", pol.DelayMinutes, pol.TimeoutMinutes)
	}
	if pol.DelayMinutes+pol.MinimumSuccessMinutes > pol.TimeoutMinutes {
		p.add(f+".minimumSuccessMinutes", "is %d; with a delay of %d it cannot be met within the timeout of %d minutes", pol.MinimumSuccessMinutes, pol.DelayMinutes, pol.TimeoutMinutes)
	}
	names := map[string]bool{}
	for i, g := range pol.Gates {
		gf := fmt.Sprintf("%s.gates[%d]", f, i)
		switch {
		case g.Name == "":
			p.add(gf+".name", "a gate needs a name")
		case len(g.Name) > 100 || hasControl(g.Name):
			p.add(gf+".name", "must be at most 100 bytes without control characters")
		case names[strings.ToLower(g.Name)]:
			p.add(gf+".name", "gate %q is defined twice", g.Name)
		}
		names[strings.ToLower(g.Name)] = true
		switch g.Kind {
		case spec.GateHTTP:
			if g.HTTP == nil || g.WorkItems != nil {
				p.add(gf, "an HTTP gate needs http and no workItems")
				continue
			}
			validateHTTPGate(p, gf+".http", *g.HTTP)
		case spec.GateWorkItems:
			if g.WorkItems == nil || g.HTTP != nil {
				p.add(gf, "a WORK_ITEMS gate needs workItems and no http")
				continue
			}
			w := g.WorkItems
			if w.MaxCount < 0 {
				p.add(gf+".workItems.maxCount", "may not be negative")
			}
			for j, s := range slices.Concat(w.Types, w.States, w.Tags) {
				if s == "" || len(s) > 100 || hasControl(s) {
					p.add(gf+".workItems", "entry %d is empty, too long or holds control characters", j)
				}
			}
		default:
			p.add(gf+".kind", "unknown gate kind %q; use HTTP or WORK_ITEMS", g.Kind)
		}
	}
}

func validateHTTPGate(p *problems, f string, g spec.HTTPGate) {
	if !slices.Contains(gateMethods, g.Method) {
		p.add(f+".method", "unknown method %q; use %s", g.Method, strings.Join(gateMethods, ", "))
	}
	lower := strings.ToLower(g.URL)
	switch {
	case len(g.URL) > 2000:
		p.add(f+".url", "is longer than 2000 bytes")
	case hasControl(g.URL) || strings.ContainsAny(g.URL, " \t"):
		p.add(f+".url", "must not contain spaces or control characters")
	case !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://"):
		p.add(f+".url", "%q is not an http or https URL", g.URL)
	}
	if len(g.Body) > maxGateText || !utf8.ValidString(g.Body) {
		p.add(f+".body", "must be valid UTF-8 of at most %d bytes", maxGateText)
	}
	if g.TimeoutSeconds < 1 || g.TimeoutSeconds > maxGateCallSeconds {
		p.add(f+".timeoutSeconds", "is %d; it must be between 1 and %d", g.TimeoutSeconds, maxGateCallSeconds)
	}
	if len(g.Headers) > 20 {
		p.add(f+".headers", "has %d headers; at most 20 are allowed", len(g.Headers))
	}
	for j, h := range g.Headers {
		hf := fmt.Sprintf("%s.headers[%d]", f, j)
		if !headerNameRe.MatchString(h.Name) {
			p.add(hf+".name", "%q is not an HTTP header name", h.Name)
		}
		if len(h.Value) > maxGateText || hasControl(h.Value) {
			p.add(hf+".value", "must be at most %d bytes without control characters", maxGateText)
		}
	}
	switch {
	case len(g.SuccessCriteria) > maxGateExpression:
		p.add(f+".successCriteria", "is longer than %d bytes", maxGateExpression)
	default:
		if _, err := compileCriteria(criteriaOf(g)); err != nil {
			p.add(f+".successCriteria", "%v", truncateText(err.Error(), 300))
		}
	}
}
