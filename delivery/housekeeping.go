package delivery

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/definitionrevision"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releasedefinition"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
	"github.com/cairnhq/cairn/ent/schema/spec"
)

// Limits of tags and folders.
const (
	maxTags    = 20
	maxTagLen  = 50
	maxPathLen = 400
)

// normalizePath trims a definition folder and gives it one leading "/" and no trailing one;
// empty is the root "/". Backslashes (Azure's separator) become slashes.
func normalizePath(p string) string {
	p = strings.TrimSpace(strings.ReplaceAll(p, `\`, "/"))
	parts := strings.Split(p, "/")
	out := make([]string, 0, len(parts))
	for _, part := range parts {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return "/" + strings.Join(out, "/")
}

func validatePath(p *problems, field, path string) {
	switch {
	case len(path) > maxPathLen:
		p.add(field, "is %d bytes long; at most %d are allowed", len(path), maxPathLen)
	case hasControl(path):
		p.add(field, "must not contain control characters")
	}
	for _, part := range strings.Split(path, "/") {
		if part == "." || part == ".." {
			p.add(field, "%q: a folder cannot be named . or ..", path)
			break
		}
	}
}

// normalizeLabelTags trims tags and drops empty ones and case-insensitive duplicates, keeping the
// first spelling.
func normalizeLabelTags(tags []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, tag := range tags {
		tag = strings.TrimSpace(tag)
		if tag == "" || seen[strings.ToLower(tag)] {
			continue
		}
		seen[strings.ToLower(tag)] = true
		out = append(out, tag)
	}
	return out
}

func validateTags(p *problems, field string, tags []string) {
	if len(tags) > maxTags {
		p.add(field, "lists %d tags; at most %d are allowed", len(tags), maxTags)
		return
	}
	for i, tag := range tags {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case utf8.RuneCountInString(tag) > maxTagLen:
			p.add(f, "is %d characters long; at most %d are allowed", utf8.RuneCountInString(tag), maxTagLen)
		case hasControl(tag) || strings.ContainsAny(tag, "|,"):
			p.add(f, "%q: a tag must not contain control characters, \"|\" or \",\"", truncateText(tag, 60))
		}
	}
}

// tagIndex is the stored form the hasTag filter matches: "|a|b|", lower case.
func tagIndex(tags []string) string {
	if len(tags) == 0 {
		return ""
	}
	return "|" + strings.ToLower(strings.Join(tags, "|")) + "|"
}

// TagIndexNeedle is what a definition's tag index contains when it has tag.
func TagIndexNeedle(tag string) string { return "|" + strings.ToLower(strings.TrimSpace(tag)) + "|" }

// UpdateReleaseInput changes a release; nil fields stay as they are.
type UpdateReleaseInput struct {
	Name        *string
	Description *string
	Tags        []string
	KeepForever *bool
	// ManualEnvironments applies to drafts only.
	ManualEnvironments []string
}

// Audit actions of release housekeeping.
const (
	auditReleaseUpdate      = "release.update"
	auditReleaseKeepForever = "release.keepForever"
	auditReleaseStart       = "release.start"
	auditReleaseDelete      = "release.delete"
)

// UpdateRelease renames, describes, tags or keeps forever a release (and, for a draft,
// changes its manual environments). Name, description, tags and manual environments need the
// definition's createReleases permission (they shape the release as its creator does);
// keepForever needs manageDeployments (it decides what retention deletes, like abandoning).
// Each change is audited; a keepForever change has its own audit record.
func (e *Engine) UpdateRelease(ctx context.Context, actor Actor, id int, in UpdateReleaseInput) (*ent.Release, error) {
	if err := actor.Require(RoleEditor, "updating a release"); err != nil {
		return nil, err
	}
	var out *ent.Release
	err := e.inTx(ctx, func(t *txn) error {
		r, err := t.lockRelease(id)
		if err != nil {
			return err
		}
		hidden := NotFound("release", id)
		if err := t.requireReadable(actor, r.DefinitionID, hidden); err != nil {
			return err
		}
		shape := in.Name != nil || in.Description != nil || in.Tags != nil || in.ManualEnvironments != nil
		if shape {
			if err := t.authorize(actor, r.DefinitionID, "", PermCreateReleases, fmt.Sprintf("updating release %s", r.Name), hidden); err != nil {
				return err
			}
		}
		if in.KeepForever != nil && *in.KeepForever != r.KeepForever {
			if err := t.authorize(actor, r.DefinitionID, "", PermManageDeployments, fmt.Sprintf("changing keep-forever of release %s", r.Name), hidden); err != nil {
				return err
			}
		}
		u := t.Release.UpdateOne(r).SetUpdatedAt(t.now)
		before, after := map[string]any{}, map[string]any{}
		if in.Name != nil {
			name := strings.TrimSpace(*in.Name)
			switch {
			case name == "":
				return Invalid("name", "a release needs a name")
			case utf8.RuneCountInString(name) > maxReleaseName:
				return Invalid("name", "is longer than %d characters", maxReleaseName)
			case hasControl(name):
				return Invalid("name", "must not contain control characters")
			}
			if name != r.Name {
				taken, err := t.Release.Query().Where(release.DefinitionID(r.DefinitionID), release.Name(name), release.IDNEQ(r.ID)).Exist(t.ctx)
				if err != nil {
					return fmt.Errorf("checking release name: %w", err)
				}
				if taken {
					return Conflict("the definition already has a release named %q", name)
				}
				before["name"], after["name"] = r.Name, name
				u.SetName(name)
			}
		}
		if in.Description != nil && *in.Description != r.Description {
			if utf8.RuneCountInString(*in.Description) > maxDescription {
				return Invalid("description", "is longer than %d characters", maxDescription)
			}
			before["description"], after["description"] = r.Description, *in.Description
			u.SetDescription(*in.Description)
		}
		if in.Tags != nil {
			tags := normalizeLabelTags(in.Tags)
			p := &problems{}
			validateTags(p, "tags", tags)
			if err := p.err(); err != nil {
				return err
			}
			if !sameJSON(tags, r.Tags) {
				before["tags"], after["tags"] = r.Tags, tags
				u.SetTags(tags)
			}
		}
		if in.ManualEnvironments != nil {
			if r.Status != release.StatusDRAFT {
				return Conflict("release %s is %s: manual environments can be changed on drafts only", r.Name, r.Status)
			}
			manual := map[string]bool{}
			for i, name := range in.ManualEnvironments {
				if _, ok := r.Snapshot.Environment(name); !ok {
					return Invalid(fmt.Sprintf("manualEnvironments[%d]", i), "release %s has no environment %q", r.Name, truncateText(name, 100))
				}
				manual[name] = true
			}
			if _, err := t.ReleaseEnvironment.Update().Where(releaseenvironment.ReleaseID(r.ID)).SetManual(false).Save(t.ctx); err != nil {
				return fmt.Errorf("updating environments: %w", err)
			}
			for name := range manual {
				if _, err := t.ReleaseEnvironment.Update().Where(releaseenvironment.ReleaseID(r.ID), releaseenvironment.Name(name)).SetManual(true).Save(t.ctx); err != nil {
					return fmt.Errorf("updating environments: %w", err)
				}
			}
			before["manualEnvironments"], after["manualEnvironments"] = r.ManualEnvironments, in.ManualEnvironments
			u.SetManualEnvironments(in.ManualEnvironments)
		}
		if len(after) > 0 {
			if err := t.audit(actor, auditReleaseUpdate, auditTargetRelease, r.ID, before, after); err != nil {
				return err
			}
		}
		if in.KeepForever != nil && *in.KeepForever != r.KeepForever {
			by := ""
			if *in.KeepForever {
				by = actor.Username
			}
			u.SetKeepForever(*in.KeepForever).SetKeepForeverBy(by)
			if err := t.audit(actor, auditReleaseKeepForever, auditTargetRelease, r.ID,
				map[string]any{"keepForever": r.KeepForever, "by": r.KeepForeverBy},
				map[string]any{"keepForever": *in.KeepForever, "name": r.Name}); err != nil {
				return err
			}
		}
		out, err = u.Save(t.ctx)
		if err != nil {
			return fmt.Errorf("storing release: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("updating release %d: %w", id, err)
	}
	return out.Unwrap(), nil
}

// StartRelease makes a draft release ACTIVE: its "after release" environments start deploying
// as at creation. It needs the definition's createReleases permission. A disabled definition
// still lets its existing drafts start.
func (e *Engine) StartRelease(ctx context.Context, actor Actor, id int) (*ent.Release, error) {
	if err := actor.Require(RoleEditor, "starting a release"); err != nil {
		return nil, err
	}
	r0, err := e.client.Release.Query().Where(release.ID(id)).Select(release.FieldDefinitionID).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, NotFound("release", id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading release %d: %w", id, err)
	}
	var out *ent.Release
	err = e.inTxDefinition(ctx, r0.DefinitionID, func(t *txn) error {
		r, err := t.lockRelease(id)
		if err != nil {
			return err
		}
		if err := t.authorize(actor, r.DefinitionID, "", PermCreateReleases, fmt.Sprintf("starting release %s", r.Name), NotFound("release", id)); err != nil {
			return err
		}
		to, err := releaseMachine.apply(r.ID, r.Status, ReleaseStart)
		if err != nil {
			return err
		}
		out, err = t.Release.UpdateOne(r).SetStatus(to).SetUpdatedAt(t.now).Save(t.ctx)
		if err != nil {
			return fmt.Errorf("starting release: %w", err)
		}
		if err := t.audit(actor, auditReleaseStart, auditTargetRelease, r.ID, map[string]any{"status": r.Status}, map[string]any{"status": to}); err != nil {
			return err
		}
		envs, err := t.ReleaseEnvironment.Query().Where(releaseenvironment.ReleaseID(r.ID)).
			Order(ent.Asc(releaseenvironment.FieldRank)).All(t.ctx)
		if err != nil {
			return fmt.Errorf("reading environments: %w", err)
		}
		return t.triggerAfterRelease(actor, out, envs, "triggered by the start of the draft release")
	})
	if err != nil {
		return nil, fmt.Errorf("starting release %d: %w", id, err)
	}
	return out.Unwrap(), nil
}

// DeleteDraftRelease deletes a draft release (by hand only drafts can be deleted; retention
// deletes the others). It needs the definition's createReleases permission.
func (e *Engine) DeleteDraftRelease(ctx context.Context, actor Actor, id int) error {
	if err := actor.Require(RoleEditor, "deleting a release"); err != nil {
		return err
	}
	err := e.inTx(ctx, func(t *txn) error {
		r, err := t.lockRelease(id)
		if err != nil {
			return err
		}
		if err := t.authorize(actor, r.DefinitionID, "", PermCreateReleases, fmt.Sprintf("deleting release %s", r.Name), NotFound("release", id)); err != nil {
			return err
		}
		if r.Status != release.StatusDRAFT {
			return Conflict("release %s is %s: only drafts can be deleted (retention deletes the others)", r.Name, r.Status)
		}
		if err := t.deleteReleaseRows(r.ID); err != nil {
			return err
		}
		return t.audit(actor, auditReleaseDelete, auditTargetRelease, r.ID, map[string]any{"name": r.Name, "status": r.Status}, nil)
	})
	if err != nil {
		return fmt.Errorf("deleting release %d: %w", id, err)
	}
	return nil
}

// UndeleteDefinition brings back a deleted definition as a new revision holding its last
// document, while the retention of deleted definitions keeps it. It needs editDefinition
// (the definition's lists as stored); the name must be free again.
func (e *Engine) UndeleteDefinition(ctx context.Context, actor Actor, id int, comment string) (*ent.ReleaseDefinition, error) {
	if err := actor.Require(RoleEditor, "undeleting a definition"); err != nil {
		return nil, err
	}
	var def *ent.ReleaseDefinition
	err := e.inTx(ctx, func(t *txn) error {
		cur, err := t.ReleaseDefinition.Query().Where(releasedefinition.ID(id)).Only(t.ctx)
		if ent.IsNotFound(err) {
			return NotFound("definition", id)
		}
		if err != nil {
			return fmt.Errorf("reading definition: %w", err)
		}
		hidden := NotFound("definition", id)
		if err := t.authorize(actor, id, "", PermEditDefinition, fmt.Sprintf("undeleting definition %s", cur.Name), hidden); err != nil {
			return err
		}
		if cur.DeletedAt == nil {
			return Conflict("definition %q is not deleted", cur.Name)
		}
		if !t.now.Before(cur.DeletedAt.AddDate(0, 0, t.e.retention.DeletedDefinitionDays)) {
			return Conflict("definition %q was deleted on %s, more than %d days ago (the retention of deleted definitions): it is being purged",
				cur.Name, day(*cur.DeletedAt), t.e.retention.DeletedDefinitionDays)
		}
		prev, err := t.latestRevision(id)
		if err != nil {
			return err
		}
		if comment == "" {
			comment = "undeleted"
		}
		doc, refs, err := t.prepareDefinition(withoutSecretValues(prev.Snapshot), &prev.Snapshot, comment, nil)
		if err != nil {
			return err
		}
		if err := t.requireNameFree(doc.Name, id); err != nil {
			return err
		}
		next := cur.Revision + 1
		n, err := t.ReleaseDefinition.Update().
			Where(releasedefinition.ID(id), releasedefinition.Revision(cur.Revision), releasedefinition.DeletedAtNotNil()).
			ClearDeletedAt().SetRevision(next).SetUpdatedAt(t.now).Save(t.ctx)
		if err != nil {
			return nameConflict(doc.Name, fmt.Errorf("undeleting definition: %w", err))
		}
		if n == 0 {
			return Conflict("definition %q changed meanwhile; try again", cur.Name)
		}
		if err := t.writeDefinitionRows(id, &doc, refs); err != nil {
			return err
		}
		if err := t.recordDefinitionChange(actor, id, next, definitionrevision.ChangeTypeUNDELETE, comment, &prev.Snapshot, &doc); err != nil {
			return err
		}
		def, err = t.ReleaseDefinition.Get(t.ctx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("undeleting definition %d: %w", id, err)
	}
	return def.Unwrap(), nil
}

// RevertDefinition makes the document of revision toRevision current again as a new revision
// (REVERT), judged and validated like an update of the current document into that one. With
// keepCurrentSecrets, a secret variable that exists now keeps its current value; otherwise (or
// for a secret that exists only in the old revision) the old revision's sealed value returns.
func (e *Engine) RevertDefinition(ctx context.Context, actor Actor, id, toRevision int, comment string, keepCurrentSecrets bool) (*ent.ReleaseDefinition, error) {
	if err := actor.Require(RoleEditor, "reverting a definition"); err != nil {
		return nil, err
	}
	var def *ent.ReleaseDefinition
	err := e.inTx(ctx, func(t *txn) error {
		cur, err := t.liveDefinition(id)
		if err != nil {
			return err
		}
		hidden := NotFound("definition", id)
		if err := t.requireReadable(actor, id, hidden); err != nil {
			return err
		}
		current, err := t.latestRevision(id)
		if err != nil {
			return err
		}
		if toRevision < 1 || toRevision >= current.Revision {
			return Invalid("toRevision", "is %d; revert to an earlier revision, 1 to %d", toRevision, current.Revision-1)
		}
		old, err := t.DefinitionRevision.Query().Where(definitionrevision.DefinitionID(id), definitionrevision.Revision(toRevision)).Only(t.ctx)
		if ent.IsNotFound(err) {
			return Invalid("toRevision", "definition %q has no revision %d", cur.Name, toRevision)
		}
		if err != nil {
			return fmt.Errorf("reading revision %d: %w", toRevision, err)
		}
		if old.ChangeType == definitionrevision.ChangeTypeDELETE {
			return Invalid("toRevision", "revision %d is a deletion; revert to a revision with a document", toRevision)
		}
		if comment == "" {
			comment = fmt.Sprintf("reverted to revision %d", toRevision)
		}
		// The sealed values the reverted document takes: current ones where kept, else the old.
		source := old.Snapshot
		if keepCurrentSecrets {
			source = secretsFrom(old.Snapshot, current.Snapshot)
		}
		doc, refs, err := t.prepareDefinition(withoutSecretValues(old.Snapshot), &source, comment, func(doc *spec.DefinitionSnapshot) error {
			return t.authorizeDefinitionChange(actor, id, &current.Snapshot, doc, hidden)
		})
		if err != nil {
			return err
		}
		links, err := t.resolveLibraryLinks(actor, &doc, &current.Snapshot)
		if err != nil {
			return err
		}
		if doc.Name != cur.Name {
			if err := t.requireNameFree(doc.Name, id); err != nil {
				return err
			}
		}
		next := cur.Revision + 1
		n, err := t.ReleaseDefinition.Update().
			Where(releasedefinition.ID(id), releasedefinition.Revision(cur.Revision), releasedefinition.DeletedAtIsNil()).
			SetName(doc.Name).SetDescription(doc.Description).SetReleaseNameFormat(doc.ReleaseNameFormat).
			SetVariables(doc.Variables).SetSchedules(doc.Schedules).SetReaders(doc.Readers).SetPermissions(doc.Permissions).
			SetPath(doc.Path).SetTags(doc.Tags).SetTagIndex(tagIndex(doc.Tags)).SetDisabled(doc.Disabled).
			SetRevision(next).SetUpdatedAt(t.now).Save(t.ctx)
		if err != nil {
			return nameConflict(doc.Name, fmt.Errorf("storing definition: %w", err))
		}
		if n == 0 {
			return t.staleAfterWrite(id)
		}
		if err := t.writeDefinitionRows(id, &doc, refs); err != nil {
			return err
		}
		if err := t.auditLibraryLinks(actor, id, doc.Name, links); err != nil {
			return err
		}
		if err := t.recordDefinitionChange(actor, id, next, definitionrevision.ChangeTypeREVERT, comment, &current.Snapshot, &doc); err != nil {
			return err
		}
		def, err = t.ReleaseDefinition.Get(t.ctx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reverting definition %d: %w", id, err)
	}
	return def.Unwrap(), nil
}

// withoutSecretValues returns a copy of doc whose secret variables have no value, so that
// prepareDefinition takes their sealed values from the previous document it is given.
func withoutSecretValues(doc spec.DefinitionSnapshot) spec.DefinitionSnapshot {
	clear := func(vs []spec.Variable) []spec.Variable {
		if vs == nil {
			return nil
		}
		out := make([]spec.Variable, len(vs))
		for i, v := range vs {
			if v.Secret {
				v.Value = ""
			}
			out[i] = v
		}
		return out
	}
	doc.Variables = clear(doc.Variables)
	envs := make([]spec.EnvironmentSpec, len(doc.Environments))
	for i, env := range doc.Environments {
		env.Variables = clear(env.Variables)
		envs[i] = env
	}
	doc.Environments = envs
	return doc
}

// secretsFrom returns old with each secret's sealed value replaced by the value of the secret
// of the same name (and environment) in cur, where there is one.
func secretsFrom(old, cur spec.DefinitionSnapshot) spec.DefinitionSnapshot {
	pick := func(vs, now []spec.Variable) []spec.Variable {
		sealed := map[string]string{}
		for _, v := range now {
			if v.Secret {
				sealed[v.Name] = v.Value
			}
		}
		out := make([]spec.Variable, len(vs))
		for i, v := range vs {
			if s, ok := sealed[v.Name]; ok && v.Secret {
				v.Value = s
			}
			out[i] = v
		}
		return out
	}
	out := old
	out.Variables = pick(old.Variables, cur.Variables)
	out.Environments = make([]spec.EnvironmentSpec, len(old.Environments))
	for i, env := range old.Environments {
		var now []spec.Variable
		if ce, ok := cur.Environment(env.Name); ok {
			now = ce.Variables
		}
		env.Variables = pick(env.Variables, now)
		out.Environments[i] = env
	}
	return out
}

// DeletedDefinitions lists the deleted definitions actor may read that undeleteDefinition can
// still bring back (deleted within the retention of deleted definitions), most recently
// deleted first.
func (e *Engine) DeletedDefinitions(ctx context.Context, actor Actor) ([]*ent.ReleaseDefinition, error) {
	if err := actor.Require(RoleViewer, "listing deleted definitions"); err != nil {
		return nil, err
	}
	since := e.clock.Now().AddDate(0, 0, -e.retention.DeletedDefinitionDays)
	defs, err := e.client.ReleaseDefinition.Query().
		Where(releasedefinition.DeletedAtNotNil(), releasedefinition.DeletedAtGT(since)).
		Order(ent.Desc(releasedefinition.FieldDeletedAt), ent.Desc(releasedefinition.FieldID)).Limit(1000).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing deleted definitions: %w", err)
	}
	access, err := e.readAccessFor(ctx, actor)
	if err != nil {
		return nil, err
	}
	out := defs[:0]
	for _, d := range defs {
		if len(d.Readers) == 0 || access.allows(d.Readers) {
			out = append(out, d)
		}
	}
	return out, nil
}
