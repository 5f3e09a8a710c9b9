package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/logchunk"
)

// maxLogStep bounds the step of a LogRange (reportStep accepts steps 0..10000).
const maxLogStep = 10000

// LogRange selects lines of a job's log: sequence numbers FromSeq through ToSeq (FromSeq 0 or 1:
// from the first line; ToSeq 0: to the last stored line), and only the lines of Step when Step
// is set.
type LogRange struct {
	FromSeq, ToSeq int64
	Step           *int
	// Target selects the log of one deployment-group target (its own sequence) instead of
	// the deployment's.
	Target string
	// Headers asks WriteDeploymentLog for a header line before each task's lines (phase,
	// target, step name, status, start time and duration; see StepHeader).
	Headers bool
}

// check returns INVALID_INPUT for a range that selects nothing by construction or is out of
// bounds, naming the query parameter or argument.
func (r LogRange) check() error {
	switch {
	case r.FromSeq < 0:
		return Invalid("fromSeq", "must be a sequence number (1 or more), not %d", r.FromSeq)
	case r.ToSeq < 0:
		return Invalid("toSeq", "must be a sequence number (1 or more), not %d", r.ToSeq)
	case r.ToSeq > 0 && r.ToSeq < r.FromSeq:
		return Invalid("toSeq", "%d is before fromSeq (%d)", r.ToSeq, r.FromSeq)
	case r.Step != nil && (*r.Step < 0 || *r.Step > maxLogStep):
		return Invalid("step", "must be between 0 and %d, not %d", maxLogStep, *r.Step)
	case len(r.Target) > 200:
		return Invalid("target", "is longer than 200 bytes")
	}
	return nil
}

// keep reports whether the range selects l (by its sequence number and step).
func (r LogRange) keep(l *rawLine) bool {
	return l.seq >= r.FromSeq && (r.ToSeq == 0 || l.seq <= r.ToSeq) && (r.Step == nil || l.step == *r.Step)
}

// rawLine is a stored log line as decoded from its chunk: text and time are the bytes of the
// JSON values (text unescaped), aliasing the chunk's data where no unescaping was needed.
type rawLine struct {
	seq  int64
	step int
	time []byte
	text []byte
	// afterLoss: the line reached the server after the job was LOST (LogLine.AfterLoss).
	afterLoss bool
	// kind is LogLine.Kind.
	kind string
}

// logLine converts l to a LogLine (parsing its time).
func (l *rawLine) logLine() (LogLine, error) {
	t, err := time.Parse(time.RFC3339Nano, string(l.time))
	if err != nil {
		return LogLine{}, fmt.Errorf("decoding time of log line %d: %w", l.seq, err)
	}
	return LogLine{Seq: l.seq, Step: l.step, Time: t, Text: string(l.text), AfterLoss: l.afterLoss, Kind: l.kind}, nil
}

// decodeChunk decodes a stored chunk (a JSON array of LogLine, as AppendLogs writes it with
// json.Marshal) into dst[:0]. It reads exactly the shape json.Marshal gives a []LogLine
// (fields in order, no spaces) without reflection, since a long log is read at the rate of this
// function; any other shape (an older or hand-written chunk) is decoded with encoding/json.
func decodeChunk(data []byte, dst []rawLine) ([]rawLine, error) {
	dst = dst[:0]
	if out, ok := decodeChunkFast(data, dst); ok {
		return out, nil
	}
	var lines []LogLine
	if err := json.Unmarshal(data, &lines); err != nil {
		return nil, err
	}
	dst = dst[:0]
	for _, l := range lines {
		dst = append(dst, rawLine{seq: l.Seq, step: l.Step,
			time: l.Time.AppendFormat(nil, time.RFC3339Nano), text: []byte(l.Text), afterLoss: l.AfterLoss, kind: l.Kind})
	}
	return dst, nil
}

func decodeChunkFast(data []byte, dst []rawLine) ([]rawLine, bool) {
	if string(data) == "null" || string(data) == "[]" {
		return dst, true
	}
	p := lineParser{data: data}
	if !p.lit("[") {
		return nil, false
	}
	for {
		var l rawLine
		var ok bool
		if !p.lit(`{"seq":`) {
			return nil, false
		}
		if l.seq, ok = p.int(); !ok || !p.lit(`,"step":`) {
			return nil, false
		}
		step, ok := p.int()
		if !ok || step < 0 || step > 1<<31-1 || !p.lit(`,"time":`) {
			return nil, false
		}
		l.step = int(step)
		if l.time, ok = p.str(); !ok || !p.lit(`,"text":`) {
			return nil, false
		}
		if l.text, ok = p.str(); !ok {
			return nil, false
		}
		l.afterLoss = p.lit(`,"afterLoss":true`)
		if p.lit(`,"kind":`) {
			k, ok := p.str()
			if !ok {
				return nil, false
			}
			l.kind = lineKind(k)
		}
		if !p.lit("}") {
			return nil, false
		}
		dst = append(dst, l)
		if p.lit("]") {
			return dst, p.i == len(p.data)
		}
		if !p.lit(",") {
			return nil, false
		}
	}
}

// lineKind returns the interned kind of a stored line (the few values agents send share one
// string each instead of an allocation per line).
func lineKind(b []byte) string {
	for _, k := range [...]string{"group", "endgroup", "section", "warning", "error", "command", "debug"} {
		if string(b) == k {
			return k
		}
	}
	return string(b)
}

// lineParser reads the JSON of a chunk from position i.
type lineParser struct {
	data []byte
	i    int
}

// lit consumes s if the data continues with it.
func (p *lineParser) lit(s string) bool {
	if len(p.data)-p.i < len(s) || string(p.data[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

// int consumes a JSON integer (an optional minus and up to 18 digits).
func (p *lineParser) int() (int64, bool) {
	neg := p.i < len(p.data) && p.data[p.i] == '-'
	if neg {
		p.i++
	}
	start := p.i
	var n int64
	for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' && p.i-start < 18 {
		n = n*10 + int64(p.data[p.i]-'0')
		p.i++
	}
	if p.i == start || (p.data[start] == '0' && p.i-start > 1) {
		return 0, false
	}
	if p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
		return 0, false // 19 digits or more: let encoding/json decide
	}
	if neg {
		n = -n
	}
	return n, true
}

// str consumes a JSON string and returns its value: a slice of the data when it has no escape,
// else a new unescaped copy.
func (p *lineParser) str() ([]byte, bool) {
	if p.i >= len(p.data) || p.data[p.i] != '"' {
		return nil, false
	}
	p.i++
	start := p.i
	for p.i < len(p.data) {
		switch c := p.data[p.i]; {
		case c == '"':
			s := p.data[start:p.i]
			p.i++
			return s, true
		case c == '\\':
			return p.unescape(start)
		case c < 0x20:
			return nil, false // not valid JSON
		default:
			p.i++
		}
	}
	return nil, false
}

// unescape continues str from the first backslash, copying the string's value.
func (p *lineParser) unescape(start int) ([]byte, bool) {
	out := make([]byte, 0, p.i-start+64)
	out = append(out, p.data[start:p.i]...)
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return out, true
		case c < 0x20:
			return nil, false
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.data) {
			return nil, false
		}
		e := p.data[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return nil, false
			}
			if utf16.IsSurrogate(r) {
				// A pair is two escapes; a lone surrogate decodes to U+FFFD, as in encoding/json.
				save := p.i
				if p.lit(`\u`) {
					if r2, ok := p.hex4(); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							out = utf8.AppendRune(out, d)
							continue
						}
					}
				}
				p.i = save
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, false
		}
	}
	return nil, false
}

func (p *lineParser) hex4() (rune, bool) {
	if len(p.data)-p.i < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p.data[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(n), true
}

// logChunkPage is how many chunks a scan reads per query after its first, which reads one (a
// short range, or a page of jobLogs, often needs no more): a chunk holds at most one agent batch
// (64 KiB of text, under 1 MiB of JSON), so a scan holds a few MiB at most however long the log.
const logChunkPage = 4

// errStopScan ends a scan early without an error.
var errStopScan = errors.New("stop scanning")

// scanLogs calls fn with the lines of a job's log that r selects, in order, a chunk at a time
// (lines is reused between calls; fn must not keep it). It reads the chunks a few at a time, by
// the (job_id, first_seq) index: the chunk holding r.FromSeq, then those after it up to
// r.ToSeq, so that a range near the end of a long log reads only what it returns. fn returning
// errStopScan ends the scan with no error. pageSize is the chunks read per query after the first
// (logChunkPage to read a whole range; 1 when fn stops after a few lines, as a page does).
func (e *Engine) scanLogs(ctx context.Context, jobID int, r LogRange, pageSize int, fn func(lines []rawLine) error) error {
	from := max(r.FromSeq, 1)
	r.FromSeq = from
	// The chunk holding from, if any, starts at or before it.
	start, err := e.client.LogChunk.Query().
		Where(logchunk.JobID(jobID), logchunk.FirstSeqLTE(from)).
		Order(ent.Desc(logchunk.FieldFirstSeq)).Limit(1).Select(logchunk.FieldFirstSeq).Ints(ctx)
	if err != nil {
		return fmt.Errorf("reading logs of job %d: %w", jobID, err)
	}
	cursor := from
	if len(start) == 1 {
		cursor = int64(start[0])
	}
	var buf []rawLine
	for page := 1; ; page = pageSize {
		q := e.client.LogChunk.Query().Where(logchunk.JobID(jobID), logchunk.FirstSeqGTE(cursor))
		if r.ToSeq > 0 {
			q.Where(logchunk.FirstSeqLTE(r.ToSeq))
		}
		chunks, err := q.Order(ent.Asc(logchunk.FieldFirstSeq)).Limit(page).
			Select(logchunk.FieldFirstSeq, logchunk.FieldLastSeq, logchunk.FieldLines).All(ctx)
		if err != nil {
			return fmt.Errorf("reading logs of job %d: %w", jobID, err)
		}
		for _, c := range chunks {
			if c.LastSeq < from {
				continue
			}
			all, err := decodeChunk(c.Lines, buf)
			if err != nil {
				return fmt.Errorf("decoding log chunk %d of job %d: %w", c.ID, jobID, err)
			}
			buf = all
			kept := all[:0]
			for i := range all {
				if r.keep(&all[i]) {
					kept = append(kept, all[i])
				}
			}
			if len(kept) > 0 {
				if err := fn(kept); err != nil {
					if errors.Is(err, errStopScan) {
						return nil
					}
					return err
				}
			}
			cursor = c.FirstSeq + 1
			if r.ToSeq > 0 && c.LastSeq >= r.ToSeq {
				return nil
			}
		}
		if len(chunks) < page {
			return nil
		}
	}
}

// scanDeploymentLogs is scanLogs over the jobs of a deployment's agent phases, in phase order:
// their stored sequence numbers follow one another (Job.log_base), so that they read as one log.
func (e *Engine) scanDeploymentLogs(ctx context.Context, jobs []*ent.Job, r LogRange, pageSize int, fn func(lines []rawLine) error) error {
	stopped := false
	each := func(lines []rawLine) error {
		err := fn(lines)
		stopped = errors.Is(err, errStopScan)
		return err
	}
	from := max(r.FromSeq, 1)
	for i, j := range jobs {
		if i < len(jobs)-1 && j.LogSeq < from {
			continue // a finished phase wholly before the range
		}
		if r.ToSeq > 0 && j.LogBase >= r.ToSeq {
			return nil
		}
		if err := e.scanLogs(ctx, j.ID, r, pageSize, each); err != nil || stopped {
			return err
		}
	}
	return nil
}
