package agent

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/agentproto"
)

func TestBatcherFlushesBySize(t *testing.T) {
	t.Parallel()
	var batches [][]agentproto.LogLine
	// An hour-long interval: only size can flush.
	b := newBatcher(time.Hour, 100, func(l []agentproto.LogLine) { batches = append(batches, l) })
	for range 25 {
		b.Add(agentproto.LogLine{Text: strings.Repeat("x", 10)})
	}
	if len(batches) != 2 || len(batches[0]) != 10 || len(batches[1]) != 10 {
		t.Fatalf("batches by size: got %d batches", len(batches))
	}
	b.Flush()
	if len(batches) != 3 || len(batches[2]) != 5 {
		t.Fatalf("explicit flush: got %d batches", len(batches))
	}
	b.Flush()
	if len(batches) != 3 {
		t.Fatal("flushing an empty batcher produced a batch")
	}
}

func TestBatcherFlushesByTime(t *testing.T) {
	t.Parallel()
	got := make(chan []agentproto.LogLine, 1)
	b := newBatcher(20*time.Millisecond, 1<<20, func(l []agentproto.LogLine) { got <- l })
	// The interval's timer is fired by hand: the test decides when the interval has passed.
	var asked []time.Duration
	var fire func()
	b.after = func(d time.Duration, f func()) interface{ Stop() bool } {
		asked, fire = append(asked, d), f
		return stopper{}
	}
	b.Add(agentproto.LogLine{Text: "a"})
	b.Add(agentproto.LogLine{Text: "b"})
	select {
	case l := <-got:
		t.Fatalf("flushed before the interval: %+v", l)
	default:
	}
	if len(asked) != 1 || asked[0] != 20*time.Millisecond {
		t.Fatalf("timers asked for: %v; want one of 20ms (from the first pending line)", asked)
	}
	fire()
	select {
	case l := <-got:
		if len(l) != 2 || l[0].Text != "a" || l[1].Text != "b" {
			t.Fatalf("batch = %+v", l)
		}
	default:
		t.Fatal("no flush when the interval passed")
	}
}

type stopper struct{}

func (stopper) Stop() bool { return true }

func TestBatcherKeepsOrderUnderConcurrency(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []int
	b := newBatcher(time.Millisecond, 50, func(l []agentproto.LogLine) {
		mu.Lock()
		defer mu.Unlock()
		for _, x := range l {
			seen = append(seen, x.Step)
		}
	})
	for i := range 2000 {
		b.Add(agentproto.LogLine{Step: i, Text: "0123456789"})
	}
	b.Flush()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2000 {
		t.Fatalf("got %d lines", len(seen))
	}
	for i, s := range seen {
		if s != i {
			t.Fatalf("line %d out of order: %d", i, s)
		}
	}
}

func BenchmarkBatcher(b *testing.B) {
	n := 0
	bt := newBatcher(agentproto.LogBatchInterval, agentproto.LogBatchBytes, func(l []agentproto.LogLine) { n += len(l) })
	line := agentproto.LogLine{Step: 1, Text: strings.Repeat("x", 120)}
	b.ReportAllocs()
	for b.Loop() {
		bt.Add(line)
	}
	bt.Flush()
}
