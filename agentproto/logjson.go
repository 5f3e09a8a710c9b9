package agentproto

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Log batches are most of what an agent sends, and encoding/json's reflection (above all
// time.Time's MarshalJSON, whose output it validates and compacts again) was a fifth of the CPU
// of a log's ingest. AppendLogBatch and DecodeLogBatch code the one shape of a LogBatch without
// reflection; the bytes on the wire are those json.Marshal writes, so either side may use
// encoding/json.

// logBatchPrefix is how every LogBatch json.Marshal writes begins.
const logBatchPrefix = `{"type":"logBatch","jobId":`

// IsLogBatch reports whether data begins as a LogBatch that AppendLogBatch (or json.Marshal)
// wrote, so that a reader can skip decoding the header of the most frequent message.
func IsLogBatch(data []byte) bool {
	return len(data) >= len(logBatchPrefix) && string(data[:len(logBatchPrefix)]) == logBatchPrefix
}

// AppendLogBatch appends to dst the JSON of LogBatch{Type: TypeLogBatch, JobID: jobID, Lines:
// lines}: byte for byte what json.Marshal writes (a test checks it), without reflection.
func AppendLogBatch(dst []byte, jobID string, lines []LogLine) ([]byte, error) {
	dst = append(dst, logBatchPrefix...)
	dst = appendJSONString(dst, jobID)
	dst = append(dst, `,"lines":`...)
	dst, err := AppendLogLines(dst, lines)
	if err != nil {
		return nil, err
	}
	return append(dst, '}'), nil
}

// AppendLogLines appends to dst the JSON of lines: byte for byte what json.Marshal writes.
func AppendLogLines(dst []byte, lines []LogLine) ([]byte, error) {
	if lines == nil {
		return append(dst, "null"...), nil
	}
	dst = slices.Grow(dst, len(lines)*64)
	dst = append(dst, '[')
	for i := range lines {
		l := &lines[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"seq":`...)
		dst = strconv.AppendInt(dst, l.Seq, 10)
		dst = append(dst, `,"step":`...)
		dst = strconv.AppendInt(dst, int64(l.Step), 10)
		dst = append(dst, `,"time":`...)
		if y := l.Time.Year(); y < 0 || y > 9999 {
			// time.Time.MarshalJSON refuses it; let encoding/json say so.
			return nil, timeError(l.Time)
		}
		dst = append(dst, '"')
		dst = l.Time.AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, `","text":`...)
		dst = appendJSONString(dst, l.Text)
		if l.Kind != "" {
			dst = append(dst, `,"kind":`...)
			dst = appendJSONString(dst, l.Kind)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']'), nil
}

func timeError(t time.Time) error {
	_, err := json.Marshal(t)
	return err
}

// appendJSONString appends s as encoding/json writes a string (HTML characters, U+2028 and
// U+2029 escaped, invalid UTF-8 as U+FFFD): plain ASCII directly, anything else through
// encoding/json itself.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// DecodeLogBatch decodes a LogBatch. The shape AppendLogBatch writes is read without reflection,
// with encoding/json's meaning for every value (strings with escapes or non-ASCII bytes and the
// times are handed to it one by one); any other shape (fields in another order, spaces, unknown
// fields, an error) is decoded by encoding/json as a whole, so the result and the errors are
// those of json.Unmarshal.
func DecodeLogBatch(data []byte) (LogBatch, error) {
	if m, ok := decodeLogBatchFast(data); ok {
		return m, nil
	}
	var m LogBatch
	err := json.Unmarshal(data, &m)
	return m, err
}

func decodeLogBatchFast(data []byte) (LogBatch, bool) {
	var m LogBatch
	p := jsonReader{data: data}
	if !p.lit(logBatchPrefix) {
		return m, false
	}
	m.Type = TypeLogBatch
	var ok bool
	if m.JobID, ok = p.str(); !ok || !p.lit(`,"lines":`) {
		return m, false
	}
	if p.lit("null}") {
		return m, p.i == len(p.data)
	}
	if !p.lit("[") {
		return m, false
	}
	m.Lines = make([]LogLine, 0, len(data)/64+1) // a line takes at least 60 bytes
	if p.lit("]}") {
		return LogBatch{Type: m.Type, JobID: m.JobID, Lines: []LogLine{}}, p.i == len(p.data)
	}
	for {
		var l LogLine
		if !p.lit(`{"seq":`) {
			return m, false
		}
		if l.Seq, ok = p.int(); !ok || !p.lit(`,"step":`) {
			return m, false
		}
		step, ok := p.int()
		if !ok || int64(int(step)) != step || !p.lit(`,"time":`) {
			return m, false
		}
		l.Step = int(step)
		start := p.i
		if _, ok := p.str(); !ok || l.Time.UnmarshalJSON(p.data[start:p.i]) != nil || !p.lit(`,"text":`) {
			return m, false
		}
		if l.Text, ok = p.str(); !ok {
			return m, false
		}
		if p.lit(`,"kind":`) {
			if l.Kind, ok = p.str(); !ok {
				return m, false
			}
			l.Kind = lineKind(l.Kind)
		}
		if !p.lit("}") {
			return m, false
		}
		m.Lines = append(m.Lines, l)
		if p.lit("]}") {
			return m, p.i == len(p.data)
		}
		if !p.lit(",") {
			return m, false
		}
	}
}

// lineKind returns the constant of a known kind (one string shared by every line of that kind).
func lineKind(k string) string {
	for _, c := range [...]string{LineGroup, LineEndGroup, LineSection, LineWarning, LineError, LineCommand, LineDebug} {
		if k == c {
			return c
		}
	}
	return k
}

// jsonReader reads the JSON of a log batch from position i.
type jsonReader struct {
	data []byte
	i    int
}

// lit consumes s if the data continues with it.
func (p *jsonReader) lit(s string) bool {
	if len(p.data)-p.i < len(s) || string(p.data[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

// int consumes a JSON integer of at most 18 digits (anything longer is left to encoding/json).
func (p *jsonReader) int() (int64, bool) {
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
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// str consumes a JSON string and returns its value. A string of plain ASCII is copied as it is;
// one with an escape or a byte outside ASCII is decoded by encoding/json (its handling of
// invalid UTF-8 and lone surrogates is then the same by construction).
func (p *jsonReader) str() (string, bool) {
	if p.i >= len(p.data) || p.data[p.i] != '"' {
		return "", false
	}
	start := p.i
	p.i++
	plain := true
	for p.i < len(p.data) {
		switch c := p.data[p.i]; {
		case c == '"':
			p.i++
			if plain {
				return string(p.data[start+1 : p.i-1]), true
			}
			var s string
			if json.Unmarshal(p.data[start:p.i], &s) != nil {
				return "", false
			}
			return s, true
		case c == '\\':
			plain = false
			p.i += 2
		case c < 0x20:
			return "", false
		default:
			if c >= utf8.RuneSelf {
				plain = false
			}
			p.i++
		}
	}
	return "", false
}
