// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp) on
// the loopback interface for tests, and captures what it receives as parsed
// messages. It can refuse messages on purpose, to test retries.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	// Raw is the message as received, headers and encoded body.
	Raw []byte
	// Header holds the parsed headers.
	Header mail.Header
	// Subject is the decoded (RFC 2047) subject.
	Subject string
	// Body is the body with its transfer encoding undone.
	Body string
}

// Options configure a Server.
type Options struct {
	// TLS, when set, offers STARTTLS (or, with Implicit, serves TLS from the
	// first byte).
	TLS      *tls.Config
	Implicit bool
	// Username and Password, when set, require AUTH PLAIN.
	Username, Password string
}

// Server is a running SMTP server that keeps what it receives.
type Server struct {
	// Addr is the host:port the server listens on.
	Addr string

	srv      *smtp.Server
	opts     Options
	messages chan Message

	mu        sync.Mutex
	failNext  int
	dataCalls int
	accepted  int
	logins    int
}

// Start starts a server on 127.0.0.1:0; it stops when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts, messages: make(chan Message, 1000)}
	s.srv = smtp.NewServer(backend{s})
	s.srv.Domain = "mailtest.local"
	s.srv.AllowInsecureAuth = true
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	s.srv.MaxMessageBytes = 1 << 20
	s.srv.MaxRecipients = 10
	s.srv.TLSConfig = opts.TLS
	var l net.Listener
	var err error
	if opts.TLS != nil && opts.Implicit {
		l, err = tls.Listen("tcp", "127.0.0.1:0", opts.TLS)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatalf("listening for SMTP: %v", err)
	}
	s.Addr = l.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = s.srv.Close()
		// Close may run before Serve registered the listener; closing it
		// here too ends Serve either way.
		_ = l.Close()
		<-done
	})
	return s
}

// FailNext makes the next n DATA commands fail with a temporary error (451).
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	s.failNext = n
	s.mu.Unlock()
}

// Counts returns how many DATA commands the server saw, how many messages it
// accepted, and how many logins succeeded.
func (s *Server) Counts() (data, accepted, logins int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dataCalls, s.accepted, s.logins
}

// Next waits up to timeout for the next accepted message.
func (s *Server) Next(t testing.TB, timeout time.Duration) Message {
	t.Helper()
	select {
	case m := <-s.messages:
		return m
	case <-time.After(timeout):
		t.Fatalf("no message arrived within %v", timeout)
		return Message{}
	}
}

// Pending returns the accepted messages not yet taken, without waiting.
func (s *Server) Pending() []Message {
	var out []Message
	for {
		select {
		case m := <-s.messages:
			out = append(out, m)
		default:
			return out
		}
	}
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s}, nil
}

type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.s.opts.Username || password != ss.s.opts.Password {
			return errors.New("invalid credentials")
		}
		ss.authed = true
		ss.s.mu.Lock()
		ss.s.logins++
		ss.s.mu.Unlock()
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Username != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.dataCalls++
	fail := ss.s.failNext > 0
	if fail {
		ss.s.failNext--
	} else {
		ss.s.accepted++
	}
	ss.s.mu.Unlock()
	if fail {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "mailbox busy, try later"}
	}
	m, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: err.Error()}
	}
	m.From, m.To = ss.from, append([]string(nil), ss.to...)
	ss.s.messages <- m
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

func parse(raw []byte) (Message, error) {
	pm, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, fmt.Errorf("parsing message: %w", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject"))
	if err != nil {
		return Message{}, fmt.Errorf("decoding subject: %w", err)
	}
	var body io.Reader = pm.Body
	switch strings.ToLower(pm.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return Message{}, fmt.Errorf("decoding body: %w", err)
	}
	return Message{Raw: raw, Header: pm.Header, Subject: subject, Body: strings.ReplaceAll(string(b), "\r\n", "\n")}, nil
}

// SelfSigned returns a server TLS configuration with a fresh self-signed
// certificate for 127.0.0.1 and localhost, and a pool that trusts it.
func SelfSigned(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mailtest"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true,
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},

		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("creating certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parsing certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, pool
}
