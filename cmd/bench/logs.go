package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/logchunk"
)

// received is one log line as a subscriber got it.
type received struct {
	seq  int
	text string
	at   time.Time
}

// benchLogs measures (1) throughput: a task prints `seq 1 lines` as fast as it can and a
// websocket subscriber of deploymentLogBatches receives every line; (2) latency: a task prints about
// 2,000 lines/s, each carrying its print time, and the subscriber notes when each arrives.
func benchLogs(ctx context.Context, e *env, lines, paced int, r *report) error {
	gateDir := filepath.Join(e.dir, "gates")
	if err := os.MkdirAll(gateDir, 0o700); err != nil {
		return err
	}
	def, err := e.createDefinition(`{name: "logs", variables: [{name: "GATES", value: ` + strconv.Quote(gateDir) + `}, {name: "LINES", value: "10", settableAtReleaseTime: true}, {name: "PACED", value: "0", settableAtReleaseTime: true}],
	  environments: [{name: "dev", trigger: {kind: AFTER_RELEASE}, job: {skipArtifactDownload: true, tasks: [{name: "print", shell: "bash",
	    script: "while [ ! -e \"$GATES/$RELEASE_RELEASEID\" ]; do sleep 0.005; done\nif [ \"$PACED\" = 0 ]; then seq 1 \"$LINES\"; else for ((b = 0; b < LINES / 50; b++)); do for ((i = 0; i < 50; i++)); do echo \"$EPOCHREALTIME\"; done; sleep 0.025; done; fi"}]}}]}`)
	if err != nil {
		return err
	}

	// Throughput. Beside the subscriber, a poller notes when the job's stored log reaches every
	// line (ingest: agent → server → database, without the subscriber).
	storedAt := make(chan time.Time, 1)
	pollCtx, stopPoll := context.WithCancel(ctx)
	go func() {
		defer close(storedAt)
		for pollCtx.Err() == nil {
			if ok, err := e.srv.Engine.Client().Job.Query().Where(job.LogSeqGTE(int64(lines))).Exist(pollCtx); err == nil && ok {
				storedAt <- time.Now()
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	got, gate, jobID, err := e.followRelease(ctx, def, gateDir, map[string]string{"LINES": strconv.Itoa(lines), "PACED": "0"})
	stopPoll()
	if err != nil {
		return err
	}
	ingestEnd, ingestOK := <-storedAt
	if err := checkLines(got, lines, func(i int) string { return strconv.Itoa(i) }); err != nil {
		return fmt.Errorf("throughput run: %w", err)
	}
	stored, err := e.srv.Engine.Client().Job.Get(ctx, jobID)
	if err != nil {
		return err
	}
	if stored.LogSeq != int64(lines) || stored.Status != job.StatusSUCCEEDED {
		return fmt.Errorf("throughput job: %s with %d lines stored, want %d", stored.Status, stored.LogSeq, lines)
	}
	elapsed := got[len(got)-1].at.Sub(gate)
	rate := float64(lines) / elapsed.Seconds()
	rows, err := e.srv.Engine.Client().LogChunk.Query().Where(logchunk.JobID(jobID)).All(ctx)
	if err != nil {
		return err
	}
	chunks := make([]chunk, 0, len(rows))
	for _, c := range rows {
		chunks = append(chunks, chunk{firstSeq: c.FirstSeq, lastSeq: c.LastSeq, lines: c.Lines})
	}
	insert, err := bareInsert(ctx, e.databaseURL, chunks)
	if err != nil {
		return fmt.Errorf("bare insert: %w", err)
	}
	r.floors = append(r.floors, row{metric: fmt.Sprintf("bare insert of the same %d log chunks, one transaction each", len(chunks)),
		value: fmt.Sprintf("%.0f lines/s", insert)})
	r.add(row{metric: fmt.Sprintf("log throughput: `seq 1 %d` → websocket subscriber, every line in order (zero loss)", lines),
		value: fmt.Sprintf("%.0f lines/s (%s)", rate, elapsed.Round(time.Millisecond)),
		floor: fmt.Sprintf("bare insert %.0f lines/s", insert), ratio: fmt.Sprintf("%.2f of the floor", rate/insert),
		target: "≥ 20,000 lines/s, zero loss", verdict: verdict(rate >= 20000)})
	if ingestOK {
		ingest := float64(lines) / ingestEnd.Sub(gate).Seconds()
		r.add(row{metric: fmt.Sprintf("log ingest: `seq 1 %d` → every line stored (the job's log_seq, polled every 2 ms)", lines),
			value: fmt.Sprintf("%.0f lines/s (%s)", ingest, ingestEnd.Sub(gate).Round(time.Millisecond)),
			floor: fmt.Sprintf("bare insert %.0f lines/s", insert), ratio: fmt.Sprintf("%.2f of the floor", ingest/insert),
			target: "≥ 100k lines/s SQLite, ≥ 50k PostgreSQL", verdict: verdict(ingest >= 100000 || (e.databaseURL != "" && ingest >= 50000))})
	}
	// Ingest alone: the same job with no subscriber, until every line is stored.
	took, cpu, err := e.ingestOnly(ctx, def, gateDir, lines)
	if err != nil {
		return fmt.Errorf("ingest run: %w", err)
	}
	ingestAlone := float64(lines) / took.Seconds()
	r.add(row{metric: fmt.Sprintf("log ingest, no subscriber: `seq 1 %d` → every line stored", lines),
		value: fmt.Sprintf("%.0f lines/s (%s)", ingestAlone, took.Round(time.Millisecond)),
		floor: fmt.Sprintf("bare insert %.0f lines/s", insert), ratio: fmt.Sprintf("%.2f of the floor", ingestAlone/insert),
		target: "≥ 100k lines/s SQLite, ≥ 50k PostgreSQL", verdict: verdict(ingestAlone >= 100000 || (e.databaseURL != "" && ingestAlone >= 50000))})
	r.add(row{metric: "log ingest, no subscriber: CPU of this process (server and agent; getrusage) per 100,000 lines",
		value: fmt.Sprintf("%.3f CPU-s", cpu.Seconds()*100000/float64(lines)), floor: "–", ratio: "–", target: "–", verdict: "–"})
	r.note("Log throughput: %d lines stored in %d chunks (about %d lines per batch); time from opening the task's gate to the subscriber's last line.",
		lines, len(chunks), lines/max(len(chunks), 1))

	// Latency.
	got, _, _, err = e.followRelease(ctx, def, gateDir, map[string]string{"LINES": strconv.Itoa(paced), "PACED": "1"})
	if err != nil {
		return err
	}
	want := paced / 50 * 50
	if len(got) != want {
		return fmt.Errorf("latency run: %d lines received, want %d", len(got), want)
	}
	var lat dist
	for i, l := range got {
		if l.seq != i+1 {
			return fmt.Errorf("latency run: line %d has seq %d", i+1, l.seq)
		}
		printed, err := parseEpoch(l.text)
		if err != nil {
			return err
		}
		lat = append(lat, l.at.Sub(printed))
	}
	span := got[len(got)-1].at.Sub(got[0].at).Seconds()
	echo := floorEcho.pct(.5)
	r.add(row{metric: fmt.Sprintf("log latency: print → websocket subscriber, p50 / p99 (%d lines at %.0f lines/s)", want, float64(want)/span),
		value: ms(lat.pct(.5)) + " / " + ms(lat.pct(.99)),
		floor: "ws echo p50 " + ms(echo), ratio: ratio(float64(lat.pct(.5)), float64(echo)) + " / " + ratio(float64(lat.pct(.99)), float64(echo)),
		target: "p50 < 250 ms", verdict: verdict(lat.pct(.5) < 250*time.Millisecond)})
	r.note("Log latency includes the agent's batching (flush every %s or 64 KiB): it is the floor of any line, the websocket round trip is the floor of the transport.",
		"100 ms")
	return nil
}

// checkLines checks that got holds lines 1..n in order with the expected texts.
func checkLines(got []received, n int, text func(int) string) error {
	if len(got) != n {
		return fmt.Errorf("%d lines received, want %d", len(got), n)
	}
	for i, l := range got {
		if l.seq != i+1 || l.text != text(i+1) {
			return fmt.Errorf("line %d: seq %d %q", i+1, l.seq, l.text)
		}
	}
	return nil
}

// ingestOnly releases def printing lines with no subscriber, opens the gate and returns the time
// until the job's stored log holds every line (polled every 2 ms).
// The CPU time this process (server and agent) used meanwhile is returned too.
func (e *env) ingestOnly(ctx context.Context, def, gateDir string, lines int) (time.Duration, time.Duration, error) {
	var out struct {
		CreateRelease struct {
			ID           string `json:"id"`
			Environments []struct {
				Deployments []struct {
					ID string `json:"id"`
				} `json:"deployments"`
			} `json:"environments"`
		} `json:"createRelease"`
	}
	err := e.gql(`mutation($d: ID!, $v: [VariableInput!]) { createRelease(input: {definitionId: $d, variableOverrides: $v}) {
	    id environments { deployments { id } } } }`, map[string]any{"d": def,
		"v": []map[string]any{{"name": "LINES", "value": strconv.Itoa(lines)}, {"name": "PACED", "value": "0"}}}, &out)
	if err != nil {
		return 0, 0, err
	}
	if len(out.CreateRelease.Environments) != 1 || len(out.CreateRelease.Environments[0].Deployments) != 1 {
		return 0, 0, fmt.Errorf("unexpected release %+v", out.CreateRelease)
	}
	dep, _ := strconv.Atoi(out.CreateRelease.Environments[0].Deployments[0].ID)
	j, err := e.srv.Engine.Client().Job.Query().Where(job.DeploymentID(dep)).Only(ctx)
	if err != nil {
		return 0, 0, err
	}
	cpu0 := processCPU()
	gate := time.Now()
	if err := os.WriteFile(filepath.Join(gateDir, out.CreateRelease.ID), nil, 0o600); err != nil {
		return 0, 0, err
	}
	for deadline := gate.Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		stored, err := e.srv.Engine.Client().Job.Get(ctx, j.ID)
		if err != nil {
			return 0, 0, err
		}
		if stored.LogSeq >= int64(lines) {
			return time.Since(gate), processCPU() - cpu0, nil
		}
	}
	return 0, 0, errors.New("the log was not stored within 5 minutes")
}

// processCPU returns the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// followRelease creates a release of the gated definition with variable overrides, subscribes
// to its dev deployment's log over graphql-transport-ws (deploymentLogBatches, as the dashboard
// and `cairn logs -f` follow a log), opens the gate and returns every line
// received (with its arrival time), when the gate was opened, and the job id.
func (e *env) followRelease(ctx context.Context, def, gateDir string, vars map[string]string) ([]received, time.Time, int, error) {
	var overrides []map[string]any
	for k, v := range vars {
		overrides = append(overrides, map[string]any{"name": k, "value": v})
	}
	var out struct {
		CreateRelease struct {
			ID           string `json:"id"`
			Environments []struct {
				Deployments []struct {
					ID string `json:"id"`
				} `json:"deployments"`
			} `json:"environments"`
		} `json:"createRelease"`
	}
	err := e.gql(`mutation($d: ID!, $v: [VariableInput!]) { createRelease(input: {definitionId: $d, variableOverrides: $v}) {
	    id environments { deployments { id } } } }`, map[string]any{"d": def, "v": overrides}, &out)
	if err != nil {
		return nil, time.Time{}, 0, err
	}
	if len(out.CreateRelease.Environments) != 1 || len(out.CreateRelease.Environments[0].Deployments) != 1 {
		return nil, time.Time{}, 0, fmt.Errorf("unexpected release %+v", out.CreateRelease)
	}
	depID := out.CreateRelease.Environments[0].Deployments[0].ID
	dep, _ := strconv.Atoi(depID)
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.http.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, time.Time{}, 0, err
	}
	defer conn.CloseNow()
	conn.SetReadLimit(8 << 20)
	write := func(v any) error {
		b, _ := json.Marshal(v)
		return conn.Write(ctx, websocket.MessageText, b)
	}
	if err := write(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + e.token}}); err != nil {
		return nil, time.Time{}, 0, err
	}
	if _, b, err := conn.Read(ctx); err != nil || !strings.Contains(string(b), "connection_ack") {
		return nil, time.Time{}, 0, fmt.Errorf("connection_init: %s %v", b, err)
	}
	before := e.srv.Events().Subscribers()
	if err := write(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{
		"query": `subscription($d: ID!) { deploymentLogBatches(deploymentId: $d, fromSeq: 1) { fromSeq texts } }`, "variables": map[string]any{"d": depID}}}); err != nil {
		return nil, time.Time{}, 0, err
	}
	// Open the gate once the subscription is on the bus.
	for deadline := time.Now().Add(time.Minute); e.srv.Events().Subscribers() <= before; {
		if time.Now().After(deadline) {
			return nil, time.Time{}, 0, errors.New("the subscription never reached the bus")
		}
		time.Sleep(time.Millisecond)
	}
	j, err := e.srv.Engine.Client().Job.Query().Where(job.DeploymentID(dep)).Only(ctx)
	if err != nil {
		return nil, time.Time{}, 0, err
	}
	gate := time.Now()
	if err := os.WriteFile(filepath.Join(gateDir, out.CreateRelease.ID), nil, 0o600); err != nil {
		return nil, time.Time{}, 0, err
	}
	var got []received
	for {
		_, b, err := conn.Read(ctx)
		at := time.Now()
		if err != nil {
			return nil, time.Time{}, 0, fmt.Errorf("after %d lines: %w", len(got), err)
		}
		var m struct {
			Type    string `json:"type"`
			Payload struct {
				Data struct {
					DeploymentLogBatches struct {
						FromSeq int      `json:"fromSeq"`
						Texts   []string `json:"texts"`
					} `json:"deploymentLogBatches"`
				} `json:"data"`
			} `json:"payload"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, time.Time{}, 0, err
		}
		switch m.Type {
		case "next":
			b := m.Payload.Data.DeploymentLogBatches
			for i, text := range b.Texts {
				got = append(got, received{seq: b.FromSeq + i, text: text, at: at})
			}
		case "complete":
			return got, gate, j.ID, nil
		case "ping":
			_ = write(map[string]any{"type": "pong"})
		case "pong":
		default:
			return nil, time.Time{}, 0, errors.New("unexpected message " + string(b))
		}
	}
}
