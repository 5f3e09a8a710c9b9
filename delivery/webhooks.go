package delivery

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/artifactsource"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releasedefinition"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/serviceconnection"
	"github.com/cairnhq/cairn/ent/webhookdelivery"
	"github.com/cairnhq/cairn/internal/origin"
)

// The results of a webhook delivery (WebhookDelivery.result).
const (
	DeliveryAccepted = "ACCEPTED"
	DeliveryIgnored  = "IGNORED"
	DeliveryRejected = "REJECTED"
)

// AnswerFunc is how the edge that received a delivery answers each result
// (ACCEPTED, IGNORED) ReceiveBuild may decide: the status code it tells the
// sender. The engine does not choose it, it records it on the delivery (in
// the same transaction as the result) so that an administrator sees what the
// CI server was told.
type AnswerFunc func(result string) int

// The sources of builds (WebhookDelivery.source, ArtifactSource.type).
const (
	SourceJenkins   = "JENKINS"
	SourceTeamBuild = "TEAMBUILD"
)

// maxReceiptField bounds the text fields of a receipt; the parsers already
// bound theirs, this keeps the engine safe on its own.
const maxReceiptField = 8 << 10

// Revision is the branch and commit a build checked out of one repository.
type Revision struct {
	Branch string
	Commit string
}

// BuildReceipt is a completed CI build as a webhook reported it, after
// authentication and parsing: what ReceiveBuild needs to decide which
// definitions release it.
type BuildReceipt struct {
	// Source is JENKINS or TEAMBUILD.
	Source string
	// ConnectionID is the service connection the webhook authenticated as.
	ConnectionID int
	// Key is the idempotency key of the build (hook.Build.Key): the same
	// build delivered twice has the same key.
	Key string
	// Event is what the sender called the notification: the Jenkins phase
	// (COMPLETED, FINALIZED) or the service hook's event type.
	Event string
	// Job is the Jenkins job's full name or the Team Build definition name;
	// JobID the Team Build definition id (empty for Jenkins).
	Job   string
	JobID string
	// Project and ProjectID are the Azure DevOps project's name and id
	// (either may be empty); empty for Jenkins.
	Project   string
	ProjectID string
	// BuildID identifies the build on its server; BuildNumber is its human
	// name.
	BuildID     string
	BuildNumber string
	// Branch and Commit are as the notification reported them (raw:
	// "origin/main", "refs/heads/main"); empty when it did not.
	Branch string
	Commit string
	// Revisions, for a notification without a branch (Jenkins Pipeline
	// jobs), give the branch and commit the build checked out per
	// repository URL, keyed by ArtifactSource.repository_url exactly as
	// stored ("" for sources that name none). The webhook handler reads them
	// from the build's git BuildData before calling ReceiveBuild.
	Revisions map[string]Revision
	// Result is SUCCEEDED, PARTIALLY_SUCCEEDED, FAILED or CANCELED.
	Result   string
	BuildURL string
	// Files are the artifacts the notification lists (download URLs).
	Files []string
	// Payload is the body as received, stored with the delivery so that it
	// can be redelivered (RedeliverWebhookDelivery); empty stores none.
	Payload []byte
}

// ReceiptResult is what became of a delivery.
type ReceiptResult struct {
	DeliveryID int
	// Result is ACCEPTED, IGNORED or REJECTED.
	Result string
	Reason string
	// StatusCode is the caller's answer to Result, as recorded.
	StatusCode int
	ReleaseIDs []int
}

// DeliveryRecord is a delivery that creates nothing: rejected (bad
// credentials, malformed or oversized body, unknown connection) or ignored
// before it names a build (a QUEUED phase, another event type).
type DeliveryRecord struct {
	Source string
	// ConnectionID is 0 when the connection is unknown.
	ConnectionID int
	// BuildKey identifies the build or the body, for the administrator;
	// it is not claimed.
	BuildKey string
	Event    string
	Result   string // IGNORED or REJECTED
	Reason   string
	// StatusCode is what the caller answered the sender, as it chose it.
	StatusCode int
	// Payload is the body as received (authenticated senders only), for a
	// redelivery once the cause is fixed.
	Payload []byte
}

// ConnectionInfo is the public part of a service connection, as a webhook
// handler needs it to authenticate a request and call the CI server back.
type ConnectionInfo struct {
	ID       int
	Name     string
	Kind     string // JENKINS or AZURE_DEVOPS
	URL      string
	Username string
}

// ConnectionByName finds a service connection by name for a webhook handler.
// It takes no actor: the caller authenticates the request with the
// connection's webhook secret (ConnectionSecrets) right after.
func (e *Engine) ConnectionByName(ctx context.Context, name string) (ConnectionInfo, error) {
	c, err := e.client.ServiceConnection.Query().Where(serviceconnection.Name(name)).Only(ctx)
	if ent.IsNotFound(err) {
		return ConnectionInfo{}, NotFound("service connection", strconv.Quote(name))
	}
	if err != nil {
		return ConnectionInfo{}, fmt.Errorf("reading service connection %q: %w", name, err)
	}
	return ConnectionInfo{ID: c.ID, Name: c.Name, Kind: string(c.Kind), URL: c.URL, Username: c.Username}, nil
}

// FollowingSource is an artifact source with continuous deployment on that
// follows a job: what a webhook handler needs to know before the engine
// decides, namely whether a branch filter needs a branch the notification
// lacks.
type FollowingSource struct {
	ID            int
	DefinitionID  int
	Alias         string
	RepositoryURL string
	BranchFilters []string
}

// FollowingSources lists the artifact sources of live definitions, with
// continuous deployment on, that follow the receipt's job on its connection
// (its Source, ConnectionID, Job, JobID, Project and ProjectID are read).
func (e *Engine) FollowingSources(ctx context.Context, r BuildReceipt) ([]FollowingSource, error) {
	rows, err := followingSources(ctx, e.client, r)
	if err != nil {
		return nil, fmt.Errorf("finding the sources that follow %s: %w", r.Job, err)
	}
	out := make([]FollowingSource, len(rows))
	for i, s := range rows {
		out[i] = FollowingSource{ID: s.ID, DefinitionID: s.DefinitionID, Alias: s.Alias,
			RepositoryURL: s.RepositoryURL, BranchFilters: s.BranchFilters}
	}
	return out, nil
}

func followingSources(ctx context.Context, c *ent.Client, r BuildReceipt) ([]*ent.ArtifactSource, error) {
	rows, err := c.ArtifactSource.Query().
		Where(artifactsource.ConnectionID(r.ConnectionID), artifactsource.TypeEQ(artifactsource.Type(r.Source)),
			artifactsource.ContinuousDeployment(true),
			artifactsource.HasDefinitionWith(releasedefinition.DeletedAtIsNil())).
		Order(ent.Asc(artifactsource.FieldDefinitionID), ent.Asc(artifactsource.FieldID)).All(ctx)
	if err != nil {
		return nil, err
	}
	var out []*ent.ArtifactSource
	for _, s := range rows {
		if sourceFollows(s, r) {
			out = append(out, s)
		}
	}
	return out, nil
}

// sourceFollows says whether an artifact source names the receipt's job. A
// Jenkins source names the job's full name ("folder/job"; surrounding
// slashes ignored). A Team Build source names the build definition by id or
// by name (names compared without regard to case, as Azure DevOps does) and,
// when it names a project, the project by name or id.
func sourceFollows(s *ent.ArtifactSource, r BuildReceipt) bool {
	job := strings.Trim(strings.TrimSpace(s.Job), "/")
	if r.Source == SourceJenkins {
		return job != "" && job == strings.Trim(r.Job, "/")
	}
	byID := r.JobID != "" && job == r.JobID
	byName := r.Job != "" && strings.EqualFold(job, r.Job)
	if !byID && !byName {
		return false
	}
	p := strings.TrimSpace(s.Project)
	return p == "" || (r.Project != "" && strings.EqualFold(p, r.Project)) ||
		(r.ProjectID != "" && strings.EqualFold(p, r.ProjectID))
}

func (r *BuildReceipt) validate() error {
	switch r.Source {
	case SourceJenkins, SourceTeamBuild:
	default:
		return Invalid("source", "unknown build source %q: use JENKINS or TEAMBUILD", r.Source)
	}
	switch {
	case r.ConnectionID <= 0:
		return Invalid("connectionId", "is required")
	case strings.TrimSpace(r.Key) == "":
		return Invalid("key", "is required")
	case r.Job == "" && r.JobID == "":
		return Invalid("job", "is required")
	case r.BuildID == "":
		return Invalid("buildId", "is required")
	}
	for _, f := range [...]struct{ name, v string }{
		{"key", r.Key}, {"event", r.Event}, {"job", r.Job}, {"jobId", r.JobID}, {"project", r.Project},
		{"projectId", r.ProjectID}, {"buildId", r.BuildID}, {"buildNumber", r.BuildNumber},
		{"branch", r.Branch}, {"commit", r.Commit}, {"buildUrl", r.BuildURL},
	} {
		if len(f.v) > maxReceiptField {
			return Invalid(f.name, "is longer than %d bytes", maxReceiptField)
		}
	}
	if len(r.Files) > 10000 {
		return Invalid("files", "has more than 10000 entries")
	}
	return nil
}

// ReceiveBuild acts on a completed CI build in one transaction. It claims
// the build's idempotency key first: a build already received (a retried
// delivery, a second subscription, Jenkins' FINALIZED after COMPLETED)
// records an IGNORED delivery "duplicate of delivery N" and creates nothing.
// Otherwise it creates one release (reason CONTINUOUS_INTEGRATION, creator
// "ci:<connection>") per live definition with an artifact source that
// follows the job with continuous deployment on, whose branch filters admit
// the build's branch, and that accepts the result (SUCCEEDED, or
// PARTIALLY_SUCCEEDED when the source allows partial builds; the release is
// then marked partial). That source deploys this build; the definition's
// other sources deploy the version its latest release used. Each release's
// artifacts are queued for enrichment (commits, work items, files from the
// CI server), which runs after commit and never blocks the release.
//
// The delivery is recorded with its result, reason and releases. A build
// that no definition takes is IGNORED with the reason of each refusal.
// The unique index on WebhookDelivery.key is the arbiter of duplicates, so
// replicas and concurrent deliveries create one release between them.
//
// answer gives the status code the caller tells the sender for the result;
// it is recorded with the result (nil records 0).
func (e *Engine) ReceiveBuild(ctx context.Context, r BuildReceipt, answer AnswerFunc) (ReceiptResult, error) {
	if err := r.validate(); err != nil {
		return ReceiptResult{}, err
	}
	if answer == nil {
		answer = func(string) int { return 0 }
	}
	var res ReceiptResult
	err := e.inTx(ctx, func(t *txn) error {
		var err error
		res, err = t.receiveBuild(r, answer, nil)
		return err
	})
	if err != nil {
		return ReceiptResult{}, fmt.Errorf("receiving build %s of %s: %w", r.BuildNumber, r.Job, err)
	}
	return res, nil
}

// receiveBuild records and acts on a receipt; re, for a redelivery, takes the build's key over
// from the delivery that holds it and skips the definitions that already released the build.
func (t *txn) receiveBuild(r BuildReceipt, answer AnswerFunc, re *redelivery) (ReceiptResult, error) {
	conn, err := t.ServiceConnection.Get(t.ctx, r.ConnectionID)
	if ent.IsNotFound(err) {
		return ReceiptResult{}, NotFound("service connection", r.ConnectionID)
	}
	if err != nil {
		return ReceiptResult{}, fmt.Errorf("reading service connection: %w", err)
	}
	done := map[int]bool{} // one release per definition
	if re != nil {
		if done, err = t.releasedDefinitions(r.Key); err != nil {
			return ReceiptResult{}, err
		}
		if err := t.WebhookDelivery.Update().Where(webhookdelivery.Key(r.Key)).ClearKey().Exec(t.ctx); err != nil {
			return ReceiptResult{}, fmt.Errorf("releasing key %s for the redelivery: %w", r.Key, err)
		}
	}
	id, claimed, err := t.claimDelivery(r)
	if err != nil {
		return ReceiptResult{}, err
	}
	if claimed && len(r.Payload) > 0 {
		if err := t.WebhookDelivery.UpdateOneID(id).SetPayload(r.Payload).Exec(t.ctx); err != nil {
			return ReceiptResult{}, fmt.Errorf("storing the payload of delivery %d: %w", id, err)
		}
	}
	if !claimed {
		owner, err := t.WebhookDelivery.Query().Where(webhookdelivery.Key(r.Key)).Only(t.ctx)
		if err != nil {
			return ReceiptResult{}, fmt.Errorf("reading the delivery that claimed %s: %w", r.Key, err)
		}
		res := ReceiptResult{Result: DeliveryIgnored, Reason: fmt.Sprintf("duplicate of delivery %d", owner.ID)}
		res.StatusCode = answer(res.Result)
		d, err := t.WebhookDelivery.Create().SetSource(webhookdelivery.Source(r.Source)).
			SetConnectionID(r.ConnectionID).SetBuildKey(r.Key).SetEvent(r.Event).
			SetResult(webhookdelivery.ResultIGNORED).SetReason(res.Reason).SetStatusCode(res.StatusCode).
			SetPayload(r.Payload).SetCreatedAt(t.now).Save(t.ctx)
		if err != nil {
			return ReceiptResult{}, fmt.Errorf("recording duplicate delivery: %w", err)
		}
		res.DeliveryID = d.ID
		return res, nil
	}

	sources, err := followingSources(t.ctx, t.Client(), r)
	if err != nil {
		return ReceiptResult{}, fmt.Errorf("finding the sources that follow %s: %w", r.Job, err)
	}
	ci := SystemActor("ci:" + conn.Name)
	var refusals []string
	var releaseIDs []int
	for _, s := range sources {
		if done[s.DefinitionID] {
			continue
		}
		why, rev := admits(s, r)
		if why != "" {
			refusals = append(refusals, fmt.Sprintf("source %s of definition %d: %s", s.Alias, s.DefinitionID, why))
			continue
		}
		in := CreateReleaseInput{
			DefinitionID: s.DefinitionID,
			Reason:       string(release.ReasonCONTINUOUS_INTEGRATION),
			Description:  fmt.Sprintf("%s build %s of %s", strings.ToLower(r.Source), displayNumber(r), r.Job),
			Partial:      r.Result == BuildPartiallySucceeded,
			Artifacts: []ArtifactVersion{{
				Alias: s.Alias, BuildID: r.BuildID, BuildNumber: displayNumber(r),
				Branch: spec.NormalizeBranch(rev.Branch), Commit: rev.Commit, BuildURL: externalURL(r.BuildURL),
				Files: r.Files, Result: r.Result,
			}},
		}
		rel, err := t.createRelease(ci, in)
		if err != nil && !ServerFault(err) {
			// createRelease validates everything before its first write,
			// so a domain refusal (another source with no known build, say)
			// leaves the transaction clean: the other definitions go on.
			refusals = append(refusals, fmt.Sprintf("definition %d: %v", s.DefinitionID, err))
			continue
		}
		if err != nil {
			return ReceiptResult{}, fmt.Errorf("releasing definition %d: %w", s.DefinitionID, err)
		}
		done[s.DefinitionID] = true
		releaseIDs = append(releaseIDs, rel.ID)
	}

	res := ReceiptResult{DeliveryID: id, ReleaseIDs: releaseIDs}
	upd := t.WebhookDelivery.UpdateOneID(id)
	switch {
	case len(releaseIDs) > 0:
		res.Result = DeliveryAccepted
		res.Reason = fmt.Sprintf("created %d release(s)", len(releaseIDs))
		if len(refusals) > 0 {
			res.Reason += "; not released: " + strings.Join(refusals, "; ")
		}
		upd.AddReleaseIDs(releaseIDs...)
	case re != nil && len(refusals) == 0 && len(sources) > 0:
		res.Result = DeliveryIgnored
		res.Reason = "every definition that follows the build released it already"
	case len(sources) == 0:
		res.Result = DeliveryIgnored
		res.Reason = fmt.Sprintf("no definition follows %s %q on connection %s with continuous deployment", jobWord(r.Source), r.Job, conn.Name)
	default:
		res.Result = DeliveryIgnored
		res.Reason = strings.Join(refusals, "; ")
	}
	res.Reason = truncateText(res.Reason, 4000)
	res.StatusCode = answer(res.Result)
	if re != nil {
		upd.SetRedeliveryOfID(re.of)
	}
	err = upd.SetResult(webhookdelivery.Result(res.Result)).SetReason(res.Reason).SetStatusCode(res.StatusCode).Exec(t.ctx)
	if err != nil {
		return ReceiptResult{}, fmt.Errorf("recording delivery %d: %w", id, err)
	}
	if re != nil {
		return res, t.auditRedelivery(re, id, res)
	}
	if len(releaseIDs) > 0 {
		after := map[string]any{"key": r.Key, "event": r.Event, "job": r.Job, "build": displayNumber(r), "releases": releaseIDs}
		if err := t.audit(ci, "webhook.accept", auditTargetWebhookDelivery, id, nil, after); err != nil {
			return ReceiptResult{}, err
		}
	}
	return res, nil
}

// claimDelivery inserts the delivery row that owns the receipt's key, with
// ON CONFLICT (key) DO NOTHING: a row already holding the key (committed by
// another transaction, or one that commits while this insert waits on
// PostgreSQL's unique index) makes the insert affect nothing, and the
// transaction stays usable, which a failed INSERT would not on PostgreSQL.
// Its result and status are placeholders that receiveBuild overwrites in
// the same transaction.
func (t *txn) claimDelivery(r BuildReceipt) (id int, claimed bool, err error) {
	d := entsql.Dialect(string(t.e.dialect))
	q, args := d.Insert(webhookdelivery.Table).
		Columns(webhookdelivery.FieldCreatedAt, webhookdelivery.FieldSource, webhookdelivery.FieldKey,
			webhookdelivery.FieldBuildKey, webhookdelivery.FieldEvent, webhookdelivery.FieldResult,
			webhookdelivery.FieldReason, webhookdelivery.FieldStatusCode, webhookdelivery.FieldConnectionID).
		Values(t.now, r.Source, r.Key, r.Key, r.Event, DeliveryIgnored, "", 0, r.ConnectionID).
		OnConflict(entsql.ConflictColumns(webhookdelivery.FieldKey), entsql.DoNothing()).
		Query()
	res, err := t.ExecContext(t.ctx, q, args...)
	if err != nil {
		return 0, false, fmt.Errorf("claiming delivery key %s: %w", r.Key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, false, fmt.Errorf("claiming delivery key %s: %w", r.Key, err)
	}
	if n == 0 {
		return 0, false, nil
	}
	row, err := t.WebhookDelivery.Query().Where(webhookdelivery.Key(r.Key)).Only(t.ctx)
	if err != nil {
		return 0, false, fmt.Errorf("reading claimed delivery %s: %w", r.Key, err)
	}
	return row.ID, true, nil
}

// admits says why an artifact source does not release the build ("" when it
// does), and which branch and commit the source deploys.
func admits(s *ent.ArtifactSource, r BuildReceipt) (string, Revision) {
	rev := Revision{Branch: r.Branch, Commit: r.Commit}
	if rev.Branch == "" {
		if x, ok := r.Revisions[s.RepositoryURL]; ok {
			rev = x
		}
	}
	switch r.Result {
	case BuildSucceeded:
	case BuildPartiallySucceeded:
		if !s.AllowPartial {
			return "the build partially succeeded and the source does not allow partial builds", rev
		}
	default:
		return fmt.Sprintf("the build result is %s", r.Result), rev
	}
	if len(s.BranchFilters) > 0 {
		if rev.Branch == "" {
			return fmt.Sprintf("the build's branch is unknown and the source has branch filters %s", strings.Join(s.BranchFilters, ", ")), rev
		}
		if !spec.BranchAdmitted(s.BranchFilters, rev.Branch) {
			return fmt.Sprintf("branch %s is not admitted by the filters %s", spec.NormalizeBranch(rev.Branch), strings.Join(s.BranchFilters, ", ")), rev
		}
	}
	return "", rev
}

// externalURL keeps a URL that came from outside (a CI server's build page,
// commit or work item link) only when it is an absolute http(s) URL, so that
// a "javascript:" or "data:" link is never stored, let alone rendered.
func externalURL(s string) string {
	if origin.HTTP(s) {
		return s
	}
	return ""
}

func displayNumber(r BuildReceipt) string {
	if r.BuildNumber != "" {
		return r.BuildNumber
	}
	return r.BuildID
}

func jobWord(source string) string {
	if source == SourceTeamBuild {
		return "build definition"
	}
	return "job"
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// RecordDelivery records a delivery that creates nothing: REJECTED
// (authentication, size or parse failures, an unknown connection) or
// IGNORED before it names a build (an unfinished phase, another event type).
// Nothing else is written and no key is claimed; it is not audited, so that
// a flood of hostile requests does not grow the audit chain (the delivery
// table is their record).
func (e *Engine) RecordDelivery(ctx context.Context, d DeliveryRecord) (int, error) {
	switch d.Source {
	case SourceJenkins, SourceTeamBuild:
	default:
		return 0, Invalid("source", "unknown build source %q: use JENKINS or TEAMBUILD", d.Source)
	}
	if d.Result != DeliveryIgnored && d.Result != DeliveryRejected {
		return 0, Invalid("result", "a recorded delivery is IGNORED or REJECTED, not %q", d.Result)
	}
	c := e.client.WebhookDelivery.Create().SetSource(webhookdelivery.Source(d.Source)).
		SetBuildKey(truncateText(d.BuildKey, 1000)).SetEvent(truncateText(d.Event, 200)).
		SetResult(webhookdelivery.Result(d.Result)).SetReason(truncateText(d.Reason, 4000)).
		SetStatusCode(d.StatusCode).SetPayload(d.Payload).SetCreatedAt(e.clock.Now())
	if d.ConnectionID > 0 {
		c.SetConnectionID(d.ConnectionID)
	}
	row, err := c.Save(ctx)
	if err != nil {
		return 0, fmt.Errorf("recording %s webhook delivery: %w", strings.ToLower(d.Result), err)
	}
	return row.ID, nil
}

// NormalizeBranch returns the short name of a branch as CI servers report it
// ("origin/main", "refs/remotes/origin/main" and "refs/heads/main" are all
// "main"), the form branch filters compare; integrations use it to compare a
// payload's branch with the CI server's answer.
func NormalizeBranch(s string) string { return spec.NormalizeBranch(s) }
