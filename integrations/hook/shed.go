package hook

import (
	"net/http"
	"strconv"
	"time"

	"github.com/cairnhq/cairn/delivery"
)

// Shedding: a burst of CI notifications beyond what the server can work on
// at once is answered 503 with Retry-After (Jenkins and Azure DevOps retry),
// promptly, instead of queueing until the sender times out.

// Limiter bounds the webhook requests in flight across the endpoints it
// wraps. A request waits at most Wait for a slot; then it is answered 503
// with Retry-After and nothing is read or recorded for it.
type Limiter struct {
	slots chan struct{}
	wait  time.Duration
}

// ShedRetryAfterSeconds is the Retry-After of a shed webhook request.
const ShedRetryAfterSeconds = 5

// NewLimiter returns a limiter of n requests in flight (at least 1) that
// waits at most wait for a slot.
func NewLimiter(n int, wait time.Duration) *Limiter {
	return &Limiter{slots: make(chan struct{}, max(n, 1)), wait: max(wait, 0)}
}

// Wrap returns next behind the limiter.
func (l *Limiter) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.acquire(r) {
			w.Header().Set("Retry-After", strconv.Itoa(ShedRetryAfterSeconds))
			writeJSON(w, http.StatusServiceUnavailable, Response{Result: delivery.DeliveryRejected,
				Reason: "too many webhook requests in flight; deliver again after Retry-After", Releases: []int{}})
			return
		}
		defer func() { <-l.slots }()
		next.ServeHTTP(w, r)
	})
}

// acquire takes a slot, waiting at most l.wait or until the request ends.
func (l *Limiter) acquire(r *http.Request) bool {
	select {
	case l.slots <- struct{}{}:
		return true
	default:
	}
	if l.wait == 0 {
		return false
	}
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-r.Context().Done():
		return false
	}
}

// InFlight returns the requests holding a slot now.
func (l *Limiter) InFlight() int { return len(l.slots) }
