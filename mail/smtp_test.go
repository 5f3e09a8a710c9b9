package mail_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	cmail "github.com/cairnhq/cairn/mail"
	"github.com/cairnhq/cairn/mail/mailtest"
)

// SMTP is the outbox's mailer.
var _ delivery.Mailer = (*cmail.SMTP)(nil)

func TestSendPlainSMTP(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{})
	m := &cmail.SMTP{Addr: srv.Addr, From: "Cairn <cairn@example.com>", TLS: cmail.TLSNone, HelloName: "cairn.test", Timeout: 5 * time.Second}
	subject := "[Cairn] Approval needed: Réléase-1 → prod (pre-deployment)"
	body := "Héllo,\nplease approve: https://cairn.example.com/releases/1?approval=2\n" + strings.Repeat("long line ", 20) + "\n"
	if err := m.Send(context.Background(), "bob@example.com", subject, body); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := srv.Next(t, 5*time.Second)
	if got.From != "cairn@example.com" || len(got.To) != 1 || got.To[0] != "bob@example.com" {
		t.Fatalf("envelope from %q to %v", got.From, got.To)
	}
	if got.Subject != subject {
		t.Errorf("subject = %q, want %q", got.Subject, subject)
	}
	if raw := got.Header.Get("Subject"); !strings.HasPrefix(raw, "=?UTF-8?") {
		t.Errorf("subject header not RFC 2047 UTF-8: %q", raw)
	}
	if got.Body != body {
		t.Errorf("body = %q, want %q", got.Body, body)
	}
	if ct := got.Header.Get("Content-Type"); !strings.Contains(ct, "text/plain") || !strings.Contains(strings.ToLower(ct), "utf-8") {
		t.Errorf("content type %q", ct)
	}
	id := got.Header.Get("Message-Id")
	if !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID %q", id)
	}
	if d, err := mail.ParseDate(got.Header.Get("Date")); err != nil || time.Since(d) > time.Minute {
		t.Errorf("Date %q: %v", got.Header.Get("Date"), err)
	}
	from, err := mail.ParseAddress(got.Header.Get("From"))
	if err != nil || from.Address != "cairn@example.com" || from.Name != "Cairn" {
		t.Errorf("From header %q: %v", got.Header.Get("From"), err)
	}

	// A second message gets another Message-ID.
	if err := m.Send(context.Background(), "bob@example.com", "again", "x"); err != nil {
		t.Fatalf("second send: %v", err)
	}
	if again := srv.Next(t, 5*time.Second); again.Header.Get("Message-Id") == id {
		t.Error("Message-ID reused")
	}
}

func TestSendReportsServerRefusal(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{})
	srv.FailNext(1)
	m := &cmail.SMTP{Addr: srv.Addr, From: "cairn@example.com", TLS: cmail.TLSNone}
	err := m.Send(context.Background(), "bob@example.com", "s", "b")
	if err == nil || !strings.Contains(err.Error(), "451") || !strings.Contains(err.Error(), "bob@example.com") {
		t.Fatalf("err = %v, want the server's 451", err)
	}
	if err := m.Send(context.Background(), "bob@example.com", "s", "b"); err != nil {
		t.Fatalf("retry: %v", err)
	}
}

func TestSendHonoursContext(t *testing.T) {
	t.Parallel()
	// A listener that accepts and never speaks: the send must give up with
	// the context, not hang.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	// The server never speaks and the send's own timeout is an hour: Send returns only
	// because its context ended (if it ignored the context, the test would hang and fail
	// at its deadline rather than pass late).
	m := &cmail.SMTP{Addr: l.Addr().String(), From: "cairn@example.com", TLS: cmail.TLSNone, Timeout: time.Hour}
	if err := m.Send(ctx, "bob@example.com", "s", "b"); err == nil {
		t.Fatal("send to a silent server succeeded")
	}
}

func TestSendAuthenticatesOnLoopback(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{Username: "cairn", Password: "s3cret"})
	good := &cmail.SMTP{Addr: srv.Addr, From: "cairn@example.com", TLS: cmail.TLSNone, Username: "cairn", Password: "s3cret"}
	if err := good.Send(context.Background(), "bob@example.com", "s", "b"); err != nil {
		t.Fatalf("send with credentials: %v", err)
	}
	srv.Next(t, 5*time.Second)
	if _, _, logins := srv.Counts(); logins != 1 {
		t.Fatalf("logins = %d", logins)
	}
	bad := *good
	bad.Password = "wrong"
	if err := bad.Send(context.Background(), "bob@example.com", "s", "b"); err == nil {
		t.Fatal("send with a wrong password succeeded")
	}
	anon := &cmail.SMTP{Addr: srv.Addr, From: "cairn@example.com", TLS: cmail.TLSNone}
	if err := anon.Send(context.Background(), "bob@example.com", "s", "b"); err == nil {
		t.Fatal("send without credentials to a server that requires them succeeded")
	}
}

func TestSendOverTLS(t *testing.T) {
	t.Parallel()
	serverTLS, roots := mailtest.SelfSigned(t)
	client := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	for _, tc := range []struct {
		name     string
		mode     cmail.TLSMode
		implicit bool
	}{
		{"starttls", cmail.TLSStartTLS, false},
		{"implicit", cmail.TLSImplicit, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := mailtest.Start(t, mailtest.Options{TLS: serverTLS, Implicit: tc.implicit, Username: "cairn", Password: "pw"})
			m := &cmail.SMTP{Addr: srv.Addr, From: "cairn@example.com", TLS: tc.mode, TLSConfig: client,
				Username: "cairn", Password: "pw", Timeout: 5 * time.Second}
			if err := m.Validate(); err != nil {
				t.Fatal(err)
			}
			if err := m.Send(context.Background(), "bob@example.com", "over tls", "b"); err != nil {
				t.Fatalf("send: %v", err)
			}
			if got := srv.Next(t, 5*time.Second); got.Subject != "over tls" {
				t.Fatalf("subject %q", got.Subject)
			}
			// An untrusted certificate is refused.
			untrusted := *m
			untrusted.TLSConfig = nil
			if err := untrusted.Send(context.Background(), "bob@example.com", "s", "b"); err == nil {
				t.Fatal("send to a server with an untrusted certificate succeeded")
			}
		})
	}
}

func TestStartTLSIsMandatory(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{}) // offers no STARTTLS
	m := &cmail.SMTP{Addr: srv.Addr, From: "cairn@example.com", TLS: cmail.TLSStartTLS, Timeout: 5 * time.Second}
	if err := m.Send(context.Background(), "bob@example.com", "s", "b"); err == nil {
		t.Fatal("starttls mode sent in clear text")
	}
	if _, accepted, _ := srv.Counts(); accepted != 0 {
		t.Fatal("message accepted without TLS")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	base := cmail.SMTP{Addr: "smtp.example.com:587", From: "cairn@example.com"}
	for _, tc := range []struct {
		name string
		edit func(*cmail.SMTP)
		want string // empty: valid
	}{
		{"defaults", func(*cmail.SMTP) {}, ""},
		{"no port", func(s *cmail.SMTP) { s.Addr = "smtp.example.com" }, ""},
		{"ipv6", func(s *cmail.SMTP) { s.Addr = "[::1]:25" }, ""},
		{"loopback password in clear", func(s *cmail.SMTP) { s.Addr, s.TLS, s.Username = "127.0.0.1:25", cmail.TLSNone, "u" }, ""},
		{"no addr", func(s *cmail.SMTP) { s.Addr = " " }, "Addr is empty"},
		{"bad port", func(s *cmail.SMTP) { s.Addr = "smtp.example.com:99999" }, "invalid port"},
		{"word port", func(s *cmail.SMTP) { s.Addr = "smtp.example.com:smtp" }, "invalid port"},
		{"no host", func(s *cmail.SMTP) { s.Addr = ":25" }, "no host"},
		{"unknown mode", func(s *cmail.SMTP) { s.TLS = "ssl3" }, "unknown"},
		{"no from", func(s *cmail.SMTP) { s.From = "" }, "From is empty"},
		{"bad from", func(s *cmail.SMTP) { s.From = "not an address" }, "not a valid address"},
		{"header injection in from", func(s *cmail.SMTP) { s.From = "a@example.com\r\nBcc: x@example.com" }, "not a valid address"},
		{"password in clear", func(s *cmail.SMTP) { s.TLS, s.Username = cmail.TLSNone, "u" }, "clear text"},
		{"negative timeout", func(s *cmail.SMTP) { s.Timeout = -time.Second }, "negative"},
	} {
		s := base
		tc.edit(&s)
		err := s.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestSendRejectsBadRecipient(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{})
	m := &cmail.SMTP{Addr: srv.Addr, From: "cairn@example.com", TLS: cmail.TLSNone}
	for _, to := range []string{"", "nobody", "a@example.com\r\nBcc: b@example.com"} {
		if err := m.Send(context.Background(), to, "s", "b"); err == nil {
			t.Errorf("send to %q succeeded", to)
		}
	}
	if data, _, _ := srv.Counts(); data != 0 {
		t.Fatalf("server received %d messages", data)
	}
}
