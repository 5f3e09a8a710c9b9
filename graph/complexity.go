package graph

import (
	"entgo.io/contrib/entgql"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/schema/spec"
)

// ciCallCost is the complexity of a field that may call a CI server (artifactVersions, sourceBuilds): at
// the default limit of 5000 a query holds at most about 15 of them.
const ciCallCost = 250

// viewerCanCost is the complexity of a viewerCan field of a release, release environment,
// deployment or approval.
const viewerCanCost = 10

// blockersCost is the complexity of the blockers of one environment
// (whyNotDeployed, ReleaseEnvironment.blockers): a bounded read of about
// twenty statements, so that a list of releases cannot ask for them all.
const blockersCost = 20

// setComplexity makes connection fields cost their selection times the page
// size, so a query cannot ask for 1000 × 1000 rows within the limit.
func setComplexity(c *ComplexityRoot) {
	// viewerCan of a release's parts runs the mutations' checks (a handful of reads each): it
	// costs like a small page, so that a list cannot ask it of thousands of rows.
	viewerCan := func(child int) int { return viewerCanCost + child }
	c.Release.ViewerCan = viewerCan
	c.ReleaseEnvironment.ViewerCan = viewerCan
	c.Deployment.ViewerCan = viewerCan
	c.Approval.ViewerCan = viewerCan
	// Each artifactVersions field may call a CI server: it costs a real call, not a field,
	// so that a query with a thousand aliases of it is refused before any call is made.
	c.Query.ArtifactVersions = func(child int, _ int, _ string, first *int) int {
		return ciCallCost + child*pageCost(first, nil)
	}
	c.Query.SourceBuilds = func(child int, _ spec.ArtifactSourceSpec, first *int) int {
		return ciCallCost + child*pageCost(first, nil)
	}
	c.Query.WhyNotDeployed = func(child int, _ int, _ string) int { return blockersCost + child }
	c.ReleaseEnvironment.Blockers = func(child int) int { return blockersCost + child }
	// releaseTimeVariables reads the definition's revision and its linked groups (a handful of
	// reads, like viewerCan); principalCandidates answers at most first rows.
	c.ReleaseDefinition.ReleaseTimeVariables = viewerCan
	c.Query.PrincipalCandidates = func(child int, _ string, _ *spec.ApproverKind, first *int) int {
		return 1 + child*pageCost(first, nil)
	}
	c.Query.Releases = func(child int, _ *entgql.Cursor[int], first *int, _ *entgql.Cursor[int], last *int, _ *ent.ReleaseOrder, _ *ent.ReleaseWhereInput) int {
		return 1 + child*pageCost(first, last)
	}
	c.Query.Definitions = func(child int, _ *entgql.Cursor[int], first *int, _ *entgql.Cursor[int], last *int, _ *ent.ReleaseDefinitionOrder, _ *ent.ReleaseDefinitionWhereInput) int {
		return 1 + child*pageCost(first, last)
	}
	c.Query.Agents = func(child int, _ *entgql.Cursor[int], first *int, _ *entgql.Cursor[int], last *int, _ *ent.AgentOrder, _ *ent.AgentWhereInput) int {
		return 1 + child*pageCost(first, last)
	}
	c.Query.OutgoingHooks = func(child int, _ *entgql.Cursor[int], first *int, _ *entgql.Cursor[int], last *int, _ *ent.OutgoingHookOrder, _ *ent.OutgoingHookWhereInput) int {
		return 1 + child*pageCost(first, last)
	}
	c.Query.HookDeliveries = func(child int, _ int, _ *entgql.Cursor[int], first *int, _ *entgql.Cursor[int], last *int, _ *ent.HookDeliveryOrder, _ *ent.HookDeliveryWhereInput) int {
		return 1 + child*pageCost(first, last)
	}
}
