package dispatch

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// downloadLine is the text of line seq of the seeded log: plain lines, and every 7th one with
// characters that are escaped in the stored JSON.
func downloadLine(seq int) string {
	if seq%7 == 0 {
		return fmt.Sprintf("\x1b[32mline %d\x1b[0m \"quoted\" \\ tab\t<é✓😀>", seq)
	}
	return fmt.Sprintf("line %d", seq)
}

// downloadStep is the step of line seq: 0 for 1–10, 1 for 11–1500, 2 for 1501–2500.
func downloadStep(seq int) int {
	switch {
	case seq <= 10:
		return 0
	case seq <= 1500:
		return 1
	}
	return 2
}

// TestLogDownloadStreams checks the streaming download on both databases: the whole log, ranges
// by sequence, one step, gzip when accepted (and only then), the zip format with a range, an
// empty log, and hostile parameters (400 with a message, nothing streamed).
func TestLogDownloadStreams(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		h := newHarness(t, db, harnessOpts{})
		agentID, _ := h.credentialFor(t, "writer")
		if _, err := h.e.AgentConnected(ctx, agentID, delivery.HelloInfo{MaxJobs: 1}); err != nil {
			t.Fatal(err)
		}
		s := deliverytest.Job(t, h.c, deliverytest.JobOptions{})
		if j, err := h.e.ClaimJobFor(ctx, agentID); err != nil || j == nil {
			t.Fatal(j, err)
		}
		// 2,500 lines in batches of 300, so that chunks span the steps' boundaries.
		const total = 2500
		for from := 1; from <= total; from += 300 {
			var lines []delivery.LogLine
			for seq := from; seq < from+300 && seq <= total; seq++ {
				lines = append(lines, delivery.LogLine{Seq: int64(seq), Step: downloadStep(seq), Time: time.Now(), Text: downloadLine(seq)})
			}
			if _, err := h.e.AppendLogs(ctx, s.Job.ID, agentID, lines); err != nil {
				t.Fatal(err)
			}
		}
		empty := deliverytest.Job(t, h.c, deliverytest.JobOptions{}) // a job with no line
		noJob := deliverytest.Job(t, h.c, deliverytest.JobOptions{})
		h.c.Job.DeleteOneID(noJob.Job.ID).ExecX(ctx) // a deployment without a job yet

		client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
		get := func(path string, header ...string) (*http.Response, []byte) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, h.srv.URL+path, nil)
			req.Header.Set("X-Test-Role", "VIEWER")
			for i := 0; i+1 < len(header); i += 2 {
				req.Header.Set(header[i], header[i+1])
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("%s: reading body: %v", path, err)
			}
			return resp, body
		}
		want := func(from, to, step int) string {
			var b strings.Builder
			for seq := max(from, 1); seq <= min(to, total); seq++ {
				if step < 0 || downloadStep(seq) == step {
					b.WriteString(downloadLine(seq) + "\n")
				}
			}
			return b.String()
		}
		base := fmt.Sprintf("/logs/deployments/%d", s.Deployment.ID)
		for _, tc := range []struct {
			query string
			want  string
		}{
			{"", want(1, total, -1)},
			{"?format=text", want(1, total, -1)},
			{"?fromSeq=0", want(1, total, -1)},
			{"?fromSeq=1", want(1, total, -1)},
			{"?fromSeq=1234", want(1234, total, -1)},
			{"?fromSeq=2500", want(2500, total, -1)},
			{"?fromSeq=2501", ""},
			{"?fromSeq=9223372036854775807", ""},
			{"?fromSeq=11&toSeq=20", want(11, 20, -1)},
			{"?fromSeq=300&toSeq=301", want(300, 301, -1)}, // across two chunks
			{"?toSeq=5", want(1, 5, -1)},
			{"?toSeq=99999", want(1, total, -1)},
			{"?fromSeq=7&toSeq=7", want(7, 7, -1)},
			{"?step=0", want(1, total, 0)},
			{"?step=1", want(1, total, 1)},
			{"?step=2&fromSeq=2000", want(2000, total, 2)},
			{"?step=1&fromSeq=1400&toSeq=1600", want(1400, 1600, 1)},
			{"?step=7", ""},
			{"?unknown=1&fromSeq=2499", want(2499, total, -1)},
		} {
			resp, body := get(base + tc.query)
			if resp.StatusCode != 200 || string(body) != tc.want {
				t.Errorf("%s: %d, %d bytes, want %d bytes (%.80q)", tc.query, resp.StatusCode, len(body), len(tc.want), body)
			}
			if ce := resp.Header.Get("Content-Encoding"); ce != "" {
				t.Errorf("%s: Content-Encoding %q without Accept-Encoding", tc.query, ce)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("%s: Content-Type %q", tc.query, ct)
			}
		}

		// gzip when accepted, by name or "*", never when refused.
		for _, ae := range []string{"gzip", "deflate, gzip;q=0.5", "br;q=1.0, GZIP", "*", "x-gzip"} {
			resp, body := get(base+"?fromSeq=100", "Accept-Encoding", ae)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
				t.Fatalf("Accept-Encoding %q: %d, Content-Encoding %q, Vary %q", ae, resp.StatusCode, resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
			}
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			plain, err := io.ReadAll(zr)
			if err != nil || string(plain) != want(100, total, -1) {
				t.Fatalf("Accept-Encoding %q: gunzipped %d bytes, %v", ae, len(plain), err)
			}
		}
		for _, ae := range []string{"identity", "gzip;q=0", "deflate", "gzip;q=0, *", "*;q=0", "gzip;q=abc", "gzip;q=NaN"} {
			resp, body := get(base+"?toSeq=3", "Accept-Encoding", ae)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" || string(body) != want(1, 3, -1) {
				t.Fatalf("Accept-Encoding %q: %d, Content-Encoding %q, %q", ae, resp.StatusCode, resp.Header.Get("Content-Encoding"), body)
			}
		}

		// zip, with a range; never gzipped on top.
		resp, body := get(base+"?format=zip&fromSeq=2001&step=2", "Accept-Encoding", "gzip")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Content-Type") != "application/zip" {
			t.Fatalf("zip: %d %v", resp.StatusCode, resp.Header)
		}
		zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
		if err != nil || len(zr.File) != 1 {
			t.Fatalf("zip: %v", err)
		}
		f, _ := zr.File[0].Open()
		if got, _ := io.ReadAll(f); string(got) != want(2001, total, 2) {
			t.Fatalf("zip content: %d bytes", len(got))
		}

		// Empty logs.
		for _, dep := range []int{empty.Deployment.ID, noJob.Deployment.ID} {
			if resp, body := get(fmt.Sprintf("/logs/deployments/%d?fromSeq=5", dep)); resp.StatusCode != 200 || len(body) != 0 {
				t.Fatalf("empty log of deployment %d: %d %q", dep, resp.StatusCode, body)
			}
		}

		// Hostile parameters: 400 with a message naming the parameter, no log.
		for _, tc := range []struct{ path, mention string }{
			{base + "?fromSeq=-1", "fromSeq"},
			{base + "?fromSeq=-9223372036854775808", "fromSeq"},
			{base + "?fromSeq=abc", "fromSeq"},
			{base + "?fromSeq=", ""}, // empty is the default: not an error (checked below)
			{base + "?fromSeq=1e3", "fromSeq"},
			{base + "?fromSeq=1.5", "fromSeq"},
			{base + "?fromSeq=%200x10", "fromSeq"},
			{base + "?fromSeq=99999999999999999999", "fromSeq"},
			{base + "?fromSeq=" + strings.Repeat("9", 5000), "fromSeq"},
			{base + "?fromSeq=1&fromSeq=2", "fromSeq"},
			{base + "?toSeq=-3", "toSeq"},
			{base + "?toSeq=x", "toSeq"},
			{base + "?fromSeq=10&toSeq=5", "toSeq"},
			{base + "?step=-1", "step"},
			{base + "?step=one", "step"},
			{base + "?step=99999999999", "step"},
			{base + "?step=10001", "step"},
			{base + "?format=pdf", "format"},
			{base + "?format=zip&format=text", "format"},
			{"/logs/deployments/abc", "deployment id"},
			{"/logs/deployments/-5", "deployment id"},
			{"/logs/deployments/0", "deployment id"},
		} {
			resp, body := get(tc.path)
			if tc.mention == "" {
				if resp.StatusCode != 200 {
					t.Errorf("%s: %d %s", tc.path, resp.StatusCode, body)
				}
				continue
			}
			var e struct {
				Error struct{ Code, Message string }
			}
			if resp.StatusCode != http.StatusBadRequest || json.Unmarshal(body, &e) != nil ||
				e.Error.Code != string(delivery.CodeInvalidInput) || !strings.Contains(e.Error.Message, tc.mention) || len(e.Error.Message) > 200 {
				t.Errorf("%.80s: %d %.300s, want 400 INVALID_INPUT about %s", tc.path, resp.StatusCode, body, tc.mention)
			}
		}

		// A definition the viewer may not read: 404, as for a missing deployment.
		h.c.ReleaseDefinition.UpdateOneID(s.Definition.ID).SetReaders([]string{"secret-team"}).ExecX(ctx)
		if resp, body := get(base); resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "line") {
			t.Fatalf("restricted: %d %q", resp.StatusCode, body)
		}
		if resp, _ := get("/logs/deployments/987654321"); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("unknown deployment: %d", resp.StatusCode)
		}
	})
}

// TestLogDownloadHeaders checks ?headers=1: a header line before each task's lines, with the
// step's name, status, start time and duration when the agent reported them, and the plain
// log without it; a bad value is a 400.
func TestLogDownloadHeaders(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		h := newHarness(t, db, harnessOpts{})
		agentID, _ := h.credentialFor(t, "writer")
		if _, err := h.e.AgentConnected(ctx, agentID, delivery.HelloInfo{MaxJobs: 1}); err != nil {
			t.Fatal(err)
		}
		s := deliverytest.Job(t, h.c, deliverytest.JobOptions{})
		if j, err := h.e.ClaimJobFor(ctx, agentID); err != nil || j == nil {
			t.Fatal(j, err)
		}
		start := time.Date(2026, 12, 6, 19, 20, 1, 0, time.UTC)
		if err := h.e.StepFinished(ctx, s.Job.ID, agentID, delivery.StepReport{Step: 1, Name: "deploy web", Status: "FAILED",
			ExitCode: 2, StartedAt: start, FinishedAt: start.Add(3200 * time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
		if err := h.e.StepStarted(ctx, s.Job.ID, agentID, 2, "smoke", start.Add(4*time.Second)); err != nil {
			t.Fatal(err)
		}
		// Steps 0 (not reported), 1 (finished), 2 (running), 3 (not reported).
		step := func(seq int) int { return min((seq-1)/5, 3) }
		var lines []delivery.LogLine
		for seq := 1; seq <= 20; seq++ {
			lines = append(lines, delivery.LogLine{Seq: int64(seq), Step: step(seq), Time: time.Now(), Text: fmt.Sprintf("line %d", seq)})
		}
		if _, err := h.e.AppendLogs(ctx, s.Job.ID, agentID, lines); err != nil {
			t.Fatal(err)
		}
		headers := []string{
			"===== Phase 1 · Download artifacts =====",
			"===== Phase 1 · Task 1: deploy web · FAILED · started 2026-12-06T19:20:01Z · 3.2s =====",
			"===== Phase 1 · Task 2: smoke · RUNNING · started 2026-12-06T19:20:05Z =====",
			"===== Phase 1 · Task 3 =====",
		}
		want := func(from int, withHeaders bool) string {
			var b strings.Builder
			last := -1
			for seq := from; seq <= 20; seq++ {
				if withHeaders && step(seq) != last {
					last = step(seq)
					b.WriteString(headers[last] + "\n")
				}
				fmt.Fprintf(&b, "line %d\n", seq)
			}
			return b.String()
		}
		base := fmt.Sprintf("/logs/deployments/%d", s.Deployment.ID)
		get := func(path string) (int, string) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, h.srv.URL+path, nil)
			req.Header.Set("X-Test-Role", "VIEWER")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
		for _, tc := range []struct{ query, want string }{
			{"?headers=1", want(1, true)},
			{"?headers=true", want(1, true)},
			{"", want(1, false)},
			{"?headers=0", want(1, false)},
			{"?headers=1&fromSeq=8", want(8, true)},
			{"?headers=1&step=2", headers[2] + "\nline 11\nline 12\nline 13\nline 14\nline 15\n"},
		} {
			if st, body := get(base + tc.query); st != 200 || body != tc.want {
				t.Errorf("%s: %d\n%s\nwant\n%s", tc.query, st, body, tc.want)
			}
		}
		for _, q := range []string{"?headers=yes", "?headers=1&headers=0", "?headers=" + strings.Repeat("1", 5000)} {
			if st, body := get(base + q); st != http.StatusBadRequest || !strings.Contains(body, "headers") || strings.Contains(body, "line 1") {
				t.Errorf("%.40s: %d %.200s", q, st, body)
			}
		}
	})
}
