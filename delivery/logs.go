package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/jobstep"
	"github.com/cairnhq/cairn/ent/logchunk"
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
		acked = j.LogSeq
		next := j.LogSeq + 1
		bytes, truncated := j.LogBytes, j.LogTruncated
		var stored []LogLine
		for _, l := range lines {
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
			data, err := json.Marshal(stored)
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
		acked = next - 1
		if len(stored) > 0 {
			t.notify(Event{Type: EventLogAppended, JobID: jobID, DeploymentID: j.DeploymentID, AgentID: agentID,
				Data: map[string]any{"lines": stored, "lastSeq": acked}})
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
	if limit <= 0 {
		limit = defaultLogLimit
	}
	limit = min(limit, maxLogLimit)
	fromSeq = max(fromSeq, 1)
	out := []LogLine{}
	const chunkPage = 64
	for {
		chunks, err := e.client.LogChunk.Query().
			Where(logchunk.JobID(jobID), logchunk.LastSeqGTE(fromSeq)).
			Order(ent.Asc(logchunk.FieldFirstSeq)).Limit(chunkPage).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading logs of job %d: %w", jobID, err)
		}
		for _, c := range chunks {
			var lines []LogLine
			if err := json.Unmarshal(c.Lines, &lines); err != nil {
				return nil, fmt.Errorf("decoding log chunk %d of job %d: %w", c.ID, jobID, err)
			}
			for _, l := range lines {
				if l.Seq < fromSeq {
					continue
				}
				out = append(out, l)
				if len(out) == limit {
					return out, nil
				}
			}
			fromSeq = c.LastSeq + 1
		}
		if len(chunks) < chunkPage {
			return out, nil
		}
	}
}

// deploymentJob returns the job of a deployment, nil if it has none yet; NOT_FOUND for an unknown
// deployment.
func (e *Engine) deploymentJob(ctx context.Context, deploymentID int) (*ent.Deployment, *ent.Job, error) {
	d, err := e.client.Deployment.Get(ctx, deploymentID)
	if ent.IsNotFound(err) {
		return nil, nil, NotFound("deployment", deploymentID)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading deployment %d: %w", deploymentID, err)
	}
	j, err := e.client.Job.Query().Where(job.DeploymentID(deploymentID)).Only(ctx)
	if ent.IsNotFound(err) {
		return d, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading job of deployment %d: %w", deploymentID, err)
	}
	return d, j, nil
}

// DeploymentLogs returns the stored log lines of a deployment's job (ReadLogs); none while the
// deployment has no job.
func (e *Engine) DeploymentLogs(ctx context.Context, deploymentID int, fromSeq int64, limit int) ([]LogLine, error) {
	_, j, err := e.deploymentJob(ctx, deploymentID)
	if err != nil || j == nil {
		return []LogLine{}, err
	}
	return e.ReadLogs(ctx, j.ID, fromSeq, limit)
}

// Subscriber hands out subscriptions to the event bus. The channel is closed when the
// subscription falls behind (the subscriber re-reads the database) or the bus closes; unsubscribe
// releases it.
type Subscriber interface {
	Subscribe() (events <-chan Event, unsubscribe func())
}

// FollowDeploymentLog streams a deployment's log from fromSeq: the stored lines, then the live
// ones, with no gap and no duplicate. It subscribes to the bus before reading the database and
// drops live lines it already sent; when the subscription lags or closes it re-reads from the last
// line sent. Only an actor who may read the deployment's definition may
// follow it (NOT_FOUND otherwise). The stream ends (the channel closes) when the deployment's job is final and its log
// read, when a deployment without a job is final, or when ctx ends.
func (e *Engine) FollowDeploymentLog(ctx context.Context, actor Actor, bus Subscriber, deploymentID int, fromSeq int64) (<-chan *LogLine, error) {
	if err := e.RequireReadableDeployment(ctx, actor, deploymentID); err != nil {
		return nil, err
	}
	if _, _, err := e.deploymentJob(ctx, deploymentID); err != nil {
		return nil, err
	}
	out := make(chan *LogLine)
	go func() {
		defer close(out)
		f := &logFollower{e: e, out: out, deploymentID: deploymentID, next: max(fromSeq, 1)}
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

// logFollower is the state of one FollowDeploymentLog stream.
type logFollower struct {
	e            *Engine
	out          chan<- *LogLine
	deploymentID int
	jobID        int
	next         int64 // the next sequence number to send
}

// send sends l unless it was sent already; false when ctx ended.
func (f *logFollower) send(ctx context.Context, l LogLine) bool {
	if l.Seq < f.next {
		return true
	}
	select {
	case f.out <- &l:
		f.next = l.Seq + 1
		return true
	case <-ctx.Done():
		return false
	}
}

// catchUp sends the stored lines from f.next on; done reports that the log is complete.
func (f *logFollower) catchUp(ctx context.Context) (done bool, err error) {
	d, j, err := f.e.deploymentJob(ctx, f.deploymentID)
	if err != nil {
		return false, err
	}
	if j == nil {
		return deploymentFinal(d.Status), nil
	}
	f.jobID = j.ID
	// A job final before the read has all its lines stored (the result follows its lines).
	final := jobFinal(j.Status)
	for {
		lines, err := f.e.ReadLogs(ctx, j.ID, f.next, maxLogLimit)
		if err != nil {
			return false, err
		}
		for _, l := range lines {
			if !f.send(ctx, l) {
				return false, ctx.Err()
			}
		}
		if len(lines) < maxLogLimit {
			return final, nil
		}
	}
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
			if ev.DeploymentID != f.deploymentID && (f.jobID == 0 || ev.JobID != f.jobID) {
				continue
			}
			if ev.Type == EventLogAppended {
				if lines, ok := ev.Data["lines"].([]LogLine); ok && len(lines) > 0 && lines[0].Seq <= f.next {
					for _, l := range lines {
						if !f.send(ctx, l) {
							return false, ctx.Err()
						}
					}
					continue
				}
			}
			// Anything else about this deployment (status, job finished, or lines we cannot use
			// as they are): read the database.
			if done, err := f.catchUp(ctx); done || err != nil {
				return done, err
			}
		}
	}
}

// StepStarted records that a step of the agent's job began. Idempotent by (job, step): a repeat,
// or a report on a step already finished, changes nothing.
func (e *Engine) StepStarted(ctx context.Context, jobID, agentID, step int, name string, startedAt time.Time) error {
	return e.reportStep(ctx, jobID, agentID, StepReport{Step: step, Name: name, Status: "RUNNING", StartedAt: startedAt})
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
}

// StepFinished records how a step of the agent's job ended. Idempotent by (job, step): the first
// final report stands.
func (e *Engine) StepFinished(ctx context.Context, jobID, agentID int, r StepReport) error {
	switch r.Status {
	case "SUCCEEDED", "FAILED", "CANCELED", "SKIPPED":
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
		if s != nil && r.Status == "RUNNING" && s.Status == jobstep.StatusRUNNING {
			return nil
		}
		continueOnError := false
		if r.Step > 0 {
			enabled := 0
			for _, task := range j.Spec.Tasks {
				if task.Disabled {
					continue
				}
				if enabled++; enabled == r.Step {
					continueOnError = task.ContinueOnError
				}
			}
		}
		status := jobstep.Status(r.Status)
		if s == nil {
			c := t.JobStep.Create().SetJobID(jobID).SetPosition(r.Step).SetName(name).SetStatus(status).
				SetContinueOnError(continueOnError)
			if !r.StartedAt.IsZero() {
				c.SetStartedAt(r.StartedAt.UTC())
			}
			if r.Status != "RUNNING" {
				c.SetFinishedAt(orNow(r.FinishedAt, t.now))
				if r.Status != "SKIPPED" {
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
		if r.Status != "RUNNING" {
			u.SetFinishedAt(orNow(r.FinishedAt, t.now))
			if r.Status != "SKIPPED" {
				u.SetExitCode(r.ExitCode)
			}
		}
		if err := u.Exec(t.ctx); err != nil {
			return fmt.Errorf("recording step %d of job %d: %w", r.Step, jobID, err)
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
