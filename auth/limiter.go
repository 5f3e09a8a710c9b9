package auth

import (
	"sync"
	"time"
)

// LoginLimiter slows password guessing without locking the right password
// out. Failures are counted per account and client address together: past
// PerUser free failures, each further one doubles the wait before that
// address may try that account again (Base, 2·Base, 4·Base … at most
// Window). Another address (the account's owner at their desk) is not
// slowed by an attacker's failures, and a success from an address forgets
// that pair. A second, fixed-window count per address (PerAddr per Window,
// all usernames together) bounds spraying many accounts from one address.
// Unknown usernames are counted like known ones, so the limiter tells
// nothing about which exist. It is per process: with several replicas an
// attacker gets each replica's allowance.
type LoginLimiter struct {
	// Window is the per-address counting period and the longest delay
	// (default 15 minutes). A pair's failures are forgotten two Windows
	// after its last one.
	Window time.Duration
	// Base is the first delay past the free failures (default 1 second).
	Base time.Duration
	// PerUser is the failures an address may make on one account before
	// delays start (default 5); PerAddr the failures per Window of one
	// address over all accounts (default 50).
	PerUser, PerAddr int
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu      sync.Mutex
	entries map[string]*window
}

type window struct {
	start time.Time // first failure of the window (address) / last failure (pair)
	fails int
}

// maxLimiterEntries bounds the memory a flood of random usernames can take.
const maxLimiterEntries = 100_000

// pairMemory is how many Windows after its last failure a pair is
// forgotten: longer than the longest delay, so that waiting the delay out
// does not start the free failures again.
const pairMemory = 2

// maxShift caps the doubling so that the delay cannot overflow.
const maxShift = 30

func (l *LoginLimiter) defaults() (w, base time.Duration, perUser, perAddr int, now time.Time) {
	w, base, perUser, perAddr = l.Window, l.Base, l.PerUser, l.PerAddr
	if w <= 0 {
		w = 15 * time.Minute
	}
	if base <= 0 {
		base = time.Second
	}
	if perUser <= 0 {
		perUser = 5
	}
	if perAddr <= 0 {
		perAddr = 50
	}
	now = time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	return w, base, perUser, perAddr, now
}

func pairKey(username, addr string) string { return "p:" + addr + "\x00" + username }

// delay is how long after its last failure a pair with fails failures waits.
func delay(fails, perUser int, base, max time.Duration) time.Duration {
	if fails < perUser {
		return 0
	}
	shift := min(fails-perUser, maxShift)
	d := base << shift
	if d > max || d <= 0 {
		d = max
	}
	return d
}

// Allow reports whether a sign-in for username from addr may be tried now,
// and if not, how long until it may.
func (l *LoginLimiter) Allow(username, addr string) (bool, time.Duration) {
	w, base, perUser, perAddr, now := l.defaults()
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	if e := l.entries[pairKey(username, addr)]; e != nil && now.Sub(e.start) < pairMemory*w {
		if d := e.start.Add(delay(e.fails, perUser, base, w)).Sub(now); d > wait {
			wait = d
		}
	}
	if e := l.entries["a:"+addr]; e != nil && now.Sub(e.start) < w && e.fails >= perAddr {
		if d := e.start.Add(w).Sub(now); d > wait {
			wait = d
		}
	}
	return wait <= 0, max(wait, 0)
}

// Fail records a failed sign-in for username from addr.
func (l *LoginLimiter) Fail(username, addr string) {
	w, _, _, _, now := l.defaults()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.entries == nil {
		l.entries = make(map[string]*window)
	}
	if len(l.entries) >= maxLimiterEntries {
		for k, e := range l.entries {
			if now.Sub(e.start) >= pairMemory*w {
				delete(l.entries, k)
			}
		}
	}
	add := func(key string, restart bool) {
		e := l.entries[key]
		expiry := w
		if restart {
			expiry = pairMemory * w
		}
		if e == nil || now.Sub(e.start) >= expiry {
			if e == nil && len(l.entries) >= maxLimiterEntries {
				return // full of live windows: keep counting the ones we have
			}
			e = &window{start: now}
			l.entries[key] = e
		}
		e.fails++
		if restart {
			e.start = now // a pair's delay runs from its last failure
		}
	}
	add(pairKey(username, addr), true)
	add("a:"+addr, false)
}

// Succeed forgets the failures of username from addr (not the address's
// count over all accounts).
func (l *LoginLimiter) Succeed(username, addr string) {
	l.mu.Lock()
	delete(l.entries, pairKey(username, addr))
	l.mu.Unlock()
}
