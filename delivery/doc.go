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
