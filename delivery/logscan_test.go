package delivery

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// checkDecode decodes data with decodeChunk and compares it with what encoding/json decodes.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	var want []LogLine
	wantErr := json.Unmarshal(data, &want)
	got, err := decodeChunk(data, nil)
	if wantErr != nil {
		return // what no chunk holds: it must only not panic
	}
	if err != nil {
		t.Fatalf("decodeChunk(%q): %v; encoding/json decodes it", data, err)
	}
	if len(got) != len(want) {
		t.Fatalf("decodeChunk(%q): %d lines, want %d", data, len(got), len(want))
	}
	for i := range got {
		l, err := got[i].logLine()
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if l.Seq != want[i].Seq || l.Step != want[i].Step || !l.Time.Equal(want[i].Time) || l.Text != want[i].Text || l.AfterLoss != want[i].AfterLoss {
			t.Fatalf("decodeChunk(%q) line %d: %+v, want %+v", data, i, l, want[i])
		}
	}
}

func TestDecodeChunk(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 123456789, time.UTC)
	texts := []string{"", "plain", `quote " and \ backslash`, "tab\tnewline\nreturn\r", "\x1b[31mred\x1b[0m",
		"<html> & é ✓ 😀", "\u2028\u2029", "\x00\x01\x7f", strings.Repeat("x", 70000), "\ufffd"}
	var lines []LogLine
	for i, s := range texts {
		lines = append(lines, LogLine{Seq: int64(i + 1), Step: i % 3, Time: t0.Add(time.Duration(i) * time.Millisecond), Text: s,
			AfterLoss: i%4 == 3})
	}
	data, err := json.Marshal(lines)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := decodeChunkFast(data, nil); !ok {
		t.Fatal("json.Marshal's own output took the slow path")
	}
	checkDecode(t, data)
	for _, s := range []string{
		`[]`, `null`, `[{"seq":1,"step":0,"time":"2026-12-03T12:00:00Z","text":"a"}]`,
		// Other shapes go to encoding/json: spaces, another field order, extra fields.
		`[ {"seq":1,"step":0,"time":"2026-12-03T12:00:00Z","text":"a"} ]`,
		`[{"text":"a","seq":1,"step":0,"time":"2026-12-03T12:00:00Z"}]`,
		`[{"seq":1,"step":0,"time":"2026-12-03T12:00:00Z","text":"a","x":1}]`,
		// Escapes, surrogate pairs and lone surrogates.
		`[{"seq":1,"step":0,"time":"2026-12-03T12:00:00Z","text":"\ud83d\ude00 \ud83d x \ude00 \u00e9\/"}]`,
		// Hostile or broken input: errors, never a panic.
		`[{"seq":1,"step":0,"time":"2026-12-03T12:00:00Z","text":"a"`, `[{"seq":`, `[{"seq":-`, `[`, ``,
		`[{"seq":1,"step":0,"time":"2026-12-03T12:00:00Z","text":"\u12"}]`,
		`[{"seq":1,"step":0,"time":"2026-12-03T12:00:00Z","text":"\q"}]`,
		`[{"seq":99999999999999999999,"step":0,"time":"2026-12-03T12:00:00Z","text":"a"}]`,
		`[{"seq":01,"step":0,"time":"2026-12-03T12:00:00Z","text":"a"}]`,
		`[{"seq":1,"step":-1,"time":"2026-12-03T12:00:00Z","text":"a"}]`,
		`[{"seq":1,"step":0,"time":"2026-12-03T12:00:00Z","text":"a"}]x`,
	} {
		checkDecode(t, []byte(s))
	}
}

// FuzzDecodeChunk checks the fast chunk decoder against encoding/json: on what json.Marshal
// writes for any lines (which must take the fast path), and on arbitrary bytes.
func FuzzDecodeChunk(f *testing.F) {
	f.Add(int64(1), 0, "hello", []byte(`[{"seq":1,"step":0,"time":"2026-12-03T12:00:00Z","text":"a"}]`))
	f.Add(int64(7), 3, "\x1b[1m\"x\"\\\u2028😀", []byte(`[{"seq":1,"step":0,"time":"x","text":"\ud800"}]`))
	f.Fuzz(func(t *testing.T, seq int64, step int, text string, raw []byte) {
		if step < 0 {
			step = -step
		}
		text = strings.ToValidUTF8(text, "\ufffd")
		lines := []LogLine{{Seq: seq, Step: step % 10001, Time: time.Unix(0, seq).UTC(), Text: text},
			{Seq: seq + 1, Step: 1, Time: time.Unix(1, 0).UTC(), Text: text + text}}
		data, err := json.Marshal(lines)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := decodeChunkFast(data, nil); ok {
			if len(got) != 2 || string(got[0].text) != text || got[1].seq != seq+1 {
				t.Fatalf("fast path of %q: %+v", data, got)
			}
		} else if seq > -1e17 && seq < 1e17 {
			t.Fatalf("json.Marshal's output %q took the slow path", data)
		}
		checkDecode(t, data)
		if utf8.Valid(raw) {
			checkDecode(t, raw)
		}
	})
}

// appendChunk writes exactly what json.Marshal writes for the same lines (the stored format).
func TestAppendChunkMatchesEncodingJSON(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 1, 0, 0, 120000000, time.UTC)
	var lines []LogLine
	for i, s := range []string{"", "plain", `quote " and \ backslash`, "tab\tnewline\n", "<html> & é ✓ 😀",
		"\u2028\u2029", "\x00\x01\x7f", "bad \xff utf8", strings.Repeat("y", 70000)} {
		lines = append(lines, LogLine{Seq: int64(i + 1), Step: i % 3, Time: t0.Add(time.Duration(i) * time.Microsecond), Text: s,
			AfterLoss: i%4 == 3, Kind: []string{"", "warning", "", "x<y"}[i%4], Target: "not stored"})
	}
	lines[2].Time = time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", -7200))
	for _, ls := range [][]LogLine{nil, {}, lines[:1], lines} {
		want, err := json.Marshal(ls)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendChunk(nil, ls)
		if err != nil || string(got) != string(want) {
			t.Fatalf("appendChunk: %s, %v\njson.Marshal: %s", got, err, want)
		}
	}
	if _, err := appendChunk(nil, []LogLine{{Time: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}}); err == nil {
		t.Fatal("a time json.Marshal refuses was encoded")
	}
}
