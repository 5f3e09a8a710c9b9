package storage_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// capturing records the statements an ent client sends.
type capturing struct {
	dialect.Driver
	mu   sync.Mutex
	last []struct {
		q    string
		args []any
	}
}

func (d *capturing) Query(ctx context.Context, q string, args, v any) error {
	d.mu.Lock()
	a, _ := args.([]any)
	d.last = append(d.last, struct {
		q    string
		args []any
	}{q, a})
	d.mu.Unlock()
	return d.Driver.Query(ctx, q, args, v)
}

// TestAuditQueriesUseIndexes checks SQLite's plan for the page query of each indexed auditEvents
// filter (the statement entgql's Paginate sends, newest first): it reads the filter's index, and
// where the index ends with sequence it sorts nothing. SQLite has no statistics here (Cairn never
// runs ANALYZE), so its choice is the same with 10 rows or 10 million; PostgreSQL plans by
// statistics and is measured by cmd/bench -only scale instead.
func TestAuditQueriesUseIndexes(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	ctx := context.Background()
	drv := &capturing{Driver: entsql.OpenDB(dialect.SQLite, db.SQL)}
	c := ent.NewClient(ent.Driver(drv))
	str := func(s string) *string { return &s }
	now := time.Now()
	bySeq := &ent.AuditEventOrder{Direction: entgql.OrderDirectionDesc, Field: ent.AuditEventOrderFieldSequence}
	byTime := &ent.AuditEventOrder{Direction: entgql.OrderDirectionDesc, Field: ent.AuditEventOrderFieldTime}
	for _, tc := range []struct {
		name   string
		where  ent.AuditEventWhereInput
		order  *ent.AuditEventOrder
		index  []string // one of these
		sorted bool     // the index gives the order: no temporary b-tree
	}{
		{"target id", ent.AuditEventWhereInput{TargetID: str("12")}, bySeq, []string{"auditevent_target_id_target_type_sequence"}, false},
		{"target", ent.AuditEventWhereInput{TargetType: str("deployment"), TargetID: str("12")}, bySeq, []string{"auditevent_target_id_target_type_sequence"}, true},
		{"target type", ent.AuditEventWhereInput{TargetType: str("deployment")}, bySeq, []string{"auditevent_target_type_sequence"}, true},
		{"actor", ent.AuditEventWhereInput{Actor: str("alice")}, bySeq, []string{"auditevent_actor_sequence"}, true},
		{"action", ent.AuditEventWhereInput{Action: str("release.create")}, bySeq, []string{"auditevent_action_sequence"}, true},
		{"actor and action", ent.AuditEventWhereInput{Actor: str("alice"), Action: str("release.create")}, bySeq, []string{"auditevent_actor_sequence", "auditevent_action_sequence"}, true},
		{"time window", ent.AuditEventWhereInput{TimeGTE: &now, TimeLT: &now}, bySeq, []string{"auditevent_time"}, false},
		{"time window by time", ent.AuditEventWhereInput{TimeGTE: &now, TimeLT: &now}, byTime, []string{"auditevent_time"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			drv.mu.Lock()
			drv.last = nil
			drv.mu.Unlock()
			first := 50
			if _, err := c.AuditEvent.Query().Paginate(ctx, nil, &first, nil, nil, ent.WithAuditEventOrder(tc.order), ent.WithAuditEventFilter(tc.where.Filter)); err != nil {
				t.Fatal(err)
			}
			var q string
			var args []any
			for _, s := range drv.last {
				if strings.Contains(s.q, "ORDER BY") {
					q, args = s.q, s.args
				}
			}
			if q == "" {
				t.Fatalf("no page query among %v", drv.last)
			}
			plan := storagetest.SQLitePlan(t, db, q, args...)
			all := strings.Join(plan, "; ")
			used := false
			for _, ix := range tc.index {
				used = used || strings.Contains(all, "INDEX "+ix+" ")
			}
			if !used || (tc.sorted && strings.Contains(all, "TEMP B-TREE")) {
				t.Fatalf("plan of %s: %s (want index %v, sorted by it: %v)", q, all, tc.index, tc.sorted)
			}
		})
	}
}
