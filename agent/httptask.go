package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cairnhq/cairn/internal/condition"
	"github.com/cairnhq/cairn/internal/netguard"
)

// InvokeHttp@1: one HTTP call from the agent (Azure's InvokeRESTAPI inputs: method, headers,
// body, success criteria). Calls go through the outbound address guard the server uses for
// gates and hooks (internal/netguard): loopback, link-local (cloud metadata), "this network"
// and multicast are refused unless the agent's --outbound-allowed-networks lets them through.
// The response passes when its status is 2xx and, if successCriteria is given, the expression
// holds: internal/condition's syntax over variables['status'], variables['body'] and
// variables['json.<path>'] (a dotted path into a JSON body); Azure's root['a']['b'] is read
// as variables['json.a.b'].

// Limits of the InvokeHttp runner.
const (
	maxHTTPBody       = 1 << 20 // request body, and the response read
	maxHTTPBodyLogged = 4 << 10
)

// outboundGuard is the guard of the agent's HTTP task: the executor's, or netguard's defaults.
func (x *executor) outboundGuard() *netguard.Guard {
	if x.guard != nil {
		return x.guard
	}
	return netguard.New(netguard.DefaultDenied, nil)
}

var rootRef = regexp.MustCompile(`root((?:\[\s*'[^']*'\s*\])+)`)

// azureSuccessCriteria rewrites Azure's root['a']['b'] into variables['json.a.b'].
func azureSuccessCriteria(s string) string {
	return rootRef.ReplaceAllStringFunc(s, func(m string) string {
		var parts []string
		for _, p := range regexp.MustCompile(`'([^']*)'`).FindAllStringSubmatch(m, -1) {
			parts = append(parts, p[1])
		}
		return "variables['json." + strings.Join(parts, ".") + "']"
	})
}

func runInvokeHTTP(ctx context.Context, rc *runContext) error {
	raw := rc.in("url")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("input url: %q is not an http or https URL", raw)
	}
	method := strings.ToUpper(rc.in("method"))
	if method == "" {
		method = http.MethodGet
	}
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions:
	default:
		return fmt.Errorf("input method: %q is not GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS", method)
	}
	body := rc.raw("body")
	if len(body) > maxHTTPBody {
		return fmt.Errorf("input body is larger than %d bytes", maxHTTPBody)
	}
	headers, err := parseHeaders(rc.raw("headers"))
	if err != nil {
		return fmt.Errorf("input headers: %w", err)
	}
	var crit *condition.Expr
	if c := strings.TrimSpace(rc.raw("successCriteria")); c != "" {
		if crit, err = condition.Parse(azureSuccessCriteria(c)); err != nil {
			return fmt.Errorf("input successCriteria: %w", err)
		}
	}
	timeout := 30 * time.Second
	if v := rc.in("timeout"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 3600 {
			return fmt.Errorf("input timeout: %q is not a number of seconds (1-3600)", v)
		}
		timeout = time.Duration(n) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rbody io.Reader
	if body != "" {
		rbody = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rbody)
	if err != nil {
		return fmt.Errorf("building the request: %w", err)
	}
	for _, h := range headers {
		req.Header.Add(h[0], h[1])
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Transport: rc.j.x.outboundGuard().Transport(10 * time.Second),
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			return nil
		}}
	rc.w.emitOwn("##[command]"+method+" "+rc.w.mask([]byte(u.Redacted())), "command")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPBody+1))
	if err != nil {
		return fmt.Errorf("reading the response: %w", err)
	}
	truncated := len(data) > maxHTTPBody
	if truncated {
		data = data[:maxHTTPBody]
	}
	rc.logf("Status %s", resp.Status)
	shown := data
	if len(shown) > maxHTTPBodyLogged {
		shown = append(shown[:maxHTTPBodyLogged:maxHTTPBodyLogged], []byte("…")...)
	}
	if len(shown) > 0 {
		rc.logf("%s", shown)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the response status is %d, not 2xx", resp.StatusCode)
	}
	if crit == nil {
		return nil
	}
	var doc any
	jsonOK := json.Unmarshal(data, &doc) == nil
	vars := func(name string) (string, bool) {
		switch strings.ToLower(name) {
		case "status":
			return strconv.Itoa(resp.StatusCode), true
		case "body":
			return string(data), true
		}
		if p, ok := strings.CutPrefix(strings.ToLower(name), "json."); ok && jsonOK {
			return jsonPath(doc, name[len("json."):], p)
		}
		return "", false
	}
	if !crit.Eval(condition.State{Variable: vars}) {
		return fmt.Errorf("the success criteria did not hold: %s", strings.TrimSpace(rc.raw("successCriteria")))
	}
	rc.logf("Success criteria met")
	return nil
}

// jsonPath reads a dotted path from a decoded JSON document (keys as written, then without
// case); objects and arrays read as their JSON text.
func jsonPath(doc any, path, _ string) (string, bool) {
	cur := doc
	for seg := range strings.SplitSeq(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[seg]
			if !ok {
				for k, x := range c {
					if strings.EqualFold(k, seg) {
						v, ok = x, true
						break
					}
				}
			}
			if !ok {
				return "", false
			}
			cur = v
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || n >= len(c) {
				return "", false
			}
			cur = c[n]
		default:
			return "", false
		}
	}
	switch v := cur.(type) {
	case string:
		return v, true
	case nil:
		return "", true
	case float64, bool:
		return fmt.Sprint(v), true
	default:
		b, _ := json.Marshal(v)
		return string(b), true
	}
}

// parseHeaders reads headers as a JSON object ({"Name": "value"}) or as "Name: value" lines.
func parseHeaders(s string) ([][2]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out [][2]string
	if strings.HasPrefix(s, "{") {
		var m map[string]string
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, fmt.Errorf("not a JSON object of strings: %w", err)
		}
		for k, v := range m {
			out = append(out, [2]string{k, v})
		}
	} else {
		for line := range strings.SplitSeq(s, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return nil, fmt.Errorf("%q is not Name: value", truncate(line, 60))
			}
			out = append(out, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
		}
	}
	for _, h := range out {
		if !validHeaderName(h[0]) || strings.ContainsAny(h[1], "\r\n\x00") {
			return nil, fmt.Errorf("header %q is not a valid header", truncate(h[0], 60))
		}
	}
	return out, nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return false
		}
	}
	return true
}
