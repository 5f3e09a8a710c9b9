package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/cairnhq/cairn/agentproto"
)

// spool holds everything the agent owes the server: per job, the reports (accepted, steps,
// result) and the log lines not yet acknowledged. The connection's writer drains it; acks shrink
// it; a new connection starts sending again from the last acknowledgement. It is bounded per job
// by maxBytes of unacknowledged log text: a job that produces more waits in appendLines.
//
// A finished job's state is also written to dir (when set), so that an agent restart does not lose
// a result the server has not acknowledged.
type spool struct {
	dir      string
	maxBytes int

	// persistMu serializes the writing of finished jobs' files (persist).
	persistMu sync.Mutex

	mu      sync.Mutex
	jobs    map[string]*jobSpool
	order   []string      // job ids, oldest first: sending order
	oneShot [][]byte      // messages sent once on the current connection (jobRejected)
	notify  chan struct{} // cap 1: something to send
	changed chan struct{} // closed and replaced on every change (acks, new data)
	// held counts the jobs starting (hold): while it is above zero the writer is not woken,
	// and woken once by the last release if anything was queued meanwhile (heldSignal).
	held       int
	heldSignal bool
}

// jobSpool is one job's state in the spool.
type jobSpool struct {
	id       string
	lines    []agentproto.LogLine // unacknowledged lines; lines[k].Seq == ackedSeq+1+k
	bytes    int
	lastSeq  int64
	ackedSeq int64
	events   []spoolEvent
	finished bool

	// Per-connection progress.
	sentSeq    int64
	sentEvents int
}

// spoolEvent is a report, encoded, with the last line sequence number produced before it.
type spoolEvent struct {
	AfterSeq int64           `json:"afterSeq"`
	Msg      json.RawMessage `json:"msg"`
}

// persistedJob is the file format of a finished, unacknowledged job.
type persistedJob struct {
	JobID    string               `json:"jobId"`
	LastSeq  int64                `json:"lastSeq"`
	AckedSeq int64                `json:"ackedSeq"`
	Lines    []agentproto.LogLine `json:"lines"`
	Events   []spoolEvent         `json:"events"`
}

func newSpool(dir string, maxBytes int) *spool {
	return &spool{
		dir:      dir,
		maxBytes: maxBytes,
		jobs:     map[string]*jobSpool{},
		notify:   make(chan struct{}, 1),
		changed:  make(chan struct{}),
	}
}

// signalLocked wakes the writer (unless a job is starting: hold) and every waiter.
func (s *spool) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
	if s.held > 0 {
		s.heldSignal = true
		return
	}
	s.wakeWriterLocked()
}

// wakeWriterLocked wakes the writer.
func (s *spool) wakeWriterLocked() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// hold keeps what is queued from now on unsent until release, while a job starts: its first
// reports (JobAccepted, a skipped download step) then reach the server once its first process
// runs, so that the server's handling of them does not compete with the job's start for the
// CPU when both share a machine (docs/decisions.md, "Dispatch (server/dispatch)"). A message
// also goes out earlier if something else wakes the writer meanwhile.
func (s *spool) hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held++
}

// release ends a hold, waking the writer if something was queued meanwhile.
func (s *spool) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held--
	if s.held == 0 && s.heldSignal {
		s.heldSignal = false
		s.wakeWriterLocked()
	}
}

// has reports whether the spool holds the job (running or finished).
func (s *spool) has(jobID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs[jobID] != nil
}

// addJob starts tracking a job.
func (s *spool) addJob(jobID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jobs[jobID] == nil {
		s.jobs[jobID] = &jobSpool{id: jobID}
		s.order = append(s.order, jobID)
	}
}

// event appends a report of the job. finished marks the job's last report (jobFinished): the job
// is then persisted. The job's state is encoded under the lock and written after it, so that the
// writer goes on sending the job's lines meanwhile (a job that printed fast finishes with most of
// its lines unacknowledged; writing them while holding the lock stalled their sending).
func (s *spool) event(jobID string, msg any, finished bool) error {
	raw, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encoding %T: %w", msg, err)
	}
	s.mu.Lock()
	j := s.jobs[jobID]
	if j == nil {
		s.mu.Unlock()
		return fmt.Errorf("job %s: not in spool", jobID)
	}
	j.events = append(j.events, spoolEvent{AfterSeq: j.lastSeq, Msg: raw})
	var data []byte
	if finished {
		j.finished = true
		if s.dir != "" {
			data, err = encodePersisted(j)
		}
	}
	s.signalLocked()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if data != nil {
		return s.persist(jobID, data)
	}
	return nil
}

// sendOnce queues a message for the current connection only (it is not resent after a reconnect).
func (s *spool) sendOnce(msg any) {
	raw, err := json.Marshal(msg)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oneShot = append(s.oneShot, raw)
	s.signalLocked()
}

// appendLines numbers lines and appends them to the job. While the job's unacknowledged text
// exceeds the spool's bound it waits for acknowledgements, unless ctx is done (a canceled job's
// last lines are kept over the bound: its output is finite once its processes are killed).
func (s *spool) appendLines(ctx context.Context, jobID string, lines []agentproto.LogLine) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		j := s.jobs[jobID]
		if j == nil {
			return
		}
		if j.bytes < s.maxBytes || ctx.Err() != nil {
			for _, l := range lines {
				j.lastSeq++
				l.Seq = j.lastSeq
				j.lines = append(j.lines, l)
				j.bytes += len(l.Text)
			}
			s.signalLocked()
			return
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
		}
		s.mu.Lock()
	}
}

// ackLogs drops the job's lines up to uptoSeq.
func (s *spool) ackLogs(jobID string, uptoSeq int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[jobID]
	if j == nil || uptoSeq <= j.ackedSeq {
		return
	}
	uptoSeq = min(uptoSeq, j.lastSeq)
	n := int(uptoSeq - j.ackedSeq)
	for _, l := range j.lines[:n] {
		j.bytes -= len(l.Text)
	}
	// Reslicing, not copying what is left (that cost grew with the backlog on every ack): the
	// array is released when appending outgrows it.
	clear(j.lines[:n])
	j.lines = j.lines[n:]
	j.ackedSeq = uptoSeq
	j.sentSeq = max(j.sentSeq, uptoSeq)
	s.signalLocked()
}

// ackResult forgets a finished job.
func (s *spool) ackResult(jobID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[jobID]
	if j == nil || !j.finished {
		return
	}
	delete(s.jobs, jobID)
	for i, id := range s.order {
		if id == jobID {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	if s.dir != "" {
		_ = os.Remove(s.resultPath(jobID))
	}
	s.signalLocked()
}

// resend makes the writer send everything not acknowledged again: on a new connection
// (all jobs, jobID == "") or when the server re-sends an assignment it already gave.
func (s *spool) resend(jobID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if jobID == "" {
		s.oneShot = nil
	}
	for id, j := range s.jobs {
		if jobID == "" || id == jobID {
			j.sentSeq, j.sentEvents = j.ackedSeq, 0
		}
	}
	s.signalLocked()
}

// progress lists the running and the finished jobs for Hello.
func (s *spool) progress() (running, finished []agentproto.JobProgress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	running, finished = []agentproto.JobProgress{}, []agentproto.JobProgress{}
	for _, id := range s.order {
		j := s.jobs[id]
		p := agentproto.JobProgress{JobID: id, AckedSeq: j.ackedSeq, LastSeq: j.lastSeq}
		if j.finished {
			finished = append(finished, p)
		} else {
			running = append(running, p)
		}
	}
	return running, finished
}

// empty reports whether nothing is owed to the server.
func (s *spool) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.jobs) == 0
}

// waitEmpty waits until the spool is empty or ctx is done.
func (s *spool) waitEmpty(ctx context.Context) bool {
	for {
		s.mu.Lock()
		n, changed := len(s.jobs), s.changed
		s.mu.Unlock()
		if n == 0 {
			return true
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

// next returns the messages to send now, in order, and marks them sent. Log lines are grouped
// into batches of about agentproto.LogBatchBytes.
func (s *spool) next() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.oneShot
	s.oneShot = nil
	for _, id := range s.order {
		j := s.jobs[id]
		for ; j.sentEvents < len(j.events); j.sentEvents++ {
			ev := j.events[j.sentEvents]
			out = appendBatches(out, j, ev.AfterSeq)
			out = append(out, ev.Msg)
		}
		out = appendBatches(out, j, j.lastSeq)
	}
	return out
}

// appendBatches appends log batches of j's lines after j.sentSeq up to uptoSeq.
func appendBatches(out [][]byte, j *jobSpool, uptoSeq int64) [][]byte {
	for j.sentSeq < uptoSeq {
		first := int(j.sentSeq - j.ackedSeq)
		last, size := first, 0
		for last < int(uptoSeq-j.ackedSeq) && (size < agentproto.LogBatchBytes || last == first) {
			size += len(j.lines[last].Text)
			last++
		}
		raw, err := agentproto.AppendLogBatch(nil, j.id, j.lines[first:last])
		if err != nil { // cannot happen: times are the agent's clock's
			panic(err)
		}
		out = append(out, raw)
		j.sentSeq = j.lines[last-1].Seq
	}
	return out
}

// safeID matches job ids usable as file names as they are.
var safeID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// fileName returns a file name for a job id: the id itself when it is safe, else a hash of it.
func fileName(jobID string) string {
	if safeID.MatchString(jobID) && !strings.Contains(jobID, "..") {
		return jobID
	}
	sum := sha256.Sum256([]byte(jobID))
	return "job-" + hex.EncodeToString(sum[:12])
}

func (s *spool) resultPath(jobID string) string {
	return filepath.Join(s.dir, fileName(jobID)+".json")
}

// encodePersisted encodes a finished job's state (the lines without reflection: they may be
// hundreds of thousands).
func encodePersisted(j *jobSpool) ([]byte, error) {
	events, err := json.Marshal(j.events)
	if err != nil {
		return nil, fmt.Errorf("encoding result of job %s: %w", j.id, err)
	}
	id, _ := json.Marshal(j.id)
	data := fmt.Appendf(nil, `{"jobId":%s,"lastSeq":%d,"ackedSeq":%d,"lines":`, id, j.lastSeq, j.ackedSeq)
	if data, err = agentproto.AppendLogLines(data, j.lines); err != nil {
		return nil, fmt.Errorf("encoding result of job %s: %w", j.id, err)
	}
	data = append(data, `,"events":`...)
	data = append(data, events...)
	return append(data, '}'), nil
}

// persist writes a finished job's state (persistedJob, encodePersisted) to disk (0600: log lines
// may hold anything), one job at a time. A job acknowledged while its file was being written has
// its file removed again.
func (s *spool) persist(jobID string, data []byte) error {
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	if err := writeFileAtomic(s.resultPath(jobID), data); err != nil {
		return fmt.Errorf("persisting result of job %s: %w", jobID, err)
	}
	s.mu.Lock()
	gone := s.jobs[jobID] == nil
	s.mu.Unlock()
	if gone {
		_ = os.Remove(s.resultPath(jobID))
	}
	return nil
}

// load reads the finished, unacknowledged jobs a previous run of the agent left in dir.
func (s *spool) load() error {
	if s.dir == "" {
		return nil
	}
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading results: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var p persistedJob
		if err := json.Unmarshal(data, &p); err != nil {
			errs = append(errs, fmt.Errorf("decoding %s: %w", e.Name(), err))
			continue
		}
		if p.JobID == "" || s.jobs[p.JobID] != nil {
			continue
		}
		j := &jobSpool{id: p.JobID, lines: p.Lines, lastSeq: p.LastSeq, ackedSeq: p.AckedSeq, events: p.Events, finished: true}
		for _, l := range j.lines {
			j.bytes += len(l.Text)
		}
		j.sentSeq = j.ackedSeq
		s.jobs[p.JobID] = j
		s.order = append(s.order, p.JobID)
	}
	return errors.Join(errs...)
}

// writeFileAtomic writes data to path through a temporary file and a rename, mode 0600.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// lastSeq returns the job's last produced sequence number.
func (s *spool) lastSeq(jobID string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j := s.jobs[jobID]; j != nil {
		return j.lastSeq
	}
	return 0
}
