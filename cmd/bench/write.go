package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/server"
	"github.com/cairnhq/cairn/storage"
)

// The write run (-only write): createRelease/s through GraphQL, with a definition whose three
// environments wait for a person (MANUAL) and one whose three environments deploy by
// themselves (AFTER_RELEASE: approvals, queue and a job each, no agent connected), at 1, 4 and 16
// concurrent clients, on SQLite, on PostgreSQL with one replica and with three replicas sharing
// the database (clients spread over the replicas). Beside it, a floor: transactions of bare
// inserts of as many rows as one AFTER_RELEASE release writes, on the same database.
//
// The MANUAL and AFTER_RELEASE series have every client create releases of one definition (the
// hard case: a definition's releases are numbered one at a time, so its writers serialise); the
// third series has each client create releases of its own AFTER_RELEASE definition, as the CI
// servers of many applications do on a real server.

// writeClients are the concurrent clients of each measurement.
var writeClients = []int{1, 4, 16}

// writeOwn names the series whose clients each create releases of their own AFTER_RELEASE
// definition.
const writeOwn = "AFTER_RELEASE, a definition per client"

// writeKindKeys are the series' names in -write-kinds.
var writeKindKeys = map[string]string{"MANUAL": "manual", "AFTER_RELEASE": "after_release", writeOwn: "own"}

// writeSetup is one or more server replicas on one database.
type writeSetup struct {
	name     string
	replicas []*server.Server
	https    []*httptest.Server
	envs     []*env // one per replica, sharing the admin token
	db       *storage.DB
	cleanup  []func()
}

func (s *writeSetup) close() {
	for _, h := range s.https {
		h.Close()
	}
	for _, r := range s.replicas {
		r.Close()
	}
	if s.db != nil {
		s.db.SQL.Close()
	}
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		s.cleanup[i]()
	}
}

// startWriteSetup starts n replicas on databaseURL (empty: SQLite in a temporary directory;
// then n must be 1). The replicas share their signing and secret keys, as a deployment does.
func startWriteSetup(ctx context.Context, name, databaseURL string, n int) (*writeSetup, error) {
	s := &writeSetup{name: name}
	keys := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}
	signing, secret := keys(), keys()
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	var firstDir string
	for i := range n {
		dir, err := os.MkdirTemp("", "cairn-bench-write-")
		if err != nil {
			s.close()
			return nil, err
		}
		s.cleanup = append(s.cleanup, func() { os.RemoveAll(dir) })
		if i == 0 {
			firstDir = dir
		}
		// Replicas start one after another: the first migrates the database.
		srv, err := server.New(ctx, server.Config{DataDir: dir, DatabaseURL: databaseURL, Logger: quiet,
			SigningKey: signing, SecretKey: secret})
		if err != nil {
			s.close()
			return nil, fmt.Errorf("starting replica %d: %w", i+1, err)
		}
		srv.Start()
		h := httptest.NewServer(srv.Handler())
		s.replicas, s.https = append(s.replicas, srv), append(s.https, h)
		s.envs = append(s.envs, &env{srv: srv, http: h, dir: dir, databaseURL: databaseURL})
	}
	first := s.replicas[0]
	sys := delivery.SystemActor("bench")
	admin, err := first.Engine.EnsureAdmin(ctx, "admin")
	if err != nil {
		s.close()
		return nil, err
	}
	row, err := first.Engine.CreateAPIToken(ctx, sys, "bench", admin.ID, 24*time.Hour, nil)
	if err != nil {
		s.close()
		return nil, err
	}
	token, err := first.Keys.IssueAPIToken(admin.Username, row.Jti, row.ExpiresAt, nil)
	if err != nil {
		s.close()
		return nil, err
	}
	for _, e := range s.envs {
		e.token = token
	}
	if databaseURL == "" {
		s.db, err = storage.OpenSQLite(ctx, filepath.Join(firstDir, "cairn.db"))
	} else {
		s.db, err = storage.OpenPostgres(ctx, databaseURL, 0)
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// freshPostgresDatabase creates an empty database on base's server and returns its URL and
// the function that drops it.
func freshPostgresDatabase(ctx context.Context, base string) (string, func(), error) {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "cairn_bench_write_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("creating database %s: %w", name, err)
	}
	u, err := url.Parse(base)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		_, _ = admin.Exec("DROP DATABASE " + name + " WITH (FORCE)")
		admin.Close()
	}
	return u.String(), drop, nil
}

const writeJob = `{skipArtifactDownload: true, demands: ["bench-write-nobody"], tasks: [{name: "deploy", shell: "bash", script: "true"}]}`

// writeDefinition creates a definition of three environments with the given trigger kind.
func writeDefinition(e *env, name, kind string) (string, error) {
	var envs []string
	for _, n := range []string{"dev", "qa", "prod"} {
		envs = append(envs, fmt.Sprintf(`{name: %q, trigger: {kind: %s}, job: %s}`, n, kind, writeJob))
	}
	return e.createDefinition(fmt.Sprintf(`{name: %q, environments: [%s]}`, name, strings.Join(envs, ", ")))
}

// measureCreates runs clients goroutines creating releases for d (spread over envs; client c
// creates releases of defs[c % len(defs)]) and returns releases per second.
func measureCreates(ctx context.Context, envs []*env, defs []string, clients int, warmup, d time.Duration, counting func()) (float64, error) {
	var done atomic.Int64
	var firstErr error
	var once sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The clients run for warmup before the count starts: every replica's pool has opened its
	// connections by then and prepared and planned its statements on them, as a server that has
	// been running has. Without it the first seconds' connection starts and planning fell on
	// three replicas' measurement (their pools open three times as many connections) more than
	// on one's.
	from := time.Now().Add(warmup)
	deadline := from.Add(d)
	var wg sync.WaitGroup
	for c := range clients {
		e, def := envs[c%len(envs)], defs[c%len(defs)]
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if _, err := e.createRelease(def); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				done.Add(1)
			}
		})
	}
	if wait := time.Until(from); wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
	}
	counted := time.Now()
	done.Store(0) // the warm-up's releases do not count
	if counting != nil {
		counting()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(done.Load()) / time.Since(counted).Seconds(), nil
}

// tableRows counts the rows of every table but ent's own.
func tableRows(ctx context.Context, db *storage.DB) (int64, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if db.Dialect == delivery.Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := db.SQL.QueryContext(ctx, q)
	if err != nil {
		return 0, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return 0, err
		}
		names = append(names, n)
	}
	rows.Close()
	var total int64
	for _, n := range names {
		if n == "bench_floor" {
			continue
		}
		var c int64
		if err := db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM "`+n+`"`).Scan(&c); err != nil {
			return 0, err
		}
		total += c
	}
	return total, nil
}

// measureFloor runs clients goroutines committing transactions of rows bare inserts (about 300
// bytes each) into a scratch table for d, and returns transactions per second.
func measureFloor(ctx context.Context, db *storage.DB, rows, clients int, d time.Duration) (float64, error) {
	create := `CREATE TABLE IF NOT EXISTS bench_floor (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)`
	insert := `INSERT INTO bench_floor (body) VALUES (?)`
	if db.Dialect == delivery.Postgres {
		create = `CREATE TABLE IF NOT EXISTS bench_floor (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)`
		insert = `INSERT INTO bench_floor (body) VALUES ($1)`
	}
	if _, err := db.SQL.ExecContext(ctx, create); err != nil {
		return 0, err
	}
	body := strings.Repeat("x", 300)
	var done atomic.Int64
	var firstErr error
	var once sync.Once
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				err := func() error {
					tx, err := db.SQL.BeginTx(ctx, nil)
					if err != nil {
						return err
					}
					for range rows {
						if _, err := tx.ExecContext(ctx, insert, body); err != nil {
							_ = tx.Rollback()
							return err
						}
					}
					return tx.Commit()
				}()
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(done.Load()) / time.Since(start).Seconds(), nil
}

// benchWrite runs the write measurements on SQLite and, with a database URL, on PostgreSQL with
// one and with three replicas (each on a fresh database of that server).
func benchWrite(ctx context.Context, o options, r *report) error {
	type setup struct {
		name     string
		url      string
		replicas int
		target   float64 // AFTER_RELEASE releases/s at 16 clients (0: compared with one replica)
		key      string  // its name in -write-setups
	}
	setups := []setup{{name: "SQLite", replicas: 1, target: 50, key: "sqlite"}}
	if o.databaseURL != "" {
		setups = append(setups, setup{"PostgreSQL, 1 replica", o.databaseURL, 1, 100, "pg1"}, setup{"PostgreSQL, 3 replicas", o.databaseURL, 3, 0, "pg3"})
	} else {
		r.note("write: PostgreSQL skipped (no -database-url).")
	}
	for key := range o.writeSetups {
		if key != "sqlite" && key != "pg1" && key != "pg3" {
			return fmt.Errorf("-write-setups: %q is none of sqlite, pg1, pg3", key)
		}
	}
	for key := range o.writeKinds {
		if key != "manual" && key != "after_release" && key != "own" {
			return fmt.Errorf("-write-kinds: %q is none of manual, after_release, own", key)
		}
	}
	writeClients := writeClients
	if o.writeClients != "" {
		writeClients = nil
		for _, c := range strings.Split(o.writeClients, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(c))
			if err != nil || n < 1 {
				return fmt.Errorf("-write-clients: %q is not a number of clients", c)
			}
			writeClients = append(writeClients, n)
		}
	}
	floors := map[int]float64{} // by clients, of the last single-replica setup
	var oneReplica16 float64
	for _, st := range setups {
		if o.writeSetups != nil && !o.writeSetups[st.key] {
			continue
		}
		progress("write: " + st.name)
		dbURL := ""
		var drop func()
		if st.url != "" {
			var err error
			if dbURL, drop, err = freshPostgresDatabase(ctx, st.url); err != nil {
				return err
			}
		}
		err := func() error {
			s, err := startWriteSetup(ctx, st.name, dbURL, st.replicas)
			if err != nil {
				return err
			}
			defer s.close()
			defs := map[string][]string{}
			for _, kind := range []string{"MANUAL", "AFTER_RELEASE"} {
				id, err := writeDefinition(s.envs[0], "write-"+strings.ToLower(kind), kind)
				if err != nil {
					return fmt.Errorf("creating the %s definition: %w", kind, err)
				}
				defs[kind] = []string{id}
			}
			for i := range writeClients[len(writeClients)-1] {
				id, err := writeDefinition(s.envs[0], fmt.Sprintf("write-own-%d", i), "AFTER_RELEASE")
				if err != nil {
					return fmt.Errorf("creating definition %d: %w", i, err)
				}
				defs[writeOwn] = append(defs[writeOwn], id)
			}
			// Rows one AFTER_RELEASE release writes (for the floor), before the timed runs.
			before, err := tableRows(ctx, s.db)
			if err != nil {
				return err
			}
			if _, err := s.envs[0].createRelease(defs["AFTER_RELEASE"][0]); err != nil {
				return err
			}
			after, err := tableRows(ctx, s.db)
			if err != nil {
				return err
			}
			rows := int(after - before)
			r.note("write, %s: one AFTER_RELEASE release of three environments writes %d rows.", st.name, rows)
			if st.replicas == 1 {
				for _, c := range writeClients {
					rate, err := measureFloor(ctx, s.db, rows, c, o.writeDuration)
					if err != nil {
						return fmt.Errorf("floor, %d clients: %w", c, err)
					}
					floors[c] = rate
					r.floors = append(r.floors, row{metric: fmt.Sprintf("write floor, %s: transactions/s of %d bare inserts (the rows of one AFTER_RELEASE release), %d clients",
						st.name, rows, c), value: fmt.Sprintf("%.1f/s", rate)})
				}
			}
			lockHeld := func() (n int64, held time.Duration) {
				for _, rep := range s.replicas {
					rn, rh := rep.Engine.DefinitionLockHeld()
					n, held = n+rn, held+rh
				}
				return n, held
			}
			sealPasses := func() (txs, empty int64) {
				for _, rep := range s.replicas {
					t, e := rep.Engine.SealPasses()
					txs, empty = txs+t, empty+e
				}
				return txs, empty
			}
			var split cpuSplit
			if st.url != "" {
				split = newCPUSplit(ctx, s.db.SQL)
			}
			for _, kind := range []string{"MANUAL", "AFTER_RELEASE", writeOwn} {
				if o.writeKinds != nil && !o.writeKinds[writeKindKeys[kind]] {
					continue
				}
				for _, c := range writeClients {
					var n0, seals0, empty0 int64
					var h0 time.Duration
					var cpu0 cpuSample
					rate, err := measureCreates(ctx, s.envs, defs[kind], c, o.writeWarmup, o.writeDuration, func() {
						n0, h0 = lockHeld()
						seals0, empty0 = sealPasses()
						cpu0 = split.sample()
					})
					if err != nil {
						return fmt.Errorf("%s, %d clients: %w", kind, c, err)
					}
					noteCPU(r, fmt.Sprintf("write, %s, %s, %d clients", st.name, kind, c), split, cpu0, split.sample(), rate)
					if n1, h1 := lockHeld(); n1 > n0 {
						seals, empty := sealPasses()
						r.note("write, %s, %s, %d clients: %.2f seal transactions per release, %d of %d found nothing (an earlier pass, of this replica or another, had sealed the rows).",
							st.name, kind, c, float64(seals-seals0)/float64(n1-n0), empty-empty0, seals-seals0)
						r.note("write, %s, %s, %d clients: the definition's lock held %.2f ms per release (%d releases).",
							st.name, kind, c, float64(h1-h0)/float64(n1-n0)/1e6, n1-n0)
					}
					x := row{metric: fmt.Sprintf("write: createRelease/s, %s, %s, %d clients", st.name, kind, c),
						value: fmt.Sprintf("%.1f/s", rate), floor: "–", ratio: "–"}
					if f, ok := floors[c]; ok { // none when -write-setups left out every single-replica set-up
						x.floor, x.ratio = fmt.Sprintf("%.1f/s", f), fmt.Sprintf("%.2f", rate/f)
					}
					if kind == "AFTER_RELEASE" && c == writeClients[len(writeClients)-1] {
						switch {
						case st.target > 0:
							x.target, x.verdict = fmt.Sprintf("≥ %.0f/s", st.target), verdict(rate >= st.target)
							if st.replicas == 1 && st.url != "" {
								oneReplica16 = rate
							}
						case oneReplica16 > 0:
							x.target, x.verdict = fmt.Sprintf("≥ one replica (%.1f/s)", oneReplica16), verdict(rate >= oneReplica16)
						}
					}
					r.add(x)
				}
			}
			return nil
		}()
		if drop != nil {
			drop()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	return nil
}

// noteCPU notes the CPU time per release of a measurement between two samples, this process's
// and PostgreSQL's apart when they are counted.
func noteCPU(r *report, what string, split cpuSplit, a, b cpuSample, rate float64) {
	wall := b.at.Sub(a.at)
	releases := rate * wall.Seconds()
	if wall <= 0 || releases < 1 {
		return
	}
	per := func(d time.Duration) float64 { return float64(d) / 1e6 / releases }
	core := func(d time.Duration) float64 { return 100 * float64(d) / float64(wall) }
	self := b.self - a.self
	if !split.counted() {
		r.note("%s: CPU per release %.2f ms in this process (the server and the clients; %.0f %% of a core).", what, per(self), core(self))
		return
	}
	pg := b.postgres - a.postgres
	r.note("%s: CPU per release %.2f ms in this process (the server replicas and the clients; %.0f %% of a core), %.2f ms in PostgreSQL's processes (%.0f %% of a core).",
		what, per(self), core(self), per(pg), core(pg))
}
