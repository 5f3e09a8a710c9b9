// Package agent is the Cairn deployment agent's runtime: Run registers the agent, keeps a
// websocket session with the server (package agentproto is the contract), runs the jobs it
// receives and streams their logs.
//
// The pieces, in the order data flows:
//
//   - runner (agent.go): Run, the reconnect loop with jittered exponential backoff, and one
//     session per connection: hello/welcome, then a reader (jobs, cancels, acks), a writer (drains
//     the spool) and a pinger (after agentproto.AgentPingAfter of silence
//     from the server, which pings every agentproto.PingInterval), ended together by one
//     context.WithCancelCause.
//   - jobRun (job.go): one job, one cancellation source (context.WithCancelCause; causes: server
//     cancel, job timeout, agent shutdown). Step 0 downloads artifacts (artifacts.go), steps 1..N
//     run tasks as processes in their own process group (process.go), killed as a group.
//   - maskWriter (mask.go): the io.Writer of a task's output; cuts lines, masks secrets.
//   - batcher (batcher.go): groups lines, flushing every agentproto.LogBatchInterval or at
//     agentproto.LogBatchBytes.
//   - spool (spool.go): what the server has not acknowledged, per job: reports and numbered log
//     lines, bounded; it is resent after every reconnect; finished jobs are persisted under
//     <work dir>/results until the server acknowledges them.
//
// Work directory layout: credential.json (0600), results/<job>.json (unacknowledged results,
// 0600), jobs/<job>/{a/<alias>/, s/, tmp/} while a job runs (removed when it ends, and at start).
// Jobs live under jobs/ rather than directly under the work directory so that a job id can never
// collide with credential.json or results/.
package agent
