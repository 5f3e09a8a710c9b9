package delivery

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect/sql"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/agent"
	"github.com/cairnhq/cairn/ent/agentpool"
	"github.com/cairnhq/cairn/ent/deploymentgroup"
	"github.com/cairnhq/cairn/ent/group"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/user"
)

// Pools that route and deployment groups (docs/decisions.md, "Phases, pools and deployment
// groups"): an agent phase's job names a pool and only that pool's agents take it; an agent
// registered into a deployment group is a target, which takes only the jobs of
// deployment-group phases addressed to it. Pools and groups carry a use list (who may name
// them in a definition), judged like a library item's use permission.

// Limits of pools, groups and tags.
const (
	maxPoolName   = 100
	maxTargetTags = 50
	maxTagLength  = 64
)

// agentRouteOf reads the route of agent a: its pool's name ("default" without one), or its
// deployment group.
func agentRouteOf(ctx context.Context, c *ent.Client, a *ent.Agent) (AgentRoute, error) {
	if a.DeploymentGroupID != nil {
		g, err := c.DeploymentGroup.Get(ctx, *a.DeploymentGroupID)
		if err != nil {
			return AgentRoute{}, fmt.Errorf("reading deployment group of agent %d: %w", a.ID, err)
		}
		return AgentRoute{Group: g.Name}, nil
	}
	if a.PoolID == nil {
		return AgentRoute{Pool: DefaultPool}, nil
	}
	p, err := c.AgentPool.Get(ctx, *a.PoolID)
	if err != nil {
		return AgentRoute{}, fmt.Errorf("reading pool of agent %d: %w", a.ID, err)
	}
	return AgentRoute{Pool: p.Name}, nil
}

// routeOfLoaded is agentRouteOf for an agent read with its pool and group edges.
func routeOfLoaded(a *ent.Agent) AgentRoute {
	if g := a.Edges.DeploymentGroup; g != nil {
		return AgentRoute{Group: g.Name}
	}
	if p := a.Edges.Pool; p != nil {
		return AgentRoute{Pool: p.Name}
	}
	return AgentRoute{Pool: DefaultPool}
}

// AgentRoute reads where agent id takes jobs from now (the dispatcher refreshes a connected
// agent's offer with it when the agent moves).
func (e *Engine) AgentRoute(ctx context.Context, id int) (AgentRoute, error) {
	a, err := e.client.Agent.Get(ctx, id)
	if ent.IsNotFound(err) {
		return AgentRoute{}, NotFound("agent", id)
	}
	if err != nil {
		return AgentRoute{}, fmt.Errorf("reading agent %d: %w", id, err)
	}
	return agentRouteOf(ctx, e.client, a)
}

// checkName checks the name of a pool or group.
func checkName(field, name string) error {
	switch {
	case name == "":
		return Invalid(field, "is required")
	case utf8.RuneCountInString(name) > maxPoolName:
		return Invalid(field, "is longer than %d characters", maxPoolName)
	case strings.ContainsAny(name, "\x00\r\n\t"):
		return Invalid(field, "may not hold control characters")
	}
	return nil
}

// checkUseList checks a mayUse list: its principals must exist.
func (t *txn) checkUseList(field string, list []spec.Approver) error {
	if len(list) > maxLibraryLinks*10 {
		return Invalid(field, "names more than %d principals", maxLibraryLinks*10)
	}
	for i, a := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch a.Kind {
		case spec.ApproverUser:
			ok, err := t.User.Query().Where(user.Username(a.Name)).Exist(t.ctx)
			if err != nil {
				return err
			}
			if !ok {
				return Invalid(f, "no user named %q", a.Name)
			}
		case spec.ApproverGroup:
			ok, err := t.Group.Query().Where(group.Name(a.Name)).Exist(t.ctx)
			if err != nil {
				return err
			}
			if !ok {
				return Invalid(f, "no group named %q", a.Name)
			}
		default:
			return Invalid(f+".kind", "must be USER or GROUP")
		}
	}
	return nil
}

// SaveAgentPool creates the agent pool named in.Name, or updates its description and use list.
// ADMIN only; audited.
func (e *Engine) SaveAgentPool(ctx context.Context, actor Actor, name, description string, mayUse []spec.Approver) (*ent.AgentPool, error) {
	name, err := checkSaveInput(actor, "saving an agent pool", name, description)
	if err != nil {
		return nil, err
	}
	var out *ent.AgentPool
	err = e.inTx(ctx, func(t *txn) error {
		if err := t.checkUseList("mayUse", mayUse); err != nil {
			return err
		}
		p, err := t.AgentPool.Query().Where(agentpool.Name(name)).Only(t.ctx)
		var before map[string]any
		switch {
		case ent.IsNotFound(err):
			out, err = t.AgentPool.Create().SetName(name).SetDescription(description).SetMayUse(nonNilApprovers(mayUse)).
				SetCreatedAt(t.now).Save(t.ctx)
		case err != nil:
			return fmt.Errorf("reading pool %q: %w", name, err)
		default:
			before = map[string]any{"description": p.Description, "mayUse": describePrincipals(p.MayUse)}
			out, err = t.AgentPool.UpdateOne(p).SetDescription(description).SetMayUse(nonNilApprovers(mayUse)).Save(t.ctx)
		}
		if err != nil {
			return fmt.Errorf("saving pool %q: %w", name, err)
		}
		return t.audit(actor, "agentPool.save", auditTargetAgentPool, out.ID, before,
			map[string]any{"name": name, "description": description, "mayUse": describePrincipals(mayUse)})
	})
	if err != nil {
		return nil, fmt.Errorf("saving agent pool %q: %w", name, err)
	}
	return out.Unwrap(), nil
}

// checkSaveInput is what saving a pool or a deployment group checks before its transaction:
// an ADMIN, a valid name (returned trimmed) and a description within bounds.
func checkSaveInput(actor Actor, what, name, description string) (string, error) {
	if err := actor.Require(RoleAdmin, what); err != nil {
		return "", err
	}
	name = strings.TrimSpace(name)
	if err := checkName("name", name); err != nil {
		return "", err
	}
	if utf8.RuneCountInString(description) > maxDescription {
		return "", Invalid("description", "is longer than %d characters", maxDescription)
	}
	return name, nil
}

func nonNilApprovers(l []spec.Approver) []spec.Approver {
	if l == nil {
		return []spec.Approver{}
	}
	return l
}

// AgentPools lists the agent pools by name.
func (e *Engine) AgentPools(ctx context.Context) ([]*ent.AgentPool, error) {
	ps, err := e.client.AgentPool.Query().Order(ent.Asc(agentpool.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading agent pools: %w", err)
	}
	return ps, nil
}

// MoveAgent moves a pool agent into pool (created when new): from then on it takes that
// pool's jobs only; the jobs it runs finish where they are. A deployment-group target is not
// a pool agent (INVALID_INPUT). ADMIN only; audited as agent.move; EventAgentChanged MOVED
// tells the dispatchers.
func (e *Engine) MoveAgent(ctx context.Context, actor Actor, id int, pool string) (*ent.Agent, error) {
	if err := actor.Require(RoleAdmin, "moving an agent"); err != nil {
		return nil, err
	}
	pool = strings.TrimSpace(pool)
	if err := checkName("pool", pool); err != nil {
		return nil, err
	}
	var a *ent.Agent
	err := e.inTx(ctx, func(t *txn) error {
		before, err := t.Agent.Get(t.ctx, id)
		if ent.IsNotFound(err) {
			return NotFound("agent", id)
		}
		if err != nil {
			return fmt.Errorf("reading agent %d: %w", id, err)
		}
		if before.DeploymentGroupID != nil {
			return Invalid("agentId", "agent %s is a target of a deployment group, not a pool agent", before.Name)
		}
		from, err := agentRouteOf(t.ctx, t.Client(), before)
		if err != nil {
			return err
		}
		poolID, err := t.ensurePool(pool)
		if err != nil {
			return err
		}
		if a, err = t.Agent.UpdateOne(before).SetPoolID(poolID).SetUpdatedAt(t.now).Save(t.ctx); err != nil {
			return fmt.Errorf("moving agent %d: %w", id, err)
		}
		if err := t.audit(actor, "agent.move", auditTargetAgent, id,
			map[string]any{"pool": from.Pool}, map[string]any{"pool": pool}); err != nil {
			return err
		}
		return t.emit(Event{Type: EventAgentChanged, AgentID: id, Status: "MOVED", Actor: actor.String()})
	})
	if err != nil {
		return nil, fmt.Errorf("moving agent %d: %w", id, err)
	}
	return a.Unwrap(), nil
}

// SaveDeploymentGroup creates the deployment group named name, or updates its description and
// use list. ADMIN only; audited.
func (e *Engine) SaveDeploymentGroup(ctx context.Context, actor Actor, name, description string, mayUse []spec.Approver) (*ent.DeploymentGroup, error) {
	name, err := checkSaveInput(actor, "saving a deployment group", name, description)
	if err != nil {
		return nil, err
	}
	var out *ent.DeploymentGroup
	err = e.inTx(ctx, func(t *txn) error {
		if err := t.checkUseList("mayUse", mayUse); err != nil {
			return err
		}
		g, err := t.DeploymentGroup.Query().Where(deploymentgroup.Name(name)).Only(t.ctx)
		var before map[string]any
		switch {
		case ent.IsNotFound(err):
			out, err = t.DeploymentGroup.Create().SetName(name).SetDescription(description).SetMayUse(nonNilApprovers(mayUse)).
				SetCreatedAt(t.now).Save(t.ctx)
		case err != nil:
			return fmt.Errorf("reading deployment group %q: %w", name, err)
		default:
			before = map[string]any{"description": g.Description, "mayUse": describePrincipals(g.MayUse)}
			out, err = t.DeploymentGroup.UpdateOne(g).SetDescription(description).SetMayUse(nonNilApprovers(mayUse)).Save(t.ctx)
		}
		if err != nil {
			return fmt.Errorf("saving deployment group %q: %w", name, err)
		}
		return t.audit(actor, "deploymentGroup.save", auditTargetDeploymentGroup, out.ID, before,
			map[string]any{"name": name, "description": description, "mayUse": describePrincipals(mayUse)})
	})
	if err != nil {
		return nil, fmt.Errorf("saving deployment group %q: %w", name, err)
	}
	return out.Unwrap(), nil
}

// DeleteDeploymentGroup deletes a deployment group that has no targets (CONFLICT otherwise:
// delete its targets first). ADMIN only; audited. It returns the group's id.
func (e *Engine) DeleteDeploymentGroup(ctx context.Context, actor Actor, name string) (int, error) {
	if err := actor.Require(RoleAdmin, "deleting a deployment group"); err != nil {
		return 0, err
	}
	var id int
	err := e.inTx(ctx, func(t *txn) error {
		g, err := t.DeploymentGroup.Query().Where(deploymentgroup.Name(strings.TrimSpace(name))).Only(t.ctx)
		if ent.IsNotFound(err) {
			return &Error{Code: CodeNotFound, Message: fmt.Sprintf("no deployment group named %q", name)}
		}
		if err != nil {
			return fmt.Errorf("reading deployment group %q: %w", name, err)
		}
		n, err := t.Agent.Query().Where(agent.DeploymentGroupID(g.ID)).Count(t.ctx)
		if err != nil {
			return fmt.Errorf("counting targets: %w", err)
		}
		if n > 0 {
			return Conflict("deployment group %s has %d targets: delete them first", g.Name, n)
		}
		if err := t.DeploymentGroup.DeleteOne(g).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting deployment group %q: %w", name, err)
		}
		id = g.ID
		return t.audit(actor, "deploymentGroup.delete", auditTargetDeploymentGroup, g.ID, map[string]any{"name": g.Name}, nil)
	})
	if err != nil {
		return 0, fmt.Errorf("deleting deployment group %q: %w", name, err)
	}
	return id, nil
}

// DeploymentGroups lists the deployment groups by name, with their targets by name.
func (e *Engine) DeploymentGroups(ctx context.Context) ([]*ent.DeploymentGroup, error) {
	gs, err := e.client.DeploymentGroup.Query().Order(ent.Asc(deploymentgroup.FieldName)).
		WithTargets(func(q *ent.AgentQuery) { q.Order(ent.Asc(agent.FieldName)) }).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading deployment groups: %w", err)
	}
	return gs, nil
}

// normalizeTags trims, lowercases, dedups and checks a target's tags.
func normalizeTags(field string, tags []string) ([]string, error) {
	if len(tags) > maxTargetTags {
		return nil, Invalid(field, "at most %d tags", maxTargetTags)
	}
	out := make([]string, 0, len(tags))
	for i, tag := range tags {
		tag = strings.ToLower(strings.TrimSpace(tag))
		switch {
		case tag == "":
			return nil, Invalid(fmt.Sprintf("%s[%d]", field, i), "is empty")
		case utf8.RuneCountInString(tag) > maxTagLength:
			return nil, Invalid(fmt.Sprintf("%s[%d]", field, i), "is longer than %d characters", maxTagLength)
		case strings.ContainsAny(tag, ", \t\r\n\x00"):
			return nil, Invalid(fmt.Sprintf("%s[%d]", field, i), "may not hold commas, spaces or control characters")
		}
		if !slices.Contains(out, tag) {
			out = append(out, tag)
		}
	}
	slices.Sort(out)
	return out, nil
}

// SetTargetTags replaces the tags of a deployment-group target. ADMIN only; audited. The
// phases that start afterwards select by the new tags.
func (e *Engine) SetTargetTags(ctx context.Context, actor Actor, id int, tags []string) (*ent.Agent, error) {
	if err := actor.Require(RoleAdmin, "changing a target's tags"); err != nil {
		return nil, err
	}
	tags, err := normalizeTags("tags", tags)
	if err != nil {
		return nil, err
	}
	var a *ent.Agent
	err = e.inTx(ctx, func(t *txn) error {
		before, err := t.Agent.Get(t.ctx, id)
		if ent.IsNotFound(err) {
			return NotFound("agent", id)
		}
		if err != nil {
			return fmt.Errorf("reading agent %d: %w", id, err)
		}
		if before.DeploymentGroupID == nil {
			return Invalid("agentId", "agent %s is a pool agent, not a target of a deployment group", before.Name)
		}
		if a, err = t.Agent.UpdateOne(before).SetTags(tags).SetUpdatedAt(t.now).Save(t.ctx); err != nil {
			return fmt.Errorf("updating agent %d: %w", id, err)
		}
		if err := t.audit(actor, "agent.setTags", auditTargetAgent, id,
			map[string]any{"tags": before.Tags}, map[string]any{"tags": tags}); err != nil {
			return err
		}
		return t.emit(Event{Type: EventAgentChanged, AgentID: id, Status: "TAGGED", Actor: actor.String()})
	})
	if err != nil {
		return nil, fmt.Errorf("setting tags of agent %d: %w", id, err)
	}
	return a.Unwrap(), nil
}

// CreateTargetRegistration is CreateAgentRegistration for targets of an existing deployment
// group.
func (e *Engine) CreateTargetRegistration(ctx context.Context, actor Actor, group string, maxUses int, expiresIn time.Duration) (string, *ent.AgentRegistration, error) {
	group = strings.TrimSpace(group)
	if err := checkName("deploymentGroup", group); err != nil {
		return "", nil, err
	}
	if err := actor.Require(RoleAdmin, "creating an agent registration token"); err != nil {
		return "", nil, err
	}
	ok, err := e.client.DeploymentGroup.Query().Where(deploymentgroup.Name(group)).Exist(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("reading deployment group %q: %w", group, err)
	}
	if !ok {
		return "", nil, Invalid("deploymentGroup", "no deployment group named %q", group)
	}
	return e.createRegistration(ctx, actor, "", group, maxUses, expiresIn)
}

// LastTargetDeployments returns, for each of the agents, the deployment of the last job it
// ran as a target.
func (e *Engine) LastTargetDeployments(ctx context.Context, agentIDs []int) (map[int]*ent.Deployment, error) {
	out := map[int]*ent.Deployment{}
	for chunk := range slices.Chunk(agentIDs, idChunk) {
		// Each target's job with its latest start (a correlated MAX, one statement), with its
		// deployment (a second): one job per target is read, not its history.
		jobs, err := e.client.Job.Query().Where(job.TargetAgentIDIn(chunk...), job.StartedAtNotNil(),
			func(s *sql.Selector) {
				other := sql.Table(job.Table).As("later")
				s.Where(sql.In(s.C(job.FieldStartedAt), sql.Select(sql.Max(other.C(job.FieldStartedAt))).From(other).
					Where(sql.ColumnsEQ(other.C(job.FieldTargetAgentID), s.C(job.FieldTargetAgentID)))))
			}).Order(ent.Asc(job.FieldID)).WithDeployment().All(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading target jobs: %w", err)
		}
		for _, j := range jobs {
			out[*j.TargetAgentID] = j.Edges.Deployment // the same start twice: the later job
		}
	}
	return out, nil
}

// TargetJobs returns the jobs of a deployment's deployment-group phases, by phase and target.
func (e *Engine) TargetJobs(ctx context.Context, deploymentID int) ([]*ent.Job, error) {
	m, err := e.TargetJobsOf(ctx, []int{deploymentID})
	return m[deploymentID], err
}

// TargetJobsOf returns, by deployment, the jobs of the deployments' deployment-group phases, by
// phase and target, with their agents (two statements per idChunk deployments; a deployment
// without any has none in the map).
func (e *Engine) TargetJobsOf(ctx context.Context, deploymentIDs []int) (map[int][]*ent.Job, error) {
	out := make(map[int][]*ent.Job, len(deploymentIDs))
	for chunk := range slices.Chunk(deploymentIDs, idChunk) {
		jobs, err := e.client.Job.Query().Where(job.DeploymentIDIn(chunk...), job.TargetNEQ("")).
			Order(ent.Asc(job.FieldPhase), ent.Asc(job.FieldTarget)).WithAgent().All(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the targets of deployments: %w", err)
		}
		for _, j := range jobs {
			out[j.DeploymentID] = append(out[j.DeploymentID], j)
		}
	}
	return out, nil
}

// checkPhaseResources checks the pools and deployment groups the phases of doc name and prev
// did not: each must exist (the default pool aside), and the actor may use it (its mayUse
// list; an ADMIN not listed overrides it, audited as permission.override). Every refusal comes
// before any override is audited.
func (t *txn) checkPhaseResources(actor Actor, doc, prev *spec.DefinitionSnapshot) error {
	named := func(s *spec.DefinitionSnapshot) (pools, groups map[string]string) {
		pools, groups = map[string]string{}, map[string]string{}
		if s == nil {
			return
		}
		for i := range s.Environments {
			for j, p := range s.Environments[i].Phases {
				f := fmt.Sprintf("environments[%d].phases[%d]", i, j)
				switch p.KindOrDefault() {
				case spec.PhaseAgent:
					if p.Pool != "" {
						pools[strings.ToLower(p.Pool)] = f + ".pool"
					}
				case spec.PhaseDeploymentGroup:
					groups[strings.ToLower(p.DeploymentGroup)] = f + ".deploymentGroup"
				}
			}
		}
		return
	}
	pools, groups := named(doc)
	oldPools, oldGroups := named(prev)
	var pr *Principal
	var overrides []func() error
	judge := func(kind, target string, id int, name, field string, mayUse []spec.Approver) error {
		if pr == nil {
			var err error
			if pr, err = principalOf(t.ctx, t.Client(), actor); err != nil {
				return err
			}
		}
		doing := fmt.Sprintf("naming %s %s in a definition", kind, name)
		switch pr.judgeLibrary(spec.LibraryPermissions{Use: mayUse}, LibUse) {
		case denied:
			return Forbidden("%s (%s) requires its use permission (granted to %s); %s is not among them",
				doing, field, describePrincipals(mayUse), actor.Username)
		case overridden:
			overrides = append(overrides, func() error {
				data := map[string]any{"permission": "use", "doing": doing, "name": name}
				if target == auditTargetAgentPool {
					return t.audit(actor, auditPermissionOverride, auditTargetAgentPool, id, nil, data)
				}
				return t.audit(actor, auditPermissionOverride, auditTargetDeploymentGroup, id, nil, data)
			})
		}
		return nil
	}
	for _, name := range sortedKeys(pools) {
		if _, ok := oldPools[name]; ok {
			continue
		}
		p, err := t.AgentPool.Query().Where(agentpool.NameEqualFold(name)).Only(t.ctx)
		if ent.IsNotFound(err) {
			if strings.EqualFold(name, DefaultPool) {
				continue
			}
			return Invalid(pools[name], "no agent pool named %q", name)
		}
		if err != nil {
			return fmt.Errorf("reading pool %q: %w", name, err)
		}
		if err := judge("agent pool", auditTargetAgentPool, p.ID, p.Name, pools[name], p.MayUse); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(groups) {
		if _, ok := oldGroups[name]; ok {
			continue
		}
		g, err := t.DeploymentGroup.Query().Where(deploymentgroup.NameEqualFold(name)).Only(t.ctx)
		if ent.IsNotFound(err) {
			return Invalid(groups[name], "no deployment group named %q", name)
		}
		if err != nil {
			return fmt.Errorf("reading deployment group %q: %w", name, err)
		}
		if err := judge("deployment group", auditTargetDeploymentGroup, g.ID, g.Name, groups[name], g.MayUse); err != nil {
			return err
		}
	}
	for _, o := range overrides {
		if err := o(); err != nil {
			return err
		}
	}
	return nil
}
