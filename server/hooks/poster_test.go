package hooks_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/internal/netguard"
	"github.com/cairnhq/cairn/server/hooks"
)

func TestPosterSendsHeadersAndBody(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(r.Method + " " + r.Header.Get("X-Cairn-Event") + " " + r.Header.Get("User-Agent") + " " + string(b))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	status, err := hooks.NewPoster(0).Post(context.Background(), srv.URL, map[string]string{"X-Cairn-Event": "job.queued"}, []byte(`{"a":1}`))
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("Post: %d %v", status, err)
	}
	if s := got.Load().(string); s != `POST job.queued Cairn-Hooks/1 {"a":1}` {
		t.Errorf("received %q", s)
	}
}

func TestPosterRedirects(t *testing.T) {
	var elsewhereHit atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhereHit.Store(true)
	}))
	defer elsewhere.Close()
	var sameBody atomic.Value
	mux := http.NewServeMux()
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/final", http.StatusPermanentRedirect)
	})
	mux.HandleFunc("/final", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sameBody.Store(string(b))
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusTemporaryRedirect)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	p := hooks.NewPoster(0)
	ctx := context.Background()

	status, err := p.Post(ctx, srv.URL+"/away", nil, []byte("secret data"))
	if err != nil || status != http.StatusTemporaryRedirect || elsewhereHit.Load() {
		t.Errorf("redirect to another host: status %d err %v, other host hit %v", status, err, elsewhereHit.Load())
	}
	status, err = p.Post(ctx, srv.URL+"/moved", nil, []byte("payload"))
	if err != nil || status != http.StatusOK || sameBody.Load() != "payload" {
		t.Errorf("same-host redirect: status %d err %v body %v", status, err, sameBody.Load())
	}
	if _, err := p.Post(ctx, srv.URL+"/loop", nil, nil); err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Errorf("redirect loop: %v", err)
	}
}

func TestPosterLimitsAndErrors(t *testing.T) {
	var sent atomic.Int64
	hugeDone := make(chan struct{})
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(hugeDone)
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat("x", 1<<16))
		for i := 0; i < 1<<14; i++ { // 1 GiB unless the client stops reading
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer huge.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)

	ctx := context.Background()
	status, err := hooks.NewPoster(0).Post(ctx, huge.URL, nil, nil)
	if err != nil || status != http.StatusOK {
		t.Errorf("huge response: %d %v", status, err)
	}
	// The poster closes the body after its cap: the server's writes fail once the socket
	// buffers are full, long before the 1 GiB it would send to a reader that reads it all.
	<-hugeDone
	if n := sent.Load(); n > 64<<20 {
		t.Errorf("the server sent %d bytes before the poster stopped reading: the body is not capped", n)
	}

	_, err = hooks.NewPoster(200*time.Millisecond).Post(ctx, slow.URL+"/services/SECRET", nil, nil)
	if err == nil {
		t.Fatal("a receiver that never answers did not time out")
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("the error repeats the URL: %v", err)
	}
	if _, err := hooks.NewPoster(0).Post(ctx, "http://127.0.0.1:1/x", nil, nil); err == nil {
		t.Error("a refused connection is not an error")
	}
}

type recordingPublisher struct{ n int }

func (r *recordingPublisher) Publish(_ context.Context, evs []delivery.Event) { r.n += len(evs) }

// TestSendSignsAndShapes: Send posts the event with its delivery id (or a
// chat hook's {"text": …}), the X-Cairn headers, and a signature receivers
// can check; a non-2xx answer is not delivered.
func TestSendSignsAndShapes(t *testing.T) {
	type got struct {
		header http.Header
		body   []byte
	}
	reqs := make(chan got, 4)
	code := http.StatusNoContent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		reqs <- got{r.Header.Clone(), b}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	p := hooks.NewPoster(0)
	ev := delivery.Event{Type: delivery.EventReleaseCreated, ReleaseID: 7, Sequence: 3}
	ok, status, err := p.Send(context.Background(), delivery.HookMessage{URL: srv.URL, DeliveryID: "d-1", Event: ev, Secret: "s3cret-s3cret-s3cret"})
	if err != nil || !ok || status != http.StatusNoContent {
		t.Fatalf("send: %v %d %v", ok, status, err)
	}
	r := <-reqs
	if want := hooks.Sign("s3cret-s3cret-s3cret", r.body); r.header.Get("X-Cairn-Signature-256") != want {
		t.Errorf("signature %q, want %q", r.header.Get("X-Cairn-Signature-256"), want)
	}
	if r.header.Get("X-Cairn-Delivery") != "d-1" || r.header.Get("X-Cairn-Event") != delivery.EventReleaseCreated ||
		!strings.Contains(string(r.body), `"deliveryId":"d-1"`) || !strings.Contains(string(r.body), `"releaseId":7`) {
		t.Errorf("request %v %s", r.header, r.body)
	}
	code = http.StatusInternalServerError
	ok, status, err = p.Send(context.Background(), delivery.HookMessage{URL: srv.URL, DeliveryID: "d-2", Event: ev, Chat: true, Summary: "Release-7 created"})
	if ok || status != http.StatusInternalServerError || err != nil {
		t.Fatalf("a 500 counted as delivered: %v %d %v", ok, status, err)
	}
	r = <-reqs
	if string(r.body) != `{"text":"Release-7 created"}` || r.header.Get("X-Cairn-Signature-256") != "" {
		t.Errorf("chat request %v %s", r.header, r.body)
	}
}

// TestGuardedPoster: a guarded poster refuses loopback by default (the
// receiver never sees the request), reaches it when loopback is allowed
// explicitly, and never reaches the server's own listen address.
func TestGuardedPoster(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	ctx := t.Context()
	if _, err := hooks.NewGuardedPoster(0, netguard.New(netguard.DefaultDenied, nil)).Post(ctx, srv.URL, nil, nil); !errors.Is(err, netguard.ErrDenied) {
		t.Errorf("loopback by default: %v", err)
	}
	loopback, _ := netguard.ParseNetworks("127.0.0.0/8,::1")
	g := netguard.New(netguard.DefaultDenied, loopback)
	if status, err := hooks.NewGuardedPoster(0, g).Post(ctx, srv.URL, nil, nil); err != nil || status != http.StatusNoContent {
		t.Errorf("loopback allowed: %d %v", status, err)
	}
	g.AddSelf(srv.Listener.Addr())
	if _, err := hooks.NewGuardedPoster(0, g).Post(ctx, srv.URL, nil, nil); !errors.Is(err, netguard.ErrDenied) {
		t.Errorf("the server's own address: %v", err)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the receiver saw %d requests, want 1", n)
	}
}
