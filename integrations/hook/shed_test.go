package hook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/integrations/hook"
)

// TestLimiterWaiterThatGoesAwayTakesNoSlot: a request waiting for a slot
// whose client goes away is answered 503 at once (the wait is an hour) and
// takes nothing; the held slot frees when its request ends.
func TestLimiterWaiterThatGoesAwayTakesNoSlot(t *testing.T) {
	l := hook.NewLimiter(hook.LimiterConfig{MaxInFlight: 1, Wait: time.Hour})
	inside, release := make(chan struct{}), make(chan struct{})
	h := l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inside)
		<-release
	}))
	held := make(chan struct{})
	go func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil))
		close(held)
	}()
	<-inside
	ctx, cancel := context.WithCancel(context.Background())
	waited := make(chan *httptest.ResponseRecorder)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil).WithContext(ctx))
		waited <- rec
	}()
	cancel()
	select {
	case rec := <-waited:
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("a waiter whose client left: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter did not stop when its client left")
	}
	if n := l.InFlight(); n != 1 {
		t.Fatalf("%d in flight, want the held one", n)
	}
	close(release)
	<-held
	if n := l.InFlight(); n != 0 {
		t.Fatalf("%d in flight after the held request ended", n)
	}
}

// manualClock is a clock the test moves.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// heldRequests serves requests through a limiter; each admitted one waits
// inside the handler until the test ends it.
type heldRequests struct {
	t       *testing.T
	h       http.Handler
	entered chan chan struct{}
}

func newHeldRequests(t *testing.T, l *hook.Limiter) *heldRequests {
	hr := &heldRequests{t: t, entered: make(chan chan struct{})}
	hr.h = l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		end := make(chan struct{})
		hr.entered <- end
		<-end
		w.WriteHeader(http.StatusCreated)
	}))
	return hr
}

// send serves one request: admitted, it returns a function that ends it and
// waits for its answer; shed, it returns nil and checks the 503.
func (hr *heldRequests) send() func() {
	hr.t.Helper()
	answered := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		rec := httptest.NewRecorder()
		hr.h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
		answered <- rec
	}()
	select {
	case end := <-hr.entered:
		return func() {
			close(end)
			if rec := <-answered; rec.Code != http.StatusCreated {
				hr.t.Fatalf("an admitted request was answered %d", rec.Code)
			}
		}
	case rec := <-answered:
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			hr.t.Fatalf("a shed request: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
		}
		return nil
	case <-time.After(30 * time.Second):
		hr.t.Fatal("a request was neither admitted nor answered (did it wait for a slot?)")
		return nil
	}
}

// TestLimiterShedsWhatWouldMissTheBudget: the limiter admits a request only
// while (in flight + 1) × the measured time between completions fits the
// budget, and answers the others 503 with Retry-After at once, although a
// request over the in-flight bound would wait an hour for a slot; as
// completions come faster it admits more; a request arriving with none in
// flight is admitted whatever the estimate.
func TestLimiterShedsWhatWouldMissTheBudget(t *testing.T) {
	clock := &manualClock{now: time.Unix(1_000_000, 0)}
	l := hook.NewLimiter(hook.LimiterConfig{MaxInFlight: 32, Wait: time.Hour, Budget: 100 * time.Millisecond, Now: clock.Now})
	hr := newHeldRequests(t, l)

	// Before any completion the budget is split four ways.
	var ends []func()
	for range 4 {
		end := hr.send()
		if end == nil {
			t.Fatalf("request %d of the first four was shed", len(ends)+1)
		}
		ends = append(ends, end)
	}
	if hr.send() != nil {
		t.Fatal("a fifth request was admitted before any completion")
	}
	// Completions 50 ms apart: the interval is 50 ms (the first sample is taken
	// as it is, the next ones move the average by an eighth).
	for _, end := range ends {
		clock.advance(50 * time.Millisecond)
		end()
	}
	first := hr.send() // none in flight
	if first == nil {
		t.Fatal("a request with none in flight was shed")
	}
	second := hr.send() // 2 × 50 ms fits 100 ms
	if second == nil {
		t.Fatal("the second request (estimate 100 ms, budget 100 ms) was shed")
	}
	if hr.send() != nil {
		t.Fatal("a third request (estimate 150 ms) was admitted")
	}
	if n := l.InFlight(); n != 2 {
		t.Fatalf("%d in flight, want 2 (a shed request takes nothing)", n)
	}
	// Many completions 5 ms apart bring the interval near 5 ms: up to 20 fit.
	first()
	second()
	for range 60 {
		end := hr.send()
		if end == nil {
			t.Fatal("a request with none in flight was shed")
		}
		clock.advance(5 * time.Millisecond)
		end()
	}
	ends = ends[:0]
	for len(ends) < 40 {
		end := hr.send()
		if end == nil {
			break
		}
		ends = append(ends, end)
	}
	if n := len(ends); n < 15 || n > 20 {
		t.Fatalf("%d admitted with completions 5 ms apart and a 100 ms budget, want 15–20", n)
	}
	// One very slow completion counts as at most the budget: the next request
	// with none in flight is admitted.
	clock.advance(time.Hour)
	for _, end := range ends {
		end()
	}
	end := hr.send()
	if end == nil {
		t.Fatal("a request with none in flight was shed after a slow completion")
	}
	end()
}

// TestLimiterWithoutBudgetBoundsInFlight: with no budget only the bound in
// flight applies; a request over it and not willing to wait is shed.
func TestLimiterWithoutBudgetBoundsInFlight(t *testing.T) {
	l := hook.NewLimiter(hook.LimiterConfig{MaxInFlight: 3})
	hr := newHeldRequests(t, l)
	var ends []func()
	for range 3 {
		end := hr.send()
		if end == nil {
			t.Fatal("a request within the bound was shed")
		}
		ends = append(ends, end)
	}
	if hr.send() != nil {
		t.Fatal("a fourth request was admitted over a bound of 3")
	}
	for _, end := range ends {
		end()
	}
	if n := l.InFlight(); n != 0 {
		t.Fatalf("%d in flight after every request ended", n)
	}
}
