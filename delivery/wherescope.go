package delivery

import (
	"context"
	"reflect"
	"strings"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/artifactsource"
	"github.com/cairnhq/cairn/ent/definitionrevision"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/environment"
	"github.com/cairnhq/cairn/ent/freezewindow"
	"github.com/cairnhq/cairn/ent/gatesample"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/jobstep"
	"github.com/cairnhq/cairn/ent/manualintervention"
	"github.com/cairnhq/cairn/ent/predicate"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releaseartifact"
	"github.com/cairnhq/cairn/ent/releasedefinition"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
	"github.com/cairnhq/cairn/ent/sourcecommit"
	"github.com/cairnhq/cairn/ent/stepattachment"
)

// HiddenInScope returns the definitions ctx's read scope (static or live)
// hides; nil outside a scope or when nothing is hidden.
func HiddenInScope(ctx context.Context) []int { return hiddenIn(ctx) }

// readableWhere gives, per where-input type of a record a definition owns,
// the predicate that keeps only records of definitions not in hidden. It
// mirrors ReadScope: the interceptor filters what a query returns, this
// filters what an edge predicate (hasJobsWith: {hasDeploymentWith: …}) may
// test, which runs as a SQL sub-query no interceptor sees. A where-input type
// of a definition-owned record missing here is caught by
// TestWhereScopeCoversEveryWhereInput.
func readableWhere(hidden []int) map[reflect.Type]any {
	readableDeployment := deployment.DefinitionIDNotIn(hidden...)
	readableRelease := release.DefinitionIDNotIn(hidden...)
	readableJob := job.HasDeploymentWith(readableDeployment)
	return map[reflect.Type]any{
		reflect.TypeFor[ent.ReleaseDefinitionWhereInput]():  predicate.ReleaseDefinition(releasedefinition.IDNotIn(hidden...)),
		reflect.TypeFor[ent.DefinitionRevisionWhereInput](): predicate.DefinitionRevision(definitionrevision.DefinitionIDNotIn(hidden...)),
		reflect.TypeFor[ent.ArtifactSourceWhereInput]():     predicate.ArtifactSource(artifactsource.DefinitionIDNotIn(hidden...)),
		reflect.TypeFor[ent.EnvironmentWhereInput]():        predicate.Environment(environment.DefinitionIDNotIn(hidden...)),
		reflect.TypeFor[ent.ReleaseWhereInput]():            readableRelease,
		reflect.TypeFor[ent.ReleaseEnvironmentWhereInput](): predicate.ReleaseEnvironment(releaseenvironment.DefinitionIDNotIn(hidden...)),
		reflect.TypeFor[ent.ReleaseArtifactWhereInput]():    predicate.ReleaseArtifact(releaseartifact.HasReleaseWith(readableRelease)),
		reflect.TypeFor[ent.CommitWhereInput]():             predicate.SourceCommit(sourcecommit.HasReleaseWith(readableRelease)),
		reflect.TypeFor[ent.DeploymentWhereInput]():         readableDeployment,
		reflect.TypeFor[ent.ApprovalWhereInput]():           predicate.Approval(approval.HasDeploymentWith(readableDeployment)),
		reflect.TypeFor[ent.JobWhereInput]():                readableJob,
		reflect.TypeFor[ent.JobStepWhereInput]():            predicate.JobStep(jobstep.HasJobWith(readableJob)),
		reflect.TypeFor[ent.StepAttachmentWhereInput]():     predicate.StepAttachment(stepattachment.HasStepWith(jobstep.HasJobWith(readableJob))),
		reflect.TypeFor[ent.GateSampleWhereInput]():         predicate.GateSample(gatesample.HasDeploymentWith(readableDeployment)),
		reflect.TypeFor[ent.ManualInterventionWhereInput](): predicate.ManualIntervention(manualintervention.HasDeploymentWith(readableDeployment)),
		reflect.TypeFor[ent.FreezeWindowWhereInput](): predicate.FreezeWindow(freezewindow.Or(freezewindow.DefinitionIDIsNil(),
			freezewindow.DefinitionIDNotIn(hidden...))),
	}
}

// ScopeWhere adds the read scope to every where-input in the tree rooted at
// where (a *ent.XWhereInput, as a GraphQL "where" argument arrives): each
// input of a definition-owned type, at any depth (not, and, or, hasXWith),
// also requires its record's definition to be readable, so that an edge
// predicate treats a hidden record as a missing one and answers no yes/no
// question about it. Nothing is hidden: nothing changes.
func ScopeWhere(where any, hidden []int) {
	if len(hidden) == 0 || where == nil {
		return
	}
	scopeWhere(reflect.ValueOf(where), readableWhere(hidden), map[uintptr]bool{})
}

func scopeWhere(v reflect.Value, preds map[reflect.Type]any, seen map[uintptr]bool) {
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct ||
		!strings.HasSuffix(v.Elem().Type().Name(), "WhereInput") || seen[v.Pointer()] {
		return
	}
	seen[v.Pointer()] = true
	if p, ok := preds[v.Elem().Type()]; ok {
		v.MethodByName("AddPredicates").Call([]reflect.Value{reflect.ValueOf(p)})
	}
	s := v.Elem()
	for i := range s.NumField() {
		f := s.Field(i)
		switch f.Kind() {
		case reflect.Pointer:
			scopeWhere(f, preds, seen)
		case reflect.Slice:
			if f.Type().Elem().Kind() == reflect.Pointer {
				for j := range f.Len() {
					scopeWhere(f.Index(j), preds, seen)
				}
			}
		}
	}
}
