package agent

import (
	"sync"
	"time"

	"github.com/cairnhq/cairn/agentproto"
)

// batcher groups a job's log lines and hands them to flush when interval has passed since the
// first pending line or when maxBytes of text are pending, whichever comes first. Flushes are
// serialized and in order. It is safe for concurrent use.
type batcher struct {
	mu       sync.Mutex
	flushFn  func([]agentproto.LogLine)
	interval time.Duration
	maxBytes int
	pending  []agentproto.LogLine
	size     int
	timer    interface{ Stop() bool }
	// after starts the interval's timer: time.AfterFunc, or a test's hand-fired one.
	after func(time.Duration, func()) interface{ Stop() bool }
}

func afterFunc(d time.Duration, f func()) interface{ Stop() bool } { return time.AfterFunc(d, f) }

func newBatcher(interval time.Duration, maxBytes int, flush func([]agentproto.LogLine)) *batcher {
	return &batcher{flushFn: flush, interval: interval, maxBytes: maxBytes, after: afterFunc}
}

// Add queues one line.
func (b *batcher) Add(l agentproto.LogLine) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(b.pending, l)
	b.size += len(l.Text)
	switch {
	case b.size >= b.maxBytes:
		b.flushLocked()
	case len(b.pending) == 1:
		b.timer = b.after(b.interval, b.Flush)
	}
}

// Flush hands every pending line to flush now.
func (b *batcher) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *batcher) flushLocked() {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if len(b.pending) == 0 {
		return
	}
	batch := b.pending
	// The next batch is likely as long as this one: room for it at once.
	b.pending, b.size = make([]agentproto.LogLine, 0, len(batch)), 0
	b.flushFn(batch)
}
