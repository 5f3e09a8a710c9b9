package auth

import (
	"sync"
	"time"
)

// LoginLimiter counts failed sign-ins per key (a username, a client
// address) in fixed windows and refuses further attempts on a key past its
// limit until the window ends. It is per process: with several replicas an
// attacker gets each replica's allowance, which still bounds guessing to a
// few dozen passwords per window. Unknown usernames are counted like known
// ones, so the limiter tells nothing about which exist.
type LoginLimiter struct {
	// Window is the counting period (default 15 minutes).
	Window time.Duration
	// PerUser and PerAddr are the failures allowed per window for one
	// username and for one client address (defaults 10 and 50).
	PerUser, PerAddr int
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu      sync.Mutex
	entries map[string]*window
}

type window struct {
	start time.Time
	fails int
}

// maxLimiterEntries bounds the memory a flood of random usernames can take.
const maxLimiterEntries = 100_000

func (l *LoginLimiter) defaults() (time.Duration, int, int, time.Time) {
	w, u, a := l.Window, l.PerUser, l.PerAddr
	if w <= 0 {
		w = 15 * time.Minute
	}
	if u <= 0 {
		u = 10
	}
	if a <= 0 {
		a = 50
	}
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	return w, u, a, now
}

// Allow reports whether a sign-in for username from addr may be tried now,
// and if not, how long until it may.
func (l *LoginLimiter) Allow(username, addr string) (bool, time.Duration) {
	w, perUser, perAddr, now := l.defaults()
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range []struct {
		key   string
		limit int
	}{{"u:" + username, perUser}, {"a:" + addr, perAddr}} {
		e := l.entries[k.key]
		if e == nil || now.Sub(e.start) >= w || e.fails < k.limit {
			continue
		}
		if d := e.start.Add(w).Sub(now); d > wait {
			wait = d
		}
	}
	return wait == 0, wait
}

// Fail records a failed sign-in for username from addr.
func (l *LoginLimiter) Fail(username, addr string) {
	w, _, _, now := l.defaults()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.entries == nil {
		l.entries = make(map[string]*window)
	}
	if len(l.entries) >= maxLimiterEntries {
		for k, e := range l.entries {
			if now.Sub(e.start) >= w {
				delete(l.entries, k)
			}
		}
	}
	for _, key := range []string{"u:" + username, "a:" + addr} {
		e := l.entries[key]
		if e == nil || now.Sub(e.start) >= w {
			if e == nil && len(l.entries) >= maxLimiterEntries {
				continue // full of live windows: keep counting the ones we have
			}
			e = &window{start: now}
			l.entries[key] = e
		}
		e.fails++
	}
}

// Succeed forgets the failures of username (not of the address).
func (l *LoginLimiter) Succeed(username string) {
	l.mu.Lock()
	delete(l.entries, "u:"+username)
	l.mu.Unlock()
}
