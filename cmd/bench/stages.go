package main

import (
	"fmt"
	"io"
	"math"
	"runtime/metrics"
	"strings"
	"time"

	"github.com/cairnhq/cairn/internal/jobstages"
)

// stageOrder is the path of a dispatched job, in the order its stages happen (jobstages marks,
// plus the times read from the database and the task's stamp file).
var stageOrder = []string{
	"queued_at",             // the clock read for the job row (server)
	"row written",           // its INSERT returned
	"tx body done",          // the rest of the release's transaction ran
	"events stored",         // its events stored (sealed on SQLite)
	"committed",             // COMMIT returned
	"published",             // the sealed events handed to the bus (PostgreSQL: after the seal)
	"event received",        // the hub's event loop read job.queued
	"round began",           // the dispatch round that claimed it began
	"claim requested",       // the claim of this job was called (the round read the queue, agents' slots)
	"claim tx began",        // the claim transaction began (SQLite: the writer was free)
	"claim committed",       // it committed
	"assignment built",      // BuildAssignment returned
	"queued for the writer", // the message was in the session's outbox
	"written to the socket", // the session's writer's Write returned
	"agent decoded",         // the agent read and decoded it
	"agent accepted",        // the agent accepted it (JobAccepted spooled, job goroutine next)
	"agent forks",           // the task's process is about to start (directories, script, environment done)
	"process started",       // StepStarted of the task (fork/exec returned), from the database
	"first command",         // $EPOCHREALTIME of the task's first command
}

// stageTimes collects, per stage, the time from the previous stage and from queued_at.
type stageTimes struct {
	step, total map[string]dist
	missing     map[string]int
}

func newStageTimes() *stageTimes {
	return &stageTimes{step: map[string]dist{}, total: map[string]dist{}, missing: map[string]int{}}
}

// add records one job's stages: its jobstages marks and the extra times given.
func (s *stageTimes) add(job int, extra map[string]time.Time) {
	at := map[string]time.Time{}
	for _, m := range jobstages.Of(job) {
		at[m.Stage] = m.At
	}
	for k, v := range extra {
		at[k] = v
	}
	start, ok := at["queued_at"]
	if !ok {
		s.missing["queued_at"]++
		return
	}
	prev := start
	for _, st := range stageOrder[1:] {
		t, ok := at[st]
		if !ok {
			s.missing[st]++
			continue
		}
		s.step[st] = append(s.step[st], t.Sub(prev))
		s.total[st] = append(s.total[st], t.Sub(start))
		prev = t
	}
}

// print writes the per-stage table.
func (s *stageTimes) print(w io.Writer, title string) {
	fmt.Fprintf(w, "\n%s: per stage, time since the previous stage and since queued_at (ms)\n\n", title)
	fmt.Fprintln(w, "| stage | step p50 | step p90 | step p99 | step max | from queued_at p50 | p99 |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, st := range stageOrder[1:] {
		d, t := s.step[st], s.total[st]
		if len(d) == 0 {
			fmt.Fprintf(w, "| %s | – | – | – | – | – | – |\n", st)
			continue
		}
		fmt.Fprintf(w, "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", st, msf(d.pct(.5)), msf(d.pct(.9)), msf(d.pct(.99)), msf(d.pct(1)),
			msf(t.pct(.5)), msf(t.pct(.99)))
	}
	if len(s.missing) > 0 {
		var parts []string
		for k, v := range s.missing {
			parts = append(parts, fmt.Sprintf("%s: %d", k, v))
		}
		fmt.Fprintf(w, "\nStages not recorded for some jobs: %s\n", strings.Join(parts, ", "))
	}
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// runtimeSample reads the Go runtime's scheduling-latency and GC-pause histograms (cumulative
// since the process started).
type runtimeSample struct {
	sched, gc *metrics.Float64Histogram
	gcs       uint64
}

func sampleRuntime() runtimeSample {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}, {Name: "/sched/pauses/total/gc:seconds"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return runtimeSample{sched: s[0].Value.Float64Histogram(), gc: s[1].Value.Float64Histogram(), gcs: s[2].Value.Uint64()}
}

// describeRuntime says, between two samples, how long goroutines waited to run (p50, p99, max
// bucket) and the GC's stop-the-world pauses.
func describeRuntime(a, b runtimeSample) string {
	return fmt.Sprintf("goroutine scheduling latency %s; GC cycles %d, stop-the-world pauses %s",
		histDelta(a.sched, b.sched), b.gcs-a.gcs, histDelta(a.gc, b.gc))
}

func histDelta(a, b *metrics.Float64Histogram) string {
	counts := make([]uint64, len(b.Counts))
	var n uint64
	for i := range b.Counts {
		counts[i] = b.Counts[i] - a.Counts[i]
		n += counts[i]
	}
	if n == 0 {
		return "(none)"
	}
	q := func(p float64) string {
		want := uint64(math.Ceil(p * float64(n)))
		var c uint64
		for i, k := range counts {
			c += k
			if c >= want {
				hi := b.Buckets[i+1]
				if math.IsInf(hi, 1) {
					hi = b.Buckets[i]
				}
				return fmt.Sprintf("%.3f", hi*1000)
			}
		}
		return "?"
	}
	return fmt.Sprintf("n=%d, p50 ≤ %s ms, p99 ≤ %s ms, p99.9 ≤ %s ms, max ≤ %s ms", n, q(.5), q(.99), q(.999), q(1))
}
