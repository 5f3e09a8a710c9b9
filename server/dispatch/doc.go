// Package dispatch is the server side of the agent protocol (package agentproto is the contract):
// agent registration (POST /agent/register), one websocket session per agent (GET /agent/connect),
// and the Hub that pushes queued jobs to idle matching agents as soon as something changes.
//
// Dispatch is push, not polling: the Hub subscribes to the event bus and runs a dispatch round
// when a job is queued, a job finishes or is lost, or an agent connects or changes. A round asks
// the engine, in one call, to claim jobs for the connected agents with a free slot
// (delivery.ClaimQueued: the Hub's mirror of the claimable queue, delivery.ClaimQueue, is fed by
// the job events and read whole again now and then, so a round reads what changed, not the
// backlog; demands are matched in memory against the capabilities each agent's hello recorded,
// only the agents that meet a queued job are read, and each claim is one conditional update, so
// replicas sharing a database never assign a job twice), sends the assignments, and refreshes the
// waiting reasons of the jobs left in the queue. The timed loops are the sweeper (at a quarter of
// the grace period) that marks silent agents' jobs LOST and enforces job timeouts, the heartbeat,
// the flush of signs of life and the mirror's resync (every 30 s).
//
// Everything a session decides goes through package delivery; this package maps wire messages to
// engine calls and engine errors to wire errors (wireError), in one place each.
//
// Events come from Options.Events (server/eventbus in the server: in-process, plus the other
// replicas' over PostgreSQL).
package dispatch
