package hook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cairnhq/cairn/integrations/hook"
)

// TestLimiterWaiterThatGoesAwayTakesNoSlot: a request waiting for a slot
// whose client goes away is answered 503 at once (the wait is an hour) and
// takes nothing; the held slot frees when its request ends.
func TestLimiterWaiterThatGoesAwayTakesNoSlot(t *testing.T) {
	l := hook.NewLimiter(1, time.Hour)
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
