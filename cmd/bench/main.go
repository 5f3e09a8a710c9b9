// Command bench measures Cairn's agent path on this machine and prints a Markdown report
// (BENCHMARKS.md holds the last one): dispatch latency, the end-to-end time of a three-environment
// release, log throughput and latency to a GraphQL subscriber, and the CPU cost of idle agents,
// each beside a floor measured in the same run (a bare fork/exec, a bare websocket echo round
// trip, a bare batched insert, an idle server).
//
//	go run ./cmd/bench                       # everything, SQLite, about 2 minutes
//	go run ./cmd/bench -only dispatch,logs   # some of it
//	go run ./cmd/bench -database-url postgres://…  # on an empty PostgreSQL database
//	go run ./cmd/bench -only scale           # 50,000 releases and a 1,000,000-line log
//	go run ./cmd/bench -only subscriptions   # 10,000 idle GraphQL subscriptions: memory and CPU
//	go run ./cmd/bench -only webhooks        # Jenkins notifications at 50/s for 30 s beside a bare handler
//	go run ./cmd/bench -only write -database-url postgres://…  # createRelease/s: SQLite, PostgreSQL ×1, ×3
//	go run ./cmd/bench -only retention       # 10,000 old releases pruned, dispatch beside it
//
// The server, its agent and the subscribers run in this process, as `cairn --dev` runs them;
// the idle-agent measurement runs the server in a child process so that getrusage counts the
// server alone.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cairnhq/cairn/internal/jobstages"
)

type options struct {
	jobs        int
	releases    int
	cancels     int
	lines       int
	pacedLines  int
	idleAgents  int
	crowd       int
	fanout      int
	backlog     int
	idleWindow  time.Duration
	idleRepeats int
	databaseURL string
	only        map[string]bool
	// scale: releases filled (a small stage, then the large one) and the long log's lines.
	scaleSmall, scaleReleases, scaleLines int
	// retentionReleases and retentionLines size the retention run.
	retentionReleases, retentionLines int
	// writeDuration is the length of each createRelease/s measurement of the write run.
	writeDuration time.Duration
	// writeWarmup is how long each write measurement runs before it counts.
	writeWarmup time.Duration
	// writeSetups and writeKinds narrow the write run (empty: all), to profile one setup.
	writeSetups, writeKinds map[string]bool
	writeClients            string
	// subscriptions: idle subscriptions opened, and where to write the server's heap profile.
	subscriptions int
	// webhooks: notifications per second and for how long.
	webhookRate     int
	webhookDuration time.Duration
	subHeapProfile  string
}

func main() {
	var o options
	var only string
	serveIdle := flag.Bool("serve-idle", false, "internal: run the server for the idle-agent measurement")
	serveSubs := flag.Bool("serve-subscriptions", false, "internal: run the server for the subscriptions measurement")
	flag.IntVar(&o.webhookRate, "webhook-rate", 50, "Jenkins notifications per second of the webhooks run")
	flag.DurationVar(&o.webhookDuration, "webhook-duration", 30*time.Second, "length of the webhooks run")
	flag.IntVar(&o.subscriptions, "subscriptions", 10000, "idle GraphQL subscriptions (one per websocket) of the subscriptions run")
	flag.StringVar(&o.subHeapProfile, "subscriptions-heapprofile", "", "write the server's heap profile, with the subscriptions open, to this file")
	flag.IntVar(&o.jobs, "jobs", 200, "jobs of the dispatch-latency run")
	flag.IntVar(&o.releases, "releases", 20, "releases of the three-environment run")
	flag.IntVar(&o.cancels, "cancels", 30, "deployments canceled in the cancel-latency run")
	flag.IntVar(&o.lines, "lines", 200000, "lines of the log-throughput job")
	flag.IntVar(&o.pacedLines, "paced-lines", 10000, "lines of the paced log-latency job (about 2,000 lines/s)")
	flag.IntVar(&o.idleAgents, "idle-agents", 1000, "idle agents connected for the CPU measurement")
	flag.IntVar(&o.fanout, "fanout-targets", 50, "targets of the fan-out run (one deployment to every target)")
	flag.IntVar(&o.crowd, "dispatch-crowd", 500, "other agents connected (none matching) in the second dispatch run; 0 skips it")
	flag.IntVar(&o.backlog, "dispatch-backlog", 50, "jobs no agent meets, waiting in the queue during the second dispatch run")
	flag.DurationVar(&o.idleWindow, "idle-window", 20*time.Second, "one window of the idle CPU measurement (with and without agents)")
	flag.IntVar(&o.idleRepeats, "idle-repeats", 3, "windows measured with agents connected (the median is reported)")
	flag.StringVar(&o.databaseURL, "database-url", "", "an empty PostgreSQL database (default: SQLite in a temporary directory)")
	flag.IntVar(&o.scaleSmall, "scale-small", 300, "releases of the scale run's first stage")
	flag.IntVar(&o.scaleReleases, "scale-releases", 50000, "releases of the scale run's second stage")
	flag.IntVar(&o.scaleLines, "scale-lines", 1000000, "lines of the scale run's long log (0: none)")
	flag.IntVar(&o.retentionReleases, "retention-releases", 10000, "old releases of the retention run")
	flag.IntVar(&o.retentionLines, "retention-lines", 50, "log lines of each release of the retention run")
	flag.DurationVar(&o.writeDuration, "write-duration", 5*time.Second, "length of each createRelease/s measurement of the write run")
	flag.DurationVar(&o.writeWarmup, "write-warmup", time.Second, "write: how long each measurement runs before it counts (connections opened, statements prepared and planned)")
	writeSetups := flag.String("write-setups", "", "write: comma-separated subset of sqlite, pg1, pg3 (default: all)")
	flag.StringVar(&o.writeClients, "write-clients", "", "write: comma-separated client counts (default: 1,4,16)")
	writeKinds := flag.String("write-kinds", "", "write: comma-separated subset of manual, after_release, own (default: all)")
	flag.StringVar(&only, "only", "dispatch,pipeline,cancel,logs,idle,fanout", "comma-separated subset of dispatch, pipeline, cancel, logs, idle, fanout, scale, write, retention, subscriptions, webhooks (scale, write, retention, subscriptions and webhooks run only when named)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	traceFile := flag.String("trace", "", "write a Go execution trace of the run to this file (go tool trace)")
	allocProfile := flag.String("allocprofile", "", "write the allocations of the run (pprof allocs profile, the default sampling) to this file at its end")
	stages := flag.Bool("stages", false, "dispatch: record and print the time each job spent in each stage of its dispatch (internal/jobstages)")
	flag.Parse()
	o.writeSetups, o.writeKinds = csvSet(*writeSetups), csvSet(*writeKinds)
	if *stages {
		jobstages.Enable()
	}
	if *traceFile != "" {
		f, err := os.Create(*traceFile)
		if err == nil && trace.Start(f) == nil {
			defer trace.Stop()
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	if *allocProfile != "" {
		defer func() {
			if f, err := os.Create(*allocProfile); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	o.only = map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		o.only[strings.TrimSpace(s)] = true
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case *serveIdle:
		err = runIdleServer(ctx, o)
	case *serveSubs:
		err = runSubscriptionServer(ctx, o)
	default:
		err = run(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		trace.Stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	r := &report{}
	db := "SQLite (temporary directory)"
	if o.databaseURL != "" {
		db = "PostgreSQL"
	}
	r.header = fmt.Sprintf("Machine: %s, %d cores (%s/%s), Go %s, database %s, load average at start %s.",
		cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), db, loadAverage())
	progress("measuring floors")
	fork, err := measureForkExec(200)
	if err != nil {
		return err
	}
	r.floors = append(r.floors, fork...)
	echo, err := measureWebsocketEcho(ctx, 2000)
	if err != nil {
		return err
	}
	r.floors = append(r.floors, echo)

	if o.only["dispatch"] || o.only["pipeline"] || o.only["cancel"] || o.only["logs"] || o.only["scale"] || o.only["retention"] || o.only["fanout"] || o.only["webhooks"] {
		e, err := startEnv(ctx, o.databaseURL)
		if err != nil {
			return err
		}
		defer e.close()
		if o.only["dispatch"] {
			progress("dispatch latency")
			if err := benchDispatch(ctx, e, o.jobs, r); err != nil {
				return fmt.Errorf("dispatch: %w", err)
			}
			if o.crowd > 0 {
				progress("dispatch latency with other agents connected")
				if err := benchDispatchCrowd(ctx, e, o.crowd, o.backlog, max(o.jobs/2, 1), r); err != nil {
					return fmt.Errorf("dispatch with other agents: %w", err)
				}
			}
		}
		if o.only["pipeline"] {
			progress("three-environment releases")
			if err := benchPipeline(ctx, e, o.releases, r); err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}
		}
		if o.only["cancel"] {
			progress("cancel latency")
			if err := benchCancel(ctx, e, o.cancels, r); err != nil {
				return fmt.Errorf("cancel: %w", err)
			}
		}
		if o.only["logs"] {
			progress("log throughput and latency")
			if err := benchLogs(ctx, e, o.lines, o.pacedLines, r); err != nil {
				return fmt.Errorf("logs: %w", err)
			}
		}
		if o.only["fanout"] {
			progress("fan-out to deployment-group targets")
			if err := benchFanOut(ctx, e, o.fanout, 3, r); err != nil {
				return fmt.Errorf("fan-out: %w", err)
			}
		}
		if o.only["webhooks"] {
			if err := benchWebhooks(ctx, e, o.webhookRate, o.webhookDuration, r); err != nil {
				return fmt.Errorf("webhooks: %w", err)
			}
		}
		if o.only["scale"] {
			if err := benchScale(ctx, e, o, r); err != nil {
				return fmt.Errorf("scale: %w", err)
			}
		}
		if o.only["retention"] {
			if err := benchRetention(ctx, e, o.retentionReleases, o.retentionLines, r); err != nil {
				return fmt.Errorf("retention: %w", err)
			}
		}
		e.close()
	}
	if o.only["write"] {
		if err := benchWrite(ctx, o, r); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	if o.only["subscriptions"] {
		progress("idle subscriptions")
		if err := benchSubscriptions(ctx, o, r); err != nil {
			return fmt.Errorf("subscriptions: %w", err)
		}
	}
	if o.only["idle"] {
		progress("idle agents")
		if err := benchIdle(ctx, o, r); err != nil {
			return fmt.Errorf("idle agents: %w", err)
		}
	}
	r.print(os.Stdout)
	return nil
}

func progress(what string) {
	fmt.Fprintf(os.Stderr, "bench: %s %s\n", time.Now().Format("15:04:05"), what)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// dist is a sample of durations.
type dist []time.Duration

func (d dist) pct(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1)*p + 0.5)
	return s[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// csvSet is a comma-separated list as a set (nil for an empty list).
func csvSet(list string) map[string]bool {
	if list == "" {
		return nil
	}
	set := map[string]bool{}
	for _, x := range strings.Split(list, ",") {
		set[strings.TrimSpace(x)] = true
	}
	return set
}
