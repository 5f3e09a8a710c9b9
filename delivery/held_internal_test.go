package delivery

import (
	"slices"
	"testing"

	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
)

// TestHeldRowsColumns: the statement that inserts held rows (held.go) writes every column of
// deployments and jobs, and of approvals every column but those an automated approval leaves
// NULL, so that a column added to the schema is not silently left to its default there.
func TestHeldRowsColumns(t *testing.T) {
	for _, c := range []struct {
		table         string
		columns, held []string
		null          []string
	}{
		{"deployments", deployment.Columns, heldDeploymentColumns, nil},
		{"jobs", job.Columns, heldJobColumns, []string{"assigned_at", "started_at", "finished_at", "timeout_at",
			"target_agent_id", "output_variables", "agent_id"}},
		{"approvals", approval.Columns, heldApprovalColumns, []string{"id", "approver_kind", "decided_via", "due_at",
			"deferred_until", "reassigned_from_id"}},
	} {
		written := append(slices.Clone(c.held), c.null...)
		for _, col := range c.columns {
			if !slices.Contains(written, col) {
				t.Errorf("%s.%s is neither written by the held rows' insert nor listed as left NULL (held.go)", c.table, col)
			}
		}
		for _, col := range written {
			if !slices.Contains(c.columns, col) {
				t.Errorf("held.go names %s.%s, which the schema does not have", c.table, col)
			}
		}
	}
}
