package azureclassic

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/cairnhq/cairn/ent/schema/spec"
)

// Azure's enums, by number (api-versions before 5.0 wrote numbers; names since).
var (
	conditionTypes = map[int]string{0: "undefined", 1: "event", 2: "environmentstate", 4: "artifact"}
	executionOrder = map[int]string{1: "beforegates", 2: "aftersuccessfulgates", 4: "aftergatesalways"}
)

// Azure's EnvironmentStatus bits, as an environmentState condition's value combines them.
const (
	stateSucceeded          = 4
	stateCanceled           = 8
	stateRejected           = 16
	statePartiallySucceeded = 128
)

// SecretPath is the path of the finding about a secret variable of the definition
// (envPath "") or of the environment at envPath ("environments[2]").
func SecretPath(envPath, variable string) string {
	if envPath == "" {
		return "variables." + variable
	}
	return envPath + ".variables." + variable
}

// environment maps one environment (stage).
func (c *mapper) environment(p string, e *azEnvironment, names map[string]bool) spec.EnvironmentSpec {
	env := spec.EnvironmentSpec{Name: strings.TrimSpace(string(e.Name))}
	if env.Name == "" {
		env.Name = fmt.Sprintf("Environment %d", int(e.Rank))
		c.note(p+".name", Approximated, fmt.Sprintf("the environment has no name; named %q", env.Name))
	}
	if e.Owner != nil && identityName(e.Owner) != "(no name)" {
		if a, ok := c.identity(e.Owner); ok && a.Kind == spec.ApproverUser {
			env.Owner = a.Name
			c.note(p+".owner", Mapped, fmt.Sprintf("owner → user %q", a.Name))
		} else {
			c.note(p+".owner", Dropped, fmt.Sprintf("owner %s is not mapped to a Cairn user (mapping.identities); the environment has no owner", identityName(e.Owner)))
		}
	}
	env.Variables = c.variables(p, env.Name, e.Variables)
	env.VariableGroups = c.variableGroupNames(p+".variableGroups", e.VariableGroups)
	env.Trigger = c.trigger(p, e, names)
	env.PreApproval = c.approvals(p+".preDeployApprovals", e.PreDeployApprovals, true)
	env.PostApproval = c.approvals(p+".postDeployApprovals", e.PostDeployApprovals, false)
	env.PreGates = c.gates(p+".preDeploymentGates", e.PreDeploymentGates, e.PreDeployApprovals, true)
	env.PostGates = c.gates(p+".postDeploymentGates", e.PostDeploymentGates, e.PostDeployApprovals, false)
	env.Queue = c.queue(p+".executionPolicy", e.ExecutionPolicy)
	env.Phases = c.phases(p, env.Name, e)
	env.Retention = c.options(p, nil, e.RetentionPolicy, e.EnvironmentOptions)
	if len(e.Schedules) > 0 {
		c.note(p+".schedules", Dropped, "scheduled deployment of this environment: Cairn schedules releases (definition triggers), not the deployment of one environment; deploy it by hand or with a release schedule")
	}
	if len(e.EnvironmentTriggers) > 0 {
		c.note(p+".environmentTriggers", Dropped, "environment triggers (deployment group redeploy, rollback redeploy): Cairn has none")
	}
	return env
}

// trigger maps an environment's conditions.
func (c *mapper) trigger(p string, e *azEnvironment, names map[string]bool) spec.Trigger {
	var afterRelease, artifactCond bool
	var envs []string
	partial := false
	for i, cond := range e.Conditions {
		cp := fmt.Sprintf("%s.conditions[%d]", p, i)
		name := strings.TrimSpace(string(cond.Name))
		switch enumName(cond.ConditionType, conditionTypes) {
		case "event":
			if strings.EqualFold(name, "ReleaseStarted") {
				afterRelease = true
				c.note(cp, Mapped, "after release")
			} else {
				c.note(cp, Dropped, fmt.Sprintf("event condition %q: Cairn knows only ReleaseStarted", name))
			}
		case "environmentstate":
			bits, err := strconv.Atoi(strings.TrimSpace(string(cond.Value)))
			if err != nil || bits == 0 {
				bits = stateSucceeded
			}
			if !names[name] {
				c.note(cp, Dropped, fmt.Sprintf("waits for environment %q, which the definition does not have", name))
				continue
			}
			envs = append(envs, name)
			var extra []string
			if bits&statePartiallySucceeded != 0 {
				partial = true
			}
			if bits&stateRejected != 0 {
				extra = append(extra, "rejected")
			}
			if bits&stateCanceled != 0 {
				extra = append(extra, "canceled")
			}
			switch {
			case len(extra) > 0:
				c.note(cp, Approximated, fmt.Sprintf("after %q succeeded; Azure also deployed when it was %s, which Cairn does not", name, strings.Join(extra, " or ")))
			case bits&stateSucceeded == 0 && bits&statePartiallySucceeded != 0:
				c.note(cp, Approximated, fmt.Sprintf("after %q partially succeeded; Cairn also deploys when it succeeded", name))
			default:
				c.note(cp, Mapped, fmt.Sprintf("after %q succeeded", name))
			}
		case "artifact":
			artifactCond = true
			c.note(cp, Approximated, fmt.Sprintf("artifact condition on %q (%s): Cairn has no artifact filter per environment, so the environment is deployed by hand (a filter admits fewer releases; ignoring it would deploy more)", name, truncate(string(cond.Value), 200)))
		default:
			c.note(cp, Dropped, fmt.Sprintf("unknown condition type %q", string(cond.ConditionType)))
		}
	}
	if partial {
		c.note(p+".conditions", Mapped, "partially succeeded upstream environments are accepted")
	}
	switch {
	case artifactCond:
		return spec.Trigger{Kind: spec.TriggerManual}
	case len(envs) > 0:
		if afterRelease {
			c.note(p+".conditions", Approximated, "waits for the environments listed; Azure's ReleaseStarted with environment conditions has the same effect")
		}
		return spec.Trigger{Kind: spec.TriggerAfterEnvironments, Environments: envs, AllowPartiallySucceeded: partial}
	case afterRelease:
		return spec.Trigger{Kind: spec.TriggerAfterRelease}
	}
	if len(e.Conditions) == 0 {
		c.note(p+".conditions", Mapped, "no condition: deployed by hand")
	}
	return spec.Trigger{Kind: spec.TriggerManual}
}

// approvals maps pre- or post-deployment approvals.
func (c *mapper) approvals(p string, a *azApprovals, pre bool) spec.ApprovalPolicy {
	var pol spec.ApprovalPolicy
	if a == nil {
		return pol
	}
	type ranked struct {
		rank int
		who  spec.Approver
	}
	var approvers []ranked
	manual := 0
	for i, ap := range a.Approvals {
		ip := fmt.Sprintf("%s.approvals[%d]", p, i)
		if ap.IsAutomated || ap.Approver == nil {
			continue
		}
		manual++
		who, ok := c.identity(ap.Approver)
		if !ok {
			c.note(ip+".approver", NeedsInput, fmt.Sprintf("approver %s: map it to a Cairn user or group (mapping.identities)", identityName(ap.Approver)))
			continue
		}
		dup := false
		for _, r := range approvers {
			dup = dup || r.who == who
		}
		if !dup {
			approvers = append(approvers, ranked{int(ap.Rank), who})
		}
		c.note(ip+".approver", Mapped, fmt.Sprintf("approver %s → %s %q", identityName(ap.Approver), strings.ToLower(string(who.Kind)), who.Name))
	}
	sort.SliceStable(approvers, func(i, j int) bool { return approvers[i].rank < approvers[j].rank })
	for _, r := range approvers {
		pol.Approvers = append(pol.Approvers, r.who)
	}
	o := a.ApprovalOptions
	if manual == 0 {
		c.note(p, Mapped, "automated (no approvers)")
		return pol
	}
	sequential := false
	for i := 1; i < len(approvers); i++ {
		sequential = sequential || approvers[i].rank != approvers[0].rank
	}
	count := 0
	if o != nil && o.RequiredApproverCount != nil {
		count = int(*o.RequiredApproverCount)
	}
	switch {
	case count > 0 && count < len(pol.Approvers):
		pol.Mode, pol.RequiredCount = spec.ApprovalAnyOne, count
		if sequential {
			c.note(p, Approximated, fmt.Sprintf("any %d of the approvers, in any order (Azure's ranks do not order a partial count)", count))
		} else {
			c.note(p, Mapped, fmt.Sprintf("any %d of the approvers", count))
		}
	case len(pol.Approvers) == 1:
		pol.Mode, pol.RequiredCount = spec.ApprovalAnyOne, 1
	case sequential:
		pol.Mode = spec.ApprovalSequential
		c.note(p, Mapped, "every approver, in rank order")
	default:
		pol.Mode = spec.ApprovalAll
		c.note(p, Mapped, "every approver, in any order")
	}
	if o == nil {
		return pol
	}
	op := p + ".approvalOptions"
	if o.ReleaseCreatorCanBeApprover != nil && !bool(*o.ReleaseCreatorCanBeApprover) {
		pol.RequesterCannotApprove = true
		c.note(op+".releaseCreatorCanBeApprover", Mapped, "the release creator and the requester may not approve")
	}
	if o.AutoTriggeredAndPreviousEnvironmentApprovedCanBeSkipped {
		if pre {
			pol.SkipIfApprovedInPreviousEnvironment = true
			c.note(op+".autoTriggeredAndPreviousEnvironmentApprovedCanBeSkipped", Mapped, "skipped when the same approvers approved the previous environment")
		} else {
			c.note(op+".autoTriggeredAndPreviousEnvironmentApprovedCanBeSkipped", Dropped, "Cairn skips only pre-deployment approvals this way")
		}
	}
	if o.EnforceIdentityRevalidation {
		c.note(op+".enforceIdentityRevalidation", Dropped, "Cairn does not ask approvers to sign in again; a decision needs the approver's own credential")
	}
	timeout := o.TimeoutInMinutes
	if timeout == nil {
		timeout = o.TimeoutInMintues
	}
	if timeout != nil && *timeout > 0 {
		pol.TimeoutMinutes = int(*timeout)
		c.note(op+".timeoutInMinutes", Mapped, fmt.Sprintf("times out after %d minutes", pol.TimeoutMinutes))
	}
	return pol
}

// gates maps pre- or post-deployment gates and their options. The order against the
// approvals comes from the approvals' executionOrder.
func (c *mapper) gates(p string, g *azGates, a *azApprovals, pre bool) spec.GatePolicy {
	var pol spec.GatePolicy
	if g == nil || len(g.Gates) == 0 {
		return pol
	}
	o := g.GatesOptions
	if o != nil && o.IsEnabled != nil && !bool(*o.IsEnabled) {
		c.note(p, Mapped, "gates are disabled in Azure: none")
		return pol
	}
	for i, gate := range g.Gates {
		for j := range gate.Tasks {
			tp := fmt.Sprintf("%s.gates[%d].tasks[%d]", p, i, j)
			if gt, ok := c.gate(tp, &gate.Tasks[j]); ok {
				pol.Gates = append(pol.Gates, gt)
			}
		}
	}
	if o != nil {
		pol.TimeoutMinutes = int(max(o.Timeout, 0))
		pol.IntervalMinutes = int(max(o.SamplingInterval, 0))
		pol.DelayMinutes = int(max(o.StabilizationTime, 0))
		pol.MinimumSuccessMinutes = int(max(o.MinimumSuccessDuration, 0))
		c.note(p+".gatesOptions", Mapped, fmt.Sprintf("delay %d, sampling interval %d, timeout %d, minimum success %d minutes",
			pol.DelayMinutes, pol.IntervalMinutes, pol.TimeoutMinutes, pol.MinimumSuccessMinutes))
	}
	pol.Order = spec.GatesAfterApprovals
	if a != nil && a.ApprovalOptions != nil {
		op := strings.TrimSuffix(p, "DeploymentGates") + "DeployApprovals.approvalOptions.executionOrder"
		switch enumName(a.ApprovalOptions.ExecutionOrder, executionOrder) {
		case "", "beforegates":
			pol.Order = spec.GatesAfterApprovals
			c.note(op, Mapped, "approvals before gates")
		case "aftersuccessfulgates":
			pol.Order = spec.GatesBeforeApprovals
			c.note(op, Mapped, "approvals after the gates succeeded")
		case "aftergatesalways":
			pol.Order = spec.GatesBeforeApprovals
			c.note(op, Approximated, "approvals after the gates; Azure asks for them even when the gates failed, Cairn rejects the deployment")
		default:
			c.note(op, Approximated, fmt.Sprintf("unknown execution order %q: approvals before gates", string(a.ApprovalOptions.ExecutionOrder)))
		}
	}
	if len(pol.Gates) == 0 {
		return spec.GatePolicy{}
	}
	return pol
}

// gate maps one gate task: Invoke REST API → HTTP gate; Query work items → work-item gate.
func (c *mapper) gate(p string, t *azTask) (spec.Gate, bool) {
	in := taskInputs(t)
	name := t.name()
	if name == "" {
		name = "gate"
	}
	if !t.enabled() {
		c.note(p, Mapped, "disabled gate: not evaluated")
		return spec.Gate{}, false
	}
	switch {
	case t.id() == guidInvokeRESTAPI:
		return c.httpGate(p, name, in)
	case in["queryId"] != "" || strings.EqualFold(name, "Query work items"):
		q := strings.TrimSpace(in["queryId"])
		for _, m := range c.m.WorkItemQueries {
			if strings.EqualFold(strings.TrimSpace(m.QueryID), q) {
				maxCount, _ := strconv.Atoi(strings.TrimSpace(in["maxThreshold"]))
				if mn, _ := strconv.Atoi(strings.TrimSpace(in["minThreshold"])); mn > 0 {
					c.note(p+".inputs.minThreshold", Dropped, "Cairn's work-item gate has a maximum count only")
				}
				c.note(p, Approximated, fmt.Sprintf("work item query %s → work-item gate over the release's work items (types, states and tags from the mapping), at most %d", q, maxCount))
				return spec.Gate{Name: name, Kind: spec.GateWorkItems, WorkItems: &spec.WorkItemGate{
					Types: m.Types, States: m.States, Tags: m.Tags, MaxCount: max(maxCount, 0)}}, true
			}
		}
		c.note(p, NeedsInput, fmt.Sprintf("work item query %q: the export names the saved query only; say which types, states and tags it selects (mapping.workItemQueries)", q))
		return spec.Gate{}, false
	}
	label := knownName(t.id())
	if label == "" {
		label = t.id()
	}
	c.note(p, Dropped, fmt.Sprintf("gate %q (%s): Cairn gates call HTTP endpoints or count work items; rewrite it as an HTTP gate", name, label))
	return spec.Gate{}, false
}

// httpGate maps an Invoke REST API gate.
func (c *mapper) httpGate(p, name string, in map[string]string) (spec.Gate, bool) {
	var base string
	selector := in["connectedServiceNameSelector"]
	if selector == "" {
		selector = "connectedServiceName"
	}
	endpoint := in[selector]
	for _, m := range c.m.ServiceConnections {
		if strings.EqualFold(strings.TrimSpace(m.Azure), strings.TrimSpace(endpoint)) && strings.TrimSpace(m.URL) != "" {
			base = strings.TrimSpace(m.URL)
		}
	}
	if base == "" {
		c.note(p, NeedsInput, fmt.Sprintf("Invoke REST API gate: the URL of service connection %q is not in the export; give it (mapping.serviceConnections url)", endpoint))
		return spec.Gate{}, false
	}
	g := &spec.HTTPGate{Method: strings.ToUpper(strings.TrimSpace(in["method"])), URL: base + in["urlSuffix"], Body: in["body"]}
	if g.Method == "" {
		g.Method = "POST"
	}
	status := Mapped
	var notes []string
	if h := strings.TrimSpace(in["headers"]); h != "" {
		var headers map[string]string
		if err := json.Unmarshal([]byte(h), &headers); err != nil {
			status = Approximated
			notes = append(notes, "headers are not a JSON object of strings: left out")
		} else {
			for _, k := range sortedKeys(headers) {
				g.Headers = append(g.Headers, spec.Header{Name: k, Value: headers[k]})
			}
		}
	}
	if isTrue(in["waitForCompletion"]) {
		status = Approximated
		notes = append(notes, "Azure waited for a callback; Cairn judges the response")
	}
	if crit := strings.TrimSpace(in["successCriteria"]); crit != "" {
		if expr, ok := translateCriteria(crit); ok {
			g.SuccessCriteria = expr
			notes = append(notes, fmt.Sprintf("success criteria %q → %q", crit, expr))
		} else {
			c.note(p+".inputs.successCriteria", NeedsInput, fmt.Sprintf("success criteria %q: rewrite it as an expression over status and body (e.g. body.state == \"green\") after the import", crit))
		}
	}
	msg := "Invoke REST API → HTTP gate"
	if len(notes) > 0 {
		msg += ": " + strings.Join(notes, "; ")
	}
	c.note(p, status, msg)
	return spec.Gate{Name: name, Kind: spec.GateHTTP, HTTP: g}, true
}

// translateCriteria turns the simple forms of Azure's success criteria
// (eq(root['status'], 'ok'), ne(…), and(…), or(…)) into an expr-lang condition.
func translateCriteria(s string) (string, bool) {
	s = strings.TrimSpace(s)
	fn, args, ok := splitCall(s)
	if !ok {
		return "", false
	}
	switch fn {
	case "and", "or":
		var parts []string
		for _, a := range args {
			t, ok := translateCriteria(a)
			if !ok {
				return "", false
			}
			parts = append(parts, "("+t+")")
		}
		op := " && "
		if fn == "or" {
			op = " || "
		}
		return strings.Join(parts, op), len(parts) > 0
	case "eq", "ne":
		if len(args) != 2 {
			return "", false
		}
		l, ok1 := criteriaOperand(args[0])
		r, ok2 := criteriaOperand(args[1])
		if !ok1 || !ok2 {
			return "", false
		}
		op := " == "
		if fn == "ne" {
			op = " != "
		}
		return l + op + r, true
	}
	return "", false
}

func splitCall(s string) (string, []string, bool) {
	open := strings.IndexByte(s, '(')
	if open <= 0 || !strings.HasSuffix(s, ")") {
		return "", nil, false
	}
	fn := strings.ToLower(strings.TrimSpace(s[:open]))
	inner := s[open+1 : len(s)-1]
	var args []string
	depth, start := 0, 0
	quoted := false
	for i := 0; i < len(inner); i++ {
		switch ch := inner[i]; {
		case ch == '\'':
			quoted = !quoted
		case quoted:
		case ch == '(' || ch == '[':
			depth++
		case ch == ')' || ch == ']':
			depth--
		case ch == ',' && depth == 0:
			args = append(args, strings.TrimSpace(inner[start:i]))
			start = i + 1
		}
	}
	if depth != 0 || quoted {
		return "", nil, false
	}
	args = append(args, strings.TrimSpace(inner[start:]))
	return fn, args, true
}

// criteriaOperand: root['a']['b'] → body.a.b (or body["a"]), 'text' → "text", numbers,
// true/false.
func criteriaOperand(s string) (string, bool) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "root"):
		rest := s[len("root"):]
		out := "body"
		for rest != "" {
			if !strings.HasPrefix(rest, "['") {
				return "", false
			}
			end := strings.Index(rest[2:], "']")
			if end < 0 {
				return "", false
			}
			out += "[" + strconv.Quote(rest[2:2+end]) + "]"
			rest = rest[2+end+2:]
		}
		return out, true
	case len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'':
		return strconv.Quote(strings.ReplaceAll(s[1:len(s)-1], "''", "'")), true
	case s == "true" || s == "false":
		return s, true
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return s, true
	}
	return "", false
}

// queue maps executionPolicy: concurrencyCount (0: unlimited) and queueDepthCount (0: all
// in order; 1: only the latest waits).
func (c *mapper) queue(p string, ep *azExecutionPolicy) spec.QueuePolicy {
	q := spec.QueuePolicy{Mode: spec.QueueAllInOrder}
	if ep == nil {
		return q
	}
	q.MaxParallel = int(max(ep.ConcurrencyCount, 0))
	switch d := int(ep.QueueDepthCount); {
	case d <= 0:
		c.note(p, Mapped, fmt.Sprintf("at most %s deployments at once, every waiting release in order", parallelText(q.MaxParallel)))
	case d == 1:
		q.Mode = spec.QueueLatestOnly
		c.note(p, Mapped, fmt.Sprintf("at most %s deployments at once, only the latest waiting release deploys", parallelText(q.MaxParallel)))
	default:
		c.note(p, Approximated, fmt.Sprintf("Azure keeps the latest %d waiting releases; Cairn keeps every waiting release in order", d))
	}
	return q
}

func parallelText(n int) string {
	if n == 0 {
		return "any number of"
	}
	return strconv.Itoa(n)
}
