// Package jobstages records, when enabled, when each job passed the stages of its dispatch
// (row written, commit, event, claim, assignment sent, agent received, process started), for
// `cmd/bench -only dispatch -stages`. Disabled (the default, and always in the server and the
// agent binaries) a mark costs one atomic load.
package jobstages

import (
	"sync"
	"sync/atomic"
	"time"
)

var (
	on    atomic.Bool
	mu    sync.Mutex
	marks map[int][]Mark
)

// Mark is one stage a job passed, and when (the process's clock).
type Mark struct {
	Stage string
	At    time.Time
}

// Enable starts recording, forgetting what was recorded before.
func Enable() {
	mu.Lock()
	marks = map[int][]Mark{}
	mu.Unlock()
	on.Store(true)
}

// Enabled reports whether marks are recorded.
func Enabled() bool { return on.Load() }

// Stamp records that job passed stage now.
func Stamp(job int, stage string) {
	if !on.Load() {
		return
	}
	At(job, stage, time.Now())
}

// At records that job passed stage at t; a stage already recorded for the job keeps its first time.
func At(job int, stage string, t time.Time) {
	if !on.Load() || job == 0 {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	for _, m := range marks[job] {
		if m.Stage == stage {
			return
		}
	}
	marks[job] = append(marks[job], Mark{Stage: stage, At: t})
}

// Of returns the marks of job, in the order recorded.
func Of(job int) []Mark {
	mu.Lock()
	defer mu.Unlock()
	return append([]Mark(nil), marks[job]...)
}
