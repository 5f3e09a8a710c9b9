package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Audiences of Cairn's tokens. A token for one is never accepted for the other.
const (
	AudienceAPI   = "api"
	AudienceAgent = "agent"
)

// DefaultIssuer is the iss claim of Cairn's tokens.
const DefaultIssuer = "cairn"

// Claims are the claims of a Cairn token.
type Claims struct {
	jwt.RegisteredClaims
	// Scopes grant extra powers, e.g. "act-as".
	Scopes []string `json:"scp,omitempty"`
}

// Keys signs and verifies tokens.
type Keys struct {
	priv   ed25519.PrivateKey
	pub    ed25519.PublicKey
	issuer string
	now    func() time.Time
}

// NewKeys returns keys from an Ed25519 seed (32 bytes).
func NewKeys(seed []byte, issuer string, now func() time.Time) (*Keys, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("signing key seed must be %d bytes, got %d", ed25519.SeedSize, len(seed))
	}
	if issuer == "" {
		issuer = DefaultIssuer
	}
	if now == nil {
		now = time.Now
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return &Keys{priv: priv, pub: priv.Public().(ed25519.PublicKey), issuer: issuer, now: now}, nil
}

// LoadOrCreateKeyFile reads a hex-encoded 32-byte key from path, creating it
// with a random key (mode 0600) when it does not exist. The same format serves
// the signing key seed and the secrets encryption key.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("generating key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("creating key dir: %w", err)
		}
		// O_EXCL: of two processes starting at once, one creates and both read it.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreateKeyFile(path)
		}
		if err != nil {
			return nil, fmt.Errorf("creating key file: %w", err)
		}
		if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
			f.Close()
			return nil, fmt.Errorf("writing key file: %w", err)
		}
		return key, f.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	return ParseKey(string(b))
}

// ParseKey decodes a hex-encoded 32-byte key.
func ParseKey(s string) ([]byte, error) {
	key, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(key) != 32 {
		return nil, errors.New("key must be 64 hexadecimal characters (32 bytes)")
	}
	return key, nil
}

// Issuer returns the iss claim the keys sign and expect.
func (k *Keys) Issuer() string { return k.issuer }

func (k *Keys) issue(audience, subject, jti string, expires time.Time, scopes []string) (string, error) {
	if jti == "" || subject == "" {
		return "", errors.New("token needs a subject and an id")
	}
	now := k.now()
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    k.issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{audience},
			ExpiresAt: jwt.NewNumericDate(expires),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        jti,
		},
		Scopes: scopes,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(k.priv)
	if err != nil {
		return "", fmt.Errorf("signing token: %w", err)
	}
	return s, nil
}

// IssueAPIToken signs an API token (audience "api") for a user.
func (k *Keys) IssueAPIToken(subject, jti string, expires time.Time, scopes []string) (string, error) {
	return k.issue(AudienceAPI, subject, jti, expires, scopes)
}

// IssueAgentToken signs an agent credential (audience "agent").
func (k *Keys) IssueAgentToken(subject, jti string, expires time.Time) (string, error) {
	return k.issue(AudienceAgent, subject, jti, expires, nil)
}

// Verify parses and verifies a token for audience: algorithm EdDSA only,
// signature, exp required and in the future, iss and aud as expected.
// Revocation is the caller's check (by jti).
func (k *Keys) Verify(token, audience string) (*Claims, error) {
	var claims Claims
	_, err := jwt.ParseWithClaims(token, &claims,
		func(*jwt.Token) (any, error) { return k.pub, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(k.issuer),
		jwt.WithAudience(audience),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second),
		jwt.WithTimeFunc(k.now),
	)
	if err != nil {
		return nil, describe(err)
	}
	if claims.ID == "" || claims.Subject == "" {
		return nil, errors.New("token has no id or subject")
	}
	return &claims, nil
}

// describe turns jwt's errors into short messages for a 401 body.
func describe(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return errors.New("token expired")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return errors.New("token is not valid for this audience")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return errors.New("token has the wrong issuer")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return errors.New("token lacks a required claim (exp)")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return errors.New("token signature or algorithm not accepted")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errors.New("token is malformed")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return errors.New("token not valid yet")
	}
	return fmt.Errorf("token rejected: %w", err)
}
