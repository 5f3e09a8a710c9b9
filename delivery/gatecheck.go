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
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/workitem"
)

// This file holds what one sample of gates calls: the text variables a gate may name, the HTTP
// call and its success criteria, and the work-item query (gates.go decides what a sample means).

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
