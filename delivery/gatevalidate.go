package delivery

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cairnhq/cairn/ent/schema/spec"
)

// This file holds a gate policy's defaults and its checks when a definition is saved.

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
