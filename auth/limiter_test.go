package auth_test

import (
	"testing"
	"time"

	"github.com/cairnhq/cairn/auth"
)

type fakeNow struct{ t time.Time }

func (f *fakeNow) now() time.Time { return f.t }

// TestLoginLimiterSlowsGuessingPerAddress: past the free failures, each
// failure of one address on one account doubles its wait; the same account
// from another address (its owner) is not slowed, and nothing locks for
// good: after the wait the next try is allowed.
func TestLoginLimiterSlowsGuessingPerAddress(t *testing.T) {
	clk := &fakeNow{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := &auth.LoginLimiter{Window: 15 * time.Minute, Base: time.Second, PerUser: 3, PerAddr: 1000, Now: clk.now}
	for i := range 3 {
		if ok, _ := l.Allow("admin", "10.0.0.66"); !ok {
			t.Fatalf("free attempt %d refused", i+1)
		}
		l.Fail("admin", "10.0.0.66")
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		ok, wait := l.Allow("admin", "10.0.0.66")
		if ok || wait != want {
			t.Fatalf("after %d failures: Allow = %v, %s; want refused for %s", 3+i, ok, wait, want)
		}
		// The owner, from another address, is never slowed by it.
		if ok, _ := l.Allow("admin", "10.0.0.1"); !ok {
			t.Fatal("the account is locked for every address")
		}
		clk.t = clk.t.Add(want)
		if ok, _ := l.Allow("admin", "10.0.0.66"); !ok {
			t.Fatalf("still refused after waiting %s", want)
		}
		l.Fail("admin", "10.0.0.66")
	}
	// The delay is capped at the window; a hundred more failures wait no longer.
	for range 100 {
		clk.t = clk.t.Add(15 * time.Minute)
		l.Fail("admin", "10.0.0.66")
	}
	if _, wait := l.Allow("admin", "10.0.0.66"); wait != 15*time.Minute {
		t.Fatalf("wait %s, want the 15m cap", wait)
	}
	clk.t = clk.t.Add(15 * time.Minute)
	if ok, _ := l.Allow("admin", "10.0.0.66"); !ok {
		t.Fatal("locked out for good")
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
	// A success forgets the pair's failures.
	l.Fail("pam", "10.0.0.1")
	l.Fail("pam", "10.0.0.1")
	l.Succeed("pam", "10.0.0.1")
	l.Fail("pam", "10.0.0.1")
	if ok, _ := l.Allow("pam", "10.0.0.1"); !ok {
		t.Error("failures before a success still count")
	}
}
