package auth_test

import (
	"testing"
	"time"

	"github.com/cairnhq/cairn/auth"
)

type fakeNow struct{ t time.Time }

func (f *fakeNow) now() time.Time { return f.t }

func TestLoginLimiterPerUsername(t *testing.T) {
	clk := &fakeNow{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := &auth.LoginLimiter{Window: 15 * time.Minute, PerUser: 3, PerAddr: 100, Now: clk.now}
	for i := range 3 {
		if ok, _ := l.Allow("pam", "10.0.0.1"); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
		l.Fail("pam", "10.0.0.1")
	}
	ok, wait := l.Allow("pam", "10.0.0.2")
	if ok || wait != 15*time.Minute {
		t.Fatalf("after 3 failures: Allow = %v, %s; want refused for 15m (from any address)", ok, wait)
	}
	if ok, _ := l.Allow("sam", "10.0.0.1"); !ok {
		t.Error("another username is refused")
	}
	clk.t = clk.t.Add(10 * time.Minute)
	if _, wait := l.Allow("pam", "10.0.0.1"); wait != 5*time.Minute {
		t.Errorf("retry after %s, want 5m", wait)
	}
	clk.t = clk.t.Add(5 * time.Minute)
	if ok, _ := l.Allow("pam", "10.0.0.1"); !ok {
		t.Error("still refused after the window")
	}
}

func TestLoginLimiterPerAddressAndSuccess(t *testing.T) {
	clk := &fakeNow{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := &auth.LoginLimiter{PerUser: 2, PerAddr: 4, Now: clk.now}
	// Spraying many usernames from one address hits the address limit;
	// unknown usernames count like known ones.
	for _, u := range []string{"a", "b", "c", "d"} {
		l.Fail(u, "10.0.0.9")
	}
	if ok, _ := l.Allow("e", "10.0.0.9"); ok {
		t.Error("a fifth username from the same address is allowed")
	}
	if ok, _ := l.Allow("e", "10.0.0.10"); !ok {
		t.Error("another address is refused")
	}
	// A success forgets the username's failures.
	l.Fail("pam", "10.0.0.1")
	l.Succeed("pam")
	l.Fail("pam", "10.0.0.1")
	if ok, _ := l.Allow("pam", "10.0.0.1"); !ok {
		t.Error("failures before a success still count")
	}
}
