package agent

import (
	"testing"
	"time"
)

func TestBackoffDoublesWithJitterUpToCap(t *testing.T) {
	t.Parallel()
	b := backoff{min: time.Second, max: 30 * time.Second}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i, w := range want {
		d := b.next()
		w *= time.Second
		if d < w/2 || d > w {
			t.Errorf("attempt %d: %s, want in [%s, %s]", i, d, w/2, w)
		}
	}
	b.reset()
	if d := b.next(); d > time.Second {
		t.Errorf("after reset: %s", d)
	}
}

// TestReconnectBoundsFollowTheServersGrace: once a Welcome has told the grace period, the backoff
// is capped at a fifth of it, so an agent holding jobs retries several times within the grace;
// a long grace leaves the configured bounds alone.
func TestReconnectBoundsFollowTheServersGrace(t *testing.T) {
	t.Parallel()
	cfg, err := Config{Server: "http://x", Name: "a", WorkDir: t.TempDir()}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		grace, lo, hi time.Duration
	}{
		{0, time.Second, 30 * time.Second},               // not told: the configured bounds
		{2 * time.Minute, time.Second, 24 * time.Second}, // the default grace
		{time.Hour, time.Second, 30 * time.Second},       // a long grace caps nothing
		{3 * time.Second, 600 * time.Millisecond, 600 * time.Millisecond},
		{time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}, // a floor: no busy loop
	} {
		r := &runner{cfg: cfg}
		r.grace.Store(int64(c.grace))
		lo, hi := r.reconnectBounds()
		if lo != c.lo || hi != c.hi {
			t.Errorf("grace %s: bounds [%s, %s], want [%s, %s]", c.grace, lo, hi, c.lo, c.hi)
		}
		b := backoff{min: lo, max: hi}
		var total time.Duration
		for range 10 {
			total += b.next()
		}
		if c.grace >= time.Second && c.grace <= 2*time.Minute && total > 10*c.grace/5 {
			t.Errorf("grace %s: ten waits took %s", c.grace, total)
		}
	}
}
