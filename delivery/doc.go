// Package delivery is Cairn's domain: every state change of definitions,
// releases, environments, approvals, deployments, jobs, logs and audit happens
// here, in one database transaction each, with events published after commit.
//
// It knows nothing of HTTP, GraphQL or websockets. Callers (GraphQL resolvers,
// webhook handlers, the agent dispatcher) pass the acting principal explicitly
// as an Actor and get back errors that carry a Code (see errors.go), which each
// edge maps to its own vocabulary in exactly one place.
//
// Concurrency: on SQLite every write transaction begins IMMEDIATE, so writers
// are serialised by the database. On PostgreSQL (READ COMMITTED) the rows a
// transaction decides on are locked with SELECT … FOR UPDATE (see lock helpers
// in tx.go), and appends to the audit chain and the event stream are
// serialised by a transaction-scoped advisory lock.
package delivery

// # The release engine
//
// A release freezes its definition's current revision (the DefinitionRevision
// snapshot) and one version of each artifact source. Each environment of the
// release has a ReleaseEnvironment, whose status follows its latest
// Deployment. The state machines below are the tables of transitions.go;
// nothing changes a status except through them, and a change they do not
// allow fails with a *TransitionError (CONFLICT).
//
// Deployment (one attempt to deploy a release to an environment):
//
//	               defer                 queue
//	PENDING_APPROVAL ──────► SCHEDULED ─────────┐
//	   │   │  queue (pre-approval complete)      ▼
//	   │   └──────────────────────────────────► QUEUED ──start──► IN_PROGRESS ──completeJob──► PENDING_POST_APPROVAL
//	   │                                          │ fail               │ fail                      │ succeed │ succeedPartially
//	   │ reject, timeOut ──► REJECTED            │ cancel, supersede  │ cancel (agent reported)   ▼         ▼
//	   └ cancel, supersede ──► CANCELED           ▼                    ▼                    SUCCEEDED  PARTIALLY_SUCCEEDED
//	                                     FAILED / CANCELED     FAILED / CANCELED      (reject, timeOut → REJECTED; cancel → CANCELED)
//	SCHEDULED ──cancel, supersede──► CANCELED
//	IN_PROGRESS ──reject, timeOut (at a manual intervention)──► REJECTED
//
// Gates add two statuses (see "Gates" below):
//
//	PENDING_APPROVAL ──evaluateGates──► EVALUATING_GATES ──passGates──► PENDING_APPROVAL (then approvals, or defer / queue)
//	PENDING_POST_APPROVAL ──evaluateGates──► EVALUATING_POST_GATES ──passGates──► PENDING_POST_APPROVAL (then approvals, or succeed)
//	EVALUATING_GATES, EVALUATING_POST_GATES ──timeOut──► REJECTED;  ──cancel──► CANCELED;  EVALUATING_GATES ──supersede──► CANCELED
//
// requestCancel loops on QUEUED and IN_PROGRESS: an agent holds the job, the
// job gets cancel_requested, and the deployment ends CANCELED when the agent
// reports, whatever it reports.
//
// A deployment is "waiting" when it is QUEUED without a Job: the queue policy
// (per definition and environment, across releases, read from the
// definition's current revision) holds it. MaxParallel counts the busy
// deployments of the environment: those with a job (or a manual
// intervention) that are QUEUED, IN_PROGRESS or PENDING_POST_APPROVAL, so a
// deployment holds its slot from its first phase's start until its
// post-deployment approval is decided (Azure
// DevOps shows the stage in progress until then). When a slot frees (the
// deployment that held it is final), the waiting deployment of the oldest
// release (by release number) gets its job.
//
// # Releases only move forward
//
// supersede cancels a deployment that has not started its job (pending
// pre-deployment approval, SCHEDULED, waiting, or with a job no agent holds
// yet: the job is canceled too), with a status reason; its approvals are
// canceled (approval.decided, status CANCELED, the reason in the comment)
// and its deferral's timer retired, so a deferral that comes due does
// nothing. It happens in two cases (forward.go):
//
//   - LATEST_ONLY: when a newer release's deployment of an environment is
//     requested, every older release's unstarted deployment of it is
//     superseded ("canceled: superseded by release <name>"); and of the
//     waiting ones only the newest release's is kept.
//   - No automatic step backwards: a deployment that a trigger asked for
//     (Deployment.automatic: the release's creation, upstream environments
//     succeeding) is superseded whenever it would go on (when requested,
//     when its pre-deployment stage completes or its deferral comes due, and
//     before its job is created) while the environment runs or is deploying
//     a newer release: the release of its latest successful deployment, or
//     one whose job was created and that is not final. A person's
//     deployment in the same position goes on, recorded as the ROLLBACK it
//     is (operation relabelled and audited); deployEnvironment of an older
//     release than the current one is a ROLLBACK from the start.
//
// # Artifact governance
//
// CreateRelease (a person's release) checks the artifact versions it is
// given with the CI server through the CIServer interface (implemented by
// integrations/enrich): the build exists, succeeded (or partially, where the
// source allows it), and was built from a branch the source's filters admit;
// a branch or commit given that the build contradicts is refused; the
// release records the CI server's build number, URL, branch and commit. The
// calls run before the release's transaction, which then refuses to go on
// (CONFLICT) if the definition changed meanwhile. overrideArtifactChecks
// skips the checks for an actor holding the overrideArtifactChecks permission, audited as
// release.overrideArtifactChecks. A schedule releases the newest admitted
// build of each source the CI server lists (read before the timer's
// transaction) and, with scheduleOnlyWithChanges, nothing when every build
// is the latest release's. Every artifact of every release (manual,
// scheduled, CI) is queued for enrichment (commits, work items, files).
//
// ReleaseEnvironment: its status is its latest deployment's, in the same
// words (NOT_STARTED before the first one):
//
//	NOT_STARTED, or any final status ──deploy──► PENDING_APPROVAL ──queue──► QUEUED ──start──► IN_PROGRESS
//	PENDING_APPROVAL ──evaluateGates──► EVALUATING_GATES ──passGates──► PENDING_APPROVAL
//	PENDING_APPROVAL ──schedule──► SCHEDULED ──queue──► QUEUED
//	IN_PROGRESS ──completeJob──► PENDING_POST_APPROVAL ──succeed / succeedPartially──► SUCCEEDED / PARTIALLY_SUCCEEDED
//	PENDING_POST_APPROVAL ──evaluateGates──► EVALUATING_POST_GATES ──passPostGates──► PENDING_POST_APPROVAL
//	QUEUED, IN_PROGRESS ──fail──► FAILED;  every waiting or running status ──reject / cancel──► REJECTED / CANCELED
//
// (Databases from before the split hold QUEUED and IN_PROGRESS for the
// approval stages; transitions.go keeps the edges that move such rows on.)
//
// Only "deploy" leaves a final status, and only from one: so at most one
// deployment of a release to an environment is open, and of two concurrent
// deploy requests one gets CONFLICT.
//
// Approval (one approver's decision; decided exactly once):
//
//	PENDING ──approve──► APPROVED      PENDING ──reject──► REJECTED
//	PENDING ──reassign──► REASSIGNED (a new PENDING approval for the new user)
//	PENDING ──skip──► SKIPPED (approved in the previous environment; or not needed once an ANY_ONE stage is complete)
//	PENDING ──cancel──► CANCELED (the deployment ended another way)
//	PENDING ──timeOut──► TIMED_OUT (the deployment is REJECTED)
//
// A stage (PRE or POST) with no approvers gets one automated APPROVED
// approval. ANY_ONE completes with RequiredCount distinct people (default 1,
// at most the number of approvers); ALL (the default mode) and SEQUENTIAL
// need every approver, SEQUENTIAL in rank order (a higher rank deciding
// early is a CONFLICT). TimeoutMinutes covers the whole stage from when it
// opens. One guard (decideGuard) decides who may decide, for Approve,
// Reject, Reassign and PendingApprovalsFor alike.
//
// Job (the agent work of a deployment):
//
//	QUEUED ──assign──► ASSIGNED ──start──► RUNNING ──succeed / succeedPartially / fail / cancel / lose──► final
//	QUEUED ──start──► RUNNING;  QUEUED ──cancel──► CANCELED;  ASSIGNED ──fail / cancel / lose──► final
//	ASSIGNED ──requeue──► QUEUED (declined by the agent, or the agent deleted: nothing ran)
//
// A job's timeout starts when it starts running; when it passes, the job is
// FAILED ("timed out after N minutes") with cancel_requested, the deployment
// FAILED, and a later report from the agent is a CONFLICT.
//
// Release: ACTIVE ──abandon──► ABANDONED (pending approvals and open
// deployments canceled, running jobs asked to cancel, nothing more deploys).
//
// # Gates
//
// An environment's PreGates and PostGates (spec.GatePolicy, Azure's shape)
// are server-side checks: HTTP calls judged by an expr-lang expression over
// status, body (JSON), text and headers, and queries of the release's work
// items (at most MaxCount of given types and states). Order places them
// after the stage's approvals (AFTER_APPROVALS, the default) or before
// (BEFORE_APPROVALS: the approvers are asked only once the gates passed).
// Evaluating, the deployment is EVALUATING_GATES / EVALUATING_POST_GATES
// and its environment EVALUATING_GATES; a deployment evaluating post gates
// holds its queue slot (busyStatuses). A persisted timer (deployment.gates,
// its payload the stage, when it opened and since when the gates pass)
// takes a sample after DelayMinutes and then every IntervalMinutes: the
// checks run before the timer's transaction (HTTP through the GateCaller
// interface, implemented in integrations/gates: delivery makes no network
// call), which records a GateSample (every gate's result; secrets masked)
// and decides: all gates passed in this sample and have passed since
// MinimumSuccessMinutes → passGates; TimeoutMinutes since the stage opened
// → timeOut (REJECTED, "the pre-deployment gates did not pass within N
// minutes (sample k: gate: detail)"); else the next sample. A failed sample
// emits gate.sampleFailed. IgnoreGates (manageDeployments on the
// environment, audited gate.ignore) passes the stage at once. A sample,
// an ignore and a cancel each re-read the deployment in their transaction
// and act only if it is still evaluating that stage, so one of them wins.
//
// # Phases and manual interventions
//
// A task of kind MANUAL_INTERVENTION (spec.Task) runs on the server: it
// splits the environment's tasks into phases (phasesOf): each run of
// scripts is an agent phase, a Job of its own (Job.phase; the agent
// protocol is unchanged, each job downloads the artifacts), and each
// intervention a server phase, a ManualIntervention row. When the queue
// gives the deployment its slot the first phase starts (a first
// intervention moves the deployment QUEUED → IN_PROGRESS itself); a phase
// that succeeds starts the next (startPhase); after the last,
// completeJob opens the post-deployment stage. While an intervention
// waits the deployment and its environment stay IN_PROGRESS and hold the
// queue slot (holdsSlot: a job or an intervention). Its approvers (or,
// when it names none, those who may manage the environment's deployments)
// resume it (the next phase) or reject it (the deployment REJECTED); its
// timer (intervention.timeout) does one of the two when nobody acted; a
// cancel cancels it. Each of these loads the intervention locked and
// applies its table (PENDING → RESUMED | REJECTED | CANCELED) with a
// version check, so exactly one wins. The phases' jobs make one log:
// a job's lines are stored after the earlier phases' (Job.log_base), and
// acknowledged to its agent in the agent's own numbers. A deployment ends
// PARTIALLY_SUCCEEDED when any of its jobs did.
//
// # Freeze windows
//
// A FreezeWindow (freeze.go) is global, a definition's or one of its
// environments'; one span or recurring (cron, duration, time zone;
// overlapping occurrences join). While one is active on an environment the
// queue gives no job to its waiting deployments (pumpQueue, holdFrozen)
// except those deployed with an ADMIN's overrideFreeze (audited
// freeze.override, Deployment.freeze_override); in mode REFUSE a person's
// deployment request also fails with ErrFrozen (CONFLICT, field "frozen")
// and a trigger's deployment is canceled at once with that reason. Running
// deployments, gates and approvals go on. Each window keeps one timer at
// its next boundary (freeze.boundary): at a start it emits freeze.started
// (with until), at an end freeze.ended and every environment with waiting
// deployments has its queue pumped; deleting an active window does the same.
//
// # Why a release is not deployed yet
//
// WhyNotDeployed (blockers.go) reads, without writing, what keeps a release
// from an environment, in the order a deployment meets it: the release
// (draft, abandoned), the trigger (manual, upstream environments waiting or
// failed), pre-deployment gates and approvals, a deferral, forward-only and
// freeze windows ahead of the queue, the queue's slots, the job's agent
// (its waiting reason), a manual intervention, the agent at work,
// post-deployment approvals and gates, or how the last attempt ended. Each
// blocker's viewer actions are judged by the mutations' own rules
// (definitionGuard.judge, decideRules, the intervention's approvers, the
// environment machine), so what it offers the engine accepts.
//
// Timed work (approval timeouts, deferred deployments, job timeouts, cron
// schedules) is a Timer row. RunDueTimers claims each due one with a
// conditional update of claimed_until and marks it done in the transaction
// that does its work, so a timer runs once across replicas and a restart loses
// none. Timers made moot are retired (done_at set) when their target changes.
