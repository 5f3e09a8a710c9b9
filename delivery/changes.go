package delivery

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/serviceconnection"
	"github.com/cairnhq/cairn/ent/sourcecommit"
	"github.com/cairnhq/cairn/ent/workitem"
)

// ReleaseChanges are the changes a release brings to an environment
// relative to what the environment runs now.
type ReleaseChanges struct {
	Release     *ent.Release
	Environment string
	// Current is the release the environment runs now (its last SUCCEEDED
	// or PARTIALLY_SUCCEEDED deployment); nil when it has run none.
	Current *ent.Release
	// Releases are those after Current up to and including Release, by
	// number: empty when the environment already runs Release or a later one.
	Releases []*ent.Release
	// Commits and WorkItems are those of Releases, each once.
	Commits   []*ent.SourceCommit
	WorkItems []*ent.WorkItem
	// RemovedReleases are those after Release up to and including Current,
	// by number, when Release is older than Current (what a rollback takes
	// out); RemovedCommits and RemovedWorkItems are their commits and work
	// items, each once, that neither Release nor an older release of the
	// definition carries (a rebuilt commit stays).
	RemovedReleases  []*ent.Release
	RemovedCommits   []*ent.SourceCommit
	RemovedWorkItems []*ent.WorkItem
}

// currentRelease returns the release of an environment's latest successful
// deployment, and that deployment; nil when there is none.
func currentRelease(ctx context.Context, c *ent.Client, definitionID int, env string) (*ent.Release, *ent.Deployment, error) {
	d, err := c.Deployment.Query().
		Where(deployment.DefinitionID(definitionID), deployment.EnvironmentName(env),
			deployment.StatusIn(deployment.StatusSUCCEEDED, deployment.StatusPARTIALLY_SUCCEEDED)).
		Order(ent.Desc(deployment.FieldCompletedAt), ent.Desc(deployment.FieldID)).
		WithRelease().First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading the current deployment of %s: %w", env, err)
	}
	return d.Edges.Release, d, nil
}

// ChangesSince returns what release releaseID brings to environment env:
// the commits and work items of every release of its definition after the
// one env runs now, up to and including this one ("changes since the last
// deployment"). Releases are compared by number, so a rollback target older
// than what runs brings nothing; what it takes out is in the Removed fields. A release of a definition the actor may not
// read is NOT_FOUND.
func (e *Engine) ChangesSince(ctx context.Context, actor Actor, releaseID int, env string) (*ReleaseChanges, error) {
	rel, err := e.client.Release.Get(ctx, releaseID)
	if ent.IsNotFound(err) {
		return nil, NotFound("release", releaseID)
	}
	if err == nil && e.RequireReadableDefinition(ctx, actor, rel.DefinitionID) != nil {
		return nil, NotFound("release", releaseID)
	}
	if err != nil {
		return nil, fmt.Errorf("reading release %d: %w", releaseID, err)
	}
	if _, ok := rel.Snapshot.Environment(env); !ok {
		return nil, Invalid("environment", "release %s has no environment %q (it has %s)", rel.Name, env, envNames(&rel.Snapshot))
	}
	cur, _, err := currentRelease(ctx, e.client, rel.DefinitionID, env)
	if err != nil {
		return nil, err
	}
	out := &ReleaseChanges{Release: rel, Environment: env, Current: cur}
	q := e.client.Release.Query().Where(release.DefinitionID(rel.DefinitionID), release.NumberLTE(rel.Number))
	if cur != nil {
		q.Where(release.NumberGT(cur.Number))
	}
	if out.Releases, err = q.Order(ent.Asc(release.FieldNumber)).All(ctx); err != nil {
		return nil, fmt.Errorf("reading releases since %s: %w", env, err)
	}
	if out.Commits, out.WorkItems, err = e.changesOf(ctx, out.Releases); err != nil {
		return nil, err
	}
	if cur == nil || cur.Number <= rel.Number {
		return out, nil
	}
	out.RemovedReleases, err = e.client.Release.Query().
		Where(release.DefinitionID(rel.DefinitionID), release.NumberGT(rel.Number), release.NumberLTE(cur.Number)).
		Order(ent.Asc(release.FieldNumber)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading releases a rollback of %s removes: %w", env, err)
	}
	commits, items, err := e.changesOf(ctx, out.RemovedReleases)
	if err != nil {
		return nil, err
	}
	if len(commits) > 0 {
		shas := make([]string, len(commits))
		for i, c := range commits {
			shas[i] = c.Sha
		}
		kept, err := e.client.SourceCommit.Query().Where(sourcecommit.ShaIn(shas...),
			sourcecommit.HasReleaseWith(release.DefinitionID(rel.DefinitionID), release.NumberLTE(rel.Number))).
			Select(sourcecommit.FieldSha).Strings(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading commits a rollback keeps: %w", err)
		}
		keep := map[string]bool{}
		for _, sha := range kept {
			keep[sha] = true
		}
		for _, c := range commits {
			if !keep[c.Sha] {
				out.RemovedCommits = append(out.RemovedCommits, c)
			}
		}
	}
	if len(items) == 0 {
		return out, nil
	}
	ids := make([]int, len(items))
	for i, w := range items {
		ids[i] = w.ID
	}
	kept, err := e.client.WorkItem.Query().Where(workitem.IDIn(ids...),
		workitem.HasReleasesWith(release.DefinitionID(rel.DefinitionID), release.NumberLTE(rel.Number))).IDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading work items a rollback keeps: %w", err)
	}
	keep := map[int]bool{}
	for _, id := range kept {
		keep[id] = true
	}
	for _, w := range items {
		if !keep[w.ID] {
			out.RemovedWorkItems = append(out.RemovedWorkItems, w)
		}
	}
	return out, nil
}

// changesOf returns the commits (each sha once, newest release first) and
// the work items of releases.
func (e *Engine) changesOf(ctx context.Context, releases []*ent.Release) ([]*ent.SourceCommit, []*ent.WorkItem, error) {
	if len(releases) == 0 {
		return nil, nil, nil
	}
	ids := make([]int, len(releases))
	for i, r := range releases {
		ids[i] = r.ID
	}
	all, err := e.client.SourceCommit.Query().Where(sourcecommit.ReleaseIDIn(ids...)).
		Order(ent.Desc(sourcecommit.FieldReleaseID), ent.Asc(sourcecommit.FieldID)).All(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("reading commits: %w", err)
	}
	var commits []*ent.SourceCommit
	seen := map[string]bool{}
	for _, c := range all {
		if !seen[c.Sha] {
			seen[c.Sha] = true
			commits = append(commits, c)
		}
	}
	items, err := e.client.WorkItem.Query().Where(workitem.HasReleasesWith(release.IDIn(ids...))).
		Order(ent.Asc(workitem.FieldID)).All(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("reading work items: %w", err)
	}
	return commits, items, nil
}

// WorkItemDeployments says where a work item is deployed.
type WorkItemDeployments struct {
	WorkItem *ent.WorkItem
	// DeployedTo are the environments whose current release brings the
	// work item: a release that carries it, or a later release of the same
	// definition.
	DeployedTo []*WorkItemDeployment
	// NotDeployedTo are the environments of the same definitions that do
	// not run it yet.
	NotDeployedTo []*WorkItemPending
}

// WorkItemDeployment is one environment that runs a work item.
type WorkItemDeployment struct {
	DefinitionID   int
	DefinitionName string
	Environment    string
	// Release is what the environment runs; Introduced the first release of
	// the definition that carried the work item.
	Release    *ent.Release
	Introduced *ent.Release
	DeployedAt *time.Time
	// Status is the deployment's: SUCCEEDED or PARTIALLY_SUCCEEDED.
	Status string
}

// WorkItemPending is one environment that does not run a work item yet.
type WorkItemPending struct {
	DefinitionID   int
	DefinitionName string
	Environment    string
	// Introduced is the first release of the definition that carries it.
	Introduced *ent.Release
	// Current is what the environment runs, nil if nothing.
	Current *ent.Release
}

// WorkItemDeployments finds the work item (system, externalID) and, for
// every live definition with a release that carries it, the environments
// that run it and those that do not yet. A work item Cairn has never seen is
// NOT_FOUND.
func (e *Engine) WorkItemDeployments(ctx context.Context, system, externalID string) (*WorkItemDeployments, error) {
	w, err := e.client.WorkItem.Query().
		Where(workitem.System(strings.TrimSpace(system)), workitem.ExternalID(strings.TrimSpace(externalID))).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, NotFound("work item", system+" "+externalID)
	}
	if err != nil {
		return nil, fmt.Errorf("reading work item %s %s: %w", system, externalID, err)
	}
	rels, err := w.QueryReleases().Order(ent.Asc(release.FieldNumber)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading releases of work item %d: %w", w.ID, err)
	}
	first := map[int]*ent.Release{}
	var defs []int
	for _, r := range rels {
		if first[r.DefinitionID] == nil {
			first[r.DefinitionID] = r
			defs = append(defs, r.DefinitionID)
		}
	}
	sort.Ints(defs)
	out := &WorkItemDeployments{WorkItem: w}
	for _, defID := range defs {
		def, snap, err := definitionSnapshotOf(ctx, e.client, defID)
		if CodeOf(err) == CodeNotFound {
			continue // deleted definitions have no environments to show
		}
		if err != nil {
			return nil, err
		}
		intro := first[defID]
		for _, env := range snap.Environments {
			cur, d, err := currentRelease(ctx, e.client, defID, env.Name)
			if err != nil {
				return nil, err
			}
			if cur != nil && cur.Number >= intro.Number {
				out.DeployedTo = append(out.DeployedTo, &WorkItemDeployment{
					DefinitionID: defID, DefinitionName: def.Name, Environment: env.Name,
					Release: cur, Introduced: intro, DeployedAt: d.CompletedAt, Status: string(d.Status),
				})
				continue
			}
			out.NotDeployedTo = append(out.NotDeployedTo, &WorkItemPending{
				DefinitionID: defID, DefinitionName: def.Name, Environment: env.Name, Introduced: intro, Current: cur,
			})
		}
	}
	return out, nil
}

// BuildVersion is a build a CI server reports for an artifact source, to
// pick as the version of a manual release.
type BuildVersion struct {
	BuildID     string
	BuildNumber string
	Branch      string
	Commit      string
	BuildURL    string
	// Result is SUCCEEDED, PARTIALLY_SUCCEEDED, FAILED, CANCELED, or empty
	// while the build runs.
	Result     string
	FinishedAt *time.Time
	// Admitted says whether the source would release the build by itself:
	// it succeeded (or partially, where allowed) on a branch the source's
	// filters admit. Set by ArtifactVersions.
	Admitted bool
}

// BuildLister lists the recent builds of an artifact source from its CI
// server; implemented by integrations/enrich.
type BuildLister interface {
	RecentBuilds(ctx context.Context, source ArtifactRef, conn ConnectionCreds, n int) ([]BuildVersion, error)
}

// MaxArtifactVersions is the most builds ArtifactVersions lists.
const MaxArtifactVersions = 100

// ArtifactVersions lists the n most recent builds (default 20, at most MaxArtifactVersions)
// of the artifact source alias of a definition, newest first, as its CI
// server reports them, so that a person creating a release can pick one.
// It needs role VIEWER.
func (e *Engine) ArtifactVersions(ctx context.Context, actor Actor, l BuildLister, definitionID int, alias string, n int) ([]*BuildVersion, error) {
	if err := actor.Require(RoleViewer, "listing artifact versions"); err != nil {
		return nil, err
	}
	switch {
	case n <= 0:
		n = 20
	case n > MaxArtifactVersions:
		return nil, Invalid("first", "at most %d builds can be listed, not %d", MaxArtifactVersions, n)
	}
	if l == nil {
		return nil, fmt.Errorf("listing artifact versions: no CI client is configured")
	}
	def, snap, err := definitionSnapshotOf(ctx, e.client, definitionID)
	if err != nil {
		return nil, err
	}
	for _, s := range snap.ArtifactSources {
		if s.Alias != alias {
			continue
		}
		return e.recentBuilds(ctx, l, s, n)
	}
	return nil, Invalid("alias", "definition %q has no artifact source %q (it has %s)", def.Name, alias, aliasNames(snap))
}

// SourceBuilds lists the n most recent builds (default 20, at most MaxArtifactVersions) of a
// CI job through a service connection, newest first, for an artifact source that is not saved
// yet: the definition designer shows them while a person picks the connection and the job. It
// needs role EDITOR (who may write a definition naming any connection), and judges the source
// as a definition's validation would (type, connection and its kind, job, project).
func (e *Engine) SourceBuilds(ctx context.Context, actor Actor, l BuildLister, s spec.ArtifactSourceSpec, n int) ([]*BuildVersion, error) {
	if err := actor.Require(RoleEditor, "listing the builds of a CI job"); err != nil {
		return nil, err
	}
	switch {
	case n <= 0:
		n = 20
	case n > MaxArtifactVersions:
		return nil, Invalid("first", "at most %d builds can be listed, not %d", MaxArtifactVersions, n)
	}
	var want serviceconnection.Kind
	switch s.Type {
	case SourceJenkins:
		want = serviceconnection.KindJENKINS
	case SourceTeamBuild:
		want = serviceconnection.KindAZURE_DEVOPS
		if strings.TrimSpace(s.Project) == "" {
			return nil, Invalid("project", "a TEAMBUILD source needs the Azure DevOps project")
		}
	default:
		return nil, Invalid("type", "unknown artifact type %q; use JENKINS or TEAMBUILD", s.Type)
	}
	switch {
	case strings.TrimSpace(s.Job) == "":
		return nil, Invalid("job", "name the CI job (Jenkins job or Team Build definition)")
	case len(s.Job) > maxJob:
		return nil, Invalid("job", "is %d bytes long; at most %d are allowed", len(s.Job), maxJob)
	case len(s.Project) > maxProject:
		return nil, Invalid("project", "is %d bytes long; at most %d are allowed", len(s.Project), maxProject)
	}
	c, err := e.client.ServiceConnection.Query().Where(serviceconnection.Name(s.Connection)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, Invalid("connection", "unknown connection %q", s.Connection)
	}
	if err != nil {
		return nil, fmt.Errorf("reading service connection %s: %w", s.Connection, err)
	}
	if c.Kind != want {
		return nil, Invalid("connection", "connection %q is a %s connection; a %s source needs a %s connection", c.Name, c.Kind, s.Type, want)
	}
	if l == nil {
		return nil, fmt.Errorf("listing builds: no CI client is configured")
	}
	return e.recentBuilds(ctx, l, s, n)
}

// recentBuilds asks the CI server of source s for its n most recent builds, newest first, each
// marked with whether s would release it by itself.
func (e *Engine) recentBuilds(ctx context.Context, l BuildLister, s spec.ArtifactSourceSpec, n int) ([]*BuildVersion, error) {
	ref, creds, err := e.sourceRef(ctx, s)
	if err != nil {
		return nil, err
	}
	builds, err := l.RecentBuilds(ctx, ref, creds, n)
	if err != nil {
		return nil, fmt.Errorf("listing builds of %s from %s: %w", s.Job, creds.Name, err)
	}
	if len(builds) > n {
		builds = builds[:n]
	}
	out := make([]*BuildVersion, len(builds))
	for i := range builds {
		builds[i].Admitted = admittedBuild(s, builds[i])
		out[i] = &builds[i]
	}
	return out, nil
}
