package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/mail"
)

// newMailer returns the SMTP mailer of the configuration, or, without
// --smtp-addr, one that refuses with a message saying so: approval email then
// shows in the API as not sent, with the reason.
func newMailer(cfg Config) (delivery.Mailer, error) {
	if cfg.SMTPAddr == "" {
		return noMail{}, nil
	}
	m := &mail.SMTP{
		Addr: cfg.SMTPAddr, From: cfg.SMTPFrom, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword,
		TLS: mail.TLSMode(cfg.SMTPTLS), Timeout: 30 * time.Second,
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("SMTP settings: %w", err)
	}
	return m, nil
}

type noMail struct{}

func (noMail) Send(context.Context, string, string, string) error {
	return errors.New("email is not configured: start the server with --smtp-addr and --smtp-from")
}
