package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
	"github.com/cairnhq/cairn/ent/schema/spec"
)

// benchRetention fills n old releases of one definition (each with a deployment, a job and a
// log of logLines lines) under a policy of 3 releases / 30 days, then measures: the database's
// size before and after a retention run, the run's deletion rate, and dispatch latency
// (queued → claimed) while the run prunes beside the same measurement without it.
func benchRetention(ctx context.Context, e *env, n, logLines int, r *report) error {
	defID, err := e.createDefinition(`{name: "retained", environments: [{name: "dev", trigger: {kind: MANUAL},
	    retention: {daysToKeep: 30, releasesToKeep: 3}}]}`)
	if err != nil {
		return err
	}
	id, _ := strconv.Atoi(defID)
	progress(fmt.Sprintf("retention: filling %d releases with %d log lines each", n, logLines))
	c := e.srv.DB().Client
	if err := fillRetained(ctx, c, id, n, logLines); err != nil {
		return fmt.Errorf("filling: %w", err)
	}
	before, err := dbSize(ctx, e)
	if err != nil {
		return err
	}

	progress("retention: dispatch latency without pruning")
	const jobs, warmup = 40, 3
	base, err := runDispatch(ctx, e, "ret-base", jobs, warmup)
	if err != nil {
		return fmt.Errorf("dispatch without pruning: %w", err)
	}

	progress("retention: pruning, with dispatch beside it")
	admin := delivery.Actor{Username: "bench", Role: delivery.RoleAdmin}
	type result struct {
		run *delivery.RetentionRun
		err error
		d   time.Duration
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		run, err := e.srv.Engine.RunRetention(ctx, admin)
		done <- result{run, err, time.Since(start)}
	}()
	var during dist
	var res result
	round := 0
loop:
	for {
		select {
		case res = <-done:
			break loop
		default:
		}
		round++
		d, err := runDispatch(ctx, e, fmt.Sprintf("ret-during-%d", round), 5, 0)
		if err != nil {
			return fmt.Errorf("dispatch during pruning: %w", err)
		}
		during = append(during, d.claimed...)
	}
	if res.err != nil {
		return fmt.Errorf("retention run: %w", res.err)
	}
	left, err := c.Release.Query().Where(release.DefinitionID(id)).Count(ctx)
	if err != nil {
		return err
	}
	after, err := dbSize(ctx, e)
	if err != nil {
		return err
	}
	deleted := len(res.run.ReleasesDeleted)
	rate := float64(deleted) / res.d.Seconds()
	r.add(row{metric: fmt.Sprintf("retention: %d releases (each a deployment, a job, a %d-line log) under 3 releases / 30 days: deleted, kept", n, logLines),
		value: fmt.Sprintf("%d deleted, %d kept", deleted, left), target: "all but the 3 newest deleted", verdict: verdict(left == 3 && deleted == n-3)})
	r.add(row{metric: "retention: run time and deletion rate (one transaction per release; after each batch of 20 a pause as long as the batch)",
		value: fmt.Sprintf("%.1f s, %.0f releases/s", res.d.Seconds(), rate)})
	r.add(row{metric: "retention: database size before → after the run (" + before.how + ")",
		value: before.String() + " → " + after.String()})
	r.add(row{metric: fmt.Sprintf("retention: dispatch queued → claimed during the run, p50 / p95 (%d jobs)", len(during)),
		value:  ms(during.pct(.5)) + " / " + ms(during.pct(.95)),
		floor:  fmt.Sprintf("without pruning p50 / p95 %s / %s (%d jobs)", ms(base.claimed.pct(.5)), ms(base.claimed.pct(.95)), len(base.claimed)),
		ratio:  ratio(float64(during.pct(.5)), float64(base.claimed.pct(.5))) + " / " + ratio(float64(during.pct(.95)), float64(base.claimed.pct(.95))),
		target: "p50 within 3× of without", verdict: verdict(during.pct(.5) <= 3*base.claimed.pct(.5))})
	r.note("Retention: the releases are written directly (%d per transaction), 60 days old, each deployed to dev once; the run is `RunRetention` (what the hourly loop runs) in this process beside the server; dispatch during the run is releases of one-environment definitions, 5 at a time, until the run ends. Database size: %s. Dispatch without pruning: %d jobs after %d warm-up, on the same database before the run.", fillBatch, before.note, jobs, warmup)
	return nil
}

// fillRetained writes n releases of definition defID, 60 days old and deployed to dev once,
// each with a job and a log chunk of lines lines.
func fillRetained(ctx context.Context, c *ent.Client, defID, n, lines int) error {
	snap := spec.DefinitionSnapshot{Name: "retained", ReleaseNameFormat: "Release-$(rev:r)",
		Environments: []spec.EnvironmentSpec{{Name: "dev", Trigger: spec.Trigger{Kind: spec.TriggerManual},
			Retention: &spec.RetentionPolicy{DaysToKeep: 30, ReleasesToKeep: 3}}}}
	type line struct {
		Seq  int64     `json:"seq"`
		Step int       `json:"step"`
		Time time.Time `json:"time"`
		Text string    `json:"text"`
	}
	old := time.Now().Add(-60 * 24 * time.Hour)
	logOf := func(i int) []byte {
		ls := make([]line, lines)
		for k := range ls {
			ls[k] = line{Seq: int64(k + 1), Step: 1, Time: old, Text: fmt.Sprintf("release %d: deploying component %d of the application to dev … ok", i, k)}
		}
		b, _ := json.Marshal(ls)
		return b
	}
	for done := 0; done < n; {
		k := min(fillBatch, n-done)
		tx, err := c.Tx(ctx)
		if err != nil {
			return err
		}
		err = func() error {
			rels := make([]*ent.ReleaseCreate, k)
			for i := range k {
				num := done + i + 1
				at := old.Add(time.Duration(num) * time.Second)
				rels[i] = tx.Release.Create().SetName(fmt.Sprintf("Release-%d", num)).SetNumber(num).SetDefinitionRevision(1).
					SetSnapshot(snap).SetReason(release.ReasonMANUAL).SetCreatedBy("bench").SetDefinitionID(defID).
					SetCreatedAt(at).SetUpdatedAt(at)
			}
			rs, err := inChunks(rels, func(b []*ent.ReleaseCreate) ([]*ent.Release, error) { return tx.Release.CreateBulk(b...).Save(ctx) })
			if err != nil {
				return err
			}
			envs := make([]*ent.ReleaseEnvironmentCreate, k)
			for i, rel := range rs {
				envs[i] = tx.ReleaseEnvironment.Create().SetName("dev").SetRank(1).SetReleaseID(rel.ID).
					SetDefinitionID(defID).SetStatus(releaseenvironment.StatusSUCCEEDED)
			}
			es, err := inChunks(envs, func(b []*ent.ReleaseEnvironmentCreate) ([]*ent.ReleaseEnvironment, error) {
				return tx.ReleaseEnvironment.CreateBulk(b...).Save(ctx)
			})
			if err != nil {
				return err
			}
			deps := make([]*ent.DeploymentCreate, k)
			for i, rel := range rs {
				at := rel.CreatedAt.Add(time.Minute)
				deps[i] = tx.Deployment.Create().SetAttempt(1).SetOperation(deployment.OperationDEPLOY).
					SetStatus(deployment.StatusSUCCEEDED).SetRequestedBy("bench").SetEnvironmentName("dev").
					SetReleaseID(rel.ID).SetReleaseEnvironmentID(es[i].ID).SetDefinitionID(defID).
					SetQueuedAt(at).SetStartedAt(at).SetCompletedAt(at.Add(time.Minute))
			}
			ds, err := inChunks(deps, func(b []*ent.DeploymentCreate) ([]*ent.Deployment, error) {
				return tx.Deployment.CreateBulk(b...).Save(ctx)
			})
			if err != nil {
				return err
			}
			jobs := make([]*ent.JobCreate, k)
			for i, d := range ds {
				jobs[i] = tx.Job.Create().SetDeploymentID(d.ID).SetSpec(spec.JobSpec{}).SetStatus(job.StatusSUCCEEDED).
					SetQueuedAt(*d.QueuedAt).SetFinishedAt(*d.CompletedAt).SetLogSeq(int64(lines))
			}
			js, err := inChunks(jobs, func(b []*ent.JobCreate) ([]*ent.Job, error) { return tx.Job.CreateBulk(b...).Save(ctx) })
			if err != nil {
				return err
			}
			chunks := make([]*ent.LogChunkCreate, k)
			for i, j := range js {
				chunks[i] = tx.LogChunk.Create().SetJobID(j.ID).SetFirstSeq(1).SetLastSeq(int64(lines)).SetLines(logOf(done + i + 1))
			}
			_, err = inChunks(chunks, func(b []*ent.LogChunkCreate) ([]*ent.LogChunk, error) { return tx.LogChunk.CreateBulk(b...).Save(ctx) })
			return err
		}()
		if err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		done += k
	}
	return nil
}

// size is the database's size in bytes, as the engine counts it.
type size struct {
	used, file int64
	how, note  string
}

func (s size) String() string {
	return fmt.Sprintf("%s used (%s on disk)", mib(uint64(s.used)), mib(uint64(s.file)))
}

// dbSize measures the database: on SQLite the pages in use (page_count − freelist_count) and the
// file with its WAL after a checkpoint; on PostgreSQL the tables' live size after VACUUM (used)
// and pg_database_size (on disk).
func dbSize(ctx context.Context, e *env) (size, error) {
	db := e.srv.DB().SQL
	if e.databaseURL == "" {
		if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			return size{}, err
		}
		var pages, free, pageSize int64
		for q, v := range map[string]*int64{"PRAGMA page_count": &pages, "PRAGMA freelist_count": &free, "PRAGMA page_size": &pageSize} {
			if err := db.QueryRowContext(ctx, q).Scan(v); err != nil {
				return size{}, err
			}
		}
		var file int64
		for _, suffix := range []string{"", "-wal"} {
			if st, err := os.Stat(filepath.Join(e.dir, "cairn.db"+suffix)); err == nil {
				file += st.Size()
			}
		}
		return size{used: (pages - free) * pageSize, file: file, how: "SQLite pages in use; file and WAL",
			note: "SQLite: pages in use (page_count − freelist_count) × page_size after a WAL checkpoint; the file keeps its freed pages for reuse until VACUUM"}, nil
	}
	if _, err := db.ExecContext(ctx, "VACUUM FULL"); err != nil {
		return size{}, err
	}
	var used, file int64
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(pg_total_relation_size(relid) - pg_relation_size(relid, 'fsm') - pg_relation_size(relid, 'vm')), 0)::bigint,
	    pg_database_size(current_database()) FROM pg_stat_user_tables WHERE schemaname = current_schema()`).Scan(&used, &file); err != nil {
		return size{}, err
	}
	var dead int64
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(n_live_tup), 0)::bigint FROM pg_stat_user_tables WHERE schemaname = current_schema()`).Scan(&dead); err != nil {
		return size{}, err
	}
	return size{used: used, file: file, how: "PostgreSQL tables after VACUUM FULL; database",
		note: fmt.Sprintf("PostgreSQL: the schema's tables with indexes and TOAST after VACUUM FULL (a plain VACUUM keeps freed space in the files for reuse), and pg_database_size; %s live rows at the end", strings.TrimSpace(strconv.FormatInt(dead, 10)))}, nil
}
