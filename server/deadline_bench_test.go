package server

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkBodyDeadline is the cost of the body read deadline per request: POSTs of a 1 KiB
// body over a real loopback connection (keep-alive) to a handler that reads it, without
// (floor) and with bodyDeadline.
func BenchmarkBodyDeadline(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	for _, tt := range []struct {
		name     string
		deadline bool
	}{{"floor", false}, {"deadline", true}} {
		b.Run(tt.name, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r = r.WithContext(r.Context())
				if tt.deadline {
					bodyDeadline(w, r, 30*time.Second)
				}
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()
			c := srv.Client()
			b.ResetTimer()
			for range b.N {
				resp, err := c.Post(srv.URL, "application/octet-stream", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
