// Command eventbench measures event fan-out (BENCHMARKS.md, "Event
// fan-out"): N websocket clients follow agentEvents over GraphQL
// (graphql-transport-ws), then N clients follow a bare websocket broadcast
// of the same event bus without GraphQL (the floor), in one run against one
// in-process server. Events are real engine commits (an agent enabled and
// disabled in turn). For each phase it reports the deliveries per second
// (subscribers × events / time from the first commit to the last delivery)
// and the latency of each event from its transaction to its last subscriber
// (p50, p99, max). Each transport runs twice: a burst (commits back to
// back: the throughput, latency includes queueing) and paced (-rate commits
// per second: the latency of an event on a quiet server). -cpuprofile
// writes a CPU profile of the GraphQL paced phase, from its first commit to
// its last delivery. The cpu/delivery column is the process's CPU time
// (server and clients, user and system) over the same span per delivery:
// on a loaded machine, where the latencies say more about the other work
// than about this one, it still compares two builds.
//
//	go run ./cmd/eventbench -subscribers 1000 -events 200 -rate 20
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/event"
	"github.com/cairnhq/cairn/server"
)

func main() {
	subscribers := flag.Int("subscribers", 1000, "concurrent subscribers per phase")
	events := flag.Int("events", 200, "events committed per phase")
	rate := flag.Float64("rate", 20, "commits per second of the paced phases (latency without queueing)")
	dsn := flag.String("database-url", "", "PostgreSQL DSN (default: SQLite in a temporary directory)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the GraphQL paced phase to this file")
	flag.Parse()
	if err := run(*subscribers, *events, *rate, *dsn, *cpuprofile); err != nil {
		fmt.Fprintln(os.Stderr, "eventbench:", err)
		os.Exit(1)
	}
}

func run(n, events int, rate float64, dsn, cpuprofile string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "eventbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := server.New(ctx, server.Config{DataDir: dir, DatabaseURL: dsn, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer s.Close()
	s.Start()
	mux := http.NewServeMux()
	mux.Handle("/graphql", s.Handler())
	mux.Handle("/raw", rawBroadcast(s))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	defer hs.Close()
	base := "ws://" + ln.Addr().String()

	admin, err := s.Engine.EnsureAdmin(ctx, "admin")
	if err != nil {
		return err
	}
	sys := delivery.SystemActor("bench")
	row, err := s.Engine.CreateAPIToken(ctx, sys, "bench", admin.ID, time.Hour, nil)
	if err != nil {
		return err
	}
	token, err := s.Keys.IssueAPIToken("admin", row.Jti, row.ExpiresAt, nil)
	if err != nil {
		return err
	}
	reg, _, err := s.Engine.CreateAgentRegistration(ctx, sys, "", 1, time.Hour)
	if err != nil {
		return err
	}
	agent, _, err := s.Engine.RegisterAgent(ctx, reg, delivery.RegisterAgentInput{Name: "bench"})
	if err != nil {
		return err
	}
	enabled := true
	fire := func() error {
		enabled = !enabled
		_, err := s.Engine.SetAgentEnabled(ctx, sys, agent.ID, enabled)
		return err
	}

	fmt.Printf("subscribers %d, events %d per phase, paced at %.0f/s, database %s\n\n", n, events, rate,
		map[bool]string{true: "SQLite", false: "PostgreSQL"}[dsn == ""])
	fmt.Printf("%-34s %-7s %10s %14s %10s %10s %10s %14s\n", "transport", "commits", "commits/s", "deliveries/s", "p50", "p99", "max", "cpu/delivery")
	for i, p := range []struct {
		name string
		dial func(context.Context) (*client, error)
	}{
		{"GraphQL agentEvents (ws)", func(ctx context.Context) (*client, error) {
			return dialGraphQL(ctx, base+"/graphql", token, lastSeq(ctx, s))
		}},
		{"bare websocket broadcast (floor)", func(ctx context.Context) (*client, error) { return dialRaw(ctx, base+"/raw") }},
	} {
		for _, mode := range []struct {
			name  string
			pause time.Duration
		}{{"burst", 0}, {"paced", time.Duration(float64(time.Second) / rate)}} {
			profile := ""
			if i == 0 && mode.pause > 0 {
				profile = cpuprofile
			}
			r, err := phase(n, events, p.dial, fire, mode.pause, profile)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", p.name, mode.name, err)
			}
			fmt.Printf("%-34s %-7s %10.0f %14.0f %10s %10s %10s %14s\n", p.name, mode.name, r.commitRate, r.deliveryRate,
				r.p50.Round(100*time.Microsecond), r.p99.Round(100*time.Microsecond), r.max.Round(100*time.Microsecond),
				r.cpuPerDelivery.Round(100*time.Nanosecond))
		}
	}
	return nil
}

// lastSeq is the sequence of the newest stored event.
func lastSeq(ctx context.Context, s *server.Server) int64 {
	last, err := s.Engine.Client().Event.Query().Order(ent.Desc(event.FieldSequence)).First(ctx)
	if err != nil {
		return 0
	}
	return last.Sequence
}

// result of one phase.
type result struct {
	commitRate, deliveryRate float64
	p50, p99, max            time.Duration
	cpuPerDelivery           time.Duration
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// client is one subscriber: it records when each sequence arrived and the
// event's transaction time.
type client struct {
	conn *websocket.Conn
	// seqs, recv and times are indexed by arrival order.
	seqs  []int64
	recv  []time.Time
	times []time.Time
}

// phase connects n clients, commits events (back to back, or one every
// pause), and waits until each client has every event. A profile path
// names the file of a CPU profile from the first commit to the last
// delivery.
func phase(n, events int, dial func(context.Context) (*client, error), fire func() error, pause time.Duration, profile string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	clients := make([]*client, n)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		derr error
	)
	sem := make(chan struct{}, 32)
	for i := range clients {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dial(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && derr == nil {
				derr = err
			}
			clients[i] = c
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.conn.CloseNow()
			}
		}
	}()
	if derr != nil {
		return result{}, derr
	}
	// Every client reads until it has all events.
	var readers sync.WaitGroup
	errs := make(chan error, n)
	for _, c := range clients {
		readers.Add(1)
		go func() {
			defer readers.Done()
			if err := c.read(ctx, events); err != nil {
				errs <- err
			}
		}()
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return result{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return result{}, err
		}
		defer pprof.StopCPUProfile()
	}
	cpu0 := cpuTime()
	start := time.Now()
	for i := range events {
		if i > 0 && pause > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(i) * pause)))
		}
		if err := fire(); err != nil {
			return result{}, err
		}
	}
	committed := time.Since(start)
	readers.Wait()
	cpu := cpuTime() - cpu0
	if profile != "" {
		pprof.StopCPUProfile()
	}
	close(errs)
	if err := <-errs; err != nil {
		return result{}, err
	}
	// Per event: its last arrival.
	last := map[int64]time.Time{}
	txTime := map[int64]time.Time{}
	end := start
	for _, c := range clients {
		for i, seq := range c.seqs {
			if c.recv[i].After(last[seq]) {
				last[seq] = c.recv[i]
			}
			txTime[seq] = c.times[i]
			if c.recv[i].After(end) {
				end = c.recv[i]
			}
		}
	}
	var lat []time.Duration
	for seq, t := range last {
		lat = append(lat, t.Sub(txTime[seq]))
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	return result{
		commitRate:   float64(events) / committed.Seconds(),
		deliveryRate: float64(n*events) / end.Sub(start).Seconds(),
		p50:          pct(0.50), p99: pct(0.99), max: lat[len(lat)-1],
		cpuPerDelivery: cpu / time.Duration(n*events),
	}, nil
}

// read receives events until it has want of them.
func (c *client) read(ctx context.Context, want int) error {
	for len(c.seqs) < want {
		_, data, err := c.conn.Read(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		var m struct {
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
			// Raw broadcast messages are the event itself.
			Sequence int64     `json:"sequence"`
			Time     time.Time `json:"time"`
		}
		if err := json.Unmarshal(data, &m); err != nil {
			return err
		}
		switch m.Type {
		case "ping":
			_ = c.conn.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
			continue
		case "next":
			var p struct {
				Data struct {
					AgentEvents struct {
						Sequence int64     `json:"sequence"`
						Time     time.Time `json:"time"`
					} `json:"agentEvents"`
				} `json:"data"`
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				return err
			}
			m.Sequence, m.Time = p.Data.AgentEvents.Sequence, p.Data.AgentEvents.Time
		case "agent.changed":
		default:
			if strings.Contains(m.Type, "error") || m.Type == "complete" {
				return fmt.Errorf("subscription: %s %s", m.Type, m.Payload)
			}
			continue
		}
		c.seqs = append(c.seqs, m.Sequence)
		c.recv = append(c.recv, now)
		c.times = append(c.times, m.Time)
	}
	return nil
}

// dialGraphQL subscribes to agentEvents after sequence after.
func dialGraphQL(ctx context.Context, url, token string, after int64) (*client, error) {
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, err
	}
	c := &client{conn: conn}
	send := func(v any) error {
		b, _ := json.Marshal(v)
		return conn.Write(ctx, websocket.MessageText, b)
	}
	if err := send(map[string]any{"type": "connection_init", "payload": map[string]string{"authorization": "Bearer " + token}}); err != nil {
		return nil, err
	}
	if _, _, err := conn.Read(ctx); err != nil { // connection_ack
		return nil, err
	}
	// After the last event before the phase: no event can be missed
	// however late the server attaches the subscription.
	err = send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query":     `subscription($after: Int64) { agentEvents(afterSequence: $after) { ... on AgentStatusEvent { sequence time } } }`,
		"variables": map[string]any{"after": after}}})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// dialRaw connects to the bare broadcast and waits until it is subscribed.
func dialRaw(ctx context.Context, url string) (*client, error) {
	conn, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	if _, _, err := conn.Read(ctx); err != nil { // "ready"
		return nil, err
	}
	return &client{conn: conn}, nil
}

// rawBroadcast is the floor: every event of the bus, as JSON, to every
// websocket, with the same bounded buffer per subscriber and no GraphQL.
func rawBroadcast(s *server.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		events, unsubscribe := s.Events().Subscribe()
		defer unsubscribe()
		if err := conn.Write(r.Context(), websocket.MessageText, []byte(`{"type":"ready"}`)); err != nil {
			return
		}
		ctx := conn.CloseRead(r.Context())
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-events:
				if !ok {
					return
				}
				if ev.Sequence == 0 {
					continue
				}
				b, _ := json.Marshal(ev)
				if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
					return
				}
			}
		}
	})
}
