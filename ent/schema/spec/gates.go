package spec

// GateKind says what a deployment gate checks.
type GateKind string

// The gate kinds.
const (
	// GateHTTP calls an HTTP endpoint and judges its answer with an
	// expression (Azure's "Invoke REST API" gate).
	GateHTTP GateKind = "HTTP"
	// GateWorkItems counts the release's work items that match a query
	// (Azure's "Query work items" gate).
	GateWorkItems GateKind = "WORK_ITEMS"
)

// GateOrder says how an environment's gates and approvals of one stage
// follow each other.
type GateOrder string

// The gate orders.
const (
	// GatesAfterApprovals: the approvals are decided first, then the gates
	// are evaluated (the default; Azure's "before gates" approvals).
	GatesAfterApprovals GateOrder = "AFTER_APPROVALS"
	// GatesBeforeApprovals: the gates must pass before the approvals are
	// asked for (Azure's "after successful gates").
	GatesBeforeApprovals GateOrder = "BEFORE_APPROVALS"
)

// Header is one HTTP header of a gate's request. Value may name release
// variables as $(NAME), secret ones included: the secret stays in the
// variable, encrypted at rest, and never in the definition's document.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// HTTPGate is an HTTP check: the request, and the condition its response
// must meet.
type HTTPGate struct {
	// Method is GET (default), POST, PUT, PATCH, DELETE or HEAD.
	Method string `json:"method,omitempty"`
	// URL is an http or https URL; it may name release variables as $(NAME).
	URL     string   `json:"url"`
	Headers []Header `json:"headers,omitempty"`
	// Body is sent with POST, PUT and PATCH; it may name variables.
	Body string `json:"body,omitempty"`
	// SuccessCriteria is an expr-lang expression over `status` (int),
	// `body` (the JSON-decoded body, nil when it is not JSON), `text` (the
	// body as text) and `headers` (map of lower-case names to the first
	// value), that must yield true: `status == 200 && body.state == "green"`.
	// Empty means any 2xx status.
	SuccessCriteria string `json:"successCriteria,omitempty"`
	// TimeoutSeconds caps one call (default 10, at most 60).
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`
}

// WorkItemGate passes when at most MaxCount of the release's work items
// match: of one of Types (any type when empty) and in one of States (any
// state when empty). "No open bug" is Types [Bug], States [New, Active],
// MaxCount 0.
type WorkItemGate struct {
	Types  []string `json:"types,omitempty"`
	States []string `json:"states,omitempty"`
	// Tags: a work item matches only when it carries every one of them
	// (none: whatever its tags).
	Tags     []string `json:"tags,omitempty"`
	MaxCount int      `json:"maxCount,omitempty"`
}

// Gate is one check of a gate stage.
type Gate struct {
	Name      string        `json:"name"`
	Kind      GateKind      `json:"kind"`
	HTTP      *HTTPGate     `json:"http,omitempty"`
	WorkItems *WorkItemGate `json:"workItems,omitempty"`
}

// GatePolicy is an environment's pre- or post-deployment gates, in Azure's
// shape: after DelayMinutes the gates are sampled every IntervalMinutes;
// the stage passes when every gate passes in one sample and they keep
// passing for MinimumSuccessMinutes; it fails (the deployment is REJECTED)
// when TimeoutMinutes pass since the stage opened without that. No gates:
// nothing to evaluate.
type GatePolicy struct {
	Gates []Gate `json:"gates,omitempty"`
	// Order places the gates after (default) or before the stage's approvals.
	Order                 GateOrder `json:"order,omitempty"`
	DelayMinutes          int       `json:"delayMinutes,omitempty"`
	IntervalMinutes       int       `json:"intervalMinutes,omitempty"`
	TimeoutMinutes        int       `json:"timeoutMinutes,omitempty"`
	MinimumSuccessMinutes int       `json:"minimumSuccessMinutes,omitempty"`
}

// GateResult is one gate's outcome in one sample.
type GateResult struct {
	Gate   string `json:"gate"`
	Passed bool   `json:"passed"`
	// Detail says what was seen: "status 503", "2 work items match (max 0): #12, #14", or the error.
	Detail string `json:"detail,omitempty"`
}
