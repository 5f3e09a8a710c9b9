// Package mail sends Cairn's notification e-mails over SMTP. SMTP implements
// the delivery.Mailer interface that the notification outbox calls.
package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLSMode says how the connection to the SMTP server is secured.
type TLSMode string

// The TLS modes.
const (
	// TLSNone sends in clear text (a relay on the same host or network).
	TLSNone TLSMode = "none"
	// TLSStartTLS upgrades the connection with STARTTLS and refuses to send
	// if the server does not offer it (usually port 587).
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS, usually port 465).
	TLSImplicit TLSMode = "tls"
)

// DefaultTimeout bounds one connection and send when SMTP.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// SMTP sends each message on its own connection to an SMTP server. The zero
// TLS mode is TLSStartTLS: secure unless configured otherwise.
type SMTP struct {
	// Addr is the server's host:port; without a port, the mode's usual one
	// (25, 587 or 465) is used.
	Addr string
	// From is the sender address, e.g. "Cairn <cairn@example.com>".
	From string
	// Username and Password, when Username is set, authenticate with the
	// best mechanism the server offers (SCRAM, CRAM-MD5, PLAIN, LOGIN).
	Username string
	Password string
	// TLS is none, starttls or tls.
	TLS TLSMode
	// TLSConfig overrides the TLS settings (a private CA, a pinned name);
	// by default the server's certificate is verified against Addr's host.
	TLSConfig *tls.Config
	// HelloName is the name sent with EHLO; by default go-mail's
	// "localhost". Set it to this server's public host name.
	HelloName string
	// Timeout bounds the connection and the send; DefaultTimeout when zero.
	Timeout time.Duration
}

// Validate checks the configuration and says what to change.
func (s *SMTP) Validate() error {
	host, _, err := s.hostPort()
	if err != nil {
		return err
	}
	switch s.mode() {
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return fmt.Errorf("smtp: TLS mode %q is unknown; use none, starttls or tls", s.TLS)
	}
	if strings.TrimSpace(s.From) == "" {
		return errors.New("smtp: From is empty; set the sender address, e.g. cairn@example.com")
	}
	if err := gomail.NewMsg().From(s.From); err != nil {
		return fmt.Errorf("smtp: From %q is not a valid address: %w", s.From, err)
	}
	if s.Username != "" && s.mode() == TLSNone && !isLoopback(host) {
		return fmt.Errorf("smtp: refusing to send the password for %q in clear text to %s; set TLS to starttls or tls", s.Username, host)
	}
	if s.Timeout < 0 {
		return errors.New("smtp: Timeout is negative")
	}
	return nil
}

// Send delivers one plain-text message to one recipient. The subject may hold
// any Unicode text; it is encoded per RFC 2047. Each message gets a fresh
// Message-ID in the sender's domain and a Date.
func (s *SMTP) Send(ctx context.Context, to, subject, body string) error {
	if err := s.Validate(); err != nil {
		return err
	}
	msg, err := s.message(to, subject, body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	client, err := s.client(ctx)
	if err != nil {
		return err
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("sending mail to %s via %s: %w", to, s.Addr, err)
	}
	return nil
}

func (s *SMTP) message(to, subject, body string) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingQP))
	if err := m.From(s.From); err != nil {
		return nil, fmt.Errorf("setting sender %q: %w", s.From, err)
	}
	if err := m.To(to); err != nil {
		return nil, fmt.Errorf("setting recipient %q: %w", to, err)
	}
	m.Subject(subject)
	m.SetMessageIDWithValue(messageID(m))
	m.SetDate()
	m.SetBodyString(gomail.TypeTextPlain, body)
	return m, nil
}

// messageID returns a random id in the sender's domain, so that no host name
// of the server leaks into headers.
func messageID(m *gomail.Msg) string {
	domain := "cairn.invalid"
	if from := m.GetFrom(); len(from) > 0 {
		if at := strings.LastIndexByte(from[0].Address, '@'); at >= 0 && at < len(from[0].Address)-1 {
			domain = from[0].Address[at+1:]
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "@" + domain
}

func (s *SMTP) client(ctx context.Context) (*gomail.Client, error) {
	host, port, err := s.hostPort()
	if err != nil {
		return nil, err
	}
	tlsConfig := s.TLSConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	opts := []gomail.Option{
		gomail.WithPort(port),
		gomail.WithTimeout(s.timeout()),
		gomail.WithTLSConfig(tlsConfig),
		gomail.WithDialContextFunc(s.dialer(ctx, tlsConfig)),
	}
	switch s.mode() {
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		// The dialer returns a TLS connection. go-mail's own SSL mode would
		// not count a custom dialer's connection as encrypted (and then
		// refuse PLAIN/LOGIN); "opportunistic" on a connection that is
		// already TLS reads the handshake state instead.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.HelloName != "" {
		opts = append(opts, gomail.WithHELO(s.HelloName))
	}
	if s.Username != "" {
		auth := gomail.SMTPAuthAutoDiscover
		if s.mode() == TLSNone {
			// Validate allowed clear text only to a loopback relay;
			// go-mail's PLAIN would refuse it without the NOENC variant.
			auth = gomail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, gomail.WithSMTPAuth(auth),
			gomail.WithUsername(s.Username), gomail.WithPassword(s.Password))
	}
	c, err := gomail.NewClient(host, opts...)
	if err != nil {
		return nil, fmt.Errorf("configuring SMTP client for %s: %w", s.Addr, err)
	}
	return c, nil
}

// dialer returns a dial function whose connections obey sendCtx (the whole
// send, bounded by Timeout) for the whole conversation. go-mail applies its
// context only to the dial itself: a server that accepts and then stays
// silent would block the outbox for ever.
func (s *SMTP) dialer(sendCtx context.Context, tlsConfig *tls.Config) gomail.DialContextFunc {
	timeout := s.timeout()
	implicit := s.mode() == TLSImplicit
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		nd := &net.Dialer{Timeout: timeout}
		var conn net.Conn
		var err error
		if implicit {
			conn, err = (&tls.Dialer{NetDialer: nd, Config: tlsConfig}).DialContext(ctx, network, address)
		} else {
			conn, err = nd.DialContext(ctx, network, address)
		}
		if err != nil {
			return nil, err
		}
		deadline := time.Now().Add(timeout)
		if d, ok := sendCtx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		if err := conn.SetDeadline(deadline); err != nil {
			conn.Close()
			return nil, err
		}
		// Cancellation ends any read or write in progress. Send cancels its
		// context when it returns, so this also runs after a normal close,
		// where it is harmless.
		context.AfterFunc(sendCtx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
		return conn, nil
	}
}

func (s *SMTP) mode() TLSMode {
	if s.TLS == "" {
		return TLSStartTLS
	}
	return TLSMode(strings.ToLower(string(s.TLS)))
}

func (s *SMTP) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

// hostPort splits Addr, defaulting the port by TLS mode.
func (s *SMTP) hostPort() (string, int, error) {
	addr := strings.TrimSpace(s.Addr)
	if addr == "" {
		return "", 0, errors.New("smtp: Addr is empty; set the mail server, e.g. smtp.example.com:587")
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		// No port given.
		host, portStr = strings.Trim(addr, "[]"), ""
	}
	if host == "" {
		return "", 0, fmt.Errorf("smtp: Addr %q has no host", s.Addr)
	}
	if portStr == "" {
		switch s.mode() {
		case TLSImplicit:
			return host, 465, nil
		case TLSStartTLS:
			return host, 587, nil
		default:
			return host, 25, nil
		}
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("smtp: Addr %q has an invalid port", s.Addr)
	}
	return host, port, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
