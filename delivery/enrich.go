package delivery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releaseartifact"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/serviceconnection"
	"github.com/cairnhq/cairn/ent/sourcecommit"
	"github.com/cairnhq/cairn/ent/timer"
	"github.com/cairnhq/cairn/ent/workitem"
	"github.com/cairnhq/cairn/internal/backoff"
)

// timerEnrich enriches a release artifact from its CI server (target:
// release artifact). Its timers are run by the enrichment loop, never by
// RunDueTimers: their work is an HTTP call, which must not happen inside a
// transaction.
const timerEnrich = "artifact.enrich"

// Enrichment retry policy: the first retry after enrichBackoffBase, doubling
// up to enrichBackoffMax; after enrichMaxAttempts the artifact is marked
// FAILED (the release itself is never touched).
const (
	enrichBackoffBase = 30 * time.Second
	enrichBackoffMax  = time.Hour
	enrichMaxAttempts = 12
	// enrichFetchTimeout bounds one fetch from a CI server.
	enrichFetchTimeout = 2 * time.Minute
)

// enrichActor is the actor of enrichment changes.
var enrichActor = SystemActor("enrichment")

// ArtifactRef is a release artifact as a BuildInfoFetcher needs it.
type ArtifactRef struct {
	ArtifactID  int
	ReleaseID   int
	Alias       string
	Type        string // JENKINS or TEAMBUILD
	Job         string // Jenkins full name, or Team Build definition id or name
	Project     string // Azure DevOps project (from the release's frozen source)
	BuildID     string
	BuildNumber string
	BuildURL    string
	Branch      string
	Commit      string
	// RepositoryURL is the source's repository, which selects the git
	// BuildData of a Jenkins Pipeline build.
	RepositoryURL string
}

// ConnectionCreds are a service connection's address and API credentials
// (username and secret; never the webhook secret).
type ConnectionCreds struct {
	Name     string
	Kind     string // JENKINS or AZURE_DEVOPS
	URL      string
	Username string
	Secret   string
}

// BuildInfo is what a CI server tells about a build beyond its webhook.
type BuildInfo struct {
	Commits   []CommitInfo
	WorkItems []WorkItemInfo
	// Files are artifact relative paths (Jenkins) or download URLs (Team
	// Build).
	Files []string
	// Branch and Commit are the built revision, when the server reports one.
	Branch string
	Commit string
}

// CommitInfo is one commit a build brings.
type CommitInfo struct {
	SHA     string
	Message string // the full message
	Author  string
	Time    time.Time
	URL     string
}

// WorkItemInfo is one work item a build brings. System is AZURE_BOARDS,
// GITHUB or JIRA; a work item whose details could not be read has only
// System and ExternalID.
type WorkItemInfo struct {
	System     string
	ExternalID string
	Title      string
	Type       string
	State      string
	URL        string
	// Tags are the tracker's tags; nil when unknown (the stored ones stay).
	Tags []string
}

// BuildInfoFetcher reads a build's commits, work items and files from its CI
// server. It is declared here, where it is used, and implemented by
// integrations/enrich over the Jenkins and Azure DevOps REST clients.
type BuildInfoFetcher interface {
	Fetch(ctx context.Context, artifact ArtifactRef, conn ConnectionCreds) (*BuildInfo, error)
}

// enrichBackoff is the delay before retry number attempt (1 for the first).
func enrichBackoff(attempt int) time.Duration {
	return backoff.Policy{Base: enrichBackoffBase, Max: enrichBackoffMax}.Delay(attempt)
}

// RunDueEnrichments enriches every release artifact whose enrichment is due
// by the engine's clock and returns how many it completed. Each timer is
// claimed first (a lease, so that replicas do not fetch the same build
// twice); the fetch runs outside any transaction; its result is stored in
// one transaction that also marks the timer done. A failed fetch is retried
// with exponential backoff, and after enrichMaxAttempts the artifact is
// marked FAILED.
func (e *Engine) RunDueEnrichments(ctx context.Context, f BuildInfoFetcher) (int, error) {
	ran := 0
	var errs []error
	for {
		now := e.clock.Now()
		due, err := e.client.Timer.Query().
			Where(timer.Kind(timerEnrich), timer.DoneAtIsNil(), timer.DueAtLTE(now),
				timer.Or(timer.ClaimedUntilIsNil(), timer.ClaimedUntilLTE(now))).
			Order(ent.Asc(timer.FieldDueAt), ent.Asc(timer.FieldID)).Limit(50).All(ctx)
		if err != nil {
			return ran, fmt.Errorf("reading due enrichments: %w", err)
		}
		claimedAny := false
		for _, tm := range due {
			n, err := e.client.Timer.Update().
				Where(timer.ID(tm.ID), timer.DoneAtIsNil(),
					timer.Or(timer.ClaimedUntilIsNil(), timer.ClaimedUntilLTE(now))).
				SetClaimedUntil(now.Add(enrichFetchTimeout + time.Minute)).AddAttempts(1).Save(ctx)
			if err != nil {
				return ran, fmt.Errorf("claiming enrichment %d: %w", tm.ID, err)
			}
			if n == 0 {
				continue
			}
			claimedAny = true
			if err := e.enrichOne(ctx, f, tm.ID, tm.TargetID, tm.Attempts+1); err != nil {
				errs = append(errs, err)
				continue
			}
			ran++
		}
		e.signalEnrichment()
		if len(due) < 50 || !claimedAny {
			return ran, errors.Join(errs...)
		}
	}
}

// enrichOne runs one claimed enrichment; attempt counts from 1.
func (e *Engine) enrichOne(ctx context.Context, f BuildInfoFetcher, timerID, artifactID, attempt int) error {
	ref, creds, err := e.enrichmentInput(ctx, artifactID)
	if err != nil {
		if CodeOf(err) == CodeNotFound {
			return e.finishEnrichment(ctx, timerID, artifactID, err)
		}
		return e.retryEnrichment(ctx, timerID, artifactID, attempt, err)
	}
	fctx, cancel := context.WithTimeout(ctx, enrichFetchTimeout)
	info, err := f.Fetch(fctx, ref, creds)
	cancel()
	if err != nil {
		return e.retryEnrichment(ctx, timerID, artifactID, attempt, err)
	}
	err = e.inTx(ctx, func(t *txn) error {
		if err := t.claimTimerRun(timerID); err != nil {
			return err
		}
		return t.storeBuildInfo(artifactID, info)
	})
	if errors.Is(err, errTimerDone) {
		return nil
	}
	if err != nil {
		return e.retryEnrichment(ctx, timerID, artifactID, attempt, err)
	}
	return nil
}

// enrichmentInput reads the artifact, the release's frozen source and the
// connection's API credentials.
func (e *Engine) enrichmentInput(ctx context.Context, artifactID int) (ArtifactRef, ConnectionCreds, error) {
	a, err := e.client.ReleaseArtifact.Query().Where(releaseartifact.ID(artifactID)).WithRelease().Only(ctx)
	if ent.IsNotFound(err) {
		return ArtifactRef{}, ConnectionCreds{}, NotFound("release artifact", artifactID)
	}
	if err != nil {
		return ArtifactRef{}, ConnectionCreds{}, fmt.Errorf("reading artifact %d: %w", artifactID, err)
	}
	ref := ArtifactRef{
		ArtifactID: a.ID, ReleaseID: a.ReleaseID, Alias: a.Alias, Type: string(a.Type), Job: a.Job,
		BuildID: a.BuildID, BuildNumber: a.BuildNumber, BuildURL: a.BuildURL, Branch: a.Branch, Commit: a.Commit,
	}
	if rel := a.Edges.Release; rel != nil {
		for _, s := range rel.Snapshot.ArtifactSources {
			if s.Alias == a.Alias {
				ref.Project, ref.RepositoryURL = s.Project, s.RepositoryURL
			}
		}
	}
	c, err := e.client.ServiceConnection.Query().Where(serviceconnection.Name(a.Connection)).Only(ctx)
	if ent.IsNotFound(err) {
		return ArtifactRef{}, ConnectionCreds{}, NotFound("service connection", a.Connection)
	}
	if err != nil {
		return ArtifactRef{}, ConnectionCreds{}, fmt.Errorf("reading service connection %s: %w", a.Connection, err)
	}
	secret, err := e.openSecret(c.SecretEncrypted)
	if err != nil {
		return ArtifactRef{}, ConnectionCreds{}, fmt.Errorf("opening secret of service connection %s: %w", c.Name, err)
	}
	return ref, ConnectionCreds{Name: c.Name, Kind: string(c.Kind), URL: c.URL, Username: c.Username, Secret: secret}, nil
}

// retryEnrichment records a failed attempt and schedules the next one, or
// gives up after enrichMaxAttempts.
func (e *Engine) retryEnrichment(ctx context.Context, timerID, artifactID, attempt int, cause error) error {
	if attempt >= enrichMaxAttempts {
		return e.finishEnrichment(ctx, timerID, artifactID, fmt.Errorf("giving up after %d attempts: %w", attempt, cause))
	}
	next := e.clock.Now().Add(enrichBackoff(attempt))
	err := e.client.Timer.UpdateOneID(timerID).Where(timer.DoneAtIsNil()).
		SetDueAt(next).ClearClaimedUntil().SetLastError(truncateText(cause.Error(), 2000)).
		Exec(context.WithoutCancel(ctx))
	if err != nil && !ent.IsNotFound(err) {
		return fmt.Errorf("enriching artifact %d: %w (rescheduling: %v)", artifactID, cause, err)
	}
	return fmt.Errorf("enriching artifact %d (attempt %d, next at %s): %w", artifactID, attempt, next.Format(time.RFC3339), cause)
}

// finishEnrichment gives up: the timer is done and the artifact FAILED.
func (e *Engine) finishEnrichment(ctx context.Context, timerID, artifactID int, cause error) error {
	err := e.inTx(context.WithoutCancel(ctx), func(t *txn) error {
		if err := t.claimTimerRun(timerID); err != nil {
			return err
		}
		if err := t.Timer.UpdateOneID(timerID).SetLastError(truncateText(cause.Error(), 2000)).Exec(t.ctx); err != nil {
			return fmt.Errorf("recording enrichment error: %w", err)
		}
		n, err := t.ReleaseArtifact.Update().Where(releaseartifact.ID(artifactID)).
			SetEnrichment(releaseartifact.EnrichmentFAILED).Save(t.ctx)
		if err != nil {
			return fmt.Errorf("marking artifact %d FAILED: %w", artifactID, err)
		}
		if n == 0 {
			return nil
		}
		return t.audit(enrichActor, "artifact.enrichFailed", auditTargetReleaseArtifact, artifactID, nil,
			map[string]any{"error": truncateText(cause.Error(), 500)})
	})
	if err != nil && !errors.Is(err, errTimerDone) {
		return fmt.Errorf("enriching artifact %d: %w (giving up: %v)", artifactID, cause, err)
	}
	return fmt.Errorf("enriching artifact %d failed for good: %w", artifactID, cause)
}

// storeBuildInfo stores what the CI server told: commits (once per release
// and SHA), work items (once per system and id, linked to the release),
// files, the revision when the webhook lacked it, and marks the artifact
// DONE.
func (t *txn) storeBuildInfo(artifactID int, info *BuildInfo) error {
	a, err := t.ReleaseArtifact.Get(t.ctx, artifactID)
	if ent.IsNotFound(err) {
		return nil // the release is gone
	}
	if err != nil {
		return fmt.Errorf("reading artifact %d: %w", artifactID, err)
	}
	commits := 0
	for _, c := range info.Commits {
		sha := strings.TrimSpace(c.SHA)
		if sha == "" || len(sha) > 200 {
			continue
		}
		exists, err := t.SourceCommit.Query().Where(sourcecommit.ReleaseID(a.ReleaseID), sourcecommit.Sha(sha)).Exist(t.ctx)
		if err != nil {
			return fmt.Errorf("reading commit %s: %w", sha, err)
		}
		if exists {
			continue
		}
		create := t.SourceCommit.Create().SetReleaseID(a.ReleaseID).SetAlias(a.Alias).SetSha(sha).
			SetMessage(truncateText(c.Message, 64<<10)).SetAuthor(truncateText(c.Author, 200)).
			SetURL(truncateText(externalURL(c.URL), 2000))
		if !c.Time.IsZero() {
			create.SetAuthoredAt(c.Time)
		}
		if err := create.Exec(t.ctx); err != nil {
			return fmt.Errorf("storing commit %s: %w", sha, err)
		}
		commits++
	}
	linked, err := t.WorkItem.Query().Where(workitem.HasReleasesWith(release.ID(a.ReleaseID))).IDs(t.ctx)
	if err != nil {
		return fmt.Errorf("reading work items of release %d: %w", a.ReleaseID, err)
	}
	isLinked := map[int]bool{}
	for _, id := range linked {
		isLinked[id] = true
	}
	var link []int
	for _, w := range info.WorkItems {
		id, err := t.upsertWorkItem(w)
		if err != nil {
			return err
		}
		if id != 0 && !isLinked[id] {
			isLinked[id] = true
			link = append(link, id)
		}
	}
	if len(link) > 0 {
		if err := t.Release.UpdateOneID(a.ReleaseID).AddWorkItemIDs(link...).Exec(t.ctx); err != nil {
			return fmt.Errorf("linking work items to release %d: %w", a.ReleaseID, err)
		}
	}
	upd := a.Update().SetEnrichment(releaseartifact.EnrichmentDONE)
	if len(a.Files) == 0 && len(info.Files) > 0 {
		upd.SetFiles(info.Files)
	}
	if a.Commit == "" && info.Commit != "" {
		upd.SetCommit(truncateText(info.Commit, 200))
	}
	if a.Branch == "" && info.Branch != "" {
		upd.SetBranch(truncateText(spec.NormalizeBranch(info.Branch), 500))
	}
	if err := upd.Exec(t.ctx); err != nil {
		return fmt.Errorf("storing artifact %d: %w", a.ID, err)
	}
	if err := t.audit(enrichActor, "artifact.enrich", auditTargetReleaseArtifact, a.ID, nil,
		map[string]any{"release": a.ReleaseID, "commits": commits, "workItems": len(link), "files": len(info.Files)}); err != nil {
		return err
	}
	return t.emit(Event{Type: EventArtifactEnriched, ReleaseID: a.ReleaseID, Actor: enrichActor.String(),
		Data: map[string]any{"artifact": a.Alias, "commits": commits, "workItems": len(link)}})
}

// upsertWorkItem returns the id of the work item (system, external id),
// created if new; known details replace stored ones, unknown ones keep them.
func (t *txn) upsertWorkItem(w WorkItemInfo) (int, error) {
	sys, ext := strings.TrimSpace(w.System), strings.TrimSpace(w.ExternalID)
	if sys == "" || ext == "" || len(sys) > 50 || len(ext) > 200 {
		return 0, nil
	}
	title, typ, state, url := truncateText(w.Title, 1000), truncateText(w.Type, 100), truncateText(w.State, 100), truncateText(externalURL(w.URL), 2000)
	tags := workItemTags(w.Tags)
	row, err := t.WorkItem.Query().Where(workitem.System(sys), workitem.ExternalID(ext)).Only(t.ctx)
	switch {
	case ent.IsNotFound(err):
		row, err = t.WorkItem.Create().SetSystem(sys).SetExternalID(ext).SetTitle(title).SetType(typ).
			SetState(state).SetURL(url).SetTags(tags).SetCreatedAt(t.now).SetUpdatedAt(t.now).Save(t.ctx)
		if err != nil {
			return 0, fmt.Errorf("storing work item %s %s: %w", sys, ext, err)
		}
		return row.ID, nil
	case err != nil:
		return 0, fmt.Errorf("reading work item %s %s: %w", sys, ext, err)
	}
	upd := row.Update()
	changed := false
	for _, f := range []struct {
		v   string
		old string
		set func(string)
	}{
		{title, row.Title, func(s string) { upd.SetTitle(s) }},
		{typ, row.Type, func(s string) { upd.SetType(s) }},
		{state, row.State, func(s string) { upd.SetState(s) }},
		{url, row.URL, func(s string) { upd.SetURL(s) }},
	} {
		if f.v != "" && f.v != f.old {
			f.set(f.v)
			changed = true
		}
	}
	if w.Tags != nil && !slices.Equal(tags, row.Tags) {
		upd.SetTags(tags)
		changed = true
	}
	if changed {
		if err := upd.SetUpdatedAt(t.now).Exec(t.ctx); err != nil {
			return 0, fmt.Errorf("updating work item %s %s: %w", sys, ext, err)
		}
	}
	return row.ID, nil
}

// Bounds of a work item's tags.
const (
	maxWorkItemTags   = 50
	maxWorkItemTagLen = 100
)

// workItemTags trims tags, drops empty and repeated ones and bounds them.
func workItemTags(in []string) []string {
	var out []string
	for _, s := range in {
		s = truncateText(strings.TrimSpace(s), maxWorkItemTagLen)
		if s == "" || slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, s) }) {
			continue
		}
		if out = append(out, s); len(out) == maxWorkItemTags {
			break
		}
	}
	return out
}

// NextEnrichmentDue returns when the next enrichment is due (or its lease
// ends), and false when none is pending.
func (e *Engine) NextEnrichmentDue(ctx context.Context) (time.Time, bool, error) {
	pending, err := e.client.Timer.Query().Where(timer.Kind(timerEnrich), timer.DoneAtIsNil()).
		Order(ent.Asc(timer.FieldDueAt)).Limit(100).All(ctx)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading the next enrichment: %w", err)
	}
	var next time.Time
	for _, tm := range pending {
		due := tm.DueAt
		if tm.ClaimedUntil != nil && tm.ClaimedUntil.After(due) {
			due = *tm.ClaimedUntil
		}
		if next.IsZero() || due.Before(next) {
			next = due
		}
	}
	return next, !next.IsZero(), nil
}

// RunEnrichmentLoop enriches release artifacts until ctx ends. Between runs
// it waits until the next enrichment is due by the engine's clock, or until
// a wake-up: from this engine committing new enrichment work, or from wake
// (the server may feed it events of other replicas). It never polls at a
// fixed rate.
func (e *Engine) RunEnrichmentLoop(ctx context.Context, f BuildInfoFetcher, wake <-chan struct{}) {
	const retry = 5 * time.Second
	for {
		if _, err := e.RunDueEnrichments(ctx, f); err != nil && ctx.Err() == nil {
			e.log.Warn("enriching release artifacts", "err", err)
		}
		var wait <-chan time.Time
		var tm *time.Timer
		next, ok, err := e.NextEnrichmentDue(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			e.log.Error("reading the next enrichment", "err", err)
			tm = time.NewTimer(retry)
			wait = tm.C
		case ok:
			tm = time.NewTimer(max(next.Sub(e.clock.Now()), 0))
			wait = tm.C
		}
		select {
		case <-ctx.Done():
			if tm != nil {
				tm.Stop()
			}
			return
		case <-wake:
		case <-e.enrichWake:
		case <-wait:
		}
		if tm != nil {
			tm.Stop()
		}
	}
}

// EnrichmentProgress returns a channel that is closed after the next pass of
// the enrichment loop (RunDueEnrichments) ends: take it, check the database,
// and wait on it if the work you expect is not there yet.
func (e *Engine) EnrichmentProgress() <-chan struct{} {
	e.enrichMu.Lock()
	defer e.enrichMu.Unlock()
	return e.enrichPass
}

func (e *Engine) signalEnrichment() {
	e.enrichMu.Lock()
	defer e.enrichMu.Unlock()
	close(e.enrichPass)
	e.enrichPass = make(chan struct{})
}
