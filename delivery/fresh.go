package delivery

import (
	"fmt"
	"strings"
	"time"
)

// This file stores together the writes a release's transaction makes to rows that only it can
// see: the statuses of its new release environments, the queued_at of its new deployments and
// their automated approvals. They were one statement each (three per environment triggered);
// they are two statements on PostgreSQL and three on SQLite, whatever the number of
// environments. No version check is
// needed (no other transaction sees the rows before commit); statuses are still the
// transition table's (moveEnvironmentLater's events, replayed from the stored status).

// holdFresh keeps dc's release environment for flushFresh.
func (t *txn) holdFresh(dc *deployCtx) {
	for _, held := range t.freshEnvWrites {
		if held == dc {
			return
		}
	}
	t.freshEnvWrites = append(t.freshEnvWrites, dc)
}

// flushFreshApprovals inserts the automated approvals openStage held back, in one statement.
func (t *txn) flushFreshApprovals() error {
	if len(t.freshApprovals) == 0 {
		return nil
	}
	creates := t.freshApprovals
	t.freshApprovals = nil
	if err := t.Approval.CreateBulk(creates...).Exec(t.ctx); err != nil {
		return fmt.Errorf("storing automated approvals: %w", err)
	}
	return nil
}

// flushFresh stores what holdFresh, createJob and openStage held back (t.batchFresh).
func (t *txn) flushFresh() error {
	if err := t.flushFreshApprovals(); err != nil {
		return err
	}
	var envIDs []int64
	var envStatuses []string
	for _, dc := range t.freshEnvWrites {
		if len(dc.rePending) == 0 {
			continue // stored since (storeEnvironment)
		}
		to := dc.reStored
		for _, ev := range dc.rePending {
			var err error
			if to, err = environmentMachine.apply(dc.re.ID, to, ev); err != nil {
				return err
			}
		}
		envIDs, envStatuses = append(envIDs, int64(dc.re.ID)), append(envStatuses, string(to))
		re := *dc.re
		re.Status, re.Version, re.UpdatedAt = to, dc.re.Version+1, t.now
		dc.re, dc.rePending = &re, nil
	}
	t.freshEnvWrites = nil
	var depIDs []int64
	var depQueued []time.Time
	for id, at := range t.freshQueuedAt {
		depIDs, depQueued = append(depIDs, int64(id)), append(depQueued, at)
	}
	t.freshQueuedAt = nil
	if t.postgres() {
		// One statement: the rows held (held.go), these updates, and the audit rows and events
		// made so far (storeUnsealed's), which would otherwise be one more statement before commit.
		var p pgArgs
		parts, err := t.heldCTEs(&p)
		if err != nil {
			return err
		}
		if len(envIDs) > 0 {
			parts = append(parts, `fe AS (UPDATE release_environments AS r
			SET status = v.status, version = COALESCE(r.version, 0) + 1, updated_at = `+p.add(t.now, "timestamptz")+`
			FROM (SELECT unnest(`+p.add(envIDs, "bigint[]")+`) AS id, unnest(`+p.add(envStatuses, "text[]")+`) AS status) AS v
			WHERE r.id = v.id RETURNING 1)`)
		}
		if len(depIDs) > 0 {
			parts = append(parts, `fq AS (UPDATE deployments AS d SET queued_at = v.q
			FROM (SELECT unnest(`+p.add(depIDs, "bigint[]")+`) AS id, unnest(`+p.add(depQueued, "timestamptz[]")+`) AS q) AS v
			WHERE d.id = v.id RETURNING 1)`)
		}
		parts = append(parts, t.unsealedCTEs(&p)...) // before p is read below
		return t.execWith(parts, p, "storing the new environments and deployments")
	}
	if len(envIDs) == 0 && len(depIDs) == 0 {
		return nil
	}
	if len(envIDs) > 0 {
		var cases strings.Builder
		var args []any
		for i, id := range envIDs {
			cases.WriteString(" WHEN ? THEN ?")
			args = append(args, id, envStatuses[i])
		}
		args = append(args, t.now)
		for _, id := range envIDs {
			args = append(args, id)
		}
		q := `UPDATE release_environments SET status = CASE id` + cases.String() + ` END, version = COALESCE(version, 0) + 1, updated_at = ? WHERE id IN (` +
			strings.TrimSuffix(strings.Repeat("?, ", len(envIDs)), ", ") + `)`
		if _, err := t.ExecContext(t.ctx, q, args...); err != nil {
			return fmt.Errorf("storing the new environments: %w", err)
		}
	}
	if len(depIDs) > 0 {
		var cases strings.Builder
		var args []any
		for i, id := range depIDs {
			cases.WriteString(" WHEN ? THEN ?")
			args = append(args, id, depQueued[i])
		}
		for _, id := range depIDs {
			args = append(args, id)
		}
		q := `UPDATE deployments SET queued_at = CASE id` + cases.String() + ` END WHERE id IN (` +
			strings.TrimSuffix(strings.Repeat("?, ", len(depIDs)), ", ") + `)`
		if _, err := t.ExecContext(t.ctx, q, args...); err != nil {
			return fmt.Errorf("storing the new deployments: %w", err)
		}
	}
	return nil
}
