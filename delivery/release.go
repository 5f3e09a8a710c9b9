package delivery

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/definitionrevision"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releaseartifact"
	"github.com/cairnhq/cairn/ent/releasedefinition"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/internal/origin"
)

// ArtifactVersion is the exact build of one artifact source that a release
// deploys.
type ArtifactVersion struct {
	// Alias names the definition's artifact source.
	Alias       string
	BuildID     string
	BuildNumber string
	Branch      string
	Commit      string
	BuildURL    string
	// Files are the build's artifact paths or download URLs.
	Files []string
	// Result is the CI result (SUCCEEDED by default, or PARTIALLY_SUCCEEDED).
	Result string
}

// CreateReleaseInput asks for a release of a definition.
type CreateReleaseInput struct {
	DefinitionID int
	// Artifacts give explicit versions; a source without one deploys the
	// version of its alias that the definition's latest release used.
	Artifacts []ArtifactVersion
	// Reason is MANUAL (default), CONTINUOUS_INTEGRATION or SCHEDULE.
	Reason      string
	Description string
	// VariableOverrides replace definition variables for this release; each
	// must name a variable declared settable at release time.
	VariableOverrides []spec.Variable
	// ManualEnvironments are left to a person whatever their trigger.
	ManualEnvironments []string
	// Partial marks a release triggered by a partially succeeded build.
	Partial bool
	// OverrideArtifactChecks skips the check of the given artifact
	// versions with the CI server (see governArtifacts). Only an actor that
	// holds the definition's overrideArtifactChecks permission may set it,
	// and its use is audited.
	OverrideArtifactChecks bool
	// Draft creates the release as a DRAFT: it deploys nothing until StartRelease.
	Draft bool
	// checkedRevision is the definition revision whose sources
	// governArtifacts checked the artifact versions against (0: none).
	checkedRevision int
}

// Input limits.
const (
	// maxActionComment bounds comments on approvals, deployments and releases.
	maxActionComment = 4000
	maxReleaseName   = 290
)

// CreateRelease freezes the definition's latest revision and the given
// artifact versions into a new release, creates its environments, and starts
// the deployments of every environment whose trigger is "after release"
// (unless the release leaves it manual). It needs role EDITOR.
func (e *Engine) CreateRelease(ctx context.Context, actor Actor, in CreateReleaseInput) (*ent.Release, error) {
	if err := actor.Require(RoleEditor, "creating a release"); err != nil {
		return nil, err
	}
	doing, hidden := fmt.Sprintf("creating a release of definition %d", in.DefinitionID), NotFound("release definition", in.DefinitionID)
	// Authorized before the CI server is asked about builds of a definition the actor may not
	// see, and again in the transaction; when nothing is asked (no CI server, no version given),
	// only the transaction's check runs (three statements fewer).
	if in.OverrideArtifactChecks || e.asksCI(in) {
		if err := e.precheck(ctx, actor, in.DefinitionID, "", PermCreateReleases, doing, hidden); err != nil {
			return nil, fmt.Errorf("%s: %w", doing, err)
		}
	}
	in, err := e.governArtifacts(ctx, actor, in)
	if err != nil {
		return nil, fmt.Errorf("creating a release of definition %d: %w", in.DefinitionID, err)
	}
	var rel *ent.Release
	// The definition's lock is taken when the release is numbered: its releases serialise from
	// there to their commit, not through the authorization and reads before.
	err = e.inTxDefinitionLate(ctx, in.DefinitionID, func(t *txn) error {
		if err := t.authorize(actor, in.DefinitionID, "", PermCreateReleases, doing, hidden); err != nil {
			return err
		}
		if in.OverrideArtifactChecks {
			if err := t.authorize(actor, in.DefinitionID, "", PermOverrideArtifactChecks,
				"creating a release without artifact checks", hidden); err != nil {
				return err
			}
		}
		var err error
		rel, err = t.createRelease(actor, in)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("creating a release of definition %d: %w", in.DefinitionID, err)
	}
	return rel.Unwrap(), nil
}

// definitionSnapshot reads a live definition and the snapshot of its current
// revision: the frozen document that releases copy.
func (t *txn) definitionSnapshot(definitionID int) (*ent.ReleaseDefinition, *spec.DefinitionSnapshot, error) {
	return definitionSnapshotOf(t.ctx, t.Client(), definitionID)
}

func definitionSnapshotOf(ctx context.Context, c *ent.Client, definitionID int) (*ent.ReleaseDefinition, *spec.DefinitionSnapshot, error) {
	def, err := c.ReleaseDefinition.Query().
		Where(releasedefinition.ID(definitionID), releasedefinition.DeletedAtIsNil()).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil, NotFound("release definition", definitionID)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading definition %d: %w", definitionID, err)
	}
	rev, err := c.DefinitionRevision.Query().
		Where(definitionrevision.DefinitionID(definitionID), definitionrevision.Revision(def.Revision)).Only(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("reading revision %d of definition %d: %w", def.Revision, definitionID, err)
	}
	snap := rev.Snapshot
	return def, &snap, nil
}

func (t *txn) createRelease(actor Actor, in CreateReleaseInput) (*ent.Release, error) {
	reason := release.Reason(in.Reason)
	if reason == "" {
		reason = release.ReasonMANUAL
	}
	if release.ReasonValidator(reason) != nil {
		return nil, Invalid("reason", "unknown reason %q: use MANUAL, CONTINUOUS_INTEGRATION or SCHEDULE", in.Reason)
	}
	if utf8.RuneCountInString(in.Description) > maxDescription {
		return nil, Invalid("description", "is longer than %d characters", maxDescription)
	}
	def, snap, err := t.definitionSnapshot(in.DefinitionID)
	if err != nil {
		return nil, err
	}
	// Its queue policies are read again for each environment deployed (queuePolicy): the
	// transaction changes no definition, so the snapshot read here serves them (and its freeze
	// windows, read once: frozenAt). A webhook's transaction creates releases of several.
	t.releaseSnap, t.releaseSnapDef, t.releaseFreezes = snap, def.ID, nil
	if def.Disabled {
		return nil, Conflict("definition %q is disabled: it creates no releases (by hand, continuous deployment or schedule) until it is enabled again; its existing releases go on",
			def.Name)
	}
	if in.checkedRevision != 0 && in.checkedRevision != def.Revision {
		return nil, Conflict("definition %q changed (revision %d, now %d) while its artifact versions were checked; create the release again",
			def.Name, in.checkedRevision, def.Revision)
	}
	manual := map[string]bool{}
	for i, name := range in.ManualEnvironments {
		if _, ok := snap.Environment(name); !ok {
			return nil, Invalid(fmt.Sprintf("manualEnvironments[%d]", i),
				"definition %q has no environment %q (it has %s)", def.Name, name, envNames(snap))
		}
		manual[name] = true
	}
	// A definition saved before the refused names existed may hold one:
	// no new release runs it (see docs/decisions.md).
	if where, why := refusedInSnapshot(snap, ""); where != "" {
		return nil, storedRefusal(fmt.Sprintf("definition %q (revision %d)", def.Name, def.Revision), where, why,
			"remove it from the definition to create releases")
	}
	// The groups are frozen first: an override may name a group's variable that the group
	// declares settable at release time.
	groups, err := t.freezeGroups(snap)
	if err != nil {
		return nil, err
	}
	overrides, err := checkOverrides(snap, groups, in.VariableOverrides)
	if err != nil {
		return nil, err
	}
	overrides, err = t.sealOverrides(overrides)
	if err != nil {
		return nil, err
	}
	if err := t.freezeTemplates(snap); err != nil {
		return nil, err
	}
	artifacts, err := t.resolveArtifacts(def, snap, in.Artifacts)
	if err != nil {
		return nil, err
	}

	// The freeze windows the new deployments are checked against are read before the release is
	// numbered (and the definition's lock taken): nothing under the lock waits for them.
	if !in.Draft && triggersAny(snap, manual) {
		if _, err := t.frozenAt(def.ID, ""); err != nil {
			return nil, err
		}
	}
	primaryBuild := ""
	for _, a := range artifacts {
		if a.primary {
			primaryBuild = a.BuildNumber
		}
	}
	// On PostgreSQL, when the definition's lock is taken with the numbering (inTxDefinitionLate),
	// the rows that do not depend on the number (the release's, under a placeholder number and
	// name, its artifacts, their enrichment timers and its environments) are stored before it:
	// the definition's releases wait for each other from the numbering to the commit, and these
	// four statements are no longer part of that wait. The release is given its number and name
	// by one update under the lock (numberRelease). Other transactions see none of these rows
	// before commit.
	early := t.postgres() && t.lateDefinition == def.ID && t.definitionLockedAt.IsZero()
	var number int
	var newest bool
	var name string
	if early {
		number = int(unsealedSequence())
		name = fmt.Sprintf("(numbering %d)", -number)
	} else {
		if number, newest, err = t.nextReleaseNumber(def); err != nil {
			return nil, err
		}
		name, err = t.uniqueReleaseName(def.ID, formatReleaseName(snap.ReleaseNameFormat, number, primaryBuild, def.Name, t.now))
		if err != nil {
			return nil, err
		}
	}
	createdBy := actor.Username
	create := t.Release.Create()
	if in.Draft {
		create = t.Release.Create().SetStatus(release.StatusDRAFT)
	}
	create.SetName(name).SetNumber(number).SetDefinitionRevision(def.Revision).SetSnapshot(*snap).
		SetReason(reason).SetDescription(in.Description).SetCreatedBy(createdBy).
		SetVariableOverrides(overrides).SetVariableGroups(groups).SetManualEnvironments(in.ManualEnvironments).
		SetPartial(in.Partial).SetDefinitionID(def.ID).SetCreatedAt(t.now).SetUpdatedAt(t.now)
	rel, err := create.Save(t.ctx)
	if err != nil {
		return nil, fmt.Errorf("storing release: %w", err)
	}
	for _, a := range artifacts {
		// A version with a build id is enriched from the CI server (queueEnrichment): it is
		// stored PENDING, not marked after.
		enrichment := releaseartifact.EnrichmentNONE
		if a.BuildID != "" {
			enrichment = releaseartifact.EnrichmentPENDING
		}
		ra, err := t.ReleaseArtifact.Create().
			SetReleaseID(rel.ID).SetAlias(a.Alias).SetType(releaseartifact.Type(a.typ)).
			SetConnection(a.connection).SetJob(a.job).SetBuildID(a.BuildID).SetBuildNumber(a.BuildNumber).
			SetBranch(a.Branch).SetCommit(a.Commit).SetBuildURL(a.BuildURL).SetPrimary(a.primary).
			SetResult(a.Result).SetFiles(a.Files).SetEnrichment(enrichment).Save(t.ctx)
		if err != nil {
			return nil, fmt.Errorf("storing artifact %s: %w", a.Alias, err)
		}
		if ra.BuildID == "" {
			continue // nothing to ask the CI server about (a Team Build version given only by number)
		}
		if err := t.queueEnrichment(ra); err != nil {
			return nil, err
		}
	}
	creates := make([]*ent.ReleaseEnvironmentCreate, len(snap.Environments))
	for i, env := range snap.Environments {
		creates[i] = t.ReleaseEnvironment.Create().
			SetReleaseID(rel.ID).SetDefinitionID(def.ID).SetName(env.Name).SetRank(i + 1).
			SetManual(manual[env.Name]).SetCreatedAt(t.now).SetUpdatedAt(t.now)
	}
	var envs []*ent.ReleaseEnvironment
	if len(creates) > 0 {
		if envs, err = t.ReleaseEnvironment.CreateBulk(creates...).Save(t.ctx); err != nil {
			return nil, fmt.Errorf("storing environments: %w", err)
		}
	}
	if t.freshEnvs == nil {
		t.freshEnvs = map[int]bool{}
	}
	for _, re := range envs {
		t.freshEnvs[re.ID] = true
	}
	if early {
		if prefix, suffix, ok := numberedName(snap.ReleaseNameFormat, primaryBuild, def.Name, t.now); ok {
			// The name is the number between two fixed strings: numbered, named and its name
			// checked in the statement that takes the lock.
			// Ids for the deployments and jobs its creation triggers are taken with it: they
			// are built in memory and inserted once (held.go).
			// So is the queue's read of the environments they deploy (heldQueue.readWaiting).
			hold := 0
			var waitFor []string
			if !in.Draft {
				for _, env := range snap.Environments {
					if env.Trigger.Kind == spec.TriggerAfterRelease && !manual[env.Name] {
						hold++
						if env.Queue.Mode != spec.QueueLatestOnly {
							waitFor = append(waitFor, env.Name)
						}
					}
				}
			}
			if number, newest, name, err = t.numberAndName(def, rel.ID, prefix, suffix, hold, waitFor); err != nil {
				return nil, err
			}
		} else {
			if number, newest, err = t.nextReleaseNumber(def); err != nil {
				return nil, err
			}
			formatted := formatReleaseName(snap.ReleaseNameFormat, number, primaryBuild, def.Name, t.now)
			if name, err = t.numberRelease(rel.ID, def.ID, number, formatted); err != nil {
				return nil, err
			}
		}
		rel.Number, rel.Name = number, name
	}
	if newest {
		// Numbered under the definition's lock above every other release of the definition:
		// no release its environments run or deploy is newer (landedOf).
		t.newestRelease = rel.ID
	} else if t.newestRelease != 0 {
		t.newestRelease = 0
	}
	after := map[string]any{
		"name": name, "number": number, "revision": def.Revision, "reason": reason,
		"artifacts": artifactSummary(artifacts), "manualEnvironments": in.ManualEnvironments,
		"overrides": variableNames(overrides),
	}
	if in.Draft {
		after["draft"] = true
	}
	if err := t.audit(actor, "release.create", auditTargetRelease, rel.ID, nil, after); err != nil {
		return nil, err
	}
	if in.OverrideArtifactChecks {
		if err := t.audit(actor, "release.overrideArtifactChecks", auditTargetRelease, rel.ID, nil, map[string]any{
			"name": name, "artifacts": artifactSummary(artifacts),
			"note": "the artifact versions were not checked with the CI server",
		}); err != nil {
			return nil, err
		}
	}
	if err := t.emit(Event{Type: EventReleaseCreated, DefinitionID: def.ID, ReleaseID: rel.ID,
		Actor: actor.String(), Data: map[string]any{"name": name}}); err != nil {
		return nil, err
	}
	if in.Draft {
		return rel, nil
	}
	if err := t.triggerAfterRelease(actor, rel, envs, "triggered by the creation of the release"); err != nil {
		return nil, err
	}
	return rel, nil
}

// triggersAny reports whether a new release of snap deploys an environment by itself: one whose
// trigger is "after release" and that the release does not leave manual.
func triggersAny(snap *spec.DefinitionSnapshot, manual map[string]bool) bool {
	for _, env := range snap.Environments {
		if env.Trigger.Kind == spec.TriggerAfterRelease && !manual[env.Name] {
			return true
		}
	}
	return false
}

// triggerAfterRelease starts the deployments of the release's environments whose trigger is
// "after release" and that the release does not leave manual.
func (t *txn) triggerAfterRelease(actor Actor, rel *ent.Release, envs []*ent.ReleaseEnvironment, reason string) error {
	t.batchFresh = true
	defer func() { t.batchFresh = false }()
	for _, re := range envs {
		env, ok := rel.Snapshot.Environment(re.Name)
		if !ok || env.Trigger.Kind != spec.TriggerAfterRelease || re.Manual {
			continue
		}
		if _, err := t.beginDeployment(actor, rel, re, rel.CreatedBy, reason, true, false); err != nil {
			return fmt.Errorf("triggering %s: %w", re.Name, err)
		}
	}
	return t.flushFresh()
}

// nextReleaseNumber moves the definition's release counter on and returns the new number, in one
// statement (the definition is not read back: the rest of the row is def's, which the
// transaction read under the definition's lock).
func (t *txn) nextReleaseNumber(def *ent.ReleaseDefinition) (number int, newest bool, err error) {
	// It also reads the highest number a release of the definition has (by the index on
	// definition and number), so that the transaction knows whether its release is the newest.
	q := `UPDATE release_definitions SET release_counter = COALESCE(release_counter, 0) + 1, updated_at = ? WHERE id = ? RETURNING release_counter, ` + newestNumber
	args := []any{t.now, def.ID}
	lockNow := t.postgres() && t.lateDefinition == def.ID && t.definitionLockedAt.IsZero()
	switch {
	case lockNow:
		// The definition's lock, taken here (inTxDefinitionLate), before the row's: the same
		// order as a transaction that takes it first.
		q = `WITH l AS (SELECT pg_advisory_xact_lock($3), ` + byKeyOnly + `) UPDATE release_definitions SET release_counter = COALESCE(release_counter, 0) + 1, updated_at = $1 FROM l WHERE id = $2 RETURNING release_counter, ` + newestNumber
		args = append(args, definitionLockKey(def.ID))
	case t.postgres():
		q = `UPDATE release_definitions SET release_counter = COALESCE(release_counter, 0) + 1, updated_at = $1 WHERE id = $2 RETURNING release_counter, ` + newestNumber
	}
	rows, err := t.QueryContext(t.ctx, q, args...)
	if lockNow && err == nil {
		t.definitionLockedAt = time.Now()
	}
	if err != nil {
		return 0, false, fmt.Errorf("numbering the release: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, false, fmt.Errorf("numbering the release: %w", err)
		}
		return 0, false, NotFound("release definition", def.ID)
	}
	var n, highest int
	if err := rows.Scan(&n, &highest); err != nil {
		return 0, false, fmt.Errorf("numbering the release: %w", err)
	}
	if err := rows.Close(); err != nil {
		return 0, false, fmt.Errorf("numbering the release: %w", err)
	}
	def.ReleaseCounter, def.UpdatedAt = n, t.now
	return n, highest < n, nil
}

// newestNumber is the highest release number of the definition being numbered (0: none).
const newestNumber = `(SELECT COALESCE(MAX(number), 0) FROM releases WHERE releases.definition_id = release_definitions.id)`

// resolvedArtifact is an artifact version with its source's details.
type resolvedArtifact struct {
	ArtifactVersion
	typ, connection, job string
	primary              bool
}

// resolveArtifacts picks the version of every artifact source: the explicit
// one, else the one the definition's latest release used.
func (t *txn) resolveArtifacts(def *ent.ReleaseDefinition, snap *spec.DefinitionSnapshot, given []ArtifactVersion) ([]resolvedArtifact, error) {
	byAlias := map[string]ArtifactVersion{}
	for i, a := range given {
		field := fmt.Sprintf("artifacts[%d].alias", i)
		found := false
		for _, s := range snap.ArtifactSources {
			found = found || s.Alias == a.Alias
		}
		if !found {
			return nil, Invalid(field, "definition %q has no artifact source %q (it has %s)", def.Name, a.Alias, aliasNames(snap))
		}
		if _, dup := byAlias[a.Alias]; dup {
			return nil, Invalid(field, "artifact %q is given twice", a.Alias)
		}
		switch a.Result {
		case "":
			a.Result = BuildSucceeded
		case BuildSucceeded, BuildPartiallySucceeded:
		default:
			return nil, Invalid(fmt.Sprintf("artifacts[%d].result", i), "unknown build result %q: use SUCCEEDED or PARTIALLY_SUCCEEDED", a.Result)
		}
		for _, f := range [...]struct{ name, v string }{{"buildId", a.BuildID}, {"buildNumber", a.BuildNumber}, {"branch", a.Branch}, {"commit", a.Commit}, {"buildUrl", a.BuildURL}} {
			if len(f.v) > 2000 {
				return nil, Invalid(fmt.Sprintf("artifacts[%d].%s", i, f.name), "is longer than 2000 characters")
			}
		}
		if a.BuildURL != "" && !origin.HTTP(a.BuildURL) {
			return nil, Invalid(fmt.Sprintf("artifacts[%d].buildUrl", i), "%q is not an http(s) URL", truncateText(a.BuildURL, 100))
		}
		byAlias[a.Alias] = a
	}
	primaryIdx := 0
	for i, s := range snap.ArtifactSources {
		if s.Primary {
			primaryIdx = i
			break
		}
	}
	out := make([]resolvedArtifact, 0, len(snap.ArtifactSources))
	for i, s := range snap.ArtifactSources {
		r := resolvedArtifact{typ: s.Type, connection: s.Connection, job: s.Job, primary: i == primaryIdx}
		if r.typ == "" {
			r.typ = "JENKINS"
		}
		if a, ok := byAlias[s.Alias]; ok && (a.BuildNumber != "" || a.BuildID != "") {
			r.ArtifactVersion = a
		} else {
			last, err := t.ReleaseArtifact.Query().
				Where(releaseartifact.Alias(s.Alias), releaseartifact.HasReleaseWith(release.DefinitionID(def.ID))).
				Order(ent.Desc(releaseartifact.FieldID)).First(t.ctx)
			if ent.IsNotFound(err) {
				return nil, Invalid("artifacts", "no build known for artifact %s: give a build number", s.Alias)
			}
			if err != nil {
				return nil, fmt.Errorf("reading the last version of %s: %w", s.Alias, err)
			}
			r.ArtifactVersion = ArtifactVersion{
				BuildID: last.BuildID, BuildNumber: last.BuildNumber, Branch: last.Branch,
				Commit: last.Commit, BuildURL: last.BuildURL, Files: last.Files, Result: last.Result,
			}
		}
		if r.typ == SourceJenkins && r.BuildID == "" {
			// A Jenkins build's number is its id (as governArtifacts has it), so a
			// version given only by number, unchecked, is still enriched.
			r.BuildID = strings.TrimSpace(r.BuildNumber)
		}
		r.Alias = s.Alias
		out = append(out, r)
	}
	return out, nil
}

// sealOverrides validates variable overrides and encrypts the secret ones in
// the same sealed format as definition variables (see SecretValue).
func (t *txn) sealOverrides(vars []spec.Variable) ([]spec.Variable, error) {
	seen := map[string]bool{}
	out := make([]spec.Variable, 0, len(vars))
	for i, v := range vars {
		field := fmt.Sprintf("variableOverrides[%d]", i)
		name := strings.TrimSpace(v.Name)
		switch {
		case name == "":
			return nil, Invalid(field+".name", "is empty")
		case len(name) > 200:
			return nil, Invalid(field+".name", "is longer than 200 characters")
		case seen[strings.ToLower(name)]:
			return nil, Invalid(field+".name", "variable %q is overridden twice", name)
		case len(v.Value) > 64<<10:
			return nil, Invalid(field+".value", "is longer than 64 KiB")
		}
		seen[strings.ToLower(name)] = true
		v.Name = name
		if v.Secret {
			if t.e.secrets == nil {
				return nil, fmt.Errorf("sealing secret variable %s: the engine has no secret key", name)
			}
			v.Value = sealedPrefix + base64.StdEncoding.EncodeToString(t.e.secrets.Seal([]byte(v.Value)))
		}
		out = append(out, v)
	}
	return out, nil
}

// uniqueReleaseName returns name, or name-2, name-3… when a release of the
// definition already has it.
func (t *txn) uniqueReleaseName(definitionID int, name string) (string, error) {
	candidate := name
	for n := 2; ; n++ {
		taken, err := t.Release.Query().Where(release.DefinitionID(definitionID), release.Name(candidate)).Exist(t.ctx)
		if err != nil {
			return "", fmt.Errorf("checking release name: %w", err)
		}
		if !taken {
			return candidate, nil
		}
		candidate = name + "-" + strconv.Itoa(n)
	}
}

// numberedName reports whether the release name format makes, for every number n, the name
// prefix + n + suffix (the number once, not padded, the name not cut), as the default
// "Release-$(rev:r)" does.
func numberedName(format, buildNumber, definitionName string, now time.Time) (prefix, suffix string, ok bool) {
	const probe = 987654321
	p := strconv.Itoa(probe)
	name := formatReleaseName(format, probe, buildNumber, definitionName, now)
	if strings.Count(name, p) != 1 {
		return "", "", false
	}
	i := strings.Index(name, p)
	prefix, suffix = name[:i], name[i+len(p):]
	if utf8.RuneCountInString(prefix+suffix)+20 > maxReleaseName {
		return "", "", false
	}
	for _, n := range []int{1, 42, 12345} {
		if formatReleaseName(format, n, buildNumber, definitionName, now) != prefix+strconv.Itoa(n)+suffix {
			return "", "", false
		}
	}
	return prefix, suffix, true
}

// numberAndNameSQL is numberAndName's statement. Its parameters: $1 the time, $2 the definition,
// $3 its lock key, $4 the release, $5 and $6 the name's prefix and suffix, $7 how many ids to hold
// in each of the deployments' and the jobs' sequences, $8 the environments whose queues to read,
// $9 the QUEUED status, $10 the page size.
//
// It is written so that PostgreSQL keeps one generic plan for it (a prepared statement is
// planned anew for every call while a plan for the call's values looks cheaper than the generic
// one): the ids are drawn over array_fill(0, ARRAY[$7]), whose generic estimate is ten rows,
// not over generate_series(1, $7), which a generic plan estimates at a thousand rows and so
// never chose. Planned every time it cost 0.9 ms of PostgreSQL's CPU per release
// (BENCHMARKS.md, "Planned once"); TestNumberingKeepsAGenericPlan holds it.
const numberAndNameSQL = `WITH l AS (SELECT pg_advisory_xact_lock($3), ` + byKeyOnly + `),
		c AS (UPDATE release_definitions SET release_counter = COALESCE(release_counter, 0) + 1, updated_at = $1 FROM l
			WHERE id = $2 RETURNING release_counter, ` + newestNumber + ` AS highest),
		r AS (UPDATE releases AS x SET number = c.release_counter, name = $5 || c.release_counter::text || $6 FROM c
			WHERE x.id = $4 AND NOT EXISTS (SELECT 1 FROM releases AS o
				WHERE o.definition_id = $2 AND o.name = $5 || c.release_counter::text || $6) RETURNING x.id)
		SELECT c.release_counter, c.highest, (SELECT count(*) FROM r),
			(SELECT COALESCE(string_agg(nextval(pg_get_serial_sequence('deployments', 'id'))::text, ','), '') FROM unnest(array_fill(0, ARRAY[$7::int]))),
			(SELECT COALESCE(string_agg(nextval(pg_get_serial_sequence('jobs', 'id'))::text, ','), '') FROM unnest(array_fill(0, ARRAY[$7::int]))),
			(SELECT COALESCE(json_agg(json_build_array(w.env, w.id::text) ORDER BY w.n), '[]')::text
				FROM ` + waitingFunc + `($2, $8::text[], $9, $10::int, c.release_counter) WITH ORDINALITY AS w(env, id, n))
		FROM c`

// numberAndName is, on PostgreSQL, nextReleaseNumber and numberRelease in one statement, for a
// release stored under a placeholder number whose name is prefix + number + suffix: it takes the
// definition's lock, moves the release counter on, gives the release its number and its name
// when no other release of the definition has that name (else name-2, name-3…, by
// uniqueReleaseName and one more update).
//
// It also takes hold ids from the deployments' and the jobs' sequences, for the rows the
// release's environments' triggers create (held.go), and, after the lock, reads the waiting
// deployments of the environments in waitFor (waitingFunc): the queue's first read of those
// environments (heldQueue.readWaiting) then needs no statement of its own under the lock.
func (t *txn) numberAndName(def *ent.ReleaseDefinition, releaseID int, prefix, suffix string, hold int, waitFor []string) (number int, newest bool, name string, err error) {
	if waitFor == nil {
		waitFor = []string{}
	}
	rows, err := t.QueryContext(t.ctx, numberAndNameSQL,
		t.now, def.ID, definitionLockKey(def.ID), releaseID, prefix, suffix, hold,
		waitFor, string(queuedStatus), pumpPage)
	if err == nil {
		t.definitionLockedAt = time.Now()
	}
	if err != nil {
		return 0, false, "", fmt.Errorf("numbering the release: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, false, "", fmt.Errorf("numbering the release: %w", err)
		}
		return 0, false, "", NotFound("release definition", def.ID)
	}
	var highest, named int
	var depIDs, jobIDs, waiting string
	if err := rows.Scan(&number, &highest, &named, &depIDs, &jobIDs, &waiting); err != nil {
		return 0, false, "", fmt.Errorf("numbering the release: %w", err)
	}
	if err := rows.Close(); err != nil {
		return 0, false, "", fmt.Errorf("numbering the release: %w", err)
	}
	if err := t.holdIDs(depIDs, jobIDs); err != nil {
		return 0, false, "", err
	}
	if len(waitFor) > 0 {
		if err := t.held.keepWaiting(def.ID, waitFor, waiting); err != nil {
			return 0, false, "", fmt.Errorf("numbering the release: %w", err)
		}
	}
	def.ReleaseCounter, def.UpdatedAt = number, t.now
	name = prefix + strconv.Itoa(number) + suffix
	if named != 1 {
		if name, err = t.renameTaken(releaseID, def.ID, number, name); err != nil {
			return 0, false, "", err
		}
	}
	return number, highest < number, name, nil
}

// numberRelease gives a release stored under a placeholder number and name (createRelease on
// PostgreSQL) its number and name: the formatted name when no other release of the definition
// has it (checked by the same statement), else name-2, name-3… (uniqueReleaseName).
func (t *txn) numberRelease(releaseID, definitionID, number int, name string) (string, error) {
	res, err := t.ExecContext(t.ctx, `UPDATE releases SET number = $1, name = $2 WHERE id = $3
		AND NOT EXISTS (SELECT 1 FROM releases AS o WHERE o.definition_id = $4 AND o.name = $2)`,
		number, name, releaseID, definitionID)
	if err != nil {
		return "", fmt.Errorf("numbering the release: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return "", fmt.Errorf("numbering the release: %w", err)
	} else if n == 1 {
		return name, nil
	}
	return t.renameTaken(releaseID, definitionID, number, name)
}

// renameTaken numbers a release whose formatted name another release of its definition has:
// name-2, name-3… (uniqueReleaseName).
func (t *txn) renameTaken(releaseID, definitionID, number int, taken string) (string, error) {
	name, err := t.uniqueReleaseName(definitionID, taken)
	if err != nil {
		return "", err
	}
	if _, err := t.ExecContext(t.ctx, `UPDATE releases SET number = $1, name = $2 WHERE id = $3`, number, name, releaseID); err != nil {
		return "", fmt.Errorf("numbering the release: %w", err)
	}
	return name, nil
}

// formatReleaseName expands a release name format with the tokens of
// nameTokens. Unknown tokens (in formats saved before validation knew
// them) stay as written.
func formatReleaseName(format string, number int, buildNumber, definitionName string, now time.Time) string {
	if strings.TrimSpace(format) == "" {
		format = "Release-$(rev:r)"
	}
	v := nameValues{number: number, buildNumber: buildNumber, definitionName: definitionName, now: now}
	var b strings.Builder
	for {
		i := strings.Index(format, "$(")
		if i < 0 {
			b.WriteString(format)
			break
		}
		j := strings.Index(format[i:], ")")
		if j < 0 {
			b.WriteString(format)
			break
		}
		b.WriteString(format[:i])
		token := format[i+2 : i+j]
		if nt, ok := lookupNameToken(token); ok {
			b.WriteString(nt.expand(token, v))
		} else {
			b.WriteString("$(" + token + ")")
		}
		format = format[i+j+1:]
	}
	name := strings.TrimSpace(b.String())
	if name == "" {
		name = "Release-" + strconv.Itoa(number)
	}
	if utf8.RuneCountInString(name) > maxReleaseName {
		name = string([]rune(name)[:maxReleaseName])
	}
	return name
}

// nameValues are what the tokens of a release name expand to.
type nameValues struct {
	number         int
	buildNumber    string
	definitionName string
	now            time.Time
}

// nameToken is one token of a release name format, written $(...). The
// formatter expands and the definition validation accepts exactly the
// tokens of nameTokens, so that a format that saves is one that formats.
type nameToken struct {
	// syntax is how the token is written, for messages.
	syntax string
	// match reports whether the text between "$(" and ")" is this token
	// (without regard to case, as Azure DevOps reads them).
	match  func(token string) bool
	expand func(token string, v nameValues) string
}

// dateLayoutRe is a .NET-style date layout such as yyyyMMdd or
// yyyy-MM-dd HH:mm, as $(Date:...) takes it.
var dateLayoutRe = regexp.MustCompile(`^[yMdHms]+(?:[-._: ][yMdHms]+)*$`)

// nameTokens is the one list of release name tokens.
var nameTokens = []nameToken{
	{
		syntax: "$(rev:r)",
		match: func(tok string) bool {
			l := strings.ToLower(tok)
			return len(l) > 4 && strings.HasPrefix(l, "rev:") && strings.Trim(l[4:], "r") == ""
		},
		// $(rev:rrr) pads the release number to three digits.
		expand: func(tok string, v nameValues) string { return fmt.Sprintf("%0*d", len(tok)-4, v.number) },
	},
	{
		syntax: "$(Build.BuildNumber)",
		match:  func(tok string) bool { return strings.EqualFold(tok, "Build.BuildNumber") },
		expand: func(_ string, v nameValues) string { return v.buildNumber },
	},
	{
		syntax: "$(Release.DefinitionName)",
		match:  func(tok string) bool { return strings.EqualFold(tok, "Release.DefinitionName") },
		expand: func(_ string, v nameValues) string { return v.definitionName },
	},
	{
		syntax: "$(Date)",
		match:  func(tok string) bool { return strings.EqualFold(tok, "Date") },
		expand: func(_ string, v nameValues) string { return formatDotNetDate("yyyyMMdd", v.now) },
	},
	{
		syntax: "$(Date:yyyyMMdd)",
		match: func(tok string) bool {
			return len(tok) > 5 && strings.EqualFold(tok[:5], "Date:") && dateLayoutRe.MatchString(tok[5:])
		},
		expand: func(tok string, v nameValues) string { return formatDotNetDate(tok[5:], v.now) },
	},
}

// lookupNameToken returns the token that the text between "$(" and ")" is.
func lookupNameToken(token string) (*nameToken, bool) {
	for i := range nameTokens {
		if nameTokens[i].match(token) {
			return &nameTokens[i], true
		}
	}
	return nil, false
}

// nameTokenSyntax lists the tokens for messages: "$(rev:r), $(Build.BuildNumber), …".
func nameTokenSyntax() string {
	out := make([]string, len(nameTokens))
	for i, nt := range nameTokens {
		out[i] = nt.syntax
	}
	return strings.Join(out, ", ")
}

// formatDotNetDate formats t (in UTC) by a .NET-style pattern.
func formatDotNetDate(pattern string, t time.Time) string {
	t = t.UTC()
	codes := []struct {
		code string
		val  func() string
	}{
		{"yyyy", func() string { return fmt.Sprintf("%04d", t.Year()) }},
		{"yy", func() string { return fmt.Sprintf("%02d", t.Year()%100) }},
		{"MM", func() string { return fmt.Sprintf("%02d", int(t.Month())) }},
		{"dd", func() string { return fmt.Sprintf("%02d", t.Day()) }},
		{"HH", func() string { return fmt.Sprintf("%02d", t.Hour()) }},
		{"mm", func() string { return fmt.Sprintf("%02d", t.Minute()) }},
		{"ss", func() string { return fmt.Sprintf("%02d", t.Second()) }},
	}
	var b strings.Builder
outer:
	for len(pattern) > 0 {
		for _, c := range codes {
			if strings.HasPrefix(pattern, c.code) {
				b.WriteString(c.val())
				pattern = pattern[len(c.code):]
				continue outer
			}
		}
		b.WriteByte(pattern[0])
		pattern = pattern[1:]
	}
	return b.String()
}

func envNames(snap *spec.DefinitionSnapshot) string {
	names := make([]string, len(snap.Environments))
	for i, e := range snap.Environments {
		names[i] = e.Name
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func aliasNames(snap *spec.DefinitionSnapshot) string {
	names := make([]string, len(snap.ArtifactSources))
	for i, s := range snap.ArtifactSources {
		names[i] = s.Alias
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func artifactSummary(as []resolvedArtifact) map[string]string {
	m := make(map[string]string, len(as))
	for _, a := range as {
		m[a.Alias] = a.BuildNumber
	}
	return m
}

func variableNames(vs []spec.Variable) []string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name
	}
	return names
}
