package hook

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cairnhq/cairn/delivery"
)

// Shedding: a burst of CI notifications beyond what the server can work on
// in time is answered 503 with Retry-After (Jenkins and Azure DevOps retry),
// at once, instead of queueing until the sender times out.

// Limiter admits a webhook request only if it is likely to be answered
// within a budget, and bounds the requests in flight. The estimate is the
// requests already in flight, plus this one, times the measured time
// between completions while the endpoints were busy (a moving average): the
// rate at which the store sustains them, whatever it is (SQLite's single
// writer, a PostgreSQL pool, a slow CI server). A request that does not fit
// is answered 503 with Retry-After at once, and nothing is read or recorded
// for it; one that would exceed the bound on requests in flight waits at
// most Wait for a slot. A request arriving while none is in flight is always
// admitted, so the estimate keeps being measured.
type Limiter struct {
	max    int
	wait   time.Duration
	budget time.Duration
	now    func() time.Time

	mu       sync.Mutex
	inFlight int
	// busyFrom is when the last request ended, or when the first of the
	// requests in flight began if none ended since.
	busyFrom time.Time
	// interval is the moving average of the time between completions while
	// busy; 0 until the first completion.
	interval time.Duration
	// freed is closed, and cleared, when a request ends; waiters watch it.
	freed chan struct{}
}

// ShedRetryAfterSeconds is the Retry-After of a shed webhook request.
const ShedRetryAfterSeconds = 5

// startupInFlight is how many requests the estimate admits before any has
// completed: the budget is split as if each took a quarter of it.
const startupInFlight = 4

// LimiterConfig configures a Limiter.
type LimiterConfig struct {
	// MaxInFlight bounds the requests worked on at once (at least 1).
	MaxInFlight int
	// Wait is how long a request over MaxInFlight waits for a slot (0: not at
	// all).
	Wait time.Duration
	// Budget is the time a request should be answered in; one whose
	// estimate exceeds it is shed at once (0 or less: no estimate, only
	// MaxInFlight).
	Budget time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// NewLimiter returns a limiter as configured.
func NewLimiter(c LimiterConfig) *Limiter {
	l := &Limiter{max: max(c.MaxInFlight, 1), wait: max(c.Wait, 0), budget: max(c.Budget, 0), now: c.Now}
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

// Wrap returns next behind the limiter.
func (l *Limiter) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.acquire(r) {
			w.Header().Set("Retry-After", strconv.Itoa(ShedRetryAfterSeconds))
			writeJSON(w, http.StatusServiceUnavailable, Response{Result: delivery.DeliveryRejected,
				Reason: "too many webhook requests to answer in time; deliver again after Retry-After", Releases: []int{}})
			return
		}
		defer l.release()
		next.ServeHTTP(w, r)
	})
}

// acquire admits the request, waiting at most l.wait for a slot or until
// the request ends; false means shed.
func (l *Limiter) acquire(r *http.Request) bool {
	var deadline <-chan time.Time
	for {
		l.mu.Lock()
		ok, wait := l.admitLocked()
		if ok || !wait || l.wait == 0 {
			l.mu.Unlock()
			return ok
		}
		if l.freed == nil {
			l.freed = make(chan struct{})
		}
		freed := l.freed
		l.mu.Unlock()
		if deadline == nil {
			t := time.NewTimer(l.wait)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-freed:
		case <-deadline:
			return false
		case <-r.Context().Done():
			return false
		}
	}
}

// admitLocked takes a place if the request fits; wait says that it did not
// fit only for want of a slot (a refusal by the estimate is not waited on).
func (l *Limiter) admitLocked() (ok, wait bool) {
	if l.inFlight >= l.max {
		return false, true
	}
	if l.budget > 0 && l.inFlight > 0 && l.estimateLocked(l.inFlight+1) > l.budget {
		return false, false
	}
	if l.inFlight == 0 {
		l.busyFrom = l.now()
	}
	l.inFlight++
	return true, false
}

// estimateLocked is the expected time until the n-th request in flight is
// answered.
func (l *Limiter) estimateLocked(n int) time.Duration {
	each := l.interval
	if each == 0 {
		each = l.budget / startupInFlight
	}
	return time.Duration(n) * each
}

// release ends a request: the time since the previous completion (or since
// the endpoints became busy) is a sample of the interval, capped at the
// budget so that one slow request does not close the door for long.
func (l *Limiter) release() {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	sample := max(now.Sub(l.busyFrom), 0)
	l.busyFrom = now
	if l.budget > 0 {
		sample = min(sample, l.budget)
	}
	if l.interval == 0 {
		l.interval = max(sample, 1)
	} else {
		l.interval += (sample - l.interval) / 8
		l.interval = max(l.interval, 1)
	}
	if l.freed != nil {
		close(l.freed)
		l.freed = nil
	}
}

// InFlight returns the requests being worked on now.
func (l *Limiter) InFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inFlight
}
