package dispatch

import "time"

// Observer is told what the hub does, for metrics: a consumer-side interface, so that this
// package knows nothing of the metrics library. Its methods are called on the dispatcher's and
// the sessions' paths and must return at once.
type Observer interface {
	// JobAssigned reports a job claimed for an agent, wait after it was queued.
	JobAssigned(wait time.Duration)
	// LogLinesReceived reports n log lines of a batch that the engine stored or already held
	// (a batch resent after a reconnect counts again).
	LogLinesReceived(n int)
}

type nopObserver struct{}

func (nopObserver) JobAssigned(time.Duration) {}
func (nopObserver) LogLinesReceived(int)      {}

// Connected returns the number of agents connected to this hub.
func (h *Hub) Connected() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}
