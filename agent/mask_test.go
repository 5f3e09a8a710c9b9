package agent

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// collect returns a maskWriter over secrets with the given line limit and a pointer to the lines
// it emitted.
func collect(secrets []string, limit int) (*maskWriter, *[]string) {
	var lines []string
	w := newMaskWriter(secrets, limit, func(s string) { lines = append(lines, s) })
	return w, &lines
}

func TestMaskWriter(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-s3cr3t"
	multi := "-----BEGIN KEY-----\nAAAAbbbbCCCC\n-----END KEY-----"
	tests := []struct {
		name    string
		secrets []string
		writes  []string
		want    []string
	}{
		{"no secret unchanged", []string{secret}, []string{"hello world\n"}, []string{"hello world"}},
		{"secret inside a line", []string{secret}, []string{"password is " + secret + "; ok\n"}, []string{"password is ***; ok"}},
		{"secret twice", []string{secret}, []string{secret + secret + " " + secret + "\n"}, []string{"*** ***"}},
		{"multi-line secret", []string{multi}, []string{"key:\n" + multi + "\nend\n"}, []string{"key:", "***", "***", "***", "end"}},
		{"multi-line secret line alone", []string{multi}, []string{"got AAAAbbbbCCCC here\n"}, []string{"got *** here"}},
		{"split across writes", []string{secret}, []string{"pw=hunt", "er2-s3", "cr3t end\n"}, []string{"pw=*** end"}},
		{"split byte by byte", []string{secret}, strings.Split("x "+secret+" y\n", ""), []string{"x *** y"}},
		{"base64 form", []string{secret}, []string{"b64: " + base64.StdEncoding.EncodeToString([]byte(secret)) + "\n"}, []string{"b64: ***="}},
		{"crlf and unterminated", []string{secret}, []string{"a\r\nb " + secret}, []string{"a", "b ***"}},
		{"overlapping secrets", []string{"abcd", "cdef"}, []string{"xabcdefx\n"}, []string{"x***x"}},
		{"blank secret ignored", []string{"", "  "}, []string{"a b  c\n"}, []string{"a b  c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, got := collect(tt.secrets, 1024)
			for _, s := range tt.writes {
				if _, err := w.Write([]byte(s)); err != nil {
					t.Fatal(err)
				}
			}
			w.Close()
			if fmt.Sprint(*got) != fmt.Sprint(tt.want) {
				t.Errorf("lines = %q, want %q", *got, tt.want)
			}
		})
	}
}

func TestMaskWriterLongLines(t *testing.T) {
	t.Parallel()
	const secret = "SECRETSECRET"
	const limit = 64
	// A secret placed across every possible cut position, in a terminated and an unterminated line.
	for off := limit - len(secret); off <= limit; off++ {
		for _, term := range []string{"\n", ""} {
			line := strings.Repeat("x", off) + secret + strings.Repeat("y", 3*limit)
			w, got := collect([]string{secret}, limit)
			for i := 0; i < len(line); i += 7 { // small writes: exercises the partial-line path
				w.Write([]byte(line[i:min(i+7, len(line))]))
			}
			w.Write([]byte(term))
			w.Close()
			joined := strings.Join(*got, "")
			want := strings.Repeat("x", off) + "***" + strings.Repeat("y", 3*limit)
			if joined != want {
				t.Fatalf("off %d term %q: joined = %q, want %q", off, term, joined, want)
			}
			for _, l := range *got {
				if len(l) > limit+len(secret) || strings.Contains(l, "SECRET") {
					t.Fatalf("off %d: bad piece %q (%d bytes)", off, l, len(l))
				}
			}
			if len(*got) < 3 {
				t.Fatalf("off %d: long line not split: %d pieces", off, len(*got))
			}
		}
	}
}

func TestMaskWriterUTF8(t *testing.T) {
	t.Parallel()
	w, got := collect(nil, 10)
	w.Write([]byte(strings.Repeat("é", 20) + "\n"))
	w.Write([]byte("bad \xff byte\n"))
	if strings.Join((*got)[:len(*got)-1], "") != strings.Repeat("é", 20) {
		t.Errorf("UTF-8 split wrongly: %q", *got)
	}
	if last := (*got)[len(*got)-1]; last != "bad \uFFFD byte" {
		t.Errorf("invalid UTF-8 not replaced: %q", last)
	}
}

func BenchmarkMaskWriter(b *testing.B) {
	secrets := []string{"hunter2-s3cr3t", "another-secret-value", "-----BEGIN-----\nline\n-----END-----"}
	var chunk strings.Builder
	for i := range 100 {
		fmt.Fprintf(&chunk, "2024-01-01T00:00:00Z step %d: copying files to /srv/app/releases/%d ... done\n", i, i)
		if i%10 == 0 {
			fmt.Fprintf(&chunk, "token=%s\n", secrets[0])
		}
	}
	data := []byte(chunk.String())
	w := newMaskWriter(secrets, 16<<10, func(string) {})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		w.Write(data)
	}
}
