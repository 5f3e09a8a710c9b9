package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releaseartifact"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/serviceconnection"
)

// CIServer is what the engine asks the CI servers of artifact sources: one
// build, to check the version a person gives a manual release, and the
// recent builds, to pick the newest admitted one for a scheduled release.
// It is declared here, where it is used, and implemented by
// integrations/enrich over the Jenkins and Azure DevOps REST clients, so
// that delivery imports no integration.
type CIServer interface {
	BuildLister
	// Build reads one build of the source: BuildID is the Jenkins build
	// number or the Team Build build id. A build the server does not have
	// is an error matching ErrBuildNotFound. The returned Result is empty
	// while the build runs.
	Build(ctx context.Context, source ArtifactRef, conn ConnectionCreds, buildID string) (*BuildVersion, error)
}

// ErrBuildNotFound is matched (errors.Is) by a CIServer's error for a build
// that does not exist.
var ErrBuildNotFound = errors.New("build not found")

// ciTimeout bounds one question to a CI server made while a person waits.
const ciTimeout = 30 * time.Second

// scheduleCandidates is how many recent builds of a source a scheduled
// release considers when it looks for the newest admitted one.
const scheduleCandidates = 20

// governArtifacts checks, with the CI server, the artifact versions a person
// gives a manual release: the build exists, it succeeded (or partially
// succeeded, where the source allows it), and it was built from a branch
// that the source's filters admit; a branch or commit given that the build
// contradicts is refused. The checked versions carry the CI server's build
// number, URL, branch, commit and result, not the person's. It runs before
// the release's transaction (a CI call never runs inside one), and the
// transaction refuses to go on if the definition changed meanwhile.
//
// An explicit OverrideArtifactChecks skips the checks for an actor that
// holds the definition's overrideArtifactChecks permission (FORBIDDEN
// otherwise); createRelease audits it.
// An engine without a CI server (Options.CI nil, as in tests of other
// parts) cannot check and leaves the versions as given. It must run after
// CreateRelease's authorization, whose refusals (a definition the actor may
// not read) must not be preceded by what the CI server says of its builds.
func (e *Engine) governArtifacts(ctx context.Context, actor Actor, in CreateReleaseInput) (CreateReleaseInput, error) {
	if in.OverrideArtifactChecks {
		// The transaction authorizes again (and audits an ADMIN's override).
		return in, e.precheck(ctx, actor, in.DefinitionID, "", PermOverrideArtifactChecks,
			"creating a release without artifact checks", NotFound("release definition", in.DefinitionID))
	}
	if !e.asksCI(in) {
		return in, nil
	}
	def, snap, err := definitionSnapshotOf(ctx, e.client, in.DefinitionID)
	if err != nil {
		return in, err
	}
	checked := make([]ArtifactVersion, len(in.Artifacts))
	copy(checked, in.Artifacts)
	for i, a := range checked {
		s, ok := sourceOf(snap, a.Alias)
		if !ok || (a.BuildID == "" && a.BuildNumber == "") {
			continue // createRelease refuses unknown aliases, and reuses a version for an empty one
		}
		v, err := e.checkArtifact(ctx, i, s, a)
		if err != nil {
			return in, err
		}
		checked[i] = v
	}
	in.Artifacts = checked
	in.checkedRevision = def.Revision
	return in, nil
}

// asksCI reports whether governArtifacts asks the CI server about in's versions (an engine with a
// CI server, and versions given): CreateRelease authorizes before it does.
func (e *Engine) asksCI(in CreateReleaseInput) bool {
	return e.ci != nil && len(in.Artifacts) > 0
}

// checkArtifact checks one given version (artifacts[i]) of source s.
func (e *Engine) checkArtifact(ctx context.Context, i int, s spec.ArtifactSourceSpec, a ArtifactVersion) (ArtifactVersion, error) {
	field := fmt.Sprintf("artifacts[%d]", i)
	ref, creds, err := e.sourceRef(ctx, s)
	if err != nil {
		return a, err
	}
	id := strings.TrimSpace(a.BuildID)
	if id == "" {
		if ref.Type == SourceTeamBuild {
			return a, Invalid(field+".buildId", "give the build id of the %s build: Team Build builds are checked by id", s.Alias)
		}
		id = strings.TrimSpace(a.BuildNumber) // a Jenkins build's number is its id
	}
	cctx, cancel := context.WithTimeout(ctx, ciTimeout)
	b, err := e.ci.Build(cctx, ref, creds, id)
	cancel()
	switch {
	case errors.Is(err, ErrBuildNotFound):
		return a, Invalid(field+".buildId", "%s has no build %s of %s", creds.Name, id, s.Job)
	case err != nil:
		return a, fmt.Errorf("checking build %s of %s with %s (an ADMIN may create the release with overrideArtifactChecks): %w", id, s.Job, creds.Name, err)
	}
	switch b.Result {
	case BuildSucceeded:
	case BuildPartiallySucceeded:
		if !s.AllowPartial {
			return a, Invalid(field+".buildId", "build %s of %s partially succeeded and the source does not allow partial builds", id, s.Job)
		}
	case "":
		return a, Invalid(field+".buildId", "build %s of %s has not finished", id, s.Job)
	default:
		return a, Invalid(field+".buildId", "build %s of %s is %s; only succeeded builds are released", id, s.Job, b.Result)
	}
	branch := spec.NormalizeBranch(b.Branch)
	if len(s.BranchFilters) > 0 {
		if branch == "" {
			return a, Invalid(field+".buildId", "%s does not say which branch build %s of %s was built from, and the source admits only %s", creds.Name, id, s.Job, strings.Join(s.BranchFilters, ", "))
		}
		if !spec.BranchAdmitted(s.BranchFilters, branch) {
			return a, Invalid(field+".buildId", "build %s of %s was built from branch %s, which the source's filters %s do not admit", id, s.Job, branch, strings.Join(s.BranchFilters, ", "))
		}
	}
	if given := spec.NormalizeBranch(a.Branch); given != "" && given != branch {
		return a, Invalid(field+".branch", "build %s of %s was built from %q, not %q", id, s.Job, branch, given)
	}
	if given := strings.ToLower(strings.TrimSpace(a.Commit)); given != "" && b.Commit != "" && !strings.HasPrefix(strings.ToLower(b.Commit), given) {
		return a, Invalid(field+".commit", "build %s of %s was built from commit %s, not %s", id, s.Job, b.Commit, a.Commit)
	}
	v := ArtifactVersion{
		Alias: a.Alias, BuildID: b.BuildID, BuildNumber: b.BuildNumber, Branch: branch, Commit: b.Commit,
		BuildURL: externalURL(b.BuildURL), Files: a.Files, Result: b.Result,
	}
	if v.BuildID == "" {
		v.BuildID = id
	}
	if v.BuildNumber == "" {
		v.BuildNumber = v.BuildID
	}
	return v, nil
}

// sourceOf returns the artifact source of a snapshot with the alias.
func sourceOf(snap *spec.DefinitionSnapshot, alias string) (spec.ArtifactSourceSpec, bool) {
	for _, s := range snap.ArtifactSources {
		if s.Alias == alias {
			return s, true
		}
	}
	return spec.ArtifactSourceSpec{}, false
}

// sourceRef returns an artifact source as a CI client needs it, with its
// connection's API credentials.
func (e *Engine) sourceRef(ctx context.Context, s spec.ArtifactSourceSpec) (ArtifactRef, ConnectionCreds, error) {
	c, err := e.client.ServiceConnection.Query().Where(serviceconnection.Name(s.Connection)).Only(ctx)
	if ent.IsNotFound(err) {
		return ArtifactRef{}, ConnectionCreds{}, NotFound("service connection", s.Connection)
	}
	if err != nil {
		return ArtifactRef{}, ConnectionCreds{}, fmt.Errorf("reading service connection %s: %w", s.Connection, err)
	}
	secret, err := e.openSecret(c.SecretEncrypted)
	if err != nil {
		return ArtifactRef{}, ConnectionCreds{}, fmt.Errorf("opening secret of service connection %s: %w", c.Name, err)
	}
	typ := s.Type
	if typ == "" {
		typ = SourceJenkins
	}
	ref := ArtifactRef{Alias: s.Alias, Type: typ, Job: s.Job, Project: s.Project, RepositoryURL: s.RepositoryURL}
	return ref, ConnectionCreds{Name: c.Name, Kind: string(c.Kind), URL: c.URL, Username: c.Username, Secret: secret}, nil
}

// admittedBuild reports whether a build of source s may be released by
// itself (a schedule): it succeeded (or partially, where allowed) and its
// branch passes the source's filters.
func admittedBuild(s spec.ArtifactSourceSpec, b BuildVersion) bool {
	switch b.Result {
	case BuildSucceeded:
	case BuildPartiallySucceeded:
		if !s.AllowPartial {
			return false
		}
	default:
		return false
	}
	if len(s.BranchFilters) == 0 {
		return true
	}
	branch := spec.NormalizeBranch(b.Branch)
	return branch != "" && spec.BranchAdmitted(s.BranchFilters, branch)
}

// scheduledBuilds are the versions a scheduled release of a definition
// deploys, read from the CI servers before the timer's transaction.
type scheduledBuilds struct {
	// revision is the definition revision they were chosen for.
	revision int
	// versions has the newest admitted build of each source that has one
	// among its scheduleCandidates newest; a source without one deploys
	// the version of the definition's latest release.
	versions []ArtifactVersion
}

// newestBuilds picks, for each artifact source of a definition, the newest
// admitted build its CI server lists. Nil without a CI server (the release
// then reuses the latest release's versions) or when the definition is gone.
func (e *Engine) newestBuilds(ctx context.Context, definitionID int) (*scheduledBuilds, error) {
	if e.ci == nil {
		return nil, nil
	}
	def, snap, err := definitionSnapshotOf(ctx, e.client, definitionID)
	if CodeOf(err) == CodeNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := &scheduledBuilds{revision: def.Revision}
	for _, s := range snap.ArtifactSources {
		ref, creds, err := e.sourceRef(ctx, s)
		if err != nil {
			return nil, err
		}
		cctx, cancel := context.WithTimeout(ctx, ciTimeout)
		builds, err := e.ci.RecentBuilds(cctx, ref, creds, scheduleCandidates)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("listing builds of %s from %s: %w", s.Job, creds.Name, err)
		}
		for _, b := range builds {
			if admittedBuild(s, b) {
				out.versions = append(out.versions, ArtifactVersion{
					Alias: s.Alias, BuildID: b.BuildID, BuildNumber: b.BuildNumber,
					Branch: spec.NormalizeBranch(b.Branch), Commit: b.Commit, BuildURL: externalURL(b.BuildURL), Result: b.Result,
				})
				break
			}
		}
	}
	return out, nil
}

// unchangedSince returns the name of the definition's latest release when
// every source would deploy the build that release deployed (nothing
// changed), else "".
func (t *txn) unchangedSince(definitionID int, versions []ArtifactVersion) (string, error) {
	latest, err := t.Release.Query().Where(release.DefinitionID(definitionID)).
		Order(ent.Desc(release.FieldNumber)).WithArtifacts().First(t.ctx)
	if ent.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the latest release: %w", err)
	}
	_, snap, err := t.definitionSnapshot(definitionID)
	if err != nil {
		return "", err
	}
	given := map[string]ArtifactVersion{}
	for _, v := range versions {
		given[v.Alias] = v
	}
	for _, s := range snap.ArtifactSources {
		v, ok := given[s.Alias]
		if !ok {
			continue // it would reuse the latest release's version
		}
		var last *ent.ReleaseArtifact
		for _, a := range latest.Edges.Artifacts {
			if a.Alias == s.Alias {
				last = a
			}
		}
		if last == nil || last.BuildID != v.BuildID {
			return "", nil
		}
	}
	return latest.Name, nil
}

// queueEnrichment marks a release artifact PENDING enrichment and persists
// the work (a Timer of kind artifact.enrich, due now), so that a restart
// loses none; the enrichment loop is woken after commit. Every artifact of
// every release is enriched: manual, scheduled and CI releases alike.
func (t *txn) queueEnrichment(a *ent.ReleaseArtifact) error {
	if a.Enrichment != releaseartifact.EnrichmentPENDING { // stored PENDING by createRelease
		if err := a.Update().SetEnrichment(releaseartifact.EnrichmentPENDING).Exec(t.ctx); err != nil {
			return fmt.Errorf("marking artifact %d for enrichment: %w", a.ID, err)
		}
	}
	err := t.Timer.Create().SetKind(timerEnrich).SetTargetID(a.ID).SetDueAt(t.now).SetCreatedAt(t.now).Exec(t.ctx)
	if err != nil {
		return fmt.Errorf("queueing enrichment of artifact %d: %w", a.ID, err)
	}
	t.enrichQueued = true
	return nil
}
