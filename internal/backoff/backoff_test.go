package backoff

import (
	"context"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	p := Policy{Base: 30 * time.Second, Max: time.Hour}
	want := []time.Duration{30 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute,
		8 * time.Minute, 16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
	for n, w := range want {
		if got := p.Delay(n); got != w { // n = 0 is taken as 1
			t.Errorf("Delay(%d) = %v, want %v", n, got, w)
		}
	}
	if got := p.Delay(1 << 30); got != time.Hour {
		t.Errorf("Delay(huge) = %v", got)
	}
	if got := (Policy{}).Delay(3); got != time.Second {
		t.Errorf("zero policy: %v", got)
	}
	if got := (Policy{Base: time.Minute, Max: time.Second}).Delay(5); got != time.Minute {
		t.Errorf("Max below Base: %v", got)
	}
	j := Policy{Base: time.Second, Max: 8 * time.Second, Jitter: 0.5}
	for range 200 {
		if d := j.Delay(4); d < 4*time.Second || d > 8*time.Second {
			t.Fatalf("jittered delay %v outside [4s, 8s]", d)
		}
	}
	if d := (Policy{Base: time.Second, Jitter: 7}).Delay(1); d < 0 || d > time.Second {
		t.Errorf("jitter above 1: %v", d)
	}
}

func TestRetrier(t *testing.T) {
	r := Retrier{Policy: Policy{Base: time.Second, Max: 4 * time.Second}}
	var got []time.Duration
	for range 4 {
		got = append(got, r.Next())
	}
	r.Reset()
	got = append(got, r.Next())
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Error("Sleep outlived its context")
	}
	if !Sleep(context.Background(), time.Millisecond) {
		t.Error("Sleep did not pass")
	}
}
