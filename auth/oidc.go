package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDCConfig configures sign-in through an OpenID Connect provider (Entra
// ID, Keycloak, Dex, …) with the authorization code flow and PKCE.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL; its discovery document is read
	// once, when the server starts.
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is this server's callback, BaseURL + /auth/oidc/callback.
	RedirectURL string
	// UsernameClaim is the ID token claim that names a user created at the
	// first sign-in (default preferred_username; "email" takes the part
	// before the @).
	UsernameClaim string
	// HTTPClient calls the provider (nil: http.DefaultClient).
	HTTPClient *http.Client
}

// OIDC runs the authorization code flow against one provider.
type OIDC struct {
	cfg      OIDCConfig
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// OIDCState is what the browser keeps (in a short-lived HttpOnly cookie)
// between the redirect to the provider and the callback.
type OIDCState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
}

// OIDCIdentity is a verified person: Subject is the provider's stable id.
type OIDCIdentity struct {
	Subject, Username, Email, Name string
}

// OIDCStateCookie carries OIDCState; it lives 10 minutes on /auth/oidc only.
const OIDCStateCookie = "cairn_oidc"

func (c OIDCConfig) ctx(ctx context.Context) context.Context {
	if c.HTTPClient != nil {
		return oidc.ClientContext(ctx, c.HTTPClient)
	}
	return ctx
}

// NewOIDC reads the provider's discovery document.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, errors.New("OIDC needs an issuer, a client id and a redirect URL")
	}
	if cfg.UsernameClaim == "" {
		cfg.UsernameClaim = "preferred_username"
	}
	p, err := oidc.NewProvider(cfg.ctx(ctx), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("reading the OIDC provider %s: %w", cfg.Issuer, err)
	}
	return &OIDC{
		cfg: cfg,
		oauth: oauth2.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
			Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "email"},
		},
		verifier: p.Verifier(&oidc.Config{ClientID: cfg.ClientID}),
	}, nil
}

// Issuer returns the provider's issuer URL.
func (o *OIDC) Issuer() string { return o.cfg.Issuer }

func random() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Start returns the provider's authorization URL and the state to keep.
func (o *OIDC) Start() (string, OIDCState, error) {
	var st OIDCState
	var err error
	if st.State, err = random(); err != nil {
		return "", st, err
	}
	if st.Nonce, err = random(); err != nil {
		return "", st, err
	}
	st.Verifier = oauth2.GenerateVerifier()
	u := o.oauth.AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier))
	return u, st, nil
}

// Finish checks the callback's state, exchanges its code (with the PKCE
// verifier) and verifies the ID token: signature, issuer, audience, expiry
// and nonce.
func (o *OIDC) Finish(ctx context.Context, st OIDCState, q url.Values) (OIDCIdentity, error) {
	var id OIDCIdentity
	if e := q.Get("error"); e != "" {
		return id, fmt.Errorf("the identity provider refused: %s %s", e, q.Get("error_description"))
	}
	if st.State == "" || q.Get("state") != st.State {
		return id, errors.New("the sign-in expired or came from elsewhere: start again")
	}
	code := q.Get("code")
	if code == "" {
		return id, errors.New("the identity provider sent no code")
	}
	ctx = o.cfg.ctx(ctx)
	tok, err := o.oauth.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return id, fmt.Errorf("exchanging the code: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return id, errors.New("the identity provider sent no ID token")
	}
	idt, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		return id, fmt.Errorf("verifying the ID token: %w", err)
	}
	if idt.Nonce != st.Nonce {
		return id, errors.New("the ID token's nonce does not match this sign-in")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return id, fmt.Errorf("reading the ID token's claims: %w", err)
	}
	str := func(k string) string { s, _ := claims[k].(string); return s }
	id = OIDCIdentity{Subject: idt.Subject, Email: str("email"), Name: str("name"), Username: str(o.cfg.UsernameClaim)}
	if o.cfg.UsernameClaim == "email" {
		id.Username, _, _ = strings.Cut(id.Username, "@")
	}
	if id.Subject == "" {
		return id, errors.New("the ID token has no subject")
	}
	return id, nil
}

// EncodeOIDCState and DecodeOIDCState turn the state into a cookie value and back.
func EncodeOIDCState(st OIDCState) string {
	b, _ := json.Marshal(st)
	return base64.RawURLEncoding.EncodeToString(b)
}

func DecodeOIDCState(s string) (OIDCState, error) {
	var st OIDCState
	if len(s) > 1024 {
		return st, errors.New("state cookie too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}
