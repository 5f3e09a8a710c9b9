package delivery

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendChunk appends the stored JSON of lines: byte for byte what json.Marshal([]LogLine)
// writes (the format decodeChunk reads; a test checks it), without reflection, which cost as
// much as the rest of AppendLogs.
func appendChunk(dst []byte, lines []LogLine) ([]byte, error) {
	if lines == nil {
		return append(dst, "null"...), nil
	}
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
		if y := l.Time.Year(); y < 0 || y > 9999 {
			_, err := json.Marshal(l.Time) // time.Time.MarshalJSON refuses it: its error
			return nil, err
		}
		dst = append(dst, `,"time":"`...)
		dst = l.Time.AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, `","text":`...)
		dst = appendJSONString(dst, l.Text)
		if l.AfterLoss {
			dst = append(dst, `,"afterLoss":true`...)
		}
		if l.Kind != "" {
			dst = append(dst, `,"kind":`...)
			dst = appendJSONString(dst, l.Kind)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']'), nil
}

// appendJSONString appends s as encoding/json writes a string: plain ASCII directly, anything
// it escapes or replaces (control and HTML characters, quotes, non-ASCII) through encoding/json.
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
