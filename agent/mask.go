package agent

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cairnhq/cairn/agentproto"
)

// maskedText replaces every secret with this text.
const maskedText = "***"

// maskWriter is the io.Writer a task's stdout and stderr go through. It cuts its input into lines,
// replaces every secret in each line with "***" and hands the result to emit. Because it masks
// whole lines, a secret split across two writes is still found: bytes wait in the writer until
// their line ends. A line longer than limit is emitted in pieces of about limit bytes, never cut
// inside a secret or a UTF-8 sequence. It is not safe for concurrent use; call Close to emit the
// last unterminated line.
type maskWriter struct {
	secrets   []string // longest first
	maxSecret int
	limit     int
	buf       []byte
	emit      func(text string)

	// The members below serve logging commands (commands.go); all are optional.
	// emitKind, when set, receives every line with its kind (agentproto.Line*) instead of emit.
	emitKind func(text, kind string)
	// command, when set, receives each complete logging command line, raw (unmasked: it may set
	// a secret), instead of the line being printed; tooLong is called, and the line dropped
	// unprinted, when one exceeds agentproto.MaxCommandBytes.
	command func(raw []byte)
	tooLong func()
	// formatted is told of every "##[error]" and "##[warning]" output line (masked).
	formatted func(text, kind string)
	dropping  bool // discarding an over-long command line up to its end
	midLine   bool // pieces of the pending unterminated line were emitted already
}

// newMaskWriter returns a maskWriter that masks the given secret values (see expandSecrets for
// the forms that are masked) and passes lines of at most limit bytes to emit.
func newMaskWriter(secrets []string, limit int, emit func(text string)) *maskWriter {
	s := expandSecrets(secrets)
	w := &maskWriter{secrets: s, limit: limit, emit: emit}
	for _, v := range s {
		w.maxSecret = max(w.maxSecret, len(v))
	}
	return w
}

// expandSecrets returns the strings to mask for the given secret values: each value, each
// non-blank line of a multi-line value, and the standard and URL base64 encodings of each value
// (without padding, so that the padded form is masked too). Blank values are ignored.
func expandSecrets(values []string) []string {
	var out []string
	add := func(s string) {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	for _, v := range values {
		if strings.TrimSpace(v) == "" {
			continue
		}
		add(v)
		if strings.ContainsAny(v, "\r\n") {
			for line := range strings.Lines(v) {
				add(strings.TrimRight(line, "\r\n"))
			}
		}
		add(base64.RawStdEncoding.EncodeToString([]byte(v)))
		add(base64.RawURLEncoding.EncodeToString([]byte(v)))
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(out)
}

// Write buffers p and emits every complete line in it.
func (w *maskWriter) Write(p []byte) (int, error) {
	n := len(p)
	if w.dropping {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			return n, nil
		}
		w.dropping = false
		p = p[i+1:]
	}
	w.buf = append(w.buf, p...)
	start := 0
	for {
		i := bytes.IndexByte(w.buf[start:], '\n')
		if i < 0 {
			break
		}
		line := w.buf[start : start+i]
		start += i + 1
		w.line(bytes.TrimSuffix(line, []byte("\r")))
	}
	rest := w.buf[start:]
	if w.command != nil && !w.midLine && mayBecomeCommand(rest) {
		// A command line is read whole (it may set a secret: no piece of it is printed), up to
		// its limit; a longer one is dropped.
		if len(rest) > agentproto.MaxCommandBytes {
			w.dropping = true
			rest = rest[:0]
			if w.tooLong != nil {
				w.tooLong()
			}
		}
		w.buf = append(w.buf[:0], rest...)
		return n, nil
	}
	// An unterminated line is emitted in pieces once it is long enough that no secret can
	// straddle the cut and the end of the buffer at once.
	for len(rest) >= w.limit+w.maxSecret {
		cut := w.cutPoint(rest)
		w.out(w.mask(rest[:cut]), !w.midLine)
		w.midLine = true
		rest = rest[cut:]
	}
	w.buf = append(w.buf[:0], rest...)
	return n, nil
}

// line handles one complete line: a logging command goes to command, anything else is emitted.
func (w *maskWriter) line(l []byte) {
	if w.command != nil && !w.midLine && isCommandLine(l) {
		w.command(l)
		return
	}
	w.emitLine(l)
}

// addSecret masks v (and its forms, see expandSecrets) in every line emitted from now on.
func (w *maskWriter) addSecret(v string) {
	w.secrets = expandSecrets(append(slices.Clone(w.secrets), v))
	for _, s := range w.secrets {
		w.maxSecret = max(w.maxSecret, len(s))
	}
}

// emitOwn emits a line of the agent's own, masked, with its kind.
func (w *maskWriter) emitOwn(text, kind string) {
	text = w.mask([]byte(text))
	if w.emitKind != nil {
		w.emitKind(text, kind)
		return
	}
	w.emit(text)
}

// out emits one masked piece of output; first says it starts a line (where a formatting
// prefix may be).
func (w *maskWriter) out(text string, first bool) {
	if w.emitKind == nil {
		w.emit(text)
		return
	}
	kind := ""
	if first {
		kind = lineKind(text)
	}
	w.emitKind(text, kind)
	if w.formatted != nil && (kind == agentproto.LineError || kind == agentproto.LineWarning) {
		w.formatted(text, kind)
	}
}

// Close emits the pending unterminated line, if any.
func (w *maskWriter) Close() error {
	if len(w.buf) > 0 {
		w.line(bytes.TrimSuffix(w.buf, []byte("\r")))
		w.buf = w.buf[:0]
	}
	w.dropping = false
	return nil
}

// emitLine emits one complete line, in pieces if it is longer than the limit.
func (w *maskWriter) emitLine(line []byte) {
	first := !w.midLine
	w.midLine = false
	for len(line) > w.limit {
		cut := w.cutPoint(line)
		w.out(w.mask(line[:cut]), first)
		first = false
		line = line[cut:]
	}
	w.out(w.mask(line), first)
}

// cutPoint returns where to cut a piece off line (len(line) > limit): at most limit, at the start
// of a UTF-8 sequence, and before any secret occurrence that would straddle the cut. If a secret
// starts at 0 and is longer than the limit, the cut is right after it.
func (w *maskWriter) cutPoint(line []byte) int {
	cut := w.limit
	for cut > 0 && !utf8.RuneStart(line[cut]) && w.limit-cut < utf8.UTFMax {
		cut--
	}
	if cut == 0 {
		cut = w.limit
	}
	for moved := true; moved && cut > 0; {
		moved = false
		for _, s := range w.secrets {
			for start := max(0, cut-len(s)+1); start < cut; start++ {
				if start+len(s) <= len(line) && string(line[start:start+len(s)]) == s {
					if start == 0 {
						return len(s)
					}
					cut, moved = start, true
					break
				}
			}
		}
	}
	return cut
}

// mask returns line as valid UTF-8 with every occurrence of every secret replaced by "***".
// Overlapping occurrences are merged into one "***".
func (w *maskWriter) mask(line []byte) string {
	s := string(line)
	if len(w.secrets) > 0 {
		var spans [][2]int
		for _, sec := range w.secrets {
			for off := 0; ; {
				i := strings.Index(s[off:], sec)
				if i < 0 {
					break
				}
				spans = append(spans, [2]int{off + i, off + i + len(sec)})
				off += i + 1
			}
		}
		if len(spans) > 0 {
			slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
			var b strings.Builder
			b.Grow(len(s))
			pos := 0
			for i := 0; i < len(spans); {
				start, end := spans[i][0], spans[i][1]
				for i++; i < len(spans) && spans[i][0] <= end; i++ {
					end = max(end, spans[i][1])
				}
				b.WriteString(s[pos:start])
				b.WriteString(maskedText)
				pos = end
			}
			b.WriteString(s[pos:])
			s = b.String()
		}
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
