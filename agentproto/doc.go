// Package agentproto is the wire contract between a Cairn server (its dispatcher) and a deployment
// agent. It holds plain types and constants only (and [Heard], the
// heartbeat's clock both ends share); the agent runtime is package agent, the server
// side lives in server/dispatch. Both are written against this page: where code and this page
// disagree, the code is wrong.
//
// # Transport
//
// Registration is one HTTP call; everything else is one websocket per agent
// (github.com/coder/websocket), subprotocol [Subprotocol], text frames each holding one JSON object
// with a "type" member ([Header]). Unknown "type" values and unknown members are ignored by the
// receiver, so that v1 can grow compatibly; anything incompatible gets a new subprotocol.
//
// Both ends set their read limit to [MaxMessageBytes] explicitly (coder/websocket defaults to 32 KiB
// and closes the connection with StatusMessageTooBig above it) and never send a larger message.
//
// # Registration: POST /agent/register
//
// The agent, started with a registration token and no saved credential, sends a [RegisterRequest]
// once. The server validates the token (constant-time compare; expiry; single-use or not is the
// server's policy), creates the Agent row in the requested pool (or the default pool when empty),
// and answers 200 or 201 with a [RegisterResponse]: the agent's id and a credential, a JWT signed
// by the server with audience [CredentialAudience], subject the agent id, an issuer, a jti (so it
// can be revoked) and an expiry the server chooses (long: the agent has no refresh flow in v1).
// A wrong token is 401, a malformed body 400 (cap the body at [MaxRegisterBodyBytes]), a name
// conflict in the pool 409; the body may be a [RegisterError]. The agent saves the answer in its
// work directory (credential.json, mode 0600) and never registers again while that file exists.
// Registration is not idempotent: a retried request may create a second agent; the agent only
// retries it when it got no answer at all.
//
// # Connection: GET /agent/connect
//
// The agent dials with "Authorization: Bearer <credential>" and offers [Subprotocol]. The server
// verifies the JWT (algorithm allow-list, exp, issuer, audience "agent", jti not revoked, agent
// exists and is enabled) before accepting the upgrade, answers 401 (or 403 for a disabled agent)
// without upgrading otherwise, and selects [Subprotocol] (refusing clients that do not offer it).
// A 401 or 403 stops the agent (it does not retry); any other failure is retried with jittered
// exponential backoff capped at 30 s, and at the server's grace divided by [ReconnectsPerGrace]
// once a [Welcome] has told the agent the grace ([Welcome].GraceMillis), so that an agent always
// retries well within the grace. At most one connection per agent: when a second one is
// accepted the server closes the older one with [CloseReplaced].
//
// Origin checks do not apply (agents are not browsers and send no Origin header); the credential is
// the authentication.
//
// Heartbeats are websocket ping/pong frames, sent only on a silent connection: each end keeps the
// time it last heard from the other ([Heard]: any message, ping or pong). Every [PingInterval]
// the server pings, in one burst, every agent it has not heard from for half an interval (an agent
// that sends messages is not pinged); an agent pings the server only when it has heard nothing
// for [AgentPingAfter], which a live server never lets happen. Either end drops a connection
// whose ping is not answered within [PingInterval] (the agent then redials). The server drives
// the heartbeat, and in bursts, because the cost of an idle connection is the wake-ups: pings
// that arrive one by one, spread over the interval, each wake an idle server (measured: about
// four times the CPU of the same number of pings sent and answered together; BENCHMARKS.md).
// Both ends must keep a reader running (coder/websocket answers pings only while reading). The
// server tracks "last seen" from any frame, pongs and pings included; an agent silent for longer
// than its grace
// period (default 2 minutes) is offline, its ASSIGNED or RUNNING jobs become LOST and their
// deployments FAILED with a clear reason; a lost job is never re-run automatically. The grace
// of an agent last heard from before the server started counts from the start (a server that
// was down heard nobody). Lines the agent sends for a job already LOST are stored, marked as
// received after the loss.
//
// # Session
//
// Order on every connection:
//
//  1. agent → [Hello]. First message, exactly once. Lists the jobs the agent is still running
//     (RunningJobs) and the finished ones whose result is not yet acknowledged (FinishedJobs), each
//     with its last acknowledged and last produced sequence numbers.
//  2. server → [Welcome]. The server updates the Agent row (name, version, os, arch, capabilities,
//     max jobs, online, last seen) and reconciles jobs: a job the server has ASSIGNED or RUNNING on
//     this agent that appears in neither list is gone (the agent restarted without it): if the
//     server never received its [JobAccepted] it may queue it again (nothing ran), otherwise it
//     marks it LOST. A listed job the server already finalized (canceled, lost, timed out) gets a
//     [Cancel]. The server then sends [LogAck] for each listed job with its stored contiguous
//     high-water mark, so the agent can drop lines whose acknowledgement was lost.
//  3. Then, in any order and concurrently in both directions: jobs, cancels, acks, and the agent's
//     reports. The server must not send [JobAssignment] before [Welcome]; the agent sends nothing
//     but [Hello] before it receives [Welcome]. An agent that receives something else first (or
//     an [Error]) drops the connection and redials with backoff.
//
// Right after [Welcome] the agent resends, for each job it holds, everything not acknowledged:
// [JobAccepted], every [StepStarted] and [StepFinished] so far, the log lines after the
// acknowledged sequence number, and [JobFinished] if the job is finished. The server must therefore
// treat all of them as idempotent, as described below.
//
// # Per-job ordering guarantee
//
// On one connection, the agent sends a job's messages in the order they happened: [JobAccepted],
// then steps and log lines interleaved as produced (a [StepStarted] precedes the lines of its step,
// a [StepFinished] follows them), then [JobFinished] last. [JobFinished] is sent only after every
// line up to its LastSeq has been sent on the same connection or acknowledged before. Lines of
// different jobs interleave freely.
//
// # Messages, agent → server
//
// [Hello]: see Session. Capabilities are name → value; system ones (detected: "os", "arch",
// "cpus", "bash", "git", "docker", … with the binary's path as value) and user ones (--capability
// k=v) are reported separately; demands match against their union, user values winning.
//
// [JobAccepted]: sent when the agent takes a job, before any of its steps. Idempotent; not
// acknowledged (a job listed in a later Hello is accepted). The server moves the job ASSIGNED →
// RUNNING.
//
// [JobRejected]: sent instead of [JobAccepted] when the agent will not run the job: Code "busy"
// (already MaxJobs jobs), "invalid" (the assignment cannot run here, Message says why), "closing"
// (the agent is shutting down). Nothing ran; the server may dispatch the job to another agent
// ("busy", "closing") or fail it ("invalid"). Not acknowledged and not resent.
//
// [StepStarted], [StepFinished]: steps are numbered 0 ("Download artifacts") then 1..N (task i is
// step i+1). Every step gets exactly one [StepFinished] (status SUCCEEDED, FAILED, CANCELED or
// SKIPPED); only steps that ran get a [StepStarted]; step 0 is SKIPPED when the job skips the
// download or has no artifact. Idempotent by (jobId, step): a resent copy carries the same values
// and the server keeps the first or overwrites with an identical one. Not acknowledged
// individually: they are covered by [ResultAck] (the agent resends them on every reconnect until
// the job's result is acknowledged).
//
// [LogBatch]: consecutive lines of one job, ascending Seq, sequence numbers per job starting at 1
// with no gap. The agent flushes a batch every [LogBatchInterval] or when [LogBatchBytes] of text
// are pending, whichever comes first. Lines are already masked (every secret variable value, each
// line of a multi-line secret and the base64 form of each secret become "***") and at most
// [MaxLineBytes] long. Idempotent by (jobId, seq): after a reconnect the agent resends every line
// after the last [LogAck] it received, so the server sees some lines twice and must store each seq
// once (e.g. a unique (job, seq) index and "insert … on conflict do nothing", or by skipping seqs
// at or below its stored high-water mark). The server must refuse (with an [Error] of code
// unknown_job) lines of a job that is not assigned to the connection's agent, and should treat a
// gap (first seq above its high-water mark + 1) as an agent bug: store nothing past the gap and do
// not acknowledge past it, so the agent resends.
//
// [JobFinished]: the final result, sent once the job's processes are gone. Status SUCCEEDED,
// PARTIALLY_SUCCEEDED (only continue-on-error tasks failed), FAILED (a task failed, timed out, the
// job timed out, or the agent could not prepare it; Reason says which) or CANCELED (a [Cancel], or
// the agent shut down while running it). LastSeq is the job's last line: the server must not
// finalize the log before it stores lines 1..LastSeq (they precede this message, see the ordering
// guarantee). Idempotent by jobId: the server records the first and answers [ResultAck] to every
// copy. The agent persists it in its work directory until acknowledged, so it survives an agent
// restart; log lines not yet acknowledged at finish time are persisted with it.
//
// # Messages, server → agent
//
// [Welcome]: see Session.
//
// [JobAssignment] ("job"): run this job. The dispatcher sends it to an agent whose capabilities
// satisfy the job's demands and which runs fewer than MaxJobs jobs; it marks the job ASSIGNED in
// the same transaction that claims it. The agent answers [JobAccepted] or [JobRejected]. Idempotent
// by jobId: an assignment of a job the agent already holds (running, or finished and not yet
// acknowledged) does not start it again; the agent resends what it has. After [ResultAck] the agent
// forgets the job, so the server must never assign a job again once it acknowledged its result. The server must send it again after a reconnect if it
// never received [JobAccepted] or [JobRejected] and the job is not in Hello (or re-queue it). The
// whole message must fit in [MaxMessageBytes]. Secret variable values and artifact credentials are
// decrypted by the server for this message only; the agent keeps them in memory for the job's
// duration and never writes them to disk (scripts reference them through the environment).
//
// The server names every environment variable a task sees, and the agent only exports: first
// its own environment, then ReleaseVariables, then each [Variable] as its EnvName, then each
// [Artifact]'s PathVariable (set to the artifact's absolute download directory), then
// SYSTEM_DEFAULTWORKINGDIRECTORY, SYSTEM_ARTIFACTSDIRECTORY, AGENT_JOBID and
// RELEASE_DEPLOYMENTID, then the task's Env; a later entry wins over an earlier one of the same
// name. Compatibility: an assignment from a server that predates EnvName and
// PathVariable (both empty) gets the names the server would have chosen, derived by the agent
// (upper case, every character but [A-Z0-9_] replaced by "_"; RELEASE_ARTIFACTS_<ALIAS>_PATH).
// That fallback goes with the next subprotocol.
//
// [Cancel]: stop the job (a person canceled the deployment, or the server's own timeout fired). The
// agent kills the running task's process group (SIGTERM, then SIGKILL after a short grace), marks
// the task CANCELED and the remaining tasks SKIPPED, and sends [JobFinished] with status CANCELED
// and Reason. Idempotent; a cancel for an unknown or already finished job is ignored (the finished
// result stands and the server decides what to record). The server keeps sending [Cancel] for the
// job after each reconnect until it receives [JobFinished].
//
// [LogAck]: lines 1..UptoSeq of the job are durably stored (committed). The agent drops them from
// its spool and does not resend them. Cumulative and idempotent: a smaller or equal UptoSeq than a
// previous one is a no-op. The server should acknowledge at least once per received batch (it may
// coalesce batches); the agent holds a bounded spool and, once it is full, stops reading the job's
// output (the task blocks on its pipe) until acknowledgements arrive.
//
// [ResultAck]: the job's [JobFinished] is durably stored. The agent forgets the job entirely
// (lines, step reports, persisted result). The server must send it only after it stored lines
// 1..LastSeq.
//
// [Error]: either direction; the receiver could not process a message. Never acknowledged. After
// an [Error] with code unauthorized the server closes the connection with [CloseUnauthorized]
// and the agent stops. For bad_message the sender of the Error may close the connection with
// [CloseProtocolError]; the agent then reconnects and resends (so a server must not close on a
// message it will reject again forever: it answers [Error] and moves on instead).
//
// # Logging commands
//
// A task talks back the way Azure Pipelines tasks do, by printing lines. The agent parses them
// (the server never reads free text) and reports what they said in typed members and messages;
// all of them are optional additions to v1, ignored by a server that predates them.
//
//   - "##[group]", "##[endgroup]", "##[section]", "##[warning]", "##[error]", "##[command]",
//     "##[debug]" at the start of a line: the line is sent as printed, with LogLine.Kind set.
//     "##[warning]" and "##[error]" lines are also counted as issues of the step.
//   - "##vso[area.event key=value;…]data": a logging command. The line itself is not sent (its
//     data may be a secret); a line of kind "command" says what the agent did instead. Property
//     values and data are unescaped as Azure's agent does (%3B ";", %5D "]", %0D, %0A, %AZP25 "%").
//     Supported: task.setvariable (variable=NAME; isSecret, isOutput, isReadOnly: the variable is
//     exported under its environment name to the job's later tasks; a secret is masked in every
//     later line from the moment the command is read; isOutput also reports it in
//     StepFinished.OutputVariables), task.logissue (type=error|warning; sourcepath, linenumber:
//     counted and listed in StepFinished.Issues), task.complete (result=Succeeded|
//     SucceededWithIssues|Failed: Failed fails the step when its process ends, whatever its exit
//     code; SucceededWithIssues makes the job PARTIALLY_SUCCEEDED at best; it never turns a
//     failing exit code into success), task.setprogress (value=0..100: a [StepProgress]),
//     task.uploadfile (data is a path, relative to the task's working directory: an
//     [Attachment]). An unknown command, a malformed one, a value over its limit, or a variable
//     the task may not set (the names the agent exports itself: RELEASE_*, SYSTEM_*, AGENT_*,
//     and loader hooks such as BASH_ENV, LD_PRELOAD) is not run: the step gets a warning issue
//     saying why, and the job goes on. A command line longer than [MaxCommandBytes] is dropped
//     whole, unprinted.
//
// Output variables reach the later jobs of the same release (later phases of the deployment and
// deployments of later environments) under the name "<task name>.<NAME>", exported as that name's
// environment form (upper case, every character but [A-Z0-9_] as "_"): a task "Deploy web" that
// sets url=… with isOutput=true gives DEPLOY_WEB_URL to every job the server assigns after it.
// The server sends them as ordinary [Variable] entries of the [JobAssignment].
//
// # Task conditions
//
// Before each task the agent evaluates its Condition (Azure's expression subset, see package
// internal/condition) against how the job went so far: failed (a task that does not continue on
// error failed, or the artifact download failed), canceled (a [Cancel] arrived or the job timed
// out), and the job's variables (release, user and those set by earlier tasks, looked up by
// their environment form: variables['Release.EnvironmentName'] reads RELEASE_ENVIRONMENTNAME).
// A task whose condition is false is SKIPPED (Reason "condition not met: …" for a non-default
// condition). After a cancel or a job timeout, the tasks whose condition holds (ALWAYS,
// CANCELED, always(), canceled()) still run, each for at most the agent's cleanup time (one
// minute by default; a task's own smaller timeout applies), and the job ends CANCELED (FAILED for
// a timeout) all the same. Agent shutdown runs no cleanup: the remaining tasks are SKIPPED.
//
// # Cancellation, timeouts, shutdown
//
// The agent has one cancellation source per job (context.WithCancelCause): a server [Cancel], the
// job's TimeoutSeconds, or agent shutdown. A task's TimeoutSeconds fails only that task (it may
// continue on error). Agent shutdown (SIGINT/SIGTERM) cancels running jobs with reason "agent
// shutting down", reports them CANCELED, tries for a few seconds to deliver the results, and exits;
// undelivered results stay on disk and are sent on next start. A dropped connection does not stop
// a running job: it keeps running, its output is spooled, and everything is resent after the
// reconnect.
package agentproto
