package agentproto

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

var sampleTexts = []string{"", "plain", `quote " and \ backslash`, "<html> & co", "tab\tnew\nline\r", "\x00\x1f",
	"naïve ✓ 日本", "bad \xff\xfe utf8", "\u2028\u2029", "emoji 😀", `\u0041 literal`, "\x7f"}

func sampleLines() []LogLine {
	t0 := time.Date(2026, 12, 7, 1, 2, 3, 456789000, time.UTC)
	var out []LogLine
	for i, s := range sampleTexts {
		l := LogLine{Seq: int64(i + 1), Step: i % 3, Time: t0.Add(time.Duration(i) * time.Millisecond), Text: s}
		if i%4 == 1 {
			l.Kind = LineWarning
		}
		if i == 5 {
			l.Time = time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)) // an offset and no fraction
			l.Kind = "something <new>"
		}
		out = append(out, l)
	}
	return out
}

// The batch encoder writes exactly json.Marshal's bytes, and the decoder reads them back as
// json.Unmarshal does.
func TestLogBatchCodecMatchesEncodingJSON(t *testing.T) {
	for _, lines := range [][]LogLine{nil, {}, sampleLines(), sampleLines()[:1]} {
		for _, id := range []string{"42", "job <&> \"x\"", ""} {
			want, err := json.Marshal(LogBatch{Type: TypeLogBatch, JobID: id, Lines: lines})
			if err != nil {
				t.Fatal(err)
			}
			got, err := AppendLogBatch(nil, id, lines)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("AppendLogBatch:\n got %s\nwant %s", got, want)
			}
			if !IsLogBatch(got) {
				t.Fatalf("IsLogBatch(%s) = false", got)
			}
			checkDecode(t, got)
		}
	}
	if _, err := AppendLogBatch(nil, "1", []LogLine{{Seq: 1, Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}); err == nil {
		t.Fatal("a time json.Marshal refuses was encoded")
	}
}

// checkDecode asserts DecodeLogBatch(data) gives json.Unmarshal's value, or fails where it fails.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	var want LogBatch
	wantErr := json.Unmarshal(data, &want)
	got, err := DecodeLogBatch(data)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("DecodeLogBatch(%q): error %v, encoding/json says %v", data, err, wantErr)
	}
	if err != nil {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeLogBatch(%q):\n got %#v\nwant %#v", data, got, want)
	}
}

// Shapes other than the encoder's, and hostile input, decode as encoding/json decodes them.
func TestDecodeLogBatchOtherShapes(t *testing.T) {
	for _, s := range []string{
		`{"type":"logBatch","jobId":"1","lines":[{"seq":1,"step":0,"time":"2026-12-07T01:02:03Z","text":"a"}]}`,
		`{"type":"logBatch","jobId":"1","lines":[{"seq":1,"step":0,"time":"2026-12-07T01:02:03Z","text":"a"}]} `,
		`{"type":"logBatch","jobId":"1","lines":[{"step":0,"seq":1,"time":"2026-12-07T01:02:03Z","text":"a"}]}`,
		`{"type":"logBatch","jobId":"1","lines":[{"seq":1,"step":0,"time":"2026-12-07T01:02:03Z","text":"a","extra":1}]}`,
		`{"type":"logBatch","jobId":"1","lines":[{"seq":01,"step":0,"time":"2026-12-07T01:02:03Z","text":"a"}]}`,
		`{"type":"logBatch","jobId":"1","lines":[{"seq":1.5,"step":0,"time":"2026-12-07T01:02:03Z","text":"a"}]}`,
		`{"type":"logBatch","jobId":"1","lines":[{"seq":99999999999999999999,"step":0,"time":"2026-12-07T01:02:03Z","text":"a"}]}`,
		`{"type":"logBatch","jobId":"1","lines":[{"seq":-0,"step":-3,"time":"2026-12-07T01:02:03Z","text":"a"}]}`,
		`{"type":"logBatch","jobId":"1","lines":[{"seq":1,"step":0,"time":"yesterday","text":"a"}]}`,
		`{"type":"logBatch","jobId":"1","lines":[{"seq":1,"step":0,"time":"2026-12-07T01:02:03Z","text":"a\u00e9\ud800 \"q\""}]}`,
		`{"type":"logBatch","jobId":"1","lines":[{"seq":1,"step":0,"time":"2026-12-07T01:02:03Z","text":"raw ` + "\x01" + `"}]}`,
		`{"type":"logBatch","jobId":"1","lines":[{"seq":1,"step":0,"time":"2026-12-07T01:02:03Z","text":"a"}`,
		`{"type":"logBatch","jobId":"1","lines":[{"seq":1,"step":0,"time":"2026-12-07T01:02:03Z","text":"a"}]}}`,
		`{"type":"logBatch","jobId":"1","lines":[{"seq":1,"step":0,"time":"2026-12-07T01:02:03Z","text":"a\`,
		`{"type":"logBatch","jobId":"1","lines":[{"seq":1,"step":0,"time":"2026-12-07T01:02:03Z","text":"a","kind":7}]}`,
		`{"type":"logBatch","jobId":"1","lines":{}}`,
		`{"type":"logBatch","jobId":1,"lines":[]}`,
		`{"type":"logBatch","jobId":"1","lines":null}`,
		`{"type":"logBatch","jobId":"1","lines":[]}`,
		`{"type":"logBatch","jobId":"1","lines":[],"jobId":"2"}`,
		`{"type":"logBatch","jobId":"1","lines":[{"seq":1,"step":0,"time":"2026-12-07T01:02:03Z","text":"a"},]}`,
		`[]`, `null`, ``, `{"type":"logBatch","jobId":"`,
	} {
		checkDecode(t, []byte(s))
	}
}

func FuzzLogBatchCodec(f *testing.F) {
	f.Add("42", "text", int64(1), 0, "")
	f.Add("x", "<\xff\"\\>", int64(-5), 3, "warning")
	f.Fuzz(func(t *testing.T, id, text string, seq int64, step int, kind string) {
		lines := []LogLine{{Seq: seq, Step: step, Time: time.Unix(seq%1e9, 0).UTC(), Text: text, Kind: kind}}
		want, err := json.Marshal(LogBatch{Type: TypeLogBatch, JobID: id, Lines: lines})
		if err != nil {
			t.Skip()
		}
		got, err := AppendLogBatch(nil, id, lines)
		if err != nil || string(got) != string(want) {
			t.Fatalf("AppendLogBatch: %s, %v; json.Marshal: %s", got, err, want)
		}
		checkDecode(t, got)
		checkDecode(t, []byte(text))
	})
}
