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
