package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/server"
)

// The subscriptions measurement: N idle graphql-transport-ws subscriptions (releaseEvents, live
// only, one per websocket as a browser tab opens it) to a server in a child process, whose
// resident memory (VmRSS), live heap and CPU are read before and after, so that nothing of the
// clients is counted.

// runSubscriptionServer is the child process of the subscriptions measurement: a server on a
// loopback port that prints "READY <url> <API token>" and then answers, one line each:
// "stats" with its CPU time (ns), VmRSS (KiB), heap in use after a GC (bytes), goroutines and bus
// subscribers; "cpu" with its CPU time alone (no GC); "freeos" by collecting and returning free memory to
// the OS (debug.FreeOSMemory); "heap <file>" by writing a heap profile;
// "quit".
func runSubscriptionServer(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "cairn-bench-subs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := server.New(ctx, server.Config{DataDir: dir, DatabaseURL: o.databaseURL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer s.Close()
	sys := delivery.SystemActor("bench")
	admin, err := s.Engine.EnsureAdmin(ctx, "admin")
	if err != nil {
		return err
	}
	row, err := s.Engine.CreateAPIToken(ctx, sys, "bench", admin.ID, 24*time.Hour, nil)
	if err != nil {
		return err
	}
	token, err := s.Keys.IssueAPIToken(admin.Username, row.Jti, row.ExpiresAt, nil)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.Start()
	hs := &http.Server{Handler: s.Handler()}
	go hs.Serve(ln)
	defer hs.Close()
	fmt.Printf("READY http://%s %s\n", ln.Addr(), token)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		switch cmd {
		case "cpu":
			fmt.Printf("%d\n", processCPU().Nanoseconds())
		case "freeos":
			// A GC (goroutine stacks shrink at each) that also returns the freed
			// memory to the OS at once, instead of the scavenger's pace.
			runtime.GC()
			debug.FreeOSMemory()
			fmt.Println("ok")
		case "stats":
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			fmt.Printf("%d %d %d %d %d %d\n", processCPU().Nanoseconds(), vmRSS(), m.HeapInuse, runtime.NumGoroutine(), s.Events().Subscribers(), m.StackInuse)
		case "heap":
			f, err := os.Create(arg)
			if err != nil {
				return err
			}
			runtime.GC()
			err = pprof.WriteHeapProfile(f)
			f.Close()
			if err != nil {
				return err
			}
			// Beside it, what the goroutines are doing (debug=1: grouped by stack).
			if g, err := os.Create(arg + ".goroutines.txt"); err == nil {
				pprof.Lookup("goroutine").WriteTo(g, 1)
				g.Close()
			}
			fmt.Println("ok")
		case "quit":
			return nil
		}
	}
	return in.Err()
}

// vmRSS is this process's resident set in KiB (/proc/self/status), 0 when unknown.
func vmRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// subServer is the parent's handle on the child process.
type subServer struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	url   string
	token string
}

type subStats struct {
	cpu                   time.Duration
	rssKiB, heap, stacks  int64
	goroutines, listeners int
}

func startSubscriptionServer(o options) (*subServer, error) {
	args := []string{"-serve-subscriptions"}
	if o.databaseURL != "" {
		args = append(args, "-database-url", o.databaseURL)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &subServer{cmd: cmd, in: in, out: bufio.NewScanner(outPipe)}
	if !s.out.Scan() {
		s.stop()
		return nil, errors.New("subscription server did not start")
	}
	f := strings.Fields(s.out.Text())
	if len(f) != 3 || f[0] != "READY" {
		s.stop()
		return nil, fmt.Errorf("subscription server said %q", s.out.Text())
	}
	s.url, s.token = f[1], f[2]
	return s, nil
}

func (s *subServer) ask(line string) (string, error) {
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		return "", err
	}
	if !s.out.Scan() {
		return "", errors.New("subscription server gone")
	}
	return s.out.Text(), nil
}

func (s *subServer) stats() (subStats, error) {
	a, err := s.ask("stats")
	if err != nil {
		return subStats{}, err
	}
	var st subStats
	var ns int64
	_, err = fmt.Sscanf(a, "%d %d %d %d %d %d", &ns, &st.rssKiB, &st.heap, &st.goroutines, &st.listeners, &st.stacks)
	st.cpu = time.Duration(ns)
	return st, err
}

// cpuOver returns the child's CPU use over window as a percentage of one core.
func (s *subServer) cpuOver(ctx context.Context, window time.Duration) (float64, error) {
	read := func() (time.Duration, error) {
		a, err := s.ask("cpu")
		if err != nil {
			return 0, err
		}
		ns, err := strconv.ParseInt(a, 10, 64)
		return time.Duration(ns), err
	}
	c0, err := read()
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	select {
	case <-time.After(window):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	c1, err := read()
	if err != nil {
		return 0, err
	}
	return 100 * float64(c1-c0) / float64(time.Since(t0)), nil
}

func (s *subServer) stop() {
	io.WriteString(s.in, "quit\n")
	s.in.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// benchSubscriptions measures the server idle, then with o.subscriptions idle subscriptions open:
// resident memory and live heap per subscription, goroutines per subscription, and CPU while
// idle (the server's keep-alive pings included).
func benchSubscriptions(ctx context.Context, o options, r *report) error {
	s, err := startSubscriptionServer(o)
	if err != nil {
		return err
	}
	defer s.stop()
	baseCPU, err := s.cpuOver(ctx, o.idleWindow)
	if err != nil {
		return err
	}
	base, err := s.stats()
	if err != nil {
		return err
	}
	r.floors = append(r.floors, row{metric: "subscription server with no subscription",
		value: fmt.Sprintf("VmRSS %d MiB, heap in use %d MiB, %d goroutines, CPU %.2f%% of a core over %s",
			base.rssKiB/1024, base.heap>>20, base.goroutines, baseCPU, o.idleWindow)})

	t0 := time.Now()
	conns, err := openIdleSubscriptions(ctx, s.url, s.token, o.subscriptions)
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	if err != nil {
		return err
	}
	took := time.Since(t0)
	// Each subscription is on the bus once the resolver has subscribed: wait for all of them.
	var with subStats
	for deadline := time.Now().Add(2 * time.Minute); ; {
		if with, err = s.stats(); err != nil {
			return err
		}
		if with.listeners-base.listeners >= o.subscriptions || time.Now().After(deadline) {
			break
		}
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Let the connection burst settle (first keep-alive pings), then measure.
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	busy, err := s.cpuOver(ctx, o.idleWindow)
	if err != nil {
		return err
	}
	if with, err = s.stats(); err != nil {
		return err
	}
	if o.subHeapProfile != "" {
		if a, err := s.ask("heap " + o.subHeapProfile); err != nil || a != "ok" {
			return fmt.Errorf("heap profile: %s %v", a, err)
		}
	}
	n := int64(len(conns))
	rss := (with.rssKiB - base.rssKiB) * 1024
	heap := with.heap - base.heap
	r.add(row{metric: fmt.Sprintf("%d idle releaseEvents subscriptions (graphql-transport-ws, one per websocket): server VmRSS growth", n),
		value: fmt.Sprintf("%d MiB (%.1f KiB per subscription)", rss>>20, float64(rss)/float64(n)/1024),
		floor: fmt.Sprintf("no subscription: %d MiB", base.rssKiB/1024), ratio: ratio(float64(with.rssKiB), float64(base.rssKiB)),
		target: "10k < 400 MB", verdict: verdict(float64(rss)*10000/float64(n) < 400e6)})
	r.add(row{metric: "the same: heap in use growth (after a GC; goroutine stacks not included)",
		value: fmt.Sprintf("%d MiB (%.1f KiB per subscription)", heap>>20, float64(heap)/float64(n)/1024),
		floor: fmt.Sprintf("no subscription: %d MiB", base.heap>>20), ratio: ratio(float64(with.heap), float64(base.heap)), target: "–", verdict: "–"})
	r.add(row{metric: "the same: server goroutines per subscription",
		value: fmt.Sprintf("%.1f (%d in all; their stacks %d MiB, %.1f KiB per subscription)", float64(with.goroutines-base.goroutines)/float64(n), with.goroutines,
			with.stacks>>20, float64(with.stacks-base.stacks)/float64(n)/1024),
		floor: fmt.Sprintf("no subscription: %d", base.goroutines), target: "–", verdict: "–"})
	if a, err := s.ask("freeos"); err != nil || a != "ok" {
		return fmt.Errorf("freeos: %s %v", a, err)
	}
	freed, err := s.stats()
	if err != nil {
		return err
	}
	frss := (freed.rssKiB - base.rssKiB) * 1024
	r.add(row{metric: "the same, measured again after a GC that returns free memory to the OS (debug.FreeOSMemory): server VmRSS growth",
		value: fmt.Sprintf("%d MiB (%.1f KiB per subscription; heap in use %.1f KiB, stacks %.1f KiB)", frss>>20, float64(frss)/float64(n)/1024,
			float64(freed.heap-base.heap)/float64(n)/1024, float64(freed.stacks-base.stacks)/float64(n)/1024),
		floor: fmt.Sprintf("no subscription: %d MiB", base.rssKiB/1024), ratio: ratio(float64(freed.rssKiB), float64(base.rssKiB)),
		target: "10k < 400 MB", verdict: verdict(float64(frss)*10000/float64(n) < 400e6)})
	r.add(row{metric: fmt.Sprintf("the same: server CPU while idle over %s (keep-alive pings every 15 s included)", o.idleWindow),
		value: fmt.Sprintf("%.2f%% of a core", busy),
		floor: fmt.Sprintf("no subscription: %.2f%%", baseCPU), ratio: ratio(busy, baseCPU),
		target: "< 2% of a core", verdict: verdict(busy < 2)})
	r.note("Subscriptions: %d websockets opened in %s (connection_init with an API token, then one `releaseEvents` subscription each, live events only), the server in a child process so that its VmRSS, heap and getrusage count the server alone; bus subscribers after: %d.",
		n, took.Round(time.Millisecond), with.listeners)
	if o.subHeapProfile != "" {
		r.note("Heap profile of the server with the subscriptions open: %s (`go tool pprof -sample_index=inuse_space %s`).", o.subHeapProfile, o.subHeapProfile)
	}
	return nil
}

// openIdleSubscriptions opens n websockets, 16 at a time, each with one releaseEvents
// subscription; a reader on each answers the server's graphql-transport-ws pings.
func openIdleSubscriptions(ctx context.Context, url, token string, n int) ([]*websocket.Conn, error) {
	conns := make([]*websocket.Conn, n)
	var firstErr error
	var mu sync.Mutex
	work := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				c, err := openIdleSubscription(ctx, url, token)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("subscription %d: %w", i, err)
					}
					mu.Unlock()
					continue
				}
				conns[i] = c
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	out := conns[:0]
	for _, c := range conns {
		if c != nil {
			out = append(out, c)
		}
	}
	return out, firstErr
}

func openIdleSubscription(ctx context.Context, url, token string) (*websocket.Conn, error) {
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, err
	}
	write := func(v any) error {
		b, _ := json.Marshal(v)
		return conn.Write(ctx, websocket.MessageText, b)
	}
	if err := write(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + token}}); err != nil {
		conn.CloseNow()
		return nil, err
	}
	if _, b, err := conn.Read(ctx); err != nil || !strings.Contains(string(b), "connection_ack") {
		conn.CloseNow()
		return nil, fmt.Errorf("connection_init: %s %v", b, err)
	}
	if err := write(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{
		"query": `subscription { releaseEvents { __typename } }`}}); err != nil {
		conn.CloseNow()
		return nil, err
	}
	go func() {
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			if strings.Contains(string(b), `"ping"`) {
				conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"pong"}`))
			}
		}
	}()
	return conn, nil
}
