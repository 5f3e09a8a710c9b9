package main

import (
	"bufio"
	"bytes"
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
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/agentproto"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/server"
)

// runIdleServer is the child process of the idle-agent measurement: a server on a loopback port
// that prints "READY <url> <registration token>" and then answers each "cpu" line on stdin with
// its own user+system CPU time in nanoseconds and its max RSS in KiB (getrusage), until "quit".
func runIdleServer(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "cairn-bench-idle-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := server.New(ctx, server.Config{DataDir: dir, DatabaseURL: o.databaseURL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer s.Close()
	token, _, err := s.Engine.CreateAgentRegistration(ctx, delivery.SystemActor("bench"), "", max(2*o.idleAgents, 1), 0)
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
	defer pprof.StopCPUProfile()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "cpu":
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
				return err
			}
			fmt.Printf("%d %d\n", ru.Utime.Nano()+ru.Stime.Nano(), ru.Maxrss)
		case "profile":
			// CAIRN_BENCH_CPUPROFILE: profile the measured window with agents connected.
			f, err := os.Create(os.Getenv("CAIRN_BENCH_CPUPROFILE"))
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
		case "endprofile":
			pprof.StopCPUProfile()
		case "quit":
			return nil
		}
	}
	return in.Err()
}

// idleServer is the parent's handle on the child process.
type idleServer struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	url   string
	token string
}

func startIdleServer(o options) (*idleServer, error) {
	args := []string{"-serve-idle", "-idle-agents", strconv.Itoa(o.idleAgents)}
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
	s := &idleServer{cmd: cmd, in: in, out: bufio.NewScanner(outPipe)}
	if !s.out.Scan() {
		s.stop()
		return nil, errors.New("idle server did not start")
	}
	f := strings.Fields(s.out.Text())
	if len(f) != 3 || f[0] != "READY" {
		s.stop()
		return nil, fmt.Errorf("idle server said %q", s.out.Text())
	}
	s.url, s.token = f[1], f[2]
	return s, nil
}

// cpu returns the child's CPU time so far and its max RSS in KiB.
func (s *idleServer) cpu() (time.Duration, int64, error) {
	if _, err := io.WriteString(s.in, "cpu\n"); err != nil {
		return 0, 0, err
	}
	if !s.out.Scan() {
		return 0, 0, errors.New("idle server gone")
	}
	var ns, rss int64
	if _, err := fmt.Sscanf(s.out.Text(), "%d %d", &ns, &rss); err != nil {
		return 0, 0, err
	}
	return time.Duration(ns), rss, nil
}

func (s *idleServer) stop() {
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

// cpuOver returns the child's CPU use over window as a percentage of one core.
func (s *idleServer) cpuOver(ctx context.Context, window time.Duration) (float64, int64, error) {
	c0, _, err := s.cpu()
	if err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	select {
	case <-time.After(window):
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	c1, rss, err := s.cpu()
	if err != nil {
		return 0, 0, err
	}
	return 100 * float64(c1-c0) / float64(time.Since(t0)), rss, nil
}

// benchIdle measures the server's CPU with no agent, then with o.idleAgents lightweight agents
// connected that keep the v1 heartbeat as agent.Run does (hello, then a reader answering the
// server's pings, and agentproto.PingWhileSilent), then, for comparison, with as many that ping
// the server every PingInterval on their own schedule; each over o.idleWindow.
func benchIdle(ctx context.Context, o options, r *report) error {
	s, err := startIdleServer(o)
	if err != nil {
		return err
	}
	defer s.stop()
	base, _, err := s.cpuOver(ctx, o.idleWindow)
	if err != nil {
		return err
	}
	r.floors = append(r.floors, row{metric: fmt.Sprintf("server with no agent, CPU over %s", o.idleWindow), value: fmt.Sprintf("%.2f%% of a core", base)})

	// measure connects the agents and returns the server's CPU over o.idleRepeats consecutive
	// windows (sorted), its max RSS and how long connecting took. This VM's CPU accounting is
	// noisy (steal time): the median of several windows is reported, with their range.
	measure := func(name string, pingAfter time.Duration, profile bool) ([]float64, int64, time.Duration, error) {
		t0 := time.Now()
		conns, err := connectIdleAgents(ctx, s.url, s.token, name, o.idleAgents, pingAfter)
		defer func() {
			for _, c := range conns {
				c.CloseNow()
			}
		}()
		if err != nil {
			return nil, 0, 0, err
		}
		connectTook := time.Since(t0)
		// Skip the connection burst's tail (first pings, last-seen writes) before measuring.
		select {
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
			return nil, 0, 0, ctx.Err()
		}
		profile = profile && os.Getenv("CAIRN_BENCH_CPUPROFILE") != ""
		if profile {
			io.WriteString(s.in, "profile\n")
		}
		var runs []float64
		var rss int64
		for range max(o.idleRepeats, 1) {
			busy, r, err := s.cpuOver(ctx, o.idleWindow)
			if err != nil {
				return nil, 0, 0, err
			}
			runs, rss = append(runs, busy), r
		}
		if profile {
			io.WriteString(s.in, "endprofile\n")
		}
		slices.Sort(runs)
		return runs, rss, connectTook, nil
	}
	median := func(runs []float64) float64 { return runs[len(runs)/2] }
	spreadOf := func(runs []float64) string {
		if len(runs) == 1 {
			return ""
		}
		return fmt.Sprintf(", median of %d windows of %s, range %.2f–%.2f%%", len(runs), o.idleWindow, runs[0], runs[len(runs)-1])
	}
	runs, rss, took, err := measure("idle", agentproto.AgentPingAfter, true)
	if err != nil {
		return err
	}
	busy := median(runs)
	// perPing is the server's CPU per ping round trip, when the agents ping (or are pinged) every
	// period.
	perPing := func(busy float64, period time.Duration) string {
		pings := float64(o.idleAgents) * float64(o.idleWindow) / float64(period)
		cpu := busy / 100 * float64(o.idleWindow)
		return fmt.Sprintf("%.0f µs", cpu/pings/float64(time.Microsecond))
	}
	r.add(row{metric: fmt.Sprintf("%d idle agents connected, heartbeat as agent.Run keeps it (the server pings them every %s, in one burst): server CPU (getrusage of the server process)", o.idleAgents, agentproto.PingInterval),
		value: fmt.Sprintf("%.2f%% of a core (max RSS %d MiB; %s of CPU per ping%s)", busy, rss/1024, perPing(busy-base, agentproto.PingInterval), spreadOf(runs)),
		floor: fmt.Sprintf("no agent: %.2f%%", base), ratio: ratio(busy, base),
		target: "< 1% of a core", verdict: verdict(busy < 1)})
	r.note("Idle agents: %d lightweight websocket clients registered and connected in %s (register over HTTP, hello, welcome, then a reader, which answers the server's pings, and agentproto.PingWhileSilent, the heartbeat agent.Run runs); the server runs in a child process so that its getrusage counts the server alone. The server pings every agent it has not heard from every %s, all in one burst; the agents then never need to ping (they would after %s of silence).",
		o.idleAgents, took.Round(time.Millisecond), agentproto.PingInterval, agentproto.AgentPingAfter)
	// Wait for the server to see the first set go before the second connects.
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	// For comparison, pings spread over time: each agent pings every 4 s after it connected, often
	// enough that the server never pings it (it pings agents silent for half its interval).
	spread := agentproto.PingInterval * 2 / 5
	runs, rss, _, err = measure("spread", spread, false)
	if err != nil {
		return err
	}
	busy = median(runs)
	r.add(row{metric: fmt.Sprintf("for comparison: %d idle agents each pinging the server every %s on its own schedule (spread over time, so that nearly every ping wakes an idle server): server CPU", o.idleAgents, spread),
		value: fmt.Sprintf("%.2f%% of a core (max RSS %d MiB; %s of CPU per ping%s)", busy, rss/1024, perPing(busy-base, spread), spreadOf(runs)),
		floor: fmt.Sprintf("no agent: %.2f%%", base), ratio: ratio(busy, base), target: "none set", verdict: "–"})
	return nil
}

// connectIdleAgents registers and connects n agents, 8 at a time.
func connectIdleAgents(ctx context.Context, url, token, prefix string, n int, pingAfter time.Duration) ([]*websocket.Conn, error) {
	conns := make([]*websocket.Conn, n)
	errs := make(chan error, n)
	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				c, err := connectIdleAgent(ctx, url, token, fmt.Sprintf("%s-%04d", prefix, i), pingAfter)
				if err != nil {
					errs <- err
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
	close(errs)
	out := conns[:0]
	for _, c := range conns {
		if c != nil {
			out = append(out, c)
		}
	}
	if err := <-errs; err != nil {
		return out, err
	}
	return out, nil
}

// connectIdleAgent registers and connects one agent that then only reads and pings the server
// after pingAfter of silence.
func connectIdleAgent(ctx context.Context, url, token, name string, pingAfter time.Duration) (*websocket.Conn, error) {
	body, _ := json.Marshal(agentproto.RegisterRequest{Token: token, Name: name, Version: "bench", OS: runtime.GOOS, Arch: runtime.GOARCH})
	resp, err := http.Post(url+agentproto.RegisterPath, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	var reg agentproto.RegisterResponse
	err = json.NewDecoder(resp.Body).Decode(&reg)
	resp.Body.Close()
	if err != nil || reg.Credential == "" {
		return nil, fmt.Errorf("registering %s: %s %v", name, resp.Status, err)
	}
	heard := new(agentproto.Heard)
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+agentproto.ConnectPath, &websocket.DialOptions{
		HTTPHeader:     http.Header{"Authorization": {"Bearer " + reg.Credential}},
		Subprotocols:   []string{agentproto.Subprotocol},
		OnPingReceived: heard.OnPing, OnPongReceived: heard.OnPong,
	})
	if err != nil {
		return nil, fmt.Errorf("connecting %s: %w", name, err)
	}
	conn.SetReadLimit(agentproto.MaxMessageBytes)
	hello, _ := json.Marshal(agentproto.Hello{Type: agentproto.TypeHello, Name: name, Version: "bench", OS: runtime.GOOS, Arch: runtime.GOARCH,
		SystemCapabilities: map[string]string{}, UserCapabilities: map[string]string{}, MaxJobs: 1,
		RunningJobs: []agentproto.JobProgress{}, FinishedJobs: []agentproto.JobProgress{}})
	if err := conn.Write(ctx, websocket.MessageText, hello); err != nil {
		conn.CloseNow()
		return nil, err
	}
	_, b, err := conn.Read(ctx)
	if err != nil || !strings.Contains(string(b), `"welcome"`) {
		conn.CloseNow()
		return nil, fmt.Errorf("%s: no welcome: %s %v", name, b, err)
	}
	// Reading answers the server's pings; nothing else arrives for an idle agent.
	heard.Mark()
	go func() {
		for {
			if _, _, err := conn.Read(context.Background()); err != nil {
				return
			}
			heard.Mark()
		}
	}()
	go agentproto.PingWhileSilent(ctx, conn, heard, pingAfter)
	return conn, nil
}
