package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/storage"
)

// floorForkExec and floorBashStart are the process floors of the dispatch measurement, kept
// for the ratios.
var floorForkExec, floorBashStart dist

// measureForkExec measures a bare fork/exec of true (start to exit), and the time from starting
// bash on a script file to its first command (what a task's first line costs at least).
func measureForkExec(n int) ([]row, error) {
	for range n {
		t0 := time.Now()
		if err := exec.Command("true").Run(); err != nil {
			return nil, fmt.Errorf("running true: %w", err)
		}
		floorForkExec = append(floorForkExec, time.Since(t0))
	}
	dir, err := os.MkdirTemp("", "cairn-bench-bash-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "s.sh")
	if err := os.WriteFile(script, []byte("echo \"$EPOCHREALTIME\"\n"), 0o600); err != nil {
		return nil, err
	}
	for range n {
		t0 := time.Now()
		out, err := exec.Command("bash", "-e", script).Output()
		if err != nil {
			return nil, fmt.Errorf("running bash: %w", err)
		}
		at, err := parseEpoch(strings.TrimSpace(string(out)))
		if err != nil {
			return nil, err
		}
		floorBashStart = append(floorBashStart, at.Sub(t0))
	}
	return []row{
		{metric: fmt.Sprintf("fork/exec of `true`, start to exit (%d runs)", n),
			value: fmt.Sprintf("p50 %s, p99 %s", ms(floorForkExec.pct(.5)), ms(floorForkExec.pct(.99)))},
		{metric: fmt.Sprintf("`bash -e script` start to its first command (%d runs)", n),
			value: fmt.Sprintf("p50 %s, p99 %s", ms(floorBashStart.pct(.5)), ms(floorBashStart.pct(.99)))},
	}, nil
}

// parseEpoch parses bash's $EPOCHREALTIME ("1732240000.123456").
func parseEpoch(s string) (time.Time, error) {
	sec, frac, ok := strings.Cut(s, ".")
	if !ok {
		return time.Time{}, fmt.Errorf("not an $EPOCHREALTIME: %q", s)
	}
	secs, err1 := strconv.ParseInt(sec, 10, 64)
	us, err2 := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, fmt.Errorf("not an $EPOCHREALTIME: %q", s)
	}
	return time.Unix(secs, us*1000), nil
}

var floorEcho dist

// measureWebsocketEcho measures round trips of a small message through a bare coder/websocket
// echo server on loopback.
func measureWebsocketEcho(ctx context.Context, n int) (row, error) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, b); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		return row{}, err
	}
	defer c.CloseNow()
	msg := []byte(`{"type":"next","id":"1","payload":{"data":{"deploymentLog":{"seq":1234,"text":"1234"}}}}`)
	for range n {
		t0 := time.Now()
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			return row{}, err
		}
		if _, _, err := c.Read(ctx); err != nil {
			return row{}, err
		}
		floorEcho = append(floorEcho, time.Since(t0))
	}
	return row{metric: fmt.Sprintf("websocket echo round trip on loopback (%d)", n),
		value: fmt.Sprintf("p50 %s, p99 %s", ms(floorEcho.pct(.5)), ms(floorEcho.pct(.99)))}, nil
}

// chunk is one stored log chunk (what AppendLogs writes per batch).
type chunk struct {
	firstSeq, lastSeq int64
	lines             []byte
}

// bareInsert inserts chunks, one transaction each as AppendLogs does, into a scratch table of a
// fresh database of the same kind, and returns lines per second.
func bareInsert(ctx context.Context, databaseURL string, chunks []chunk) (float64, error) {
	dir, err := os.MkdirTemp("", "cairn-bench-insert-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	var db *storage.DB
	table := "bench_log_chunks"
	if databaseURL != "" {
		db, err = storage.OpenPostgres(ctx, databaseURL, 0)
	} else {
		db, err = storage.OpenSQLite(ctx, filepath.Join(dir, "floor.db"))
	}
	if err != nil {
		return 0, err
	}
	defer db.Close()
	id, blob, ph := "INTEGER PRIMARY KEY", "BLOB", "?, ?, ?, ?"
	if databaseURL != "" {
		id, blob, ph = "BIGSERIAL PRIMARY KEY", "BYTEA", "$1, $2, $3, $4"
		table += strconv.Itoa(os.Getpid())
		defer db.SQL.ExecContext(context.WithoutCancel(ctx), "DROP TABLE "+table)
	}
	if _, err := db.SQL.ExecContext(ctx, "CREATE TABLE "+table+" (id "+id+", job_id BIGINT, first_seq BIGINT, last_seq BIGINT, lines "+blob+")"); err != nil {
		return 0, err
	}
	var lines int64
	t0 := time.Now()
	for _, c := range chunks {
		tx, err := db.SQL.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+table+" (job_id, first_seq, last_seq, lines) VALUES ("+ph+")", 1, c.firstSeq, c.lastSeq, c.lines); err != nil {
			tx.Rollback()
			return 0, err
		}
		if err := tx.Commit(); err != nil {
			return 0, err
		}
		lines += c.lastSeq - c.firstSeq + 1
	}
	return float64(lines) / time.Since(t0).Seconds(), nil
}
