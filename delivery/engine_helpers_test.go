package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/serviceconnection"
	"github.com/cairnhq/cairn/ent/user"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// t0 is the tests' starting time.
var t0 = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

// recorder is a Publisher that keeps every event and signals each batch.
type recorder struct {
	mu     sync.Mutex
	events []delivery.Event
	signal chan struct{}
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 1)} }

func (r *recorder) Publish(_ context.Context, evs []delivery.Event) {
	r.mu.Lock()
	r.events = append(r.events, evs...)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *recorder) count(typ string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// fixture is an engine over a fresh database with a manual clock.
type fixture struct {
	t   *testing.T
	db  *storage.DB
	e   *delivery.Engine
	c   *ent.Client
	clk *delivery.ManualClock
	bus *recorder
	ctx context.Context
	// admin is an ADMIN actor (for the audit chain check).
	admin delivery.Actor
	conn  int
}

func newFixture(t *testing.T, db *storage.DB) *fixture {
	t.Helper()
	box, err := delivery.NewSecretBox(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, c: db.Client, clk: delivery.NewManualClock(t0), bus: newRecorder(), ctx: context.Background()}
	f.e = delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: f.clk, Secrets: box, Bus: f.bus})
	f.admin = f.user("root", "ADMIN")
	return f
}

// restart returns a new engine over the same database and clock, as after a
// server restart.
func (f *fixture) restart() {
	f.e = delivery.New(f.db.Client, delivery.Options{Dialect: f.db.Dialect, Clock: f.clk, Bus: f.bus})
}

// user creates a user and returns an actor for them.
func (f *fixture) user(name, role string) delivery.Actor {
	f.t.Helper()
	u, err := f.c.User.Create().SetUsername(name).SetRole(user.Role(role)).Save(f.ctx)
	if err != nil {
		f.t.Fatalf("creating user %s: %v", name, err)
	}
	return delivery.Actor{UserID: u.ID, Username: name, Role: delivery.Role(role)}
}

// group creates a group of the named users.
func (f *fixture) group(name string, members ...delivery.Actor) {
	f.t.Helper()
	ids := make([]int, len(members))
	for i, m := range members {
		ids[i] = m.UserID
	}
	if err := f.c.Group.Create().SetName(name).AddMemberIDs(ids...).Exec(f.ctx); err != nil {
		f.t.Fatalf("creating group %s: %v", name, err)
	}
}

// definition inserts a definition, its rows and its first revision from snap,
// the way the definition CRUD will.
func (f *fixture) definition(snap spec.DefinitionSnapshot) int {
	f.t.Helper()
	ctx := f.ctx
	if f.conn == 0 {
		c, err := f.c.ServiceConnection.Query().Where(serviceconnection.Name("jenkins")).Only(ctx)
		if ent.IsNotFound(err) {
			c, err = f.c.ServiceConnection.Create().SetName("jenkins").SetKind("JENKINS").SetURL("https://ci.example.com").Save(ctx)
		}
		if err != nil {
			f.t.Fatal(err)
		}
		f.conn = c.ID
	}
	def, err := f.c.ReleaseDefinition.Create().SetName(snap.Name).SetReleaseNameFormat(snap.ReleaseNameFormat).
		SetSchedules(snap.Schedules).SetRevision(1).Save(ctx)
	if err != nil {
		f.t.Fatalf("creating definition: %v", err)
	}
	for _, s := range snap.ArtifactSources {
		if err := f.c.ArtifactSource.Create().SetDefinitionID(def.ID).SetConnectionID(f.conn).SetAlias(s.Alias).
			SetType("JENKINS").SetJob(s.Job).SetPrimary(s.Primary).Exec(ctx); err != nil {
			f.t.Fatal(err)
		}
	}
	for i, e := range snap.Environments {
		if err := f.c.Environment.Create().SetDefinitionID(def.ID).SetName(e.Name).SetRank(i + 1).
			SetTrigger(e.Trigger).SetPreApproval(e.PreApproval).SetPostApproval(e.PostApproval).
			SetJob(e.Job).SetQueue(e.Queue).Exec(ctx); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := f.c.DefinitionRevision.Create().SetDefinitionID(def.ID).SetRevision(1).SetChangeType("CREATE").
		SetAuthor("root").SetSnapshot(snap).Exec(ctx); err != nil {
		f.t.Fatal(err)
	}
	return def.ID
}

// snapshot is a definition with one Jenkins artifact source "app".
func snapshot(name string, envs ...spec.EnvironmentSpec) spec.DefinitionSnapshot {
	return spec.DefinitionSnapshot{
		Name: name, ReleaseNameFormat: "Release-$(rev:r)",
		ArtifactSources: []spec.ArtifactSourceSpec{{Alias: "app", Type: "JENKINS", Connection: "jenkins", Job: "app/main", Primary: true}},
		Environments:    envs,
	}
}

// environment is an environment spec; opts adjust it.
func environment(name string, trig spec.Trigger, opts ...func(*spec.EnvironmentSpec)) spec.EnvironmentSpec {
	e := spec.EnvironmentSpec{Name: name, Trigger: trig, Job: spec.JobSpec{Demands: []string{"sh"},
		Tasks: []spec.Task{{Name: "deploy", Script: "./deploy.sh"}}}}
	for _, o := range opts {
		o(&e)
	}
	return e
}

var (
	afterRelease = spec.Trigger{Kind: spec.TriggerAfterRelease}
	manualOnly   = spec.Trigger{Kind: spec.TriggerManual}
)

func after(envs ...string) spec.Trigger {
	return spec.Trigger{Kind: spec.TriggerAfterEnvironments, Environments: envs}
}

func users(names ...string) []spec.Approver {
	out := make([]spec.Approver, len(names))
	for i, n := range names {
		out[i] = spec.Approver{Kind: spec.ApproverUser, Name: n}
	}
	return out
}

func pre(p spec.ApprovalPolicy) func(*spec.EnvironmentSpec) {
	return func(e *spec.EnvironmentSpec) { e.PreApproval = p }
}

func post(p spec.ApprovalPolicy) func(*spec.EnvironmentSpec) {
	return func(e *spec.EnvironmentSpec) { e.PostApproval = p }
}

func queue(q spec.QueuePolicy) func(*spec.EnvironmentSpec) {
	return func(e *spec.EnvironmentSpec) { e.Queue = q }
}

// release creates a release of def with build number build as actor.
func (f *fixture) release(actor delivery.Actor, def int, build string) *ent.Release {
	f.t.Helper()
	rel, err := f.e.CreateRelease(f.ctx, actor, delivery.CreateReleaseInput{
		DefinitionID: def, Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: build, BuildID: build}},
	})
	if err != nil {
		f.t.Fatalf("creating release: %v", err)
	}
	return rel
}

// deployment returns the latest deployment of a release to an environment.
func (f *fixture) deployment(rel int, env string) *ent.Deployment {
	f.t.Helper()
	d, err := f.c.Deployment.Query().Where(deployment.ReleaseID(rel), deployment.EnvironmentName(env)).
		Order(ent.Desc(deployment.FieldAttempt)).First(f.ctx)
	if err != nil {
		f.t.Fatalf("reading deployment of release %d to %s: %v", rel, env, err)
	}
	return d
}

func (f *fixture) hasDeployment(rel int, env string) bool {
	ok, err := f.c.Deployment.Query().Where(deployment.ReleaseID(rel), deployment.EnvironmentName(env)).Exist(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return ok
}

// state returns the deployment's and the environment's status.
func (f *fixture) state(rel int, env string) string {
	f.t.Helper()
	re, err := f.c.ReleaseEnvironment.Query().Where(releaseenvironment.ReleaseID(rel), releaseenvironment.Name(env)).Only(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	if !f.hasDeployment(rel, env) {
		return "-/" + string(re.Status)
	}
	return string(f.deployment(rel, env).Status) + "/" + string(re.Status)
}

func (f *fixture) wantState(rel int, env, want string) {
	f.t.Helper()
	if got := f.state(rel, env); got != want {
		f.t.Fatalf("release %d %s: state %s, want %s", rel, env, got, want)
	}
}

// approvals returns a deployment's approvals of a stage by rank.
func (f *fixture) approvals(dep int, stage approval.Stage) []*ent.Approval {
	f.t.Helper()
	aps, err := f.c.Approval.Query().Where(approval.DeploymentID(dep), approval.StageEQ(stage)).
		Order(ent.Asc(approval.FieldRank), ent.Asc(approval.FieldID)).All(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return aps
}

// pendingFor returns the pending approval of a deployment's stage assigned to name.
func (f *fixture) pendingFor(dep int, stage approval.Stage, name string) int {
	f.t.Helper()
	for _, a := range f.approvals(dep, stage) {
		if a.Approver == name && a.Status == approval.StatusPENDING {
			return a.ID
		}
	}
	f.t.Fatalf("deployment %d has no pending %s approval for %s", dep, stage, name)
	return 0
}

func statuses(aps []*ent.Approval) string {
	s := ""
	for i, a := range aps {
		if i > 0 {
			s += ","
		}
		s += string(a.Status)
	}
	return s
}

// job returns the job of a deployment's latest agent phase, or nil.
func (f *fixture) job(dep int) *ent.Job {
	f.t.Helper()
	j, err := f.c.Job.Query().Where(job.DeploymentID(dep)).Order(ent.Desc(job.FieldPhase)).First(f.ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return j
}

// agent creates an agent.
func (f *fixture) agent() int {
	f.t.Helper()
	a, err := f.c.Agent.Create().SetName(fmt.Sprintf("agent-%d", time.Now().UnixNano())).Save(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return a.ID
}

// run starts the job of the latest deployment of rel to env and finishes it
// with status.
func (f *fixture) run(rel int, env, status string) {
	f.t.Helper()
	j := f.job(f.deployment(rel, env).ID)
	if j == nil {
		f.t.Fatalf("release %d %s has no job", rel, env)
	}
	if err := f.e.StartJob(f.ctx, j.ID, f.agent()); err != nil {
		f.t.Fatalf("starting job: %v", err)
	}
	if err := f.e.FinishJob(f.ctx, j.ID, delivery.JobResult{Status: status}); err != nil {
		f.t.Fatalf("finishing job: %v", err)
	}
}

func (f *fixture) approve(actor delivery.Actor, id int) {
	f.t.Helper()
	if _, err := f.e.Approve(f.ctx, actor, delivery.ApprovalDecision{ApprovalID: id, Comment: "ok"}); err != nil {
		f.t.Fatalf("%s approving %d: %v", actor.Username, id, err)
	}
}

func (f *fixture) runTimers() int {
	f.t.Helper()
	n, err := f.e.RunDueTimers(f.ctx)
	if err != nil {
		f.t.Fatalf("running timers: %v", err)
	}
	return n
}

// audits counts audit events with an action.
func (f *fixture) audits(action string) int {
	f.t.Helper()
	n, err := f.c.AuditEvent.Query().Where(auditevent.Action(action)).Count(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *fixture) verifyChain() {
	f.t.Helper()
	rep, err := f.e.VerifyAuditChain(f.ctx, f.admin)
	if err != nil || !rep.OK {
		f.t.Fatalf("audit chain: %+v %v", rep, err)
	}
}

func wantCode(t *testing.T, err error, code delivery.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := delivery.CodeOf(err); got != code {
		t.Fatalf("got %s (%v), want %s", got, err, code)
	}
}

func isTransition(err error) bool {
	var te *delivery.TransitionError
	return errors.As(err, &te)
}

// openPostgresDB opens a fresh PostgreSQL database, or skips without CAIRN_TEST_DATABASE_URL.
func openPostgresDB(t *testing.T) *storage.DB {
	t.Helper()
	if os.Getenv(storagetest.EnvPostgres) == "" {
		t.Skipf("PostgreSQL test skipped: set %s", storagetest.EnvPostgres)
	}
	return storagetest.Open(t, "postgres")
}
