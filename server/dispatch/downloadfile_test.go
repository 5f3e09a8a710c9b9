package dispatch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/cairnhq/cairn/agent"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestDownloadFileOnARealAgent: a DownloadFile task naming a service connection runs on a real
// agent over the websocket; the connection's credentials (decrypted by the server, sent with
// the task) authenticate the download from a real HTTP server, and never reach the log.
func TestDownloadFileOnARealAgent(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		h := newHarness(t, db, harnessOpts{})
		var mu sync.Mutex
		var auths []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			auths = append(auths, r.Header.Get("Authorization"))
			mu.Unlock()
			if u, p, ok := r.BasicAuth(); !ok || u != "bot" || p != "repo-T0ken" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Write([]byte("release 1.2\n"))
		}))
		defer srv.Close()
		h.c.ServiceConnection.Create().SetName("repo").SetKind("JENKINS").SetURL(srv.URL + "/repo").SetUsername("bot").
			SetSecretEncrypted(sealedBytes(t, "repo-T0ken")).SaveX(ctx)
		seeded := h.queue(t, deliverytest.JobOptions{Tasks: []spec.Task{
			{Name: "fetch", Uses: "DownloadFile@1", Template: builtin(t, "DownloadFile"),
				Inputs: map[string]string{"url": srv.URL + "/repo/app/1.2/notes.txt", "targetPath": "drop/notes.txt", "serviceConnection": "repo"}},
			{Name: "show", Shell: "bash", Script: `cat "$FETCH_DOWNLOADEDFILEPATH"; echo "token repo-T0ken"`},
		}})
		tok, _, err := h.e.CreateAgentRegistration(ctx, admin, "", 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		h.runAgent(t, agent.Config{Server: h.srv.URL, Token: tok, Name: "fetcher", WorkDir: t.TempDir(),
			OutboundAllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
		j := h.waitJob(t, seeded.Job.ID, job.StatusSUCCEEDED, job.StatusFAILED)
		lines, err := h.e.ReadLogs(ctx, j.ID, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		var text []string
		for _, l := range lines {
			text = append(text, l.Text)
		}
		all := strings.Join(text, "\n")
		if j.Status != job.StatusSUCCEEDED {
			t.Fatalf("job %s (%s), log:\n%s", j.Status, j.ResultReason, all)
		}
		if !strings.Contains(all, "release 1.2") || !strings.Contains(all, "token ***") || strings.Contains(all, "repo-T0ken") {
			t.Errorf("log:\n%s", all)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(auths) != 1 || auths[0] != "Basic Ym90OnJlcG8tVDBrZW4=" {
			t.Errorf("server saw %q", auths)
		}
	})
}

// sealedBytes seals a connection secret with the harness's key.
func sealedBytes(t *testing.T, v string) []byte {
	t.Helper()
	box, err := delivery.NewSecretBox([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return box.Seal([]byte(v))
}
