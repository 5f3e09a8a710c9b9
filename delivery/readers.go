package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/definitionrevision"
	"github.com/cairnhq/cairn/ent/group"
	"github.com/cairnhq/cairn/ent/releasedefinition"
	"github.com/cairnhq/cairn/ent/user"
)

// Read permission of definitions. A definition whose readers list is empty is
// readable by every VIEWER; one that names groups is readable only by their
// members and by ADMINs. What a definition hides (its releases, deployments,
// approvals and their events) follows it. A hidden definition is reported as
// NOT_FOUND, like one that does not exist, so its name does not leak.

// readAccess is what one actor may read, resolved once: its groups.
type readAccess struct {
	all    bool
	groups map[string]bool
}

// allows reports whether a definition with these readers is readable.
func (r *readAccess) allows(readers []string) bool {
	if r.all || len(readers) == 0 {
		return true
	}
	for _, g := range readers {
		if r.groups[g] {
			return true
		}
	}
	return false
}

// readAccessFor reads the groups of actor; ADMINs and the engine read all.
func (e *Engine) readAccessFor(ctx context.Context, actor Actor) (*readAccess, error) {
	return readAccessWith(ctx, e.client, actor)
}

func readAccessWith(ctx context.Context, c *ent.Client, actor Actor) (*readAccess, error) {
	if actor.System || actor.Role == RoleAdmin {
		return &readAccess{all: true}, nil
	}
	names, err := c.Group.Query().
		Where(group.HasMembersWith(user.ID(actor.UserID), user.Disabled(false))).
		Select(group.FieldName).Strings(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading groups of %s: %w", actor.Username, err)
	}
	r := &readAccess{groups: make(map[string]bool, len(names))}
	for _, n := range names {
		r.groups[n] = true
	}
	return r, nil
}

// CanReadDefinition reports whether actor may read definition id (deleted or
// not): ADMINs always, others when its readers list is empty or names one of
// their groups. An unknown definition is NOT_FOUND.
func (e *Engine) CanReadDefinition(ctx context.Context, actor Actor, id int) (bool, error) {
	return canReadDefinition(ctx, e.client, actor, id)
}

// canReadDefinition is CanReadDefinition on client c (a transaction's, say).
func canReadDefinition(ctx context.Context, c *ent.Client, actor Actor, id int) (bool, error) {
	def, err := c.ReleaseDefinition.Query().Where(releasedefinition.ID(id)).
		Select(releasedefinition.FieldID, releasedefinition.FieldReaders).Only(ctx)
	if ent.IsNotFound(err) {
		return false, NotFound("definition", id)
	}
	if err != nil {
		return false, fmt.Errorf("reading readers of definition %d: %w", id, err)
	}
	if len(def.Readers) == 0 {
		return true, nil
	}
	access, err := readAccessWith(ctx, c, actor)
	if err != nil {
		return false, err
	}
	return access.allows(def.Readers), nil
}

// requireReadable returns hidden unless actor may read definition id.
func (t *txn) requireReadable(actor Actor, id int, hidden error) error {
	ok, err := canReadDefinition(t.ctx, t.Client(), actor, id)
	if err != nil {
		return err
	}
	if !ok {
		return hidden
	}
	return nil
}

// RequireReadableDefinition returns NOT_FOUND unless actor may read
// definition id (CanReadDefinition).
func (e *Engine) RequireReadableDefinition(ctx context.Context, actor Actor, id int) error {
	ok, err := e.CanReadDefinition(ctx, actor, id)
	if err != nil {
		return err
	}
	if !ok {
		return NotFound("definition", id)
	}
	return nil
}

// HiddenDefinitions returns the ids of the definitions (deleted or not) that
// actor may not read, for list queries to exclude; none for ADMINs. It reads
// every restricted definition: there are few, and the list is the price of
// filtering a JSON column the same way on SQLite and PostgreSQL.
func (e *Engine) HiddenDefinitions(ctx context.Context, actor Actor) ([]int, error) {
	if actor.System || actor.Role == RoleAdmin {
		return nil, nil
	}
	defs, err := e.client.ReleaseDefinition.Query().
		Select(releasedefinition.FieldID, releasedefinition.FieldReaders).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading definition readers: %w", err)
	}
	var access *readAccess
	var hidden []int
	for _, d := range defs {
		if len(d.Readers) == 0 {
			continue
		}
		if access == nil {
			if access, err = e.readAccessFor(ctx, actor); err != nil {
				return nil, err
			}
		}
		if !access.allows(d.Readers) {
			hidden = append(hidden, d.ID)
		}
	}
	return hidden, nil
}

// Release returns release id if actor may read its definition; an unknown
// or hidden release is NOT_FOUND.
func (e *Engine) Release(ctx context.Context, actor Actor, id int) (*ent.Release, error) {
	rel, err := e.client.Release.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, NotFound("release", id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading release %d: %w", id, err)
	}
	ok, err := e.CanReadDefinition(ctx, actor, rel.DefinitionID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, NotFound("release", id)
	}
	return rel, nil
}

// definitionReaders caches, for one event stream, whether its actor may read
// each definition. Entries expire after readersTTL, so that a change of
// readers or of group membership reaches open streams; a definition.changed
// event drops its entry at once.
type definitionReaders struct {
	e       *Engine
	actor   Actor
	access  *readAccess
	fetched time.Time
	byDef   map[int]bool
}

// readersTTL bounds how long an open event stream trusts what it read about
// group membership and definition readers.
const readersTTL = 30 * time.Second

func (d *definitionReaders) forget(defID int) { delete(d.byDef, defID) }

// readable reports whether the stream's actor may read definition defID; 0
// (events about no definition, e.g. agents) is readable.
func (d *definitionReaders) readable(ctx context.Context, defID int) (bool, error) {
	if defID == 0 || d.actor.System || d.actor.Role == RoleAdmin {
		return true, nil
	}
	now := d.e.clock.Now()
	if d.access == nil || now.Sub(d.fetched) > readersTTL || now.Before(d.fetched) {
		access, err := d.e.readAccessFor(ctx, d.actor)
		if err != nil {
			return false, err
		}
		d.access, d.fetched, d.byDef = access, now, map[int]bool{}
	}
	if ok, known := d.byDef[defID]; known {
		return ok, nil
	}
	def, err := d.e.client.ReleaseDefinition.Query().Where(releasedefinition.ID(defID)).
		Select(releasedefinition.FieldID, releasedefinition.FieldReaders).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		d.byDef[defID] = false
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading readers of definition %d: %w", defID, err)
	}
	ok := d.access.allows(def.Readers)
	d.byDef[defID] = ok
	return ok, nil
}

// RequireReadableDeployment returns NOT_FOUND unless actor may read the
// definition the deployment belongs to (its logs, its job).
func (e *Engine) RequireReadableDeployment(ctx context.Context, actor Actor, deploymentID int) error {
	d, err := e.client.Deployment.Get(ctx, deploymentID)
	if ent.IsNotFound(err) {
		return NotFound("deployment", deploymentID)
	}
	if err != nil {
		return fmt.Errorf("reading deployment %d: %w", deploymentID, err)
	}
	if err := e.RequireReadableDefinition(ctx, actor, d.DefinitionID); err != nil {
		return NotFound("deployment", deploymentID)
	}
	return nil
}

// JobLogs returns a job's stored log lines (ReadLogs) to an actor who may
// read its definition; NOT_FOUND otherwise, as for a missing job.
func (e *Engine) JobLogs(ctx context.Context, actor Actor, jobID int, fromSeq int64, limit int) ([]LogLine, error) {
	j, err := e.client.Job.Get(ctx, jobID)
	if ent.IsNotFound(err) {
		return nil, NotFound("job", jobID)
	}
	if err != nil {
		return nil, fmt.Errorf("reading job %d: %w", jobID, err)
	}
	if err := e.RequireReadableDeployment(ctx, actor, j.DeploymentID); err != nil {
		return nil, NotFound("job", jobID)
	}
	return e.ReadLogs(ctx, jobID, fromSeq, limit)
}

// DefinitionRevisions returns the query of a definition's revisions (also of
// a deleted one), for an actor who may read the definition; NOT_FOUND
// otherwise. The caller paginates it.
func (e *Engine) DefinitionRevisions(ctx context.Context, actor Actor, definitionID int) (*ent.DefinitionRevisionQuery, error) {
	if err := e.RequireReadableDefinition(ctx, actor, definitionID); err != nil {
		return nil, err
	}
	return e.client.DefinitionRevision.Query().Where(definitionrevision.DefinitionID(definitionID)), nil
}
