package delivery

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/artifactsource"
	"github.com/cairnhq/cairn/ent/definitionrevision"
	"github.com/cairnhq/cairn/ent/environment"
	"github.com/cairnhq/cairn/ent/releasedefinition"
	"github.com/cairnhq/cairn/ent/schema/spec"
)

// sealedPrefix marks a secret variable's stored value as SecretBox ciphertext
// (base64). Input values are always taken as plaintext, whatever they start
// with, so a client cannot plant another definition's ciphertext.
const sealedPrefix = "sealed:"

// maskedValue replaces secret values wherever a definition is shown: audit
// records, diffs.
const maskedValue = "***"

// Audit actions of definitions.
const (
	auditDefinitionCreate   = "definition.create"
	auditDefinitionUpdate   = "definition.update"
	auditDefinitionDelete   = "definition.delete"
	auditDefinitionUndelete = "definition.undelete"
	auditDefinitionRevert   = "definition.revert"
)

// CreateDefinition stores a new release definition from a full document: the
// definition row, its artifact sources and environments (rank = position),
// and revision 1. Secret variables are sealed before anything is stored. The
// document is validated as a whole; on any problem nothing is written and the
// error (a *ValidationError) lists them all.
func (e *Engine) CreateDefinition(ctx context.Context, actor Actor, in spec.DefinitionSnapshot, comment string) (*ent.ReleaseDefinition, error) {
	if err := actor.Require(RoleEditor, "creating a definition"); err != nil {
		return nil, err
	}
	var def *ent.ReleaseDefinition
	err := e.inTx(ctx, func(t *txn) (err error) {
		def, err = t.createDefinition(actor, in, comment)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("creating definition %q: %w", in.Name, err)
	}
	return def.Unwrap(), nil
}

// createDefinition is the create path of CreateDefinition within t (also the import's).
func (t *txn) createDefinition(actor Actor, in spec.DefinitionSnapshot, comment string) (*ent.ReleaseDefinition, error) {
	doc, refs, err := t.prepareDefinition(in, nil, comment, nil)
	if err != nil {
		return nil, err
	}
	if err := t.requireNameFree(doc.Name, 0); err != nil {
		return nil, err
	}
	links, err := t.resolveLibraryLinks(actor, &doc, nil)
	if err != nil {
		return nil, err
	}
	if err := t.checkPhaseResources(actor, &doc, nil); err != nil {
		return nil, err
	}
	def, err := t.ReleaseDefinition.Create().
		SetName(doc.Name).SetDescription(doc.Description).SetReleaseNameFormat(doc.ReleaseNameFormat).
		SetVariables(doc.Variables).SetSchedules(doc.Schedules).SetReaders(doc.Readers).SetPermissions(doc.Permissions).SetRevision(1).
		SetPath(doc.Path).SetTags(doc.Tags).SetTagIndex(tagIndex(doc.Tags)).SetDisabled(doc.Disabled).
		SetCreatedAt(t.now).SetUpdatedAt(t.now).
		Save(t.ctx)
	if err != nil {
		return nil, nameConflict(doc.Name, fmt.Errorf("storing definition: %w", err))
	}
	if err := t.writeDefinitionRows(def.ID, &doc, refs); err != nil {
		return nil, err
	}
	if err := t.auditLibraryLinks(actor, def.ID, doc.Name, links); err != nil {
		return nil, err
	}
	if err := t.recordDefinitionChange(actor, def.ID, 1, definitionrevision.ChangeTypeCREATE, comment, nil, &doc); err != nil {
		return nil, err
	}
	return def, nil
}

// UpdateDefinition replaces the whole document of definition id (like a PUT)
// when its current revision is expectedRevision, and writes the next
// revision. A stale expectedRevision is a CONFLICT naming who changed the
// definition, and nothing is written. A secret variable given without a value
// keeps its stored value, so clients round-trip documents without knowing
// secrets. Environments and artifact sources keep their row ids when their
// name (alias) is unchanged.
func (e *Engine) UpdateDefinition(ctx context.Context, actor Actor, id, expectedRevision int, in spec.DefinitionSnapshot, comment string) (*ent.ReleaseDefinition, error) {
	if err := actor.Require(RoleEditor, "updating a definition"); err != nil {
		return nil, err
	}
	var def *ent.ReleaseDefinition
	err := e.inTx(ctx, func(t *txn) (err error) {
		def, err = t.updateDefinition(actor, id, expectedRevision, in, comment)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("updating definition %d: %w", id, err)
	}
	return def.Unwrap(), nil
}

// updateDefinition is the update path of UpdateDefinition within t (also the import's).
func (t *txn) updateDefinition(actor Actor, id, expectedRevision int, in spec.DefinitionSnapshot, comment string) (*ent.ReleaseDefinition, error) {
	cur, err := t.liveDefinition(id)
	if err != nil {
		return nil, err
	}
	if err := t.requireReadable(actor, id, NotFound("definition", id)); err != nil {
		return nil, err
	}
	if cur.Revision != expectedRevision {
		return nil, t.staleRevision(cur)
	}
	prev, err := t.latestRevision(id)
	if err != nil {
		return nil, err
	}
	// Judged before the document's problems are reported: who may not
	// make a change learns nothing about its validity.
	doc, refs, err := t.prepareDefinition(in, &prev.Snapshot, comment, func(doc *spec.DefinitionSnapshot) error {
		return t.authorizeDefinitionChange(actor, id, &prev.Snapshot, doc, NotFound("definition", id))
	})
	if err != nil {
		return nil, err
	}
	links, err := t.resolveLibraryLinks(actor, &doc, &prev.Snapshot)
	if err != nil {
		return nil, err
	}
	if err := t.checkPhaseResources(actor, &doc, &prev.Snapshot); err != nil {
		return nil, err
	}
	if doc.Name != cur.Name {
		if err := t.requireNameFree(doc.Name, id); err != nil {
			return nil, err
		}
	}
	// Conditional on the revision read above: correct even where rows
	// are not locked (PostgreSQL READ COMMITTED).
	next := expectedRevision + 1
	n, err := t.ReleaseDefinition.Update().
		Where(releasedefinition.ID(id), releasedefinition.Revision(expectedRevision), releasedefinition.DeletedAtIsNil()).
		SetName(doc.Name).SetDescription(doc.Description).SetReleaseNameFormat(doc.ReleaseNameFormat).
		SetVariables(doc.Variables).SetSchedules(doc.Schedules).SetReaders(doc.Readers).SetPermissions(doc.Permissions).SetRevision(next).SetUpdatedAt(t.now).
		SetPath(doc.Path).SetTags(doc.Tags).SetTagIndex(tagIndex(doc.Tags)).SetDisabled(doc.Disabled).
		Save(t.ctx)
	if err != nil {
		return nil, nameConflict(doc.Name, fmt.Errorf("storing definition: %w", err))
	}
	if n == 0 {
		return nil, t.staleAfterWrite(id)
	}
	if err := t.writeDefinitionRows(id, &doc, refs); err != nil {
		return nil, err
	}
	if err := t.auditLibraryLinks(actor, id, doc.Name, links); err != nil {
		return nil, err
	}
	if err := t.recordDefinitionChange(actor, id, next, definitionrevision.ChangeTypeUPDATE, comment, &prev.Snapshot, &doc); err != nil {
		return nil, err
	}
	def, err := t.ReleaseDefinition.Get(t.ctx, id)
	if err != nil {
		return nil, fmt.Errorf("reading definition back: %w", err)
	}
	return def, nil
}

// DeleteDefinition soft-deletes definition id when its current revision is
// expectedRevision: deleted_at is set, a DELETE revision (with the last
// document) is written and the name is free for a new definition. Its
// artifact source and environment rows are removed, so webhooks no longer
// match it; its revisions and releases stay.
func (e *Engine) DeleteDefinition(ctx context.Context, actor Actor, id, expectedRevision int, comment string) error {
	if err := actor.Require(RoleEditor, "deleting a definition"); err != nil {
		return err
	}
	err := e.inTx(ctx, func(t *txn) error {
		cur, err := t.liveDefinition(id)
		if err != nil {
			return err
		}
		if err := t.authorizeDefinitionDelete(actor, id, NotFound("definition", id)); err != nil {
			return err
		}
		if len(comment) > maxComment {
			return Invalid("comment", "is %d bytes long; at most %d are allowed", len(comment), maxComment)
		}
		if cur.Revision != expectedRevision {
			return t.staleRevision(cur)
		}
		prev, err := t.latestRevision(id)
		if err != nil {
			return err
		}
		next := expectedRevision + 1
		n, err := t.ReleaseDefinition.Update().
			Where(releasedefinition.ID(id), releasedefinition.Revision(expectedRevision), releasedefinition.DeletedAtIsNil()).
			SetDeletedAt(t.now).SetRevision(next).SetUpdatedAt(t.now).
			Save(t.ctx)
		if err != nil {
			return fmt.Errorf("marking definition deleted: %w", err)
		}
		if n == 0 {
			return t.staleAfterWrite(id)
		}
		if _, err := t.ArtifactSource.Delete().Where(artifactsource.DefinitionID(id)).Exec(t.ctx); err != nil {
			return fmt.Errorf("removing artifact sources: %w", err)
		}
		if _, err := t.Environment.Delete().Where(environment.DefinitionID(id)).Exec(t.ctx); err != nil {
			return fmt.Errorf("removing environments: %w", err)
		}
		return t.recordDefinitionChange(actor, id, next, definitionrevision.ChangeTypeDELETE, comment, &prev.Snapshot, &prev.Snapshot)
	})
	if err != nil {
		return fmt.Errorf("deleting definition %d: %w", id, err)
	}
	return nil
}

// Definition returns the live definition id; a deleted one is NOT_FOUND (its
// revisions stay readable), and so is one whose readers exclude actor.
func (e *Engine) Definition(ctx context.Context, actor Actor, id int) (*ent.ReleaseDefinition, error) {
	if err := actor.Require(RoleViewer, "reading a definition"); err != nil {
		return nil, err
	}
	def, err := e.client.ReleaseDefinition.Query().
		Where(releasedefinition.ID(id), releasedefinition.DeletedAtIsNil()).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, NotFound("definition", id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading definition %d: %w", id, err)
	}
	if len(def.Readers) > 0 {
		access, err := e.readAccessFor(ctx, actor)
		if err != nil {
			return nil, err
		}
		if !access.allows(def.Readers) {
			return nil, NotFound("definition", id)
		}
	}
	return def, nil
}

// SecretValue returns the plaintext of a variable: its value, or for a secret
// variable the opened sealed value. Only the deployment runtime needs it;
// nothing returns it through the API.
func (e *Engine) SecretValue(v spec.Variable) (string, error) {
	if !v.Secret {
		return v.Value, nil
	}
	pt, err := e.openSealed(v.Value)
	if err != nil {
		return "", fmt.Errorf("opening secret variable %q: %w", v.Name, err)
	}
	return pt, nil
}

func (e *Engine) openSealed(value string) (string, error) {
	if e.secrets == nil {
		return "", errors.New("no secret key is configured")
	}
	raw, ok := strings.CutPrefix(value, sealedPrefix)
	if !ok {
		return "", errors.New("value is not sealed")
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return "", fmt.Errorf("decoding sealed value: %w", err)
	}
	pt, err := e.secrets.Open(b)
	if err != nil {
		return "", err
	}
	return string(pt), nil
}

// prepareDefinition normalises in, validates it against itself and the
// database, and seals its secret variables (keeping prev's sealed value for a
// secret given without one). Every problem is reported in one
// *ValidationError. authorize (may be nil) judges the normalised, sealed
// document before its problems are reported; its error wins.
func (t *txn) prepareDefinition(in spec.DefinitionSnapshot, prev *spec.DefinitionSnapshot, comment string, authorize func(*spec.DefinitionSnapshot) error) (spec.DefinitionSnapshot, *references, error) {
	doc := normalizeDefinition(in)
	refs, err := t.loadReferences(&doc)
	if err != nil {
		return doc, nil, err
	}
	p := validateDefinition(&doc, refs)
	t.e.retention.validate(p, &doc)
	if len(comment) > maxComment {
		p.add("comment", "is %d bytes long; at most %d are allowed", len(comment), maxComment)
	}
	var prevVars []spec.Variable
	if prev != nil {
		prevVars = prev.Variables
	}
	if err := t.sealSecrets(p, "variables", doc.Variables, prevVars); err != nil {
		return doc, nil, err
	}
	for i := range doc.Environments {
		env := &doc.Environments[i]
		prevVars = nil
		if prev != nil {
			if pe, ok := prev.Environment(env.Name); ok {
				prevVars = pe.Variables
			}
		}
		if err := t.sealSecrets(p, fmt.Sprintf("environments[%d].variables", i), env.Variables, prevVars); err != nil {
			return doc, nil, err
		}
	}
	if authorize != nil {
		if err := authorize(&doc); err != nil {
			return doc, nil, err
		}
	}
	return doc, refs, p.err()
}

// sealSecrets replaces the plaintext of each secret variable in vars by its
// sealed form. A secret given without a value keeps the sealed value of the
// secret of the same name in prev; one given with the plaintext it already
// has keeps its ciphertext too, so that an unchanged secret shows no change.
func (t *txn) sealSecrets(p *problems, field string, vars, prev []spec.Variable) error {
	old := map[string]string{}
	for _, v := range prev {
		if v.Secret {
			old[v.Name] = v.Value
		}
	}
	for i := range vars {
		v := &vars[i]
		if !v.Secret {
			continue
		}
		sealed, had := old[v.Name]
		if v.Value == "" {
			if had {
				v.Value = sealed
			} else {
				p.add(fmt.Sprintf("%s[%d].value", field, i),
					"secret variable %q needs a value (an empty value keeps the stored one only for an existing secret)", v.Name)
			}
			continue
		}
		if t.e.secrets == nil {
			return fmt.Errorf("sealing secret variable %q: no secret key is configured on the server", v.Name)
		}
		if had {
			if pt, err := t.e.openSealed(sealed); err == nil && pt == v.Value {
				v.Value = sealed
				continue
			}
		}
		v.Value = sealedPrefix + base64.StdEncoding.EncodeToString(t.e.secrets.Seal([]byte(v.Value)))
	}
	return nil
}

// requireNameFree returns CONFLICT when a live definition other than except
// already has name.
func (t *txn) requireNameFree(name string, except int) error {
	taken, err := t.ReleaseDefinition.Query().
		Where(releasedefinition.Name(name), releasedefinition.DeletedAtIsNil(), releasedefinition.IDNEQ(except)).
		Exist(t.ctx)
	if err != nil {
		return fmt.Errorf("checking definition name: %w", err)
	}
	if taken {
		return Conflict("a definition named %q already exists; choose another name", name)
	}
	return nil
}

// nameConflict turns a unique-index violation (a concurrent writer took the
// name) into a CONFLICT.
func nameConflict(name string, err error) error {
	if ent.IsConstraintError(err) {
		return Conflict("a definition named %q already exists; choose another name", name)
	}
	return err
}

// liveDefinition reads definition id, NOT_FOUND when it does not exist or was
// deleted.
func (t *txn) liveDefinition(id int) (*ent.ReleaseDefinition, error) {
	q := t.ReleaseDefinition.Query().Where(releasedefinition.ID(id), releasedefinition.DeletedAtIsNil())
	if t.postgres() {
		q = q.ForUpdate()
	}
	def, err := q.Only(t.ctx)
	if ent.IsNotFound(err) {
		return nil, NotFound("definition", id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading definition: %w", err)
	}
	return def, nil
}

func (t *txn) latestRevision(id int) (*ent.DefinitionRevision, error) {
	rev, err := t.DefinitionRevision.Query().Where(definitionrevision.DefinitionID(id)).
		Order(ent.Desc(definitionrevision.FieldRevision)).First(t.ctx)
	if err != nil {
		return nil, fmt.Errorf("reading latest revision: %w", err)
	}
	return rev, nil
}

// staleRevision is the CONFLICT of a change based on an old revision of def.
func (t *txn) staleRevision(def *ent.ReleaseDefinition) error {
	author := "someone"
	if rev, err := t.latestRevision(def.ID); err == nil {
		author = rev.Author
	}
	return Conflict("definition %q was changed by %s at revision %d; reload and reapply your change",
		def.Name, author, def.Revision)
}

// staleAfterWrite explains a conditional update that matched no row.
func (t *txn) staleAfterWrite(id int) error {
	def, err := t.ReleaseDefinition.Query().Where(releasedefinition.ID(id), releasedefinition.DeletedAtIsNil()).Only(t.ctx)
	if ent.IsNotFound(err) {
		return NotFound("definition", id)
	}
	if err != nil {
		return fmt.Errorf("reading definition: %w", err)
	}
	return t.staleRevision(def)
}

// writeDefinitionRows makes the artifact source and environment rows of
// definition defID mirror doc. Rows whose alias (name) is unchanged are
// updated in place and keep their ids; the others are removed first, so a
// rename that only changes case does not collide with the unique index.
func (t *txn) writeDefinitionRows(defID int, doc *spec.DefinitionSnapshot, refs *references) error {
	sources, err := t.ArtifactSource.Query().Where(artifactsource.DefinitionID(defID)).All(t.ctx)
	if err != nil {
		return fmt.Errorf("reading artifact sources: %w", err)
	}
	keepSrc := map[string]*ent.ArtifactSource{}
	wanted := map[string]bool{}
	for _, s := range doc.ArtifactSources {
		wanted[s.Alias] = true
	}
	for _, row := range sources {
		if wanted[row.Alias] {
			keepSrc[row.Alias] = row
			continue
		}
		if err := t.ArtifactSource.DeleteOne(row).Exec(t.ctx); err != nil {
			return fmt.Errorf("removing artifact source %q: %w", row.Alias, err)
		}
	}
	for _, s := range doc.ArtifactSources {
		connID := refs.connIDs[s.Connection]
		if row, ok := keepSrc[s.Alias]; ok {
			err = row.Update().SetType(artifactsource.Type(s.Type)).SetJob(s.Job).SetProject(s.Project).
				SetRepositoryURL(s.RepositoryURL).SetPrimary(s.Primary).SetContinuousDeployment(s.ContinuousDeployment).
				SetBranchFilters(s.BranchFilters).SetAllowPartial(s.AllowPartial).SetConnectionID(connID).
				Exec(t.ctx)
		} else {
			err = t.ArtifactSource.Create().SetDefinitionID(defID).SetAlias(s.Alias).
				SetType(artifactsource.Type(s.Type)).SetJob(s.Job).SetProject(s.Project).
				SetRepositoryURL(s.RepositoryURL).SetPrimary(s.Primary).SetContinuousDeployment(s.ContinuousDeployment).
				SetBranchFilters(s.BranchFilters).SetAllowPartial(s.AllowPartial).SetConnectionID(connID).
				Exec(t.ctx)
		}
		if err != nil {
			return fmt.Errorf("storing artifact source %q: %w", s.Alias, err)
		}
	}

	envs, err := t.Environment.Query().Where(environment.DefinitionID(defID)).All(t.ctx)
	if err != nil {
		return fmt.Errorf("reading environments: %w", err)
	}
	keepEnv := map[string]*ent.Environment{}
	wanted = map[string]bool{}
	for _, env := range doc.Environments {
		wanted[env.Name] = true
	}
	for _, row := range envs {
		if wanted[row.Name] {
			keepEnv[row.Name] = row
			continue
		}
		if err := t.Environment.DeleteOne(row).Exec(t.ctx); err != nil {
			return fmt.Errorf("removing environment %q: %w", row.Name, err)
		}
	}
	for rank, env := range doc.Environments {
		if row, ok := keepEnv[env.Name]; ok {
			err = row.Update().SetRank(rank).SetOwner(env.Owner).SetTrigger(env.Trigger).
				SetPreApproval(env.PreApproval).SetPostApproval(env.PostApproval).SetJob(env.Job).SetPhases(env.Phases).
				SetQueue(env.Queue).SetVariables(env.Variables).SetPermissions(env.Permissions).
				Exec(t.ctx)
		} else {
			err = t.Environment.Create().SetDefinitionID(defID).SetName(env.Name).SetRank(rank).
				SetOwner(env.Owner).SetTrigger(env.Trigger).
				SetPreApproval(env.PreApproval).SetPostApproval(env.PostApproval).SetJob(env.Job).SetPhases(env.Phases).
				SetQueue(env.Queue).SetVariables(env.Variables).SetPermissions(env.Permissions).
				Exec(t.ctx)
		}
		if err != nil {
			return fmt.Errorf("storing environment %q: %w", env.Name, err)
		}
	}
	return nil
}

// recordDefinitionChange writes the revision row, the audit event (secrets
// masked) and the definition.changed event of one change.
func (t *txn) recordDefinitionChange(actor Actor, defID, revision int, kind definitionrevision.ChangeType, comment string, before, after *spec.DefinitionSnapshot) error {
	err := t.DefinitionRevision.Create().SetDefinitionID(defID).SetRevision(revision).SetChangeType(kind).
		SetComment(comment).SetAuthor(actor.String()).SetSnapshot(*after).SetCreatedAt(t.now).
		Exec(t.ctx)
	if err != nil {
		return fmt.Errorf("storing revision %d: %w", revision, err)
	}
	var action string
	var auditBefore, auditAfter any
	switch kind {
	case definitionrevision.ChangeTypeCREATE:
		action, auditAfter = auditDefinitionCreate, MaskSecrets(*after)
	case definitionrevision.ChangeTypeUPDATE:
		action, auditBefore, auditAfter = auditDefinitionUpdate, MaskSecrets(*before), MaskSecrets(*after)
	case definitionrevision.ChangeTypeDELETE:
		action, auditBefore = auditDefinitionDelete, MaskSecrets(*before)
	case definitionrevision.ChangeTypeUNDELETE:
		action, auditAfter = auditDefinitionUndelete, MaskSecrets(*after)
	case definitionrevision.ChangeTypeREVERT:
		action, auditBefore, auditAfter = auditDefinitionRevert, MaskSecrets(*before), MaskSecrets(*after)
	}
	if err := t.audit(actor, action, auditTargetDefinition, defID, auditBefore, auditAfter); err != nil {
		return err
	}
	// Cron release triggers follow the definition: (re)created from the new
	// snapshot, retired when it is deleted.
	if err := t.scheduleDefinition(defID); err != nil {
		return err
	}
	return t.emit(Event{
		Type: EventDefinitionChanged, DefinitionID: defID, Actor: actor.String(),
		Data: map[string]any{"revision": revision, "changeType": string(kind)},
	})
}

// MaskSecrets returns a copy of doc whose secret variable values read "***",
// for every place that shows a definition (audit, diffs, exports).
func MaskSecrets(doc spec.DefinitionSnapshot) spec.DefinitionSnapshot {
	doc.Variables = maskVariables(doc.Variables)
	envs := make([]spec.EnvironmentSpec, len(doc.Environments))
	for i, env := range doc.Environments {
		env.Variables = maskVariables(env.Variables)
		envs[i] = env
	}
	if doc.Environments != nil {
		doc.Environments = envs
	}
	return doc
}

// MaskVariables returns a copy of vs whose secret values read "***": how a
// release's variable overrides are shown.
func MaskVariables(vs []spec.Variable) []spec.Variable { return maskVariables(vs) }

func maskVariables(vs []spec.Variable) []spec.Variable {
	if vs == nil {
		return nil
	}
	out := make([]spec.Variable, len(vs))
	for i, v := range vs {
		if v.Secret {
			v.Value = maskedValue
		}
		out[i] = v
	}
	return out
}
