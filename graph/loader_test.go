package graph

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoaderBatches: concurrent loads join one batch, fetched once with every key; a key loaded
// again is answered from the batch that has it; a later load starts a new batch; a fetch error
// reaches every load of its batch; a canceled caller stops waiting.
func TestLoaderBatches(t *testing.T) {
	var calls atomic.Int32
	var mu sync.Mutex
	var batches [][]int
	fail := false
	l := newLoader(func(ctx context.Context, keys []int) (map[int]string, error) {
		calls.Add(1)
		mu.Lock()
		batches = append(batches, slices.Sorted(slices.Values(keys)))
		f := fail
		mu.Unlock()
		if f {
			return nil, errors.New("database down")
		}
		out := map[int]string{}
		for _, k := range keys {
			if k%2 == 0 {
				out[k] = "v" + string(rune('a'+k))
			}
		}
		return out, nil
	})
	l.window, l.maxWait = 200*time.Millisecond, 2*time.Second // generous: no split under -race

	ctx := context.Background()
	var wg sync.WaitGroup
	got := make([]string, 10)
	for k := range 10 {
		wg.Go(func() {
			v, err := l.load(ctx, k)
			if err != nil {
				t.Error(err)
			}
			got[k] = v
		})
	}
	wg.Wait()
	if calls.Load() != 1 || !slices.Equal(batches[0], []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("%d fetches, batches %v; want one of keys 0..9", calls.Load(), batches)
	}
	if got[4] != "ve" || got[3] != "" {
		t.Fatalf("values %q", got)
	}
	if v, err := l.load(ctx, 4); v != "ve" || err != nil || calls.Load() != 1 {
		t.Fatalf("cached key: %q %v after %d fetches", v, err, calls.Load())
	}

	mu.Lock()
	fail = true
	mu.Unlock()
	if _, err := l.load(ctx, 20); err == nil || calls.Load() != 2 {
		t.Fatalf("failed fetch: %v after %d fetches", err, calls.Load())
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.load(canceled, 30); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled load: %v", err)
	}
}

// TestLoaderSizeLimit: a batch that reaches loadBatchMax keys runs at once, without waiting for
// its window.
func TestLoaderSizeLimit(t *testing.T) {
	var calls atomic.Int32
	l := newLoader(func(ctx context.Context, keys []int) (map[int]int, error) {
		calls.Add(1)
		return map[int]int{}, nil
	})
	l.window, l.maxWait = time.Hour, time.Hour
	var wg sync.WaitGroup
	for k := range loadBatchMax {
		wg.Go(func() { l.load(context.Background(), k) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a full batch waited for its window")
	}
	if calls.Load() != 1 {
		t.Fatalf("%d fetches for one full batch", calls.Load())
	}
}
