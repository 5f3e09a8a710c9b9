package delivery

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/jobstep"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/stepattachment"
)

// DefaultMaxJobLogBytes is the default cap of a job's stored log text.
const DefaultMaxJobLogBytes = 64 << 20

// maxLogLineBytes bounds one stored line; agents already cut lines at 16 KiB.
const maxLogLineBytes = 64 << 10

// Read limits of ReadLogs.
const (
	defaultLogLimit = 1000
	maxLogLimit     = 10000
)

// LogLine is one line of a job's output. Seq numbers a job's lines 1, 2, 3… with no gap.
type LogLine struct {
	Seq  int64     `json:"seq"`
	Step int       `json:"step"`
	Time time.Time `json:"time"`
	Text string    `json:"text"`
	// AfterLoss marks a line that reached the server after it had declared the job LOST: the
	// agent was cut off for longer than the grace period, kept the line and sent it when it came
	// back. Such a line may have been printed before the loss; the server only knows it late.
	AfterLoss bool `json:"afterLoss,omitempty"`
	// Kind is what the line is, from its formatting command (agentproto.LogLine.Kind: group,
	// endgroup, section, warning, error, command, debug), empty for plain output.
	Kind string `json:"kind,omitempty"`
	// Target is the deployment-group target whose job printed the line, set on the lines a log
	// stream that includes targets sends (IncludeTargets); Seq is then that job's own sequence.
	// It is never stored in a chunk (the job says whose lines they are).
	Target string `json:"-"`
}

// AppendLogs stores the lines of a job sent by its agent and returns the highest sequence number
// stored contiguously (what the agent may forget). Lines at or below the stored high-water mark
// are duplicates and skipped; a line after a gap and everything behind it are not stored (the
// agent resends them). Lines of a job not assigned to agentID are refused (NOT_FOUND). Past the
// job's log cap one notice line is stored in place of the first line that does not fit; later
// text is dropped while sequence numbers still advance, so the agent is never stalled and the
// job never fails for its log. Lines that arrive for a job already LOST are stored all the same,
// marked AfterLoss. Stored lines are published (EventLogAppended, transient) with the
// job and deployment ids, so that live followers need no query.
func (e *Engine) AppendLogs(ctx context.Context, jobID, agentID int, lines []LogLine) (int64, error) {
	var acked int64
	err := e.inTxConcurrent(ctx, func(t *txn) error {
		j, err := t.agentJob(jobID, agentID)
		if err != nil {
			return err
		}
		// The agent numbers its job's lines from 1; they are stored after
		// the deployment's earlier phases (LogBase), and acknowledged in the
		// agent's numbers.
		acked = j.LogSeq - j.LogBase
		next := j.LogSeq + 1
		bytes, truncated := j.LogBytes, j.LogTruncated
		stored := make([]LogLine, 0, len(lines))
		for _, l := range lines {
			if l.Seq < 1 {
				continue // not a sequence number the agent hands out
			}
			l.Seq += j.LogBase
			if l.Seq < next {
				continue // already stored
			}
			if l.Seq != next {
				break // a gap: keep nothing past it
			}
			next++
			if truncated {
				continue
			}
			l.Text = strings.ToValidUTF8(l.Text, "\uFFFD")
			if len(l.Text) > maxLogLineBytes {
				l.Text = l.Text[:maxLogLineBytes]
				l.Text = strings.ToValidUTF8(l.Text, "")
			}
			if l.Time.IsZero() {
				l.Time = t.now
			}
			l.Time = l.Time.UTC()
			l.AfterLoss = j.Status == job.StatusLOST
			if !knownLineKinds[l.Kind] {
				l.Kind = "" // not a kind agents send
			}
			if bytes+int64(len(l.Text)) > e.maxLog {
				truncated = true
				l.Text = fmt.Sprintf("log truncated: limit of %d bytes reached", e.maxLog)
			}
			bytes += int64(len(l.Text))
			stored = append(stored, l)
		}
		if next-1 == j.LogSeq {
			return nil
		}
		if len(stored) > 0 {
			data, err := appendChunk(make([]byte, 0, int(bytes-j.LogBytes)+len(stored)*72), stored)
			if err != nil {
				return fmt.Errorf("encoding log lines: %w", err)
			}
			if err := t.LogChunk.Create().SetJobID(jobID).SetFirstSeq(stored[0].Seq).
				SetLastSeq(stored[len(stored)-1].Seq).SetLines(data).Exec(t.ctx); err != nil {
				return fmt.Errorf("storing log lines of job %d: %w", jobID, err)
			}
		}
		n, err := t.Job.Update().Where(job.ID(jobID), job.LogSeq(j.LogSeq)).
			SetLogSeq(next - 1).SetLogBytes(bytes).SetLogTruncated(truncated).Save(t.ctx)
		if err != nil {
			return fmt.Errorf("recording log position of job %d: %w", jobID, err)
		}
		if n != 1 {
			return Conflict("log of job %d was appended concurrently; resend", jobID)
		}
		acked = next - 1 - j.LogBase
		if len(stored) > 0 {
			t.notify(Event{Type: EventLogAppended, JobID: jobID, DeploymentID: j.DeploymentID, AgentID: agentID,
				Target: j.Target, Lines: stored})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return acked, nil
}

// ReadLogs returns up to limit (default 1000, at most 10000) stored lines of a job with sequence
// numbers from fromSeq on, in order.
func (e *Engine) ReadLogs(ctx context.Context, jobID int, fromSeq int64, limit int) ([]LogLine, error) {
	return readLines(limit, func(fn func([]rawLine) error) error {
		return e.scanLogs(ctx, jobID, LogRange{FromSeq: max(fromSeq, 1)}, 1, fn)
	})
}

// readLines collects up to limit (default 1000, at most 10000) lines of a scan.
func readLines(limit int, scan func(fn func([]rawLine) error) error) ([]LogLine, error) {
	if limit <= 0 {
		limit = defaultLogLimit
	}
	limit = min(limit, maxLogLimit)
	out := []LogLine{}
	err := scan(func(lines []rawLine) error {
		for i := range lines {
			l, err := lines[i].logLine()
			if err != nil {
				return err
			}
			out = append(out, l)
			if len(out) == limit {
				return errStopScan
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// deploymentJobs returns a deployment and the jobs of its agent phases so far, in phase order
// (none yet: an empty list); NOT_FOUND for an unknown deployment. The jobs are read first, so
// that the deployment is at least as recent as the last of them.
func (e *Engine) deploymentJobs(ctx context.Context, deploymentID int) (*ent.Deployment, []*ent.Job, error) {
	jobs, err := e.client.Job.Query().Where(job.DeploymentID(deploymentID), job.Target("")).Order(ent.Asc(job.FieldPhase)).All(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("reading jobs of deployment %d: %w", deploymentID, err)
	}
	d, err := e.client.Deployment.Get(ctx, deploymentID)
	if ent.IsNotFound(err) {
		return nil, nil, NotFound("deployment", deploymentID)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading deployment %d: %w", deploymentID, err)
	}
	return d, jobs, nil
}

// DeploymentLogs returns up to limit (default 1000, at most 10000) stored lines of a
// deployment's log from fromSeq on: the lines of its phases' jobs, one sequence; none while the
// deployment has no job.
func (e *Engine) DeploymentLogs(ctx context.Context, deploymentID int, fromSeq int64, limit int) ([]LogLine, error) {
	_, jobs, err := e.deploymentJobs(ctx, deploymentID)
	if err != nil {
		return []LogLine{}, err
	}
	return readLines(limit, func(fn func([]rawLine) error) error {
		return e.scanDeploymentLogs(ctx, jobs, LogRange{FromSeq: max(fromSeq, 1)}, 1, fn)
	})
}

// AfterLossMarker precedes, in a downloaded log, the first line that reached the server after
// the job was declared LOST (LogLine.AfterLoss).
const AfterLossMarker = "----- cairn: the job was declared LOST before the lines below reached the server (its agent was cut off for longer than the grace period and sent them when it came back) -----"

// WriteDeploymentLog writes the text of the stored lines of a deployment's log that r selects,
// each followed by "\n", to the writer that open returns. It checks the range and that actor
// may read the deployment (NOT_FOUND otherwise, as for a missing one) before it calls open,
// once, so that a caller can still answer those errors as such; the errors after open are
// those of the database or of the writer, and ctx ending. A deployment without a job yet has an
// empty log. The lines are read a few chunks at a time and written a chunk at a time, so memory
// does not grow with the log, and the rate is that of reading the chunks.
func (e *Engine) WriteDeploymentLog(ctx context.Context, actor Actor, deploymentID int, r LogRange, open func() (io.Writer, error)) error {
	if err := r.check(); err != nil {
		return err
	}
	if err := e.RequireReadableDeployment(ctx, actor, deploymentID); err != nil {
		return err
	}
	_, jobs, err := e.deploymentJobs(ctx, deploymentID)
	if err != nil {
		return err
	}
	if r.Target != "" {
		// One target's log: its jobs (one per deployment-group phase it ran in).
		if jobs, err = e.client.Job.Query().Where(job.DeploymentID(deploymentID), job.Target(r.Target)).
			Order(ent.Asc(job.FieldPhase)).All(ctx); err != nil {
			return fmt.Errorf("reading the jobs of target %s: %w", r.Target, err)
		}
		if len(jobs) == 0 {
			return Invalid("target", "deployment %d has no target named %q", deploymentID, r.Target)
		}
	}
	// The whole log of a deployment with deployment-group phases goes on with each target's
	// lines, "[target] " before each (a range or a step selects the agent phases' lines only).
	var targets []*ent.Job
	if r.Target == "" && r.FromSeq <= 1 && r.ToSeq == 0 && r.Step == nil {
		if targets, err = e.client.Job.Query().Where(job.DeploymentID(deploymentID), job.TargetNEQ("")).
			Order(ent.Asc(job.FieldPhase), ent.Asc(job.FieldTarget)).All(ctx); err != nil {
			return fmt.Errorf("reading the targets of deployment %d: %w", deploymentID, err)
		}
	}
	w, err := open()
	if err != nil || len(jobs)+len(targets) == 0 {
		return err
	}
	var buf []byte
	marked := false
	// With headers, the lines of each (job, step) follow a header line; which job a line of
	// the agent phases belongs to is read from its sequence number (a job's lines follow its
	// LogBase).
	var steps map[int]map[int]*ent.JobStep
	if r.Headers {
		if steps, err = e.jobSteps(ctx, append(slices.Clone(jobs), targets...)); err != nil {
			return err
		}
	}
	var headed *ent.Job
	headedStep := -1
	write := func(prefix string, fixed *ent.Job) func(lines []rawLine) error {
		return func(lines []rawLine) error {
			buf = buf[:0]
			for i := range lines {
				if steps != nil {
					j := fixed
					if j == nil {
						j = jobOfSeq(jobs, lines[i].seq)
					}
					if j != headed || lines[i].step != headedStep {
						headed, headedStep = j, lines[i].step
						buf = append(buf, prefix...)
						buf = append(buf, StepHeader(j, steps[j.ID][lines[i].step], lines[i].step)...)
						buf = append(buf, '\n')
					}
				}
				if lines[i].afterLoss && !marked {
					buf = append(buf, AfterLossMarker+"\n"...)
					marked = true
				}
				buf = append(buf, prefix...)
				buf = append(buf, lines[i].text...)
				buf = append(buf, '\n')
			}
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("writing log of deployment %d: %w", deploymentID, err)
			}
			return ctx.Err()
		}
	}
	if len(jobs) > 0 {
		if err := e.scanDeploymentLogs(ctx, jobs, r, logChunkPage, write("", nil)); err != nil {
			return err
		}
	}
	for _, j := range targets {
		marked = false
		if err := e.scanLogs(ctx, j.ID, LogRange{FromSeq: 1}, logChunkPage, write("["+j.Target+"] ", j)); err != nil {
			return err
		}
	}
	return nil
}

// jobSteps returns the recorded steps of the jobs, by job id and position.
func (e *Engine) jobSteps(ctx context.Context, jobs []*ent.Job) (map[int]map[int]*ent.JobStep, error) {
	ids := make([]int, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	out := make(map[int]map[int]*ent.JobStep, len(jobs))
	if len(ids) == 0 {
		return out, nil
	}
	all, err := e.client.JobStep.Query().Where(jobstep.JobIDIn(ids...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the steps of the log's jobs: %w", err)
	}
	for _, s := range all {
		if out[s.JobID] == nil {
			out[s.JobID] = map[int]*ent.JobStep{}
		}
		out[s.JobID][s.Position] = s
	}
	return out, nil
}

// jobOfSeq returns the job of the agent phases (in phase order) whose lines hold seq: the last
// one whose LogBase is below it.
func jobOfSeq(jobs []*ent.Job, seq int64) *ent.Job {
	j := jobs[0]
	for _, x := range jobs[1:] {
		if x.LogBase < seq {
			j = x
		}
	}
	return j
}

// StepHeader is the header line that precedes a task's lines in a downloaded log (with
// ?headers=1), the text form of the dashboard's task headers:
//
//	===== Phase 1 · Task 2: deploy · SUCCEEDED · started 2026-12-06T19:20:01Z · 3.2s =====
//
// Step 0 is "Download artifacts"; s is the recorded step (nil when the agent has not reported
// it: the name is then "step N" and status, time and duration are left out).
func StepHeader(j *ent.Job, s *ent.JobStep, step int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "===== Phase %d · ", j.Phase+1)
	name := ""
	if s != nil {
		name = s.Name
	}
	if step == 0 {
		b.WriteString("Download artifacts")
		if name != "" && name != "Download artifacts" {
			b.WriteString(": " + name)
		}
	} else {
		fmt.Fprintf(&b, "Task %d", step)
		if name != "" {
			b.WriteString(": " + name)
		}
	}
	if s != nil {
		b.WriteString(" · " + string(s.Status))
		if s.StartedAt != nil {
			b.WriteString(" · started " + s.StartedAt.UTC().Format(time.RFC3339))
			if s.FinishedAt != nil {
				b.WriteString(" · " + s.FinishedAt.Sub(*s.StartedAt).Round(time.Millisecond).String())
			}
		}
	}
	b.WriteString(" =====")
	return b.String()
}

// Subscriber hands out subscriptions to the event bus. The channel is closed when the
// subscription falls behind (the subscriber re-reads the database) or the bus closes; unsubscribe
// releases it.
type Subscriber interface {
	Subscribe() (events <-chan Event, unsubscribe func())
}

// NotifySubscriber is a Subscriber that can also hand out subscriptions
// without a channel: the events wait in the subscription's queue and notify
// says when to take them, so that a subscriber with nothing to do holds no
// goroutine waiting on a channel (FollowEventsEach uses it when the bus has
// it).
type NotifySubscriber interface {
	Subscriber
	// SubscribeNotify registers a subscriber. notify is called when an
	// event arrives in its empty queue and when the subscription ends (it
	// fell a full buffer behind, or the bus closed); it may be called while
	// the bus is locked: it must be quick and must not call the bus.
	SubscribeNotify(notify func()) EventQueue
}

// EventQueue is a subscription of NotifySubscriber.
type EventQueue interface {
	// Take returns the oldest event waiting (ok). When none waits, open
	// says whether more may come: false when the subscription ended (the
	// subscriber re-reads the database and subscribes again).
	Take() (ev Event, ok, open bool)
	// Close ends the subscription; what waits is dropped.
	Close()
}

// Batch limits of FollowDeploymentLogBatches.
const (
	// DefaultLogBatchLines is the most lines of a batch unless the follower asks otherwise.
	DefaultLogBatchLines = 1000
	// MaxLogBatchLines is the most lines a follower may ask for per batch.
	MaxLogBatchLines = 10000
	// MaxLogBatchBytes bounds the text of a batch (a longer line, up to 64 KiB, goes alone), so
	// that one message stays well under a client's read limit.
	MaxLogBatchBytes = 256 << 10
)

// LogBatch is a run of consecutive lines of a log, in order (at least one).
type LogBatch struct {
	Lines []LogLine
	// Target is the deployment-group target whose job printed the lines ("" for the agent
	// phases' lines): a batch holds the lines of one of them.
	Target string
}

// FromSeq is the sequence number of the batch's first line.
func (b *LogBatch) FromSeq() int64 { return b.Lines[0].Seq }

// LastSeq is the sequence number of the batch's last line.
func (b *LogBatch) LastSeq() int64 { return b.Lines[len(b.Lines)-1].Seq }

// Texts are the lines' texts in order (line i has sequence number FromSeq + i).
func (b *LogBatch) Texts() []string {
	out := make([]string, len(b.Lines))
	for i, l := range b.Lines {
		out[i] = l.Text
	}
	return out
}

// Steps are the lines' steps in order.
func (b *LogBatch) Steps() []int {
	out := make([]int, len(b.Lines))
	for i, l := range b.Lines {
		out[i] = l.Step
	}
	return out
}

// Times are the lines' times in order.
func (b *LogBatch) Times() []time.Time {
	out := make([]time.Time, len(b.Lines))
	for i, l := range b.Lines {
		out[i] = l.Time
	}
	return out
}

// Text is the batch's lines' text, each followed by "\n": what a client that only shows the
// log needs, cheaper to encode and decode than the lines.
func (b *LogBatch) Text() string {
	n := 0
	for _, l := range b.Lines {
		n += len(l.Text) + 1
	}
	var s strings.Builder
	s.Grow(n)
	for _, l := range b.Lines {
		s.WriteString(l.Text)
		s.WriteByte('\n')
	}
	return s.String()
}

// LogOption changes what a deployment log stream carries.
type LogOption func(*logFollower)

// IncludeTargets makes a deployment log stream carry the lines of its deployment-group phases'
// target jobs too, each with LogLine.Target (LogBatch.Target) naming its target and Seq in that
// job's own sequence, in phase order between the agent phases' lines; live, each target's lines
// come as its agent reports them. fromSeq still addresses the agent phases' sequence: the
// target lines of the deployment-group phases after the line before fromSeq are sent from their
// first line (a client resuming in the middle of such a phase gets its target lines again, and
// skips those it has by target and seq). The stream then ends when every job, the targets'
// included, is final and the deployment is past its phases.
func IncludeTargets(f *logFollower) { f.targets = true }

// FollowDeploymentLog streams a deployment's log from fromSeq, one line at a time: the stored
// lines, then the live ones, with no gap and no duplicate. It is FollowDeploymentLogBatches with
// the batches taken apart (fromSeq below 1 reads from the first line).
func (e *Engine) FollowDeploymentLog(ctx context.Context, actor Actor, bus Subscriber, deploymentID int, fromSeq int64, opts ...LogOption) (<-chan *LogLine, error) {
	batches, err := e.followLog(ctx, actor, bus, deploymentID, max(fromSeq, 1), MaxLogBatchLines, opts)
	if err != nil {
		return nil, err
	}
	out := make(chan *LogLine)
	go func() {
		defer close(out)
		for b := range batches {
			for i := range b.Lines {
				b.Lines[i].Target = b.Target
				select {
				case out <- &b.Lines[i]:
				case <-ctx.Done():
					return // the follower ends with ctx too
				}
			}
		}
	}()
	return out, nil
}

// FollowDeploymentLogBatches streams a deployment's log from fromSeq (0 or 1: the first line) in
// batches of consecutive lines: the stored lines, then the live ones, with no gap and no
// duplicate. A batch holds at most maxLines lines (1 to MaxLogBatchLines; DefaultLogBatchLines
// is the API's default) and about MaxLogBatchBytes of text; catching up fills batches, and live
// lines go out as they are stored (a batch per agent report). It subscribes to the bus before reading
// the database and drops live lines it already sent; when the subscription lags or closes it
// re-reads from the last line sent. Only an actor who may read the deployment's definition may
// follow it (NOT_FOUND otherwise). The stream ends (the channel closes) when the deployment's job
// is final and its log read, when a deployment without a job is final, or when ctx ends.
// IncludeTargets adds the deployment-group targets' lines.
func (e *Engine) FollowDeploymentLogBatches(ctx context.Context, actor Actor, bus Subscriber, deploymentID int, fromSeq int64, maxLines int, opts ...LogOption) (<-chan *LogBatch, error) {
	if err := (LogRange{FromSeq: fromSeq}).check(); err != nil {
		return nil, err
	}
	if maxLines < 1 || maxLines > MaxLogBatchLines {
		return nil, Invalid("maxLines", "must be between 1 and %d, not %d", MaxLogBatchLines, maxLines)
	}
	return e.followLog(ctx, actor, bus, deploymentID, max(fromSeq, 1), maxLines, opts)
}

func (e *Engine) followLog(ctx context.Context, actor Actor, bus Subscriber, deploymentID int, fromSeq int64, maxLines int, opts []LogOption) (<-chan *LogBatch, error) {
	if err := e.RequireReadableDeployment(ctx, actor, deploymentID); err != nil {
		return nil, err
	}
	d, _, err := e.deploymentJobs(ctx, deploymentID)
	if err != nil {
		return nil, err
	}
	out := make(chan *LogBatch)
	f := &logFollower{e: e, out: out, deploymentID: deploymentID, definitionID: d.DefinitionID,
		readers: &definitionReaders{e: e, actor: actor}, next: fromSeq, maxLines: maxLines,
		targetJobs: map[int]*targetLog{}, fromPhase: -1}
	for _, o := range opts {
		o(f)
	}
	go func() {
		defer close(out)
		for {
			events, unsubscribe := bus.Subscribe()
			done, err := f.follow(ctx, events)
			unsubscribe()
			if done || err != nil || ctx.Err() != nil {
				if err != nil && ctx.Err() == nil {
					e.log.WarnContext(ctx, "following deployment log", "deployment", deploymentID, "err", err)
				}
				return
			}
		}
	}()
	return out, nil
}

// logFollower is the state of one followLog stream.
type logFollower struct {
	e            *Engine
	out          chan<- *LogBatch
	deploymentID int
	definitionID int
	// readers answers whether the follower's actor may still read the
	// definition: an open stream ends when the definition's readers or the
	// actor's groups stop admitting it (on definition.changed at once, else
	// within readersTTL), like the event streams.
	readers  *definitionReaders
	jobID    int
	next     int64 // the next sequence number of the agent phases' log to send
	maxLines int
	// targets: the stream carries the target jobs' lines too (IncludeTargets). targetJobs holds
	// each target job seen, by id; fromPhase is the first step whose target lines are sent (-1:
	// not decided yet, on the first read).
	targets    bool
	targetJobs map[int]*targetLog
	fromPhase  int
	// The batch being filled: lines before next (or before its target job's next), all of
	// pendingJob (0: the agent phases).
	pending      []LogLine
	pendingBytes int
	pendingJob   int
}

// targetLog is where a stream stands in one target job's log.
type targetLog struct {
	name string
	next int64 // the next sequence number to send
	skip bool  // a phase before the stream's start: not sent
}

// add puts l in the batch unless it was sent already, sending the batch first when l does not
// fit; false when ctx ended. tj is the target job the line is from (nil: the agent phases).
func (f *logFollower) add(ctx context.Context, l LogLine, jobID int, tj *targetLog) bool {
	next := &f.next
	if tj != nil {
		next = &tj.next
	}
	if l.Seq < *next {
		return true
	}
	if len(f.pending) > 0 && (f.pendingJob != jobID || len(f.pending) == f.maxLines || f.pendingBytes+len(l.Text) > MaxLogBatchBytes) {
		if !f.flush(ctx) {
			return false
		}
	}
	f.pending = append(f.pending, l)
	f.pendingBytes += len(l.Text)
	f.pendingJob = jobID
	*next = l.Seq + 1
	return true
}

// flush sends the batch being filled, if any; false when ctx ended.
func (f *logFollower) flush(ctx context.Context) bool {
	if len(f.pending) == 0 {
		return true
	}
	b := &LogBatch{Lines: f.pending}
	if tj := f.targetJobs[f.pendingJob]; tj != nil {
		b.Target = tj.name
	}
	select {
	case f.out <- b:
		f.pending, f.pendingBytes = nil, 0
		return true
	case <-ctx.Done():
		return false
	}
}

// catchUp sends the stored lines from f.next on (and each target job's from its next); done
// reports that the log is complete.
func (f *logFollower) catchUp(ctx context.Context) (done bool, err error) {
	if ok, err := f.readable(ctx); !ok || err != nil {
		return !ok, err
	}
	var targets []*ent.Job
	if f.targets {
		// Read before the agent phases' jobs and the deployment, like those: a target job final
		// here has all its lines stored.
		if targets, err = f.e.client.Job.Query().Where(job.DeploymentID(f.deploymentID), job.TargetNEQ("")).
			Order(ent.Asc(job.FieldPhase), ent.Asc(job.FieldTarget)).All(ctx); err != nil {
			return false, fmt.Errorf("reading the targets of deployment %d: %w", f.deploymentID, err)
		}
	}
	d, jobs, err := f.e.deploymentJobs(ctx, f.deploymentID)
	if err != nil {
		return false, err
	}
	if len(jobs) == 0 && len(targets) == 0 {
		return deploymentFinal(d.Status), nil
	}
	if f.fromPhase < 0 {
		f.fromPhase = resumePhase(jobs, f.next)
	}
	// A job final before the read has all its lines stored (the result follows its lines);
	// the log is complete when the last phase's job is: the deployment is final or past its
	// phases (its post-deployment stage), which its last job's end decides in one transaction.
	final := deploymentFinal(d.Status) || pastPhases(d.Status)
	if len(jobs) > 0 {
		j := jobs[len(jobs)-1]
		f.jobID = j.ID
		final = final && jobFinal(j.Status)
	}
	for _, t := range targets {
		final = final && jobFinal(t.Status)
	}
	// The agent phases' jobs and the target jobs, in phase order.
	ti := 0
	for i, j := range jobs {
		for ; ti < len(targets) && targets[ti].Phase < j.Phase; ti++ {
			if err := f.catchUpTarget(ctx, targets[ti]); err != nil {
				return false, err
			}
		}
		if i < len(jobs)-1 && j.LogSeq < f.next {
			continue // a finished phase wholly sent
		}
		if err := f.e.scanLogs(ctx, j.ID, LogRange{FromSeq: f.next}, logChunkPage, func(lines []rawLine) error {
			for i := range lines {
				l, err := lines[i].logLine()
				if err != nil {
					return err
				}
				if !f.add(ctx, l, 0, nil) {
					return ctx.Err()
				}
			}
			return nil
		}); err != nil {
			return false, err
		}
	}
	for ; ti < len(targets); ti++ {
		if err := f.catchUpTarget(ctx, targets[ti]); err != nil {
			return false, err
		}
	}
	if !f.flush(ctx) {
		return false, ctx.Err()
	}
	return final, nil
}

// resumePhase is the first step whose target lines a stream from line next sends: every one
// from the first line, else those after the agent phase job that holds line next-1.
func resumePhase(jobs []*ent.Job, next int64) int {
	if next <= 1 {
		return 0
	}
	from := 0
	for _, j := range jobs {
		if j.LogBase < next-1 {
			from = j.Phase + 1
		}
	}
	return from
}

// catchUpTarget sends the stored lines of target job j from where the stream stands in it.
func (f *logFollower) catchUpTarget(ctx context.Context, j *ent.Job) error {
	tj := f.targetJobs[j.ID]
	if tj == nil {
		tj = &targetLog{name: j.Target, next: 1, skip: j.Phase < f.fromPhase}
		f.targetJobs[j.ID] = tj
	}
	if tj.skip || (jobFinal(j.Status) && j.LogSeq < tj.next) {
		return nil
	}
	return f.e.scanLogs(ctx, j.ID, LogRange{FromSeq: tj.next}, logChunkPage, func(lines []rawLine) error {
		for i := range lines {
			l, err := lines[i].logLine()
			if err != nil {
				return err
			}
			if !f.add(ctx, l, j.ID, tj) {
				return ctx.Err()
			}
		}
		return nil
	})
}

// readable reports whether the follower's actor may still read the
// deployment's definition; a stream that may not ends (the caller treats
// false as done), with a notice in the server's log.
func (f *logFollower) readable(ctx context.Context) (bool, error) {
	ok, err := f.readers.readable(ctx, f.definitionID)
	if err == nil && !ok {
		f.e.log.InfoContext(ctx, "log stream ended: its reader may no longer read the definition",
			"deployment", f.deploymentID, "user", f.readers.actor.Username)
	}
	return ok, err
}

// follow runs on one subscription until the log is complete (done), the subscription closes
// (false, nil: resubscribe) or ctx ends.
func (f *logFollower) follow(ctx context.Context, events <-chan Event) (bool, error) {
	done, err := f.catchUp(ctx)
	if done || err != nil {
		return done, err
	}
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case ev, ok := <-events:
			if !ok {
				return false, nil
			}
			if ev.Type == EventDefinitionChanged && ev.DefinitionID == f.definitionID {
				f.readers.forget(f.definitionID)
				if ok, err := f.readable(ctx); !ok || err != nil {
					return !ok, err
				}
				continue
			}
			if ev.DeploymentID != f.deploymentID && (f.jobID == 0 || ev.JobID != f.jobID) {
				continue
			}
			if ev.Type == EventLogAppended && ev.Target != "" && !f.targets {
				continue // a target's lines, in its own sequence: not this stream's
			}
			if ok, err := f.readable(ctx); !ok || err != nil {
				return !ok, err
			}
			if ev.Type == EventLogAppended {
				var tj *targetLog
				next, jobID := f.next, 0
				if ev.Target != "" {
					if tj = f.targetJobs[ev.JobID]; tj != nil {
						next, jobID = tj.next, ev.JobID
					}
				}
				if tj != nil && tj.skip {
					continue
				}
				if lines := ev.Lines; len(lines) > 0 && lines[0].Seq <= next && (ev.Target == "" || tj != nil) {
					for _, l := range lines {
						if !f.add(ctx, l, jobID, tj) {
							return false, ctx.Err()
						}
					}
					if !f.flush(ctx) {
						return false, ctx.Err()
					}
					continue
				}
			}
			// Anything else about this deployment (status, job finished, a target job not seen
			// yet, or lines we cannot use as they are): read the database.
			if done, err := f.catchUp(ctx); done || err != nil {
				return done, err
			}
		}
	}
}

// StepStarted records that a step of the agent's job began. Idempotent by (job, step): a repeat,
// or a report on a step already finished, changes nothing.
func (e *Engine) StepStarted(ctx context.Context, jobID, agentID, step int, name string, startedAt time.Time) error {
	return e.reportStep(ctx, jobID, agentID, StepReport{Step: step, Name: name, Status: stepRunning, StartedAt: startedAt})
}

// StepReport is an agent's report on one step: 0 is "Download artifacts", i+1 the task i.
type StepReport struct {
	Step       int
	Name       string
	Status     string // SUCCEEDED, FAILED, CANCELED or SKIPPED (RUNNING for StepStarted)
	ExitCode   int
	StartedAt  time.Time
	FinishedAt time.Time
	Reason     string
	// What the task said through logging commands (final reports only; see agentproto's
	// "Logging commands"). Issues beyond maxStepIssues are dropped, the counts kept.
	Issues              []StepIssue
	ErrorCount          int
	WarningCount        int
	SucceededWithIssues bool
	Progress            *int
	// OutputVariables are the variables the task set with isOutput, named as the task wrote
	// them; they are stored as "<step name>.<name>" for the release's later jobs.
	OutputVariables []OutputVariable
}

// StepIssue is an error or warning a step reported.
type StepIssue = spec.StepIssue

// OutputVariable is a variable a step set with isOutput (##vso[task.setvariable]); Value is
// plaintext, sealed by the engine when Secret.
type OutputVariable struct {
	Name, Value string
	Secret      bool
}

// knownLineKinds are the LogLine.Kind values agents send.
var knownLineKinds = map[string]bool{"": true, "group": true, "endgroup": true, "section": true,
	"warning": true, "error": true, "command": true, "debug": true}

// Limits on what a step's logging commands may store.
const (
	maxStepIssues       = 100
	maxIssueBytes       = 4 << 10
	maxOutputVariables  = 100
	maxOutputValueBytes = 32 << 10
	maxAttachmentBytes  = 1 << 20
	maxJobAttachments   = 20
)

// StepFinished records how a step of the agent's job ended. Idempotent by (job, step): the first
// final report stands.
func (e *Engine) StepFinished(ctx context.Context, jobID, agentID int, r StepReport) error {
	switch r.Status {
	case stepSucceeded, stepFailed, stepCanceled, stepSkipped:
	default:
		return Invalid("status", "step status %q is not SUCCEEDED, FAILED, CANCELED or SKIPPED", r.Status)
	}
	return e.reportStep(ctx, jobID, agentID, r)
}

func (e *Engine) reportStep(ctx context.Context, jobID, agentID int, r StepReport) error {
	if r.Step < 0 || r.Step > 10000 {
		return Invalid("step", "step %d is out of range", r.Step)
	}
	name := strings.ToValidUTF8(strings.TrimSpace(r.Name), "\uFFFD")
	if len(name) > 200 {
		name = name[:200]
	}
	if name == "" {
		name = fmt.Sprintf("step %d", r.Step)
	}
	return e.inTxConcurrent(ctx, func(t *txn) error {
		j, err := t.agentJob(jobID, agentID)
		if err != nil {
			return err
		}
		s, err := t.JobStep.Query().Where(jobstep.JobID(jobID), jobstep.Position(r.Step)).Only(t.ctx)
		if err != nil && !ent.IsNotFound(err) {
			return fmt.Errorf("reading step %d of job %d: %w", r.Step, jobID, err)
		}
		if s != nil && s.Status != jobstep.StatusPENDING && s.Status != jobstep.StatusRUNNING {
			return nil // already final: the first report stands
		}
		if s != nil && r.Status == stepRunning && s.Status == jobstep.StatusRUNNING {
			return nil
		}
		continueOnError := false
		if flat := flattenTasks(j.Spec.Tasks); r.Step > 0 && r.Step <= len(flat) {
			continueOnError = flat[r.Step-1].ContinueOnError
		}
		status := jobstep.Status(r.Status)
		final := r.Status != stepRunning
		if final {
			if err := t.recordOutputs(j, name, r.OutputVariables); err != nil {
				return err
			}
		}
		issues := stepIssues(r.Issues)
		reason := truncateUTF8(strings.ToValidUTF8(r.Reason, "\uFFFD"), 2000)
		if s == nil {
			c := t.JobStep.Create().SetJobID(jobID).SetPosition(r.Step).SetName(name).SetStatus(status).
				SetContinueOnError(continueOnError)
			if final {
				c.SetIssues(issues).SetErrorCount(max(r.ErrorCount, 0)).SetWarningCount(max(r.WarningCount, 0)).
					SetSucceededWithIssues(r.SucceededWithIssues).SetReason(reason)
				if r.Progress != nil {
					c.SetProgress(min(max(*r.Progress, 0), 100))
				}
			}
			if !r.StartedAt.IsZero() {
				c.SetStartedAt(r.StartedAt.UTC())
			}
			if r.Status != stepRunning {
				c.SetFinishedAt(orNow(r.FinishedAt, t.now))
				if r.Status != stepSkipped {
					c.SetExitCode(r.ExitCode)
				}
			}
			if err := c.Exec(t.ctx); err != nil {
				return fmt.Errorf("recording step %d of job %d: %w", r.Step, jobID, err)
			}
			return nil
		}
		u := t.JobStep.UpdateOne(s).SetStatus(status).SetName(name)
		if !r.StartedAt.IsZero() && s.StartedAt == nil {
			u.SetStartedAt(r.StartedAt.UTC())
		}
		if final {
			u.SetIssues(issues).SetErrorCount(max(r.ErrorCount, 0)).SetWarningCount(max(r.WarningCount, 0)).
				SetSucceededWithIssues(r.SucceededWithIssues).SetReason(reason)
			if r.Progress != nil {
				u.SetProgress(min(max(*r.Progress, 0), 100))
			}
		}
		if r.Status != stepRunning {
			u.SetFinishedAt(orNow(r.FinishedAt, t.now))
			if r.Status != stepSkipped {
				u.SetExitCode(r.ExitCode)
			}
		}
		if err := u.Exec(t.ctx); err != nil {
			return fmt.Errorf("recording step %d of job %d: %w", r.Step, jobID, err)
		}
		return nil
	})
}

// stepIssues bounds and cleans the issues an agent reported.
func stepIssues(in []spec.StepIssue) []spec.StepIssue {
	out := make([]spec.StepIssue, 0, min(len(in), maxStepIssues))
	for _, is := range in {
		if len(out) == maxStepIssues {
			break
		}
		if is.Type != "error" && is.Type != "warning" {
			continue
		}
		is.Message = truncateUTF8(strings.ToValidUTF8(is.Message, "\uFFFD"), maxIssueBytes)
		is.SourcePath = truncateUTF8(strings.ToValidUTF8(is.SourcePath, "\uFFFD"), 1024)
		is.LineNumber = max(is.LineNumber, 0)
		out = append(out, is)
	}
	return out
}

// truncateUTF8 cuts s to at most n bytes at a UTF-8 boundary.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// recordOutputs adds a finished step's output variables to its job, as "<step name>.<name>",
// sealing secret values; a later value of the same name replaces the earlier one.
func (t *txn) recordOutputs(j *ent.Job, stepName string, vars []OutputVariable) error {
	if len(vars) == 0 {
		return nil
	}
	out := slices.Clone(j.OutputVariables)
	for _, v := range vars {
		name := stepName + "." + strings.TrimSpace(v.Name)
		if strings.TrimSpace(v.Name) == "" || len(name) > 512 || len(v.Value) > maxOutputValueBytes {
			continue // the agent enforces these; a hostile one gets nothing stored
		}
		v := spec.Variable{Name: name, Value: strings.ToValidUTF8(v.Value, "\uFFFD"), Secret: v.Secret}
		if v.Secret {
			if t.e.secrets == nil {
				return fmt.Errorf("sealing output variable %q: no secret key is configured on the server", name)
			}
			v.Value = sealedPrefix + base64.StdEncoding.EncodeToString(t.e.secrets.Seal([]byte(v.Value)))
		}
		out = slices.DeleteFunc(out, func(o spec.Variable) bool { return strings.EqualFold(o.Name, name) })
		if len(out) >= maxOutputVariables {
			continue
		}
		out = append(out, v)
	}
	if err := t.Job.UpdateOneID(j.ID).SetOutputVariables(out).Exec(t.ctx); err != nil {
		return fmt.Errorf("recording output variables of job %d: %w", j.ID, err)
	}
	j.OutputVariables = out
	return nil
}

// StepProgress records the progress a running step reported (##vso[task.setprogress]). It is
// informational: a report for a step that is not running is ignored.
func (e *Engine) StepProgress(ctx context.Context, jobID, agentID, step, percent int, text string) error {
	if percent < 0 || percent > 100 {
		return Invalid("percent", "progress %d is not between 0 and 100", percent)
	}
	text = truncateUTF8(strings.ToValidUTF8(text, "\uFFFD"), 256)
	return e.inTxConcurrent(ctx, func(t *txn) error {
		j, err := t.agentJob(jobID, agentID)
		if err != nil {
			return err
		}
		s, err := t.JobStep.Query().Where(jobstep.JobID(jobID), jobstep.Position(step), jobstep.StatusEQ(jobstep.StatusRUNNING)).Only(t.ctx)
		if ent.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading step %d of job %d: %w", step, jobID, err)
		}
		if s.Progress != nil && *s.Progress == percent && s.ProgressText == text {
			return nil // a resent report: nothing new to store or tell
		}
		if err := t.JobStep.UpdateOne(s).SetProgress(percent).SetProgressText(text).Exec(t.ctx); err != nil {
			return fmt.Errorf("recording progress of step %d of job %d: %w", step, jobID, err)
		}
		d, err := t.Deployment.Get(t.ctx, j.DeploymentID)
		if err != nil {
			return fmt.Errorf("reading deployment of job %d: %w", jobID, err)
		}
		// Persisted like the other release events, so that a dashboard that reconnects
		// catches up; one per change of a step's progress (a resent report adds none).
		return t.emit(Event{Type: EventStepProgress, DefinitionID: d.DefinitionID, ReleaseID: d.ReleaseID,
			Environment: d.EnvironmentName, DeploymentID: d.ID, JobID: jobID, AgentID: agentID,
			Data: map[string]any{"step": step, "name": s.Name, "percent": percent, "text": text}})
	})
}

// AddAttachment stores a file a step uploaded (##vso[task.uploadfile]) with its job.
// Idempotent by (job, step, name): a resent copy is ignored. At most maxJobAttachments files of
// maxAttachmentBytes each per job; more is INVALID_INPUT.
func (e *Engine) AddAttachment(ctx context.Context, jobID, agentID, step int, name string, data []byte) error {
	name = truncateUTF8(strings.ToValidUTF8(strings.TrimSpace(name), "\uFFFD"), 255)
	if name == "" || strings.ContainsAny(name, "/\\\x00") {
		return Invalid("name", "attachment name %q is not a file name", name)
	}
	if len(data) > maxAttachmentBytes {
		return Invalid("data", "attachment %s is larger than %d bytes", name, maxAttachmentBytes)
	}
	return e.inTxConcurrent(ctx, func(t *txn) error {
		if _, err := t.agentJob(jobID, agentID); err != nil {
			return err
		}
		s, err := t.JobStep.Query().Where(jobstep.JobID(jobID), jobstep.Position(step)).Only(t.ctx)
		if ent.IsNotFound(err) {
			return Invalid("step", "step %d of job %d has not started", step, jobID)
		}
		if err != nil {
			return fmt.Errorf("reading step %d of job %d: %w", step, jobID, err)
		}
		dup, err := s.QueryAttachments().Where(stepattachment.Name(name)).Exist(t.ctx)
		if err != nil {
			return fmt.Errorf("reading attachments of job %d: %w", jobID, err)
		}
		if dup {
			return nil
		}
		n, err := t.StepAttachment.Query().Where(stepattachment.HasStepWith(jobstep.JobID(jobID))).Count(t.ctx)
		if err != nil {
			return fmt.Errorf("counting attachments of job %d: %w", jobID, err)
		}
		if n >= maxJobAttachments {
			return Invalid("attachment", "job %d already has %d attachments", jobID, maxJobAttachments)
		}
		if data == nil {
			data = []byte{}
		}
		if err := t.StepAttachment.Create().SetJobStepID(s.ID).SetName(name).SetSize(len(data)).SetContent(data).
			SetCreatedAt(t.now).SetUpdatedAt(t.now).Exec(t.ctx); err != nil {
			return fmt.Errorf("storing attachment %s of job %d: %w", name, jobID, err)
		}
		return nil
	})
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t.UTC()
}

// pastPhases reports whether a deployment in status s has run all its phases (it is in its
// post-deployment stage).
func pastPhases(s deployment.Status) bool {
	return s == deployment.StatusPENDING_POST_APPROVAL || s == deployment.StatusEVALUATING_POST_GATES
}
